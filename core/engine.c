/* The handle's life: configuration, creation, start, graceful stop, release,
 * and the registry of running workers that stop and the lease keeper use. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "errors.h"
#include "internal.h"
#include "json.h"
#include "options.h"
#include "read_file.h"
#include "tls.h"

static void config_defaults(hworker_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->size = sizeof *cfg;
    cfg->redis_url = "redis://127.0.0.1:6379/0";
    cfg->init_config = "{}";
    hw_options_defaults(cfg);
}

void hworker_config_init_size(hworker_config *cfg, size_t size)
{
    hworker_config full;
    config_defaults(&full);
    /* A host built with an older header has a shorter struct: fill only
     * what it has, and record that size for hworker_create. */
    if (size > sizeof full) size = sizeof full;
    full.size = size;
    memcpy(cfg, &full, size);
}

/* The caller's config as this library's struct: the fields its size does
 * not cover keep their defaults. */
static hworker_rc config_read(const hworker_config *cfg, hworker_config *out, char *err, size_t errlen)
{
    config_defaults(out);
    if (cfg->size < offsetof(hworker_config, name) + sizeof cfg->name)
        return hw_fail(HWORKER_E_INVALID, err, errlen,
                       "config: size is %zu: fill the config with hworker_config_init() first", cfg->size);
    if (cfg->size > sizeof *out)
        return hw_fail(HWORKER_E_INVALID, err, errlen,
                       "config: size is %zu, but this libhworker knows %zu bytes: it is older than the header "
                       "the host was built with (link the library that header came with)",
                       cfg->size, sizeof *out);
    memcpy(out, cfg, cfg->size);
    out->size = sizeof *out;
    return HWORKER_OK;
}

hworker_rc hworker_config_set(hworker_config *cfg, const char *name, const char *value, char *err, size_t errlen)
{
    HW_ERR_BUF(err, errlen);
    const hw_option *o = name ? hw_option_find(name) : NULL;
    if (o == NULL)
        return hw_fail(HWORKER_E_INVALID, err, errlen,
                       "config: no setting is called \"%s\" (hworker-lua options lists them)", name ? name : "");
    if (value == NULL) return hw_fail(HWORKER_E_INVALID, err, errlen, "config: %s: no value", o->name);
    hworker_config full;
    hworker_rc rc = config_read(cfg, &full, err, errlen);
    if (rc != HWORKER_OK) return rc;
    if (o->offset >= cfg->size)
        return hw_fail(HWORKER_E_INVALID, err, errlen,
                       "config: %s is newer than the hworker_config the host was built with (rebuild it "
                       "with this version's hworker.h)",
                       o->name);
    if (hw_option_set_text(&full, o, value, o->name, err, errlen)) return HWORKER_E_INVALID;
    size_t size = cfg->size;
    memcpy(cfg, &full, size);
    cfg->size = size;
    return HWORKER_OK;
}

const char *hworker_version(void) { return HWORKER_VERSION; }

const hworker_config *hw_config_of(const hworker *h) { return &h->cfg; }

static char *dup_or_null(const char *s)
{
    if (s == NULL) return NULL;
    char *d = strdup(s);
    if (d == NULL) abort();
    return d;
}

static void free_secret(char *s)
{
    if (s == NULL) return;
    memset(s, 0, strlen(s));
    free(s);
}

/* The password the config gives apart from the URL, in *out (NULL if none;
 * the caller frees it with free_secret): `password`, or the first line of
 * `password_file`. A message names the file and never shows what it holds. */
