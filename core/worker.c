/* A worker: claims jobs (up to `prefetch` per script call), runs each in its
 * own Lua state, and reports outcomes in batches. Idle, it blocks in Redis
 * (BLMOVE of the pending list onto itself) instead of polling. Every Redis
 * failure is survived: it reconnects with back-off, and an outcome that could
 * not be sent is sent again (the claim token makes that safe). */
#include <stdint.h>
#include <stdio.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "timings.h"
#include "flow_wait.h"
#include "json.h"
#include "replica_wait.h"
#include "script_args.h"

/* Outcomes of finished jobs wait at most this long to be sent together with
 * later ones, so a batch of quick jobs costs one script call, and a slow job
 * never holds back the report of a quick one for long. */
#define HW_FLUSH_AFTER 0.05

struct hw_worker {
    hworker *h;
    hw_conn conn;
    hw_sandbox *sb; /* on the heap: its Lua state's allocator points at it */
    long number;
    char holder[128];
    int generation;   /* of the job file this worker's state runs */
    hw_claim **batch; /* claimed, not yet run */
    size_t nbatch, pos;
    hw_args finish;       /* keys + caps + (outcome, claim, reason, delay)... */
    int finish_keys;      /* how many of its arguments are keys */
    hw_claim **finishing; /* the claims in `finish`, in order */
    size_t nfinishing, finishing_cap;
    double first_unflushed;
    hw_timings_acc timings; /* of the runs whose outcomes are in `finish` */
    hw_result result;
    unsigned int seed;    /* for the back-off's jitter */
    int batch_size;       /* jobs to claim next: adapts between 1 and prefetch */
    double batch_started; /* when the current batch began to run */
    hw_buf reason;
    long long claimed_redis_ms; /* Redis's clock when the current batch was claimed */
    double claimed_at;          /* and the monotonic clock then */
    int home;                   /* the shard this worker claims from first and waits on */
    int shard;                  /* the shard of the current batch (and of `finish`) */
    hw_hold held;               /* why the last claim from home was held back, if it was */
    long long held_ms;          /* and, for the rate, how long to wait */

    /* Shared with the watchdog (watchdog.c), under run_lock: the job being
     * run, its deadline, and whether the watchdog gave up on this thread.
     * Once `abandoned` is set, the watchdog owns the batch and the
     * outcomes not yet sent; the thread owns its state, its connection and
     * `running`, and whichever of the two finishes last frees the worker. */
    pthread_mutex_t run_lock;
    hw_claim *running;
    long long run_started_ms; /* when `running` started, ms in Redis time */
    double run_deadline;
    int abandoned;
    int refs;
    pthread_t thread; /* under threads_lock */
    int has_thread;
};

static int worker_queue(void *ud, const char *queue, size_t queue_len, const char *json, size_t len, char *id,
                        char *err, size_t errlen)
{
    hw_worker *w = ud;
    hw_keys keys;
    if (hw_queue_name_check(queue, queue_len, err, errlen) ||
        hw_follow_up_keys(w->h, &w->conn, queue, &keys, err, errlen))
        return -1;
    int rc = hw_enqueue(&w->conn, &keys, 1, &json, &len, NULL, NULL, id, NULL, 1, err, errlen);
    hw_keys_free(&keys);
    return rc;
}

/* Makes a fresh sandbox of the current job file (serialised: cjson's
 * set-up touches a static). Returns NULL with a message on failure. */
static hw_sandbox *new_sandbox(hw_worker *w, char *err, size_t errlen)
{
    hworker *h = w->h;
    hw_sandbox *sb = calloc(1, sizeof *sb);
    if (sb == NULL) abort();
    pthread_mutex_lock(&h->state_lock);
    int rc = hw_sandbox_open(sb, &h->sandbox_env, worker_queue, w, err, errlen);
    pthread_mutex_unlock(&h->state_lock);
    if (rc != 0) {
        free(sb);
        return NULL;
    }
    return sb;
}

static void free_sandbox(hw_sandbox *sb)
{
    if (sb == NULL) return;
    hw_sandbox_close(sb);
    free(sb);
}

