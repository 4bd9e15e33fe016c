/* The handle's producer connection: enqueueing (one script call per batch,
 * ids made on the client), and any other command sent on it. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "hworker_steps.h"
#include "errors.h"
#include "group_key.h"
#include "internal.h"
#include "json.h"
#include "replica_wait.h"
#include "script_args.h"

/* Fills n ids (HWORKER_ID_SIZE apart) of HW_ID_LEN characters from
 * [0-9A-Za-z]: 17 of them carry 101 random bits, so ids never collide in
 * practice, and they are short because every pending job stores its id
 * (Redis memory per job was a target of issue 6). Letters and digits only:
 * an id is safe in a shell, a URL and a CLI argument (it never starts with
 * '-'). Random bytes of 248 and above are skipped, so every character is
 * equally likely. One getrandom call serves many ids: a system call per job
 * was a visible cost of batch enqueues. */
void hw_new_ids(char *ids, size_t n)
{
    static const char alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    unsigned char raw[4096];
    size_t have = 0, used = 0;
    for (size_t j = 0; j < n; j++) {
        char *id = ids + j * HWORKER_ID_SIZE;
        for (size_t i = 0; i < HW_ID_LEN;) {
            if (used == have) {
                size_t want = (n - j) * HW_ID_LEN + 16;
                if (want > sizeof raw) want = sizeof raw;
                ssize_t r = getrandom(raw, want, 0);
                have = r > 0 ? (size_t)r : 0;
                used = 0;
                continue;
            }
            unsigned char b = raw[used++];
            if (b < 248) id[i++] = alphabet[b % 62];
        }
        id[HW_ID_LEN] = '\0';
    }
}

redisReply *hw_producer_command(hworker *h, int argc, const char **argv, const size_t *lens, const char *what,
                                char *err, size_t errlen)
{
    pthread_mutex_lock(&h->producer_lock);
    redisReply *r = NULL;
    for (int attempt = 0; attempt < 2 && r == NULL; attempt++)
        if (hw_conn_ensure(&h->producer, NULL) == 0) r = hw_conn_command(&h->producer, argc, argv, lens);
    if (r == NULL) hw_conn_explain(&h->producer, NULL, what, err, errlen);
    pthread_mutex_unlock(&h->producer_lock);
    return r;
}

redisReply *hw_producer_script(hworker *h, hw_script s, int nkeys, hw_args *args, const char *what, char *err,
                               size_t errlen)
{
    pthread_mutex_lock(&h->producer_lock);
    redisReply *r = NULL;
    for (int attempt = 0; attempt < 2 && r == NULL; attempt++)
        if (hw_conn_ensure(&h->producer, NULL) == 0) r = hw_conn_script(&h->producer, s, nkeys, args);
    if (r == NULL) hw_conn_explain(&h->producer, NULL, what, err, errlen);
    pthread_mutex_unlock(&h->producer_lock);
    return r;
}

/* What Redis would refuse or store wrong, with the message a caller sees:
 * the delay and time, the priority, and each job's JSON. */
static hworker_rc check_enqueue(const hworker_enqueue_opts *o, size_t n, const char *const *json, const size_t *lens,
                                char *err, size_t errlen)
{
    if (!(o->delay >= 0) || !(o->at >= 0))
        return hw_fail(HWORKER_E_INVALID, err, errlen, "the delay and the run-at time must be >= 0 seconds");
    if (o->priority < 0 || o->priority > 9)
        return hw_fail(HWORKER_E_INVALID, err, errlen, "priority must be from 0 (none) to 9 (first), not %d",
                       o->priority);
    for (size_t i = 0; i < n; i++) {
        char why[200];
        if (json[i] == NULL || hw_json_check(json[i], lens[i], why, sizeof why)) {
            if (n == 1) snprintf(err, errlen, "the job is not valid JSON: %s", json[i] ? why : "NULL");
            else
                snprintf(err, errlen, "job %zu of %zu is not valid JSON: %s (nothing was enqueued)", i + 1, n,
                         json[i] ? why : "NULL");
            return HWORKER_E_INVALID;
        }
    }
    return HWORKER_OK;
}

