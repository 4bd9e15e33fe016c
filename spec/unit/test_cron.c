/* core/cron.h: parsing schedules, every error, and their next ticks: in
 * UTC against a slow reference that steps minute by minute, and across
 * the daylight-saving changes of real zones, tick by tick. */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "cron.h"

#define MIN_MS 60000LL
#define HOUR_MS 3600000LL
#define DAY_MS 86400000LL

/* The UTC instant of a civil date and time in ms, by glibc. */
static long long utc_ms(int y, int mo, int d, int h, int mi)
{
    struct tm tm = {0};
    tm.tm_year = y - 1900, tm.tm_mon = mo - 1, tm.tm_mday = d, tm.tm_hour = h, tm.tm_min = mi;
    return (long long)timegm(&tm) * 1000;
}

static unsigned long long rng_state = 0x2545f4914f6cdd1dULL;
static unsigned long long rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static hw_cron parse_ok(const char *text)
{
    hw_cron c;
    char err[256] = "";
    int rc = hw_cron_parse(text, &c, err, sizeof err);
    CHECK(rc == 0);
    if (rc != 0) fprintf(stderr, "  parsing '%s': %s\n", text, err);
    return c;
}

static uint64_t bits(int lo, int hi, int step)
{
    uint64_t b = 0;
    for (int v = lo; v <= hi; v += step) b |= 1ULL << v;
    return b;
}

static void test_parse_fields(void)
{
    hw_cron c = parse_ok("* * * * *");
    CHECK(c.every_ms == 0 && c.minutes == bits(0, 59, 1) && c.hours == bits(0, 23, 1));
    CHECK(c.mdays == bits(1, 31, 1) && c.months == bits(1, 12, 1) && c.wdays == bits(0, 6, 1));
    CHECK(c.mday_star && c.wday_star);

    c = parse_ok("5 4 3 2 1");
    CHECK(c.minutes == 1ULL << 5 && c.hours == 1u << 4 && c.mdays == 1u << 3 && c.months == 1u << 2 &&
          c.wdays == 1u << 1);
    CHECK(!c.mday_star && !c.wday_star);

    c = parse_ok("0-10 8-17 1-15 6-8 1-5");
    CHECK(c.minutes == bits(0, 10, 1) && c.hours == bits(8, 17, 1) && c.mdays == bits(1, 15, 1));
    CHECK(c.months == bits(6, 8, 1) && c.wdays == bits(1, 5, 1));

    c = parse_ok("1,2,30 0,12 1,15,31 1,7 0,6");
    CHECK(c.minutes == ((1ULL << 1) | (1ULL << 2) | (1ULL << 30)) && c.hours == ((1u << 0) | (1u << 12)));
    CHECK(c.mdays == ((1u << 1) | (1u << 15) | (1u << 31)) && c.months == ((1u << 1) | (1u << 7)));
    CHECK(c.wdays == ((1u << 0) | (1u << 6)));

    c = parse_ok("*/15 */6 */10 */3 */2");
    CHECK(c.minutes == bits(0, 59, 15) && c.hours == bits(0, 23, 6) && c.mdays == bits(1, 31, 10));
    CHECK(c.months == bits(1, 12, 3) && c.wdays == (bits(0, 6, 2) | 1)); /* 0,2,4,6 and 7 = sunday */
    CHECK(c.mday_star && c.wday_star);

    c = parse_ok("10-50/20 1-23/11 5-25/5 2-11/4 1-5/2");
    CHECK(c.minutes == bits(10, 50, 20) && c.hours == bits(1, 23, 11) && c.mdays == bits(5, 25, 5));
    CHECK(c.months == bits(2, 11, 4) && c.wdays == bits(1, 5, 2));

    c = parse_ok("0 0 * jan,MAR,Dec sun,Mon,SAT");
    CHECK(c.months == ((1u << 1) | (1u << 3) | (1u << 12)) && c.wdays == ((1u << 0) | (1u << 1) | (1u << 6)));
    c = parse_ok("0 0 * feb-apr mon-fri");
    CHECK(c.months == bits(2, 4, 1) && c.wdays == bits(1, 5, 1));
    c = parse_ok("0 0 * * 7");
    CHECK(c.wdays == 1);
    c = parse_ok("0 0 * * 5-7");
    CHECK(c.wdays == ((1u << 5) | (1u << 6) | 1u));
    c = parse_ok("0 0 * * 0-7");
    CHECK(c.wdays == bits(0, 6, 1));
    c = parse_ok("59 23 31 12 6");
    CHECK(c.minutes == 1ULL << 59 && c.hours == 1u << 23 && c.mdays == 1u << 31 && c.months == 1u << 12);
    c = parse_ok("*/59 * * * *");
    CHECK(c.minutes == ((1ULL << 0) | (1ULL << 59)));
    c = parse_ok("*/60 * * * *");
    CHECK(c.minutes == 1);

    /* Vixie's rule: '*' and '*' / N leave a day field unrestricted. */
    c = parse_ok("0 0 1 * mon");
    CHECK(!c.mday_star && !c.wday_star);
    c = parse_ok("0 0 */2 * mon");
    CHECK(c.mday_star && !c.wday_star);

    /* The canonical text. */
    c = parse_ok("  0\t 5  *\n* *  ");
    CHECK_STR(hw_cron_text(&c), "0 5 * * *");
    c = parse_ok("@every 1h30m");
    CHECK_STR(hw_cron_text(&c), "@every 1h30m");
}

