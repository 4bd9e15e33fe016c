/* Redis Sentinel for an hw_conn (redis+sentinel://, docs/connections.md):
 * which address a connection goes to (the master the sentinels name, asked
 * in turn on every connect), checking that the server there is the master
 * (ROLE), and treating a READONLY reply (the master became a replica in a
 * failover) as a lost connection, so the next connect asks the sentinels
 * again. Outside a redis+sentinel:// target, or with a host connection
 * factory, every function does nothing. Internal to the connection
 * (conn.c); every function runs on the thread that owns c. */
#ifndef HW_SENTINEL_H
#define HW_SENTINEL_H

#include "conn.h"

/* Asks the sentinels in turn, from the one that answered last, for the
 * address of the target's master; a sentinel that cannot be reached, or
 * does not know the master, is skipped. Returns 0 with *host (owned by c,
 * valid until the next call or hw_sentinel_release) and *port set, or -1
 * with c->errstr naming the master and each sentinel asked with why it
 * gave no address. */
int hw_sentinel_address(hw_conn *c, const char **host, int *port);

/* On a new connection to the master the sentinels named: asks ROLE.
 * Returns 0 if the server says "master", else -1 with c->errstr saying
 * what it is (a failover is under way: the caller backs off and asks the
 * sentinels again). */
int hw_sentinel_verify(hw_conn *c);

/* Screens a reply: a READONLY error reply means the server is no longer
 * the master, so c is closed, c->errstr says so, the reply is freed and
 * NULL returned, as for a lost connection. Any other reply (or NULL) is
 * returned as it is. */
redisReply *hw_sentinel_screen(hw_conn *c, redisReply *r);

/* Frees the master's address c keeps. */
void hw_sentinel_release(hw_conn *c);

#endif
