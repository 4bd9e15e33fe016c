/* hworker-lua events NAME [--follow] [--new] [--json]: a queue's events
 * (hworker_events), and events NAME --enable [--cap N] | --disable to turn
 * them on or off (hworker_set_events). */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cli.h"
#include "log.h"

/* Events each read asks for; a follower waits this long per read. */
#define CLI_EVENTS_PAGE 1000
#define CLI_EVENTS_WAIT 5.0
#define CLI_EVENTS_DEFAULT_CAP 10000

/* Prints text from the stream with its control bytes escaped (any writer
 * of the stream may have put an escape sequence there), left-aligned in
 * `width` columns. */
static void print_text(const char *s, int width)
{
    hw_buf b = {0};
    hw_log_escape(&b, s, strlen(s));
    printf("%-*s", width, b.data ? b.data : "");
    hw_buf_free(&b);
}

static int print_event(void *ud, const hworker_event *e)
{
    const int *json = ud;
    if (*json) {
        printf("{\"entry\":\"%s\",\"time_ms\":%lld,\"shard\":%d,\"event\":", e->entry, e->time_ms, e->shard);
        cli_json_string(stdout, e->event, strlen(e->event));
        printf(",\"id\":");
        cli_json_string(stdout, e->job_id, strlen(e->job_id));
        printf(",\"attempt\":%ld", e->attempt);
        if (e->worker) {
            printf(",\"worker\":");
            cli_json_string(stdout, e->worker, strlen(e->worker));
        }
        if (e->reason) {
            printf(",\"reason\":");
            cli_json_string(stdout, e->reason, strlen(e->reason));
        }
        if (e->delay_ms >= 0) printf(",\"delay_ms\":%lld", e->delay_ms);
        if (e->due_ms >= 0) printf(",\"due_ms\":%lld", e->due_ms);
        printf("}\n");
        return 0;
    }
    char when[40];
    printf("%s ", cli_iso8601(e->time_ms, when, sizeof when));
    print_text(e->event, 11);
    printf(" ");
    print_text(e->job_id, 0);
    printf(" attempt %ld", e->attempt);
    if (e->worker) {
        printf(" on ");
        print_text(e->worker, 0);
    }
    if (e->delay_ms >= 0) printf(" in %lld ms", e->delay_ms);
    if (e->due_ms >= 0) printf(" due %s", cli_iso8601(e->due_ms, when, sizeof when));
    if (e->reason) {
        /* A reason is one line as the engine wrote it; its bytes are
         * printed escaped as JSON would, so no byte of it steers the
         * terminal. */
        printf(": ");
        cli_json_string(stdout, e->reason, strlen(e->reason));
    }
    printf("\n");
    return 0;
}

static int set_events(hworker *h, const char *name, int enable, int cap)
{
    char err[512];
    if (enable && (cap < 1 || cap > 1000000000)) {
        cli_error("events", "--cap must be 1 to 1000000000 events, not %d", cap);
        return CLI_USAGE;
    }
    if (hworker_set_events(h, enable ? cap : 0, err, sizeof err) != HWORKER_OK) {
        cli_error("events", "%s", err);
        return CLI_FAILED;
    }
    if (enable) printf("events of queue %s on: each shard keeps about %d\n", name, cap);
    else printf("events of queue %s off\n", name);
    return CLI_OK;
}

int cmd_events(int argc, char **argv)
{
    cli_redis redis = {0};
    int shards = 1, code = CLI_OK, npos, follow = 0, from_now = 0, json = 0, enable = 0, disable = 0;
    int cap = CLI_EVENTS_DEFAULT_CAP;
    cli_opt opts[] = {CLI_REDIS_FLAGS(redis),
                      {"shards", OPT_INT, &shards, 0},
                      {"follow", OPT_FLAG, &follow, 0},
                      {"new", OPT_FLAG, &from_now, 0},
                      {"json", OPT_FLAG, &json, 0},
                      {"enable", OPT_FLAG, &enable, 0},
                      {"disable", OPT_FLAG, &disable, 0},
                      {"cap", OPT_INT, &cap, 0},
                      {NULL, 0, NULL, 0}};
    const char *pos[1];
    if (cli_parse("events", argc, argv, opts, pos, 1, &npos)) return CLI_USAGE;
    if (npos != 1) {
        cli_error("events", "a queue name is required: hworker-lua events NAME [--follow] [--json]");
        return CLI_USAGE;
    }
    if (enable && disable) {
        cli_error("events", "give --enable or --disable, not both");
        return CLI_USAGE;
    }
    if ((enable || disable) && (follow || from_now || json)) {
        cli_error("events", "--%s turns events on or off; read them without it", enable ? "enable" : "disable");
        return CLI_USAGE;
    }
    if (cli_seen(opts, "cap") && !enable) {
        cli_error("events", "--cap goes with --enable");
        return CLI_USAGE;
    }
    hworker *h = cli_open_queue("events", pos[0], &redis, shards, 0, &code);
    if (h == NULL) return code;
    if (enable || disable) {
        code = set_events(h, pos[0], enable, cap);
        hworker_free(h);
        return code;
    }
    size_t size = HWORKER_EVENTS_CURSOR_SIZE(hworker_shards(h));
    char *cursor = calloc(1, size);
    if (cursor == NULL) abort();
    if (from_now) strcpy(cursor, "$");
    char err[512];
    char *before = calloc(1, size);
    if (before == NULL) abort();
    for (;;) {
        memcpy(before, cursor, size);
        if (hworker_events(h, cursor, size, CLI_EVENTS_PAGE, follow ? CLI_EVENTS_WAIT : 0, print_event, &json, err,
                           sizeof err) != HWORKER_OK) {
            cli_error("events", "%s", err);
            code = CLI_FAILED;
            break;
        }
        fflush(stdout);
        /* Without --follow, stop once a read brings nothing new. */
        if (!follow && strcmp(before, cursor) == 0) break;
    }
    free(before);
    free(cursor);
    hworker_free(h);
    return code;
}
