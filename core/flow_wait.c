#include "flow_wait.h"

#include <stdio.h>
#include <string.h>

hw_hold hw_flow_held(const redisReply *r, long long *ms)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 || r->element[0]->type != REDIS_REPLY_INTEGER ||
        r->element[0]->integer != -1 || r->element[1]->type != REDIS_REPLY_STRING)
        return HW_HELD_NO;
    *ms = r->element[2]->type == REDIS_REPLY_INTEGER ? r->element[2]->integer : 0;
    const char *why = r->element[1]->str;
    if (strcmp(why, "paused") == 0) return HW_HELD_PAUSED;
    if (strcmp(why, "capped") == 0) return HW_HELD_CAPPED;
    return HW_HELD_RATE;
}

int hw_flow_wait(hw_conn *conn, const hw_keys *k, hw_hold held, long long ms, double block_timeout, hw_signal *stop,
                 hw_logger *log, const char *who)
{
    if (held == HW_HELD_RATE) {
        double s = (double)ms / 1000.0;
        hw_signal_wait(stop, s < block_timeout ? s : block_timeout);
        return 0;
    }
    char timeout[32];
    snprintf(timeout, sizeof timeout, "%.3f", block_timeout);
    redisReply *r;
    if (held == HW_HELD_PAUSED) {
        const char *open = k->key[HW_KEY_OPEN];
        r = hw_conn_simple(conn, "BLMOVE", open, open, "RIGHT", "RIGHT", timeout, NULL);
    } else {
        r = hw_conn_simple(conn, "BLPOP", k->key[HW_KEY_FREED], timeout, NULL);
    }
    if (r == NULL) return -1;
    if (r->type == REDIS_REPLY_ERROR) {
        hw_log(log, HWORKER_LOG_WARN, "%s: cannot wait on %s: %s", who,
               k->key[held == HW_HELD_PAUSED ? HW_KEY_OPEN : HW_KEY_FREED], r->str);
        hw_signal_wait(stop, block_timeout);
    }
    freeReplyObject(r);
    return 0;
}
