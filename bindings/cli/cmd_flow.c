/* hworker-lua pause, resume and limit: a queue's flow control
 * (docs/flow-control.md). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"

void cli_print_flow(const hworker_stats *s)
{
    printf("paused       %s\n", s->paused ? "yes" : "no");
    if (s->concurrency > 0) printf("concurrency  %lld\n", s->concurrency);
    else printf("concurrency  none\n");
    if (s->rate > 0) printf("rate         %lld per %lld ms, burst %lld\n", s->rate, s->rate_period_ms, s->burst);
    else printf("rate         none\n");
    printf("per group    ");
    if (s->group_concurrency > 0) printf("concurrency %lld", s->group_concurrency);
    else printf("concurrency none");
    if (s->group_rate > 0)
        printf(", rate %lld per %lld ms, burst %lld", s->group_rate, s->group_rate_period_ms, s->group_burst);
    else printf(", rate none");
    printf(" (groups without their own)\n");
    if (s->events_cap > 0) printf("events       on, about %lld kept per shard\n", s->events_cap);
    else printf("events       off\n");
}

void cli_print_flow_json(const hworker_stats *s)
{
    printf("{\"paused\":%s,\"concurrency\":%lld,\"rate\":%lld,\"rate_period_ms\":", s->paused ? "true" : "false",
           s->concurrency, s->rate);
    if (s->rate > 0) printf("%lld", s->rate_period_ms);
    else printf("null");
    printf(",\"burst\":%lld,\"group_concurrency\":%lld,\"group_rate\":%lld,\"group_rate_period_ms\":", s->burst,
           s->group_concurrency, s->group_rate);
    if (s->group_rate > 0) printf("%lld", s->group_rate_period_ms);
    else printf("null");
    printf(",\"group_burst\":%lld,\"events\":%lld}", s->group_burst, s->events_cap);
}

static int set_paused(const char *cmd, int pause, int argc, char **argv)
{
    cli_redis redis = {0};
    int shards = 1, code = CLI_OK, npos;
    cli_opt opts[] = {CLI_REDIS_FLAGS(redis), {"shards", OPT_INT, &shards, 0}, {NULL, 0, NULL, 0}};
    const char *pos[1];
    if (cli_parse(cmd, argc, argv, opts, pos, 1, &npos)) return CLI_USAGE;
    if (npos != 1) {
        cli_error(cmd, "a queue name is required: hworker-lua %s NAME", cmd);
        return CLI_USAGE;
    }
    hworker *h = cli_open_queue(cmd, pos[0], &redis, shards, 0, &code);
    if (h == NULL) return code;
    char err[512];
    if ((pause ? hworker_pause(h, err, sizeof err) : hworker_resume(h, err, sizeof err)) != HWORKER_OK) {
        cli_error(cmd, "%s", err);
        code = CLI_FAILED;
    } else {
        printf("queue %s %s\n", pos[0], pause ? "paused" : "resumed");
    }
    hworker_free(h);
    return code;
}

int cmd_pause(int argc, char **argv) { return set_paused("pause", 1, argc, argv); }
int cmd_resume(int argc, char **argv) { return set_paused("resume", 0, argc, argv); }

/* A count flag: a whole number >= 0, or "none" for 0. */
static int parse_count(const char *flag, const char *text, long long *out)
{
    if (strcasecmp(text, "none") == 0) {
        *out = 0;
        return 0;
    }
    char *end;
    errno = 0;
    long long n = strtoll(text, &end, 10);
    if (errno || end == text || *end || n < 0) {
        cli_error("limit", "--%s takes a whole number >= 0, or none (got '%s')", flag, text);
        return -1;
    }
    *out = n;
    return 0;
}

static int print_limits(hworker *h, const char *name, int json)
{
    hworker_stats s;
    char err[512];
    if (hworker_get_stats(h, &s, err, sizeof err) != HWORKER_OK) {
        cli_error("limit", "%s", err);
        return CLI_FAILED;
    }
    if (json) {
        cli_print_flow_json(&s);
        printf("\n");
    } else {
        printf("queue        %s\n", name);
        cli_print_flow(&s);
    }
    return CLI_OK;
}

int cmd_limit(int argc, char **argv)
{
    cli_redis redis = {0};
    const char *concurrency = NULL, *rate = NULL, *burst = NULL, *group = NULL;
    int json = 0, shards = 1, code = CLI_OK, npos;
    cli_opt opts[] = {CLI_REDIS_FLAGS(redis),           {"concurrency", OPT_STRING, &concurrency, 0},
                      {"rate", OPT_STRING, &rate, 0},   {"burst", OPT_STRING, &burst, 0},
                      {"group", OPT_STRING, &group, 0}, {"json", OPT_FLAG, &json, 0},
                      {"shards", OPT_INT, &shards, 0},  {NULL, 0, NULL, 0}};
    const char *pos[2];
    if (cli_parse("limit", argc, argv, opts, pos, 2, &npos)) return CLI_USAGE;
    int ls = npos == 2 && strcmp(pos[0], "ls") == 0;
    if (npos < 1 || (npos == 2 && !ls)) {
        cli_error("limit", "usage: hworker-lua limit NAME [--concurrency N] [--rate R] [--burst B] | limit ls NAME");
        return CLI_USAGE;
    }
    const char *name = ls ? pos[1] : pos[0];
    int change = concurrency || rate || burst;
    if (ls && (change || group)) {
        cli_error("limit", "limit ls only prints the limits: drop --concurrency, --rate, --burst and --group");
        return CLI_USAGE;
    }
    if (group && !change) {
        cli_error("limit", "--group takes the group's limits: --concurrency, --rate, --burst");
        return CLI_USAGE;
    }
    hworker_limits want = {0};
    char err[512];
    long long n = 0;
    if (concurrency && parse_count("concurrency", concurrency, &n)) return CLI_USAGE;
    if (burst && parse_count("burst", burst, &want.burst)) return CLI_USAGE;
    if (rate && hworker_parse_rate(rate, &want.rate, &want.rate_period_ms, err, sizeof err) != HWORKER_OK) {
        cli_error("limit", "--rate: %s", err);
        return CLI_USAGE;
    }
    hworker *h = cli_open_queue("limit", name, &redis, shards, 0, &code);
    if (h == NULL) return code;
    if (group) {
        /* A group's limits are replaced whole: those not given are removed. */
        want.concurrency = n;
        hworker_rc rc = hworker_set_group_limits(h, group, &want, err, sizeof err);
        if (rc != HWORKER_OK) {
            cli_error("limit", "%s", err);
            hworker_free(h);
            return rc == HWORKER_E_INVALID ? CLI_USAGE : CLI_FAILED;
        }
    } else if (change) {
        /* Read, change the flags given, write: a flag left out keeps its value. */
        hworker_limits l;
        hworker_rc rc = hworker_get_limits(h, &l, NULL, err, sizeof err);
        if (rc == HWORKER_OK) {
            if (concurrency) l.concurrency = n;
            if (rate) {
                l.rate = want.rate;
                l.rate_period_ms = want.rate_period_ms;
            }
            if (burst) l.burst = want.burst;
            rc = hworker_set_limits(h, &l, err, sizeof err);
        }
        if (rc != HWORKER_OK) {
            cli_error("limit", "%s", err);
            hworker_free(h);
            return rc == HWORKER_E_INVALID ? CLI_USAGE : CLI_FAILED;
        }
    }
    code = print_limits(h, name, json);
    hworker_free(h);
    return code;
}
