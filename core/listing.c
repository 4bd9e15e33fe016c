/* Paged listings of each part of a queue (hworker_list). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "internal.h"
#include "json.h"
#include "running_jobs.h"

/* Entries read per round trip while pending is walked up to an offset. */
#define HW_LIST_WALK 1000
/* More than any key holds. */
#define HW_LIST_MAX (LONG_MAX / 4)

typedef struct record_fields {
    long long t;
    hw_buf reason, record;
} record_fields;

static void on_record_field(void *ud, const hw_json_field *f)
{
    record_fields *r = ud;
    if (f->key_len == 1 && f->key[0] == 't' && !f->is_string) {
        char tmp[32];
        size_t n = f->value_len < 31 ? f->value_len : 31;
        memcpy(tmp, f->value, n);
        tmp[n] = '\0';
        r->t = strtoll(tmp, NULL, 10);
    } else if (f->key_len == 6 && memcmp(f->key, "reason", 6) == 0 && f->is_string) {
        hw_json_unescape(&r->reason, f->value, f->value_len);
    } else if (f->key_len == 3 && memcmp(f->key, "rec", 3) == 0 && f->is_string) {
        hw_json_unescape(&r->record, f->value, f->value_len);
    }
}

/* Fills an entry from one stored element and calls fn. */
static int emit(hworker_part part, const char *raw, size_t raw_len, long long score, const hw_running_set *running,
                hworker_entry_fn fn, void *ud)
{
    hworker_entry e;
    memset(&e, 0, sizeof e);
    e.raw = raw;
    e.raw_len = raw_len;
    e.attempt = e.recoveries = -1;
    e.enqueued_at = e.time = e.started_at = -1;
    const char *payload = raw;
    size_t payload_len = raw_len;
    record_fields rec = {-1, {0}, {0}};
    hw_buf holder = {0};
    if (part == HWORKER_FAILED || part == HWORKER_BROKEN) {
        const char *nl = memchr(raw, '\n', raw_len);
        if (nl && hw_json_flat_object(raw, (size_t)(nl - raw), on_record_field, &rec) == 0) {
            payload = nl + 1;
            payload_len = raw_len - (size_t)(nl + 1 - raw);
            e.time = rec.t;
            e.reason = rec.reason.data ? rec.reason.data : "";
            e.record = rec.record.data;
        }
    } else if (part == HWORKER_INFLIGHT) {
        const char *bar1 = memchr(raw, '|', raw_len);
        const char *bar2 = bar1 ? memchr(bar1 + 1, '|', raw_len - (size_t)(bar1 + 1 - raw)) : NULL;
        if (bar2) {
            hw_buf_add(&holder, bar1 + 1, (size_t)(bar2 - bar1 - 1));
            e.holder = holder.data;
            payload = bar2 + 1;
            payload_len = raw_len - (size_t)(payload - raw);
        }
        e.time = score;
        e.started_at = hw_running_started(running, raw, raw_len);
    } else if (part == HWORKER_SCHEDULED) {
        e.time = score;
    }
    hw_envelope env = {0};
    hw_envelope_parse(&env, payload, payload_len);
    if (env.broken == NULL) {
        e.id = env.id.data ? env.id.data : "";
        e.job = env.job;
        e.job_len = env.job_len;
        e.attempt = env.attempt;
        e.recoveries = env.recoveries;
        e.enqueued_at = env.enqueued_at;
    }
    if (part == HWORKER_BROKEN || env.broken) {
        e.job = payload;
        e.job_len = payload_len;
    }
    int stop = fn(ud, &e);
    hw_envelope_free(&env);
    hw_buf_free(&rec.reason);
    hw_buf_free(&rec.record);
    hw_buf_free(&holder);
    return stop;
}

/* One listing under way: where it is in the offset and the limit. */
typedef struct lister {
    hworker *h;
    hworker_part part;
    long offset, limit;
    hw_running_set running;
    hworker_entry_fn fn;
    void *ud;
    int stop; /* the callback asked to stop */
    char *err;
    size_t errlen;
} lister;