static int config_password(const hworker_config *c, char **out, char *err, size_t errlen)
{
    *out = NULL;
    int has_password = c->password && c->password[0];
    if (c->password_file == NULL) {
        *out = has_password ? dup_or_null(c->password) : NULL;
        return 0;
    }
    if (has_password)
        return hw_fail(HWORKER_E_INVALID, err, errlen,
                       "config: password and password_file are both set: set one (password_file \"%s\")",
                       c->password_file);
    hw_buf text = {0};
    if (hw_read_file(c->password_file, &text)) {
        int e = errno;
        if (text.data) memset(text.data, 0, text.len);
        hw_buf_free(&text);
        return hw_fail(HWORKER_E_INVALID, err, errlen, "config: cannot read password_file \"%s\": %s", c->password_file,
                       strerror(e));
    }
    size_t line = strcspn(text.data, "\n");
    if (line > 0 && text.data[line - 1] == '\r') line--; /* a file written on Windows */
    int empty = line == 0;
    if (!empty) {
        *out = strndup(text.data, line);
        if (*out == NULL) abort();
    }
    memset(text.data, 0, text.len);
    hw_buf_free(&text);
    if (empty)
        return hw_fail(HWORKER_E_INVALID, err, errlen,
                       "config: password_file \"%s\" is empty: its first line must be the password", c->password_file);
    return 0;
}

static int check_config(const hworker_config *c, char *err, size_t errlen)
{
    if (c->name == NULL) return hw_fail(HWORKER_E_INVALID, err, errlen, "config: name is required (the queue's name)");
    char why[160];
    if (hw_queue_name_check(c->name, strlen(c->name), why, sizeof why))
        return hw_fail(HWORKER_E_INVALID, err, errlen, "config: %s", why);
    if (hw_options_check(c, err, errlen)) return HWORKER_E_INVALID;
    return HWORKER_OK;
}

hworker *hworker_create(const hworker_config *given, char *err, size_t errlen)
{
    HW_ERR_BUF(err, errlen);
    if (given == NULL) {
        hw_fail(HWORKER_E_INVALID, err, errlen, "config: NULL");
        return NULL;
    }
    hworker_config whole;
    if (config_read(given, &whole, err, errlen) != HWORKER_OK) return NULL;
    const hworker_config *cfg = &whole;
    if (check_config(cfg, err, errlen)) return NULL;
    char *password;
    if (config_password(cfg, &password, err, errlen)) return NULL;
    hworker *h = calloc(1, sizeof *h);
    if (h == NULL) abort();
    h->cfg = *cfg;
    h->name = dup_or_null(cfg->name);
    h->redis_url = dup_or_null(cfg->redis_url ? cfg->redis_url : "redis://127.0.0.1:6379/0");
    h->job_file = dup_or_null(cfg->job_file);
    h->init_config = dup_or_null(cfg->init_config ? cfg->init_config : "{}");
    h->cfg.name = h->name;
    h->cfg.redis_url = h->redis_url;
    h->cfg.job_file = h->job_file;
    h->cfg.init_config = h->init_config;
    /* A bad CA, certificate or key file fails here, naming the file, rather
     * than at every connect. */
    if (!cfg->connect &&
        (hw_target_parse(&h->target, h->redis_url, err, errlen) || hw_tls_context_make(&h->target, err, errlen))) {
        hw_target_free(&h->target);
        free(h->name);
        free(h->redis_url);
        free(h->job_file);
        free(h->init_config);
        free(h);
        free_secret(password);
        return NULL;
    }
    if (password) {
        free_secret(h->target.password);
        h->target.password = password;
    }
    h->cfg.password = NULL; /* only the target keeps it */
    h->cfg.password_file = NULL;
    hw_logger_init(&h->log, cfg->log, cfg->log_fields, cfg->log_ud, cfg->log_level, h->name);
    h->nshards = cfg->shards;
    h->shard = calloc((size_t)h->nshards, sizeof *h->shard);
    if (h->shard == NULL) abort();
    for (int i = 0; i < h->nshards; i++) hw_keys_make_shard(&h->shard[i], h->name, i, h->nshards);
    if (gethostname(h->hostname, sizeof h->hostname) != 0) snprintf(h->hostname, sizeof h->hostname, "host");
    h->hostname[sizeof h->hostname - 1] = '\0';
    for (char *p = h->hostname; *p; p++)
        if (*p == '|' || *p == ' ') *p = '_';
    h->pid = (int)getpid();
    pthread_mutex_init(&h->producer_lock, NULL);
    hw_gather_init(&h->gather);
    hw_shard_cache_init(&h->follow_ups);
    hw_conn_init(&h->producer, &h->target, cfg->connect, cfg->connect_ud, &h->log, h->name, "producer",
                 cfg->redis_timeout);
    h->producer.min_replicas = cfg->min_replicas;
    h->producer.min_replicas_timeout = cfg->min_replicas_timeout;
    pthread_mutex_init(&h->events_lock, NULL);
    hw_conn_init(&h->events, &h->target, cfg->connect, cfg->connect_ud, &h->log, h->name, "events",
                 cfg->redis_timeout + HW_EVENTS_BLOCK_MAX);
    hw_signal_init(&h->stop);
    hw_signal_init(&h->keeper_stop);
    hw_signal_init(&h->keeper_wake);
    atomic_store(&h->keeper_wakes_at, 0.0);
    atomic_store(&h->abandoned_live, 0);
    atomic_store(&h->abort_jobs, 0);
    hw_held_init(&h->held);
    pthread_mutex_init(&h->state_lock, NULL);
    pthread_mutex_init(&h->threads_lock, NULL);
    pthread_cond_init(&h->threads_changed, NULL);
    h->sandbox_env.job_file = h->job_file;
    h->sandbox_env.init_config = h->init_config;
    h->sandbox_env.memory_limit = cfg->memory_limit;
    h->sandbox_env.job_timeout = cfg->job_timeout;
    h->sandbox_env.log = &h->log;
    h->sandbox_env.abort = &h->abort_jobs;
    h->sandbox_env.trusted = cfg->trusted != 0;
    atomic_store(&h->generation, 0);
    return h;
}

