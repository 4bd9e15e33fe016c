#include "json.h"

#include <stdio.h>
#include <string.h>

#define HW_JSON_MAX_DEPTH 1000

typedef struct checker {
    const char *s, *end, *p;
    const char *why;
    char why_buf[64];
} checker;

static void skip_ws(checker *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r')) c->p++;
}

static int fail(checker *c, const char *why)
{
    if (c->why == NULL) c->why = why;
    return -1;
}

static int is_hex(char ch) { return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F'); }

/* Length of the UTF-8 sequence at p, or 0 if it is not valid UTF-8. */
static size_t utf8_len(const unsigned char *p, const unsigned char *end)
{
    unsigned char c = p[0];
    size_t n;
    unsigned min;
    unsigned cp;
    if (c < 0x80) return 1;
    if ((c & 0xE0) == 0xC0) {
        n = 2;
        cp = c & 0x1F;
        min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        n = 3;
        cp = c & 0x0F;
        min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        n = 4;
        cp = c & 0x07;
        min = 0x10000;
    } else return 0;
    if ((size_t)(end - p) < n) return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return n;
}

size_t hw_utf8_seq_len(const char *p, const char *end)
{
    return p < end ? utf8_len((const unsigned char *)p, (const unsigned char *)end) : 0;
}

/* The value of 4 hex digits at p, or 0x10000 if they are not there. */
static unsigned hex4(const char *p, const char *end)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        if (p + i >= end || !is_hex(p[i])) return 0x10000;
        char ch = p[i];
        v = v * 16 + (unsigned)(ch <= '9' ? ch - '0' : (ch | 0x20) - 'a' + 10);
    }
    return v;
}

static int check_string(checker *c)
{
    c->p++; /* opening quote */
    while (c->p < c->end) {
        /* Most of a payload is plain ASCII text: skip it without a call. */
        while (c->p < c->end && (unsigned char)*c->p >= 0x20 && (unsigned char)*c->p < 0x80 && *c->p != '"' &&
               *c->p != '\\')
            c->p++;
        if (c->p >= c->end) break;
        unsigned char ch = (unsigned char)*c->p;
        if (ch == '"') {
            c->p++;
            return 0;
        }
        if (ch < 0x20) return fail(c, "control character inside a string (escape it)");
        if (ch == '\\') {
            c->p++;
            if (c->p >= c->end) break;
            char e = *c->p;
            if (e == 'u') {
                /* A UTF-16 surrogate must come as a high-low pair: a lone one
                 * is no character, and cjson refuses it when the job runs. */
                unsigned cp = hex4(c->p + 1, c->end);
                if (cp > 0xFFFF) return fail(c, "bad \\u escape");
                c->p += 5;
                if (cp >= 0xDC00 && cp <= 0xDFFF) return fail(c, "a \\u escape of a lone low surrogate");
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    unsigned low =
                        (c->p + 1 < c->end && c->p[0] == '\\' && c->p[1] == 'u') ? hex4(c->p + 2, c->end) : 0x10000;
                    if (!(low >= 0xDC00 && low <= 0xDFFF))
                        return fail(c, "a \\u escape of a high surrogate without its low one");
                    c->p += 6;
                }
                continue;
            }
            if (!strchr("\"\\/bfnrt", e) || e == '\0') return fail(c, "bad escape in a string");
            c->p++;
            continue;
        }
        size_t n = utf8_len((const unsigned char *)c->p, (const unsigned char *)c->end);
        if (n == 0) return fail(c, "invalid UTF-8 in a string");
        c->p += n;
    }
    return fail(c, "unterminated string");
}

static int check_number(checker *c)
{
    if (c->p < c->end && *c->p == '-') c->p++;
    if (c->p >= c->end) return fail(c, "incomplete number");
    if (*c->p == '0') c->p++;
    else if (*c->p >= '1' && *c->p <= '9')
        while (c->p < c->end && *c->p >= '0' && *c->p <= '9') c->p++;
    else return fail(c, "invalid number");
    if (c->p < c->end && *c->p == '.') {
        c->p++;
        if (c->p >= c->end || *c->p < '0' || *c->p > '9') return fail(c, "digit expected after '.'");
        while (c->p < c->end && *c->p >= '0' && *c->p <= '9') c->p++;
    }
    if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
        c->p++;
        if (c->p < c->end && (*c->p == '+' || *c->p == '-')) c->p++;
        if (c->p >= c->end || *c->p < '0' || *c->p > '9') return fail(c, "digit expected in exponent");
        while (c->p < c->end && *c->p >= '0' && *c->p <= '9') c->p++;
    }
    return 0;
}

