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
  local function run_host(name, job_timeout, grace, until_)
    return H.sh("timeout -s KILL 60 " .. H.quote(bin) .. " " .. H.quote(server.url) .. " " .. name .. " " ..
      H.quote(H.job_path("stuck.lua")) .. " " .. job_timeout .. " " .. grace .. " " .. until_)
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

  it("does not hold a graceful stop: the stuck job is handed back", function()
    local q, name = H.queue(server, { shards = 1 })
    q:queue { block = 3600 }
    -- A time limit of 600 s: only the stop's own slack can end this run.
    local out = run_host(name, 600, 0.2, "running")
    assert.matches("stopped", out)
    local s = q:stats()
    assert.are.equal(1, s.pending)
    assert.are.equal(0, s.inflight)
    assert.are.equal(0, s.counters.succeeded + s.failed)
  end)
end)
