/* Events: hworker_set_events turns each shard's stream on or off (its flow
 * hash's "events" field, scripts/events_set.lua), and hworker_events reads
 * the streams (scripts/lib/events.lua says what the scripts write). A
 * cursor holds one stream position per shard, "<ms>-<n>" joined by commas;
 * events of several shards are merged by their Redis time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "internal.h"

#define HW_EVENTS_CAP_MAX 1000000000LL
/* While waiting on a sharded queue, each shard is waited on this long in turn. */
#define HW_EVENTS_SLICE 0.1

hworker_rc hworker_set_events(hworker *h, long long cap, char *err, size_t errlen)
{
    HW_ERR_BUF(err, errlen);
    if (cap < 0 || cap > HW_EVENTS_CAP_MAX)
        return hw_fail(HWORKER_E_INVALID, err, errlen,
                       "hworker_set_events: the cap must be 0 (off) or 1 to 1000000000 events, not %lld", cap);
    for (int k = 0; k < h->nshards; k++) {
        hw_args args = {0};
        hw_args_adds(&args, h->shard[k].key[HW_KEY_FLOW]);
        hw_args_addll(&args, cap);
        redisReply *r = hw_producer_script(h, HW_SCRIPT_EVENTS_SET, 1, &args, "cannot set events", err, errlen);
        hw_args_free(&args);
        if (r == NULL) return HWORKER_E_REDIS;
        hworker_rc rc = r->type == REDIS_REPLY_INTEGER ? HWORKER_OK : HWORKER_E_REDIS;
        if (rc) hw_conn_explain(&h->producer, r, "cannot set events", err, errlen);
        freeReplyObject(r);
        if (rc) return rc;
    }
    return HWORKER_OK;
}

/* A position in a stream. */
typedef struct pos {
    unsigned long long ms, seq;
} pos;

static int parse_pos(const char *s, size_t n, pos *p)
{
    char text[48];
    if (n == 0 || n >= sizeof text) return -1;
    memcpy(text, s, n);
    text[n] = '\0';
    char *end;
    if (text[0] < '0' || text[0] > '9') return -1;
    p->ms = strtoull(text, &end, 10);
    if (*end != '-' || end[1] < '0' || end[1] > '9') return -1;
    p->seq = strtoull(end + 1, &end, 10);
    return *end == '\0' ? 0 : -1;
}

static int pos_cmp(const pos *a, const pos *b)
{
    if (a->ms != b->ms) return a->ms < b->ms ? -1 : 1;
    if (a->seq != b->seq) return a->seq < b->seq ? -1 : 1;
    return 0;
}

/* One read entry: where it is, and its reply (owned by the read's reply). */
typedef struct entry {
    pos at;
    int shard;
    const redisReply *item; /* [id, [field, value, ...]] */
} entry;

typedef struct reader {
    hworker *h;
    pos *after; /* per shard */
    entry *entries;
    size_t n, cap;
    redisReply **replies; /* kept until the entries are given out */
    size_t nreplies, replies_cap;
    char *err;
    size_t errlen;
} reader;

static redisReply *command(reader *rd, int argc, const char **argv)
{
    hworker *h = rd->h;
    redisReply *r = NULL;
    for (int attempt = 0; attempt < 2 && r == NULL; attempt++)
        if (hw_conn_ensure(&h->events, NULL) == 0) r = hw_conn_command(&h->events, argc, argv, NULL);
    if (r == NULL) hw_conn_explain(&h->events, NULL, "cannot read events", rd->err, rd->errlen);
    else if (r->type == REDIS_REPLY_ERROR) {
        hw_conn_explain(&h->events, r, "cannot read events", rd->err, rd->errlen);
        freeReplyObject(r);
        r = NULL;
    }
    return r;
}

static void keep(reader *rd, redisReply *r)
{
    if (rd->nreplies == rd->replies_cap) {
        rd->replies_cap = rd->replies_cap ? rd->replies_cap * 2 : 8;
        rd->replies = realloc(rd->replies, sizeof *rd->replies * rd->replies_cap);
        if (rd->replies == NULL) abort();
    }
    rd->replies[rd->nreplies++] = r;
}