/* One command on the key argv[1]; a reply not of `type` fails, naming it. */
static redisReply *ask(lister *l, int argc, const char **argv, int type)
{
    redisReply *r = hw_producer_command(l->h, argc, argv, NULL, "cannot list the queue", l->err, l->errlen);
    if (r == NULL || r->type == type) return r;
    char what[512];
    snprintf(what, sizeof what, "cannot list the queue: %s %s", argv[0], argv[1]);
    hw_conn_explain(&l->h->producer, r, what, l->err, l->errlen);
    freeReplyObject(r);
    return NULL;
}

/* Lists one key from the offset, newest first. `skip` says the offset may
 * pass this key whole: its size is asked first, and a key the offset passes
 * is only counted off. A sorted set's `scored` members have a time. */
static hworker_rc list_key(lister *l, const char *key, int zset, int scored, int skip)
{
    if (skip && l->offset > 0) {
        const char *argv[2] = {zset ? "ZCARD" : "LLEN", key};
        redisReply *r = ask(l, 2, argv, REDIS_REPLY_INTEGER);
        if (r == NULL) return HWORKER_E_REDIS;
        long long size = r->integer;
        freeReplyObject(r);
        if (l->offset >= size) {
            l->offset -= (long)size;
            return HWORKER_OK;
        }
    }
    char from[32], to[32];
    snprintf(from, sizeof from, "%ld", l->offset);
    snprintf(to, sizeof to, "%ld", l->offset + l->limit - 1);
    const char *argv[5] = {zset ? "ZREVRANGE" : "LRANGE", key, from, to, "WITHSCORES"};
    redisReply *r = ask(l, zset ? 5 : 4, argv, REDIS_REPLY_ARRAY);
    if (r == NULL) return HWORKER_E_REDIS;
    size_t step = zset ? 2 : 1;
    for (size_t i = 0; i + step - 1 < r->elements && !l->stop && l->limit > 0; i += step) {
        redisReply *el = r->element[i];
        if (el->type != REDIS_REPLY_STRING) continue;
        long long score = scored ? strtoll(r->element[i + 1]->str, NULL, 10) : -1;
        l->stop = emit(l->part, el->str, el->len, score, &l->running, l->fn, l->ud);
        l->limit--;
    }
    freeReplyObject(r);
    l->offset = 0;
    return HWORKER_OK;
}

/* A doorbell (a lone NUL byte: scripts/lib/priority.lua) or a group's
 * turn ("\1<group>": scripts/lib/groups.lua) in pending is no job. */
static int is_marker(const redisReply *el)
{
    return el->type != REDIS_REPLY_STRING || (el->len == 1 && el->str[0] == '\0') ||
        (el->len >= 1 && el->str[0] == '\1');
}

/* How many markers shard k's pending holds: its groups' turns (the groups
 * hash's count) and a doorbell at its front; -1 when that cannot be told. */
static long long markers(lister *l, int k)
{
    const hw_keys *keys = &l->h->shard[k];
    const char *turns[3] = {"HGET", keys->key[HW_KEY_GROUPS], "tokens"};
    const char *front[3] = {"LINDEX", keys->key[HW_KEY_PENDING], "-1"};
    char ignored[256];
    redisReply *t = hw_producer_command(l->h, 3, turns, NULL, "", ignored, sizeof ignored);
    redisReply *f = t ? hw_producer_command(l->h, 3, front, NULL, "", ignored, sizeof ignored) : NULL;
    long long n = -1;
    if (t && f && (t->type == REDIS_REPLY_NIL || t->type == REDIS_REPLY_STRING) &&
        (f->type == REDIS_REPLY_NIL || f->type == REDIS_REPLY_STRING)) {
        char *end = NULL;
        n = t->type == REDIS_REPLY_NIL ? 0 : strtoll(t->str, &end, 10);
        if (t->type == REDIS_REPLY_STRING && (end == t->str || *end != '\0' || n < 0)) n = -1;
        else if (f->type == REDIS_REPLY_STRING && f->len == 1 && f->str[0] == '\0') n++;
    }
    if (t) freeReplyObject(t);
    if (f) freeReplyObject(f);
    return n;
}

