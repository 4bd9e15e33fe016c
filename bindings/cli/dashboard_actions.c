/* The dashboard's actions: POST /api/action with a JSON object
 * {"queue": NAME, "action": ..., "part": ..., "id": ...}. The caller
 * (cmd_metrics.c) has checked the token and the request's origin. */
#include <stdio.h>
#include <string.h>

#include "dashboard.h"
#include "json.h"

#define HW_ACTION_FIELD 256

typedef struct action {
    char queue[HW_ACTION_FIELD], name[HW_ACTION_FIELD], part[HW_ACTION_FIELD], id[HW_ACTION_FIELD];
    int too_long;
} action;

static void take_field(void *ud, const hw_json_field *f)
{
    action *a = ud;
    char *dest = NULL;
    if (f->key_len == 5 && memcmp(f->key, "queue", 5) == 0) dest = a->queue;
    if (f->key_len == 6 && memcmp(f->key, "action", 6) == 0) dest = a->name;
    if (f->key_len == 4 && memcmp(f->key, "part", 4) == 0) dest = a->part;
    if (f->key_len == 2 && memcmp(f->key, "id", 2) == 0) dest = a->id;
    if (dest == NULL || !f->is_string) return;
    hw_buf text = {0};
    hw_json_unescape(&text, f->value, f->value_len);
    /* A NUL inside would cut the name short: refuse it with the long ones. */
    if (text.len >= HW_ACTION_FIELD || memchr(text.data, '\0', text.len)) {
        a->too_long = 1;
    } else {
        memcpy(dest, text.data, text.len);
        dest[text.len] = '\0';
    }
    hw_buf_free(&text);
}

static void done(cli_reply *r, const char *msg)
{
    r->status = 200;
    hw_buf_clear(&r->body);
    hw_buf_adds(&r->body, "{\"ok\":true,\"message\":");
    hw_json_quote(&r->body, msg, strlen(msg));
    hw_buf_adds(&r->body, "}");
}

/* requeue or delete a failed or broken record (by record id or job id). */
static void on_record(hworker *q, const action *a, hworker_part part, cli_reply *r)
{
    const char *ids[1] = {a->id};
    long count = 0;
    char err[512];
    int requeue = strcmp(a->name, "requeue") == 0;
    hworker_rc rc = requeue ? hworker_requeue(q, part, 0, ids, 1, &count, err, sizeof err)
                            : hworker_delete(q, part, 0, ids, 1, &count, err, sizeof err);
    if (rc != HWORKER_OK) {
        cli_reply_error(r, 502, "%s", err);
    } else if (count == 0) {
        cli_reply_error(r, 404, "no %s record of job %s: it was requeued or deleted already", a->part, a->id);
    } else {
        char msg[400];
        if (requeue) {
            snprintf(msg, sizeof msg, "job %s: %ld record(s) moved to the back of pending", a->id, count);
        } else {
            snprintf(msg, sizeof msg, "job %s: %ld record(s) deleted", a->id, count);
        }
        done(r, msg);
    }
}

/* cancel, delete or run now a job that waits (or runs: cancel). */
static void on_job(hworker *q, const action *a, cli_reply *r)
{
    hworker_job_action did = {0};
    char err[512];
    hworker_rc rc;
    if (strcmp(a->name, "cancel") == 0) {
        rc = hworker_cancel(q, a->id, &did, err, sizeof err);
    } else if (strcmp(a->name, "delete") == 0) {
        rc = hworker_delete_job(q, a->id, &did, err, sizeof err);
    } else {
        rc = hworker_run_now(q, a->id, &did, err, sizeof err);
    }
    if (rc == HWORKER_E_NOT_FOUND) {
        cli_reply_error(r, 404, "%s", err);
    } else if (rc != HWORKER_OK) {
        cli_reply_error(r, 502, "%s", err);
    } else {
        char msg[400];
        if (strcmp(a->name, "cancel") == 0 && did.waiting == 0 && did.running == 0) {
            snprintf(msg, sizeof msg, "job %s was cancelled already: its run is stopping", a->id);
        } else if (strcmp(a->name, "cancel") == 0) {
            snprintf(msg, sizeof msg, "job %s cancelled: %ld waiting copies removed, %ld runs told to stop", a->id,
                     did.waiting, did.running);
        } else if (strcmp(a->name, "delete") == 0) {
            snprintf(msg, sizeof msg, "job %s deleted: %ld waiting copies removed", a->id, did.waiting);
        } else {
            snprintf(msg, sizeof msg, "job %s: %ld copies moved to the front of their line", a->id, did.waiting);
        }
        done(r, msg);
    }
}

void cli_dashboard_act(const cli_dashboard *d, const char *body, size_t len, cli_reply *r)
{
    action a = {0};
    if (hw_json_flat_object(body, len, take_field, &a) != 0 || a.too_long) {
        cli_reply_error(r, 400, "send a JSON object {\"queue\", \"action\", \"part\", \"id\"} of short strings");
        return;
    }
    static const char *const names[] = {"pause", "resume", "requeue", "delete", "cancel", "run_now", NULL};
    int known = 0;
    for (int i = 0; names[i]; i++) known |= strcmp(a.name, names[i]) == 0;
    if (!known) {
        cli_reply_error(r, 400, "\"action\" is one of pause, resume, requeue, delete, cancel, run_now");
        return;
    }
    int on_queue = strcmp(a.name, "pause") == 0 || strcmp(a.name, "resume") == 0;
    int record = strcmp(a.part, "failed") == 0 || strcmp(a.part, "broken") == 0;
    if (!on_queue && a.id[0] == '\0') {
        cli_reply_error(r, 400, "\"%s\" needs the job's \"id\"", a.name);
        return;
    }
    if (strcmp(a.name, "requeue") == 0 && !record) {
        cli_reply_error(r, 400, "requeue takes a failed or broken record: \"part\" is failed or broken");
        return;
    }
    hworker *q = cli_dashboard_queue(d, a.queue, r);
    if (q == NULL) return;
    char err[512];
    if (on_queue) {
        int pause = strcmp(a.name, "pause") == 0;
        if ((pause ? hworker_pause(q, err, sizeof err) : hworker_resume(q, err, sizeof err)) != HWORKER_OK) {
            cli_reply_error(r, 502, "%s", err);
        } else {
            done(r, pause ? "queue paused" : "queue resumed");
        }
    } else if (record) {
        on_record(q, &a, strcmp(a.part, "failed") == 0 ? HWORKER_FAILED : HWORKER_BROKEN, r);
    } else {
        on_job(q, &a, r);
    }
    hworker_free(q);
}
