/* hworker-lua metrics and serve: the Prometheus text of every registered
 * queue (metrics_text.c), printed once or served over HTTP at /metrics
 * (docs/operations.md, "Metrics"). */
#include <microhttpd.h>
#include <netdb.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "buf.h"
#include "cli.h"

int cmd_metrics(int argc, char **argv)
{
    cli_redis redis = {0};
    int npos, code = CLI_OK;
    cli_opt opts[] = {CLI_REDIS_FLAGS(redis), {NULL, 0, NULL, 0}};
    if (cli_parse("metrics", argc, argv, opts, NULL, 0, &npos)) return CLI_USAGE;
    hworker *h = cli_open("metrics", NULL, &redis, &code);
    if (h == NULL) return code;
    hw_buf text = {0};
    int failed = cli_metrics_text(&text, h, &redis);
    fwrite(text.data, 1, text.len, stdout);
    hw_buf_free(&text);
    hworker_free(h);
    return failed ? CLI_FAILED : CLI_OK;
}

/* What every request sees. The daemon runs one internal thread, the only
 * one that uses the handle. */
typedef struct server {
    hworker *registry;
    const cli_redis *redis;
} server;

static enum MHD_Result reply(struct MHD_Connection *c, unsigned int status, const char *type, const char *body,
                             size_t len)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (r == NULL) return MHD_NO;
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    enum MHD_Result ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result answer(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *upload, size_t *upload_size, void **request)
{
    (void)version;
    (void)upload;
    (void)upload_size;
    (void)request;
    server *s = cls;
    static const char plain[] = "text/plain; charset=utf-8";
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        static const char body[] = "only GET and HEAD are served here\n";
        struct MHD_Response *r = MHD_create_response_from_buffer(sizeof body - 1, (void *)body, MHD_RESPMEM_PERSISTENT);
        if (r == NULL) return MHD_NO;
        MHD_add_response_header(r, "Content-Type", plain);
        MHD_add_response_header(r, "Allow", "GET, HEAD");
        enum MHD_Result ok = MHD_queue_response(c, MHD_HTTP_METHOD_NOT_ALLOWED, r);
        MHD_destroy_response(r);
        return ok;
    }
    if (strcmp(url, "/metrics") != 0) {
        static const char body[] = "not found: the metrics are at /metrics\n";
        return reply(c, MHD_HTTP_NOT_FOUND, plain, body, sizeof body - 1);
    }
    hw_buf text = {0};
    hw_buf_adds(&text, "");
    cli_metrics_text(&text, s->registry, s->redis);
    enum MHD_Result ok = reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", text.data, text.len);
    hw_buf_free(&text);
    return ok;
}

/* "HOST:PORT" or "[V6]:PORT" into an address; returns 0 or -1. */
static int parse_listen(const char *text, struct sockaddr_storage *addr, socklen_t *len)
{
    char host[256];
    const char *colon = strrchr(text, ':');
    if (colon == NULL || colon == text || colon[1] == '\0') return -1;
    size_t n = (size_t)(colon - text);
    if (text[0] == '[' && n >= 2 && text[n - 1] == ']') {
        text++;
        n -= 2;
    }
    if (n >= sizeof host) return -1;
    memcpy(host, text, n);
    host[n] = '\0';
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    if (getaddrinfo(host, colon + 1, &hints, &res) != 0 || res == NULL) return -1;
    memcpy(addr, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

int cmd_serve(int argc, char **argv)
{
    cli_redis redis = {0};
    const char *listen = "127.0.0.1:9187";
    int npos, code = CLI_OK;
    cli_opt opts[] = {CLI_REDIS_FLAGS(redis), {"listen", OPT_STRING, &listen, 0}, {NULL, 0, NULL, 0}};
    if (cli_parse("serve", argc, argv, opts, NULL, 0, &npos)) return CLI_USAGE;
    struct sockaddr_storage addr;
    socklen_t addr_len = 0;
    if (parse_listen(listen, &addr, &addr_len) != 0) {
        cli_error("serve", "--listen takes HOST:PORT (127.0.0.1:9187, [::1]:9187), not \"%s\"", listen);
        return CLI_USAGE;
    }
    hworker *h = cli_open("serve", NULL, &redis, &code);
    if (h == NULL) return code;
    /* Signals go to sigwait below, never to the daemon's thread. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    server s = {h, &redis};
    unsigned int flags = MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
    if (addr.ss_family == AF_INET6) flags |= MHD_USE_IPv6;
    struct MHD_Daemon *d =
        MHD_start_daemon(flags, 0, NULL, NULL, answer, &s, MHD_OPTION_SOCK_ADDR, &addr, MHD_OPTION_CONNECTION_TIMEOUT,
                         30u, MHD_OPTION_CONNECTION_LIMIT, 64u, MHD_OPTION_END);
    if (d == NULL) {
        cli_error("serve", "cannot listen on %s (is the port in use, or the address not this host's?)", listen);
        hworker_free(h);
        return CLI_FAILED;
    }
    const union MHD_DaemonInfo *port = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    fprintf(stderr, "hworker-lua serve: metrics at http://%s/metrics (port %u); stop with SIGTERM or ^C\n", listen,
            port ? (unsigned)port->port : 0u);
    int sig = 0;
    sigwait(&stop, &sig);
    MHD_stop_daemon(d);
    hworker_free(h);
    return CLI_OK;
}