static void test_parse_macros(void)
{
    static const struct {
        const char *macro, *same;
    } macros[] = {{"@hourly", "0 * * * *"},  {"@daily", "0 0 * * *"},   {"@midnight", "0 0 * * *"},
                  {"@weekly", "0 0 * * 0"},  {"@monthly", "0 0 1 * *"}, {"@yearly", "0 0 1 1 *"},
                  {"@annually", "0 0 1 1 *"}};
    for (size_t i = 0; i < sizeof macros / sizeof macros[0]; i++) {
        hw_cron a = parse_ok(macros[i].macro), b = parse_ok(macros[i].same);
        CHECK(a.minutes == b.minutes && a.hours == b.hours && a.mdays == b.mdays && a.months == b.months &&
              a.wdays == b.wdays && a.mday_star == b.mday_star && a.wday_star == b.wday_star && a.every_ms == 0);
        CHECK_STR(hw_cron_text(&a), macros[i].macro);
    }
    CHECK(parse_ok("@every 1s").every_ms == 1000);
    CHECK(parse_ok("@every 1500ms").every_ms == 1500);
    CHECK(parse_ok("@every 90s").every_ms == 90000);
    CHECK(parse_ok("@every 5m").every_ms == 5 * MIN_MS);
    CHECK(parse_ok("@every 2h").every_ms == 2 * HOUR_MS);
    CHECK(parse_ok("@every 1d").every_ms == DAY_MS);
    CHECK(parse_ok("@every 1h30m").every_ms == 90 * MIN_MS);
    CHECK(parse_ok("@every 1d2h3m4s5ms").every_ms == DAY_MS + 2 * HOUR_MS + 3 * MIN_MS + 4005);
    CHECK(parse_ok("@every 366d").every_ms == 366 * DAY_MS);
    CHECK(parse_ok("@every 0d1s").every_ms == 1000);
}

static void check_bad(const char *file, int line, const char *text, const char *want)
{
    hw_cron c, zero;
    char err[512] = "";
    memset(&c, 0x5a, sizeof c);
    memset(&zero, 0, sizeof zero);
    int before = check_failed;
    CHECK(hw_cron_parse(text, &c, err, sizeof err) == -1);
    CHECK(memcmp(&c, &zero, sizeof c) == 0);
    CHECK_HAS(err, want);
    int one_line = 1;
    for (const char *p = err; *p; p++) one_line &= (unsigned char)*p >= 0x20 && *p != 0x7f;
    CHECK(one_line);
    if (check_failed != before) fprintf(stderr, "  (for the schedule \"%s\", checked at %s:%d)\n", text, file, line);
}
#define BAD(text, want) check_bad(__FILE__, __LINE__, text, want)

