/* hworker-lua serve: one HTTP server (libmicrohttpd, one internal thread)
 * for the Prometheus text at /metrics and the web dashboard at / with its
 * JSON at /api/ (docs/operations.md, "Metrics" and "Dashboard").
 *
 * The dashboard is safe by default: actions need the token, which comes
 * from the environment or a file (never argv, which `ps` shows), and is
 * compared in constant time and never printed. A browser that visits
 * another site cannot act for its user: an action must carry the token in
 * a header of our own (which a cross-site page cannot send without a CORS
 * preflight this server never grants), a JSON content type, and an Origin,
 * if any, of this server. The Host must be an address or localhost, so a
 * rebound DNS name cannot read the dashboard either. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "dashboard.h"
#include "read_file.h"

/* An action's body is a few short strings. */
#define HW_ACTION_BODY_MAX 4096
/* Shorter tokens are refused: they could be guessed. */
#define HW_TOKEN_MIN 16

typedef struct server {
    cli_dashboard dash;
    const char *listen_host; /* the host part of --listen, also accepted as a Host */
} server;

/* One request's body, gathered over the daemon's calls. */
typedef struct upload {
    hw_buf body;
    int too_big;
} upload;

static const char csp[] = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
                          "img-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

static enum MHD_Result send_reply(struct MHD_Connection *c, unsigned int status, const char *type, const void *body,
                                  size_t len, int page)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (r == NULL) return MHD_NO;
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    if (page) {
        MHD_add_response_header(r, "Content-Security-Policy", csp);
        MHD_add_response_header(r, "X-Frame-Options", "DENY");
        MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    }
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED) MHD_add_response_header(r, "Allow", "GET, HEAD, POST");
    enum MHD_Result ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result send_json(struct MHD_Connection *c, cli_reply *r)
{
    if (r->body.len == 0) hw_buf_adds(&r->body, "{}");
    enum MHD_Result ok =
        send_reply(c, r->status ? r->status : 200, "application/json; charset=utf-8", r->body.data, r->body.len, 1);
    hw_buf_free(&r->body);
    return ok;
}

static enum MHD_Result send_error(struct MHD_Connection *c, unsigned int status, const char *msg)
{
    cli_reply r = {0};
    cli_reply_error(&r, status, "%s", msg);
    return send_json(c, &r);
}

static const char *header(struct MHD_Connection *c, const char *name)
{
    return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

static const char *query_arg(void *ud, const char *key)
{
    return MHD_lookup_connection_value(ud, MHD_GET_ARGUMENT_KIND, key);
}

/* True if the Host header names this server by an address, localhost or
 * --listen's host: a page whose DNS name was rebound to us names its own. */
static int host_allowed(const server *s, const char *host)
{
    if (host == NULL) return 0;
    char name[256];
    size_t n = strlen(host);
    if (host[0] == '[') { /* an IPv6 address */
        const char *end = strchr(host, ']');
        if (end == NULL || (size_t)(end - host - 1) >= sizeof name) return 0;
        memcpy(name, host + 1, (size_t)(end - host - 1));
        name[end - host - 1] = '\0';
        struct in6_addr v6;
        return inet_pton(AF_INET6, name, &v6) == 1;
    }
    const char *colon = strchr(host, ':');
    if (colon) n = (size_t)(colon - host);
    if (n == 0 || n >= sizeof name) return 0;
    memcpy(name, host, n);
    name[n] = '\0';
    if (strcasecmp(name, "localhost") == 0 || strcasecmp(name, s->listen_host) == 0) return 1;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)name[i]) && name[i] != '.') return 0;
    return 1;
}

/* Equal strings, in time that does not depend on where they differ. */
static int same_secret(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char diff = (unsigned char)(la != lb);
    for (size_t i = 0; i < la; i++) diff |= (unsigned char)(a[i] ^ b[i % (lb ? lb : 1)]);
    return diff == 0;
}

/* True if the browser says another site's page sent the request. */
static int from_another_site(struct MHD_Connection *c)
{
    const char *site = header(c, "Sec-Fetch-Site");
    return site && strcmp(site, "same-origin") != 0 && strcmp(site, "none") != 0;
}

/* Why an action may not run, or NULL when it may. Asked before its body
 * is read, so a refused one costs no upload. */
