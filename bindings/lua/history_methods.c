/* The history queue methods: q:history{} and q:timings() (docs/lua-api.md). */
#include <stdlib.h>
#include <string.h>

#include "module.h"

/* Pushes a histogram: {count =, sum_us =, buckets = {n1, ..., n16}}, each
 * bucket's own count (not cumulative), its bound in hworker.timing_bounds. */
static void push_timing(lua_State *L, const hworker_timing *t)
{
    lua_createtable(L, 0, 3);
    hw_lua_set_int(L, "count", t->count);
    hw_lua_set_int(L, "sum_us", t->sum_us);
    lua_createtable(L, HWORKER_TIMING_BUCKETS, 0);
    for (int i = 0; i < HWORKER_TIMING_BUCKETS; i++) {
        lua_pushnumber(L, (lua_Number)t->bucket[i]);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "buckets");
}

static void push_entry(lua_State *L, const hworker_history_entry *e)
{
    lua_createtable(L, 0, 9);
    hw_lua_set_int(L, "start_ms", e->start_ms);
    hw_lua_set_int(L, "period_ms", e->period_ms);
    hw_lua_set_int(L, "processed", e->processed);
    hw_lua_set_int(L, "succeeded", e->succeeded);
    hw_lua_set_int(L, "retried", e->retried);
    hw_lua_set_int(L, "failed", e->failed);
    hw_lua_set_int(L, "broken", e->broken);
    push_timing(L, &e->wait);
    lua_setfield(L, -2, "wait");
    push_timing(L, &e->run);
    lua_setfield(L, -2, "run");
}

/* The buckets, gathered in C first: a Lua error while they are pushed
 * (out of memory) must not skip freeing them. */
typedef struct gathered {
    hworker_history_entry *e;
    size_t n, cap;
} gathered;

static int gather(void *ud, const hworker_history_entry *e)
{
    gathered *g = ud;
    if (g->n == g->cap) {
        g->cap = g->cap ? g->cap * 2 : 64;
        g->e = realloc(g->e, g->cap * sizeof *g->e);
        if (g->e == NULL) abort();
    }
    g->e[g->n++] = *e;
    return 0;
}

static int push_gathered(lua_State *L)
{
    const gathered *g = lua_touserdata(L, 1);
    lua_createtable(L, (int)g->n, 0);
    for (size_t i = 0; i < g->n; i++) {
        push_entry(L, &g->e[i]);
        lua_rawseti(L, -2, (int)i + 1);
    }
    return 1;
}

/* q:history{ since = seconds (3600), period = "minute" | "hour" } -> the
 * buckets overlapping the last `since` seconds, oldest first (see
 * push_entry), including empty ones. */
static int l_history(lua_State *L)
{
    lqueue *q = hw_lua_check_queue(L);
    double since = 3600;
    long long period = 60000;
    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        static const char *const known[] = {"since", "period", NULL};
        hw_lua_check_known(L, 2, known, "q:history");
        lua_getfield(L, 2, "since");
        if (!lua_isnil(L, -1)) {
            if (!lua_isnumber(L, -1)) return luaL_error(L, "hworker: q:history: since must be a number of seconds");
            since = lua_tonumber(L, -1);
        }
        lua_getfield(L, 2, "period");
        if (!lua_isnil(L, -1)) {
            const char *p = lua_tostring(L, -1);
            if (p && strcmp(p, "hour") == 0) period = 3600000;
            else if (!p || strcmp(p, "minute") != 0)
                return luaL_error(L, "hworker: q:history: period must be \"minute\" or \"hour\"");
        }
        lua_pop(L, 2);
    }
    if (!(since > 0 && since < 1e9)) return luaL_error(L, "hworker: q:history: since must be > 0 seconds");
    lua_pushcfunction(L, push_gathered);
    gathered g = {0};
    char err[512];
    if (hworker_history(q->h, period, (long long)(since * 1000.0), gather, &g, err, sizeof err) != HWORKER_OK) {
        free(g.e);
        return luaL_error(L, "hworker: %s", err);
    }
    lua_pushlightuserdata(L, &g);
    int status = lua_pcall(L, 1, 1, 0);
    free(g.e);
    if (status != 0) return lua_error(L);
    return 1;
}

/* q:timings() -> {wait = histogram, run = histogram} since the queue began. */
static int l_timings(lua_State *L)
{
    lqueue *q = hw_lua_check_queue(L);
    hworker_timing wait, run;
    char err[512];
    if (hworker_get_timings(q->h, &wait, &run, err, sizeof err) != HWORKER_OK) return luaL_error(L, "hworker: %s", err);
    lua_createtable(L, 0, 2);
    push_timing(L, &wait);
    lua_setfield(L, -2, "wait");
    push_timing(L, &run);
    lua_setfield(L, -2, "run");
    return 1;
}

void hw_lua_history_methods(lua_State *L)
{
    lua_pushcfunction(L, l_history);
    lua_setfield(L, -2, "history");
    lua_pushcfunction(L, l_timings);
    lua_setfield(L, -2, "timings");
}

void hw_lua_push_timing_bounds(lua_State *L)
{
    lua_createtable(L, HWORKER_TIMING_BUCKETS, 0);
    for (int i = 0; i < HWORKER_TIMING_BUCKETS; i++) {
        lua_pushnumber(L, hworker_timing_bound(i));
        lua_rawseti(L, -2, i + 1);
    }
}