static void test_parse_errors(void)
{
    BAD("61 * * * *", "minute field '61': values go from 0 to 59");
    BAD("* 24 * * *", "hour field '24': values go from 0 to 23");
    BAD("* * 0 * *", "day-of-month field '0': values go from 1 to 31");
    BAD("* * 32 * *", "day-of-month field '32': values go from 1 to 31");
    BAD("* * * 13 *", "month field '13': values go from 1 to 12");
    BAD("* * * 0 *", "month field '0': values go from 1 to 12");
    BAD("* * * * 8", "day-of-week field '8': values go from 0 to 7");
    BAD("0-60 * * * *", "minute field '0-60': values go from 0 to 59");
    BAD("x * * * *", "minute field 'x': expected a number from 0 to 59");
    BAD("-5 * * * *", "minute field '-5': expected a number from 0 to 59");
    BAD("5- * * * *", "minute field '5-': expected a number from 0 to 59");
    BAD("* * * foo *", "month field 'foo': expected a number from 1 to 12 or a name jan..dec");
    BAD("* * * * funday", "day-of-week field 'funday': expected a number from 0 to 7 or a name sun..sat");
    BAD("* * * ja *", "month field 'ja': expected a number from 1 to 12 or a name jan..dec");
    BAD("* * jan * *", "day-of-month field 'jan': expected a number from 1 to 31");
    BAD("* * * * janx", "day-of-week field 'janx'");
    BAD("* * * janu *", "month field 'janu': unexpected 'u' after 'jan'");
    BAD("5x * * * *", "minute field '5x': unexpected 'x' after '5'");
    BAD("*x * * * *", "minute field '*x': unexpected 'x' after '*'");
    BAD("9999999999 * * * *", "minute field '9999999999': expected a number");
    BAD("30-10 * * * *", "minute field '30-10': a range goes from low to high");
    BAD("* * * * fri-mon", "day-of-week field 'fri-mon': a range goes from low to high");
    BAD("*/0 * * * *", "minute field '*/0': a step goes from 1 to 60");
    BAD("*/61 * * * *", "minute field '*/61': a step goes from 1 to 60");
    BAD("* */25 * * *", "hour field '*/25': a step goes from 1 to 24");
    BAD("*/ * * * *", "minute field '*/': a step goes from 1 to 60");
    BAD("*/x * * * *", "minute field '*/x': a step goes from 1 to 60");
    BAD("5/15 * * * *", "minute field '5/15': a step follows '*' or a range");
    BAD("1,,2 * * * *", "minute field '1,,2': an empty list item");
    BAD(",1 * * * *", "minute field ',1': an empty list item");
    BAD("1, * * * *", "minute field '1,': an empty list item");
    BAD("* * * *", "schedule '* * * *': expected five fields (minute hour day-of-month month day-of-week), got 4");
    BAD("* * * * * *", "got 6");
    BAD("0 0 * * * extra words", "got 7");
    BAD("", "the schedule is empty");
    BAD("  \t ", "the schedule is empty");
    BAD("* * * *\x01 *", "the schedule holds a control character");
    BAD("@often", "schedule '@often': unknown; expected @hourly, @daily, @midnight, @weekly, @monthly, @yearly");
    BAD("@every", "schedule '@every': unknown");
    BAD("@every 999ms", "@every '999ms': the shortest interval is 1s");
    BAD("@every 0s", "@every '0s': the shortest interval is 1s");
    BAD("@every 366d1ms", "@every '366d1ms': the longest interval is 366 days");
    BAD("@every 999999999999d", "the longest interval is 366 days");
    BAD("@every 9999999999999s", "@every '9999999999999s': expected a whole number and a unit");
    BAD("@every 5", "@every '5': expected a whole number and a unit ms, s, m, h or d");
    BAD("@every 1.5s", "@every '1.5s': expected a whole number");
    BAD("@every 30m1h", "from the largest unit down");
    BAD("@every 1h1h", "from the largest unit down");
    BAD("@every 1s5m", "from the largest unit down");
    BAD("@every 5x", "expected a whole number");
    BAD("@every -5s", "expected a whole number");
    BAD("@every 5 s", "expected a whole number");
    BAD("@every h", "expected a whole number");
    char long_text[300];
    memset(long_text, '1', 201);
    long_text[201] = '\0';
    BAD(long_text, "the schedule is longer than 200 bytes");

    /* An error message cut to the buffer, NUL-terminated. */
    hw_cron c;
    char err[10];
    CHECK(hw_cron_parse("61 * * * *", &c, err, sizeof err) == -1 && strlen(err) == sizeof err - 1);
}

/* The ticks of text in zone tz (NULL: UTC) after after_ms, n of them, must be want[]. */
static void check_ticks(const char *file, int line, const char *text, const hw_tz *tz, long long after_ms,
                        const long long *want, int n)
{
    hw_cron c = parse_ok(text);
    long long t = after_ms;
    int before = check_failed;
    for (int i = 0; i < n; i++) {
        long long got = hw_cron_next(&c, tz, t);
        CHECK(got == want[i]);
        if (got != want[i]) {
            fprintf(stderr, "  tick %d: got %lld, want %lld\n", i, got, want[i]);
            break;
        }
        t = got;
    }
    if (check_failed != before) fprintf(stderr, "  (for '%s', checked at %s:%d)\n", text, file, line);
}
#define TICKS(text, tz, after, ...)                                                                     \
    do {                                                                                                \
        const long long want_[] = {__VA_ARGS__};                                                        \
        check_ticks(__FILE__, __LINE__, text, tz, after, want_, (int)(sizeof want_ / sizeof want_[0])); \
    } while (0)

