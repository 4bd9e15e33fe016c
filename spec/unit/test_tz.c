/* core/tz.h: zones from the system's TZif files, their POSIX TZ footers,
 * and the civil-date arithmetic. The oracles are independent of tz.c:
 * glibc's timegm/gmtime_r for dates, and glibc's own reading of the same
 * zone names and TZ strings (localtime_r under TZ=..., fine in this
 * one-threaded test program) for offsets. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "tz.h"

/* The UTC instant of a civil date and time, by glibc. */
static long long utc(int y, int mo, int d, int h, int mi)
{
    struct tm tm = {0};
    tm.tm_year = y - 1900, tm.tm_mon = mo - 1, tm.tm_mday = d, tm.tm_hour = h, tm.tm_min = mi;
    return (long long)timegm(&tm);
}

/* glibc's offset for zone spec (a name with ':' before it, or a TZ string) at t. */
static long glibc_offset(const char *spec, long long t)
{
    setenv("TZ", spec, 1);
    tzset();
    time_t tt = (time_t)t;
    struct tm tm;
    localtime_r(&tt, &tm);
    return tm.tm_gmtoff;
}

static unsigned long long rng_state = 0x9e3779b97f4a7c15ULL;
static unsigned long long rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static hw_tz *load(const char *name)
{
    char err[512] = "";
    hw_tz *tz = hw_tz_load(name, err, sizeof err);
    if (tz == NULL) fprintf(stderr, "loading %s: %s\n", name, err);
    CHECK(tz != NULL);
    return tz;
}

static void test_civil(void)
{
    /* Every day from 1600 to 2400 (and some far ones) against glibc. */
    for (long long days = -135140; days <= 157000; days += 1) {
        long long y;
        int m, d;
        hw_civil_from_days(days, &y, &m, &d);
        time_t t = (time_t)(days * 86400);
        struct tm tm;
        gmtime_r(&t, &tm);
        if (y != tm.tm_year + 1900LL || m != tm.tm_mon + 1 || d != tm.tm_mday ||
            hw_weekday_from_days(days) != tm.tm_wday || hw_days_from_civil(y, m, d) != days) {
            CHECK(!"civil date differs from glibc");
            fprintf(stderr, "  day %lld\n", days);
            break;
        }
    }
    CHECK(hw_days_from_civil(1970, 1, 1) == 0);
    CHECK(hw_days_from_civil(2000, 3, 1) == 11017);
    CHECK(hw_days_from_civil(-1, 12, 31) * 86400 == utc(-1, 12, 31, 0, 0));
    CHECK(hw_weekday_from_days(0) == 4);
    CHECK(hw_weekday_from_days(-1) == 3);
    CHECK(hw_is_leap_year(2024) && hw_is_leap_year(2000) && !hw_is_leap_year(1900) && !hw_is_leap_year(2026));
    CHECK(hw_days_in_month(2024, 2) == 29 && hw_days_in_month(2026, 2) == 28 && hw_days_in_month(2100, 2) == 28);
    CHECK(hw_days_in_month(2026, 4) == 30 && hw_days_in_month(2026, 12) == 31);
    CHECK(hw_floor_div(-1, 60) == -1 && hw_floor_div(-60, 60) == -1 && hw_floor_div(-61, 60) == -2);
    CHECK(hw_floor_div(59, 60) == 0 && hw_floor_div(60, 60) == 1 && hw_floor_div(0, 60) == 0);
}

static void check_offsets_around(const hw_tz *tz, long long transition, long before, long after)
{
    CHECK(hw_tz_offset(tz, transition - 86400) == before);
    CHECK(hw_tz_offset(tz, transition - 1) == before);
    CHECK(hw_tz_offset(tz, transition) == after);
    CHECK(hw_tz_offset(tz, transition + 1) == after);
    CHECK(hw_tz_offset(tz, transition + 86400) == after);
}

static void test_utc_and_kolkata(void)
{
    hw_tz *tz = load("UTC");
    CHECK_STR(hw_tz_name(tz), "UTC");
    long long out[2] = {0, 0}, gap = -1;
    for (long long t = -4000000000LL; t < 8000000000LL; t += 12345677) CHECK(hw_tz_offset(tz, t) == 0);
    CHECK(hw_tz_to_utc(tz, 1700000000, out, &gap) == 1 && out[0] == 1700000000);
    hw_tz_free(tz);

    tz = load("Asia/Kolkata");
    CHECK(hw_tz_offset(tz, utc(2026, 1, 1, 0, 0)) == 19800);
    CHECK(hw_tz_offset(tz, utc(2026, 7, 1, 0, 0)) == 19800);
    CHECK(hw_tz_offset(tz, utc(2090, 3, 29, 1, 0)) == 19800);
    CHECK(hw_tz_to_utc(tz, utc(2026, 3, 29, 2, 30), out, &gap) == 1 && out[0] == utc(2026, 3, 28, 21, 0));
    hw_tz_free(tz);
}

