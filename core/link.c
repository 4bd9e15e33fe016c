#include "link.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <hiredis/read.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "buf.h"
#include "tls.h"

/* Read per system call: a reply of many jobs arrives in few reads. */
#define HW_LINK_READ_CHUNK 16384
/* Keepalive probes: idle seconds before the first (as hiredis's
 * redisEnableKeepAlive sets them), a third of it between probes, 3 probes. */
#define HW_LINK_KEEPALIVE 15

struct hw_link {
    int fd;
    SSL *ssl;     /* the TLS session over fd, or NULL */
    int answered; /* a reply was read: the server took the session */
    redisReader *reader;
    char errstr[256]; /* empty until the link fails */
};

static void set_errno_error(char *err, size_t errlen, int e) { snprintf(err, errlen, "%s", strerror(e)); }

static void fail(hw_link *l, const char *msg)
{
    if (l->errstr[0] == '\0') snprintf(l->errstr, sizeof l->errstr, "%s", msg);
}

static struct timeval to_timeval(double seconds)
{
    struct timeval tv;
    tv.tv_sec = (time_t)seconds;
    tv.tv_usec = (suseconds_t)((seconds - (double)tv.tv_sec) * 1e6);
    return tv;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int set_blocking(int fd, int blocking)
{
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0) return -1;
    flags = blocking ? flags & ~O_NONBLOCK : flags | O_NONBLOCK;
    return fcntl(fd, F_SETFL, flags);
}

/* Connects fd (non-blocking) to addr within `deadline` (monotonic seconds).
 * Returns 0, or an errno value. */
static int connect_by(int fd, const struct sockaddr *addr, socklen_t addrlen, double deadline)
{
    if (set_blocking(fd, 0) != 0) return errno;
    if (connect(fd, addr, addrlen) != 0) {
        if (errno != EINPROGRESS) return errno;
        for (;;) {
            double left = deadline - now_seconds();
            if (left <= 0) return ETIMEDOUT;
            struct pollfd pfd = {.fd = fd, .events = POLLOUT};
            int n = poll(&pfd, 1, (int)(left * 1000) + 1);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) return errno;
            if (n == 0) return ETIMEDOUT;
            break;
        }
        int soerr = 0;
        socklen_t len = sizeof soerr;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0) return errno;
        if (soerr != 0) return soerr;
    }
    return set_blocking(fd, 1) != 0 ? errno : 0;
}

static int set_io_timeout(int fd, double seconds)
{
    if (seconds <= 0) return 0;
    struct timeval tv = to_timeval(seconds);
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0) return errno;
    if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0) return errno;
    return 0;
}

static int set_keepalive(int fd)
{
    int yes = 1, idle = HW_LINK_KEEPALIVE, intvl = HW_LINK_KEEPALIVE / 3, cnt = 3;
    if (setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &yes, sizeof yes) != 0) return errno;
    if (setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle) != 0) return errno;
    if (setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl) != 0) return errno;
    if (setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt) != 0) return errno;
    return 0;
}

/* Opens a TCP socket to host:port, trying each address the resolver gives
 * until one connects. Returns the socket, or -1 with err set. */
static int connect_tcp(const hw_link_params *p, char *err, size_t errlen)
{
    double deadline = now_seconds() + p->connect_timeout;
    char service[16];
    snprintf(service, sizeof service, "%d", p->port);
    struct addrinfo hints, *found = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(p->host, service, &hints, &found);
    if (rc != 0) {
        snprintf(err, errlen, "%s", gai_strerror(rc));
        return -1;
    }
    int fd = -1, last = ECONNREFUSED;
    for (struct addrinfo *a = found; a != NULL && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) {
            last = errno;
            continue;
        }
        last = connect_by(fd, a->ai_addr, a->ai_addrlen, deadline);
        if (last != 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(found);
    if (fd < 0) {
        set_errno_error(err, errlen, last);
        return -1;
    }
    int yes = 1;
    int e = setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes) != 0 ? errno : set_keepalive(fd);
    if (e != 0) {
        close(fd);
        set_errno_error(err, errlen, e);
        return -1;
    }
    return fd;
}

