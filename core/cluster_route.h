/* Redis Cluster routing for an hw_conn (docs/cluster.md): which node a
 * connection goes to (the node a redirection named, else the next seed),
 * the slot map (read from CLUSTER SLOTS, corrected by MOVED), following
 * MOVED and ASK, waiting out TRYAGAIN and CLUSTERDOWN, and switching
 * between kept connections to several nodes. Internal to the connection
 * (conn.c): the rest of the engine sends through hw_conn_command and
 * hw_conn_script. Every function runs on the thread that owns c. */
#ifndef HW_CLUSTER_ROUTE_H
#define HW_CLUSTER_ROUTE_H

#include "conn.h"

/* The address the next connect goes to: in a cluster, the node the last
 * redirection named, else the next seed in turn; otherwise the target's
 * host and port. *host stays owned by c or its target. Never fails. */
void hw_cluster_address(hw_conn *c, const char **host, int *port);
/* After a connect to host:port succeeded: in a cluster, that node is the
 * current one. Aborts on out of memory. */
void hw_cluster_connected(hw_conn *c, const char *host, int port);
/* After a connect failed: a node that is gone (failed over) is forgotten,
 * so the next connect goes back to the seeds and reads the slot map again. */
void hw_cluster_unreachable(hw_conn *c);
/* On a new connection to a cluster: reads the slot map if there is none or
 * a node was lost. Returns 0 (also when the node refused CLUSTER SLOTS),
 * or -1 if the connection broke. */
int hw_cluster_read_map(hw_conn *c);
/* Frees the kept connections, the slot map and the node names. */
void hw_cluster_release(hw_conn *c);

/* Before a command on `slot`: talk to the node the map says serves it.
 * Returns 0, or -1 (not connected; c->errstr says why). */
int hw_cluster_route(hw_conn *c, unsigned slot);
/* Sends a command formatted as RESP and reads its reply; in a Redis Cluster
 * it follows the redirections (outside one it is a plain send). Same return
 * contract as hw_conn_command. */
redisReply *hw_cluster_exchange(hw_conn *c, const char *cmd, size_t len);

#endif