static void test_berlin(void)
{
    hw_tz *tz = load("Europe/Berlin");
    CHECK_STR(hw_tz_name(tz), "Europe/Berlin");
    check_offsets_around(tz, utc(2026, 3, 29, 1, 0), 3600, 7200);
    check_offsets_around(tz, utc(2026, 10, 25, 1, 0), 7200, 3600);
    /* Years only the footer's rule covers in a slim file. */
    check_offsets_around(tz, utc(2090, 3, 26, 1, 0), 3600, 7200);
    check_offsets_around(tz, utc(2090, 10, 29, 1, 0), 7200, 3600);

    long long out[2] = {0, 0}, gap = -1;
    /* 2026-03-29 02:30 does not exist: the gap ends at 01:00 UTC (03:00 CEST). */
    CHECK(hw_tz_to_utc(tz, utc(2026, 3, 29, 2, 30), out, &gap) == 0);
    CHECK(gap == utc(2026, 3, 29, 1, 0));
    CHECK(hw_tz_to_utc(tz, utc(2026, 3, 29, 2, 0), out, &gap) == 0 && gap == utc(2026, 3, 29, 1, 0));
    CHECK(hw_tz_to_utc(tz, utc(2026, 3, 29, 2, 59) + 59, out, &gap) == 0 && gap == utc(2026, 3, 29, 1, 0));
    CHECK(hw_tz_to_utc(tz, utc(2026, 3, 29, 1, 59) + 59, out, &gap) == 1 && out[0] == utc(2026, 3, 29, 0, 59) + 59);
    CHECK(hw_tz_to_utc(tz, utc(2026, 3, 29, 3, 0), out, &gap) == 1 && out[0] == utc(2026, 3, 29, 1, 0));
    /* 2026-10-25 02:30 occurs twice: 00:30 UTC (CEST), then 01:30 UTC (CET). */
    CHECK(hw_tz_to_utc(tz, utc(2026, 10, 25, 2, 30), out, &gap) == 2);
    CHECK(out[0] == utc(2026, 10, 25, 0, 30) && out[1] == utc(2026, 10, 25, 1, 30));
    CHECK(hw_tz_to_utc(tz, utc(2026, 10, 25, 2, 0), out, &gap) == 2);
    CHECK(out[0] == utc(2026, 10, 25, 0, 0) && out[1] == utc(2026, 10, 25, 1, 0));
    CHECK(hw_tz_to_utc(tz, utc(2026, 10, 25, 3, 0), out, &gap) == 1 && out[0] == utc(2026, 10, 25, 2, 0));
    CHECK(hw_tz_to_utc(tz, utc(2026, 10, 25, 1, 59), out, &gap) == 1 && out[0] == utc(2026, 10, 24, 23, 59));
    CHECK(hw_tz_to_utc(tz, utc(2026, 7, 1, 12, 0), out, &gap) == 1 && out[0] == utc(2026, 7, 1, 10, 0));
    hw_tz_free(tz);
}

static void test_new_york(void)
{
    hw_tz *tz = load("America/New_York");
    check_offsets_around(tz, utc(2026, 3, 8, 7, 0), -18000, -14400);
    check_offsets_around(tz, utc(2026, 11, 1, 6, 0), -14400, -18000);
    long long out[2] = {0, 0}, gap = -1;
    CHECK(hw_tz_to_utc(tz, utc(2026, 3, 8, 2, 30), out, &gap) == 0 && gap == utc(2026, 3, 8, 7, 0));
    CHECK(hw_tz_to_utc(tz, utc(2026, 11, 1, 1, 30), out, &gap) == 2);
    CHECK(out[0] == utc(2026, 11, 1, 5, 30) && out[1] == utc(2026, 11, 1, 6, 30));
    hw_tz_free(tz);
}

