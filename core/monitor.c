/* The monitor: sweeps expired leases back into pending (or into failed past
 * the recovery limit) and moves due scheduled jobs into pending, in bounded
 * batches, each batch one atomic script. Any number of monitors may run on
 * any number of hosts. It sleeps until the next lease expiry or due time the
 * sweep reports, at most monitor_interval, and sooner when a job scheduled
 * meanwhile is due sooner (due_wake.h): due jobs reach pending on time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cron_runner.h"
#include "due_wake.h"
#include "internal.h"
#include "script_args.h"

#define HW_SWEEP_BATCH 100

/* A shard whose sweep Redis refuses (a key of the queue holding garbage,
 * say) is tried again after a back-off that doubles from HW_SWEEP_RETRY_MIN
 * to monitor_interval, and its error is logged when it starts, then at most
 * every HW_SWEEP_LOG_EVERY seconds: while other shards have full batches the
 * monitor loops without sleeping, and must not send or log the failing
 * sweep each time. */
#define HW_SWEEP_RETRY_MIN 0.1
#define HW_SWEEP_LOG_EVERY 30.0

typedef struct shard_sweep {
    hw_args args; /* never change: made once */
    int nkeys;
    double retry_at;  /* monotonic time before which a refused shard is skipped */
    double backoff;   /* 0 while sweeps succeed */
    double logged_at; /* when its error was last logged */
    long refused;     /* sweeps refused since it was last logged */
} shard_sweep;

/* One sweep of one shard. Returns how long this shard lets the monitor
 * sleep: 0 if a batch was full, else until its next expiry or due time (at
 * most monitor_interval), or until its retry after a refusal; -1 if the
 * connection failed. */
static double sweep(hworker *h, hw_conn *conn, shard_sweep *s, int shard)
{
    double now = hw_monotonic();
    if (s->backoff > 0 && now < s->retry_at) return s->retry_at - now;
    redisReply *r = hw_conn_script(conn, HW_SCRIPT_RECOVER, s->nkeys, &s->args);
    if (r == NULL) return -1; /* connection lost: ensure() reconnects */
    double wait = h->cfg.monitor_interval;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 4) {
        long long recovered = r->element[0]->integer, next_ms = r->element[2]->integer;
        int full = r->element[3]->integer != 0;
        if (recovered > 0)
            hw_log(&h->log, HWORKER_LOG_INFO, "monitor: recovered %lld job(s) whose worker stopped renewing its lease",
                   recovered);
        if (s->backoff > 0) hw_log(&h->log, HWORKER_LOG_INFO, "monitor: sweeps of shard %d work again", shard);
        s->backoff = 0;
        if (full) wait = 0;
        else if (next_ms >= 0 && next_ms / 1000.0 < wait) wait = next_ms / 1000.0 + 0.001;
    } else {
        int first = s->backoff == 0;
        s->backoff = first ? HW_SWEEP_RETRY_MIN : s->backoff * 2;
        if (s->backoff > h->cfg.monitor_interval) s->backoff = h->cfg.monitor_interval;
        s->retry_at = now + s->backoff;
        wait = s->backoff;
        s->refused++;
        if (first || now - s->logged_at >= HW_SWEEP_LOG_EVERY) {
            const char *why = r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply";
            if (first)
                hw_log(&h->log, HWORKER_LOG_WARN,
                       "monitor: cannot sweep shard %d: %s; retrying with back-off up to %gs", shard, why,
                       h->cfg.monitor_interval);
            else
                hw_log(&h->log, HWORKER_LOG_WARN,
                       "monitor: still cannot sweep shard %d (%ld tries since the last warning): %s", shard, s->refused,
                       why);
            s->logged_at = now;
            s->refused = 0;
        }
    }
    freeReplyObject(r);
    return wait;
}

int hw_monitor_run(hworker *h, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    hw_conn conn;
    hw_conn_init(&conn, &h->target, h->cfg.connect, h->cfg.connect_ud, &h->log, h->name, "monitor",
                 h->cfg.redis_timeout);
    shard_sweep *shards = calloc((size_t)h->nshards, sizeof *shards);
    if (shards == NULL) abort();
    for (int k = 0; k < h->nshards; k++)
        shards[k].nkeys = hw_sweep_args(&shards[k].args, &h->shard[k], &h->cfg, HW_SWEEP_BATCH);
    hw_due_wake wake;
    hw_due_wake_init(&wake, h);
    hw_cron_runner cron;
    hw_cron_runner_init(&cron);
    while (!hw_signal_raised(&h->stop)) {
        if (hw_conn_ensure(&conn, &h->stop)) break;
        /* Subscribed before the sweep: a job scheduled after it is heard
         * of, one scheduled before it is seen by the sweep. */
        hw_due_wake_listen(&wake, h);
        double wait = h->cfg.monitor_interval;
        for (int k = 0; k < h->nshards && wait >= 0; k++) {
            double w = sweep(h, &conn, &shards[k], k);
            if (w < wait) wait = w;
        }
        /* Cron ticks are due on the same clock: the sleep ends at the first. */
        double cron_wait = wait >= 0 ? hw_cron_runner_step(&cron, h, &conn) : 0;
        if (cron_wait < wait) wait = cron_wait;
        if (wait > 0 && hw_due_wake_sleep(&wake, h, wait)) hw_cron_runner_changed(&cron);
    }
    hw_cron_runner_free(&cron);
    hw_due_wake_free(&wake);
    for (int k = 0; k < h->nshards; k++) hw_args_free(&shards[k].args);
    free(shards);
    hw_conn_free(&conn);
    return 0;
}
