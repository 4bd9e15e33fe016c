#include "tz.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Bounds on what a zone file may hold. Real files have a few hundred
 * transitions and a dozen types; anything far beyond is not tzdata. */
#define TZ_FILE_MAX (1024 * 1024)
#define TZ_TRANS_MAX 20000
#define TZ_TYPES_MAX 256
#define TZ_CHARS_MAX 4096
#define TZ_FOOTER_MAX 256
/* No zone is, nor was, more than 26 hours from UTC. */
#define TZ_OFFSET_MAX (26L * 3600)
/* hw_tz_offset's clamp: years -100000..100000 keep every sum below far from overflow. */
#define TZ_INSTANT_MAX 3155695200000LL

/* ---- civil dates ---- */

long long hw_floor_div(long long a, long long b) { return a / b - (a % b != 0 && (a < 0) != (b < 0)); }

/* The days-from-civil algorithm over 400-year eras (146097 days each),
 * with years starting in March so that a leap day ends its year. */
long long hw_days_from_civil(long long y, int m, int d)
{
    y -= m <= 2;
    long long era = hw_floor_div(y, 400);
    long long yoe = y - era * 400;
    long long doy = (153LL * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void hw_civil_from_days(long long days, long long *y, int *m, int *d)
{
    days += 719468;
    long long era = hw_floor_div(days, 146097);
    long long doe = days - era * 146097;
    long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long long mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

/* 1970-01-01 was a Thursday. */
int hw_weekday_from_days(long long days) { return (int)(((days + 4) % 7 + 7) % 7); }

int hw_is_leap_year(long long y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int hw_days_in_month(long long y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && hw_is_leap_year(y) ? 29 : days[m - 1];
}

/* ---- the POSIX TZ rule of a TZif footer ---- */

/* One end of daylight time: day kind 'J' (Jn, 1..365, Feb 29 never
 * counted), 'D' (n, 0..365, counted) or 'M' (Mm.w.d: day d of week w of
 * month m, w 5 the last), at `secs` local time past midnight. */
typedef struct tz_date {
    char kind;
    int n, m, w, d;
    long secs;
} tz_date;

typedef struct tz_rule {
    long std_off, dst_off; /* seconds east of UTC */
    int has_dst;
    tz_date start, end; /* into daylight time (in standard time), out of it (in daylight time) */
} tz_rule;

struct hw_tz {
    char name[HW_TZ_NAME_MAX + 1];
    int ntrans;
    long long *trans; /* UTC instants, ascending */
    long *trans_off;  /* offset from trans[i] on */
    long first_off;   /* offset before trans[0] (type 0) */
    int has_rule;     /* the footer gives the offsets after the last transition */
    tz_rule rule;
};

static int parse_uint(const char **p, int max_digits, long *out)
{
    const char *s = *p;
    long v = 0;
    int n = 0;
    while (*s >= '0' && *s <= '9' && n < max_digits) v = v * 10 + (*s++ - '0'), n++;
    if (n == 0 || (*s >= '0' && *s <= '9')) return -1;
    *p = s;
    *out = v;
    return 0;
}

/* [+-]hh[:mm[:ss]] with hh up to max_hours, in seconds. */
static int parse_hms(const char **p, long max_hours, long *out)
{
    const char *s = *p;
    long sign = 1, h, m = 0, sec = 0;
    if (*s == '+' || *s == '-') sign = *s++ == '-' ? -1 : 1;
    if (parse_uint(&s, 3, &h) < 0 || h > max_hours) return -1;
    if (*s == ':') {
        s++;
        if (parse_uint(&s, 2, &m) < 0 || m > 59) return -1;
        if (*s == ':') {
            s++;
            if (parse_uint(&s, 2, &sec) < 0 || sec > 59) return -1;
        }
    }
    *p = s;
    *out = sign * (h * 3600 + m * 60 + sec);
    return 0;
}

/* A zone abbreviation: three or more letters, or <...> of letters, digits, '+' and '-'. */
static int parse_abbr(const char **p)
{
    const char *s = *p;
    int n = 0;
    if (*s == '<') {
        s++;
        while ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '+' ||
               *s == '-')
            s++, n++;
        if (*s++ != '>') return -1;
    } else {
        while ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z')) s++, n++;
    }
    if (n < 3) return -1;
    *p = s;
    return 0;
}

static int parse_date(const char **p, tz_date *d)
{
    const char *s = *p;
    long v;
    memset(d, 0, sizeof *d);
    if (*s == 'J') {
        s++;
        if (parse_uint(&s, 3, &v) < 0 || v < 1 || v > 365) return -1;
        d->kind = 'J', d->n = (int)v;
    } else if (*s == 'M') {
        long m, w, wd;
        s++;
        if (parse_uint(&s, 2, &m) < 0 || m < 1 || m > 12 || *s++ != '.') return -1;
        if (parse_uint(&s, 1, &w) < 0 || w < 1 || w > 5 || *s++ != '.') return -1;
        if (parse_uint(&s, 1, &wd) < 0 || wd > 6) return -1;
        d->kind = 'M', d->m = (int)m, d->w = (int)w, d->d = (int)wd;
    } else {
        if (parse_uint(&s, 3, &v) < 0 || v > 365) return -1;
        d->kind = 'D', d->n = (int)v;
    }
    d->secs = 2 * 3600;
    /* RFC 8536 lets the time run from -167 to 167 hours. */
    if (*s == '/' && (s++, parse_hms(&s, 167, &d->secs) < 0)) return -1;
    *p = s;
    return 0;
}

/* "std offset [dst [offset] [,start[/time],end[/time]]]"; POSIX offsets
 * count west of UTC, ours east. */
static int parse_rule(const char *s, tz_rule *r)
{
    long v;
    memset(r, 0, sizeof *r);
    if (parse_abbr(&s) < 0 || parse_hms(&s, 24, &v) < 0) return -1;
    r->std_off = -v;
    if (*s == '\0') return 0;
    if (parse_abbr(&s) < 0) return -1;
    r->has_dst = 1;
    r->dst_off = r->std_off + 3600;
    if (*s != ',' && *s != '\0') {
        if (parse_hms(&s, 24, &v) < 0) return -1;
        r->dst_off = -v;
    }
    if (*s == '\0') {
        /* No dates: the US rules, as the reference implementation assumes. */
        s = ",M3.2.0,M11.1.0";
    }
    if (*s++ != ',' || parse_date(&s, &r->start) < 0) return -1;
    if (*s++ != ',' || parse_date(&s, &r->end) < 0) return -1;
    return *s == '\0' ? 0 : -1;
}

static long long rule_day(const tz_date *d, long long y)
{
    long long jan1 = hw_days_from_civil(y, 1, 1);
    if (d->kind == 'J') return jan1 + d->n - 1 + (hw_is_leap_year(y) && d->n >= 60);
    if (d->kind == 'D') return jan1 + d->n;
    long long first = hw_days_from_civil(y, d->m, 1);
    long long day = first + (d->d - hw_weekday_from_days(first) + 7) % 7 + (d->w - 1) * 7LL;
    while (day - first >= hw_days_in_month(y, d->m)) day -= 7;
    return day;
}

/* The UTC instants daylight time starts and ends at in year y. */
static void rule_year(const tz_rule *r, long long y, long long *start, long long *end)
{
    *start = rule_day(&r->start, y) * 86400 + r->start.secs - r->std_off;
    *end = rule_day(&r->end, y) * 86400 + r->end.secs - r->dst_off;
}

/* The state at t is that of the latest start or end at or before it,
 * among the neighbouring years' too (a rule's times may cross a year's
 * end, and the southern hemisphere starts late in the year). At one
 * instant a start wins over an end: "0/0,J365/25" is daylight all year. */
static long rule_offset(const tz_rule *r, long long t)
{
    if (!r->has_dst) return r->std_off;
    long long y0, y;
    int m, d;
    hw_civil_from_days(hw_floor_div(t + r->std_off, 86400), &y0, &m, &d);
    long long best = 0;
    int found = 0, dst = 0;
    for (y = y0 - 1; y <= y0 + 1; y++) {
        long long start, end;
        rule_year(r, y, &start, &end);
        if (end <= t && (!found || end > best)) best = end, dst = 0, found = 1;
        if (start <= t && (!found || start >= best)) best = start, dst = 1, found = 1;
    }
    return dst ? r->dst_off : r->std_off;
}

/* The first instant after t the rule changes the offset at. */
static int rule_next(const tz_rule *r, long long t, long long *when)
{
    if (!r->has_dst) return 0;
    for (int tries = 0; tries < 8; tries++) {
        long long y0, y, best = 0;
        int m, d, found = 0;
        hw_civil_from_days(hw_floor_div(t + r->std_off, 86400), &y0, &m, &d);
        for (y = y0 - 1; y <= y0 + 2; y++) {
            long long start, end;
            rule_year(r, y, &start, &end);
            if (start > t && (!found || start < best)) best = start, found = 1;
            if (end > t && (!found || end < best)) best = end, found = 1;
        }
        if (!found) return 0;
        if (rule_offset(r, best) != rule_offset(r, best - 1)) {
            *when = best;
            return 1;
        }
        t = best; /* a start and an end at one instant: no change there */
    }
    return 0;
}

/* ---- the zone ---- */

static long long clamp_instant(long long t)
{
    return t > TZ_INSTANT_MAX ? TZ_INSTANT_MAX : t < -TZ_INSTANT_MAX ? -TZ_INSTANT_MAX : t;
}

/* The index of the last transition at or before t, or -1. */
static int last_at_or_before(const hw_tz *tz, long long t)
{
    int lo = 0, hi = tz->ntrans; /* the answer + 1 is in [lo, hi] */
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (tz->trans[mid] <= t) lo = mid + 1;
        else hi = mid;
    }
    return lo - 1;
}

long hw_tz_offset(const hw_tz *tz, long long t)
{
    t = clamp_instant(t);
    int i = last_at_or_before(tz, t);
    if (i == tz->ntrans - 1 && tz->has_rule) return rule_offset(&tz->rule, t);
    return i < 0 ? tz->first_off : tz->trans_off[i];
}

/* The first instant after t the offset may change at. */
static int next_change(const hw_tz *tz, long long t, long long *when)
{
    int i = last_at_or_before(tz, t) + 1;
    if (i < tz->ntrans) {
        *when = tz->trans[i];
        return 1;
    }
    return tz->has_rule && rule_next(&tz->rule, t, when);
}

int hw_tz_to_utc(const hw_tz *tz, long long local, long long out[2], long long *gap_end)
{
    /* Every offset in force within 27 hours of local is a candidate: an
     * instant u solves the equation when local - offset(u) == u. */
    local = clamp_instant(local);
    long long lo = local - 27 * 3600, hi = local + 27 * 3600, t = lo, when;
    long offs[16];
    int noffs = 0, n = 0;
    offs[noffs++] = hw_tz_offset(tz, lo);
    *gap_end = local - offs[0];
    while (noffs < 16 && next_change(tz, t, &when) && when <= hi) {
        long before = hw_tz_offset(tz, when - 1), after = hw_tz_offset(tz, when);
        offs[noffs++] = after;
        if (after > before && when + before <= local && local < when + after) *gap_end = when;
        t = when;
    }
    for (int i = 0; i < noffs; i++) {
        long long u = local - offs[i];
        if (hw_tz_offset(tz, u) != offs[i]) continue;
        int dup = 0;
        for (int j = 0; j < n; j++) dup |= out[j] == u;
        if (dup) continue;
        if (n < 2) out[n++] = u;
        else if (u < out[1]) out[1] = u;
        if (n == 2 && out[1] < out[0]) {
            long long tmp = out[0];
            out[0] = out[1], out[1] = tmp;
        }
    }
    return n;
}

const char *hw_tz_name(const hw_tz *tz) { return tz->name; }

void hw_tz_free(hw_tz *tz)
{
    if (tz == NULL) return;
    free(tz->trans);
    free(tz->trans_off);
    free(tz);
}

/* ---- loading a TZif file ---- */

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static long long be64(const unsigned char *p) { return (long long)((uint64_t)be32(p) << 32 | be32(p + 4)); }

typedef struct tzif_counts {
    uint32_t isut, isstd, leap, time, type, chars;
} tzif_counts;

/* Reads a 44-byte header at p (n bytes left); returns 0 or a reason. */
static const char *read_header(const unsigned char *p, size_t n, tzif_counts *c, int *version)
{
    if (n < 44 || memcmp(p, "TZif", 4) != 0) return "not a TZif file";
    if (p[4] != 0 && (p[4] < '2' || p[4] > '4')) return "an unknown TZif version";
    *version = p[4] == 0 ? 1 : p[4] - '0';
    c->isut = be32(p + 20), c->isstd = be32(p + 24), c->leap = be32(p + 28);
    c->time = be32(p + 32), c->type = be32(p + 36), c->chars = be32(p + 40);
    if (c->leap != 0) return "leap-second (\"right/\") zones are not supported";
    if (c->time > TZ_TRANS_MAX || c->type == 0 || c->type > TZ_TYPES_MAX || c->chars == 0 || c->chars > TZ_CHARS_MAX ||
        (c->isut != 0 && c->isut != c->type) || (c->isstd != 0 && c->isstd != c->type))
        return "TZif counts out of range";
    return NULL;
}

static size_t block_size(const tzif_counts *c, size_t time_size)
{
    return c->time * (time_size + 1) + c->type * 6 + c->chars + c->leap * (time_size + 4) + c->isstd + c->isut;
}

/* Fills tz from the file's bytes; returns NULL or the reason it is refused. */
static const char *parse_tzif(hw_tz *tz, const unsigned char *data, size_t n)
{
    tzif_counts c;
    int version;
    const char *why = read_header(data, n, &c, &version);
    if (why) return why;
    const unsigned char *p = data + 44, *end = data + n;
    size_t time_size = 4;
    if (version >= 2) {
        size_t skip = block_size(&c, 4);
        if ((size_t)(end - p) < skip) return "a truncated TZif file";
        p += skip;
        int version2;
        why = read_header(p, (size_t)(end - p), &c, &version2);
        if (why) return why;
        p += 44;
        time_size = 8;
    }
    if ((size_t)(end - p) < block_size(&c, time_size)) return "a truncated TZif file";
    const unsigned char *times = p, *idx = p + c.time * time_size, *types = idx + c.time;
    long offs[TZ_TYPES_MAX];
    for (uint32_t i = 0; i < c.type; i++) {
        long off = (long)(int32_t)be32(types + i * 6);
        if (off > TZ_OFFSET_MAX || off < -TZ_OFFSET_MAX) return "a UTC offset out of range";
        if (types[i * 6 + 4] > 1 || types[i * 6 + 5] >= c.chars) return "a bad local time type";
        offs[i] = off;
    }
    tz->ntrans = (int)c.time;
    tz->first_off = offs[0];
    if (c.time) {
        tz->trans = malloc(c.time * sizeof *tz->trans);
        tz->trans_off = malloc(c.time * sizeof *tz->trans_off);
        if (!tz->trans || !tz->trans_off) abort();
    }
    for (uint32_t i = 0; i < c.time; i++) {
        long long t = time_size == 8 ? be64(times + i * 8) : (long long)(int32_t)be32(times + i * 4);
        if (i > 0 && t <= tz->trans[i - 1]) return "transitions out of order";
        if (idx[i] >= c.type) return "a bad transition type";
        tz->trans[i] = t;
        tz->trans_off[i] = offs[idx[i]];
    }
    if (version < 2) return NULL;
    p += block_size(&c, time_size);
    /* The footer: "\n" POSIX-TZ "\n"; empty when no rule applies. */
    if (p == end || *p != '\n') return "no TZif footer";
    const unsigned char *nl = memchr(p + 1, '\n', (size_t)(end - p - 1));
    if (nl == NULL || nl - p - 1 > TZ_FOOTER_MAX) return "a bad TZif footer";
    char footer[TZ_FOOTER_MAX + 1];
    memcpy(footer, p + 1, (size_t)(nl - p - 1));
    footer[nl - p - 1] = '\0';
    if (footer[0] == '\0') return NULL;
    if (parse_rule(footer, &tz->rule) < 0) return "a bad POSIX TZ string in its footer";
    tz->has_rule = 1;
    return NULL;
}

static const char *bad_name(const char *name)
{
    size_t len = strlen(name);
    if (len == 0) return "an empty name";
    if (len > HW_TZ_NAME_MAX) return "a name over 200 bytes";
    if (name[0] == '/') return "an absolute path";
    if (strstr(name, "..")) return "a name holding \"..\"";
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f) return "a name holding a control character";
    return NULL;
}

/* Reads at most TZ_FILE_MAX bytes of a regular file into buf; returns the
 * length, or -1 with *why set. */
static long read_zone_file(const char *path, unsigned char *buf, const char **why)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        *why = errno == ENOENT || errno == ENOTDIR ? "no file" : "cannot open";
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        *why = "not a regular file";
        return -1;
    }
    size_t got = 0;
    for (;;) {
        ssize_t r = read(fd, buf + got, TZ_FILE_MAX + 1 - got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            close(fd);
            *why = "cannot read";
            return -1;
        }
        if (r == 0) break;
        got += (size_t)r;
        if (got > TZ_FILE_MAX) {
            close(fd);
            *why = "larger than 1 MiB";
            return -1;
        }
    }
    close(fd);
    return (long)got;
}

