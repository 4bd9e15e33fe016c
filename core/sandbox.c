#include "sandbox.h"

#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pthread.h>
#include <stdint.h>

#include "lua_patterns.h"
#include "read_file.h"

#include "sandbox_bounds.h"
#include "sandbox_isolation.h"
#include "sandbox_json.h"
#include "stop_signal.h"

/* How many VM instructions run between two checks of the clock and the stop
 * flags. Small enough to stop within microseconds, large enough to cost
 * nothing measurable. */
#define HW_HOOK_COUNT 1000

static const char *const stop_messages[] = {
    [HW_STOP_NONE] = "",
    [HW_STOP_TIMEOUT] = "timeout: the job ran longer than its time limit and was stopped",
    [HW_STOP_MEMORY] = "memory limit: the job needed more memory than its state may use and was stopped",
    [HW_STOP_LEASE_LOST] = "lease lost: the job was recovered by a monitor while it ran, so it was stopped",
    [HW_STOP_ABORT] = "shutdown: the worker stopped before the job finished",
};

hw_sandbox *hw_sandbox_of(lua_State *L)
{
    void *ud = NULL;
    lua_getallocf(L, &ud);
    return ud;
}

/* The allocator enforces the memory cap: growth past it is refused, which
 * LuaJIT turns into a "not enough memory" error; the state stays usable. */
static void *sandbox_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    hw_sandbox *sb = ud;
    if (nsize == 0) {
        if (ptr) sb->used -= osize;
        free(ptr);
        return NULL;
    }
    size_t old = ptr ? osize : 0;
    if (nsize > old && !sb->upkeep && sb->used - old + nsize > sb->env->memory_limit) {
        sb->over_limit = 1;
        return NULL;
    }
    void *p = realloc(ptr, nsize);
    if (p) sb->used = sb->used - old + nsize;
    return p;
}

/* A full collection by the engine, outside any job. */
static void collect(hw_sandbox *sb)
{
    sb->upkeep = 1;
    lua_gc(sb->L, LUA_GCCOLLECT, 0);
    sb->upkeep = 0;
}

static hw_stop_reason pending_stop(hw_sandbox *sb)
{
    if (sb->lost && atomic_load(sb->lost)) return HW_STOP_LEASE_LOST;
    if (sb->env->abort && atomic_load(sb->env->abort)) return HW_STOP_ABORT;
    if (sb->over_limit) return HW_STOP_MEMORY;
    if (sb->deadline > 0 && hw_monotonic() >= sb->deadline) return HW_STOP_TIMEOUT;
    return HW_STOP_NONE;
}

static void stop_hook(lua_State *L, lua_Debug *ar);

/* C stack used since the running code began (the stack grows down). */
static size_t stack_used(const hw_sandbox *sb)
{
    char here;
    uintptr_t base = (uintptr_t)sb->stack_base, now = (uintptr_t)&here;
    return base > now ? base - now : 0;
}

static int stack_exhausted(const hw_sandbox *sb) { return sb->stack_base != NULL && stack_used(sb) > sb->stack_limit; }

static int raise_stack(lua_State *L)
{
    return luaL_error(L,
                      "C stack limit: calls through C functions (coroutines, callbacks, metamethods) nested too "
                      "deeply");
}

/* The C stack the running code may use: HW_C_STACK_BUDGET, or half of what
 * is left of this thread's stack where that is less (a host thread, or the
 * main thread under a small ulimit -s). Only the first run on a thread asks
 * for the thread's bounds. */
static void measure_stack(hw_sandbox *sb, const char *base)
{
    pthread_t self = pthread_self();
    if (!sb->stack_known || !pthread_equal(self, sb->stack_thread)) {
        pthread_attr_t attr;
        void *low = NULL;
        size_t size = 0;
        sb->stack_low = NULL;
        if (pthread_getattr_np(self, &attr) == 0) {
            if (pthread_attr_getstack(&attr, &low, &size) == 0) sb->stack_low = low;
            pthread_attr_destroy(&attr);
        }
        sb->stack_thread = self;
        sb->stack_known = 1;
    }
    size_t left = HW_C_STACK_BUDGET * 2;
    if (sb->stack_low != NULL && (uintptr_t)base > (uintptr_t)sb->stack_low)
        left = (size_t)((uintptr_t)base - (uintptr_t)sb->stack_low);
    sb->stack_base = base;
    sb->stack_limit = left / 2 < HW_C_STACK_BUDGET ? left / 2 : HW_C_STACK_BUDGET;
}

/* Once a job must stop, the hook fires on every instruction and raises each
 * time: a pcall in job code may catch one error, but the next instruction
 * after it raises again, so the stop always reaches our own pcall. */
