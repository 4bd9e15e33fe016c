#include "claims.h"

#include <limits.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "sandbox.h"

typedef struct header_fields {
    hw_envelope *e;
    int version_ok, has_id, has_due;
    hw_buf key; /* an escaped key, unescaped */
} header_fields;

static locale_t c_numeric;
static void make_c_numeric(void) { c_numeric = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0); }

/* A member's value as cjson reads it (the Redis scripts read the header
 * with cjson): the double nearest to its number, whatever the host's
 * locale, or NAN when it is not a number (a string, true, an array...). */
static double number_of(const hw_json_field *f)
{
    if (f->is_string || f->value_len == 0 || !(f->value[0] == '-' || (f->value[0] >= '0' && f->value[0] <= '9')))
        return NAN;
    /* Every header hworker writes holds small whole numbers: read those
     * directly (exact below 2^53), and leave the rest to strtod. */
    size_t neg = f->value[0] == '-', i = neg;
    if (f->value_len > neg && f->value_len - neg <= 15) {
        double v = 0;
        while (i < f->value_len && f->value[i] >= '0' && f->value[i] <= '9') v = v * 10 + (f->value[i++] - '0');
        if (i == f->value_len) return neg ? -v : v;
    }
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, make_c_numeric);
    if (c_numeric == (locale_t)0) abort();
    char small[64];
    char *tmp = f->value_len < sizeof small ? small : malloc(f->value_len + 1);
    if (tmp == NULL) abort();
    memcpy(tmp, f->value, f->value_len);
    tmp[f->value_len] = '\0';
    double v = strtod_l(tmp, NULL, c_numeric);
    if (tmp != small) free(tmp);
    return v;
}

/* A header count as a long from 0 to LONG_MAX - 1, whatever the header
 * holds (a hand-written one may hold -5, 2.5, 1e300 or "3"): the worker adds
 * 1 to it. What is not a number counts as absent. */
static long to_count(double v)
{
    if (isnan(v) || v < 0) return 0;
    return v >= (double)LONG_MAX ? LONG_MAX - 1 : (long)v;
}

static long long to_time(double v)
{
    if (isnan(v)) return 0;
    if (v >= (double)LLONG_MAX) return LLONG_MAX;
    return v <= (double)LLONG_MIN ? LLONG_MIN : (long long)v;
}

/* Each member sets its field, so the last of repeated keys wins, as in cjson. */
static void on_field(void *ud, const hw_json_field *f)
{
    header_fields *h = ud;
    const char *key = f->key;
    size_t key_len = f->key_len;
    if (memchr(key, '\\', key_len)) {
        hw_buf_clear(&h->key);
        hw_json_unescape(&h->key, key, key_len);
        key = h->key.data;
        key_len = h->key.len;
    }
    if (key_len == 1 && key[0] == 'v') h->version_ok = number_of(f) == 1.0;
    else if (key_len == 2 && memcmp(key, "id", 2) == 0) {
        hw_buf_clear(&h->e->id);
        if (f->is_string) hw_json_unescape(&h->e->id, f->value, f->value_len);
        h->has_id = h->e->id.len > 0;
    } else if (key_len == 2 && memcmp(key, "at", 2) == 0) h->e->attempt = 1 + to_count(number_of(f));
    else if (key_len == 2 && memcmp(key, "rc", 2) == 0) h->e->recoveries = to_count(number_of(f));
    else if (key_len == 2 && memcmp(key, "eq", 2) == 0) h->e->enqueued_at = to_time(number_of(f));
    else if (key_len == 2 && memcmp(key, "da", 2) == 0) {
        double v = number_of(f);
        h->has_due = !isnan(v);
        h->e->due_at = to_time(v);
    }
}

