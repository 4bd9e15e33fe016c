/* How a monitor hears that a job was scheduled earlier than anything it
 * knew of: the enqueue and finish scripts publish "due in N ms" on a
 * channel named as the shard's scheduled key when they add a job that
 * becomes the earliest there (scripts/lib/envelope.lua, hw_wake_monitors).
 * The monitor keeps one subscribed connection and sleeps on it, with the
 * stop signal's descriptor, until its next due time: a message brings that
 * time forward; one on the cron channel says the cron entries changed.
 * Idle, this costs no command at all. Owned by the monitor
 * thread; not thread-safe. */
#ifndef HW_DUE_WAKE_H
#define HW_DUE_WAKE_H

#include "internal.h"

typedef struct hw_due_wake {
    hw_conn conn;
    int subscribed;  /* conn holds the subscription to every shard's channel */
    double retry_at; /* monotonic time of the next subscribe attempt after a failure */
    double backoff;  /* 0 while it works */
} hw_due_wake;

void hw_due_wake_init(hw_due_wake *w, hworker *h);
void hw_due_wake_free(hw_due_wake *w);

/* Subscribes, unless subscribed or backing off after a failure (logged
 * when it starts and when it works again). A job scheduled while it was
 * not listening is known only from a sweep: the caller sweeps after this
 * and before it sleeps. */
void hw_due_wake_listen(hw_due_wake *w, hworker *h);

/* Sleeps `seconds`, less when a message says a job is due sooner, and
 * returns at once when the handle is stopped. Without a subscription it
 * sleeps the whole time (the sweep's own next due time still holds).
 * Returns 1, at once, when a message on the cron channel (shard 0's cron
 * key) says the cron entries changed, else 0. */
int hw_due_wake_sleep(hw_due_wake *w, hworker *h, double seconds);

#endif
