/* One socket to Redis: connecting it (TCP under a connect timeout, or a unix
 * socket), sending a command already formatted as RESP, reading one reply,
 * closing. The link owns the socket; hiredis serves only as the RESP reader
 * (read.h), so every connection, plain or TLS, takes one I/O path.
 * A link belongs to one thread at a time and is not thread-safe. No call
 * lets SIGPIPE reach the process: a plain socket is written with
 * MSG_NOSIGNAL, and OpenSSL's calls run with SIGPIPE blocked for the
 * calling thread, the one it raised consumed. */
#ifndef HW_LINK_H
#define HW_LINK_H

#include <hiredis/hiredis.h>
#include <openssl/ssl.h>
#include <stddef.h>

typedef struct hw_link hw_link;

/* Where and how to connect. Strings are borrowed for the call only. */
typedef struct hw_link_params {
    const char *host; /* TCP host name or address (IPv6 without brackets) */
    int port;
    const char *path;       /* a unix socket instead of host:port, or NULL */
    double connect_timeout; /* seconds for the connect; > 0 */
    double io_timeout;      /* seconds one read or write may block; 0 = no limit */
    SSL_CTX *tls;           /* TCP only: TLS with this context (shared, read-only), or NULL */
    const char *tls_name;   /* the name sent (SNI) and verified, or NULL: host */
    const char *tls_ca;     /* for messages: the CA file trusted, or NULL (the system store) */
} hw_link_params;

/* Connects, and with p->tls makes the TLS handshake (within the same
 * connect timeout), verifying the server's certificate as p->tls says.
 * Returns the link (owned by the caller: hw_link_close), or NULL with err
 * set to the reason ("Connection refused", "Connection timed out", a
 * resolver's message, "TLS: the server's certificate ..."). TCP links get
 * TCP_NODELAY and keepalive. */
hw_link *hw_link_open(const hw_link_params *p, char *err, size_t errlen);

/* Takes over the socket of a host factory's connected context and frees the
 * context (it is the link's to free in every case). io_timeout as in
 * hw_link_params; keepalive when the context is TCP. Returns the link, or
 * NULL with err set (the context's own error when it carries one). */
hw_link *hw_link_adopt(redisContext *ctx, double io_timeout, char *err, size_t errlen);

/* Sends cmd (len bytes of RESP) whole and reads the reply to it. Returns the
 * reply (the caller frees it with freeReplyObject; it may be an error
 * reply), or NULL when the link failed: hw_link_error then says why and
 * every later call fails too. */
redisReply *hw_link_exchange(hw_link *l, const char *cmd, size_t len);

/* Formats argv (lens may be NULL for C strings) as one RESP command in a
 * buffer of its own and exchanges it on l, as hw_link_exchange does: for
 * the few commands sent outside a connection's routing (set-up, sentinels). */
redisReply *hw_link_command(hw_link *l, int argc, const char **argv, const size_t *lens);

/* For a link that receives replies it did not ask for one by one (a
 * subscription): hw_link_send writes cmd (len bytes of RESP) whole without
 * reading; returns 0, or -1 when the link failed. */
int hw_link_send(hw_link *l, const char *cmd, size_t len);

/* Waits up to `timeout` seconds for the next reply, or for `other_fd` (a
 * descriptor to watch as well, e.g. a stop signal's; -1 for none) to be
 * readable. Returns 1 with *reply set (the caller frees it), 0 when the time
 * passed, 2 when other_fd became readable first, or -1 when the link failed.
 * A reply already received whole, or held in the TLS session, comes back
 * at once. */
int hw_link_next_reply(hw_link *l, int other_fd, double timeout, redisReply **reply);

/* Whether an exchange failed (the link is then of no further use). */
int hw_link_failed(const hw_link *l);
/* Why the link failed, or "" if it has not. Owned by the link. */
const char *hw_link_error(const hw_link *l);

/* Closes the socket and frees the link. NULL is ignored. */
void hw_link_close(hw_link *l);

#endif
