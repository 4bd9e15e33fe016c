/* The reading side of timings and history (timings.h): one history.lua
 * call per shard, summed here. */
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "internal.h"
#include "timings.h"

#define MINUTE_MS 60000LL
#define HOUR_MS 3600000LL

static int named(const redisReply *r, const char *name)
{
    return r->len == strlen(name) && memcmp(r->str, name, r->len) == 0;
}

/* Adds a stored hash's fields and values (a reply array) to *e. */
static void add_fields(const redisReply *fields, hworker_history_entry *e)
{
    if (fields->type != REDIS_REPLY_ARRAY) return;
    for (size_t i = 0; i + 1 < fields->elements; i += 2) {
        const redisReply *k = fields->element[i], *v = fields->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) continue;
        long long n = hw_stored_count(v->str, v->len);
        long long *sum = named(k, "processed") ? &e->processed
            : named(k, "succeeded")            ? &e->succeeded
            : named(k, "retried")              ? &e->retried
            : named(k, "failed")               ? &e->failed
            : named(k, "broken")               ? &e->broken
                                               : NULL;
        if (sum) *sum = hw_count_add(*sum, n);
        else hw_timings_read_field(k->str, k->len, v->str, v->len, &e->wait, &e->run);
    }
}

/* Calls history.lua on shard k for `count` buckets of `unit` ("m" or "h").
 * Returns its reply (an array whose first element is Redis's clock), or
 * NULL with err set. */
static redisReply *read_shard(hworker *h, int k, const char *unit, long long count, char *err, size_t errlen)
{
    hw_args args = {0};
    hw_args_adds(&args, h->shard[k].key[HW_KEY_TIMINGS]);
    hw_args_adds(&args, unit);
    hw_args_addll(&args, count);
    const char *what = "cannot read the queue's history";
    redisReply *r = hw_producer_script(h, HW_SCRIPT_HISTORY, 1, &args, what, err, errlen);
    hw_args_free(&args);
    if (r == NULL) return NULL;
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 2 || r->element[0]->type != REDIS_REPLY_STRING) {
        hw_conn_explain(&h->producer, r, what, err, errlen);
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

hworker_rc hworker_get_timings(hworker *h, hworker_timing *wait, hworker_timing *run, char *err, size_t errlen)
{
    HW_ERR_BUF(err, errlen);
    hworker_history_entry all = {0};
    for (int k = 0; k < h->nshards; k++) {
        redisReply *r = read_shard(h, k, "m", 0, err, errlen);
        if (r == NULL) return HWORKER_E_REDIS;
        add_fields(r->element[1], &all);
        freeReplyObject(r);
    }
    if (wait) *wait = all.wait;
    if (run) *run = all.run;
    return HWORKER_OK;
}

hworker_rc hworker_history(hworker *h, long long period_ms, long long since_ms, hworker_history_fn fn, void *ud,
                           char *err, size_t errlen)
{
    HW_ERR_BUF(err, errlen);
    if (fn == NULL) return hw_fail(HWORKER_E_INVALID, err, errlen, "hworker_history: no callback given");
    if (period_ms != MINUTE_MS && period_ms != HOUR_MS)
        return hw_fail(HWORKER_E_INVALID, err, errlen,
                       "history: period_ms is %lld: it must be 60000 (minutes) or 3600000 (hours)", period_ms);
    long long kept = period_ms == MINUTE_MS ? HW_HISTORY_MINUTES : HW_HISTORY_HOURS;
    if (since_ms < 1 || since_ms > kept * period_ms)
        return hw_fail(HWORKER_E_INVALID, err, errlen,
                       "history: since is %lld ms: it must be 1 ms to %lld %s (the history kept at that period)",
                       since_ms, period_ms == MINUTE_MS ? kept / 60 : kept / 24,
                       period_ms == MINUTE_MS ? "hours" : "days");
    const char *unit = period_ms == MINUTE_MS ? "m" : "h";
    /* Every bucket that overlaps the window: the current one and those
     * whose end is within it. */
    long long count = (since_ms + period_ms - 1) / period_ms + 1;
    if (count > kept + 1) count = kept + 1;
    hworker_history_entry *e = calloc((size_t)count, sizeof *e);
    if (e == NULL) abort();
    long long first = -1;
    for (int k = 0; k < h->nshards; k++) {
        redisReply *r = read_shard(h, k, unit, count, err, errlen);
        if (r == NULL) {
            free(e);
            return HWORKER_E_REDIS;
        }
        /* The first shard's clock names the window; a bucket another shard
         * sees as current a moment later falls outside it. */
        if (first < 0) first = strtoll(r->element[0]->str, NULL, 10) / period_ms - count + 1;
        for (size_t i = 2; i + 1 < r->elements; i += 2) {
            const redisReply *index = r->element[i];
            if (index->type != REDIS_REPLY_STRING) continue;
            long long at = strtoll(index->str, NULL, 10) - first;
            if (at >= 0 && at < count) add_fields(r->element[i + 1], &e[at]);
        }
        freeReplyObject(r);
    }
    for (long long i = 0; i < count; i++) {
        e[i].start_ms = (first + i) * period_ms;
        e[i].period_ms = period_ms;
        if (fn(ud, &e[i])) break;
    }
    free(e);
    return HWORKER_OK;
}