static int raise_stop(lua_State *L, hw_sandbox *sb, hw_stop_reason why)
{
    if (sb->stopped == HW_STOP_NONE) {
        sb->stopped = why;
        lua_sethook(L, stop_hook, LUA_MASKCOUNT, 1);
    }
    lua_pushstring(L, stop_messages[sb->stopped]);
    return lua_error(L);
}

static void stop_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    hw_sandbox *sb = hw_sandbox_of(L);
    hw_stop_reason why = sb->stopped != HW_STOP_NONE ? sb->stopped : pending_stop(sb);
    if (why != HW_STOP_NONE) raise_stop(L, sb, why);
    if (stack_exhausted(sb)) raise_stack(L);
}

static void arm(hw_sandbox *sb, atomic_int *lost)
{
    char base;
    measure_stack(sb, &base);
    sb->co_depth = 0;
    sb->deadline = hw_monotonic() + sb->env->job_timeout;
    sb->lost = lost;
    sb->stopped = HW_STOP_NONE;
    sb->over_limit = 0;
    lua_sethook(sb->L, stop_hook, LUA_MASKCOUNT, HW_HOOK_COUNT);
}

static void disarm(hw_sandbox *sb)
{
    lua_sethook(sb->L, NULL, 0, 0);
    sb->deadline = 0;
    sb->lost = NULL;
    sb->stack_base = NULL;
}

/* ---- the functions job code sees ---------------------------------------- */

/* Raises the stop error if the running job must stop: once it must, no call
 * into the engine or the host may have further effects. */
static void check_stop(lua_State *L)
{
    hw_sandbox *sb = hw_sandbox_of(L);
    hw_stop_reason why = sb->stopped != HW_STOP_NONE ? sb->stopped : pending_stop(sb);
    if (why != HW_STOP_NONE) raise_stop(L, sb, why);
}

void hw_sandbox_poll(lua_State *L)
{
    check_stop(L);
    if (stack_exhausted(hw_sandbox_of(L))) raise_stack(L);
}

void hw_sandbox_reserve(lua_State *L, size_t bytes)
{
    hw_sandbox *sb = hw_sandbox_of(L);
    size_t limit = sb->env->memory_limit;
    if (sb->used > limit || bytes > limit - sb->used) {
        sb->over_limit = 1;
        raise_stop(L, sb, HW_STOP_MEMORY);
    }
    sb->used += bytes;
}

void hw_sandbox_unreserve(lua_State *L, size_t bytes) { hw_sandbox_of(L)->used -= bytes; }

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

/* A result is a userdata: job code can read its fields but never change
 * them, so the engine trusts its bytes and nothing a job could alter. */
typedef struct result_value {
    hw_result_kind kind;
    double delay; /* seconds, or -1: the back-off decides */
    size_t len;
    char message[];
} result_value;

static const char *const result_kinds[] = {
    [HW_RESULT_SUCCESS] = "success", [HW_RESULT_RETRY] = "retry",     [HW_RESULT_FAILURE] = "failure",
    [HW_RESULT_BROKEN] = "broken",   [HW_RESULT_STOPPED] = "stopped",
};

static void push_result(lua_State *L, hw_result_kind kind, const char *msg, size_t len, double delay)
{
    hw_sandbox *sb = hw_sandbox_of(L);
    result_value *r = lua_newuserdata(L, sizeof *r + len + 1);
    r->kind = kind;
    r->delay = delay;
    r->len = len;
    memcpy(r->message, msg, len);
    r->message[len] = '\0';
    lua_rawgeti(L, LUA_REGISTRYINDEX, sb->ref_result_mt);
    lua_setmetatable(L, -2);
}

/* The result at idx, or NULL when the value is no result. */
static const result_value *to_result(lua_State *L, int idx, int ref_result_mt)
{
    const result_value *r = lua_touserdata(L, idx);
    if (r == NULL || lua_type(L, idx) != LUA_TUSERDATA || !lua_getmetatable(L, idx)) return NULL;
    lua_rawgeti(L, LUA_REGISTRYINDEX, ref_result_mt);
    int same = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    return same ? r : NULL;
}

/* The longest delay a handler may ask for: ten years. Past it (or inf) a
 * job would sit in scheduled for good. */
#define HW_MAX_RETRY_DELAY 315360000

