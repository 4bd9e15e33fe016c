#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static const char *const roles[HW_KEY_COUNT] = {
    [HW_KEY_PENDING] = "pending", [HW_KEY_INFLIGHT] = "inflight",     [HW_KEY_SCHEDULED] = "scheduled",
    [HW_KEY_FAILED] = "failed",   [HW_KEY_BROKEN] = "broken",         [HW_KEY_STATS] = "stats",
    [HW_KEY_SEQ] = "seq",         [HW_KEY_UNIQUE] = "unique",         [HW_KEY_LATENESS] = "lateness",
    [HW_KEY_CRON] = "cron",       [HW_KEY_CRON_STATE] = "cron_state", [HW_KEY_FLOW] = "flow",
    [HW_KEY_OPEN] = "open",       [HW_KEY_FREED] = "freed",           [HW_KEY_URGENT] = "urgent",
    [HW_KEY_GROUPS] = "groups",   [HW_KEY_GROUP_DUE] = "group_due",   [HW_KEY_TIMINGS] = "timings",
    [HW_KEY_CANCELS] = "cancels", [HW_KEY_EVENTS] = "events",
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

void hw_keys_make_shard(hw_keys *k, const char *queue, int i, int shards)
{
    if (shards <= 1) {
        hw_keys_make(k, queue);
        return;
    }
    size_t n = strlen(queue) + 16;
    char *name = malloc(n);
    if (name == NULL) abort();
    snprintf(name, n, "%s#%d", queue, i);
    hw_keys_make(k, name);
    free(name);
}

char *hw_keys_shards(const char *queue)
{
    size_t n = strlen(queue) + 16;
    char *key = malloc(n);
    if (key == NULL) abort();
    snprintf(key, n, "hw:{%s}:shards", queue);
    return key;
}

char *hw_keys_procs(const char *queue, const char *role)
{
    size_t n = strlen(queue) + strlen(role) + 8;
    char *key = malloc(n);
    if (key == NULL) abort();
    snprintf(key, n, "hw:{%s}:%s", queue, role);
    return key;
}

int hw_shard_of_unique(const char *unique, int shards)
{
    uint32_t hash = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)unique; *p; p++) hash = (hash ^ *p) * 16777619u;
    return (int)(hash % (uint32_t)shards);
}

void hw_keys_free(hw_keys *k)
{
    for (int i = 0; i < HW_KEY_COUNT; i++) {
        free(k->key[i]);
        k->key[i] = NULL;
    }
}
