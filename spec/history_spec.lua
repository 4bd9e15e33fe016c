-- Timings and history (docs/operations.md, "History and timings"): every
-- batch of outcomes adds its runs' wait and run times to the queue's
-- histograms and its outcomes to the current minute's and hour's buckets,
-- in the same finish call; q:history{}, q:timings() and `stats --history`
-- read them back, summed over the shards.
local H = require "spec.support.helper"

local bin = H.build .. "/hworker-lua"

-- A job that does what its payload says: sleep (seconds), fail, or retry at
-- once on its first attempt.
local JOB = [[
function job(state, t, meta)
  if t.sleep then hworker.sleep(t.sleep) end
  if t.fail then return hworker.failure("told to fail") end
  if t.retry and meta.attempt == 1 then return hworker.retry("once more", { delay = 0 }) end
end
]]

local function sum(list, from, to)
  local n = 0
  for i = from or 1, to or #list do n = n + list[i] end
  return n
end

-- The outcome counts and timings of every bucket of q:history(opts), added.
local function totals(q, opts)
  local t = { processed = 0, succeeded = 0, retried = 0, failed = 0, broken = 0, runs = 0, waits = 0,
    run_buckets = {}, wait_buckets = {}, rows = 0 }
  for i = 1, 16 do t.run_buckets[i], t.wait_buckets[i] = 0, 0 end
  for _, e in ipairs(q:history(opts)) do
    t.rows = t.rows + 1
    for _, k in ipairs({ "processed", "succeeded", "retried", "failed", "broken" }) do t[k] = t[k] + e[k] end
    t.runs, t.waits = t.runs + e.run.count, t.waits + e.wait.count
    for i = 1, 16 do
      t.run_buckets[i] = t.run_buckets[i] + e.run.buckets[i]
      t.wait_buckets[i] = t.wait_buckets[i] + e.wait.buckets[i]
    end
  end
  return t
end

