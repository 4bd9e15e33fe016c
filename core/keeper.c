/* The lease keeper: one thread per handle while workers run. Every third of
 * the lease it renews, in one script call, every claim this process holds, so
 * a long job on a live worker is never recovered (one call per shard that
 * has claims here). A claim found gone (a monitor recovered it while Redis
 * could not be reached, say) is marked lost: its job is stopped and its
 * outcome never reported. A claim whose worker has begun to report it is
 * gone through that report, not lost, and is neither marked nor counted.
 * Between renewals it listens for cancels of the jobs running here
 * (cancel_watch.h); a renewal that finds a claim cancelled marks it too,
 * and one is made each time the listening starts or starts again.
 * The same thread runs the watchdog (watchdog.c) for jobs stuck in C code. */
#include <stdlib.h>
#include <string.h>

#include "cancel_watch.h"
#include "internal.h"
#include "script_args.h"

/* A renewal Redis refuses (a queue key holding garbage, say) is tried again
 * at the next interval, as leases need; its error is logged when it starts
 * and then at most every HW_KEEPER_LOG_EVERY seconds. */
#define HW_KEEPER_LOG_EVERY 30.0

typedef struct keeper {
    hworker *h;
    hw_conn conn;
    hw_args args, lost; /* one renewal; the claims it found really lost */
    int failing;        /* refused since the last round over the shards without a refusal */
    int round_failed;   /* a call was refused in this round */
    double logged_at;   /* when a refusal was last logged */
    long refused;       /* refusals since then */
    int beat_failing;   /* the process registry refused the last beat (logged once) */
} keeper;

static void refused(keeper *k, size_t n, const redisReply *r)
{
    double now = hw_monotonic();
    k->refused++;
    k->round_failed = 1;
    if (k->failing && now - k->logged_at < HW_KEEPER_LOG_EVERY) return;
    const char *why = r && r->type == REDIS_REPLY_ERROR ? r->str : k->conn.errstr;
    if (k->failing)
        hw_log(&k->h->log, HWORKER_LOG_WARN,
               "lease keeper: still cannot renew %zu lease(s) (%ld tries since the last warning): %s", n, k->refused,
               why);
    else
        hw_log(&k->h->log, HWORKER_LOG_WARN,
               "lease keeper: cannot renew %zu lease(s): %s; the leases lapse if this lasts", n, why);
    k->failing = 1;
    k->logged_at = now;
    k->refused = 0;
}

/* Counts the claims of k->lost (after its keys and arguments) as lease_lost,
 * through the renew script, which re-checks that each is gone. */
static void count_lost(keeper *k, size_t n, int nkeys)
{
    redisReply *r = hw_conn_script(&k->conn, HW_SCRIPT_RENEW, nkeys, &k->lost);
    if (r == NULL || r->type != REDIS_REPLY_ARRAY) refused(k, n, r);
    if (r) freeReplyObject(r);
}

/* Renews every claim this process holds on one shard, in one script call. */
static void renew_shard(keeper *k, int shard)
{
    hworker *h = k->h;
    const hw_keys *keys = &h->shard[shard];
    hw_args *args = &k->args;
    int nkeys = hw_renew_args(args, keys, &h->cfg, 0); /* gone is not yet lost: counted below */
    hw_claim **claims = NULL;
    size_t n = hw_held_snapshot(&h->held, shard, args, &claims);
    if (n > 0 && hw_conn_ensure(&k->conn, NULL) == 0) {
        redisReply *r = hw_conn_script(&k->conn, HW_SCRIPT_RENEW, nkeys, args);
        if (r && r->type == REDIS_REPLY_ARRAY) {
            hw_args_finish(args);
            hw_renew_args(&k->lost, keys, &h->cfg, 1);
            size_t lost = 0;
            for (size_t i = 0; i < n && i < r->elements; i++) {
                const char *data = args->argv[nkeys + 2 + i]; /* after the keys, the lease and the flag */
                size_t len = args->lens[nkeys + 2 + i];
                if (r->element[i]->integer == 2) {
                    const char *bar = memchr(data, '|', len);
                    if (bar) hw_held_cancel(&h->held, data, (size_t)(bar - data), HW_HELD_RENEWED);
                }
                if (r->element[i]->integer == 0 && hw_held_mark_lost(&h->held, claims[i], data, len)) {
                    hw_args_add(&k->lost, data, len);
                    lost++;
                }
            }
            if (lost > 0) count_lost(k, lost, nkeys);
        } else {
            refused(k, n, r);
        }
        if (r) freeReplyObject(r);
    }
    free(claims);
}

/* One round over the shards; a round without a refusal ends the warnings. */
static void renew_all(keeper *k)
{
    for (int shard = 0; shard < k->h->nshards; shard++) renew_shard(k, shard);
    if (!k->round_failed) k->failing = 0;
    k->round_failed = 0;
}

/* This run of the keeper's id in the process registry: host:pid: and a
 * fresh tag, as a process may hold several handles with workers. */
static void process_id(const hworker *h, char *out, size_t outlen)
{
    char tag[HWORKER_ID_SIZE];
    hw_new_ids(tag, 1);
    snprintf(out, outlen, "%s:%d:%.8s", h->hostname, h->pid, tag);
}

void *hw_keeper_main(void *arg)
{
    keeper k = {.h = arg};
    hworker *h = k.h;
    hw_cancel_watch watch;
    hw_cancel_watch_init(&watch, h);
    hw_conn_init(&k.conn, &h->target, h->cfg.connect, h->cfg.connect_ud, &h->log, h->name, "lease keeper",
                 h->cfg.redis_timeout);
    char id[128];
    process_id(h, id, sizeof id);
    long long started = hw_wall_ms();
    hw_process_beat(h, &k.conn, id, started, 0, &k.beat_failing);
    double interval = h->cfg.lease / 3.0;
    double next_renew = hw_monotonic() + interval;
    for (;;) {
        /* Reset before looking, so a wake raised meanwhile is not lost. */
        hw_signal_reset(&h->keeper_wake);
        if (hw_signal_raised(&h->keeper_stop)) break;
        if (hw_monotonic() >= next_renew) {
            renew_all(&k);
            hw_process_beat(h, &k.conn, id, started, 0, &k.beat_failing);
            next_renew = hw_monotonic() + interval;
        }
        /* Announce the renewal time first: a job that starts while the
         * watchdog looks then sees a time it must wake it before. */
        atomic_store(&h->keeper_wakes_at, next_renew);
        double check = hw_watchdog_check(h, &k.conn, hw_monotonic(), 0);
        double until = check < next_renew ? check : next_renew;
        atomic_store(&h->keeper_wakes_at, until);
        /* A cancel published before the subscription stood was missed; a
         * renewal finds its mark (a round without claims sends nothing). */
        if (hw_cancel_watch_sleep(&watch, h, until)) renew_all(&k);
    }
    hw_process_beat(h, &k.conn, id, started, 1, &k.beat_failing);
    hw_cancel_watch_free(&watch);
    hw_args_free(&k.args);
    hw_args_free(&k.lost);
    hw_conn_free(&k.conn);
    return NULL;
}
