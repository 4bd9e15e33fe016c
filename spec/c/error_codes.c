/* For spec/error_codes_spec.lua: drives each public call into one kind of
 * failure and prints "case code message" per line, so the spec can check
 * the hworker_rc a host branches on, and that the message names the fix.
 * usage: error_codes REDIS_URL DEAD_URL QUEUE JOB_FILE */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <hiredis/hiredis.h>

#include "hworker.h"
#include "hworker_steps.h"

static void say(const char *what, int rc, const char *err) { printf("%s %d %s\n", what, rc, rc ? err : ""); }

static hworker *open_queue(const char *url, const char *name)
{
    hworker_config cfg;
    hworker_config_init(&cfg);
    cfg.redis_url = url;
    cfg.name = name;
    cfg.log_level = HWORKER_LOG_ERROR;
    cfg.redis_timeout = 1;
    char err[256];
    hworker *h = hworker_create(&cfg, err, sizeof err);
    if (h == NULL) fprintf(stderr, "create: %s\n", err);
    return h;
}

static int lua_nothing(lua_State *L)
{
    (void)L;
    return 0;
}

/* A host built against an older header: its struct ends before `trusted`. */
static void old_header(const char *url, const char *name)
{
    union {
        hworker_config cfg;
        unsigned char bytes[sizeof(hworker_config) + 16];
    } u;
    memset(&u, 0xAB, sizeof u);
    size_t old = offsetof(hworker_config, trusted);
    hworker_config_init_size(&u.cfg, old);
    int untouched = 1;
    for (size_t i = old; i < sizeof u.bytes; i++) untouched &= u.bytes[i] == 0xAB;
    printf("old_init size=%zu untouched=%d\n", u.cfg.size, untouched);
    u.cfg.redis_url = url;
    u.cfg.name = name;
    u.cfg.log_level = HWORKER_LOG_ERROR;
    char err[256] = "";
    hworker *h = hworker_create(&u.cfg, err, sizeof err);
    say("old_create", h ? 0 : -1, err);
    hworker_free(h);
    say("old_set_newer", hworker_config_set(&u.cfg, "sandbox", "trusted", err, sizeof err), err);
    say("old_set_known", hworker_config_set(&u.cfg, "lease", "7", err, sizeof err), err);
    printf("old_lease %g size=%zu\n", u.cfg.lease, u.cfg.size);

    hworker_config cfg;
    hworker_config_init(&cfg);
    cfg.name = name;
    cfg.size = 0;
    h = hworker_create(&cfg, err, sizeof err);
    say("create_unsized", h ? 0 : -1, err);
    cfg.size = sizeof cfg + 8;
    h = hworker_create(&cfg, err, sizeof err);
    say("create_newer", h ? 0 : -1, err);
}

