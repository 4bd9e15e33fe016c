/* TLS for rediss:// targets, with OpenSSL: the client context a handle's
 * connections share (made once, read-only afterwards, so any thread may use
 * it), and the words for a handshake that failed. The session itself is
 * the link's (link.c). */
#ifndef HW_TLS_H
#define HW_TLS_H

#include <openssl/ssl.h>
#include <stddef.h>

#include "url.h"

/* Makes t->tls_ctx when t->tls: peer verification against t->tls_cacert
 * (else the system CA store) unless t->tls_insecure, and the client
 * certificate and key when given. Key passwords are not supported: an
 * encrypted key fails, it never prompts. Returns 0 (also when t is not
 * TLS), or -1 with err naming the file at fault and OpenSSL's reason.
 * Call once, before t is shared; not thread-safe on t. */
int hw_tls_context_make(hw_target *t, char *err, size_t errlen);
/* Frees t->tls_ctx (NULL is fine) and clears it. */
void hw_tls_context_free(hw_target *t);

/* Writes into out why the handshake on ssl failed ("TLS: the server's
 * certificate is not signed by a CA in ca.pem (...)", "... does not name
 * host H (...)", or OpenSSL's reason). ret is SSL_connect's return value,
 * ca names the trusted CAs (a file, or NULL: the system CA store), host the
 * name or address verified. Reads the calling thread's OpenSSL error queue.
 * Never fails. */
void hw_tls_explain_handshake(SSL *ssl, int ret, const char *ca, const char *host, char *out, size_t outlen);

/* Writes into out why a read or write on an established session failed
 * (ret is SSL_read's or SSL_write's return value), as "TLS: reason".
 * Returns 0 when the failure was the socket's own (errno says why, e.g. a
 * timeout), 1 when out was written. */
int hw_tls_explain_io(SSL *ssl, int ret, char *out, size_t outlen);

#endif
