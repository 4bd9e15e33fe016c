/* The library job code calls (sandbox_library.c). Everything here runs on
 * the thread that owns the state; nothing is shared. */
#ifndef HW_SANDBOX_LIBRARY_H
#define HW_SANDBOX_LIBRARY_H

#include <lua.h>

#include "sandbox.h"

/* Pushes the hworker table: success (needs hw_sandbox_open_results first),
 * retry, failure, log, now, queue, sleep, version and sandbox. Runs inside
 * the state's protected set-up (allocation errors are Lua errors). */
void hw_sandbox_open_hworker(lua_State *L, hw_sandbox *sb);

/* Pushes the host table: each of env->functions, called through a
 * trampoline that polls the limits first, with its ud as upvalue 1. Runs
 * inside the state's protected set-up. */
void hw_sandbox_open_host(lua_State *L, hw_sandbox *sb);

/* print(...) to the logger at level info, and xpcall(f, handler, ...) with
 * the handler run after the stack has unwound; lua_CFunctions to register
 * as the globals of those names. print needs sb->ref_tostring. */
int hw_sandbox_print(lua_State *L);
int hw_sandbox_xpcall(lua_State *L);

#endif
