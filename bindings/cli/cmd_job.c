/* hworker-lua cancel, run-now, and delete of waiting jobs by id: actions on
 * single jobs (hworker_cancel, hworker_run_now, hworker_delete_job). Each id
 * is acted on in turn; the exit status is 1 if any id matched no job. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

typedef hworker_rc (*job_fn)(hworker *h, const char *id, hworker_job_action *out, char *err, size_t errlen);

static void say(const char *cmd, const char *id, const hworker_job_action *done)
{
    if (strcmp(cmd, "cancel") == 0 && done->waiting == 0 && done->running == 0) {
        printf("cancelled %s already: its run is stopping\n", id);
    } else if (strcmp(cmd, "cancel") == 0) {
        printf("cancelled %s:", id);
        if (done->waiting > 0) printf(" %ld waiting copy(ies) removed", done->waiting);
        if (done->waiting > 0 && done->running > 0) printf(";");
        if (done->running > 0) printf(" %ld running execution(s) told to stop", done->running);
        printf("\n");
    } else if (strcmp(cmd, "delete") == 0) {
        printf("deleted %s: %ld waiting copy(ies)\n", id, done->waiting);
    } else {
        printf("moved %s to the front of its line: %ld waiting copy(ies)\n", id, done->waiting);
    }
}

int cli_act_on_jobs(const char *cmd, hworker *h, const char *const *ids, size_t n)
{
    job_fn fn = strcmp(cmd, "cancel") == 0 ? hworker_cancel
        : strcmp(cmd, "delete") == 0       ? hworker_delete_job
                                           : hworker_run_now;
    int code = CLI_OK;
    for (size_t i = 0; i < n; i++) {
        hworker_job_action done;
        char err[512];
        hworker_rc rc = fn(h, ids[i], &done, err, sizeof err);
        if (rc == HWORKER_OK) {
            say(cmd, ids[i], &done);
        } else {
            cli_error(cmd, "%s", err);
            code = CLI_FAILED;
        }
    }
    return code;
}

static int act_by_id(const char *cmd, int argc, char **argv)
{
    cli_redis redis = {0};
    int shards = 1, code = CLI_OK, npos;
    cli_opt opts[] = {CLI_REDIS_FLAGS(redis), {"shards", OPT_INT, &shards, 0}, {NULL, 0, NULL, 0}};
    const char **pos = calloc((size_t)argc + 1, sizeof *pos);
    if (pos == NULL) return CLI_FAILED;
    if (cli_parse(cmd, argc, argv, opts, pos, argc, &npos)) {
        free(pos);
        return CLI_USAGE;
    }
    if (npos < 2) {
        cli_error(cmd, "a queue name and at least one job id are required: hworker-lua %s NAME ID ...", cmd);
        free(pos);
        return CLI_USAGE;
    }
    hworker *h = cli_open_queue(cmd, pos[0], &redis, shards, 0, &code);
    if (h != NULL) {
        code = cli_act_on_jobs(cmd, h, pos + 1, (size_t)npos - 1);
        hworker_free(h);
    }
    free(pos);
    return code;
}

int cmd_cancel(int argc, char **argv) { return act_by_id("cancel", argc, argv); }
int cmd_run_now(int argc, char **argv) { return act_by_id("run-now", argc, argv); }
