/* The public cron calls (hworker.h): adding, removing, listing entries and
 * computing their next ticks. Entries live in shard 0's cron keys; the
 * monitors act on them (cron_runner.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cron_table.h"
#include "errors.h"
#include "internal.h"
#include "script_args.h"

hworker_rc hworker_cron_add(hworker *h, const char *entry, const char *schedule, const char *job, const char *tz,
                            hworker_cron_missed missed, int unique, char *err, size_t errlen)
{
    HW_ERR_BUF(err, errlen);
    if (hw_cron_def_check(entry, schedule, tz, job, err, errlen) != 0) return HWORKER_E_INVALID;
    if (missed < HWORKER_CRON_SKIP || missed > HWORKER_CRON_ALL)
        return hw_fail(HWORKER_E_INVALID, err, errlen, "cron entry '%s': missed must be skip, one or all", entry);
    hw_cron c;
    char why[300];
    hw_cron_parse(schedule, &c, why, sizeof why);
    hw_buf def = {0};
    hw_cron_def_encode(&def, hw_cron_text(&c), tz, missed, unique, job, strlen(job));
    hw_args args = {0};
    int nkeys = hw_cron_args(&args, &h->shard[0]);
    hw_args_add(&args, entry, strlen(entry));
    hw_args_add(&args, def.data, def.len);
    redisReply *r = hw_producer_script(h, HW_SCRIPT_CRON_ADD, nkeys, &args, "cannot add the cron entry", err, errlen);
    hw_args_free(&args);
    hw_buf_free(&def);
    if (r == NULL) return HWORKER_E_REDIS;
    hworker_rc rc = HWORKER_OK;
    if (r->type != REDIS_REPLY_INTEGER) {
        hw_conn_explain(&h->producer, r, "cannot add the cron entry", err, errlen);
        rc = HWORKER_E_REDIS;
    }
    freeReplyObject(r);
    return rc;
}

hworker_rc hworker_cron_remove(hworker *h, const char *entry, int *removed, char *err, size_t errlen)
{
    HW_ERR_BUF(err, errlen);
    if (entry == NULL || *entry == '\0') return hw_fail(HWORKER_E_INVALID, err, errlen, "no cron entry name given");
    hw_args args = {0};
    int nkeys = hw_cron_args(&args, &h->shard[0]);
    hw_args_add(&args, entry, strlen(entry));
    redisReply *r = hw_producer_script(h, HW_SCRIPT_CRON_RM, nkeys, &args, "cannot remove the cron entry", err, errlen);
    hw_args_free(&args);
    if (r == NULL) return HWORKER_E_REDIS;
    hworker_rc rc = HWORKER_OK;
    if (r->type != REDIS_REPLY_INTEGER) {
        hw_conn_explain(&h->producer, r, "cannot remove the cron entry", err, errlen);
        rc = HWORKER_E_REDIS;
    } else if (removed) {
        *removed = r->integer == 1;
    }
    freeReplyObject(r);
    return rc;
}

/* Reads the table through the producer connection. */
static hworker_rc read_table(hworker *h, hw_cron_table *t, char *err, size_t errlen)
{
    hw_args args = {0};
    int nkeys = hw_cron_args(&args, &h->shard[0]);
    redisReply *r =
        hw_producer_script(h, HW_SCRIPT_CRON_READ, nkeys, &args, "cannot read the cron entries", err, errlen);
    hw_args_free(&args);
    if (r == NULL) return HWORKER_E_REDIS;
    int bad = hw_cron_table_parse(t, r, err, errlen);
    freeReplyObject(r);
    return bad ? HWORKER_E_REDIS : HWORKER_OK;
}

hworker_rc hworker_cron_list(hworker *h, hworker_cron_fn fn, void *ud, char *err, size_t errlen)
{
    HW_ERR_BUF(err, errlen);
    hw_cron_table t;
    hworker_rc rc = read_table(h, &t, err, errlen);
    if (rc != HWORKER_OK) return rc;
    for (size_t i = 0; i < t.n; i++) {
        const hw_cron_row *row = &t.rows[i];
        hworker_cron_info info = {.entry = row->name,
                                  .last_at = row->last,
                                  .next_at = -1,
                                  .fired = row->fired,
                                  .missed_count = row->missed,
                                  .held = row->held,
                                  .tz = "UTC",
                                  .schedule = "",
                                  .job = "",
                                  .missed = HWORKER_CRON_ONE};
        if (row->ok) {
            info.schedule = hw_cron_text(&row->def.cron);
            if (row->def.tz_name.len) info.tz = row->def.tz_name.data;
            info.job = row->def.job;
            info.job_len = row->def.job_len;
            info.missed = row->def.missed;
            info.unique = row->def.unique;
            long long after = row->last > t.now ? row->last : t.now;
            info.next_at = hw_cron_next(&row->def.cron, row->def.tz, after);
        } else {
            info.problem = row->problem;
        }
        if (fn(ud, &info)) break;
    }
    hw_cron_table_free(&t);
    return HWORKER_OK;
}

hworker_rc hworker_cron_next(hworker *h, const char *entry, int count, long long *out, int *n, char *err, size_t errlen)
{
    HW_ERR_BUF(err, errlen);
    *n = 0;
    if (count < 1 || count > 1000)
        return hw_fail(HWORKER_E_INVALID, err, errlen, "cron next: the count must be 1 to 1000 (got %d)", count);
    hw_cron_table t;
    hworker_rc rc = read_table(h, &t, err, errlen);
    if (rc != HWORKER_OK) return rc;
    const hw_cron_row *row = entry ? hw_cron_table_find(&t, entry) : NULL;
    if (row == NULL) {
        rc = hw_fail(HWORKER_E_INVALID, err, errlen, "no cron entry '%s' in queue %s (cron ls lists them)",
                     entry ? entry : "", h->name);
    } else if (!row->ok) {
        rc = hw_fail(HWORKER_E_INVALID, err, errlen, "cron entry '%s' cannot run: %s", entry, row->problem);
    } else {
        long long at = t.now;
        while (*n < count && (at = hw_cron_next(&row->def.cron, row->def.tz, at)) >= 0) out[(*n)++] = at;
    }
    hw_cron_table_free(&t);
    return rc;
}
