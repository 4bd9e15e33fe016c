-- The chaos test: jobs flow through several `hworker-lua run` processes
-- while a seeded fault injector kills, freezes and cuts off runners and
-- restarts, pauses and fills Redis. At the end the queue must drain with
-- every acknowledged job run to its end at least once, nothing in flight,
-- and the stats counters in agreement with the runs recorded.
--
-- usage: luajit spec/chaos/chaos.lua [--seconds N] [--seed S] [--runners N]
--        [--threads N] [--producers N] [--rate JOBS_PER_S_PER_PRODUCER]
--        [--faults all|none|KIND,KIND...] [--tls] [--result] [--keep]
-- --tls: Redis listens with TLS only (a test CA from tools/test-ca), and
-- every runner, producer and inspection connects with rediss://.
-- Environment: HWORKER_ROOT (default .), HWORKER_BUILD (default ROOT/build),
-- HWORKER_RESULTS_DIR (see --result), HWORKER_CHAOS_FAULT (below).
--
-- The run fails (exit 1, each problem on stderr as "chaos: FAILED: ...") if
--   * an acknowledged job has no completion: each job records "start" and,
--     as its last act, "end" (spec/chaos/job.lua); lost counts the
--     acknowledged jobs with no "end";
--   * fewer than ACK_FLOOR (50 %) of the jobs offered were acknowledged,
--     where offered = producers * rate * seconds, or unacked exceeds
--     UNACKED_BOUND (35 %) of the jobs the producers put forward. Healthy
--     one-minute runs with the defaults on 2 shared cores measured 79-88 %
--     acked and 12-21 % unacked (plain and ASan + UBSan builds): enqueues
--     that meet an OOM window, a restart or a pause are refused, as they
--     should be;
--   * a producer raised on every enqueue, or exited non-zero;
--   * a runner exited on its own (whatever its status), or not with 0 after
--     the final SIGTERM;
--   * any runner's or producer's log holds a sanitizer report;
--   * the queue did not drain, a job failed or broke, or the stats counters
--     disagree (enqueued = succeeded + merged, processed = succeeded +
--     retried, succeeded >= the job ids that completed);
--   * a fault kind chosen by --faults never happened.
-- Exit 2 on a usage error.
--
-- HWORKER_CHAOS_FAULT breaks the run on purpose, to prove these checks fail
-- (spec/chaos_check_spec.lua runs each):
--   producers_raise   every producer's queue_many raises
--   never_finish      every tenth job returns before its "end" record
--   sanitizer_report  every worker logs a line reading as a UBSan report
--
-- Prints one line, `chaos: seed=... lost=0 ... problems=0`. With --result
-- (tools/dev passes it) it also writes that line, the run's parameters and
-- its counters to a result file: `tools/result-header --path chaos` names it
-- (under $HWORKER_RESULTS_DIR, default docs/results), and it starts with the
-- header `tools/result-header chaos ...` prints. A run with a fault switch
-- writes no result file.
local root = os.getenv("HWORKER_ROOT") or "."
package.path = root .. "/?.lua;" .. package.path
local H = require "spec.support.helper"

local ACK_FLOOR, UNACKED_BOUND = 50, 35 -- per cent; see the header
local FAULT_SWITCHES = { producers_raise = true, never_finish = true, sanitizer_report = true }
local KINDS = { "kill", "stop", "conn_kill", "redis_restart", "pause", "oom" }

local opts = { seconds = 60, seed = nil, runners = 3, threads = 2, producers = 2, rate = 250, keep = false, tls = false,
  result = false, faults = "all" }
do
  local i = 1
  while i <= #arg do
    local flag = arg[i]:match("^%-%-([%a-]+)$")
    if flag == "keep" or flag == "result" or flag == "tls" then
      opts[flag] = true
    elseif flag == "faults" and arg[i + 1] then
      opts.faults = arg[i + 1]
      i = i + 1
    elseif flag and type(opts[flag]) == "number" or flag == "seed" then
      local v = tonumber(arg[i + 1])
      if not v then io.stderr:write("chaos: --" .. flag .. " needs a number\n"); os.exit(2) end
      opts[flag] = v
      i = i + 1
    else
      io.stderr:write("chaos: unknown argument '" .. arg[i] .. "' (flags: --seconds --seed --runners --threads " ..
        "--producers --rate --faults --tls --result --keep)\n")
      os.exit(2)
    end
    i = i + 1
  end
