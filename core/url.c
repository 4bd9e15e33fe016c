#include "url.h"

#include <ctype.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXPECTED_FORMS                                                               \
    "expected redis://[user[:password]@]host[:port][/db], unix:///path[?db=N] "      \
    "or redis+cluster://[user[:password]@]host[:port],host[:port]... "               \
    "or redis+sentinel://[user[:password]@]host[:port],host[:port].../MASTER[/db]; " \
    "rediss://, rediss+cluster:// and rediss+sentinel:// for TLS"

static char *dup_decoded(const char *s, size_t n)
{
    char *out = malloc(n + 1);
    size_t j = 0;
    if (!out) abort();
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n && isxdigit((unsigned char)s[i + 1]) && isxdigit((unsigned char)s[i + 2])) {
            char hex[3] = {s[i + 1], s[i + 2], 0};
            out[j++] = (char)strtol(hex, NULL, 16);
            i += 2;
        } else {
            out[j++] = s[i];
        }
    }
    out[j] = '\0';
    return out;
}

/* "%00" decodes to a NUL byte, which would cut the C string it lands in
 * (an empty password sent instead of the one given, another socket path). */
static int has_nul_escape(const char *s, size_t n)
{
    for (size_t i = 0; i + 2 < n; i++)
        if (s[i] == '%' && s[i + 1] == '0' && s[i + 2] == '0') return 1;
    return 0;
}

/* A scheme as RFC 3986 spells it: a letter, then letters, digits, '+', '-', '.'. */
static int is_scheme(const char *s, size_t n)
{
    if (n == 0 || !isalpha((unsigned char)s[0])) return 0;
    for (size_t i = 1; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '+' && s[i] != '-' && s[i] != '.') return 0;
    return 1;
}

/* Appends s to out (at *j, leaving room for the NUL). */
static void put(char *out, size_t outlen, size_t *j, const char *s, size_t len)
{
    for (size_t i = 0; i < len && *j + 1 < outlen; i++) {
        unsigned char ch = (unsigned char)s[i];
        out[(*j)++] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
    }
}

/* Copies a host list without userinfo ("h:6379,[::1]:7000") up to its end
 * ('/', '?' or the end of url), with every port that is not all digits
 * shown as "***": "redis://alice:hunter2", the '@host' forgotten, has a
 * password where the port goes. Returns where the copy stopped. */
static const char *put_ports_masked(char *out, size_t outlen, size_t *j, const char *p)
{
    int bracket = 0;
    while (*p && *p != '/' && *p != '?') {
        if (*p == '[') bracket = 1;
        if (*p == ']') bracket = 0;
        if (*p != ':' || bracket) {
            put(out, outlen, j, p++, 1);
            continue;
        }
        size_t len = strcspn(p + 1, ",/?");
        size_t digits = strspn(p + 1, "0123456789");
        put(out, outlen, j, ":", 1);
        if (digits >= len) put(out, outlen, j, p + 1, len);
        else put(out, outlen, j, "***", 3);
        p += 1 + len;
    }
    return p;
}

void hw_url_redact(const char *url, char *out, size_t outlen)
{
    if (outlen == 0) return;
    size_t j = 0;
    /* "://" counts only after a real scheme: a password may hold "://" too.
     * Without one, the text may be anything, a password given in the wrong
     * place included: it is not shown. */
    const char *sep = strstr(url, "://");
    if (sep == NULL || !is_scheme(url, (size_t)(sep - url))) {
        put(out, outlen, &j, "(not shown: no scheme://)", 25);
        out[j] = '\0';
        return;
    }
    const char *start = sep + 3;
    /* The last '@', as the parser reads it: whatever precedes it may be
     * the password, even when it holds '/', ':' or '@'. */
    const char *at = strrchr(start, '@');
    const char *colon = at ? memchr(start, ':', (size_t)(at - start)) : NULL;
    const char *rest = start;
    put(out, outlen, &j, url, (size_t)(start - url));
    if (colon) {
        put(out, outlen, &j, start, (size_t)(colon + 1 - start));
        put(out, outlen, &j, "***", 3);
        rest = at;
    } else if (at == NULL) {
        rest = put_ports_masked(out, outlen, &j, start);
    }
    /* Query parameters other than db may be secrets (a password= that this
     * scheme does not take, a token): their values are not shown. */
    const char *query = strchr(at ? at : start, '?');
    if (query == NULL) {
        put(out, outlen, &j, rest, strlen(rest));
        out[j] = '\0';
        return;
    }
    put(out, outlen, &j, rest, (size_t)(query + 1 - rest));
    for (const char *p = query + 1; *p;) {
        size_t len = strcspn(p, "&");
        const char *eq = memchr(p, '=', len);
        if (eq && !((size_t)(eq - p) == 2 && strncmp(p, "db", 2) == 0)) {
            put(out, outlen, &j, p, (size_t)(eq + 1 - p));
            put(out, outlen, &j, "***", 3);
        } else if (!eq && len > 0 && !(len == 8 && strncmp(p, "insecure", 8) == 0)) {
            /* A word alone may be a secret pasted in the wrong place. */
            put(out, outlen, &j, "***", 3);
        } else {
            put(out, outlen, &j, p, len);
        }
        p += len;
        if (*p == '&') put(out, outlen, &j, p++, 1);
    }
    out[j] = '\0';
}