static void test_next_utc(void)
{
    long long t0 = utc_ms(2026, 1, 15, 10, 7) + 30000; /* a Thursday */
    TICKS("* * * * *", NULL, t0, utc_ms(2026, 1, 15, 10, 8), utc_ms(2026, 1, 15, 10, 9));
    TICKS("* * * * *", NULL, utc_ms(2026, 1, 15, 10, 7), utc_ms(2026, 1, 15, 10, 8)); /* strictly after */
    TICKS("* * * * *", NULL, utc_ms(2026, 1, 15, 10, 7) - 1, utc_ms(2026, 1, 15, 10, 7));
    TICKS("*/15 * * * *", NULL, t0, utc_ms(2026, 1, 15, 10, 15), utc_ms(2026, 1, 15, 10, 30),
          utc_ms(2026, 1, 15, 10, 45), utc_ms(2026, 1, 15, 11, 0));
    TICKS("0 9-17/4 * * *", NULL, t0, utc_ms(2026, 1, 15, 13, 0), utc_ms(2026, 1, 15, 17, 0),
          utc_ms(2026, 1, 16, 9, 0));
    TICKS("@daily", NULL, t0, utc_ms(2026, 1, 16, 0, 0), utc_ms(2026, 1, 17, 0, 0));
    TICKS("@weekly", NULL, t0, utc_ms(2026, 1, 18, 0, 0), utc_ms(2026, 1, 25, 0, 0));
    TICKS("@monthly", NULL, t0, utc_ms(2026, 2, 1, 0, 0), utc_ms(2026, 3, 1, 0, 0));
    TICKS("@yearly", NULL, t0, utc_ms(2027, 1, 1, 0, 0), utc_ms(2028, 1, 1, 0, 0));
    TICKS("@hourly", NULL, t0, utc_ms(2026, 1, 15, 11, 0), utc_ms(2026, 1, 15, 12, 0));
    TICKS("30 8 * * mon-fri", NULL, t0, utc_ms(2026, 1, 16, 8, 30), utc_ms(2026, 1, 19, 8, 30));

    /* Month ends and leap years. */
    TICKS("0 0 31 * *", NULL, t0, utc_ms(2026, 1, 31, 0, 0), utc_ms(2026, 3, 31, 0, 0), utc_ms(2026, 5, 31, 0, 0),
          utc_ms(2026, 7, 31, 0, 0), utc_ms(2026, 8, 31, 0, 0), utc_ms(2026, 10, 31, 0, 0));
    TICKS("0 0 30 * *", NULL, utc_ms(2026, 1, 31, 0, 0), utc_ms(2026, 3, 30, 0, 0));
    TICKS("0 12 29 2 *", NULL, t0, utc_ms(2028, 2, 29, 12, 0), utc_ms(2032, 2, 29, 12, 0));
    TICKS("0 12 29 2 *", NULL, utc_ms(2099, 3, 1, 0, 0), utc_ms(2104, 2, 29, 12, 0)); /* 2100 is no leap year */
    hw_cron leap = parse_ok("0 12 29 2 *");
    CHECK(hw_cron_next(&leap, NULL, utc_ms(2096, 3, 1, 0, 0)) == -1); /* eight years: past the horizon */
    TICKS("59 23 28-29 2 *", NULL, utc_ms(2027, 2, 28, 0, 0), utc_ms(2027, 2, 28, 23, 59), utc_ms(2028, 2, 28, 23, 59),
          utc_ms(2028, 2, 29, 23, 59));
    TICKS("0 0 1 1 *", NULL, utc_ms(2026, 12, 31, 23, 59), utc_ms(2027, 1, 1, 0, 0));

    /* None within five years. */
    hw_cron c = parse_ok("0 0 30 2 *");
    CHECK(hw_cron_next(&c, NULL, t0) == -1);
    c = parse_ok("0 0 31 4,6,9,11 *");
    CHECK(hw_cron_next(&c, NULL, t0) == -1);
    /* Friday the 13th, with '*' in day-of-week it is the 13th only... */
    c = parse_ok("0 0 13 * *");
    CHECK(hw_cron_next(&c, NULL, t0) == utc_ms(2026, 2, 13, 0, 0));
    /* The horizon, to the ms: 1830 days. '*' / 29 and mon: February 1sts that are Mondays, 2027 then 2038. */
    c = parse_ok("0 0 */29 2 mon");
    CHECK(hw_cron_next(&c, NULL, utc_ms(2026, 1, 1, 0, 0)) == utc_ms(2027, 2, 1, 0, 0));
    CHECK(hw_cron_next(&c, NULL, utc_ms(2038, 2, 1, 0, 0) - 1830 * DAY_MS) == utc_ms(2038, 2, 1, 0, 0));
    CHECK(hw_cron_next(&c, NULL, utc_ms(2038, 2, 1, 0, 0) - 1830 * DAY_MS - 1) == -1);
    /* Out of the years 1..9999. */
    c = parse_ok("* * * * *");
    CHECK(hw_cron_next(&c, NULL, 253402300800000LL) == -1);
    CHECK(hw_cron_next(&c, NULL, -62135596800001LL) == -1);
    CHECK(hw_cron_next(&c, NULL, utc_ms(1969, 12, 31, 23, 59) + 1) == 0);
}

