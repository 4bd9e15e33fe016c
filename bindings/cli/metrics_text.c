/* The Prometheus text exposition of every registered queue, for
 * `hworker-lua metrics` and `serve`'s /metrics (docs/operations.md,
 * "Metrics"). Everything is read first, then written family by family: the
 * format wants each metric's samples together. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cli.h"
#include "json.h"
#include "timings.h"

typedef struct facts {
    char *name;
    int shards, read;
    hworker_stats total;
    hworker_stats *shard; /* per shard, when shards > 1 */
    hworker_timing wait, run;
    long long processes, threads, busy;
} facts;

typedef struct gathered {
    facts *q;
    size_t n, cap;
} gathered;

static int add_name(void *ud, const char *name)
{
    gathered *g = ud;
    if (g->n == g->cap) {
        g->cap = g->cap ? g->cap * 2 : 16;
        g->q = realloc(g->q, g->cap * sizeof *g->q);
        if (g->q == NULL) abort();
    }
    memset(&g->q[g->n], 0, sizeof g->q[g->n]);
    g->q[g->n].name = strdup(name);
    if (g->q[g->n].name == NULL) abort();
    g->n++;
    return 0;
}

static int count_process(void *ud, const hworker_process_info *p)
{
    facts *f = ud;
    f->processes++;
    if (p->threads > 0) f->threads += p->threads;
    if (p->busy > 0) f->busy += p->busy;
    return 0;
}

/* Reads one queue's facts; prints why on failure and returns -1. */
static int read_queue(hworker *registry, const cli_redis *redis, facts *f)
{
    int code;
    f->shards = cli_recorded_shards(registry, f->name);
    hworker *h = cli_open_queue("metrics", f->name, redis, f->shards, 0, &code);
    if (h == NULL) return -1;
    char err[512];
    int rc = hworker_get_stats(h, &f->total, err, sizeof err);
    if (rc == HWORKER_OK && f->shards > 1) {
        f->shard = calloc((size_t)f->shards, sizeof *f->shard);
        if (f->shard == NULL) abort();
        for (int k = 0; k < f->shards && rc == HWORKER_OK; k++)
            rc = hworker_get_shard_stats(h, k, &f->shard[k], err, sizeof err);
    }
    if (rc == HWORKER_OK) rc = hworker_get_timings(h, &f->wait, &f->run, err, sizeof err);
    if (rc == HWORKER_OK) rc = hworker_list_processes(h, f->name, count_process, f, err, sizeof err);
    if (rc != HWORKER_OK) cli_error("metrics", "queue %s: %s", f->name, err);
    hworker_free(h);
    f->read = rc == HWORKER_OK;
    return f->read ? 0 : -1;
}

