/* hworker-lua queue: enqueue JSON arguments, or JSON lines from stdin in
 * batches; each batch is checked whole before anything of it is sent. */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cli.h"
#include "hworker_steps.h"
#include "json.h"
#include "url.h"
#include <hiredis/hiredis.h>

/* Redis time in ms, so that --at is measured on the queue's clock. */
static long long redis_now_ms(hworker *h)
{
    const char *argv[] = {"TIME"};
    redisReply *r = hworker_command(h, 1, argv, NULL, NULL, 0);
    long long ms = -1;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2)
        ms = atoll(r->element[0]->str) * 1000 + atoll(r->element[1]->str) / 1000;
    if (r) freeReplyObject(r);
    return ms;
}

static int send_batch(hworker *h, size_t n, const char **json, const size_t *lens, double delay, int priority,
                      const char *group, const char *unique)
{
    char *ids = malloc(n * HWORKER_ID_SIZE);
    hworker_job *jobs = calloc(n ? n : 1, sizeof *jobs);
    char err[512];
    if (ids == NULL || jobs == NULL) {
        free(ids);
        free(jobs);
        return -1;
    }
    for (size_t i = 0; i < n; i++) jobs[i] = (hworker_job){json[i], lens[i], unique};
    hworker_enqueue_opts opts = HWORKER_ENQUEUE_OPTS_INIT;
    opts.delay = delay;
    opts.priority = priority;
    opts.group = group;
    long held = 0;
    opts.held = &held;
    int rc = hworker_enqueue(h, jobs, n, &opts, ids, err, sizeof err);
    free(jobs);
    if (rc == 0)
        for (size_t i = 0; i < n; i++) printf("%s\n", ids + i * HWORKER_ID_SIZE);
    else cli_error("queue", "%s", err);
    /* The id printed is the holder's: say so, on stderr, so that a script
     * reading ids still gets one. */
    if (rc == 0 && held > 0) cli_error("queue", "unique key \"%s\" is held by job %s: nothing was added", unique, ids);
    fflush(stdout);
    free(ids);
    return rc;
}