static void test_sydney(void)
{
    hw_tz *tz = load("Australia/Sydney");
    /* Southern: daylight time ends in April, starts in October. */
    check_offsets_around(tz, utc(2026, 4, 4, 16, 0), 39600, 36000);
    check_offsets_around(tz, utc(2026, 10, 3, 16, 0), 36000, 39600);
    CHECK(hw_tz_offset(tz, utc(2026, 1, 1, 0, 0)) == 39600);
    CHECK(hw_tz_offset(tz, utc(2026, 7, 1, 0, 0)) == 36000);
    long long out[2] = {0, 0}, gap = -1;
    CHECK(hw_tz_to_utc(tz, utc(2026, 10, 4, 2, 30), out, &gap) == 0 && gap == utc(2026, 10, 3, 16, 0));
    CHECK(hw_tz_to_utc(tz, utc(2026, 4, 5, 2, 30), out, &gap) == 2);
    CHECK(out[0] == utc(2026, 4, 4, 15, 30) && out[1] == utc(2026, 4, 4, 16, 30));
    hw_tz_free(tz);
}

/* Offsets of real zones at random instants from 1850 to 2150 against glibc's. */
static void test_against_glibc(void)
{
    static const char *const zones[] = {"Europe/Berlin", "America/New_York",  "Australia/Sydney",    "Asia/Kolkata",
                                        "Europe/Dublin", "America/Sao_Paulo", "Australia/Lord_Howe", "Pacific/Chatham",
                                        "America/Nuuk",  "Africa/Casablanca", "Asia/Tehran"};
    for (size_t z = 0; z < sizeof zones / sizeof zones[0]; z++) {
        hw_tz *tz = load(zones[z]);
        if (!tz) continue;
        char spec[64];
        snprintf(spec, sizeof spec, ":%s", zones[z]);
        int bad = 0;
        for (int i = 0; i < 4000 && bad < 3; i++) {
            long long t = utc(1850, 1, 1, 0, 0) + (long long)(rnd() % (300ULL * 365 * 86400));
            long mine = hw_tz_offset(tz, t), theirs = glibc_offset(spec, t);
            if (mine != theirs) {
                bad++;
                CHECK(mine == theirs);
                fprintf(stderr, "  %s at %lld: %ld, glibc %ld\n", zones[z], t, mine, theirs);
            }
        }
        hw_tz_free(tz);
    }
}

/* ---- hand-made TZif files in a private TZDIR ---- */

static char tzdir[64];

static void put32(FILE *f, uint32_t v)
{
    unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16), (unsigned char)(v >> 8),
                          (unsigned char)v};
    fwrite(b, 1, 4, f);
}

static void put64(FILE *f, long long v)
{
    put32(f, (uint32_t)((unsigned long long)v >> 32));
    put32(f, (uint32_t)v);
}

static void header(FILE *f, char version, uint32_t leap, uint32_t ntrans, uint32_t ntypes)
{
    fwrite("TZif", 1, 4, f);
    fputc(version, f);
    for (int i = 0; i < 15; i++) fputc(0, f);
    put32(f, 0), put32(f, 0), put32(f, leap), put32(f, ntrans), put32(f, ntypes), put32(f, 4);
}

/* Writes zone `name`: transitions at trans[] to types idx[], types of
 * offsets offs[], and (version >= '2') the footer. */
static void write_zone(const char *name, char version, int ntrans, const long long *trans, const unsigned char *idx,
                       int ntypes, const long *offs, const char *footer)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", tzdir, name);
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    for (int block = 0; block < (version ? 2 : 1); block++) {
        int wide = block == 1;
        header(f, version, 0, (uint32_t)ntrans, (uint32_t)ntypes);
        for (int i = 0; i < ntrans; i++) wide ? put64(f, trans[i]) : put32(f, (uint32_t)trans[i]);
        for (int i = 0; i < ntrans; i++) fputc(idx[i], f);
        for (int i = 0; i < ntypes; i++) put32(f, (uint32_t)offs[i]), fputc(i > 0, f), fputc(0, f);
        fwrite("ABC", 1, 4, f);
    }
    if (version) fprintf(f, "\n%s\n", footer);
    fclose(f);
}

static void write_bytes(const char *name, const void *data, size_t n)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", tzdir, name);
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    fwrite(data, 1, n, f);
    fclose(f);
}

/* A version-2 file with no transitions: its footer rules all instants.
 * fixed: the offset expected at every instant, or 0 to ask glibc. */
