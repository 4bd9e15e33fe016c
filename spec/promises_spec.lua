-- README promises that need a setting of their own: a Redis with appendonly
-- off, a Redis version the specs cannot start, a host connection factory,
-- the log a runner writes, the size of a worker's claims, a reply lost on
-- the wire, and a replica for min_replicas. Each runs on one standalone
-- redis-server (or two, for the replica).
local H = require "spec.support.helper"

local cli = H.build .. "/hworker-lua"
local record = H.job_path("record.lua")

local function compile(dir, name) return H.c_program(dir, name, "$(pkg-config --libs hiredis)") end

-- Runs `hworker-lua run JOB_FILE` on queue `name` until `done()` holds (or
-- it exits), stops it with SIGTERM, and returns everything it printed.
local function run_cli(server, name, job_file, extra, done)
  local log = H.tmpdir() .. "/run.log"
  local pid = tonumber(H.sh(("%s run %s --name %s --redis %s --threads 1 %s > %s 2>&1 & echo $!"):format(
    H.quote(cli), H.quote(job_file), name, H.quote(server.url), extra or "", H.quote(log))))
  H.wait_until("the runner", 30, function() return done(H.read(log)) or not H.alive(pid) end)
  H.kill(pid, 15)
  H.wait_until("the runner to exit", 20, function() return not H.alive(pid) end)
  return H.read(log)
end

local function started(text) return text:find(" running ", 1, true) end