hw_worker *hw_worker_new(hworker *h, char *err, size_t errlen)
{
    hw_worker *w = calloc(1, sizeof *w);
    if (w == NULL) abort();
    w->h = h;
    w->generation = atomic_load(&h->generation);
    w->seed = (unsigned int)((uintptr_t)w ^ (uintptr_t)hw_wall_ms());
    w->batch_size = 1;
    pthread_mutex_init(&w->run_lock, NULL);
    w->refs = 1;
    /* The socket timeout must outlast the blocking wait (docs/design.md 6). */
    hw_conn_init(&w->conn, &h->target, h->cfg.connect, h->cfg.connect_ud, &h->log, h->name, "worker",
                 h->cfg.block_timeout + h->cfg.redis_timeout);
    w->conn.min_replicas = h->cfg.min_replicas;
    w->conn.min_replicas_timeout = h->cfg.min_replicas_timeout;
    w->sb = new_sandbox(w, err, errlen);
    if (w->sb == NULL) {
        hw_conn_free(&w->conn);
        free(w);
        return NULL;
    }
    return w;
}

void hw_worker_free(hw_worker *w)
{
    if (w == NULL) return;
    free_sandbox(w->sb);
    hw_conn_free(&w->conn);
    pthread_mutex_destroy(&w->run_lock);
    hw_args_free(&w->finish);
    hw_buf_free(&w->result.message);
    hw_buf_free(&w->reason);
    free(w->finishing);
    free(w->batch);
    free(w);
}

static void release(hw_worker *w, hw_claim *c)
{
    hw_held_remove(&w->h->held, c);
    hw_claim_free(c);
}

/* Waits between attempts to reach Redis for a report that must not be
 * dropped. Returns 1 when giving up is allowed: only once running jobs are
 * being aborted (the claim then simply expires and is recovered). */
static int report_backoff(hw_worker *w, int attempt)
{
    if (atomic_load(&w->h->abort_jobs)) return 1;
    double delay = 0.05;
    for (int i = 0; i < attempt && delay < 2.0; i++) delay *= 2;
    struct timespec ts = {(time_t)delay, (long)((delay - (double)(time_t)delay) * 1e9)};
    nanosleep(&ts, NULL);
    return atomic_load(&w->h->abort_jobs);
}

/* Sends a script that reports on claims, until Redis answers. Returns the
 * reply (caller frees) or NULL if it gave up during shutdown. */
static redisReply *report_on(hw_worker *w, hw_conn *conn, hw_script script, int nkeys, hw_args *args, const char *what)
{
    int watchdog = conn != &w->conn;
    for (int attempt = 0;; attempt++) {
        if (hw_conn_ensure(conn, NULL) == 0) {
            redisReply *r = hw_conn_script(conn, script, nkeys, args);
            if (r && r->type == REDIS_REPLY_ERROR) {
                /* e.g. OOM or a read-only replica: keep the claims, try again. */
                if (attempt == 0 || attempt % 20 == 0)
                    hw_log(&w->h->log, HWORKER_LOG_WARN, "%s: cannot %s: Redis refused: %s; retrying", w->holder, what,
                           r->str);
                freeReplyObject(r);
            } else if (r) {
                return r;
            }
        }
        /* The watchdog must get back to renewing the other leases: a few
         * tries, then the claims are left to expire and be recovered. */
        if (report_backoff(w, attempt) || (watchdog && attempt >= 3)) {
            hw_log(&w->h->log, HWORKER_LOG_ERROR,
                   "%s: could not %s (%s); the jobs stay in flight and are recovered when their lease expires",
                   w->holder, what, conn->errstr);
            return NULL;
        }
    }
}

static void flush_on(hw_worker *w, hw_conn *conn)
{
    if (w->nfinishing == 0) return;
    if (w->h->cfg.history) hw_timings_arg(&w->timings, &w->finish);
    redisReply *r = report_on(w, conn, HW_SCRIPT_FINISH, w->finish_keys, &w->finish, "report job outcomes");
    for (size_t i = 0; i < w->nfinishing; i++) {
        hw_claim *c = w->finishing[i];
        if (r && r->type == REDIS_REPLY_ARRAY && i < r->elements && r->element[i]->integer == 0)
            hw_log(
                &w->h->log, HWORKER_LOG_WARN,
                "%s: lease lost: job %s was recovered by a monitor while it ran here; this run's outcome was discarded",
                w->holder, c->id);
        release(w, c);
    }
    if (r) {
        /* An outcome a failover loses only makes its job run again (its
         * claim comes back as expired), so a shortfall is worth a warning,
         * not a retry. */
        char why[300];
        if (hw_conn_wait_replicas(conn, "job outcomes", why, sizeof why))
            hw_log(&w->h->log, HWORKER_LOG_WARN, "%s: %s", w->holder, why);
        freeReplyObject(r);
    }
    w->nfinishing = 0;
    hw_args_clear(&w->finish);
}