hworker_rc hworker_register(hworker *h, const char *name, lua_CFunction fn, void *ud, char *err, size_t errlen)
{
    HW_ERR_BUF(err, errlen);
    int ok = name && fn && (name[0] == '_' || (name[0] >= 'a' && name[0] <= 'z') || (name[0] >= 'A' && name[0] <= 'Z'));
    for (const char *p = name ? name : ""; *p && ok; p++)
        ok = *p == '_' || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9');
    if (!ok)
        return hw_fail(HWORKER_E_INVALID, err, errlen,
                       "hworker_register: \"%s\" is not a Lua identifier (or fn is NULL)", name ? name : "(null)");
    pthread_mutex_lock(&h->threads_lock);
    if (h->nworkers > 0 || h->nthreads > 0) {
        pthread_mutex_unlock(&h->threads_lock);
        return hw_fail(HWORKER_E_STATE, err, errlen, "hworker_register: register functions before starting workers");
    }
    hw_host_function *f = NULL;
    for (size_t i = 0; i < h->nfunctions; i++)
        if (strcmp(h->functions[i].name, name) == 0) f = &h->functions[i];
    if (f == NULL) {
        h->functions = realloc(h->functions, sizeof *h->functions * (h->nfunctions + 1));
        if (h->functions == NULL) abort();
        f = &h->functions[h->nfunctions++];
        f->name = dup_or_null(name);
    }
    f->fn = fn;
    f->ud = ud;
    h->sandbox_env.functions = h->functions;
    h->sandbox_env.nfunctions = h->nfunctions;
    pthread_mutex_unlock(&h->threads_lock);
    return 0;
}

hworker_rc hworker_set_job_file(hworker *h, const char *job_file, const char *init_config, char *err, size_t errlen)
{
    HW_ERR_BUF(err, errlen);
    char why[200];
    if (init_config && hw_json_check(init_config, strlen(init_config), why, sizeof why)) {
        return hw_fail(HWORKER_E_INVALID, err, errlen, "the init config is not valid JSON: %s", why);
    }
    /* Sandboxes read these strings while they are made, under state_lock. */
    pthread_mutex_lock(&h->state_lock);
    if (job_file) {
        free(h->job_file);
        h->job_file = dup_or_null(job_file);
        h->cfg.job_file = h->sandbox_env.job_file = h->job_file;
    }
    if (init_config) {
        free(h->init_config);
        h->init_config = dup_or_null(init_config);
        h->cfg.init_config = h->sandbox_env.init_config = h->init_config;
    }
    pthread_mutex_unlock(&h->state_lock);
    return 0;
}