static void family(hw_buf *o, const char *name, const char *type, const char *help)
{
    hw_buf_addf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{queue="...",[shard="k",]extra} with the queue name escaped as the
 * format asks ('"' and '\\'; a queue name holds no newline). A parser
 * refuses a whole scrape for one label that is not UTF-8, so a byte that
 * is not shows as the text \xNN. */
static void sample_start(hw_buf *o, const char *name, const facts *f, int shard, const char *extra)
{
    hw_buf_addf(o, "%s{queue=\"", name);
    const char *end = f->name + strlen(f->name);
    for (const char *p = f->name; p < end;) {
        size_t n = hw_utf8_seq_len(p, end);
        if (n == 0) {
            hw_buf_addf(o, "\\\\x%02X", (unsigned)(unsigned char)*p);
            p++;
            continue;
        }
        if (*p == '"' || *p == '\\') hw_buf_add(o, "\\", 1);
        hw_buf_add(o, p, n);
        p += n;
    }
    hw_buf_add(o, "\"", 1);
    if (shard >= 0) hw_buf_addf(o, ",shard=\"%d\"", shard);
    if (extra) hw_buf_addf(o, ",%s", extra);
    hw_buf_add(o, "} ", 2);
}

/* Writes the stats field at `offset` as metric `name`: one sample for the
 * whole queue, or one per shard of a sharded queue. */
static void per_shard(hw_buf *o, const char *name, const facts *f, const char *extra, size_t offset)
{
    for (int k = f->shards > 1 ? 0 : -1; k < (f->shards > 1 ? f->shards : 0); k++) {
        const hworker_stats *s = k < 0 ? &f->total : &f->shard[k];
        sample_start(o, name, f, k, extra);
        hw_buf_addf(o, "%lld\n", *(const long long *)(const void *)((const char *)s + offset));
    }
}

static const struct {
    const char *state;
    size_t offset;
} sizes[] = {
    {"pending", offsetof(hworker_stats, pending)},     {"inflight", offsetof(hworker_stats, inflight)},
    {"scheduled", offsetof(hworker_stats, scheduled)}, {"failed", offsetof(hworker_stats, failed)},
    {"broken", offsetof(hworker_stats, broken)},
};

static const struct {
    const char *metric, *help;
    size_t offset;
} counters[] = {
    {"hworker_jobs_enqueued_total", "Jobs added to the queue.", offsetof(hworker_stats, enqueued)},
    {"hworker_jobs_processed_total", "Outcomes reported by live claims.", offsetof(hworker_stats, processed)},
    {"hworker_jobs_succeeded_total", "Jobs that succeeded.", offsetof(hworker_stats, succeeded)},
    {"hworker_jobs_retried_total", "Retries asked for.", offsetof(hworker_stats, retried)},
    {"hworker_jobs_failed_total", "Jobs that went to failed.", offsetof(hworker_stats, failed_total)},
    {"hworker_jobs_broken_total", "Payloads that went to broken.", offsetof(hworker_stats, broken_total)},
    {"hworker_jobs_recovered_total", "Jobs taken back from dead workers.", offsetof(hworker_stats, recovered)},
    {"hworker_jobs_lease_lost_total", "Reports and renewals by stale claims.", offsetof(hworker_stats, lease_lost)},
    {"hworker_jobs_handed_back_total", "Jobs handed back at a graceful stop.", offsetof(hworker_stats, handed_back)},
    {"hworker_jobs_promoted_total", "Jobs moved from scheduled to pending.", offsetof(hworker_stats, promoted)},
    {"hworker_jobs_requeued_total", "Records moved back from failed or broken.", offsetof(hworker_stats, requeued)},
    {"hworker_jobs_scheduled_total", "Jobs put in scheduled (delays, retries).",
     offsetof(hworker_stats, scheduled_total)},
    {"hworker_jobs_exhausted_total", "Jobs failed because their attempts ran out.", offsetof(hworker_stats, exhausted)},
    {"hworker_jobs_merged_total", "Copies of one job id that met in scheduled and became one.",
     offsetof(hworker_stats, merged)},
    {"hworker_jobs_cancelled_total", "Jobs cancelled, waiting or running.", offsetof(hworker_stats, cancelled)},
    {"hworker_jobs_deleted_total", "Waiting jobs deleted by id.", offsetof(hworker_stats, deleted)},
};

static void histogram(hw_buf *o, const char *name, const facts *f, const hworker_timing *t)
{
    size_t n = strlen(name);
    char bucket[128], sum[128], count[128];
    snprintf(bucket, sizeof bucket, "%.*s_bucket", (int)n, name);
    snprintf(sum, sizeof sum, "%.*s_sum", (int)n, name);
    snprintf(count, sizeof count, "%.*s_count", (int)n, name);
    long long seen = 0;
    for (int i = 0; i < HWORKER_TIMING_BUCKETS; i++) {
        seen = hw_count_add(seen, t->bucket[i]);
        char le[48];
        if (i == HWORKER_TIMING_BUCKETS - 1) snprintf(le, sizeof le, "le=\"+Inf\"");
        else snprintf(le, sizeof le, "le=\"%g\"", hworker_timing_bound(i));
        sample_start(o, bucket, f, -1, le);
        hw_buf_addf(o, "%lld\n", seen);
    }
    sample_start(o, sum, f, -1, NULL);
    hw_buf_addf(o, "%.6f\n", (double)t->sum_us / 1e6);
    sample_start(o, count, f, -1, NULL);
    hw_buf_addf(o, "%lld\n", seen);
}

static void write_families(hw_buf *o, const gathered *g)
{
    family(o, "hworker_queue_jobs", "gauge", "Jobs in each part of the queue (failed and broken: records kept).");
    for (size_t i = 0; i < g->n; i++) {
        if (!g->q[i].read) continue;
        for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
            char state[48];
            snprintf(state, sizeof state, "state=\"%s\"", sizes[s].state);
            per_shard(o, "hworker_queue_jobs", &g->q[i], state, sizes[s].offset);
        }
    }
    for (size_t c = 0; c < sizeof counters / sizeof *counters; c++) {
        family(o, counters[c].metric, "counter", counters[c].help);
        for (size_t i = 0; i < g->n; i++)
            if (g->q[i].read) per_shard(o, counters[c].metric, &g->q[i], NULL, counters[c].offset);
    }
    family(o, "hworker_queue_latency_seconds", "gauge",
           "How long the job next in line has been ready to run (0: none waits).");
    for (size_t i = 0; i < g->n; i++) {
        if (!g->q[i].read) continue;
        sample_start(o, "hworker_queue_latency_seconds", &g->q[i], -1, NULL);
        hw_buf_addf(o, "%.3f\n", (double)g->q[i].total.latency_ms / 1000.0);
    }
    family(o, "hworker_queue_paused", "gauge", "1 while the queue is paused.");
    for (size_t i = 0; i < g->n; i++) {
        if (!g->q[i].read) continue;
        sample_start(o, "hworker_queue_paused", &g->q[i], -1, NULL);
        hw_buf_addf(o, "%d\n", g->q[i].total.paused ? 1 : 0);
    }
    static const struct {
        const char *metric, *help;
        size_t offset;
    } procs[] = {
        {"hworker_processes", "Live processes with workers on the queue.", offsetof(facts, processes)},
        {"hworker_worker_threads", "Their worker threads.", offsetof(facts, threads)},
        {"hworker_busy_threads", "Of those, the threads running a job at their last beat.", offsetof(facts, busy)},
    };
    for (size_t p = 0; p < sizeof procs / sizeof *procs; p++) {
        family(o, procs[p].metric, "gauge", procs[p].help);
        for (size_t i = 0; i < g->n; i++) {
            if (!g->q[i].read) continue;
            sample_start(o, procs[p].metric, &g->q[i], -1, NULL);
            hw_buf_addf(o, "%lld\n", *(const long long *)(const void *)((const char *)&g->q[i] + procs[p].offset));
        }
    }
    family(o, "hworker_job_wait_seconds", "histogram", "From a job's due time (else its enqueue) to its start.");
    for (size_t i = 0; i < g->n; i++)
        if (g->q[i].read) histogram(o, "hworker_job_wait_seconds", &g->q[i], &g->q[i].wait);
    family(o, "hworker_job_run_seconds", "histogram", "How long each run's handler ran.");
    for (size_t i = 0; i < g->n; i++)
        if (g->q[i].read) histogram(o, "hworker_job_run_seconds", &g->q[i], &g->q[i].run);
}

int cli_metrics_text(hw_buf *out, hworker *registry, const cli_redis *redis)
{
    gathered g = {0};
    char err[512];
    int failures = 0;
    if (hworker_list_queues(registry, add_name, &g, err, sizeof err) != HWORKER_OK) {
        cli_error("metrics", "%s", err);
        failures++;
    }
    for (size_t i = 0; i < g.n; i++)
        if (read_queue(registry, redis, &g.q[i]) != 0) failures++;
    write_families(out, &g);
    family(out, "hworker_scrape_errors", "gauge", "Queues (or the registry) this scrape could not read.");
    hw_buf_addf(out, "hworker_scrape_errors %d\n", failures);
    for (size_t i = 0; i < g.n; i++) {
        free(g.q[i].name);
        free(g.q[i].shard);
    }
    free(g.q);
    return failures ? -1 : 0;
}
