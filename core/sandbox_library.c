/* The functions job code calls: the hworker table (success, retry,
 * failure, log, now, queue, sleep, version, sandbox), the host table of the
 * embedding program's functions, and the sandbox's print and xpcall. Each
 * one that can take long or call back into Lua checks the sandbox's limits
 * first. Runs on the thread that owns the state; nothing is shared. */
#include "sandbox_library.h"

#include <lauxlib.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "sandbox_limits.h"
#include "sandbox_results.h"
#include "stop_signal.h"
#include "text_cap.h"

/* Host functions are called through this trampoline, which checks for a
 * stop first. Upvalue 1 stays the host's ud (the documented contract);
 * upvalue 2 holds the function. */
typedef struct host_fn_box {
    lua_CFunction fn;
} host_fn_box;

static int call_host(lua_State *L)
{
    hw_sandbox_poll(L);
    const host_fn_box *box = lua_touserdata(L, lua_upvalueindex(2));
    return box->fn(L);
}

/* A handler's own fields on one line: at most this many, each key 1 to
 * HW_FIELD_KEY_MAX letters, digits or '_', and none of the engine's keys. */
#define HW_JOB_FIELDS_MAX 16
#define HW_FIELD_KEY_MAX 64

static const char *const engine_keys[] = {"worker", "job_id", "attempt", "outcome", "duration_ms", "delay_ms",
                                          "queue",  "ts",     "level",   "msg",     NULL};

/* A line of job text: the logger caps it and escapes control characters;
 * a NUL would end it early (it is formatted as a C string), so NULs are
 * written as \0 first. The running job's worker, id and attempt go with
 * it as fields, then `extra`, the handler's own. */
static void job_log(hw_sandbox *sb, hworker_log_level level, const char *msg, size_t len,
                    const hworker_log_field *extra, size_t nextra)
{
    hw_buf text = {0};
    if (memchr(msg, '\0', len) != NULL) {
        /* Copied only as far as the logger keeps (escaping at most doubles
         * it), so a huge message costs no huge copy outside the cap. */
        size_t keep = len > HW_TEXT_MAX / 2 - 64 ? HW_TEXT_MAX / 2 - 64 : len;
        hw_buf_add(&text, msg, keep);
        hw_sandbox_escape_nul(&text);
        if (keep < len) hw_buf_addf(&text, "... [truncated, %zu bytes in all]", len);
        msg = text.data;
        len = text.len;
    }
    int shown = (int)(len > INT_MAX / 2 ? INT_MAX / 2 : len);
    const hw_job_meta *m = sb->meta;
    if (m == NULL) {
        hw_log_fields(sb->env->log, level, extra, nextra, "job: %.*s", shown, msg);
    } else {
        char attempt[24];
        snprintf(attempt, sizeof attempt, "%ld", m->attempt);
        hworker_log_field f[3 + HW_JOB_FIELDS_MAX] = {
            {"worker", m->worker ? m->worker : "", 0}, {"job_id", m->id, 0}, {"attempt", attempt, 1}};
        for (size_t i = 0; i < nextra; i++) f[3 + i] = extra[i];
        hw_log_fields(sb->env->log, level, f, 3 + nextra, "job %s: %.*s", m->id, shown, msg);
    }
    hw_buf_free(&text);
}

/* Checks hworker.log's fields table (at index idx) and counts its
 * fields; raises a Lua error that names what to fix. It allocates nothing,
 * so an error leaks nothing; at most HW_JOB_FIELDS_MAX + 1 entries are
 * visited. */
static size_t check_fields(lua_State *L, int idx)
{
    size_t n = 0;
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        if (n++ == HW_JOB_FIELDS_MAX) luaL_error(L, "hworker.log: at most %d fields on a line", HW_JOB_FIELDS_MAX);
        size_t klen = 0;
        const char *key = lua_type(L, -2) == LUA_TSTRING ? lua_tolstring(L, -2, &klen) : NULL;
        int ok = key != NULL && klen >= 1 && klen <= HW_FIELD_KEY_MAX;
        for (size_t i = 0; ok && i < klen; i++) {
            char ch = key[i];
            ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_';
        }
        if (!ok)
            return (size_t)luaL_error(L, "hworker.log: a field's key is 1 to %d letters, digits or '_'",
                                      HW_FIELD_KEY_MAX);
        for (int i = 0; engine_keys[i]; i++)
            if (strcmp(key, engine_keys[i]) == 0) luaL_error(L, "hworker.log: the field %s is the engine's own", key);
        int t = lua_type(L, -1);
        if (t != LUA_TSTRING && t != LUA_TNUMBER && t != LUA_TBOOLEAN)
            luaL_error(L, "hworker.log: the field %s is a %s: a field is a string, a number or a boolean", key,
                       luaL_typename(L, -1));
        lua_pop(L, 1);
    }
    return n;
}

