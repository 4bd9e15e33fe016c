/* Time bounds for the C library functions of the strict sandbox whose cost
 * grows with their arguments (sandbox_bounds.c says why). Runs on the thread
 * that owns the state; nothing is shared. */
#ifndef HW_SANDBOX_BOUNDS_H
#define HW_SANDBOX_BOUNDS_H

#include <lua.h>

#include "sandbox.h"

/* Wraps those functions in the real library tables (the globals string,
 * table, os and the base library must still be the real ones), replaces
 * table.insert with one that refuses positions out of bounds, and
 * math.randomseed with one that marks the generator for a fresh seed before
 * the next job. Seeds the generator. Call inside the state's protected
 * set-up, after the libraries are opened. */
void hw_sandbox_bound_libraries(lua_State *L, hw_sandbox *sb);

/* Gives the generator a fresh seed if the last job chose one. */
void hw_sandbox_reset_random(lua_State *L, hw_sandbox *sb);

#endif
