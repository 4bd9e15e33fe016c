/* Single steps (hworker_steps.h): the same scripts the threads run, sent
 * through the producer connection. */
#include <stdio.h>
#include <string.h>

#include "hworker_steps.h"
#include "internal.h"

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

int hworker_step_claim(hworker *h, int n, const char *holder, hworker_claim_fn fn, void *ud, char *err, size_t errlen)
{
    if (n < 1 || n > 1000 || holder == NULL || strchr(holder, '|')) {
        snprintf(err, errlen, "claim: n must be 1..1000 and the holder must not contain '|'");
        return -1;
    }
    hw_args args = {0};
    hw_args_adds(&args, h->shard[0].key[HW_KEY_PENDING]);
    hw_args_adds(&args, h->shard[0].key[HW_KEY_INFLIGHT]);
    hw_args_adds(&args, h->shard[0].key[HW_KEY_SEQ]);
    hw_args_addll(&args, n);
    hw_args_addll(&args, (long long)(h->cfg.lease * 1000.0));
    hw_args_adds(&args, holder);
    redisReply *r = step(h, HW_SCRIPT_CLAIM, 3, &args, "cannot claim", err, errlen);
    if (r == NULL) return -1;
    for (size_t i = 0; i < r->elements; i++) fn(ud, r->element[i]->str, r->element[i]->len);
    freeReplyObject(r);
    return 0;
}

int hworker_step_finish(hworker *h, const char *claim, size_t len, hworker_outcome outcome, const char *reason,
                        double retry_delay, int *applied, char *err, size_t errlen)
{
    static const hw_key keys[] = {HW_KEY_PENDING, HW_KEY_INFLIGHT, HW_KEY_SCHEDULED, HW_KEY_FAILED,
                                  HW_KEY_BROKEN,  HW_KEY_STATS,    HW_KEY_UNIQUE};
    hw_args args = {0};
    for (size_t i = 0; i < 7; i++) hw_args_adds(&args, h->shard[0].key[keys[i]]);
    hw_args_addll(&args, h->cfg.failed_cap);
    hw_args_addll(&args, h->cfg.broken_cap);
    char o = (char)outcome;
    hw_args_add(&args, &o, 1);
    hw_args_add(&args, claim, len);
    hw_args_adds(&args, reason ? reason : "");
    hw_args_addll(&args, (long long)(retry_delay * 1000.0));
    redisReply *r = step(h, HW_SCRIPT_FINISH, 7, &args, "cannot report the outcome", err, errlen);
    if (r == NULL) return -1;
    *applied = r->elements > 0 && r->element[0]->integer == 1;
    freeReplyObject(r);
    return 0;
}

int hworker_step_renew(hworker *h, const char *claim, size_t len, int *renewed, char *err, size_t errlen)
{
    hw_args args = {0};
    hw_args_adds(&args, h->shard[0].key[HW_KEY_INFLIGHT]);
    hw_args_adds(&args, h->shard[0].key[HW_KEY_STATS]);
    hw_args_addll(&args, (long long)(h->cfg.lease * 1000.0));
    hw_args_adds(&args, "1"); /* the caller reports nothing meanwhile: gone is lost */
    hw_args_add(&args, claim, len);
    redisReply *r = step(h, HW_SCRIPT_RENEW, 2, &args, "cannot renew", err, errlen);
    if (r == NULL) return -1;
    *renewed = r->elements > 0 && r->element[0]->integer == 1;
    freeReplyObject(r);
    return 0;
}

int hworker_step_hand_back(hworker *h, const char *claim, size_t len, int *applied, char *err, size_t errlen)
{
    hw_args args = {0};
    hw_args_adds(&args, h->shard[0].key[HW_KEY_PENDING]);
    hw_args_adds(&args, h->shard[0].key[HW_KEY_INFLIGHT]);
    hw_args_adds(&args, h->shard[0].key[HW_KEY_STATS]);
    hw_args_add(&args, claim, len);
    redisReply *r = step(h, HW_SCRIPT_HANDBACK, 3, &args, "cannot hand back", err, errlen);
    if (r == NULL) return -1;
    *applied = r->integer == 1;
    freeReplyObject(r);
    return 0;
}

int hworker_step_sweep(hworker *h, long batch, long *recovered, long *promoted, char *err, size_t errlen)
{
    hw_args args = {0};
    hw_sweep_args(h, 0, &args, batch > 0 ? batch : 100);
    redisReply *r = step(h, HW_SCRIPT_RECOVER, HW_SWEEP_KEYS, &args, "cannot sweep", err, errlen);
    if (r == NULL) return -1;
    *recovered = (long)r->element[0]->integer;
    *promoted = (long)r->element[1]->integer;
    freeReplyObject(r);
    return 0;
}

struct redisReply *hworker_command(hworker *h, int argc, const char **argv, const size_t *lens, char *err,
                                   size_t errlen)
{
    return hw_producer_command(h, argc, argv, lens, "command failed", err, errlen);
}
