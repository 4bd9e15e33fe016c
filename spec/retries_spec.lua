-- Retries with back-off, max attempts, scheduled jobs, poison pills, unique
-- jobs, and the housekeeping of failed and broken (issue 4).
local H = require "spec.support.helper"
local R = require "spec.support.recorded"

local record = H.job_path("record.lua")

-- The runs recorded by record.lua for one job id, oldest first, with the
-- Redis time (ms) each run was recorded at: the enqueue script stamps it.
local function run_times(runs, id)
  local times = {}
  for _, e in ipairs(runs:jobs { limit = 10000 }) do
    if e.job.id == id then
      times[#times + 1] = { at = e.enqueued_at, attempt = e.job.attempt, rc = e.job.recoveries }
    end
  end
  table.sort(times, function(a, b) return a.at < b.at end)
  return times
end

local function redis_ms(q)
  local t = q:command("TIME")
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

describe("retries and scheduling", function()
  local server
  lazy_setup(function() server = H.redis_server() end)
  lazy_teardown(function() server.stop() end)
  after_each(H.cleanup)

  -- #unsharded: these time a job's start with one worker; with several shards
  -- a lone worker waits on one shard at a time, and a job due on another
  -- starts within one block timeout instead (docs/cluster.md).
  it("spaces retries by exponential back-off with jitter #unsharded", function()
    local base, interval = 0.2, 0.05
    local q, runs, config = R.queue(server, { retry_base = base, retry_factor = 2, monitor_interval = interval })
    local id = q:queue { retry_until = 4 }
    q:start { job_file = record, config = config, workers = 1, monitors = 1 }
    H.wait_until("the job to succeed", 30, function() return q:stats().counters.succeeded == 1 end)
    q:stop { grace = 1 }
    local times = run_times(runs, id)
    assert.are.equal(4, #times)
    for k = 1, 3 do
      assert.are.equal(k, times[k].attempt)
      local gap = (times[k + 1].at - times[k].at) / 1000
      local full = base * 2 ^ (k - 1)
      -- Between half and all of the back-off, plus at most one monitor
      -- interval and some scheduling slack.
      assert.truthy(gap >= full / 2 - 0.01 and gap <= full + interval + 0.25,
        ("retry %d came after %.3f s; back-off %.2f s"):format(k, gap, full))
    end
    local s = q:stats()
    assert.are.equal(3, s.counters.retried)
    assert.are.equal(3, s.counters.scheduled)
  end)

  it("caps the back-off at retry_max_delay #unsharded", function()
    local q, runs, config = R.queue(server, { retry_base = 0.1, retry_factor = 100, retry_max_delay = 0.2,
      monitor_interval = 0.05 })
    local id = q:queue { retry_until = 3 }
    q:start { job_file = record, config = config, workers = 1, monitors = 1 }
    H.wait_until("the job to succeed", 30, function() return q:stats().counters.succeeded == 1 end)
    q:stop { grace = 1 }
    local times = run_times(runs, id)
    local gap = (times[3].at - times[2].at) / 1000
    assert.truthy(gap >= 0.09 and gap <= 0.2 + 0.05 + 0.25, ("second retry after %.3f s, not ~10 s"):format(gap))
  end)

  it("fails a job past max_attempts with the last message", function()
    local q, runs, config = R.queue(server, { max_attempts = 3, retry_base = 0.01, monitor_interval = 0.02 })
    local id = q:queue { retry_until = 100 }
    q:start { job_file = record, config = config, workers = 1, monitors = 1 }
    H.wait_until("the job to fail", 30, function() return q:stats().failed == 1 end)
    q:stop { grace = 1 }
    assert.are.equal(3, #run_times(runs, id))
    local failed = q:failed()[1]
    assert.are.equal(id, failed.id)
    assert.are.equal("retries exhausted: not yet: attempt 3", failed.reason)
    assert.are.equal(3, failed.attempt)
    local s = q:stats()
    assert.are.equal(1, s.counters.exhausted)
    assert.are.equal(2, s.counters.retried)
  end)

  it("retries for ever with max_attempts 0, as the original did", function()
    local q, runs, config = R.queue(server, { max_attempts = 0, retry_base = 0, monitor_interval = 0.02 })
    local id = q:queue { retry_until = 40 }
    q:start { job_file = record, config = config, workers = 1, monitors = 1 }
    H.wait_until("the job to succeed", 30, function() return q:stats().counters.succeeded == 1 end)
    q:stop { grace = 1 }
    assert.are.equal(40, #run_times(runs, id))
  end)

  -- An enqueue sent again after its reply was lost lands twice with one job
  -- id (spec/promises_spec.lua loses a reply for real). The copies are byte
  -- for byte the same only if both sends ran in the same millisecond of
  -- Redis time, which no spec can arrange, so the copy is made here by hand.
  -- Retried, such copies meet in scheduled as one entry, and the stats say
  -- so, so enqueued = succeeded + merged still holds.
  it("merges two copies of one job id that are retried into scheduled, and counts it", function()
    local q, runs, config, name = R.queue(server, { retry_base = 1, monitor_interval = 0.05 })
    local id = q:queue { retry_until = 2 }
    local pending = R.key(name, "pending")
    q:command("LPUSH", pending, q:command("LINDEX", pending, 0)) -- the lost-reply copy
    q:start { job_file = record, config = config, workers = 1, monitors = 1 }
    H.wait_until("the job to succeed", 30, function() return q:stats().counters.succeeded == 1 end)
    q:stop { grace = 1 }
    local c = q:stats().counters
    assert.are.equal(1, c.merged)
    assert.are.equal(1, c.scheduled)
    assert.are.equal(c.enqueued, c.succeeded + c.merged - 1) -- the copy bypassed enqueue
    assert.are.equal(3, #run_times(runs, id)) -- both copies' first attempt, then one second
  end)

  -- No monitor runs, so a job put in scheduled would never run again.
  it("runs a job again at once when its retry asks for a delay of 0", function()
    local dir = H.tmpdir()
    local job = H.file(dir, "again.lua",
      "function job(state, t, meta) if meta.attempt == 1 then return hworker.retry('again', { delay = 0 }) end end\n")
    local q = R.queue(server, { retry_base = 3600 })
    q:queue { n = 1 }
    q:start { job_file = job, workers = 1, monitors = 0 }
    H.wait_until("the second attempt to succeed", 30, function() return q:stats().counters.succeeded == 1 end)
    q:stop { grace = 1 }
    H.sh("rm -rf " .. H.quote(dir))
    local c = q:stats().counters
    assert.are.equal(1, c.retried)
    assert.are.equal(0, c.scheduled)
    assert.are.equal(0, c.promoted)
  end)

  it("does not run a scheduled job before its time, and runs it within one monitor interval after "
    .. "#unsharded", function()
    local interval = 0.3
    local q, runs, config = R.queue(server, { monitor_interval = interval })
    q:start { job_file = record, config = config, workers = 1, monitors = 1 }
    local due = redis_ms(q) + 1000
    local id = q:queue({ n = 1 }, { at = due / 1000 })
    assert.are.equal(due, q:scheduled()[1].time)
    H.wait_until("the job to run", 10, function() return #run_times(runs, id) == 1 end)
    q:stop { grace = 1 }
    local ran = run_times(runs, id)[1].at
    assert.truthy(ran >= due, ("ran at %d, due %d"):format(ran, due))
    assert.truthy(ran <= due + interval * 1000 + 250, ("ran %d ms after it was due"):format(ran - due))
  end)

  it("promotes 10,000 jobs due at once exactly once with 4 monitors", function()
    local q = R.queue(server, { monitor_interval = 0.05 })
    local due = (redis_ms(q) + 500) / 1000
    local ids = {}
    for _ = 1, 10 do
      local batch = {}
      for i = 1, 1000 do batch[i] = { n = i } end
      for _, id in ipairs(q:queue_many(batch, { at = due })) do ids[#ids + 1] = id end
    end
    assert.are.equal(10000, q:stats().scheduled)
    q:start { workers = 0, monitors = 4 }
    H.wait_until("every job to be promoted", 30, function() return q:stats().scheduled == 0 end)
    q:stop { grace = 0 }
    local s = q:stats()
    assert.are.equal(10000, s.pending)
    assert.are.equal(10000, s.counters.promoted)
    local seen = {}
    for _, e in ipairs(q:jobs { limit = 10000 }) do
      assert.is_nil(seen[e.id], "promoted twice: " .. e.id)
      seen[e.id] = true
    end
    for _, id in ipairs(ids) do assert.truthy(seen[id]) end
  end)

  it("fails a job that kills its worker every time after max_recoveries, disturbing nothing else", function()
    local q, runs, config, name = R.queue(server, { lease = 0.5, monitor_interval = 0.05 })
    local poison = q:queue { sleep = 60 }
    local others = q:queue_many { { n = 1 }, { n = 2 }, { n = 3 } }
    q:start { workers = 0, monitors = 1 }
    local function worker_process()
      return H.spawn_workers { name = name, redis = server.url, job_file = record, config = config, lease = 0.5,
        workers = 1, log_level = "error" }
    end
    -- Each time the poison job starts, its worker process dies.
    for k = 1, 4 do
      local pid = worker_process()
      H.wait_until("run " .. k .. " of the poison job", 20, function() return #run_times(runs, poison) == k end)
      H.kill(pid, 9)
      H.wait_until("the worker process to die", 10, function() return not H.alive(pid) end)
    end
    H.wait_until("the poison job to be failed", 20, function() return q:stats().failed == 1 end)
    local pid = worker_process()
    H.wait_until("the other jobs to succeed", 20, function() return q:stats().counters.succeeded == 3 end)
    H.kill(pid, 9)
    q:stop { grace = 0 }
    local failed = q:failed()[1]
    assert.are.equal(poison, failed.id)
    assert.are.equal("recovered 3 times: the worker died while running it", failed.reason)
    assert.are.equal(3, failed.recoveries)
    assert.are.equal(1, failed.attempt) -- recoveries do not use up attempts
    local times = run_times(runs, poison)
    for k = 1, 4 do assert.are.equal(k - 1, times[k].rc) end
    for _, id in ipairs(others) do assert.are.equal(1, #run_times(runs, id)) end
    assert.are.equal(3, q:stats().counters.recovered)
  end)
end)

describe("unique jobs", function()
  local server
  lazy_setup(function() server = H.redis_server() end)
  lazy_teardown(function() server.stop() end)
  after_each(H.cleanup)

  it("dedupe while pending, scheduled or in flight, and free the key as soon as the job finishes #unsharded", function()
    local q = R.queue(server)
    local first, held = q:queue({ n = 1 }, { unique = "user:42:welcome" })
    assert.is_false(held)
    local again, held_again = q:queue({ n = 2 }, { unique = "user:42:welcome" })
    assert.are.same({ first, true }, { again, held_again })
    assert.are.equal(1, q:stats().pending)
    local claim = q:step_claim(1, "w")[1]
    assert.are.equal(first, q:queue({ n = 3 }, { unique = "user:42:welcome" }))
    assert.are.equal(0, q:stats().pending)
    assert.is_true(q:step_finish(claim, "success"))
    local second = q:queue({ n = 4 }, { unique = "user:42:welcome" })
    assert.are_not.equal(first, second)

    local later = q:queue({ n = 5 }, { unique = "digest", delay = 600 })
    assert.are.equal(later, q:queue({ n = 6 }, { unique = "digest" }))
    assert.are.equal(1, q:stats().scheduled)
    -- Jobs without a key, or with another, are not affected.
    assert.are_not.equal(q:queue { n = 7 }, q:queue { n = 7 })
    -- Added: first, second, later and the two plain jobs; the duplicates not.
    assert.are.equal(5, q:stats().counters.enqueued)
  end)

  it("keep the key through a crash and recovery, and free it on failure and broken", function()
    local q = R.queue(server, { lease = 0.2 })
    local id = q:queue({ n = 1 }, { unique = "k" })
    q:step_claim(1, "dead")
    H.wait_until("the dead claim to be recovered", 10, function() return q:step_sweep() == 1 end)
    assert.are.equal(id, q:queue({ n = 2 }, { unique = "k" }))
    local claim = q:step_claim(1, "alive")[1]
    assert.is_true(q:step_finish(claim, "failure", "no"))
    local again = q:queue({ n = 3 }, { unique = "k" })
    assert.are_not.equal(id, again)
    claim = q:step_claim(1, "alive")[1]
    assert.is_true(q:step_finish(claim, "broken", "bad"))
    assert.are_not.equal(again, q:queue({ n = 4 }, { unique = "k" }))
  end)

  it("are released when the queue is destroyed, and taken again by a requeued job #unsharded", function()
    local q, _, _, name = R.queue(server)
    local id = q:queue({ n = 1 }, { unique = "k" })
    q:destroy()
    local fresh = q:queue({ n = 2 }, { unique = "k" })
    assert.are_not.equal(id, fresh)
    local claim = q:step_claim(1, "w")[1]
    q:step_finish(claim, "failure", "x")
    local other = q:queue({ n = 3 }, { unique = "k" })
    assert.are_not.equal(fresh, other)
    claim = q:step_claim(1, "w")[1]
    q:step_finish(claim, "success")
    -- The failed job, requeued, holds its key again.
    local out = H.sh(("%s requeue %s --redis %s --failed --all"):format(H.quote(H.build .. "/hworker-lua"), name,
      H.quote(server.url)))
    assert.are.equal("requeued 1 failed record(s)\n", out)
    assert.are.equal(fresh, q:queue({ n = 4 }, { unique = "k" }))
  end)
end)

describe("failed and broken housekeeping", function()
  local server
  lazy_setup(function() server = H.redis_server() end)
  lazy_teardown(function() server.stop() end)
  after_each(H.cleanup)

  it("drops failed and broken records past their age limit", function()
    local q, _, config, name = R.queue(server, { failed_max_age = 0.3, broken_max_age = 0.3, monitor_interval = 0.05 })
    q:queue_many { { fail = "a" }, { fail = "b" } }
    q:command("LPUSH", R.key(name, "pending"), "junk")
    q:start { job_file = record, config = config, workers = 1, monitors = 0 }
    H.wait_until("two failed and one broken", 20, function()
      local s = q:stats()
      return s.counters.failed == 2 and s.counters.broken == 1
    end)
    assert.are.equal(2, q:stats().failed)
    q:stop { grace = 1 }
    q:start { workers = 0, monitors = 1 }
    H.wait_until("the records to age out", 10, function()
      local s = q:stats()
      return s.failed == 0 and s.broken == 0
    end)
    q:stop { grace = 0 }
  end)

  it("keeps records younger than the age limit", function()
    local q, _, config = R.queue(server, { failed_max_age = 3600, monitor_interval = 0.05 })
    q:queue { fail = "a" }
    q:start { job_file = record, config = config, workers = 1, monitors = 1 }
    H.wait_until("the failure", 20, function() return q:stats().failed == 1 end)
    -- Sweeps that could drop it: the monitor sweeps every 50 ms.
    local before = H.commandstats(q).evalsha
    H.wait_until("20 more sweeps", 20, function() return H.commandstats(q).evalsha - before >= 20 end)
    q:stop { grace = 1 }
    assert.are.equal(1, q:stats().failed)
  end)
end)
