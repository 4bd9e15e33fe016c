-- The library's public surface: libhworker.so exports the functions the
-- public headers declare and nothing else; the Lua module exports only what
-- require looks up; the public headers compile alone as C11 and as C++
-- with no Lua or hiredis header, and agree with lua.h where a host includes
-- it too. No Redis is needed.
local H = require "spec.support.helper"

local root, build = H.root, H.build
local headers = { "hworker.h", "hworker_steps.h" }
-- Only the public headers' own directories: core/ and the generated
-- hworker_version.h. Neither LuaJIT's nor hiredis's is given.
local include = ("-I%s -I%s"):format(H.quote(root .. "/core"), H.quote(build .. "/generated"))
local compilers = {
  C = "gcc -std=c11 -pedantic -Wall -Wextra -Werror",
  ["C++"] = "g++ -std=c++11 -pedantic -Wall -Wextra -Werror",
}
-- Symbols the linker itself may define in a shared library.
local linker_symbols = { _init = true, _fini = true, __bss_start = true, _edata = true, _end = true }

-- Runs a shell command without the sanitizer runtimes; returns its output
-- (stdout and stderr) and exit status.
local function run(cmd)
  local out = H.sh(H.plain .. "sh -c " .. H.quote(cmd .. " 2>&1; echo \"exit=$?\""))
  local code = tonumber(out:match("exit=(%d+)%s*$"))
  return (out:gsub("exit=%d+%s*$", "")), code
end

-- The names of the dynamic symbols a shared object defines.
local function exports(path)
  local out, code = run("nm -D --defined-only " .. H.quote(path))
  assert.are.equal(0, code, out)
  local names = {}
  for name in out:gmatch("%S+ %S+ (%S+)\n") do names[#names + 1] = name end
  assert.is_true(#names > 0, out)
  return names
end

-- The names of the functions a header declares: declarations start at the
-- beginning of a line with their type (comments and typedefs do not).
local function declared(header)
  local names = {}
  for line in H.read(root .. "/core/" .. header):gmatch("[^\n]*") do
    if not line:match("^typedef") then
      local name = line:match("^%a[%w_ ]-[%s%*]+(hworker_[%w_]+)%(")
      if name then names[#names + 1] = name end
    end
  end
  return names
end

describe("the public surface", function()
  local dir
  lazy_setup(function() dir = H.tmpdir() end)
  lazy_teardown(function() H.sh("rm -rf " .. H.quote(dir)) end)

  it("libhworker.so exports only hworker_* functions: each one the public headers declare", function()
    local public = {}
    for _, header in ipairs(headers) do
      for _, name in ipairs(declared(header)) do public[#public + 1] = name end
    end
    assert.is_true(#public >= 20, "found only " .. #public .. " declarations")
    local exported = {}
    for _, name in ipairs(exports(build .. "/libhworker.so")) do
      if not linker_symbols[name] then
        assert.matches("^hworker_", name, 1, false, "libhworker.so exports " .. name)
        exported[#exported + 1] = name
      end
    end
    table.sort(public)
    table.sort(exported)
    assert.are.same(public, exported)
  end)

  it("the Lua module exports its luaopen_ function alone", function()
    local names = {}
    for _, name in ipairs(exports(build .. "/lua/hworker.so")) do
      if not linker_symbols[name] then names[#names + 1] = name end
    end
    assert.are.same({ "luaopen_hworker" }, names)
  end)

  it("the public headers include neither a Lua nor a hiredis header", function()
    for _, header in ipairs(headers) do
      for included in H.read(root .. "/core/" .. header):gmatch("#%s*include%s*([<\"][^>\"]+)") do
        assert.is_nil(included:find("lua", 1, true), header .. " includes " .. included)
        assert.is_nil(included:find("lauxlib", 1, true), header .. " includes " .. included)
        assert.is_nil(included:find("hiredis", 1, true), header .. " includes " .. included)
      end
    end
  end)

  for language, cc in pairs(compilers) do
    it("each public header compiles alone as " .. language .. " without Lua's or hiredis's include directory",
      function()
      local source = H.file(dir, "lua_only.h", "#include <lua.h>\n")
      local out, code = run(("%s -fsyntax-only -x %s %s %s"):format(cc, language == "C" and "c" or "c++", include,
        H.quote(source)))
      assert.are_not.equal(0, code, "lua.h is on the default include path, so this test proves nothing: " .. out)
      for _, header in ipairs(headers) do
        out, code = run(("%s -fsyntax-only -x %s %s %s"):format(cc, language == "C" and "c" or "c++", include,
          H.quote(root .. "/core/" .. header)))
        assert.are.equal(0, code, header .. ": " .. out)
      end
    end)
  end

  -- A host that writes Lua functions includes lua.h (lua.hpp in C++) as well,
  -- before or after hworker.h: the repeated typedefs must be the same types.
  for language, cc in pairs(compilers) do
    it("hworker.h agrees with lua.h in " .. language .. ", whichever comes first", function()
      local lua_h = language == "C" and "<lua.h>" or "<lua.hpp>"
      local body = "static int host_fn(lua_State *L) { return L != 0; }\n"
        .. "int register_it(hworker *h) { return hworker_register(h, \"f\", host_fn, 0, 0, 0); }\n"
      for _, order in ipairs { { lua_h, "\"hworker.h\"" }, { "\"hworker.h\"", lua_h } } do
        local source = H.file(dir, "with_lua." .. (language == "C" and "c" or "cc"),
          "#include " .. order[1] .. "\n#include " .. order[2] .. "\n" .. body)
        local out, code = run(("%s -fsyntax-only %s $(pkg-config --cflags luajit) %s"):format(cc, include,
          H.quote(source)))
        assert.are.equal(0, code, table.concat(order, " then ") .. ": " .. out)
      end
    end)
  end

  it("a C++ program links against libhworker.so with both headers, and calls it", function()
    local source = H.file(dir, "use.cc", [[
#include <cstdio>
#include <cstring>
#include "hworker_steps.h"
int main()
{
    void (*volatile free_fn)(hworker *) = hworker_free;
    struct redisReply *(*volatile command)(hworker *, int, const char **, const size_t *, char *, size_t) =
        hworker_command;
    std::printf("%s %d\n", hworker_version(), std::strcmp(hworker_version(), HWORKER_VERSION) == 0 &&
                free_fn && command);
    return 0;
}
]])
    local bin = dir .. "/use"
    local out, code = run(("%s -o %s %s %s %s -Wl,-rpath,%s"):format(compilers["C++"], H.quote(bin), include,
      H.quote(source), H.quote(build .. "/libhworker.so"), H.quote(build)))
    assert.are.equal(0, code, out)
    local stdout, stderr, status = H.run(bin, "")
    assert.are.equal(0, status, stderr)
    assert.matches("^%d+%.%d+%.%d+ 1\n$", stdout)
  end)
end)