hworker_rc hworker_reload(hworker *h, char *err, size_t errlen)
{
    HW_ERR_BUF(err, errlen);
    /* Load it once where nothing depends on it: a file that does not load
     * leaves every worker as it is. */
    hw_sandbox trial;
    pthread_mutex_lock(&h->state_lock);
    int rc = hw_sandbox_open(&trial, &h->sandbox_env, NULL, NULL, err, errlen);
    pthread_mutex_unlock(&h->state_lock);
    if (rc != 0) return HWORKER_E_JOB_FILE;
    atomic_fetch_add(&h->generation, 1);
    /* The trial's own copy of the name: hworker_set_job_file() may free
     * h->job_file as soon as state_lock is released. */
    hw_log(&h->log, HWORKER_LOG_INFO, "reloading %s: workers switch to it before their next job", trial.job_file);
    hw_sandbox_close(&trial);
    return 0;
}

/* ---- threads started by hworker_start() --------------------------------- */

/* Records the queue's shard count, or refuses to run with another one than
 * Redis records: such workers would wait on keys no producer fills. Redis
 * out of reach or refusing writes (a replica) is no error here: workers
 * wait for it. The check is then skipped, and said so. */
static hworker_rc check_shards(hworker *h, char *err, size_t errlen)
{
    hworker_rc rc = hw_check_own_shards(h, 1, err, errlen);
    if (rc == HWORKER_E_REDIS) {
        hw_log(&h->log, HWORKER_LOG_WARN, "%s; the queue's shard count was not checked", err);
        return HWORKER_OK;
    }
    return rc;
}

/* A worker thread the engine started: the watchdog may detach it. */
void *hw_worker_main(void *arg)
{
    hw_worker *w = arg;
    hworker *h = hw_worker_handle(w);
    pthread_mutex_lock(&h->threads_lock);
    hw_worker_set_thread(w, pthread_self());
    pthread_mutex_unlock(&h->threads_lock);
    hw_worker_loop(w);
    return NULL;
}

static void *monitor_main(void *h)
{
    char err[512];
    if (hw_monitor_run(h, err, sizeof err) != 0)
        hw_log(&((hworker *)h)->log, HWORKER_LOG_ERROR, "monitor stopped: %s", err);
    return NULL;
}