hworker_rc hw_enqueue(hw_conn *conn, const hw_keys *keys, size_t n, const char *const *json, const size_t *lens,
                      const char *const *uniques, const hworker_enqueue_opts *o, char *ids, int *held_each,
                      int retry_once, char *err, size_t errlen)
{
    static const hworker_enqueue_opts defaults = HWORKER_ENQUEUE_OPTS_INIT;
    if (o == NULL) o = &defaults;
    double delay = o->delay, at = o->at;
    int priority = o->priority;
    if (n == 0) return HWORKER_OK;
    hworker_rc bad = check_enqueue(o, n, json, lens, err, errlen);
    if (bad != HWORKER_OK) return bad;
    char when[40];
    if (at > 0) snprintf(when, sizeof when, "@%lld", (long long)(at * 1000.0));
    else snprintf(when, sizeof when, "%lld", (long long)(delay * 1000.0));
    hw_args args = {0};
    int nkeys = hw_enqueue_args(&args, keys, when, priority, o->group);
    char *local_ids = ids ? NULL : malloc(n * HWORKER_ID_SIZE);
    char *out = ids ? ids : local_ids;
    if (out == NULL) abort();
    hw_new_ids(out, n);
    for (size_t i = 0; i < n; i++) {
        hw_args_add(&args, out + i * HWORKER_ID_SIZE, HW_ID_LEN);
        hw_args_adds(&args, uniques && uniques[i] ? uniques[i] : "");
        hw_args_add(&args, json[i], lens[i]);
    }
    hworker_rc rc = HWORKER_E_REDIS;
    for (int attempt = 0; attempt < (retry_once ? 2 : 1); attempt++) {
        if (hw_conn_ensure(conn, NULL)) {
            snprintf(err, errlen, "cannot enqueue: %s", conn->errstr);
            continue;
        }
        redisReply *r = hw_conn_script(conn, HW_SCRIPT_ENQUEUE, nkeys, &args);
        if (r == NULL) {
            /* The connection failed; the script may or may not have run.
             * Sending again may enqueue twice, never zero times. */
            hw_conn_explain(conn, NULL, "cannot enqueue", err, errlen);
            continue;
        }
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 0) {
            rc = HWORKER_OK; /* every job got the id made for it, already in out */
            if (held_each) memset(held_each, 0, n * sizeof *held_each);
        } else if (r->type == REDIS_REPLY_ARRAY && r->elements == n) {
            /* A job whose unique key was held gets the holder's id. */
            for (size_t i = 0; i < n; i++) {
                const char *got = r->element[i]->str ? r->element[i]->str : "";
                int held = strcmp(got, out + i * HWORKER_ID_SIZE) != 0;
                if (o && o->held && held) (*o->held)++;
                if (held_each) held_each[i] = held;
                snprintf(out + i * HWORKER_ID_SIZE, HWORKER_ID_SIZE, "%s", got);
            }
            rc = HWORKER_OK;
        } else {
            hw_conn_explain(conn, r, "cannot enqueue", err, errlen);
        }
        freeReplyObject(r);
        /* Acknowledged only once enough replicas have it: asynchronous
         * replication can lose a write the primary took (min_replicas). */
        if (rc == HWORKER_OK)
            rc = hw_conn_wait_replicas(conn, "enqueued, but not yet safe from a failover", err, errlen);
        break;
    }
    free(local_ids);
    hw_args_free(&args);
    return rc;
}

/* Where a batch goes: a queue, its shard count, and its keys when they are
 * this handle's (another queue's are made for the shard a batch needs). */
typedef struct target {
    const char *name;
    int nshards;
    const hw_keys *own;
} target;

static const hw_keys *target_keys(const target *t, int k, hw_keys *made)
{
    if (t->own) return &t->own[k];
    hw_keys_make_shard(made, t->name, k, t->nshards);
    return made;
}

/* The shard of job i of a batch whose turn is `rr`: its unique key's, if
 * it has one (so one key always meets the same unique hash). */
static int shard_for(int nshards, const char *const *uniques, size_t i, int rr)
{
    return uniques && uniques[i] && uniques[i][0] ? hw_shard_of_unique(uniques[i], nshards) : rr;
}

