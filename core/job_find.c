#include "job_find.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claims.h"
#include "errors.h"

/* Entries read per round trip. */
#define HW_FIND_PAGE 1000

typedef struct finder {
    hworker *h;
    const char *id;
    size_t id_len;
    hw_found_fn fn;
    void *ud;
    hw_envelope env;
    char *err;
    size_t errlen;
} finder;

/* Whether an envelope (or a claim, "token|holder|envelope") is of job f->id.
 * The header is parsed only when the id's bytes appear in it. */
static int is_match(finder *f, const char *text, size_t len, int claim)
{
    if (claim) {
        for (int bars = 0; bars < 2; bars++) {
            const char *bar = memchr(text, '|', len);
            if (bar == NULL) return 0;
            len -= (size_t)(bar + 1 - text);
            text = bar + 1;
        }
    }
    const char *nl = memchr(text, '\n', len);
    size_t header = nl ? (size_t)(nl - text) : len;
    if (header < f->id_len || memmem(text, header, f->id, f->id_len) == NULL) return 0;
    hw_envelope_parse(&f->env, text, len);
    return f->env.id.data != NULL && f->env.id.len == f->id_len && memcmp(f->env.id.data, f->id, f->id_len) == 0;
}

static redisReply *command(finder *f, int argc, const char **argv)
{
    redisReply *r = hw_producer_command(f->h, argc, argv, NULL, "cannot look for the job", f->err, f->errlen);
    if (r == NULL) return NULL;
    if (r->type == REDIS_REPLY_ARRAY) return r;
    hw_conn_explain(&f->h->producer, r, "cannot look for the job", f->err, f->errlen);
    freeReplyObject(r);
    return NULL;
}

/* Offers one entry to the callback if it matches. Returns 0 go on, 1 stop,
 * -1 error. */
static int offer(finder *f, int shard, hw_found_part part, const char *key, const redisReply *el)
{
    if (el->type != REDIS_REPLY_STRING || !is_match(f, el->str, el->len, part == HW_FOUND_INFLIGHT)) return 0;
    hw_found found = {shard, part, key, el->str, el->len};
    return f->fn(f->ud, &found, f->err, f->errlen);
}

/* A list, in pages from its left end. */
static int scan_list(finder *f, int shard, hw_found_part part, const char *key)
{
    for (long from = 0;; from += HW_FIND_PAGE) {
        char a[32], b[32];
        snprintf(a, sizeof a, "%ld", from);
        snprintf(b, sizeof b, "%ld", from + HW_FIND_PAGE - 1);
        const char *argv[4] = {"LRANGE", key, a, b};
        redisReply *r = command(f, 4, argv);
        if (r == NULL) return -1;
        int rc = 0;
        for (size_t i = 0; i < r->elements && rc == 0; i++) rc = offer(f, shard, part, key, r->element[i]);
        size_t got = r->elements;
        freeReplyObject(r);
        if (rc != 0 || got < HW_FIND_PAGE) return rc;
    }
}

/* A sorted set or a hash, by ZSCAN or HSCAN: `each` gets every member (a
 * sorted set's) or every field (a hash's, MATCH `pattern`). */
static int scan_set(finder *f, const char *cmd, const char *key, const char *pattern,
                    int (*each)(finder *, int, const char *, const redisReply *), int shard)
{
    char cursor[32] = "0";
    do {
        const char *argv[7] = {cmd, key, cursor, "COUNT", "1000", "MATCH", pattern};
        redisReply *r = command(f, pattern ? 7 : 5, argv);
        if (r == NULL) return -1;
        if (r->elements != 2 || r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_ARRAY) {
            freeReplyObject(r);
            hw_fail(HWORKER_E_REDIS, f->err, f->errlen, "cannot look for the job: %s %s: unexpected reply", cmd, key);
            return -1;
        }
        snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
        const redisReply *items = r->element[1];
        int rc = 0;
        for (size_t i = 0; i + 1 < items->elements && rc == 0; i += 2) rc = each(f, shard, key, items->element[i]);
        freeReplyObject(r);
        if (rc != 0) return rc;
    } while (strcmp(cursor, "0") != 0);
    return 0;
}

static int each_inflight(finder *f, int shard, const char *key, const redisReply *el)
{
    return offer(f, shard, HW_FOUND_INFLIGHT, key, el);
}

static int each_urgent(finder *f, int shard, const char *key, const redisReply *el)
{
    return offer(f, shard, HW_FOUND_URGENT, key, el);
}

static int each_scheduled(finder *f, int shard, const char *key, const redisReply *el)
{
    return offer(f, shard, HW_FOUND_SCHEDULED, key, el);
}

/* A field "s:<group>" of the groups hash names a group with jobs waiting
 * (or a token still out for one): its list is "hw:{q}:g:<group>". */
static int each_group(finder *f, int shard, const char *groups, const redisReply *field)
{
    if (field->type != REDIS_REPLY_STRING || field->len < 3) return 0;
    size_t prefix = strlen(groups) - strlen("groups");
    hw_buf key = {0};
    hw_buf_add(&key, groups, prefix);
    hw_buf_adds(&key, "g:");
    hw_buf_add(&key, field->str + 2, field->len - 2);
    int rc = scan_list(f, shard, HW_FOUND_GROUP, key.data);
    hw_buf_free(&key);
    return rc;
}

int hw_find_job(hworker *h, const char *id, int running, hw_found_fn fn, void *ud, char *err, size_t errlen)
{
    finder f = {h, id, strlen(id), fn, ud, {0}, err, errlen};
    int rc = 0;
    for (int k = 0; k < h->nshards && rc == 0; k++) {
        /* In the order jobs move (scheduled, then waiting, then in
         * flight): a job that moves on after its part was read is met
         * again in the part it went to, read later. */
        char *const *key = h->shard[k].key;
        rc = scan_set(&f, "ZSCAN", key[HW_KEY_SCHEDULED], NULL, each_scheduled, k);
        if (rc == 0) rc = scan_set(&f, "ZSCAN", key[HW_KEY_URGENT], NULL, each_urgent, k);
        if (rc == 0) rc = scan_set(&f, "HSCAN", key[HW_KEY_GROUPS], "s:*", each_group, k);
        if (rc == 0) rc = scan_list(&f, k, HW_FOUND_PENDING, key[HW_KEY_PENDING]);
        if (rc == 0 && running) rc = scan_set(&f, "ZSCAN", key[HW_KEY_INFLIGHT], NULL, each_inflight, k);
    }
    hw_envelope_free(&f.env);
    return rc;
}
