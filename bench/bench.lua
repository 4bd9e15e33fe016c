-- hworker's benchmark harness (run it through bench/run). It starts its own
-- redis-server (TCP on loopback, and a unix-socket variant), measures every
-- figure several times, and prints medians with ranges next to Redis's own
-- ceiling measured in the same run. Figures are printed, never asserted:
-- a row with a target says whether its median met it, and every comparison
-- the docs make is a row of its own, computed here from the same run.
-- The table also goes to a result file (tools/result-header --path bench),
-- which docs/performance.md quotes through tools/dev figures.
local ffi = require "ffi"
ffi.cdef [[
  int usleep(unsigned int usec);
  typedef struct { long s; long ns; } bench_ts;
  int clock_gettime(int clk, void *ts); /* void *: spec/support/helper.lua declares it too */
  typedef struct { long s; long us; } bench_tv;
  typedef struct { bench_tv utime; bench_tv stime; long pad[14]; } bench_rusage;
  int getrusage(int who, bench_rusage *usage);
]]

local root, build, quick, runs = arg[1], arg[2], arg[3] == "quick", tonumber(arg[4])
local command = "bench/run" .. (quick and " --quick" or "") .. (runs and (" --runs " .. runs) or "")
package.cpath = build .. "/lua/?.so;" .. package.cpath
local hworker = require "hworker"
local cjson = require "cjson"
runs = runs or (quick and 1 or 3)

local function now()
  local t = ffi.new("bench_ts")
  ffi.C.clock_gettime(1, t)
  return tonumber(t.s) + tonumber(t.ns) / 1e9
end
local function wall_ms()
  local t = ffi.new("bench_ts")
  ffi.C.clock_gettime(0, t)
  return tonumber(t.s) * 1000 + tonumber(t.ns) / 1e6
end
local function cpu()
  local r = ffi.new("bench_rusage")
  ffi.C.getrusage(0, r)
  return tonumber(r.utime.s) + tonumber(r.utime.us) / 1e6 + tonumber(r.stime.s) + tonumber(r.stime.us) / 1e6
end
local function sh(cmd)
  local p = assert(io.popen(cmd .. " 2>&1"))
  local out = p:read("*a")
  p:close()
  return out
end
local function wait_until(what, timeout, fn)
  local deadline = now() + timeout
  while not fn() do
    if now() > deadline then error("bench: timed out waiting for " .. what) end
    ffi.C.usleep(1000)
  end
end

-- The result file's name and header, taken before measuring: the commit
-- and tree state are those the figures were measured on.
local result_path = sh(("%q/tools/result-header --path bench"):format(root)):gsub("%s+$", "")
if result_path:sub(1, 1) ~= "/" then result_path = root .. "/" .. result_path end
local result_header = sh(("%q/tools/result-header bench %s"):format(root, command))
assert(result_header:match("^# bench result"), "bench: tools/result-header failed: " .. result_header)
local started_at = now()

-- ---- the server ----------------------------------------------------------
local dir = sh("mktemp -d /tmp/hworker-bench.XXXXXX"):gsub("%s+$", "")
-- Ports differ from run to run (LuaJIT's generator starts the same way
-- each time), and the server that answers must be ours (its socket file).
math.randomseed(os.time() + tonumber(sh("echo $PPID")))
-- The same server also speaks TLS, on its own port, with a test CA: the
-- drain over TLS is measured next to plain TCP on one server.
local made = sh(("%q/tools/test-ca %s 2>&1"):format(root, dir))
assert(made:match("made\n$"), "bench: tools/test-ca failed: " .. made)
local port, tls_port
for _ = 1, 20 do
  port = math.random(20000, 45000)
  tls_port = port + 1
  sh(("redis-server --port %d --bind 127.0.0.1 --unixsocket %s/redis.sock --dir %s --daemonize yes "
    .. "--pidfile %s/pid --logfile %s/log --save '' --appendonly no --tls-port %d --tls-cert-file %s/server.pem "
    .. "--tls-key-file %s/server.key --tls-ca-cert-file %s/ca.pem --tls-auth-clients no")
    :format(port, dir, dir, dir, dir, tls_port, dir, dir, dir))
  local ok = false
  for _ = 1, 100 do
    if sh(("redis-cli -s %s/redis.sock PING"):format(dir)):match("PONG") then ok = true break end
    ffi.C.usleep(20000)
  end
  if ok then break end
  port = nil
end
assert(port, "bench: could not start redis-server")
local tcp = ("redis://127.0.0.1:%d/0"):format(port)
local unix = ("unix://%s/redis.sock"):format(dir)
local tls = ("rediss://127.0.0.1:%d/0?cacert=%s/ca.pem"):format(tls_port, dir)
local function cleanup()
  sh(("redis-cli -p %d SHUTDOWN NOSAVE"):format(port))
  sh("rm -rf " .. dir)
end