static int result_new(lua_State *L, hw_result_kind kind)
{
    const char *name = result_kinds[kind];
    size_t len = 0;
    const char *msg = lua_isnoneornil(L, 1) ? "" : luaL_checklstring(L, 1, &len);
    double delay = -1;
    if (lua_istable(L, 2)) {
        lua_getfield(L, 2, "delay");
        if (!lua_isnil(L, -1) &&
            (!lua_isnumber(L, -1) || !(lua_tonumber(L, -1) >= 0) || lua_tonumber(L, -1) > HW_MAX_RETRY_DELAY))
            return luaL_error(L, "hworker.%s: opts.delay must be a number of seconds from 0 to %d", name,
                              HW_MAX_RETRY_DELAY);
        if (!lua_isnil(L, -1)) delay = lua_tonumber(L, -1);
        lua_pop(L, 1);
    } else if (!lua_isnoneornil(L, 2)) {
        return luaL_error(L, "hworker.%s: the second argument must be a table of options", name);
    }
    push_result(L, kind, msg, len, delay);
    return 1;
}

static int l_retry(lua_State *L) { return result_new(L, HW_RESULT_RETRY); }
static int l_failure(lua_State *L) { return result_new(L, HW_RESULT_FAILURE); }
static int l_result_call(lua_State *L)
{
    lua_settop(L, 1);
    return 1;
}

/* r.kind, r.message and r.delay, for job code that looks at a result. */
static int l_result_index(lua_State *L)
{
    const result_value *r = lua_touserdata(L, 1);
    const char *key = lua_tostring(L, 2);
    if (key == NULL) return 0;
    if (strcmp(key, "kind") == 0) lua_pushstring(L, result_kinds[r->kind]);
    else if (strcmp(key, "message") == 0) lua_pushlstring(L, r->message, r->len);
    else if (strcmp(key, "delay") == 0 && r->delay >= 0) lua_pushnumber(L, r->delay);
    else return 0;
    return 1;
}

static int l_result_newindex(lua_State *L)
{
    return luaL_error(L, "hworker results cannot be changed: make a new one with hworker.retry or hworker.failure");
}

static void escape_nul(hw_buf *b);

/* A line of job text: the logger caps it and escapes control characters;
 * a NUL would end it early (it is formatted as a C string), so NULs are
 * written as \0 first. */
static void job_log(hw_sandbox *sb, hworker_log_level level, const char *msg, size_t len)
{
    hw_buf text = {0};
    if (memchr(msg, '\0', len) != NULL) {
        hw_buf_add(&text, msg, len);
        escape_nul(&text);
        msg = text.data;
        len = text.len;
    }
    hw_log(sb->env->log, level, "job: %.*s", (int)(len > INT_MAX / 2 ? INT_MAX / 2 : len), msg);
    hw_buf_free(&text);
}

static int l_log(lua_State *L)
{
    hw_sandbox *sb = hw_sandbox_of(L);
    check_stop(L);
    int level = luaL_checkoption(L, 1, NULL, hw_log_level_names);
    if (level > HWORKER_LOG_ERROR) return luaL_argerror(L, 1, "a line's level is debug, info, warn or error");
    size_t len;
    const char *msg = luaL_checklstring(L, 2, &len);
    job_log(sb, (hworker_log_level)level, msg, len);
    return 0;
}

/* print(...) goes to the logger at level info, as tostring() would show it. */
static int l_print(lua_State *L)
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
    job_log(sb, HWORKER_LOG_INFO, msg, len);
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
        hw_stop_reason why = pending_stop(sb);
        if (why != HW_STOP_NONE) return raise_stop(L, sb, why);
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
    check_stop(L);
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
static int l_xpcall(lua_State *L)
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

/* load and loadstring accept text only: bytecode can break out of any
 * sandbox. */
/* The reader at stack slot `fn`; each piece it returns is kept alive in
 * slot `piece` (reserved by l_load) until the parser asks for the next. */
typedef struct reader_state {
    lua_State *L;
    int fn, piece;
} reader_state;

static const char *call_reader(lua_State *L, void *ud, size_t *size)
{
    hw_sandbox_poll(L);
    reader_state *rs = ud;
    lua_pushvalue(L, rs->fn);
    lua_call(L, 0, 1);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        *size = 0;
        return NULL;
    }
    if (!lua_isstring(L, -1)) luaL_error(L, "reader function must return a string");
    lua_replace(L, rs->piece);
    return lua_tolstring(L, rs->piece, size);
}

static const char binary_refused[] = "binary chunks cannot be loaded in the hworker sandbox (load Lua source text)";

static int finish_load(lua_State *L, int status, int env_index)
{
    if (status != 0) {
        lua_pushnil(L);
        lua_insert(L, -2);
        return 2;
    }
    if (env_index && !lua_isnil(L, env_index)) {
        lua_pushvalue(L, env_index);
        lua_setfenv(L, -2);
    }
    return 1;
}