hworker_rc hworker_start(hworker *h, int workers, int monitors, char *err, size_t errlen)
{
    HW_ERR_BUF(err, errlen);
    if (workers < 0 || monitors < 0 || workers + monitors > 4096)
        return hw_fail(HWORKER_E_INVALID, err, errlen, "hworker_start: workers and monitors must be from 0 to 4096");
    pthread_mutex_lock(&h->threads_lock);
    int busy = h->nthreads > 0;
    int lingering = h->nworkers > 0;
    pthread_mutex_unlock(&h->threads_lock);
    if (busy) return hw_fail(HWORKER_E_STATE, err, errlen, "hworker_start: already started; call hworker_stop() first");
    if (hw_signal_raised(&h->stop)) {
        if (lingering)
            return hw_fail(HWORKER_E_STATE, err, errlen, "hworker_start: workers of the last run are still stopping");
        hw_signal_reset(&h->stop);
        atomic_store(&h->abort_jobs, 0);
    }
    if (workers > 0 || monitors > 0) {
        if (hw_check_server(h, err, errlen)) return HWORKER_E_REDIS;
        hworker_rc rc = check_shards(h, err, errlen);
        if (rc != HWORKER_OK) return rc;
    }
    /* Every worker's Lua state is made here, one after another, so a job
     * file that does not load fails the start with its message. */
    hw_worker **made = calloc((size_t)workers + 1, sizeof *made);
    if (made == NULL) abort();
    for (int i = 0; i < workers; i++) {
        made[i] = hw_worker_new(h, err, errlen);
        if (made[i] == NULL) {
            for (int j = 0; j < i; j++) hw_worker_free(made[j]);
            free(made);
            return HWORKER_E_JOB_FILE;
        }
    }
    pthread_t *threads = calloc((size_t)(workers + monitors) + 1, sizeof *threads);
    if (threads == NULL) abort();
    size_t n = 0;
    for (int i = 0; i < workers + monitors; i++) {
        int rc = i < workers ? hw_thread_start(&threads[n], hw_worker_main, made[i])
                             : hw_thread_start(&threads[n], monitor_main, h);
        if (rc != 0) {
            for (int j = i; j < workers; j++) hw_worker_free(made[j]);
            free(made);
            hw_fail(HWORKER_E_SYSTEM, err, errlen, "hworker_start: cannot create thread %d", i + 1);
            pthread_mutex_lock(&h->threads_lock);
            h->threads = threads;
            h->nthreads = n;
            pthread_mutex_unlock(&h->threads_lock);
            hworker_stop(h, 0);
            return HWORKER_E_SYSTEM;
        }
        n++;
    }
    free(made);
    pthread_mutex_lock(&h->threads_lock);
    h->threads = threads;
    h->nthreads = n;
    pthread_mutex_unlock(&h->threads_lock);
    return 0;
}

/* Wakes workers blocked in BLMOVE so a stop does not wait for their block
 * timeout. Best effort: a worker that misses it wakes at its timeout. */
static void unblock_workers(hworker *h)
{
    long long ids[256];
    size_t n = 0;
    pthread_mutex_lock(&h->threads_lock);
    for (size_t i = 0; i < h->nworkers && n < 256; i++) {
        long long id = atomic_load(&hw_worker_conn(h->workers[i])->client_id);
        if (id >= 0) ids[n++] = id;
    }
    pthread_mutex_unlock(&h->threads_lock);
    if (n == 0) return;
    pthread_mutex_lock(&h->producer_lock);
    if (hw_conn_ensure(&h->producer, NULL) == 0) {
        for (size_t i = 0; i < n; i++) {
            char id[32];
            snprintf(id, sizeof id, "%lld", ids[i]);
            redisReply *r = hw_conn_simple(&h->producer, "CLIENT", "UNBLOCK", id, NULL);
            if (r) freeReplyObject(r);
        }
    }
    pthread_mutex_unlock(&h->producer_lock);
}

static int wait_workers_gone(hworker *h, double seconds)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    long long ns = until.tv_nsec + (long long)(seconds * 1e9);
    until.tv_sec += (time_t)(ns / 1000000000LL);
    until.tv_nsec = (long)(ns % 1000000000LL);
    pthread_mutex_lock(&h->threads_lock);
    while (h->nworkers > 0)
        if (pthread_cond_timedwait(&h->threads_changed, &h->threads_lock, &until) != 0) break;
    int left = (int)h->nworkers;
    pthread_mutex_unlock(&h->threads_lock);
    return left;
}