static int check_value(checker *c, int depth)
{
    skip_ws(c);
    if (c->p >= c->end) return fail(c, "value expected, found end of input");
    char ch = *c->p;
    if (ch == '{' || ch == '[') {
        if (depth >= HW_JSON_MAX_DEPTH) return fail(c, "nested deeper than 1000 levels");
        char close = ch == '{' ? '}' : ']';
        c->p++;
        skip_ws(c);
        if (c->p < c->end && *c->p == close) {
            c->p++;
            return 0;
        }
        for (;;) {
            skip_ws(c);
            if (ch == '{') {
                if (c->p >= c->end || *c->p != '"') return fail(c, "object key (a string) expected");
                if (check_string(c)) return -1;
                skip_ws(c);
                if (c->p >= c->end || *c->p != ':') return fail(c, "':' expected after object key");
                c->p++;
            }
            if (check_value(c, depth + 1)) return -1;
            skip_ws(c);
            if (c->p < c->end && *c->p == ',') {
                c->p++;
                continue;
            }
            if (c->p < c->end && *c->p == close) {
                c->p++;
                return 0;
            }
            return fail(c, ch == '{' ? "',' or '}' expected" : "',' or ']' expected");
        }
    }
    if (ch == '"') return check_string(c);
    if (ch == '-' || (ch >= '0' && ch <= '9')) return check_number(c);
    static const char *const words[] = {"true", "false", "null"};
    for (size_t i = 0; i < 3; i++) {
        size_t n = strlen(words[i]);
        if ((size_t)(c->end - c->p) >= n && memcmp(c->p, words[i], n) == 0) {
            c->p += n;
            return 0;
        }
    }
    unsigned char bad = (unsigned char)ch;
    if (bad >= 0x20 && bad < 0x7f) snprintf(c->why_buf, sizeof c->why_buf, "value expected, found '%c'", bad);
    else snprintf(c->why_buf, sizeof c->why_buf, "value expected, found byte 0x%02x", bad);
    return fail(c, c->why_buf);
}

int hw_json_check(const char *text, size_t len, char *err, size_t errlen)
{
    checker c = {text, text + len, text, NULL, {0}};
    if (check_value(&c, 0) == 0) {
        skip_ws(&c);
        if (c.p == c.end) return 0;
        fail(&c, "unexpected text after the JSON value");
    }
    if (err && errlen) {
        long line = 1, col = 1;
        for (const char *q = text; q < c.p; q++) {
            if (*q == '\n') {
                line++;
                col = 1;
            } else col++;
        }
        snprintf(err, errlen, "line %ld, column %ld: %s", line, col, c.why);
    }
    return -1;
}

/* 0 if nothing but white space follows the '}' at c->p, else -1: a header
 * with more after it is no JSON for cjson, so the Redis scripts could not
 * read it (retry counts would never grow). */
static int only_ws_after(checker *c)
{
    c->p++;
    skip_ws(c);
    return c->p == c->end ? 0 : -1;
}

int hw_json_flat_object(const char *text, size_t len, void (*fn)(void *ud, const hw_json_field *f), void *ud)
{
    checker c = {text, text + len, text, NULL, {0}};
    skip_ws(&c);
    if (c.p >= c.end || *c.p != '{') return -1;
    c.p++;
    skip_ws(&c);
    if (c.p < c.end && *c.p == '}') return only_ws_after(&c);
    for (;;) {
        hw_json_field f;
        skip_ws(&c);
        if (c.p >= c.end || *c.p != '"') return -1;
        const char *k = c.p + 1;
        if (check_string(&c)) return -1;
        f.key = k;
        f.key_len = (size_t)(c.p - 1 - k);
        skip_ws(&c);
        if (c.p >= c.end || *c.p != ':') return -1;
        c.p++;
        skip_ws(&c);
        const char *v = c.p;
        if (check_value(&c, 1)) return -1;
        f.is_string = *v == '"';
        f.value = f.is_string ? v + 1 : v;
        f.value_len = (size_t)(c.p - v) - (f.is_string ? 2 : 0);
        fn(ud, &f);
        skip_ws(&c);
        if (c.p < c.end && *c.p == ',') {
            c.p++;
            continue;
        }
        if (c.p < c.end && *c.p == '}') return only_ws_after(&c);
        return -1;
    }
}

