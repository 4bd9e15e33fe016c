/* cjson as a sandbox offers it. lua-cjson builds its output and its decode
 * scratch space with plain malloc, outside the Lua allocator, and keeps its
 * settings in a per-instance userdata that every later job would share. So:
 *   - the engine decodes payloads and encodes hworker.queue with a private
 *     instance no job can reach or configure;
 *   - job code gets its own instance through wrappers: encode first bounds
 *     the size of its output by a walk that stops at the state's free memory,
 *     and both count cjson's malloc'd buffers against the memory cap while
 *     they live; settings a job changes are put back before the next job,
 *     and the depth settings cannot exceed cjson's default (the C stack);
 *   - no instance keeps its encode buffer between calls. */
#include "sandbox_json.h"

#include <lauxlib.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "cjson_entry.h"

/* cjson's default depths; deeper would only deepen its C recursion. */
#define HW_JSON_MAX_DEPTH 1000
/* The walk polls the stop flags this often (tables and values visited). */
#define HW_JSON_POLL_EVERY 4096

typedef struct walk {
    size_t total, limit;
    unsigned long steps;
    int sparse_ratio, sparse_safe; /* the instance's encode_sparse_array */
    int max_depth;                 /* the instance's encode_max_depth */
    int too_deep;                  /* cjson would refuse the nesting */
} walk;

static size_t string_bound(const char *s, size_t len)
{
    size_t n = len + 2;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f) n += 5;                  /* \u00XX */
        else if (c == '"' || c == '\\' || c == '/') n += 1; /* \" */
    }
    return n;
}

/* Adds an upper bound of the encoded size of the value at `idx` to w->total.
 * Returns 1 as soon as the total passes w->limit. What cjson refuses
 * (functions, excessive nesting) adds nothing: cjson raises its own error. */
static int bound_of(lua_State *L, int idx, int depth, walk *w)
{
    if (++w->steps % HW_JSON_POLL_EVERY == 0) hw_sandbox_poll(L);
    switch (lua_type(L, idx)) {
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        w->total += string_bound(s, len);
        break;
    }
    case LUA_TNUMBER: w->total += 32; break;
    case LUA_TBOOLEAN: w->total += 5; break;
    case LUA_TNIL:
    case LUA_TLIGHTUSERDATA: w->total += 4; break;
    case LUA_TTABLE: {
        w->total += 2;
        if (depth >= w->max_depth) {
            w->too_deep = depth + 1;
            return 1;
        }
        luaL_checkstack(L, 3, "cjson.encode");
        /* An array is written up to its largest index, holes as null. */
        double items = 0, max = 0;
        int array = 1, huge = 0;
        lua_pushnil(L);
        while (lua_next(L, idx) != 0) {
            int key = lua_gettop(L) - 1;
            if (lua_type(L, key) == LUA_TNUMBER && lua_tonumber(L, key) > 2147483647.0 &&
                floor(lua_tonumber(L, key)) == lua_tonumber(L, key))
                huge = 1;
            if (array && lua_type(L, key) == LUA_TNUMBER) {
                double k = lua_tonumber(L, key);
                if (k >= 1 && floor(k) == k) {
                    items++;
                    if (k > max) max = k;
                } else {
                    array = 0;
                }
            } else {
                array = 0;
            }
            /* A key: quoted, with its colon and comma; numbers never pass
             * through lua_tolstring, which would confuse lua_next. */
            if (lua_type(L, key) == LUA_TSTRING) {
                size_t len;
                const char *s = lua_tolstring(L, key, &len);
                w->total += string_bound(s, len) + 2;
            } else {
                w->total += 36;
            }
            if (w->total > w->limit || bound_of(L, lua_gettop(L), depth + 1, w)) {
                lua_pop(L, 2);
                return 1;
            }
            lua_pop(L, 1);
        }
        /* cjson keeps an integer key in an int while it looks for an array
         * (undefined behaviour in its C past 2^31) unless a string key came
         * first in its walk: refused whatever the order, so the outcome does
         * not depend on the table's hash order. */
        if (huge) luaL_error(L, "cjson.encode: a table index past 2147483647 cannot be encoded");
        /* cjson's rule: holes are written unless the array is excessively
         * sparse (it then raises, or writes an object, which the keys above
         * already bound). */
        int sparse = w->sparse_ratio > 0 && max > items * w->sparse_ratio && max > w->sparse_safe;
        if (array && !sparse && max > items) {
            double holes = (max - items) * 5; /* "null," */
            if (holes > (double)(w->limit - (w->total < w->limit ? w->total : w->limit))) return 1;
            w->total += (size_t)holes;
        }
        break;
    }
    default: break;
    }
    return w->total > w->limit;
}

/* Calls the real function (upvalue 1) on the arguments with `reserved`
 * bytes counted against the cap, and gives back its results or its error. */
