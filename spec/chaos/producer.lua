-- A chaos producer: enqueues jobs { n = K * i + index } in small batches at
-- a steady rate until its time is up, and writes one line per batch to
-- OUTFILE, flushed at once: "a FIRST LAST" when the enqueue was
-- acknowledged, "u FIRST LAST" when it raised (the jobs may or may not have
-- landed). The chaos driver counts a job as lost only if it was acknowledged.
-- Why enqueues raised goes to stderr (the driver keeps it in a log): the
-- first few messages, then a count.
-- usage: luajit producer.lua BUILD URL NAME INDEX K SECONDS RATE OUTFILE SEED [FAULT]
-- FAULT producers_raise makes every enqueue raise, to prove that the driver
-- fails such a run.
local build, url, name = arg[1], arg[2], arg[3]
local index, k, seconds, rate = tonumber(arg[4]), tonumber(arg[5]), tonumber(arg[6]), tonumber(arg[7])
local outfile, seed, fault = arg[8], tonumber(arg[9]), arg[10]
package.cpath = build .. "/lua/?.so;" .. package.cpath
local ffi = require "ffi"
ffi.cdef [[
  int usleep(unsigned int usec);
  typedef struct { long tv_sec; long tv_nsec; } chaos_timespec;
  int clock_gettime(int clk, chaos_timespec *ts);
]]
local hworker = require "hworker"

local function now()
  local ts = ffi.new("chaos_timespec")
  ffi.C.clock_gettime(1, ts)
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) / 1e9
end

math.randomseed(seed + index)
-- A short reply timeout, so a paused Redis is seen as a dead connection.
local q = hworker.open { name = name, redis = url, log_level = "silent", redis_timeout = 1 }
local function enqueue(jobs)
  if fault == "producers_raise" then error("fault injected by HWORKER_CHAOS_FAULT=producers_raise") end
  return q:queue_many(jobs)
end

local out = assert(io.open(outfile, "w"))
-- At a high rate, bigger batches (about 50 a second), and a smaller share
-- of jobs that wait 10 ms: the waits add up to 1 s of a worker thread per
-- second of the run at every rate (a fifth of the jobs at the default 250
-- a second from each of 2 producers), so the runners drain at the rate
-- offered and the run measures loss, not a backlog.
local batch, batches, raised = math.max(10, math.floor(rate / 50)), 0, 0
local wait_share = math.min(0.2, 100 / (k * rate))
local i, start, deadline = 0, now(), now() + seconds
while now() < deadline do
  local jobs, first = {}, k * i + index
  for j = 1, batch do
    jobs[j] = { n = k * (i + j - 1) + index, wait = math.random() < wait_share and 0.01 or 0 }
  end
  local last = k * (i + batch - 1) + index
  i = i + batch
  local ok, err = pcall(enqueue, jobs)
  batches = batches + 1
  if not ok then
    raised = raised + 1
    if raised <= 5 then io.stderr:write("producer ", index, ": queue_many raised: ", tostring(err), "\n") end
  end
  out:write(ok and "a " or "u ", first, " ", last, "\n")
  out:flush()
  -- Keep to the rate: batch i is due at start + i / rate.
  local ahead = start + i / rate - now()
  if ahead > 0 then ffi.C.usleep(math.floor(ahead * 1e6)) end
end
io.stderr:write("producer ", index, ": ", raised, " of ", batches, " batches raised\n")
out:close()
q:close()