static void test_vixie_day_rule(void)
{
    /* Both restricted: the 13th OR a Friday. */
    TICKS("0 0 13 * 5", NULL, utc_ms(2026, 1, 1, 0, 0), utc_ms(2026, 1, 2, 0, 0), utc_ms(2026, 1, 9, 0, 0),
          utc_ms(2026, 1, 13, 0, 0), utc_ms(2026, 1, 16, 0, 0));
    TICKS("0 0 1,15 * mon", NULL, utc_ms(2026, 6, 1, 0, 0), utc_ms(2026, 6, 8, 0, 0), utc_ms(2026, 6, 15, 0, 0),
          utc_ms(2026, 6, 22, 0, 0), utc_ms(2026, 6, 29, 0, 0), utc_ms(2026, 7, 1, 0, 0));
    /* Day of month '*': the day of week alone decides (and the other way round). */
    TICKS("0 0 * * 5", NULL, utc_ms(2026, 1, 1, 0, 0), utc_ms(2026, 1, 2, 0, 0), utc_ms(2026, 1, 9, 0, 0));
    TICKS("0 0 13 * *", NULL, utc_ms(2026, 1, 1, 0, 0), utc_ms(2026, 1, 13, 0, 0), utc_ms(2026, 2, 13, 0, 0));
    /* A field starting with '*' counts as '*' here, as in Vixie cron: odd days that are Mondays. */
    TICKS("0 0 */2 * 1", NULL, utc_ms(2026, 1, 1, 0, 0), utc_ms(2026, 1, 5, 0, 0), utc_ms(2026, 1, 19, 0, 0),
          utc_ms(2026, 2, 9, 0, 0));
}

static void test_every(void)
{
    hw_cron c = parse_ok("@every 1h");
    long long t = utc_ms(2026, 1, 15, 10, 7) + 1234;
    CHECK(hw_cron_next(&c, NULL, t) == utc_ms(2026, 1, 15, 11, 0));
    CHECK(hw_cron_next(&c, NULL, utc_ms(2026, 1, 15, 11, 0)) == utc_ms(2026, 1, 15, 12, 0));
    CHECK(hw_cron_next(&c, NULL, utc_ms(2026, 1, 15, 11, 0) - 1) == utc_ms(2026, 1, 15, 11, 0));
    hw_tz *berlin = hw_tz_load("Europe/Berlin", NULL, 0);
    CHECK(berlin != NULL);
    CHECK(hw_cron_next(&c, berlin, t) == utc_ms(2026, 1, 15, 11, 0)); /* the zone does not matter */
    hw_tz_free(berlin);
    c = parse_ok("@every 1s");
    CHECK(hw_cron_next(&c, NULL, 0) == 1000 && hw_cron_next(&c, NULL, -1) == 0 && hw_cron_next(&c, NULL, -1000) == 0);
    CHECK(hw_cron_next(&c, NULL, -1001) == -1000 && hw_cron_next(&c, NULL, 999) == 1000);

    /* The grid: multiples of D since the epoch, whatever `after` a process starts from. */
    static const char *const everies[] = {"@every 7s", "@every 1500ms", "@every 1h30m",      "@every 13m",
                                          "@every 3d", "@every 366d",   "@every 1d2h3m4s5ms"};
    for (size_t i = 0; i < sizeof everies / sizeof everies[0]; i++) {
        c = parse_ok(everies[i]);
        long long d = c.every_ms;
        for (int k = 0; k < 300; k++) {
            long long a = (long long)(rnd() % 4000000000000ULL), b = a + (long long)(rnd() % (unsigned)(3 * d));
            long long na = hw_cron_next(&c, NULL, a), nb = hw_cron_next(&c, NULL, b);
            CHECK(na > a && na - a <= d && na % d == 0);
            CHECK(nb > b && nb - b <= d && nb % d == 0);
            /* Walking from a reaches nb exactly: both processes see the same grid. */
            long long walk = na;
            while (walk <= b) walk = hw_cron_next(&c, NULL, walk);
            CHECK(walk == nb);
        }
    }
}

