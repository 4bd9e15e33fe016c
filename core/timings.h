/* Timings and history (docs/operations.md, "History and timings"): each
 * worker gathers the wait and run times of the jobs it ran into a small
 * histogram, and the finish script that reports their outcomes adds it to
 * the queue's totals and to the current minute's and hour's buckets, in the
 * same call. The buckets' bounds and the keys' lifetimes are defined here
 * once; the scripts are given them. */
#ifndef HW_TIMINGS_H
#define HW_TIMINGS_H

#include "buf.h"
#include "hworker.h"

/* How long the history keeps its buckets: a minute's for two days, an
 * hour's for thirty; the keys expire one bucket after that. */
#define HW_HISTORY_MINUTES (48 * 60)
#define HW_HISTORY_HOURS (30 * 24)

/* The longest wait a run counts with (30 days, in ms): every longer one is
 * in the last bucket anyway, and the sum stays far from overflow. */
#define HW_WAIT_TIMED_MS (30LL * 24 * 3600 * 1000)

/* The bucket a duration of `us` microseconds falls in (0 to
 * HWORKER_TIMING_BUCKETS - 1; the last has no upper bound). */
int hw_timing_bucket(long long us);

/* A worker's timings since its last report. Owned by one worker. */
typedef struct hw_timings_acc {
    long long wait[HWORKER_TIMING_BUCKETS], run[HWORKER_TIMING_BUCKETS];
    long long wait_sum_us, run_sum_us, n;
} hw_timings_acc;

/* Counts one run: it waited wait_us from its due time to its start and ran
 * run_us. Negative values count as 0; the sums saturate. */
void hw_timings_add(hw_timings_acc *t, long long wait_us, long long run_us);

/* Adds the history argument of a finish call to `args` (the lifetimes of a
 * minute's and an hour's bucket in seconds, then "name=count" for each
 * timing field that is not 0) and clears `t`. */
void hw_timings_arg(hw_timings_acc *t, hw_args *args);

/* Adds one stored field (a name of a history hash or the totals hash, and
 * its value as Redis keeps it) to `wait` and `run`; other fields and values
 * that are not whole numbers are ignored, so a hand-edited key reads as
 * what it holds that makes sense. */
void hw_timings_read_field(const char *name, size_t name_len, const char *value, size_t value_len, hworker_timing *wait,
                           hworker_timing *run);

/* The value of a stored count: its digits (LLONG_MAX for more than fit),
 * or 0 when it is not a whole number (Redis keys may hold anything). */
long long hw_stored_count(const char *value, size_t len);

/* a + b, held at LLONG_MAX rather than overflowing (both >= 0). */
long long hw_count_add(long long a, long long b);

#endif
