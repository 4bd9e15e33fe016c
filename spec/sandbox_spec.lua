-- The job sandbox (issue 2, point 3): what job code cannot reach, and how a
-- job that loops or eats memory is stopped with its worker going on.
local H = require "spec.support.helper"
local R = require "spec.support.recorded"

local probe = H.job_path("probe.lua")

local function hex(s)
  return (s:gsub(".", function(c) return ("%02x"):format(c:byte()) end))
end

describe("the sandbox", function()
  local server
  lazy_setup(function() server = H.redis_server() end)
  lazy_teardown(function() server.stop() end)
  after_each(H.cleanup)

  local blocked = {
    os_execute = "return os.execute('touch /tmp/hworker-escaped')",
    io_open = "return io.open('/etc/passwd')",
    require_ffi = "return require 'ffi'",
    require_c_module = "return require 'cjson.safe'",
    string_dump = "return string.dump(function() end)",
    string_method_dump = "return (''):dump()",
    string_metatable_dump = "return getmetatable('').__index.dump(print)",
    getfenv_0 = "return getfenv(0)",
    setfenv = "return setfenv(1, {})",
    debug = "return debug.getregistry()",
    jit = "return jit.on()",
    package_loadlib = "return package.loadlib('libc.so.6', 'system')",
    dofile = "return dofile('/etc/passwd')",
    loadfile = "return loadfile('/etc/passwd')",
    collectgarbage = "return collectgarbage('count')",
    newproxy = "return newproxy(true)",
    load_bytecode = "local b = T.bytecode:gsub('..', function(h) return string.char(tonumber(h, 16)) end)\n"
      .. "local f, err = load(b) if not f then error(err) end return f()",
    loadstring_bytecode = "local b = T.bytecode:gsub('..', function(h) return string.char(tonumber(h, 16)) end)\n"
      .. "local f, err = loadstring(b) if not f then error(err) end return f()",
  }

  it("keeps every dangerous function out of reach of job code", function()
    local probes = {}
    for k, v in pairs(blocked) do probes[k] = v end
    probes.bytecode_hex = nil
    -- Bytecode made outside the sandbox, by the spec's own LuaJIT.
    local bytecode = hex(string.dump(function() return "escaped" end))
    local q, runs, config = R.queue(server)
    local jobs = {}
    for name, code in pairs(probes) do jobs[#jobs + 1] = { name = name, code = code, bytecode = bytecode } end
    q:queue_many(jobs)
    q:start { job_file = probe, config = config, workers = 1, monitors = 0 }
    R.settle(q, #jobs)
    q:stop { grace = 5 }
    local results = {}
    for _, e in ipairs(runs:jobs { limit = 1000 }) do results[e.job.name] = e.job end
    for name in pairs(probes) do
      assert.truthy(results[name], "probe " .. name .. " did not run")
      assert.is_false(results[name].ok, name .. " was allowed: " .. tostring(results[name].result))
    end
    assert.matches("binary chunks cannot be loaded", results.load_bytecode.result)
    assert.matches("binary chunks cannot be loaded", results.loadstring_bytecode.result)
    assert.matches("module 'ffi' not found", results.require_ffi.result)
    assert.is_nil(io.open("/tmp/hworker-escaped"))
  end)

  it("still offers the safe libraries, text load, cjson and Lua modules beside the job file", function()
    local dir = H.tmpdir()
    H.file(dir, "helper.lua", "return { twice = function(x) return 2 * x end }")
    local job = H.file(dir, "job.lua", [[
      local helper = require "helper"
      local cjson = require "cjson"
      function job(state, t)
        local f = assert(load("return 1 + 1"))
        local results = {
          helper.twice(21), f(), cjson.encode({ a = 1 }), string.format("%d", 7), table.concat({ "a", "b" }),
          math.floor(2.5), bit.band(6, 3), type(os.time()), getmetatable(""), select("#", 1, 2),
          type(coroutine.wrap(function() coroutine.yield(1) end)),
        }
        hworker.queue(t.runs, { results = results })
      end
    ]])
    local q, runs, config = R.queue(server)
    q:queue { runs = config.runs }
    q:start { job_file = job, workers = 1, monitors = 0 }
    R.settle(q, 1)
    q:stop { grace = 5 }
    H.sh("rm -rf " .. dir)
    assert.are.equal(0, q:stats().failed)
    assert.are.same({ 42, 2, '{"a":1}', "7", "ab", 2, 2, "number", "locked", 2, "function" },
      runs:jobs()[1].job.results)
  end)

  it("loads require \"a.b\" from a/b.lua in the job file's own directory", function()
    local dir = H.tmpdir()
    H.sh("mkdir " .. H.quote(dir .. "/a"))
    H.file(dir, "a/b.lua", "local name = ... return { name = name, where = 'a/b.lua' }")
    local job = H.file(dir, "job.lua", [[
      local b = require "a.b"
      function job(state, t) hworker.queue(t.runs, { name = b.name, where = b.where, same = require "a.b" == b }) end
    ]])
    local q, runs, config = R.queue(server)
    q:queue { runs = config.runs }
    q:start { job_file = job, workers = 1, monitors = 0 }
    R.settle(q, 1)
    q:stop { grace = 5 }
    H.sh("rm -rf " .. H.quote(dir))
    assert.are.equal(0, q:stats().failed, q:failed()[1] and q:failed()[1].reason)
    assert.are.same({ name = "a.b", where = "a/b.lua", same = true }, runs:jobs()[1].job)
  end)

  local loops = {
    plain = "while true do end",
    pcall_nested = "while true do pcall(function() while true do end end) end",
    xpcall_handler = "while true do xpcall(function() while true do end end, function() while true do end end) end",
    coroutine = "local co = coroutine.wrap(function() while true do end end) while true do pcall(co) end",
  }
  for name, code in pairs(loops) do
    it("stops a job that loops forever (" .. name .. ") at the time limit, as a failure by default", function()
      local q, runs, config = R.queue(server, { timeout = 0.3 })
      local looping = q:queue { name = name, code = code }
      local after = q:queue { name = "after", code = "return 'fine'" }
      q:start { job_file = probe, config = config, workers = 1, monitors = 0 }
      R.settle(q, 2)
      q:stop { grace = 5 }
      local failed = q:failed()
      assert.are.equal(1, #failed)
      assert.are.equal(looping, failed[1].id)
      -- The sandbox's own stop, not the watchdog's (it would say "... inside
      -- a C function" and abandon the thread).
      assert.are.equal("timeout: the job ran longer than its time limit and was stopped", failed[1].reason)
      local recorded = runs:jobs()
      assert.are.equal(1, #recorded)
      assert.are.equal("after", recorded[1].job.name)
      assert.is_true(recorded[1].job.ok)
      assert.are.equal(after, q:stats().counters.succeeded == 1 and after)
    end)
  end

  -- Stopped by the sandbox itself, not given up on by the watchdog, which
  -- would record "... inside a C function" a second after the limit.
  it("stops hworker.sleep at the time limit, as it stops a loop", function()
    local q, runs, config = R.queue(server, { timeout = 0.3 })
    local sleeper = q:queue { name = "sleep", code = "hworker.sleep(3600)" }
    q:queue { name = "after", code = "return 'fine'" }
    q:start { job_file = probe, config = config, workers = 1, monitors = 0 }
    R.settle(q, 2)
    q:stop { grace = 5 }
    local failed = q:failed()
    assert.are.equal(1, #failed)
    assert.are.equal(sleeper, failed[1].id)
    assert.are.equal("timeout: the job ran longer than its time limit and was stopped", failed[1].reason)
    local recorded = runs:jobs()
    assert.are.equal(1, #recorded)
    assert.are.equal("after", recorded[1].job.name)
  end)

  it("retries a job stopped at the time limit when on_exception is retry", function()
    local q, _, config = R.queue(server, { timeout = 0.2, on_exception = "retry", retry_base = 0.05,
      monitor_interval = 0.05 })
    q:queue { name = "loop", code = "while true do end" }
    q:start { job_file = probe, config = config, workers = 1, monitors = 1 }
    H.wait_until("the looping job to be retried twice", 20, function() return q:stats().counters.retried >= 2 end)
    q:stop { grace = 0 }
    assert.are.equal(0, q:stats().failed)
  end)

  it("stops a job that allocates without bound at the memory limit, and the worker goes on", function()
    local q, runs, config = R.queue(server, { memory_limit_mb = 16 })
    local hog = q:queue { name = "hog", code = "local t = {} while true do t[#t + 1] = ('x'):rep(64) .. #t end" }
    local swallow = q:queue { name = "swallow",
      code = "local t = {} pcall(function() while true do t[#t + 1] = {} end end) t = nil return 'survived'" }
    q:queue { name = "after", code = "local t = {} for i = 1, 1000 do t[i] = i end return #t" }
    q:start { job_file = probe, config = config, workers = 1, monitors = 0 }
    R.settle(q, 3)
    q:stop { grace = 5 }
    local failed = {}
    for _, f in ipairs(q:failed()) do failed[f.id] = f.reason end
    assert.matches("^memory limit: ", failed[hog])
    assert.matches("^memory limit: ", failed[swallow])
    local recorded = runs:jobs()
    assert.are.equal(1, #recorded)
    assert.are.same({ name = "after", ok = true, result = "1000" }, recorded[1].job)
  end)

  it("defaults the memory limit to 64 MiB per state", function()
    local q, runs, config = R.queue(server)
    q:queue { name = "under", code = "return #(('x'):rep(20 * 1024 * 1024))" }
    local over = q:queue { name = "over", code = "return #(('x'):rep(80 * 1024 * 1024))" }
    q:start { job_file = probe, config = config, workers = 1, monitors = 0 }
    R.settle(q, 2)
    q:stop { grace = 5 }
    local by = {}
    for _, e in ipairs(runs:jobs()) do by[e.job.name] = e.job end
    assert.are.same({ name = "under", ok = true, result = tostring(20 * 1024 * 1024) }, by.under)
    -- The probe's own pcall catches the refused allocation, but a job that
    -- hit the cap is stopped all the same.
    assert.is_nil(by.over)
    local failed = q:failed()
    assert.are.equal(over, failed[1].id)
    assert.matches("^memory limit: ", failed[1].reason)
  end)

  it("refuses at start a job file with a syntax error, naming the file and line", function()
    local dir = H.tmpdir()
    local path = H.file(dir, "bad.lua", "function job(state, t)\n  return (\nend\n")
    local q = R.queue(server)
    local ok, err = pcall(q.start, q, { job_file = path, workers = 1 })
    H.sh("rm -rf " .. dir)
    assert.is_false(ok)
    assert.matches(path:gsub("%p", "%%%0") .. ":3:", err)
  end)

  it("refuses at start a job file without a job function, naming the file", function()
    local dir = H.tmpdir()
    local path = H.file(dir, "nojob.lua", "function handler(state, t) end\n")
    local q = R.queue(server)
    local ok, err = pcall(q.start, q, { job_file = path, workers = 1 })
    H.sh("rm -rf " .. dir)
    assert.is_false(ok)
    assert.matches(path:gsub("%p", "%%%0") .. ": the job file defines no job function", err)
  end)

  it("refuses at start a job file whose init raises, and one that is missing", function()
    local dir = H.tmpdir()
    local path = H.file(dir, "init.lua", "function init(c) error('no database') end\nfunction job() end\n")
    local q = R.queue(server)
    local ok, err = pcall(q.start, q, { job_file = path, workers = 1 })
    assert.is_false(ok)
    assert.matches("init%(config%) failed: .*init%.lua:1: no database", err)
    ok, err = pcall(q.start, q, { job_file = dir .. "/missing.lua", workers = 1 })
    H.sh("rm -rf " .. dir)
    assert.is_false(ok)
    assert.matches("missing%.lua: cannot open the job file", err)
  end)

  it("treats a job that returns junk as failed, with a reason that says what to return", function()
    local q, _, config = R.queue(server)
    local dir = H.tmpdir()
    local path = H.file(dir, "junk.lua", "function job(state, t) return t.value end\n")
    local id = q:queue { value = 42 }
    q:start { job_file = path, config = config, workers = 1, monitors = 0 }
    R.settle(q, 1)
    q:stop { grace = 5 }
    H.sh("rm -rf " .. dir)
    local failed = q:failed()
    assert.are.equal(id, failed[1].id)
    assert.matches("job returned a number; return nothing, hworker.success", failed[1].reason)
  end)

  describe("escapes beyond the basics (issue 5)", function()
    local escapes = {
      string_metatable = "local mt = getmetatable('') "
        .. "if type(mt) ~= 'table' then error('locked: ' .. tostring(mt)) end return mt.__index.dump",
      string_metatable_rewire = "return setmetatable('', {})",
      global_metatable = "setmetatable(_G, { __index = function(_, k) return rawget(_G, '_' .. k) end }) "
        .. "return io.open",
      load_custom_env = "local f = load('return getfenv and getfenv(0) or os.execute', 'x', 't', { os = os }) "
        .. "return f()()",
      load_env_reaches_registry = "local f = load('return debug', 'x', 't', setmetatable({}, { __index = _G })) "
        .. "local d = f() return d.getregistry()",
      rawget_hidden = "return rawget(_G, 'debug') or rawget(_G, 'jit') or rawget(_G, 'ffi') or rawget(_G, 'io') "
        .. "or error('none')",
      coroutine_running = "local co = coroutine.running() return debug.sethook(co, nil)",
    }

    it("are refused", function()
      local q, runs, config = R.queue(server)
      local jobs = {}
      for name, code in pairs(escapes) do jobs[#jobs + 1] = { name = name, code = code } end
      q:queue_many(jobs)
      q:start { job_file = probe, config = config, workers = 1, monitors = 0 }
      R.settle(q, #jobs)
      q:stop { grace = 5 }
      local results = {}
      for _, e in ipairs(runs:jobs { limit = 100 }) do results[e.job.name] = e.job end
      for name in pairs(escapes) do
        assert.truthy(results[name], "probe " .. name .. " did not run")
        assert.is_false(results[name].ok, name .. " was allowed: " .. tostring(results[name].result))
      end
    end)

    it("stop deep recursion, huge strings and a coroutine-wrapped loop, with the worker going on", function()
      local q, runs, config = R.queue(server, { timeout = 0.5, memory_limit_mb = 16 })
      local ids = q:queue_many {
        { name = "recursion", code = "local function f(n) return 1 + f(n + 1) end return f(1)" },
        { name = "huge_string", code = "local s = 'x' while true do s = s .. s end" },
        { name = "rep", code = "return #string.rep('abc', 1e9)" },
        { name = "co_loop", code = "local co = coroutine.create(function() while true do end end) "
          .. "while true do pcall(coroutine.resume, co) end" },
        { name = "after", code = "return 'alive'" },
      }
      q:start { job_file = probe, config = config, workers = 1, monitors = 0 }
      R.settle(q, 5)
      q:stop { grace = 5 }
      local results = {}
      for _, e in ipairs(runs:jobs { limit = 100 }) do results[e.job.name] = e.job end
      -- Deep recursion is an ordinary error the probe catches.
      assert.is_false(results.recursion.ok)
      assert.matches("stack overflow", results.recursion.result)
      local failed = {}
      for _, f in ipairs(q:failed()) do failed[f.id] = f.reason end
      assert.matches("^memory limit: ", failed[ids[2]])
      assert.truthy(failed[ids[3]] or (results.rep and results.rep.ok == false))
      assert.matches("^timeout: ", failed[ids[4]])
      assert.are.same({ name = "after", ok = true, result = "alive" }, results.after)
    end)
  end)
end)
