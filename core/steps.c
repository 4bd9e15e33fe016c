/* Single steps (hworker_steps.h): the same scripts the threads run, sent
 * through the producer connection. */
#include <stdio.h>
#include <string.h>

#include "hworker_steps.h"
#include "errors.h"
#include "internal.h"
#include "timings.h"
#include "script_args.h"

/* Runs a step's script; an error reply is a failure too. Frees args. */
static redisReply *step(hworker *h, hw_script s, int nkeys, hw_args *args, const char *what, char *err, size_t errlen)
{
    redisReply *r = hw_producer_script(h, s, nkeys, args, what, err, errlen);
    hw_args_free(args);
    if (r && r->type == REDIS_REPLY_ERROR) {
        hw_conn_explain(&h->producer, r, what, err, errlen);
        freeReplyObject(r);
        r = NULL;
    }
    return r;
}

/* The keys of `shard`, or NULL with a message naming the range. */
static const hw_keys *shard_keys(const hworker *h, int shard, char *err, size_t errlen)
{
    if (shard >= 0 && shard < h->nshards) return &h->shard[shard];
    snprintf(err, errlen, "shard must be from 0 to %d: the queue has %d shard(s) (got %d)", h->nshards - 1, h->nshards,
             shard);
    return NULL;
}

hworker_rc hworker_step_claim(hworker *h, int shard, int n, const char *holder, hworker_claim_fn fn, void *ud,
                              char *err, size_t errlen)
{
    HW_ERR_BUF(err, errlen);
    const hw_keys *keys = shard_keys(h, shard, err, errlen);
    if (keys == NULL) return HWORKER_E_INVALID;
    if (n < 1 || n > 1000 || holder == NULL || strchr(holder, '|')) {
        return hw_fail(HWORKER_E_INVALID, err, errlen, "claim: n must be 1..1000 and the holder must not contain '|'");
    }
    hw_args args = {0};
    int nkeys = hw_claim_args(&args, keys, &h->cfg, n, holder, 0);
    redisReply *r = step(h, HW_SCRIPT_CLAIM, nkeys, &args, "cannot claim", err, errlen);
    if (r == NULL) return HWORKER_E_REDIS;
    /* The claims, then Redis's clock (an integer), which a step caller does
     * not need; or, held back by flow control, an integer first and no claim. */
    int held = r->elements > 0 && r->element[0]->type == REDIS_REPLY_INTEGER;
    for (size_t i = 0; i < r->elements && !held; i++)
        if (r->element[i]->type == REDIS_REPLY_STRING) fn(ud, r->element[i]->str, r->element[i]->len);
    freeReplyObject(r);
    return 0;
}

hworker_rc hworker_step_finish(hworker *h, int shard, const char *claim, size_t len, hworker_outcome outcome,
                               const char *reason, double retry_delay, int *applied, char *err, size_t errlen)
{
    HW_ERR_BUF(err, errlen);
    const hw_keys *keys = shard_keys(h, shard, err, errlen);
    if (keys == NULL) return HWORKER_E_INVALID;
    hw_args args = {0};
    int nkeys = hw_finish_args(&args, keys, &h->cfg);
    hw_finish_add(&args, (char)outcome, claim, len, reason, (long long)(retry_delay * 1000.0), -1);
    /* The outcome counts in the history; the host timed no run here. */
    hw_timings_acc none = {0};
    if (h->cfg.history) hw_timings_arg(&none, &args);
    redisReply *r = step(h, HW_SCRIPT_FINISH, nkeys, &args, "cannot report the outcome", err, errlen);
    if (r == NULL) return HWORKER_E_REDIS;
    *applied = r->elements > 0 && r->element[0]->integer == 1;
    freeReplyObject(r);
    return 0;
}

hworker_rc hworker_step_renew(hworker *h, int shard, const char *claim, size_t len, int *renewed, char *err,
                              size_t errlen)
{
    HW_ERR_BUF(err, errlen);
    const hw_keys *keys = shard_keys(h, shard, err, errlen);
    if (keys == NULL) return HWORKER_E_INVALID;
    hw_args args = {0};
    int nkeys = hw_renew_args(&args, keys, &h->cfg, 1); /* the caller reports nothing meanwhile */
    hw_args_add(&args, claim, len);
    redisReply *r = step(h, HW_SCRIPT_RENEW, nkeys, &args, "cannot renew", err, errlen);
    if (r == NULL) return HWORKER_E_REDIS;
    *renewed = r->elements > 0 ? (int)r->element[0]->integer : 0;
    freeReplyObject(r);
    return 0;
}

hworker_rc hworker_step_hand_back(hworker *h, int shard, const char *claim, size_t len, int *applied, char *err,
                                  size_t errlen)
{
    HW_ERR_BUF(err, errlen);
    const hw_keys *keys = shard_keys(h, shard, err, errlen);
    if (keys == NULL) return HWORKER_E_INVALID;
    hw_args args = {0};
    int nkeys = hw_handback_args(&args, keys);
    hw_args_add(&args, claim, len);
    redisReply *r = step(h, HW_SCRIPT_HANDBACK, nkeys, &args, "cannot hand back", err, errlen);
    if (r == NULL) return HWORKER_E_REDIS;
    *applied = r->integer == 1;
    freeReplyObject(r);
    return 0;
}

hworker_rc hworker_step_sweep(hworker *h, int shard, long batch, long *recovered, long *promoted, char *err,
                              size_t errlen)
{
    HW_ERR_BUF(err, errlen);
    const hw_keys *keys = shard_keys(h, shard, err, errlen);
    if (keys == NULL) return HWORKER_E_INVALID;
    hw_args args = {0};
    int nkeys = hw_sweep_args(&args, keys, &h->cfg, batch > 0 ? batch : 100);
    redisReply *r = step(h, HW_SCRIPT_RECOVER, nkeys, &args, "cannot sweep", err, errlen);
    if (r == NULL) return HWORKER_E_REDIS;
    *recovered = (long)r->element[0]->integer;
    *promoted = (long)r->element[1]->integer;
    freeReplyObject(r);
    return 0;
}