int hw_json_array_each(const char *text, size_t len, void (*fn)(void *ud, const char *v, size_t v_len), void *ud)
{
    checker c = {text, text + len, text, NULL, {0}};
    skip_ws(&c);
    if (c.p >= c.end || *c.p != '[') return -1;
    c.p++;
    skip_ws(&c);
    if (c.p < c.end && *c.p == ']') {
        c.p++;
        skip_ws(&c);
        return c.p == c.end ? 0 : -1;
    }
    for (;;) {
        skip_ws(&c);
        const char *v = c.p;
        if (check_value(&c, 1)) return -1;
        fn(ud, v, (size_t)(c.p - v));
        skip_ws(&c);
        if (c.p < c.end && *c.p == ',') {
            c.p++;
            continue;
        }
        if (c.p < c.end && *c.p == ']') {
            c.p++;
            skip_ws(&c);
            return c.p == c.end ? 0 : -1;
        }
        return -1;
    }
}

static void add_utf8(hw_buf *out, unsigned cp)
{
    char tmp[4];
    size_t n;
    if (cp < 0x80) {
        tmp[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        tmp[0] = (char)(0xC0 | (cp >> 6));
        tmp[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        tmp[0] = (char)(0xE0 | (cp >> 12));
        tmp[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        tmp[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        tmp[0] = (char)(0xF0 | (cp >> 18));
        tmp[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        tmp[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        tmp[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    hw_buf_add(out, tmp, n);
}

void hw_json_unescape(hw_buf *out, const char *s, size_t len)
{
    hw_buf_reserve(out, len);
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '\\' || i + 1 >= len) {
            hw_buf_add(out, s + i, 1);
            continue;
        }
        char e = s[++i];
        switch (e) {
        case 'b': hw_buf_add(out, "\b", 1); break;
        case 'f': hw_buf_add(out, "\f", 1); break;
        case 'n': hw_buf_add(out, "\n", 1); break;
        case 'r': hw_buf_add(out, "\r", 1); break;
        case 't': hw_buf_add(out, "\t", 1); break;
        case 'u': {
            /* hex4 reads within len: sscanf would scan on to a NUL. */
            if (i + 4 >= len) return;
            unsigned cp = hex4(s + i + 1, s + len);
            if (cp > 0xFFFF) cp = 0xFFFD; /* not 4 hex digits: the replacement character */
            i += 4;
            if (cp >= 0xD800 && cp < 0xDC00 && i + 6 < len && s[i + 1] == '\\' && s[i + 2] == 'u') {
                unsigned lo = hex4(s + i + 3, s + len);
                if (lo >= 0xDC00 && lo < 0xE000) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    i += 6;
                }
            }
            add_utf8(out, cp);
            break;
        }
        default: hw_buf_add(out, &e, 1);
        }
    }
}

void hw_json_quote(hw_buf *out, const char *s, size_t len)
{
    hw_buf_reserve(out, len + 2);
    hw_buf_add(out, "\"", 1);
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    while (p < end) {
        unsigned char ch = *p;
        if (ch == '"' || ch == '\\') {
            hw_buf_add(out, "\\", 1);
            hw_buf_add(out, (const char *)p, 1);
            p++;
            continue;
        }
        if (ch < 0x20) {
            if (ch == '\n') hw_buf_add(out, "\\n", 2);
            else if (ch == '\t') hw_buf_add(out, "\\t", 2);
            else if (ch == '\r') hw_buf_add(out, "\\r", 2);
            else hw_buf_addf(out, "\\u%04x", ch);
            p++;
            continue;
        }
        size_t n = utf8_len(p, end);
        if (n == 0) {
            hw_buf_addf(out, "\\u%04x", ch);
            p++;
            continue;
        }
        hw_buf_add(out, (const char *)p, n);
        p += n;
    }
    hw_buf_add(out, "\"", 1);
}
