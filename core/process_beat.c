/* The process registry's writing side: the lease keeper of a handle with
 * workers beats every renewal interval (docs/operations.md, "Processes").
 * A beat stores what `hworker-lua ps` shows, and lasts for one lease: a
 * process killed without a word is forgotten a lease after its last beat. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "internal.h"
#include "json.h"
#include "script_args.h"

/* The process's JSON object, without its "beat" (beat.lua adds Redis's). */
static void describe(hworker *h, const char *id, long long started_ms, hw_buf *out)
{
    hw_buf_adds(out, "{\"id\":");
    hw_json_quote(out, id, strlen(id));
    hw_buf_adds(out, ",\"host\":");
    hw_json_quote(out, h->hostname, strlen(h->hostname));
    hw_buf_addf(out, ",\"pid\":%d,\"version\":", h->pid);
    hw_json_quote(out, HWORKER_VERSION, strlen(HWORKER_VERSION));
    hw_buf_adds(out, ",\"queue\":");
    hw_json_quote(out, h->name, strlen(h->name));
    hw_buf_addf(out, ",\"shards\":%d,\"threads\":%zu,\"busy\":%d,\"started\":%lld,\"job_file\":", h->nshards,
                hw_worker_count(h), atomic_load(&h->busy), started_ms);
    /* hworker_set_job_file() may replace the name under state_lock. */
    pthread_mutex_lock(&h->state_lock);
    if (h->job_file) hw_json_quote(out, h->job_file, strlen(h->job_file));
    else hw_buf_adds(out, "null");
    pthread_mutex_unlock(&h->state_lock);
    /* The jobs running now, so that a listing of the in-flight jobs can
     * tell them from those claimed and still waiting in a batch: one
     * object per busy worker, never more than the threads. */
    hw_buf_adds(out, ",\"running\":[");
    pthread_mutex_lock(&h->threads_lock);
    int n = 0;
    for (size_t i = 0; i < h->nworkers; i++) n += hw_worker_describe_running(h->workers[i], out, n > 0);
    pthread_mutex_unlock(&h->threads_lock);
    hw_buf_adds(out, "]}");
}

int hw_process_beat(hworker *h, hw_conn *c, const char *id, long long started_ms, int leaving, int *failing)
{
    if (hw_conn_ensure(c, NULL) != 0) return -1;
    hw_buf info = {0};
    describe(h, id, started_ms, &info);
    hw_args args = {0};
    int nkeys = hw_procs_args(&args, h->name);
    hw_args_adds(&args, id);
    hw_args_add(&args, info.data, info.len);
    hw_args_addll(&args, leaving ? 0 : (long long)(h->cfg.lease * 1000.0));
    hw_buf_free(&info);
    redisReply *r = hw_conn_script(c, HW_SCRIPT_BEAT, nkeys, &args);
    hw_args_free(&args);
    int rc = 0;
    if (r == NULL || r->type != REDIS_REPLY_INTEGER) {
        if (r != NULL && !*failing) {
            char why[512];
            hw_conn_explain(c, r, "cannot record this process's heartbeat (ps will not list it)", why, sizeof why);
            hw_log(&h->log, HWORKER_LOG_WARN, "%s", why);
        }
        *failing = r != NULL || *failing;
        rc = -1;
    } else {
        *failing = 0;
    }
    if (r) freeReplyObject(r);
    if (rc == 0 && !leaving) {
        /* The registry of queues `hworker-lua queues` lists: a key of no
         * queue's hash tag, so a script call of its own. */
        nkeys = hw_queue_registry_args(&args, "add", h->name);
        r = hw_conn_script(c, HW_SCRIPT_QUEUE_REGISTRY, nkeys, &args);
        hw_args_free(&args);
        if (r) freeReplyObject(r);
    }
    return rc;
}
