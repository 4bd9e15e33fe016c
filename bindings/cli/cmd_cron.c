/* hworker-lua cron: add, ls, rm and next for a queue's cron entries. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "cron_def.h"

static int cron_add(int argc, char **argv)
{
    cli_redis redis = {0};
    const char *tz = NULL, *missed = "one";
    int unique = 0, code = CLI_OK, npos;
    cli_opt opts[] = {CLI_REDIS_FLAGS(redis),
                      {"tz", OPT_STRING, &tz, 0},
                      {"missed", OPT_STRING, &missed, 0},
                      {"unique", OPT_FLAG, &unique, 0},
                      {NULL, 0, NULL, 0}};
    const char *pos[4];
    if (cli_parse("cron add", argc, argv, opts, pos, 4, &npos)) return CLI_USAGE;
    if (npos != 4) {
        cli_error("cron add",
                  "usage: hworker-lua cron add NAME ENTRY SCHEDULE JSON [--tz ZONE] "
                  "[--missed skip|one|all] [--unique]");
        return CLI_USAGE;
    }
    int m = hw_cron_missed_parse(missed);
    if (m < 0) {
        cli_error("cron add", "--missed takes skip, one or all (got '%s')", missed);
        return CLI_USAGE;
    }
    hworker *h = cli_open("cron add", pos[0], &redis, &code);
    if (h == NULL) return code;
    char err[512];
    hworker_rc rc = hworker_cron_add(h, pos[1], pos[2], pos[3], tz, (hworker_cron_missed)m, unique, err, sizeof err);
    if (rc != HWORKER_OK) {
        cli_error("cron add", "%s", err);
        code = rc == HWORKER_E_INVALID ? CLI_USAGE : CLI_FAILED;
    } else {
        printf("cron entry %s of queue %s: %s%s%s\n", pos[1], pos[0], pos[2], tz ? " in " : "", tz ? tz : "");
    }
    hworker_free(h);
    return code;
}

static int cron_rm(int argc, char **argv)
{
    cli_redis redis = {0};
    int code = CLI_OK, npos;
    cli_opt opts[] = {CLI_REDIS_FLAGS(redis), {NULL, 0, NULL, 0}};
    const char *pos[2];
    if (cli_parse("cron rm", argc, argv, opts, pos, 2, &npos)) return CLI_USAGE;
    if (npos != 2) {
        cli_error("cron rm", "usage: hworker-lua cron rm NAME ENTRY");
        return CLI_USAGE;
    }
    hworker *h = cli_open("cron rm", pos[0], &redis, &code);
    if (h == NULL) return code;
    char err[512];
    int removed = 0;
    if (hworker_cron_remove(h, pos[1], &removed, err, sizeof err) != HWORKER_OK) {
        cli_error("cron rm", "%s", err);
        code = CLI_FAILED;
    } else if (!removed) {
        cli_error("cron rm", "no cron entry '%s' in queue %s (cron ls lists them)", pos[1], pos[0]);
        code = CLI_FAILED;
    } else {
        printf("removed cron entry %s of queue %s\n", pos[1], pos[0]);
    }
    hworker_free(h);
    return code;
}

static int print_entry(void *ud, const hworker_cron_info *e)
{
    int json = *(int *)ud;
    if (json) {
        fputs("{\"entry\":", stdout);
        cli_json_string(stdout, e->entry, strlen(e->entry));
        fputs(",\"schedule\":", stdout);
        cli_json_string(stdout, e->schedule, strlen(e->schedule));
        fputs(",\"tz\":", stdout);
        cli_json_string(stdout, e->tz, strlen(e->tz));
        fputs(",\"job\":", stdout);
        cli_json_raw_or_string(stdout, e->job, e->job_len);
        printf(",\"missed\":\"%s\",\"unique\":%s,\"last_at\":%lld,\"next_at\":%lld,\"fired\":%lld,"
               "\"missed_count\":%lld,\"held\":%lld",
               hw_cron_missed_name(e->missed), e->unique ? "true" : "false", e->last_at, e->next_at, e->fired,
               e->missed_count, e->held);
        if (e->problem) {
            fputs(",\"problem\":", stdout);
            cli_json_string(stdout, e->problem, strlen(e->problem));
        }
        fputs("}\n", stdout);
    } else if (e->problem) {
        printf("%s  cannot run: %s\n", e->entry, e->problem);
    } else {
        char last[32], next[32];
        printf("%s  %s  %s  next %s  last %s  fired %lld  missed %lld (%s)  held %lld%s  %.*s\n", e->entry, e->schedule,
               e->tz, cli_iso8601(e->next_at, next, sizeof next), cli_iso8601(e->last_at, last, sizeof last), e->fired,
               e->missed_count, hw_cron_missed_name(e->missed), e->held, e->unique ? "  unique" : "", (int)e->job_len,
               e->job);
    }
    return 0;
}

static int cron_ls(int argc, char **argv)
{
    cli_redis redis = {0};
    int json = 0, code = CLI_OK, npos;
    cli_opt opts[] = {CLI_REDIS_FLAGS(redis), {"json", OPT_FLAG, &json, 0}, {NULL, 0, NULL, 0}};
    const char *pos[1];
    if (cli_parse("cron ls", argc, argv, opts, pos, 1, &npos)) return CLI_USAGE;
    if (npos != 1) {
        cli_error("cron ls", "usage: hworker-lua cron ls NAME [--json]");
        return CLI_USAGE;
    }
    hworker *h = cli_open("cron ls", pos[0], &redis, &code);
    if (h == NULL) return code;
    char err[512];
    if (hworker_cron_list(h, print_entry, &json, err, sizeof err) != HWORKER_OK) {
        cli_error("cron ls", "%s", err);
        code = CLI_FAILED;
    }
    fflush(stdout);
    hworker_free(h);
    return code;
}

static int cron_next(int argc, char **argv)
{
    cli_redis redis = {0};
    int count = 5, json = 0, code = CLI_OK, npos;
    cli_opt opts[] = {
        CLI_REDIS_FLAGS(redis), {"count", OPT_INT, &count, 0}, {"json", OPT_FLAG, &json, 0}, {NULL, 0, NULL, 0}};
    const char *pos[2];
    if (cli_parse("cron next", argc, argv, opts, pos, 2, &npos)) return CLI_USAGE;
    if (npos != 2) {
        cli_error("cron next", "usage: hworker-lua cron next NAME ENTRY [--count N]");
        return CLI_USAGE;
    }
    hworker *h = cli_open("cron next", pos[0], &redis, &code);
    if (h == NULL) return code;
    long long *at = malloc(sizeof *at * (count > 0 && count <= 1000 ? (size_t)count : 1));
    if (at == NULL) abort();
    char err[512];
    int n = 0;
    hworker_rc rc = hworker_cron_next(h, pos[1], count, at, &n, err, sizeof err);
    if (rc != HWORKER_OK) {
        cli_error("cron next", "%s", err);
        code = rc == HWORKER_E_INVALID ? CLI_USAGE : CLI_FAILED;
    }
    for (int i = 0; i < n; i++) {
        char text[32];
        if (json) printf("%lld\n", at[i]);
        else printf("%s\n", cli_iso8601(at[i], text, sizeof text));
    }
    free(at);
    hworker_free(h);
    return code;
}

int cmd_cron(int argc, char **argv)
{
    static const char *const actions[] = {"add", "ls", "rm", "next", NULL};
    if (argc < 1) {
        cli_error("cron", "an action is required: add, ls, rm or next (hworker-lua cron --help)");
        return CLI_USAGE;
    }
    if (strcmp(argv[0], "add") == 0) return cron_add(argc - 1, argv + 1);
    if (strcmp(argv[0], "ls") == 0) return cron_ls(argc - 1, argv + 1);
    if (strcmp(argv[0], "rm") == 0) return cron_rm(argc - 1, argv + 1);
    if (strcmp(argv[0], "next") == 0) return cron_next(argc - 1, argv + 1);
    const char *near = cli_nearest(argv[0], actions);
    if (near) cli_error("cron", "unknown action '%s' (did you mean '%s'?)", argv[0], near);
    else cli_error("cron", "unknown action '%s': add, ls, rm or next", argv[0]);
    return CLI_USAGE;
}