static int l_load(lua_State *L)
{
    hw_sandbox_poll(L); /* parsing is linear, but a loop of loads is not */
    const char *name = luaL_optstring(L, 2, "=(load)");
    lua_settop(L, 4);
    if (!lua_isnil(L, 4)) luaL_checktype(L, 4, LUA_TTABLE); /* setfenv takes nothing else */
    if (lua_type(L, 1) == LUA_TSTRING) {
        size_t len;
        const char *s = lua_tolstring(L, 1, &len);
        if (len > 0 && s[0] == LUA_SIGNATURE[0]) {
            lua_pushnil(L);
            lua_pushstring(L, binary_refused);
            return 2;
        }
        return finish_load(L, luaL_loadbufferx(L, s, len, name, "t"), 4);
    }
    luaL_checktype(L, 1, LUA_TFUNCTION);
    lua_pushnil(L); /* slot 5: the reader's current piece */
    reader_state rs = {L, 1, 5};
    lua_pushvalue(L, 1);
    lua_replace(L, 1);
    return finish_load(L, lua_loadx(L, call_reader, &rs, name, "t"), 4);
}

static int l_loadstring(lua_State *L)
{
    hw_sandbox_poll(L);
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    const char *name = luaL_optstring(L, 2, s);
    if (len > 0 && s[0] == LUA_SIGNATURE[0]) {
        lua_pushnil(L);
        lua_pushstring(L, binary_refused);
        return 2;
    }
    return finish_load(L, luaL_loadbufferx(L, s, len, name, "t"), 0);
}

/* require: the sandbox's own libraries, or Lua source modules from the job
 * file's directory. Never C modules, never files elsewhere. */
static int l_require(lua_State *L)
{
    hw_sandbox_poll(L); /* a module that requires itself recurses through C */
    hw_sandbox *sb = hw_sandbox_of(L);
    const char *name = luaL_checkstring(L, 1);
    lua_settop(L, 1);
    lua_getfield(L, LUA_REGISTRYINDEX, "hworker.loaded");
    int loaded = lua_gettop(L);
    lua_getfield(L, loaded, name);
    if (!lua_isnil(L, -1)) return 1;
    lua_pop(L, 1);
    int ok = name[0] != '\0' && name[0] != '.';
    for (const char *p = name; *p && ok; p++)
        ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_' ||
            *p == '-' || (*p == '.' && p[1] != '.');
    if (!ok) return luaL_error(L, "module '%s' not found: module names are letters, digits, '_', '-' and '.'", name);
    const char *file = sb->job_file;
    const char *slash = strrchr(file, '/');
    hw_buf path = {0};
    if (slash) hw_buf_add(&path, file, (size_t)(slash - file + 1));
    for (const char *p = name; *p; p++) hw_buf_add(&path, *p == '.' ? "/" : p, 1);
    hw_buf_adds(&path, ".lua");
    hw_buf text = {0};
    if (hw_read_file(path.data, &text)) {
        lua_pushfstring(L,
                        "module '%s' not found: job files may require only Lua source modules "
                        "beside them (no %s)",
                        name, path.data);
        hw_buf_free(&text);
        hw_buf_free(&path);
        return lua_error(L);
    }
    lua_pushfstring(L, "@%s", path.data);
    int status = luaL_loadbufferx(L, text.data ? text.data : "", text.len, lua_tostring(L, -1), "t");
    hw_buf_free(&text);
    hw_buf_free(&path);
    if (status != 0) return lua_error(L);
    lua_pushstring(L, name);
    lua_call(L, 1, 1);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_pushboolean(L, 1);
    }
    lua_pushvalue(L, -1);
    lua_setfield(L, loaded, name);
    return 1;
}

/* ---- running a job ------------------------------------------------------ */

/* Everything a job run does in its state happens inside this one protected
 * call: an allocation refused at the memory cap is then an ordinary error,
 * never an unprotected one (which would end the whole process). */
typedef struct run_ctx {
    hw_sandbox *sb;
    const char *job;
    size_t len;
    const hw_job_meta *meta;
    int decoded; /* the job JSON was decoded: later errors are the job's */
} run_ctx;

static int run_protected(lua_State *L)
{
    run_ctx *c = lua_touserdata(L, 1);
    hw_sandbox *sb = c->sb;
    lua_settop(L, 0);
    /* What the last job changed is undone before this one runs. */
    hw_sandbox_reset_globals(L, sb);
    hw_sandbox_reset_random(L, sb);
    if (sb->json_dirty) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, sb->ref_json_reset);
        lua_call(L, 0, 0);
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, sb->ref_job);
    lua_rawgeti(L, LUA_REGISTRYINDEX, sb->ref_state);
    lua_rawgeti(L, LUA_REGISTRYINDEX, sb->ref_decode);
    lua_pushlstring(L, c->job, c->len);
    lua_call(L, 1, 1);
    c->decoded = 1;
    lua_createtable(L, 0, 4);
    lua_pushstring(L, c->meta->id);
    lua_setfield(L, -2, "id");
    lua_pushinteger(L, c->meta->attempt);
    lua_setfield(L, -2, "attempt");
    lua_pushinteger(L, c->meta->recoveries);
    lua_setfield(L, -2, "recoveries");
    lua_pushnumber(L, (lua_Number)c->meta->enqueued_at);
    lua_setfield(L, -2, "enqueued_at");
    lua_call(L, 3, 1);
    return 1;
}

