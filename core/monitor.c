/* The monitor: sweeps expired leases back into pending (or into failed past
 * the recovery limit) and moves due scheduled jobs into pending, in bounded
 * batches, each batch one atomic script. Any number of monitors may run on
 * any number of hosts. It sleeps until the next lease expiry or due time the
 * sweep reports, at most monitor_interval. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define HW_SWEEP_BATCH 100

void hw_sweep_args(hworker *h, int shard, hw_args *args, long batch)
{
    static const hw_key keys[HW_SWEEP_KEYS] = {HW_KEY_PENDING, HW_KEY_INFLIGHT, HW_KEY_SCHEDULED, HW_KEY_FAILED,
                                               HW_KEY_STATS,   HW_KEY_BROKEN,   HW_KEY_UNIQUE};
    for (size_t i = 0; i < HW_SWEEP_KEYS; i++) hw_args_adds(args, h->shard[shard].key[keys[i]]);
    hw_args_addll(args, batch);
    hw_args_addll(args, h->cfg.max_recoveries);
    hw_args_addll(args, h->cfg.failed_cap);
    hw_args_addll(args, (long long)(h->cfg.failed_max_age * 1000.0));
    hw_args_addll(args, (long long)(h->cfg.broken_max_age * 1000.0));
}

/* One sweep of one shard. Returns how long this shard lets the monitor
 * sleep: 0 if a batch was full, else until its next expiry or due time (at
 * most monitor_interval); -1 if the connection failed. */
static double sweep(hworker *h, hw_conn *conn, hw_args *args)
{
    redisReply *r = hw_conn_script(conn, HW_SCRIPT_RECOVER, HW_SWEEP_KEYS, args);
    if (r == NULL) return -1; /* connection lost: ensure() reconnects */
    double wait = h->cfg.monitor_interval;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 4) {
        long long recovered = r->element[0]->integer, next_ms = r->element[2]->integer;
        int full = r->element[3]->integer != 0;
        if (recovered > 0)
            hw_log(&h->log, HWORKER_LOG_INFO, "monitor: recovered %lld job(s) whose worker stopped renewing its lease",
                   recovered);
        if (full) wait = 0;
        else if (next_ms >= 0 && next_ms / 1000.0 < wait) wait = next_ms / 1000.0 + 0.002;
    } else {
        hw_log(&h->log, HWORKER_LOG_WARN, "monitor: sweep failed: %s",
               r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
    }
    freeReplyObject(r);
    return wait;
}

int hw_monitor_run(hworker *h, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    hw_conn conn;
    hw_conn_init(&conn, &h->target, h->cfg.connect, h->cfg.connect_ud, &h->log, h->name, "monitor", h->cfg.redis_timeout);
    /* The arguments of each shard's sweep never change: made once. */
    hw_args *args = calloc((size_t)h->nshards, sizeof *args);
    if (args == NULL) abort();
    for (int k = 0; k < h->nshards; k++) hw_sweep_args(h, k, &args[k], HW_SWEEP_BATCH);
    while (!hw_signal_raised(&h->stop)) {
        if (hw_conn_ensure(&conn, &h->stop)) break;
        double wait = h->cfg.monitor_interval;
        for (int k = 0; k < h->nshards && wait >= 0; k++) {
            double w = sweep(h, &conn, &args[k]);
            if (w < wait) wait = w;
        }
        if (wait > 0) hw_signal_wait(&h->stop, wait);
    }
    for (int k = 0; k < h->nshards; k++) hw_args_free(&args[k]);
    free(args);
    hw_conn_free(&conn);
    return 0;
}

typedef struct id_list {
    hw_buf text;
    int n;
} id_list;

static int collect_id(void *ud, const hworker_entry *e)
{
    id_list *l = ud;
    hw_buf_addf(&l->text, "%s%s", l->n++ ? "," : "", e->id ? e->id : "(unparsable)");
    return 0;
}

int hw_debugger_run(hworker *h, double interval, char *err, size_t errlen)
{
    if (!(interval > 0)) {
        snprintf(err, errlen, "debugger: interval must be > 0 seconds");
        return -1;
    }
    do {
        hworker_stats st;
        id_list pending = {{0}, 0}, inflight = {{0}, 0};
        char why[256];
        if (hworker_get_stats(h, &st, why, sizeof why) == 0 &&
            hworker_list(h, HWORKER_PENDING, 0, 10, collect_id, &pending, why, sizeof why) == 0 &&
            hworker_list(h, HWORKER_INFLIGHT, 0, 10, collect_id, &inflight, why, sizeof why) == 0) {
            hw_log(&h->log, HWORKER_LOG_INFO, "debug: pending %lld [%s%s] in flight %lld [%s%s]", st.pending,
                   pending.text.data ? pending.text.data : "", st.pending > 10 ? ",..." : "", st.inflight,
                   inflight.text.data ? inflight.text.data : "", st.inflight > 10 ? ",..." : "");
        } else {
            hw_log(&h->log, HWORKER_LOG_WARN, "debug: %s", why);
        }
        hw_buf_free(&pending.text);
        hw_buf_free(&inflight.text);
    } while (!hw_signal_wait(&h->stop, interval));
    return 0;
}
