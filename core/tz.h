/* IANA time zones read from the system's TZif files (tzdata), and the
 * integer civil-date arithmetic they and the cron schedules (cron.h) share.
 * Nothing here reads or sets the C library's time zone state (localtime,
 * the TZ variable): a loaded zone is plain immutable data. */
#ifndef HW_TZ_H
#define HW_TZ_H

#include <stddef.h>

/* Longest zone name hw_tz_load accepts, in bytes. */
#define HW_TZ_NAME_MAX 200

/* A loaded zone: immutable once loaded, so threads may share one freely. */
typedef struct hw_tz hw_tz;

/* Loads zone `name` ("UTC", "Europe/Berlin", "America/New_York") from the
 * directory $TZDIR names, or /usr/share/zoneinfo. Refuses names that are
 * empty, absolute, hold "..", a control character or more than
 * HW_TZ_NAME_MAX bytes, files that are not regular, larger than 1 MiB, not
 * TZif (versions 1 to 4) or with counts over sane limits, and leap-second
 * ("right/") zones. Version 2+ files are read through their 64-bit data and
 * their footer's POSIX TZ string, which gives the offsets after the last
 * transition (Debian's "slim" files keep future rules there alone).
 * Returns the zone (the caller owns it: hw_tz_free), or NULL with err set
 * to a one-line message naming the zone and the cause ("unknown time zone
 * 'Europe/Berln': no file /usr/share/zoneinfo/Europe/Berln"). Thread-safe
 * (reads $TZDIR, never changes the environment). */
hw_tz *hw_tz_load(const char *name, char *err, size_t errlen);

/* Frees a zone from hw_tz_load; NULL is a no-op. No thread may still use it. */
void hw_tz_free(hw_tz *tz);

/* The name the zone was loaded by; valid while tz lives. Thread-safe. */
const char *hw_tz_name(const hw_tz *tz);

/* Seconds east of UTC in force at the UTC instant t (seconds since the
 * epoch). Instants before the year -100000 or after 100000 are read as
 * those years' ends. Thread-safe, no allocation, never fails. */
long hw_tz_offset(const hw_tz *tz, long long t);

/* The UTC instants whose local wall-clock time is `local` (seconds since
 * the epoch as if local time were UTC). Returns 1 (out[0]), 2 (a repeated
 * hour when clocks go back: out[0] < out[1], the two earliest if a zone
 * ever repeats a time more often) or 0 (local falls in a gap when clocks
 * jump forward; *gap_end is then the UTC instant the gap ends at, when
 * the new offset starts). Thread-safe, no allocation. */
int hw_tz_to_utc(const hw_tz *tz, long long local, long long out[2], long long *gap_end);

/* ---- civil dates (proleptic Gregorian calendar, integers only) ---- */

/* Days since 1970-01-01 of the date y-m-d (m 1..12, d 1..31). */
long long hw_days_from_civil(long long y, int m, int d);
/* The date of `days` since 1970-01-01. */
void hw_civil_from_days(long long days, long long *y, int *m, int *d);
/* The day of the week of `days` since 1970-01-01: 0 Sunday .. 6 Saturday. */
int hw_weekday_from_days(long long days);
/* 1 when y is a leap year. */
int hw_is_leap_year(long long y);
/* Days in month m (1..12) of year y. */
int hw_days_in_month(long long y, int m);
/* a / b rounded toward minus infinity (b > 0). */
long long hw_floor_div(long long a, long long b);

#endif
