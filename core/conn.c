#include "conn.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

/* Writing to a socket Redis closed raises SIGPIPE, whose default action
 * ends the process. A library may not change the process's signal handling,
 * so each I/O call blocks SIGPIPE for its own thread only, and consumes the
 * signal a failed write left pending before restoring the thread's mask. */
typedef struct pipe_guard {
    sigset_t pipe, old;
} pipe_guard;

static void guard_begin(pipe_guard *g)
{
    sigemptyset(&g->pipe);
    sigaddset(&g->pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &g->pipe, &g->old);
}

static void guard_end(pipe_guard *g, int failed)
{
    if (failed) {
        sigset_t pending;
        sigpending(&pending);
        if (sigismember(&pending, SIGPIPE)) {
            struct timespec zero = {0, 0};
            sigtimedwait(&g->pipe, NULL, &zero);
        }
    }
    pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

void hw_conn_init(hw_conn *c, const hw_target *target, hworker_connect_fn connect, void *connect_ud, hw_logger *log,
                  const char *queue, const char *role, double timeout)
{
    memset(c, 0, sizeof *c);
    c->target = target;
    c->connect = connect;
    c->connect_ud = connect_ud;
    c->log = log;
    c->queue = queue;
    snprintf(c->role, sizeof c->role, "%s", role);
    c->timeout = timeout;
    atomic_store(&c->client_id, -1);
}

static struct timeval to_timeval(double seconds)
{
    struct timeval tv;
    tv.tv_sec = (time_t)seconds;
    tv.tv_usec = (suseconds_t)((seconds - (double)tv.tv_sec) * 1e6);
    return tv;
}

void hw_conn_close(hw_conn *c)
{
    if (c->ctx) redisFree(c->ctx);
    c->ctx = NULL;
    atomic_store(&c->client_id, -1);
}

void hw_conn_free(hw_conn *c)
{
    hw_conn_close(c);
    for (int i = 0; i < c->nparked; i++) {
        redisFree(c->parked[i].ctx);
        free(c->parked[i].host);
    }
    c->nparked = 0;
    free(c->cur_host);
    c->cur_host = NULL;
    hw_slot_map_free(c->map);
    c->map = NULL;
    hw_buf_free(&c->resp);
    hw_buf_free(&c->cmd);
    free(c->node_host);
    c->node_host = NULL;
}

static int set_error(hw_conn *c, const char *what, const redisReply *r)
{
    if (r == NULL)
        snprintf(c->errstr, sizeof c->errstr, "%s: %s", what,
                 c->ctx && c->ctx->errstr[0] ? c->ctx->errstr : "connection lost");
    else if (r->type == REDIS_REPLY_ERROR) snprintf(c->errstr, sizeof c->errstr, "%s: %s", what, r->str);
    else snprintf(c->errstr, sizeof c->errstr, "%s: unexpected reply type %d", what, r->type);
    return -1;
}

/* Runs one set-up command; returns 0 if Redis answered without error. */
static int setup_command(hw_conn *c, const char *what, int argc, const char **argv)
{
    redisReply *r = redisCommandArgv(c->ctx, argc, argv, NULL);
    int ok = r != NULL && r->type != REDIS_REPLY_ERROR;
    if (!ok) set_error(c, what, r);
    if (r) freeReplyObject(r);
    return ok ? 0 : -1;
}

static int load_script(hw_conn *c, hw_script s)
{
    const hw_script_source *src = hw_script_get(s);
    if (src == NULL) {
        snprintf(c->errstr, sizeof c->errstr, "script %d missing from this build", (int)s);
        return -1;
    }
    const char *argv[] = {"SCRIPT", "LOAD", src->text};
    size_t lens[] = {6, 4, src->len};
    redisReply *r = redisCommandArgv(c->ctx, 3, argv, lens);
    if (r == NULL || r->type != REDIS_REPLY_STRING || r->len != 40) {
        set_error(c, "loading script", r);
        if (r) freeReplyObject(r);
        return -1;
    }
    memcpy(c->sha[s], r->str, 40);
    c->sha[s][40] = '\0';
    freeReplyObject(r);
    return 0;
}

static int conn_open(hw_conn *c);

int hw_conn_open(hw_conn *c)
{
    pipe_guard g;
    guard_begin(&g);
    int rc = conn_open(c);
    guard_end(&g, rc != 0);
    return rc;
}

static int conn_open(hw_conn *c)
{
    hw_conn_close(c);
    c->errstr[0] = '\0';
    struct timeval connect_timeout = to_timeval(5.0);
    const char *host = c->target->host;
    int port = c->target->port;
    if (c->target->cluster && c->node_host) {
        host = c->node_host;
        port = c->node_port;
    } else if (c->target->cluster) {
        const hw_node *seed = &c->target->seeds[c->next_seed++ % c->target->nseeds];
        host = seed->host;
        port = seed->port;
    }
    if (c->connect) {
        c->ctx = c->connect(c->connect_ud);
    } else if (c->target->path) {
        c->ctx = redisConnectUnixWithTimeout(c->target->path, connect_timeout);
    } else {
        c->ctx = redisConnectWithTimeout(host, port, connect_timeout);
    }
    if (c->target->cluster && c->ctx && !c->ctx->err) {
        free(c->cur_host);
        c->cur_host = strdup(host);
        if (c->cur_host == NULL) abort();
        c->cur_port = port;
    }
    if (c->ctx == NULL || c->ctx->err) {
        char where[300];
        if (c->target->cluster) {
            int v6 = strchr(host, ':') != NULL; /* an IPv6 address, shown in brackets */
            snprintf(where, sizeof where, "cluster node %s%s%s:%d", v6 ? "[" : "", host, v6 ? "]" : "", port);
        } else {
            snprintf(where, sizeof where, "%s", c->target->display ? c->target->display : "?");
        }
        /* A node that is gone (failed over): go back to the seeds, and
         * read the slot map again once connected. */
        free(c->node_host);
        c->node_host = NULL;
        c->map_stale = 1;
        snprintf(c->errstr, sizeof c->errstr, "cannot connect to Redis at %s: %s",
                 c->connect ? "(host connection factory)" : where, c->ctx ? c->ctx->errstr : "no connection");
        hw_conn_close(c);
        return -1;
    }
    /* Timeouts and keepalive are set on every new context: redisReconnect
     * would forget them (docs/design.md section 6), so we never use it. */
    if (c->timeout > 0) redisSetTimeout(c->ctx, to_timeval(c->timeout));
    /* By the context's own type: a host's factory may hand over a unix
     * socket whatever the URL says, and keepalive fails on one. */
    if (c->ctx->connection_type == REDIS_CONN_TCP) redisEnableKeepAlive(c->ctx);
    if (!c->connect && (c->target->user || c->target->password)) {
        /* A user without a password ("redis://user@host") is sent with an
         * empty one: Redis takes any password for a user that is nopass. */
        const char *user = c->target->user, *password = c->target->password ? c->target->password : "";
        const char *argv[3] = {"AUTH", user ? user : password, password};
        if (setup_command(c,
                          c->target->password ? "authentication refused"
                                              : "authentication refused (the URL names a user and no password, "
                                                "which Redis takes only for a user that is nopass)",
                          user ? 3 : 2, argv))
            goto fail;
    }
    if (!c->connect && c->target->db != 0) {
        char db[16];
        snprintf(db, sizeof db, "%d", c->target->db);
        const char *argv[2] = {"SELECT", db};
        if (setup_command(c, "cannot select the database", 2, argv)) goto fail;
    }
    char name[128];
    snprintf(name, sizeof name, "hworker:%s:%s", c->queue ? c->queue : "", c->role);
    for (char *p = name; *p; p++)
        if (*p == ' ' || *p == '\n' || *p == '\r') *p = '_';
    const char *setname[3] = {"CLIENT", "SETNAME", name};
    setup_command(c, "naming the connection", 3, setname); /* optional: ignore refusal */
    redisReply *id = redisCommand(c->ctx, "CLIENT ID");
    if (id == NULL) {
        set_error(c, "asking the client id", NULL);
        goto fail;
    }
    if (id->type == REDIS_REPLY_INTEGER) atomic_store(&c->client_id, id->integer);
    freeReplyObject(id);
    for (int s = 0; s < HW_SCRIPT_COUNT; s++)
        if (load_script(c, (hw_script)s)) goto fail;
    if (c->target->cluster && (c->map == NULL || c->map_stale)) {
        /* The slot map, read once (and again after a node was lost); MOVED
         * replies correct it slot by slot. A node that refuses is no error:
         * MOVED still leads the way. */
        redisReply *slots = redisCommand(c->ctx, "CLUSTER SLOTS");
        if (slots && slots->type == REDIS_REPLY_ARRAY) {
            hw_slot_map_free(c->map);
            c->map = hw_slot_map_new();
            hw_slot_map_load(c->map, slots);
            c->map_stale = 0;
        }
        if (slots) freeReplyObject(slots);
        if (c->ctx->err) goto fail;
    }
    return 0;
fail:
    if (c->ctx) {
        redisFree(c->ctx);
        c->ctx = NULL;
    }
    return -1;
}

int hw_conn_ensure(hw_conn *c, hw_signal *stop)
{
    if (c->ctx && !c->ctx->err) return 0;
    for (;;) {
        if (hw_conn_open(c) == 0) {
            if (c->failures > 0)
                hw_log(c->log, HWORKER_LOG_INFO, "%s: connected to Redis again after %d failed attempts", c->role,
                       c->failures);
            c->failures = 0;
            return 0;
        }
        c->failures++;
        /* Log the first failure and then every tenth, so an outage is
         * visible without flooding the log. */
        if (c->failures == 1 || c->failures % 10 == 0)
            hw_log(c->log, HWORKER_LOG_WARN, "%s: %s; retrying (attempt %d)", c->role, c->errstr, c->failures);
        if (stop == NULL) return -1;
        double delay = 0.05;
        for (int i = 1; i < c->failures && delay < 5.0; i++) delay *= 2;
        if (delay > 5.0) delay = 5.0;
        if (hw_signal_wait(stop, delay)) return -1;
    }
}

/* Sends a command already formatted as RESP and reads its reply. */
static redisReply *send_formatted(hw_conn *c, const char *cmd, size_t len)
{
    if (c->ctx == NULL || c->ctx->err) {
        snprintf(c->errstr, sizeof c->errstr, "not connected to Redis");
        hw_conn_close(c);
        return NULL;
    }
    pipe_guard g;
    guard_begin(&g);
    void *reply = NULL;
    if (redisAppendFormattedCommand(c->ctx, cmd, len) != REDIS_OK || redisGetReply(c->ctx, &reply) != REDIS_OK)
        reply = NULL;
    guard_end(&g, reply == NULL);
    if (reply == NULL) {
        set_error(c, "Redis connection lost", NULL);
        hw_conn_close(c);
    }
    return reply;
}

/* Keeps the live connection to the current node for later (the oldest
 * kept one goes if all places are taken). */
static void park(hw_conn *c)
{
    if (c->ctx == NULL || c->ctx->err || c->cur_host == NULL) {
        hw_conn_close(c);
        return;
    }
    if (c->nparked == (int)(sizeof c->parked / sizeof *c->parked)) {
        redisFree(c->parked[0].ctx);
        free(c->parked[0].host);
        memmove(c->parked, c->parked + 1, sizeof *c->parked * (size_t)(c->nparked - 1));
        c->nparked--;
    }
    struct hw_parked *p = &c->parked[c->nparked++];
    p->host = c->cur_host;
    p->port = c->cur_port;
    p->ctx = c->ctx;
    p->client_id = atomic_load(&c->client_id);
    c->cur_host = NULL;
    c->ctx = NULL;
    atomic_store(&c->client_id, -1);
}

/* Takes back a kept connection to the node a MOVED named; 0 if none. */
static int unpark(hw_conn *c)
{
    for (int i = 0; i < c->nparked; i++) {
        struct hw_parked *p = &c->parked[i];
        if (p->port != c->node_port || strcmp(p->host, c->node_host) != 0) continue;
        c->ctx = p->ctx;
        c->cur_host = p->host;
        c->cur_port = p->port;
        atomic_store(&c->client_id, p->client_id);
        memmove(p, p + 1, sizeof *p * (size_t)(c->nparked - i - 1));
        c->nparked--;
        return 1;
    }
    return 0;
}

/* Points the connection at the node a redirection names
 * ("MOVED <slot> <host>:<port>" or "ASK ..."); a MOVED also corrects the
 * slot map. Returns -1 if the reply does not parse. */
static int note_redirect(hw_conn *c, const char *reply, int moved)
{
    const char *slot = strchr(reply, ' ');
    const char *addr = strrchr(reply, ' ');
    const char *colon = addr ? strrchr(addr, ':') : NULL;
    if (slot == NULL || addr == NULL || colon == NULL || colon == addr + 1) return -1;
    free(c->node_host);
    c->node_host = strndup(addr + 1, (size_t)(colon - addr - 1));
    if (c->node_host == NULL) abort();
    c->node_port = atoi(colon + 1);
    if (moved) {
        if (c->map == NULL) c->map = hw_slot_map_new();
        hw_slot_map_set(c->map, (unsigned)atoi(slot + 1), c->node_host, strlen(c->node_host), c->node_port);
    }
    return 0;
}

/* Makes the connection talk to node_host:node_port: a kept connection to it,
 * or a new one. Returns 0, or -1 (not connected; errstr says why). */
static int switch_node(hw_conn *c)
{
    park(c);
    if (unpark(c)) return 0;
    return hw_conn_open(c);
}

/* Before a command on `slot`: talk to the node the map says serves it. */
static int route(hw_conn *c, unsigned slot)
{
    int port;
    const char *host = hw_slot_map_get(c->map, slot, &port);
    if (host == NULL || (c->ctx && c->cur_host && port == c->cur_port && strcmp(host, c->cur_host) == 0)) return 0;
    free(c->node_host);
    c->node_host = strdup(host);
    if (c->node_host == NULL) abort();
    c->node_port = port;
    return switch_node(c);
}

/* Follows an ASK redirection for one command: on the target node, ASKING
 * and then the command; then back to the node that serves the slot.
 * Returns the target's reply, or NULL if it could not be asked (the caller
 * then waits for the move to finish instead). */
static redisReply *ask(hw_conn *c, const char *redirect, const char *cmd, size_t len)
{
    if (c->cur_host == NULL) return NULL;
    char *home = strdup(c->cur_host);
    if (home == NULL) abort();
    int home_port = c->cur_port;
    redisReply *answer = NULL;
    if (note_redirect(c, redirect, 0) == 0 && switch_node(c) == 0) {
        static const char asking[] = "*1\r\n$6\r\nASKING\r\n";
        redisReply *ok = send_formatted(c, asking, sizeof asking - 1);
        if (ok && ok->type == REDIS_REPLY_STATUS) answer = send_formatted(c, cmd, len);
        if (ok) freeReplyObject(ok);
    }
    free(c->node_host);
    c->node_host = home;
    c->node_port = home_port;
    /* If going back fails, the answer still stands: the next command
     * reconnects through the seeds. */
    (void)switch_node(c);
    return answer;
}

/* An error reply that means "not here, or not now" in a Redis Cluster. */
static int redirection(const char *err)
{
    return strncmp(err, "MOVED ", 6) == 0 || strncmp(err, "ASK ", 4) == 0 || strncmp(err, "TRYAGAIN", 8) == 0 ||
        strncmp(err, "CLUSTERDOWN", 11) == 0;
}

/* Sends a formatted command, following a Redis Cluster where it points.
 * MOVED: the slot lives on another node; correct the map, go there, send
 * again. ASK: follow it once (see ask()). TRYAGAIN (a slot half moved) and
 * CLUSTERDOWN (a failover), and an ASK that did not help: wait, since the
 * move or failover finishes on its own, and send again. Waits are bounded
 * by the connection's timeout; then the error reply is returned. */
static redisReply *exchange(hw_conn *c, const char *cmd, size_t len)
{
    double waited = 0, pause = 0.005, bound = c->timeout > 0 ? c->timeout : 30;
    int moved = 0, asked = 0;
    for (;;) {
        redisReply *r = send_formatted(c, cmd, len);
        if (r == NULL || !c->target->cluster || r->type != REDIS_REPLY_ERROR) return r;
        /* A few MOVED in a row are followed; more means the cluster is
         * changing under us: wait a moment, then follow again. */
        if (strncmp(r->str, "MOVED ", 6) == 0 && moved < 5 && note_redirect(c, r->str, 1) == 0) {
            moved++;
            freeReplyObject(r);
            if (switch_node(c) != 0) return NULL;
            continue;
        }
        if (strncmp(r->str, "ASK ", 4) == 0 && asked < 3) {
            /* The slot is moving and this key is already on the target:
             * ask there once (ASKING, then the command), then come back. A
             * script whose keys are not all on one side meets TRYAGAIN
             * there until the move completes: then only waiting helps. */
            asked++;
            redisReply *answer = ask(c, r->str, cmd, len);
            if (answer != NULL) {
                freeReplyObject(r);
                if (answer->type != REDIS_REPLY_ERROR || !redirection(answer->str)) return answer;
                r = answer;
            }
        }
        if (!redirection(r->str) || waited >= bound) return r;
        freeReplyObject(r);
        struct timespec ts = {0, (long)(pause * 1e9)};
        nanosleep(&ts, NULL);
        waited += pause;
        pause = pause * 2 < 0.2 ? pause * 2 : 0.2;
        moved = 0;
    }
}

redisReply *hw_conn_command(hw_conn *c, int argc, const char **argv, const size_t *lens)
{
    hw_buf *cmd = &c->cmd;
    hw_buf_clear(cmd);
    hw_resp_array(cmd, (size_t)argc);
    for (int i = 0; i < argc; i++) hw_resp_bulk(cmd, argv[i], lens ? lens[i] : strlen(argv[i]));
    return exchange(c, cmd->data, cmd->len);
}

redisReply *hw_conn_script(hw_conn *c, hw_script s, int nkeys, hw_args *args)
{
    /* EVALSHA <sha> <nkeys> <keys...> <args...>, formatted once into a
     * buffer the connection keeps: no copy of the arguments, no sdscatfmt. */
    hw_buf *cmd = &c->resp;
    hw_buf_clear(cmd);
    hw_resp_array(cmd, (size_t)args->argc + 3);
    hw_resp_bulk(cmd, "EVALSHA", 7);
    hw_resp_bulk(cmd, c->sha[s], 40);
    char n[24];
    hw_resp_bulk(cmd, n, hw_fmt_ull(n, (unsigned long long)nkeys));
    for (int i = 0; i < args->argc; i++) hw_resp_bulk(cmd, args->store.data + args->offsets[i], args->lens[i]);
    /* A cluster: go straight to the node that serves KEYS[1]'s slot. */
    if (c->target->cluster && nkeys > 0 && args->argc > 0 &&
        route(c, hw_key_slot(args->store.data + args->offsets[0], args->lens[0])) != 0)
        return NULL;
    for (int attempt = 0; attempt < 2; attempt++) {
        redisReply *r = exchange(c, cmd->data, cmd->len);
        if (r == NULL) return NULL;
        if (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0 && attempt == 0) {
            freeReplyObject(r);
            pipe_guard g;
            guard_begin(&g);
            int failed = load_script(c, s);
            guard_end(&g, failed);
            if (failed) {
                hw_conn_close(c);
                return NULL;
            }
            /* A script's SHA1 is its text's: the loaded one is the same, so
             * the formatted command stands as it is. */
            continue;
        }
        return r;
    }
    return NULL;
}

redisReply *hw_conn_simple(hw_conn *c, const char *first, ...)
{
    const char *argv[16];
    int argc = 0;
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a && argc < 16; a = va_arg(ap, const char *)) argv[argc++] = a;
    va_end(ap);
    return hw_conn_command(c, argc, argv, NULL);
}

void hw_conn_explain(const hw_conn *c, const redisReply *r, const char *what, char *err, size_t errlen)
{
    if (err == NULL || errlen == 0) return;
    if (r == NULL) snprintf(err, errlen, "%s: %s", what, c->errstr[0] ? c->errstr : "Redis unreachable");
    else if (r->type == REDIS_REPLY_ERROR) snprintf(err, errlen, "%s: Redis refused: %s", what, r->str);
    else snprintf(err, errlen, "%s: unexpected reply from Redis (type %d)", what, r->type);
}
