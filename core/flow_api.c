/* The public flow-control calls (hworker.h): pause, resume and limits,
 * written into every shard's flow hash, which the claim script reads
 * (docs/flow-control.md). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "errors.h"
#include "group_key.h"
#include "internal.h"
#include "script_args.h"

/* Runs a settings script on the producer connection and frees its args:
 * HWORKER_OK when Redis answers with an integer, else the failure with
 * `what` in the message. */
static hworker_rc run_setting(hworker *h, hw_script script, int nkeys, hw_args *args, const char *what, char *err,
                              size_t errlen)
{
    redisReply *r = hw_producer_script(h, script, nkeys, args, what, err, errlen);
    hw_args_free(args);
    if (r == NULL) return HWORKER_E_REDIS;
    hworker_rc rc = HWORKER_OK;
    if (r->type != REDIS_REPLY_INTEGER) {
        hw_conn_explain(&h->producer, r, what, err, errlen);
        rc = HWORKER_E_REDIS;
    }
    freeReplyObject(r);
    return rc;
}

static hworker_rc set_paused(hworker *h, int pause, char *err, size_t errlen)
{
    HW_ERR_BUF(err, errlen);
    const char *what = pause ? "cannot pause the queue" : "cannot resume the queue";
    for (int k = 0; k < h->nshards; k++) {
        hw_args args = {0};
        int nkeys = hw_pause_args(&args, &h->shard[k], pause);
        hworker_rc rc = run_setting(h, HW_SCRIPT_PAUSE, nkeys, &args, what, err, errlen);
        if (rc != HWORKER_OK) return rc;
    }
    return HWORKER_OK;
}

hworker_rc hworker_pause(hworker *h, char *err, size_t errlen) { return set_paused(h, 1, err, errlen); }
hworker_rc hworker_resume(hworker *h, char *err, size_t errlen) { return set_paused(h, 0, err, errlen); }

/* Shard k's share of `total` split over `shards`: the first total % shards
 * shards get one more, so the shares sum to the total. */
static long long share(long long total, int k, int shards) { return total / shards + (k < total % shards ? 1 : 0); }

static void add_count(hw_args *a, long long v)
{
    if (v > 0) hw_args_addll(a, v);
    else hw_args_adds(a, "");
}

#define HW_LIMIT_MAX 1000000000000LL

hworker_rc hworker_set_limits(hworker *h, const hworker_limits *l, char *err, size_t errlen)
{
    HW_ERR_BUF(err, errlen);
    int s = h->nshards;
    const char *name = h->cfg.name;
    if (l == NULL) return hw_fail(HWORKER_E_INVALID, err, errlen, "hworker_set_limits: no limits given");
    if (l->concurrency < 0 || l->concurrency > HW_LIMIT_MAX || l->rate < 0 || l->rate > HW_LIMIT_MAX || l->burst < 0 ||
        l->burst > HW_LIMIT_MAX)
        return hw_fail(HWORKER_E_INVALID, err, errlen,
                       "queue '%s': concurrency, rate and burst must be from 0 (none) to %lld", name, HW_LIMIT_MAX);
    if (l->rate > 0 && (l->rate_period_ms < 1 || l->rate_period_ms > HW_LIMIT_MAX))
        return hw_fail(HWORKER_E_INVALID, err, errlen, "queue '%s': a rate needs a period of 1 ms or more", name);
    if (l->rate > 0 && (double)l->rate_period_ms / (double)share(l->rate, 0, s) < 0.001)
        return hw_fail(HWORKER_E_INVALID, err, errlen,
                       "queue '%s': a rate of %lld per %lld ms is over a million starts a second per shard: lower it",
                       name, l->rate, l->rate_period_ms);
    if ((l->concurrency > 0 && l->concurrency < s) || (l->rate > 0 && l->rate < s))
        return hw_fail(HWORKER_E_INVALID, err, errlen,
                       "queue '%s' has %d shards, and each runs its share of a limit: set the concurrency and the "
                       "rate to %d or more (or use fewer shards)",
                       name, s, s);
    for (int k = 0; k < s; k++) {
        hw_args args = {0};
        int nkeys = hw_limit_args(&args, &h->shard[k]);
        add_count(&args, share(l->concurrency, k, s));
        if (l->rate > 0) {
            char interval[64];
            snprintf(interval, sizeof interval, "%.6f", (double)l->rate_period_ms / (double)share(l->rate, k, s));
            hw_args_adds(&args, interval);
            add_count(&args, share(l->burst, k, s));
        } else {
            hw_args_adds(&args, "");
            hw_args_adds(&args, "");
        }
        add_count(&args, l->concurrency);
        add_count(&args, l->rate);
        add_count(&args, l->rate > 0 ? l->rate_period_ms : 0);
        add_count(&args, l->rate > 0 ? l->burst : 0);
        hworker_rc rc = run_setting(h, HW_SCRIPT_LIMIT, nkeys, &args, "cannot set the limits", err, errlen);
        if (rc != HWORKER_OK) return rc;
    }
    return HWORKER_OK;
}

