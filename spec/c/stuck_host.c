/* A host whose job code can get stuck in a C function: host.block(seconds)
 * sleeps without looking at the sandbox, as a host function that blocks on
 * I/O would, and host.note(text) prints "note: TEXT", so a spec sees each
 * call that acted. Used by spec/stuck_spec.lua.
 * Usage: stuck_host REDIS_URL NAME JOB_FILE TIMEOUT_S GRACE_S UNTIL
 * Runs one worker and one monitor until UNTIL jobs have reached an outcome
 * (succeeded + failed), or with UNTIL "running" until a job is in flight (at
 * most 60 s either way), then stops with GRACE_S and prints "stopped" once
 * hworker_stop has returned. */
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hworker.h"

static int host_block(lua_State *L)
{
    double seconds = luaL_checknumber(L, 1);
    struct timespec ts = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
    while (nanosleep(&ts, &ts) != 0) {}
    return 0;
}

static int host_note(lua_State *L)
{
    printf("note: %s\n", luaL_checkstring(L, 1));
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: %s REDIS_URL NAME JOB_FILE TIMEOUT_S GRACE_S WAIT_FOR_N\n", argv[0]);
        return 2;
    }
    char err[512];
    hworker_config cfg;
    hworker_config_init(&cfg);
    cfg.redis_url = argv[1];
    cfg.name = argv[2];
    cfg.job_file = argv[3];
    cfg.job_timeout = atof(argv[4]);
    int running = strcmp(argv[6], "running") == 0;
    long wait_for = atol(argv[6]);
    hworker *h = hworker_create(&cfg, err, sizeof err);
    if (h == NULL || hworker_register(h, "block", host_block, NULL, err, sizeof err) != 0 ||
        hworker_register(h, "note", host_note, NULL, err, sizeof err) != 0 ||
        hworker_start(h, 1, 1, err, sizeof err) != 0) {
        fprintf(stderr, "stuck_host: %s\n", err);
        return 1;
    }
    hworker_stats st = {0};
    for (int i = 0; i < 6000; i++) {
        if (hworker_get_stats(h, &st, err, sizeof err) == 0 &&
            (running ? st.inflight > 0 : st.succeeded + st.failed >= wait_for))
            break;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    printf("outcomes %lld\n", st.succeeded + st.failed);
    fflush(stdout);
    hworker_stop(h, atof(argv[5]));
    printf("stopped\n");
    fflush(stdout);
    hworker_free(h);
    return 0;
}