static int connect_unix(const hw_link_params *p, char *err, size_t errlen)
{
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    if (strlen(p->path) >= sizeof sa.sun_path) {
        snprintf(err, errlen, "unix socket path longer than %zu bytes", sizeof sa.sun_path - 1);
        return -1;
    }
    memcpy(sa.sun_path, p->path, strlen(p->path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        set_errno_error(err, errlen, errno);
        return -1;
    }
    int e = connect_by(fd, (const struct sockaddr *)&sa, sizeof sa, now_seconds() + p->connect_timeout);
    if (e != 0) {
        close(fd);
        set_errno_error(err, errlen, e);
        return -1;
    }
    return fd;
}

/* Wraps a connected socket (taking it: closed on failure). */
static hw_link *wrap(int fd, double io_timeout, char *err, size_t errlen)
{
    int e = set_io_timeout(fd, io_timeout);
    if (e != 0) {
        close(fd);
        set_errno_error(err, errlen, e);
        return NULL;
    }
    hw_link *l = calloc(1, sizeof *l);
    if (l == NULL) abort();
    l->fd = fd;
    l->reader = redisReaderCreate();
    if (l->reader == NULL) abort();
    return l;
}

static int is_ip_address(const char *s)
{
    unsigned char addr[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, s, addr) == 1 || inet_pton(AF_INET6, s, addr) == 1;
}

/* The TLS handshake on l's connected socket, done non-blocking so that it
 * keeps to the connect's deadline. Returns 0 (l->ssl set), or -1 with err. */
static int handshake(hw_link *l, const hw_link_params *p, double deadline, char *err, size_t errlen)
{
    SSL *ssl = SSL_new(p->tls);
    if (ssl == NULL) abort();
    const char *name = p->tls_name ? p->tls_name : p->host;
    /* A name goes out as SNI and must be in the certificate; an address is
     * never sent as SNI (RFC 6066) and must be one of its IP entries. */
    int ok = is_ip_address(name) ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name)
                                 : SSL_set_tlsext_host_name(ssl, name) && SSL_set1_host(ssl, name);
    if (!ok || !SSL_set_fd(ssl, l->fd) || set_blocking(l->fd, 0) != 0) {
        snprintf(err, errlen, "TLS: cannot set up a session for %s", name);
        SSL_free(ssl);
        return -1;
    }
    ERR_clear_error();
    for (;;) {
        int r = SSL_connect(ssl);
        if (r == 1) break;
        int e = SSL_get_error(ssl, r);
        double left = deadline - now_seconds();
        if ((e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) && left > 0) {
            struct pollfd pfd = {.fd = l->fd, .events = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT};
            if (poll(&pfd, 1, (int)(left * 1000) + 1) >= 0 || errno == EINTR) continue;
        }
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
            snprintf(err, errlen, "TLS handshake failed: %s", strerror(left > 0 ? errno : ETIMEDOUT));
        else hw_tls_explain_handshake(ssl, r, p->tls_ca, name, err, errlen);
        ERR_clear_error();
        SSL_free(ssl);
        return -1;
    }
    if (set_blocking(l->fd, 1) != 0) {
        snprintf(err, errlen, "%s", strerror(errno));
        SSL_free(ssl);
        return -1;
    }
    l->ssl = ssl;
    return 0;
}

/* OpenSSL writes a TLS session's socket itself (SSL_read too may write, to
 * answer a key update), and a write to a socket Redis closed raises
 * SIGPIPE, whose default action ends the host's process. A library may not
 * change the process's signal handling, so each TLS call blocks SIGPIPE for
 * the calling thread only, and consumes the SIGPIPE it raised before
 * restoring the mask (one that was pending before is the host's, and is
 * left alone). Plain sockets need none of it: they are written with
 * MSG_NOSIGNAL. A guard lives on the stack of the thread that uses it. */
typedef struct pipe_guard {
    int on, was_pending;
    sigset_t pipe, old;
} pipe_guard;

static int sigpipe_pending(void)
{
    sigset_t pending;
    sigpending(&pending);
    return sigismember(&pending, SIGPIPE);
}

static void guard_begin(pipe_guard *g, int tls)
{
    g->on = tls;
    if (!g->on) return;
    sigemptyset(&g->pipe);
    sigaddset(&g->pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &g->pipe, &g->old);
    g->was_pending = sigpipe_pending();
}

