/* Cron schedules: parsed from text once, then asked for their next tick.
 * A tick depends only on (schedule, zone, instant), so every process that
 * asks computes the same one. docs/cron-schedules.md describes the syntax
 * and the daylight-saving rules. */
#ifndef HW_CRON_H
#define HW_CRON_H

#include <stddef.h>
#include <stdint.h>

#include "tz.h"

/* Longest schedule text hw_cron_parse accepts, in bytes. */
#define HW_CRON_TEXT_MAX 200

/* A parsed schedule: plain data, no heap; copy it freely, share it read-only. */
typedef struct hw_cron {
    long long every_ms; /* "@every": the interval; 0 for a field schedule */
    uint64_t minutes;   /* bit m: minute m (0..59) matches */
    uint32_t hours;     /* bit h: hour h (0..23) */
    uint32_t mdays;     /* bit d: day of month d (1..31) */
    uint16_t months;    /* bit m: month m (1..12) */
    uint8_t wdays;      /* bit d: day of week d (0 Sunday .. 6 Saturday) */
    /* The day-of-month and day-of-week fields start with '*': when neither
     * does, a day matches if either field does (Vixie cron's rule). */
    uint8_t mday_star, wday_star;
    char text[HW_CRON_TEXT_MAX + 1]; /* the canonical text: hw_cron_text */
} hw_cron;

/* Parses a schedule:
 *  - five fields "minute hour day-of-month month day-of-week", each a
 *    comma-separated list of '*', N, A-B, * /S or A-B/S; months also
 *    jan..dec, days sun..sat (any case), 7 is Sunday too;
 *  - @hourly, @daily (= @midnight), @weekly, @monthly, @yearly (= @annually);
 *  - "@every D": D a whole number with a unit ms, s, m, h or d, or several
 *    from the largest unit down ("1h30m"); from 1s to 366 days.
 * Returns 0 with *out filled, or -1 with *out zeroed and err set to a
 * one-line message naming the field and the fault ("minute field '61':
 * values go from 0 to 59"). Thread-safe, no allocation. */
int hw_cron_parse(const char *text, hw_cron *out, char *err, size_t errlen);

/* The first tick strictly after after_ms (UTC, ms since the epoch) in zone
 * tz (NULL: UTC). "@every D" ticks at the multiples of D since the epoch,
 * whatever the zone. A field schedule ticks at whole local minutes; a
 * local time in a spring-forward gap ticks once when the gap ends (one
 * tick however many local times land there), one that occurs twice in
 * autumn ticks at its first occurrence only. Returns -1 when there is no
 * tick within 1830 days (five years of 366), or after_ms is outside the
 * years 1..9999. Thread-safe, no allocation. */
long long hw_cron_next(const hw_cron *c, const hw_tz *tz, long long after_ms);

/* The schedule's canonical text: the input without leading and trailing
 * white space, each run of white space inside made one space. Valid while
 * c lives. Thread-safe. */
const char *hw_cron_text(const hw_cron *c);

#endif