hw_tz *hw_tz_load(const char *name, char *err, size_t errlen)
{
    const char *why = bad_name(name);
    if (why) {
        snprintf(err, errlen, "bad time zone name '%.*s': %s", HW_TZ_NAME_MAX, name, why);
        for (char *e = err; errlen > 0 && *e; e++)
            if ((unsigned char)*e < 0x20 || *e == 0x7f) *e = '?';
        return NULL;
    }
    const char *dir = getenv("TZDIR");
    if (dir == NULL || dir[0] == '\0') dir = "/usr/share/zoneinfo";
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path) {
        snprintf(err, errlen, "time zone '%s': the path under %s is too long", name, dir);
        return NULL;
    }
    unsigned char *buf = malloc(TZ_FILE_MAX + 1);
    hw_tz *tz = calloc(1, sizeof *tz);
    if (!buf || !tz) abort();
    long n = read_zone_file(path, buf, &why);
    if (n < 0) {
        if (strcmp(why, "no file") == 0) snprintf(err, errlen, "unknown time zone '%s': no file %s", name, path);
        else snprintf(err, errlen, "time zone '%s': %s: %s", name, path, why);
        free(buf);
        hw_tz_free(tz);
        return NULL;
    }
    why = parse_tzif(tz, buf, (size_t)n);
    free(buf);
    if (why) {
        snprintf(err, errlen, "time zone '%s': %s: %s", name, path, why);
        hw_tz_free(tz);
        return NULL;
    }
    memcpy(tz->name, name, strlen(name) + 1);
    return tz;
}
