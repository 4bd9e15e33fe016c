-- luacheck's settings for hworker's Lua (tools/dev lint runs it). Each kind
-- of Lua runs in its own world, so each gets the globals of that world:
-- LuaJIT programs and specs, job files in the strict sandbox
-- (core/sandbox.c, docs/job-api.md) and scripts inside Redis.
std = "luajit"
max_line_length = 120
exclude_files = { "build*/**" }

-- What job code reads in the strict sandbox: the base library without what
-- open_strict removes, string without dump, os with its clock and calendar
-- functions only, and the hworker and host tables; cjson only through
-- require. A job file defines job and init as globals.
local removed = {
  dofile = true, loadfile = true, getfenv = true, setfenv = true, collectgarbage = true, gcinfo = true,
  newproxy = true, module = true, jit = true, ffi = true, debug = true, io = true, package = true, arg = true,
}
local sandbox = {}
for name, def in pairs(stds.luajit.read_globals) do
  if not removed[name] then sandbox[name] = def end
end
local string_fields = {}
for name in pairs(stds.luajit.read_globals.string.fields) do
  if name ~= "dump" then string_fields[#string_fields + 1] = name end
end
sandbox.string = { fields = string_fields }
sandbox.os = { fields = { "time", "clock", "date", "difftime" } }
sandbox.hworker = { other_fields = true }
sandbox.host = { other_fields = true }
stds.hworker_job = { globals = { "job", "init" }, read_globals = sandbox }

local job_files = {
  "examples/add.lua", "examples/jobs/**/*.lua", "spec/jobs/**/*.lua", "spec/chaos/job.lua",
}
for _, pattern in ipairs(job_files) do
  files[pattern] = {
    std = "hworker_job",
    -- job(state, t, meta) and init(config) have the API's signature even
    -- where a handler needs fewer of them.
    ignore = { "212/state", "212/t", "212/meta", "212/config" },
  }
end

-- The sandbox specs' probe runs Lua text that reads the job in the global T.
files["spec/jobs/probe.lua"] = { globals = { "T" } }

-- The hostile job file tampers on purpose: it overwrites print, a string
-- function and a global of its own to prove none of it reaches the next
-- job, and allocates tables only to churn the collector.
files["spec/jobs/hostile.lua"] = {
  globals = { "leftover_global", "print" }, ignore = { "122/string", "122/hworker", "241/g" },
}
files["spec/jobs/memory_hog.lua"] = { ignore = { "241/t" } }

-- Redis runs scripts in Lua 5.1 with its own libraries, and refuses to let
-- a script set a global. Every scripts/lib/*.lua helper is prepended to
-- every script (cmake/embed_scripts.cmake), so the scripts read the
-- helpers' local functions as if they were globals.
local redis_globals = { "redis", "KEYS", "ARGV", "cjson", "cmsgpack", "bit", "struct" }
local lfs = require "lfs"
local root = lfs.currentdir() -- luacheck looks for this file upwards
while root ~= "" and not lfs.attributes(root .. "/.luacheckrc") do root = root:match("^(.*)/[^/]*$") end
local helpers = {}
for entry in lfs.dir(root .. "/scripts/lib") do
  if entry:match("%.lua$") then
    for line in io.lines(root .. "/scripts/lib/" .. entry) do
      local name = line:match("^local function ([%w_]+)") or line:match("^local (hw_[%w_]+) =")
      if name then helpers[#helpers + 1] = name end
    end
  end
end
local script_globals = { unpack(redis_globals) }
for _, name in ipairs(helpers) do script_globals[#script_globals + 1] = name end
files["scripts/*.lua"] = { std = "lua51", read_globals = script_globals }
-- A helper is used by some scripts, not all, and never in its own file;
-- the helpers of a later file may call those of an earlier one.
files["scripts/lib/*.lua"] = { std = "lua51", read_globals = script_globals, ignore = { "211/hw_.*" } }

files["spec/**/*_spec.lua"] = { std = "+busted" }