/* ---- the slow reference, in UTC: every minute after `after`, up to a bound ---- */

/* Whether the minute starting at minute_ms (UTC) matches, from glibc's
 * calendar; *day_tm caches the date of day *day (the day of minute_ms). */
static int ref_matches_cached(const hw_cron *c, long long minute_ms, long long *day, struct tm *day_tm)
{
    long long s = minute_ms / 1000, d = s >= 0 ? s / 86400 : -((-s + 86399) / 86400);
    if (d != *day) {
        time_t t = (time_t)(d * 86400);
        gmtime_r(&t, day_tm);
        *day = d;
    }
    long long in_day = s - d * 86400;
    int hour = (int)(in_day / 3600), min = (int)(in_day % 3600 / 60);
    if (!(c->minutes >> min & 1) || !(c->hours >> hour & 1) || !(c->months >> (day_tm->tm_mon + 1) & 1)) return 0;
    int dom = c->mdays >> day_tm->tm_mday & 1, dow = c->wdays >> day_tm->tm_wday & 1;
    return c->mday_star || c->wday_star ? dom && dow : dom || dow;
}

static int ref_matches(const hw_cron *c, long long minute_ms)
{
    long long day = LLONG_MIN;
    struct tm tm;
    return ref_matches_cached(c, minute_ms, &day, &tm);
}

static long long ref_next(const hw_cron *c, long long after_ms, long long bound_ms)
{
    long long m = (after_ms >= 0 ? after_ms / MIN_MS : -((-after_ms + MIN_MS - 1) / MIN_MS)) * MIN_MS + MIN_MS;
    long long day = LLONG_MIN;
    struct tm tm;
    for (; m <= bound_ms; m += MIN_MS)
        if (ref_matches_cached(c, m, &day, &tm)) return m;
    return -1;
}

/* A random field: '*', a value, a range, a list, a step. */
static void random_field(char *out, size_t n, int lo, int hi)
{
    int a = lo + (int)(rnd() % (unsigned)(hi - lo + 1)), b = lo + (int)(rnd() % (unsigned)(hi - lo + 1));
    if (a > b) {
        int t = a;
        a = b, b = t;
    }
    switch (rnd() % 7) {
    case 0:
    case 1: snprintf(out, n, "*"); break;
    case 2: snprintf(out, n, "%d", a); break;
    case 3: snprintf(out, n, "%d-%d", a, b); break;
    case 4: snprintf(out, n, "%d,%d", a, b); break;
    case 5: snprintf(out, n, "*/%d", 1 + (int)(rnd() % (unsigned)(hi - lo + 1))); break;
    default: snprintf(out, n, "%d-%d/%d", a, b, 1 + (int)(rnd() % 5)); break;
    }
}

static void test_against_reference(void)
{
    int compared = 0, bad = 0;
    for (int i = 0; i < 3000 && bad < 5; i++) {
        char f[5][32], text[200];
        random_field(f[0], sizeof f[0], 0, 59);
        random_field(f[1], sizeof f[1], 0, 23);
        random_field(f[2], sizeof f[2], 1, 31);
        random_field(f[3], sizeof f[3], 1, 12);
        random_field(f[4], sizeof f[4], 0, 7);
        snprintf(text, sizeof text, "%s %s %s %s %s", f[0], f[1], f[2], f[3], f[4]);
        hw_cron c = parse_ok(text);
        long long after = utc_ms(1995, 1, 1, 0, 0) + (long long)(rnd() % (80ULL * 365 * DAY_MS));
        if (i % 4 == 0) after -= after % MIN_MS; /* on a minute */
        long long bound = after + 60 * DAY_MS;
        long long want = ref_next(&c, after, bound), got = hw_cron_next(&c, NULL, after);
        /* Past the reference's bound, only "later than the bound" is known. */
        int same = want >= 0 ? got == want : got == -1 || got > bound;
        compared++;
        if (!same) {
            bad++;
            CHECK(same);
            fprintf(stderr, "  '%s' after %lld: got %lld, reference %lld\n", text, after, got, want);
        }
    }
    CHECK(compared >= 3000 || bad > 0);
}

/* ---- daylight-saving time ---- */

