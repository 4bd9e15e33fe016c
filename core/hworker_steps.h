/** Single steps of the engine, for tests and for hosts that drive their own
 * loop: claim jobs, report outcomes, renew leases and run one monitor sweep,
 * each exactly as the worker, lease keeper and monitor do (same scripts).
 * All are thread-safe (they use the handle's producer connection under its
 * lock) and return HWORKER_OK, or HWORKER_E_INVALID (a shard that does not
 * exist, bad arguments) or HWORKER_E_REDIS with a message in err. Each acts on one shard
 * of the queue's key sets, 0 to shards - 1 (0 when the queue is not
 * sharded); a claim is finished, renewed or handed back on the shard it
 * was claimed from. */
#ifndef HWORKER_STEPS_H
#define HWORKER_STEPS_H

#include <stddef.h>
#include "hworker.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Receives each claim string ("token|holder|envelope"); valid during the call. */
typedef void (*hworker_claim_fn)(void *ud, const char *claim, size_t len);

/** Claims up to n jobs for `holder` (no '|'), leased for the configured lease. */
HWORKER_API hworker_rc hworker_step_claim(hworker *h, int shard, int n, const char *holder, hworker_claim_fn fn,
                                          void *ud, char *err, size_t errlen);

typedef enum {
    HWORKER_OUTCOME_SUCCESS = 's',
    HWORKER_OUTCOME_RETRY = 'r',
    HWORKER_OUTCOME_FAILURE = 'f',
    HWORKER_OUTCOME_BROKEN = 'b',
    HWORKER_OUTCOME_EXHAUSTED = 'x' /**< failure because the retries ran out */
} hworker_outcome;

/** Reports one outcome. *applied is 1 if the claim was still live, 0 if the
 * lease was lost (then nothing changed). */
HWORKER_API hworker_rc hworker_step_finish(hworker *h, int shard, const char *claim, size_t len,
                                           hworker_outcome outcome, const char *reason, double retry_delay,
                                           int *applied, char *err, size_t errlen);

/** Renews one claim's lease; *renewed is 1 if it was still live, 2 if it
 * was live and has been cancelled (hworker_cancel: stop its job and report
 * any outcome; it is recorded as cancelled), 0 if it was not live. */
HWORKER_API hworker_rc hworker_step_renew(hworker *h, int shard, const char *claim, size_t len, int *renewed, char *err,
                                          size_t errlen);

/** Hands one claim back to the front of pending; *applied as above. */
HWORKER_API hworker_rc hworker_step_hand_back(hworker *h, int shard, const char *claim, size_t len, int *applied,
                                              char *err, size_t errlen);

/** One monitor sweep (at most `batch` entries of each kind). */
HWORKER_API hworker_rc hworker_step_sweep(hworker *h, int shard, long batch, long *recovered, long *promoted, char *err,
                                          size_t errlen);

/** Sends any Redis command on the handle's connection (e.g. to push a raw
 * payload or read INFO). Returns the hiredis reply, which the caller frees
 * with freeReplyObject() (an error reply is returned, not failed), or NULL
 * with a message when Redis cannot be reached. Only declared here: a caller
 * that reads the reply's fields includes <hiredis/hiredis.h> itself. */
struct redisReply;
HWORKER_API struct redisReply *hworker_command(hworker *h, int argc, const char **argv, const size_t *lens, char *err,
                                               size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
