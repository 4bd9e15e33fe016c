/* cjson inside a sandbox: the engine's private instance and the job's
 * wrapped one (sandbox_json.c says why). */
#ifndef HW_SANDBOX_JSON_H
#define HW_SANDBOX_JSON_H

#include <lua.h>

#include "sandbox.h"

/* Sets sb->ref_decode and sb->ref_encode to the engine's own decode and
 * encode, and sb->ref_json_reset to a function that puts the job instance's
 * settings back to cjson's defaults (call it when sb->json_dirty); pushes the
 * job-facing cjson module table. Runs inside the state's set-up (protected:
 * allocation errors propagate as Lua errors). */
void hw_sandbox_json_open(lua_State *L, hw_sandbox *sb);

#endif