static void test_dst_berlin(void)
{
    hw_tz *tz = hw_tz_load("Europe/Berlin", NULL, 0);
    CHECK(tz != NULL);
    if (!tz) return;
    /* 02:30 does not exist on 2026-03-29: once at 03:00 CEST, 01:00 UTC. */
    TICKS("30 2 * * *", tz, utc_ms(2026, 3, 27, 12, 0), utc_ms(2026, 3, 28, 1, 30), utc_ms(2026, 3, 29, 1, 0),
          utc_ms(2026, 3, 30, 0, 30), utc_ms(2026, 3, 31, 0, 30));
    /* 02:30 occurs twice on 2026-10-25: once, at the first (CEST), 00:30 UTC. */
    TICKS("30 2 * * *", tz, utc_ms(2026, 10, 23, 12, 0), utc_ms(2026, 10, 24, 0, 30), utc_ms(2026, 10, 25, 0, 30),
          utc_ms(2026, 10, 26, 1, 30), utc_ms(2026, 10, 27, 1, 30));
    /* From inside the repeated hour, the second 02:30 (01:30 UTC) is not a tick. */
    TICKS("30 2 * * *", tz, utc_ms(2026, 10, 25, 1, 10), utc_ms(2026, 10, 26, 1, 30));
    TICKS("30 2 * * *", tz, utc_ms(2026, 10, 25, 0, 30) - 1, utc_ms(2026, 10, 25, 0, 30));

    /* Hourly, spring: 02:00 falls in the gap and is 03:00 CEST's tick (01:00 UTC): one tick there. */
    TICKS("0 * * * *", tz, utc_ms(2026, 3, 28, 22, 30), utc_ms(2026, 3, 28, 23, 0), utc_ms(2026, 3, 29, 0, 0),
          utc_ms(2026, 3, 29, 1, 0), utc_ms(2026, 3, 29, 2, 0), utc_ms(2026, 3, 29, 3, 0), utc_ms(2026, 3, 29, 4, 0));
    /* Hourly, autumn: 02:00 CET (01:00 UTC) repeats 02:00 CEST: no tick. */
    TICKS("0 * * * *", tz, utc_ms(2026, 10, 24, 21, 30), utc_ms(2026, 10, 24, 22, 0), utc_ms(2026, 10, 24, 23, 0),
          utc_ms(2026, 10, 25, 0, 0), utc_ms(2026, 10, 25, 2, 0), utc_ms(2026, 10, 25, 3, 0),
          utc_ms(2026, 10, 25, 4, 0));
    /* Every 30 minutes, spring: 02:00, 02:30 and 03:00 are one tick at 01:00 UTC. */
    TICKS("*/30 * * * *", tz, utc_ms(2026, 3, 29, 0, 0), utc_ms(2026, 3, 29, 0, 30), utc_ms(2026, 3, 29, 1, 0),
          utc_ms(2026, 3, 29, 1, 30), utc_ms(2026, 3, 29, 2, 0), utc_ms(2026, 3, 29, 2, 30));
    /* Every 30 minutes, autumn: 02:00 and 02:30 CET (01:00, 01:30 UTC) repeat: no ticks. */
    TICKS("*/30 * * * *", tz, utc_ms(2026, 10, 24, 23, 0), utc_ms(2026, 10, 24, 23, 30), utc_ms(2026, 10, 25, 0, 0),
          utc_ms(2026, 10, 25, 0, 30), utc_ms(2026, 10, 25, 2, 0), utc_ms(2026, 10, 25, 2, 30));
    /* Local midnight stays local midnight across a change. */
    TICKS("@daily", tz, utc_ms(2026, 3, 27, 12, 0), utc_ms(2026, 3, 27, 23, 0), utc_ms(2026, 3, 28, 23, 0),
          utc_ms(2026, 3, 29, 22, 0));
    hw_tz_free(tz);
}

static void test_dst_new_york(void)
{
    hw_tz *tz = hw_tz_load("America/New_York", NULL, 0);
    CHECK(tz != NULL);
    if (!tz) return;
    /* 2026-03-08: 02:00 EST jumps to 03:00 EDT (07:00 UTC). */
    TICKS("0 2 * * *", tz, utc_ms(2026, 3, 6, 12, 0), utc_ms(2026, 3, 7, 7, 0), utc_ms(2026, 3, 8, 7, 0),
          utc_ms(2026, 3, 9, 6, 0));
    TICKS("30 1 * * *", tz, utc_ms(2026, 3, 6, 12, 0), utc_ms(2026, 3, 7, 6, 30), utc_ms(2026, 3, 8, 6, 30),
          utc_ms(2026, 3, 9, 5, 30));
    /* 2026-11-01: 02:00 EDT goes back to 01:00 EST (06:00 UTC); 02:00 occurs once, 01:30 twice. */
    TICKS("0 2 * * *", tz, utc_ms(2026, 10, 30, 12, 0), utc_ms(2026, 10, 31, 6, 0), utc_ms(2026, 11, 1, 7, 0),
          utc_ms(2026, 11, 2, 7, 0));
    TICKS("30 1 * * *", tz, utc_ms(2026, 10, 30, 12, 0), utc_ms(2026, 10, 31, 5, 30), utc_ms(2026, 11, 1, 5, 30),
          utc_ms(2026, 11, 2, 6, 30));
    hw_tz_free(tz);
}

