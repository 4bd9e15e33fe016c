/* Result values (sandbox_results.c): what hworker.success, .retry and
 * .failure make, and how the engine reads what a job returned. Everything
 * here runs on the thread that owns the state; nothing is shared. */
#ifndef HW_SANDBOX_RESULTS_H
#define HW_SANDBOX_RESULTS_H

#include <stddef.h>
#include <lua.h>

#include "buf.h"
#include "sandbox.h"

/* Makes the metatable every result shares and sets sb->ref_result_mt. Runs
 * inside the state's protected set-up (allocation errors are Lua errors). */
void hw_sandbox_open_results(lua_State *L, hw_sandbox *sb);

/* Pushes a new result of `kind` with a copy of msg[0..len) and `delay`
 * (seconds, or -1 for none). Needs hw_sandbox_open_results first. */
void hw_sandbox_push_result(lua_State *L, hw_result_kind kind, const char *msg, size_t len, double delay);

/* hworker.retry(msg, opts) and hworker.failure(msg, opts), as lua_CFunctions. */
int hw_sandbox_retry(lua_State *L);
int hw_sandbox_failure(lua_State *L);

/* Reads the value on top of the stack, which the job returned, into out:
 * nothing is success, a result is taken as it is, anything else is a
 * failure that names it. Appends to out->message; sets out->delay_ms only
 * when the result carries a delay. Leaves the stack as it is. */
void hw_sandbox_read_result(hw_sandbox *sb, hw_result *out);

/* Writes each NUL byte in b as the two characters \0, so that the text can
 * travel on as a C string. */
void hw_sandbox_escape_nul(hw_buf *b);

#endif
