#include "queue_name.h"

#include <stdio.h>

int hw_queue_name_check(const char *name, size_t len, char *err, size_t errlen)
{
    char scratch[8];
    if (err == NULL) {
        err = scratch;
        errlen = sizeof scratch;
    }
    if (name == NULL || len == 0) {
        snprintf(err, errlen, "queue name is empty");
        return -1;
    }
    if (len > HW_QUEUE_NAME_MAX) {
        snprintf(err, errlen, "queue name is %zu bytes long: at most %d are allowed", len, HW_QUEUE_NAME_MAX);
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)name[i];
        if (ch == 0) {
            snprintf(err, errlen, "queue name has a NUL byte at byte %zu", i + 1);
            return -1;
        }
        if (ch < 0x20 || ch == 0x7f) {
            snprintf(err, errlen, "queue name has a control character (0x%02x) at byte %zu", ch, i + 1);
            return -1;
        }
        if (ch == '{' || ch == '}') {
            /* Redis Cluster hashes the text between the first '{' and the
             * next '}': a brace in the name would move the queue's keys. */
            snprintf(err, errlen, "queue name has '%c' at byte %zu: '{' and '}' are not allowed", ch, i + 1);
            return -1;
        }
    }
    return 0;
}
