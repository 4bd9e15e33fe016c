-- LuaRocks rockspec for the Lua module (require "hworker"). It builds through
-- CMake and needs Debian's libhiredis-dev, libluajit-5.1-dev and
-- lua-cjson-dev; nothing is downloaded. From a checkout:
--   luarocks --lua-version=5.1 make --local hworker-0.2.0-1.rockspec
package = "hworker"
version = "0.2.0-1"
source = {
  url = "git+file://.",
}
description = {
  summary = "At-least-once job queue on Redis with sandboxed LuaJIT job handlers",
  detailed = [[
    The Lua module of hworker: enqueue and inspect jobs, and run workers whose
    job handlers are Lua files in sandboxed LuaJIT states, from any LuaJIT
    program.
  ]],
  license = "MIT",
}
dependencies = {
  "lua == 5.1",
}
build = {
  type = "cmake",
  variables = {
    CMAKE_BUILD_TYPE = "Release",
    CMAKE_INSTALL_PREFIX = "$(PREFIX)",
    HWORKER_LUA_CMOD_DIR = "$(LIBDIR)",
    HWORKER_INSTALL_LUA_MODULE_ONLY = "ON",
  },
}
