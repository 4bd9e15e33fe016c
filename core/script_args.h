/* The KEYS and leading ARGV of each script in scripts/, built here once for
 * every caller: workers, the lease keeper, the monitor, producers,
 * inspection and the single steps (hworker_steps.h). Every script takes
 * the keys it needs in one order, that of hw_key (pending, inflight,
 * scheduled, failed, broken, stats, seq, unique); requeue and forget,
 * which act on a records list the caller picks, take it first. A
 * builder clears `a` first; each returns the script's key count. */
#ifndef HW_SCRIPT_ARGS_H
#define HW_SCRIPT_ARGS_H

#include "internal.h"

/* claim.lua: up to n jobs for holder, leased for cfg->lease. `may_wait`:
 * the caller waits on this shard if the rate limit holds it back, so it is
 * given a turn to come back at. */
int hw_claim_args(hw_args *a, const hw_keys *k, const hworker_config *cfg, long n, const char *holder, int may_wait);
/* finish.lua: the caps; then hw_finish_add once per outcome. */
int hw_finish_args(hw_args *a, const hw_keys *k, const hworker_config *cfg);
/* One outcome ('s', 'r', 'f', 'b', 'x') of a claim; the reason is capped
 * (text_cap.h), a negative delay is 0 (the back-off decides). late_ms: how
 * many ms after its due time a job that waited started, or -1. */
void hw_finish_add(hw_args *a, char outcome, const char *claim, size_t len, const char *reason, long long delay_ms,
                   long long late_ms);
/* renew.lua: lease renewal; count_lost: a claim no longer held counts as
 * lease_lost. The claims follow, one argument each. */
int hw_renew_args(hw_args *a, const hw_keys *k, const hworker_config *cfg, int count_lost);
/* handback.lua: the claims follow, one argument each. */
int hw_handback_args(hw_args *a, const hw_keys *k);
/* recover.lua: one monitor sweep of at most `batch` of each kind. */
int hw_sweep_args(hw_args *a, const hw_keys *k, const hworker_config *cfg, long batch);
/* cron_add.lua, cron_rm.lua, cron_read.lua: the cron keys (shard 0's). */
int hw_cron_args(hw_args *a, const hw_keys *k);
/* beat.lua, processes.lua: the keys of queue `queue`'s process registry. */
int hw_procs_args(hw_args *a, const char *queue);
/* queue_registry.lua: adds queue `queue` to the registry ("add") or
 * takes it out ("remove"). */
int hw_queue_registry_args(hw_args *a, const char *op, const char *queue);
/* cron_tick.lua: the cron keys, then pending, stats and unique. */
int hw_cron_tick_args(hw_args *a, const hw_keys *k);
/* enqueue.lua: `when` is "0", "<ms from now>" or "@<ms since the epoch>";
 * `group` NULL or "" for none; the jobs follow as triples (id, unique key
 * or "", JSON). */
int hw_enqueue_args(hw_args *a, const hw_keys *k, const char *when, int priority, const char *group);
/* stats.lua. */
int hw_stats_args(hw_args *a, const hw_keys *k);
/* requeue.lua (requeue 1) or forget.lua (0) on the records list `part`
 * (HW_KEY_FAILED or HW_KEY_BROKEN); "all" or "ids" and the ids follow. */
int hw_records_args(hw_args *a, const hw_keys *k, hw_key part, int requeue);

/* pause.lua: pauses (pause = 1) or resumes shard k. */
int hw_pause_args(hw_args *a, const hw_keys *k, int pause);

/* limit.lua: its keys; the caller adds the shard's shares and the totals. */
int hw_limit_args(hw_args *a, const hw_keys *k);

/* group_limit.lua: `group` ("*" for every group) and its limits (0: none). */
int hw_group_limit_args(hw_args *a, const hw_keys *k, const char *group, const hworker_limits *l);

#endif
