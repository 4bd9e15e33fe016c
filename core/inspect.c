/* Inspection: stats, acting on records, and deleting a queue. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "internal.h"
#include "timings.h"
#include "script_args.h"

static long long counter(const redisReply *pairs, const char *name)
{
    for (size_t i = 0; i + 1 < pairs->elements; i += 2)
        if (strcmp(pairs->element[i]->str, name) == 0) return strtoll(pairs->element[i + 1]->str, NULL, 10);
    return 0;
}

/* The lateness samples of every shard read so far. */
typedef struct lateness {
    long long *ms;
    size_t n, cap;
} lateness;

static void lateness_add(lateness *l, const redisReply *list)
{
    for (size_t i = 0; i < list->elements; i++) {
        if (list->element[i]->type != REDIS_REPLY_STRING) continue;
        if (l->n == l->cap) {
            l->cap = l->cap ? l->cap * 2 : 1024;
            l->ms = realloc(l->ms, sizeof *l->ms * l->cap);
            if (l->ms == NULL) abort();
        }
        l->ms[l->n++] = strtoll(list->element[i]->str, NULL, 10);
    }
}

static int by_value(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentiles of the samples into out, which owns none. */
static void lateness_figures(lateness *l, hworker_stats *out)
{
    out->lateness_samples = (long long)l->n;
    out->lateness_p50_ms = out->lateness_p99_ms = out->lateness_max_ms = -1;
    if (l->n > 0) {
        qsort(l->ms, l->n, sizeof *l->ms, by_value);
        out->lateness_p50_ms = l->ms[(l->n * 50 + 99) / 100 - 1];
        out->lateness_p99_ms = l->ms[(l->n * 99 + 99) / 100 - 1];
        out->lateness_max_ms = l->ms[l->n - 1];
    }
    free(l->ms);
    l->ms = NULL;
    l->n = l->cap = 0;
}

/* A flow setting (HMGET reply element): 0 when unset or not a number. */
static long long flow_value(const redisReply *v)
{
    if (v->type != REDIS_REPLY_STRING) return 0;
    char *end;
    long long n = strtoll(v->str, &end, 10);
    return *end == '\0' && n > 0 ? n : 0;
}

/* Each shard holds the queue-wide settings; one shard paused (a pause
 * half-way through its shards) shows the queue paused. */
static void add_flow(const redisReply *f, hworker_stats *out)
{
    const redisReply *paused = f->element[0];
    if (paused->type == REDIS_REPLY_STRING && strcmp(paused->str, "0") != 0) out->paused = 1;
    long long *fields[] = {&out->concurrency, &out->rate, &out->rate_period_ms, &out->burst, &out->events_cap};
    for (size_t i = 0; i < 5; i++) {
        long long v = flow_value(f->element[i + 1]);
        if (v > *fields[i]) *fields[i] = v;
    }
}

/* Adds one shard's sizes and counters to out, and its lateness samples to late. */
static hworker_rc add_shard_stats(hworker *h, int k, hworker_stats *out, lateness *late, char *err, size_t errlen)
{
    hw_args args = {0};
    int nkeys = hw_stats_args(&args, &h->shard[k]);
    redisReply *r = hw_producer_script(h, HW_SCRIPT_STATS, nkeys, &args, "cannot read stats", err, errlen);
    hw_args_free(&args);
    if (r == NULL) return HWORKER_E_REDIS;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 10 || r->element[6]->type != REDIS_REPLY_ARRAY ||
        r->element[7]->type != REDIS_REPLY_ARRAY || r->element[7]->elements != 6 ||
        r->element[8]->type != REDIS_REPLY_ARRAY || r->element[8]->elements != 4) {
        hw_conn_explain(&h->producer, r, "cannot read stats", err, errlen);
        freeReplyObject(r);
        return HWORKER_E_REDIS;
    }
    out->pending += r->element[0]->integer;
    out->inflight += r->element[1]->integer;
    out->scheduled += r->element[2]->integer;
    out->failed += r->element[3]->integer;
    out->broken += r->element[4]->integer;
    const redisReply *c = r->element[5];
    out->enqueued += counter(c, "enqueued");
    out->processed += counter(c, "processed");
    out->succeeded += counter(c, "succeeded");
    out->retried += counter(c, "retried");
    out->failed_total += counter(c, "failed");
    out->broken_total += counter(c, "broken");
    out->recovered += counter(c, "recovered");
    out->lease_lost += counter(c, "lease_lost");
    out->handed_back += counter(c, "handed_back");
    out->promoted += counter(c, "promoted");
    out->requeued += counter(c, "requeued");
    out->scheduled_total += counter(c, "scheduled");
    out->exhausted += counter(c, "exhausted");
    out->merged += counter(c, "merged");
    out->cancelled += counter(c, "cancelled");
    out->deleted += counter(c, "deleted");
    lateness_add(late, r->element[6]);
    add_flow(r->element[7], out);
    long long *group[] = {&out->group_concurrency, &out->group_rate, &out->group_rate_period_ms, &out->group_burst};
    for (size_t i = 0; i < 4; i++) {
        long long v = flow_value(r->element[8]->element[i]);
        if (v > *group[i]) *group[i] = v;
    }
    long long latency = flow_value(r->element[9]);
    if (latency > out->latency_ms) out->latency_ms = latency;
    freeReplyObject(r);
    return 0;
}

