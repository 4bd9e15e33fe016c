/* Which in-flight claims are running, as the processes' last beats say
 * (process_beat.c writes them): an in-flight listing tells a job that has
 * started from one claimed and still waiting in its worker's batch. */
#ifndef HW_RUNNING_JOBS_H
#define HW_RUNNING_JOBS_H

#include <stddef.h>

#include "internal.h"

/* The running claims of a queue's live processes: "claim|worker" each,
 * with when it started. Owned by whoever collected it. */
typedef struct hw_running_claim {
    char *key; /* "claim|worker" */
    size_t len;
    long long started_at;
} hw_running_claim;

typedef struct hw_running_set {
    hw_running_claim *claims; /* sorted by key once collected */
    size_t n, cap;
} hw_running_set;

/* Reads the running claims of h's queue from its process registry (one
 * script call on h's producer connection). A registry that cannot be read
 * leaves the set empty: every job then reads as not known to have started,
 * and the listing itself goes on. Thread-safe as the producer is. */
void hw_running_collect(hworker *h, hw_running_set *s);

/* When the in-flight member ("claim|holder|envelope") started running, ms
 * in Redis time, or -1 if no beat reported it running. O(log n). */
long long hw_running_started(const hw_running_set *s, const char *member, size_t len);

void hw_running_free(hw_running_set *s);

#endif
