-- Scheduled jobs start on time (docs/scheduling.md): a job due at T is
-- started at T plus a little, never before T in Redis time, even when it
-- was scheduled after every monitor went to sleep for monitor_interval.
-- The specs check order and a generous bound; bench/run measures lateness.
local H = require "spec.support.helper"
local R = require "spec.support.recorded"

local record = H.job_path("record.lua")

-- Far longer than any wait below: a job that waited for the next sweep
-- instead of its own due time misses every deadline here.
local SWEEP = 60

-- The recorded runs of job `id`, oldest first: { ran_at (Redis ms), due_at,
-- enqueued_at, attempt } from record.lua.
local function runs_of(runs, id)
  local out = {}
  for _, e in ipairs(runs:jobs { limit = 1000 }) do
    if e.job.id == id then
      out[#out + 1] = { ran_at = e.enqueued_at, due_at = e.job.due_at, enqueued_at = e.job.enqueued_at,
        attempt = e.job.attempt }
    end
  end
  table.sort(out, function(a, b) return a.attempt < b.attempt end)
  return out
end

describe("on time", function()
  local server
  lazy_setup(function() server = H.redis_server() end)
  lazy_teardown(function() server.stop() end)
  after_each(H.cleanup)

  -- Workers idle and the monitor asleep until its next sweep: only being
  -- told of the new job can start it on time.
  local function idle_queue()
    local q, runs, config = R.queue(server, { monitor_interval = SWEEP })
    q:start { job_file = record, config = config, workers = 1, monitors = 1 }
    -- A first scheduled job, promoted by the monitor: after it ran, the
    -- monitor has swept and sleeps until the next sweep.
    local warm = q:queue({ n = 0 }, { delay = 0.2 })
    H.wait_until("the first scheduled job to run", 30, function() return #runs_of(runs, warm) == 1 end)
    return q, runs
  end

  it("starts a job scheduled while everything sleeps at its due time, never before", function()
    local q, runs = idle_queue()
    local id = q:queue({ n = 1 }, { delay = 1 })
    H.wait_until("the scheduled job to run", 10, function() return #runs_of(runs, id) == 1 end)
    local run = runs_of(runs, id)[1]
    assert.are.equal(run.enqueued_at + 1000, run.due_at)
    assert.is_true(run.ran_at >= run.due_at, ("ran at %d, due at %d"):format(run.ran_at, run.due_at))
    assert.is_true(run.ran_at - run.due_at < 1000, ("ran %d ms late"):format(run.ran_at - run.due_at))
    q:stop { grace = 5 }
    -- The engine measured both jobs that waited (and nothing else).
    local late = q:stats().lateness_ms
    assert.are.equal(2, late.samples)
    assert.is_true(late.p50 >= 0 and late.p50 <= late.p99 and late.p99 <= late.max and late.max < 1000)
  end)

  it("runs a job retried with delay = 1 again about 1 s later, each of 5 times", function()
    local q, runs = idle_queue()
    local id = q:queue { n = 1, retry_until = 6, retry_delay = 1 }
    H.wait_until("the sixth attempt", 15, function() return #runs_of(runs, id) == 6 end)
    local list = runs_of(runs, id)
    for i = 2, 6 do
      local gap = list[i].ran_at - list[i - 1].ran_at
      assert.is_true(list[i].ran_at >= list[i].due_at, ("attempt %d ran before it was due"):format(i))
      assert.is_true(gap >= 1000 and gap < 2000, ("attempt %d ran %d ms after attempt %d"):format(i, gap, i - 1))
    end
    q:stop { grace = 5 }
  end)

  it("gives the handler meta.due_at: the due time of a scheduled job, the enqueue time of another", function()
    local q, runs, config = R.queue(server, { monitor_interval = 0.2 })
    local now_id = q:queue { n = 1 }
    local at_ms = math.floor(H.redis_time_ms(server) / 1000) * 1000 + 2000
    local at_id = q:queue({ n = 2 }, { at = at_ms / 1000 })
    q:start { job_file = record, config = config, workers = 1, monitors = 1 }
    H.wait_until("both jobs to run", 30, function()
      return #runs_of(runs, now_id) == 1 and #runs_of(runs, at_id) == 1
    end)
    local now_run, at_run = runs_of(runs, now_id)[1], runs_of(runs, at_id)[1]
    assert.are.equal(now_run.enqueued_at, now_run.due_at)
    assert.are.equal(at_ms, at_run.due_at)
    assert.is_true(at_run.ran_at >= at_ms)
    q:stop { grace = 5 }
    assert.are.equal(1, q:stats().lateness_ms.samples, "only the scheduled job waited")
  end)
end)
