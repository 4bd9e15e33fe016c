/* The lease keeper: one thread per handle while workers run. Every third of
 * the lease it renews, in one script call, every claim this process holds, so
 * a long job on a live worker is never recovered (one call per shard that
 * has claims here). A claim found gone (a
 * monitor recovered it while Redis could not be reached, say) is marked lost:
 * its job is stopped and its outcome never reported. The same thread runs the
 * watchdog (watchdog.c) for jobs stuck in C code. */
#include <stdlib.h>

#include "internal.h"

/* Renews every claim this process holds on one shard, in one script call. */
static void renew_shard(hworker *h, hw_conn *conn, hw_args *args, int shard)
{
    hw_args_clear(args);
    hw_args_adds(args, h->shard[shard].key[HW_KEY_INFLIGHT]);
    hw_args_adds(args, h->shard[shard].key[HW_KEY_STATS]);
    hw_args_addll(args, (long long)(h->cfg.lease * 1000.0));
    hw_claim **claims = NULL;
    size_t n = hw_held_snapshot(&h->held, shard, args, &claims);
    if (n > 0 && hw_conn_ensure(conn, NULL) == 0) {
        redisReply *r = hw_conn_script(conn, HW_SCRIPT_RENEW, 2, args);
        if (r && r->type == REDIS_REPLY_ARRAY) {
            hw_args_finish(args);
            for (size_t i = 0; i < n && i < r->elements; i++)
                if (r->element[i]->integer == 0)
                    hw_held_mark_lost(&h->held, claims[i], args->argv[3 + i], args->lens[3 + i]);
        } else {
            hw_log(&h->log, HWORKER_LOG_WARN, "lease keeper: cannot renew %zu lease(s): %s", n,
                   r && r->type == REDIS_REPLY_ERROR ? r->str : conn->errstr);
        }
        if (r) freeReplyObject(r);
    }
    free(claims);
}

void *hw_keeper_main(void *arg)
{
    hworker *h = arg;
    hw_conn conn;
    hw_conn_init(&conn, &h->target, h->cfg.connect, h->cfg.connect_ud, &h->log, h->name, "lease keeper", h->cfg.redis_timeout);
    double interval = h->cfg.lease / 3.0;
    double next_renew = hw_monotonic() + interval;
    hw_args args = {0};
    for (;;) {
        /* Reset before looking, so a wake raised meanwhile is not lost. */
        hw_signal_reset(&h->keeper_wake);
        if (hw_signal_raised(&h->keeper_stop)) break;
        if (hw_monotonic() >= next_renew) {
            for (int shard = 0; shard < h->nshards; shard++) renew_shard(h, &conn, &args, shard);
            next_renew = hw_monotonic() + interval;
        }
        /* Announce the renewal time first: a job that starts while the
         * watchdog looks then sees a time it must wake it before. */
        atomic_store(&h->keeper_wakes_at, next_renew);
        double check = hw_watchdog_check(h, &conn, hw_monotonic(), 0);
        double until = check < next_renew ? check : next_renew;
        atomic_store(&h->keeper_wakes_at, until);
        hw_signal_wait(&h->keeper_wake, until - hw_monotonic());
    }
    hw_args_free(&args);
    hw_conn_free(&conn);
    return NULL;
}
