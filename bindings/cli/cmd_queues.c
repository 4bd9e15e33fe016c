/* hworker-lua queues: every queue in the registry of queues, with its
 * sizes, whether it is paused, and its latency (docs/operations.md). */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "hworker_steps.h"

typedef struct queues_out {
    hworker *h; /* the registry's handle, for the shard counts */
    const cli_redis *redis;
    int json, code;
    long shown;
} queues_out;

static int print_queue(void *ud, const char *name)
{
    queues_out *o = ud;
    int code = CLI_OK;
    hworker *q = cli_open_queue("queues", name, o->redis, cli_recorded_shards(o->h, name), 0, &code);
    if (q == NULL) {
        o->code = code;
        return 0;
    }
    hworker_stats s;
    char err[512];
    if (hworker_get_stats(q, &s, err, sizeof err) != HWORKER_OK) {
        cli_error("queues", "%s", err);
        o->code = CLI_FAILED;
    } else if (o->json) {
        fputs("{\"name\":", stdout);
        cli_json_string(stdout, name, strlen(name));
        printf(",\"shards\":%d,\"pending\":%lld,\"inflight\":%lld,\"scheduled\":%lld,\"failed\":%lld,\"broken\":%lld,"
               "\"paused\":%s,\"latency_ms\":%lld}\n",
               hworker_shards(q), s.pending, s.inflight, s.scheduled, s.failed, s.broken, s.paused ? "true" : "false",
               s.latency_ms);
    } else {
        if (o->shown == 0)
            printf("%-24s %6s %10s %9s %10s %8s %8s %-6s %12s\n", "NAME", "SHARDS", "PENDING", "INFLIGHT", "SCHEDULED",
                   "FAILED", "BROKEN", "PAUSED", "LATENCY");
        printf("%-24s %6d %10lld %9lld %10lld %8lld %8lld %-6s %10.1f s\n", name, hworker_shards(q), s.pending,
               s.inflight, s.scheduled, s.failed, s.broken, s.paused ? "yes" : "no", (double)s.latency_ms / 1000.0);
    }
    o->shown++;
    hworker_free(q);
    return 0;
}

int cmd_queues(int argc, char **argv)
{
    cli_redis redis = {0};
    int json = 0, npos, code = CLI_OK;
    cli_opt opts[] = {CLI_REDIS_FLAGS(redis), {"json", OPT_FLAG, &json, 0}, {NULL, 0, NULL, 0}};
    if (cli_parse("queues", argc, argv, opts, NULL, 0, &npos)) return CLI_USAGE;
    hworker *h = cli_open("queues", NULL, &redis, &code);
    if (h == NULL) return code;
    queues_out out = {h, &redis, json, CLI_OK, 0};
    char err[512];
    if (hworker_list_queues(h, print_queue, &out, err, sizeof err) != HWORKER_OK) {
        cli_error("queues", "%s", err);
        out.code = CLI_FAILED;
    }
    hworker_free(h);
    if (out.code == CLI_OK && out.shown == 0 && !json) puts("no queue is registered");
    return out.code;
}