/* ---- building the state ------------------------------------------------- */

static void open_lib(lua_State *L, const char *name, lua_CFunction open)
{
    lua_pushcfunction(L, open);
    lua_pushstring(L, name);
    lua_call(L, 1, 0);
}

static void set_global_nil(lua_State *L, const char *name)
{
    lua_pushnil(L);
    lua_setglobal(L, name);
}

/* The strict sandbox: only these libraries; never luaL_openlibs (it would
 * bring ffi, jit, io, os, debug and package). Leaving jit unopened keeps the
 * JIT off, so the count hook can stop any loop. */
static void open_strict(lua_State *L)
{
    open_lib(L, "", luaopen_base); /* also opens coroutine */
    open_lib(L, LUA_TABLIBNAME, luaopen_table);
    open_lib(L, LUA_STRLIBNAME, luaopen_string);
    open_lib(L, LUA_MATHLIBNAME, luaopen_math);
    open_lib(L, LUA_BITLIBNAME, luaopen_bit);
    open_lib(L, LUA_OSLIBNAME, luaopen_os);

    /* os: keep only the clock and calendar functions. */
    lua_getglobal(L, "os");
    lua_createtable(L, 0, 4);
    static const char *const os_keep[] = {"time", "clock", "date", "difftime"};
    for (size_t i = 0; i < 4; i++) {
        lua_getfield(L, -2, os_keep[i]);
        lua_setfield(L, -2, os_keep[i]);
    }
    lua_setglobal(L, "os");
    lua_pop(L, 1);

    static const char *const removed[] = {"dofile", "loadfile", "getfenv", "setfenv", "collectgarbage",
                                          "gcinfo", "newproxy", "module",  "jit",     "ffi",
                                          "debug",  "io",       "package"};
    for (size_t i = 0; i < sizeof removed / sizeof *removed; i++) set_global_nil(L, removed[i]);
    /* string.dump is removed from the real string table, which is also the
     * strings' __index, so ("").dump cannot reach it either; the string
     * metatable is locked so job code cannot rewire every string. */
    lua_getglobal(L, "string");
    lua_pushnil(L);
    lua_setfield(L, -2, "dump");
    lua_pop(L, 1);
    lua_pushliteral(L, "");
    lua_getmetatable(L, -1);
    lua_pushliteral(L, "locked");
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 2);
    lua_register(L, "load", l_load);
    lua_register(L, "loadstring", l_loadstring);
    lua_register(L, "require", l_require);
    /* LuaJIT's matcher is C, where the count hook never fires: these stop,
     * and check the C stack budget (gsub calls back into Lua). */
    lua_getglobal(L, "string");
    hw_patterns_install(L, -1, hw_sandbox_poll);
    lua_pop(L, 1);
}

/* The trusted mode: the whole standard library with the JIT on, and
 * require of Lua and C modules from the job file's directory first, then
 * the usual paths. */
static void open_trusted(lua_State *L, const char *job_file)
{
    luaL_openlibs(L);
    const char *slash = strrchr(job_file, '/');
    lua_getglobal(L, "package");
    if (slash) lua_pushlstring(L, job_file, (size_t)(slash - job_file + 1));
    else lua_pushliteral(L, "./");
    lua_pushvalue(L, -1);
    lua_pushliteral(L, "?.lua;");
    lua_pushvalue(L, -3);
    lua_pushliteral(L, "?/init.lua;");
    lua_getfield(L, -6, "path");
    lua_concat(L, 5);
    lua_setfield(L, -3, "path");
    lua_pop(L, 2);
}

/* hworker.success and the metatable every result shares. */
static void open_results(lua_State *L, hw_sandbox *sb)
{
    lua_createtable(L, 0, 4);
    lua_pushliteral(L, "hworker.result");
    lua_setfield(L, -2, "__metatable");
    lua_pushcfunction(L, l_result_call);
    lua_setfield(L, -2, "__call");
    lua_pushcfunction(L, l_result_index);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, l_result_newindex);
    lua_setfield(L, -2, "__newindex");
    sb->ref_result_mt = luaL_ref(L, LUA_REGISTRYINDEX);
}

