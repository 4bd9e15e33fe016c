/* hworker-lua jobs|inflight|scheduled|failed|broken, stats, debug. */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "json.h"

/* One listed entry, built field by field: a JSON object (times in ms since
 * the epoch), or with --text a line of key=value fields (times in ISO
 * 8601, UTC, to the millisecond). */
typedef struct row {
    int text;
    hw_buf line;
} row;

static void row_key(row *r, const char *key)
{
    if (r->text) return;
    hw_buf_addf(&r->line, "%s\"%s\":", r->line.len > 1 ? "," : "", key);
}

static void row_string(row *r, const char *key, const char *s, size_t len)
{
    if (r->text) {
        hw_buf v = {0};
        hw_buf_add(&v, s, len);
        cli_text_field(&r->line, key, v.data);
        hw_buf_free(&v);
        return;
    }
    row_key(r, key);
    hw_json_quote(&r->line, s, len);
}

/* Valid JSON as itself (on one line), anything else as a string. */
static void row_json(row *r, const char *key, const char *s, size_t len)
{
    if (hw_json_check(s, len, NULL, 0) != 0) {
        row_string(r, key, s, len);
        return;
    }
    hw_buf v = {0};
    for (size_t i = 0; i < len; i++) hw_buf_add(&v, s[i] == '\n' || s[i] == '\r' ? " " : s + i, 1);
    if (r->text) {
        cli_text_field(&r->line, key, v.data ? v.data : "");
    } else {
        row_key(r, key);
        hw_buf_add(&r->line, v.data, v.len);
    }
    hw_buf_free(&v);
}

static void row_number(row *r, const char *key, long long n)
{
    char v[32];
    snprintf(v, sizeof v, "%lld", n);
    if (r->text) {
        cli_text_field(&r->line, key, v);
        return;
    }
    row_key(r, key);
    hw_buf_adds(&r->line, v);
}

/* A time in ms; with `or_null`, a negative one (not known) is JSON's null.
 * As text, a negative time is "-". */
static void row_time(row *r, const char *key, long long ms, int or_null)
{
    if (r->text) {
        char v[48];
        cli_text_field(&r->line, key, cli_iso8601_ms(ms, v, sizeof v));
        return;
    }
    row_key(r, key);
    if (ms < 0 && or_null) hw_buf_adds(&r->line, "null");
    else hw_buf_addf(&r->line, "%lld", ms);
}

typedef struct list_out {
    hworker_part part;
    int text;
} list_out;

static int print_entry(void *ud, const hworker_entry *e)
{
    const list_out *o = ud;
    hworker_part part = o->part;
    row r = {o->text, {0}};
    if (!r.text) hw_buf_adds(&r.line, "{");
    if (e->id) row_string(&r, "id", e->id, strlen(e->id));
    if (part == HWORKER_BROKEN) row_string(&r, "payload", e->job ? e->job : "", e->job ? e->job_len : 0);
    else if (e->job && !r.text) row_json(&r, "job", e->job, e->job_len);
    if (e->attempt >= 0) row_number(&r, "attempt", e->attempt);
    if (e->recoveries >= 0) row_number(&r, "recoveries", e->recoveries);
    if (e->enqueued_at >= 0) row_time(&r, "enqueued_at", e->enqueued_at, 0);
    if (part == HWORKER_INFLIGHT) {
        if (e->holder) row_string(&r, "holder", e->holder, strlen(e->holder));
        row_time(&r, "lease_expires_at", e->time, 0);
        /* Claimed in a batch and not started yet, or started since its
         * process's last beat: the beat is what tells. */
        const char *state = e->started_at >= 0 ? "running" : "claimed";
        row_string(&r, "state", state, strlen(state));
        row_time(&r, "started_at", e->started_at, 1);
    }
    if (part == HWORKER_SCHEDULED) row_time(&r, "due_at", e->time, 0);
    if (part == HWORKER_FAILED || part == HWORKER_BROKEN) {
        row_string(&r, "reason", e->reason ? e->reason : "", e->reason ? strlen(e->reason) : 0);
        row_time(&r, part == HWORKER_FAILED ? "failed_at" : "broken_at", e->time, 0);
        if (e->record) row_string(&r, "record", e->record, strlen(e->record));
    }
    /* The job last on a text line: it is the longest field. */
    if (e->job && r.text && part != HWORKER_BROKEN) row_json(&r, "job", e->job, e->job_len);
    if (r.text) {
        /* cli_text_field starts each field with a space. */
        fwrite(r.line.data + 1, 1, r.line.len - 1, stdout);
        fputc('\n', stdout);
    } else {
        hw_buf_adds(&r.line, "}\n");
        fwrite(r.line.data, 1, r.line.len, stdout);
    }
    hw_buf_free(&r.line);
    return 0;
}