static const char *refuse_action(const server *s, struct MHD_Connection *c)
{
    if (s->dash.token == NULL)
        return "the dashboard is read-only: start serve with HWORKER_DASHBOARD_TOKEN or --token-file, "
               "without --read-only, to act on jobs";
    const char *type = header(c, "Content-Type");
    if (type == NULL || strncasecmp(type, "application/json", 16) != 0)
        return "an action is a JSON body: send Content-Type: application/json";
    const char *origin = header(c, "Origin"), *host = header(c, "Host");
    if (origin && strcmp(origin, "null") != 0) {
        const char *rest = strncmp(origin, "http://", 7) == 0 ? origin + 7 : NULL;
        if (rest == NULL || host == NULL || strcmp(rest, host) != 0)
            return "refused: the request comes from another site's page";
    } else if (origin) {
        return "refused: the request comes from a page without an origin";
    }
    if (from_another_site(c)) return "refused: the request comes from another site's page";
    const char *length = header(c, "Content-Length");
    if (length && strtoull(length, NULL, 10) > HW_ACTION_BODY_MAX) return "an action's body is at most 4096 bytes";
    const char *token = header(c, "X-Hworker-Token");
    if (token == NULL || !same_secret(token, s->dash.token))
        return "a wrong or missing token: enter the dashboard's token (X-Hworker-Token)";
    return NULL;
}

static enum MHD_Result serve_asset(struct MHD_Connection *c, const char *url)
{
    for (const cli_asset *a = cli_assets; a->path; a++)
        if (strcmp(a->path, url) == 0) return send_reply(c, 200, a->type, a->data, a->len, 1);
    return send_error(c, MHD_HTTP_NOT_FOUND, "not found: the dashboard is at /, the metrics at /metrics");
}

