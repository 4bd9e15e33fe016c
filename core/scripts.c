#include "scripts.h"

#include <string.h>

static const char *const names[HW_SCRIPT_COUNT] = {
    [HW_SCRIPT_ENQUEUE] = "enqueue", [HW_SCRIPT_CLAIM] = "claim",     [HW_SCRIPT_FINISH] = "finish",
    [HW_SCRIPT_RENEW] = "renew",     [HW_SCRIPT_RECOVER] = "recover", [HW_SCRIPT_HANDBACK] = "handback",
    [HW_SCRIPT_STATS] = "stats",     [HW_SCRIPT_REQUEUE] = "requeue", [HW_SCRIPT_FORGET] = "forget",
    [HW_SCRIPT_SHARDS] = "shards",
};

const hw_script_source *hw_script_get(hw_script s)
{
    if (s < 0 || s >= HW_SCRIPT_COUNT) return NULL;
    for (const hw_script_source *p = hw_script_sources; p->name; p++)
        if (strcmp(p->name, names[s]) == 0) return p;
    return NULL;
}