void hw_envelope_parse(hw_envelope *e, const char *text, size_t len)
{
    e->job = NULL;
    e->job_len = 0;
    e->attempt = 1;
    e->recoveries = 0;
    e->enqueued_at = 0;
    e->due_at = 0;
    e->waited = 0;
    e->broken = NULL;
    hw_buf_clear(&e->id);
    const char *nl = memchr(text, '\n', len);
    if (nl == NULL) {
        e->broken = "not an hworker envelope: no header line (expected <header JSON> newline <job JSON>)";
        return;
    }
    header_fields h = {e, 0, 0, 0, {0}};
    int parsed = hw_json_flat_object(text, (size_t)(nl - text), on_field, &h);
    hw_buf_free(&h.key);
    e->waited = h.has_due;
    if (!h.has_due) e->due_at = e->enqueued_at;
    if (parsed != 0) {
        e->broken = "not an hworker envelope: the header line is not a JSON object";
        return;
    }
    if (!h.version_ok) {
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
    atomic_store(&c->stop, 0);
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
    c->due_at = e.due_at;
    c->waited = e.waited;
    c->late_ms = -1;
    c->run_us = -1;
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

/* Whether claim c's token is token[0..len). */
static int has_token(const hw_claim *c, const char *token, size_t len)
{
    return c->len > len && c->data[len] == '|' && memcmp(c->data, token, len) == 0;
}

/* Lets a claim taken at `now` start cancelled if its cancel came early;
 * forgets the early cancels older than HW_EARLY_KEEP. Under the lock. */
static void match_early(hw_held *h, hw_claim *c, double now)
{
    for (size_t i = 0; i < HW_EARLY_MAX && h->nearly > 0; i++) {
        hw_early_cancel *e = &h->early[i];
        if (e->len == 0) continue;
        int fresh = now - e->heard <= HW_EARLY_KEEP, matches = fresh && has_token(c, e->token, e->len);
        if (fresh && !matches) continue;
        if (matches) {
            int none = 0;
            atomic_compare_exchange_strong(&c->stop, &none, HW_STOP_CANCELLED);
        }
        e->len = 0;
        h->nearly--;
    }
}

void hw_held_add(hw_held *h, hw_claim *c, double now)
{
    pthread_mutex_lock(&h->lock);
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 16;
        h->items = realloc(h->items, sizeof *h->items * h->cap);
        if (h->items == NULL) abort();
    }
    h->items[h->n++] = c;
    if (h->nearly > 0) match_early(h, c, now);
    pthread_mutex_unlock(&h->lock);
}

/* Keeps a token no held claim has, in a free slot or the oldest's. */
static void keep_early(hw_held *h, const char *token, size_t len, double heard)
{
    if (len >= HW_EARLY_TOKEN) return;
    hw_early_cancel *slot = &h->early[0];
    for (size_t i = 0; i < HW_EARLY_MAX; i++) {
        hw_early_cancel *e = &h->early[i];
        if (e->len == 0) {
            slot = e;
            break;
        }
        if (e->heard < slot->heard) slot = e;
    }
    if (slot->len == 0) h->nearly++;
    memcpy(slot->token, token, len);
    slot->len = len;
    slot->heard = heard;
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
                atomic_store(&c->stop, HW_STOP_LEASE_LOST);
                marked = 1;
            }
            break;
        }
    }
    pthread_mutex_unlock(&h->lock);
    return marked;
}

size_t hw_held_cancel(hw_held *h, const char *token, size_t len, double heard)
{
    size_t marked = 0, held = 0;
    pthread_mutex_lock(&h->lock);
    for (size_t i = 0; i < h->n; i++) {
        hw_claim *c = h->items[i];
        if (has_token(c, token, len)) {
            held++;
            int none = 0;
            if (atomic_compare_exchange_strong(&c->stop, &none, HW_STOP_CANCELLED)) marked++;
        }
    }
    if (held == 0 && len > 0 && heard >= 0) keep_early(h, token, len, heard);
    pthread_mutex_unlock(&h->lock);
    return marked;
}
