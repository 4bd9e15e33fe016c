/* For spec/cancel_spec.lua: a cancel that reaches the lease keeper before
 * the claim it names reaches the worker. The host gives hworker its
 * connections (cfg.connect) through a relay of its own, which can hold each
 * reply from Redis back for a second, except on subscribed connections. With
 * replies held, it enqueues a job that spins for ever, waits until Redis has
 * it in flight (the claim ran; its reply is held), and cancels it: the
 * keeper hears at once, before its worker holds the claim. The job must
 * then stop within the spec's deadline, long before the next renewal (a
 * 60 s lease renews every 20 s).
 * usage: cancel_early SOCKET_PATH NAME JOB_FILE
 * Prints "cancelled=C running=R" (C: the cancelled counter; R: executions
 * the cancel told to stop) or says on stderr what failed. */
#include <hiredis/hiredis.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "hworker.h"

/* How the relay behaves; shared by main and every relay thread. */
typedef struct relay_conf {
    const char *path; /* Redis's unix socket */
    atomic_int hold;  /* replies are held back a second while set */
} relay_conf;

/* One direction of one relayed connection. */
typedef struct pipe_end {
    relay_conf *conf;
    int from, to;
    atomic_int *subscribed; /* set once the client sent SUBSCRIBE */
    int replies;            /* this direction carries Redis's replies */
} pipe_end;

static void pause_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void *relay(void *arg)
{
    pipe_end *p = arg;
    char buf[65536];
    for (;;) {
        ssize_t n = read(p->from, buf, sizeof buf);
        if (n <= 0) break;
        if (!p->replies && memmem(buf, (size_t)n, "SUBSCRIBE", 9)) atomic_store(p->subscribed, 1);
        if (p->replies && atomic_load(&p->conf->hold) && !atomic_load(p->subscribed)) pause_ms(1000);
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(p->to, buf + off, (size_t)(n - off));
            if (w <= 0) goto done;
            off += w;
        }
    }
done:
    shutdown(p->to, SHUT_WR);
    shutdown(p->from, SHUT_RD);
    return NULL;
}

/* The factory: a socket pair whose far end is relayed to Redis by two
 * detached threads (they end when either side closes). */
static redisContext *connect_relayed(void *ud)
{
    relay_conf *conf = ud;
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) != 0) return NULL;
    int server = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    snprintf(addr.sun_path, sizeof addr.sun_path, "%s", conf->path);
    if (server < 0 || connect(server, (struct sockaddr *)&addr, sizeof addr) != 0) {
        if (server >= 0) close(server);
        close(pair[0]);
        close(pair[1]);
        return NULL;
    }
    atomic_int *subscribed = calloc(1, sizeof *subscribed);
    pipe_end *up = calloc(1, sizeof *up), *down = calloc(1, sizeof *down);
    if (subscribed == NULL || up == NULL || down == NULL) abort();
    *up = (pipe_end){conf, pair[1], server, subscribed, 0};
    *down = (pipe_end){conf, server, pair[1], subscribed, 1};
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_create(&t, &attr, relay, up);
    pthread_create(&t, &attr, relay, down);
    pthread_attr_destroy(&attr);
    return redisConnectFd(pair[0]);
}

/* Polls `cmd` on c (at most 30 s) until its integer reply is at least `n`. */
static int wait_integer(redisContext *c, const char *cmd, const char *key, long long n)
{
    for (int i = 0; i < 3000; i++) {
        redisReply *r = redisCommand(c, cmd, key);
        long long v = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
        if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[1]->type == REDIS_REPLY_INTEGER)
            v = r->element[1]->integer; /* PUBSUB NUMSUB: channel, count */
        if (r) freeReplyObject(r);
        if (v >= n) return 0;
        pause_ms(10);
    }
    return -1;
}

static int fail(const char *what, const char *err)
{
    fprintf(stderr, "cancel_early: %s%s%s\n", what, err ? ": " : "", err ? err : "");
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s SOCKET_PATH NAME JOB_FILE\n", argv[0]);
        return 2;
    }
    char err[512], id[HWORKER_ID_SIZE], key[300];
    static relay_conf conf;
    conf.path = argv[1];
    hworker_config cfg;
    hworker_config_init(&cfg);
    cfg.redis_url = "redis://127.0.0.1:1/0";
    cfg.connect = connect_relayed;
    cfg.connect_ud = &conf;
    cfg.name = argv[2];
    cfg.job_file = argv[3];
    cfg.lease = 60;
    cfg.log_level = HWORKER_LOG_ERROR;
    hworker *h = hworker_create(&cfg, err, sizeof err);
    if (h == NULL || hworker_start(h, 1, 0, err, sizeof err) != 0) return fail("cannot start", err);
    redisContext *direct = redisConnectUnix(argv[1]);
    if (direct == NULL || direct->err) return fail("cannot connect", NULL);
    /* The keeper listens, and the worker waits for work. */
    snprintf(key, sizeof key, "hw:{%s}:cancels", argv[2]);
    if (wait_integer(direct, "PUBSUB NUMSUB %s", key, 1) != 0) return fail("the keeper never subscribed", NULL);
    atomic_store(&conf.hold, 1);
    hworker_config pcfg;
    hworker_config_init(&pcfg);
    char url[400];
    snprintf(url, sizeof url, "unix://%s", argv[1]);
    pcfg.redis_url = url;
    pcfg.name = argv[2];
    hworker *producer = hworker_create(&pcfg, err, sizeof err);
    hworker_job job = {"{\"n\":1}", 7, NULL};
    if (producer == NULL || hworker_enqueue(producer, &job, 1, NULL, id, err, sizeof err) != 0)
        return fail("cannot enqueue", err);
    /* Claimed in Redis, its reply held in the relay: cancel now. */
    snprintf(key, sizeof key, "hw:{%s}:inflight", argv[2]);
    if (wait_integer(direct, "ZCARD %s", key, 1) != 0) return fail("the job was never claimed", NULL);
    hworker_job_action did = {0};
    if (hworker_cancel(producer, id, &did, err, sizeof err) != 0) return fail("cannot cancel", err);
    atomic_store(&conf.hold, 0);
    hworker_stats st = {0};
    for (int i = 0; i < 1000; i++) { /* 10 s, half the renewal interval */
        if (hworker_get_stats(producer, &st, err, sizeof err) == 0 && st.cancelled >= 1 && st.inflight == 0) break;
        pause_ms(10);
    }
    printf("cancelled=%lld running=%ld\n", st.cancelled, did.running);
    fflush(stdout);
    /* A spinning job that was not stopped is not waited for. */
    if (st.cancelled >= 1) hworker_stop(h, 5);
    _exit(0);
}