int cmd_queue(int argc, char **argv)
{
    cli_redis redis = {0};
    const char *at = NULL, *unique = NULL, *group = NULL;
    double in = -1;
    int batch = 1000, min_replicas = 0, shards = 1, priority = 0;
    cli_opt opts[] = {CLI_REDIS_FLAGS(redis),
                      {"in", OPT_NUMBER, &in, 0},
                      {"at", OPT_STRING, &at, 0},
                      {"batch", OPT_INT, &batch, 0},
                      {"unique", OPT_STRING, &unique, 0},
                      {"min-replicas", OPT_INT, &min_replicas, 0},
                      {"shards", OPT_INT, &shards, 0},
                      {"priority", OPT_INT, &priority, 0},
                      {"group", OPT_STRING, &group, 0},
                      {NULL, 0, NULL, 0}};
    const char **pos = calloc((size_t)argc + 1, sizeof *pos);
    int npos, code = CLI_OK;
    if (pos == NULL) return CLI_FAILED;
    if (cli_parse("queue", argc, argv, opts, pos, argc, &npos)) {
        free(pos);
        return CLI_USAGE;
    }
    if (npos < 1) {
        free(pos);
        cli_error("queue", "a queue name is required: hworker-lua queue NAME [JSON ...]");
        return CLI_USAGE;
    }
    /* "-" as the only job means stdin, as for cat. */
    if (npos == 2 && strcmp(pos[1], "-") == 0) npos = 1;
    if (priority < 0 || priority > 9) {
        free(pos);
        cli_error("queue", "--priority takes 0 (none) to 9 (first), not %d", priority);
        return CLI_USAGE;
    }
    if (in >= 0 && at) {
        free(pos);
        cli_error("queue", "give --in or --at, not both");
        return CLI_USAGE;
    }
    if (cli_seen(opts, "in") && in < 0) {
        free(pos);
        cli_error("queue", "--in must be >= 0 seconds");
        return CLI_USAGE;
    }
    if (batch < 1 || batch > 100000) {
        free(pos);
        cli_error("queue", "--batch must be from 1 to 100000");
        return CLI_USAGE;
    }
    long long at_ms = -1;
    if (at && (at_ms = cli_parse_iso8601(at)) < 0) {
        free(pos);
        cli_error("queue", "--at %s is not an ISO 8601 time (e.g. 2026-12-01T09:00:00Z or 2026-12-01T10:00:00+01:00)",
                  at);
        return CLI_USAGE;
    }
    if (min_replicas < 0) {
        free(pos);
        cli_error("queue", "--min-replicas must be >= 0");
        return CLI_USAGE;
    }
    hworker *h = cli_open_queue("queue", pos[0], &redis, shards, min_replicas, &code);
    if (h == NULL) {
        free(pos);
        return code;
    }
    double delay = in > 0 ? in : 0;
    if (at_ms >= 0) {
        long long now = redis_now_ms(h);
        if (now < 0) {
            char where[300];
            hw_url_redact(cli_redis_url(redis.url), where, sizeof where);
            cli_error("queue", "cannot read the time of Redis at %s", where);
            hworker_free(h);
            free(pos);
            return CLI_FAILED;
        }
        delay = at_ms > now ? (double)(at_ms - now) / 1000.0 : 0;
    }

    if (npos > 1) {
        /* JSON arguments: all or none. */
        size_t n = (size_t)npos - 1;
        size_t *lens = malloc(n * sizeof *lens);
        char why[200];
        for (size_t i = 0; i < n; i++) {
            lens[i] = strlen(pos[i + 1]);
            if (hw_json_check(pos[i + 1], lens[i], why, sizeof why)) {
                cli_error("queue", "argument %zu is not valid JSON: %s (nothing was enqueued)", i + 1, why);
                code = CLI_USAGE;
                break;
            }
        }
        if (code == CLI_OK && unique && n > 1) {
            cli_error("queue", "--unique names one job: give one JSON argument");
            code = CLI_USAGE;
        }
        if (code == CLI_OK && send_batch(h, n, pos + 1, lens, delay, priority, group, unique)) code = CLI_FAILED;
        free(lens);
        hworker_free(h);
        free(pos);
        return code;
    }

    if (unique) {
        cli_error("queue", "--unique names one job: give it as a JSON argument");
        hworker_free(h);
        free(pos);
        return CLI_USAGE;
    }
    /* JSON lines from stdin, in batches. */
    hw_buf text = {0};
    size_t *offsets = malloc((size_t)batch * sizeof *offsets), *lens = malloc((size_t)batch * sizeof *lens);
    const char **json = malloc((size_t)batch * sizeof *json);
    long line_no = 0, first_line = 1, sent = 0;
    size_t n = 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    for (;;) {
        got = getline(&line, &cap, stdin);
        if (got >= 0) {
            line_no++;
            while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r')) line[--got] = '\0';
            size_t start = 0;
            while ((ssize_t)start < got && (line[start] == ' ' || line[start] == '\t')) start++;
            if ((ssize_t)start == got) continue;
            char why[200];
            if (hw_json_check(line, (size_t)got, why, sizeof why)) {
                /* "line 1, column C" of this one line becomes the input's line. */
                const char *col = strstr(why, "column ");
                cli_error("queue", "stdin line %ld, %s; nothing from lines %ld-%ld was sent (%ld job(s) sent before)",
                          line_no, col ? col : why, first_line, line_no, sent);
                code = CLI_FAILED;
                break;
            }
            if (n == 0) first_line = line_no;
            offsets[n] = text.len;
            lens[n] = (size_t)got;
            hw_buf_add(&text, line, (size_t)got);
            n++;
        }
        if (n > 0 && (n == (size_t)batch || got < 0)) {
            for (size_t i = 0; i < n; i++) json[i] = text.data + offsets[i];
            if (send_batch(h, n, json, lens, delay, priority, group, NULL)) {
                code = CLI_FAILED;
                break;
            }
            sent += (long)n;
            n = 0;
            hw_buf_clear(&text);
        }
        if (got < 0) break;
    }
    free(line);
    free(offsets);
    free(lens);
    free(json);
    hw_buf_free(&text);
    hworker_free(h);
    free(pos);
    return code;
}
