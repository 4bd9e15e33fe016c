#include "script_args.h"

#include <stdlib.h>

#include "text_cap.h"

static int add_keys(hw_args *a, const hw_keys *k, const hw_key *roles, int n)
{
    hw_args_clear(a);
    for (int i = 0; i < n; i++) hw_args_adds(a, k->key[roles[i]]);
    return n;
}

#define ADD_KEYS(a, k, ...) \
    add_keys(a, k, (const hw_key[]){__VA_ARGS__}, (int)(sizeof((const hw_key[]){__VA_ARGS__}) / sizeof(hw_key)))

static long long ms(double seconds) { return (long long)(seconds * 1000.0); }

int hw_claim_args(hw_args *a, const hw_keys *k, const hworker_config *cfg, long n, const char *holder, int may_wait)
{
    int nkeys = ADD_KEYS(a, k, HW_KEY_PENDING, HW_KEY_INFLIGHT, HW_KEY_SEQ, HW_KEY_FLOW, HW_KEY_OPEN, HW_KEY_URGENT,
                         HW_KEY_GROUPS, HW_KEY_GROUP_DUE, HW_KEY_EVENTS);
    hw_args_addll(a, n);
    hw_args_addll(a, ms(cfg->lease));
    hw_args_adds(a, holder);
    hw_args_addll(a, may_wait ? ms(cfg->block_timeout) : -1);
    return nkeys;
}

int hw_finish_args(hw_args *a, const hw_keys *k, const hworker_config *cfg)
{
    int nkeys = ADD_KEYS(a, k, HW_KEY_PENDING, HW_KEY_INFLIGHT, HW_KEY_SCHEDULED, HW_KEY_FAILED, HW_KEY_BROKEN,
                         HW_KEY_STATS, HW_KEY_UNIQUE, HW_KEY_LATENESS, HW_KEY_FLOW, HW_KEY_FREED, HW_KEY_URGENT,
                         HW_KEY_SEQ, HW_KEY_GROUPS, HW_KEY_TIMINGS, HW_KEY_CANCELS, HW_KEY_EVENTS);
    hw_args_addll(a, cfg->failed_cap);
    hw_args_addll(a, cfg->broken_cap);
    return nkeys;
}

void hw_finish_add(hw_args *a, char outcome, const char *claim, size_t len, const char *reason, long long delay_ms,
                   long long late_ms)
{
    char tagged[32];
    int n = late_ms >= 0 ? snprintf(tagged, sizeof tagged, "%c%lld", outcome, late_ms) : 0;
    if (n > 0) hw_args_add(a, tagged, (size_t)n);
    else hw_args_add(a, &outcome, 1);
    hw_args_add(a, claim, len);
    hw_text_arg(a, reason ? reason : "");
    hw_args_addll(a, delay_ms > 0 ? delay_ms : 0);
}

int hw_renew_args(hw_args *a, const hw_keys *k, const hworker_config *cfg, int count_lost)
{
    int nkeys = ADD_KEYS(a, k, HW_KEY_INFLIGHT, HW_KEY_STATS, HW_KEY_CANCELS);
    hw_args_addll(a, ms(cfg->lease));
    hw_args_adds(a, count_lost ? "1" : "0");
    return nkeys;
}

int hw_handback_args(hw_args *a, const hw_keys *k)
{
    return ADD_KEYS(a, k, HW_KEY_PENDING, HW_KEY_INFLIGHT, HW_KEY_STATS, HW_KEY_FLOW, HW_KEY_FREED, HW_KEY_URGENT,
                    HW_KEY_SEQ, HW_KEY_GROUPS, HW_KEY_CANCELS, HW_KEY_UNIQUE, HW_KEY_EVENTS);
}

int hw_sweep_args(hw_args *a, const hw_keys *k, const hworker_config *cfg, long batch)
{
    int nkeys = ADD_KEYS(a, k, HW_KEY_PENDING, HW_KEY_INFLIGHT, HW_KEY_SCHEDULED, HW_KEY_FAILED, HW_KEY_BROKEN,
                         HW_KEY_STATS, HW_KEY_UNIQUE, HW_KEY_FLOW, HW_KEY_FREED, HW_KEY_URGENT, HW_KEY_SEQ,
                         HW_KEY_GROUPS, HW_KEY_GROUP_DUE, HW_KEY_CANCELS, HW_KEY_EVENTS);
    hw_args_addll(a, batch);
    hw_args_addll(a, cfg->max_recoveries);
    hw_args_addll(a, cfg->failed_cap);
    hw_args_addll(a, ms(cfg->failed_max_age));
    hw_args_addll(a, ms(cfg->broken_max_age));
    return nkeys;
}

