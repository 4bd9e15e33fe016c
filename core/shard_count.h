/* Every queue's shard count, kept in Redis so that every process of a queue
 * agrees on it (docs/cluster.md). The count of queue <name> is the string
 * key hw:{<name>}:shards ("1" to "1024"). Its slot is that of {<name>}, not
 * that of any shard {<name>#i}, so it is read and written by commands of its
 * own, never inside a queue script.
 *
 * Who writes it: the first runner (hworker_start, hworker_worker,
 * hworker_monitor) or producer of a queue records its shards = S
 * (scripts/shards.lua, which reads or records it atomically); any later one with another S is refused with a message naming the
 * count to use. A follow-up job (hworker.queue in job code,
 * hworker_enqueue with opts.queue) looks the target's count up, recording 1 if there is
 * none, so no job can land on keys no worker reads. */
#ifndef HW_SHARD_COUNT_H
#define HW_SHARD_COUNT_H

#include <pthread.h>

#include "conn.h"

/* Counts of the queues a handle sends follow-up jobs to: one read per target
 * queue per handle, not per job. A fixed number of entries (the oldest is
 * replaced when full). Thread-safe (its own lock, never held across a Redis
 * call). A queue destroyed and run again with another count while a handle
 * caches it is not noticed until that handle is made again. */
#define HW_SHARD_CACHE_SIZE 64
typedef struct hw_shard_cache {
    pthread_mutex_t lock;
    struct {
        char *queue;
        int shards;
    } entry[HW_SHARD_CACHE_SIZE];
    size_t n, next;
} hw_shard_cache;

void hw_shard_cache_init(hw_shard_cache *cache);
void hw_shard_cache_destroy(hw_shard_cache *cache);

/* Reads the recorded count of `queue` on `c` (connected by the caller, used
 * by this thread only) into *recorded, in one script call. When none is
 * recorded: with `record`, records `proposed` and *recorded is that; without,
 * *recorded is 0.
 * Returns HWORKER_OK; HWORKER_E_SHARDS with a message when the key holds no
 * count from 1 to 1024; HWORKER_E_REDIS with the connection's error or
 * Redis's refusal (a read-only replica, OOM): the count is then not known. */
hworker_rc hw_shards_settle(hw_conn *c, const char *queue, int proposed, int record, int *recorded, char *err,
                            size_t errlen);

#endif
