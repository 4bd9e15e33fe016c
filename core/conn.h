/* One Redis connection, owned by one thread (the producer connection of a
 * handle is the exception: it is guarded by the handle's producer lock).
 * It reconnects on demand, authenticates, selects the database, names
 * itself; scripts are called with EVALSHA by the SHA1 of their text, and a
 * NOSCRIPT reply (the script not loaded yet on this server, or Redis
 * restarted or flushed its scripts) loads it with SCRIPT LOAD and retries.
 * Under it: the socket in link.h (opened in conn_transport.h), in a Redis
 * Cluster the routing to the node that serves a slot in cluster_route.h,
 * and behind Redis Sentinel the master's discovery in sentinel.h. */
#ifndef HW_CONN_H
#define HW_CONN_H

#include <hiredis/hiredis.h>
#include <stdatomic.h>

#include "buf.h"
#include "slots.h"
#include "hworker.h"
#include "link.h"
#include "log.h"
#include "scripts.h"
#include "stop_signal.h"
#include "url.h"

typedef struct hw_conn {
    hw_link *link;              /* NULL while disconnected */
    const hw_target *target;    /* shared, read-only */
    hworker_connect_fn connect; /* host factory, or NULL */
    void *connect_ud;
    hw_logger *log;
    char role[64];     /* e.g. "worker 2": for CLIENT SETNAME and log lines */
    const char *queue; /* queue name, for CLIENT SETNAME */
    double timeout;    /* socket timeout in seconds, 0 for none */
    char sha[HW_SCRIPT_COUNT][41];
    atomic_llong client_id; /* read by hworker_stop() from another thread */
    char errstr[640];       /* why the last call failed */
    int failures;           /* consecutive failed connects, for back-off */
    hw_buf resp;            /* the last script call, as RESP (reused) */
    hw_buf cmd;             /* the last other command, as RESP (reused) */
    char *node_host;        /* cluster: the node the last MOVED named, or NULL */
    int node_port;
    char *cur_host; /* cluster: the node link is connected to */
    int cur_port;
    /* Cluster: connections to other nodes, kept while this one talks to
     * another node, so a thread that works several shards (on several
     * masters) switches between them instead of reconnecting. */
    struct hw_parked {
        char *host;
        int port;
        hw_link *link;
        long long client_id;
    } parked[8];
    int nparked;
    hw_slot_map *map;            /* cluster: slot -> node, from CLUSTER SLOTS and MOVED */
    int map_stale;               /* cluster: a node of the map could not be reached */
    int next_seed;               /* cluster: the seed to try next without a node */
    int min_replicas;            /* replicas a durable write must reach (WAIT), 0 = none */
    double min_replicas_timeout; /* seconds */
    char *master_host;           /* sentinel: the master the sentinels named last, or NULL */
    int master_port;
} hw_conn;

void hw_conn_init(hw_conn *c, const hw_target *target, hworker_connect_fn connect, void *connect_ud, hw_logger *log,
                  const char *queue, const char *role, double timeout);
/* Connects once (closing any old link). Returns 0, or -1 with errstr set. */
int hw_conn_open(hw_conn *c);
/* Connects if needed, retrying with capped exponential back-off (0.05 s
 * doubling to 5 s) and logging the outage and the recovery, until connected
 * (0) or `stop` is raised (-1). `stop` may be NULL: then one attempt. */
int hw_conn_ensure(hw_conn *c, hw_signal *stop);
void hw_conn_close(hw_conn *c);
void hw_conn_free(hw_conn *c);

/* Sends one command. Returns the reply (caller frees it with
 * freeReplyObject; it may be an error reply), or NULL when the connection
 * failed (the link is then closed and errstr says why). */
redisReply *hw_conn_command(hw_conn *c, int argc, const char **argv, const size_t *lens);
/* Runs a script with EVALSHA: `args` holds nkeys keys then the arguments.
 * Same return contract as hw_conn_command. */
redisReply *hw_conn_script(hw_conn *c, hw_script s, int nkeys, hw_args *args);
/* Sends a command given as a printf-free list of C strings, NULL-terminated. */
redisReply *hw_conn_simple(hw_conn *c, const char *first, ...);

/* Writes "<what>: <reason>" for a NULL or error reply into err. */
void hw_conn_explain(const hw_conn *c, const redisReply *r, const char *what, char *err, size_t errlen);

/* Turns a connected c into a subscriber of the n channels and waits up to
 * `timeout` seconds for each confirmation. Returns 0, or -1 with why in
 * `why` (an error reply such as an ACL refusal, no answer in time, or the
 * link's failure); the caller then closes c. After 0, c only reads
 * messages (hw_link_next_reply). */
int hw_conn_subscribe(hw_conn *c, const char *const *channels, int n, double timeout, char *why, size_t whylen);

#endif
