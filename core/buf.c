#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *must(void *p)
{
    if (p == NULL) {
        fputs("hworker: out of memory\n", stderr);
        abort();
    }
    return p;
}

void hw_buf_reserve(hw_buf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1) cap *= 2;
    int fresh = b->data == NULL;
    b->data = must(realloc(b->data, cap));
    b->cap = cap;
    if (fresh) b->data[b->len] = '\0'; /* keep "NUL-terminated when not NULL" */
}

void hw_buf_add(hw_buf *b, const char *s, size_t n)
{
    hw_buf_reserve(b, n);
    if (n) memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void hw_buf_adds(hw_buf *b, const char *s) { hw_buf_add(b, s, strlen(s)); }

void hw_buf_addf(hw_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    hw_buf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void hw_buf_clear(hw_buf *b)
{
    b->len = 0;
    if (b->data) b->data[0] = '\0';
}

void hw_buf_free(hw_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

size_t hw_fmt_ull(char *dst, unsigned long long v)
{
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++) dst[i] = tmp[n - 1 - i];
    return n;
}

static void resp_prefix(hw_buf *b, char kind, size_t n)
{
    hw_buf_reserve(b, 24);
    char *p = b->data + b->len;
    *p++ = kind;
    p += hw_fmt_ull(p, n);
    *p++ = '\r';
    *p++ = '\n';
    b->len = (size_t)(p - b->data);
    b->data[b->len] = '\0';
}

void hw_resp_array(hw_buf *b, size_t n) { resp_prefix(b, '*', n); }

void hw_resp_bulk(hw_buf *b, const char *s, size_t n)
{
    resp_prefix(b, '$', n);
    hw_buf_reserve(b, n + 2);
    if (n) memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len++] = '\r';
    b->data[b->len++] = '\n';
    b->data[b->len] = '\0';
}

void hw_args_add(hw_args *a, const char *s, size_t n)
{
    if (a->argc == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 16;
        a->offsets = must(realloc(a->offsets, sizeof *a->offsets * (size_t)a->cap));
        a->lens = must(realloc(a->lens, sizeof *a->lens * (size_t)a->cap));
        a->argv = must(realloc((void *)a->argv, sizeof *a->argv * (size_t)a->cap));
    }
    a->offsets[a->argc] = a->store.len;
    a->lens[a->argc] = n;
    hw_buf_add(&a->store, s, n);
    a->argc++;
}

void hw_args_adds(hw_args *a, const char *s) { hw_args_add(a, s, strlen(s)); }

void hw_args_addll(hw_args *a, long long v)
{
    char tmp[32];
    size_t n = 0;
    if (v < 0) tmp[n++] = '-';
    /* -(v + 1) + 1 keeps LLONG_MIN in range. */
    unsigned long long u = v < 0 ? (unsigned long long)(-(v + 1)) + 1 : (unsigned long long)v;
    n += hw_fmt_ull(tmp + n, u);
    hw_args_add(a, tmp, n);
}

void hw_args_finish(hw_args *a)
{
    for (int i = 0; i < a->argc; i++) a->argv[i] = a->store.data + a->offsets[i];
}

void hw_args_clear(hw_args *a)
{
    a->argc = 0;
    hw_buf_clear(&a->store);
}

void hw_args_free(hw_args *a)
{
    hw_buf_free(&a->store);
    free(a->offsets);
    free(a->lens);
    free((void *)a->argv);
    memset(a, 0, sizeof *a);
}