/* Enqueues on the producer connection (under its lock). When every job goes
 * to one shard it is one atomic script call; a batch whose unique keys fall
 * in several shards is sent as one atomic call per shard. `rr` is the shard
 * of the jobs without a unique key. */
static hworker_rc enqueue_on(hworker *h, const target *t, int rr, size_t n, const char *const *json, const size_t *lens,
                             const char *const *uniques, const hworker_enqueue_opts *o, char *ids, char *err,
                             size_t errlen)
{
    int first = rr, mixed = 0;
    for (size_t i = 0; t->nshards > 1 && uniques && i < n; i++) {
        int k = shard_for(t->nshards, uniques, i, rr);
        if (i == 0) first = k;
        else if (k != first) mixed = 1;
    }
    hworker_rc rc = HWORKER_OK;
    hw_keys made;
    pthread_mutex_lock(&h->producer_lock);
    if (!mixed) {
        const hw_keys *keys = target_keys(t, first, &made);
        rc = hw_enqueue(&h->producer, keys, n, json, lens, uniques, o, ids, NULL, 1, err, errlen);
        if (keys == &made) hw_keys_free(&made);
    } else {
        const char **sj = malloc(n * sizeof *sj), **su = malloc(n * sizeof *su);
        size_t *sl = malloc(n * sizeof *sl), *pos = malloc(n * sizeof *pos);
        char *sids = malloc(n * HWORKER_ID_SIZE);
        if (!sj || !su || !sl || !pos || !sids) abort();
        int done = 0;
        for (int k = 0; k < t->nshards && rc == 0; k++) {
            size_t m = 0;
            for (size_t i = 0; i < n; i++)
                if (shard_for(t->nshards, uniques, i, rr) == k) {
                    sj[m] = json[i];
                    sl[m] = lens[i];
                    su[m] = uniques[i];
                    pos[m++] = i;
                }
            if (m == 0) continue;
            const hw_keys *keys = target_keys(t, k, &made);
            rc = hw_enqueue(&h->producer, keys, m, sj, sl, su, o, sids, NULL, 1, err, errlen);
            if (keys == &made) hw_keys_free(&made);
            if (rc == 0) {
                done++;
                if (ids)
                    for (size_t j = 0; j < m; j++)
                        memcpy(ids + pos[j] * HWORKER_ID_SIZE, sids + j * HWORKER_ID_SIZE, HWORKER_ID_SIZE);
            } else if (done > 0) {
                size_t used = strlen(err);
                snprintf(err + used, errlen > used ? errlen - used : 0,
                         " (the jobs of %d other shard(s) were enqueued)", done);
            }
        }
        free(sj);
        free(su);
        free(sl);
        free(pos);
        free(sids);
    }
    pthread_mutex_unlock(&h->producer_lock);
    return rc;
}

/* A gathered call (enqueue_gather.h): the jobs of one key, in one script
 * call on the producer connection, to the first job's queue with its
 * options (the key's: the others share them). */
typedef struct gathered {
    hworker *h;
    const target *t;
    const hworker_enqueue_opts *o;
} gathered;

static hworker_rc send_gathered(void *ctx, hw_gather_req **reqs, size_t n, char *err, size_t errlen)
{
    const gathered *g = ctx;
    const char **json = malloc(n * sizeof *json), **uniques = malloc(n * sizeof *uniques);
    size_t *lens = malloc(n * sizeof *lens);
    int *held = malloc(n * sizeof *held);
    char *ids = malloc(n * HWORKER_ID_SIZE);
    if (!json || !uniques || !lens || !held || !ids) abort();
    int any_unique = 0;
    for (size_t i = 0; i < n; i++) {
        json[i] = reqs[i]->json;
        lens[i] = reqs[i]->len;
        uniques[i] = reqs[i]->unique;
        any_unique |= uniques[i] != NULL;
    }
    hworker_enqueue_opts o = *g->o;
    o.held = NULL;
    hw_keys made;
    const hw_keys *keys = target_keys(g->t, reqs[0]->key.shard, &made);
    pthread_mutex_lock(&g->h->producer_lock);
    hworker_rc rc =
        hw_enqueue(&g->h->producer, keys, n, json, lens, any_unique ? uniques : NULL, &o, ids, held, 1, err, errlen);
    pthread_mutex_unlock(&g->h->producer_lock);
    if (keys == &made) hw_keys_free(&made);
    /* Short of replicas, the jobs are in Redis all the same: their ids are
     * given, as a direct call gives them. */
    for (size_t i = 0; (rc == HWORKER_OK || rc == HWORKER_E_REPLICAS) && i < n; i++) {
        memcpy(reqs[i]->id, ids + i * HWORKER_ID_SIZE, HWORKER_ID_SIZE);
        reqs[i]->held = held[i];
    }
    free(json);
    free(uniques);
    free(lens);
    free(held);
    free(ids);
    return rc;
}

