#include "cron_runner.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "script_args.h"

/* A tick handled within this many ms of its time is on time; an older one
 * (the monitors were down, or a newer tick is due too) is missed, and the
 * entry's policy says what becomes of it. */
#define HW_CRON_GRACE_MS 2000
/* Missed ticks older than this are dropped uncounted: a last tick far in
 * the past (a bad value in Redis, "1", or a year-long outage) must not
 * make the monitor walk through every tick since. */
#define HW_CRON_CATCH_UP_MS (31LL * 24 * 3600 * 1000)
/* Ticks handled in one cron_tick.lua call, at most: a long outage is
 * caught up in steps. */
#define HW_CRON_STEP_TICKS 1000

void hw_cron_runner_init(hw_cron_runner *r) { memset(r, 0, sizeof *r); }

void hw_cron_runner_free(hw_cron_runner *r) { hw_cron_table_free(&r->table); }

void hw_cron_runner_changed(hw_cron_runner *r) { r->reload_at = 0; }

/* Redis's clock now, from the one read with the table and ours since. */
static long long redis_now(const hw_cron_runner *r)
{
    return r->table.now + (long long)((hw_monotonic() - r->read_at) * 1000.0);
}

static void log_problem_once(hw_cron_runner *r, hworker *h, const hw_cron_row *row)
{
    char key[256];
    snprintf(key, sizeof key, "%.100s\n%.150s", row->name, row->problem);
    for (int i = 0; i < r->nlogged; i++)
        if (strcmp(r->logged[i], key) == 0) return;
    if (r->nlogged < (int)(sizeof r->logged / sizeof r->logged[0])) snprintf(r->logged[r->nlogged++], 256, "%s", key);
    hw_log(&h->log, HWORKER_LOG_WARN, "cron: entry '%s' cannot run: %s (hworker-lua cron add replaces it)", row->name,
           row->problem);
}

static int reload(hw_cron_runner *r, hworker *h, hw_conn *conn)
{
    hw_args args = {0};
    int nkeys = hw_cron_args(&args, &h->shard[0]);
    redisReply *reply = hw_conn_script(conn, HW_SCRIPT_CRON_READ, nkeys, &args);
    hw_args_free(&args);
    if (reply == NULL) return -1;
    hw_cron_table fresh;
    char err[300];
    int bad = hw_cron_table_parse(&fresh, reply, err, sizeof err);
    freeReplyObject(reply);
    r->reload_at = hw_monotonic() + h->cfg.monitor_interval;
    if (bad) {
        hw_log(&h->log, HWORKER_LOG_WARN, "cron: cannot read the entries: %s", err);
        return 0;
    }
    hw_cron_table_free(&r->table);
    r->table = fresh;
    r->read_at = hw_monotonic();
    r->loaded = 1;
    for (size_t i = 0; i < r->table.n; i++)
        if (!r->table.rows[i].ok) log_problem_once(r, h, &r->table.rows[i]);
    return 0;
}

/* Hands over the ticks of `row` due at `now`, in steps. Returns the ms
 * until its next tick (-1: none), or -2 if the connection failed, -3 if
 * another process or a change came first (read the entries again). */
