#include "group_key.h"

#include <stdio.h>
#include <string.h>

int hw_group_key_check(const char *group, int star_ok, char *err, size_t errlen)
{
    size_t n = group ? strlen(group) : 0;
    if (n == 0 || n > HW_GROUP_KEY_MAX) {
        snprintf(err, errlen, "a group key is 1 to %d characters long (this one has %zu)", HW_GROUP_KEY_MAX, n);
        return -1;
    }
    if (!star_ok && strcmp(group, "*") == 0) {
        snprintf(err, errlen, "a job's group key cannot be \"*\": in a limit it names every group");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)group[i];
        if (c < 0x20 || c > 0x7e || c == '"' || c == '\\') {
            snprintf(err, errlen,
                     "a group key is printable ASCII but '\"' and '\\' (this one has byte 0x%02x at byte %zu)", c,
                     i + 1);
            return -1;
        }
    }
    return 0;
}