int hworker_shards(const hworker *h) { return h->nshards; }

/* The caller's struct may be shorter (an older header) than this one: the
 * stats are gathered whole, and as much as it holds is copied out. */
static void copy_stats(const hworker_stats *all, hworker_stats *out, size_t size)
{
    memcpy(out, all, size < sizeof *all ? size : sizeof *all);
}

hworker_rc hworker_get_shard_stats_size(hworker *h, int shard, hworker_stats *out, size_t size, char *err,
                                        size_t errlen)
{
    HW_ERR_BUF(err, errlen);
    if (shard < 0 || shard >= h->nshards) {
        return hw_fail(HWORKER_E_INVALID, err, errlen,
                       "hworker_get_shard_stats: shard %d does not exist (the queue has %d)", shard, h->nshards);
    }
    hworker_stats all = {0};
    lateness late = {0};
    hworker_rc rc = add_shard_stats(h, shard, &all, &late, err, errlen);
    lateness_figures(&late, &all);
    if (rc == HWORKER_OK) copy_stats(&all, out, size);
    return rc;
}

hworker_rc hworker_get_stats_size(hworker *h, hworker_stats *out, size_t size, char *err, size_t errlen)
{
    HW_ERR_BUF(err, errlen);
    hworker_stats all = {0};
    lateness late = {0};
    /* Each shard is read atomically; the sum is not one instant's. */
    for (int k = 0; k < h->nshards; k++) {
        hworker_rc rc = add_shard_stats(h, k, &all, &late, err, errlen);
        if (rc != HWORKER_OK) {
            lateness_figures(&late, &all);
            return rc;
        }
    }
    lateness_figures(&late, &all);
    copy_stats(&all, out, size);
    return HWORKER_OK;
}

/* Runs a script of one key that deletes what hangs off that key (the
 * groups' lists, the history's buckets) and returns a count. */
static hworker_rc drop_with(hworker *h, hw_script script, hw_args *args, char *err, size_t errlen)
{
    redisReply *r = hw_producer_script(h, script, 1, args, "cannot destroy the queue", err, errlen);
    if (r == NULL) return HWORKER_E_REDIS;
    hworker_rc rc = r->type == REDIS_REPLY_INTEGER ? HWORKER_OK : HWORKER_E_REDIS;
    if (rc) hw_conn_explain(&h->producer, r, "cannot destroy the queue", err, errlen);
    freeReplyObject(r);
    return rc;
}

