/* The opening of a sandbox: the strict or the trusted set of libraries, the
 * library job code calls, the job file and its init(config), and the seal
 * on its globals; and the closing. The limits, the library, the loaders and
 * the run of a job live in sandbox_limits.c, sandbox_library.c,
 * sandbox_loaders.c, sandbox_results.c and sandbox_run.c. */
#include "sandbox.h"

#include <errno.h>
#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lua_patterns.h"
#include "read_file.h"

#include "sandbox_bounds.h"
#include "sandbox_isolation.h"
#include "sandbox_json.h"
#include "sandbox_library.h"
#include "sandbox_limits.h"
#include "sandbox_loaders.h"
#include "sandbox_results.h"
#include "sandbox_run.h"

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
    lua_register(L, "load", hw_sandbox_load);
    lua_register(L, "loadstring", hw_sandbox_loadstring);
    lua_register(L, "require", hw_sandbox_require);
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
    lua_pushcfunction(L, hw_sandbox_run_protected);
    sb->ref_runner = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_register(L, "print", hw_sandbox_print);
    lua_register(L, "xpcall", hw_sandbox_xpcall);
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
    hw_sandbox_open_results(L, sb);
    hw_sandbox_open_hworker(L, sb);
    publish(L, sb, loaded, "hworker", 1);
    hw_sandbox_open_host(L, sb);
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
    sb->L = lua_newstate(hw_sandbox_alloc, sb);
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
        hw_sandbox_arm(sb, NULL);
        status = lua_pcall(L, 0, 0, 0);
        if (status) hw_sandbox_error_message(sb, &msg);
        hw_sandbox_disarm(sb);
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
        hw_sandbox_arm(sb, NULL);
        status = lua_pcall(L, 1, 1, 0);
        if (status) hw_sandbox_error_message(sb, &msg);
        else if (hw_sandbox_pending_stop(sb) == HW_STOP_TIMEOUT) {
            /* It returned, but only after a C call outlasted the limit. */
            status = 1;
            hw_buf_adds(&msg, hw_sandbox_stop_message(HW_STOP_TIMEOUT));
        }
        hw_sandbox_disarm(sb);
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
    hw_sandbox_collect(sb);
    return 0;
fail:
    hw_buf_free(&msg);
    hw_buf_free(&text);
    hw_sandbox_close(sb);
    return -1;
}

void hw_sandbox_close(hw_sandbox *sb)
{
    if (sb->L) lua_close(sb->L);
    sb->L = NULL;
    free(sb->job_file);
    sb->job_file = NULL;
}
