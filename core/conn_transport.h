/* The transport under an hw_conn: opening the socket (or taking the host
 * factory's context), and sending a formatted command and reading its
 * reply with SIGPIPE kept from the process. Everything above it speaks RESP
 * over the redisContext this hands back, so a transport that must do more
 * than connect a socket (a TLS handshake) changes hw_transport_connect
 * alone. Internal to the connection (conn.c, cluster_route.c). */
#ifndef HW_CONN_TRANSPORT_H
#define HW_CONN_TRANSPORT_H

#include <signal.h>

#include "conn.h"

/* Writing to a socket Redis closed raises SIGPIPE, whose default action
 * ends the process. A library may not change the process's signal handling,
 * so each I/O call blocks SIGPIPE for its own thread only, and consumes the
 * signal a failed write left pending before restoring the thread's mask.
 * A guard lives on the stack of the one thread that begins and ends it. */
typedef struct hw_pipe_guard {
    sigset_t pipe, old;
} hw_pipe_guard;

/* Blocks SIGPIPE for the calling thread. Never fails. */
void hw_pipe_guard_begin(hw_pipe_guard *g);
/* Restores the thread's mask; `failed` (the I/O failed) first consumes a
 * pending SIGPIPE. Never fails. */
void hw_pipe_guard_end(hw_pipe_guard *g, int failed);

/* Opens a context to host:port (or the target's unix socket, or the host's
 * factory's context when c->connect is set), within 5 s, and gives a live
 * one c's socket timeout and (on TCP) keepalive. Returns the context, owned
 * by the caller (redisFree), which may be NULL or carry err when the
 * connect failed. Reads c only; call with SIGPIPE guarded. */
redisContext *hw_transport_connect(const hw_conn *c, const char *host, int port);

/* Sends a command already formatted as RESP on c->ctx and reads its reply.
 * Returns the reply (caller frees it with freeReplyObject), or NULL when
 * not connected or the connection failed: c is then closed and c->errstr
 * says why. Same thread rules as c. */
redisReply *hw_transport_send(hw_conn *c, const char *cmd, size_t len);

/* Writes "<what>: <reason>" for a NULL or non-answer reply r into
 * c->errstr, the reason from c->ctx when r is NULL. Returns -1. */
int hw_conn_set_error(hw_conn *c, const char *what, const redisReply *r);

#endif
