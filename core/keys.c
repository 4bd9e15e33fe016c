#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static const char *const roles[HW_KEY_COUNT] = {
    [HW_KEY_PENDING] = "pending", [HW_KEY_INFLIGHT] = "inflight", [HW_KEY_SCHEDULED] = "scheduled",
    [HW_KEY_FAILED] = "failed",   [HW_KEY_BROKEN] = "broken",     [HW_KEY_STATS] = "stats",
    [HW_KEY_SEQ] = "seq",         [HW_KEY_UNIQUE] = "unique",
};

void hw_keys_make(hw_keys *k, const char *queue)
{
    for (int i = 0; i < HW_KEY_COUNT; i++) {
        size_t n = strlen(queue) + strlen(roles[i]) + 8;
        k->key[i] = malloc(n);
        if (k->key[i] == NULL) abort();
        snprintf(k->key[i], n, "hw:{%s}:%s", queue, roles[i]);
    }
}

void hw_keys_free(hw_keys *k)
{
    for (int i = 0; i < HW_KEY_COUNT; i++) {
        free(k->key[i]);
        k->key[i] = NULL;
    }
}