static void guard_end(pipe_guard *g)
{
    if (!g->on) return;
    if (!g->was_pending && sigpipe_pending()) {
        struct timespec zero = {0, 0};
        sigtimedwait(&g->pipe, NULL, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

hw_link *hw_link_open(const hw_link_params *p, char *err, size_t errlen)
{
    double deadline = now_seconds() + p->connect_timeout;
    int fd = p->path ? connect_unix(p, err, errlen) : connect_tcp(p, err, errlen);
    if (fd < 0) return NULL;
    hw_link *l = wrap(fd, p->io_timeout, err, errlen);
    if (l && p->tls && !p->path) {
        pipe_guard g;
        guard_begin(&g, 1);
        int failed = handshake(l, p, deadline, err, errlen);
        guard_end(&g);
        if (failed) {
            hw_link_close(l);
            return NULL;
        }
    }
    return l;
}

hw_link *hw_link_adopt(redisContext *ctx, double io_timeout, char *err, size_t errlen)
{
    if (ctx == NULL) {
        snprintf(err, errlen, "no connection");
        return NULL;
    }
    if (ctx->err || ctx->fd < 0) {
        snprintf(err, errlen, "%s", ctx->err ? ctx->errstr : "no connection");
        redisFree(ctx);
        return NULL;
    }
    int fd = ctx->fd;
    /* hiredis 0.14's redisFree closes a descriptor above 0 only: -1 keeps it. */
    ctx->fd = -1;
    redisFree(ctx);
    /* A factory may hand over a non-blocking socket: the link blocks, under
     * its timeouts. Keepalive by the socket's own family: a factory may hand
     * over a unix socket whatever the URL says (and redisConnectFd calls any
     * descriptor TCP), and keepalive fails on one. */
    struct sockaddr_storage addr;
    memset(&addr, 0, sizeof addr);
    socklen_t addr_len = sizeof addr;
    int tcp = getsockname(fd, (struct sockaddr *)&addr, &addr_len) == 0 &&
        (addr.ss_family == AF_INET || addr.ss_family == AF_INET6);
    int e = set_blocking(fd, 1) != 0 ? errno : tcp ? set_keepalive(fd) : 0;
    if (e != 0) {
        close(fd);
        set_errno_error(err, errlen, e);
        return NULL;
    }
    return wrap(fd, io_timeout, err, errlen);
}

/* Fails l after a TLS read or write returned n <= 0. */
static void fail_tls(hw_link *l, int n)
{
    int e = errno;
    char why[sizeof l->errstr];
    if (hw_tls_explain_io(l->ssl, n, why, sizeof why)) {
        fail(l, why);
    } else if (!l->answered && SSL_get_certificate(l->ssl) == NULL && (e == 0 || e == ECONNRESET || e == EPIPE)) {
        /* In TLS 1.3 a server checks the client's certificate after the
         * client's handshake is done: its refusal (an alert, then a close)
         * meets the first command, and the reset may swallow the alert. */
        snprintf(why, sizeof why,
                 "%s, right after the TLS handshake (if the server wants a client certificate: add "
                 "?cert=FILE&key=FILE)",
                 e != 0 ? strerror(e) : "Server closed the connection");
        fail(l, why);
    } else {
        fail(l, e != 0 ? strerror(e) : "Server closed the connection");
    }
    ERR_clear_error();
}

static int write_all(hw_link *l, const char *data, size_t len)
{
    /* The thread's OpenSSL error queue is left empty after every failure
     * (fail_tls, handshake), so SSL_get_error reads this call's alone. */
    while (l->ssl && len > 0) {
        /* Without SSL_MODE_ENABLE_PARTIAL_WRITE, one call writes it all. */
        int chunk = len > (1u << 30) ? (1 << 30) : (int)len;
        errno = 0;
        int n = SSL_write(l->ssl, data, chunk);
        if (n <= 0) {
            fail_tls(l, n);
            return -1;
        }
        data += n;
        len -= (size_t)n;
    }
    /* MSG_NOSIGNAL: a socket Redis closed fails the call with EPIPE
     * instead of raising SIGPIPE, whose default action ends the process. */
    while (len > 0) {
        ssize_t n = send(l->fd, data, len, MSG_NOSIGNAL);
        /* A host's connection factory may hand over a descriptor that is
         * not a socket, which only write() takes. */
        if (n < 0 && errno == ENOTSOCK) n = write(l->fd, data, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            fail(l, n < 0 ? strerror(errno) : "Server closed the connection");
            return -1;
        }
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Reads what is there (at least one byte) into the reader. */
static int read_some(hw_link *l)
{
    char buf[HW_LINK_READ_CHUNK];
    for (;;) {
        ssize_t n;
        if (l->ssl) {
            errno = 0;
            int got = SSL_read(l->ssl, buf, (int)sizeof buf);
            if (got <= 0) {
                fail_tls(l, got);
                return -1;
            }
            n = got;
        } else {
            n = read(l->fd, buf, sizeof buf);
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            fail(l, strerror(errno));
            return -1;
        }
        if (n == 0) {
            fail(l, "Server closed the connection");
            return -1;
        }
        if (redisReaderFeed(l->reader, buf, (size_t)n) != REDIS_OK) {
            fail(l, l->reader->errstr[0] ? l->reader->errstr : "protocol error");
            return -1;
        }
        return 0;
    }
}

static redisReply *exchange(hw_link *l, const char *cmd, size_t len)
{
    if (l->errstr[0] || write_all(l, cmd, len) != 0) return NULL;
    void *reply = NULL;
    for (;;) {
        if (redisReaderGetReply(l->reader, &reply) != REDIS_OK) {
            fail(l, l->reader->errstr[0] ? l->reader->errstr : "protocol error");
            return NULL;
        }
        if (reply != NULL) {
            l->answered = 1;
            return reply;
        }
        if (read_some(l) != 0) return NULL;
    }
}

redisReply *hw_link_exchange(hw_link *l, const char *cmd, size_t len)
{
    pipe_guard g;
    guard_begin(&g, l->ssl != NULL);
    redisReply *reply = exchange(l, cmd, len);
    guard_end(&g);
    return reply;
}

int hw_link_send(hw_link *l, const char *cmd, size_t len)
{
    if (l->errstr[0]) return -1;
    pipe_guard g;
    guard_begin(&g, l->ssl != NULL);
    int rc = write_all(l, cmd, len);
    guard_end(&g);
    return rc;
}

static int next_reply(hw_link *l, int other_fd, double timeout, redisReply **reply)
{
    double deadline = now_seconds() + timeout;
    for (;;) {
        void *r = NULL;
        if (redisReaderGetReply(l->reader, &r) != REDIS_OK) {
            fail(l, l->reader->errstr[0] ? l->reader->errstr : "protocol error");
            return -1;
        }
        if (r != NULL) {
            l->answered = 1;
            *reply = r;
            return 1;
        }
        /* Bytes already decrypted wait in the session, not in the socket. */
        if (l->ssl == NULL || SSL_pending(l->ssl) == 0) {
            double left = deadline - now_seconds();
            if (left <= 0) return 0;
            struct pollfd fds[2] = {{.fd = l->fd, .events = POLLIN}, {.fd = other_fd, .events = POLLIN}};
            int n = poll(fds, other_fd >= 0 ? 2 : 1, (int)(left * 1000.0) + 1);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) {
                fail(l, strerror(errno));
                return -1;
            }
            if (n == 0) continue; /* the deadline is checked above */
            if (other_fd >= 0 && (fds[1].revents & POLLIN)) return 2;
        }
        if (read_some(l) != 0) return -1;
    }
}

int hw_link_next_reply(hw_link *l, int other_fd, double timeout, redisReply **reply)
{
    *reply = NULL;
    if (l->errstr[0]) return -1;
    pipe_guard g;
    guard_begin(&g, l->ssl != NULL);
    int rc = next_reply(l, other_fd, timeout, reply);
    guard_end(&g);
    return rc;
}

redisReply *hw_link_command(hw_link *l, int argc, const char **argv, const size_t *lens)
{
    hw_buf cmd = {0};
    hw_resp_array(&cmd, (size_t)argc);
    for (int i = 0; i < argc; i++) hw_resp_bulk(&cmd, argv[i], lens ? lens[i] : strlen(argv[i]));
    redisReply *r = hw_link_exchange(l, cmd.data, cmd.len);
    hw_buf_free(&cmd);
    return r;
}

int hw_link_failed(const hw_link *l) { return l->errstr[0] != '\0'; }

const char *hw_link_error(const hw_link *l) { return l->errstr; }

void hw_link_close(hw_link *l)
{
    if (l == NULL) return;
    /* No close_notify: the socket may be dead, and Redis needs none. */
    SSL_free(l->ssl);
    close(l->fd);
    redisReaderFree(l->reader);
    free(l);
}
