/* What a worker does when the claim script holds it back (flow control,
 * docs/flow-control.md): read the reason from the reply, and wait for the
 * one event that can let it claim again, never polling. Used by the worker
 * thread that owns the connection; no shared state. */
#ifndef HW_FLOW_WAIT_H
#define HW_FLOW_WAIT_H

#include <hiredis/hiredis.h>

#include "conn.h"
#include "internal.h"
#include "log.h"
#include "stop_signal.h"

typedef enum {
    HW_HELD_NO,     /* not held back: the reply has claims, or nothing is pending */
    HW_HELD_PAUSED, /* the queue is paused */
    HW_HELD_CAPPED, /* the shard's concurrency cap is reached */
    HW_HELD_RATE,   /* the shard's rate limit allows no start yet */
} hw_hold;

/* Reads a claim reply: HW_HELD_NO for claims or none, else why it was held
 * back and, for the rate, the ms to wait in *ms. */
hw_hold hw_flow_held(const redisReply *r, long long *ms);

/* Waits as `held` asks, on shard keys k, at most `block_timeout` seconds:
 * paused, until the queue's open list is non-empty again (a resume wakes
 * every paused worker); capped, for a wake-up a freed slot pushes; rate,
 * `ms` on the stop signal (the claim script spaces the waiting workers one
 * start apart). Returns 0, or -1 if the connection failed. A stop cuts the
 * wait short (CLIENT UNBLOCK, or the signal). A wait Redis refuses (the key
 * holds something else) is logged as `who` on `log`, and then lasts the
 * block timeout. */
int hw_flow_wait(hw_conn *conn, const hw_keys *k, hw_hold held, long long ms, double block_timeout, hw_signal *stop,
                 hw_logger *log, const char *who);

#endif
