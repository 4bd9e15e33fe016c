-- The chaos test: jobs flow through several `hworker-lua run` processes
-- while a seeded fault injector kills, freezes and cuts off runners and
-- restarts, pauses and fills Redis. At the end the queue must drain with
-- every acknowledged job run at least once, nothing in flight, and the
-- stats counters in agreement with the runs recorded.
--
-- usage: luajit spec/chaos/chaos.lua [--seconds N] [--seed S] [--runners N]
--        [--threads N] [--producers N] [--rate JOBS_PER_S] [--keep]
-- Environment: HWORKER_ROOT (default .), HWORKER_BUILD (default ROOT/build).
-- Prints one line, `chaos: seed=... lost=0 ...`, and exits 1 if a check
-- failed (lost > 0 among them), 2 on a usage error.
local root = os.getenv("HWORKER_ROOT") or "."
package.path = root .. "/?.lua;" .. package.path
local H = require "spec.support.helper"

local opts = { seconds = 60, seed = nil, runners = 3, threads = 2, producers = 2, rate = 250, keep = false }
do
  local i = 1
  while i <= #arg do
    local flag = arg[i]:match("^%-%-([%a-]+)$")
    if flag == "keep" then
      opts.keep = true
    elseif flag and opts[flag] ~= nil or flag == "seed" then
      local v = tonumber(arg[i + 1])
      if not v then io.stderr:write("chaos: --" .. flag .. " needs a number\n"); os.exit(2) end
      opts[flag] = v
      i = i + 1
    else
      io.stderr:write("chaos: unknown argument '" .. arg[i] .. "' (flags: --seconds --seed --runners --threads --producers --rate --keep)\n")
      os.exit(2)
    end
    i = i + 1
  end
end
opts.seed = opts.seed or (os.time() % 1000000)
math.randomseed(opts.seed)

