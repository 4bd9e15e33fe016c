#include "due_wake.h"

#include <stdlib.h>
#include <string.h>

/* A due time is slept until this much past it: Redis time is read in whole
 * milliseconds, and a sweep a moment early would find nothing due. */
#define HW_DUE_SLACK 0.001
/* One poll() waits at most this long (its timeout is an int of ms). */
#define HW_WAKE_SLICE_MAX 3600.0
/* Without a pollable stop descriptor, the stop flag is looked at this often. */
#define HW_WAKE_SLICE_BLIND 0.1

void hw_due_wake_init(hw_due_wake *w, hworker *h)
{
    memset(w, 0, sizeof *w);
    hw_conn_init(&w->conn, &h->target, h->cfg.connect, h->cfg.connect_ud, &h->log, h->name, "monitor wake",
                 h->cfg.redis_timeout);
}

void hw_due_wake_free(hw_due_wake *w) { hw_conn_free(&w->conn); }

static void failed(hw_due_wake *w, hworker *h, const char *why)
{
    if (w->backoff == 0)
        hw_log(&h->log, HWORKER_LOG_WARN,
               "monitor: cannot listen for newly scheduled jobs (%s); until it can, a job scheduled sooner than "
               "the monitor's next sweep may start up to monitor_interval (%gs) late",
               why, h->cfg.monitor_interval);
    w->backoff = w->backoff == 0 ? 0.1 : w->backoff * 2;
    if (w->backoff > h->cfg.monitor_interval) w->backoff = h->cfg.monitor_interval;
    w->retry_at = hw_monotonic() + w->backoff;
    w->subscribed = 0;
    hw_conn_close(&w->conn);
}

void hw_due_wake_listen(hw_due_wake *w, hworker *h)
{
    if (w->subscribed || hw_monotonic() < w->retry_at) return;
    if (hw_conn_ensure(&w->conn, NULL) != 0) {
        failed(w, h, w->conn.errstr);
        return;
    }
    /* Every shard's scheduled channel, then the cron channel. */
    const char **channels = calloc((size_t)h->nshards + 1, sizeof *channels);
    if (channels == NULL) abort();
    for (int k = 0; k < h->nshards; k++) channels[k] = h->shard[k].key[HW_KEY_SCHEDULED];
    channels[h->nshards] = h->shard[0].key[HW_KEY_CRON];
    char why[300];
    int rc = hw_conn_subscribe(&w->conn, channels, h->nshards + 1, h->cfg.redis_timeout, why, sizeof why);
    free(channels);
    if (rc != 0) {
        failed(w, h, why);
        return;
    }
    if (w->backoff > 0) hw_log(&h->log, HWORKER_LOG_INFO, "monitor: listening for newly scheduled jobs again");
    w->backoff = 0;
    w->subscribed = 1;
}

/* Whether r is a message on the cron channel: the entries changed. */
static int cron_changed(const redisReply *r, hworker *h)
{
    return r->type == REDIS_REPLY_ARRAY && r->elements == 3 && r->element[0]->type == REDIS_REPLY_STRING &&
        strcmp(r->element[0]->str, "message") == 0 && r->element[1]->type == REDIS_REPLY_STRING &&
        strcmp(r->element[1]->str, h->shard[0].key[HW_KEY_CRON]) == 0;
}

/* The "due in N ms" of a published message, or -1 for any other reply. */
static double due_in(const redisReply *r)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 || r->element[0]->type != REDIS_REPLY_STRING ||
        strcmp(r->element[0]->str, "message") != 0 || r->element[2]->type != REDIS_REPLY_STRING)
        return -1;
    char *end;
    long long ms = strtoll(r->element[2]->str, &end, 10);
    if (end == r->element[2]->str || *end != '\0' || ms < 0) return -1;
    return (double)ms / 1000.0;
}

int hw_due_wake_sleep(hw_due_wake *w, hworker *h, double seconds)
{
    double deadline = hw_monotonic() + seconds;
    int stop_fd = hw_signal_fd(&h->stop);
    while (!hw_signal_raised(&h->stop)) {
        double now = hw_monotonic(), left = deadline - now;
        if (left <= 0) return 0;
        if (!w->subscribed) {
            hw_signal_wait(&h->stop, left);
            return 0;
        }
        if (left > HW_WAKE_SLICE_MAX) left = HW_WAKE_SLICE_MAX;
        if (stop_fd < 0 && left > HW_WAKE_SLICE_BLIND) left = HW_WAKE_SLICE_BLIND;
        redisReply *r = NULL;
        int rc = hw_link_next_reply(w->conn.link, stop_fd, left, &r);
        if (rc == 2) return 0;
        if (rc < 0) {
            failed(w, h, hw_link_error(w->conn.link));
            continue;
        }
        if (rc == 1) {
            if (cron_changed(r, h)) {
                freeReplyObject(r);
                return 1;
            }
            double in = due_in(r);
            freeReplyObject(r);
            if (in >= 0 && hw_monotonic() + in + HW_DUE_SLACK < deadline) deadline = hw_monotonic() + in + HW_DUE_SLACK;
        }
    }
    return 0;
}
