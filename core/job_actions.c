/* Actions on one job named by its id: cancel, delete and run now
 * (hworker_cancel, hworker_delete_job, hworker_run_now). The job is found by
 * paged reads (job_find.c) and each copy found is acted on by a script that
 * checks it is still exactly where it was found (scripts/cancel.lua,
 * remove_job.lua, run_now.lua). A copy that moved meanwhile (claimed,
 * promoted, retried) is looked for again by another pass, until a pass
 * finds nothing to change. */
#include <string.h>

#include "errors.h"
#include "job_find.h"
#include "script_args.h"

/* Passes over the queue at most: after the first, each one exists only
 * because a copy moved under the last, or to confirm that none is left. */
#define HW_ACT_PASSES 8

typedef enum { ACT_CANCEL, ACT_DELETE, ACT_RUN_NOW } act_kind;

typedef struct act {
    hworker *h;
    act_kind kind;
    const char *what;
    hworker_job_action done;
    int changed;  /* in this pass: a copy was acted on */
    int moved;    /* in this pass: a copy had moved before its script ran */
    int stopping; /* a running copy was found marked cancelled already */
} act;

/* What the script is told the key holding a waiting copy is. */
static const char *holder_kind(hw_found_part part, act_kind kind)
{
    switch (part) {
    case HW_FOUND_PENDING: return "list";
    case HW_FOUND_GROUP: return "group";
    case HW_FOUND_SCHEDULED: return kind == ACT_RUN_NOW ? "scheduled" : "zset";
    default: return "zset";
    }
}

static int on_found(void *ud, const hw_found *f, char *err, size_t errlen)
{
    act *a = ud;
    char *const *key = a->h->shard[f->shard].key;
    hw_args args = {0};
    hw_script script;
    int nkeys;
    if (f->part == HW_FOUND_INFLIGHT) {
        if (a->kind != ACT_CANCEL) return 0;
        script = HW_SCRIPT_CANCEL;
        nkeys = 2;
        hw_args_adds(&args, key[HW_KEY_INFLIGHT]);
        hw_args_adds(&args, key[HW_KEY_CANCELS]);
        hw_args_add(&args, f->member, f->member_len);
    } else if (a->kind == ACT_RUN_NOW) {
        script = HW_SCRIPT_RUN_NOW;
        nkeys = 6;
        hw_args_adds(&args, f->key);
        hw_args_adds(&args, key[HW_KEY_PENDING]);
        hw_args_adds(&args, key[HW_KEY_URGENT]);
        hw_args_adds(&args, key[HW_KEY_SEQ]);
        hw_args_adds(&args, key[HW_KEY_GROUPS]);
        hw_args_adds(&args, key[HW_KEY_STATS]);
        hw_args_adds(&args, holder_kind(f->part, a->kind));
        hw_args_add(&args, f->member, f->member_len);
    } else {
        script = HW_SCRIPT_REMOVE_JOB;
        nkeys = 6;
        hw_args_adds(&args, f->key);
        hw_args_adds(&args, key[HW_KEY_STATS]);
        hw_args_adds(&args, key[HW_KEY_UNIQUE]);
        hw_args_adds(&args, key[HW_KEY_GROUPS]);
        hw_args_adds(&args, key[HW_KEY_FLOW]);
        hw_args_adds(&args, key[HW_KEY_EVENTS]);
        hw_args_adds(&args, holder_kind(f->part, a->kind));
        hw_args_add(&args, f->member, f->member_len);
        hw_args_adds(&args, a->kind == ACT_CANCEL ? "cancelled" : "deleted");
    }
    redisReply *r = hw_producer_script(a->h, script, nkeys, &args, a->what, err, errlen);
    hw_args_free(&args);
    if (r == NULL) return -1;
    if (r->type != REDIS_REPLY_INTEGER) {
        hw_conn_explain(&a->h->producer, r, a->what, err, errlen);
        freeReplyObject(r);
        return -1;
    }
    long long result = r->integer;
    freeReplyObject(r);
    if (result == 0) {
        a->moved = 1;
        return 0;
    }
    if (result == 2) { /* a running copy this call or an earlier one marked */
        a->stopping = 1;
        return 0;
    }
    a->changed = 1;
    if (f->part == HW_FOUND_INFLIGHT) a->done.running++;
    else a->done.waiting++;
    return a->kind == ACT_RUN_NOW; /* run now moves one copy */
}

static hworker_rc act_on(hworker *h, const char *id, act_kind kind, hworker_job_action *out, const char *what,
                         char *err, size_t errlen)
{
    HW_ERR_BUF(err, errlen);
    if (out) memset(out, 0, sizeof *out);
    if (id == NULL || id[0] == '\0') return hw_fail(HWORKER_E_INVALID, err, errlen, "%s: the job id is empty", what);
    act a = {.h = h, .kind = kind, .what = what};
    for (int pass = 0, quiet = 0; pass < HW_ACT_PASSES; pass++) {
        a.changed = a.moved = 0;
        int rc = hw_find_job(h, id, kind == ACT_CANCEL, on_found, &a, err, errlen);
        if (rc < 0) return HWORKER_E_REDIS;
        if (kind == ACT_RUN_NOW && a.done.waiting > 0) break;
        /* Done after a pass that changed nothing, if something was found
         * (that pass confirmed it); else after two, for a job that moved
         * back into a part the first pass had read already. */
        if (a.changed || a.moved) quiet = 0;
        else if (++quiet >= (a.done.waiting + a.done.running > 0 ? 1 : 2)) break;
    }
    if (out) *out = a.done;
    if (a.done.waiting == 0 && a.done.running == 0 && !a.stopping)
        return hw_fail(HWORKER_E_NOT_FOUND, err, errlen, "%s: queue %s has no job %s %s (it may have finished already)",
                       what, h->name, id,
                       kind == ACT_CANCEL ? "waiting or running" : "waiting in pending or scheduled");
    return HWORKER_OK;
}

hworker_rc hworker_cancel(hworker *h, const char *id, hworker_job_action *out, char *err, size_t errlen)
{
    return act_on(h, id, ACT_CANCEL, out, "cannot cancel", err, errlen);
}

hworker_rc hworker_delete_job(hworker *h, const char *id, hworker_job_action *out, char *err, size_t errlen)
{
    return act_on(h, id, ACT_DELETE, out, "cannot delete", err, errlen);
}

hworker_rc hworker_run_now(hworker *h, const char *id, hworker_job_action *out, char *err, size_t errlen)
{
    return act_on(h, id, ACT_RUN_NOW, out, "cannot run now", err, errlen);
}