int cmd_list(const char *cmd, int argc, char **argv)
{
    static const struct {
        const char *name;
        hworker_part part;
    } parts[] = {{"jobs", HWORKER_PENDING},
                 {"inflight", HWORKER_INFLIGHT},
                 {"scheduled", HWORKER_SCHEDULED},
                 {"failed", HWORKER_FAILED},
                 {"broken", HWORKER_BROKEN}};
    hworker_part part = HWORKER_PENDING;
    for (size_t i = 0; i < sizeof parts / sizeof *parts; i++)
        if (strcmp(parts[i].name, cmd) == 0) part = parts[i].part;
    cli_redis redis = {0};
    int limit = 100, offset = 0, shards = 1, code = CLI_OK, text = 0, json = 0;
    cli_opt opts[] = {CLI_REDIS_FLAGS(redis),
                      {"text", OPT_FLAG, &text, 0},
                      {"json", OPT_FLAG, &json, 0},
                      {"limit", OPT_INT, &limit, 0},
                      {"offset", OPT_INT, &offset, 0},
                      {"shards", OPT_INT, &shards, 0},
                      {NULL, 0, NULL, 0}};
    const char *pos[1];
    int npos;
    if (cli_parse(cmd, argc, argv, opts, pos, 1, &npos)) return CLI_USAGE;
    if (npos != 1) {
        cli_error(cmd, "a queue name is required: hworker-lua %s NAME", cmd);
        return CLI_USAGE;
    }
    if (limit < 1 || offset < 0) {
        cli_error(cmd, "--limit must be >= 1 and --offset >= 0");
        return CLI_USAGE;
    }
    if (text && json) {
        cli_error(cmd, "--text and --json cannot go together: give one (JSON lines are the default)");
        return CLI_USAGE;
    }
    hworker *h = cli_open_queue(cmd, pos[0], &redis, shards, 0, &code);
    if (h == NULL) return code;
    char err[512];
    list_out out = {part, text};
    if (hworker_list(h, part, offset, limit, print_entry, &out, err, sizeof err) != 0) {
        cli_error(cmd, "%s", err);
        code = CLI_FAILED;
    }
    hworker_free(h);
    return code;
}

/* A sharded queue's per-shard sizes: a JSON array, or a table. */
static void print_shards(hworker *h, int json)
{
    if (!json)
        printf("\n%-6s %10s %10s %10s %10s %10s %12s\n", "shard", "pending", "in flight", "scheduled", "failed",
               "broken", "processed");
    for (int k = 0; k < hworker_shards(h); k++) {
        hworker_stats s;
        char err[256];
        if (hworker_get_shard_stats(h, k, &s, err, sizeof err) != 0) memset(&s, 0, sizeof s);
        if (json)
            printf("%s{\"shard\":%d,\"pending\":%lld,\"inflight\":%lld,\"scheduled\":%lld,\"failed\":%lld,"
                   "\"broken\":%lld,\"processed\":%lld}",
                   k ? "," : "", k, s.pending, s.inflight, s.scheduled, s.failed, s.broken, s.processed);
        else
            printf("%-6d %10lld %10lld %10lld %10lld %10lld %12lld\n", k, s.pending, s.inflight, s.scheduled, s.failed,
                   s.broken, s.processed);
    }
}

