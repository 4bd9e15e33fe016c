/* What keeps one job from changing what the next job sees, and nested
 * coroutines from overflowing the C stack. */
#include "sandbox_isolation.h"

#include <lauxlib.h>

/* ---- read-only libraries ------------------------------------------------ */

/* Upvalue 1: the library's name. */
static int refuse_change(lua_State *L)
{
    const char *key = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : "?";
    return luaL_error(L,
                      "cannot change %s.%s: libraries are read-only in the hworker sandbox (keep your own "
                      "functions in locals or in state)",
                      lua_tostring(L, lua_upvalueindex(1)), key);
}

/* A userdata rather than a table: rawset, table.insert and the like refuse
 * it, so there is no way around __newindex. */
void hw_sandbox_readonly(lua_State *L, int idx, const char *name)
{
    idx = idx < 0 ? lua_gettop(L) + idx + 1 : idx;
    lua_newuserdata(L, 0);
    lua_createtable(L, 0, 3);
    lua_pushvalue(L, idx);
    lua_setfield(L, -2, "__index");
    lua_pushstring(L, name);
    lua_pushcclosure(L, refuse_change, 1);
    lua_setfield(L, -2, "__newindex");
    lua_pushliteral(L, "locked");
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
}

/* ---- globals ------------------------------------------------------------ */

/* Empties the table at idx (an absolute index) without allocating. */
static void clear(lua_State *L, int idx)
{
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        lua_pop(L, 1);
        lua_pushvalue(L, -1);
        lua_pushnil(L);
        lua_rawset(L, idx);
    }
}

/* After the job file and init ran, every global moves into a table of its
 * own (`base`), and the globals table keeps a locked metatable that reads
 * through `scratch` to `base` and writes into `scratch`. A job may then set
 * globals as usual; before the next job, scratch is emptied, and so is
 * anything rawset into the globals table itself. One cost per job: two
 * lua_next calls on (normally) empty tables. */
void hw_sandbox_seal_globals(lua_State *L, hw_sandbox *sb)
{
    lua_newtable(L); /* base */
    int base = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, LUA_GLOBALSINDEX) != 0) {
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, base);
    }
    /* Cleared only after the copy: lua_next must see every key. */
    clear(L, LUA_GLOBALSINDEX);
    lua_newtable(L); /* scratch */
    lua_createtable(L, 0, 1);
    lua_pushvalue(L, base);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, -2);
    lua_createtable(L, 0, 3); /* the globals' metatable */
    lua_pushvalue(L, -2);
    lua_setfield(L, -2, "__index");
    lua_pushvalue(L, -2);
    lua_setfield(L, -2, "__newindex");
    lua_pushliteral(L, "locked");
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, LUA_GLOBALSINDEX);
    sb->ref_globals = luaL_ref(L, LUA_REGISTRYINDEX); /* scratch */
    lua_pop(L, 1);
}

void hw_sandbox_reset_globals(lua_State *L, hw_sandbox *sb)
{
    if (sb->ref_globals == 0) return;
    clear(L, LUA_GLOBALSINDEX);
    lua_rawgeti(L, LUA_REGISTRYINDEX, sb->ref_globals);
    clear(L, lua_gettop(L));
    lua_pop(L, 1);
}

/* ---- coroutines --------------------------------------------------------- */

/* LuaJIT resumes a coroutine on the C stack of its resumer, so coroutines
 * resumed inside one another deepen the C stack without bound: they are
 * counted, and refused past HW_COROUTINE_DEPTH. */

static const char *status_of(lua_State *L, lua_State *co)
{
    if (co == L) return "running";
    if (lua_status(co) == LUA_YIELD) return "suspended";
    if (lua_status(co) != 0) return "dead";
    lua_Debug ar;
    if (lua_getstack(co, 0, &ar) > 0) return "normal";
    return lua_gettop(co) == 0 ? "dead" : "suspended";
}

/* Resumes `co` with the top `nargs` values of L. Returns how many results it
 * left on L, or -1 with an error message on top of L. */
static int resume(lua_State *L, lua_State *co, int nargs)
{
    hw_sandbox *sb = hw_sandbox_of(L);
    hw_sandbox_poll(L);
    const char *status = status_of(L, co);
    if (status[0] != 's') {
        lua_pushfstring(L, "cannot resume %s coroutine", status);
        return -1;
    }
    if (sb->co_depth >= HW_COROUTINE_DEPTH) {
        lua_pushfstring(L, "coroutine nesting limit: at most %d coroutines may be resumed inside one another",
                        HW_COROUTINE_DEPTH);
        return -1;
    }
    if (!lua_checkstack(co, nargs)) luaL_error(L, "too many arguments to resume");
    lua_xmove(L, co, nargs);
    sb->co_depth++;
    int rc = lua_resume(co, nargs);
    sb->co_depth--;
    if (rc != 0 && rc != LUA_YIELD) {
        lua_xmove(co, L, 1);
        return -1;
    }
    int n = lua_gettop(co);
    if (!lua_checkstack(L, n + 1)) luaL_error(L, "too many results to resume");
    lua_xmove(co, L, n);
    return n;
}

static int co_resume(lua_State *L)
{
    lua_State *co = lua_tothread(L, 1);
    luaL_argcheck(L, co != NULL, 1, "coroutine expected");
    int n = resume(L, co, lua_gettop(L) - 1);
    lua_pushboolean(L, n >= 0);
    lua_insert(L, n >= 0 ? -(n + 1) : -2);
    return n >= 0 ? n + 1 : 2;
}

static int co_wrapped(lua_State *L)
{
    int n = resume(L, lua_tothread(L, lua_upvalueindex(1)), lua_gettop(L));
    if (n >= 0) return n;
    if (lua_type(L, -1) == LUA_TSTRING) {
        luaL_where(L, 1);
        lua_insert(L, -2);
        lua_concat(L, 2);
    }
    return lua_error(L);
}

static int co_wrap(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TFUNCTION);
    lua_State *co = lua_newthread(L);
    lua_pushvalue(L, 1);
    lua_xmove(L, co, 1);
    lua_pushcclosure(L, co_wrapped, 1);
    return 1;
}

void hw_sandbox_open_coroutines(lua_State *L, int coroutine_table)
{
    lua_pushcfunction(L, co_resume);
    lua_setfield(L, coroutine_table, "resume");
    lua_pushcfunction(L, co_wrap);
    lua_setfield(L, coroutine_table, "wrap");
}
