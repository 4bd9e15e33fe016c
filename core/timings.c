#include "timings.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* Upper bounds in microseconds: 1 ms to 5 min, roughly 1-2.5-5 per decade,
 * as Prometheus's default buckets and a little beyond, for jobs that wait
 * behind a backlog. The last bucket (HWORKER_TIMING_BUCKETS - 1) is +Inf. */
static const long long bounds_us[HWORKER_TIMING_BUCKETS - 1] = {
    1000,    5000,    10000,   25000,    50000,    100000,   250000,    500000,
    1000000, 2500000, 5000000, 10000000, 30000000, 60000000, 300000000,
};

double hworker_timing_bound(int i)
{
    if (i < 0 || i >= HWORKER_TIMING_BUCKETS) return NAN;
    if (i == HWORKER_TIMING_BUCKETS - 1) return INFINITY;
    return (double)bounds_us[i] / 1e6;
}

int hw_timing_bucket(long long us)
{
    int i = 0;
    while (i < HWORKER_TIMING_BUCKETS - 1 && us > bounds_us[i]) i++;
    return i;
}

void hw_timings_add(hw_timings_acc *t, long long wait_us, long long run_us)
{
    if (wait_us < 0) wait_us = 0;
    if (run_us < 0) run_us = 0;
    t->wait[hw_timing_bucket(wait_us)]++;
    t->run[hw_timing_bucket(run_us)]++;
    t->wait_sum_us = hw_count_add(t->wait_sum_us, wait_us);
    t->run_sum_us = hw_count_add(t->run_sum_us, run_us);
    t->n++;
}

void hw_timings_arg(hw_timings_acc *t, hw_args *args)
{
    hw_buf b = {0};
    hw_buf_addf(&b, "%d %d", (HW_HISTORY_MINUTES + 1) * 60, (HW_HISTORY_HOURS + 1) * 3600);
    if (t->n > 0) {
        hw_buf_addf(&b, " wn=%lld rn=%lld ws=%lld rs=%lld", t->n, t->n, t->wait_sum_us, t->run_sum_us);
        for (int i = 0; i < HWORKER_TIMING_BUCKETS; i++) {
            if (t->wait[i]) hw_buf_addf(&b, " w%d=%lld", i, t->wait[i]);
            if (t->run[i]) hw_buf_addf(&b, " r%d=%lld", i, t->run[i]);
        }
    }
    hw_args_add(args, b.data, b.len);
    hw_buf_free(&b);
    memset(t, 0, sizeof *t);
}

long long hw_count_add(long long a, long long b) { return a > LLONG_MAX - b ? LLONG_MAX : a + b; }

long long hw_stored_count(const char *value, size_t len)
{
    if (len == 0) return 0;
    long long v = 0;
    for (size_t i = 0; i < len; i++) {
        if (value[i] < '0' || value[i] > '9') return 0;
        int digit = value[i] - '0';
        v = v > (LLONG_MAX - digit) / 10 ? LLONG_MAX : v * 10 + digit;
    }
    return v;
}

void hw_timings_read_field(const char *name, size_t name_len, const char *value, size_t value_len, hworker_timing *wait,
                           hworker_timing *run)
{
    if (name_len < 2 || name_len > 3 || (name[0] != 'w' && name[0] != 'r')) return;
    hworker_timing *t = name[0] == 'w' ? wait : run;
    long long v = hw_stored_count(value, value_len);
    if (name_len == 2 && name[1] == 'n') {
        t->count = hw_count_add(t->count, v);
    } else if (name_len == 2 && name[1] == 's') {
        t->sum_us = hw_count_add(t->sum_us, v);
    } else {
        int i = 0;
        for (size_t k = 1; k < name_len; k++) {
            if (name[k] < '0' || name[k] > '9') return;
            i = i * 10 + (name[k] - '0');
        }
        if ((name_len == 3 && name[1] == '0') || i >= HWORKER_TIMING_BUCKETS) return;
        t->bucket[i] = hw_count_add(t->bucket[i], v);
    }
}
