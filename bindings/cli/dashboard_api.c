/* The dashboard's read side: GET /api/overview, /api/history, /api/jobs,
 * /api/find and /api/processes answer JSON built from the public API, the
 * same figures `queues`, `stats --history`, `list` and `ps` print. */
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "dashboard.h"
#include "json.h"
#include "queue_name.h"

/* A page of a list holds at most this many jobs, each cut to its first
 * HW_SHOWN_MAX bytes (find gives a job whole), so a page of huge payloads
 * stays a few MB. Find reads at most HW_FIND_DEPTH entries of each part,
 * newest first (paged inspection: a part is read a page at a time, never
 * whole). */
#define HW_PAGE_MAX 200
#define HW_SHOWN_MAX 4096
#define HW_FIND_PAGE 100
#define HW_FIND_DEPTH 10000
/* The history graphs cover the last hour, a bucket a minute. */
#define HW_GRAPH_MS (60LL * 60 * 1000)

void cli_reply_error(cli_reply *r, unsigned int status, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    r->status = status;
    hw_buf_clear(&r->body);
    hw_buf_adds(&r->body, "{\"error\":");
    hw_json_quote(&r->body, msg, strlen(msg));
    hw_buf_adds(&r->body, "}");
}

hworker *cli_dashboard_queue(const cli_dashboard *d, const char *name, cli_reply *r)
{
    if (name == NULL || name[0] == '\0') {
        cli_reply_error(r, 400, "name the queue: ?queue=NAME");
        return NULL;
    }
    /* Checked here, so that a bad name is the request's error and never a
     * line on the server's log. */
    char why[200];
    if (hw_queue_name_check(name, strlen(name), why, sizeof why)) {
        cli_reply_error(r, 400, "%s", why);
        return NULL;
    }
    int code = CLI_OK;
    hworker *q = cli_open_queue("serve", name, d->redis, cli_recorded_shards(d->registry, name), 0, &code);
    if (q == NULL) cli_reply_error(r, 400, "cannot open queue \"%s\" (the server's log says why)", name);
    return q;
}

static void add_key(hw_buf *b, int first, const char *key)
{
    if (!first) hw_buf_adds(b, ",");
    hw_buf_addf(b, "\"%s\":", key);
}

static void add_string(hw_buf *b, int first, const char *key, const char *s)
{
    add_key(b, first, key);
    if (s == NULL) {
        hw_buf_adds(b, "null");
    } else {
        hw_json_quote(b, s, strlen(s));
    }
}

/* A queue the registry lists, for a page about every queue: one that
 * cannot be opened is that queue's error there, not the request's. */
static hworker *open_listed(const cli_dashboard *d, const char *name)
{
    cli_reply r = {0};
    hworker *q = cli_dashboard_queue(d, name, &r);
    hw_buf_free(&r.body);
    return q;
}

/* ---- /api/overview: every queue in the registry with its sizes. */

typedef struct overview {
    const cli_dashboard *d;
    hw_buf *b;
    int n;
} overview;

static int add_queue(void *ud, const char *name)
{
    overview *o = ud;
    hworker *q = open_listed(o->d, name);
    hworker_stats s;
    char err[512];
    int ok = q != NULL && hworker_get_stats(q, &s, err, sizeof err) == HWORKER_OK;
    hw_buf_adds(o->b, o->n++ ? ",{" : "{");
    add_string(o->b, 1, "name", name);
    if (!ok) {
        add_string(o->b, 0, "error", q ? err : "cannot open the queue");
    } else {
        hw_buf_addf(o->b,
                    ",\"shards\":%d,\"pending\":%lld,\"inflight\":%lld,\"scheduled\":%lld,\"failed\":%lld,"
                    "\"broken\":%lld,\"paused\":%s,\"latency_ms\":%lld,\"processed\":%lld,\"succeeded\":%lld,"
                    "\"failed_total\":%lld",
                    hworker_shards(q), s.pending, s.inflight, s.scheduled, s.failed, s.broken,
                    s.paused ? "true" : "false", s.latency_ms, s.processed, s.succeeded, s.failed_total);
    }
    hw_buf_adds(o->b, "}");
    if (q) hworker_free(q);
    return 0;
}

static void get_overview(const cli_dashboard *d, cli_reply *r)
{
    hw_buf *b = &r->body;
    hw_buf_addf(b, "{\"version\":\"%s\",\"actions\":%s,\"queues\":[", hworker_version(), d->token ? "true" : "false");
    overview o = {d, b, 0};
    char err[512];
    if (hworker_list_queues(d->registry, add_queue, &o, err, sizeof err) != HWORKER_OK) {
        cli_reply_error(r, 502, "%s", err);
        return;
    }
    hw_buf_adds(b, "]}");
}

/* ---- /api/history[?queue=NAME]: the last hour, a bucket a minute; without
 * a queue, every queue's summed. */

typedef struct history {
    long long start[64], processed[64], succeeded[64], failed[64], retried[64];
    int n;
} history;

