/* The debugger (hworker_debugger, hworker-lua debug): a log line every
 * interval with the queue's sizes and the first ids of pending and in
 * flight, read through the handle's inspection calls. */
#include <stdio.h>

#include "errors.h"
#include "internal.h"

typedef struct id_list {
    hw_buf text;
    int n;
} id_list;

static int collect_id(void *ud, const hworker_entry *e)
{
    id_list *l = ud;
    hw_buf_addf(&l->text, "%s%s", l->n++ ? "," : "", e->id ? e->id : "(unparsable)");
    return 0;
}

int hw_debugger_run(hworker *h, double interval, char *err, size_t errlen)
{
    if (!(interval > 0))
        return hw_fail(HWORKER_E_INVALID, err, errlen, "debugger: interval must be > 0 seconds, not %g", interval);
    do {
        hworker_stats st;
        id_list pending = {{0}, 0}, inflight = {{0}, 0};
        char why[256];
        if (hworker_get_stats(h, &st, why, sizeof why) == 0 &&
            hworker_list(h, HWORKER_PENDING, 0, 10, collect_id, &pending, why, sizeof why) == 0 &&
            hworker_list(h, HWORKER_INFLIGHT, 0, 10, collect_id, &inflight, why, sizeof why) == 0) {
            hw_log(&h->log, HWORKER_LOG_INFO, "debug: pending %lld [%s%s] in flight %lld [%s%s]", st.pending,
                   pending.text.data ? pending.text.data : "", st.pending > 10 ? ",..." : "", st.inflight,
                   inflight.text.data ? inflight.text.data : "", st.inflight > 10 ? ",..." : "");
        } else {
            hw_log(&h->log, HWORKER_LOG_WARN, "debug: %s", why);
        }
        hw_buf_free(&pending.text);
        hw_buf_free(&inflight.text);
    } while (!hw_signal_wait(&h->stop, interval));
    return 0;
}
