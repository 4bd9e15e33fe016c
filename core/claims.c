#include "claims.h"

#include <stdio.h>
#include <stdlib.h>
#include <limits.h>
#include <string.h>

#include "json.h"

typedef struct header_fields {
    hw_envelope *e;
    int version, has_id;
} header_fields;

static long long to_ll(const hw_json_field *f)
{
    char tmp[32];
    size_t n = f->value_len < sizeof tmp - 1 ? f->value_len : sizeof tmp - 1;
    memcpy(tmp, f->value, n);
    tmp[n] = '\0';
    return strtoll(tmp, NULL, 10);
}

/* A header count as a long from 0 to LONG_MAX - 1, whatever the text says
 * (a hand-written header may hold -5 or 1e300): the worker adds 1 to it. */
static long to_count(const hw_json_field *f)
{
    long long v = to_ll(f);
    if (v < 0) return 0;
    return v >= (long long)LONG_MAX ? LONG_MAX - 1 : (long)v;
}

static void on_field(void *ud, const hw_json_field *f)
{
    header_fields *h = ud;
    if (f->key_len == 1 && f->key[0] == 'v' && !f->is_string) h->version = (int)to_ll(f);
    else if (f->key_len == 2 && memcmp(f->key, "id", 2) == 0 && f->is_string) {
        hw_buf_clear(&h->e->id);
        hw_json_unescape(&h->e->id, f->value, f->value_len);
        h->has_id = h->e->id.len > 0;
    } else if (f->key_len == 2 && memcmp(f->key, "at", 2) == 0 && !f->is_string) h->e->attempt = 1 + to_count(f);
    else if (f->key_len == 2 && memcmp(f->key, "rc", 2) == 0 && !f->is_string) h->e->recoveries = to_count(f);
    else if (f->key_len == 2 && memcmp(f->key, "eq", 2) == 0 && !f->is_string) h->e->enqueued_at = to_ll(f);
}

void hw_envelope_parse(hw_envelope *e, const char *text, size_t len)
{
    e->job = NULL;
    e->job_len = 0;
    e->attempt = 1;
    e->recoveries = 0;
    e->enqueued_at = 0;
    e->broken = NULL;
    hw_buf_clear(&e->id);
    const char *nl = memchr(text, '\n', len);
    if (nl == NULL) {
        e->broken = "not an hworker envelope: no header line (expected <header JSON> newline <job JSON>)";
        return;
    }
    header_fields h = {e, 0, 0};
    if (hw_json_flat_object(text, (size_t)(nl - text), on_field, &h) != 0) {
        e->broken = "not an hworker envelope: the header line is not a JSON object";
        return;
    }
    if (h.version != 1) {
        e->broken = "unsupported envelope: the header's \"v\" must be 1";
        return;
    }
    if (!h.has_id) {
        e->broken = "not an hworker envelope: the header has no string \"id\" (or an empty one)";
        return;
    }
    e->job = nl + 1;
    e->job_len = len - (size_t)(nl + 1 - text);
}

void hw_envelope_free(hw_envelope *e) { hw_buf_free(&e->id); }

hw_claim *hw_claim_new(const char *data, size_t len)
{
    hw_claim *c = calloc(1, sizeof *c);
    if (c == NULL || (c->data = malloc(len + 1)) == NULL) abort();
    memcpy(c->data, data, len);
    c->data[len] = '\0';
    c->len = len;
    atomic_store(&c->lost, 0);
    atomic_store(&c->reporting, 0);
    /* token|holder|envelope */
    const char *bar1 = memchr(c->data, '|', len);
    const char *bar2 = bar1 ? memchr(bar1 + 1, '|', len - (size_t)(bar1 + 1 - c->data)) : NULL;
    c->envelope = bar2 ? bar2 + 1 : c->data;
    c->envelope_len = len - (size_t)(c->envelope - c->data);
    hw_envelope e = {0};
    hw_envelope_parse(&e, c->envelope, c->envelope_len);
    c->job = e.job;
    c->job_len = e.job_len;
    c->attempt = e.attempt;
    c->recoveries = e.recoveries;
    c->enqueued_at = e.enqueued_at;
    c->broken = e.broken;
    snprintf(c->id, sizeof c->id, "%s", e.id.data ? e.id.data : "");
    hw_envelope_free(&e);
    return c;
}

void hw_claim_free(hw_claim *c)
{
    if (c == NULL) return;
    free(c->data);
    free(c);
}

void hw_held_init(hw_held *h)
{
    memset(h, 0, sizeof *h);
    pthread_mutex_init(&h->lock, NULL);
}

void hw_held_destroy(hw_held *h)
{
    free(h->items);
    pthread_mutex_destroy(&h->lock);
}

void hw_held_add(hw_held *h, hw_claim *c)
{
    pthread_mutex_lock(&h->lock);
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 16;
        h->items = realloc(h->items, sizeof *h->items * h->cap);
        if (h->items == NULL) abort();
    }
    h->items[h->n++] = c;
    pthread_mutex_unlock(&h->lock);
}

void hw_held_remove(hw_held *h, hw_claim *c)
{
    pthread_mutex_lock(&h->lock);
    for (size_t i = 0; i < h->n; i++) {
        if (h->items[i] == c) {
            h->items[i] = h->items[--h->n];
            break;
        }
    }
    pthread_mutex_unlock(&h->lock);
}

size_t hw_held_snapshot(hw_held *h, int shard, hw_args *args, hw_claim ***out)
{
    pthread_mutex_lock(&h->lock);
    *out = h->n ? malloc(sizeof **out * h->n) : NULL;
    if (h->n && *out == NULL) abort();
    size_t n = 0;
    for (size_t i = 0; i < h->n; i++) {
        if (h->items[i]->shard != shard) continue;
        (*out)[n++] = h->items[i];
        hw_args_add(args, h->items[i]->data, h->items[i]->len);
    }
    pthread_mutex_unlock(&h->lock);
    return n;
}

int hw_held_mark_lost(hw_held *h, hw_claim *c, const char *data, size_t len)
{
    int marked = 0;
    pthread_mutex_lock(&h->lock);
    for (size_t i = 0; i < h->n; i++) {
        if (h->items[i] == c && c->len == len && memcmp(c->data, data, len) == 0) {
            if (!atomic_load(&c->reporting)) {
                atomic_store(&c->lost, 1);
                marked = 1;
            }
            break;
        }
    }
    pthread_mutex_unlock(&h->lock);
    return marked;
}
