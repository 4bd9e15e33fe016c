/* bench/run's many-thread producer: THREADS threads of one handle each
 * enqueue PER jobs, one hworker_enqueue() call per job, as a web server's
 * request threads would. Prints "JOBS SECONDS CPU_SECONDS" (from the first
 * call to the last answer; the process's user and system CPU over the same
 * span); exits 1 if any call failed, naming the first error.
 * usage: bench_enqueue_threads REDIS_URL NAME THREADS PER */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "hworker.h"

typedef struct run {
    hworker *h;
    int per;
    atomic_int failed;
    char first_error[512];
    pthread_mutex_t error_lock;
} run;

static void *produce(void *ud)
{
    run *r = ud;
    for (int k = 0; k < r->per; k++) {
        char json[32], id[HWORKER_ID_SIZE], err[512];
        int len = snprintf(json, sizeof json, "{\"n\":%d}", k);
        hworker_job job = {json, (size_t)len, NULL};
        if (hworker_enqueue(r->h, &job, 1, NULL, id, err, sizeof err) != HWORKER_OK &&
            atomic_fetch_add(&r->failed, 1) == 0) {
            pthread_mutex_lock(&r->error_lock);
            snprintf(r->first_error, sizeof r->first_error, "%s", err);
            pthread_mutex_unlock(&r->error_lock);
        }
    }
    return NULL;
}

static double seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* The process's user and system CPU so far, in seconds. */
static double cpu_seconds(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + (double)(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: bench_enqueue_threads REDIS_URL NAME THREADS PER\n");
        return 2;
    }
    int threads = atoi(argv[3]);
    run r = {.per = atoi(argv[4])};
    if (threads < 1 || r.per < 1) {
        fprintf(stderr, "bench_enqueue_threads: THREADS and PER must be at least 1\n");
        return 2;
    }
    atomic_init(&r.failed, 0);
    pthread_mutex_init(&r.error_lock, NULL);
    hworker_config cfg;
    hworker_config_init(&cfg);
    cfg.name = argv[2];
    cfg.redis_url = argv[1];
    char err[512];
    r.h = hworker_create(&cfg, err, sizeof err);
    if (r.h == NULL) {
        fprintf(stderr, "bench_enqueue_threads: %s\n", err);
        return 2;
    }
    /* Connected and the shard count checked before the clock starts. */
    hworker_job warm = {"{}", 2, NULL};
    if (hworker_enqueue(r.h, &warm, 1, NULL, NULL, err, sizeof err) != HWORKER_OK) {
        fprintf(stderr, "bench_enqueue_threads: %s\n", err);
        return 1;
    }
    pthread_t *ts = calloc((size_t)threads, sizeof *ts);
    if (ts == NULL) return 2;
    double cpu0 = cpu_seconds(), t0 = seconds();
    for (int i = 0; i < threads; i++) pthread_create(&ts[i], NULL, produce, &r);
    for (int i = 0; i < threads; i++) pthread_join(ts[i], NULL);
    double took = seconds() - t0, cpu = cpu_seconds() - cpu0;
    free(ts);
    hworker_free(r.h);
    pthread_mutex_destroy(&r.error_lock);
    if (atomic_load(&r.failed)) {
        fprintf(stderr, "bench_enqueue_threads: %d calls failed; the first: %s\n", atomic_load(&r.failed),
                r.first_error);
        return 1;
    }
    printf("%lld %.6f %.6f\n", (long long)threads * r.per, took, cpu);
    return 0;
}
