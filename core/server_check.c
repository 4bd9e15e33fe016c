/* Checks, when workers start, that the Redis server can run hworker and
 * keeps what it acknowledges: a version with BLMOVE and RPOP with a count
 * (6.2+), and settings at-least-once depends on (AOF on, no eviction, a
 * primary). The first is an error; the others are warnings, since managed
 * services may hide CONFIG. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "server_version.h"

static int config_value(hw_conn *c, const char *name, char *out, size_t outlen)
{
    redisReply *r = hw_conn_simple(c, "CONFIG", "GET", name, NULL);
    int ok = r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[1]->str;
    if (ok) snprintf(out, outlen, "%s", r->element[1]->str);
    if (r) freeReplyObject(r);
    return ok ? 0 : -1;
}

int hw_check_server(hworker *h, char *err, size_t errlen)
{
    pthread_mutex_lock(&h->producer_lock);
    hw_conn *c = &h->producer;
    if (hw_conn_ensure(c, NULL) != 0) {
        /* Not fatal: workers wait for Redis with back-off. */
        hw_log(&h->log, HWORKER_LOG_WARN, "%s; workers will keep trying", c->errstr);
        pthread_mutex_unlock(&h->producer_lock);
        return 0;
    }
    int rc = 0;
    redisReply *info = hw_conn_simple(c, "INFO", "server", NULL);
    char version[32] = "", role[32] = "", value[64];
    if (info && info->type == REDIS_REPLY_STRING) hw_info_field(info->str, "redis_version", version, sizeof version);
    if (info) freeReplyObject(info);
    if (version[0] && hw_redis_too_old(version)) {
        snprintf(err, errlen, "Redis %s is too old: hworker needs Redis 6.2 or later (BLMOVE, RPOP with a count)", version);
        rc = -1;
    }
    if (rc == 0 && config_value(c, "appendonly", value, sizeof value) == 0 && strcmp(value, "yes") != 0)
        hw_log(&h->log, HWORKER_LOG_WARN,
               "Redis has appendonly %s: acknowledged jobs can be lost if Redis restarts (set appendonly yes)", value);
    if (rc == 0 && config_value(c, "maxmemory-policy", value, sizeof value) == 0 && strcmp(value, "noeviction") != 0)
        hw_log(&h->log, HWORKER_LOG_WARN,
               "Redis has maxmemory-policy %s: it may evict queue keys under memory pressure (set noeviction)", value);
    info = rc == 0 ? hw_conn_simple(c, "INFO", "replication", NULL) : NULL;
    if (info && info->type == REDIS_REPLY_STRING && hw_info_field(info->str, "role", role, sizeof role) == 0 &&
        strcmp(role, "master") != 0)
        hw_log(&h->log, HWORKER_LOG_WARN, "Redis at this address is a %s: point hworker at the primary", role);
    if (info) freeReplyObject(info);
    pthread_mutex_unlock(&h->producer_lock);
    return rc;
}