static void open_hworker(lua_State *L, hw_sandbox *sb)
{
    lua_createtable(L, 0, 9);
    push_result(L, HW_RESULT_SUCCESS, "", 0, -1);
    lua_setfield(L, -2, "success");
    static const luaL_Reg fns[] = {{"retry", l_retry}, {"failure", l_failure}, {"log", l_log}, {"now", l_now},
                                   {"queue", l_queue}, {"sleep", l_sleep},     {NULL, NULL}};
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
static void open_host(lua_State *L, hw_sandbox *sb)
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

/* Sets global `name` (and loaded[name] when `loaded` is non-zero) to the
 * value on top of the stack, popping it; in the strict sandbox, to a
 * read-only view of it. */
static void publish(lua_State *L, hw_sandbox *sb, int loaded, const char *name, int global)
{
    if (!sb->env->trusted) {
        hw_sandbox_readonly(L, -1, name);
        lua_remove(L, -2);
    }
    if (loaded) {
        lua_pushvalue(L, -1);
        lua_setfield(L, loaded, name);
    }
    if (global) lua_setglobal(L, name);
    else lua_pop(L, 1);
}

static int setup(lua_State *L)
{
    hw_sandbox *sb = lua_touserdata(L, 1);
    int strict = !sb->env->trusted;
    if (strict) open_strict(L);
    else open_trusted(L, sb->job_file);

    lua_getglobal(L, "tostring");
    sb->ref_tostring = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pushcfunction(L, run_protected);
    sb->ref_runner = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_register(L, "print", l_print);
    lua_register(L, "xpcall", l_xpcall);
    if (strict) {
        lua_getglobal(L, "coroutine");
        hw_sandbox_open_coroutines(L, lua_gettop(L));
        lua_pop(L, 1);
        hw_sandbox_bound_libraries(L, sb);
    }

    /* The modules require finds first: cjson and hworker (and in the strict
     * sandbox the standard libraries). The strict require reads them from
     * the registry; the trusted one from package.loaded. */
    if (strict) {
        lua_newtable(L);
    } else {
        lua_getglobal(L, "package");
        lua_getfield(L, -1, "loaded");
        lua_remove(L, -2);
    }
    int loaded = lua_gettop(L);
    lua_pushvalue(L, loaded);
    lua_setfield(L, LUA_REGISTRYINDEX, "hworker.loaded");
    hw_sandbox_json_open(L, sb);
    publish(L, sb, loaded, "cjson", 0);
    open_results(L, sb);
    open_hworker(L, sb);
    publish(L, sb, loaded, "hworker", 1);
    open_host(L, sb);
    publish(L, sb, 0, "host", 1);
    /* Job code sees the standard libraries through read-only views; the
     * string metatable keeps the real string table (it is locked). */
    static const char *const libs[] = {"string", "table", "math", "bit", "coroutine", "os"};
    for (size_t i = 0; strict && i < sizeof libs / sizeof *libs; i++) {
        lua_getglobal(L, libs[i]);
        publish(L, sb, loaded, libs[i], 1);
    }
    lua_pop(L, 1); /* loaded */
    return 0;
}

static int seal(lua_State *L)
{
    hw_sandbox_seal_globals(L, lua_touserdata(L, 1));
    return 0;
}

/* Turns the error value on top of the stack into a message in out. */
static void error_message(hw_sandbox *sb, hw_buf *out)
{
    lua_State *L = sb->L;
    hw_buf_clear(out);
    if (sb->stopped != HW_STOP_NONE) {
        hw_buf_adds(out, stop_messages[sb->stopped]);
        return;
    }
    if (lua_type(L, -1) == LUA_TSTRING) {
        size_t len;
        const char *s = lua_tolstring(L, -1, &len);
        hw_buf_add(out, s, len);
        return;
    }
    if (lua_type(L, -1) == LUA_TNUMBER) {
        hw_buf_addf(out, "%.14g", (double)lua_tonumber(L, -1));
        return;
    }
    /* A table or other value: tostring() may run a __tostring metamethod,
     * which is still under the time limit here. */
    lua_rawgeti(L, LUA_REGISTRYINDEX, sb->ref_tostring);
    lua_pushvalue(L, -2);
    if (lua_pcall(L, 1, 1, 0) == 0 && lua_type(L, -1) == LUA_TSTRING) {
        size_t len;
        const char *s = lua_tolstring(L, -1, &len);
        hw_buf_add(out, s, len);
    } else {
        hw_buf_addf(out, "(error object is a %s value)", luaL_typename(L, -2));
    }
    lua_pop(L, 1);
}

int hw_sandbox_open(hw_sandbox *sb, const hw_sandbox_env *env, hw_queue_fn queue, void *queue_ud, char *err,
                    size_t errlen)
{
    memset(sb, 0, sizeof *sb);
    sb->env = env;
    sb->queue = queue;
    sb->queue_ud = queue_ud;
    if (env->job_file == NULL) {
        snprintf(err, errlen, "no job file configured: set job_file to a Lua file that defines job(state, t, meta)");
        return -1;
    }
    hw_buf text = {0}, msg = {0};
    if (hw_read_file(env->job_file, &text)) {
        snprintf(err, errlen, "%s: cannot open the job file: %s", env->job_file, strerror(errno));
        hw_buf_free(&text);
        return -1;
    }
    sb->job_file = strdup(env->job_file);
    if (sb->job_file == NULL) abort();
    sb->L = lua_newstate(sandbox_alloc, sb);
    if (sb->L == NULL) {
        snprintf(err, errlen, "cannot create a Lua state (memory limit %zu bytes too small?)", env->memory_limit);
        hw_buf_free(&text);
        hw_sandbox_close(sb);
        return -1;
    }
    lua_State *L = sb->L;
    lua_pushcfunction(L, setup);
    lua_pushlightuserdata(L, sb);
    if (lua_pcall(L, 1, 0, 0) != 0) {
        snprintf(err, errlen, "cannot set up the job sandbox: %s", lua_tostring(L, -1));
        goto fail;
    }
    hw_buf chunkname = {0};
    hw_buf_addf(&chunkname, "@%s", env->job_file);
    int status = luaL_loadbufferx(L, text.data, text.len, chunkname.data, "t");
    hw_buf_free(&chunkname);
    if (status == 0) {
        arm(sb, NULL);
        status = lua_pcall(L, 0, 0, 0);
        if (status) error_message(sb, &msg);
        disarm(sb);
    } else {
        hw_buf_adds(&msg, lua_tostring(L, -1));
    }
    if (status != 0) {
        snprintf(err, errlen, "%s", msg.data);
        hw_buf_free(&msg);
        goto fail;
    }
    lua_getglobal(L, "job");
    if (!lua_isfunction(L, -1)) {
        snprintf(err, errlen,
                 "%s: the job file defines no job function (expected: function job(state, t, meta) ... end)",
                 env->job_file);
        goto fail;
    }
    sb->ref_job = luaL_ref(L, LUA_REGISTRYINDEX);

    /* state = init(config), or {} when there is no init or it returns nil. */
    lua_getglobal(L, "init");
    if (lua_isfunction(L, -1)) {
        const char *config = env->init_config ? env->init_config : "{}";
        lua_rawgeti(L, LUA_REGISTRYINDEX, sb->ref_decode);
        lua_pushstring(L, config);
        if (lua_pcall(L, 1, 1, 0) != 0) {
            snprintf(err, errlen, "the init config is not valid JSON: %s", lua_tostring(L, -1));
            goto fail;
        }
        arm(sb, NULL);
        status = lua_pcall(L, 1, 1, 0);
        if (status) error_message(sb, &msg);
        else if (pending_stop(sb) == HW_STOP_TIMEOUT) {
            /* It returned, but only after a C call outlasted the limit. */
            status = 1;
            hw_buf_adds(&msg, stop_messages[HW_STOP_TIMEOUT]);
        }
        disarm(sb);
        if (status) {
            snprintf(err, errlen, "%s: init(config) failed: %s", env->job_file, msg.data);
            hw_buf_free(&msg);
            goto fail;
        }
    } else if (!lua_isnil(L, -1)) {
        snprintf(err, errlen, "%s: init must be a function", env->job_file);
        goto fail;
    } else {
        lua_pop(L, 1);
        lua_pushnil(L);
    }
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_newtable(L);
    }
    sb->ref_state = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_settop(L, 0);
    if (!env->trusted) {
        lua_pushcfunction(L, seal);
        lua_pushlightuserdata(L, sb);
        if (lua_pcall(L, 1, 0, 0) != 0) {
            snprintf(err, errlen, "cannot set up the job sandbox: %s", lua_tostring(L, -1));
            goto fail;
        }
    }
    hw_buf_free(&msg);
    hw_buf_free(&text);
    collect(sb);
    return 0;
fail:
    hw_buf_free(&msg);
    hw_buf_free(&text);
    hw_sandbox_close(sb);
    return -1;
}

