/* How job code loads more code in the strict sandbox: load and loadstring,
 * which take source text only, and require, which finds the sandbox's own
 * libraries or Lua source modules beside the job file. Runs on the thread
 * that owns the state; nothing is shared. */
#include "sandbox_loaders.h"

#include <lauxlib.h>
#include <string.h>

#include "buf.h"
#include "read_file.h"

/* load and loadstring accept text only: bytecode can break out of any
 * sandbox. */
/* The reader at stack slot `fn`; each piece it returns is kept alive in
 * slot `piece` (reserved by hw_sandbox_load) until the parser asks for the next. */
typedef struct reader_state {
    lua_State *L;
    int fn, piece;
} reader_state;

static const char *call_reader(lua_State *L, void *ud, size_t *size)
{
    hw_sandbox_poll(L);
    reader_state *rs = ud;
    lua_pushvalue(L, rs->fn);
    lua_call(L, 0, 1);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        *size = 0;
        return NULL;
    }
    if (!lua_isstring(L, -1)) luaL_error(L, "reader function must return a string");
    lua_replace(L, rs->piece);
    return lua_tolstring(L, rs->piece, size);
}

static const char binary_refused[] = "binary chunks cannot be loaded in the hworker sandbox (load Lua source text)";

static int finish_load(lua_State *L, int status, int env_index)
{
    if (status != 0) {
        lua_pushnil(L);
        lua_insert(L, -2);
        return 2;
    }
    if (env_index && !lua_isnil(L, env_index)) {
        lua_pushvalue(L, env_index);
        lua_setfenv(L, -2);
    }
    return 1;
}

int hw_sandbox_load(lua_State *L)
{
    hw_sandbox_poll(L); /* parsing is linear, but a loop of loads is not */
    const char *name = luaL_optstring(L, 2, "=(load)");
    lua_settop(L, 4);
    if (!lua_isnil(L, 4)) luaL_checktype(L, 4, LUA_TTABLE); /* setfenv takes nothing else */
    if (lua_type(L, 1) == LUA_TSTRING) {
        size_t len;
        const char *s = lua_tolstring(L, 1, &len);
        if (len > 0 && s[0] == LUA_SIGNATURE[0]) {
            lua_pushnil(L);
            lua_pushstring(L, binary_refused);
            return 2;
        }
        return finish_load(L, luaL_loadbufferx(L, s, len, name, "t"), 4);
    }
    luaL_checktype(L, 1, LUA_TFUNCTION);
    lua_pushnil(L); /* slot 5: the reader's current piece */
    reader_state rs = {L, 1, 5};
    lua_pushvalue(L, 1);
    lua_replace(L, 1);
    return finish_load(L, lua_loadx(L, call_reader, &rs, name, "t"), 4);
}

int hw_sandbox_loadstring(lua_State *L)
{
    hw_sandbox_poll(L);
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    const char *name = luaL_optstring(L, 2, s);
    if (len > 0 && s[0] == LUA_SIGNATURE[0]) {
        lua_pushnil(L);
        lua_pushstring(L, binary_refused);
        return 2;
    }
    return finish_load(L, luaL_loadbufferx(L, s, len, name, "t"), 0);
}

/* require: the sandbox's own libraries, or Lua source modules from the job
 * file's directory. Never C modules, never files elsewhere. */
int hw_sandbox_require(lua_State *L)
{
    hw_sandbox_poll(L); /* a module that requires itself recurses through C */
    hw_sandbox *sb = hw_sandbox_of(L);
    const char *name = luaL_checkstring(L, 1);
    lua_settop(L, 1);
    lua_getfield(L, LUA_REGISTRYINDEX, "hworker.loaded");
    int loaded = lua_gettop(L);
    lua_getfield(L, loaded, name);
    if (!lua_isnil(L, -1)) return 1;
    lua_pop(L, 1);
    int ok = name[0] != '\0' && name[0] != '.';
    for (const char *p = name; *p && ok; p++)
        ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_' ||
            *p == '-' || (*p == '.' && p[1] != '.');
    if (!ok) return luaL_error(L, "module '%s' not found: module names are letters, digits, '_', '-' and '.'", name);
    const char *file = sb->job_file;
    const char *slash = strrchr(file, '/');
    hw_buf path = {0};
    if (slash) hw_buf_add(&path, file, (size_t)(slash - file + 1));
    for (const char *p = name; *p; p++) hw_buf_add(&path, *p == '.' ? "/" : p, 1);
    hw_buf_adds(&path, ".lua");
    hw_buf text = {0};
    if (hw_read_file(path.data, &text)) {
        lua_pushfstring(L,
                        "module '%s' not found: job files may require only Lua source modules "
                        "beside them (no %s)",
                        name, path.data);
        hw_buf_free(&text);
        hw_buf_free(&path);
        return lua_error(L);
    }
    lua_pushfstring(L, "@%s", path.data);
    int status = luaL_loadbufferx(L, text.data ? text.data : "", text.len, lua_tostring(L, -1), "t");
    hw_buf_free(&text);
    hw_buf_free(&path);
    if (status != 0) return lua_error(L);
    lua_pushstring(L, name);
    lua_call(L, 1, 1);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_pushboolean(L, 1);
    }
    lua_pushvalue(L, -1);
    lua_setfield(L, loaded, name);
    return 1;
}