/* One job: checked alone (a bad one fails alone, with the message of a
 * direct call), then sent with the single-job enqueues of other threads
 * that wait at the time. */
static hworker_rc enqueue_one(hworker *h, const target *t, int rr, const hworker_job *job,
                              const hworker_enqueue_opts *o, char *id, char *err, size_t errlen)
{
    hworker_rc bad = check_enqueue(o, 1, &job->json, &job->len, err, errlen);
    if (bad != HWORKER_OK) return bad;
    int unique = job->unique && job->unique[0];
    gathered g = {h, t, o};
    hw_gather_req req = {
        .key = {t->name, o->delay, o->at, o->priority, o->group,
                unique && t->nshards > 1 ? hw_shard_of_unique(job->unique, t->nshards) : rr,
                !unique && !o->group && o->shard == HWORKER_SHARD_ANY},
        .json = job->json,
        .len = job->len,
        .unique = unique ? job->unique : NULL,
        .ctx = &g,
        .err = err,
        .errlen = errlen,
    };
    hworker_rc rc = hw_gather_enqueue(&h->gather, &req, send_gathered);
    if (rc == HWORKER_OK || rc == HWORKER_E_REPLICAS) {
        if (id) memcpy(id, req.id, HWORKER_ID_SIZE);
        if (o->held && req.held) *o->held = 1;
    }
    return rc;
}

/* The caller's options over the defaults: only the fields its struct has
 * (opts->size), so a host built against an older header keeps working. */
static hworker_rc read_opts(const hworker_enqueue_opts *opts, hworker_enqueue_opts *o, char *err, size_t errlen)
{
    *o = (hworker_enqueue_opts)HWORKER_ENQUEUE_OPTS_INIT;
    if (opts == NULL) return HWORKER_OK;
    if (opts->size < offsetof(hworker_enqueue_opts, delay))
        return hw_fail(HWORKER_E_INVALID, err, errlen,
                       "enqueue options: size must be sizeof(hworker_enqueue_opts) "
                       "(start from HWORKER_ENQUEUE_OPTS_INIT)");
    memcpy(o, opts, opts->size < sizeof *o ? opts->size : sizeof *o);
    o->size = sizeof *o;
    return HWORKER_OK;
}

