/* For spec/reload_spec.lua: hworker_set_job_file() and hworker_reload(),
 * both documented thread-safe, called from two threads of their own while
 * two workers run jobs and rebuild their Lua states after each reload (a
 * path only the C API reaches: the Lua module has no threads). Reloads ROUNDS
 * times, switches the job file between FILE_A and FILE_B until the reloads
 * are done, and enqueues ROUNDS jobs meanwhile; then waits (bounded) for
 * every job to succeed.
 * Prints "reloads=R succeeded=S other=O": the reloads that returned 0, the
 * jobs that succeeded, and log lines about a reload that named neither file
 * or reported a failure (0 unless the file name was read while changing).
 * usage: reload_threads REDIS_URL NAME FILE_A FILE_B ROUNDS */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hworker.h"

typedef struct run {
    hworker *h;
    const char *file[2];
    int rounds;
    atomic_int reloads, other, reloading;
} run;

/* Called from any thread: counts what it can check, prints nothing. */
static void log_line(void *ud, hworker_log_level level, const char *msg)
{
    run *r = ud;
    (void)level;
    static const char prefix[] = "reloading ";
    if (strstr(msg, "reload") == NULL) return;
    size_t n = strlen(prefix);
    int named = 0;
    for (int i = 0; i < 2; i++) {
        size_t len = strlen(r->file[i]);
        named |= strncmp(msg, prefix, n) == 0 && strncmp(msg + n, r->file[i], len) == 0 && msg[n + len] == ':';
    }
    if (!named) atomic_fetch_add(&r->other, 1);
}

static void *switch_files(void *ud)
{
    run *r = ud;
    char err[512];
    for (int i = 0; atomic_load(&r->reloading); i++)
        if (hworker_set_job_file(r->h, r->file[i % 2], NULL, err, sizeof err) != 0) fprintf(stderr, "%s\n", err);
    return NULL;
}

static void *reload(void *ud)
{
    run *r = ud;
    char err[512];
    for (int i = 0; i < r->rounds; i++) {
        if (hworker_reload(r->h, err, sizeof err) == 0) atomic_fetch_add(&r->reloads, 1);
        else fprintf(stderr, "%s\n", err);
    }
    atomic_store(&r->reloading, 0);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 6) return 2;
    run r = {.file = {argv[3], argv[4]}, .rounds = atoi(argv[5])};
    atomic_init(&r.reloads, 0);
    atomic_init(&r.other, 0);
    atomic_init(&r.reloading, 1);
    hworker_config cfg;
    hworker_config_init(&cfg);
    cfg.redis_url = argv[1];
    cfg.name = argv[2];
    cfg.job_file = argv[3];
    cfg.log = log_line;
    cfg.log_ud = &r;
    cfg.log_level = HWORKER_LOG_INFO;
    char err[512];
    r.h = hworker_create(&cfg, err, sizeof err);
    if (r.h == NULL || hworker_start(r.h, 2, 0, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    pthread_t switcher, reloader;
    if (pthread_create(&switcher, NULL, switch_files, &r) || pthread_create(&reloader, NULL, reload, &r)) return 1;
    hworker_job job = {"{}", 2, NULL};
    for (int i = 0; i < r.rounds; i++)
        if (hworker_enqueue(r.h, &job, 1, NULL, NULL, err, sizeof err) != 0) fprintf(stderr, "%s\n", err);
    pthread_join(switcher, NULL);
    pthread_join(reloader, NULL);
    /* Bounded: the spec reads the count, it does not need them all. */
    hworker_stats stats = {0};
    for (int tries = 0; tries < 3000 && stats.succeeded < r.rounds; tries++) {
        if (hworker_get_stats(r.h, &stats, err, sizeof err) != 0) fprintf(stderr, "%s\n", err);
        nanosleep(&(struct timespec){.tv_nsec = 10000000}, NULL);
    }
    hworker_stop(r.h, 5);
    hworker_free(r.h);
    printf("reloads=%d succeeded=%lld other=%d\n", atomic_load(&r.reloads), stats.succeeded, atomic_load(&r.other));
    return 0;
}
