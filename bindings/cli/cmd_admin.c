/* hworker-lua requeue, delete, destroy, check. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "hworker_steps.h"
#include "server_facts.h"

/* An id matched nothing: the others were still acted on. */
#define CLI_MISSING (-1)

typedef int (*records_fn)(hworker *h, hworker_part part, int all, const char *const *ids, size_t n, long *count,
                          char *err, size_t errlen);

static int act_on_records(const char *cmd, const char *verb, records_fn fn, int argc, char **argv)
{
    cli_redis redis = {0};
    int failed = 0, broken = 0, all = 0, shards = 1, code = CLI_OK;
    cli_opt opts[] = {CLI_REDIS_FLAGS(redis),     {"failed", OPT_FLAG, &failed, 0}, {"broken", OPT_FLAG, &broken, 0},
                      {"all", OPT_FLAG, &all, 0}, {"shards", OPT_INT, &shards, 0},  {NULL, 0, NULL, 0}};
    const char **pos = calloc((size_t)argc + 1, sizeof *pos);
    int npos;
    if (pos == NULL) return CLI_FAILED;
    if (cli_parse(cmd, argc, argv, opts, pos, argc, &npos)) {
        free(pos);
        return CLI_USAGE;
    }
    /* delete without a part deletes waiting jobs by id (cmd_job.c). */
    int waiting = fn == hworker_delete && !failed && !broken && !all;
    if (npos < 1)
        code = (cli_error(cmd, "a queue name is required: hworker-lua %s NAME --failed|--broken (--all | ID ...)", cmd),
                CLI_USAGE);
    else if (waiting && npos < 2)
        code = (cli_error(cmd, "name job ids to delete waiting jobs, or --failed or --broken records"), CLI_USAGE);
    else if (failed == broken && !waiting)
        code = (cli_error(cmd, "say which records: --failed or --broken"), CLI_USAGE);
    else if (all == (npos > 1))
        code = (cli_error(cmd, "give --all or job/record ids, not %s", all ? "both" : "neither"), CLI_USAGE);
    if (code != CLI_OK) {
        free(pos);
        return code;
    }
    hworker *h = cli_open_queue(cmd, pos[0], &redis, shards, 0, &code);
    if (h == NULL) {
        free(pos);
        return code;
    }
    long count = 0;
    char err[512];
    if (waiting) {
        code = cli_act_on_jobs(cmd, h, pos + 1, (size_t)npos - 1);
    } else {
        /* By id, one call each, so that an id that matches nothing is named
         * (and the exit status says so), as a typo should be. */
        const char *part = failed ? "failed" : "broken";
        size_t calls = all ? 1 : (size_t)npos - 1;
        for (size_t i = 0; i < calls && code != CLI_FAILED; i++) {
            long one = 0;
            if (fn(h, failed ? HWORKER_FAILED : HWORKER_BROKEN, all, all ? NULL : pos + 1 + i, all ? 0 : 1, &one, err,
                   sizeof err) != 0) {
                cli_error(cmd, "%s", err);
                code = CLI_FAILED;
                break;
            }
            if (!all && one == 0) {
                cli_error(cmd, "no %s record of %s: `hworker-lua %s %s` lists them", part, pos[1 + i], part, pos[0]);
                code = CLI_MISSING;
            }
            count += one;
        }
        if (code != CLI_FAILED) printf("%s %ld %s record(s)\n", verb, count, part);
        if (code == CLI_MISSING) code = CLI_FAILED;
    }
    hworker_free(h);
    free(pos);
    return code;
}

int cmd_requeue(int argc, char **argv) { return act_on_records("requeue", "requeued", hworker_requeue, argc, argv); }
int cmd_delete(int argc, char **argv) { return act_on_records("delete", "deleted", hworker_delete, argc, argv); }

int cmd_destroy(int argc, char **argv)
{
    cli_redis redis = {0};
    int yes = 0, shards = 1, code = CLI_OK;
    cli_opt opts[] = {
        CLI_REDIS_FLAGS(redis), {"yes", OPT_FLAG, &yes, 0}, {"shards", OPT_INT, &shards, 0}, {NULL, 0, NULL, 0}};
    const char *pos[1];
    int npos;
    if (cli_parse("destroy", argc, argv, opts, pos, 1, &npos)) return CLI_USAGE;
    if (npos != 1) {
        cli_error("destroy", "a queue name is required: hworker-lua destroy NAME --yes");
        return CLI_USAGE;
    }
    if (!yes) {
        cli_error("destroy", "this deletes every job and record of queue %s: add --yes to confirm", pos[0]);
        return CLI_USAGE;
    }
    hworker *h = cli_open_queue("destroy", pos[0], &redis, shards, 0, &code);
    if (h == NULL) return code;
    char err[512];
    if (hworker_delete_queue(h, err, sizeof err) != 0) {
        cli_error("destroy", "%s", err);
        code = CLI_FAILED;
    } else {
        printf("destroyed queue %s\n", pos[0]);
    }
    hworker_free(h);
    return code;
}

static void print_finding(void *ud, hw_finding_kind kind, const char *text)
{
    int *unknown = ud;
    if (kind == HW_FINDING_UNKNOWN) (*unknown)++;
    static const char *const label[] = {
        [HW_FINDING_ERROR] = "error", [HW_FINDING_RISK] = "warning", [HW_FINDING_UNKNOWN] = "unknown"};
    printf("%s: %s\n", label[kind], text);
}

static const char *or_unknown(const char *value) { return value[0] ? value : "(unknown)"; }

/* Exit 1 when a setting is known to put at-least-once at risk, or Redis is
 * too old; a setting the server will not tell (CONFIG GET refused, as on
 * managed services) is reported, but cannot fail the check. */
int cmd_check(int argc, char **argv)
{
    cli_redis redis = {0};
    int code = CLI_OK, npos;
    cli_opt opts[] = {CLI_REDIS_FLAGS(redis), {NULL, 0, NULL, 0}};
    const char *pos[1];
    if (cli_parse("check", argc, argv, opts, pos, 0, &npos)) return CLI_USAGE;
    hworker *h = cli_open("check", NULL, &redis, &code);
    if (h == NULL) return code;
    hw_server_facts f;
    char err[512];
    if (hw_server_facts_read(h, &f, err, sizeof err)) {
        cli_error("check", "%s", err);
        hworker_free(h);
        return CLI_FAILED;
    }
    printf("redis_version     %s\nrole              %s\nappendonly        %s\nappendfsync       %s\n"
           "maxmemory-policy  %s\nmaxmemory         %s\n",
           or_unknown(f.version), or_unknown(f.role), or_unknown(f.appendonly), or_unknown(f.appendfsync),
           or_unknown(f.maxmemory_policy), or_unknown(f.maxmemory));
    int unknown = 0, risks = hw_server_findings(&f, print_finding, &unknown);
    if (risks == 0 && unknown == 0) printf("ok: the settings at-least-once needs are in place\n");
    else if (risks == 0) printf("ok: no setting this server shows puts at-least-once at risk\n");
    hworker_free(h);
    return risks ? CLI_FAILED : CLI_OK;
}
