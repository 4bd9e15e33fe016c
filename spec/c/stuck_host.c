/* A host whose job code can get stuck in a C function: host.block(seconds)
 * sleeps without looking at the sandbox, as a host function that blocks on
 * I/O would, and host.note(text) prints "note: TEXT", so a spec sees each
 * call that acted. Used by spec/stuck_spec.lua.
 * Usage: stuck_host REDIS_URL NAME JOB_FILE TIMEOUT_S GRACE_S UNTIL
 * Runs one worker and one monitor until UNTIL jobs have reached an outcome
 * (succeeded + failed), with UNTIL "running" until a job is in flight, or
 * with UNTIL "blocked" until a job is inside host.block (at
 * most 60 s either way), then stops with GRACE_S and prints "stopped" once
 * hworker_stop has returned, and "freed" once hworker_free has. Log lines
 * print as "log: MSG", or as "log after free: MSG" if the engine still
 * called the callback once hworker_free had returned. With a 7th argument
 * "wait-threads", it then waits (at most 60 s) until a thread the engine
 * abandoned has ended, and prints "threads ended". */
#include <lauxlib.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hworker.h"

/* Upvalue 1 (the registration's ud): a flag set once a job is inside. */
static int host_block(lua_State *L)
{
    double seconds = luaL_checknumber(L, 1);
    atomic_store((atomic_int *)lua_touserdata(L, lua_upvalueindex(1)), 1);
    struct timespec ts = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
    while (nanosleep(&ts, &ts) != 0) {}
    return 0;
}

static void log_line(void *ud, hworker_log_level level, const char *msg)
{
    (void)level;
    atomic_int *freed = ud;
    printf("%s: %s\n", atomic_load(freed) ? "log after free" : "log", msg);
    fflush(stdout);
}

/* This process's threads, from /proc/self/status (0 if unreadable). */
static int thread_count(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL) return 0;
    char line[256];
    int n = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "Threads: %d", &n) == 1) break;
    fclose(f);
    return n;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000 * 1000};
    nanosleep(&ts, NULL);
}

static int host_note(lua_State *L)
{
    printf("note: %s\n", luaL_checkstring(L, 1));
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 7 && !(argc == 8 && strcmp(argv[7], "wait-threads") == 0)) {
        fprintf(stderr, "usage: %s REDIS_URL NAME JOB_FILE TIMEOUT_S GRACE_S WAIT_FOR_N [wait-threads]\n", argv[0]);
        return 2;
    }
    char err[512];
    hworker_config cfg;
    hworker_config_init(&cfg);
    cfg.redis_url = argv[1];
    cfg.name = argv[2];
    cfg.job_file = argv[3];
    cfg.job_timeout = atof(argv[4]);
    atomic_int freed = 0;
    cfg.log = log_line;
    cfg.log_ud = &freed;
    int running = strcmp(argv[6], "running") == 0, blocked_wanted = strcmp(argv[6], "blocked") == 0;
    atomic_int blocked = 0;
    long wait_for = atol(argv[6]);
    hworker *h = hworker_create(&cfg, err, sizeof err);
    if (h == NULL || hworker_register(h, "block", host_block, &blocked, err, sizeof err) != 0 ||
        hworker_register(h, "note", host_note, NULL, err, sizeof err) != 0 ||
        hworker_start(h, 1, 1, err, sizeof err) != 0) {
        fprintf(stderr, "stuck_host: %s\n", err);
        return 1;
    }
    hworker_stats st = {0};
    for (int i = 0; i < 6000; i++) {
        if (hworker_get_stats(h, &st, err, sizeof err) == 0 &&
            (blocked_wanted ? atomic_load(&blocked)
                 : running  ? st.inflight > 0
                            : st.succeeded + st.failed >= wait_for))
            break;
        sleep_ms(10);
    }
    printf("outcomes %lld\n", st.succeeded + st.failed);
    fflush(stdout);
    hworker_stop(h, atof(argv[5]));
    printf("stopped\n");
    fflush(stdout);
    hworker_free(h);
    atomic_store(&freed, 1);
    printf("freed\n");
    fflush(stdout);
    if (argc == 8) {
        /* Only the abandoned thread can end now (a sanitizer may keep a
         * thread of its own). */
        int with_it = thread_count();
        for (int i = 0; i < 6000 && thread_count() >= with_it; i++) sleep_ms(10);
        if (thread_count() < with_it) printf("threads ended\n");
    }
    return 0;
}
