/* The transport under an hw_conn: opening its link (link.h) to the address
 * the connection names, or taking over the host factory's context, and
 * sending a formatted command and reading its reply. Internal to the
 * connection (conn.c, cluster_route.c). */
#ifndef HW_CONN_TRANSPORT_H
#define HW_CONN_TRANSPORT_H

#include "conn.h"

/* Opens a link to host:port (or the target's unix socket, or takes over the
 * host factory's context when c->connect is set) within 5 s, over TLS when
 * the target has a TLS context (the handshake within the 5 s), with c's
 * socket timeout and (on TCP) keepalive. Returns the link, owned by the
 * caller (hw_link_close), or NULL with err set to the reason. Reads c only. */
hw_link *hw_transport_connect(const hw_conn *c, const char *host, int port, char *err, size_t errlen);

/* Sends a command already formatted as RESP on c->link and reads its reply.
 * Returns the reply (caller frees it with freeReplyObject), or NULL when
 * not connected or the connection failed: c is then closed and c->errstr
 * says why. Same thread rules as c. */
redisReply *hw_transport_send(hw_conn *c, const char *cmd, size_t len);

/* Writes "<what>: <reason>" for a NULL or non-answer reply r into
 * c->errstr, the reason from c->link when r is NULL. Returns -1. */
int hw_conn_set_error(hw_conn *c, const char *what, const redisReply *r);

#endif
