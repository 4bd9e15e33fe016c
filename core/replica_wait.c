#include "replica_wait.h"

#include <stdio.h>

hworker_rc hw_conn_wait_replicas(hw_conn *c, const char *what, char *err, size_t errlen)
{
    if (c->min_replicas <= 0) return HWORKER_OK;
    char n[24], ms[24];
    n[hw_fmt_ull(n, (unsigned long long)c->min_replicas)] = '\0';
    ms[hw_fmt_ull(ms, (unsigned long long)(c->min_replicas_timeout * 1000.0))] = '\0';
    redisReply *r = hw_conn_simple(c, "WAIT", n, ms, NULL);
    int ok = r && r->type == REDIS_REPLY_INTEGER && r->integer >= c->min_replicas;
    if (!ok && err && errlen) {
        if (r && r->type == REDIS_REPLY_INTEGER)
            snprintf(err, errlen, "%s: reached %lld of %d replicas within %g s (min_replicas)", what, r->integer,
                     c->min_replicas, c->min_replicas_timeout);
        else hw_conn_explain(c, r, what, err, errlen);
    }
    hworker_rc rc = ok ? HWORKER_OK : r && r->type == REDIS_REPLY_INTEGER ? HWORKER_E_REPLICAS : HWORKER_E_REDIS;
    if (r) freeReplyObject(r);
    return rc;
}
