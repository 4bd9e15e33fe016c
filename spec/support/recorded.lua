-- Queues whose jobs (spec/jobs/record.lua) record every run on a second
-- queue, so specs can count runs per job id.
local H = require "spec.support.helper"
local assert = require "luassert" -- busted gives spec files its assert; modules require it

local R = {}

-- Returns the queue, the runs queue, the init config for record.lua, and the
-- queue's name.
function R.queue(server, opts)
  local q, name = H.queue(server, opts)
  local runs = H.track(H.hworker.open { name = name .. "-runs", redis = server.url, log_level = "error" })
  runs:destroy()
  return q, runs, { runs = name .. "-runs" }, name
end

-- Waits until n jobs were processed and nothing is pending or in flight.
function R.settle(q, n, timeout)
  H.wait_until(n .. " jobs processed", timeout or 60, function()
    local s = q:stats()
    return s.counters.processed >= n and s.pending == 0 and s.inflight == 0
  end)
end

-- A key of queue `name`; with HWORKER_SPEC_SHARDS, one of shard 0 (workers
-- claim from every shard, so a raw push there is still taken).
-- n jobs { n = from + i } (plus the fields of `extra`), for queue_many.
function R.jobs(n, from, extra)
  local t = {}
  for i = 1, n do
    t[i] = { n = from + i }
    for k, v in pairs(extra or {}) do t[i][k] = v end
  end
  return t
end

-- Asserts that each of `ids` ran exactly once (runs recorded by record.lua).
function R.assert_each_ran_once(runs, ids)
  local by_id = H.runs(runs)
  for _, id in ipairs(ids) do assert.are.equal(1, by_id[id], "job " .. id) end
end

-- When each run of job `id` started, in Redis time (ms), oldest first: each
-- run is recorded as a job whose enqueue time Redis stamped.
function R.run_times(runs, id)
  local times = {}
  for _, e in ipairs(runs:jobs { limit = 1000 }) do
    if e.job.id == id then times[#times + 1] = e.enqueued_at end
  end
  table.sort(times)
  return times
end

function R.key(name, role)
  if H.spec_shards and H.spec_shards > 1 then return "hw:{" .. name .. "#0}:" .. role end
  return "hw:{" .. name .. "}:" .. role
end

return R
