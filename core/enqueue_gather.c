/* Group commit of single-job enqueues (enqueue_gather.h). The waiting
 * requests form a FIFO list; a leader takes the request at its head and
 * every other one with the same key, sends them, marks them done, and
 * hands the lead to the request now at the head, if any. Each request is
 * woken by name (its own condition variable), never the whole crowd: with
 * many producer threads on few cores, wake-ups that find nothing to do
 * would cost more than the round trips saved. A request with another key
 * waits for a later call, so jobs with different options never share one,
 * and a caller alone pays two lock round trips more than a direct call. */
#include <stdio.h>
#include <string.h>

#include "enqueue_gather.h"

/* The most jobs one call carries: bounded, so the arguments of a call
 * stay small, and a caller behind a long line waits for a few calls at
 * most. */
#define HW_GATHER_MAX 512
/* The most bytes of jobs one call carries, past its first job: a huge job
 * goes nearly alone, so that a call Redis refuses for its size (its query
 * buffer limit) takes no other callers down with it, and a call sent again
 * after a lost reply repeats little. */
#define HW_GATHER_BYTES (1024 * 1024)
/* The most calls a leader sends once its own job went. */
#define HW_GATHER_LEAD_CALLS 4

void hw_gather_init(hw_gather *g)
{
    memset(g, 0, sizeof *g);
    pthread_mutex_init(&g->lock, NULL);
}

void hw_gather_destroy(hw_gather *g) { pthread_mutex_destroy(&g->lock); }

static int same_text(const char *a, const char *b) { return a == b || (a && b && strcmp(a, b) == 0); }

/* Whether b can go in the call that a's key leads. */
static int joins(const hw_gather_key *a, const hw_gather_key *b)
{
    return same_text(a->queue, b->queue) && a->delay == b->delay && a->at == b->at && a->priority == b->priority &&
        same_text(a->group, b->group) && (b->any_shard || b->shard == a->shard);
}

/* Takes the head request and those that join it off the list (under the
 * lock); returns how many went into `out`. */
static size_t take(hw_gather *g, hw_gather_req **out)
{
    hw_gather_req *lead = g->head, *prev = NULL;
    size_t n = 0, bytes = 0;
    for (hw_gather_req *r = g->head; r != NULL && n < HW_GATHER_MAX;) {
        hw_gather_req *next = r->next;
        if (r == lead || (joins(&lead->key, &r->key) && bytes + r->len <= HW_GATHER_BYTES)) {
            bytes += r == lead ? 0 : r->len;
            if (prev) prev->next = next;
            else g->head = next;
            if (g->tail == r) g->tail = prev;
            r->next = NULL;
            out[n++] = r;
        } else {
            prev = r;
        }
        r = next;
    }
    /* The jobs that chose no shard go where the head's call goes. */
    for (size_t i = 1; i < n; i++) out[i]->key.shard = lead->key.shard;
    return n;
}

hworker_rc hw_gather_enqueue(hw_gather *g, hw_gather_req *req, hw_gather_send_fn send)
{
    req->done = req->lead = req->held = 0;
    req->next = NULL;
    pthread_cond_init(&req->wake, NULL);
    pthread_mutex_lock(&g->lock);
    if (g->tail) g->tail->next = req;
    else g->head = req;
    g->tail = req;
    if (!g->leading) {
        g->leading = 1;
        req->lead = 1;
    }
    while (!req->done && !req->lead) pthread_cond_wait(&req->wake, &g->lock);
    if (req->lead) {
        /* Calls until this caller's job went, and then a few more while
         * jobs wait and calls succeed: the leader runs already, where a
         * woken waiter would need a core first (after a failure the next
         * call is another caller's, so this one's error is not held up). */
        hw_gather_req *batch[HW_GATHER_MAX];
        int calls = 0;
        req->lead = 0;
        hworker_rc last = HWORKER_OK;
        while (g->head && (!req->done || (calls < HW_GATHER_LEAD_CALLS && last == HWORKER_OK))) {
            size_t n = take(g, batch);
            pthread_mutex_unlock(&g->lock);
            char err[2048] = "";
            hworker_rc rc = send(batch[0]->ctx, batch, n, err, sizeof err);
            last = rc;
            pthread_mutex_lock(&g->lock);
            for (size_t i = 0; i < n; i++) {
                batch[i]->rc = rc;
                if (rc != HWORKER_OK && batch[i]->err && batch[i]->errlen)
                    snprintf(batch[i]->err, batch[i]->errlen, "%s", err);
                batch[i]->done = 1;
                if (batch[i] != req) pthread_cond_signal(&batch[i]->wake);
            }
            calls++;
        }
        /* Then the request that waited longest leads. */
        if (g->head) {
            g->head->lead = 1;
            pthread_cond_signal(&g->head->wake);
        } else {
            g->leading = 0;
        }
    }
    pthread_mutex_unlock(&g->lock);
    pthread_cond_destroy(&req->wake);
    return req->rc;
}