int hw_enqueue_args(hw_args *a, const hw_keys *k, const char *when, int priority, const char *group)
{
    int nkeys = ADD_KEYS(a, k, HW_KEY_PENDING, HW_KEY_SCHEDULED, HW_KEY_STATS, HW_KEY_UNIQUE, HW_KEY_URGENT, HW_KEY_SEQ,
                         HW_KEY_GROUPS, HW_KEY_FLOW, HW_KEY_EVENTS);
    hw_args_adds(a, when);
    hw_args_addll(a, priority);
    hw_args_adds(a, group ? group : "");
    return nkeys;
}

int hw_stats_args(hw_args *a, const hw_keys *k)
{
    return ADD_KEYS(a, k, HW_KEY_PENDING, HW_KEY_INFLIGHT, HW_KEY_SCHEDULED, HW_KEY_FAILED, HW_KEY_BROKEN, HW_KEY_STATS,
                    HW_KEY_LATENESS, HW_KEY_FLOW, HW_KEY_URGENT, HW_KEY_GROUPS);
}

int hw_records_args(hw_args *a, const hw_keys *k, hw_key part, int requeue)
{
    if (!requeue) return ADD_KEYS(a, k, part);
    return ADD_KEYS(a, k, part, HW_KEY_PENDING, HW_KEY_STATS, HW_KEY_UNIQUE, HW_KEY_URGENT, HW_KEY_SEQ, HW_KEY_GROUPS,
                    HW_KEY_FLOW, HW_KEY_EVENTS);
}

int hw_pause_args(hw_args *a, const hw_keys *k, int pause)
{
    int nkeys = ADD_KEYS(a, k, HW_KEY_FLOW, HW_KEY_OPEN);
    hw_args_adds(a, pause ? "1" : "0");
    return nkeys;
}

int hw_limit_args(hw_args *a, const hw_keys *k) { return ADD_KEYS(a, k, HW_KEY_FLOW, HW_KEY_FREED); }

static void add_count(hw_args *a, long long v)
{
    if (v > 0) hw_args_addll(a, v);
    else hw_args_adds(a, "");
}

int hw_group_limit_args(hw_args *a, const hw_keys *k, const char *group, const hworker_limits *l)
{
    int nkeys = ADD_KEYS(a, k, HW_KEY_GROUPS, HW_KEY_PENDING, HW_KEY_GROUP_DUE);
    hw_args_adds(a, group);
    add_count(a, l->concurrency);
    if (l->rate > 0) {
        char interval[64];
        snprintf(interval, sizeof interval, "%.6f", (double)l->rate_period_ms / (double)l->rate);
        hw_args_adds(a, interval);
    } else {
        hw_args_adds(a, "");
    }
    add_count(a, l->rate > 0 ? l->burst : 0);
    add_count(a, l->rate);
    add_count(a, l->rate > 0 ? l->rate_period_ms : 0);
    return nkeys;
}

int hw_cron_args(hw_args *a, const hw_keys *k) { return ADD_KEYS(a, k, HW_KEY_CRON, HW_KEY_CRON_STATE); }

int hw_queue_registry_args(hw_args *a, const char *op, const char *queue)
{
    hw_args_clear(a);
    hw_args_adds(a, HW_QUEUES_KEY);
    hw_args_adds(a, op);
    hw_args_adds(a, queue);
    return 1;
}

int hw_procs_args(hw_args *a, const char *queue)
{
    char *procs = hw_keys_procs(queue, "procs"), *beats = hw_keys_procs(queue, "beats");
    hw_args_clear(a);
    hw_args_adds(a, procs);
    hw_args_adds(a, beats);
    free(procs);
    free(beats);
    return 2;
}

int hw_cron_tick_args(hw_args *a, const hw_keys *k)
{
    return ADD_KEYS(a, k, HW_KEY_CRON, HW_KEY_CRON_STATE, HW_KEY_PENDING, HW_KEY_STATS, HW_KEY_UNIQUE, HW_KEY_FLOW,
                    HW_KEY_EVENTS);
}