static void test_dst_sydney(void)
{
    hw_tz *tz = hw_tz_load("Australia/Sydney", NULL, 0);
    CHECK(tz != NULL);
    if (!tz) return;
    /* 2026-10-04 02:00 AEST jumps to 03:00 AEDT (16:00 UTC the day before). */
    TICKS("30 2 * * *", tz, utc_ms(2026, 10, 2, 0, 0), utc_ms(2026, 10, 2, 16, 30), utc_ms(2026, 10, 3, 16, 0),
          utc_ms(2026, 10, 4, 15, 30));
    /* 2026-04-05 03:00 AEDT goes back to 02:00 AEST: 02:30 once, at 15:30 UTC. */
    TICKS("30 2 * * *", tz, utc_ms(2026, 4, 3, 0, 0), utc_ms(2026, 4, 3, 15, 30), utc_ms(2026, 4, 4, 15, 30),
          utc_ms(2026, 4, 5, 16, 30));
    hw_tz_free(tz);
}

/* In a zone, the tick after `after` is the first instant > after among the
 * instants of the matching local minutes (gap: its end; repeat: the first),
 * found here by walking local minutes one by one from a day before. */
static long long ref_next_in_zone(const hw_cron *c, const hw_tz *tz, long long after_ms)
{
    long long a = after_ms >= 0 ? after_ms / 1000 : -((-after_ms + 999) / 1000);
    long long w = a + hw_tz_offset(tz, a) - 86400;
    w -= ((w % 60) + 60) % 60;
    for (int i = 0; i < 60 * 24 * 40; i++, w += 60) {
        if (!ref_matches(c, w * 1000)) continue;
        long long out[2], gap;
        long long u = (hw_tz_to_utc(tz, w, out, &gap) ? out[0] : gap) * 1000;
        if (u > after_ms) return u;
    }
    return -2;
}

static void test_zones_against_reference(void)
{
    static const char *const zones[] = {"Europe/Berlin",       "America/New_York",  "Australia/Sydney",
                                        "Australia/Lord_Howe", "America/Sao_Paulo", "Asia/Kolkata"};
    static const char *const schedules[] = {
        "* * * * *", "*/30 * * * *", "0 * * * *", "15,45 1-3 * * *",        "30 2 * * *",
        "0 2 * * *", "59 1 * * 0",   "0 0 * * *", "0,30 0-5 * 3,4,10,11 *", "30 1 1-10 * sun"};
    for (size_t z = 0; z < sizeof zones / sizeof zones[0]; z++) {
        hw_tz *tz = hw_tz_load(zones[z], NULL, 0);
        CHECK(tz != NULL);
        if (!tz) continue;
        int bad = 0;
        for (int i = 0; i < 250 && bad < 3; i++) {
            hw_cron c = parse_ok(schedules[rnd() % (sizeof schedules / sizeof schedules[0])]);
            /* Near the changes: March/April and October/November of 2020..2030. */
            int year = 2020 + (int)(rnd() % 11), month = (int)(rnd() % 2) ? 3 : 10;
            long long after = utc_ms(year, month, 1, 0, 0) + (long long)(rnd() % (62ULL * DAY_MS));
            if (i % 2) after -= after % (30 * MIN_MS);
            long long want = ref_next_in_zone(&c, tz, after), got = hw_cron_next(&c, tz, after);
            /* Past the reference's 40 days, only "later than 39 days" is known. */
            int same = want == -2 ? got > after + 39 * DAY_MS : got == want;
            if (!same) {
                bad++;
                CHECK(same);
                fprintf(stderr, "  %s '%s' after %lld: got %lld, reference %lld\n", zones[z], hw_cron_text(&c), after,
                        got, want);
            }
        }
        hw_tz_free(tz);
    }
}

int main(void)
{
    test_parse_fields();
    test_parse_macros();
    test_parse_errors();
    test_next_utc();
    test_vixie_day_rule();
    test_every();
    test_against_reference();
    test_dst_berlin();
    test_dst_new_york();
    test_dst_sydney();
    test_zones_against_reference();
    return check_report("test_cron");
}
