/* The entry point of Debian's lua-cjson (liblua5.1-cjson), declared here so
 * that no include path needs /usr/include/lua5.1: that directory may hold
 * the real Lua 5.1's lua.h (liblua5.1-dev), which must never shadow
 * LuaJIT's. */
#ifndef HW_CJSON_ENTRY_H
#define HW_CJSON_ENTRY_H

#include <lua.h>

int luaopen_cjson(lua_State *L);

#endif
