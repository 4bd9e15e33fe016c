/* The results job code returns: hworker.success, hworker.retry(msg, opts)
 * and hworker.failure(msg, opts), and the engine's reading of the value a
 * job returned into an hw_result. Runs on the thread that owns the state;
 * nothing is shared. */
#include "sandbox_results.h"

#include <lauxlib.h>
#include <stdint.h>
#include <string.h>

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

void hw_sandbox_push_result(lua_State *L, hw_result_kind kind, const char *msg, size_t len, double delay)
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
    hw_sandbox_push_result(L, kind, msg, len, delay);
    return 1;
}

int hw_sandbox_retry(lua_State *L) { return result_new(L, HW_RESULT_RETRY); }
int hw_sandbox_failure(lua_State *L) { return result_new(L, HW_RESULT_FAILURE); }
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

/* hworker.success and the metatable every result shares. */
void hw_sandbox_open_results(lua_State *L, hw_sandbox *sb)
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

/* Reasons travel on as C strings: a NUL byte a job put in one is written
 * as \0 rather than end it there. */
void hw_sandbox_escape_nul(hw_buf *b)
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

void hw_sandbox_read_result(hw_sandbox *sb, hw_result *out)
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