static int call_reserved(lua_State *L, size_t reserved)
{
    int n = lua_gettop(L);
    hw_sandbox_reserve(L, reserved);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    int status = lua_pcall(L, n, LUA_MULTRET, 0);
    hw_sandbox_unreserve(L, reserved);
    if (status != 0) return lua_error(L);
    return lua_gettop(L);
}

static int json_encode(lua_State *L)
{
    hw_sandbox_poll(L);
    luaL_checkany(L, 1);
    lua_settop(L, 1);
    hw_sandbox *sb = hw_sandbox_of(L);
    size_t room = sb->used < sb->env->memory_limit ? sb->env->memory_limit - sb->used : 0;
    /* cjson's buffer doubles as it grows (up to twice the output), and the
     * result is then copied into a Lua string. */
    /* Upvalue 2: true for the job's instance, whose sparse settings the job
     * may have changed; the engine's keeps cjson's defaults. */
    int job = lua_toboolean(L, lua_upvalueindex(2));
    walk w = {0,
              room / 3,
              0,
              job ? sb->json_sparse_ratio : 2,
              job ? sb->json_sparse_safe : 10,
              job ? sb->json_encode_depth : HW_JSON_MAX_DEPTH,
              0};
    /* Refused before anything is allocated, as errors the job may catch:
     * cjson's own for a nesting it would refuse (a table that holds itself
     * twice doubles the walk at every level), ours for output that cannot
     * fit. */
    if (bound_of(L, 1, 0, &w)) {
        if (w.too_deep) return luaL_error(L, "Cannot serialise, excessive nesting (%d)", w.too_deep);
        return luaL_error(L, "cjson.encode: the output needs more memory than the job's state has left (%d KiB free)",
                          (int)(room / 1024 > INT_MAX ? INT_MAX : room / 1024));
    }
    return call_reserved(L, 2 * w.total + 1024);
}

/* An upper bound of the Lua memory cjson.decode makes of `len` bytes of
 * JSON: each container a table whose parts may double as they grow (with
 * the old part alive while it is copied), each value a slot, each string at
 * most its raw length plus a header. Invalid JSON fails before it needs
 * more. */
static size_t decoded_bound(const char *s, size_t len)
{
    size_t tables = 0, values = 1, strings = 0, bytes = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '{' || c == '[') {
            tables++;
            values++;
        } else if (c == ',') {
            values++;
        } else if (c == '"') {
            size_t j = i + 1;
            while (j < len && s[j] != '"') j += s[j] == '\\' ? 2 : 1;
            strings++;
            bytes += j - i;
            i = j;
        }
    }
    return tables * 96 + values * 80 + strings * 48 + bytes;
}

static int json_decode(lua_State *L)
{
    hw_sandbox_poll(L);
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    lua_settop(L, 1);
    hw_sandbox *sb = hw_sandbox_of(L);
    /* cjson decodes through a malloc'd scratch buffer as long as the input,
     * which it frees on a parse error but not when a Lua allocation fails
     * under it. So the whole result is reserved first (the memory stop if it
     * cannot fit), and no allocation may fail during the call. */
    size_t need = decoded_bound(s, len) + len + 1024;
    hw_sandbox_reserve(L, need);
    int upkeep = sb->upkeep;
    sb->upkeep = 1;
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    int status = lua_pcall(L, 1, 1, 0);
    sb->upkeep = upkeep;
    hw_sandbox_unreserve(L, need);
    if (status != 0) return lua_error(L);
    return 1;
}

/* A setting: changing it marks the instance for a reset before the next job.
 * Upvalue 1: the real function; upvalue 2: the largest number argument 1 may
 * be (0: no check). */
static int json_setting(lua_State *L)
{
    lua_Number max = lua_tonumber(L, lua_upvalueindex(2));
    if (max > 0 && !lua_isnoneornil(L, 1) && (!lua_isnumber(L, 1) || lua_tonumber(L, 1) > max))
        return luaL_error(L, "cjson: the depth may be at most %d in the hworker sandbox (the C stack bounds it)",
                          HW_JSON_MAX_DEPTH);
    hw_sandbox *sb = hw_sandbox_of(L);
    if (lua_gettop(L) > 0) sb->json_dirty = 1;
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    /* encode_sparse_array answers (convert, ratio, safe): the size bound of
     * encode needs the last two. */
    const char *kind = lua_tostring(L, lua_upvalueindex(3));
    if (kind && kind[0] == 's' && lua_gettop(L) == 3) {
        sb->json_sparse_ratio = (int)lua_tointeger(L, 2);
        sb->json_sparse_safe = (int)lua_tointeger(L, 3);
    } else if (kind && kind[0] == 'd' && lua_gettop(L) >= 1) {
        sb->json_encode_depth = (int)lua_tointeger(L, 1);
    }
    return lua_gettop(L);
}