/* Adds the entries of an XREAD reply ([[key, [item, ...]]], or nil). */
static void collect(reader *rd, int shard, redisReply *r)
{
    keep(rd, r);
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 1) return;
    const redisReply *stream = r->element[0];
    if (stream->type != REDIS_REPLY_ARRAY || stream->elements != 2 || stream->element[1]->type != REDIS_REPLY_ARRAY)
        return;
    const redisReply *items = stream->element[1];
    for (size_t i = 0; i < items->elements; i++) {
        const redisReply *item = items->element[i];
        if (item->type != REDIS_REPLY_ARRAY || item->elements != 2 || item->element[0]->type != REDIS_REPLY_STRING)
            continue;
        entry e = {{0, 0}, shard, item};
        if (parse_pos(item->element[0]->str, item->element[0]->len, &e.at) != 0) continue;
        if (rd->n == rd->cap) {
            rd->cap = rd->cap ? rd->cap * 2 : 64;
            rd->entries = realloc(rd->entries, sizeof *rd->entries * rd->cap);
            if (rd->entries == NULL) abort();
        }
        rd->entries[rd->n++] = e;
    }
}

/* XREAD of one shard after its position; block_ms < 0: no wait. */
static int read_shard(reader *rd, int shard, long count, long long block_ms)
{
    char n[24], ms[24], after[48];
    snprintf(n, sizeof n, "%ld", count);
    snprintf(ms, sizeof ms, "%lld", block_ms);
    snprintf(after, sizeof after, "%llu-%llu", rd->after[shard].ms, rd->after[shard].seq);
    const char *argv[8] = {"XREAD", "COUNT", n};
    int argc = 3;
    if (block_ms >= 0) {
        argv[argc++] = "BLOCK";
        argv[argc++] = ms;
    }
    argv[argc++] = "STREAMS";
    argv[argc++] = rd->h->shard[shard].key[HW_KEY_EVENTS];
    argv[argc++] = after;
    redisReply *r = command(rd, argc, argv);
    if (r == NULL) return -1;
    collect(rd, shard, r);
    return 0;
}

/* "$": each shard's last entry, or the start of an empty stream. */
static int resolve_now(reader *rd)
{
    for (int k = 0; k < rd->h->nshards; k++) {
        const char *argv[6] = {"XREVRANGE", rd->h->shard[k].key[HW_KEY_EVENTS], "+", "-", "COUNT", "1"};
        redisReply *r = command(rd, 6, argv);
        if (r == NULL) return -1;
        rd->after[k] = (pos){0, 0};
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 && r->element[0]->type == REDIS_REPLY_ARRAY &&
            r->element[0]->elements == 2 && r->element[0]->element[0]->type == REDIS_REPLY_STRING)
            parse_pos(r->element[0]->element[0]->str, r->element[0]->element[0]->len, &rd->after[k]);
        freeReplyObject(r);
    }
    return 0;
}

static int parse_cursor(reader *rd, const char *cursor)
{
    int nshards = rd->h->nshards;
    const char *p = cursor;
    for (int k = 0; k < nshards; k++) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (parse_pos(p, len, &rd->after[k]) != 0) return -1;
        if ((end == NULL) != (k == nshards - 1)) return -1;
        p = end ? end + 1 : p + len;
    }
    return 0;
}

static int by_time(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    int c = pos_cmp(&x->at, &y->at);
    return c ? c : (x->shard > y->shard) - (x->shard < y->shard);
}

static long long field_number(const char *s)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    return end != s && *end == '\0' ? v : -1;
}

/* Gives one entry to fn; returns fn's answer. */
static int give(const entry *e, hworker_event_fn fn, void *ud)
{
    const redisReply *fields = e->item->element[1];
    hworker_event ev = {e->item->element[0]->str, (long long)e->at.ms, e->shard, "", "", -1, NULL, NULL, -1, -1};
    for (size_t i = 0; fields->type == REDIS_REPLY_ARRAY && i + 1 < fields->elements; i += 2) {
        const redisReply *f = fields->element[i], *v = fields->element[i + 1];
        if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) continue;
        if (strcmp(f->str, "event") == 0) ev.event = v->str;
        else if (strcmp(f->str, "id") == 0) ev.job_id = v->str;
        else if (strcmp(f->str, "attempt") == 0) ev.attempt = (long)field_number(v->str);
        else if (strcmp(f->str, "worker") == 0) ev.worker = v->str;
        else if (strcmp(f->str, "reason") == 0) ev.reason = v->str;
        else if (strcmp(f->str, "delay_ms") == 0) ev.delay_ms = field_number(v->str);
        else if (strcmp(f->str, "due") == 0) ev.due_ms = field_number(v->str);
    }
    return fn(ud, &ev);
}

