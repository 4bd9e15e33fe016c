/* load, loadstring and require for the strict sandbox (sandbox_loaders.c),
 * as lua_CFunctions to register as the globals of those names. Each polls
 * the sandbox's limits on entry, loads text only (never bytecode) and runs
 * on the thread that owns the state. require reads modules from the
 * registry's "hworker.loaded" table, which the set-up must have made. */
#ifndef HW_SANDBOX_LOADERS_H
#define HW_SANDBOX_LOADERS_H

#include <lua.h>

#include "sandbox.h"

int hw_sandbox_load(lua_State *L);
int hw_sandbox_loadstring(lua_State *L);
int hw_sandbox_require(lua_State *L);

#endif
