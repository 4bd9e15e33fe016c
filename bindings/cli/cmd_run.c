/* hworker-lua run: workers and monitors until a signal; graceful stop,
 * reload on SIGHUP, a live status line on a terminal. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "cli.h"
#include "json.h"
#include "log.h"
#include "options.h"
#include "read_file.h"
#include "url.h"

/* The log sink of `run`: shared by every engine thread, so locked. While a
 * status line is on the terminal, a log line clears it and draws it again. */
typedef struct run_log {
    pthread_mutex_t lock;
    int json, tty;
    hworker_log_level min; /* lines below this level are dropped: --log-level */
    const char *queue;
    char status[256];
} run_log;

static void now_iso(char *out, size_t outlen)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char base[32];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, outlen, "%s.%03ldZ", base, ts.tv_nsec / 1000000);
}

/* The fields every job's lines carry, which a text line's message already
 * says; a handler's own fields follow a text line as key=value. */
static int engine_field(const char *key)
{
    static const char *const keys[] = {"worker", "job_id", "attempt", "outcome", "duration_ms", "delay_ms", NULL};
    for (int i = 0; keys[i]; i++)
        if (strcmp(key, keys[i]) == 0) return 1;
    return 0;
}

/* One line, as text or a JSON object with its fields (values arrive
 * escaped: a value cannot start a line of its own). */
static void run_log_fields(void *ud, hworker_log_level level, const char *msg, const hworker_log_field *fields,
                           size_t n)
{
    run_log *l = ud;
    if (level < l->min) return;
    char ts[48];
    now_iso(ts, sizeof ts);
    hw_buf line = {0};
    if (l->json) {
        hw_buf_addf(&line, "{\"ts\":\"%s\",\"level\":\"%s\",\"queue\":", ts, hw_log_level_name(level));
        hw_json_quote(&line, l->queue, strlen(l->queue));
        hw_buf_adds(&line, ",\"msg\":");
        hw_json_quote(&line, msg, strlen(msg));
        for (size_t i = 0; i < n; i++) {
            hw_buf_adds(&line, ",");
            hw_json_quote(&line, fields[i].key, strlen(fields[i].key));
            hw_buf_adds(&line, ":");
            if (fields[i].unquoted) hw_buf_adds(&line, fields[i].value);
            else hw_json_quote(&line, fields[i].value, strlen(fields[i].value));
        }
        hw_buf_adds(&line, "}\n");
    } else {
        hw_buf_addf(&line, "%s %s [%s] %s", ts, hw_log_level_name(level), l->queue, msg);
        for (size_t i = 0; i < n; i++)
            if (!engine_field(fields[i].key)) cli_text_field(&line, fields[i].key, fields[i].value);
        hw_buf_adds(&line, "\n");
    }
    pthread_mutex_lock(&l->lock);
    if (l->tty && l->status[0]) fputs("\r\033[K", stdout);
    fputs(line.data, stdout);
    if (l->tty && l->status[0]) fputs(l->status, stdout);
    fflush(stdout);
    pthread_mutex_unlock(&l->lock);
    hw_buf_free(&line);
}

static void run_log_line(void *ud, hworker_log_level level, const char *msg)
{
    run_log_fields(ud, level, msg, NULL, 0);
}

static void draw_status(run_log *l, hworker *h, long long *last_processed, double *last_time)
{
    hworker_stats s;
    if (hworker_get_stats(h, &s, NULL, 0) != 0) return;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double now = (double)ts.tv_sec + ts.tv_nsec / 1e9;
    double rate = *last_time > 0 && now > *last_time ? (double)(s.processed - *last_processed) / (now - *last_time) : 0;
    *last_processed = s.processed;
    *last_time = now;
    pthread_mutex_lock(&l->lock);
    snprintf(l->status, sizeof l->status,
             "%.1f jobs/s | processed %lld | pending %lld | in flight %lld | failed %lld | recovered %lld", rate,
             s.processed, s.pending, s.inflight, s.failed, s.recovered);
    fputs("\r\033[K", stdout);
    fputs(l->status, stdout);
    fflush(stdout);
    pthread_mutex_unlock(&l->lock);
}

typedef struct stopper {
    hworker *h;
    double grace;
    atomic_int done;
} stopper;

