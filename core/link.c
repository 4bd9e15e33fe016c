#include "link.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/read.h>

/* Read per system call: a reply of many jobs arrives in few reads. */
#define HW_LINK_READ_CHUNK 16384
/* Keepalive probes: idle seconds before the first (as hiredis's
 * redisEnableKeepAlive sets them), a third of it between probes, 3 probes. */
#define HW_LINK_KEEPALIVE 15

struct hw_link {
    int fd;
    redisReader *reader;
    char errstr[256]; /* empty until the link fails */
};

static void set_errno_error(char *err, size_t errlen, int e)
{
    snprintf(err, errlen, "%s", strerror(e));
}

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

hw_link *hw_link_open(const hw_link_params *p, char *err, size_t errlen)
{
    int fd = p->path ? connect_unix(p, err, errlen) : connect_tcp(p, err, errlen);
    if (fd < 0) return NULL;
    return wrap(fd, p->io_timeout, err, errlen);
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
    int fd = ctx->fd, tcp = ctx->connection_type == REDIS_CONN_TCP;
    /* hiredis 0.14's redisFree closes a descriptor above 0 only: -1 keeps it. */
    ctx->fd = -1;
    redisFree(ctx);
    /* A factory may hand over a non-blocking socket: the link blocks, under
     * its timeouts. Keepalive by the context's own type: a factory may hand
     * over a unix socket whatever the URL says, and keepalive fails on one. */
    int e = set_blocking(fd, 1) != 0 ? errno : tcp ? set_keepalive(fd) : 0;
    if (e != 0) {
        close(fd);
        set_errno_error(err, errlen, e);
        return NULL;
    }
    return wrap(fd, io_timeout, err, errlen);
}

static int write_all(hw_link *l, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(l->fd, data, len);
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
        ssize_t n = read(l->fd, buf, sizeof buf);
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

redisReply *hw_link_exchange(hw_link *l, const char *cmd, size_t len)
{
    if (l->errstr[0] || write_all(l, cmd, len) != 0) return NULL;
    void *reply = NULL;
    for (;;) {
        if (redisReaderGetReply(l->reader, &reply) != REDIS_OK) {
            fail(l, l->reader->errstr[0] ? l->reader->errstr : "protocol error");
            return NULL;
        }
        if (reply != NULL) return reply;
        if (read_some(l) != 0) return NULL;
    }
}

int hw_link_failed(const hw_link *l)
{
    return l->errstr[0] != '\0';
}

const char *hw_link_error(const hw_link *l)
{
    return l->errstr;
}

void hw_link_close(hw_link *l)
{
    if (l == NULL) return;
    close(l->fd);
    redisReaderFree(l->reader);
    free(l);
}