local noop = dir .. "/noop.lua"
local f = io.open(noop, "w")
f:write("function job(state, t) end\n")
f:close()
local started = dir .. "/started.lua"
f = io.open(started, "w")
f:write("function init(c) return c end\n"
  .. "function job(state, t) hworker.queue(state.out, { sent = t.sent, started = hworker.now() }) end\n")
f:close()

local function open(url, name, opts)
  local o = { name = name, redis = url, log_level = "error" }
  for k, v in pairs(opts or {}) do o[k] = v end
  local q = hworker.open(o)
  q:destroy()
  return q
end

local function info(q, section, field)
  return tonumber(q:command("INFO", section):match(field .. ":(%d+)"))
end

-- ---- statistics ------------------------------------------------------------
local function median(xs)
  local t = {}
  for i, x in ipairs(xs) do t[i] = x end
  table.sort(t)
  local n = #t
  if n == 0 then return 0 end
  return n % 2 == 1 and t[(n + 1) / 2] or (t[n / 2] + t[n / 2 + 1]) / 2
end
local function percentile(xs, p)
  local t = {}
  for i, x in ipairs(xs) do t[i] = x end
  table.sort(t)
  return t[math.max(1, math.ceil(#t * p))]
end
local function summary(xs)
  local lo, hi = math.huge, -math.huge
  for _, x in ipairs(xs) do lo = math.min(lo, x); hi = math.max(hi, x) end
  return { median = median(xs), lo = lo, hi = hi }
end
local function repeat_runs(fn)
  local xs = {}
  for i = 1, runs do xs[i] = fn() end
  return summary(xs)
end

-- A figure measured once (a percentile, one costly run, or a ratio of two
-- medians).
local function once(x) return { median = x, lo = x, hi = x } end

-- Targets: the text the table shows, and the test the median must pass.
local function grouped(x)
  local s = ("%.0f"):format(x)
  return s:reverse():gsub("(%d%d%d)", "%1,"):reverse():gsub("^,", "")
end
local function at_least(x, text)
  return { text = text or ("≥ " .. grouped(x)), met = function(v) return v >= x end }
end
local function at_most(x, text)
  return { text = text or ("≤ " .. x), met = function(v) return v <= x end }
end

local rows = {}
local function row(name, r, unit, target)
  local fmt = function(x)
    if unit == "%" then return ("%.1f"):format(x) end
    return x >= 100 and ("%.0f"):format(x) or ("%.2f"):format(x)
  end
  local range = (runs > 1 and r.lo ~= r.hi) and (" (%s–%s)"):format(fmt(r.lo), fmt(r.hi)) or ""
  local status = target and (target.met(r.median) and "met" or "**not met**") or ""
  rows[#rows + 1] = { name, fmt(r.median) .. range, unit, target and target.text or "", status }
  io.stderr:write(("bench: %-52s %s %s %s\n"):format(name, fmt(r.median) .. range, unit, status))
end
-- A comparison the docs make, as a row: a's median as a percentage of b's.
local function share(name, a, b, target)
  row(name, once(a / b * 100), "%", target)
end

local function batch_of(n, size)
  local t = {}
  local pad = size and string.rep("x", size) or nil
  for i = 1, n do t[i] = pad and { n = i, pad = pad } or { n = i } end
  return t
end

-- ---- measurements ----------------------------------------------------------
local N = quick and 20000 or 200000

-- Redis's own ceiling on this machine, now.
local function redis_benchmark(args)
  local out = sh(("redis-benchmark -p %d -q %s"):format(port, args))
  local t = {}
  for name, rate in out:gmatch("([%u]+): ([%d%.]+) requests per second") do t[name] = tonumber(rate) end
  return t
end
local ceiling_n = quick and 50000 or 200000
local ceil_pipe = repeat_runs(function() return redis_benchmark(("-t lpush -P 16 -n %d"):format(ceiling_n)).LPUSH end)
row("ceiling: redis-benchmark LPUSH -P 16", ceil_pipe, "ops/s")
local ceil_rpop = repeat_runs(function() return redis_benchmark(("-t rpop -P 16 -n %d"):format(ceiling_n)).RPOP end)
row("ceiling: redis-benchmark RPOP -P 16", ceil_rpop, "ops/s")
local ceil_one = repeat_runs(function() return redis_benchmark(("-t lpush -c 1 -n %d"):format(ceiling_n / 4)).LPUSH end)
row("ceiling: redis-benchmark LPUSH, 1 client, no pipelining", ceil_one, "ops/s")

-- Enqueue.
local single_n = quick and 5000 or 20000
local q = open(tcp, "bench")
local enq1 = repeat_runs(function()
  q:destroy()
  local t0 = now()
  for i = 1, single_n do q:queue { n = i } end
  return single_n / (now() - t0)
end)
row("enqueue, one job per call, one client (TCP)", enq1, "jobs/s")
share("enqueue, one job per call, as a share of un-pipelined LPUSH (1 client)", enq1.median, ceil_one.median,
  at_least(80, "≥ 80"))
local enq_batch = {}
for _, size in ipairs { 100, 1000 } do
  local jobs = batch_of(size)
  local r = repeat_runs(function()
    q:destroy()
    local t0 = now()
    for _ = 1, N / size do q:queue_many(jobs) end
    return N / (now() - t0)
  end)
  enq_batch[size] = r.median
  row(("enqueue, batches of %d (TCP)"):format(size), r, "jobs/s", size == 1000 and at_least(300000) or nil)
end

-- Single-job enqueues from many threads of one handle, as a web server's
-- request threads make them: each call returns once Redis has its job, and
-- the calls made while one is on its way go together in the next
-- (core/enqueue_gather.c). A C program, since the Lua module has no threads.
-- Redis's time in scripts (INFO commandstats) and redis-server's CPU (INFO
-- cpu: the scripts plus reading, parsing and replying), in µs and seconds.
local function script_usec(c)
  return tonumber(c:command("INFO", "commandstats"):match("cmdstat_evalsha:calls=%d+,usec=(%d+)")) or 0
end
local function server_cpu(c)
  local text = c:command("INFO", "cpu")
  return tonumber(text:match("used_cpu_user:([%d.]+)")) + tonumber(text:match("used_cpu_sys:([%d.]+)"))
end
-- Where a run's CPU went, per job (medians over the runs of `split`,
-- whose client and server hold µs per job): `label`'s client (`whose`
-- CPU, getrusage) and redis-server's (INFO cpu), then the rates those
-- bound: both on 2 cores, which give 2 s of CPU a second and each job
-- needs both parts; and redis-server's part alone, as it runs commands on
-- one thread. `between` adds rows after the client's.
local function cpu_rows(label, whose, split, between)
  local client_us, server_us = median(split.client), median(split.server)
  row(("%s: client CPU per job (%s, getrusage)"):format(label, whose), once(client_us), "µs")
  if between then between() end
  row(label .. ": redis-server CPU per job (INFO cpu)", once(server_us), "µs")
  row(label .. ": bound on 2 cores from those", once(2e6 / (client_us + server_us)), "jobs/s")
  row(label .. ": bound from redis-server's CPU per job alone (one thread runs its commands)", once(1e6 / server_us),
    "jobs/s")
end

local gathered, gathered_split = {}, { client = {}, server = {} }
for _, threads in ipairs { 1, 16 } do
  local jobs = quick and 32000 or 160000
  if threads == 1 then jobs = jobs / 4 end
  local r = repeat_runs(function()
    q:destroy()
    local server0 = server_cpu(q)
    local out = sh(("%q %q bench %d %d"):format(build .. "/bench_enqueue_threads", tcp, threads, jobs / threads))
    local done, took, used = out:match("^(%d+) ([%d%.]+) ([%d%.]+)")
    assert(done, "bench: bench_enqueue_threads failed: " .. out)
    if threads == 16 then
      local split = gathered_split
      split.client[#split.client + 1] = tonumber(used) / tonumber(done) * 1e6
      split.server[#split.server + 1] = (server_cpu(q) - server0) / tonumber(done) * 1e6
    end
    return tonumber(done) / tonumber(took)
  end)
  gathered[threads] = r.median
  row(("enqueue, one job per call, %d thread(s) of one handle, C (TCP)"):format(threads), r, "jobs/s",
    threads == 16 and at_least(200000, "≥ 200,000") or nil)
end
share("enqueue, one job per call from 16 threads, as a share of batches of 100 (one client)", gathered[16],
  enq_batch[100])
cpu_rows("enqueue from 16 threads", "the program", gathered_split)

-- Drain preloaded no-op jobs.
local cost, drain_rate = {}, {}
-- Where the 2-thread drain's CPU goes, per job: this process (the workers),
-- Redis running the scripts (INFO commandstats), and the whole redis-server
-- process (INFO cpu: the scripts plus reading, parsing and replying).
local split = { client = {}, scripts = {}, server = {} }
for _, variant in ipairs { { "TCP", tcp }, { "unix socket", unix }, { "TLS", tls } } do
  for _, threads in ipairs(variant[1] == "TCP" and { 1, 2, 4, 8 } or { 2 }) do
    local r = repeat_runs(function()
      local d = open(variant[2], "drain")
      local jobs = batch_of(1000)
      for _ = 1, N / 1000 do d:queue_many(jobs) end
      local cmds0 = info(d, "stats", "total_commands_processed")
      local calls0 = tonumber(d:command("INFO", "commandstats"):match("cmdstat_evalsha:calls=(%d+)")) or 0
      local usec0, server0 = script_usec(d), server_cpu(d)
      local cpu0, t0 = cpu(), now()
      d:start { job_file = noop, workers = threads, monitors = 0 }
      wait_until("the drain", 600, function() ffi.C.usleep(2000) return d:stats().counters.processed >= N end)
      local took, cpu1 = now() - t0, cpu()
      local usec1, server1 = script_usec(d), server_cpu(d)
      d:stop { grace = 1 }
      if threads == 2 and variant[1] == "TCP" then
        split.client[#split.client + 1] = (cpu1 - cpu0) / N * 1e6
        split.scripts[#split.scripts + 1] = (usec1 - usec0) / N
        split.server[#split.server + 1] = (server1 - server0) / N * 1e6
      end
      if threads == 4 and variant[1] == "TCP" then
        cost.commands = (info(d, "stats", "total_commands_processed") - cmds0) / N
        local calls1 = tonumber(d:command("INFO", "commandstats"):match("cmdstat_evalsha:calls=(%d+)")) or 0
        cost.scripts = (calls1 - calls0) / N
        cost.cpu_us = (cpu1 - cpu0) / N * 1e6
      end
      d:close()
      return N / took
    end)
    drain_rate[variant[1] .. threads] = r.median
    row(("drain %d no-op jobs, %d thread(s) (%s)"):format(N, threads, variant[1]), r, "jobs/s",
      threads == 2 and variant[1] == "TCP" and at_least(400000) or nil)
  end
end
cpu_rows("drain, 2 threads (TCP)", "this process", split, function()
  row("drain, 2 threads (TCP): Redis time per job in scripts (INFO commandstats)", once(median(split.scripts)), "µs")
end)
local best = 1
for _, threads in ipairs { 2, 4, 8 } do
  if drain_rate["TCP" .. threads] > drain_rate["TCP" .. best] then best = threads end
end
share("drain over TLS as a share of plain TCP, 2 threads", drain_rate.TLS2, drain_rate.TCP2)
row(("drain, the best thread count of 1, 2, 4 and 8 (TCP): %d"):format(best), once(drain_rate["TCP" .. best]),
  "jobs/s", at_least(100000))
share("drain over a unix socket as a share of TCP, 2 threads", drain_rate["unix socket2"], drain_rate.TCP2)

-- History and timings (docs/operations.md) cost: the 2-thread drain with
-- them off next to the same with them on (the default; the process
-- registry's heartbeats run in both), alternated run by run.
do
  local function drain(history)
    local d = open(tcp, "history", { history = history })
    local jobs = batch_of(1000)
    for _ = 1, N / 1000 do d:queue_many(jobs) end
    local t0 = now()
    d:start { job_file = noop, workers = 2, monitors = 0 }
    wait_until("the drain", 600, function() ffi.C.usleep(2000) return d:stats().counters.processed >= N end)
    local took = now() - t0
    d:stop { grace = 1 }
    d:close()
    return N / took
  end
  local off, on = {}, {}
  for i = 1, runs do
    off[i] = drain("off")
    on[i] = drain("on")
  end
  local r_off, r_on = summary(off), summary(on)
  row(("drain %d no-op jobs, 2 threads (TCP), history off"):format(N), r_off, "jobs/s")
  row(("drain %d no-op jobs, 2 threads (TCP), history on (the default)"):format(N), r_on, "jobs/s")
  share("drain with history on as a share of off, 2 threads", r_on.median, r_off.median, at_least(90, "≥ 90"))
end

-- Events (docs/operations.md): the 2-thread drain, and the enqueue of
-- batches of 1,000 before it, with events on (each shard's stream keeping
-- 10,000) next to the same with them off, alternated run by run.
do
  local function run(events)
    local d = open(tcp, "events")
    if events then d:set_events(10000) end
    local jobs = batch_of(1000)
    local t0 = now()
    for _ = 1, N / 1000 do d:queue_many(jobs) end
    local enqueue = N / (now() - t0)
    t0 = now()
    d:start { job_file = noop, workers = 2, monitors = 0 }
    wait_until("the drain", 600, function() ffi.C.usleep(2000) return d:stats().counters.processed >= N end)
    local took = now() - t0
    d:stop { grace = 1 }
    d:destroy()
    d:close()
    return enqueue, N / took
  end
  local enq_off, enq_on, off, on = {}, {}, {}, {}
  for i = 1, runs do
    enq_off[i], off[i] = run(false)
    enq_on[i], on[i] = run(true)
  end
  local r_off, r_on = summary(off), summary(on)
  row("enqueue, batches of 1000 (TCP), events on", summary(enq_on), "jobs/s")
  share("enqueue in batches of 1000 with events on as a share of off", summary(enq_on).median,
    summary(enq_off).median)
  row(("drain %d no-op jobs, 2 threads (TCP), events on"):format(N), r_on, "jobs/s")
  share("drain with events on as a share of off, 2 threads", r_on.median, r_off.median)
end

-- Cancel (docs/operations.md): from hworker_cancel of a running job (a
-- handler in an endless loop) until its outcome, cancelled, is recorded in
-- Redis, one at a time.
do
  local spin = dir .. "/spin.lua"
  local s = assert(io.open(spin, "w"))
  s:write("function job(state, t) while true do end end\n")
  s:close()
  local d = open(tcp, "cancel")
  d:start { job_file = spin, workers = 1, monitors = 0 }
  local took = {}
  for i = 1, quick and 5 or 20 do
    local id = d:queue {}
    wait_until("the job to start", 60, function() ffi.C.usleep(1000) return d:stats().inflight == 1 end)
    local t0 = now()
    d:cancel(id)
    wait_until("the cancel", 60, function() ffi.C.usleep(200) return d:stats().counters.cancelled == i end)
    took[i] = (now() - t0) * 1000
  end
  d:stop { grace = 1 }
  d:close()
  row("cancel of a running job until it is recorded as cancelled", summary(took), "ms", at_most(100, "≤ 100"))
end

-- Groups (docs/flow-control.md): the same drain with the jobs spread over
-- 10,000 groups, which take turns (no caps), next to the drain without.
do
  local groups = quick and 1000 or 10000
  local per = math.max(1, math.floor(N / groups))
  local total = per * groups
  local jobs = batch_of(per)
  local r = repeat_runs(function()
    local d = open(tcp, "groups")
    for g = 1, groups do d:queue_many(jobs, { group = "tenant-" .. g }) end
    local t0 = now()
    d:start { job_file = noop, workers = 2, monitors = 0 }
    wait_until("the drain", 600, function() ffi.C.usleep(2000) return d:stats().counters.processed >= total end)
    local took = now() - t0
    d:stop { grace = 1 }
    d:close()
    return total / took
  end)
  row(("drain %d no-op jobs in %d groups, %d each, 2 threads (TCP)"):format(total, groups, per), r, "jobs/s")
  share("the same as a share of the drain without groups, 2 threads", r.median, drain_rate.TCP2)
end

-- A deep queue: enqueue and drain rates with a million jobs pending (100,000
-- in quick mode), next to the empty-queue rates above. Each run enqueues and
-- then drains `part` jobs, so the depth stays the same from run to run.
do
  local depth = quick and 100000 or 1000000
  local part = quick and 20000 or 100000
  local d = open(tcp, "deep")
  local jobs = batch_of(1000)
  for _ = 1, depth / 1000 do d:queue_many(jobs) end
  local enq, drain = {}, {}
  for i = 1, runs do
    local t0 = now()
    for _ = 1, part / 1000 do d:queue_many(jobs) end
    enq[i] = part / (now() - t0)
    local done = d:stats().counters.processed + part
    t0 = now()
    d:start { job_file = noop, workers = 2, monitors = 0 }
    wait_until("the deep drain", 600, function() ffi.C.usleep(2000) return d:stats().counters.processed >= done end)
    drain[i] = part / (now() - t0)
    d:stop { grace = 1 }
  end
  local enq_deep, drain_deep = summary(enq), summary(drain)
  row(("enqueue, batches of 1000, onto %d pending"):format(depth), enq_deep, "jobs/s")
  row(("drain %d of %d pending, 2 threads (TCP)"):format(part, depth + part), drain_deep, "jobs/s")
  share(("enqueue onto %d pending as a share of the empty queue (batches of 1000)"):format(depth),
    enq_deep.median, enq_batch[1000], at_least(90, "≥ 90"))
  share(("drain of %d pending as a share of the empty queue (2 threads)"):format(depth + part),
    drain_deep.median, drain_rate.TCP2, at_least(90, "≥ 90"))
  d:destroy()
  d:close()
end

-- End to end: a producer and workers at once.
local e2e_split = { client = {}, server = {} }
local e2e = repeat_runs(function()
  local e = open(tcp, "e2e")
  e:start { job_file = noop, workers = 2, monitors = 1 }
  local jobs = batch_of(100)
  local cpu0, server0, t0 = cpu(), server_cpu(e), now()
  for _ = 1, N / 100 do e:queue_many(jobs) end
  wait_until("end to end", 600, function() ffi.C.usleep(2000) return e:stats().counters.processed >= N end)
  local took = now() - t0
  e2e_split.client[#e2e_split.client + 1] = (cpu() - cpu0) / N * 1e6
  e2e_split.server[#e2e_split.server + 1] = (server_cpu(e) - server0) / N * 1e6
  e:stop { grace = 1 }
  e:close()
  return N / took
end)
row(("end to end, %d jobs, producer batches of 100, 2 workers"):format(N), e2e, "jobs/s", at_least(200000))
cpu_rows("end to end", "producer and workers, this process", e2e_split)

-- A long run (full mode): 10,000,000 jobs through a producer and 2 workers
-- at once, with at most LONG_AHEAD jobs waiting, so Redis holds a bounded
-- backlog. Each million's throughput (from the processed counter, read
-- between batches) and this process's RSS when it was done: both should be
-- flat. The producer's batch table is reused, so the Lua heap stays small.
local function rss_mb()
  local status = io.open("/proc/self/status")
  local kb = tonumber(status:read("*a"):match("VmRSS:%s*(%d+)"))
  status:close()
  return kb / 1024
end
if not quick then
  local LONG, MILLION, LONG_AHEAD = 10000000, 1000000, 200000
  local e = open(tcp, "long")
  e:start { job_file = noop, workers = 2, monitors = 1 }
  local jobs = batch_of(100)
  local sent, done, next_mark = 0, 0, MILLION
  local t0 = now()
  local last, rates, sizes = t0, {}, {}
  local function note(processed)
    done = processed
    while done >= next_mark do
      local t = now()
      rates[#rates + 1] = MILLION / (t - last)
      sizes[#sizes + 1] = rss_mb()
      last, next_mark = t, next_mark + MILLION
    end
  end
  while done < LONG do
    if sent < LONG and sent - done < LONG_AHEAD then
      e:queue_many(jobs)
      sent = sent + 100
      if sent % 10000 == 0 then note(e:stats().counters.processed) end
    else
      ffi.C.usleep(1000)
      note(e:stats().counters.processed)
    end
  end
  local took = now() - t0
  e:stop { grace = 1 }
  e:destroy()
  e:close()
  for k = 1, #rates do
    row(("long run, million %d of 10: throughput"):format(k), once(rates[k]), "jobs/s")
    row(("long run, million %d of 10: client RSS when done"):format(k), once(sizes[k]), "MB")
  end
  row("long run, 10,000,000 jobs, enqueue and drain at once, 2 workers", once(LONG / took), "jobs/s")
  share("long run: the slowest million as a share of the fastest", math.min(unpack(rates)), math.max(unpack(rates)),
    at_least(80, "≥ 80"))
  share(("long run as a share of the %s-job end to end"):format(grouped(N)), LONG / took, e2e.median)
  -- A leak of a quarter of a byte per job would pass 2 MB over 8 million.
  row("long run: client RSS growth from million 2 to million 10", once(sizes[#sizes] - sizes[2]), "MB",
    at_most(2))
end

-- Idle pick-up latency: one job at a time into an idle queue.
local lat_n = quick and 50 or 300
local lat = open(tcp, "latency")
local out = open(tcp, "latency-out")
lat:start { job_file = started, config = { out = "latency-out" }, workers = 2, monitors = 0 }
wait_until("idle workers", 10, function() return lat:command("CLIENT", "LIST"):find("cmd=blmove", 1, true) end)
local latencies = {}
for i = 1, lat_n do
  lat:queue { sent = wall_ms() }
  wait_until("pick-up", 10, function() return out:stats().pending >= i end)
end
lat:stop { grace = 1 }
for _, e in ipairs(out:jobs { limit = lat_n }) do latencies[#latencies + 1] = e.job.started - e.job.sent end
row("idle pick-up latency p50, enqueue to start", once(percentile(latencies, 0.5)), "ms", at_most(0.5))
row("idle pick-up latency p99", once(percentile(latencies, 0.99)), "ms", at_most(2))

-- Lateness of scheduled jobs (docs/scheduling.md): jobs with random due
-- times over a span, on an idle queue and while other jobs flow through
-- the same queue; each job records its start minus meta.due_at (Redis and
-- this process share the clock here).
local late_file = dir .. "/late.lua"
f = io.open(late_file, "w")
f:write("function init(c) return c end\n"
  .. "function job(state, t, meta)\n"
  .. "  if t.due then hworker.queue(state.out, { late = hworker.now() - meta.due_at }) end\n"
  .. "end\n")
f:close()
local function lateness(flow_rate)
  local n, span = quick and 1000 or 10000, quick and 3 or 30
  local lq = open(tcp, "late")
  local lout = open(tcp, "late-out")
  lq:start { job_file = late_file, config = { out = "late-out" }, workers = 2, monitors = 1 }
  for _ = 1, n do lq:queue({ due = true }, { delay = 1 + math.random() * span }) end
  local flow = batch_of(100)
  local t0 = now()
  if flow_rate > 0 then
    -- Batches of 100 at the rate asked, until the last due time has passed.
    local sent = 0
    while now() - t0 < span + 1.5 do
      lq:queue_many(flow)
      sent = sent + 100
      local ahead = sent / flow_rate - (now() - t0)
      if ahead > 0 then ffi.C.usleep(math.floor(ahead * 1e6)) end
    end
  end
  wait_until("the scheduled jobs", span + 60, function() return lout:stats().pending >= n end)
  lq:stop { grace = 1 }
  local xs, off = {}, 0
  while off < n do
    for _, e in ipairs(lout:jobs { offset = off, limit = 1000 }) do xs[#xs + 1] = e.job.late end
    off = off + 1000
  end
  lq:destroy()
  lout:destroy()
  lq:close()
  lout:close()
  return xs, n, span
end
do
  local xs, n, span = lateness(0)
  local what = ("%d jobs due at random over %d s, idle queue"):format(n, span)
  row("lateness p50, " .. what, once(percentile(xs, 0.5)), "ms")
  row("lateness p99, " .. what, once(percentile(xs, 0.99)), "ms", at_most(5))
  row("lateness max, " .. what, once(percentile(xs, 1)), "ms")
  local least = math.huge
  for _, x in ipairs(xs) do least = math.min(least, x) end
  row("lateness min (negative would be early), " .. what, once(least), "ms")
  xs, n, span = lateness(20000)
  what = ("%d jobs due at random over %d s, while 20,000 other jobs/s flow"):format(n, span)
  row("lateness p50, " .. what, once(percentile(xs, 0.5)), "ms")
  row("lateness p99, " .. what, once(percentile(xs, 0.99)), "ms", at_most(20))
  row("lateness max, " .. what, once(percentile(xs, 1)), "ms")
end

-- What idle workers cost Redis with jobs scheduled far ahead: commands per
-- idle worker per second (the monitor's included).
do
  local iq = open(tcp, "idle")
  local later = batch_of(1000)
  iq:queue_many(later, { delay = 3600 })
  iq:start { job_file = noop, workers = 2, monitors = 1 }
  wait_until("idle workers", 10, function() return iq:command("CLIENT", "LIST"):find("cmd=blmove", 1, true) end)
  local secs = quick and 3 or 10
  local c0 = info(iq, "stats", "total_commands_processed")
  ffi.C.usleep(secs * 1e6)
  local c1 = info(iq, "stats", "total_commands_processed")
  iq:stop { grace = 1 }
  -- One INFO of ours is counted in between.
  row(("Redis commands per idle worker per second, 1,000 jobs scheduled an hour ahead (2 workers, 1 monitor, %d s)")
    :format(secs), once((c1 - c0 - 1) / 2 / secs), "cmds/s")
  iq:destroy()
  iq:close()
end

-- Flow control (docs/flow-control.md). The rate limiter's accuracy: starts
-- per second counted over a window, with far more pending than the limit
-- lets run; and what workers held back cost Redis, paused and limited.
do
  local fq = open(tcp, "flow")
  local secs = quick and 3 or 10
  fq:limit { rate = "1000/s", burst = 10 }
  local jobs = batch_of(1000)
  for _ = 1, secs + 3 do fq:queue_many(jobs) end
  fq:start { job_file = noop, workers = 4, monitors = 1 }
  wait_until("the first starts", 10, function() return fq:stats().counters.processed > 0 end)
  local p0, t0 = fq:stats().counters.processed, now()
  ffi.C.usleep(secs * 1e6)
  local p1, t1 = fq:stats().counters.processed, now()
  local rate = (p1 - p0) / (t1 - t0)
  row(("starts per second under a rate limit of 1,000/s, burst 10 (4 workers, %d s)"):format(secs), once(rate),
    "jobs/s")
  share("the same as a share of the limit", rate, 1000, at_most(100.5, "≤ 100.5"))
  fq:stop { grace = 1 }
  -- Held back: 4 workers, a rate of 50/s with work pending, then paused.
  fq:limit { rate = "50/s", burst = 0 }
  fq:start { job_file = noop, workers = 4, monitors = 0 }
  wait_until("starts under 50/s", 10, function() return fq:stats().counters.processed > p1 + 10 end)
  local function evalsha(queue)
    return tonumber(queue:command("INFO", "commandstats"):match("cmdstat_evalsha:calls=(%d+)"))
  end
  local c0, e0, s0 = info(fq, "stats", "total_commands_processed"), evalsha(fq), fq:stats().counters.processed
  ffi.C.usleep(secs * 1e6)
  local c1, e1, s1 = info(fq, "stats", "total_commands_processed"), evalsha(fq), fq:stats().counters.processed
  local starts = s1 - s0
  row(("Redis commands per worker per second, held back by a rate of 50/s (4 workers, %d s)"):format(secs),
    once((c1 - c0) / 4 / secs), "cmds/s")
  row("script calls per start under that rate (a claim and a finish per job at best: 2)", once((e1 - e0) / starts),
    "calls")
  row("Redis commands per start under that rate, counting those inside scripts", once((c1 - c0) / starts), "cmds")
  fq:pause()
  wait_until("4 paused workers blocked in Redis", 10, function()
    local _, n = fq:command("CLIENT", "LIST"):gsub("cmd=blmove", "")
    return fq:stats().inflight == 0 and n == 4
  end)
  c0 = info(fq, "stats", "total_commands_processed")
  ffi.C.usleep(secs * 1e6)
  c1 = info(fq, "stats", "total_commands_processed")
  row(("Redis commands per worker per second, paused with jobs pending (4 workers, %d s)"):format(secs),
    once((c1 - c0 - 1) / 4 / secs), "cmds/s")
  fq:stop { grace = 1 }
  fq:destroy()
  fq:close()
end

-- Cost per job, measured in the 4-thread drain.
row("script calls (EVALSHA) per job at full load (4-thread drain)", once(cost.scripts), "calls")
row("Redis commands per job at full load, counting those inside scripts (4-thread drain)", once(cost.commands),
  "cmds", at_most(0.1))
row("engine CPU per job (4-thread drain, this process)", once(cost.cpu_us), "µs")

-- Memory per pending job.
for _, size in ipairs { 100, 1000 } do
  local m = open(tcp, "memory")
  local n = quick and 20000 or 100000
  local before = info(m, "memory", "used_memory")
  local jobs = batch_of(1000, size - 20)
  for _ = 1, n / 1000 do m:queue_many(jobs) end
  local after = info(m, "memory", "used_memory")
  local payload = #cjson.encode(jobs[1])
  row(("Redis memory per pending %d-byte job, beyond the payload"):format(size),
    once((after - before) / n - payload), "bytes", size == 100 and at_most(64) or nil)
  if size == 100 then
    -- The envelope's header line, which every pending job carries.
    local member = m:command("LINDEX", "hw:{memory}:pending", 0)
    row("envelope header per pending job (its JSON line and newline)", once(#member - payload), "bytes")
  end
  m:destroy()
end

-- Recovery after kill -9 of a runner holding jobs.
local rec = open(tcp, "recovery", { lease = 2, monitor_interval = 0.5 })
local slow = dir .. "/slow.lua"
f = io.open(slow, "w")
f:write("function job(state, t) hworker.sleep(t.sleep) end\n")
f:close()
local held = 8
local pid = tonumber(sh(("%s/hworker-lua run %s --name recovery --redis %s --threads %d --monitors 0 --lease 2 "
  .. "> /dev/null 2>&1 & echo $!"):format(build, slow, tcp, held)))
rec:queue_many((function() local t = {} for i = 1, held do t[i] = { sleep = 600 } end return t end)())
wait_until("the runner to hold every job", 20, function() return rec:stats().inflight == held end)
sh("kill -9 " .. pid)
local killed = now()
rec:start { job_file = slow, workers = 0, monitors = 1 }
wait_until("recovery", 60, function() return rec:stats().pending == held end)
local back = now() - killed
row(("recovery: kill -9 of a runner holding %d jobs, until all pending again (lease 2 s, interval 0.5 s)"):format(held),
  once(back), "s", at_most(2.5, "≤ lease + interval = 2.5"))
rec:stop { grace = 0 }

-- Redis Cluster (docs/cluster.md): the same drain on a local 3-master
-- cluster, one queue unsharded and one in 3 shards. Here the masters share
-- the same 2 cores as everything else, so the figure to read is the cost
-- per job against one node, not a speed-up.
do
  package.path = root .. "/?.lua;" .. package.path
  local cluster = require("spec.support.cluster").start { masters = 3 }
  local function total_commands()
    local sum = 0
    for _, node in ipairs(cluster.nodes) do
      sum = sum + tonumber(node.cli("INFO", "stats"):match("total_commands_processed:(%d+)"))
    end
    return sum
  end
  for _, shards in ipairs { 1, 3 } do
    local per_job
    local r = repeat_runs(function()
      local d = open(cluster.url, "cdrain", { shards = shards })
      local jobs = batch_of(1000)
      for _ = 1, N / 1000 do d:queue_many(jobs) end
      local cmds0, t0 = total_commands(), now()
      d:start { job_file = noop, workers = 2, monitors = 0 }
      wait_until("the cluster drain", 600, function() ffi.C.usleep(2000) return d:stats().counters.processed >= N end)
      local took = now() - t0
      d:stop { grace = 1 }
      per_job = (total_commands() - cmds0) / N
      d:destroy()
      d:close()
      return N / took
    end)
    row(("drain %d no-op jobs, 2 threads, 3-master cluster, %d shard(s)"):format(N, shards), r, "jobs/s")
    share(("drain on the 3-master cluster, %d shard(s), as a share of one node (2 threads)"):format(shards),
      r.median, drain_rate.TCP2)
    row(("Redis commands per job on the cluster, %d shard(s), all masters"):format(shards), once(per_job), "cmds")
  end
  cluster.stop()
end

cleanup()

-- ---- the table ---------------------------------------------------------------
local cpus = sh("nproc"):gsub("%s+$", "")
local model = sh("grep -m1 'model name' /proc/cpuinfo"):match(":%s*(.-)%s*$") or "?"
local redis_version = sh("redis-server --version"):match("v=(%S+)") or "?"
local lines = {
  ("hworker %s, %s, %s run(s) each, median (range); %s cores (%s), Redis %s on the same machine, "
    .. "appendonly off; %.0f s in all."):format(
    hworker.version, quick and "quick mode" or "full run", runs, cpus, model, redis_version, now() - started_at),
  "A target is met when the median meets it.",
  "",
  "| figure | value | unit | target | status |",
  "|---|---|---|---|---|",
}
for _, r in ipairs(rows) do lines[#lines + 1] = ("| %s | %s | %s | %s | %s |"):format(r[1], r[2], r[3], r[4], r[5]) end
local text = table.concat(lines, "\n") .. "\n"
io.write(text)
local o = assert(io.open(result_path, "w"))
o:write(result_header .. text)
o:close()
io.stderr:write("bench: wrote " .. result_path .. "\n")