/* Fills err with what is wrong (fmt) and the URL as hw_url_redact shows
 * it; returns -1. Every part fmt quotes comes from after the user info. */
static int bad(char *err, size_t errlen, const char *url, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int bad(char *err, size_t errlen, const char *url, const char *fmt, ...)
{
    char shown[256], why[200];
    hw_url_redact(url, shown, sizeof shown);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    snprintf(err, errlen, "bad Redis URL \"%s\": %s (" EXPECTED_FORMS ")", shown, why);
    for (char *p = err; *p; p++) /* a quoted part may hold them: keep the message one line */
        if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = '?';
    return -1;
}

/* Quoted parts of a bad URL are cut to this many bytes. */
#define QUOTE_MAX 40

static int parse_port(const char *s, size_t len, int *port, const char *url, char *err, size_t errlen)
{
    long v = 0;
    if (len == 0) return bad(err, errlen, url, "no port after ':'");
    for (size_t i = 0; i < len; i++) {
        if (!isdigit((unsigned char)s[i]) || v > 65535) {
            v = -1;
            break;
        }
        v = v * 10 + (s[i] - '0');
    }
    /* Without user info, text where the port goes may be a password whose
     * '@host' was forgotten ("redis://alice:hunter2"). */
    if (v == -1 && strspn(s, "0123456789") < len && strchr(url, '@') == NULL)
        return bad(err, errlen, url,
                   "bad port: the port must be a number from 1 to 65535 (what was there is "
                   "not shown: a password goes in user:password@host)");
    if (v < 1 || v > 65535)
        return bad(err, errlen, url, "bad port '%.*s': the port must be a number from 1 to 65535",
                   (int)(len < QUOTE_MAX ? len : QUOTE_MAX), s);
    *port = (int)v;
    return 0;
}

/* One "host[:port]" or "[IPv6]:port" of a URL's authority into n (host
 * allocated, without brackets). */
static int parse_host_port(const char *s, size_t len, hw_node *n, const char *url, char *err, size_t errlen)
{
    const char *end = s + len, *host = s, *after;
    size_t hostlen;
    int ipv6 = len > 0 && s[0] == '[';
    if (ipv6) {
        const char *close = memchr(s, ']', len);
        if (close == NULL) return bad(err, errlen, url, "an IPv6 address needs its closing ']'");
        host = s + 1;
        hostlen = (size_t)(close - host);
        int colons = 0;
        for (size_t i = 0; i < hostlen; i++) {
            if (host[i] == ':') colons++;
            else if (!isxdigit((unsigned char)host[i]) && host[i] != '.') colons = -1000;
        }
        if (colons < 2)
            return bad(err, errlen, url, "bad IPv6 address '[%.*s]'", (int)(hostlen < QUOTE_MAX ? hostlen : QUOTE_MAX),
                       host);
        after = close + 1;
        if (after < end && *after != ':')
            return bad(err, errlen, url, "'%.*s' after an IPv6 address: only ':port' may follow it",
                       (int)((size_t)(end - after) < QUOTE_MAX ? (size_t)(end - after) : QUOTE_MAX), after);
    } else {
        const char *colon = memchr(s, ':', len);
        hostlen = colon ? (size_t)(colon - s) : len;
        if (colon && memchr(colon + 1, ':', (size_t)(end - colon - 1)))
            return bad(err, errlen, url, "an IPv6 address goes in brackets, e.g. redis://[::1]:6379");
        after = colon ? colon : end;
    }
    if (hostlen == 0) return bad(err, errlen, url, "no host");
    int port = n->port; /* the caller's default */
    if (after < end && parse_port(after + 1, (size_t)(end - after - 1), &port, url, err, errlen)) return -1;
    if (has_nul_escape(host, hostlen)) return bad(err, errlen, url, "the host holds %%00 (a NUL byte)");
    char *name = ipv6 ? strndup(host, hostlen) : dup_decoded(host, hostlen);
    if (name == NULL) abort();
    for (const char *p = name; *p; p++) {
        if ((unsigned char)*p <= ' ' || *p == 0x7f) {
            free(name);
            return bad(err, errlen, url, "the host contains white space or a control character");
        }
    }
    if (name[0] == '\0') { /* "%00" */
        free(name);
        return bad(err, errlen, url, "no host");
    }
    n->host = name;
    n->port = port;
    return 0;
}

static int parse_db(const char *s, int *db)
{
    char *end;
    if (!isdigit((unsigned char)*s)) return -1;
    long v = strtol(s, &end, 10);
    if (*end != '\0' || v < 0 || v > 100000) return -1;
    *db = (int)v;
    return 0;
}

static int parse_unix(hw_target *t, const char *url, char *err, size_t errlen)
{
    const char *path = url + 7;
    const char *q = strchr(path, '?');
    size_t n = q ? (size_t)(q - path) : strlen(path);
    if (n == 0 || path[0] != '/')
        return bad(err, errlen, url, "the socket path must be absolute (a unix:// URL has no user or password part)");
    if (q && (strncmp(q, "?db=", 4) != 0 || parse_db(q + 4, &t->db)))
        return bad(err, errlen, url, "the only query allowed is ?db=N, N a number from 0 to 100000");
    if (has_nul_escape(path, n)) return bad(err, errlen, url, "the socket path holds %%00 (a NUL byte)");
    t->path = dup_decoded(path, n);
    return 0;
}

/* The sentinels' password, len bytes at value (percent-encoded). It is a
 * secret: no message quotes it. */
static int set_sentinel_password(hw_target *t, const char *value, size_t len, const char *url, char *err, size_t errlen)
{
    if (len == 0) return bad(err, errlen, url, "sentinel_password is empty");
    if (t->sentinel_password) return bad(err, errlen, url, "sentinel_password given twice");
    if (has_nul_escape(value, len))
        return bad(err, errlen, url, "sentinel_password holds %%00 (a NUL byte), which cannot be sent");
    t->sentinel_password = dup_decoded(value, len);
    return 0;
}

/* What follows the sentinels in a redis+sentinel:// URL, from the '/'
 * (or NULL): "/MASTER[/db][?sentinel_password=P]". */
static int parse_sentinel_tail(hw_target *t, const char *url, const char *slash, char *err, size_t errlen)
{
    if (slash == NULL || slash[1] == '\0' || slash[1] == '/' || slash[1] == '?')
        return bad(err, errlen, url, "no master name: redis+sentinel:// needs /MASTER after the sentinels");
    const char *name = slash + 1;
    const char *query = strchr(name, '?');
    const char *end = query ? query : name + strlen(name);
    const char *db = memchr(name, '/', (size_t)(end - name));
    const char *name_end = db ? db : end;
    for (const char *p = name; p < name_end; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return bad(err, errlen, url, "the master name contains white space or a control character");
    t->master_name = strndup(name, (size_t)(name_end - name));
    if (t->master_name == NULL) abort();
    if (db && db + 1 < end) {
        char text[QUOTE_MAX + 1];
        size_t len = (size_t)(end - db - 1);
        snprintf(text, sizeof text, "%.*s", (int)(len < QUOTE_MAX ? len : QUOTE_MAX), db + 1);
        if (len > QUOTE_MAX || parse_db(text, &t->db))
            return bad(err, errlen, url, "bad database '%s': the database must be a number from 0 to 100000", text);
    }
    if (query == NULL) return 0;
    static const char key[] = "?sentinel_password=";
    const char *value = query + sizeof key - 1;
    if (strncmp(query, key, sizeof key - 1) != 0 || strchr(value, '&') != NULL)
        return bad(err, errlen, url, "the only query a redis+sentinel:// URL takes is ?sentinel_password=P");
    return set_sentinel_password(t, value, strlen(value), url, err, errlen);
}

/* "[user[:password]@]host[:port][,host[:port]...][/db]" after the scheme
 * (for redis+sentinel://, "/MASTER[/db][?...]" after the hosts). */
static int parse_network(hw_target *t, const char *url, const char *rest, char *err, size_t errlen)
{
    /* The last '@' ends the user info, as in RFC 3986 parsers, and it is
     * looked for before any '/': a password with an unescaped '@' or '/'
     * then stays whole instead of spilling into the host (and from there
     * into messages). Nothing after the host holds an '@'. */
    const char *at = strrchr(rest, '@');
    const char *hostpart = rest;
    if (at) {
        const char *colon = memchr(rest, ':', (size_t)(at - rest));
        size_t userlen = colon ? (size_t)(colon - rest) : (size_t)(at - rest);
        if (has_nul_escape(rest, (size_t)(at - rest)))
            return bad(err, errlen, url, "the user name or password holds %%00 (a NUL byte), which cannot be sent");
        if (userlen > 0) t->user = dup_decoded(rest, userlen);
        if (colon && at > colon + 1) t->password = dup_decoded(colon + 1, (size_t)(at - colon - 1));
        hostpart = at + 1;
    }
    const char *slash = strchr(hostpart, '/');
    const char *end = slash ? slash : hostpart + strlen(hostpart);
    for (const char *node = hostpart;;) {
        const char *comma = memchr(node, ',', (size_t)(end - node));
        const char *node_end = comma ? comma : end;
        if (!t->cluster && !t->sentinel && comma)
            return bad(err, errlen, url, "several hosts need redis+cluster:// or redis+sentinel://");
        hw_node n = {NULL, t->sentinel ? 26379 : 6379};
        if (parse_host_port(node, (size_t)(node_end - node), &n, url, err, errlen)) return -1;
        hw_node *seeds = realloc(t->seeds, sizeof *seeds * (size_t)(t->nseeds + 1));
        if (seeds == NULL) abort();
        t->seeds = seeds;
        t->seeds[t->nseeds++] = n;
        if (!comma) break;
        node = comma + 1;
    }
    t->host = strdup(t->seeds[0].host);
    if (t->host == NULL) abort();
    t->port = t->seeds[0].port;
    if (t->sentinel) return parse_sentinel_tail(t, url, slash, err, errlen);
    if (slash && slash[1] != '\0' && parse_db(slash + 1, &t->db)) {
        size_t len = strlen(slash + 1);
        return bad(err, errlen, url, "bad database '%.*s': the database must be a number from 0 to 100000",
                   (int)(len < QUOTE_MAX ? len : QUOTE_MAX), slash + 1);
    }
    if (t->cluster && t->db != 0) return bad(err, errlen, url, "a Redis Cluster has database 0 only");
    return 0;
}

/* One TLS query parameter ("name=value" or "insecure", len bytes). */
static int parse_tls_param(hw_target *t, const char *s, size_t len, const char *url, char *err, size_t errlen)
{
    static const struct {
        const char *name;
        size_t off;
    } files[] = {{"cacert", offsetof(hw_target, tls_cacert)},
                 {"cert", offsetof(hw_target, tls_cert)},
                 {"key", offsetof(hw_target, tls_key)},
                 {"sni", offsetof(hw_target, tls_sni)}};
    const char *eq = memchr(s, '=', len);
    size_t namelen = eq ? (size_t)(eq - s) : len;
    if (t->sentinel && eq && namelen == 17 && strncmp(s, "sentinel_password", 17) == 0)
        return set_sentinel_password(t, eq + 1, (size_t)(s + len - eq - 1), url, err, errlen);
    if (namelen == 8 && strncmp(s, "insecure", 8) == 0) {
        size_t vlen = eq ? len - namelen - 1 : 0;
        if (eq && !(vlen == 1 && (eq[1] == '1' || eq[1] == '0')))
            return bad(err, errlen, url, "insecure takes no value (or 1 or 0)");
        t->tls_insecure = !eq || eq[1] == '1';
        return 0;
    }
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        if (namelen != strlen(files[i].name) || strncmp(s, files[i].name, namelen) != 0) continue;
        char **field = (char **)((char *)t + files[i].off);
        if (eq == NULL || eq + 1 == s + len) return bad(err, errlen, url, "%s needs a value", files[i].name);
        if (*field) return bad(err, errlen, url, "%s given twice", files[i].name);
        if (has_nul_escape(eq + 1, (size_t)(s + len - eq - 1)))
            return bad(err, errlen, url, "%s holds %%00 (a NUL byte)", files[i].name);
        *field = dup_decoded(eq + 1, (size_t)(s + len - eq - 1));
        return 0;
    }
    const char *takes = t->sentinel ? "rediss+sentinel:// takes cacert=FILE, cert=FILE&key=FILE, sni=NAME, "
                                      "insecure and sentinel_password=P"
                                    : "rediss:// takes cacert=FILE, cert=FILE&key=FILE, sni=NAME and insecure";
    if (eq == NULL)
        return bad(err, errlen, url, "unknown query parameter (not shown: only insecure stands alone): %s", takes);
    return bad(err, errlen, url, "unknown query parameter '%.*s': %s", (int)(namelen < QUOTE_MAX ? namelen : QUOTE_MAX),
               s, takes);
}

/* A rediss:// URL after its scheme: the authority and database as for
 * redis://, then "?param&param...". */
static int parse_tls(hw_target *t, const char *url, const char *rest, char *err, size_t errlen)
{
    t->tls = 1;
    const char *at = strrchr(rest, '@');
    const char *query = strchr(at ? at : rest, '?');
    if (query == NULL) return parse_network(t, url, rest, err, errlen);
    char *before = strndup(rest, (size_t)(query - rest));
    if (before == NULL) abort();
    int rc = parse_network(t, url, before, err, errlen);
    memset(before, 0, strlen(before)); /* it may hold the password */
    free(before);
    for (const char *p = query + 1; rc == 0 && *p;) {
        size_t len = strcspn(p, "&");
        if (len > 0) rc = parse_tls_param(t, p, len, url, err, errlen);
        p += len + (p[len] == '&');
    }
    if (rc == 0 && (t->tls_cert == NULL) != (t->tls_key == NULL))
        return bad(err, errlen, url, "cert= and key= go together (a client certificate and its key)");
    return rc;
}

int hw_target_parse(hw_target *t, const char *url, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    t->port = 6379;
    int rc;
    if (strncmp(url, "unix://", 7) == 0) {
        rc = parse_unix(t, url, err, errlen);
    } else if (strncmp(url, "redis+cluster://", 16) == 0) {
        t->cluster = 1;
        rc = parse_network(t, url, url + 16, err, errlen);
    } else if (strncmp(url, "redis+sentinel://", 17) == 0) {
        t->sentinel = 1;
        rc = parse_network(t, url, url + 17, err, errlen);
    } else if (strncmp(url, "redis://", 8) == 0) {
        rc = parse_network(t, url, url + 8, err, errlen);
    } else if (strncmp(url, "rediss+cluster://", 17) == 0) {
        t->cluster = 1;
        rc = parse_tls(t, url, url + 17, err, errlen);
    } else if (strncmp(url, "rediss+sentinel://", 18) == 0) {
        t->sentinel = 1;
        rc = parse_tls(t, url, url + 18, err, errlen);
    } else if (strncmp(url, "rediss://", 9) == 0) {
        rc = parse_tls(t, url, url + 9, err, errlen);
    } else {
        rc = bad(err, errlen, url, "unknown scheme");
    }
    if (rc != 0) {
        hw_target_free(t);
        return -1;
    }
    /* "***" may stand for a one-byte password: room for two more bytes. */
    size_t size = strlen(url) + 3;
    t->display = malloc(size);
    if (t->display == NULL) abort();
    hw_url_redact(url, t->display, size);
    return 0;
}

void hw_target_free(hw_target *t)
{
    for (int i = 0; i < t->nseeds; i++) free(t->seeds[i].host);
    free(t->seeds);
    free(t->host);
    free(t->path);
    free(t->user);
    free(t->display);
    free(t->master_name);
    free(t->tls_cacert);
    free(t->tls_cert);
    free(t->tls_key);
    free(t->tls_sni);
    if (t->password) {
        memset(t->password, 0, strlen(t->password));
        free(t->password);
    }
    if (t->sentinel_password) {
        memset(t->sentinel_password, 0, strlen(t->sentinel_password));
        free(t->sentinel_password);
    }
    memset(t, 0, sizeof *t);
}
