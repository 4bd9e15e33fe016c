/* How a process with workers hears at once that one of its running jobs was
 * cancelled: scripts/cancel.lua publishes the claim's token on a channel
 * named as the shard's cancels key. The lease keeper keeps one subscribed
 * connection and sleeps on it, with its wake signal's descriptor, between
 * renewals; a message marks the claim held here with that token, and the
 * job's count hook stops it. A message published while not subscribed (the
 * keeper had just started, or was connecting again) is made up for by a
 * renewal made as soon as the subscription stands: it answers 2 for a
 * cancelled claim (scripts/renew.lua). Idle, this costs no command at all.
 * Owned by the keeper thread; not thread-safe. */
#ifndef HW_CANCEL_WATCH_H
#define HW_CANCEL_WATCH_H

#include "internal.h"

typedef struct hw_cancel_watch {
    hw_conn conn;
    int subscribed;       /* conn holds the subscription to every shard's channel */
    double retry_at;      /* monotonic time of the next subscribe attempt after a failure */
    double backoff;       /* 0 until a failure; kept while subscriptions drop at once */
    double subscribed_at; /* monotonic time of the last subscription */
} hw_cancel_watch;

void hw_cancel_watch_init(hw_cancel_watch *w, hworker *h);
void hw_cancel_watch_free(hw_cancel_watch *w);

/* Sleeps until `until` (monotonic seconds) or until the keeper's wake signal
 * is raised, marking the held claims each message names as cancelled. It
 * subscribes first, unless subscribed or backing off after a failure
 * (logged when it starts and when it works again); without a subscription
 * it sleeps on the wake signal alone. Returns 1 as soon as it has
 * subscribed anew, for the caller to renew at once and so learn of cancels
 * published before; otherwise 0. */
int hw_cancel_watch_sleep(hw_cancel_watch *w, hworker *h, double until);

#endif
