/* For spec/gather_spec.lua: THREADS threads of one handle each enqueue
 * PER jobs one call at a time ({"t":thread,"k":k}), so that their calls are
 * gathered into shared script calls. Prints one line per call:
 * "T K ok ID", "T K held ID" (its unique key was held: the holder's id) or
 * "T K err MESSAGE". MODE picks what else happens:
 *   plain   every job valid, no unique keys
 *   bad     every 97th job (k % 97 == 50) is not JSON
 *   unique  every 50th job (k % 50 == 25) has the unique key "held-key",
 *           every 50th other (k % 50 == 0) a key of its own "u-T-K"
 *   mixed   the even threads' jobs run in an hour (delay 3600), the odd
 *           threads' now
 *   big     every job is of 1.5 MB ({"t":..,"k":..,"pad":"xx..."})
 *   kill    a thread of its own kills the handle's connection (CLIENT KILL
 *           TYPE normal from a second connection) every 2 ms meanwhile
 * usage: gather_enqueue REDIS_URL NAME MODE THREADS PER */
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hworker.h"

typedef struct run {
    hworker *h;
    const char *mode, *url;
    int per;
    atomic_int running;
    pthread_mutex_t out_lock;
} run;

typedef struct thread_arg {
    run *r;
    int t;
} thread_arg;

static void *produce(void *ud)
{
    thread_arg *a = ud;
    run *r = a->r;
    for (int k = 0; k < r->per; k++) {
        char json[64], unique[64], id[HWORKER_ID_SIZE] = "", err[512] = "";
        snprintf(json, sizeof json, "{\"t\":%d,\"k\":%d}", a->t, k);
        if (strcmp(r->mode, "bad") == 0 && k % 97 == 50) snprintf(json, sizeof json, "{\"t\":%d,\"k\":", a->t);
        hworker_job job = {json, strlen(json), NULL};
        char *big = NULL;
        if (strcmp(r->mode, "big") == 0) {
            size_t pad = 1536 * 1024;
            big = malloc(pad + 64);
            if (big == NULL) abort();
            int head = snprintf(big, 64, "{\"t\":%d,\"k\":%d,\"pad\":\"", a->t, k);
            memset(big + head, 'x', pad);
            memcpy(big + head + pad, "\"}", 3);
            job.json = big;
            job.len = (size_t)head + pad + 2;
        }
        if (strcmp(r->mode, "unique") == 0 && k % 50 == 25) job.unique = "held-key";
        if (strcmp(r->mode, "unique") == 0 && k % 50 == 0) {
            snprintf(unique, sizeof unique, "u-%d-%d", a->t, k);
            job.unique = unique;
        }
        long held = 0;
        hworker_enqueue_opts o = HWORKER_ENQUEUE_OPTS_INIT;
        o.held = &held;
        if (strcmp(r->mode, "mixed") == 0 && a->t % 2 == 0) o.delay = 3600;
        hworker_rc rc = hworker_enqueue(r->h, &job, 1, &o, id, err, sizeof err);
        pthread_mutex_lock(&r->out_lock);
        if (rc == HWORKER_OK) printf("%d %d %s %s\n", a->t, k, held ? "held" : "ok", id);
        else printf("%d %d err %s\n", a->t, k, err);
        pthread_mutex_unlock(&r->out_lock);
        free(big);
    }
    return NULL;
}

static void *kill_connections(void *ud)
{
    run *r = ud;
    /* REDIS_URL is unix://PATH or redis://HOST:PORT[/DB] here. */
    char host[256] = "127.0.0.1";
    int port = 6379;
    redisContext *c;
    if (strncmp(r->url, "unix://", 7) == 0) {
        c = redisConnectUnix(r->url + 7);
    } else {
        sscanf(r->url, "redis://%255[^:]:%d", host, &port);
        c = redisConnect(host, port);
    }
    if (c == NULL || c->err) {
        fprintf(stderr, "cannot connect to kill: %s\n", c ? c->errstr : "no memory");
        exit(2);
    }
    struct timespec pause = {0, 2000000};
    while (atomic_load(&r->running)) {
        redisReply *rep = redisCommand(c, "CLIENT KILL TYPE normal SKIPME yes");
        if (rep) freeReplyObject(rep);
        nanosleep(&pause, NULL);
    }
    redisFree(c);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: gather_enqueue REDIS_URL NAME MODE THREADS PER\n");
        return 2;
    }
    run r = {.url = argv[1], .mode = argv[3], .per = atoi(argv[5])};
    int threads = atoi(argv[4]);
    pthread_mutex_init(&r.out_lock, NULL);
    atomic_init(&r.running, 1);
    hworker_config cfg;
    hworker_config_init(&cfg);
    cfg.name = argv[2];
    cfg.redis_url = argv[1];
    char err[512];
    r.h = hworker_create(&cfg, err, sizeof err);
    if (r.h == NULL) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    pthread_t killer;
    int killing = strcmp(r.mode, "kill") == 0;
    if (killing) pthread_create(&killer, NULL, kill_connections, &r);
    pthread_t *ts = calloc((size_t)threads, sizeof *ts);
    thread_arg *args = calloc((size_t)threads, sizeof *args);
    for (int i = 0; i < threads; i++) {
        args[i] = (thread_arg){&r, i};
        pthread_create(&ts[i], NULL, produce, &args[i]);
    }
    for (int i = 0; i < threads; i++) pthread_join(ts[i], NULL);
    atomic_store(&r.running, 0);
    if (killing) pthread_join(killer, NULL);
    hworker_free(r.h);
    free(ts);
    free(args);
    pthread_mutex_destroy(&r.out_lock);
    return 0;
}