/* a + b, held at the limits: the counts come from Redis, which may hold anything. */
static long long sum(long long a, long long b)
{
    long long out;
    if (!__builtin_add_overflow(a, b, &out)) return out;
    return b > 0 ? LLONG_MAX : LLONG_MIN;
}

static int add_bucket(void *ud, const hworker_history_entry *e)
{
    history *h = ud;
    int i;
    for (i = 0; i < h->n && h->start[i] != e->start_ms; i++) {}
    if (i == h->n) {
        if (h->n == 64) return 0;
        h->start[h->n++] = e->start_ms;
    }
    h->processed[i] = sum(h->processed[i], e->processed);
    h->succeeded[i] = sum(h->succeeded[i], e->succeeded);
    h->failed[i] = sum(h->failed[i], sum(e->failed, e->broken));
    h->retried[i] = sum(h->retried[i], e->retried);
    return 0;
}

typedef struct history_all {
    const cli_dashboard *d;
    history *h;
    int errors;
} history_all;

static int add_queue_history(void *ud, const char *name)
{
    history_all *a = ud;
    hworker *q = open_listed(a->d, name);
    char err[512];
    if (q == NULL || hworker_history(q, 60000, HW_GRAPH_MS, add_bucket, a->h, err, sizeof err) != HWORKER_OK)
        a->errors++;
    if (q) hworker_free(q);
    return 0;
}

static void get_history(const cli_dashboard *d, const char *name, cli_reply *r)
{
    history *h = calloc(1, sizeof *h);
    if (h == NULL) abort();
    char err[512];
    history_all all = {d, h, 0};
    if (name) {
        hworker *q = cli_dashboard_queue(d, name, r);
        if (q == NULL) goto out;
        hworker_rc rc = hworker_history(q, 60000, HW_GRAPH_MS, add_bucket, h, err, sizeof err);
        hworker_free(q);
        if (rc != HWORKER_OK) {
            cli_reply_error(r, 502, "%s", err);
            goto out;
        }
    } else if (hworker_list_queues(d->registry, add_queue_history, &all, err, sizeof err) != HWORKER_OK) {
        cli_reply_error(r, 502, "%s", err);
        goto out;
    }
    hw_buf *b = &r->body;
    hw_buf_addf(b, "{\"period_ms\":60000,\"errors\":%d,\"buckets\":[", all.errors);
    for (int i = 0; i < h->n; i++)
        hw_buf_addf(b, "%s{\"start_ms\":%lld,\"processed\":%lld,\"succeeded\":%lld,\"failed\":%lld,\"retried\":%lld}",
                    i ? "," : "", h->start[i], h->processed[i], h->succeeded[i], h->failed[i], h->retried[i]);
    hw_buf_adds(b, "]}");
out:
    free(h);
}

/* ---- /api/jobs and /api/find: entries of one part. */

static const char *const part_names[] = {"pending", "inflight", "scheduled", "failed", "broken"};

static int part_of(const char *name)
{
    for (int i = 0; name && i < 5; i++)
        if (strcmp(name, part_names[i]) == 0) return i;
    return -1;
}

typedef struct listing {
    hw_buf *b;
    const char *id; /* find: the id sought; NULL: every entry */
    int part, n;
    long seen;
} listing;

/* One entry; its job cut to HW_SHOWN_MAX bytes unless `whole`. */
static void add_entry(hw_buf *b, int part, const hworker_entry *e, int whole)
{
    hw_buf_adds(b, "{");
    add_string(b, 1, "part", part_names[part]);
    add_string(b, 0, "id", e->id);
    add_key(b, 0, "job");
    const char *job = e->job ? e->job : e->raw;
    size_t len = e->job ? e->job_len : e->raw_len;
    int cut = !whole && len > HW_SHOWN_MAX;
    hw_json_quote(b, job, cut ? HW_SHOWN_MAX : len);
    hw_buf_addf(b, ",\"truncated\":%s,\"size\":%zu", cut ? "true" : "false", len);
    hw_buf_addf(b, ",\"attempt\":%ld,\"recoveries\":%ld,\"enqueued_at\":%lld,\"time\":%lld", e->attempt, e->recoveries,
                e->enqueued_at, e->time);
    add_string(b, 0, "holder", e->holder);
    if (part == HWORKER_INFLIGHT) hw_buf_addf(b, ",\"started_at\":%lld", e->started_at);
    add_string(b, 0, "reason", e->reason);
    add_string(b, 0, "record", e->record);
    hw_buf_adds(b, "}");
}

static int list_entry(void *ud, const hworker_entry *e)
{
    listing *l = ud;
    l->seen++;
    if (l->id && (e->id == NULL || strcmp(e->id, l->id) != 0)) return 0;
    if (l->n++) hw_buf_adds(l->b, ",");
    add_entry(l->b, l->part, e, l->id != NULL);
    return 0;
}

static long arg_long(const char *text, long fallback, long most)
{
    char *end;
    long v = text ? strtol(text, &end, 10) : fallback;
    if (text && (*end != '\0' || v < 0)) v = fallback;
    return v > most ? most : v;
}

