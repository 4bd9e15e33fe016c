/* hworker-lua stats NAME --history [--since DURATION] [--period minute|hour]
 * [--json]: the queue's history buckets (hworker_history). */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cli.h"
#include "timings.h"

long long cli_duration_ms(const char *text)
{
    char *end;
    double v = strtod(text, &end);
    if (end == text || !(v > 0)) return -1;
    double unit = 1000;
    if (strcmp(end, "ms") == 0) unit = 1;
    else if (strcmp(end, "m") == 0 || strcmp(end, "min") == 0) unit = 60000;
    else if (strcmp(end, "h") == 0) unit = 3600000;
    else if (strcmp(end, "d") == 0) unit = 86400000;
    else if (*end != '\0' && strcmp(end, "s") != 0) return -1;
    double ms = v * unit;
    return ms >= 1 && ms < 1e15 ? (long long)ms : -1;
}

/* The upper bound of the bucket that holds the `percent`-th percentile
 * (nearest rank), as text ("<=25ms", "<=2.5s", ">300s"), or "-" with no
 * durations. */
static const char *percentile(const hworker_timing *t, long long percent, char *out, size_t outlen)
{
    if (t->count <= 0) return "-";
    /* The nearest rank, ceil(count * percent / 100), without overflow. */
    long long rank = t->count / 100 * percent + (t->count % 100 * percent + 99) / 100, seen = 0;
    for (int i = 0; i < HWORKER_TIMING_BUCKETS; i++) {
        seen = hw_count_add(seen, t->bucket[i]);
        if (seen < rank) continue;
        double bound = hworker_timing_bound(i);
        if (i == HWORKER_TIMING_BUCKETS - 1) snprintf(out, outlen, ">%gs", hworker_timing_bound(i - 1));
        else if (bound < 1) snprintf(out, outlen, "<=%gms", bound * 1000);
        else snprintf(out, outlen, "<=%gs", bound);
        return out;
    }
    return "-";
}

/* The output, kept until the history was read whole: an error then
 * prints its message alone, never half a table or a JSON document. */
typedef struct printer {
    int json, rows;
    hw_buf out;
} printer;

static void json_timing(hw_buf *o, const char *name, const hworker_timing *t)
{
    hw_buf_addf(o, "\"%s\":{\"count\":%lld,\"sum_us\":%lld,\"buckets\":[", name, t->count, t->sum_us);
    for (int i = 0; i < HWORKER_TIMING_BUCKETS; i++) hw_buf_addf(o, "%s%lld", i ? "," : "", t->bucket[i]);
    hw_buf_adds(o, "]}");
}

static int print_entry(void *ud, const hworker_history_entry *e)
{
    printer *p = ud;
    char when[32];
    cli_iso8601(e->start_ms, when, sizeof when);
    if (p->json) {
        hw_buf_addf(&p->out,
                    "%s{\"start\":\"%s\",\"start_ms\":%lld,\"processed\":%lld,\"succeeded\":%lld,\"retried\":%lld,"
                    "\"failed\":%lld,\"broken\":%lld,",
                    p->rows ? "," : "", when, e->start_ms, e->processed, e->succeeded, e->retried, e->failed,
                    e->broken);
        json_timing(&p->out, "wait", &e->wait);
        hw_buf_adds(&p->out, ",");
        json_timing(&p->out, "run", &e->run);
        hw_buf_adds(&p->out, "}");
    } else {
        char a[32], b[32], c[32], d[32];
        hw_buf_addf(&p->out, "%-20s %9lld %9lld %7lld %6lld %6lld  %9s %9s %9s %9s\n", when, e->processed, e->succeeded,
                    e->retried, e->failed, e->broken, percentile(&e->wait, 50, a, sizeof a),
                    percentile(&e->wait, 99, b, sizeof b), percentile(&e->run, 50, c, sizeof c),
                    percentile(&e->run, 99, d, sizeof d));
    }
    p->rows++;
    return 0;
}

int cli_print_history(const char *cmd, hworker *h, const char *since, const char *period, int json)
{
    long long period_ms = 0;
    long long since_ms = since ? cli_duration_ms(since) : -1;
    if (since && since_ms < 0) {
        cli_error(cmd, "--since takes a duration such as 90s, 30m, 6h or 7d, not \"%s\"", since);
        return CLI_USAGE;
    }
    if (period == NULL) period_ms = since_ms > 48 * 3600000LL ? 3600000 : 60000;
    else if (strcmp(period, "minute") == 0) period_ms = 60000;
    else if (strcmp(period, "hour") == 0) period_ms = 3600000;
    else {
        cli_error(cmd, "--period takes minute or hour, not \"%s\"", period);
        return CLI_USAGE;
    }
    if (since_ms < 0) since_ms = period_ms == 60000 ? 3600000 : 86400000;
    printer p = {json, 0, {0}};
    if (json) {
        hw_buf_addf(&p.out, "{\"period_s\":%lld,\"bounds_s\":[", period_ms / 1000);
        for (int i = 0; i < HWORKER_TIMING_BUCKETS - 1; i++)
            hw_buf_addf(&p.out, "%s%g", i ? "," : "", hworker_timing_bound(i));
        hw_buf_adds(&p.out, "],\"buckets\":[");
    } else {
        hw_buf_addf(&p.out, "%-20s %9s %9s %7s %6s %6s  %9s %9s %9s %9s\n",
                    period_ms == 60000 ? "minute (UTC)" : "hour (UTC)", "processed", "succeeded", "retried", "failed",
                    "broken", "wait p50", "wait p99", "run p50", "run p99");
    }
    char err[512];
    int code = CLI_OK;
    if (hworker_history(h, period_ms, since_ms, print_entry, &p, err, sizeof err) != HWORKER_OK) {
        cli_error(cmd, "%s", err);
        code = strstr(err, "since is") ? CLI_USAGE : CLI_FAILED;
    } else {
        if (json) hw_buf_adds(&p.out, "]}\n");
        fwrite(p.out.data, 1, p.out.len, stdout);
    }
    hw_buf_free(&p.out);
    return code;
}