static void print_stats(const hworker_stats *s, int json, hworker *sharded)
{
    if (json) {
        printf("{\"pending\":%lld,\"inflight\":%lld,\"scheduled\":%lld,\"failed\":%lld,\"broken\":%lld,"
               "\"latency_ms\":%lld,\"counters\":{\"enqueued\":%lld,\"processed\":%lld,\"succeeded\":%lld,\"retried\":%"
               "lld,"
               "\"failed\":%lld,\"broken\":%lld,\"recovered\":%lld,\"lease_lost\":%lld,\"handed_back\":%lld,"
               "\"promoted\":%lld,\"requeued\":%lld,\"scheduled\":%lld,\"exhausted\":%lld,\"merged\":%lld,"
               "\"cancelled\":%lld,\"deleted\":%lld}",
               s->pending, s->inflight, s->scheduled, s->failed, s->broken, s->latency_ms, s->enqueued, s->processed,
               s->succeeded, s->retried, s->failed_total, s->broken_total, s->recovered, s->lease_lost, s->handed_back,
               s->promoted, s->requeued, s->scheduled_total, s->exhausted, s->merged, s->cancelled, s->deleted);
        if (s->lateness_samples > 0)
            printf(",\"lateness_ms\":{\"samples\":%lld,\"p50\":%lld,\"p99\":%lld,\"max\":%lld}", s->lateness_samples,
                   s->lateness_p50_ms, s->lateness_p99_ms, s->lateness_max_ms);
        else printf(",\"lateness_ms\":{\"samples\":0,\"p50\":null,\"p99\":null,\"max\":null}");
        printf(",\"flow\":");
        cli_print_flow_json(s);
        if (sharded) {
            printf(",\"shards\":[");
            print_shards(sharded, 1);
            printf("]");
        }
        printf("}\n");
    } else {
        printf("%-12s %12s    %-12s %12s\n", "size", "", "counter", "");
        printf("%-12s %12lld    %-12s %12lld\n", "pending", s->pending, "enqueued", s->enqueued);
        printf("%-12s %12lld    %-12s %12lld\n", "in flight", s->inflight, "processed", s->processed);
        printf("%-12s %12lld    %-12s %12lld\n", "scheduled", s->scheduled, "succeeded", s->succeeded);
        printf("%-12s %12lld    %-12s %12lld\n", "failed", s->failed, "retried", s->retried);
        printf("%-12s %12lld    %-12s %12lld\n", "broken", s->broken, "failed", s->failed_total);
        const char *names[] = {"broken",    "recovered", "lease lost", "handed back", "promoted", "requeued",
                               "scheduled", "exhausted", "merged",     "cancelled",   "deleted"};
        long long values[] = {s->broken_total,    s->recovered, s->lease_lost, s->handed_back, s->promoted, s->requeued,
                              s->scheduled_total, s->exhausted, s->merged,     s->cancelled,   s->deleted};
        for (int i = 0; i < 11; i++) printf("%-12s %12s    %-12s %12lld\n", "", "", names[i], values[i]);
        printf("latency: the job next in line has been ready for %lld ms\n", s->latency_ms);
        if (s->lateness_samples > 0)
            printf("lateness of the last %lld jobs that waited: p50 %lld ms, p99 %lld ms, max %lld ms\n",
                   s->lateness_samples, s->lateness_p50_ms, s->lateness_p99_ms, s->lateness_max_ms);
        cli_print_flow(s);
        if (sharded) print_shards(sharded, 0);
    }
    fflush(stdout);
}