hworker_rc hworker_set_group_limits(hworker *h, const char *group, const hworker_limits *l, char *err, size_t errlen)
{
    HW_ERR_BUF(err, errlen);
    if (l == NULL) return hw_fail(HWORKER_E_INVALID, err, errlen, "hworker_set_group_limits: no limits given");
    if (hw_group_key_check(group, 1, err, errlen)) return HWORKER_E_INVALID;
    if (l->concurrency < 0 || l->concurrency > HW_LIMIT_MAX || l->rate < 0 || l->rate > HW_LIMIT_MAX || l->burst < 0 ||
        l->burst > HW_LIMIT_MAX)
        return hw_fail(HWORKER_E_INVALID, err, errlen,
                       "a group's concurrency, rate and burst must be from 0 (none) to %lld", HW_LIMIT_MAX);
    if (l->rate > 0 && (l->rate_period_ms < 1 || l->rate_period_ms > HW_LIMIT_MAX))
        return hw_fail(HWORKER_E_INVALID, err, errlen, "a group's rate needs a period of 1 ms or more");
    if (l->rate > 0 && (double)l->rate_period_ms / (double)l->rate < 0.001)
        return hw_fail(HWORKER_E_INVALID, err, errlen,
                       "a group's rate of %lld per %lld ms is over a million starts a second: lower it", l->rate,
                       l->rate_period_ms);
    /* Every shard: a group's jobs wait in one, every group's limits in all. */
    for (int k = 0; k < h->nshards; k++) {
        hw_args args = {0};
        int nkeys = hw_group_limit_args(&args, &h->shard[k], group, l);
        hworker_rc rc =
            run_setting(h, HW_SCRIPT_GROUP_LIMIT, nkeys, &args, "cannot set the group's limits", err, errlen);
        if (rc != HWORKER_OK) return rc;
    }
    return HWORKER_OK;
}

hworker_rc hworker_get_limits(hworker *h, hworker_limits *l, int *paused, char *err, size_t errlen)
{
    HW_ERR_BUF(err, errlen);
    hworker_stats st;
    hworker_rc rc = hworker_get_stats(h, &st, err, errlen);
    if (rc != HWORKER_OK) return rc;
    l->concurrency = st.concurrency;
    l->rate = st.rate;
    l->rate_period_ms = st.rate_period_ms;
    l->burst = st.burst;
    if (paused) *paused = st.paused != 0;
    return HWORKER_OK;
}

/* The ms in one unit of a rate's period, or 0 for an unknown unit. */
static long long unit_ms(const char *u)
{
    static const struct {
        const char *name;
        long long ms;
    } units[] = {
        {"ms", 1},         {"s", 1000},    {"sec", 1000},     {"second", 1000}, {"m", 60000},      {"min", 60000},
        {"minute", 60000}, {"h", 3600000}, {"hour", 3600000}, {"d", 86400000},  {"day", 86400000},
    };
    size_t n = strlen(u);
    char base[16];
    if (n == 0 || n >= sizeof base) return 0;
    memcpy(base, u, n + 1);
    if (n > 1 && base[n - 1] == 's' && strcmp(base, "ms") != 0) base[n - 1] = '\0'; /* "seconds" */
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strcasecmp(units[i].name, base) == 0 || strcasecmp(units[i].name, u) == 0) return units[i].ms;
    return 0;
}

hworker_rc hworker_parse_rate(const char *text, long long *rate, long long *period_ms, char *err, size_t errlen)
{
    HW_ERR_BUF(err, errlen);
    static const char forms[] = "write it as COUNT/PERIOD, e.g. 100/s, 6000/min, 10/h or 5/10s (or 0 for none)";
    if (text == NULL) return hw_fail(HWORKER_E_INVALID, err, errlen, "no rate given: %s", forms);
    if (strcmp(text, "0") == 0 || strcasecmp(text, "none") == 0) {
        *rate = *period_ms = 0;
        return HWORKER_OK;
    }
    char *end;
    errno = 0;
    long long n = strtoll(text, &end, 10);
    if (!isdigit((unsigned char)text[0]) || errno || n < 1 || n > HW_LIMIT_MAX || *end != '/')
        return hw_fail(HWORKER_E_INVALID, err, errlen, "rate '%.64s': %s", text, forms);
    const char *p = end + 1;
    long long times = 1;
    if (isdigit((unsigned char)*p)) {
        errno = 0;
        times = strtoll(p, &end, 10);
        if (errno || times < 1 || times > 1000000)
            return hw_fail(HWORKER_E_INVALID, err, errlen, "rate '%.64s': %s", text, forms);
        p = end;
    }
    long long ms = unit_ms(p);
    if (ms == 0)
        return hw_fail(HWORKER_E_INVALID, err, errlen, "rate '%.64s': unknown unit '%.16s': %s", text, p, forms);
    *rate = n;
    *period_ms = ms * times;
    return HWORKER_OK;
}
