/* The run of one job (sandbox_run.c); hw_sandbox_run itself is declared in
 * sandbox.h. These two serve the opening of a state. Everything here runs
 * on the thread that owns the state; nothing is shared. */
#ifndef HW_SANDBOX_RUN_H
#define HW_SANDBOX_RUN_H

#include <lua.h>

#include "buf.h"
#include "sandbox.h"

/* The lua_CFunction that does all of one job run inside the state, called
 * by hw_sandbox_run through a registry reference (sb->ref_runner), which the
 * set-up makes. */
int hw_sandbox_run_protected(lua_State *L);

/* Replaces the contents of out with a message for the error value on top
 * of the stack (the stop message when the code was stopped). May call
 * tostring, under the limits still armed; leaves the stack as it is. */
void hw_sandbox_error_message(hw_sandbox *sb, hw_buf *out);

#endif
