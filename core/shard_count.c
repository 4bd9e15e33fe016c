#include "shard_count.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "internal.h"

void hw_shard_cache_init(hw_shard_cache *cache)
{
    memset(cache, 0, sizeof *cache);
    pthread_mutex_init(&cache->lock, NULL);
}

void hw_shard_cache_destroy(hw_shard_cache *cache)
{
    for (size_t i = 0; i < cache->n; i++) free(cache->entry[i].queue);
    pthread_mutex_destroy(&cache->lock);
}

/* The cached count of `queue`, or 0. */
static int cache_get(hw_shard_cache *cache, const char *queue)
{
    int shards = 0;
    pthread_mutex_lock(&cache->lock);
    for (size_t i = 0; i < cache->n && shards == 0; i++)
        if (strcmp(cache->entry[i].queue, queue) == 0) shards = cache->entry[i].shards;
    pthread_mutex_unlock(&cache->lock);
    return shards;
}

static void cache_put(hw_shard_cache *cache, const char *queue, int shards)
{
    char *copy = strdup(queue);
    if (copy == NULL) abort();
    pthread_mutex_lock(&cache->lock);
    for (size_t i = 0; i < cache->n; i++) {
        if (strcmp(cache->entry[i].queue, queue) == 0) { /* another thread was first */
            pthread_mutex_unlock(&cache->lock);
            free(copy);
            return;
        }
    }
    size_t slot;
    if (cache->n < HW_SHARD_CACHE_SIZE) {
        slot = cache->n++;
    } else {
        slot = cache->next++ % HW_SHARD_CACHE_SIZE;
        free(cache->entry[slot].queue);
    }
    cache->entry[slot].queue = copy;
    cache->entry[slot].shards = shards;
    pthread_mutex_unlock(&cache->lock);
}

/* A reply holding a count: 1 to 1024, else 0. */
static int count_of(const redisReply *r)
{
    if (r->type != REDIS_REPLY_STRING || r->len == 0 || r->len > 4) return 0;
    int n = 0;
    for (size_t i = 0; i < r->len; i++) {
        if (r->str[i] < '0' || r->str[i] > '9') return 0;
        n = n * 10 + (r->str[i] - '0');
    }
    return n >= 1 && n <= 1024 ? n : 0;
}

hworker_rc hw_shards_settle(hw_conn *c, const char *queue, int proposed, int record, int *recorded, char *err,
                            size_t errlen)
{
    char *key = hw_keys_shards(queue);
    hw_args args = {0};
    hw_args_adds(&args, key);
    if (record) hw_args_addll(&args, proposed);
    else hw_args_adds(&args, "");
    /* One script call reads the count or records ours: atomic, so two
     * processes that start at once cannot both record theirs. */
    redisReply *r = hw_conn_script(c, HW_SCRIPT_SHARDS, 1, &args);
    hw_args_free(&args);
    hworker_rc rc = HWORKER_OK;
    *recorded = 0;
    if (r == NULL) {
        hw_conn_explain(c, NULL, "cannot read the queue's shard count", err, errlen);
        rc = HWORKER_E_REDIS;
    } else if (r->type == REDIS_REPLY_ERROR) {
        snprintf(err, errlen, "cannot %s the shard count of queue %s (%s): Redis refused: %s",
                 record ? "record" : "read", queue, key, r->str);
        rc = HWORKER_E_REDIS;
    } else if (r->type != REDIS_REPLY_NIL && (*recorded = count_of(r)) == 0) {
        snprintf(err, errlen,
                 "%s does not hold a shard count from 1 to 1024: set it to the queue's shard count, or delete it "
                 "if the queue holds no jobs",
                 key);
        rc = HWORKER_E_SHARDS;
    }
    if (r) freeReplyObject(r);
    free(key);
    return rc;
}

/* hw_shards_settle on a connection that is (re)connected first, and tried
 * once more after a lost connection or a refusal, as an enqueue is. */
static hworker_rc settle_retrying(hw_conn *c, const char *queue, int proposed, int record, int *recorded, char *err,
                                  size_t errlen)
{
    hworker_rc rc = HWORKER_E_REDIS;
    for (int attempt = 0; attempt < 2 && rc == HWORKER_E_REDIS; attempt++) {
        if (hw_conn_ensure(c, NULL) != 0) hw_conn_explain(c, NULL, "cannot read the queue's shard count", err, errlen);
        else rc = hw_shards_settle(c, queue, proposed, record, recorded, err, errlen);
    }
    return rc;
}

/* The message for a process whose shard count is not the recorded one. */
static void mismatch(const hworker *h, int recorded, char *err, size_t errlen)
{
    char *key = hw_keys_shards(h->name);
    snprintf(err, errlen,
             "queue %s has %d shard(s) in Redis (%s); this process was started with %d: use --shards %d "
             "(Lua and C: shards = %d). To change the count, drain the queue and delete that key",
             h->name, recorded, key, h->nshards, recorded, recorded);
    free(key);
}

hworker_rc hw_check_own_shards(hworker *h, int record, char *err, size_t errlen)
{
    if (atomic_load(&h->shards_checked)) return HWORKER_OK;
    pthread_mutex_lock(&h->producer_lock);
    int recorded = 0;
    hworker_rc rc = settle_retrying(&h->producer, h->name, h->nshards, record, &recorded, err, errlen);
    pthread_mutex_unlock(&h->producer_lock);
    if (rc != HWORKER_OK) return rc;
    if (recorded == 0) return HWORKER_OK; /* nothing recorded, nothing to compare */
    if (recorded != h->nshards) {
        mismatch(h, recorded, err, errlen);
        return HWORKER_E_SHARDS;
    }
    atomic_store(&h->shards_checked, 1);
    return HWORKER_OK;
}

hworker_rc hworker_check_shards(hworker *h, int record, char *err, size_t errlen)
{
    HW_ERR_BUF(err, errlen);
    return hw_check_own_shards(h, record, err, errlen);
}

hworker_rc hw_queue_shards(hworker *h, hw_conn *c, const char *queue, int *shards, char *err, size_t errlen)
{
    *shards =
        strcmp(queue, h->name) == 0 && atomic_load(&h->shards_checked) ? h->nshards : cache_get(&h->follow_ups, queue);
    if (*shards == 0) {
        /* A queue nobody recorded is unsharded, and is recorded so: a
         * runner started later with more shards is refused instead of
         * leaving this job where none of its workers look. */
        hworker_rc rc = settle_retrying(c, queue, 1, 1, shards, err, errlen);
        if (rc != HWORKER_OK) return rc;
        cache_put(&h->follow_ups, queue, *shards);
    }
    return HWORKER_OK;
}

hworker_rc hw_follow_up_keys(hworker *h, hw_conn *c, const char *queue, hw_keys *keys, char *err, size_t errlen)
{
    int shards;
    hworker_rc rc = hw_queue_shards(h, c, queue, &shards, err, errlen);
    if (rc != HWORKER_OK) return rc;
    int shard = shards > 1 ? (int)(atomic_fetch_add(&h->next_shard, 1) % (unsigned)shards) : 0;
    hw_keys_make_shard(keys, queue, shard, shards);
    return 0;
}