hworker_rc hworker_delete_queue(hworker *h, char *err, size_t errlen)
{
    HW_ERR_BUF(err, errlen);
    /* One DEL per shard: a shard's keys share a slot, shards do not. The
     * groups' lists go first: the groups hash names them. */
    for (int k = 0; k < h->nshards; k++) {
        hw_args groups = {0}, history = {0};
        hw_args_adds(&groups, h->shard[k].key[HW_KEY_GROUPS]);
        hw_args_adds(&history, h->shard[k].key[HW_KEY_TIMINGS]);
        hw_args_addll(&history, HW_HISTORY_MINUTES);
        hw_args_addll(&history, HW_HISTORY_HOURS);
        hworker_rc grc = drop_with(h, HW_SCRIPT_DROP_GROUPS, &groups, err, errlen);
        if (grc == HWORKER_OK) grc = drop_with(h, HW_SCRIPT_DROP_HISTORY, &history, err, errlen);
        hw_args_free(&groups);
        hw_args_free(&history);
        if (grc) return grc;
        const char *argv[HW_KEY_COUNT + 1];
        argv[0] = "DEL";
        for (int i = 0; i < HW_KEY_COUNT; i++) argv[i + 1] = h->shard[k].key[i];
        redisReply *r = hw_producer_command(h, HW_KEY_COUNT + 1, argv, NULL, "cannot destroy the queue", err, errlen);
        if (r == NULL) return HWORKER_E_REDIS;
        hworker_rc rc = r->type == REDIS_REPLY_INTEGER ? HWORKER_OK : HWORKER_E_REDIS;
        if (rc) hw_conn_explain(&h->producer, r, "cannot destroy the queue", err, errlen);
        freeReplyObject(r);
        if (rc) return rc;
    }
    /* Then the shard count (a queue made again may have another) and the
     * process registry: keys of no shard. */
    char *key = hw_keys_shards(h->name), *procs = hw_keys_procs(h->name, "procs"),
         *beats = hw_keys_procs(h->name, "beats");
    const char *argv[4] = {"DEL", key, procs, beats};
    redisReply *r = hw_producer_command(h, 4, argv, NULL, "cannot destroy the queue", err, errlen);
    free(key);
    free(procs);
    free(beats);
    if (r == NULL) return HWORKER_E_REDIS;
    hworker_rc rc = r->type == REDIS_REPLY_INTEGER ? HWORKER_OK : HWORKER_E_REDIS;
    if (rc) hw_conn_explain(&h->producer, r, "cannot destroy the queue", err, errlen);
    freeReplyObject(r);
    atomic_store(&h->shards_checked, 0);
    if (rc == HWORKER_OK) rc = hw_queue_unlisted(h, err, errlen);
    return rc;
}

/* Requeue or forget records of failed or broken. */
static hworker_rc act_on_records(hworker *h, hw_script script, hworker_part part, int all, const char *const *ids,
                                 size_t n, long *count, const char *what, char *err, size_t errlen)
{
    HW_ERR_BUF(err, errlen);
    if (part != HWORKER_FAILED && part != HWORKER_BROKEN) {
        return hw_fail(HWORKER_E_INVALID, err, errlen, "%s: only failed and broken records can be acted on", what);
    }
    if (!all && n == 0) {
        return hw_fail(HWORKER_E_INVALID, err, errlen, "%s: name at least one id, or ask for all", what);
    }
    if (count) *count = 0;
    for (int k = 0; k < h->nshards; k++) {
        hw_args args = {0};
        int nkeys = hw_records_args(&args, &h->shard[k], part == HWORKER_FAILED ? HW_KEY_FAILED : HW_KEY_BROKEN,
                                    script == HW_SCRIPT_REQUEUE);
        hw_args_adds(&args, all ? "all" : "ids");
        for (size_t i = 0; !all && i < n; i++) hw_args_adds(&args, ids[i]);
        redisReply *r = hw_producer_script(h, script, nkeys, &args, what, err, errlen);
        hw_args_free(&args);
        if (r == NULL) return HWORKER_E_REDIS;
        hworker_rc rc = r->type == REDIS_REPLY_INTEGER ? HWORKER_OK : HWORKER_E_REDIS;
        if (rc) hw_conn_explain(&h->producer, r, what, err, errlen);
        else if (count) *count += (long)r->integer;
        freeReplyObject(r);
        if (rc) return rc;
    }
    return 0;
}

hworker_rc hworker_requeue(hworker *h, hworker_part part, int all, const char *const *ids, size_t n, long *count,
                           char *err, size_t errlen)
{
    return act_on_records(h, HW_SCRIPT_REQUEUE, part, all, ids, n, count, "cannot requeue", err, errlen);
}

hworker_rc hworker_delete(hworker *h, hworker_part part, int all, const char *const *ids, size_t n, long *count,
                          char *err, size_t errlen)
{
    return act_on_records(h, HW_SCRIPT_FORGET, part, all, ids, n, count, "cannot delete", err, errlen);
}
