#include "tls.h"

#include <openssl/err.h>
#include <openssl/x509_vfy.h>
#include <stdio.h>
#include <string.h>

/* OpenSSL asks for a key's password through this: none is ever given, so
 * an encrypted key fails to load instead of prompting on a terminal. */
static int no_password(char *buf, int size, int rwflag, void *ud)
{
    (void)buf, (void)size, (void)rwflag, (void)ud;
    return 0;
}

/* The last OpenSSL error of this thread as text, or `fallback`. */
static const char *last_reason(char *buf, size_t len, const char *fallback)
{
    unsigned long e = ERR_peek_last_error();
    if (e == 0) return fallback;
    const char *reason = ERR_reason_error_string(e);
    if (reason) snprintf(buf, len, "%s", reason);
    else ERR_error_string_n(e, buf, len);
    return buf;
}

static int context_fail(hw_target *t, const char *what, const char *file, char *err, size_t errlen)
{
    char reason[200];
    snprintf(err, errlen, "TLS: cannot use the %s %s: %s", what, file,
             last_reason(reason, sizeof reason, "unreadable"));
    ERR_clear_error();
    hw_tls_context_free(t);
    return -1;
}

int hw_tls_context_make(hw_target *t, char *err, size_t errlen)
{
    if (!t->tls) return 0;
    ERR_clear_error();
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL) {
        char reason[200];
        snprintf(err, errlen, "TLS: cannot make a context: %s", last_reason(reason, sizeof reason, "out of memory"));
        return -1;
    }
    t->tls_ctx = ctx;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_default_passwd_cb(ctx, no_password);
    /* RESP frames carry their lengths, so a close without close_notify (a
     * killed client, a restarted server) cannot truncate a reply unseen:
     * it reads as the plain "connection closed" it is. */
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
    if (t->tls_cacert) {
        if (SSL_CTX_load_verify_locations(ctx, t->tls_cacert, NULL) != 1)
            return context_fail(t, "CA file (cacert=)", t->tls_cacert, err, errlen);
    } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
        return context_fail(t, "system CA store", "", err, errlen);
    }
    if (t->tls_cert) {
        if (SSL_CTX_use_certificate_chain_file(ctx, t->tls_cert) != 1)
            return context_fail(t, "client certificate file (cert=)", t->tls_cert, err, errlen);
        if (SSL_CTX_use_PrivateKey_file(ctx, t->tls_key, SSL_FILETYPE_PEM) != 1)
            return context_fail(t, "key file (key=; a key with a password is not supported)", t->tls_key, err, errlen);
        if (SSL_CTX_check_private_key(ctx) != 1)
            return context_fail(t, "key file (key=; it does not match the certificate)", t->tls_key, err, errlen);
    }
    SSL_CTX_set_verify(ctx, t->tls_insecure ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, NULL);
    return 0;
}

void hw_tls_context_free(hw_target *t)
{
    SSL_CTX_free(t->tls_ctx);
    t->tls_ctx = NULL;
}

void hw_tls_explain_handshake(SSL *ssl, int ret, const char *ca, const char *host, char *out, size_t outlen)
{
    long v = SSL_get_verify_result(ssl);
    char where[300];
    if (ca) snprintf(where, sizeof where, "%s", ca);
    else snprintf(where, sizeof where, "the system CA store");
    if (v != X509_V_OK) {
        const char *detail = X509_verify_cert_error_string(v);
        switch (v) {
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
        case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
        case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
        case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
        case X509_V_ERR_CERT_SIGNATURE_FAILURE:
            snprintf(out, outlen,
                     "TLS: the server's certificate is not signed by a CA in %s (certificate verify failed: %s)", where,
                     detail);
            return;
        case X509_V_ERR_HOSTNAME_MISMATCH:
        case X509_V_ERR_IP_ADDRESS_MISMATCH:
            snprintf(out, outlen,
                     "TLS: the server's certificate does not name host %s (certificate verify failed: %s; "
                     "?sni=NAME sets the name to verify)",
                     host, detail);
            return;
        case X509_V_ERR_CERT_HAS_EXPIRED:
        case X509_V_ERR_CERT_NOT_YET_VALID:
            snprintf(out, outlen,
                     "TLS: the server's certificate is out of its validity dates (certificate verify "
                     "failed: %s)",
                     detail);
            return;
        default:
            snprintf(out, outlen, "TLS: the server's certificate was refused (certificate verify failed: %s)", detail);
            return;
        }
    }
    char reason[200];
    if (SSL_get_error(ssl, ret) == SSL_ERROR_SYSCALL && ERR_peek_last_error() == 0)
        snprintf(out, outlen, "TLS handshake failed: the server closed the connection (is this a TLS port?)");
    else snprintf(out, outlen, "TLS handshake failed: %s", last_reason(reason, sizeof reason, "unknown reason"));
}

int hw_tls_explain_io(SSL *ssl, int ret, char *out, size_t outlen)
{
    int e = SSL_get_error(ssl, ret);
    if (e == SSL_ERROR_SYSCALL && ERR_peek_last_error() == 0) return 0;
    if (e == SSL_ERROR_ZERO_RETURN) {
        snprintf(out, outlen, "Server closed the connection");
        return 1;
    }
    char reason[200];
    const char *why = last_reason(reason, sizeof reason, "unknown reason");
    snprintf(out, outlen, "TLS: %s%s", why,
             strstr(why, "certificate required") ? " (the server wants a client certificate: add ?cert=FILE&key=FILE)"
                                                 : "");
    return 1;
}
