#include "conn_transport.h"

#include <stdio.h>
#include <sys/time.h>
#include <time.h>

void hw_pipe_guard_begin(hw_pipe_guard *g)
{
    sigemptyset(&g->pipe);
    sigaddset(&g->pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &g->pipe, &g->old);
}

void hw_pipe_guard_end(hw_pipe_guard *g, int failed)
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

static struct timeval to_timeval(double seconds)
{
    struct timeval tv;
    tv.tv_sec = (time_t)seconds;
    tv.tv_usec = (suseconds_t)((seconds - (double)tv.tv_sec) * 1e6);
    return tv;
}

redisContext *hw_transport_connect(const hw_conn *c, const char *host, int port)
{
    struct timeval connect_timeout = to_timeval(5.0);
    redisContext *ctx;
    if (c->connect) {
        ctx = c->connect(c->connect_ud);
    } else if (c->target->path) {
        ctx = redisConnectUnixWithTimeout(c->target->path, connect_timeout);
    } else {
        ctx = redisConnectWithTimeout(host, port, connect_timeout);
    }
    if (ctx == NULL || ctx->err) return ctx;
    /* Timeouts and keepalive are set on every new context: redisReconnect
     * would forget them (docs/design.md section 6), so we never use it. */
    if (c->timeout > 0) redisSetTimeout(ctx, to_timeval(c->timeout));
    /* By the context's own type: a host's factory may hand over a unix
     * socket whatever the URL says, and keepalive fails on one. */
    if (ctx->connection_type == REDIS_CONN_TCP) redisEnableKeepAlive(ctx);
    return ctx;
}

int hw_conn_set_error(hw_conn *c, const char *what, const redisReply *r)
{
    if (r == NULL)
        snprintf(c->errstr, sizeof c->errstr, "%s: %s", what,
                 c->ctx && c->ctx->errstr[0] ? c->ctx->errstr : "connection lost");
    else if (r->type == REDIS_REPLY_ERROR) snprintf(c->errstr, sizeof c->errstr, "%s: %s", what, r->str);
    else snprintf(c->errstr, sizeof c->errstr, "%s: unexpected reply type %d", what, r->type);
    return -1;
}

redisReply *hw_transport_send(hw_conn *c, const char *cmd, size_t len)
{
    if (c->ctx == NULL || c->ctx->err) {
        snprintf(c->errstr, sizeof c->errstr, "not connected to Redis");
        hw_conn_close(c);
        return NULL;
    }
    hw_pipe_guard g;
    hw_pipe_guard_begin(&g);
    void *reply = NULL;
    if (redisAppendFormattedCommand(c->ctx, cmd, len) != REDIS_OK || redisGetReply(c->ctx, &reply) != REDIS_OK)
        reply = NULL;
    hw_pipe_guard_end(&g, reply == NULL);
    if (reply == NULL) {
        hw_conn_set_error(c, "Redis connection lost", NULL);
        hw_conn_close(c);
    }
    return reply;
}
