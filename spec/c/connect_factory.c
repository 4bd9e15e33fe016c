/* For spec/promises_spec.lua: a host that gives hworker its connections
 * (cfg.connect) instead of a URL, which points where nothing listens. Runs
 * one job, kills every connection of the other clients (CLIENT KILL), runs a
 * second job, and prints how often the factory was called before and after
 * the kill: every new connection, the first ones and those made again after
 * the loss, must come from the factory.
 * usage: connect_factory SOCKET_PATH NAME JOB_FILE
 * Prints "succeeded=S before=B after=A". */
#include <hiredis/hiredis.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "hworker.h"

static atomic_int connects;

static redisContext *connect_unix(void *ud)
{
    atomic_fetch_add(&connects, 1);
    return redisConnectUnix((const char *)ud);
}

/* Waits (at most 60 s) until `n` jobs have succeeded; returns how many did. */
static long long wait_succeeded(hworker *h, long long n)
{
    hworker_stats st = {0};
    char err[512];
    for (int i = 0; i < 6000; i++) {
        if (hworker_get_stats(h, &st, err, sizeof err) == 0 && st.succeeded >= n) break;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return st.succeeded;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s SOCKET_PATH NAME JOB_FILE\n", argv[0]);
        return 2;
    }
    char err[512], id[HWORKER_ID_SIZE];
    hworker_config cfg;
    hworker_config_init(&cfg);
    cfg.redis_url = "redis://127.0.0.1:1/0";
    cfg.connect = connect_unix;
    cfg.connect_ud = argv[1];
    cfg.name = argv[2];
    cfg.job_file = argv[3];
    cfg.log_level = HWORKER_LOG_ERROR;
    hworker *h = hworker_create(&cfg, err, sizeof err);
    hworker_job first = {"{\"n\":1}", 7, NULL}, second = {"{\"n\":2}", 7, NULL};
    if (h == NULL || hworker_enqueue(h, &first, 1, NULL, id, err, sizeof err) != 0 ||
        hworker_start(h, 1, 0, err, sizeof err) != 0) {
        fprintf(stderr, "connect_factory: %s\n", err);
        return 1;
    }
    wait_succeeded(h, 1);
    int before = atomic_load(&connects);
    redisContext *killer = redisConnectUnix(argv[1]);
    redisReply *r = killer ? redisCommand(killer, "CLIENT KILL TYPE normal SKIPME yes") : NULL;
    if (r == NULL) {
        fprintf(stderr, "connect_factory: CLIENT KILL failed\n");
        return 1;
    }
    freeReplyObject(r);
    redisFree(killer);
    if (hworker_enqueue(h, &second, 1, NULL, id, err, sizeof err) != 0) {
        fprintf(stderr, "connect_factory: %s\n", err);
        return 1;
    }
    long long succeeded = wait_succeeded(h, 2);
    printf("succeeded=%lld before=%d after=%d\n", succeeded, before, atomic_load(&connects));
    hworker_stop(h, 5);
    hworker_free(h);
    return 0;
}