static enum MHD_Result answer(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *upload_data, size_t *upload_size, void **request)
{
    (void)version;
    server *s = cls;
    int get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    int post = strcmp(method, "POST") == 0;
    if (!get && !post) return send_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET, HEAD and POST are served here");
    if (get && strcmp(url, "/metrics") == 0) {
        hw_buf text = {0};
        hw_buf_adds(&text, "");
        cli_metrics_text(&text, s->dash.registry, s->dash.redis);
        enum MHD_Result ok = send_reply(c, 200, "text/plain; version=0.0.4; charset=utf-8", text.data, text.len, 0);
        hw_buf_free(&text);
        return ok;
    }
    if (!host_allowed(s, header(c, "Host")))
        return send_error(c, MHD_HTTP_FORBIDDEN,
                          "refused: reach the dashboard by its address, localhost or the host of --listen");
    if (get) {
        if (strncmp(url, "/api/", 5) != 0) return serve_asset(c, url);
        /* Another site's page cannot read the answer, but could make this
         * one thread read Redis for it over and over. */
        if (from_another_site(c))
            return send_error(c, MHD_HTTP_FORBIDDEN, "refused: the request comes from another site's page");
        cli_reply r = {0};
        cli_dashboard_get(&s->dash, url + 5, query_arg, c, &r);
        return send_json(c, &r);
    }
    if (strcmp(url, "/api/action") != 0)
        return send_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "POST goes to /api/action alone");
    upload *u = *request;
    if (u == NULL) {
        const char *why = refuse_action(s, c);
        if (why) return send_error(c, MHD_HTTP_FORBIDDEN, why);
        u = calloc(1, sizeof *u);
        if (u == NULL) abort();
        *request = u;
        return MHD_YES;
    }
    if (*upload_size > 0) {
        if (u->body.len + *upload_size > HW_ACTION_BODY_MAX) {
            u->too_big = 1;
        } else {
            hw_buf_add(&u->body, upload_data, *upload_size);
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (u->too_big) return send_error(c, 413, "an action's body is at most 4096 bytes");
    cli_reply r = {0};
    cli_dashboard_act(&s->dash, u->body.data ? u->body.data : "", u->body.len, &r);
    return send_json(c, &r);
}

static void request_done(void *cls, struct MHD_Connection *c, void **request, enum MHD_RequestTerminationCode why)
{
    (void)cls;
    (void)c;
    (void)why;
    upload *u = *request;
    if (u == NULL) return;
    hw_buf_free(&u->body);
    free(u);
    *request = NULL;
}

/* "HOST:PORT" or "[V6]:PORT" into an address and its host part; 0 or -1. */
static int parse_listen(const char *text, struct sockaddr_storage *addr, socklen_t *len, char *host, size_t hostlen)
{
    const char *colon = strrchr(text, ':');
    if (colon == NULL || colon == text || colon[1] == '\0') return -1;
    size_t n = (size_t)(colon - text);
    if (text[0] == '[' && n >= 2 && text[n - 1] == ']') {
        text++;
        n -= 2;
    }
    if (n >= hostlen) return -1;
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

/* The token from --token-file (its first line) or $HWORKER_DASHBOARD_TOKEN
 * into *token (NULL: none); CLI_OK or the exit code after saying why. */
static int read_token(const char *file, char **token)
{
    const char *env = getenv("HWORKER_DASHBOARD_TOKEN");
    *token = NULL;
    if (file && env && env[0]) {
        cli_error("serve", "both --token-file and HWORKER_DASHBOARD_TOKEN are set: set one");
        return CLI_USAGE;
    }
    if (file) {
        hw_buf text = {0};
        if (hw_read_file(file, &text)) {
            cli_error("serve", "cannot read --token-file \"%s\": %s", file, strerror(errno));
            hw_buf_free(&text);
            return CLI_USAGE;
        }
        size_t line = strcspn(text.data, "\r\n");
        *token = strndup(text.data, line);
        if (*token == NULL) abort();
        memset(text.data, 0, text.len);
        hw_buf_free(&text);
    } else if (env && env[0]) {
        *token = strdup(env);
        if (*token == NULL) abort();
    }
    if (*token == NULL) return CLI_OK;
    if (strlen(*token) < HW_TOKEN_MIN) {
        cli_error("serve",
                  "the dashboard token (%s) has %zu characters: use at least %d, e.g. from "
                  "`openssl rand -hex 16`",
                  file ? "--token-file" : "HWORKER_DASHBOARD_TOKEN", strlen(*token), HW_TOKEN_MIN);
        free(*token);
        *token = NULL;
        return CLI_USAGE;
    }
    return CLI_OK;
}

int cmd_serve(int argc, char **argv)
{
    cli_redis redis = {0};
    const char *listen = "127.0.0.1:9187", *token_file = NULL;
    int read_only = 0, npos, code = CLI_OK;
    cli_opt opts[] = {CLI_REDIS_FLAGS(redis),
                      {"listen", OPT_STRING, &listen, 0},
                      {"token-file", OPT_STRING, &token_file, 0},
                      {"read-only", OPT_FLAG, &read_only, 0},
                      {NULL, 0, NULL, 0}};
    if (cli_parse("serve", argc, argv, opts, NULL, 0, &npos)) return CLI_USAGE;
    struct sockaddr_storage addr;
    socklen_t addr_len = 0;
    char host[256];
    if (parse_listen(listen, &addr, &addr_len, host, sizeof host) != 0) {
        cli_error("serve", "--listen takes HOST:PORT (127.0.0.1:9187, [::1]:9187), not \"%s\"", listen);
        return CLI_USAGE;
    }
    char *token = NULL;
    if ((code = read_token(token_file, &token)) != CLI_OK) return code;
    if (read_only && token) {
        memset(token, 0, strlen(token));
        free(token);
        token = NULL;
    }
    hworker *h = cli_open("serve", NULL, &redis, &code);
    if (h == NULL) {
        free(token);
        return code;
    }
    /* Signals go to sigwait below, never to the daemon's thread. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    server s = {{h, &redis, token}, host};
    unsigned int flags = MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
    if (addr.ss_family == AF_INET6) flags |= MHD_USE_IPv6;
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, 0, NULL, NULL, answer, &s, MHD_OPTION_SOCK_ADDR, &addr, MHD_OPTION_NOTIFY_COMPLETED, request_done, NULL,
        MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_CONNECTION_LIMIT, 64u, MHD_OPTION_END);
    if (d == NULL) {
        cli_error("serve", "cannot listen on %s (is the port in use, or the address not this host's?)", listen);
        hworker_free(h);
        free(token);
        return CLI_FAILED;
    }
    const union MHD_DaemonInfo *port = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    fprintf(stderr,
            "hworker-lua serve: metrics at http://%s/metrics, the dashboard at http://%s/ (port %u, %s); "
            "stop with SIGTERM or ^C\n",
            listen, listen, port ? (unsigned)port->port : 0u, token ? "actions need the token" : "read-only");
    int sig = 0;
    sigwait(&stop, &sig);
    MHD_stop_daemon(d);
    hworker_free(h);
    if (token) memset(token, 0, strlen(token));
    free(token);
    return CLI_OK;
}
