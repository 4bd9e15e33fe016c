#include "cron.h"

#include <stdio.h>
#include <string.h>

#define DAY_S 86400LL
#define HORIZON_MS (1830 * DAY_S * 1000)
/* 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z. */
#define AFTER_MIN_MS (-62135596800000LL)
#define AFTER_MAX_MS 253402300799999LL

typedef struct field_def {
    const char *name;
    int lo, hi;
    const char *const *names; /* names[i] stands for lo + i, or NULL */
    const char *names_hint;
} field_def;

static const char *const month_names[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                          "jul", "aug", "sep", "oct", "nov", "dec"};
static const char *const day_names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

enum { F_MINUTE, F_HOUR, F_MDAY, F_MONTH, F_WDAY, F_COUNT };

static const field_def fields[F_COUNT] = {
    {"minute", 0, 59, NULL, NULL},
    {"hour", 0, 23, NULL, NULL},
    {"day-of-month", 1, 31, NULL, NULL},
    {"month", 1, 12, month_names, " or a name jan..dec"},
    {"day-of-week", 0, 7, day_names, " or a name sun..sat (7 is sunday too)"},
};

static int fail(char *err, size_t errlen, const field_def *f, const char *s, size_t len, const char *why)
{
    if (f) snprintf(err, errlen, "%s field '%.*s': %s", f->name, (int)len, s, why);
    else snprintf(err, errlen, "schedule '%.*s': %s", (int)len, s, why);
    return -1;
}

/* A number or (for months and days) a name at *p, below end. */
static int parse_value(const field_def *f, const char **p, const char *end, int *out)
{
    const char *s = *p;
    if (s < end && *s >= '0' && *s <= '9') {
        long v = 0;
        int digits = 0;
        while (s < end && *s >= '0' && *s <= '9') {
            if (++digits > 9) return -1;
            v = v * 10 + (*s++ - '0');
        }
        *p = s;
        *out = (int)v;
        return 0;
    }
    if (f->names == NULL || end - s < 3) return -1;
    int count = f == &fields[F_MONTH] ? 12 : 7;
    for (int i = 0; i < count; i++) {
        const char *n = f->names[i];
        int same = 1;
        for (int k = 0; k < 3; k++) same &= (s[k] | 0x20) == n[k];
        if (same) {
            *p = s + 3;
            *out = f->lo + i;
            return 0;
        }
    }
    return -1;
}

/* One field's text [s, end): sets the bits of the values it names. */
static int parse_field(const field_def *f, const char *s, const char *end, uint64_t *bits, char *err, size_t errlen)
{
    size_t len = (size_t)(end - s);
    char expected[96], range[64], steps[64];
    snprintf(expected, sizeof expected, "expected a number from %d to %d%s", f->lo, f->hi,
             f->names_hint ? f->names_hint : "");
    snprintf(range, sizeof range, "values go from %d to %d", f->lo, f->hi);
    snprintf(steps, sizeof steps, "a step goes from 1 to %d", f->hi - f->lo + 1);
    *bits = 0;
    const char *p = s;
    for (;;) {
        const char *item = p;
        int lo, hi, step = 1, is_range = 0;
        if (p == end || *p == ',') return fail(err, errlen, f, s, len, "an empty list item");
        if (*p == '*') {
            lo = f->lo, hi = f->hi, is_range = 1;
            p++;
        } else {
            if (parse_value(f, &p, end, &lo) < 0) return fail(err, errlen, f, s, len, expected);
            if (lo < f->lo || lo > f->hi) return fail(err, errlen, f, s, len, range);
            hi = lo;
            if (p < end && *p == '-') {
                p++;
                if (parse_value(f, &p, end, &hi) < 0) return fail(err, errlen, f, s, len, expected);
                if (hi < f->lo || hi > f->hi) return fail(err, errlen, f, s, len, range);
                if (hi < lo) return fail(err, errlen, f, s, len, "a range goes from low to high (A-B with A <= B)");
                is_range = 1;
            }
        }
        if (p < end && *p == '/') {
            p++;
            if (!is_range) return fail(err, errlen, f, s, len, "a step follows '*' or a range (\"*/15\", \"0-30/15\")");
            const char *digits = p;
            long v = 0;
            while (p < end && *p >= '0' && *p <= '9' && p - digits < 9) v = v * 10 + (*p++ - '0');
            if (p == digits || v < 1 || v > f->hi - f->lo + 1) return fail(err, errlen, f, s, len, steps);
            step = (int)v;
        }
        if (p < end && *p != ',') {
            char why[96];
            snprintf(why, sizeof why, "unexpected '%c' after '%.*s'", *p, (int)(p - item), item);
            return fail(err, errlen, f, s, len, why);
        }
        for (int v = lo; v <= hi; v += step) *bits |= 1ULL << (f == &fields[F_WDAY] ? v % 7 : v);
        if (p == end) return 0;
        p++; /* the ',' */
    }
}

