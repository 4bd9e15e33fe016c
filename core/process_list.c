/* The process registry's reading side (hworker_list_processes): one script
 * call returns each live process's stored JSON, which is read here field
 * by field. A field that is missing or of the wrong kind reads as NULL or
 * -1, so an entry written by hand is still listed rather than hidden. */
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "internal.h"
#include "json.h"
#include "script_args.h"

#define HW_PROCESSES_MAX 10000

static const char *const string_names[] = {"id", "host", "version", "queue", "job_file"};
static const char *const number_names[] = {"pid", "shards", "threads", "busy", "started", "beat"};
#define NSTRINGS (sizeof string_names / sizeof *string_names)
#define NNUMBERS (sizeof number_names / sizeof *number_names)

/* The most running jobs read from one entry: more than any process has
 * threads, so that a hand-written entry cannot make a listing allocate
 * without bound. */
#define HW_RUNNING_MAX 1024

/* One element of an entry's "running" array, decoded. */
typedef struct running_text {
    hw_buf worker, id, claim;
    long long started_at;
} running_text;

typedef struct parsed {
    hw_buf text[NSTRINGS];
    int has[NSTRINGS];
    long long number[NNUMBERS];
    running_text *running;
    size_t nrunning;
} parsed;

static int named(const hw_json_field *f, const char *name)
{
    return f->key_len == strlen(name) && memcmp(f->key, name, f->key_len) == 0;
}

static long long whole_number(const hw_json_field *f)
{
    /* 18 digits at most: any such number fits a long long. */
    if (f->is_string || f->value_len == 0 || f->value_len > 18) return -1;
    long long v = 0;
    for (size_t i = 0; i < f->value_len; i++) {
        if (f->value[i] < '0' || f->value[i] > '9') return -1;
        v = v * 10 + (f->value[i] - '0');
    }
    return v;
}

static void running_field(void *ud, const hw_json_field *f)
{
    running_text *r = ud;
    hw_buf *to = named(f, "worker") ? &r->worker : named(f, "id") ? &r->id : named(f, "claim") ? &r->claim : NULL;
    if (to != NULL && f->is_string) {
        hw_buf_clear(to);
        hw_json_unescape(to, f->value, f->value_len);
    } else if (named(f, "started_at")) {
        r->started_at = whole_number(f);
    }
}

static void running_element(void *ud, const char *v, size_t v_len)
{
    parsed *p = ud;
    if (p->nrunning >= HW_RUNNING_MAX) return;
    running_text r = {.started_at = -1};
    hw_buf_adds(&r.worker, "");
    hw_buf_adds(&r.id, "");
    hw_buf_adds(&r.claim, "");
    hw_json_flat_object(v, v_len, running_field, &r);
    if (p->nrunning % 16 == 0) {
        p->running = realloc(p->running, (p->nrunning + 16) * sizeof *p->running);
        if (p->running == NULL) abort();
    }
    p->running[p->nrunning++] = r;
}

static void field(void *ud, const hw_json_field *f)
{
    parsed *p = ud;
    if (named(f, "running") && !f->is_string && p->running == NULL) {
        hw_json_array_each(f->value, f->value_len, running_element, p);
        return;
    }
    for (size_t i = 0; i < NSTRINGS; i++) {
        if (f->is_string && named(f, string_names[i])) {
            hw_buf_clear(&p->text[i]);
            hw_json_unescape(&p->text[i], f->value, f->value_len);
            p->has[i] = 1;
            return;
        }
    }
    for (size_t i = 0; i < NNUMBERS; i++) {
        if (named(f, number_names[i])) {
            p->number[i] = whole_number(f);
            return;
        }
    }
}

static const char *text_of(parsed *p, size_t i) { return p->has[i] ? p->text[i].data : NULL; }

static int small(long long v) { return v < 0 || v > 1000000 ? -1 : (int)v; }

/* Reads one stored entry and hands it to fn; returns fn's answer. */
static int deliver(const redisReply *json, const redisReply *expires, hworker_process_fn fn, void *ud)
{
    parsed p = {0};
    for (size_t i = 0; i < NNUMBERS; i++) p.number[i] = -1;
    for (size_t i = 0; i < NSTRINGS; i++) hw_buf_adds(&p.text[i], "");
    hw_json_flat_object(json->str, json->len, field, &p);
    hworker_running_job *running = p.nrunning ? calloc(p.nrunning, sizeof *running) : NULL;
    if (p.nrunning && running == NULL) abort();
    for (size_t i = 0; i < p.nrunning; i++) {
        running[i] = (hworker_running_job){p.running[i].worker.data, p.running[i].id.data, p.running[i].claim.data,
                                           p.running[i].started_at};
    }
    hworker_process_info info = {
        .id = text_of(&p, 0),
        .host = text_of(&p, 1),
        .version = text_of(&p, 2),
        .queue = text_of(&p, 3),
        .job_file = text_of(&p, 4),
        .pid = p.number[0],
        .shards = small(p.number[1]),
        .threads = small(p.number[2]),
        .busy = small(p.number[3]),
        .started_at = p.number[4],
        .beat_at = p.number[5],
        .expires_at = expires->type == REDIS_REPLY_STRING ? strtoll(expires->str, NULL, 10) : -1,
        .running = running,
        .nrunning = p.nrunning,
    };
    int stop = fn(ud, &info);
    for (size_t i = 0; i < NSTRINGS; i++) hw_buf_free(&p.text[i]);
    for (size_t i = 0; i < p.nrunning; i++) {
        hw_buf_free(&p.running[i].worker);
        hw_buf_free(&p.running[i].id);
        hw_buf_free(&p.running[i].claim);
    }
    free(p.running);
    free(running);
    return stop;
}

hworker_rc hworker_list_processes(hworker *h, const char *queue, hworker_process_fn fn, void *ud, char *err,
                                  size_t errlen)
{
    HW_ERR_BUF(err, errlen);
    if (fn == NULL) return hw_fail(HWORKER_E_INVALID, err, errlen, "hworker_list_processes: no callback given");
    if (queue == NULL) queue = h->name;
    if (hw_queue_name_check(queue, strlen(queue), err, errlen) != 0) return HWORKER_E_INVALID;
    hw_args args = {0};
    int nkeys = hw_procs_args(&args, queue);
    hw_args_addll(&args, HW_PROCESSES_MAX);
    const char *what = "cannot list the queue's processes";
    redisReply *r = hw_producer_script(h, HW_SCRIPT_PROCESSES, nkeys, &args, what, err, errlen);
    hw_args_free(&args);
    if (r == NULL) return HWORKER_E_REDIS;
    hworker_rc rc = HWORKER_OK;
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 1) {
        hw_conn_explain(&h->producer, r, what, err, errlen);
        rc = HWORKER_E_REDIS;
    } else {
        for (size_t i = 1; i + 1 < r->elements; i += 2) {
            if (r->element[i]->type != REDIS_REPLY_STRING) continue;
            if (deliver(r->element[i], r->element[i + 1], fn, ud)) break;
        }
    }
    freeReplyObject(r);
    return rc;
}
