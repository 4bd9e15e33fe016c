/* Where Redis is: parsed from a URL once, then read-only (shared by threads).
 * A URL's password never reaches a message: whatever prints a URL prints
 * hw_url_redact()'s rendering of it (a parsed target keeps one in display). */
#ifndef HW_URL_H
#define HW_URL_H

#include <stddef.h>

typedef struct hw_node {
    char *host;
    int port;
} hw_node;

typedef struct hw_target {
    char *host; /* TCP host, or NULL for a unix socket (a cluster: the first seed);
                        an IPv6 address without its brackets */
    int port;
    int cluster;    /* redis+cluster://: follow the cluster's redirections */
    hw_node *seeds; /* a cluster's seed nodes (host and port above are the first) */
    int nseeds;
    char *path;     /* unix socket path, or NULL */
    char *user;     /* ACL user, or NULL */
    char *password; /* or NULL (never empty) */
    int db;
    char *display;           /* the URL as given, password hidden: what messages show */
    int sentinel;            /* redis+sentinel://: seeds are sentinels, asked for the master */
    char *master_name;       /* redis+sentinel://: the master's name, or NULL */
    char *sentinel_password; /* redis+sentinel://...?sentinel_password=, or NULL (never empty) */
    /* rediss://, rediss+cluster://, rediss+sentinel://: TLS on every connection (not over a
     * unix socket, nor over a host factory's connection). */
    int tls;
    char *tls_cacert;           /* ?cacert=: the CAs to trust, or NULL for the system store */
    char *tls_cert;             /* ?cert=: client certificate (mutual TLS), or NULL */
    char *tls_key;              /* ?key=: its private key (unencrypted), or NULL */
    char *tls_sni;              /* ?sni=: the name sent and verified, or NULL (the host) */
    int tls_insecure;           /* ?insecure: no verification at all (tests only) */
    struct ssl_ctx_st *tls_ctx; /* made from the above by hw_tls_context_make (tls.h), owned by
                                   the handle's target, freed by hw_tls_context_free */
} hw_target;

/* Parses "redis://[user[:password]@]host[:port][/db]", "unix:///path[?db=N]"
 * or "redis+cluster://[user[:password]@]host[:port][,host[:port]...][/]"
 * (seed nodes of a Redis Cluster; database 0 only), or
 * "redis+sentinel://[user[:password]@]host[:port][,host[:port]...]/MASTER[/db]
 * [?sentinel_password=P]" (sentinels, port 26379 by default, that name the
 * master called MASTER; user and password are the master's, P the
 * sentinels', percent-encoded); "rediss://", "rediss+cluster://" and
 * "rediss+sentinel://" are the same as without the s over TLS, and take the
 * query parameters cacert=FILE, cert=FILE and key=FILE (together), sni=NAME
 * and insecure (rediss+sentinel:// also sentinel_password=P: TLS applies to
 * the sentinels and the master alike). A host may be an IPv6
 * address in brackets ("[::1]:6380"). "user@host" names an ACL user with no
 * password (the password may come from elsewhere, see hworker_config).
 * User and password may be percent-encoded; the user info ends at the last
 * '@', so a password may hold an unescaped '@', ':' or '/'.
 * Returns 0 (t then owns its strings: free with hw_target_free), or -1 with
 * t empty and err set to a message that names the part at fault, shows the
 * URL through hw_url_redact() and the expected form. Thread-safe. */
int hw_target_parse(hw_target *t, const char *url, char *err, size_t errlen);

/* Renders url for a human into out (at most outlen bytes, always
 * terminated): the text as given, with the password of its user info
 * replaced by "***" and control characters by '?'. The password is what
 * lies between the first ':' after "scheme://" (or the start, without a
 * scheme) and the last '@'. Works on any text, parseable or not, so an
 * error about a bad URL can show it. Thread-safe; does not allocate. */
void hw_url_redact(const char *url, char *out, size_t outlen);

/* Frees what t owns, wiping the password; t is left empty. */
void hw_target_free(hw_target *t);

#endif
