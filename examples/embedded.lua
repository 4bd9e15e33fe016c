-- The demo flow from a LuaJIT program through require "hworker": enqueue jobs,
-- run two workers and a monitor in this process on a
-- job file, wait for them, stop gracefully and show the numbers.
-- usage: LUA_CPATH="build/lua/?.so;;" luajit examples/embedded.lua REDIS_URL JOB_FILE
local hworker = require "hworker"
local url, job_file = arg[1], arg[2]
local q = hworker.open { name = "demo", redis = url }
q:destroy()

local names = { "Ada", "Grace", "Edsger", "Barbara", "Ken", "Dennis", "Margaret", "Alan", "Donald", "Frances" }
local jobs = {}
for i, name in ipairs(names) do jobs[i] = { name = name, flaky = (i % 4 == 0) or nil } end
jobs[#jobs + 1] = { nobody = true }
local ids = q:queue_many(jobs)
print(("demo: enqueued %d jobs on queue 'demo'"):format(#ids))

q:start { job_file = job_file, config = { greeting = "Hello" }, workers = 2, monitors = 1 }
local deadline = os.time() + 30
while true do
  local s = q:stats()
  if s.counters.succeeded + s.failed == #ids then break end
  if os.time() > deadline then error("demo: jobs did not finish in 30 s") end
end
q:stop { grace = 5 }

local s = q:stats()
print(("demo: %d succeeded, %d retried, %d failed; pending %d, in flight %d"):format(
  s.counters.succeeded, s.counters.retried, s.failed, s.pending, s.inflight))
for _, f in ipairs(q:failed()) do print(("demo: failed job %s: %s"):format(f.id:sub(1, 8), f.reason)) end
q:destroy()
q:close()