int cmd_stats(int argc, char **argv)
{
    cli_redis redis = {0};
    int json = 0, shards = 1, history = 0, code = CLI_OK;
    double watch = 0;
    const char *since = NULL, *period = NULL;
    cli_opt opts[] = {CLI_REDIS_FLAGS(redis),
                      {"json", OPT_FLAG, &json, 0},
                      {"watch", OPT_NUMBER, &watch, 0},
                      {"shards", OPT_INT, &shards, 0},
                      {"history", OPT_FLAG, &history, 0},
                      {"since", OPT_STRING, &since, 0},
                      {"period", OPT_STRING, &period, 0},
                      {NULL, 0, NULL, 0}};
    const char *pos[1];
    int npos;
    if (cli_parse("stats", argc, argv, opts, pos, 1, &npos)) return CLI_USAGE;
    if (npos != 1) {
        cli_error("stats", "a queue name is required: hworker-lua stats NAME");
        return CLI_USAGE;
    }
    if (cli_seen(opts, "watch") && !(watch > 0)) {
        cli_error("stats", "--watch needs a number of seconds > 0");
        return CLI_USAGE;
    }
    if ((since || period) && !history) {
        cli_error("stats", "--since and --period go with --history: hworker-lua stats NAME --history --since 6h");
        return CLI_USAGE;
    }
    if (history && watch > 0) {
        cli_error("stats", "--watch does not go with --history");
        return CLI_USAGE;
    }
    hworker *h = cli_open_queue("stats", pos[0], &redis, shards, 0, &code);
    if (h == NULL) return code;
    if (cli_queue_known(h, pos[0]) == 0) {
        cli_error("stats", "no queue named \"%s\": `hworker-lua queues` lists them", pos[0]);
        hworker_free(h);
        return CLI_FAILED;
    }
    if (history) {
        code = cli_print_history("stats", h, since, period, json);
        hworker_free(h);
        return code;
    }
    char err[512];
    for (;;) {
        hworker_stats s;
        if (hworker_get_stats(h, &s, err, sizeof err) != 0) {
            cli_error("stats", "%s", err);
            code = CLI_FAILED;
            break;
        }
        print_stats(&s, json, shards > 1 ? h : NULL);
        if (!(watch > 0)) break;
        if (!json) putchar('\n');
        struct timespec ts = {(time_t)watch, (long)((watch - (double)(time_t)watch) * 1e9)};
        nanosleep(&ts, NULL);
    }
    hworker_free(h);
    return code;
}

static void debug_log(void *ud, hworker_log_level level, const char *msg)
{
    (void)ud;
    (void)level;
    printf("%s\n", msg);
    fflush(stdout);
}

static void *debugger_main(void *arg)
{
    void **a = arg;
    char err[256];
    if (hworker_debugger(a[0], *(double *)a[1], err, sizeof err) != 0) cli_error("debug", "%s", err);
    return NULL;
}

/* --interval: seconds, as every other duration; "250ms" and "2s" are taken
 * too. A bare number of 100 or more is refused rather than read: this flag
 * once took milliseconds, and "--interval 500" must not quietly become a
 * line every eight minutes. */
static int interval_seconds(const char *text, double *seconds)
{
    char *end;
    double v = strtod(text, &end);
    if (end == text) return -1;
    if (strcmp(end, "ms") == 0) v /= 1000.0;
    else if (strcmp(end, "s") != 0 && (*end != '\0' || v >= 100)) return -1;
    if (!(v >= 0.001 && v <= 86400)) return -1;
    *seconds = v;
    return 0;
}

int cmd_debug(int argc, char **argv)
{
    cli_redis redis = {0};
    const char *interval = "1";
    cli_opt opts[] = {CLI_REDIS_FLAGS(redis), {"interval", OPT_STRING, &interval, 0}, {NULL, 0, NULL, 0}};
    const char *pos[1];
    int npos;
    if (cli_parse("debug", argc, argv, opts, pos, 1, &npos)) return CLI_USAGE;
    if (npos != 1) {
        cli_error("debug", "a queue name is required: hworker-lua debug NAME");
        return CLI_USAGE;
    }
    double seconds;
    if (interval_seconds(interval, &seconds)) {
        cli_error("debug",
                  "--interval takes seconds, from 0.001 to 86400: write 0.5, 500ms or 120s (not \"%s\"; a bare "
                  "number of 100 or more needs its unit)",
                  interval);
        return CLI_USAGE;
    }
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, NULL);
    hworker_config cfg;
    hworker_config_init(&cfg);
    cfg.name = pos[0];
    cli_config_redis(&cfg, &redis);
    cfg.log = debug_log;
    char err[512];
    hworker *h = hworker_create(&cfg, err, sizeof err);
    if (h == NULL) {
        cli_error("debug", "%s", err);
        return CLI_USAGE;
    }
    void *args[2] = {h, &seconds};
    pthread_t t;
    if (pthread_create(&t, NULL, debugger_main, args) != 0) {
        hworker_free(h);
        return CLI_FAILED;
    }
    int sig;
    sigwait(&signals, &sig);
    hworker_stop(h, 0);
    pthread_join(t, NULL);
    hworker_free(h);
    return CLI_OK;
}
