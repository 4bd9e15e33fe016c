#ifndef HW_LUA_PATTERNS_H
#define HW_LUA_PATTERNS_H

/* string.find, string.match, string.gmatch and string.gsub for the strict
 * job sandbox, with LuaJIT 2.1's results and error messages for every input,
 * but stoppable.
 *
 * Why: the sandbox's time limit is a count hook, and a count hook never
 * fires inside a C function. LuaJIT's own pattern matcher can backtrack for
 * longer than the universe lasts (("a"):rep(5e4):find(".-.-.-.-.-b")), and
 * its plain find is quadratic; while either runs, neither the time limit nor
 * a lost lease nor shutdown can stop the job. These functions instead:
 *
 * - Time: count their steps (a step is one attempt of a pattern item, one
 *   subject byte scanned, or a few dozen bytes of a set, a back reference or
 *   a gsub template gone through) and call the poll function every
 *   HW_PATTERNS_POLL_STEPS steps, a few microseconds apart. The poll may
 *   raise a Lua error (longjmp): nothing is malloc'd across steps, the
 *   matcher's state lives in a fixed-size struct on the C stack. Plain
 *   finds, and patterns with no special characters, use memmem (linear:
 *   glibc's is two-way).
 * - Stack: the matcher recurses once per capture and per quantified item it
 *   is inside, at most HW_PATTERNS_MAX_DEPTH levels; deeper raises "pattern
 *   too complex" (LuaJIT's own limit and message), whatever the pattern.
 * - Memory: every string they build (gsub's result, captures) is a Lua
 *   string or a luaL_Buffer, so the state's allocator counts it and its cap
 *   applies.
 *
 * Errors are raised as Lua errors with LuaJIT's messages ("malformed pattern
 * (ends with '%')", "invalid capture index", "pattern too complex", ...). */

#include <lua.h>

/* Called every HW_PATTERNS_POLL_STEPS steps of a match (never while a
 * replacement function or __index runs: Lua code has its own hook). It
 * returns normally to let the match go on, or raises a Lua error
 * (lua_error) to stop it. It must not be NULL. */
typedef void (*hw_patterns_poll)(lua_State *L);

#define HW_PATTERNS_POLL_STEPS 4096
#define HW_PATTERNS_MAX_DEPTH 200

/* Replaces find, match, gmatch and gsub in the table at string_table_index
 * (the string library's table, which is also the strings' __index, so
 * method calls like ("x"):find(p) use them too) with these versions, each
 * holding `poll` in an upvalue.
 * Ownership: the functions live in L; nothing is allocated outside it.
 * Thread-safety: no shared state; L is used by one thread at a time, as
 * any lua_State. Errors: raises a Lua error only when L is out of memory
 * (call it protected, like any library setup). */
void hw_patterns_install(lua_State *L, int string_table_index, hw_patterns_poll poll);

#endif