end
opts.seed = opts.seed or (os.time() % 1000000)
math.randomseed(opts.seed)

local kinds = {}
if opts.faults == "all" then
  kinds = KINDS
elseif opts.faults ~= "none" then
  local known = {}
  for _, k in ipairs(KINDS) do known[k] = true end
  for k in opts.faults:gmatch("[^,]+") do
    if not known[k] then
      io.stderr:write("chaos: unknown fault kind '" .. k .. "' (kinds: " .. table.concat(KINDS, ",") .. ")\n")
      os.exit(2)
    end
    kinds[#kinds + 1] = k
  end
end

local fault = os.getenv("HWORKER_CHAOS_FAULT")
if fault == "" then fault = nil end
if fault and not FAULT_SWITCHES[fault] then
  io.stderr:write("chaos: unknown HWORKER_CHAOS_FAULT '" .. fault
    .. "' (producers_raise, never_finish, sanitizer_report)\n")
  os.exit(2)
end

local LEASE, REDIS_TIMEOUT = 3, 1
local NAME, RUNS = "chaos", "chaos-runs"
local dir = H.tmpdir()
local problems = {}
local function problem(fmt, ...) problems[#problems + 1] = string.format(fmt, ...) end
local function say(fmt, ...) io.stderr:write(string.format("chaos: " .. fmt .. "\n", ...)) end
if fault then say("HWORKER_CHAOS_FAULT=%s: this run is broken on purpose and must fail", fault) end

-- Redis as a user who cares about at-least-once runs it: every write in the
-- AOF, fsynced before the reply. DEBUG is enabled for the pause fault.
local ca = opts.tls and H.test_ca() or nil
local server = H.redis_server {
  args = "--appendfsync always --enable-debug-command local --maxmemory-policy noeviction",
  tls = ca,
}
-- What every client of the queue connects to (server.cli stays on the
-- server's plain unix socket, for the fault injector).
local url = ca and ("rediss://127.0.0.1:%d/0?cacert=%s/ca.pem"):format(server.tls_port, ca) or server.url
local function cli(...) return server.cli(...) end
-- The queue under test, for inspection and stats, and the queue the jobs
-- record their runs on.
local q = H.hworker.open { name = NAME, redis = url, log_level = "silent" }
local runs_q = H.hworker.open { name = RUNS, redis = url, log_level = "silent" }
q:destroy()
runs_q:destroy()

local counts = { kills = 0, stops = 0, conn_kills = 0, redis_restarts = 0, pauses = 0, oom_windows = 0 }
local count_of = { kill = "kills", stop = "stops", conn_kill = "conn_kills", redis_restart = "redis_restarts",
  pause = "pauses", oom = "oom_windows" }

-- Processes ----------------------------------------------------------------
-- Starts `cmd` in the background, its output in BASE.log; a shell around it
-- writes its exit status (128 + the signal, if killed) to BASE.status when
-- it ends. Returns the pid of the command itself, so signals reach it.
local function spawn(cmd, base)
  local script = cmd .. " >" .. H.quote(base .. ".log")
    .. " 2>&1 & echo $!; exec >/dev/null 2>&1; wait $!; echo $? >" .. H.quote(base .. ".status")
  local pid = tonumber(H.sh("sh -c " .. H.quote(script) .. " &"))
  assert(pid, "could not start: " .. cmd)
  return pid
end

-- The exit status of a process spawn() started, once it has ended.
local function exit_status(base)
  local ok, status = pcall(H.wait_until, "the exit status in " .. base .. ".status", 10, function()
    return tonumber(H.read(base .. ".status"):match("%d+"))
  end)
  return ok and status or "unknown"
end

-- The first line of a log that reads as a report of ASan, LSan, UBSan or
-- TSan (they write to stderr, which spawn() sends to the log).
local SANITIZER_MARKS = { "AddressSanitizer", "LeakSanitizer", "ThreadSanitizer", "UndefinedBehaviorSanitizer",
  "MemorySanitizer", "runtime error:" }
local function sanitizer_report(path)
  for line in H.read(path):gmatch("[^\n]+") do
    for _, mark in ipairs(SANITIZER_MARKS) do
      if line:find(mark, 1, true) then return line end
    end
  end
end

-- Runners ------------------------------------------------------------------
local bin = H.build .. "/hworker-lua"
local runners, serial = {}, 0 -- pid -> { base = path without .log/.status, stopped_until = t or nil }
local runner_config = H.cjson.encode { runs = RUNS, fault = fault }

local function start_runner()
  serial = serial + 1
  local base = dir .. "/runner" .. serial
  local cmd = table.concat({
    H.quote(bin), "run", H.quote(root .. "/spec/chaos/job.lua"), "--name", NAME, "--redis", H.quote(url),
    "--threads", opts.threads, "--lease", LEASE, "--redis-timeout", REDIS_TIMEOUT, "--monitor-interval", 0.5,
    "--on-exception retry --max-attempts 0 --max-recoveries 0 --retry-base 0.05 --retry-max-delay 0.5",
    "--grace 2 --log-level warn --config", H.quote(runner_config),
  }, " ")
  local pid = spawn(cmd, base)
  runners[pid] = { base = base }
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

-- A runner that exits without being told to is a crash, whatever its
-- status: the engine must survive every fault below.
local function check_runners()
  for pid, r in pairs(runners) do
    if not H.alive(pid) then
      problem("runner %d exited on its own with status %s; its log: %s.log", pid, exit_status(r.base), r.base)
      runners[pid] = nil
      start_runner()
    end
  end
end

-- Faults -------------------------------------------------------------------
-- Whether runner `pid` holds a claim (a holder reads host:pid:wN).
local function holds_claims(pid)
  for _, e in ipairs(q:inflight { limit = 1000 }) do
    if e.holder and e.holder:find(":" .. pid .. ":w", 1, true) then return true end
  end
  return false
end

local faults = {}

-- kill -9 a runner while it holds claims (waiting up to 2 s for one), then
-- start a new one.
function faults.kill()
  local pid = pick_runner(true)
  if not pid then return end
  pcall(H.wait_until, "runner " .. pid .. " to hold claims", 2, function() return holds_claims(pid) end)
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

-- Every kind chosen by --faults in a shuffled round, round after round, so
-- a run of a minute meets each kind several times; nil when none is chosen.
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

local producers = {}
local started, elapsed

local function run()
  for _ = 1, opts.runners do start_runner() end
  for p = 1, opts.producers do
    local base = dir .. "/producer" .. p
    local cmd = table.concat({ "luajit", H.quote(root .. "/spec/chaos/producer.lua"), H.quote(H.build),
      H.quote(url), NAME, p - 1, opts.producers, opts.seconds, opts.rate, H.quote(base .. ".out"), opts.seed,
      fault or "" }, " ")
    producers[#producers + 1] = { pid = spawn(cmd, base), base = base }
  end

  started = H.now()
  local deadline = started + opts.seconds
  local next_fault = started + 1 + math.random() * 2
  while H.now() < deadline do
    resume_due(false)
    check_runners()
    if H.now() >= next_fault then
      local kind = next_kind()
      if kind then faults[kind]() end
      next_fault = H.now() + 0.5 + math.random() * 2.5
    end
    H.sleep(0.02)
  end
  resume_due(true)
  cli("CONFIG", "SET", "maxmemory", "0")

  -- Drain: the producers end, then the queue.
  for i, p in ipairs(producers) do
    H.wait_until("producer " .. i .. " to finish", 60, function() return not H.alive(p.pid) end)
    local status = exit_status(p.base)
    if status ~= 0 then problem("producer %d exited with status %s; its log: %s.log", i, status, p.base) end
  end
  -- Faults slow the runners while the producers offer at full rate, so the
  -- backlog left at the end grows with the run: the deadline does too.
  local ok_drain, drain_err = pcall(H.wait_until, "the queue to drain", math.max(180, opts.seconds), function()
    check_runners()
    local s = q:stats()
    return s.pending == 0 and s.inflight == 0 and s.scheduled == 0
  end)
  if not ok_drain then problem("%s", drain_err) end
  elapsed = H.now() - started

  -- Graceful stop of every runner.
  for pid in pairs(runners) do H.kill(pid, 15) end
  for pid, r in pairs(runners) do
    local ok = pcall(H.wait_until, "runner " .. pid .. " to stop", 30, function() return not H.alive(pid) end)
    if not ok then
      problem("runner %d did not stop on SIGTERM; its log: %s.log", pid, r.base)
    else
      local status = exit_status(r.base)
      if status ~= 0 then
        problem("runner %d exited with status %s on SIGTERM; its log: %s.log", pid, status, r.base)
      end
    end
    runners[pid] = nil
  end
end

local ok_run, run_err = xpcall(run, debug.traceback)
if not ok_run then
  problem("the driver raised: %s", run_err)
  resume_due(true)
  for pid in pairs(runners) do H.kill(pid, 9) end
  for _, p in ipairs(producers) do H.kill(p.pid, 9) end
end
elapsed = elapsed or (started and H.now() - started) or 0

-- No process may have hit a sanitizer report.
local logs = {}
for i = 1, serial do logs[#logs + 1] = dir .. "/runner" .. i .. ".log" end
for i = 1, #producers do logs[#logs + 1] = dir .. "/producer" .. i .. ".log" end
for _, path in ipairs(logs) do
  local line = sanitizer_report(path)
  if line then problem("a sanitizer report in %s: %s", path, line) end
end

-- Count ----------------------------------------------------------------------
local counting_since = H.now()
-- acked: the jobs whose enqueue was acknowledged; unacked: those whose
-- enqueue raised (they may or may not have landed).
local acked, n_acked, unacked = {}, 0, 0
for i, p in ipairs(producers) do
  local batches, good = 0, 0
  for line in H.read(p.base .. ".out"):gmatch("[^\n]+") do
    local kind, first, last = line:match("^(%a) (%d+) (%d+)$")
    first, last = tonumber(first), tonumber(last)
    batches = batches + 1
    if kind == "a" then good = good + 1 end
    for n = first, last, opts.producers do
      if kind == "a" then
        acked[n] = true
        n_acked = n_acked + 1
      else
        unacked = unacked + 1
      end
    end
  end
  if good == 0 then
    problem("producer %d: every queue_many raised (%d batches); its log: %s.log", i, batches, p.base)
  end
end

-- The runs the jobs recorded: per sequence number, whether some run started
-- and whether some run reached its end; ends per job id.
local started_n, ended_n, ended_ids, ends = {}, {}, {}, 0
local n_ended, n_ids = 0, 0
local offset = 0
while true do
  local page = runs_q:jobs { offset = offset, limit = 1000 }
  for _, e in ipairs(page) do
    local n, id = e.job.n, e.job.id
    if e.job.at == "end" then
      ends = ends + 1
      if not ended_n[n] then ended_n[n] = true; n_ended = n_ended + 1 end
      if not ended_ids[id] then ended_ids[id] = true; n_ids = n_ids + 1 end
    else
      started_n[n] = true
    end
  end
  offset = offset + #page
  if #page < 1000 then break end
end
say("read %d run records in %.1f s", offset, H.now() - counting_since)
local lost, lost_started = 0, 0
for n in pairs(acked) do
  if not ended_n[n] then
    lost = lost + 1
    if started_n[n] then lost_started = lost_started + 1 end
  end
end
if lost > 0 then
  problem("%d acknowledged jobs never completed (%d of them started)", lost, lost_started)
end

local offered = opts.producers * opts.rate * opts.seconds
if n_acked * 100 < ACK_FLOOR * offered then
  problem("acked=%d is below %d%% of the %d jobs offered", n_acked, ACK_FLOOR, offered)
end
if unacked * 100 > UNACKED_BOUND * (n_acked + unacked) then
  problem("unacked=%d is above %d%% of the %d jobs the producers put forward", unacked, UNACKED_BOUND,
    n_acked + unacked)
end

-- Conservation: with the queue drained and nothing failed or broken, every
-- job that landed succeeded exactly once (late outcomes are fenced), except
-- copies of one job id (an enqueue sent again after its reply was lost)
-- that met in scheduled and became one, which are counted as merged. And
-- every job id that completed a run succeeded.
local c = {}
if ok_run then
  local s = q:stats()
  c = s.counters
  if s.failed ~= 0 or s.broken ~= 0 then problem("failed=%d broken=%d, expected none", s.failed, s.broken) end
end
local function counter(k) return c[k] or 0 end
if ok_run then
  if counter("enqueued") ~= counter("succeeded") + counter("merged") then
    problem("enqueued=%d is not succeeded+merged=%d", counter("enqueued"), counter("succeeded") + counter("merged"))
  end
  if counter("succeeded") < n_ids then problem("succeeded=%d but %d job ids completed", counter("succeeded"), n_ids) end
  if counter("processed") ~= counter("succeeded") + counter("retried") then
    problem("processed=%d is not succeeded+retried=%d", counter("processed"), counter("succeeded") + counter("retried"))
  end
  for _, kind in ipairs(kinds) do
    if counts[count_of[kind]] == 0 then
      problem("fault %s never happened (run longer than %d s)", kind, opts.seconds)
    end
  end
end

local line = string.format("chaos: seed=%d seconds=%d offered=%d acked=%d unacked=%d completed=%d lost=%d " ..
  "duplicates=%d kills=%d stops=%d conn_kills=%d redis_restarts=%d pauses=%d oom_windows=%d recovered=%d " ..
  "lease_lost=%d retried=%d merged=%d drained_in=%.1f problems=%d",
  opts.seed, opts.seconds, offered, n_acked, unacked, n_ended, lost, ends - n_ended, counts.kills, counts.stops,
  counts.conn_kills, counts.redis_restarts, counts.pauses, counts.oom_windows, counter("recovered"),
  counter("lease_lost"), counter("retried"), counter("merged"), elapsed - opts.seconds, #problems)
print(line)
io.stdout:flush()

-- The result file: header, the line, parameters and counters, problems.
if opts.result and fault then
  say("no result file: HWORKER_CHAOS_FAULT is set")
elseif opts.result then
  local build = H.build:sub(1, #root + 1) == root .. "/" and H.build:sub(#root + 2) or H.build
  local command = string.format("HWORKER_BUILD=%s luajit spec/chaos/chaos.lua --seconds %d --seed %d --runners %d " ..
    "--threads %d --producers %d --rate %d --faults %s", build, opts.seconds, opts.seed, opts.runners, opts.threads,
    opts.producers, opts.rate, opts.faults) .. (opts.tls and " --tls" or "")
  local tool = H.plain .. H.quote(root .. "/tools/result-header")
  local path = H.sh(tool .. " --path chaos"):gsub("%s+$", "")
  if path:sub(1, 1) ~= "/" then path = root .. "/" .. path end
  local rows = {
    { "result", #problems == 0 and "passed" or ("FAILED: " .. table.concat(problems, "; ")) },
    { "build", build .. ((os.getenv("LD_PRELOAD") or ""):find("asan") and " (ASan + UBSan runtimes preloaded)" or "") },
    { "runners x threads", opts.runners .. " x " .. opts.threads },
    { "producers x rate (jobs/s)", opts.producers .. " x " .. opts.rate },
    { "offered (producers x rate x seconds)", offered },
    { "acked", string.format("%d (%.1f %% of offered; floor %d %%)", n_acked, 100 * n_acked / offered, ACK_FLOOR) },
    { "unacked", string.format("%d (%.1f %% of those put forward; bound %d %%)", unacked,
      100 * unacked / math.max(1, n_acked + unacked), UNACKED_BOUND) },
    { "completed (distinct jobs with an end record)", n_ended },
    { "lost (acked, no end record)", lost },
    { "duplicates (end records beyond one per job)", ends - n_ended },
    { "faults: kills / stops / conn_kills", counts.kills .. " / " .. counts.stops .. " / " .. counts.conn_kills },
    { "faults: redis_restarts / pauses / oom_windows",
      counts.redis_restarts .. " / " .. counts.pauses .. " / " .. counts.oom_windows },
    { "recovered / lease_lost / retried / merged", counter("recovered") .. " / " .. counter("lease_lost") .. " / " ..
      counter("retried") .. " / " .. counter("merged") },
    { "drained in (s after the producers' end)", string.format("%.1f", elapsed - opts.seconds) },
  }
  local f = assert(io.open(path, "w"))
  f:write(H.sh(tool .. " chaos " .. H.quote(command)), "```\n", line, "\n```\n\n| | |\n|---|---|\n")
  for _, row in ipairs(rows) do f:write("| ", row[1], " | ", (tostring(row[2]):gsub("|", "\\|")), " |\n") end
  f:close()
  say("result written to %s", path)
end

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