/* Reasons travel on as C strings: a NUL byte a job put in one is written
 * as \0 rather than end it there. */
static void escape_nul(hw_buf *b)
{
    if (b->data == NULL || memchr(b->data, '\0', b->len) == NULL) return;
    hw_buf copy = {0};
    const char *p = b->data, *end = b->data + b->len;
    while (p < end) {
        const char *nul = memchr(p, '\0', (size_t)(end - p));
        if (nul == NULL) nul = end;
        hw_buf_add(&copy, p, (size_t)(nul - p));
        if (nul < end) hw_buf_add(&copy, "\\0", 2);
        p = nul + 1;
    }
    hw_buf_clear(b);
    hw_buf_add(b, copy.data, copy.len);
    hw_buf_free(&copy);
}

static void run_result(hw_sandbox *sb, hw_result *out)
{
    lua_State *L = sb->L;
    int t = lua_type(L, -1);
    if (t == LUA_TNONE || t == LUA_TNIL) {
        out->kind = HW_RESULT_SUCCESS;
        return;
    }
    const result_value *r = to_result(L, -1, sb->ref_result_mt);
    if (r != NULL) {
        out->kind = r->kind;
        hw_buf_add(&out->message, r->message, r->len);
        if (r->delay >= 0) out->delay_ms = r->delay * 1000.0 < 9.2e18 ? (long long)(r->delay * 1000.0) : INT64_MAX;
        return;
    }
    out->kind = HW_RESULT_FAILURE;
    hw_buf_addf(
        &out->message,
        "bad result: job returned a %s; return nothing, hworker.success, hworker.retry(msg) or hworker.failure(msg)",
        lua_typename(L, t));
}