describe("timings and history", function()
  local server, job
  lazy_setup(function()
    server = H.redis_server()
    job = H.file(H.tmpdir(), "mix.lua", JOB)
  end)
  lazy_teardown(function() server.stop() end)
  after_each(H.cleanup)

  -- 6 quick successes, 2 that sleep 30 ms, 2 failures, 1 retried once then
  -- done, and 1 broken payload the engine never runs: 13 outcomes (9
  -- successes, 1 retry, 2 failures, 1 broken) from 12 runs.
  local function run_mix(q, name)
    local jobs = {}
    for i = 1, 6 do jobs[#jobs + 1] = { n = i } end
    jobs[#jobs + 1] = { sleep = 0.03 }
    jobs[#jobs + 1] = { sleep = 0.03 }
    jobs[#jobs + 1] = { fail = true }
    jobs[#jobs + 1] = { fail = true }
    jobs[#jobs + 1] = { retry = true }
    q:queue_many(jobs)
    q:command("LPUSH", "hw:{" .. name .. "}:pending", '{"v":1,"id":"bad1","eq":1}\n{not json')
    -- Every job has waited 300 ms or more when the workers start.
    local enqueued = H.redis_time_ms(server)
    H.wait_until("300 ms of Redis time to pass", 10, function() return H.redis_time_ms(server) >= enqueued + 300 end)
    q:start { job_file = job, workers = 2, monitors = 0 }
    H.wait_until("every outcome", 20, function() return q:stats().counters.processed == 13 end)
    q:stop { grace = 5 }
  end

  it("counts a known mix of outcomes in the minute and hour buckets and the histograms #unsharded", function()
    local q, name = H.queue(server)
    run_mix(q, name)
    for _, period in ipairs({ "minute", "hour" }) do
      local t = totals(q, { since = 600, period = period })
      assert.are.same({ 13, 9, 1, 2, 1 }, { t.processed, t.succeeded, t.retried, t.failed, t.broken }, period)
      assert.are.same({ 12, 12 }, { t.runs, t.waits }, period)
      assert.are.same({ 12, 12 }, { sum(t.run_buckets), sum(t.wait_buckets) }, period)
      -- The two sleepers ran 30 ms or more: past the 25 ms bound (bucket 4).
      assert.is_true(sum(t.run_buckets, 5) >= 2, period)
      -- The 11 first runs waited 300 ms or more: past the 250 ms bound.
      assert.is_true(sum(t.wait_buckets, 8) >= 11, period)
    end
    local all = q:timings()
    assert.are.equal(12, all.run.count)
    assert.are.equal(12, sum(all.run.buckets))
    assert.is_true(all.run.sum_us >= 60000)
    assert.is_true(all.wait.sum_us >= 11 * 300000)
    assert.are.same({ 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, math.huge },
      H.hworker.timing_bounds)
  end)

  it("sums the shards of a sharded queue, and deletes the history with the queue", function()
    local q, name = H.queue(server, { shards = 3 })
    local jobs = {}
    for i = 1, 30 do jobs[i] = { n = i } end
    q:queue_many(jobs)
    q:start { job_file = job, workers = 2, monitors = 0 }
    H.wait_until("every outcome", 20, function() return q:stats().counters.processed == 30 end)
    q:stop { grace = 5 }
    local t = totals(q, { since = 600 })
    assert.are.same({ 30, 30, 30 }, { t.processed, t.succeeded, t.runs })
    assert.are.equal(30, q:timings().run.count)
    q:destroy()
    assert.are.equal(0, totals(q, { since = 600 }).processed)
    assert.are.equal(0, q:timings().run.count)
    assert.are.same({}, q:command("KEYS", "hw:{" .. name .. "*"))
  end)

  it("records nothing with history off, and the queue still runs", function()
    local q = H.queue(server, { history = "off" })
    q:queue_many({ { n = 1 }, { fail = true } })
    q:start { job_file = job, workers = 1, monitors = 0 }
    H.wait_until("both outcomes", 20, function() return q:stats().counters.processed == 2 end)
    q:stop { grace = 5 }
    assert.are.equal(0, totals(q, { since = 600 }).processed)
    assert.are.equal(0, q:timings().run.count)
  end)

  it("never holds up an outcome for a history key that holds something else", function()
    local q, name = H.queue(server)
    local minute = math.floor(H.redis_time_ms(server) / 60000)
    local prefix = "hw:{" .. name .. "}:"
    -- The next minute too, in case this one ends before the jobs run.
    q:command("SET", prefix .. "history:m:" .. minute, "not a hash")
    q:command("SET", prefix .. "history:m:" .. (minute + 1), "not a hash")
    q:command("HSET", prefix .. "timings", "wn", "lots", "rn", "x")
    q:command("HSET", prefix .. "history:h:" .. math.floor(minute / 60), "processed", "many")
    q:queue_many({ { n = 1 }, { n = 2 }, { fail = true } })
    q:start { job_file = job, workers = 1, monitors = 0 }
    H.wait_until("every outcome", 20, function() return q:stats().counters.processed == 3 end)
    q:stop { grace = 5 }
    local s = q:stats()
    assert.are.same({ 2, 1, 0 }, { s.counters.succeeded, s.failed, s.pending })
    -- What can be read is read: the damaged minute reads as empty, the
    -- damaged counts as nothing beside what was added to them.
    local t = totals(q, { since = 120 })
    assert.are.equal(0, t.processed)
    assert.is_true(q:timings().wait.count == 0)
    assert.are.equal("many", q:command("HGET", prefix .. "history:h:" .. math.floor(minute / 60), "processed"))
  end)

  it("counts a job whose header has no enqueue time, or a wild one, as no wait #unsharded", function()
    local q, name = H.queue(server)
    for i, eq in ipairs({ "", ',"eq":-5000000000000000', ',"eq":1e300', ',"eq":99999999999999999' }) do
      q:command("LPUSH", "hw:{" .. name .. "}:pending", ('{"v":1,"id":"wild%d"%s}\n{}'):format(i, eq))
    end
    q:start { job_file = job, workers = 1, monitors = 0 }
    H.wait_until("every outcome", 20, function() return q:stats().counters.succeeded == 4 end)
    q:stop { grace = 5 }
    local wait = q:timings().wait
    assert.are.same({ 4, 4, 0 }, { wait.count, wait.buckets[1], wait.sum_us })
  end)

  it("stats --history prints the buckets as text or JSON, and names a bad --since", function()
    local q, name = H.queue(server)
    q:queue_many({ { n = 1 }, { fail = true } })
    q:start { job_file = job, workers = 1, monitors = 0 }
    H.wait_until("both outcomes", 20, function() return q:stats().counters.processed == 2 end)
    q:stop { grace = 5 }
    local redis = " --redis " .. H.quote(server.url)
    local out, err, code = H.run(bin, "stats " .. name .. " --history --since 10m --json" .. redis)
    assert.are.equal(0, code, err)
    local doc = H.cjson.decode(out)
    assert.are.equal(60, doc.period_s)
    assert.are.equal(15, #doc.bounds_s)
    assert.is_true(#doc.buckets >= 10 and #doc.buckets <= 11)
    local processed, failed, runs = 0, 0, 0
    for _, b in ipairs(doc.buckets) do
      processed, failed, runs = processed + b.processed, failed + b.failed, runs + b.run.count
      assert.are.equal(16, #b.run.buckets)
      assert.truthy(b.start:match("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:00Z$"))
    end
    assert.are.same({ 2, 1, 2 }, { processed, failed, runs })
    out, err, code = H.run(bin, "stats " .. name .. " --history --since 2h --period hour" .. redis)
    assert.are.equal(0, code, err)
    assert.truthy(out:match("^hour %(UTC%)%s+processed"), out)
    -- One row per hour that overlaps the last two; the jobs' row counts
    -- 2 processed, 1 succeeded, 0 retried, 1 failed, 0 broken, then the
    -- wait and run percentiles as bucket bounds.
    local rows, counted = 0, 0
    for line in out:gmatch("[^\n]+") do
      if line:match("^%d") then rows = rows + 1 end
      if line:match("Z +2 +1 +0 +1 +0 +<=[%d.]+m?s +<=[%d.]+m?s +<=[%d.]+m?s +<=[%d.]+m?s$") then
        counted = counted + 1
      end
    end
    assert.are.same({ 3, 1 }, { rows, counted }, out)
    for flags, says in pairs({
      ["--history --since soon"] = "%-%-since takes a duration such as 90s",
      ["--history --since 60d"] = "30 days",
      ["--since 1h"] = "go with %-%-history",
    }) do
      local _, why, status = H.run(bin, "stats " .. name .. " " .. flags .. redis)
      assert.are.equal(2, status, flags)
      assert.truthy(why:match(says), why)
    end
  end)
end)
