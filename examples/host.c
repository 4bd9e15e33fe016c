/* Embedding hworker in a C program: a host function reachable from job code,
 * a few jobs enqueued, one worker and a monitor started by hworker_start()
 * plus one worker on a thread of the host's own (the blocking
 * hworker_worker()), then a graceful stop that ends both.
 * Usage: host_example REDIS_URL JOB_FILE */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <lauxlib.h>
#include <time.h>

#include "hworker.h"

/* host.add(n): adds n to a counter the host owns (ud is its address). The
 * counter is shared by worker threads, so it is atomic. */
static int host_add(lua_State *L)
{
    _Atomic long *total = lua_touserdata(L, lua_upvalueindex(1));
    *total += (long)luaL_checkinteger(L, 1);
    return 0;
}

/* The host's own worker thread: hworker_worker() blocks until hworker_stop(). */
static void *host_worker(void *h)
{
    char err[512];
    if (hworker_worker(h, err, sizeof err) != 0) fprintf(stderr, "host_example: worker: %s\n", err);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s REDIS_URL JOB_FILE\n", argv[0]);
        return 2;
    }
    char err[512];
    _Atomic long total = 0;
    hworker_config cfg;
    hworker_config_init(&cfg);
    cfg.name = "host-example";
    cfg.redis_url = argv[1];
    cfg.job_file = argv[2];
    hworker *h = hworker_create(&cfg, err, sizeof err);
    if (h == NULL || hworker_delete_queue(h, err, sizeof err) != 0 ||
        hworker_register(h, "add", host_add, (void *)&total, err, sizeof err) != 0) {
        fprintf(stderr, "host_example: %s\n", err);
        hworker_free(h);
        return 1;
    }
    /* Ten jobs in one atomic call (options NULL: now, on this queue). */
    char json[10][64];
    hworker_job jobs[10];
    for (int i = 0; i < 10; i++) {
        snprintf(json[i], sizeof json[i], "{\"n\": %d}", i + 1);
        jobs[i] = (hworker_job){json[i], strlen(json[i]), NULL};
    }
    char ids[10 * HWORKER_ID_SIZE];
    hworker_rc rc = hworker_enqueue(h, jobs, 10, NULL, ids, err, sizeof err);
    if (rc != HWORKER_OK) {
        /* The code says what kind of failure; the message what to fix. */
        fprintf(stderr, "host_example: %s (%s)\n", err, hworker_strerror(rc));
        hworker_free(h);
        return 1;
    }
    if (hworker_start(h, 1, 1, err, sizeof err) != 0) {
        fprintf(stderr, "host_example: %s\n", err);
        hworker_free(h);
        return 1;
    }
    pthread_t own;
    int have_own = pthread_create(&own, NULL, host_worker, h) == 0;
    /* Wait (at most 30 s) until all ten jobs succeeded. */
    hworker_stats st = {0};
    for (int i = 0; i < 3000; i++) {
        if (hworker_get_stats(h, &st, err, sizeof err) == 0 && st.succeeded == 10) break;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    hworker_stop(h, 5);
    if (have_own) pthread_join(own, NULL);
    printf("host_example: %lld jobs succeeded, host total %ld (expected 55)\n", st.succeeded, (long)total);
    int ok = st.succeeded == 10 && total == 55;
    hworker_delete_queue(h, err, sizeof err);
    hworker_free(h);
    return ok ? 0 : 1;
}
