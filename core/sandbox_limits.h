/* The limits of a sandbox (sandbox_limits.c): the memory cap, the time
 * limit and the stop flags, the C stack budget. hw_sandbox_of, _poll,
 * _reserve and _unreserve, which every sandbox library file uses, are
 * declared in sandbox.h. Everything here runs on the thread that owns the
 * state; nothing is shared. */
#ifndef HW_SANDBOX_LIMITS_H
#define HW_SANDBOX_LIMITS_H

#include <stdatomic.h>
#include <stddef.h>
#include <lua.h>

#include "sandbox.h"

/* The message the stop error carries for `why` ("" for HW_STOP_NONE): a
 * static string, never freed. */
const char *hw_sandbox_stop_message(hw_stop_reason why);

/* The state's lua_Alloc; `ud` is the hw_sandbox. Refuses growth past
 * env->memory_limit (setting over_limit) unless the engine's own upkeep
 * runs. */
void *hw_sandbox_alloc(void *ud, void *ptr, size_t osize, size_t nsize);

/* A full collection outside any job, with no memory cap while it runs. */
void hw_sandbox_collect(hw_sandbox *sb);

/* Why the running code must stop now (lease lost, shutdown, memory, time
 * limit, in that order), or HW_STOP_NONE. Raises nothing. */
hw_stop_reason hw_sandbox_pending_stop(hw_sandbox *sb);

/* Records `why` as the reason (unless one is recorded already), makes the
 * hook fire on every instruction from now on, and raises the stop error.
 * Never returns. */
int hw_sandbox_raise_stop(lua_State *L, hw_sandbox *sb, hw_stop_reason why);

/* Raises the stop error when the running code must stop; returns otherwise.
 * Unlike hw_sandbox_poll it leaves the C stack unchecked. */
void hw_sandbox_check_stop(lua_State *L);

/* Starts the limits for code about to run on this thread: measures the C
 * stack from here, sets the deadline env->job_timeout from now, watches
 * `stop` (a claim's stop flag, may be NULL) and installs the count hook. */
void hw_sandbox_arm(hw_sandbox *sb, atomic_int *stop);

/* Removes the hook and the deadline; the state runs no code after it. */
void hw_sandbox_disarm(hw_sandbox *sb);

#endif