static void flush(hw_worker *w) { flush_on(w, &w->conn); }

static void add_outcome(hw_worker *w, hw_claim *c, char outcome, const char *reason, long long delay_ms)
{
    hworker *h = w->h;
    if (w->nfinishing == 0) {
        w->finish_keys = hw_finish_args(&w->finish, &h->shard[w->shard], &h->cfg);
        w->first_unflushed = hw_monotonic();
    }
    if (w->nfinishing == w->finishing_cap) {
        w->finishing_cap = w->finishing_cap ? w->finishing_cap * 2 : 16;
        w->finishing = realloc(w->finishing, sizeof *w->finishing * w->finishing_cap);
        if (w->finishing == NULL) abort();
    }
    w->finishing[w->nfinishing++] = c;
    atomic_store(&c->reporting, 1); /* the lease keeper: gone from now on is not lost */
    hw_finish_add(&w->finish, outcome, c->data, c->len, reason, delay_ms, c->late_ms);
    if (c->run_us >= 0) hw_timings_add(&w->timings, c->wait_us, c->run_us);
}

/* Returns claims this worker will not run to the front of pending. */
static void hand_back_on(hw_worker *w, hw_conn *conn, hw_claim **claims, size_t n)
{
    if (n == 0) return;
    hworker *h = w->h;
    hw_args args = {0};
    int nkeys = hw_handback_args(&args, &h->shard[w->shard]);
    for (size_t i = 0; i < n; i++) {
        hw_args_add(&args, claims[i]->data, claims[i]->len);
        atomic_store(&claims[i]->reporting, 1);
    }
    redisReply *r = report_on(w, conn, HW_SCRIPT_HANDBACK, nkeys, &args, "hand back unfinished jobs");
    if (r) {
        hw_log(&h->log, HWORKER_LOG_INFO, "%s: handed back %lld unfinished job(s)", w->holder,
               r->type == REDIS_REPLY_INTEGER ? r->integer : 0);
        freeReplyObject(r);
    }
    hw_args_free(&args);
    for (size_t i = 0; i < n; i++) release(w, claims[i]);
}

static void hand_back(hw_worker *w, hw_claim **claims, size_t n) { hand_back_on(w, &w->conn, claims, n); }

/* After hworker_reload(): a fresh state of the job file, between jobs. If it
 * does not load (it was edited again since), the old state goes on. */
static void follow_reload(hw_worker *w)
{
    hworker *h = w->h;
    int generation = atomic_load(&h->generation);
    if (generation == w->generation) return;
    w->generation = generation;
    char err[1024];
    hw_sandbox *fresh = new_sandbox(w, err, sizeof err);
    if (fresh == NULL) {
        hw_log(&h->log, HWORKER_LOG_ERROR, "%s: reload failed, keeping the running job file: %s", w->holder, err);
        return;
    }
    free_sandbox(w->sb);
    w->sb = fresh;
}

/* A line about job c, with its fields: the worker, the job's id and
 * attempt, and, when given, its outcome, how long its handler ran and a
 * retry's delay (delay_ms < 0: none). */
