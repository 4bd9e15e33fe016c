/* Waiting for replicas after a write that must survive a failover
 * (min_replicas): Redis replicates asynchronously, so a primary that fails
 * over can lose a write it acknowledged unless enough replicas had it. */
#ifndef HW_REPLICA_WAIT_H
#define HW_REPLICA_WAIT_H

#include <stddef.h>

#include "conn.h"

/* After a write that must survive a failover: WAIT until c->min_replicas
 * replicas have it. Returns HWORKER_OK (also when min_replicas is 0),
 * HWORKER_E_REPLICAS with "<what>: reached N of M replicas within T s", or
 * HWORKER_E_REDIS with the connection's error, in err (which may be NULL).
 * Same thread rules as c. */
hworker_rc hw_conn_wait_replicas(hw_conn *c, const char *what, char *err, size_t errlen);

#endif