int main(int argc, char **argv)
{
    if (argc != 5) return 2;
    const char *url = argv[1], *dead = argv[2], *name = argv[3], *job_file = argv[4];
    char err[512];
    for (int rc = 0; rc >= -9; rc--) printf("strerror %d %s\n", rc, hworker_strerror(rc));

    hworker_config cfg;
    hworker_config_init(&cfg);
    say("set_unknown", hworker_config_set(&cfg, "no_such_setting", "1", err, sizeof err), err);
    say("set_range", hworker_config_set(&cfg, "lease", "-3", err, sizeof err), err);
    old_header(url, name);

    hworker *h = open_queue(url, name);
    if (h == NULL) return 1;
    hworker_job bad = {"{nope", 5, NULL};
    say("enqueue_json", hworker_enqueue(h, &bad, 1, NULL, NULL, err, sizeof err), err);
    say("enqueue_json_noerr", hworker_enqueue(h, &bad, 1, NULL, NULL, NULL, 0), "");
    hworker_stats stats;
    say("shard_stats", hworker_get_shard_stats(h, 5, &stats, err, sizeof err), err);
    say("list_part", hworker_list(h, (hworker_part)9, 0, 10, NULL, NULL, err, sizeof err), err);
    say("requeue_none", hworker_requeue(h, HWORKER_FAILED, 0, NULL, 0, NULL, err, sizeof err), err);
    say("cancel_empty", hworker_cancel(h, "", NULL, err, sizeof err), err);
    say("cancel_none", hworker_cancel(h, "no-such-job", NULL, err, sizeof err), err);
    say("run_now_none", hworker_run_now(h, "no-such-job", NULL, err, sizeof err), err);
    say("step_shard_noerr", hworker_step_renew(h, 3, "x", 1, NULL, NULL, 0), "");
    say("register_name", hworker_register(h, "1bad", lua_nothing, NULL, err, sizeof err), err);
    say("debugger_interval", hworker_debugger(h, 0, err, sizeof err), err);
    say("start_counts", hworker_start(h, -1, 0, err, sizeof err), err);

    /* Stats into a struct shorter than this header's: nothing past it. */
    union {
        hworker_stats s;
        unsigned char bytes[sizeof(hworker_stats)];
    } st;
    memset(&st, 0xAB, sizeof st);
    size_t part = offsetof(hworker_stats, enqueued);
    int rc = hworker_get_stats_size(h, &st.s, part, err, sizeof err);
    int untouched = 1;
    for (size_t i = part; i < sizeof st.bytes; i++) untouched &= st.bytes[i] == 0xAB;
    printf("stats_short %d pending=%lld untouched=%d\n", rc, st.s.pending, untouched);

    hworker_set_job_file(h, "/nonexistent/job.lua", NULL, err, sizeof err);
    say("start_job_file", hworker_start(h, 1, 0, err, sizeof err), err);
    say("reload_job_file", hworker_reload(h, err, sizeof err), err);
    say("init_config_json", hworker_set_job_file(h, NULL, "{x", err, sizeof err), err);
    hworker_set_job_file(h, job_file, NULL, err, sizeof err);
    say("start", hworker_start(h, 1, 0, err, sizeof err), err);
    say("start_again", hworker_start(h, 1, 0, err, sizeof err), err);
    say("register_running", hworker_register(h, "late", lua_nothing, NULL, err, sizeof err), err);
    hworker_stop(h, 1);
    hworker_free(h);

    /* Another process recorded another shard count for the queue. */
    h = open_queue(url, name);
    const char *set[3] = {"SET", NULL, "3"};
    char key[300];
    snprintf(key, sizeof key, "hw:{%s}:shards", name);
    set[1] = key;
    redisReply *reply = hworker_command(h, 3, set, NULL, err, sizeof err);
    printf("set_shards %s\n", reply ? "ok" : err);
    if (reply) freeReplyObject(reply);
    hworker_job good = {"{}", 2, NULL};
    say("check_shards", hworker_check_shards(h, 0, err, sizeof err), err);
    say("enqueue_shards", hworker_enqueue(h, &good, 1, NULL, NULL, err, sizeof err), err);
    hworker_free(h);

    h = open_queue(dead, name);
    say("enqueue_dead", hworker_enqueue(h, &good, 1, NULL, NULL, err, sizeof err), err);
    say("stats_dead", hworker_get_stats(h, &stats, err, sizeof err), err);
    say("check_shards_dead", hworker_check_shards(h, 0, err, sizeof err), err);
    hworker_free(h);

    /* A write no replica confirms: there are none. */
    hworker_config_init(&cfg);
    cfg.redis_url = url;
    cfg.name = "error-codes-replicas";
    cfg.log_level = HWORKER_LOG_ERROR;
    cfg.min_replicas = 1;
    cfg.min_replicas_timeout = 0.05;
    h = hworker_create(&cfg, err, sizeof err);
    say("enqueue_replicas", hworker_enqueue(h, &good, 1, NULL, NULL, err, sizeof err), err);
    hworker_delete_queue(h, NULL, 0);
    hworker_free(h);
    return 0;
}
