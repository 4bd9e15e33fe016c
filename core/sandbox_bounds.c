/* The count hook that enforces the time limit fires every thousand VM
 * instructions, never inside a C function. A C function whose cost grows
 * with its arguments (string.rep of a large count, table.sort of a large
 * table) is bounded by the memory cap, but a short loop that calls it again
 * and again runs hundreds of such calls between two hook checks. So these
 * functions poll the sandbox's limits on entry: a job past its limit stops
 * at its next call, after at most one call's worth of overrun. */
#include "sandbox_bounds.h"

#include <lauxlib.h>
#include <ctype.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

/* The real function runs from C, so an error it raises names neither the
 * function nor the caller's line: both are put back. Messages that already
 * carry a position (from Lua code it called, such as a sort comparator) and
 * the sandbox's stop pass unchanged. */
static int rethrow(lua_State *L)
{
    hw_sandbox *sb = hw_sandbox_of(L);
    if (sb->stopped != HW_STOP_NONE || lua_type(L, -1) != LUA_TSTRING) return lua_error(L);
    const char *msg = lua_tostring(L, -1);
    const char *colon = strchr(msg, ':');
    if (colon && colon != msg && isdigit((unsigned char)colon[1])) return lua_error(L);
    const char *unnamed = strstr(msg, " to '?'");
    luaL_where(L, 1);
    if (unnamed) {
        lua_pushlstring(L, msg, (size_t)(unnamed - msg));
        lua_pushfstring(L, " to '%s'", lua_tostring(L, lua_upvalueindex(2)));
        lua_pushstring(L, unnamed + 7);
        lua_concat(L, 4);
    } else {
        lua_pushvalue(L, -2);
        lua_concat(L, 2);
    }
    return lua_error(L);
}

/* Upvalue 1: the real function; upvalue 2: its name. */
static int poll_then_call(lua_State *L)
{
    hw_sandbox_poll(L);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    if (lua_pcall(L, lua_gettop(L) - 1, LUA_MULTRET, 0) != 0) return rethrow(L);
    return lua_gettop(L);
}

static void wrap_all(lua_State *L, const char *library, const char *const *names)
{
    if (library) lua_getglobal(L, library);
    else lua_pushvalue(L, LUA_GLOBALSINDEX);
    for (const char *const *n = names; *n; n++) {
        lua_getfield(L, -1, *n);
        lua_pushstring(L, *n);
        lua_pushcclosure(L, poll_then_call, 2);
        lua_setfield(L, -2, *n);
    }
    lua_pop(L, 1);
}

/* table.insert(t, [pos,] v). LuaJIT's shifts every slot between #t and pos,
 * so a position of -2^31 runs for seconds in C; here pos must be from 1 to
 * #t + 1, as Lua 5.2 and later require. */
static int table_insert(lua_State *L)
{
    hw_sandbox_poll(L);
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_Integer end = (lua_Integer)lua_objlen(L, 1) + 1;
    lua_Integer pos = end;
    switch (lua_gettop(L)) {
    case 2: break;
    case 3:
        pos = luaL_checkinteger(L, 2);
        luaL_argcheck(L, pos >= 1 && pos <= end, 2, "position out of bounds");
        for (lua_Integer i = end; i > pos; i--) {
            lua_rawgeti(L, 1, (int)(i - 1));
            lua_rawseti(L, 1, (int)i);
        }
        break;
    default: return luaL_error(L, "wrong number of arguments to 'insert'");
    }
    lua_rawseti(L, 1, (int)pos);
    return 0;
}

/* Upvalue 1: the real math.randomseed. */
static int random_seed(lua_State *L)
{
    hw_sandbox_of(L)->random_dirty = 1;
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 0);
    return 0;
}

/* A seed no job can predict from what it ran: the clock and the state. */
static void seed(lua_State *L, hw_sandbox *sb)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)(uintptr_t)sb;
    lua_rawgeti(L, LUA_REGISTRYINDEX, sb->ref_randomseed);
    lua_pushnumber(L, (lua_Number)(x % 2147483647u));
    lua_call(L, 1, 0);
    sb->random_dirty = 0;
}

void hw_sandbox_bound_libraries(lua_State *L, hw_sandbox *sb)
{
    /* Not string.byte, char, unpack or select: what they take or give is
     * bounded by the Lua stack (a few thousand values), not by the cap. */
    static const char *const strings[] = {"format", "lower", "upper", "rep", "reverse", "sub", NULL};
    static const char *const tables[] = {"concat", "remove", "sort", "maxn", NULL};
    static const char *const os[] = {"date", NULL};
    static const char *const base[] = {"tonumber", NULL};
    wrap_all(L, "string", strings);
    wrap_all(L, "table", tables);
    wrap_all(L, "os", os);
    wrap_all(L, NULL, base);
    lua_getglobal(L, "table");
    lua_pushcfunction(L, table_insert);
    lua_setfield(L, -2, "insert");
    lua_pop(L, 1);
    lua_getglobal(L, "math");
    lua_getfield(L, -1, "randomseed");
    lua_pushvalue(L, -1);
    sb->ref_randomseed = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pushcclosure(L, random_seed, 1);
    lua_setfield(L, -2, "randomseed");
    lua_pop(L, 1);
    seed(L, sb);
}

void hw_sandbox_reset_random(lua_State *L, hw_sandbox *sb)
{
    if (sb->random_dirty) seed(L, sb);
}