static long long handle(hw_cron_runner *r, hworker *h, hw_conn *conn, hw_cron_row *row)
{
    const hw_cron_def *d = &row->def;
    for (;;) {
        long long now = redis_now(r);
        /* An entry with no usable last tick (its state was removed, or holds
         * anything but a tick time) starts now; one far behind catches up
         * at most HW_CRON_CATCH_UP_MS. */
        long long from = row->last_ok ? row->last : now;
        if (from < now - HW_CRON_CATCH_UP_MS) from = now - HW_CRON_CATCH_UP_MS;
        if (!row->last_ok && row->last_len > 0)
            hw_log(&h->log, HWORKER_LOG_WARN, "cron: entry '%s': its last tick in Redis is not a time; it starts now",
                   row->name);
        long long ticks[HW_CRON_STEP_TICKS];
        int n = 0;
        long long at = from;
        while (n < HW_CRON_STEP_TICKS && (at = hw_cron_next(&d->cron, d->tz, at)) >= 0 && at <= now) ticks[n++] = at;
        if (n == 0 && row->last_ok) return at < 0 ? -1 : at - now;
        int more = n == HW_CRON_STEP_TICKS;
        /* The latest tick is on time unless it is old or more are due. */
        int current = n > 0 && !more && now - ticks[n - 1] <= HW_CRON_GRACE_MS;
        int nmissed = n - current;
        long long jobs[HW_CRON_STEP_TICKS];
        int njobs = 0;
        if (d->missed == HWORKER_CRON_ALL)
            for (int i = 0; i < nmissed; i++) jobs[njobs++] = ticks[i];
        else if (d->missed == HWORKER_CRON_ONE && nmissed > 0) jobs[njobs++] = ticks[nmissed - 1];
        if (current) jobs[njobs++] = ticks[n - 1];
        long long new_last = n > 0 ? ticks[n - 1] : now;
        long long counted_missed = nmissed;
        if (d->missed == HWORKER_CRON_ALL) counted_missed = 0;
        else if (d->missed == HWORKER_CRON_ONE && nmissed > 0) counted_missed = nmissed - 1;

        hw_args args = {0};
        int nkeys = hw_cron_tick_args(&args, &h->shard[0]);
        hw_args_add(&args, row->name, strlen(row->name));
        hw_args_add(&args, row->last_text, row->last_len);
        hw_args_addll(&args, new_last);
        hw_args_addll(&args, counted_missed);
        hw_args_add(&args, row->text, row->len);
        hw_args_add(&args, d->unique ? "1" : "0", 1);
        hw_args_add(&args, d->job, d->job_len);
        char *ids = njobs ? malloc((size_t)njobs * HWORKER_ID_SIZE) : NULL;
        if (njobs && ids == NULL) abort();
        if (njobs) hw_new_ids(ids, (size_t)njobs);
        for (int i = 0; i < njobs; i++) {
            hw_args_add(&args, ids + (size_t)i * HWORKER_ID_SIZE, HW_ID_LEN);
            hw_args_addll(&args, jobs[i]);
        }
        free(ids);
        redisReply *reply = hw_conn_script(conn, HW_SCRIPT_CRON_TICK, nkeys, &args);
        hw_args_free(&args);
        if (reply == NULL) return -2;
        long long status =
            reply->type == REDIS_REPLY_ARRAY && reply->elements >= 1 && reply->element[0]->type == REDIS_REPLY_INTEGER
            ? reply->element[0]->integer
            : -9;
        if (status == 1) {
            long long enqueued = reply->elements >= 2 ? reply->element[1]->integer : 0;
            hw_log(&h->log, HWORKER_LOG_DEBUG, "cron: entry '%s': %lld job(s) enqueued, %lld tick(s) missed", row->name,
                   enqueued, counted_missed);
            if (counted_missed > 0)
                hw_log(&h->log, HWORKER_LOG_INFO, "cron: entry '%s' missed %lld tick(s) (its policy: %s)", row->name,
                       counted_missed, hw_cron_missed_name(d->missed));
            char text[32];
            snprintf(text, sizeof text, "%lld", new_last);
            free(row->last_text);
            row->last_text = strdup(text);
            if (row->last_text == NULL) abort();
            row->last_len = strlen(text);
            row->last = new_last;
            row->last_ok = 1;
        } else if (status == -1 && reply->elements >= 2) {
            /* Redis's clock is behind ours: try when it has reached the tick. */
            long long redis_at = reply->element[1]->integer;
            freeReplyObject(reply);
            return new_last > redis_at ? new_last - redis_at : 1;
        } else {
            if (status != 0)
                hw_log(&h->log, HWORKER_LOG_WARN, "cron: entry '%s': cannot hand over its tick: %s", row->name,
                       reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply");
            freeReplyObject(reply);
            return -3;
        }
        freeReplyObject(reply);
        /* Then its next tick, or the next step of a long catch-up. */
    }
}

double hw_cron_runner_step(hw_cron_runner *r, hworker *h, hw_conn *conn)
{
    if (hw_monotonic() >= r->reload_at && reload(r, h, conn) != 0) return -1;
    double wait = h->cfg.monitor_interval;
    if (!r->loaded) return wait;
    for (size_t i = 0; i < r->table.n; i++) {
        hw_cron_row *row = &r->table.rows[i];
        if (!row->ok) continue;
        long long in = handle(r, h, conn, row);
        if (in == -2) return -1;
        if (in == -3) {
            hw_cron_runner_changed(r);
            return 0;
        }
        if (in >= 0 && in / 1000.0 < wait) wait = in / 1000.0;
    }
    return wait;
}
