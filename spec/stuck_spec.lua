-- A job stuck inside a C function that never looks at the sandbox (a host
-- function that blocks): the watchdog gives up on its thread HW_STUCK_SLACK
-- past the time limit, records the job as timed out, hands back what the
-- thread had prefetched, and a new thread works on; a graceful stop never
-- waits on such a thread. The host is spec/c/stuck_host.c.
local H = require "spec.support.helper"

describe("a job stuck in a C function #standalone", function()
  local server, dir, bin

  lazy_setup(function()
    server = H.redis_server()
    server.start()
    dir = H.tmpdir()
    bin = H.c_program(dir, "stuck_host", "$(pkg-config --libs luajit)")
  end)

  lazy_teardown(function()
    H.cleanup()
    server.stop()
    H.sh("rm -rf " .. H.quote(dir))
  end)

  -- Runs the host; `timeout` bounds the whole run, so a hang fails the spec.
  local function run_host(name, job_timeout, grace, until_, extra)
    return H.sh("timeout -s KILL 60 " .. H.quote(bin) .. " " .. H.quote(server.url) .. " " .. name .. " " ..
      H.quote(H.job_path("stuck.lua")) .. " " .. job_timeout .. " " .. grace .. " " .. until_ .. " " .. (extra or ""))
  end

  it("is recorded as timed out, and the jobs claimed with it run on a new thread", function()
    local q, name = H.queue(server, { shards = 1 })
    local jobs = {}
    -- Quick jobs first, so the worker's claims have grown into batches by
    -- the time it claims the blocking one with the jobs behind it.
    for i = 1, 40 do jobs[#jobs + 1] = { n = i } end
    table.insert(jobs, 21, { block = 3600 })
    q:queue_many(jobs)
    local out = run_host(name, 0.5, 1, 41)
    assert.matches("outcomes 41", out)
    assert.matches("stopped", out)
    local s = q:stats()
    assert.are.equal(40, s.counters.succeeded)
    assert.are.equal(1, s.failed)
    assert.are.equal(0, s.pending)
    assert.are.equal(0, s.inflight)
    local failed = q:failed()
    assert.matches("^timeout: .*inside a C function", failed[1].reason)
    assert.are.equal(3600, failed[1].job.block)
  end)

  -- host.block returns 0.3 s past the 0.3 s limit, before the watchdog
  -- gives up on the thread, and before the sandbox's hook runs again: only
  -- the check in each call stands between the job and its effect. Each
  -- call also runs once in time, to show it acts when the job may.
  it("makes hworker.queue, hworker.log and host calls raise once the job must stop", function()
    local q, name = H.queue(server, { shards = 1 })
    local runs_name = name .. "-runs"
    local runs = H.track(H.hworker.open { name = runs_name, redis = server.url, log_level = "error" })
    runs:destroy()
    local late = {}
    for i, after in ipairs { "queue", "log", "host" } do
      q:queue { after = after, n = 2 * i - 1, runs = runs_name }
      late[q:queue { after = after, n = 2 * i, block = 0.6, runs = runs_name }] = after
    end
    local out = run_host(name, 0.3, 1, 6)
    assert.matches("outcomes 6", out)
    local queued = {}
    for _, e in ipairs(runs:jobs()) do queued[#queued + 1] = e.job.n end
    assert.are.same({ 1 }, queued)
    assert.matches("job %S+: late call 3", out)
    assert.is_nil(out:find("late call 4", 1, true), out)
    assert.matches("note: late call 5", out, 1, true)
    assert.is_nil(out:find("late call 6", 1, true), out)
    local failed = q:failed()
    assert.are.equal(3, #failed)
    for _, f in ipairs(failed) do
      assert.truthy(late[f.id], f.id)
      assert.are.equal("timeout: the job ran longer than its time limit and was stopped", f.reason)
    end
  end)

  it("does not hold a graceful stop: the stuck job is handed back", function()
    local q, name = H.queue(server, { shards = 1 })
    q:queue { block = 3600 }
    -- A time limit of 600 s: only the stop's own slack can end this run.
    local out = run_host(name, 600, 0.2, "blocked")
    assert.matches("stopped", out)
    local s = q:stats()
    assert.are.equal(1, s.pending)
    assert.are.equal(0, s.inflight)
    assert.are.equal(0, s.counters.succeeded + s.failed)
  end)

  -- The host frees what its log callback uses once hworker_free returns;
  -- the abandoned thread comes back from its 3 s block after that, and
  -- logs that it did: the line must not reach the callback.
  it("calls no host log callback once the handle is freed, when an abandoned thread comes back later", function()
    local q, name = H.queue(server, { shards = 1 })
    q:queue { block = 3 }
    local out = run_host(name, 600, 0.2, "blocked", "wait-threads")
    assert.matches("freed", out)
    assert.matches("still stuck in C functions", out)
    assert.matches("threads ended", out)
    assert.is_nil(out:find("log after free", 1, true), out)
    assert.are.equal(1, q:stats().pending)
  end)
end)
