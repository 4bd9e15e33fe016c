-- Job file for spec/hostile_spec.lua: each job runs the attack its `attack`
-- field names, then records what it saw on the queue config.runs.
local cjson = require "cjson"

function init(config)
  return { runs = config.runs }
end

local function nest_coroutines(n)
  if n == 0 then return 0 end
  return coroutine.wrap(nest_coroutines)(n - 1)
end

local function nest_tostring(n)
  return string.format("%s", setmetatable({}, { __tostring = function() return nest_tostring(n + 1) end }))
end

local attacks = {}

function attacks.nothing() end

function attacks.edit_result()
  local r = hworker.failure("x")
  r.kind = nil
  return r
end

function attacks.edit_success()
  hworker.success.kind = nil
end

-- One C call that outlasts the whole time limit (the spec gives 10 ms) and
-- returns just before the job does, so no hook runs after the limit.
function attacks.late_return()
  local s = string.rep("ab", 5e7)
  return nil, #s
end

function attacks.load_env()
  local f = load("return 1", "x", "t", 12345)
  return f
end

-- A reader whose first piece makes the parser ask again before it copies
-- the chunk name, while the pieces churn the collector.
function attacks.load_reader()
  local n = 0
  local f = load(function()
    n = n + 1
    if n == 1 then return "#" end
    if n < 50 then
      local g = {}
      for i = 1, 100 do g[i] = ("y"):rep(10000) .. i end
      return "x"
    end
    if n == 50 then return "\nreturn 1" end
  end, "=" .. ("N"):rep(1e6))
  assert(f() == 1)
end

function attacks.insert_far() table.insert({}, -2 ^ 31, 1) end

-- Each sort is short; a loop of them runs hundreds between two checks of
-- the count hook.
function attacks.sort_loop()
  local t = {}
  for i = 1, 3e5 do t[i] = -i end
  while true do table.sort(t) end
end

function attacks.nul_reason() return hworker.failure("before\0after") end

function attacks.endless_delay() return hworker.retry("later", { delay = 1 / 0 }) end

-- A linear search is quick alone (some 30 ms here; instrumented builds are
-- slower, and a single call past the limit plus the watchdog's slack would
-- be abandoned, rightly); a loop of them must still stop.
function attacks.literal_loop()
  local s = ("a"):rep(1e6)
  while true do s:gsub("a", "") end
end

-- A table that holds itself twice doubles a naive walk at every level.
function attacks.encode_cycle()
  local b = {}
  b[1], b[2] = b, b
  local _, err = pcall(cjson.encode, b)
  return hworker.failure(tostring(err))
end

function attacks.encode_huge_key()
  local _, err = pcall(cjson.encode, { [1e10] = 1, x = 2 })
  return hworker.failure(tostring(err))
end

function attacks.log_nul() print("a\0b", "c") end

function attacks.coroutines() return nest_coroutines(1e6) end

function attacks.c_recursion() return nest_tostring(0) end

-- Tries every way to leave something behind for the next job; each try
-- that raises is caught, so the job itself succeeds.
function attacks.tamper()
  pcall(function() string.upper = function() return "tampered" end end)
  pcall(function() rawset(string, "upper", function() return "tampered" end) end)
  pcall(function() table.insert(string, 1) end)
  pcall(function() hworker.success.kind = "failure" end)
  pcall(function() cjson.encode = function() return "tampered" end end)
  pcall(cjson.decode_max_depth, 1)
  pcall(cjson.encode_number_precision, 3)
  pcall(cjson.encode_sparse_array, true, 1, 1)
  rawset(_G, "tostring", function() return "tampered" end)
  rawset(_G, "leftover", "tampered")
  print = function() end
  leftover_global = "tampered"
  math.randomseed(42)
end

-- What a job sees, recorded after any tampering by earlier jobs.
function attacks.observe(t)
  return {
    upper = string.upper("a"),
    tostring = tostring(12),
    leftover = tostring(rawget(_G, "leftover")),
    leftover_global = tostring(leftover_global),
    success_kind = hworker.success.kind,
    print = type(print),
    nested = t.a and t.a.b and t.a.b.c,
    encoded = cjson.encode({ 123456789, [3] = 1 }),
    random = math.random(1, 1000000),
  }
end

function job(state, t, meta)
  local ok, seen = pcall(attacks[t.attack], t)
  if t.attack == "observe" then
    -- The record itself goes through hworker.queue's own encoding.
    hworker.queue(state.runs, { id = meta.id, attack = t.attack, seen = seen, precise = 123456789 })
    return
  end
  if not ok then error(seen, 0) end
  return seen
end
