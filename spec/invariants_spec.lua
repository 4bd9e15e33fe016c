-- docs/design.md section 3: each invariant with a spec that fails without it.
local H = require "spec.support.helper"
local R = require "spec.support.recorded"

local record = H.job_path("record.lua")

describe("invariant", function()
  local server
  lazy_setup(function() server = H.redis_server() end)
  lazy_teardown(function() server.stop() end)
  after_each(H.cleanup)

  describe("1, at-least-once:", function()
    it("keeps every acknowledged job in pending, in flight or done when its worker process is killed", function()
      local q, runs, config, name = R.queue(server, { lease = 1, monitor_interval = 0.1 })
      local jobs = {}
      for i = 1, 300 do jobs[i] = { n = i, spin = 0.002 } end
      local ids = q:queue_many(jobs)
      local pid = H.spawn_workers { name = name, redis = server.url, job_file = record, config = config,
        lease = 1, workers = 2, prefetch = 8, log_level = "error" }
      -- Frozen (SIGSTOP) while it holds claims, then killed: a worker caught
      -- between two batches would hold none, however busy it is.
      H.wait_until("the worker process to hold claims after some jobs finished", 30, function()
        H.kill(pid, 19)
        local s = q:stats()
        if s.counters.succeeded >= 50 and s.inflight > 0 then return true end
        H.kill(pid, 18)
      end)
      H.kill(pid, 9)
      H.wait_until("the worker process to die", 10, function() return not H.alive(pid) end)
      local s = q:stats()
      -- Every job is accounted for at the instant of the crash.
      assert.are.equal(300, s.pending + s.inflight + s.counters.succeeded)
      assert.truthy(s.inflight > 0)
      q:start { job_file = record, config = config, workers = 2, monitors = 1 }
      H.wait_until("all jobs to succeed", 60, function() return q:stats().counters.succeeded == 300 end)
      q:stop { grace = 5 }
      local by_id = H.runs(runs)
      for _, id in ipairs(ids) do assert.truthy(by_id[id] >= 1, "job " .. id .. " never ran") end
      s = q:stats()
      assert.are.equal(0, s.pending + s.inflight)
      assert.truthy(s.counters.recovered > 0)
    end)
  end)

  describe("2, fencing:", function()
    it("ignores a stale holder's success, failure and retry after its job was requeued and re-claimed", function()
      local q, _, _, name = R.queue(server, { lease = 0.2 })
      local id = q:queue { n = 1 }
      local stale = q:step_claim(1, "w1")[1]
      H.wait_until("the lease to expire and the job to be recovered", 10, function()
        return q:step_sweep() == 1
      end)
      local live = q:step_claim(1, "w2")[1]
      assert.are_not.equal(stale, live)
      assert.is_false(q:step_finish(stale, "success"))
      assert.is_false(q:step_finish(stale, "failure", "late"))
      assert.is_false(q:step_finish(stale, "retry", "late"))
      assert.is_false(q:step_hand_back(stale))
      assert.is_false(q:step_renew(stale))
      -- The re-claimed execution is still tracked, and nothing else moved.
      local inflight = q:inflight()
      assert.are.equal(1, #inflight)
      assert.are.equal(live, inflight[1].raw)
      assert.are.equal("w2", inflight[1].holder)
      assert.are.equal(id, inflight[1].id)
      local s = q:stats()
      assert.are.equal(0, s.pending)
      assert.are.equal(0, s.failed)
      assert.are.equal(5, s.counters.lease_lost)
      assert.is_true(q:step_renew(live))
      assert.is_true(q:step_finish(live, "success"))
      assert.are.equal(0, q:stats().inflight)
      assert.are.equal(0, q:command("ZCARD", R.key(name, "inflight")))
    end)

    it("stops a running job whose lease was taken over and discards its outcome", function()
      -- The job would sleep a minute; only the lease keeper can end it sooner.
      local q, runs, config, name = R.queue(server, { lease = 0.6, monitor_interval = 60 })
      local id = q:queue { sleep = 60, fail = "the first run must not report this" }
      q:start { job_file = record, config = config, workers = 1, monitors = 0 }
      H.wait_until("the job to start", 20, function() return H.runs(runs)[id] == 1 end)
      -- Expire the running claim by hand and recover it, as a monitor would
      -- after a network split; a second execution claims it.
      local claim = q:inflight()[1].raw
      q:command("ZADD", R.key(name, "inflight"), "0", claim)
      assert.are.equal(1, (q:step_sweep()))
      local second = q:step_claim(1, "other")[1]
      -- The lease keeper finds the first claim gone and stops that run: the
      -- one worker is free for the next job long before the sleep would end.
      local next_id = q:queue { n = 2 }
      H.wait_until("the worker to be free for the next job", 20, function() return H.runs(runs)[next_id] == 1 end)
      q:stop { grace = 5 }
      local s = q:stats()
      assert.are.equal(0, s.failed)
      assert.are.equal(1, s.counters.processed) -- the next job; the stopped run reported nothing
      assert.are.equal(1, s.counters.lease_lost)
      assert.are.equal(1, H.runs(runs)[id])
      assert.are.equal(second, q:inflight()[1].raw)
      assert.is_true(q:step_finish(second, "success"))
    end)
  end)

  describe("3, liveness is a lease:", function()
    it("runs a job three times longer than the lease once on a live worker", function()
      local q, runs, config = R.queue(server, { lease = 0.5, monitor_interval = 0.05 })
      local id = q:queue { sleep = 1.5 }
      q:start { job_file = record, config = config, workers = 1, monitors = 2 }
      R.settle(q, 1)
      q:stop { grace = 5 }
      assert.are.equal(1, H.runs(runs)[id])
      local s = q:stats()
      assert.are.equal(0, s.counters.recovered)
      assert.are.equal(1, s.counters.succeeded)
    end)

    it("puts a dead worker's job back in pending within lease + one monitor interval", function()
      local lease, interval = 1, 0.5
      local q, runs, config, name = R.queue(server, { lease = lease, monitor_interval = interval })
      local id = q:queue { sleep = 60 }
      local pid = H.spawn_workers { name = name, redis = server.url, job_file = record, config = config,
        lease = lease, workers = 1, log_level = "error" }
      H.wait_until("the job to start", 20, function() return H.runs(runs)[id] == 1 end)
      q:start { workers = 0, monitors = 1 }
      H.kill(pid, 9)
      local killed = H.now()
      -- Bounded by the invariant itself, plus a second for process scheduling.
      H.wait_until("the job to be pending again", lease + interval + 1, function() return #q:jobs() == 1 end)
      local took = H.now() - killed
      q:stop { grace = 0 }
      assert.truthy(took <= lease + interval + 1, "recovery took " .. took .. " s")
      assert.are.equal(1, q:jobs()[1].recoveries)
    end)
  end)

  describe("4, all time is Redis time:", function()
    local has_faketime = io.open(H.faketime_lib) ~= nil
    local faked = H.faketime

    it("leases by Redis time when the worker's clock runs an hour ahead", function()
      assert.is_true(has_faketime, "faketime is needed (apt-get install faketime)")
      local env, build = faked("+1h")
      local q, runs, config, name = R.queue(server, { lease = 2, monitor_interval = 0.2 })
      local id = q:queue { sleep = 60 }
      local pid = H.spawn_workers { name = name, redis = server.url, job_file = record, config = config,
        lease = 2, workers = 1, log_level = "error", env = env, build = build }
      H.wait_until("the job to start", 20, function() return H.runs(runs)[id] == 1 end)
      local t = q:command("TIME")
      local redis_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
      local expiry = q:inflight()[1].time
      assert.truthy(expiry > redis_ms and expiry <= redis_ms + 2000,
        "lease expiry " .. expiry .. " vs Redis time " .. redis_ms)
      -- A client-clock lease would be an hour away: recovery would not come.
      H.kill(pid, 9)
      q:start { workers = 0, monitors = 1 }
      H.wait_until("the job to be recovered", 10, function() return #q:jobs() == 1 end)
      q:stop { grace = 0 }
    end)

    it("does not recover a live job when the worker's clock runs an hour behind", function()
      assert.is_true(has_faketime, "faketime is needed (apt-get install faketime)")
      local env, build = faked("-1h")
      local q, runs, config, name = R.queue(server, { lease = 0.5, monitor_interval = 0.05 })
      local id = q:queue { sleep = 1.5 }
      local pid = H.spawn_workers { name = name, redis = server.url, job_file = record, config = config,
        lease = 0.5, workers = 1, log_level = "error", env = env, build = build }
      q:start { workers = 0, monitors = 1 }
      H.wait_until("the job to succeed", 20, function() return q:stats().counters.succeeded == 1 end)
      q:stop { grace = 0 }
      H.kill(pid, 9)
      assert.are.equal(1, H.runs(runs)[id])
      assert.are.equal(0, q:stats().counters.recovered)
    end)
  end)

  describe("5, every mutation is one script:", function()
    it("changes queue data only through scripts, with any number of workers and monitors", function()
      local q, runs, config, name = R.queue(server, { lease = 0.3, monitor_interval = 0.05 })
      -- MONITOR shows each command with its source; commands a script runs
      -- are marked "lua".
      local log = server.dir .. "/monitor.log"
      local monitor = tonumber(H.sh((H.plain .. "redis-cli -s %s MONITOR > %s 2>&1 & echo $!")
        :format(server.sock, log)))
      H.wait_until("MONITOR to start", 10, function() return H.sh("cat " .. log):match("OK") end)
      local jobs = {}
      for i = 1, 400 do
        jobs[i] = { n = i, retry_until = (i % 10 == 0) and 2 or nil, fail = (i % 25 == 0) and "x" or nil }
      end
      local ids = q:queue_many(jobs)
      local pids = {}
      for p = 1, 2 do
        pids[p] = H.spawn_workers { name = name, redis = server.url, job_file = record, config = config,
          lease = 0.3, monitor_interval = 0.05, workers = 3, monitors = 3, prefetch = 4, log_level = "error" }
      end
      q:start { job_file = record, config = config, workers = 2, monitors = 3 }
      H.wait_until("all jobs to finish", 60, function()
        local s = q:stats()
        return s.counters.succeeded + s.failed == 400
      end)
      q:stop { grace = 5 }
      for _, pid in ipairs(pids) do H.kill(pid, 9) end
      -- Every job ran exactly once, plus one more run per retry.
      local by_id = H.runs(runs)
      for i, id in ipairs(ids) do
        local expected = (i % 10 == 0 and 2 or 1)
        assert.are.equal(expected, by_id[id], "runs of job " .. i)
      end
      H.kill(monitor, 15)
      -- Outside scripts, clients sent only these: nothing that changes data
      -- but the scripts (and BLMOVE of a list onto itself, which does not;
      -- INFO and CONFIG GET are the start-up check of the server; monitors
      -- SUBSCRIBE to hear of jobs scheduled sooner than their next sweep;
      -- the spec's listings of the runs read lists, sets and groups).
      local allowed = { EVALSHA = true, BLMOVE = true, CLIENT = true, SCRIPT = true, LRANGE = true, ZREVRANGE = true,
        INFO = true, CONFIG = true, SUBSCRIBE = true, HSCAN = true, LLEN = true, ZCARD = true, HGET = true,
        LINDEX = true }
      local seen, scripted = 0, 0
      for line in io.lines(log) do
        local source, cmd = line:match('^%d+%.%d+ %[%d+ ([^%]]+)%] "(%w+)"')
        if source == "lua" then
          scripted = scripted + 1
        elseif source then
          seen = seen + 1
          assert.truthy(allowed[cmd:upper()], "sent outside a script: " .. line:sub(1, 200))
          if cmd:upper() == "CONFIG" then assert.matches('"CONFIG" "GET"', line) end
        end
      end
      assert.truthy(seen > 400 and scripted > 400)
    end)
  end)

  describe("6, cluster-ready keys:", function()
    it("keeps every key of a queue under its {name} hash tag, and runs on a cluster node", function()
      local dir = H.tmpdir()
      local node = { sock = dir .. "/cluster.sock" }
      H.sh((H.plain .. "redis-server --port 0 --unixsocket %s --dir %s --daemonize yes --pidfile %s/pid "
        .. "--logfile %s/log --save '' --cluster-enabled yes --cluster-config-file %s/nodes.conf")
        :format(node.sock, dir, dir, dir, dir))
      local url = "unix://" .. node.sock
      H.wait_until("the cluster node to start", 10, function()
        return H.sh(H.plain .. "redis-cli -s " .. node.sock .. " PING"):match("PONG")
      end)
      H.sh(H.plain .. "redis-cli -s " .. node.sock .. " CLUSTER ADDSLOTSRANGE 0 16383")
      H.wait_until("the cluster to be ok", 10, function()
        return H.sh(H.plain .. "redis-cli -s " .. node.sock .. " CLUSTER INFO"):match("cluster_state:ok")
      end)
      local ok, err = pcall(function()
        local q = H.hworker.open { name = "tagged", redis = url, lease = 0.2, monitor_interval = 0.05,
          log_level = "error", failed_cap = 5 }
        q:destroy()
        q:queue_many { { n = 1 }, { retry_until = 2 }, { fail = "x" } }
        q:queue({ n = 4 }, { delay = 0.1 })
        q:command("LPUSH", "hw:{tagged}:pending", "broken payload")
        local stale = q:step_claim(1, "dead")[1]
        H.wait_until("the dead claim to be recovered", 10, function() return q:step_sweep() >= 1 end)
        q:start { job_file = record, config = {}, workers = 2, monitors = 1 }
        H.wait_until("all jobs to finish", 20, function()
          local s = q:stats()
          return s.counters.succeeded == 3 and s.failed == 1 and s.broken == 1
        end)
        q:stop { grace = 5 }
        assert.is_false(q:step_finish(stale, "success"))
        -- The registry of queues is the one key of no queue.
        for _, key in ipairs(q:command("KEYS", "*")) do
          assert.truthy(key:find("hw:{tagged}:", 1, true) == 1 or key == "hw:queues",
            "key outside the hash tag: " .. key)
        end
        q:destroy()
        assert.are.same({}, q:command("KEYS", "*"))
      end)
      H.sh(H.plain .. "redis-cli -s " .. node.sock .. " SHUTDOWN NOSAVE; rm -rf " .. dir)
      assert(ok, err)
    end)
  end)

  describe("7, bounded work:", function()
    it("sweeps expired leases in bounded batches", function()
      local q = R.queue(server, { lease = 0.1 })
      local jobs = {}
      for i = 1, 250 do jobs[i] = { n = i } end
      q:queue_many(jobs)
      assert.are.equal(250, #q:step_claim(250, "dead"))
      H.wait_until("the leases to expire", 10, function()
        local t = q:command("TIME")
        local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
        return q:inflight { limit = 1 }[1].time < now
      end)
      assert.are.equal(100, (q:step_sweep(100)))
      assert.are.equal(100, (q:step_sweep(100)))
      assert.are.equal(50, (q:step_sweep(100)))
      assert.are.equal(0, (q:step_sweep(100)))
      assert.are.equal(250, q:stats().pending)
    end)

    it("caps the broken list", function()
      local q, _, config, name = R.queue(server, { broken_cap = 2 })
      for i = 1, 3 do q:command("LPUSH", R.key(name, "pending"), "bad " .. i) end
      q:start { job_file = record, config = config, workers = 1, monitors = 0 }
      H.wait_until("three broken jobs", 20, function() return q:stats().counters.broken == 3 end)
      q:stop { grace = 5 }
      local broken = q:broken()
      assert.are.equal(2, #broken)
      assert.are.equal("bad 3", broken[1].job_json)
    end)
  end)

  describe("8, no idle polling:", function()
    it("sends at most a few commands a second per idle worker", function()
      -- The monitor sweeps at its start and then not for a minute, so no
      -- sweep (one script of some 40 key checks) falls in the window.
      local q, _, _, name = R.queue(server, { monitor_interval = 60 })
      q:start { job_file = record, config = {}, workers = 4, monitors = 1 }
      local function total()
        local sum = 0
        for cmd, n in pairs(H.commandstats(q)) do
          if cmd ~= "info" then sum = sum + n end
        end
        return sum
      end
      -- The window starts once every connection is made (loading the
      -- scripts is set-up, not idle cost) and the monitor has swept once.
      H.wait_until("all four workers to be blocked in Redis and the monitor to have swept", 10, function()
        local blocked, swept = 0, false
        for line in q:command("CLIENT", "LIST"):gmatch("[^\n]+") do
          if line:find("name=hworker:" .. name .. ":worker", 1, true) and line:find("cmd=blmove", 1, true) then
            blocked = blocked + 1
          end
          if line:find("name=hworker:" .. name .. ":monitor", 1, true) and line:find("cmd=evalsha", 1, true) then
            swept = true
          end
        end
        return blocked == 4 and swept
      end)
      local before, t0, by_cmd = total(), H.now(), H.commandstats(q)
      -- A measurement window, not a wait for a condition.
      H.sleep(3)
      local calls, seconds = total() - before, H.now() - t0
      local detail = {}
      for cmd, n in pairs(H.commandstats(q)) do
        if n ~= (by_cmd[cmd] or 0) and cmd ~= "info" then
          detail[#detail + 1] = cmd .. "=" .. (n - (by_cmd[cmd] or 0))
        end
      end
      table.sort(detail)
      q:stop { grace = 1 }
      local per_worker_second = calls / (4 * seconds)
      assert.truthy(per_worker_second <= 2, ("%d commands in %.1f s from 4 idle workers: %s")
        :format(calls, seconds, table.concat(detail, " ")))
    end)
  end)

  describe("9, scripts are loaded once:", function()
    it("runs jobs by EVALSHA without resending script text, and reloads after SCRIPT FLUSH", function()
      local q, runs, config = R.queue(server)
      q:command("CONFIG", "RESETSTAT")
      local jobs = {}
      for i = 1, 300 do jobs[i] = { n = i } end
      q:queue_many(jobs)
      q:start { job_file = record, config = config, workers = 2, monitors = 1 }
      R.settle(q, 300)
      local stats = H.commandstats(q)
      assert.is_nil(stats.eval)
      -- At most one SCRIPT LOAD per script per connection (producer, 2
      -- workers, keeper, monitor, and each worker's follow-up enqueues).
      assert.truthy((stats["script|load"] or 0) <= 7 * 6, "script loads: " .. tostring(stats["script|load"]))
      q:command("SCRIPT", "FLUSH")
      for i = 1, 300 do jobs[i] = { n = 300 + i } end
      q:queue_many(jobs)
      R.settle(q, 600)
      q:stop { grace = 5 }
      local _, total = H.runs(runs)
      assert.are.equal(600, total)
    end)
  end)

  describe("10, reconnect:", function()
    it("keeps workers and monitors going after CLIENT KILL of every connection", function()
      local q, runs, config = R.queue(server, { lease = 1, monitor_interval = 0.1 })
      q:start { job_file = record, config = config, workers = 2, monitors = 1 }
      q:queue_many { { n = 1 }, { n = 2 } }
      R.settle(q, 2)
      q:command("CLIENT", "KILL", "TYPE", "normal")
      local more = {}
      for i = 1, 100 do more[i] = { n = i } end
      q:queue_many(more)
      R.settle(q, 102)
      q:stop { grace = 5 }
      local _, total = H.runs(runs)
      assert.are.equal(102, total)
    end)

    it("sends an outcome again after the connection was killed while the job ran", function()
      local q, runs, config = R.queue(server, { lease = 5 })
      local id = q:queue { sleep = 0.5 }
      q:start { job_file = record, config = config, workers = 1, monitors = 0 }
      H.wait_until("the job to start", 10, function() return H.runs(runs)[id] == 1 end)
      q:command("CLIENT", "KILL", "TYPE", "normal")
      H.wait_until("the job to succeed", 20, function() return q:stats().counters.succeeded == 1 end)
      q:stop { grace = 5 }
      assert.are.equal(1, H.runs(runs)[id])
      assert.are.equal(0, q:stats().inflight)
    end)

    it("keeps going across a redis-server restart", function()
      local q, runs, config = R.queue(server, { lease = 1, monitor_interval = 0.1 })
      q:start { job_file = record, config = config, workers = 2, monitors = 1 }
      q:queue { n = 1 }
      R.settle(q, 1)
      server.restart()
      local more = {}
      for i = 1, 50 do more[i] = { n = i } end
      q:queue_many(more)
      R.settle(q, 51, 60)
      q:stop { grace = 5 }
      local _, total = H.runs(runs)
      assert.are.equal(51, total)
    end)
  end)
end)
