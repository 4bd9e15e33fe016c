#include "cron_table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int by_name(const void *a, const void *b)
{
    return strcmp(((const hw_cron_row *)a)->name, ((const hw_cron_row *)b)->name);
}

/* A state field "<kind>:<name>" of the state hash, or NULL. */
static const redisReply *state_field(const redisReply *state, const char *kind, const char *name)
{
    size_t klen = strlen(kind), nlen = strlen(name);
    for (size_t i = 0; i + 1 < state->elements; i += 2) {
        const redisReply *f = state->element[i];
        if (f->type == REDIS_REPLY_STRING && f->len == klen + 1 + nlen && memcmp(f->str, kind, klen) == 0 &&
            f->str[klen] == ':' && memcmp(f->str + klen + 1, name, nlen) == 0 &&
            state->element[i + 1]->type == REDIS_REPLY_STRING)
            return state->element[i + 1];
    }
    return NULL;
}

static long long number_in(const redisReply *v)
{
    if (v == NULL) return 0;
    char *end;
    long long n = strtoll(v->str, &end, 10);
    return end != v->str && *end == '\0' ? n : 0;
}

static char *copy(const char *s, size_t n)
{
    char *out = malloc(n + 1);
    if (out == NULL) abort();
    memcpy(out, s, n);
    out[n] = '\0';
    return out;
}

int hw_cron_table_parse(hw_cron_table *t, const redisReply *r, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 3 || r->element[0]->type != REDIS_REPLY_INTEGER ||
        r->element[1]->type != REDIS_REPLY_ARRAY || r->element[2]->type != REDIS_REPLY_ARRAY) {
        snprintf(err, errlen, "unexpected reply to cron_read%s%s", r && r->type == REDIS_REPLY_ERROR ? ": " : "",
                 r && r->type == REDIS_REPLY_ERROR ? r->str : "");
        return -1;
    }
    t->now = r->element[0]->integer;
    const redisReply *defs = r->element[1], *state = r->element[2];
    t->rows = calloc(defs->elements / 2 + 1, sizeof *t->rows);
    if (t->rows == NULL) abort();
    for (size_t i = 0; i + 1 < defs->elements; i += 2) {
        const redisReply *name = defs->element[i], *text = defs->element[i + 1];
        if (name->type != REDIS_REPLY_STRING || text->type != REDIS_REPLY_STRING) continue;
        hw_cron_row *row = &t->rows[t->n++];
        row->name = copy(name->str, name->len);
        row->text = copy(text->str, text->len);
        row->len = text->len;
        row->ok = hw_cron_def_parse(&row->def, row->text, row->len, row->problem, sizeof row->problem) == 0;
        const redisReply *last = state_field(state, "last", row->name);
        row->last_text = last ? copy(last->str, last->len) : copy("", 0);
        row->last_len = last ? last->len : 0;
        char *end;
        long long v = last && last->len > 0 && last->len < 20 ? strtoll(last->str, &end, 10) : -1;
        row->last_ok = v >= 0 && v <= HW_CRON_LAST_MAX && *end == '\0' && last->str[0] != '-' && last->str[0] != ' ';
        row->last = row->last_ok ? v : 0;
        row->fired = number_in(state_field(state, "fired", row->name));
        row->missed = number_in(state_field(state, "missed", row->name));
        row->held = number_in(state_field(state, "held", row->name));
    }
    qsort(t->rows, t->n, sizeof *t->rows, by_name);
    return 0;
}

void hw_cron_table_free(hw_cron_table *t)
{
    for (size_t i = 0; i < t->n; i++) {
        hw_cron_def_free(&t->rows[i].def);
        free(t->rows[i].name);
        free(t->rows[i].text);
        free(t->rows[i].last_text);
    }
    free(t->rows);
    memset(t, 0, sizeof *t);
}

const hw_cron_row *hw_cron_table_find(const hw_cron_table *t, const char *name)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->rows[i].name, name) == 0) return &t->rows[i];
    return NULL;
}
