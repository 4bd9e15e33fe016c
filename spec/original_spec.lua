-- The Haskell original's test suite, restated for hworker (issue 2, point 1).
local H = require "spec.support.helper"
local R = require "spec.support.recorded"

describe("the original's behaviours", function()
  local server
  lazy_setup(function() server = H.redis_server() end)
  lazy_teardown(function() server.stop() end)
  after_each(H.cleanup)

  it("runs one job once", function()
    local q, runs, config = R.queue(server)
    local id = q:queue { n = 1 }
    q:start { job_file = H.job_path("record.lua"), config = config, workers = 1, monitors = 1 }
    R.settle(q, 1)
    q:stop { grace = 5 }
    local by_id, total = H.runs(runs)
    assert.are.equal(1, total)
    assert.are.equal(1, by_id[id])
    assert.are.equal(1, q:stats().counters.succeeded)
  end)

  for _, workers in ipairs { 1, 4 } do
    it("runs 1000 jobs exactly once each with " .. workers .. " worker(s)", function()
      local q, runs, config = R.queue(server)
      local jobs = {}
      for i = 1, 1000 do jobs[i] = { n = i } end
      local ids = q:queue_many(jobs)
      q:start { job_file = H.job_path("record.lua"), config = config, workers = workers, monitors = 1 }
      R.settle(q, 1000)
      q:stop { grace = 5 }
      local by_id, total = H.runs(runs)
      assert.are.equal(1000, total)
      for _, id in ipairs(ids) do assert.are.equal(1, by_id[id]) end
      local s = q:stats()
      assert.are.equal(1000, s.counters.succeeded)
      assert.are.equal(1000, s.counters.enqueued)
    end)
  end

  it("runs a job that returns retry again until it succeeds", function()
    local q, runs, config = R.queue(server)
    local id = q:queue { retry_until = 3 }
    q:start { job_file = H.job_path("record.lua"), config = config, workers = 1, monitors = 1 }
    H.wait_until("the job to succeed", 30, function() return q:stats().counters.succeeded == 1 end)
    q:stop { grace = 5 }
    local by_id = H.runs(runs)
    assert.are.equal(3, by_id[id])
    local s = q:stats()
    assert.are.equal(2, s.counters.retried)
    assert.are.equal(0, s.failed)
  end)

  it("runs a failing job once and lists it in failed with its reason", function()
    local q, runs, config = R.queue(server)
    local id = q:queue { fail = "no such user" }
    q:start { job_file = H.job_path("record.lua"), config = config, workers = 1, monitors = 1 }
    R.settle(q, 1)
    q:stop { grace = 5 }
    assert.are.equal(1, H.runs(runs)[id])
    local failed = q:failed()
    assert.are.equal(1, #failed)
    assert.are.equal(id, failed[1].id)
    assert.are.equal("no such user", failed[1].reason)
    assert.are.same({ fail = "no such user" }, failed[1].job)
    assert.truthy(failed[1].time > 0)
  end)

  it("keeps at most failed_cap failed jobs, newest first", function()
    local q, runs, config = R.queue(server, { failed_cap = 2 })
    local ids = q:queue_many { { fail = "a" }, { fail = "b" }, { fail = "c" }, { fail = "d" } }
    q:start { job_file = H.job_path("record.lua"), config = config, workers = 1, monitors = 1 }
    R.settle(q, 4)
    q:stop { grace = 5 }
    local _, total = H.runs(runs)
    assert.are.equal(4, total)
    local failed = q:failed()
    assert.are.equal(2, #failed)
    assert.are.equal(ids[4], failed[1].id)
    assert.are.equal(ids[3], failed[2].id)
  end)

  it("counts an error as failure by default", function()
    local q, runs, config = R.queue(server)
    local id = q:queue { error = "kaput" }
    q:start { job_file = H.job_path("record.lua"), config = config, workers = 1, monitors = 1 }
    R.settle(q, 1)
    q:stop { grace = 5 }
    assert.are.equal(1, H.runs(runs)[id])
    local failed = q:failed()
    assert.are.equal(1, #failed)
    assert.matches("^error: .*record%.lua:%d+: kaput$", failed[1].reason)
  end)

  it("counts an error as retry when on_exception is retry", function()
    local q, runs, config = R.queue(server, { on_exception = "retry" })
    local id = q:queue { error_until = 2 }
    q:start { job_file = H.job_path("record.lua"), config = config, workers = 1, monitors = 1 }
    H.wait_until("the job to succeed", 30, function() return q:stats().counters.succeeded == 1 end)
    q:stop { grace = 5 }
    assert.are.equal(2, H.runs(runs)[id])
    assert.are.equal(0, q:stats().failed)
  end)

  it("never runs an undecodable payload and lists it in broken with time and reason", function()
    local q, runs, config, name = R.queue(server)
    q:queue { n = 1 }
    q:command("LPUSH", R.key(name, "pending"), '{"v":1,"id":"raw-1"}\n{"truncated":')
    q:command("LPUSH", R.key(name, "pending"), "not an envelope at all")
    q:start { job_file = H.job_path("record.lua"), config = config, workers = 1, monitors = 1 }
    R.settle(q, 3)
    q:stop { grace = 5 }
    local _, total = H.runs(runs)
    assert.are.equal(1, total) -- only the good job ran
    local broken = q:broken()
    assert.are.equal(2, #broken)
    assert.matches("no header line", broken[1].reason)
    assert.are.equal("not an envelope at all", broken[1].job_json)
    assert.matches("^job is not valid JSON", broken[2].reason)
    assert.are.equal("raw-1", broken[2].id)
    for _, b in ipairs(broken) do assert.truthy(b.time > 0) end
    assert.are.equal(2, q:stats().counters.broken)
  end)

  it("lists queued jobs newest first #unsharded", function()
    local q = H.queue(server)
    local a = q:queue { name = "A" }
    local b = q:queue { name = "B" }
    local jobs = q:jobs()
    assert.are.equal(2, #jobs)
    assert.are.equal(b, jobs[1].id)
    assert.are.same({ name = "B" }, jobs[1].job)
    assert.are.equal(a, jobs[2].id)
    assert.are.equal(1, jobs[1].attempt)
    assert.truthy(jobs[1].enqueued_at > 0)
  end)

  it("runs 5000 jobs of about 54 KB each exactly once with 4 workers", function()
    local q, runs, config = R.queue(server)
    local line = string.rep("x", 52)
    local lines = {}
    for i = 1, 1000 do lines[i] = line end
    local big = table.concat(lines, "\n")
    local ids = {}
    for batch = 0, 49 do
      local jobs = {}
      for i = 1, 100 do jobs[i] = { n = batch * 100 + i, text = big } end
      for _, id in ipairs(q:queue_many(jobs)) do ids[#ids + 1] = id end
    end
    q:start { job_file = H.job_path("record.lua"), config = config, workers = 4, monitors = 1 }
    R.settle(q, 5000)
    q:stop { grace = 5 }
    local by_id, total = H.runs(runs)
    assert.are.equal(5000, total)
    for _, id in ipairs(ids) do assert.are.equal(1, by_id[id]) end
  end)

  -- The front is the end claims take from: q:jobs lists it last.
  it("puts a dead worker's job back at the front of pending, before the jobs that waited #unsharded", function()
    local q = H.queue(server, { lease = 0.1 })
    local first = q:queue { n = 1 }
    assert.are.equal(1, #q:step_claim(1, "host:1:dead"))
    local second = q:queue { n = 2 }
    local third = q:queue { n = 3 }
    H.wait_until("the lease to expire and the job to be recovered", 10, function() return q:step_sweep() == 1 end)
    local ids = {}
    for _, e in ipairs(q:jobs()) do ids[#ids + 1] = e.id end
    assert.are.same({ third, second, first }, ids)
    assert.are.equal(1, q:jobs()[3].recoveries)
  end)

  it("runs the job of a worker killed mid-run again on another worker", function()
    local q, runs, config, name = R.queue(server, { lease = 1, monitor_interval = 0.2 })
    local id = q:queue { sleep = 2, n = 1 }
    local pid = H.spawn_workers { name = name, redis = server.url, job_file = H.job_path("record.lua"),
      config = config, lease = 1, workers = 1, log_level = "error" }
    H.wait_until("the job to start in the worker process", 20, function() return H.runs(runs)[id] == 1 end)
    H.kill(pid, 9)
    H.wait_until("the worker process to die", 10, function() return not H.alive(pid) end)
    q:start { job_file = H.job_path("record.lua"), config = config, workers = 1, monitors = 1 }
    H.wait_until("the job to succeed on another worker", 30, function() return q:stats().counters.succeeded == 1 end)
    q:stop { grace = 5 }
    assert.are.equal(2, H.runs(runs)[id])
    local s = q:stats()
    assert.are.equal(1, s.counters.recovered)
    assert.are.equal(0, s.inflight)
  end)

  it("with six monitors, never requeues a dead worker's job twice", function()
    local q, runs, config, name = R.queue(server, { lease = 1, monitor_interval = 0.05 })
    local ids = q:queue_many { { sleep = 60, n = 1 }, { sleep = 60, n = 2 } }
    local pid = H.spawn_workers { name = name, redis = server.url, job_file = H.job_path("record.lua"),
      config = config, lease = 1, workers = 2, log_level = "error" }
    H.wait_until("both jobs to start", 20, function()
      local by_id = H.runs(runs)
      return by_id[ids[1]] == 1 and by_id[ids[2]] == 1
    end)
    H.kill(pid, 9)
    -- Six monitors race for the two expired leases; no workers yet, so
    -- every requeue stays visible in pending.
    q:start { workers = 0, monitors = 6 }
    H.wait_until("both jobs to be recovered", 20, function() return q:stats().counters.recovered >= 2 end)
    -- Give the monitors many more sweeps in which a double requeue could happen.
    local sweeps_before = H.commandstats(q).evalsha
    H.wait_until("the monitors to sweep 60 more times", 20, function()
      return H.commandstats(q).evalsha - sweeps_before >= 60
    end)
    local s = q:stats()
    assert.are.equal(2, s.counters.recovered)
    assert.are.equal(2, s.pending)
    local pending = q:jobs()
    assert.are_not.equal(pending[1].id, pending[2].id)
    for _, e in ipairs(pending) do assert.are.equal(1, e.recoveries) end
    q:stop { grace = 0 }
  end)
end)
