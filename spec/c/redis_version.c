/* For spec/promises_spec.lua: the start-up check's decision on a Redis
 * version (the specs have only a current redis-server, so an old one cannot
 * be started). Prints "VERSION old" or "VERSION ok" for each argument.
 * Built with core/server_version.c, since libhworker.so does not export the
 * decision. usage: redis_version VERSION... */
#include <stdio.h>

#include "server_version.h"

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) printf("%s %s\n", argv[i], hw_redis_too_old(argv[i]) ? "old" : "ok");
    return 0;
}
