/* The registry of queues (HW_QUEUES_KEY, a set of names): what
 * `hworker-lua queues` and `ps` without a name list, kept without SCAN.
 * Workers add their queue with each heartbeat (process_beat.c), a
 * producer with its handle's first enqueue, and destroying a queue takes
 * it out. */
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "internal.h"
#include "script_args.h"

/* Runs scripts/queue_registry.lua with `op` for the handle's queue on the
 * producer connection. */
static redisReply *registry_call(hworker *h, const char *op, const char *what, char *err, size_t errlen)
{
    hw_args args = {0};
    int nkeys = hw_queue_registry_args(&args, op, h->name);
    redisReply *r = hw_producer_script(h, HW_SCRIPT_QUEUE_REGISTRY, nkeys, &args, what, err, errlen);
    hw_args_free(&args);
    return r;
}

void hw_queue_listed(hworker *h)
{
    if (atomic_exchange(&h->queue_listed, 1)) return;
    char err[256];
    const char *what = "cannot add the queue to the registry of queues (queues and ps will not list it)";
    redisReply *r = registry_call(h, "add", what, err, sizeof err);
    if (r == NULL) {
        atomic_store(&h->queue_listed, 0); /* the next enqueue tries again */
        return;
    }
    /* A refusal (the key holds something else) is said once per handle,
     * not paid for with a failing call on every enqueue. */
    if (r->type == REDIS_REPLY_ERROR) {
        hw_conn_explain(&h->producer, r, what, err, sizeof err);
        hw_log(&h->log, HWORKER_LOG_WARN, "%s", err);
    }
    freeReplyObject(r);
}

hworker_rc hw_queue_unlisted(hworker *h, char *err, size_t errlen)
{
    redisReply *r = registry_call(h, "remove", "cannot take the queue out of the registry", err, errlen);
    if (r == NULL) return HWORKER_E_REDIS;
    hworker_rc rc = r->type == REDIS_REPLY_INTEGER ? HWORKER_OK : HWORKER_E_REDIS;
    if (rc) hw_conn_explain(&h->producer, r, "cannot take the queue out of the registry", err, errlen);
    freeReplyObject(r);
    atomic_store(&h->queue_listed, 0);
    return rc;
}

static int by_name(const void *a, const void *b)
{
    const redisReply *x = *(redisReply *const *)a, *y = *(redisReply *const *)b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->str, y->str, n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

hworker_rc hworker_list_queues(hworker *h, hworker_queue_fn fn, void *ud, char *err, size_t errlen)
{
    HW_ERR_BUF(err, errlen);
    if (fn == NULL) return hw_fail(HWORKER_E_INVALID, err, errlen, "hworker_list_queues: no callback given");
    const char *what = "cannot read the registry of queues";
    const char *argv[2] = {"SMEMBERS", HW_QUEUES_KEY};
    redisReply *r = hw_producer_command(h, 2, argv, NULL, what, err, errlen);
    if (r == NULL) return HWORKER_E_REDIS;
    hworker_rc rc = HWORKER_OK;
    if (r->type != REDIS_REPLY_ARRAY) {
        if (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "WRONGTYPE", 9) != 0)
            hw_conn_explain(&h->producer, r, what, err, errlen);
        else
            hw_fail(HWORKER_E_REDIS, err, errlen, "%s: key %s does not hold a set; fix or delete it", what,
                    HW_QUEUES_KEY);
        rc = HWORKER_E_REDIS;
    } else {
        qsort(r->element, r->elements, sizeof *r->element, by_name);
        for (size_t i = 0; i < r->elements; i++) {
            const redisReply *e = r->element[i];
            if (e->type != REDIS_REPLY_STRING || strlen(e->str) != e->len) continue;
            if (fn(ud, e->str)) break;
        }
    }
    freeReplyObject(r);
    return rc;
}