/* Shard k's pending list, where the offset and the limit count jobs, not
 * markers. Without markers a job's place is its index, so the offset skips
 * straight to it; with some, the list is read from its front in pages,
 * counting jobs, up to the offset. A page is filled past the markers in
 * it, so the next page (offset + limit) starts at the next job. */
static hworker_rc list_pending(lister *l, int k)
{
    const char *key = l->h->shard[k].key[HW_KEY_PENDING];
    long long at = 0;
    if (l->offset > 0 && markers(l, k) == 0) {
        const char *argv[2] = {"LLEN", key};
        redisReply *r = ask(l, 2, argv, REDIS_REPLY_INTEGER);
        if (r == NULL) return HWORKER_E_REDIS;
        long long size = r->integer;
        freeReplyObject(r);
        at = l->offset < size ? l->offset : size;
        l->offset -= (long)at;
        if (l->offset > 0) return HWORKER_OK;
    }
    while (l->limit > 0 && !l->stop) {
        long long want = l->offset > HW_LIST_WALK ? HW_LIST_WALK : l->offset + l->limit;
        char from[32], to[32];
        snprintf(from, sizeof from, "%lld", at);
        snprintf(to, sizeof to, "%lld", at + want - 1);
        const char *argv[4] = {"LRANGE", key, from, to};
        redisReply *r = ask(l, 4, argv, REDIS_REPLY_ARRAY);
        if (r == NULL) return HWORKER_E_REDIS;
        for (size_t i = 0; i < r->elements && !l->stop && l->limit > 0; i++) {
            redisReply *el = r->element[i];
            if (is_marker(el)) continue;
            if (l->offset > 0) {
                l->offset--;
                continue;
            }
            l->stop = emit(l->part, el->str, el->len, -1, &l->running, l->fn, l->ud);
            l->limit--;
        }
        size_t got = r->elements;
        freeReplyObject(r);
        if ((long long)got < want) break;
        at += want;
    }
    return HWORKER_OK;
}

/* Orders group names as memcmp does, a shorter prefix first. */
static int by_name(const void *a, const void *b)
{
    const hw_buf *x = a, *y = b;
    int c = memcmp(x->data, y->data, x->len < y->len ? x->len : y->len);
    return c != 0 ? c : (x->len > y->len) - (x->len < y->len);
}

/* The names of shard k's groups with jobs waiting into *names (sorted, each
 * once; the caller frees them): a field "s:<group>" of the groups hash
 * names one (scripts/lib/groups.lua). HSCAN may give a field twice, and
 * in another order from one listing to the next, so the names are read
 * whole and sorted, and pages agree. */
