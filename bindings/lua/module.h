/* Pieces the files of the Lua module share (hworker_module.c holds the
 * module's entry point and most methods; each other file one group of
 * queue methods). Called from the caller's Lua thread only. */
#ifndef HW_LUA_MODULE_H
#define HW_LUA_MODULE_H

#include <lauxlib.h>
#include <lua.h>

#include "hworker.h"

#define QUEUE_MT "hworker.queue"

typedef struct lqueue {
    hworker *h;
} lqueue;

/* The queue at argument 1; raises if it is not one or was closed. */
lqueue *hw_lua_check_queue(lua_State *L);

/* Raises unless every key of the table at t is one of `known`. */
void hw_lua_check_known(lua_State *L, int t, const char *const *known, const char *what);

/* t[k] = v on the table on top, for v >= 0 (a negative v is left out). */
void hw_lua_set_int(lua_State *L, const char *k, long long v);

/* Pushes a queue's flow settings from its stats: {paused, concurrency,
 * rate, rate_period_ms, burst}, a limit left out when unset. */
void hw_lua_push_flow(lua_State *L, const hworker_stats *s);

/* Adds the flow-control methods (flow_methods.c) to the table on top. */
void hw_lua_flow_methods(lua_State *L);

/* Adds q:processes() (process_methods.c) to the table on top. */
void hw_lua_process_methods(lua_State *L);

/* Adds q:history{} and q:timings() (history_methods.c) to the table on top. */
void hw_lua_history_methods(lua_State *L);

/* Adds q:cancel(id), q:delete_job(id) and q:run_now(id) (job_methods.c)
 * to the table on top. */
void hw_lua_job_methods(lua_State *L);

/* Adds q:set_events(cap) and q:events{} (event_methods.c) to the table on top. */
void hw_lua_event_methods(lua_State *L);

/* Pushes the timing buckets' upper bounds in seconds, {0.001, ..., inf}. */
void hw_lua_push_timing_bounds(lua_State *L);

#endif
