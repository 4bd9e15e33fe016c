/* The Redis versions hworker runs on (server_version.h). A file of its own,
 * with no other dependency, so that spec/c/redis_version.c can be built with
 * it: the library does not export it. */
#include <stdio.h>

#include "server_version.h"

int hw_redis_too_old(const char *version)
{
    int major = 0, minor = 0;
    if (sscanf(version, "%d.%d", &major, &minor) != 2) return 0;
    return major < 6 || (major == 6 && minor < 2);
}