static hworker_rc group_names(lister *l, int k, hw_buf **names, size_t *n)
{
    const char *groups = l->h->shard[k].key[HW_KEY_GROUPS];
    char cursor[32] = "0";
    size_t cap = 0;
    *names = NULL;
    *n = 0;
    do {
        const char *argv[7] = {"HSCAN", groups, cursor, "MATCH", "s:*", "COUNT", "1000"};
        redisReply *r = ask(l, 7, argv, REDIS_REPLY_ARRAY);
        if (r == NULL) return HWORKER_E_REDIS;
        if (r->elements != 2 || r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_ARRAY) {
            freeReplyObject(r);
            return hw_fail(HWORKER_E_REDIS, l->err, l->errlen, "cannot list the queue: HSCAN %s: unexpected reply",
                           groups);
        }
        snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
        const redisReply *fields = r->element[1];
        for (size_t i = 0; i + 1 < fields->elements; i += 2) {
            const redisReply *f = fields->element[i];
            /* A name with a NUL byte names no group (enqueue allows
             * printable ASCII), and would be cut short as an argument. */
            if (f->type != REDIS_REPLY_STRING || f->len < 3 || memchr(f->str, '\0', f->len)) continue;
            if (*n == cap) {
                cap = cap ? cap * 2 : 64;
                *names = realloc(*names, sizeof **names * cap);
                if (*names == NULL) abort();
            }
            hw_buf *name = &(*names)[(*n)++];
            memset(name, 0, sizeof *name);
            hw_buf_add(name, f->str + 2, f->len - 2);
        }
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
    if (*n > 1) qsort(*names, *n, sizeof **names, by_name);
    return HWORKER_OK;
}

/* The jobs waiting in shard k's groups' lists ("hw:{q}:g:<group>"), group
 * by group in the order of their names. */
static hworker_rc list_groups(lister *l, int k)
{
    hw_buf *names = NULL;
    size_t n = 0;
    hworker_rc rc = group_names(l, k, &names, &n);
    const char *groups = l->h->shard[k].key[HW_KEY_GROUPS];
    hw_buf key = {0};
    for (size_t i = 0; i < n && rc == HWORKER_OK && !l->stop && l->limit > 0; i++) {
        if (i > 0 && by_name(&names[i - 1], &names[i]) == 0) continue;
        key.len = 0;
        hw_buf_add(&key, groups, strlen(groups) - strlen("groups"));
        hw_buf_adds(&key, "g:");
        hw_buf_add(&key, names[i].data, names[i].len);
        rc = list_key(l, key.data, 0, 0, 1);
    }
    for (size_t i = 0; i < n; i++) hw_buf_free(&names[i]);
    free(names);
    hw_buf_free(&key);
    return rc;
}

hworker_rc hworker_list(hworker *h, hworker_part part, long offset, long limit, hworker_entry_fn fn, void *ud,
                        char *err, size_t errlen)
{
    HW_ERR_BUF(err, errlen);
    static const hw_key part_keys[] = {HW_KEY_PENDING, HW_KEY_INFLIGHT, HW_KEY_SCHEDULED, HW_KEY_FAILED, HW_KEY_BROKEN};
    if (part < HWORKER_PENDING || part > HWORKER_BROKEN) {
        return hw_fail(HWORKER_E_INVALID, err, errlen, "hworker_list: unknown part %d", (int)part);
    }
    /* Held where their sums stay far inside a long long. */
    if (offset > HW_LIST_MAX) offset = HW_LIST_MAX;
    if (limit > HW_LIST_MAX) limit = HW_LIST_MAX;
    lister l = {h, part, offset < 0 ? 0 : offset, limit <= 0 ? 100 : limit, {0}, fn, ud, 0, err, errlen};
    if (part == HWORKER_INFLIGHT) hw_running_collect(h, &l.running);
    /* Shard by shard (a sharded queue's listing is newest first per shard);
     * within a shard, pending's jobs, then those with a priority (claimed
     * first), then those in groups' lists: the offset skips whole keys by
     * their sizes, then pages into one. */
    int zset = part == HWORKER_INFLIGHT || part == HWORKER_SCHEDULED;
    int one_key = h->nshards == 1;
    hworker_rc rc = HWORKER_OK;
    for (int k = 0; k < h->nshards && rc == HWORKER_OK && !l.stop && l.limit > 0; k++) {
        if (part != HWORKER_PENDING) {
            rc = list_key(&l, h->shard[k].key[part_keys[part]], zset, zset, !one_key);
            continue;
        }
        rc = list_pending(&l, k);
        if (rc == HWORKER_OK && !l.stop && l.limit > 0) rc = list_key(&l, h->shard[k].key[HW_KEY_URGENT], 1, 0, 1);
        if (rc == HWORKER_OK && !l.stop && l.limit > 0) rc = list_groups(&l, k);
    }
    hw_running_free(&l.running);
    return rc;
}