void hw_sandbox_run(hw_sandbox *sb, const char *job, size_t len, const hw_job_meta *meta, atomic_int *lost,
                    hw_result *out)
{
    lua_State *L = sb->L;
    out->kind = HW_RESULT_SUCCESS;
    out->stopped = HW_STOP_NONE;
    out->from_error = 0;
    out->delay_ms = -1;
    hw_buf_clear(&out->message);
    lua_settop(L, 0);
    arm(sb, lost);
    run_ctx ctx = {sb, job, len, meta, 0};
    /* Neither call allocates: the runner is a registry reference. */
    lua_rawgeti(L, LUA_REGISTRYINDEX, sb->ref_runner);
    lua_pushlightuserdata(L, &ctx);
    int status = lua_pcall(L, 1, 1, 0);
    if (sb->stopped == HW_STOP_NONE && sb->over_limit) sb->stopped = HW_STOP_MEMORY;
    if (status != 0 && sb->stopped == HW_STOP_NONE) {
        if (!ctx.decoded) {
            out->kind = HW_RESULT_BROKEN;
            hw_buf_adds(&out->message, "job is not valid JSON: ");
        } else {
            out->kind = HW_RESULT_FAILURE;
            out->from_error = 1;
            hw_buf_adds(&out->message, "error: ");
        }
        hw_buf msg = {0};
        error_message(sb, &msg);
        hw_buf_add(&out->message, msg.data ? msg.data : "", msg.len);
        hw_buf_free(&msg);
        goto done;
    }
    /* A job that caught its own stop error and returned still stops, and
     * one that returned past its time limit (its last C call outlasted it,
     * before the hook could fire) timed out: it never counts as a success. */
    if (sb->stopped == HW_STOP_NONE) {
        hw_stop_reason why = pending_stop(sb);
        if (why == HW_STOP_LEASE_LOST || why == HW_STOP_TIMEOUT) sb->stopped = why;
    }
    if (sb->stopped != HW_STOP_NONE) {
        out->stopped = sb->stopped;
        if (out->stopped == HW_STOP_LEASE_LOST || out->stopped == HW_STOP_ABORT) {
            out->kind = HW_RESULT_STOPPED;
        } else {
            out->kind = HW_RESULT_FAILURE;
            out->from_error = 1;
        }
        hw_buf_adds(&out->message, stop_messages[out->stopped]);
        goto done;
    }
    run_result(sb, out);
done:
    escape_nul(&out->message);
    disarm(sb);
    lua_settop(L, 0);
    /* Collect now rather than let garbage from this job count against the
     * next one's memory cap (LuaJIT does not collect when an allocation is
     * refused). Small states skip this. */
    if (sb->used > sb->env->memory_limit / 4) {
        collect(sb);
        /* glibc keeps freed memory in the thread's arena: give it back, so
         * that a job that went to its cap leaves the process's RSS where it
         * was. Only after such jobs: a trim walks the arena. */
        malloc_trim(0);
    }
}

int hw_sandbox_exhausted(hw_sandbox *sb) { return sb->used > sb->env->memory_limit / 4 * 3; }

void hw_sandbox_close(hw_sandbox *sb)
{
    if (sb->L) lua_close(sb->L);
    sb->L = NULL;
    free(sb->job_file);
    sb->job_file = NULL;
}