hworker_rc hworker_stop(hworker *h, double grace)
{
    if (h == NULL) return 0;
    hw_signal_raise(&h->stop);
    if (grace < 0) grace = 0;
    /* A worker that checked the stop flag just before it was raised may
     * enter BLMOVE after an unblock: keep unblocking while waiting. */
    double until = hw_monotonic() + grace;
    int left;
    do {
        unblock_workers(h);
        double step = until - hw_monotonic();
        left = wait_workers_gone(h, step < 0.1 ? (step > 0 ? step : 0) : 0.1);
    } while (left > 0 && hw_monotonic() < until);
    if (left > 0) {
        hw_log(&h->log, HWORKER_LOG_INFO, "grace period of %gs over: stopping running jobs and handing them back",
               grace);
        atomic_store(&h->abort_jobs, 1);
        unblock_workers(h);
        /* A job stops within microseconds of the abort unless a C function
         * holds it: past HW_STUCK_SLACK its thread is abandoned, so a stop
         * never waits on job code. */
        double give_up = hw_monotonic() + HW_STUCK_SLACK;
        while (wait_workers_gone(h, 0.1) > 0) {
            unblock_workers(h);
            if (hw_monotonic() >= give_up) {
                pthread_mutex_lock(&h->producer_lock);
                hw_watchdog_check(h, &h->producer, hw_monotonic(), 1);
                pthread_mutex_unlock(&h->producer_lock);
            }
        }
    }
    pthread_mutex_lock(&h->threads_lock);
    pthread_t *threads = h->threads;
    size_t n = h->nthreads;
    h->threads = NULL;
    h->nthreads = 0;
    pthread_mutex_unlock(&h->threads_lock);
    for (size_t i = 0; i < n; i++) pthread_join(threads[i], NULL);
    free(threads);
    pthread_mutex_lock(&h->threads_lock);
    if (h->nworkers == 0) hw_join_keeper_locked(h);
    pthread_mutex_unlock(&h->threads_lock);
    return 0;
}

hworker_rc hworker_worker(hworker *h, char *err, size_t errlen)
{
    HW_ERR_BUF(err, errlen);
    hworker_rc rc = check_shards(h, err, errlen);
    if (rc != HWORKER_OK) return rc;
    hw_worker *w = hw_worker_new(h, err, errlen);
    if (w == NULL) return HWORKER_E_JOB_FILE;
    hw_worker_loop(w);
    return HWORKER_OK;
}

hworker_rc hworker_monitor(hworker *h, char *err, size_t errlen)
{
    HW_ERR_BUF(err, errlen);
    hworker_rc rc = check_shards(h, err, errlen);
    if (rc != HWORKER_OK) return rc;
    return hw_monitor_run(h, err, errlen);
}

hworker_rc hworker_debugger(hworker *h, double interval, char *err, size_t errlen)
{
    HW_ERR_BUF(err, errlen);
    return hw_debugger_run(h, interval, err, errlen);
}

void hworker_free(hworker *h)
{
    if (h == NULL) return;
    hworker_stop(h, 0);
    int stuck = atomic_load(&h->abandoned_live);
    if (stuck > 0) {
        /* Their Lua states point into the handle: it must outlive them. */
        hw_log(
            &h->log, HWORKER_LOG_ERROR,
            "%d worker thread(s) are still stuck in C functions: the handle is not freed (its memory stays allocated)",
            stuck);
        /* The host frees what its callback uses once this returns. */
        hw_logger_detach(&h->log);
        return;
    }
    hw_conn_free(&h->producer);
    hw_conn_free(&h->events);
    pthread_mutex_destroy(&h->events_lock);
    hw_held_destroy(&h->held);
    hw_signal_destroy(&h->stop);
    hw_signal_destroy(&h->keeper_stop);
    hw_signal_destroy(&h->keeper_wake);
    pthread_mutex_destroy(&h->producer_lock);
    hw_gather_destroy(&h->gather);
    hw_shard_cache_destroy(&h->follow_ups);
    pthread_mutex_destroy(&h->state_lock);
    pthread_mutex_destroy(&h->threads_lock);
    pthread_cond_destroy(&h->threads_changed);
    hw_logger_destroy(&h->log);
    for (size_t i = 0; i < h->nfunctions; i++) free(h->functions[i].name);
    free(h->functions);
    free(h->workers);
    for (int i = 0; i < h->nshards; i++) hw_keys_free(&h->shard[i]);
    free(h->shard);
    hw_tls_context_free(&h->target);
    hw_target_free(&h->target);
    free(h->name);
    free(h->redis_url);
    free(h->job_file);
    free(h->init_config);
    free(h);
}
