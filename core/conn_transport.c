#include "conn_transport.h"

#include <stdio.h>
#include <time.h>

hw_link *hw_transport_connect(const hw_conn *c, const char *host, int port, char *err, size_t errlen)
{
    /* The socket timeout is set on every new link: a reconnect starts from
     * nothing (docs/design.md section 6). */
    if (c->connect) return hw_link_adopt(c->connect(c->connect_ud), c->timeout, err, errlen);
    const hw_target *t = c->target;
    hw_link_params p = {.host = host,
                        .port = port,
                        .path = t->path,
                        .connect_timeout = 5.0,
                        .io_timeout = c->timeout,
                        .tls = t->tls_ctx,
                        .tls_name = t->tls_sni,
                        .tls_ca = t->tls_cacert};
    return hw_link_open(&p, err, errlen);
}

int hw_conn_set_error(hw_conn *c, const char *what, const redisReply *r)
{
    if (r == NULL)
        snprintf(c->errstr, sizeof c->errstr, "%s: %s", what,
                 c->link && hw_link_failed(c->link) ? hw_link_error(c->link) : "connection lost");
    else if (r->type == REDIS_REPLY_ERROR) snprintf(c->errstr, sizeof c->errstr, "%s: %s", what, r->str);
    else snprintf(c->errstr, sizeof c->errstr, "%s: unexpected reply type %d", what, r->type);
    return -1;
}

redisReply *hw_transport_send(hw_conn *c, const char *cmd, size_t len)
{
    if (c->link == NULL || hw_link_failed(c->link)) {
        snprintf(c->errstr, sizeof c->errstr, "not connected to Redis");
        hw_conn_close(c);
        return NULL;
    }
    redisReply *reply = hw_link_exchange(c->link, cmd, len);
    if (reply == NULL) {
        hw_conn_set_error(c, "Redis connection lost", NULL);
        hw_conn_close(c);
    }
    return reply;
}
