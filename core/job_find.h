/* Finding a job by its id where it waits or runs, for the actions on single
 * jobs (job_actions.c). Nothing indexes jobs by id (that would cost every
 * enqueue), so the parts are read in pages of HW_FIND_PAGE entries, one
 * round trip each: an operator's action on a queue of a million jobs costs
 * about a thousand short reads, and never blocks Redis for long. Pages
 * follow moving parts safely: a list is read from its left end, where new
 * jobs arrive (they push the unread ones further, never past the reader),
 * and sorted sets and the groups hash by SCAN, which returns every member
 * present throughout. The parts are read in the order jobs move through
 * them, so a job that moves on meanwhile is met in its next part; one that
 * moves back (a retry) may be missed by a pass, and the actions make
 * another pass after each change and before they say none was found. Thread-safe (the
 * producer connection, under its lock). */
#ifndef HW_JOB_FIND_H
#define HW_JOB_FIND_H

#include <stddef.h>

#include "internal.h"

/* Where a found job is. */
typedef enum {
    HW_FOUND_INFLIGHT, /* running: the member is its claim */
    HW_FOUND_PENDING,  /* in pending */
    HW_FOUND_URGENT,   /* in urgent (it has a priority) */
    HW_FOUND_GROUP,    /* in its group's list */
    HW_FOUND_SCHEDULED /* in scheduled */
} hw_found_part;

/* A match, valid during the callback: the key holding it and its member
 * exactly as stored. */
typedef struct hw_found {
    int shard;
    hw_found_part part;
    const char *key;
    const char *member;
    size_t member_len;
} hw_found;

/* Receives each match; returns 0 to go on, 1 to stop the pass, -1 to stop
 * it with an error (in the finder's err). */
typedef int (*hw_found_fn)(void *ud, const hw_found *found, char *err, size_t errlen);

/* One pass over every shard: scheduled, urgent, the groups' lists, pending,
 * then inflight when `running`, calling fn on each entry whose
 * job id is `id`. Returns 0 when the pass ends, 1 when fn stopped it, or -1
 * with a message in err (Redis unreachable or refusing, or fn's -1). */
int hw_find_job(hworker *h, const char *id, int running, hw_found_fn fn, void *ud, char *err, size_t errlen);

#endif