/* Reads into rd: one pass without waiting, then, if it found nothing, a
 * wait of up to `block` seconds. */
static int read_events(reader *rd, long count, double block)
{
    int nshards = rd->h->nshards;
    for (int k = 0; k < nshards; k++)
        if (read_shard(rd, k, count, -1) != 0) return -1;
    if (rd->n > 0 || block <= 0) return 0;
    if (block > HW_EVENTS_BLOCK_MAX) block = HW_EVENTS_BLOCK_MAX;
    if (nshards == 1) return read_shard(rd, 0, count, (long long)(block * 1000.0) + 1);
    double deadline = hw_monotonic() + block;
    for (int k = 0; rd->n == 0; k = (k + 1) % nshards) {
        double left = deadline - hw_monotonic();
        if (left <= 0) break;
        if (left > HW_EVENTS_SLICE) left = HW_EVENTS_SLICE;
        if (read_shard(rd, k, count, (long long)(left * 1000.0) + 1) != 0) return -1;
    }
    return 0;
}

hworker_rc hworker_events(hworker *h, char *cursor, size_t cursor_size, long count, double block, hworker_event_fn fn,
                          void *ud, char *err, size_t errlen)
{
    HW_ERR_BUF(err, errlen);
    if (cursor == NULL || cursor_size < HWORKER_EVENTS_CURSOR_SIZE(h->nshards))
        return hw_fail(HWORKER_E_INVALID, err, errlen,
                       "hworker_events: the cursor needs a buffer of HWORKER_EVENTS_CURSOR_SIZE(%d) = %zu bytes",
                       h->nshards, HWORKER_EVENTS_CURSOR_SIZE(h->nshards));
    if (count <= 0) count = 100;
    reader rd = {.h = h, .err = err, .errlen = errlen};
    rd.after = calloc((size_t)h->nshards, sizeof *rd.after);
    if (rd.after == NULL) abort();
    hworker_rc rc = HWORKER_OK;
    pthread_mutex_lock(&h->events_lock);
    if (strcmp(cursor, "$") == 0) {
        if (resolve_now(&rd) != 0) rc = HWORKER_E_REDIS;
    } else if (cursor[0] != '\0' && parse_cursor(&rd, cursor) != 0) {
        rc = hw_fail(HWORKER_E_INVALID, err, errlen,
                     "hworker_events: the cursor \"%.60s\" is not one this queue's reads return (%d shard(s)): "
                     "start with \"\" or \"$\"",
                     cursor, h->nshards);
    }
    if (rc == HWORKER_OK && read_events(&rd, count, block) != 0) rc = HWORKER_E_REDIS;
    pthread_mutex_unlock(&h->events_lock);
    if (rc == HWORKER_OK) {
        if (rd.n > 1) qsort(rd.entries, rd.n, sizeof *rd.entries, by_time);
        size_t give_n = rd.n < (size_t)count ? rd.n : (size_t)count;
        for (size_t i = 0; i < give_n; i++) {
            rd.after[rd.entries[i].shard] = rd.entries[i].at;
            if (give(&rd.entries[i], fn, ud)) break;
        }
        size_t len = 0;
        for (int k = 0; k < h->nshards; k++)
            len += (size_t)snprintf(cursor + len, cursor_size - len, "%s%llu-%llu", k ? "," : "", rd.after[k].ms,
                                    rd.after[k].seq);
    }
    for (size_t i = 0; i < rd.nreplies; i++) freeReplyObject(rd.replies[i]);
    free(rd.replies);
    free(rd.entries);
    free(rd.after);
    return rc;
}
