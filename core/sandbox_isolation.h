/* Isolation between the jobs that one sandbox runs, and the coroutine
 * nesting limit (sandbox_isolation.c). Everything here runs on the thread
 * that owns the state; nothing is shared. */
#ifndef HW_SANDBOX_ISOLATION_H
#define HW_SANDBOX_ISOLATION_H

#include <lua.h>

#include "sandbox.h"

/* Pushes a read-only view of the table at `idx`, named `name` in the error
 * that a write raises. The table itself stays writable for the engine. */
void hw_sandbox_readonly(lua_State *L, int idx, const char *name);

/* Moves the job file's globals out of reach of later writes; call once,
 * after init. Sets sb->ref_globals. */
void hw_sandbox_seal_globals(lua_State *L, hw_sandbox *sb);

/* Forgets the globals the last job set (no allocation: cannot fail). */
void hw_sandbox_reset_globals(lua_State *L, hw_sandbox *sb);

/* Replaces resume and wrap in the table at `coroutine_table` (an absolute
 * index) with versions that enforce HW_COROUTINE_DEPTH and poll the
 * sandbox's limits before each resume. */
void hw_sandbox_open_coroutines(lua_State *L, int coroutine_table);

#endif