/* Where the batch goes and the shard of its jobs without a unique key. */
static hworker_rc pick_target(hworker *h, const hworker_enqueue_opts *o, const char *const *uniques, size_t n,
                              target *t, int *rr, char *err, size_t errlen)
{
    if (o->queue) {
        if (o->shard != HWORKER_SHARD_ANY)
            return hw_fail(HWORKER_E_INVALID, err, errlen,
                           "enqueue options: shard picks a shard of this handle's queue; leave it at "
                           "HWORKER_SHARD_ANY for another queue");
        if (hw_queue_name_check(o->queue, strlen(o->queue), err, errlen)) return HWORKER_E_INVALID;
        t->name = o->queue;
        t->own = NULL;
        pthread_mutex_lock(&h->producer_lock);
        hworker_rc rc = hw_queue_shards(h, &h->producer, o->queue, &t->nshards, err, errlen);
        pthread_mutex_unlock(&h->producer_lock);
        if (rc != HWORKER_OK) return rc;
    } else {
        /* Once per handle: a producer with another shard count than the
         * queue's workers would put jobs where none of them looks. */
        hworker_rc rc = hw_check_own_shards(h, 1, err, errlen);
        if (rc != HWORKER_OK) return rc;
        *t = (target){h->name, h->nshards, h->shard};
    }
    if (o->group) {
        /* A group's jobs all wait in one shard, so its cap and its turns
         * are exact (docs/flow-control.md). */
        if (hw_group_key_check(o->group, 0, err, errlen)) return HWORKER_E_INVALID;
        if (o->priority != 0)
            return hw_fail(HWORKER_E_INVALID, err, errlen,
                           "enqueue options: a job has a group or a priority, not both (groups take turns; a "
                           "priority would jump them)");
        if (o->shard != HWORKER_SHARD_ANY)
            return hw_fail(HWORKER_E_INVALID, err, errlen,
                           "enqueue options: a group picks its own shard; leave shard at HWORKER_SHARD_ANY");
        for (size_t i = 0; t->nshards > 1 && uniques && i < n; i++)
            if (uniques[i] && uniques[i][0])
                return hw_fail(HWORKER_E_INVALID, err, errlen,
                               "enqueue options: job %zu has a unique key and a group, and queue '%s' is sharded: "
                               "each picks a shard, so use one of them (or an unsharded queue)",
                               i + 1, t->name);
        *rr = t->nshards > 1 ? hw_shard_of_unique(o->group, t->nshards) : 0;
        return HWORKER_OK;
    }
    if (o->shard == HWORKER_SHARD_ANY) {
        *rr = t->nshards > 1 ? (int)(atomic_fetch_add(&h->next_shard, 1) % (unsigned)t->nshards) : 0;
        return HWORKER_OK;
    }
    if (o->shard < 0 || o->shard >= t->nshards)
        return hw_fail(HWORKER_E_INVALID, err, errlen,
                       "enqueue options: shard must be HWORKER_SHARD_ANY or from 0 to %d (got %d)", t->nshards - 1,
                       o->shard);
    for (size_t i = 0; uniques && i < n; i++) {
        if (uniques[i] && uniques[i][0])
            return hw_fail(HWORKER_E_INVALID, err, errlen,
                           "enqueue options: job %zu has a unique key, which picks its own shard; leave "
                           "shard at HWORKER_SHARD_ANY",
                           i + 1);
    }
    *rr = o->shard;
    return HWORKER_OK;
}

hworker_rc hworker_enqueue(hworker *h, const hworker_job *jobs, size_t n, const hworker_enqueue_opts *opts, char *ids,
                           char *err, size_t errlen)
{
    HW_ERR_BUF(err, errlen);
    hworker_enqueue_opts o;
    hworker_rc rc = read_opts(opts, &o, err, errlen);
    if (rc != HWORKER_OK) return rc;
    if (o.held) *o.held = 0;
    const char **json = malloc((n ? n : 1) * sizeof *json);
    const char **uniques = malloc((n ? n : 1) * sizeof *uniques);
    size_t *lens = malloc((n ? n : 1) * sizeof *lens);
    if (!json || !uniques || !lens) abort();
    int any_unique = 0;
    for (size_t i = 0; i < n; i++) {
        json[i] = jobs[i].json;
        lens[i] = jobs[i].len;
        uniques[i] = jobs[i].unique;
        any_unique |= uniques[i] != NULL;
    }
    target t = {0};
    int rr = 0;
    rc = pick_target(h, &o, any_unique ? uniques : NULL, n, &t, &rr, err, errlen);
    if (rc == HWORKER_OK && n == 1) rc = enqueue_one(h, &t, rr, jobs, &o, ids, err, errlen);
    else if (rc == HWORKER_OK)
        rc = enqueue_on(h, &t, rr, n, json, lens, any_unique ? uniques : NULL, &o, ids, err, errlen);
    if (rc == HWORKER_OK && t.own) hw_queue_listed(h);
    free(json);
    free(uniques);
    free(lens);
    return rc;
}

/* hworker_command (hworker_steps.h): any command, on the producer's
 * connection like the other calls of this file. */
struct redisReply *hworker_command(hworker *h, int argc, const char **argv, const size_t *lens, char *err,
                                   size_t errlen)
{
    return hw_producer_command(h, argc, argv, lens, "command failed", err, errlen);
}