static void check_footer_fixed(const char *footer, long fixed)
{
    write_zone("rule", '2', 0, NULL, NULL, 1, (const long[]){0}, footer);
    hw_tz *tz = load("rule");
    if (!tz) return;
    int bad = 0;
    for (int i = 0; i < 3000 && bad < 3; i++) {
        long long t = utc(1971, 1, 1, 0, 0) + (long long)(rnd() % (129ULL * 365 * 86400));
        if (i % 3 == 0) t -= t % 3600; /* on the hour, where transitions happen */
        long mine = hw_tz_offset(tz, t), theirs = fixed ? fixed : glibc_offset(footer, t);
        if (mine != theirs) {
            bad++;
            CHECK(mine == theirs);
            fprintf(stderr, "  footer %s at %lld: %ld, glibc %ld\n", footer, t, mine, theirs);
        }
    }
    hw_tz_free(tz);
}

static void check_footer(const char *footer) { check_footer_fixed(footer, 0); }

static void test_footers(void)
{
    check_footer("CET-1CEST,M3.5.0,M10.5.0/3");
    check_footer("EST5EDT,M3.2.0,M11.1.0");
    check_footer("<+0330>-3:30");
    check_footer("AEST-10AEDT,M10.1.0,M4.1.0/3");
    check_footer("IST-1GMT0,M10.5.0,M3.5.0/1");      /* negative daylight time (Dublin) */
    check_footer("<-02>2<-01>,M3.5.0/-1,M10.5.0/0"); /* negative transition time (Nuuk) */
    check_footer("<+1245>-12:45<+1345>,M9.5.0/2:45,M4.1.0/3:45");
    check_footer("XST3XDT,J60/2,J300/2");                 /* Jn: Feb 29 never counted */
    check_footer("XST3XDT,59/2,299/2");                   /* n: counted from 0 */
    check_footer("XST3XDT2:30,M4.1.0/26,M10.5.6/-22:30"); /* > 24 h, negative, explicit dst offset */
    /* Daylight all year (RFC 8536 3.3.1): the end meets the next start. glibc
     * reads it as standard time for the hours between, so it is no oracle here. */
    check_footer_fixed("EST5EDT,0/0,J365/25", -14400);
    check_footer("<+05>-5");

    /* A table that ends, then the footer: 1000 s after the transition to +1h. */
    write_zone("table", '2', 1, (const long long[]){1000}, (const unsigned char[]){1}, 2, (const long[]){0, 3600},
               "CET-1CEST,M3.5.0,M10.5.0/3");
    hw_tz *tz = load("table");
    if (tz) {
        CHECK(hw_tz_offset(tz, 999) == 0);
        CHECK(hw_tz_offset(tz, 1000) == 3600);
        CHECK(hw_tz_offset(tz, utc(2026, 7, 1, 0, 0)) == 7200);
        CHECK(hw_tz_offset(tz, utc(2026, 12, 1, 0, 0)) == 3600);
        hw_tz_free(tz);
    }
    /* Version 1: 32-bit data, no footer; the last type holds on. */
    write_zone("v1", 0, 2, (const long long[]){100, 200}, (const unsigned char[]){1, 0}, 2, (const long[]){-3600, 7200},
               "");
    tz = load("v1");
    if (tz) {
        CHECK(hw_tz_offset(tz, 0) == -3600);
        CHECK(hw_tz_offset(tz, 150) == 7200);
        CHECK(hw_tz_offset(tz, 5000000000LL) == -3600);
        hw_tz_free(tz);
    }
    /* An empty footer: no rule; the last type holds on. */
    write_zone("nofooter", '3', 1, (const long long[]){100}, (const unsigned char[]){1}, 2, (const long[]){0, 1800},
               "");
    tz = load("nofooter");
    if (tz) {
        CHECK(hw_tz_offset(tz, 99) == 0 && hw_tz_offset(tz, 4000000000LL) == 1800);
        hw_tz_free(tz);
    }
}

static void check_refused(const char *name, const char *want)
{
    char err[512] = "";
    hw_tz *tz = hw_tz_load(name, err, sizeof err);
    CHECK(tz == NULL);
    CHECK_HAS(err, want);
    hw_tz_free(tz);
}