describe("README promises #standalone", function()
  local server, dir
  lazy_setup(function()
    server = H.redis_server()
    dir = H.tmpdir()
  end)
  lazy_teardown(function()
    server.stop()
    H.sh("rm -rf " .. H.quote(dir))
  end)
  after_each(H.cleanup)

  describe("the start-up check", function()
    it("warns about appendonly when Redis has it off, and only then", function()
      local idle = H.file(dir, "idle.lua", "function job() end\n")
      local aof_off = H.redis_server { appendonly = false }
      local off = run_cli(aof_off, "startup", idle, "", started)
      aof_off.stop()
      local on = run_cli(server, "startup", idle, "", started)
      assert.truthy(started(off), off)
      assert.matches(" warn [startup] Redis has appendonly no: acknowledged jobs can be lost if Redis restarts",
        off, 1, true)
      assert.truthy(started(on), on)
      assert.is_nil(on:find("appendonly", 1, true), on)
    end)

    -- Only a current redis-server is installed, so the refusal itself is
    -- checked through the decision it rests on, which the start-up check
    -- calls with INFO's redis_version.
    it("refuses a Redis older than 6.2 and takes 6.2 and later", function()
      -- The decision is not exported by libhworker.so: built in from its source.
      local bin = H.c_program(dir, "redis_version", H.quote(H.root .. "/core/server_version.c"))
      local out = H.sh(H.quote(bin) .. " 5.0.14 6.0.20 6.1.9 6.2.0 6.2.14 7.0.15 10.0.1 2.8.24 weird")
      assert.are.equal(table.concat({ "5.0.14 old", "6.0.20 old", "6.1.9 old", "6.2.0 ok", "6.2.14 ok", "7.0.15 ok",
        "10.0.1 ok", "2.8.24 old", "weird ok", "" }, "\n"), out)
    end)
  end)

  it("takes every connection from cfg.connect instead of the URL, again after each is lost", function()
    local bin = compile(dir, "connect_factory")
    local q, name = H.queue(server, { shards = 1 })
    local job = H.file(dir, "nothing.lua", "function job() end\n")
    local out = H.sh("timeout -s KILL 120 " .. H.quote(bin) .. " " .. H.quote(server.sock) .. " " .. name .. " " ..
      H.quote(job) .. "; echo status=$?")
    local succeeded, before, after = out:match("succeeded=(%d+) before=(%d+) after=(%d+)")
    assert.are.equal("2", succeeded, out)
    assert.matches("status=0", out)
    -- The producer and the worker each connected through the factory, and
    -- made their connections again through it after CLIENT KILL.
    assert.truthy(tonumber(before) >= 2, out)
    assert.truthy(tonumber(after) >= tonumber(before) + 2, out)
    assert.are.equal(2, q:stats().counters.succeeded)
  end)

  it("logs hworker.log at its level and print at info, on the runner's log, one line each", function()
    local q, name = H.queue(server)
    local job = H.file(dir, "talk.lua", [[
      function job(state, t)
        hworker.log("debug", "debug-line " .. t.n)
        hworker.log("info", "info-line " .. t.n)
        hworker.log("warn", "warn-line " .. t.n)
        hworker.log("error", "error-line " .. t.n)
        print("print-line", t.n, nil, true)
      end
    ]])
    q:queue { n = 7 }
    local text = run_cli(server, name, job, "", function(t) return t:find("print-line", 1, true) end)
    local lines = {}
    for line in text:gmatch("[^\n]+") do
      local level, msg = line:match("^%S+ (%a+) %[[^%]]*%] job %S+: (.*)$")
      if msg then lines[msg] = level end
    end
    assert.are.same({ ["info-line 7"] = "info", ["warn-line 7"] = "warn", ["error-line 7"] = "error",
      ["print-line\t7\tnil\ttrue"] = "info" }, lines, text)
    -- With the threshold at debug, debug lines show too.
    q:queue { n = 8 }
    text = run_cli(server, name, job, "--log-level debug", function(t) return t:find("print-line\t8", 1, true) end)
    assert.matches(" debug %[" .. name:gsub("%p", "%%%0") .. "%] job %S+: debug%-line 8", text)
  end)

  -- The slow job is the 32nd: with every quick batch finishing within 10 ms
  -- the claims go 1, 2, 4, 8, 16, and the one holding it claims 32.
  it("cuts a worker's claim to a quarter after a batch that took over 100 ms", function()
    local q, name = H.queue(server, { prefetch = 64, shards = 1 })
    local jobs = {}
    for i = 1, 31 do jobs[i] = { n = i } end
    jobs[32] = { n = 32, sleep = 0.3 }
    for i = 33, 200 do jobs[i] = { n = i } end
    q:queue_many(jobs)
    -- Scripts load on first use (NOSCRIPT, then SCRIPT LOAD and the call
    -- again): load claim.lua now, so MONITOR sees each claim once.
    H.queue(server):step_claim(1, "warm-up")
    local monitor = dir .. "/monitor.log"
    local pid = tonumber(H.sh(("%sredis-cli -s %s MONITOR > %s 2>&1 & echo $!"):format(H.plain, H.quote(server.sock),
      H.quote(monitor))))
    H.wait_until("MONITOR to start", 10, function() return H.read(monitor):find("OK", 1, true) end)
    q:start { job_file = record, workers = 1, monitors = 0 }
    H.wait_until("every job", 60, function() return q:stats().counters.succeeded == #jobs end)
    q:stop { grace = 5 }
    H.kill(pid, 9)
    -- claim.lua's keys are pending, inflight, seq, flow, open, urgent,
    -- groups, group_due and events; then the batch size.
    local sizes = {}
    local tag = "{" .. name:gsub("%p", "%%%0") .. "}"
    for n in H.read(monitor):gmatch(tag .. ':group_due" "hw:' .. tag .. ':events" "(%d+)"') do
      sizes[#sizes + 1] = tonumber(n)
    end
    local claimed, k = 0, nil
    for i, n in ipairs(sizes) do
      claimed = claimed + n
      if claimed >= 32 then k = i break end
    end
    assert.truthy(k and sizes[k + 1], "claims: " .. table.concat(sizes, " "))
    -- At 4 or more a quarter differs from a half and from no cut at all.
    assert.truthy(sizes[k] >= 4, "the slow job's batch was too small to show a cut: " .. table.concat(sizes, " "))
    assert.are.equal(math.max(1, math.floor(sizes[k] / 4)), sizes[k + 1], "claims: " .. table.concat(sizes, " "))
  end)

  -- The enqueue's reply is lost after Redis ran it; the producer sends it
  -- again, so the job lands twice with one id, and both copies run. (They
  -- differ in their enqueue time, so they stay two even in scheduled.)
  it("sends an enqueue again after its reply was lost: the call succeeds, and both copies run", function()
    H.queue(server):queue { warm = "the scripts are loaded, so the reply lost is the enqueue's own" }
    local q, name = H.queue(server, { shards = 1 })
    local runs = H.track(H.hworker.open { name = name .. "-runs", redis = server.url, log_level = "error" })
    runs:destroy()
    local relay = H.lose_reply(server, "lost-reply-probe")
    local producer = H.track(H.hworker.open { name = name, redis = relay.url, log_level = "error", shards = 1 })
    local id = producer:queue { probe = "lost-reply-probe" }
    assert.is_true(relay.lost())
    relay.stop()
    local pending = q:jobs()
    assert.are.equal(2, #pending)
    assert.are.equal(id, pending[1].id)
    assert.are.equal(id, pending[2].id)
    q:start { job_file = record, config = { runs = name .. "-runs" }, workers = 1, monitors = 0 }
    H.wait_until("both copies to run", 30, function() return q:stats().counters.succeeded == 2 end)
    q:stop { grace = 1 }
    assert.are.equal(2, q:stats().counters.enqueued)
    local by_id, total = H.runs(runs)
    assert.are.equal(2, total)
    assert.are.equal(2, by_id[id])
  end)
end)

describe("min_replicas with a replica #standalone", function()
  local primary, replica, port
  lazy_setup(function()
    for _ = 1, 10 do
      port = math.random(20000, 45000)
      local ok, s = pcall(H.redis_server, { args = "--port " .. port .. " --bind 127.0.0.1" })
      if ok then primary = s break end
    end
    assert(primary, "no free port for the primary")
    replica = H.redis_server { args = "--replicaof 127.0.0.1 " .. port }
    H.wait_until("the replica to be in sync", 30, function()
      return primary.cli("INFO", "replication"):find("slave0:[^\n]*state=online") ~= nil
    end)
  end)
  lazy_teardown(function()
    replica.stop()
    primary.stop()
  end)
  after_each(H.cleanup)

  it("WAITs for the replica after a batch of outcomes; with the replica gone, refuses the enqueue "
    .. "and warns on outcomes", function()
    local q, name = H.queue(primary, { min_replicas = 1, min_replicas_timeout = 0.5 })
    q:queue { n = 1 }
    local waits = H.commandstats(q).wait or 0
    local log = H.tmpdir() .. "/workers.log"
    H.spawn_workers({ name = name, redis = primary.url, job_file = record, min_replicas = 1,
      min_replicas_timeout = 0.5, log_level = "warn" }, log)
    H.wait_until("the job", 30, function() return q:stats().counters.succeeded == 1 end)
    -- Only the worker talks to Redis now: its WAIT follows its outcomes, a
    -- moment after the outcome itself is visible.
    H.wait_until("the worker to WAIT after its outcomes", 10, function()
      return (H.commandstats(q).wait or 0) > waits
    end)
    assert.is_nil(H.read(log):find("replicas", 1, true), H.read(log))

    replica.stop()
    H.wait_until("the primary to see no replica", 30, function()
      return primary.cli("INFO", "replication"):find("connected_slaves:0", 1, true) ~= nil
    end)
    local ok, err = pcall(q.queue, q, { n = 2 })
    assert.is_false(ok)
    assert.matches("enqueued, but not yet safe from a failover: reached 0 of 1 replicas", err, 1, true)
    -- The job is in Redis all the same; it runs, and its outcome stands.
    H.wait_until("the second job", 30, function() return q:stats().counters.succeeded == 2 end)
    H.wait_until("the warning", 10,
      function() return H.read(log):find("job outcomes: reached 0 of 1 replicas", 1, true) end)
    local c = q:stats().counters
    assert.are.equal(0, c.retried)
    assert.are.equal(0, c.failed)
    replica = H.redis_server { args = "--replicaof 127.0.0.1 " .. port } -- for lazy_teardown
  end)
end)