static void *stop_main(void *arg)
{
    stopper *s = arg;
    hworker_stop(s->h, s->grace);
    atomic_store(&s->done, 1);
    return NULL;
}

static char *read_config(const char *arg, char *err, size_t errlen)
{
    if (arg[0] != '@') return strdup(arg);
    hw_buf b = {0};
    if (hw_read_file(arg + 1, &b)) {
        snprintf(err, errlen, "--config %s: cannot read %s: %s", arg, arg + 1, strerror(errno));
        hw_buf_free(&b);
        return NULL;
    }
    return b.data;
}

/* The settings of core/options.c as run's flags: --NAME with '-' for '_'. */
typedef struct setting_flags {
    char names[64][32];
    const char *values[64];
    size_t n;
} setting_flags;

static void add_setting_flags(setting_flags *f, cli_opt *opts, size_t *nopts)
{
    f->n = 0;
    for (const hw_option *o = hw_options; o->name && f->n < 64; o++, f->n++) {
        snprintf(f->names[f->n], sizeof f->names[f->n], "%s", o->name);
        for (char *c = f->names[f->n]; *c; c++)
            if (*c == '_') *c = '-';
        f->values[f->n] = NULL;
        opts[(*nopts)++] = (cli_opt){f->names[f->n], OPT_STRING, &f->values[f->n], 0};
    }
}

/* Applies the setting flags given; -1 with the message printed. */
static int apply_setting_flags(const setting_flags *f, hworker_config *cfg)
{
    size_t i = 0;
    for (const hw_option *o = hw_options; o->name && i < f->n; o++, i++) {
        if (f->values[i] == NULL) continue;
        char as[40], err[256];
        snprintf(as, sizeof as, "--%s", f->names[i]);
        if (hw_option_set_text(cfg, o, f->values[i], as, err, sizeof err)) {
            cli_error("run", "%s", err);
            return -1;
        }
    }
    return 0;
}

