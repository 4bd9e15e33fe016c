/* Claims: one execution of one job, as returned by the claim script
 * ("token|holder|envelope"), with its header parsed. A claim is owned by the
 * worker that took it; the lease keeper sees it through the held set. */
#ifndef HW_CLAIMS_H
#define HW_CLAIMS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include "buf.h"

typedef struct hw_claim {
    char *data; /* the inflight member, exactly */
    size_t len;
    const char *envelope; /* inside data */
    size_t envelope_len;
    const char *job; /* the job JSON, inside data; NULL if broken */
    size_t job_len;
    char id[80];  /* job id (truncated for display if longer) */
    long attempt; /* 1 + retries so far */
    long recoveries;
    long long enqueued_at;
    long long due_at;     /* when it was due: the header's "da", else enqueued_at */
    int waited;           /* its header has "da": it was scheduled or retried */
    long long late_ms;    /* set by its worker when it starts: ms after due_at, or -1 */
    long long wait_us;    /* set by its worker: from due_at to its start (Redis time), else 0 */
    long long run_us;     /* set by its worker: how long its handler ran, or -1 if it did not run */
    const char *broken;   /* why the envelope does not parse, or NULL */
    atomic_int stop;      /* why its job must stop (hw_stop_reason), else 0: HW_STOP_LEASE_LOST set by
                             the lease keeper when renewal found it gone, HW_STOP_CANCELLED by a cancel */
    atomic_int reporting; /* set by its worker before it sends the claim's outcome or hands it back */
    int shard;            /* the shard it was claimed from (set by the claimer) */
} hw_claim;

/* Copies a claim string and parses it. Never fails (aborts on OOM); a claim
 * whose envelope does not parse gets `broken` set. Free with hw_claim_free. */
hw_claim *hw_claim_new(const char *data, size_t len);
void hw_claim_free(hw_claim *c);

/* Parses an envelope "<header JSON>\n<job JSON>" (also used by listings).
 * Zero `e` before its first parse: e->id is a buffer reused across calls. */
typedef struct hw_envelope {
    const char *job;
    size_t job_len;
    hw_buf id;
    long attempt, recoveries;
    long long enqueued_at;
    long long due_at;   /* the header's "da" (set when it was scheduled or retried), else enqueued_at */
    int waited;         /* the header has "da" */
    const char *broken; /* NULL when it parses */
} hw_envelope;
void hw_envelope_parse(hw_envelope *e, const char *text, size_t len);
void hw_envelope_free(hw_envelope *e);

/* A cancel can be heard before its claim is held: the claim script ran in
 * Redis, then the cancel, and the cancel's message reached the lease keeper
 * before the claim's reply reached its worker. Such a token is kept for
 * HW_EARLY_KEEP seconds (the next renewal, at a third of the lease, finds
 * the mark anyway); a claim held meanwhile with that token starts
 * cancelled. At most HW_EARLY_MAX are kept, the oldest giving way. */
#define HW_EARLY_MAX 16
#define HW_EARLY_TOKEN 48
#define HW_EARLY_KEEP 5.0
typedef struct hw_early_cancel {
    char token[HW_EARLY_TOKEN];
    size_t len;   /* 0: a free slot */
    double heard; /* monotonic seconds */
} hw_early_cancel;

/* The claims this process holds, for the lease keeper. Shared by the
 * workers and the keeper of a handle; every call takes its lock. */
typedef struct hw_held {
    pthread_mutex_t lock;
    hw_claim **items;
    size_t n, cap;
    hw_early_cancel early[HW_EARLY_MAX];
    size_t nearly; /* slots in use */
} hw_held;

void hw_held_init(hw_held *h);
void hw_held_destroy(hw_held *h);
/* Adds a claim its worker took at monotonic time `now`; it starts
 * cancelled if a cancel of its token was heard early (above). */
void hw_held_add(hw_held *h, hw_claim *c, double now);
void hw_held_remove(hw_held *h, hw_claim *c);
/* Copies every held claim of shard `shard` into args (after what is there
 * already) and their pointers into *out (caller frees); returns how many. */
size_t hw_held_snapshot(hw_held *h, int shard, hw_args *args, hw_claim ***out);
/* Marks `c` lost if it is still held, still the same claim as `data` (a
 * freed claim's address may be reused by a new one), and its worker has not
 * begun to report it (then its own report took it out of inflight, or will
 * find it gone and count it). Returns 1 if it marked it: a claim that was
 * really taken over. */
int hw_held_mark_lost(hw_held *h, hw_claim *c, const char *data, size_t len);
/* Marks cancelled every held claim whose token (the text before its first
 * '|') is `token`, unless it is lost already. Returns how many it marked.
 * `heard` is the monotonic time a cancel's message named the token: when
 * no claim held has it, it is kept (above). A renewal, which names only
 * claims held, passes HW_HELD_RENEWED. */
#define HW_HELD_RENEWED (-1.0)
size_t hw_held_cancel(hw_held *h, const char *token, size_t len, double heard);

#endif