static int is_space(char ch) { return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v'; }

/* "@every D": D in ms into *ms. */
static int parse_every(const char *d, long long *ms, char *err, size_t errlen)
{
    static const struct {
        const char *unit;
        long long ms;
    } units[] = {{"d", DAY_S * 1000}, {"h", 3600000}, {"ms", 1}, {"m", 60000}, {"s", 1000}};
    /* Rank of each unit above, from the largest down: ms comes after s. */
    static const int rank[] = {0, 1, 4, 2, 3};
    const char *p = d;
    long long total = 0;
    int last_rank = -1;
    char why[160];
    snprintf(why, sizeof why,
             "@every '%s': expected a whole number and a unit ms, s, m, h or d, or several "
             "from the largest unit down (\"90s\", \"1h30m\")",
             d);
    if (*p == '\0') return snprintf(err, errlen, "%s", why), -1;
    while (*p) {
        long long v = 0;
        const char *digits = p;
        while (*p >= '0' && *p <= '9' && p - digits < 12) v = v * 10 + (*p++ - '0');
        if (p == digits || (*p >= '0' && *p <= '9')) return snprintf(err, errlen, "%s", why), -1;
        int u = -1;
        for (int i = 0; i < 5 && u < 0; i++) {
            size_t n = strlen(units[i].unit);
            if (strncmp(p, units[i].unit, n) == 0) u = i, p += n;
        }
        if (u < 0 || rank[u] <= last_rank) return snprintf(err, errlen, "%s", why), -1;
        last_rank = rank[u];
        /* Compared before the product, which could overflow. */
        if (v > 366 * DAY_S * 1000 / units[u].ms || (total += v * units[u].ms) > 366 * DAY_S * 1000) {
            snprintf(err, errlen, "@every '%s': the longest interval is 366 days", d);
            return -1;
        }
    }
    if (total < 1000) {
        snprintf(err, errlen, "@every '%s': the shortest interval is 1s", d);
        return -1;
    }
    *ms = total;
    return 0;
}

static int parse_fields(hw_cron *out, const char *text, char *err, size_t errlen)
{
    const char *start[F_COUNT], *end[F_COUNT];
    const char *p = text;
    int n = 0;
    while (*p) {
        if (n == F_COUNT) {
            n++;
            break;
        }
        start[n] = p;
        while (*p && *p != ' ') p++;
        end[n++] = p;
        if (*p) p++;
    }
    if (n != F_COUNT) {
        while (*p) n += *p++ == ' ';
        char why[256];
        snprintf(why, sizeof why,
                 "expected five fields (minute hour day-of-month month day-of-week), got %d; or one of @hourly, "
                 "@daily, @midnight, @weekly, @monthly, @yearly, @annually, @every D",
                 n);
        return fail(err, errlen, NULL, text, strlen(text), why);
    }
    uint64_t bits[F_COUNT];
    for (int i = 0; i < F_COUNT; i++)
        if (parse_field(&fields[i], start[i], end[i], &bits[i], err, errlen) < 0) return -1;
    out->minutes = bits[F_MINUTE];
    out->hours = (uint32_t)bits[F_HOUR];
    out->mdays = (uint32_t)bits[F_MDAY];
    out->months = (uint16_t)bits[F_MONTH];
    out->wdays = (uint8_t)bits[F_WDAY];
    out->mday_star = *start[F_MDAY] == '*';
    out->wday_star = *start[F_WDAY] == '*';
    return 0;
}

int hw_cron_parse(const char *text, hw_cron *out, char *err, size_t errlen)
{
    static const struct {
        const char *name, *fields;
    } macros[] = {{"@hourly", "0 * * * *"},  {"@daily", "0 0 * * *"},   {"@midnight", "0 0 * * *"},
                  {"@weekly", "0 0 * * 0"},  {"@monthly", "0 0 1 * *"}, {"@yearly", "0 0 1 1 *"},
                  {"@annually", "0 0 1 1 *"}};
    memset(out, 0, sizeof *out);
    /* The canonical text: trimmed, white space runs made one space. */
    size_t n = 0;
    for (const char *p = text; *p; p++) {
        if ((unsigned char)*p < 0x20 && !is_space(*p)) {
            memset(out, 0, sizeof *out);
            snprintf(err, errlen, "the schedule holds a control character (byte %d)", *p);
            return -1;
        }
        if (is_space(*p) && (n == 0 || out->text[n - 1] == ' ')) continue;
        if (n == HW_CRON_TEXT_MAX) {
            memset(out, 0, sizeof *out);
            snprintf(err, errlen, "the schedule is longer than %d bytes", HW_CRON_TEXT_MAX);
            return -1;
        }
        out->text[n++] = is_space(*p) ? ' ' : *p;
    }
    while (n > 0 && out->text[n - 1] == ' ') n--;
    out->text[n] = '\0';
    if (n == 0) {
        snprintf(err, errlen, "the schedule is empty");
        return -1;
    }
    int rc;
    if (strncmp(out->text, "@every ", 7) == 0) {
        rc = parse_every(out->text + 7, &out->every_ms, err, errlen);
    } else if (out->text[0] == '@') {
        rc = fail(err, errlen, NULL, out->text, n,
                  "unknown; expected @hourly, @daily, @midnight, @weekly, @monthly, @yearly, @annually or @every D");
        for (size_t i = 0; i < sizeof macros / sizeof macros[0]; i++)
            if (strcmp(out->text, macros[i].name) == 0) rc = parse_fields(out, macros[i].fields, err, errlen);
    } else {
        rc = parse_fields(out, out->text, err, errlen);
    }
    if (rc < 0) {
        memset(out, 0, sizeof *out);
        return -1;
    }
    return 0;
}

const char *hw_cron_text(const hw_cron *c) { return c->text; }

/* ---- the next tick ---- */

static int next_bit(uint64_t bits, int from, int max)
{
    for (int i = from; i <= max; i++)
        if (bits >> i & 1) return i;
    return -1;
}

static int day_matches(const hw_cron *c, long long days, int mday)
{
    int by_mday = c->mdays >> mday & 1, by_wday = c->wdays >> hw_weekday_from_days(days) & 1;
    if (c->mday_star || c->wday_star) return by_mday && by_wday;
    return by_mday || by_wday;
}

/* The first local minute at or after w (local seconds, minute-aligned)
 * the fields match into *match: 0, or -1 when it would be past limit.
 * Skips whole months, days and hours. */
static int next_local_match(const hw_cron *c, long long w, long long limit, long long *match)
{
    long long days = hw_floor_div(w, DAY_S), y;
    int m, d, h = (int)((w - days * DAY_S) / 3600), mi = (int)((w - days * DAY_S) % 3600 / 60);
    hw_civil_from_days(days, &y, &m, &d);
    while (days * DAY_S <= limit) {
        if (!(c->months >> m & 1)) {
            if (++m > 12) m = 1, y++;
            d = 1, h = 0, mi = 0;
            days = hw_days_from_civil(y, m, 1);
            continue;
        }
        int nh = day_matches(c, days, d) ? next_bit(c->hours, h, 23) : -1;
        int nm = nh < 0 ? -1 : next_bit(c->minutes, nh == h ? mi : 0, 59);
        if (nm >= 0) {
            *match = days * DAY_S + nh * 3600LL + nm * 60LL;
            return 0;
        }
        if (nh >= 0 && nh < 23) {
            h = nh + 1, mi = 0; /* no minute left in hour nh: try the next hours of the day */
            continue;
        }
        days++, h = 0, mi = 0;
        hw_civil_from_days(days, &y, &m, &d);
    }
    return -1;
}

static long offset_at(const hw_tz *tz, long long t) { return tz ? hw_tz_offset(tz, t) : 0; }

/* The instant a local time ticks at: its only or first occurrence, or
 * the end of the gap it falls in. */
static long long tick_instant(const hw_tz *tz, long long local)
{
    long long out[2], gap_end;
    if (tz == NULL) return local;
    return hw_tz_to_utc(tz, local, out, &gap_end) ? out[0] : gap_end;
}

long long hw_cron_next(const hw_cron *c, const hw_tz *tz, long long after_ms)
{
    if (after_ms < AFTER_MIN_MS || after_ms > AFTER_MAX_MS) return -1;
    if (c->every_ms) return (hw_floor_div(after_ms, c->every_ms) + 1) * c->every_ms;
    /* tick_instant never decreases as the local time grows, and the wall
     * time at `after` ticks at or before it: the first matching local
     * minute from there whose instant is past `after` is the answer. */
    long long a = hw_floor_div(after_ms, 1000);
    long long w = hw_floor_div(a + offset_at(tz, a), 60) * 60;
    long long limit_ms = after_ms + HORIZON_MS, limit_local = a + HORIZON_MS / 1000 + 2 * DAY_S;
    for (;;) {
        if (next_local_match(c, w, limit_local, &w) < 0) return -1;
        long long u = tick_instant(tz, w) * 1000;
        if (u > after_ms) return u <= limit_ms ? u : -1;
        w += 60;
    }
}