local LEASE, REDIS_TIMEOUT = 3, 1
local NAME, RUNS = "chaos", "chaos-runs"
local dir = H.tmpdir()
local problems = {}
local function problem(fmt, ...) problems[#problems + 1] = string.format(fmt, ...) end
local function say(fmt, ...) io.stderr:write(string.format("chaos: " .. fmt .. "\n", ...)) end

-- Redis as a user who cares about at-least-once runs it: every write in the
-- AOF, fsynced before the reply. DEBUG is enabled for the pause fault.
local server = H.redis_server {
  args = "--appendfsync always --enable-debug-command local --maxmemory-policy noeviction",
}
local function cli(...) return server.cli(...) end

local counts = { kills = 0, stops = 0, conn_kills = 0, redis_restarts = 0, pauses = 0, oom_windows = 0 }

-- Runners ------------------------------------------------------------------
local bin = H.build .. "/hworker-lua"
local runners, serial = {}, 0 -- pid -> { log = path, stopped_until = t or nil }

local function start_runner()
  serial = serial + 1
  local log = dir .. "/runner" .. serial .. ".log"
  local cmd = table.concat({
    H.quote(bin), "run", H.quote(root .. "/spec/chaos/job.lua"), "--name", NAME, "--redis", H.quote(server.url),
    "--threads", opts.threads, "--lease", LEASE, "--redis-timeout", REDIS_TIMEOUT, "--monitor-interval", 0.5,
    "--on-exception retry --max-attempts 0 --max-recoveries 0 --retry-base 0.05 --retry-max-delay 0.5",
    "--grace 2 --log-level warn --config", H.quote('{"runs":"' .. RUNS .. '"}'),
  }, " ")
  local pid = tonumber(H.sh(cmd .. " >" .. H.quote(log) .. " 2>&1 & echo $!"))
  runners[pid] = { log = log }
  return pid
end

local function pick_runner(want_running)
  local pids = {}
  for pid, r in pairs(runners) do
    if not (want_running and r.stopped_until) then pids[#pids + 1] = pid end
  end
  table.sort(pids)
  if #pids == 0 then return nil end
  return pids[math.random(#pids)]
end

local function resume_due(force)
  for pid, r in pairs(runners) do
    if r.stopped_until and (force or H.now() >= r.stopped_until) then
      H.kill(pid, 18) -- SIGCONT
      r.stopped_until = nil
    end
  end
end

-- A runner that exits without being told to is a crash: the engine must
-- survive every fault below.
local function check_runners()
  for pid, r in pairs(runners) do
    if not H.alive(pid) then
      problem("runner %d exited on its own; its log: %s", pid, r.log)
      runners[pid] = nil
      start_runner()
    end
  end
end

-- Faults -------------------------------------------------------------------
local function inflight()
  return tonumber(cli("ZCARD", "hw:{" .. NAME .. "}:inflight")) or 0
end

local faults = {}

-- kill -9 a runner while jobs are in flight, then start a new one.
function faults.kill()
  local pid = pick_runner(true)
  if not pid then return end
  pcall(H.wait_until, "jobs in flight", 2, function() return inflight() > 0 end)
  H.kill(pid, 9)
  H.wait_until("runner " .. pid .. " to die", 10, function() return not H.alive(pid) end)
  runners[pid] = nil
  counts.kills = counts.kills + 1
  start_runner()
end

-- SIGSTOP a runner past its lease: its jobs are recovered and run elsewhere,
-- and what it sends after SIGCONT must be fenced off.
function faults.stop()
  local pid = pick_runner(true)
  if not pid then return end
  H.kill(pid, 19) -- SIGSTOP
  runners[pid].stopped_until = H.now() + LEASE + 0.5 + math.random() * 2
  counts.stops = counts.stops + 1
end

function faults.conn_kill()
  cli("CLIENT", "KILL", "TYPE", "normal")
  counts.conn_kills = counts.conn_kills + 1
end

-- A clean shutdown that saves, then a start that loads the AOF.
function faults.redis_restart()
  local pid = server.pid()
  cli("SHUTDOWN", "SAVE")
  H.wait_until("redis-server to exit", 30, function() return not pid or not H.alive(pid) end)
  H.sleep(math.random() * 0.5) -- clients meet a closed socket for a while
  server.start()
  counts.redis_restarts = counts.redis_restarts + 1
end

-- Redis stops answering for longer than the clients' reply timeout.
function faults.pause()
  local ms = math.floor((REDIS_TIMEOUT + 0.5 + math.random() * 2) * 1000)
  if counts.pauses % 2 == 0 then
    cli("CLIENT", "PAUSE", tostring(ms), "ALL")
    H.sleep(ms / 1000)
  else
    cli("DEBUG", "SLEEP", tostring(ms / 1000))
  end
  counts.pauses = counts.pauses + 1
end

-- Redis at maxmemory: every write that needs memory fails with OOM for a
-- while, then the filler goes and the limit is lifted.
function faults.oom()
  local used = tonumber(cli("INFO", "memory"):match("used_memory:(%d+)"))
  cli("CONFIG", "SET", "maxmemory", tostring(used + 1024 * 1024))
  cli("SETRANGE", "chaos:filler", tostring(4 * 1024 * 1024), "x")
  local refused = cli("SET", "chaos:probe", "1"):match("^OOM") ~= nil
  if not refused then problem("the OOM window did not refuse a write") end
  H.sleep(1 + math.random() * 1.5)
  cli("DEL", "chaos:filler")
  cli("CONFIG", "SET", "maxmemory", "0")
  counts.oom_windows = counts.oom_windows + 1
end

-- Every kind in a shuffled round, round after round, so a run of a minute
-- meets each kind several times.
local kinds = { "kill", "stop", "conn_kill", "redis_restart", "pause", "oom" }
local plan = {}
local function next_kind()
  if #plan == 0 then
    for i, k in ipairs(kinds) do plan[i] = k end
    for i = #plan, 2, -1 do
      local j = math.random(i)
      plan[i], plan[j] = plan[j], plan[i]
    end
  end
  return table.remove(plan)
end

-- The run -------------------------------------------------------------------
local runs_q = H.hworker.open { name = RUNS, redis = server.url, log_level = "silent" }
local q = H.hworker.open { name = NAME, redis = server.url, log_level = "silent" }
q:destroy()
runs_q:destroy()

for _ = 1, opts.runners do start_runner() end
local producers = {}
for p = 1, opts.producers do
  local out = dir .. "/producer" .. p .. ".out"
  local cmd = table.concat({ "luajit", H.quote(root .. "/spec/chaos/producer.lua"), H.quote(H.build), H.quote(server.url),
    NAME, p - 1, opts.producers, opts.seconds, opts.rate, H.quote(out), opts.seed }, " ")
  local pid = tonumber(H.sh(cmd .. " >" .. H.quote(dir .. "/producer" .. p .. ".log") .. " 2>&1 & echo $!"))
  producers[#producers + 1] = { pid = pid, out = out }
end

local started = H.now()
local deadline = started + opts.seconds
local next_fault = started + 1 + math.random() * 2
while H.now() < deadline do
  resume_due(false)
  check_runners()
  if H.now() >= next_fault then
    local kind = next_kind()
    faults[kind]()
    next_fault = H.now() + 0.5 + math.random() * 2.5
  end
  H.sleep(0.02)
end
resume_due(true)
cli("CONFIG", "SET", "maxmemory", "0")

-- Drain ----------------------------------------------------------------------
for _, p in ipairs(producers) do
  H.wait_until("producer " .. p.pid .. " to finish", 60, function() return not H.alive(p.pid) end)
end
local ok_drain, drain_err = pcall(H.wait_until, "the queue to drain", 180, function()
  check_runners()
  local s = q:stats()
  return s.pending == 0 and s.inflight == 0 and s.scheduled == 0
end)
if not ok_drain then problem("%s", drain_err) end
local elapsed = H.now() - started

-- Graceful stop of every runner; none may have hit a sanitizer report.
for pid in pairs(runners) do H.kill(pid, 15) end
for pid, r in pairs(runners) do
  local ok = pcall(H.wait_until, "runner " .. pid .. " to stop", 30, function() return not H.alive(pid) end)
  if not ok then problem("runner %d did not stop on SIGTERM; its log: %s", pid, r.log) end
end
for i = 1, serial do
  local f = io.open(dir .. "/runner" .. i .. ".log")
  if f then
    local text = f:read("*a")
    f:close()
    if text:find("AddressSanitizer") or text:find("runtime error:") or text:find("LeakSanitizer") then
      problem("a sanitizer report in %s/runner%d.log", dir, i)
    end
  end
end

-- Count ----------------------------------------------------------------------
local acked, enqueued, unacked = {}, 0, 0
for _, p in ipairs(producers) do
  for line in io.lines(p.out) do
    local kind, first, last = line:match("^(%a) (%d+) (%d+)$")
    first, last = tonumber(first), tonumber(last)
    for n = first, last, opts.producers do
      if kind == "a" then
        acked[n] = true
        enqueued = enqueued + 1
      else
        unacked = unacked + 1
      end
    end
  end
end

local ran_n, ran_ids, ran, ids, total = {}, {}, 0, 0, 0
local offset = 0
while true do
  local page = runs_q:jobs { offset = offset, limit = 1000 }
  for _, e in ipairs(page) do
    local n, id = e.job.n, e.job.id
    total = total + 1
    if not ran_n[n] then ran_n[n] = true; ran = ran + 1 end
    if not ran_ids[id] then ran_ids[id] = true; ids = ids + 1 end
  end
  if #page < 1000 then break end
  offset = offset + #page
end
local lost = 0
for n in pairs(acked) do
  if not ran_n[n] then lost = lost + 1 end
end
if lost > 0 then problem("%d acknowledged jobs never ran", lost) end

-- Conservation: with the queue drained and nothing failed or broken, every
-- job that landed succeeded exactly once (late outcomes are fenced), except
-- copies of one job id (an enqueue sent again after its reply was lost)
-- that met in scheduled and became one, which are counted as merged. And
-- every job id that succeeded recorded at least one run.
local s = q:stats()
local c = s.counters
local function counter(k) return c[k] or 0 end
if s.failed ~= 0 or s.broken ~= 0 then problem("failed=%d broken=%d, expected none", s.failed, s.broken) end
if counter("enqueued") ~= counter("succeeded") + counter("merged") then
  problem("enqueued=%d is not succeeded+merged=%d", counter("enqueued"), counter("succeeded") + counter("merged"))
end
if counter("succeeded") < ids then problem("succeeded=%d but %d job ids ran", counter("succeeded"), ids) end
if counter("processed") ~= counter("succeeded") + counter("retried") then
  problem("processed=%d is not succeeded+retried=%d", counter("processed"), counter("succeeded") + counter("retried"))
end
for kind, n in pairs(counts) do
  if n == 0 then problem("fault %s never happened (run longer than %d s)", kind, opts.seconds) end
end

print(string.format("chaos: seed=%d seconds=%d enqueued=%d ran=%d lost=%d duplicates=%d kills=%d stops=%d " ..
  "conn_kills=%d redis_restarts=%d pauses=%d oom_windows=%d unacked=%d recovered=%d lease_lost=%d retried=%d merged=%d drained_in=%.1f",
  opts.seed, opts.seconds, enqueued, ran, lost, total - ran, counts.kills, counts.stops, counts.conn_kills,
  counts.redis_restarts, counts.pauses, counts.oom_windows, unacked, counter("recovered"), counter("lease_lost"),
  counter("retried"), counter("merged"), elapsed - opts.seconds))

q:close()
runs_q:close()
if #problems > 0 then
  for _, p in ipairs(problems) do say("FAILED: %s", p) end
  say("logs kept in %s; redis-server left running at %s", dir, server.url)
  os.exit(1)
end
server.stop()
if opts.keep then say("logs kept in %s", dir) else H.sh("rm -rf " .. H.quote(dir)) end
os.exit(0)
