-- The strict sandbox's own string.find / match / gmatch / gsub (issue 12,
-- core/lua_patterns.c): a job stuck in a pattern search is stopped at its
-- time limit, and ordinary patterns give LuaJIT's results.
local H = require "spec.support.helper"
local R = require "spec.support.recorded"

local probe = H.job_path("probe.lua")

-- Serializes any results, so a job and the spec can compare them as text.
local serialize = [[
local function ser(...)
  local out = { "#" .. select("#", ...) }
  for i = 1, select("#", ...) do
    local v = select(i, ...)
    out[#out + 1] = type(v) .. ":" .. tostring(v)
  end
  return table.concat(out, "|")
end
local function all(it)
  local out = {}
  for a, b in it do out[#out + 1] = ser(a, b) end
  return table.concat(out, ";")
end
]]

describe("the sandbox's pattern functions", function()
  local server
  lazy_setup(function() server = H.redis_server() end)
  lazy_teardown(function() server.stop() end)
  after_each(H.cleanup)

  -- Each would run for ages inside LuaJIT's C matcher, where the time
  -- limit's hook never fires.
  local stuck = {
    find = [[return string.rep("a", 50000):find(".-.-.-.-.-b")]],
    find_init = [[return string.find(string.rep("a", 50000), ".-.-.-.-.-b", 2)]],
    match = [[return string.match(string.rep("a", 50000), ".-.-.-.-.-b")]],
    match_method = [[local s = string.rep("a", 50000) return s:match("(.-)(.-)(.-)(.-)b")]],
    gmatch = [[for m in string.rep("a", 50000):gmatch(".-.-.-.-.-b") do end]],
    gsub = [[return (string.rep("a", 50000):gsub(".-.-.-.-.-b", "x"))]],
    gsub_function = [[return (string.gsub(string.rep("a", 50000), "(.-)(.-)(.-)(.-)b", tostring))]],
    -- Empty captures add nothing, so the memory cap never stops this one.
    gsub_template = [[return (string.rep("a", 1000):gsub("(x?)", string.rep("%1", 1e7)))]],
    pcall_caught = [[while true do pcall(string.find, string.rep("a", 50000), ".-.-.-.-.-b") end]],
    -- Quadratic in LuaJIT (one memcmp per position); linear here, so the
    -- loop around it is what the time limit stops.
    plain_find = [[
      local s, needle = string.rep("a", 2 ^ 22), string.rep("a", 2 ^ 20) .. "b"
      while true do s:find(needle, 1, true) end]],
  }

  it("stops a job stuck in a pattern search at the time limit, as a failure, and the worker goes on", function()
    local q, runs, config, name = R.queue(server)
    local ids, jobs = {}, {}
    for case, code in pairs(stuck) do jobs[#jobs + 1] = { name = case, code = code } end
    for i, id in ipairs(q:queue_many(jobs)) do ids[id] = jobs[i].name end
    local after = q:queue { name = "after", code = "return ('a,b'):gsub(',', ';')" }
    -- A process of its own: on a build where a search cannot be stopped,
    -- the deadline below fails the spec and cleanup kills the process.
    H.spawn_workers { name = name, redis = server.url, job_file = probe, config = config, timeout = 1,
      workers = 1, monitors = 0, log_level = "error" }
    H.wait_until("every job to be processed", 60, function()
      local s = q:stats()
      return s.counters.processed >= #jobs + 1 and s.pending == 0 and s.inflight == 0
    end)
    local failed = {}
    for _, f in ipairs(q:failed()) do failed[f.id] = f.reason end
    for id, case in pairs(ids) do
      assert.truthy(failed[id], case .. " did not fail")
      assert.truthy(failed[id]:match("^timeout: "), case .. ": " .. failed[id])
    end
    assert.are.equal(1, q:stats().counters.succeeded)
    local recorded = runs:jobs()
    assert.are.equal(1, #recorded)
    assert.are.same({ name = "after", ok = true, result = "a;b" }, recorded[1].job)
    assert.is_nil(failed[after])
  end)

  -- Typical uses; each expression's results in the sandbox must be those
  -- of this process's LuaJIT.
  local cases = {
    [[("  hello world  "):match("^%s*(.-)%s*$")]],
    [[("  hello world  "):gsub("^%s+", ""):gsub("%s+$", "")]],
    [[("\t x \n"):find("^%s*$")]],
    [[all(("a,b,,c"):gmatch("([^,]*)"))]],
    [[all(("one two  three"):gmatch("%S+"))]],
    [[all(("k1=v1; k2=v2"):gmatch("(%w+)=(%w+)"))]],
    [[("key = value"):match("^(%w+)%s*=%s*(.*)$")]],
    [[("2024-01-15"):match("(%d+)-(%d+)-(%d+)")]],
    [[("hello"):find("l")]],
    [[("hello"):find("l", 4)]],
    [[("hello"):find("l", -1)]],
    [[("hello"):find("xyz")]],
    [[("a.b.c"):find(".", 1, true)]],
    [[("a.b.c"):find("%.")]],
    [[("a+b"):find("+", 1, true)]],
    [[("hello"):find("")]],
    [[("hello"):find("", 10)]],
    [[("hello"):match("()ll()")]],
    [[("hello world"):gsub("o", "0")]],
    [[("hello world"):gsub("o", "0", 1)]],
    [[("hello world"):gsub("(%w+)", "<%1>")]],
    [[("hello world"):gsub("(%w+) (%w+)", "%2 %1")]],
    [[("abc"):gsub("", "-")]],
    [[("abc"):gsub("%w", "%0%0")]],
    [[("100%"):gsub("%%", "%%%%")]],
    [[("$name is $age"):gsub("%$(%w+)", { name = "Ann", age = 30 })]],
    [[("$name is $unknown"):gsub("%$(%w+)", { name = "Ann" })]],
    [[("a b c"):gsub("%a", function(c) return c:upper() end)]],
    [[("a b c"):gsub("%a", function(c) if c == "b" then return false end return c .. c end)]],
    [[("x = 1, y = 2"):gsub("(%w+) = (%w+)", "%2 = %1")]],
    [[("hello"):gsub("l+", string.upper)]],
    [[("f(a(b)c) g(d)"):gsub("%b()", "[]")]],
    [[("THE (quick) fox"):gsub("%f[%a]%a+", "W")]],
    [[("x = 'it''s'"):match("(['\"])(.-)%1")]],
    [[("camelCaseWord"):gsub("(%u)", function(c) return "_" .. c:lower() end)]],
    [[("path/to/file.txt"):match("([^/]+)$")]],
    [[("path/to/file.txt"):match("^(.*)/")]],
    [[("file.tar.gz"):match("^(.-)%.(.*)$")]],
    [[("0x1F zz"):match("^0x(%x+)")]],
    [[("caf\195\169"):gsub("[\128-\255]", "?")]],
    [[("a\0b"):find("\0", 1, true)]],
    [[("a\0b"):find("%z")]],
    [[("ABC def"):gsub("[%u%s]", ".")]],
    [[("a-b_c"):gsub("[^%w]", "")]],
    [[("[x]"):match("%[(.-)%]")]],
    [[("aaa"):match("a-b")]],
    [[("aaab"):match("^(a*)(a)b$")]],
    [[pcall(string.find, "a", "%")]],
    [[pcall(string.find, "a", "[a")]],
    [[pcall(string.match, "a", "(a")]],
    [[pcall(string.gsub, "a", "(a)", "%2")]],
    [[pcall(string.gsub, "a", "a", {a = {}})]],
    [[pcall(string.match, "a", string.rep("a?", 250))]],
  }

  it("gives the results of LuaJIT's own functions for ordinary patterns", function()
    local q, runs, config = R.queue(server)
    local jobs, expected = {}, {}
    for i, expr in ipairs(cases) do
      local code = serialize .. "return ser(" .. expr .. ")"
      jobs[i] = { name = tostring(i), code = code }
      expected[tostring(i)] = assert(loadstring(code))()
    end
    q:queue_many(jobs)
    q:start { job_file = probe, config = config, workers = 1, monitors = 0 }
    R.settle(q, #jobs)
    q:stop { grace = 5 }
    local got = {}
    for _, e in ipairs(runs:jobs { limit = 1000 }) do got[e.job.name] = e.job end
    for i, expr in ipairs(cases) do
      local job = got[tostring(i)]
      assert.truthy(job, expr .. " did not run")
      assert.is_true(job.ok, expr .. ": " .. tostring(job.result))
      assert.are.equal(expected[tostring(i)], job.result, expr)
    end
  end)
end)
