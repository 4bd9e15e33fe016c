#include "url.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *dup_decoded(const char *s, size_t n)
{
    char *out = malloc(n + 1);
    size_t j = 0;
    if (!out) return NULL;
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

static int bad(char *err, size_t errlen, const char *url, const char *why)
{
    snprintf(err, errlen,
             "bad Redis URL \"%s\": %s (expected redis://[user:password@]host[:port][/db], unix:///path[?db=N] "
             "or redis+cluster://[user:password@]host[:port],host[:port]...)",
             url, why);
    return -1;
}

static int parse_db(const char *s, int *db)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < 0 || v > 100000) return -1;
    *db = (int)v;
    return 0;
}

/* One "host[:port]" of a URL's authority into n (host allocated). */
static int parse_host_port(const char *s, size_t len, hw_node *n, const char *url, char *err, size_t errlen)
{
    const char *colon = memchr(s, ':', len);
    size_t namelen = colon ? (size_t)(colon - s) : len;
    if (namelen == 0) return bad(err, errlen, url, "no host");
    for (size_t i = 0; i < namelen; i++)
        if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f)
            return bad(err, errlen, url, "the host contains white space or a control character");
    if (colon) {
        char portbuf[16];
        size_t plen = len - namelen - 1;
        char *end;
        if (plen == 0 || plen >= sizeof portbuf) return bad(err, errlen, url, "bad port");
        memcpy(portbuf, colon + 1, plen);
        portbuf[plen] = '\0';
        long port = strtol(portbuf, &end, 10);
        if (*end != '\0' || port < 1 || port > 65535)
            return bad(err, errlen, url, "the port must be a number from 1 to 65535");
        n->port = (int)port;
    }
    n->host = dup_decoded(s, namelen);
    if (n->host == NULL) abort();
    return 0;
}

int hw_target_parse(hw_target *t, const char *url, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    t->port = 6379;
    if (strncmp(url, "unix://", 7) == 0) {
        const char *path = url + 7;
        const char *q = strchr(path, '?');
        size_t n = q ? (size_t)(q - path) : strlen(path);
        if (n == 0 || path[0] != '/') return bad(err, errlen, url, "the socket path must be absolute");
        t->path = dup_decoded(path, n);
        if (q) {
            if (strncmp(q, "?db=", 4) != 0 || parse_db(q + 4, &t->db)) {
                hw_target_free(t);
                return bad(err, errlen, url, "the only query allowed is ?db=N");
            }
        }
        return 0;
    }
    int cluster = strncmp(url, "redis+cluster://", 16) == 0;
    if (!cluster && strncmp(url, "redis://", 8) != 0) return bad(err, errlen, url, "unknown scheme");
    const char *rest = url + (cluster ? 16 : 8);
    const char *slash = strchr(rest, '/');
    size_t authority_len = slash ? (size_t)(slash - rest) : strlen(rest);
    /* The last '@' ends the user info, as in RFC 3986 parsers: a password
     * with an unescaped '@' then stays whole instead of spilling into the
     * host (and from there into log lines). */
    const char *at = memrchr(rest, '@', authority_len);
    const char *hostpart = rest;
    if (at) {
        const char *colon = memchr(rest, ':', (size_t)(at - rest));
        if (colon) {
            if (colon > rest) t->user = dup_decoded(rest, (size_t)(colon - rest));
            t->password = dup_decoded(colon + 1, (size_t)(at - colon - 1));
        } else {
            t->password = dup_decoded(rest, (size_t)(at - rest));
        }
        hostpart = at + 1;
    }
    /* host[:port], and for a cluster more of them after commas. */
    const char *end = rest + authority_len;
    for (const char *node = hostpart; node <= end;) {
        const char *comma = memchr(node, ',', (size_t)(end - node));
        const char *node_end = comma ? comma : end;
        if (!cluster && comma) {
            hw_target_free(t);
            return bad(err, errlen, url, "several hosts need redis+cluster://");
        }
        hw_node n = {NULL, 6379};
        if (parse_host_port(node, (size_t)(node_end - node), &n, url, err, errlen)) {
            hw_target_free(t);
            return -1;
        }
        hw_node *seeds = realloc(t->seeds, sizeof *seeds * (size_t)(t->nseeds + 1));
        if (seeds == NULL) abort();
        t->seeds = seeds;
        t->seeds[t->nseeds++] = n;
        if (!comma) break;
        node = comma + 1;
    }
    t->cluster = cluster;
    t->host = strdup(t->seeds[0].host);
    if (t->host == NULL) abort();
    t->port = t->seeds[0].port;
    if (slash && slash[1] != '\0' && parse_db(slash + 1, &t->db)) {
        hw_target_free(t);
        return bad(err, errlen, url, "the database must be a number");
    }
    if (cluster && t->db != 0) {
        hw_target_free(t);
        return bad(err, errlen, url, "a Redis Cluster has database 0 only");
    }
    return 0;
}

void hw_target_describe(const hw_target *t, char *out, size_t outlen)
{
    if (t->path) snprintf(out, outlen, "unix://%s?db=%d", t->path, t->db);
    else if (t->cluster) snprintf(out, outlen, "redis+cluster://%s%s%s:%d%s", t->user ? t->user : "", t->user ? "@" : "",
                                  t->host ? t->host : "?", t->port, t->nseeds > 1 ? ",..." : "");
    else snprintf(out, outlen, "redis://%s%s%s:%d/%d", t->user ? t->user : "", t->user ? "@" : "",
                  t->host ? t->host : "?", t->port, t->db);
}

void hw_target_free(hw_target *t)
{
    for (int i = 0; i < t->nseeds; i++) free(t->seeds[i].host);
    free(t->seeds);
    free(t->host);
    free(t->path);
    free(t->user);
    if (t->password) {
        memset(t->password, 0, strlen(t->password));
        free(t->password);
    }
    memset(t, 0, sizeof *t);
}