/* Copies the checked fields into f, their keys and values into bufs. */
static size_t read_fields(lua_State *L, int idx, hworker_log_field *f, hw_buf *keys, hw_buf *vals)
{
    size_t n = 0;
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        size_t klen, vlen;
        const char *key = lua_tolstring(L, -2, &klen);
        int unquoted = 1;
        if (lua_type(L, -1) == LUA_TSTRING) {
            unquoted = 0;
            const char *v = lua_tolstring(L, -1, &vlen);
            hw_text_add_capped_at(&vals[n], v, vlen, HW_LOG_FIELD_MAX);
            hw_sandbox_escape_nul(&vals[n]);
        } else if (lua_type(L, -1) == LUA_TNUMBER) {
            double v = (double)lua_tonumber(L, -1);
            unquoted = isfinite(v);
            if (unquoted) hw_buf_addf(&vals[n], "%.14g", v);
            else hw_buf_adds(&vals[n], v != v ? "nan" : v > 0 ? "inf" : "-inf");
        } else {
            hw_buf_adds(&vals[n], lua_toboolean(L, -1) ? "true" : "false");
        }
        hw_buf_adds(&vals[n], "");
        hw_buf_add(&keys[n], key, klen);
        hw_buf_adds(&keys[n], "");
        f[n] = (hworker_log_field){keys[n].data, vals[n].data, unquoted};
        n++;
        lua_pop(L, 1);
    }
    return n;
}

/* hworker.log(level, msg [, fields]). Time, memory and stack: the fields
 * are visited twice, at most HW_JOB_FIELDS_MAX each, and copied cut to
 * HW_FIELD_KEY_MAX and HW_LOG_FIELD_MAX bytes (NULs written as \0 at most
 * double a value: well under 100 KB in all, freed before it returns); the
 * message is capped by the logger. A line below the log level copies
 * nothing. */
static int l_log(lua_State *L)
{
    hw_sandbox *sb = hw_sandbox_of(L);
    hw_sandbox_check_stop(L);
    int level = luaL_checkoption(L, 1, NULL, hw_log_level_names);
    if (level > HWORKER_LOG_ERROR) return luaL_argerror(L, 1, "a line's level is debug, info, warn or error");
    size_t len;
    const char *msg = luaL_checklstring(L, 2, &len);
    if (lua_isnoneornil(L, 3)) {
        job_log(sb, (hworker_log_level)level, msg, len, NULL, 0);
        return 0;
    }
    luaL_checktype(L, 3, LUA_TTABLE);
    check_fields(L, 3);
    if (!hw_log_wants(sb->env->log, (hworker_log_level)level)) return 0;
    hworker_log_field f[HW_JOB_FIELDS_MAX];
    hw_buf keys[HW_JOB_FIELDS_MAX] = {{0}}, vals[HW_JOB_FIELDS_MAX] = {{0}};
    size_t n = read_fields(L, 3, f, keys, vals);
    job_log(sb, (hworker_log_level)level, msg, len, f, n);
    for (size_t i = 0; i < n; i++) {
        hw_buf_free(&keys[i]);
        hw_buf_free(&vals[i]);
    }
    return 0;
}

/* print(...) goes to the logger at level info, as tostring() would show it. */
int hw_sandbox_print(lua_State *L)
{
    hw_sandbox *sb = hw_sandbox_of(L);
    hw_sandbox_poll(L); /* it calls tostring, which may call back into Lua */
    int n = lua_gettop(L);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int i = 1; i <= n; i++) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, sb->ref_tostring);
        lua_pushvalue(L, i);
        lua_call(L, 1, 1);
        if (!lua_isstring(L, -1)) return luaL_error(L, "'tostring' must return a string to 'print'");
        if (i > 1) luaL_addchar(&b, '\t');
        luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
    size_t len;
    const char *msg = lua_tolstring(L, -1, &len);
    job_log(sb, HWORKER_LOG_INFO, msg, len, NULL, 0);
    return 0;
}

/* Wall clock in ms, with a fraction (microseconds): enough to time
 * sub-millisecond pick-up latencies. */
static int l_now(lua_State *L)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    lua_pushnumber(L, (lua_Number)ts.tv_sec * 1000.0 + (lua_Number)ts.tv_nsec / 1e6);
    return 1;
}

/* hworker.sleep(seconds): waits in small steps so that the time limit, a
 * lost lease and shutdown still stop the job. */
