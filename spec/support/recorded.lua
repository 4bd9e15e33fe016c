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

-- Every recorded run: { id, n, start = Redis ms, claimed_at } and, for jobs
-- with record_end, { id, n, finish = Redis ms }; newest first.
function R.events(runs)
  local starts, ends, offset = {}, {}, 0
  while true do
    local page = runs:jobs { offset = offset, limit = 1000 }
    for _, e in ipairs(page) do
      if e.job.phase == "end" then ends[#ends + 1] = { id = e.job.id, n = e.job.n, finish = e.enqueued_at }
      else
        starts[#starts + 1] = { id = e.job.id, n = e.job.n, start = e.enqueued_at, claimed_at = e.job.claimed_at }
      end
    end
    if #page < 1000 then break end
    offset = offset + 1000
  end
  return starts, ends
end

-- The most runs in progress at once, of the jobs whose n `keep` (optional)
-- accepts. A run whose end was never recorded (its process was killed) ends
-- at `cut`.
function R.most_at_once(runs, cut, keep)
  local starts, ends = R.events(runs)
  if keep then
    local s, e = {}, {}
    for _, x in ipairs(starts) do if keep(x.n) then s[#s + 1] = x end end
    for _, x in ipairs(ends) do if keep(x.n) then e[#e + 1] = x end end
    starts, ends = s, e
  end
  local points, open = {}, {}
  for _, s in ipairs(starts) do
    points[#points + 1] = { t = s.start, d = 1 }
    open[s.id] = (open[s.id] or 0) + 1
  end
  for _, e in ipairs(ends) do
    points[#points + 1] = { t = e.finish, d = -1 }
    open[e.id] = open[e.id] - 1
  end
  for _, n in pairs(open) do
    for _ = 1, n do points[#points + 1] = { t = assert(cut, "a run never ended"), d = -1 } end
  end
  -- At one instant, ends first: a slot freed and taken in the same ms is
  -- not two runs at once.
  table.sort(points, function(a, b) if a.t ~= b.t then return a.t < b.t end return a.d < b.d end)
  local now, most = 0, 0
  for _, p in ipairs(points) do
    now = now + p.d
    if now > most then most = now end
  end
  return most, #starts
end

return R
