-- Flow control (docs/flow-control.md): pause, the concurrency cap and the
-- rate limit hold across processes. Each spec runs 2 worker processes of 4
-- threads; the jobs (spec/jobs/record.lua) record when each run started and
-- ended, in Redis time, and when Redis granted its claim.
local H = require "spec.support.helper"
local R = require "spec.support.recorded"

local record = H.job_path("record.lua")
local events, most_at_once = R.events, R.most_at_once

-- Two processes of 4 workers and a monitor each, on queue `name`.
local function two_processes(server, name, config, extra)
  local pids = {}
  for i = 1, 2 do
    local opts = { name = name, redis = server.url, job_file = record, config = config, workers = 4, monitors = 1,
      log_level = "error" }
    for k, v in pairs(extra or {}) do opts[k] = v end
    pids[i] = H.spawn_workers(opts)
  end
  return pids
end

-- The worker connections of queue `name` blocked in Redis.
local function blocked_workers(q, name)
  local n = 0
  for line in q:command("CLIENT", "LIST"):gmatch("[^\n]+") do
    if line:find("name=hworker:" .. name .. ":worker", 1, true) and line:find("flags=b", 1, true) then n = n + 1 end
  end
  return n
end

describe("flow control", function()
  local server
  lazy_setup(function() server = H.redis_server() end)
  lazy_teardown(function() server.stop() end)
  after_each(H.cleanup)

  it("pause stops starts at the next claim in every process, and resume restarts them", function()
    local q, runs, config, name = R.queue(server)
    q:queue_many(R.jobs(400, 0, { sleep = 0.02 }))
    two_processes(server, name, config)
    H.wait_until("20 runs", 30, function() return select(2, H.runs(runs)) >= 20 end)
    q:pause()
    local paused_at = H.redis_time_ms(server)
    assert.is_true(q:stats().flow.paused)
    -- Jobs in flight finish; then every worker waits, blocked in Redis, with
    -- work pending (an idle worker would have claimed it).
    H.wait_until("the jobs in flight to finish and all 8 workers to wait", 30, function()
      return q:stats().inflight == 0 and blocked_workers(q, name) == 8
    end)
    local starts = events(runs)
    for _, s in ipairs(starts) do
      assert.is_true(s.claimed_at <= paused_at, ("claimed at %d, paused at %d"):format(s.claimed_at, paused_at))
    end
    local ran = #starts
    -- Producers still enqueue while paused.
    q:queue { n = 1000 }
    assert.are.equal(400 - ran + 1, q:stats().pending)
    q:resume()
    assert.is_false(q:stats().flow.paused)
    R.settle(q, 401, 60)
    assert.are.equal(401, #events(runs))
  end)

  it("never runs more than the concurrency cap at once, also when a holder is killed #unsharded", function()
    local q, runs, config, name = R.queue(server)
    q:limit { concurrency = 3 }
    q:queue_many(R.jobs(60, 0, { sleep = 0.1, record_end = true }))
    local pids = two_processes(server, name, config, { lease = 2, monitor_interval = 0.2 })
    H.wait_until("15 runs", 30, function() return #events(runs) >= 15 end)
    H.kill(pids[1], 9)
    local cut = H.redis_time_ms(server)
    H.wait_until("the killed process to exit", 10, function() return not H.alive(pids[1]) end)
    -- Its slots come back with its leases: the other process runs the rest.
    H.wait_until("every job to succeed", 60, function() return q:stats().counters.succeeded == 60 end)
    local most, started = most_at_once(runs, cut)
    assert.is_true(started >= 60)
    assert.are.equal(3, most)
    assert.are.equal(3, q:limits().concurrency)
  end)

  it("starts at most the rate plus the burst in any window of its period, and the rate over 10 s #unsharded",
    function()
      local q, runs, config, name = R.queue(server)
      q:limit { rate = "50/s", burst = 5 }
      q:queue_many(R.jobs(700, 0))
      two_processes(server, name, config)
      H.wait_until("11 s of starts", 60, function()
        local starts = events(runs)
        table.sort(starts, function(a, b) return a.claimed_at < b.claimed_at end)
        return #starts > 0 and starts[#starts].claimed_at - starts[1].claimed_at >= 11000
      end)
      local starts = events(runs)
      local t = {}
      for i, s in ipairs(starts) do t[i] = s.claimed_at end
      table.sort(t)
      local in_10s, j = 0, 1
      for _, c in ipairs(t) do if c < t[1] + 10000 then in_10s = in_10s + 1 end end
      assert.is_true(in_10s >= 490 and in_10s <= 510, in_10s .. " starts in the first 10 s")
      -- Every window [t_i, t_i + 1 s) that starts at a start.
      for i = 1, #t do
        while j <= #t and t[j] < t[i] + 1000 do j = j + 1 end
        assert.is_true(j - i <= 55, ("%d starts in the second from %d"):format(j - i, t[i]))
      end
    end)

  it("applies limits changed at run time without a restart #unsharded", function()
    local q, runs, config, name = R.queue(server)
    q:limit { concurrency = 1 }
    q:queue_many(R.jobs(200, 0, { sleep = 0.2, record_end = true }))
    two_processes(server, name, config)
    H.wait_until("5 runs", 30, function() return #events(runs) >= 5 end)
    local was_one = most_at_once(runs, H.redis_time_ms(server))
    q:limit { concurrency = 4 }
    H.wait_until("4 jobs running at once", 30, function() return q:stats().inflight == 4 end)
    q:pause()
    H.wait_until("the jobs in flight to finish", 30, function() return q:stats().inflight == 0 end)
    assert.are.equal(1, was_one)
    local most = most_at_once(runs)
    assert.is_true(most >= 2 and most <= 4, most .. " at once")
  end)

  it("splits each limit over the shards of a sharded queue, never over-running it", function()
    local q, runs, config, name = R.queue(server, { shards = 3 })
    assert.has_error(function() q:limit { concurrency = 2 } end,
      "hworker: queue '" .. name .. "' has 3 shards, and each runs its share of a limit: set the concurrency and the "
      .. "rate to 3 or more (or use fewer shards)")
    q:limit { concurrency = 4 }
    -- A batch goes to one shard, the next batch to the next.
    for b = 0, 5 do q:queue_many(R.jobs(10, b * 10, { sleep = 0.1, record_end = true })) end
    two_processes(server, name, config, { shards = 3 })
    H.wait_until("every job to succeed", 60, function() return q:stats().counters.succeeded == 60 end)
    local most = most_at_once(runs)
    assert.is_true(most <= 4 and most >= 2, most .. " at once")
    local per_shard = {}
    for k = 0, 2 do per_shard[k + 1] = tonumber(q:command("HGET", "hw:{" .. name .. "#" .. k .. "}:flow", "cap")) end
    assert.are.same({ 2, 1, 1 }, per_shard)
  end)

  it("starts higher priorities first, FIFO within a level, a retried job back in its level #unsharded", function()
    local q, runs, config, name = R.queue(server)
    -- Job 100 first: its retry goes behind the level-9 jobs enqueued after it.
    q:queue({ n = 100, retry_until = 2, retry_delay = 0 }, { priority = 9 })
    local want = {}
    for i = 1, 60 do
      local p = (i * 7) % 10
      q:queue({ n = i }, { priority = p })
      want[#want + 1] = { p = p, n = i }
    end
    -- One job at a time, so the runs are recorded in the order of the claims.
    q:limit { concurrency = 1 }
    two_processes(server, name, config)
    R.settle(q, 62, 60)
    local order = {}
    for _, e in ipairs(runs:jobs { limit = 1000 }) do table.insert(order, 1, e.job.n) end
    table.sort(want, function(a, b) if a.p ~= b.p then return a.p > b.p end return a.n < b.n end)
    assert.are.equal(62, #order)
    -- Level 9: job 100's first run (it was enqueued first), the other 6 jobs
    -- of the level, then job 100's retry, at the back of its level.
    local head = { 100 }
    for _, w in ipairs(want) do if w.p == 9 then head[#head + 1] = w.n end end
    head[#head + 1] = 100
    for i, n in ipairs(head) do assert.are.equal(n, order[i], "run " .. i) end
    local rest = {}
    for _, w in ipairs(want) do if w.p < 9 then rest[#rest + 1] = w.n end end
    for i, n in ipairs(rest) do assert.are.equal(n, order[#head + i], "run " .. #head + i) end
  end)

  it("wakes idle workers for a job with a priority at once #unsharded", function()
    local q, runs, config, name = R.queue(server)
    -- Workers that would otherwise wake only every 600 s.
    two_processes(server, name, config, { block_timeout = 600 })
    H.wait_until("all 8 workers to wait", 30, function() return blocked_workers(q, name) == 8 end)
    local id = q:queue({ n = 1 }, { priority = 3 })
    H.wait_until("the job to run", 30, function() return H.runs(runs)[id] == 1 end)
    assert.are.equal(0, q:stats().pending)
  end)

  it("keeps a doorbell out of the count and the listing when a job goes back in front of it #unsharded", function()
    local q = R.queue(server)
    q:queue { n = 1 }
    local claim = q:step_claim(1, "me")[1]
    -- pending is empty: this job rings the doorbell there.
    local urgent = q:queue({ n = 2 }, { priority = 4 })
    q:step_hand_back(claim)
    assert.are.equal(2, q:stats().pending)
    local listed = q:jobs {}
    assert.are.equal(2, #listed)
    assert.are.equal(urgent, listed[2].id) -- claimed first, so listed last
    assert.are.same({ 2, 1 }, { q:step_claim(1, "me")[1]:match('"n":(%d)') + 0,
      q:step_claim(1, "me")[1]:match('"n":(%d)') + 0 })
  end)

  it("stops claims when a limit in Redis is damaged, naming the key #unsharded", function()
    local q, _, config, name = R.queue(server)
    local flow = R.key(name, "flow")
    q:command("HSET", flow, "cap", "lots")
    q:queue { n = 1 }
    local log = H.tmpdir() .. "/workers.log"
    local opts = { name = name, redis = server.url, job_file = record, config = config, workers = 1,
      log_level = "warn" }
    H.spawn_workers(opts, log)
    H.wait_until("the worker to name the key", 30, function()
      return H.read(log):find("key " .. flow .. " has a field cap that is not a number >= 0", 1, true) ~= nil
    end)
    assert.are.equal(1, q:stats().pending)
    q:limit { concurrency = 2 }
    R.settle(q, 1, 30)
    -- A damaged limiter state: setting the same limits again repairs it.
    q:limit { rate = "1000/s" }
    q:command("HSET", flow, "tat", "soon")
    q:queue { n = 2 }
    H.wait_until("the worker to name the field", 30, function()
      return H.read(log):find("key " .. flow .. " has a field tat", 1, true) ~= nil
    end)
    q:limit { rate = "1000/s" }
    R.settle(q, 2, 30)
  end)

  it("takes turns between groups: twenty small groups finish before a big group is half done", function()
    local q, runs, config, name = R.queue(server)
    -- The big group first, so FIFO would run all of it before the others.
    q:queue_many(R.jobs(5000, 0), { group = "big" })
    for g = 1, 20 do q:queue_many(R.jobs(20, 10000 + g * 100), { group = "small-" .. g }) end
    assert.are.equal(5400, q:stats().pending)
    -- Claims of fewer jobs than there are groups: the turns pass between
    -- claims, not only within one.
    two_processes(server, name, config, { prefetch = 4 })
    R.settle(q, 5400, 120)
    -- Runs in the order they were recorded (each at its start).
    local order = {}
    for _, e in ipairs(runs:jobs { limit = 6000 }) do table.insert(order, 1, e.job.n) end
    assert.are.equal(5400, #order)
    local big, small = 0, 0
    for _, n in ipairs(order) do
      if n > 10000 then small = small + 1 else big = big + 1 end
      if small == 400 then break end
    end
    assert.is_true(big < 2500, big .. " jobs of the big group ran before the last small group's")
    -- Nearer the mark, in the order Redis granted the claims (the order of
    -- starts also depends on how fast each worker gets through its batch):
    -- one turn in 21 while the small groups have work (400 jobs), give or
    -- take the claims of one round (8 workers of up to 4).
    local starts = events(runs)
    local last_small = 0
    for _, e in ipairs(starts) do
      if e.n > 10000 then last_small = math.max(last_small, e.claimed_at) end
    end
    local claimed_before = 0
    for _, e in ipairs(starts) do
      if e.n <= 10000 and e.claimed_at < last_small then claimed_before = claimed_before + 1 end
    end
    assert.is_true(claimed_before <= 20 + 32,
      claimed_before .. " jobs of the big group were claimed before the last small group's")
    -- Each group's jobs are claimed in the order they were enqueued.
    table.sort(starts, function(a, b) return a.n < b.n end)
    local last = {}
    for _, e in ipairs(starts) do
      local g = e.n > 10000 and math.floor((e.n - 10000) / 100) or 0
      assert.is_true((last[g] or 0) <= e.claimed_at, "group " .. g .. " out of order at job " .. e.n)
      last[g] = e.claimed_at
    end
  end)

  it("holds a group's own cap and every group's cap, across processes", function()
    local q, runs, config, name = R.queue(server)
    q:limit { group = "*", concurrency = 2 }
    q:limit { group = "solo", concurrency = 1 }
    assert.are.equal(2, q:limits().group_concurrency)
    q:queue_many(R.jobs(20, 0, { sleep = 0.05, record_end = true }), { group = "solo" })
    q:queue_many(R.jobs(20, 100, { sleep = 0.05, record_end = true }), { group = "pair" })
    q:queue_many(R.jobs(20, 200, { sleep = 0.05, record_end = true }))
    two_processes(server, name, config)
    R.settle(q, 60, 60)
    local cut = H.redis_time_ms(server)
    assert.are.equal(1, most_at_once(runs, cut, function(n) return n <= 100 end))
    assert.are.equal(2, most_at_once(runs, cut, function(n) return n > 100 and n <= 200 end))
    -- Jobs without a group are not held by a group's cap.
    assert.is_true(most_at_once(runs, cut, function(n) return n > 200 end) > 2)
  end)

  it("names a group's list that holds garbage, and loses none of its jobs #unsharded", function()
    local q, runs, config, name = R.queue(server)
    local acme = q:queue_many(R.jobs(5, 0), { group = "acme" })
    local key = R.key(name, "g:acme")
    local saved = q:command("DUMP", key)
    q:command("DEL", key)
    q:command("SET", key, "garbage")
    local ok, err = pcall(q.queue, q, { n = 9 }, { group = "acme" })
    assert.is_false(ok)
    assert.truthy(err:find("key " .. key .. " holds a string, not a list; fix or delete it", 1, true), err)
    local others = q:queue_many(R.jobs(5, 100))
    local log = H.tmpdir() .. "/workers.log"
    H.spawn_workers({ name = name, redis = server.url, job_file = record, config = config, workers = 1,
      log_level = "warn" }, log)
    H.wait_until("the worker to name the key", 30, function()
      return H.read(log):find("key " .. key .. " is not a list", 1, true) ~= nil
    end)
    H.wait_until("the other jobs to run", 30, function() return q:stats().counters.processed == 5 end)
    R.assert_each_ran_once(runs, others)
    q:command("DEL", key)
    q:command("RESTORE", key, "0", saved)
    R.settle(q, 10, 30)
    R.assert_each_ran_once(runs, acme)
  end)

  it("holds a group back, never stops it, when its settings or counts in Redis are damaged #unsharded", function()
    local q, runs, config, name = R.queue(server)
    local groups = R.key(name, "groups")
    -- A damaged cap reads as 1, a damaged count of jobs in flight as 0.
    q:command("HSET", groups, "c:acme", "lots", "r:acme", "x")
    -- A damaged rate reads as one start a second, a damaged burst as 0.
    q:command("HSET", groups, "i:paced", "soon", "b:paced", "x")
    q:queue_many(R.jobs(10, 0, { sleep = 0.05, record_end = true }), { group = "acme" })
    local paced = q:queue_many(R.jobs(3, 100), { group = "paced" })
    two_processes(server, name, config)
    R.settle(q, 13, 60)
    R.assert_each_ran_once(runs, paced)
    local cut = H.redis_time_ms(server)
    assert.are.equal(1, most_at_once(runs, cut, function(n) return n <= 100 end))
    local acme, starts = 0, {}
    for _, e in ipairs(events(runs)) do
      if e.n > 100 then starts[#starts + 1] = e.claimed_at else acme = acme + 1 end
    end
    assert.are.equal(10, acme)
    table.sort(starts)
    for i = 2, #starts do
      assert.is_true(starts[i] - starts[i - 1] >= 1000, ("starts %d ms apart"):format(starts[i] - starts[i - 1]))
    end
  end)

  it("keeps a group to its rate without holding other groups back", function()
    local q, runs, config, name = R.queue(server)
    q:limit { group = "slow", rate = "10/s" }
    q:queue_many(R.jobs(25, 0), { group = "slow" })
    q:queue_many(R.jobs(25, 100), { group = "fast" })
    two_processes(server, name, config)
    R.settle(q, 50, 60)
    local slow, fast_done = {}, 0
    for _, e in ipairs(events(runs)) do
      if e.n <= 100 then slow[#slow + 1] = e.claimed_at else fast_done = math.max(fast_done, e.claimed_at) end
    end
    table.sort(slow)
    assert.are.equal(25, #slow)
    -- Every window [t_i, t_i + 1 s) that starts at a start.
    local j = 1
    for i = 1, #slow do
      while j <= #slow and slow[j] < slow[i] + 1000 do j = j + 1 end
      assert.is_true(j - i <= 10, ("%d starts of the group in the second from %d"):format(j - i, slow[i]))
    end
    -- The other group ran while this one waited its turns.
    assert.is_true(fast_done < slow[10], "the fast group's last start came after the slow group's 10th")
  end)

  it("keeps each group in one shard of a sharded queue, so its cap holds", function()
    local q, runs, config, name = R.queue(server, { shards = 3 })
    q:limit { group = "solo", concurrency = 1 }
    -- Batches go to the shards in turn, unless a group picks one.
    for b = 0, 5 do q:queue_many(R.jobs(4, b * 4, { sleep = 0.05, record_end = true }), { group = "solo" }) end
    assert.has_error(function() q:queue({ n = 0 }, { group = "solo", unique = "u" }) end,
      "hworker: enqueue options: job 1 has a unique key and a group, and queue '" .. name .. "' is sharded: each "
      .. "picks a shard, so use one of them (or an unsharded queue)")
    two_processes(server, name, config, { shards = 3 })
    R.settle(q, 24, 60)
    assert.are.equal(1, most_at_once(runs, H.redis_time_ms(server)))
  end)
end)
