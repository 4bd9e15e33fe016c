/* The queue methods of flow control (docs/flow-control.md):
 * q:pause(), q:resume(), q:limit{concurrency =, rate =, burst =},
 * q:limit{group =, concurrency =, rate =, burst =} and q:limits(). */
#include <stdio.h>
#include <string.h>

#include "module.h"

void hw_lua_push_flow(lua_State *L, const hworker_stats *s)
{
    lua_createtable(L, 0, 5);
    lua_pushboolean(L, s->paused != 0);
    lua_setfield(L, -2, "paused");
    if (s->concurrency > 0) hw_lua_set_int(L, "concurrency", s->concurrency);
    if (s->rate > 0) {
        hw_lua_set_int(L, "rate", s->rate);
        hw_lua_set_int(L, "rate_period_ms", s->rate_period_ms);
        hw_lua_set_int(L, "burst", s->burst);
    }
    if (s->group_concurrency > 0) hw_lua_set_int(L, "group_concurrency", s->group_concurrency);
    if (s->group_rate > 0) {
        hw_lua_set_int(L, "group_rate", s->group_rate);
        hw_lua_set_int(L, "group_rate_period_ms", s->group_rate_period_ms);
        hw_lua_set_int(L, "group_burst", s->group_burst);
    }
    if (s->events_cap > 0) hw_lua_set_int(L, "events", s->events_cap);
}

static int set_paused(lua_State *L, int pause)
{
    lqueue *q = hw_lua_check_queue(L);
    char err[512];
    if ((pause ? hworker_pause(q->h, err, sizeof err) : hworker_resume(q->h, err, sizeof err)) != HWORKER_OK)
        return luaL_error(L, "hworker: %s", err);
    return 0;
}

static int l_pause(lua_State *L) { return set_paused(L, 1); }
static int l_resume(lua_State *L) { return set_paused(L, 0); }

/* A count option of q:limit: absent (keep), false, "none" or 0 (none), or
 * a whole number >= 0. */
static void count_option(lua_State *L, const char *name, long long *out)
{
    lua_getfield(L, 2, name);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return;
    }
    if ((lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1)) ||
        (lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), "none") == 0))
        *out = 0;
    else {
        lua_Number n = lua_type(L, -1) == LUA_TNUMBER ? lua_tonumber(L, -1) : -1;
        if (!(n >= 0 && n <= 1e12 && n == (lua_Number)(long long)n))
            luaL_error(L, "hworker: limit: %s must be a whole number >= 0 (0, false or \"none\": none)", name);
        *out = (long long)n;
    }
    lua_pop(L, 1);
}

/* q:limit{ concurrency = N, rate = "100/s", burst = B }: changes the limits
 * given and keeps the others; 0, false or "none" removes one. With
 * group = G ("*": every group without its own), the limits given replace
 * group G's (those left out are removed). Returns the limits as q:limits()
 * does. */
static int l_limit(lua_State *L)
{
    lqueue *q = hw_lua_check_queue(L);
    luaL_checktype(L, 2, LUA_TTABLE);
    static const char *const known[] = {"concurrency", "rate", "burst", "group", NULL};
    hw_lua_check_known(L, 2, known, "limit");
    lua_getfield(L, 2, "group");
    if (!lua_isnil(L, -1) && lua_type(L, -1) != LUA_TSTRING)
        return luaL_error(L, "hworker: limit: group must be a string (\"*\": every group)");
    const char *group = lua_tostring(L, -1); /* stays on the stack */
    char err[512];
    hworker_limits l = {0};
    if (group == NULL && hworker_get_limits(q->h, &l, NULL, err, sizeof err) != HWORKER_OK)
        return luaL_error(L, "hworker: %s", err);
    count_option(L, "concurrency", &l.concurrency);
    count_option(L, "burst", &l.burst);
    lua_getfield(L, 2, "rate");
    if (lua_type(L, -1) == LUA_TSTRING) {
        if (hworker_parse_rate(lua_tostring(L, -1), &l.rate, &l.rate_period_ms, err, sizeof err) != HWORKER_OK)
            return luaL_error(L, "hworker: limit: %s", err);
    } else if ((lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1)) ||
               (lua_type(L, -1) == LUA_TNUMBER && lua_tonumber(L, -1) == 0)) {
        l.rate = l.rate_period_ms = 0;
    } else if (!lua_isnil(L, -1)) {
        return luaL_error(L, "hworker: limit: rate must be a string such as \"100/s\" (false: none)");
    }
    lua_pop(L, 1);
    hworker_rc rc = group ? hworker_set_group_limits(q->h, group, &l, err, sizeof err)
                          : hworker_set_limits(q->h, &l, err, sizeof err);
    if (rc != HWORKER_OK) return luaL_error(L, "hworker: %s", err);
    hworker_stats s;
    if (hworker_get_stats(q->h, &s, err, sizeof err) != HWORKER_OK) return luaL_error(L, "hworker: %s", err);
    hw_lua_push_flow(L, &s);
    return 1;
}

/* q:limits() -> { paused, concurrency, rate, rate_period_ms, burst }. */
static int l_limits(lua_State *L)
{
    lqueue *q = hw_lua_check_queue(L);
    char err[512];
    hworker_stats s;
    if (hworker_get_stats(q->h, &s, err, sizeof err) != HWORKER_OK) return luaL_error(L, "hworker: %s", err);
    hw_lua_push_flow(L, &s);
    return 1;
}

void hw_lua_flow_methods(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"pause", l_pause}, {"resume", l_resume}, {"limit", l_limit}, {"limits", l_limits}, {NULL, NULL}};
    for (const luaL_Reg *m = methods; m->name; m++) {
        lua_pushcfunction(L, m->func);
        lua_setfield(L, -2, m->name);
    }
}