static void get_jobs(const cli_dashboard *d, cli_arg_fn arg, void *ud, cli_reply *r)
{
    int part = part_of(arg(ud, "part"));
    if (part < 0) {
        cli_reply_error(r, 400, "name the list: ?part=pending, inflight, scheduled, failed or broken");
        return;
    }
    hworker *q = cli_dashboard_queue(d, arg(ud, "queue"), r);
    if (q == NULL) return;
    long offset = arg_long(arg(ud, "offset"), 0, 1L << 40), limit = arg_long(arg(ud, "limit"), 50, HW_PAGE_MAX);
    hworker_stats s;
    char err[512];
    hw_buf *b = &r->body;
    if (hworker_get_stats(q, &s, err, sizeof err) != HWORKER_OK) goto failed;
    long long sizes[5] = {s.pending, s.inflight, s.scheduled, s.failed, s.broken};
    hw_buf_addf(b, "{\"part\":\"%s\",\"total\":%lld,\"offset\":%ld,\"limit\":%ld,\"jobs\":[", part_names[part],
                sizes[part], offset, limit);
    listing l = {b, NULL, part, 0, 0};
    if (limit > 0 && hworker_list(q, (hworker_part)part, offset, limit, list_entry, &l, err, sizeof err) != HWORKER_OK)
        goto failed;
    hw_buf_adds(b, "]}");
    hworker_free(q);
    return;
failed:
    cli_reply_error(r, 502, "%s", err);
    hworker_free(q);
}

static void get_find(const cli_dashboard *d, cli_arg_fn arg, void *ud, cli_reply *r)
{
    const char *id = arg(ud, "id");
    if (id == NULL || id[0] == '\0') {
        cli_reply_error(r, 400, "name the job: ?id=ID");
        return;
    }
    hworker *q = cli_dashboard_queue(d, arg(ud, "queue"), r);
    if (q == NULL) return;
    hw_buf *b = &r->body;
    hw_buf_addf(b, "{\"depth\":%d,\"jobs\":[", HW_FIND_DEPTH);
    listing l = {b, id, 0, 0, 0};
    char err[512];
    for (int part = 0; part < 5; part++) {
        l.part = part;
        for (long offset = 0; offset < HW_FIND_DEPTH; offset += HW_FIND_PAGE) {
            l.seen = 0;
            if (hworker_list(q, (hworker_part)part, offset, HW_FIND_PAGE, list_entry, &l, err, sizeof err) !=
                HWORKER_OK) {
                cli_reply_error(r, 502, "%s", err);
                hworker_free(q);
                return;
            }
            if (l.seen < HW_FIND_PAGE) break;
        }
    }
    hw_buf_adds(b, "]}");
    hworker_free(q);
}

/* ---- /api/processes: every registered process of every queue. */

typedef struct processes {
    const cli_dashboard *d;
    hw_buf *b;
    int n, errors;
} processes;

static int add_process(void *ud, const hworker_process_info *p)
{
    processes *o = ud;
    hw_buf *b = o->b;
    hw_buf_adds(b, o->n++ ? ",{" : "{");
    add_string(b, 1, "id", p->id);
    add_string(b, 0, "host", p->host);
    add_string(b, 0, "version", p->version);
    add_string(b, 0, "queue", p->queue);
    add_string(b, 0, "job_file", p->job_file);
    hw_buf_addf(b, ",\"pid\":%lld,\"shards\":%d,\"threads\":%d,\"busy\":%d,\"started_at\":%lld,\"beat_at\":%lld}",
                p->pid, p->shards, p->threads, p->busy, p->started_at, p->beat_at);
    return 0;
}

static int add_queue_processes(void *ud, const char *name)
{
    processes *o = ud;
    char err[512];
    if (hworker_list_processes(o->d->registry, name, add_process, o, err, sizeof err) != HWORKER_OK) o->errors++;
    return 0;
}

static void get_processes(const cli_dashboard *d, cli_reply *r)
{
    hw_buf *b = &r->body;
    hw_buf_adds(b, "{\"processes\":[");
    processes o = {d, b, 0, 0};
    char err[512];
    if (hworker_list_queues(d->registry, add_queue_processes, &o, err, sizeof err) != HWORKER_OK) {
        cli_reply_error(r, 502, "%s", err);
        return;
    }
    hw_buf_addf(b, "],\"errors\":%d}", o.errors);
}

void cli_dashboard_get(const cli_dashboard *d, const char *path, cli_arg_fn arg, void *ud, cli_reply *r)
{
    r->status = 200;
    if (strcmp(path, "overview") == 0) {
        get_overview(d, r);
    } else if (strcmp(path, "history") == 0) {
        get_history(d, arg(ud, "queue"), r);
    } else if (strcmp(path, "jobs") == 0) {
        get_jobs(d, arg, ud, r);
    } else if (strcmp(path, "find") == 0) {
        get_find(d, arg, ud, r);
    } else if (strcmp(path, "processes") == 0) {
        get_processes(d, r);
    } else {
        cli_reply_error(r, 404, "no such API: the dashboard's are overview, history, jobs, find and processes");
    }
}
