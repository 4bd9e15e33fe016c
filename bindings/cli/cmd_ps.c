/* hworker-lua ps: the live processes with workers, of one queue or of every
 * queue in the registry (docs/operations.md, "Processes"). */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

typedef struct ps_out {
    int json;
    long shown;
} ps_out;

static void json_field(const char *name, const char *v, int *first)
{
    printf("%s\"%s\":", *first ? "" : ",", name);
    *first = 0;
    if (v) cli_json_string(stdout, v, strlen(v));
    else fputs("null", stdout);
}

static int print_process(void *ud, const hworker_process_info *p)
{
    ps_out *o = ud;
    if (o->json) {
        int first = 1;
        putchar('{');
        json_field("id", p->id, &first);
        json_field("host", p->host, &first);
        printf(",\"pid\":%lld", p->pid);
        json_field("version", p->version, &first);
        json_field("queue", p->queue, &first);
        printf(",\"shards\":%d,\"threads\":%d,\"busy\":%d,\"started_at\":%lld,\"beat_at\":%lld,\"expires_at\":%lld",
               p->shards, p->threads, p->busy, p->started_at, p->beat_at, p->expires_at);
        json_field("job_file", p->job_file, &first);
        fputs(",\"running\":[", stdout);
        for (size_t i = 0; i < p->nrunning; i++) {
            int f = 1;
            printf("%s{", i ? "," : "");
            json_field("worker", p->running[i].worker, &f);
            json_field("id", p->running[i].id, &f);
            printf(",\"started_at\":%lld}", p->running[i].started_at);
        }
        puts("]}");
    } else {
        if (o->shown == 0)
            printf("%-32s %-20s %7s %5s %-20s %-20s %-8s %s\n", "ID", "QUEUE", "THREADS", "BUSY", "STARTED",
                   "LAST BEAT", "VERSION", "JOB FILE");
        char started[32], beat[32];
        printf("%-32s %-20s %7d %5d %-20s %-20s %-8s %s\n", p->id ? p->id : "-", p->queue ? p->queue : "-", p->threads,
               p->busy, cli_iso8601(p->started_at, started, sizeof started), cli_iso8601(p->beat_at, beat, sizeof beat),
               p->version ? p->version : "-", p->job_file ? p->job_file : "-");
        /* What each busy worker runs, under its process (at its last beat). */
        for (size_t i = 0; i < p->nrunning; i++) {
            char since[48];
            hw_buf line = {0};
            cli_text_field(&line, "running", p->running[i].id);
            cli_text_field(&line, "worker", p->running[i].worker);
            cli_text_field(&line, "since", cli_iso8601_ms(p->running[i].started_at, since, sizeof since));
            printf("  %s\n", line.data + 1);
            hw_buf_free(&line);
        }
    }
    o->shown++;
    return 0;
}

typedef struct each_queue {
    hworker *h;
    ps_out *out;
    int code;
} each_queue;

/* Lists queue `name`'s processes; 1 if Redis failed. */
static int ps_each(void *ud, const char *name)
{
    each_queue *e = ud;
    char err[512];
    hworker_rc rc = hworker_list_processes(e->h, name, print_process, e->out, err, sizeof err);
    if (rc != HWORKER_OK) {
        cli_error("ps", "%s", err);
        e->code = rc == HWORKER_E_INVALID ? CLI_USAGE : CLI_FAILED;
    }
    return 0;
}

int cmd_ps(int argc, char **argv)
{
    cli_redis redis = {0};
    int json = 0, npos;
    cli_opt opts[] = {CLI_REDIS_FLAGS(redis), {"json", OPT_FLAG, &json, 0}, {NULL, 0, NULL, 0}};
    const char *pos[1];
    if (cli_parse("ps", argc, argv, opts, pos, 1, &npos)) return CLI_USAGE;
    ps_out out = {json, 0};
    int code = CLI_OK;
    hworker *h = cli_open("ps", NULL, &redis, &code);
    if (h == NULL) return code;
    each_queue e = {h, &out, CLI_OK};
    char err[512];
    if (npos == 1) {
        ps_each(&e, pos[0]);
    } else if (hworker_list_queues(h, ps_each, &e, err, sizeof err) != HWORKER_OK) {
        cli_error("ps", "%s", err);
        e.code = CLI_FAILED;
    }
    hworker_free(h);
    if (e.code == CLI_OK && out.shown == 0 && !json) puts("no live process with workers");
    return e.code;
}
