/* Where Redis is: parsed from a URL once, then read-only (shared by threads). */
#ifndef HW_URL_H
#define HW_URL_H

#include <stddef.h>

typedef struct hw_node {
    char *host;
    int port;
} hw_node;

typedef struct hw_target {
    char *host;      /* TCP host, or NULL for a unix socket (a cluster: the first seed) */
    int port;
    int cluster;     /* redis+cluster://: follow the cluster's redirections */
    hw_node *seeds;  /* a cluster's seed nodes (host and port above are the first) */
    int nseeds;
    char *path;      /* unix socket path, or NULL */
    char *user;      /* ACL user, or NULL */
    char *password;  /* or NULL */
    int db;
} hw_target;

/* Parses "redis://[user:pass@]host[:port][/db]", "unix:///path[?db=N]" or
 * "redis+cluster://[user:pass@]host[:port][,host[:port]...][/]" (seed
 * nodes of a Redis Cluster; database 0 only). User and password may be
 * percent-encoded. Returns 0, or -1 with a message that shows the expected
 * form. The result owns its strings. */
int hw_target_parse(hw_target *t, const char *url, char *err, size_t errlen);
/* A printable form without the password, for log lines. */
void hw_target_describe(const hw_target *t, char *out, size_t outlen);
void hw_target_free(hw_target *t);

#endif
