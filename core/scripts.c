#include "scripts.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

static const char *const names[HW_SCRIPT_COUNT] = {
    [HW_SCRIPT_ENQUEUE] = "enqueue",
    [HW_SCRIPT_CLAIM] = "claim",
    [HW_SCRIPT_FINISH] = "finish",
    [HW_SCRIPT_RENEW] = "renew",
    [HW_SCRIPT_RECOVER] = "recover",
    [HW_SCRIPT_HANDBACK] = "handback",
    [HW_SCRIPT_STATS] = "stats",
    [HW_SCRIPT_REQUEUE] = "requeue",
    [HW_SCRIPT_FORGET] = "forget",
    [HW_SCRIPT_SHARDS] = "shards",
    [HW_SCRIPT_CRON_ADD] = "cron_add",
    [HW_SCRIPT_CRON_RM] = "cron_rm",
    [HW_SCRIPT_CRON_READ] = "cron_read",
    [HW_SCRIPT_CRON_TICK] = "cron_tick",
    [HW_SCRIPT_PAUSE] = "pause",
    [HW_SCRIPT_LIMIT] = "limit",
    [HW_SCRIPT_GROUP_LIMIT] = "group_limit",
    [HW_SCRIPT_DROP_GROUPS] = "drop_groups",
    [HW_SCRIPT_BEAT] = "beat",
    [HW_SCRIPT_PROCESSES] = "processes",
    [HW_SCRIPT_QUEUE_REGISTRY] = "queue_registry",
    [HW_SCRIPT_HISTORY] = "history",
    [HW_SCRIPT_DROP_HISTORY] = "drop_history",
    [HW_SCRIPT_CANCEL] = "cancel",
    [HW_SCRIPT_REMOVE_JOB] = "remove_job",
    [HW_SCRIPT_RUN_NOW] = "run_now",
    [HW_SCRIPT_EVENTS_SET] = "events_set",
};

const hw_script_source *hw_script_get(hw_script s)
{
    if (s < 0 || s >= HW_SCRIPT_COUNT) return NULL;
    for (const hw_script_source *p = hw_script_sources; p->name; p++)
        if (strcmp(p->name, names[s]) == 0) return p;
    return NULL;
}

int hw_script_sha(hw_script s, char out[41])
{
    const hw_script_source *src = hw_script_get(s);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (src == NULL || !EVP_Digest(src->text, src->len, digest, &n, EVP_sha1(), NULL) || n != 20) return -1;
    for (unsigned int i = 0; i < n; i++) snprintf(out + 2 * i, 3, "%02x", digest[i]);
    return 0;
}
