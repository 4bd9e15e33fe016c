#include "conn.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cluster_route.h"
#include "conn_transport.h"
#include "sentinel.h"

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

void hw_conn_close(hw_conn *c)
{
    hw_link_close(c->link);
    c->link = NULL;
    atomic_store(&c->client_id, -1);
}

void hw_conn_free(hw_conn *c)
{
    hw_conn_close(c);
    hw_cluster_release(c);
    hw_sentinel_release(c);
    hw_buf_free(&c->resp);
    hw_buf_free(&c->cmd);
}

/* Sends one command on the new link, outside cluster routing: the set-up
 * talks to the node just connected. Its own buffer: a connect may happen
 * in the middle of sending c->cmd or c->resp (a MOVED to a new node).
 * Same return contract as hw_link_exchange. */
static redisReply *setup_exchange(hw_conn *c, int argc, const char **argv, const size_t *lens)
{
    return hw_link_command(c->link, argc, argv, lens);
}

/* Runs one set-up command; returns 0 if Redis answered without error. */
static int setup_command(hw_conn *c, const char *what, int argc, const char **argv)
{
    redisReply *r = setup_exchange(c, argc, argv, NULL);
    int ok = r != NULL && r->type != REDIS_REPLY_ERROR;
    if (!ok) hw_conn_set_error(c, what, r);
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
    redisReply *r = setup_exchange(c, 3, argv, lens);
    if (r == NULL || r->type != REDIS_REPLY_STRING || r->len != 40) {
        hw_conn_set_error(c, "loading script", r);
        if (r) freeReplyObject(r);
        return -1;
    }
    memcpy(c->sha[s], r->str, 40);
    c->sha[s][40] = '\0';
    freeReplyObject(r);
    return 0;
}

int hw_conn_open(hw_conn *c)
{
    hw_conn_close(c);
    c->errstr[0] = '\0';
    const char *host;
    int port;
    hw_cluster_address(c, &host, &port);
    char why[256];
    if (hw_sentinel_address(c, &host, &port)) return -1;
    c->link = hw_transport_connect(c, host, port, why, sizeof why);
    if (c->link == NULL) {
        char where[300];
        if (c->target->cluster) {
            int v6 = strchr(host, ':') != NULL; /* an IPv6 address, shown in brackets */
            snprintf(where, sizeof where, "cluster node %s%s%s:%d", v6 ? "[" : "", host, v6 ? "]" : "", port);
        } else if (c->target->sentinel) {
            int v6 = strchr(host, ':') != NULL;
            snprintf(where, sizeof where, "%s%s%s:%d (master '%s', as the sentinels named it)", v6 ? "[" : "", host,
                     v6 ? "]" : "", port, c->target->master_name);
        } else {
            snprintf(where, sizeof where, "%s", c->target->display ? c->target->display : "?");
        }
        hw_cluster_unreachable(c);
        snprintf(c->errstr, sizeof c->errstr, "cannot connect to Redis at %s: %s",
                 c->connect ? "(host connection factory)" : where, why);
        return -1;
    }
    hw_cluster_connected(c, host, port);
    /* At every connect, so that it cannot scroll out of sight. */
    if (!c->connect && c->target->tls && c->target->tls_insecure)
        hw_log(c->log, HWORKER_LOG_WARN,
               "%s: TLS certificate verification is off (?insecure in the URL): anyone on the network path "
               "can read and change this connection; for tests only",
               c->role);
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
    if (hw_sentinel_verify(c)) goto fail;
    char name[128];
    snprintf(name, sizeof name, "hworker:%s:%s", c->queue ? c->queue : "", c->role);
    for (char *p = name; *p; p++)
        if (*p == ' ' || *p == '\n' || *p == '\r') *p = '_';
    const char *setname[3] = {"CLIENT", "SETNAME", name};
    setup_command(c, "naming the connection", 3, setname); /* optional: ignore refusal */
    const char *client_id[2] = {"CLIENT", "ID"};
    redisReply *id = setup_exchange(c, 2, client_id, NULL);
    if (id == NULL) {
        hw_conn_set_error(c, "asking the client id", NULL);
        goto fail;
    }
    if (id->type == REDIS_REPLY_INTEGER) atomic_store(&c->client_id, id->integer);
    freeReplyObject(id);
    /* Scripts are named by their SHA1 and loaded only when Redis answers
     * NOSCRIPT: a connection that never runs one loads none. */
    for (int s = 0; s < HW_SCRIPT_COUNT; s++) {
        if (hw_script_sha((hw_script)s, c->sha[s]) != 0) {
            snprintf(c->errstr, sizeof c->errstr, "script %d missing from this build", s);
            goto fail;
        }
    }
    if (hw_cluster_read_map(c)) goto fail;
    return 0;
fail:
    hw_link_close(c->link);
    c->link = NULL;
    return -1;
}

int hw_conn_ensure(hw_conn *c, hw_signal *stop)
{
    if (c->link && !hw_link_failed(c->link)) return 0;
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

redisReply *hw_conn_command(hw_conn *c, int argc, const char **argv, const size_t *lens)
{
    hw_buf *cmd = &c->cmd;
    hw_buf_clear(cmd);
    hw_resp_array(cmd, (size_t)argc);
    for (int i = 0; i < argc; i++) hw_resp_bulk(cmd, argv[i], lens ? lens[i] : strlen(argv[i]));
    return hw_sentinel_screen(c, hw_cluster_exchange(c, cmd->data, cmd->len));
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
        hw_cluster_route(c, hw_key_slot(args->store.data + args->offsets[0], args->lens[0])) != 0)
        return NULL;
    for (int attempt = 0; attempt < 2; attempt++) {
        redisReply *r = hw_sentinel_screen(c, hw_cluster_exchange(c, cmd->data, cmd->len));
        if (r == NULL) return NULL;
        if (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0 && attempt == 0) {
            freeReplyObject(r);
            if (load_script(c, s)) {
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

int hw_conn_subscribe(hw_conn *c, const char *const *channels, int n, double timeout, char *why, size_t whylen)
{
    hw_buf cmd = {0};
    hw_resp_array(&cmd, (size_t)n + 1);
    hw_resp_bulk(&cmd, "SUBSCRIBE", 9);
    for (int k = 0; k < n; k++) hw_resp_bulk(&cmd, channels[k], strlen(channels[k]));
    int sent = hw_link_send(c->link, cmd.data, cmd.len);
    hw_buf_free(&cmd);
    /* One confirmation per channel, or an error (an ACL without the
     * channel, say). */
    for (int k = 0; sent == 0 && k < n; k++) {
        redisReply *r = NULL;
        int rc = hw_link_next_reply(c->link, -1, timeout, &r);
        if (rc != 1 || r->type != REDIS_REPLY_ARRAY) {
            hw_conn_explain(c, rc == 1 ? r : NULL, "SUBSCRIBE", why, whylen);
            if (rc == 0) snprintf(why, whylen, "SUBSCRIBE: no answer within redis_timeout");
            if (r) freeReplyObject(r);
            return -1;
        }
        freeReplyObject(r);
    }
    if (sent != 0) {
        snprintf(why, whylen, "%s", hw_link_error(c->link));
        return -1;
    }
    return 0;
}
