/* The event queue methods (docs/operations.md, "Events"):
 * q:set_events(cap | false) and q:events{ after =, count =, block = }. */
#include <stdlib.h>
#include <string.h>

#include "module.h"

/* q:set_events(cap) turns events on, keeping about cap per shard;
 * q:set_events(false) (or 0) turns them off. */
static int l_set_events(lua_State *L)
{
    lqueue *q = hw_lua_check_queue(L);
    long long cap = 0;
    if (lua_type(L, 2) == LUA_TNUMBER) {
        lua_Number n = lua_tonumber(L, 2);
        if (!(n >= 0 && n <= 1e9 && n == (lua_Number)(long long)n))
            return luaL_error(L,
                              "hworker: set_events: the cap must be a whole number from 1 to 1000000000 "
                              "(0 or false: off)");
        cap = (long long)n;
    } else if (!(lua_type(L, 2) == LUA_TBOOLEAN && !lua_toboolean(L, 2))) {
        return luaL_argerror(L, 2, "a cap (a number of events) or false");
    }
    char err[512];
    if (hworker_set_events(q->h, cap, err, sizeof err) != HWORKER_OK) return luaL_error(L, "hworker: %s", err);
    return 0;
}

static void set_string(lua_State *L, const char *k, const char *v)
{
    if (v == NULL) return;
    lua_pushstring(L, v);
    lua_setfield(L, -2, k);
}

/* Appends one event to the list at index 1 (run under lua_pcall, so that a
 * memory error stops the read instead of unwinding through it). */
static int push_event(lua_State *L)
{
    const hworker_event *e = lua_touserdata(L, 2);
    lua_createtable(L, 0, 10);
    set_string(L, "entry", e->entry);
    hw_lua_set_int(L, "time_ms", e->time_ms);
    hw_lua_set_int(L, "shard", e->shard);
    set_string(L, "event", e->event);
    set_string(L, "id", e->job_id);
    hw_lua_set_int(L, "attempt", e->attempt);
    set_string(L, "worker", e->worker);
    set_string(L, "reason", e->reason);
    hw_lua_set_int(L, "delay_ms", e->delay_ms);
    hw_lua_set_int(L, "due_ms", e->due_ms);
    lua_rawseti(L, 1, (int)lua_objlen(L, 1) + 1);
    return 0;
}

typedef struct pushing {
    lua_State *L;
    int list;   /* stack index of the list */
    int status; /* of the first failed push */
} pushing;

static int on_event(void *ud, const hworker_event *e)
{
    pushing *p = ud;
    lua_State *L = p->L;
    lua_pushcfunction(L, push_event);
    lua_pushvalue(L, p->list);
    lua_pushlightuserdata(L, (void *)e);
    p->status = lua_pcall(L, 2, 0, 0);
    return p->status != 0;
}

/* q:events{ after = cursor ("": the oldest kept; "$": from now), count =
 * 100, block = seconds } -> the events (oldest first), the cursor to pass
 * next. */
static int l_events(lua_State *L)
{
    lqueue *q = hw_lua_check_queue(L);
    const char *after = "";
    long count = 100;
    double block = 0;
    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        static const char *const known[] = {"after", "count", "block", NULL};
        hw_lua_check_known(L, 2, known, "q:events");
        lua_getfield(L, 2, "after");
        if (!lua_isnil(L, -1)) {
            if (lua_type(L, -1) != LUA_TSTRING)
                return luaL_error(L, "hworker: q:events: after must be a cursor string");
            after = lua_tostring(L, -1);
        }
        lua_getfield(L, 2, "count");
        if (!lua_isnil(L, -1)) {
            lua_Number n = lua_tonumber(L, -1);
            if (!(n >= 1 && n <= 100000)) return luaL_error(L, "hworker: q:events: count must be 1 to 100000");
            count = (long)n;
        }
        lua_getfield(L, 2, "block");
        if (!lua_isnil(L, -1)) {
            lua_Number n = lua_tonumber(L, -1);
            if (!(n >= 0 && n <= 10)) return luaL_error(L, "hworker: q:events: block must be 0 to 10 seconds");
            block = n;
        }
        lua_pop(L, 2); /* the "after" string stays on the stack, alive */
    }
    size_t size = HWORKER_EVENTS_CURSOR_SIZE(hworker_shards(q->h));
    if (strlen(after) >= size) return luaL_error(L, "hworker: q:events: after is not a cursor of this queue");
    char *cursor = lua_newuserdata(L, size); /* freed by the collector, even if a push raises */
    strcpy(cursor, after);
    lua_newtable(L);
    pushing p = {L, lua_gettop(L), 0};
    char err[512];
    hworker_rc rc = hworker_events(q->h, cursor, size, count, block, on_event, &p, err, sizeof err);
    if (p.status != 0) return lua_error(L);
    if (rc != HWORKER_OK) return luaL_error(L, "hworker: %s", err);
    lua_pushstring(L, cursor);
    return 2;
}

void hw_lua_event_methods(lua_State *L)
{
    lua_pushcfunction(L, l_set_events);
    lua_setfield(L, -2, "set_events");
    lua_pushcfunction(L, l_events);
    lua_setfield(L, -2, "events");
}
