#include "cancel_watch.h"

#include <stdlib.h>
#include <string.h>

/* One poll() waits at most this long (its timeout is an int of ms). */
#define HW_WATCH_SLICE_MAX 3600.0
/* Without a pollable wake descriptor, the wake flag is looked at this often. */
#define HW_WATCH_SLICE_BLIND 0.1
/* Subscribing again after a failure waits from this long up to the lease
 * renewal interval, which makes up for missed messages meanwhile. */
#define HW_WATCH_BACKOFF_FIRST 0.1

void hw_cancel_watch_init(hw_cancel_watch *w, hworker *h)
{
    memset(w, 0, sizeof *w);
    hw_conn_init(&w->conn, &h->target, h->cfg.connect, h->cfg.connect_ud, &h->log, h->name, "cancel watch",
                 h->cfg.redis_timeout);
}

void hw_cancel_watch_free(hw_cancel_watch *w) { hw_conn_free(&w->conn); }

static void failed(hw_cancel_watch *w, hworker *h, const char *why)
{
    double most = h->cfg.lease / 3.0;
    /* A subscription that held for a renewal interval worked: start the
     * back-off afresh. One dropped at once (a pubsub output buffer limit,
     * say) goes on backing off, so a flapping connection costs a renewal
     * and a log line per back-off, not per tenth of a second. */
    if (w->subscribed && hw_monotonic() - w->subscribed_at >= most) w->backoff = 0;
    if (w->backoff == 0)
        hw_log(&h->log, HWORKER_LOG_WARN,
               "lease keeper: cannot listen for cancelled jobs (%s); until it can, a cancelled job is stopped at "
               "the next lease renewal (every %gs)",
               why, most);
    w->backoff = w->backoff == 0 ? HW_WATCH_BACKOFF_FIRST : w->backoff * 2;
    if (w->backoff > most) w->backoff = most;
    w->retry_at = hw_monotonic() + w->backoff;
    w->subscribed = 0;
    hw_conn_close(&w->conn);
}

/* Returns 1 when it subscribed now, 0 otherwise. */
static int listen(hw_cancel_watch *w, hworker *h)
{
    if (w->subscribed || hw_monotonic() < w->retry_at) return 0;
    if (hw_conn_ensure(&w->conn, NULL) != 0) {
        failed(w, h, w->conn.errstr);
        return 0;
    }
    const char **channels = calloc((size_t)h->nshards, sizeof *channels);
    if (channels == NULL) abort();
    for (int k = 0; k < h->nshards; k++) channels[k] = h->shard[k].key[HW_KEY_CANCELS];
    char why[300];
    int rc = hw_conn_subscribe(&w->conn, channels, h->nshards, h->cfg.redis_timeout, why, sizeof why);
    free(channels);
    if (rc != 0) {
        failed(w, h, why);
        return 0;
    }
    if (w->backoff > 0) hw_log(&h->log, HWORKER_LOG_INFO, "lease keeper: listening for cancelled jobs again");
    w->subscribed = 1;
    w->subscribed_at = hw_monotonic();
    return 1;
}

/* Marks the claim a published message names: ["message", channel, token]. */
static void on_message(hworker *h, const redisReply *r)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 || r->element[0]->type != REDIS_REPLY_STRING ||
        strcmp(r->element[0]->str, "message") != 0 || r->element[2]->type != REDIS_REPLY_STRING)
        return;
    const redisReply *token = r->element[2];
    if (token->len == 0 || memchr(token->str, '|', token->len) != NULL) return;
    if (hw_held_cancel(&h->held, token->str, token->len, hw_monotonic()) > 0)
        hw_log(&h->log, HWORKER_LOG_DEBUG, "lease keeper: claim %s was cancelled; stopping its job", token->str);
}

int hw_cancel_watch_sleep(hw_cancel_watch *w, hworker *h, double until)
{
    if (listen(w, h)) return 1;
    int wake_fd = hw_signal_fd(&h->keeper_wake);
    while (!hw_signal_raised(&h->keeper_wake)) {
        double left = until - hw_monotonic();
        if (left <= 0) return 0;
        if (!w->subscribed) {
            if (w->retry_at < until) left = w->retry_at - hw_monotonic();
            if (left > 0) hw_signal_wait(&h->keeper_wake, left);
            if (hw_monotonic() >= w->retry_at && listen(w, h)) return 1;
            continue;
        }
        if (left > HW_WATCH_SLICE_MAX) left = HW_WATCH_SLICE_MAX;
        if (wake_fd < 0 && left > HW_WATCH_SLICE_BLIND) left = HW_WATCH_SLICE_BLIND;
        redisReply *r = NULL;
        int rc = hw_link_next_reply(w->conn.link, wake_fd, left, &r);
        if (rc == 2) return 0;
        if (rc < 0) {
            failed(w, h, hw_link_error(w->conn.link));
            continue;
        }
        if (rc == 1) {
            on_message(h, r);
            freeReplyObject(r);
        }
    }
    return 0;
}