static void test_refusals(void)
{
    check_refused("Europe/Berln", "unknown time zone 'Europe/Berln': no file ");
    check_refused("Europe/Berln", "/Europe/Berln");
    check_refused("", "bad time zone name '': an empty name");
    check_refused("../etc/passwd", "bad time zone name '../etc/passwd': a name holding \"..\"");
    check_refused("Europe/../../etc/passwd", "a name holding \"..\"");
    check_refused("/etc/passwd", "'/etc/passwd': an absolute path");
    check_refused("Europe/Ber\nlin", "bad time zone name 'Europe/Ber?lin': a name holding a control character");
    char long_name[260];
    memset(long_name, 'a', 201);
    long_name[201] = '\0';
    check_refused(long_name, "a name over 200 bytes");
    memset(long_name, 'a', 200);
    long_name[200] = '\0';
    check_refused(long_name, "unknown time zone"); /* 200 bytes is allowed, and then not found */

    write_bytes("junk", "not a zone file at all, but long enough to hold a header of 44 bytes", 68);
    check_refused("junk", "not a TZif file");
    write_bytes("short", "TZif2", 5);
    check_refused("short", "not a TZif file");
    unsigned char v5[44] = "TZif5";
    write_bytes("v5", v5, sizeof v5);
    check_refused("v5", "an unknown TZif version");

    char path[256];
    snprintf(path, sizeof path, "%s/dir", tzdir);
    mkdir(path, 0700);
    check_refused("dir", "not a regular file");

    /* Truncated: a real file cut short. */
    write_zone("whole", '2', 1, (const long long[]){1000}, (const unsigned char[]){1}, 2, (const long[]){0, 3600},
               "CET-1CEST,M3.5.0,M10.5.0/3");
    snprintf(path, sizeof path, "%s/whole", tzdir);
    struct stat st;
    stat(path, &st);
    if (truncate(path, st.st_size - 40) != 0) abort();
    check_refused("whole", "a truncated TZif file");

    write_zone("badfooter", '2', 0, NULL, NULL, 1, (const long[]){0}, "CET-1CEST,M13.5.0,M10.5.0/3");
    check_refused("badfooter", "a bad POSIX TZ string in its footer");
    write_zone("badfooter", '2', 0, NULL, NULL, 1, (const long[]){0}, "C-1");
    check_refused("badfooter", "a bad POSIX TZ string in its footer");
    write_zone("badfooter", '2', 0, NULL, NULL, 1, (const long[]){0}, "CET-25");
    check_refused("badfooter", "a bad POSIX TZ string in its footer");
    write_zone("badidx", '2', 1, (const long long[]){5}, (const unsigned char[]){3}, 2, (const long[]){0, 60}, "");
    check_refused("badidx", "a bad transition type");
    write_zone("order", '2', 2, (const long long[]){5, 5}, (const unsigned char[]){1, 0}, 2, (const long[]){0, 60}, "");
    check_refused("order", "transitions out of order");
    write_zone("bigoff", '2', 0, NULL, NULL, 1, (const long[]){27 * 3600}, "");
    check_refused("bigoff", "a UTC offset out of range");

    unsigned char counts[44] = "TZif2";
    counts[35] = 0x01, counts[34] = 0x00, counts[33] = 0x01; /* 65537 transitions */
    counts[39] = 1, counts[43] = 4;
    write_bytes("counts", counts, sizeof counts);
    check_refused("counts", "TZif counts out of range");
    unsigned char leap[44] = "TZif2";
    leap[31] = 1, leap[39] = 1, leap[43] = 4;
    write_bytes("leap", leap, sizeof leap);
    check_refused("leap", "leap-second");

    size_t big_len = 1024 * 1024 + 1;
    char *big = calloc(1, big_len);
    if (!big) abort();
    memcpy(big, "TZif2", 5);
    write_bytes("big", big, big_len);
    free(big);
    check_refused("big", "larger than 1 MiB");

    char err[8];
    CHECK(hw_tz_load("Nowhere/At_All", err, sizeof err) == NULL && strlen(err) == sizeof err - 1);
    /* No room for a message at all: refused all the same. */
    CHECK(hw_tz_load("../x", NULL, 0) == NULL && hw_tz_load("Nowhere/At_All", NULL, 0) == NULL);
    hw_tz_free(NULL);
}

int main(void)
{
    test_civil();
    test_utc_and_kolkata();
    test_berlin();
    test_new_york();
    test_sydney();
    test_against_glibc();

    snprintf(tzdir, sizeof tzdir, "/tmp/hw_test_tz.XXXXXX");
    if (mkdtemp(tzdir) == NULL) abort();
    setenv("TZDIR", tzdir, 1);
    test_footers();
    test_refusals();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tzdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tzdir);
    return check_report("test_tz");
}
