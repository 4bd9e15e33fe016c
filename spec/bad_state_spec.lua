-- Bad Redis state (issue 12): any key of a queue may hold garbage that an
-- operator or a bug wrote there. A script that meets it must refuse before
-- its first write, naming the key, so no job is removed from one key and
-- written nowhere (Redis keeps a script's writes up to a failing command).
-- For each key in turn, jobs flow through real `hworker-lua run` processes
-- while the key holds a value of the wrong type (or a counter that is not
-- an integer); then the key is put back as an operator would, and every job
-- must end: ran to success, or sits in failed or broken.
local H = require "spec.support.helper"
local R = require "spec.support.recorded"

local bin = H.build .. "/hworker-lua"
local record = H.job_path("record.lua")

local JOBS, BATCH, BROKEN = 500, 25, 20

-- Replaces a key by garbage in one step and returns its DUMP (nil if it did
-- not exist): done atomically, so no job can land in it between the two.
local CORRUPT = [[
local saved = redis.call('DUMP', KEYS[1])
redis.call('DEL', KEYS[1])
if ARGV[1] == 'list' then redis.call('RPUSH', KEYS[1], 'garbage')
elseif ARGV[1] == 'hash' then redis.call('HSET', KEYS[1], 'garbage', 'x')
else redis.call('SET', KEYS[1], ARGV[2]) end
return saved
]]
-- What an operator does once they see the error: the key's own content back.
local RESTORE = [[
redis.call('DEL', KEYS[1])
if ARGV[1] ~= '' then redis.call('RESTORE', KEYS[1], 0, ARGV[1]) end
return 1
]]
-- The counters scripts add to, made non-integer; their old values returned.
local COUNTERS = { "enqueued", "processed", "succeeded", "retried", "failed", "broken", "recovered", "promoted",
  "scheduled", "handed_back", "lease_lost" }
local SPOIL_COUNTERS = [[
local old = redis.call('HMGET', KEYS[1], unpack(ARGV))
for _, field in ipairs(ARGV) do redis.call('HSET', KEYS[1], field, 'not a number') end
return cjson.encode(old)
]]
local FIX_COUNTERS = [[
local old = cjson.decode(ARGV[1])
for i = 2, #ARGV do
  if old[i - 1] then redis.call('HSET', KEYS[1], ARGV[i], old[i - 1]) else redis.call('HDEL', KEYS[1], ARGV[i]) end
end
return 1
]]

-- The keys of core/keys.c, each with the garbage put there.
local CASES = {
  { role = "pending", garbage = "string" },
  { role = "inflight", garbage = "list" },
  { role = "scheduled", garbage = "string" },
  { role = "failed", garbage = "hash" },
  { role = "broken", garbage = "string" },
  { role = "stats", garbage = "string" },
  { role = "stats", garbage = "counters" },
  { role = "seq", garbage = "string", value = "abc" },
  { role = "unique", garbage = "list" },
  { role = "flow", garbage = "string" },
  { role = "freed", garbage = "hash" },
  { role = "urgent", garbage = "list" },
  { role = "groups", garbage = "list" },
  { role = "group_due", garbage = "string" },
}

local function key(name, shards, i, role)
  if shards > 1 then return "hw:{" .. name .. "#" .. i .. "}:" .. role end
  return "hw:{" .. name .. "}:" .. role
end

local read = H.read

-- The highest attempt recorded per job id (record.lua records every run).
local function attempts(runs)
  local best, offset = {}, 0
  while true do
    local page = runs:jobs { offset = offset, limit = 1000 }
    for _, e in ipairs(page) do
      best[e.job.id] = math.max(best[e.job.id] or 0, e.job.attempt)
    end
    if #page < 1000 then return best end
    offset = offset + 1000
  end
end

local function ids_of(list)
  local set = {}
  for _, e in ipairs(list) do if e.id then set[e.id] = true end end
  return set
end

-- The jobs of one run, by kind: most succeed at once (some after 20 ms, so
-- jobs are in flight when the key is spoiled), some succeed on their third
-- attempt (two retries with short back-offs), some fail. Whole batches are
-- scheduled a little later, and some payloads are broken (pushed raw).
local function job_for(i)
  if i % 10 == 0 then return { n = i, fail = "planned failure" }, "fail" end
  if i % 10 == 1 or i % 10 == 2 then return { n = i, retry_until = 3 }, "retry" end
  return { n = i, sleep = i % 10 == 3 and 0.02 or nil }, "plain"
end

local function run_case(server, shards, case, runners)
  local q, runs, config, name = R.queue(server, { shards = shards, log_level = "silent" })
  local dir = H.tmpdir()
  local logs = {}
  for r = 1, 2 do
    logs[r] = dir .. "/runner" .. r .. ".log"
    local cmd = table.concat({
      H.quote(bin), "run", H.quote(record), "--name", name, "--redis", H.quote(server.url), "--shards", shards,
      "--threads 2 --monitors 1 --lease 1 --monitor-interval 0.2 --max-recoveries 0",
      "--retry-base 0.01 --retry-max-delay 0.05 --grace 1 --log-level warn --config", H.quote(H.cjson.encode(config)),
    }, " ")
    runners[#runners + 1] = tonumber(H.sh(cmd .. " >" .. H.quote(logs[r]) .. " 2>&1 & echo $!"))
  end

  -- Broken payloads go straight onto pending, as a producer in another
  -- language might push them.
  local kind = {}
  for b = 1, BROKEN do
    local id = name .. "-broken-" .. b
    kind[id] = "broken"
    q:command("LPUSH", key(name, shards, b % shards, "pending"), '{"v":1,"id":"' .. id .. '"}\n{"n":' .. b .. ",")
  end

  -- Every third shard is spoiled (all of them when unsharded), so the
  -- others keep working meanwhile.
  local spoiled = {}
  for i = 0, shards - 1, 3 do spoiled[#spoiled + 1] = key(name, shards, i, case.role) end
  local saved = {}
  local function spoil()
    for i, k in ipairs(spoiled) do
      if case.garbage == "counters" then
        saved[i] = q:command("EVAL", SPOIL_COUNTERS, "1", k, unpack(COUNTERS))
      else
        saved[i] = q:command("EVAL", CORRUPT, "1", k, case.garbage, case.value or "garbage") or ""
      end
    end
  end
  local function fix()
    for i, k in ipairs(spoiled) do
      if case.garbage == "counters" then q:command("EVAL", FIX_COUNTERS, "1", k, saved[i], unpack(COUNTERS))
      else q:command("EVAL", RESTORE, "1", k, saved[i]) end
    end
  end

  -- Batches go out every 80 ms for about 1.6 s; the key is spoiled from the
  -- 4th batch to the 16th, about a second, and longer if no one has met it
  -- yet (a worker reaches a shard that is not its home only once its home
  -- is empty: on a slow, sanitized build that may take longer). A refused
  -- batch is sent again later, as a producer that sees the error would.
  local todo, refused, errors = {}, {}, {}
  for b = 0, JOBS / BATCH - 1 do
    local batch = { jobs = {}, kinds = {}, delay = b % 5 == 2 and 0.3 or nil }
    for j = 1, BATCH do batch.jobs[j], batch.kinds[j] = job_for(b * BATCH + j) end
    todo[#todo + 1] = batch
  end
  local function send(batch)
    local ok, ids = pcall(q.queue_many, q, batch.jobs, batch.delay and { delay = batch.delay } or nil)
    if not ok then
      errors[#errors + 1] = ids
      return false
    end
    for j, id in ipairs(ids) do kind[id] = batch.kinds[j] end
    return true
  end
  for b, batch in ipairs(todo) do
    if b == 4 then spoil() end
    if b == 16 then
      H.wait_until("an error to name " .. spoiled[1], 30, function()
        local seen = read(logs[1]) .. read(logs[2]) .. table.concat(errors, "\n")
        return seen:find("hworker: key " .. spoiled[1], 1, true) ~= nil
      end)
      fix()
    end
    local again = {}
    for _, old in ipairs(refused) do if not send(old) then again[#again + 1] = old end end
    refused = again
    if not send(batch) then refused[#refused + 1] = batch end
    H.sleep(0.08)
  end
  for _, batch in ipairs(refused) do assert.is_true(send(batch), errors[#errors]) end

  -- Every job ends, and none is lost on the way.
  local lost
  local ok, why = pcall(H.wait_until, "every job to end", 30, function()
    local s = q:stats()
    if s.pending + s.inflight + s.scheduled > 0 then return false end
    local best = attempts(runs)
    local failed, broken = ids_of(q:failed { limit = 1000 }), ids_of(q:broken { limit = 1000 })
    lost = {}
    for id, k in pairs(kind) do
      local done = failed[id] or broken[id]
      if k == "plain" then done = done or best[id] ~= nil
      elseif k == "retry" then done = done or (best[id] or 0) >= 3 end
      if not done then lost[#lost + 1] = id .. " (" .. k .. ", ran " .. (best[id] or 0) .. " times)" end
    end
    return #lost == 0
  end)
  local log = read(logs[1]) .. read(logs[2])
  if not ok then
    lost = lost or {}
    error(why .. ": " .. #lost .. " job(s) lost while " .. spoiled[1] .. " held garbage: " ..
      table.concat(lost, ", ", 1, math.min(5, #lost)) .. "\n" .. log:sub(1, 3000), 0)
  end

  assert.falsy(log:find("Sanitizer", 1, true) or log:find("runtime error:", 1, true), log:sub(1, 3000))

  -- Whoever met the key was told which key to fix.
  local told = log .. table.concat(errors, "\n")
  assert.truthy(told:find("hworker: key " .. spoiled[1], 1, true), "no error names " .. spoiled[1] .. ":\n" ..
    told:sub(1, 3000))
  local s = q:stats()
  assert.are.equal(BROKEN, s.broken)
  H.sh("rm -rf " .. H.quote(dir))
end

for _, shards in ipairs({ 1, 6 }) do
  describe("#standalone with a queue key holding garbage (" .. shards .. " shard(s))", function()
    local server, runners
    lazy_setup(function() server = H.redis_server() end)
    lazy_teardown(function() server.stop() end)
    before_each(function() runners = {} end)
    after_each(function()
      for _, pid in ipairs(runners) do H.kill(pid, 9) end
      H.cleanup()
    end)

    for _, case in ipairs(CASES) do
      local what = case.garbage == "counters" and "counters that are not integers" or "a " .. case.garbage
      it("loses no job while " .. case.role .. " holds " .. what, function()
        run_case(server, shards, case, runners)
      end)
    end
  end)
end

describe("#standalone a header value that Redis's cjson reads but cannot write back", function()
  local server
  lazy_setup(function() server = H.redis_server() end)
  lazy_teardown(function() server.stop() end)
  after_each(H.cleanup)

  it("loses neither the job that holds it nor the jobs reported with it", function()
    -- 1e999 reads as infinity, which cjson refuses to encode: a retry or a
    -- recovery raises the header's count by decoding and encoding it.
    local q, runs, config, name = R.queue(server, { retry_base = 0.01, retry_max_delay = 0.05, monitor_interval = 0.1 })
    local ids = q:queue_many(R.jobs(20, 0))
    q:command("LPUSH", R.key(name, "pending"), '{"v":1,"id":"odd","x":1e999}\n{"n":0,"retry_until":3}')
    q:start { job_file = record, config = config, workers = 1, monitors = 1 }
    H.wait_until("every job to succeed", 20, function() return q:stats().counters.succeeded == 21 end)
    q:stop { grace = 5 }
    local by_id = H.runs(runs)
    assert.are.equal(3, by_id.odd)
    R.assert_each_ran_once(runs, ids)
  end)
end)
