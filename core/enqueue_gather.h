/* Group commit of single-job enqueues: while one call of a handle is on its
 * way to Redis, the single-job enqueues other threads make wait, and the
 * next of them to lead sends them all in one script call. Each caller
 * returns only once Redis has answered for its own job, with its own id,
 * whether its unique key was held, and the call's error if it failed: the
 * contract of one hworker_enqueue() per job, at a batch's cost. */
#ifndef HW_ENQUEUE_GATHER_H
#define HW_ENQUEUE_GATHER_H

#include <pthread.h>
#include <stddef.h>

#include "hworker.h"

/* What jobs must share to go in one call: the queue, when they run, their
 * priority and group, and the shard (a job with `any_shard` goes to
 * whichever shard the call's first job picked). */
typedef struct hw_gather_key {
    const char *queue;
    double delay, at;
    int priority;
    const char *group; /* NULL: none */
    int shard;
    int any_shard;
} hw_gather_key;

/* One waiting single-job enqueue. The caller's, on its stack; the leader
 * fills the results before it marks it done. */
typedef struct hw_gather_req {
    hw_gather_key key;
    const char *json;
    size_t len;
    const char *unique; /* NULL: none */
    void *ctx;          /* the caller's, for `send` when its job heads a call */
    /* Results. */
    char id[HWORKER_ID_SIZE];
    int held; /* its unique key was held: id is the holder's */
    hworker_rc rc;
    char *err;
    size_t errlen;
    /* Under the gather's lock: its job's call ended, or it was handed the
     * lead; `wake` is signalled for either. */
    int done, lead;
    pthread_cond_t wake;
    struct hw_gather_req *next;
} hw_gather_req;

/* Sends n jobs of one key in one call, writing each job's id and held into
 * its request; returns the call's result, with its message in err. `ctx`
 * is the first request's (whose key the others share), whichever caller
 * leads: the leader's own job may wait for a later call. Runs on the
 * leading caller's thread, without the gather's lock. */
typedef hworker_rc (*hw_gather_send_fn)(void *ctx, hw_gather_req **reqs, size_t n, char *err, size_t errlen);

/* A handle's waiting enqueues. Shared by every thread that enqueues on the
 * handle; `lock` guards all of it. */
typedef struct hw_gather {
    pthread_mutex_t lock;
    hw_gather_req *head, *tail;
    int leading; /* a caller leads: sends a call now, or was just handed the lead */
} hw_gather;

void hw_gather_init(hw_gather *g);
void hw_gather_destroy(hw_gather *g);

/* Enqueues req's one job, alone or with others waiting at the time: the
 * caller leads a call (with `send`) when no one else does, and otherwise
 * waits for the call that carries its job. Every caller of one gather
 * passes the same `send`. Returns req->rc. Thread-safe. */
hworker_rc hw_gather_enqueue(hw_gather *g, hw_gather_req *req, hw_gather_send_fn send);

#endif