static int run_command(int argc, char **argv, cli_args *args)
{
    cli_redis redis = {0};
    const char *name = NULL, *config = NULL, *config_file = NULL, *log_format = "text";
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int threads = cores > 0 ? (int)cores : 2, monitors = 1;
    double grace = 25;
    int print_settings = 0;
    cli_opt opts[96] = {{"name", OPT_STRING, &name, 0},
                        CLI_REDIS_FLAGS(redis),
                        {"threads", OPT_INT, &threads, 0},
                        {"workers", OPT_INT, &threads, 0},
                        {"monitors", OPT_INT, &monitors, 0},
                        {"config", OPT_STRING, &config, 0},
                        {"grace", OPT_NUMBER, &grace, 0},
                        {"log-format", OPT_STRING, &log_format, 0},
                        {"print-settings", OPT_FLAG, &print_settings, 0},
                        {"config-file", OPT_STRING, &config_file, 0}};
    size_t nopts = 0; /* the entries above; the rest of opts is zeroed */
    while (opts[nopts].name) nopts++;
    setting_flags settings;
    add_setting_flags(&settings, opts, &nopts);
    opts[nopts] = (cli_opt){NULL, 0, NULL, 0};
    const char *pos[1];
    int npos;
    /* Settings from a file and the environment go first: the command line
     * wins. Their strings live in *args, which the caller frees. */
    if (cli_settings_args("run", argc, argv, opts, args)) return CLI_USAGE;
    if (cli_parse("run", args->n, args->argv, opts, pos, 1, &npos)) return CLI_USAGE;
    if (npos != 1) {
        cli_error("run", "a job file is required: hworker-lua run JOBFILE --name NAME");
        return CLI_USAGE;
    }
    if (!name) {
        cli_error("run", "--name NAME is required (the queue to work on)");
        return CLI_USAGE;
    }
    if (threads < 0 || monitors < 0 || threads + monitors == 0) {
        cli_error("run", "--threads and --monitors must be >= 0, and not both 0");
        return CLI_USAGE;
    }
    if (!(grace >= 0) || !isfinite(grace)) {
        cli_error("run", "--grace must be a finite number of seconds >= 0 (got %g)", grace);
        return CLI_USAGE;
    }
    if (strcmp(log_format, "text") != 0 && strcmp(log_format, "json") != 0) {
        cli_error("run", "--log-format must be text or json (got '%s')", log_format);
        return CLI_USAGE;
    }
    hworker_config cfg;
    hworker_config_init(&cfg);
    if (apply_setting_flags(&settings, &cfg)) return CLI_USAGE;
    if (print_settings) {
        hw_buf out = {0};
        hw_options_values_json(&cfg, &out);
        puts(out.data);
        hw_buf_free(&out);
        return CLI_OK;
    }
    char err[1024];
    char *init_config = NULL;
    if (config && (init_config = read_config(config, err, sizeof err)) == NULL) {
        cli_error("run", "%s", err);
        return CLI_USAGE;
    }

    run_log log = {.json = strcmp(log_format, "json") == 0, .tty = isatty(STDOUT_FILENO), .queue = name};
    pthread_mutex_init(&log.lock, NULL);
    cfg.name = name;
    cli_config_redis(&cfg, &redis);
    cfg.job_file = pos[0];
    if (init_config) cfg.init_config = init_config;
    cfg.log_fields = run_log_fields;
    cfg.log_ud = &log;
    log.min = cfg.log_level;

    /* Signals are taken by this thread alone (sigtimedwait below); every
     * engine thread inherits the blocked mask. */
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &signals, NULL);

    hworker *h = hworker_create(&cfg, err, sizeof err);
    free(init_config);
    if (h == NULL) {
        cli_error("run", "%s", err);
        return CLI_USAGE;
    }
    if (hworker_start(h, threads, monitors, err, sizeof err) != 0) {
        cli_error("run", "%s", err);
        hworker_free(h);
        return CLI_FAILED;
    }
    char where[300];
    hw_url_redact(cfg.redis_url, where, sizeof where);
    hworker_log_level info = HWORKER_LOG_INFO;
    if (info >= cfg.log_level) {
        char msg[600];
        snprintf(msg, sizeof msg, "running %s on queue %s at %s: %d worker(s), %d monitor(s), %s sandbox", pos[0], name,
                 where, threads, monitors, cfg.trusted ? "trusted" : "strict");
        run_log_line(&log, info, msg);
    }

    stopper stop = {h, grace, 0};
    pthread_t stop_thread;
    int stopping = 0;
    long long last_processed = 0;
    double last_time = 0;
    while (!atomic_load(&stop.done)) {
        struct timespec wait = {stopping ? 0 : 1, stopping ? 100000000L : 0};
        int sig = sigtimedwait(&signals, NULL, &wait);
        if (sig == SIGHUP) {
            if (hworker_reload(h, err, sizeof err) != 0) {
                char msg[1200];
                snprintf(msg, sizeof msg, "reload failed, the old job file keeps running: %s", err);
                run_log_line(&log, HWORKER_LOG_ERROR, msg);
            }
        } else if (sig == SIGINT || sig == SIGTERM) {
            char msg[200];
            if (!stopping) {
                stopping = 1;
                snprintf(msg, sizeof msg,
                         "stopping: no new jobs; running jobs have %gs to finish (signal again to stop now)", grace);
                run_log_line(&log, HWORKER_LOG_INFO, msg);
                if (pthread_create(&stop_thread, NULL, stop_main, &stop) != 0) {
                    hworker_stop(h, grace);
                    atomic_store(&stop.done, 1);
                    stopping = 2;
                }
            } else {
                run_log_line(&log, HWORKER_LOG_INFO, "stopping now: handing back the running jobs");
                hworker_stop(h, 0);
            }
        } else if (log.tty && !stopping) {
            draw_status(&log, h, &last_processed, &last_time);
        }
    }
    if (stopping == 1) pthread_join(stop_thread, NULL);
    pthread_mutex_lock(&log.lock);
    if (log.tty && log.status[0]) fputs("\r\033[K", stdout);
    log.status[0] = '\0';
    pthread_mutex_unlock(&log.lock);
    run_log_line(&log, HWORKER_LOG_INFO, "stopped");
    hworker_free(h);
    pthread_mutex_destroy(&log.lock);
    return CLI_OK;
}

int cmd_run(int argc, char **argv)
{
    cli_args args = {0};
    int code = run_command(argc, argv, &args);
    cli_args_free(&args);
    return code;
}
