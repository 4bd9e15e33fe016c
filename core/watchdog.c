/* The watchdog: a job stuck inside one C function (a host function that
 * blocks; anything the sandbox's own checks cannot reach) is not waited
 * for. HW_STUCK_SLACK past its time limit, its worker thread is abandoned:
 * the job is recorded as timed out, the outcomes and prefetched jobs of the
 * thread are settled on another connection, and a new worker thread takes
 * the slot. The abandoned thread keeps its Lua state and connection; if the
 * C function ever returns, the sandbox stops the job at once and the thread
 * frees what it owns and ends. It runs in the lease keeper's thread, which
 * sleeps until the earliest moment a running job could become stuck. */
#include <math.h>
#include <stdlib.h>

#include "internal.h"

void hw_watchdog_expect(hworker *h, double at)
{
    if (at < atomic_load(&h->keeper_wakes_at)) hw_signal_raise(&h->keeper_wake);
}

void hw_watchdog_thread_ended(hworker *h) { atomic_fetch_sub(&h->abandoned_live, 1); }

/* Forgets the engine's own thread of w (under threads_lock): it is never
 * joined, and ends on its own if it ever comes back. */
static void detach_locked(hworker *h, hw_worker *w)
{
    pthread_t t;
    if (!hw_worker_thread(w, &t)) return; /* a host's thread (hworker_worker) */
    for (size_t i = 0; i < h->nthreads; i++) {
        if (pthread_equal(h->threads[i], t)) {
            h->threads[i] = h->threads[--h->nthreads];
            pthread_detach(t);
            return;
        }
    }
}

/* A new worker thread in place of an abandoned one, unless the handle is
 * stopping or too many abandoned threads still run. */
static void replace(hworker *h)
{
    int live = atomic_load(&h->abandoned_live);
    if (hw_signal_raised(&h->stop)) return;
    if (live > HW_MAX_ABANDONED) {
        hw_log(&h->log, HWORKER_LOG_ERROR,
               "%d abandoned worker threads are still stuck: no new worker replaces this one; restart the process",
               live);
        return;
    }
    char err[512];
    hw_worker *w = hw_worker_new(h, err, sizeof err);
    if (w == NULL) {
        hw_log(&h->log, HWORKER_LOG_ERROR, "cannot start a worker in place of an abandoned one: %s", err);
        return;
    }
    pthread_mutex_lock(&h->threads_lock);
    pthread_t t;
    int started = !hw_signal_raised(&h->stop) && hw_thread_start(&t, hw_worker_main, w) == 0;
    if (started) {
        pthread_t *grown = realloc(h->threads, sizeof *grown * (h->nthreads + 1));
        if (grown == NULL) abort();
        h->threads = grown;
        h->threads[h->nthreads++] = t;
    }
    pthread_mutex_unlock(&h->threads_lock);
    if (!started) hw_worker_free(w);
}

double hw_watchdog_check(hworker *h, hw_conn *conn, double now, int force)
{
    double next = INFINITY;
    hw_worker **taken = NULL;
    size_t ntaken = 0;
    pthread_mutex_lock(&h->threads_lock);
    for (size_t i = 0; i < h->nworkers;) {
        hw_worker *w = h->workers[i];
        if (!hw_worker_take_if_stuck(w, now, force, &next)) {
            i++;
            continue;
        }
        hw_worker **grown = realloc(taken, sizeof *taken * (ntaken + 1));
        if (grown == NULL) abort();
        taken = grown;
        taken[ntaken++] = w;
        /* Out of the registry: a stop no longer waits for it. */
        h->workers[i] = h->workers[--h->nworkers];
        detach_locked(h, w);
        atomic_fetch_add(&h->abandoned_live, 1);
    }
    if (ntaken) pthread_cond_broadcast(&h->threads_changed);
    pthread_mutex_unlock(&h->threads_lock);
    for (size_t i = 0; i < ntaken; i++) {
        hw_worker_settle_abandoned(taken[i], conn, !force);
        if (!force) replace(h);
    }
    free(taken);
    return next;
}