static int json_keep_buffer(lua_State *L)
{
    if (lua_gettop(L) > 0 && lua_toboolean(L, 1))
        return luaL_error(L,
                          "cjson.encode_keep_buffer: always off in the hworker sandbox (a kept buffer would live "
                          "outside the memory cap)");
    lua_pushboolean(L, 0);
    return 1;
}

/* Pushes a new cjson instance with its encode buffer released after each
 * call. */
static void new_instance(lua_State *L)
{
    lua_pushcfunction(L, luaopen_cjson);
    lua_call(L, 0, 1);
    lua_getfield(L, -1, "encode_keep_buffer");
    lua_pushboolean(L, 0);
    lua_call(L, 1, 0);
}

static void wrap(lua_State *L, int real_module, const char *name, lua_CFunction fn, int max, int dest)
{
    lua_getfield(L, real_module, name);
    lua_pushinteger(L, max);
    /* What the size bound of encode must follow: s(parse), d(epth). */
    if (strcmp(name, "encode_sparse_array") == 0) lua_pushliteral(L, "s");
    else if (strcmp(name, "encode_max_depth") == 0) lua_pushliteral(L, "d");
    else lua_pushnil(L);
    lua_pushcclosure(L, fn, 3);
    lua_setfield(L, dest, name);
}

/* Upvalue 1: the job instance's real module table. */
static int json_reset(lua_State *L)
{
    /* cjson's defaults; kinds: b a boolean argument, i an integer. */
    static const struct {
        const char *name, *kinds;
        int args[3];
    } defaults[] = {
        {"encode_sparse_array", "bii", {0, 2, 10}},     {"encode_max_depth", "i", {HW_JSON_MAX_DEPTH}},
        {"decode_max_depth", "i", {HW_JSON_MAX_DEPTH}}, {"encode_number_precision", "i", {14}},
        {"encode_invalid_numbers", "b", {0}},           {"decode_invalid_numbers", "b", {1}},
    };
    for (size_t i = 0; i < sizeof defaults / sizeof *defaults; i++) {
        lua_getfield(L, lua_upvalueindex(1), defaults[i].name);
        int n = 0;
        for (const char *k = defaults[i].kinds; *k; k++, n++) {
            if (*k == 'b') lua_pushboolean(L, defaults[i].args[n]);
            else lua_pushinteger(L, defaults[i].args[n]);
        }
        lua_call(L, n, 0);
    }
    hw_sandbox *sb = hw_sandbox_of(L);
    sb->json_dirty = 0;
    sb->json_sparse_ratio = 2;
    sb->json_sparse_safe = 10;
    sb->json_encode_depth = HW_JSON_MAX_DEPTH;
    return 0;
}

void hw_sandbox_json_open(lua_State *L, hw_sandbox *sb)
{
    sb->json_sparse_ratio = 2;
    sb->json_sparse_safe = 10;
    sb->json_encode_depth = HW_JSON_MAX_DEPTH;
    /* The engine's instance: only its wrapped encode and decode are kept. */
    new_instance(L);
    int engine = lua_gettop(L);
    lua_getfield(L, engine, "decode");
    lua_pushcclosure(L, json_decode, 1);
    sb->ref_decode = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_getfield(L, engine, "encode");
    lua_pushboolean(L, 0);
    lua_pushcclosure(L, json_encode, 2);
    sb->ref_encode = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pop(L, 1);

    /* The job's instance, behind wrappers; cjson.new is not offered (a new
     * instance would escape the reset). */
    new_instance(L);
    int real = lua_gettop(L);
    lua_createtable(L, 0, 12);
    int mod = real + 1;
    lua_getfield(L, real, "encode");
    lua_pushboolean(L, 1);
    lua_pushcclosure(L, json_encode, 2);
    lua_setfield(L, mod, "encode");
    lua_getfield(L, real, "decode");
    lua_pushcclosure(L, json_decode, 1);
    lua_setfield(L, mod, "decode");
    wrap(L, real, "encode_sparse_array", json_setting, 0, mod);
    wrap(L, real, "encode_max_depth", json_setting, HW_JSON_MAX_DEPTH, mod);
    wrap(L, real, "decode_max_depth", json_setting, HW_JSON_MAX_DEPTH, mod);
    wrap(L, real, "encode_number_precision", json_setting, 0, mod);
    wrap(L, real, "encode_invalid_numbers", json_setting, 0, mod);
    wrap(L, real, "decode_invalid_numbers", json_setting, 0, mod);
    lua_pushcfunction(L, json_keep_buffer);
    lua_setfield(L, mod, "encode_keep_buffer");
    static const char *const plain[] = {"null", "_NAME", "_VERSION"};
    for (size_t i = 0; i < sizeof plain / sizeof *plain; i++) {
        lua_getfield(L, real, plain[i]);
        lua_setfield(L, mod, plain[i]);
    }
    lua_pushvalue(L, real);
    lua_pushcclosure(L, json_reset, 1);
    sb->ref_json_reset = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_remove(L, real);
}
