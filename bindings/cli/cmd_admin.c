/* hworker-lua requeue, delete, destroy, check. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "conn.h"
#include "hworker_steps.h"
#include <hiredis/hiredis.h>

typedef int (*records_fn)(hworker *h, hworker_part part, int all, const char *const *ids, size_t n, long *count,
                          char *err, size_t errlen);

static int act_on_records(const char *cmd, const char *verb, records_fn fn, int argc, char **argv)
{
    const char *redis = NULL;
    int failed = 0, broken = 0, all = 0, shards = 1, code = CLI_OK;
    cli_opt opts[] = {{"redis", OPT_STRING, &redis, 0}, {"failed", OPT_FLAG, &failed, 0},
                      {"broken", OPT_FLAG, &broken, 0}, {"all", OPT_FLAG, &all, 0},
                      {"shards", OPT_INT, &shards, 0}, {NULL, 0, NULL, 0}};
    const char **pos = calloc((size_t)argc + 1, sizeof *pos);
    int npos;
    if (pos == NULL) return CLI_FAILED;
    if (cli_parse(cmd, argc, argv, opts, pos, argc, &npos)) { free(pos); return CLI_USAGE; }
    if (npos < 1) code = (cli_error(cmd, "a queue name is required: hworker-lua %s NAME --failed|--broken (--all | ID ...)", cmd), CLI_USAGE);
    else if (failed == broken) code = (cli_error(cmd, "say which records: --failed or --broken"), CLI_USAGE);
    else if (all == (npos > 1)) code = (cli_error(cmd, "give --all or job/record ids, not %s", all ? "both" : "neither"), CLI_USAGE);
    if (code != CLI_OK) { free(pos); return code; }
    hworker *h = cli_open_queue(cmd, pos[0], cli_redis_url(redis), shards, 0, &code);
    if (h == NULL) { free(pos); return code; }
    long count = 0;
    char err[512];
    if (fn(h, failed ? HWORKER_FAILED : HWORKER_BROKEN, all, pos + 1, (size_t)npos - 1, &count, err, sizeof err) != 0) {
        cli_error(cmd, "%s", err);
        code = CLI_FAILED;
    } else {
        printf("%s %ld %s record(s)\n", verb, count, failed ? "failed" : "broken");
    }
    hworker_free(h);
    free(pos);
    return code;
}

int cmd_requeue(int argc, char **argv) { return act_on_records("requeue", "requeued", hworker_requeue, argc, argv); }
int cmd_delete(int argc, char **argv) { return act_on_records("delete", "deleted", hworker_delete, argc, argv); }

int cmd_destroy(int argc, char **argv)
{
    const char *redis = NULL;
    int yes = 0, shards = 1, code = CLI_OK;
    cli_opt opts[] = {{"redis", OPT_STRING, &redis, 0}, {"yes", OPT_FLAG, &yes, 0}, {"shards", OPT_INT, &shards, 0},
                      {NULL, 0, NULL, 0}};
    const char *pos[1];
    int npos;
    if (cli_parse("destroy", argc, argv, opts, pos, 1, &npos)) return CLI_USAGE;
    if (npos != 1) { cli_error("destroy", "a queue name is required: hworker-lua destroy NAME --yes"); return CLI_USAGE; }
    if (!yes) {
        cli_error("destroy", "this deletes every job and record of queue %s: add --yes to confirm", pos[0]);
        return CLI_USAGE;
    }
    hworker *h = cli_open_queue("destroy", pos[0], cli_redis_url(redis), shards, 0, &code);
    if (h == NULL) return code;
    char err[512];
    if (hworker_destroy(h, err, sizeof err) != 0) {
        cli_error("destroy", "%s", err);
        code = CLI_FAILED;
    } else {
        printf("destroyed queue %s\n", pos[0]);
    }
    hworker_free(h);
    return code;
}

static redisReply *command(hworker *h, const char *a, const char *b, char *err, size_t errlen)
{
    const char *argv[3] = {a, b, NULL};
    return hworker_command(h, b ? 2 : 1, argv, NULL, err, errlen);
}

static void config_value(hworker *h, const char *name, char *out, size_t outlen)
{
    const char *argv[3] = {"CONFIG", "GET", name};
    redisReply *r = hworker_command(h, 3, argv, NULL, NULL, 0);
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2) snprintf(out, outlen, "%s", r->element[1]->str);
    else snprintf(out, outlen, "(unknown: CONFIG GET refused)");
    if (r) freeReplyObject(r);
}

int cmd_check(int argc, char **argv)
{
    const char *redis = NULL;
    int code = CLI_OK, npos;
    cli_opt opts[] = {{"redis", OPT_STRING, &redis, 0}, {NULL, 0, NULL, 0}};
    const char *pos[1];
    if (cli_parse("check", argc, argv, opts, pos, 0, &npos)) return CLI_USAGE;
    hworker *h = cli_open("check", NULL, cli_redis_url(redis), &code);
    if (h == NULL) return code;
    char err[512], version[64], role[32], aof[32], fsync[32], policy[64], maxmemory[64];
    redisReply *r = command(h, "INFO", "server", err, sizeof err);
    if (r == NULL || r->type != REDIS_REPLY_STRING) {
        cli_error("check", "%s", r ? r->str : err);
        if (r) freeReplyObject(r);
        hworker_free(h);
        return CLI_FAILED;
    }
    hw_info_field(r->str, "redis_version", version, sizeof version);
    freeReplyObject(r);
    r = command(h, "INFO", "replication", err, sizeof err);
    role[0] = '\0';
    if (r && r->type == REDIS_REPLY_STRING) hw_info_field(r->str, "role", role, sizeof role);
    if (r) freeReplyObject(r);
    config_value(h, "appendonly", aof, sizeof aof);
    config_value(h, "appendfsync", fsync, sizeof fsync);
    config_value(h, "maxmemory-policy", policy, sizeof policy);
    config_value(h, "maxmemory", maxmemory, sizeof maxmemory);
    printf("redis_version     %s\nrole              %s\nappendonly        %s\nappendfsync       %s\n"
           "maxmemory-policy  %s\nmaxmemory         %s\n", version, role, aof, fsync, policy, maxmemory);
    int major = 0, minor = 0, risks = 0;
    if (sscanf(version, "%d.%d", &major, &minor) == 2 && (major < 6 || (major == 6 && minor < 2))) {
        printf("error: Redis %s is too old: hworker needs 6.2 or later (BLMOVE, RPOP with a count)\n", version);
        risks++;
    }
    if (strcmp(aof, "yes") != 0) {
        printf("warning: appendonly is %s: acknowledged jobs can be lost if Redis restarts (set appendonly yes)\n", aof);
        risks++;
    }
    if (strcmp(policy, "noeviction") != 0) {
        printf("warning: maxmemory-policy is %s: Redis may evict queue keys (set noeviction)\n", policy);
        risks++;
    }
    if (strcmp(role, "master") != 0) {
        printf("warning: this Redis is a %s: point hworker at the primary\n", role[0] ? role : "server of unknown role");
        risks++;
    }
    if (risks == 0) printf("ok: the settings at-least-once needs are in place\n");
    hworker_free(h);
    return risks ? CLI_FAILED : CLI_OK;
}
