/* The registry of queues (HW_QUEUES_KEY, a set of names): what
 * `hworker-lua queues` and `ps` without a name list, kept without SCAN.
 * Workers add their queue with each heartbeat (process_beat.c), a
 * producer with its handle's first enqueue, and destroying a queue takes
 * it out. */
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "internal.h"

void hw_queue_listed(hworker *h)
{
    if (atomic_exchange(&h->queue_listed, 1)) return;
    char err[256];
    const char *argv[3] = {"SADD", HW_QUEUES_KEY, h->name};
    redisReply *r = hw_producer_command(h, 3, argv, NULL, "cannot add the queue to the registry", err, sizeof err);
    if (r == NULL || r->type == REDIS_REPLY_ERROR) atomic_store(&h->queue_listed, 0); /* the next enqueue tries again */
    if (r) freeReplyObject(r);
}

hworker_rc hw_queue_unlisted(hworker *h, char *err, size_t errlen)
{
    const char *argv[3] = {"SREM", HW_QUEUES_KEY, h->name};
    redisReply *r = hw_producer_command(h, 3, argv, NULL, "cannot take the queue out of the registry", err, errlen);
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
