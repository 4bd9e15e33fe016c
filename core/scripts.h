/* The Redis scripts of scripts/, compiled in (see cmake/embed_scripts.cmake).
 * Read-only data: safe from any thread. */
#ifndef HW_SCRIPTS_H
#define HW_SCRIPTS_H

#include <stddef.h>

typedef struct hw_script_source {
    const char *name; /* file name without .lua */
    const char *text;
    size_t len;
} hw_script_source;

/* Ends with an entry whose name is NULL. */
extern const hw_script_source hw_script_sources[];

typedef enum {
    HW_SCRIPT_ENQUEUE,
    HW_SCRIPT_CLAIM,
    HW_SCRIPT_FINISH,
    HW_SCRIPT_RENEW,
    HW_SCRIPT_RECOVER,
    HW_SCRIPT_HANDBACK,
    HW_SCRIPT_STATS,
    HW_SCRIPT_REQUEUE,
    HW_SCRIPT_FORGET,
    HW_SCRIPT_SHARDS,
    HW_SCRIPT_CRON_ADD,
    HW_SCRIPT_CRON_RM,
    HW_SCRIPT_CRON_READ,
    HW_SCRIPT_CRON_TICK,
    HW_SCRIPT_PAUSE,
    HW_SCRIPT_LIMIT,
    HW_SCRIPT_GROUP_LIMIT,
    HW_SCRIPT_DROP_GROUPS,
    HW_SCRIPT_BEAT,
    HW_SCRIPT_PROCESSES,
    HW_SCRIPT_QUEUE_REGISTRY,
    HW_SCRIPT_HISTORY,
    HW_SCRIPT_DROP_HISTORY,
    HW_SCRIPT_CANCEL,
    HW_SCRIPT_REMOVE_JOB,
    HW_SCRIPT_RUN_NOW,
    HW_SCRIPT_EVENTS_SET,
    HW_SCRIPT_COUNT
} hw_script;

/* The source of a script, or NULL if the build lacks it. */
const hw_script_source *hw_script_get(hw_script s);

/* The SHA1 of script s's text in hex (what EVALSHA names it by) into
 * out[41]: calls name a script by it without loading it first, and load it
 * only when Redis answers NOSCRIPT. Returns 0, or -1 if the build lacks the
 * script. Thread-safe. */
int hw_script_sha(hw_script s, char out[41]);

#endif
