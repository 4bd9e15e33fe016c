/* The registry of running workers, and the lease keeper's life that
 * follows it: the first worker registered starts the keeper, the last one
 * out stops it. A stop and the watchdog read the registry; workers, whether
 * the engine's threads or a host's, register and unregister themselves.
 * Everything here is under the handle's threads_lock. */
#include <signal.h>
#include <stdlib.h>

#include "internal.h"

void hw_keeper_signal_stop(hworker *h)
{
    hw_signal_raise(&h->keeper_stop);
    hw_signal_raise(&h->keeper_wake);
}

int hw_thread_start(pthread_t *t, void *(*fn)(void *), void *arg)
{
    /* The thread inherits the creator's mask with SIGPIPE added: a write
     * to a socket Redis closed fails with EPIPE on every path the engine's
     * threads take, those of links (link.h) and any other, and never ends
     * the host's process. */
    sigset_t pipe, old;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, &old);
    pthread_attr_t attr;
    int rc;
    if (pthread_attr_init(&attr) != 0) {
        rc = pthread_create(t, NULL, fn, arg);
    } else {
        pthread_attr_setstacksize(&attr, HW_THREAD_STACK);
        rc = pthread_create(t, &attr, fn, arg);
        pthread_attr_destroy(&attr);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

void hw_join_keeper_locked(hworker *h)
{
    if (!h->keeper_running) return;
    hw_keeper_signal_stop(h);
    pthread_t t = h->keeper;
    h->keeper_running = 0;
    pthread_mutex_unlock(&h->threads_lock);
    pthread_join(t, NULL);
    pthread_mutex_lock(&h->threads_lock);
}

void hw_worker_register(hworker *h, hw_worker *w, long *number)
{
    pthread_mutex_lock(&h->threads_lock);
    if (h->keeper_running && hw_signal_raised(&h->keeper_stop)) hw_join_keeper_locked(h);
    if (!h->keeper_running) {
        hw_signal_reset(&h->keeper_stop);
        if (hw_thread_start(&h->keeper, hw_keeper_main, h) == 0) h->keeper_running = 1;
        else
            hw_log(&h->log, HWORKER_LOG_ERROR,
                   "cannot start the lease keeper thread: long jobs may be recovered while they run");
    }
    if (h->nworkers == h->worker_cap) {
        h->worker_cap = h->worker_cap ? h->worker_cap * 2 : 8;
        h->workers = realloc(h->workers, sizeof *h->workers * h->worker_cap);
        if (h->workers == NULL) abort();
    }
    h->workers[h->nworkers++] = w;
    *number = ++h->next_worker;
    pthread_cond_broadcast(&h->threads_changed);
    pthread_mutex_unlock(&h->threads_lock);
}

size_t hw_worker_count(hworker *h)
{
    pthread_mutex_lock(&h->threads_lock);
    size_t n = h->nworkers;
    pthread_mutex_unlock(&h->threads_lock);
    return n;
}

void hw_worker_unregister(hworker *h, hw_worker *w)
{
    pthread_mutex_lock(&h->threads_lock);
    for (size_t i = 0; i < h->nworkers; i++) {
        if (h->workers[i] == w) {
            h->workers[i] = h->workers[--h->nworkers];
            break;
        }
    }
    /* The last worker out stops the keeper; it is joined by the next
     * register or by hworker_stop(). */
    if (h->nworkers == 0) hw_keeper_signal_stop(h);
    pthread_cond_broadcast(&h->threads_changed);
    pthread_mutex_unlock(&h->threads_lock);
}