static int l_sleep(lua_State *L)
{
    hw_sandbox *sb = hw_sandbox_of(L);
    double seconds = luaL_checknumber(L, 1);
    double until = hw_monotonic() + (seconds > 0 ? seconds : 0);
    for (;;) {
        hw_stop_reason why = hw_sandbox_pending_stop(sb);
        if (why != HW_STOP_NONE) return hw_sandbox_raise_stop(L, sb, why);
        double left = until - hw_monotonic();
        if (left <= 0) return 0;
        double step = left < 0.01 ? left : 0.01;
        struct timespec ts = {(time_t)step, (long)((step - (double)(time_t)step) * 1e9)};
        nanosleep(&ts, NULL);
    }
}

static int l_queue(lua_State *L)
{
    hw_sandbox *sb = hw_sandbox_of(L);
    hw_sandbox_check_stop(L);
    size_t queue_len;
    const char *queue = luaL_checklstring(L, 1, &queue_len);
    luaL_checkany(L, 2);
    if (sb->queue == NULL)
        return luaL_error(L, "hworker.queue: not available while the job file is only being checked");
    lua_rawgeti(L, LUA_REGISTRYINDEX, sb->ref_encode);
    lua_pushvalue(L, 2);
    lua_call(L, 1, 1);
    size_t len;
    const char *json = lua_tolstring(L, -1, &len);
    char id[HWORKER_ID_SIZE], err[512];
    if (sb->queue(sb->queue_ud, queue, queue_len, json, len, id, err, sizeof err) != 0)
        return luaL_error(L, "hworker.queue: %s", err);
    lua_pushstring(L, id);
    return 1;
}

/* xpcall(f, handler, ...): LuaJIT runs a message handler at the point of
 * the error, and an error raised by our stop hook is raised while the hook
 * is still active, so no hook would fire inside the handler: a handler that
 * loops could never be stopped. This xpcall calls the handler after the
 * stack has unwound, where the time limit applies as everywhere else (the
 * handler sees the error value, without the frames of the failed call). */
int hw_sandbox_xpcall(lua_State *L)
{
    hw_sandbox_poll(L); /* each nested xpcall deepens the C stack */
    hw_sandbox *sb = hw_sandbox_of(L);
    int n = lua_gettop(L);
    luaL_checkany(L, 2);
    lua_pushvalue(L, 1);
    for (int i = 3; i <= n; i++) lua_pushvalue(L, i);
    if (lua_pcall(L, n - 2, LUA_MULTRET, 0) == 0) {
        lua_pushboolean(L, 1);
        lua_insert(L, n + 1);
        return lua_gettop(L) - n;
    }
    if (sb->stopped != HW_STOP_NONE) return lua_error(L); /* the job is being stopped */
    lua_pushvalue(L, 2);
    lua_insert(L, -2);
    if (lua_pcall(L, 1, 1, 0) != 0) {
        if (sb->stopped != HW_STOP_NONE) return lua_error(L);
        lua_pop(L, 1);
        lua_pushliteral(L, "error in error handling");
    }
    lua_pushboolean(L, 0);
    lua_insert(L, -2);
    return 2;
}

void hw_sandbox_open_hworker(lua_State *L, hw_sandbox *sb)
{
    lua_createtable(L, 0, 9);
    hw_sandbox_push_result(L, HW_RESULT_SUCCESS, "", 0, -1);
    lua_setfield(L, -2, "success");
    static const luaL_Reg fns[] = {{"retry", hw_sandbox_retry},
                                   {"failure", hw_sandbox_failure},
                                   {"log", l_log},
                                   {"now", l_now},
                                   {"queue", l_queue},
                                   {"sleep", l_sleep},
                                   {NULL, NULL}};
    for (const luaL_Reg *r = fns; r->name; r++) {
        lua_pushcfunction(L, r->func);
        lua_setfield(L, -2, r->name);
    }
    lua_pushliteral(L, HWORKER_VERSION);
    lua_setfield(L, -2, "version");
    lua_pushstring(L, sb->env->trusted ? "trusted" : "strict");
    lua_setfield(L, -2, "sandbox");
}

/* host.<name>: C functions the embedding program registered. */
void hw_sandbox_open_host(lua_State *L, hw_sandbox *sb)
{
    lua_createtable(L, 0, (int)sb->env->nfunctions);
    for (size_t i = 0; i < sb->env->nfunctions; i++) {
        lua_pushlightuserdata(L, sb->env->functions[i].ud);
        host_fn_box *box = lua_newuserdata(L, sizeof *box);
        box->fn = sb->env->functions[i].fn;
        lua_pushcclosure(L, call_host, 2);
        lua_setfield(L, -2, sb->env->functions[i].name);
    }
}