static void log_job(hw_worker *w, const hw_claim *c, hworker_log_level level, const char *outcome, long long delay_ms,
                    const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static void log_job(hw_worker *w, const hw_claim *c, hworker_log_level level, const char *outcome, long long delay_ms,
                    const char *fmt, ...)
{
    if (!hw_log_wants(&w->h->log, level)) return;
    char attempt[24], duration[24], delay[24];
    hworker_log_field f[6] = {{"worker", w->holder, 0}, {"job_id", c->id, 0}, {"attempt", attempt, 1}};
    size_t n = 3;
    snprintf(attempt, sizeof attempt, "%ld", c->attempt);
    if (outcome) f[n++] = (hworker_log_field){"outcome", outcome, 0};
    if (outcome && c->run_us >= 0) {
        snprintf(duration, sizeof duration, "%lld", c->run_us / 1000);
        f[n++] = (hworker_log_field){"duration_ms", duration, 1};
    }
    if (delay_ms >= 0) {
        snprintf(delay, sizeof delay, "%lld", delay_ms);
        f[n++] = (hworker_log_field){"delay_ms", delay, 1};
    }
    va_list ap;
    va_start(ap, fmt);
    hw_vlog_fields(&w->h->log, level, f, n, fmt, ap);
    va_end(ap);
}

/* A retry: the handler's own delay, or exponential back-off with jitter
 * (between half and all of min(max, base * factor^(attempt-1))); past
 * max_attempts runs the job fails as "retries exhausted: <message>". `why`
 * is NULL for a retry the handler asked for, else what went wrong ("raised",
 * "timed out"), logged as a warning. */
static void add_retry(hw_worker *w, hw_claim *c, const char *msg, long long handler_delay_ms, const char *why)
{
    hworker_log_level log_level = why ? HWORKER_LOG_WARN : HWORKER_LOG_INFO;
    const hworker_config *cfg = &w->h->cfg;
    if (cfg->max_attempts > 0 && c->attempt >= cfg->max_attempts) {
        hw_buf_clear(&w->reason);
        hw_buf_addf(&w->reason, "retries exhausted: %s", msg);
        log_job(w, c, HWORKER_LOG_WARN, "failed", -1, "%s: job %s failed after %ld attempts: %s", w->holder, c->id,
                c->attempt, msg);
        add_outcome(w, c, 'x', w->reason.data, 0);
        return;
    }
    long long delay_ms = handler_delay_ms;
    if (delay_ms < 0) {
        double d = cfg->retry_base;
        for (long i = 1; i < c->attempt && d < cfg->retry_max_delay; i++) d *= cfg->retry_factor;
        if (d > cfg->retry_max_delay) d = cfg->retry_max_delay;
        double jitter = (double)rand_r(&w->seed) / (double)RAND_MAX;
        delay_ms = (long long)((d / 2 + jitter * d / 2) * 1000.0);
    }
    log_job(w, c, log_level, "retried", delay_ms, "%s: job %s %s%swill be retried (attempt %ld, again in %lld ms): %s",
            w->holder, c->id, why ? why : "", why ? ", " : "", c->attempt, delay_ms, msg);
    add_outcome(w, c, 'r', msg, delay_ms);
}

/* The watchdog may act from deadline + HW_STUCK_SLACK on; it is woken if it
 * would sleep past that. */
static void start_run(hw_worker *w, hw_claim *c, long long started_ms)
{
    double deadline = hw_monotonic() + w->h->cfg.job_timeout;
    pthread_mutex_lock(&w->run_lock);
    w->running = c;
    w->run_started_ms = started_ms;
    w->run_deadline = deadline;
    pthread_mutex_unlock(&w->run_lock);
    atomic_fetch_add(&w->h->busy, 1);
    hw_watchdog_expect(w->h, deadline + HW_STUCK_SLACK);
}

/* Returns 1 when the watchdog gave up on this thread while the job ran. */
static int end_run(hw_worker *w)
{
    atomic_fetch_sub(&w->h->busy, 1);
    pthread_mutex_lock(&w->run_lock);
    w->running = NULL;
    int abandoned = w->abandoned;
    pthread_mutex_unlock(&w->run_lock);
    return abandoned;
}

/* Drops one of the two owners of an abandoned worker; the last frees it. */
static void drop_abandoned(hw_worker *w)
{
    pthread_mutex_lock(&w->run_lock);
    int last = --w->refs == 0;
    pthread_mutex_unlock(&w->run_lock);
    if (last) hw_worker_free(w);
}

/* Runs one job; returns 1 if the watchdog abandoned this thread meanwhile
 * (the job's outcome was recorded by the watchdog). */
static int run_one(hw_worker *w, hw_claim *c)
{
    hworker *h = w->h;
    follow_reload(w);
    if (atomic_load(&c->stop) == HW_STOP_LEASE_LOST) {
        hw_log(&h->log, HWORKER_LOG_WARN, "%s: lease lost: job %s was recovered before it started here; skipped",
               w->holder, c->id);
        release(w, c);
        return 0;
    }
    if (atomic_load(&c->stop) == HW_STOP_CANCELLED) {
        hw_log(&h->log, HWORKER_LOG_INFO, "%s: job %s was cancelled before it started here", w->holder, c->id);
        add_outcome(w, c, 'c', NULL, 0);
        return 0;
    }
    if (c->broken) {
        hw_log(&h->log, HWORKER_LOG_WARN, "%s: broken job (%s); moved to broken", w->holder, c->broken);
        add_outcome(w, c, 'b', c->broken, 0);
        return 0;
    }
    /* cjson accepts invalid UTF-8 and trailing bytes; JSON does not. The
     * engine's own check is linear and says where the payload is wrong. */
    char why[200];
    if (hw_json_check(c->job, c->job_len, why, sizeof why) != 0) {
        hw_buf_clear(&w->reason);
        hw_buf_addf(&w->reason, "job is not valid JSON: %s", why);
        hw_log(&h->log, HWORKER_LOG_WARN, "%s: broken job %s: %s", w->holder, c->id, w->reason.data);
        add_outcome(w, c, 'b', w->reason.data, 0);
        return 0;
    }
    hw_job_meta meta = {c->id, c->attempt, c->recoveries, c->enqueued_at, c->due_at, w->claimed_redis_ms, w->holder};
    hw_result *res = &w->result;
    double run_start = hw_monotonic();
    /* In Redis time: the claim's clock plus the time since, on ours. */
    long long started = w->claimed_redis_ms + (long long)((run_start - w->claimed_at) * 1000.0);
    if (w->claimed_redis_ms > 0) {
        /* A header's times may be anything (no "eq" reads as 0, a negative
         * or huge one as itself): a due time outside (0, started) counts
         * as no wait, and a wait is timed up to HW_WAIT_TIMED_MS, so one
         * crafted header cannot swamp (or overflow) the wait time's sum. */
        long long waited = c->due_at > 0 && c->due_at < started ? started - c->due_at : 0;
        if (c->waited) c->late_ms = waited;
        c->wait_us = (waited < HW_WAIT_TIMED_MS ? waited : HW_WAIT_TIMED_MS) * 1000;
    }
    start_run(w, c, w->claimed_redis_ms > 0 ? started : -1);
    hw_sandbox_run(w->sb, c->job, c->job_len, &meta, &c->stop, res);
    c->run_us = (long long)((hw_monotonic() - run_start) * 1e6);
    if (end_run(w)) return 1;
    const char *msg = res->message.data ? res->message.data : "";
    switch (res->kind) {
    case HW_RESULT_SUCCESS:
        log_job(w, c, HWORKER_LOG_DEBUG, "succeeded", -1, "%s: job %s succeeded", w->holder, c->id);
        add_outcome(w, c, 's', NULL, 0);
        break;
    case HW_RESULT_RETRY: add_retry(w, c, msg, res->delay_ms, NULL); break;
    case HW_RESULT_FAILURE:
        if (res->from_error && h->cfg.on_exception == HWORKER_EXCEPTION_RETRIES) {
            add_retry(w, c, msg, -1, "raised");
        } else {
            log_job(w, c, HWORKER_LOG_WARN, "failed", -1, "%s: job %s failed: %s", w->holder, c->id, msg);
            add_outcome(w, c, 'f', msg, 0);
        }
        break;
    case HW_RESULT_BROKEN:
        log_job(w, c, HWORKER_LOG_WARN, "broken", -1, "%s: broken job %s: %s", w->holder, c->id, msg);
        add_outcome(w, c, 'b', msg, 0);
        break;
    case HW_RESULT_STOPPED:
        if (res->stopped == HW_STOP_ABORT) {
            hand_back(w, &c, 1);
        } else if (res->stopped == HW_STOP_CANCELLED) {
            log_job(w, c, HWORKER_LOG_INFO, "cancelled", -1, "%s: job %s %s", w->holder, c->id, msg);
            add_outcome(w, c, 'c', NULL, 0);
        } else {
            log_job(w, c, HWORKER_LOG_WARN, "stopped", -1, "%s: %s (job %s)", w->holder, msg, c->id);
            release(w, c);
        }
        break;
    }
    /* A job that left its state nearly full would make every later job
     * fail: start over with a fresh state. */
    if (hw_sandbox_exhausted(w->sb)) {
        char err[512];
        hw_log(&h->log, HWORKER_LOG_WARN,
               "%s: the job's Lua state holds %zu bytes after collection; making a fresh one", w->holder, w->sb->used);
        hw_sandbox *fresh = new_sandbox(w, err, sizeof err);
        if (fresh == NULL)
            hw_log(&h->log, HWORKER_LOG_ERROR, "%s: cannot make a fresh Lua state (%s); keeping the full one",
                   w->holder, err);
        else {
            free_sandbox(w->sb);
            w->sb = fresh;
        }
    }
    return 0;
}

/* Claims up to `prefetch` jobs from shard `shard`. Returns how many, -1 if
 * the connection failed, or -2 if Redis refused the claim. A claim from home that flow control holds back
 * records why in w->held; only home hands out a turn to wait for a start
 * (a turn given to a worker that then waits elsewhere would go unused). */
static int claim_from(hw_worker *w, int shard)
{
    hworker *h = w->h;
    hw_args args = {0};
    int nkeys = hw_claim_args(&args, &h->shard[shard], &h->cfg, w->batch_size, w->holder, shard == w->home);
    redisReply *r = hw_conn_script(&w->conn, HW_SCRIPT_CLAIM, nkeys, &args);
    hw_args_free(&args);
    if (r == NULL) return -1;
    long long ms = 0;
    hw_hold held = hw_flow_held(r, &ms);
    if (held != HW_HELD_NO) {
        if (shard == w->home) {
            w->held = held;
            w->held_ms = ms;
        }
        freeReplyObject(r);
        return 0;
    }
    if (r->type != REDIS_REPLY_ARRAY) {
        hw_log(&h->log, HWORKER_LOG_WARN, "%s: cannot claim jobs: %s", w->holder,
               r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
        freeReplyObject(r);
        return -2;
    }
    w->nbatch = w->pos = 0;
    if (r->elements > 0) {
        w->batch = realloc(w->batch, sizeof *w->batch * r->elements);
        if (w->batch == NULL) abort();
    }
    w->shard = shard;
    w->claimed_at = hw_monotonic();
    for (size_t i = 0; i < r->elements; i++) {
        if (r->element[i]->type == REDIS_REPLY_INTEGER) { /* the last: Redis's clock */
            w->claimed_redis_ms = r->element[i]->integer;
            continue;
        }
        hw_claim *c = hw_claim_new(r->element[i]->str, r->element[i]->len);
        c->shard = shard;
        hw_held_add(&h->held, c, w->claimed_at);
        w->batch[w->nbatch++] = c;
    }
    freeReplyObject(r);
    w->batch_started = hw_monotonic();
    return (int)w->nbatch;
}

/* Claims from the home shard, and when it is empty from the others in
 * turn, so no worker idles while any shard has work. */
static int claim(hw_worker *w)
{
    hworker *h = w->h;
    w->held = HW_HELD_NO;
    int n = 0, refused = 0;
    for (int i = 0; n == 0 && i < h->nshards && (i == 0 || !hw_signal_raised(&h->stop)); i++) {
        n = claim_from(w, (w->home + i) % h->nshards);
        if (n == -2) {
            refused = 1;
            n = 0;
        }
    }
    /* A shard whose keys Redis refused (logged, naming the key) is tried
     * again after a pause, and the other shards are served meanwhile. */
    if (n == 0 && refused) hw_signal_wait(&h->stop, 0.5);
    return n;
}

/* Sizes the next claim from how the last batch ran. Quick jobs are claimed
 * in growing batches (one script call for many jobs); as soon as a batch
 * takes long, the size falls back, so few jobs wait behind a slow one. A
 * claim takes only what is pending, so a lone job never waits for a batch. */
#define HW_BATCH_QUICK 0.01
#define HW_BATCH_SLOW 0.1
static void adapt_batch(hw_worker *w)
{
    if (w->nbatch == 0) return;
    double took = hw_monotonic() - w->batch_started;
    int max = w->h->cfg.prefetch;
    if (took > HW_BATCH_SLOW) w->batch_size = w->batch_size / 4 > 1 ? w->batch_size / 4 : 1;
    else if (took < HW_BATCH_QUICK && (int)w->nbatch == w->batch_size)
        w->batch_size = w->batch_size * 2 < max ? w->batch_size * 2 : max;
}

/* How long one wait lasts: the block timeout, or, with fewer workers here
 * than shards, the share of it that lets the workers, taking turns over the
 * shards, wait on each about once per block timeout (never under
 * HW_SHARD_WAIT_MIN, so many shards cost at most a few commands a second).
 * Work on a shard no worker calls home, a promoted retry say, then waits
 * about one block timeout, not one per shard. */
#define HW_SHARD_WAIT_MIN 0.1
static double wait_seconds(hworker *h)
{
    double t = h->cfg.block_timeout;
    size_t workers = hw_worker_count(h);
    if (h->nshards > 1 && workers < (size_t)h->nshards) {
        t = t * (double)(workers ? workers : 1) / h->nshards;
        if (t < HW_SHARD_WAIT_MIN) t = HW_SHARD_WAIT_MIN;
        if (t > h->cfg.block_timeout) t = h->cfg.block_timeout;
    }
    return t;
}

/* Sleeps in Redis until pending is non-empty or the wait passes. BLMOVE of
 * the list's tail onto its own tail changes nothing, so the job stays where
 * it is for whichever worker claims it. Returns 1 if work came, 0 on
 * timeout (or stop), -1 if the connection failed. */
static int wait_for_work(hw_worker *w)
{
    hworker *h = w->h;
    char timeout[32];
    snprintf(timeout, sizeof timeout, "%.3f", wait_seconds(h));
    const char *pending = h->shard[w->home].key[HW_KEY_PENDING];
    redisReply *r = hw_conn_simple(&w->conn, "BLMOVE", pending, pending, "RIGHT", "RIGHT", timeout, NULL);
    if (r == NULL) return -1;
    int got = r->type == REDIS_REPLY_STRING;
    if (r->type == REDIS_REPLY_ERROR) {
        /* Unknown command: a Redis older than 6.2. Anything else (OOM: BLMOVE
         * counts as a write) passes: claim once per block timeout. */
        if (strncmp(r->str, "ERR unknown command", 19) == 0)
            hw_log(&h->log, HWORKER_LOG_ERROR, "%s: BLMOVE refused (%s): hworker needs Redis 6.2 or later", w->holder,
                   r->str);
        else hw_log(&h->log, HWORKER_LOG_WARN, "%s: waiting for work refused by Redis: %s", w->holder, r->str);
        hw_signal_wait(&h->stop, h->cfg.block_timeout);
        got = 1;
    }
    freeReplyObject(r);
    return got;
}

void hw_worker_loop(hw_worker *w)
{
    hworker *h = w->h;
    hw_worker_register(h, w, &w->number);
    snprintf(w->holder, sizeof w->holder, "%s:%d:w%ld", h->hostname, h->pid, w->number);
    /* Home shards spread over a process's workers, and the pid spreads
     * processes, so every shard has workers that call it home. */
    w->home = (int)(((unsigned long)w->number + (unsigned long)h->pid) % (unsigned long)h->nshards);
    snprintf(w->conn.role, sizeof w->conn.role, "worker %ld", w->number);
    while (!hw_signal_raised(&h->stop)) {
        if (w->pos == w->nbatch) {
            adapt_batch(w);
            flush(w);
            if (hw_conn_ensure(&w->conn, &h->stop)) break;
            /* Idle: one blocking command per block timeout, and a claim
             * only when it says work arrived. */
            int n = claim(w);
            if (n == 0 && w->held != HW_HELD_NO && !hw_signal_raised(&h->stop)) {
                /* Held back by flow control: one wait for what can free a
                 * claim, then claim again (docs/flow-control.md). */
                hw_flow_wait(&w->conn, &h->shard[w->home], w->held, w->held_ms, h->cfg.block_timeout, &h->stop, &h->log,
                             w->holder);
                continue;
            }
            while (n == 0 && !hw_signal_raised(&h->stop) && wait_for_work(w) == 0) {
                /* A wait without work at home. With fewer workers here than
                 * shards, some shard has no worker of this process waiting
                 * on it: move home to the next shard, so each is waited on
                 * in turn (wait_for_work shortens the wait to match). Still
                 * one blocking command per wait, never a poll
                 * (docs/design.md invariant 8). */
                if (h->nshards > 1 && hw_worker_count(h) < (size_t)h->nshards) w->home = (w->home + 1) % h->nshards;
            }
            continue;
        }
        hw_claim *c = w->batch[w->pos++];
        if (run_one(w, c)) {
            /* The watchdog recorded this job and took the rest; what is
             * left here is this thread's own. */
            hw_log(&h->log, HWORKER_LOG_WARN, "%s: the abandoned thread came back from job %s and ends", w->holder,
                   c->id);
            hw_claim_free(c);
            hw_watchdog_thread_ended(h);
            drop_abandoned(w);
            return;
        }
        if (w->pos == w->nbatch || hw_monotonic() - w->first_unflushed >= HW_FLUSH_AFTER) flush(w);
    }
    /* Stopping: report what finished, hand back what never started. */
    flush(w);
    hand_back(w, w->batch + w->pos, w->nbatch - w->pos);
    w->pos = w->nbatch = 0;
    hw_worker_unregister(h, w);
    hw_worker_free(w);
}

hw_conn *hw_worker_conn(hw_worker *w) { return &w->conn; }

int hw_worker_describe_running(hw_worker *w, hw_buf *out, int comma)
{
    pthread_mutex_lock(&w->run_lock);
    const hw_claim *c = w->abandoned ? NULL : w->running;
    if (c != NULL) {
        const char *bar = memchr(c->data, '|', c->len);
        if (comma) hw_buf_adds(out, ",");
        hw_buf_adds(out, "{\"worker\":");
        hw_json_quote(out, w->holder, strlen(w->holder));
        hw_buf_adds(out, ",\"id\":");
        hw_json_quote(out, c->id, strlen(c->id));
        hw_buf_adds(out, ",\"claim\":");
        hw_json_quote(out, c->data, bar ? (size_t)(bar - c->data) : 0);
        hw_buf_addf(out, ",\"started_at\":%lld}", w->run_started_ms);
    }
    pthread_mutex_unlock(&w->run_lock);
    return c != NULL;
}
hworker *hw_worker_handle(hw_worker *w) { return w->h; }

void hw_worker_set_thread(hw_worker *w, pthread_t t)
{
    w->thread = t;
    w->has_thread = 1;
}

int hw_worker_thread(hw_worker *w, pthread_t *t)
{
    if (w->has_thread) *t = w->thread;
    return w->has_thread;
}

int hw_worker_take_if_stuck(hw_worker *w, double now, int force, double *next)
{
    pthread_mutex_lock(&w->run_lock);
    int take = 0;
    if (w->running != NULL && !w->abandoned) {
        double due = w->run_deadline + HW_STUCK_SLACK;
        take = force || now >= due;
        if (take) {
            w->abandoned = 1;
            w->refs = 2;
        } else if (due < *next) {
            *next = due;
        }
    }
    pthread_mutex_unlock(&w->run_lock);
    return take;
}

void hw_worker_settle_abandoned(hw_worker *w, hw_conn *conn, int timed_out)
{
    hworker *h = w->h;
    /* `running` stays the thread's (its hook still reads the claim's lost
     * flag): a copy carries the outcome, and the original stops being
     * renewed. */
    pthread_mutex_lock(&w->run_lock);
    hw_claim *stuck = w->running;
    pthread_mutex_unlock(&w->run_lock);
    hw_held_remove(&h->held, stuck);
    hw_claim *copy = hw_claim_new(stuck->data, stuck->len);
    copy->shard = stuck->shard;
    size_t rest = w->nbatch - w->pos;
    if (timed_out) {
        hw_log(&h->log, HWORKER_LOG_ERROR,
               "%s: job %s is stuck in a C function %.0fs past its time limit: it is recorded as timed out, %zu "
               "prefetched job(s) are handed back, and the thread is abandoned",
               w->holder, copy->id, HW_STUCK_SLACK, rest);
        const char *why =
            "timeout: the job ran longer than its time limit inside a C function; its worker thread was abandoned";
        if (h->cfg.on_exception == HWORKER_EXCEPTION_RETRIES) add_retry(w, copy, why, -1, "timed out");
        else add_outcome(w, copy, 'f', why, 0);
        flush_on(w, conn);
        hand_back_on(w, conn, w->batch + w->pos, rest);
    } else {
        hw_log(&h->log, HWORKER_LOG_ERROR,
               "%s: job %s did not stop after the grace period (stuck in a C function): it and %zu prefetched job(s) "
               "are handed back, and the thread is abandoned",
               w->holder, copy->id, rest);
        flush_on(w, conn);
        w->batch[--w->pos] = copy; /* its own slot: hand it back first */
        hand_back_on(w, conn, w->batch + w->pos, rest + 1);
    }
    w->pos = w->nbatch = 0;
    drop_abandoned(w);
}
