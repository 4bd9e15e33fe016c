-- hworker-lua, the real binary, against a real redis-server (issue 3).
local H = require "spec.support.helper"
local R = require "spec.support.recorded"
local cjson = require "cjson"

local bin = H.build .. "/hworker-lua"
local record = H.job_path("record.lua")

local function cli(args, stdin, env) return H.run(bin, args, stdin, env) end
local read = H.read

local function lines(text)
  local t = {}
  for l in text:gmatch("[^\n]+") do t[#t + 1] = l end
  return t
end

-- Starts `hworker-lua run ...` in the background; returns pid and log path.
local function spawn_run(args, env)
  local dir = H.tmpdir()
  local log = dir .. "/run.log"
  local pid = tonumber(H.sh(("%s %s run %s > %s 2>&1 & echo $!"):format(env or "", H.quote(bin), args, H.quote(log))))
  return pid, log
end

describe("hworker-lua", function()
  local server, url
  lazy_setup(function()
    server = H.redis_server()
    url = H.quote(server.url)
  end)
  lazy_teardown(function() server.stop() end)
  after_each(H.cleanup)

  describe("help", function()
    -- docs/cli.md: a "## hworker-lua CMD" heading, then the help text in a code block.
    local docs = read(H.root .. "/docs/cli.md")
    local sections = {}
    for heading, block in docs:gmatch("\n## hworker%-lua([^\n]*)\n\n```\n(.-)```") do
      sections[#sections + 1] = { heading = heading, text = block }
    end

    it("matches docs/cli.md for the program and every subcommand", function()
      assert.truthy(#sections >= 10)
      local seen = 0
      for _, s in ipairs(sections) do
        local cmds = {}
        for c in s.heading:gmatch("[%a][%a-]*") do cmds[#cmds + 1] = c end
        if #cmds == 0 then cmds = { "" } end
        for _, c in ipairs(cmds) do
          local out, _, code = cli((c ~= "" and c .. " " or "") .. "--help")
          assert.are.equal(0, code)
          assert.are.equal(s.text, out, "help of '" .. c .. "' differs from docs/cli.md")
          seen = seen + 1
        end
      end
      assert.are.equal(26, seen) -- the program and its 25 subcommands
    end)

    it("prints the version", function()
      local out, _, code = cli("--version")
      assert.are.equal(0, code)
      assert.are.equal("hworker-lua 0.2.0\n", out)
      out, _, code = cli("-V")
      assert.are.equal(0, code)
      assert.are.equal("hworker-lua 0.2.0\n", out)
    end)

    it("takes help COMMAND for COMMAND --help", function()
      local out, _, code = cli("help run")
      assert.are.equal(0, code)
      assert.are.equal(cli("run --help"), out)
      assert.truthy(out:find("^usage: hworker%-lua run "), out)
    end)
  end)

  describe("usage errors", function()
    it("names the nearest command and flag, with exit code 2", function()
      local _, err, code = cli("rn")
      assert.are.equal(2, code)
      assert.are.equal("hworker-lua: unknown command 'rn' (did you mean 'run'?)\n", err)
      _, err, code = cli("run job.lua --name q --treads 4")
      assert.are.equal(2, code)
      assert.are.equal("hworker-lua run: unknown flag --treads (did you mean --threads?)\n", err)
      _, err, code = cli("stats q --jsn")
      assert.are.equal(2, code)
      assert.are.equal("hworker-lua stats: unknown flag --jsn (did you mean --json?)\n", err)
      _, err, code = cli("run job.lua --name q --threads many")
      assert.are.equal(2, code)
      assert.are.equal("hworker-lua run: --threads needs a whole number (got 'many')\n", err)
      _, err, code = cli("run job.lua")
      assert.are.equal(2, code)
      assert.are.equal("hworker-lua run: --name NAME is required (the queue to work on)\n", err)
    end)

    it("explains a bad Redis URL", function()
      local _, err, code = cli("stats q --redis http://x")
      assert.are.equal(2, code)
      assert.are.equal('hworker-lua stats: bad Redis URL "http://x": unknown scheme '
        .. "(expected redis://[user[:password]@]host[:port][/db], unix:///path[?db=N] "
        .. "or redis+cluster://[user[:password]@]host[:port],host[:port]... "
        .. "or redis+sentinel://[user[:password]@]host[:port],host[:port].../MASTER[/db]; "
        .. "rediss://, rediss+cluster:// and rediss+sentinel:// for TLS)\n", err)
    end)

    it("refuses stats of a queue that does not exist", function()
      local out, err, code = cli("stats no-such-queue-7Qx --redis " .. url)
      assert.are.equal(1, code)
      assert.are.equal("", out)
      assert.are.equal('hworker-lua stats: no queue named "no-such-queue-7Qx": `hworker-lua queues` lists them\n', err)
    end)

    it("refuses destroy without --yes", function()
      local _, err, code = cli("destroy q --redis " .. url)
      assert.are.equal(2, code)
      assert.are.equal("hworker-lua destroy: this deletes every job and record of queue q: add --yes to confirm\n", err)
    end)
  end)

  describe("queue", function()
    it("enqueues JSON arguments and prints one id per line", function()
      local q, _, _, name = R.queue(server)
      local out, err, code = cli(("queue %s --redis %s '{\"a\":1}' '[2]'"):format(name, url))
      assert.are.equal(0, code, err)
      local ids = lines(out)
      assert.are.equal(2, #ids)
      local jobs = q:jobs()
      assert.are.equal(ids[2], jobs[1].id)
      assert.are.same({ 2 }, jobs[1].job)
      assert.are.same({ a = 1 }, jobs[2].job)
    end)

    it("enqueues nothing when one argument is not JSON", function()
      local q, _, _, name = R.queue(server)
      local _, err, code = cli(("queue %s --redis %s '{\"a\":1}' '{oops}'"):format(name, url))
      assert.are.equal(2, code)
      assert.are.equal("hworker-lua queue: argument 2 is not valid JSON: line 1, column 2: "
        .. "object key (a string) expected (nothing was enqueued)\n", err)
      assert.are.equal(0, q:stats().pending)
    end)

    it("reads JSON lines from stdin in batches", function()
      local q, _, _, name = R.queue(server)
      local input = {}
      for i = 1, 7 do input[#input + 1] = ('{"n":%d}'):format(i) end
      local out, err, code = cli(("queue %s --redis %s --batch 3"):format(name, url),
        table.concat(input, "\n\n") .. "\n")
      assert.are.equal(0, code, err)
      assert.are.equal(7, #lines(out))
      assert.are.equal(7, q:stats().pending)
      assert.are.equal(7, q:jobs()[1].job.n)
      -- "-" as the only job means stdin too.
      out, err, code = cli(("queue %s --redis %s -"):format(name, url), '{"n":8}\n')
      assert.are.equal(0, code, err)
      assert.are.equal(1, #lines(out))
      assert.are.equal(8, q:jobs()[1].job.n)
    end)

    it("says on stderr when a --unique key is held, printing the holder's id", function()
      local q, _, _, name = R.queue(server)
      local out, err, code = cli(("queue %s --redis %s --unique report-7 '{\"n\":1}'"):format(name, url))
      assert.are.equal(0, code, err)
      assert.are.equal("", err)
      local id = out:match("^(%S+)\n$")
      out, err, code = cli(("queue %s --redis %s --unique report-7 '{\"n\":2}'"):format(name, url))
      assert.are.equal(0, code, err)
      assert.are.equal(id .. "\n", out)
      assert.are.equal('hworker-lua queue: unique key "report-7" is held by job ' .. id .. ": nothing was added\n", err)
      assert.are.equal(1, q:stats().pending)
    end)

    it("reports a bad line with line and column and sends nothing of its batch", function()
      local q, _, _, name = R.queue(server)
      local input = '{"n":1}\n{"n":2}\n{"n":3}\n{"n": }\n{"n":5}\n'
      local out, err, code = cli(("queue %s --redis %s --batch 2"):format(name, url), input)
      assert.are.equal(1, code)
      assert.are.equal("hworker-lua queue: stdin line 4, column 7: value expected, found '}'; nothing from lines 3-4 "
        .. "was sent (2 job(s) sent before)\n", err)
      assert.are.equal(2, #lines(out))
      assert.are.equal(2, q:stats().pending)
    end)

    it("schedules with --in and --at on Redis time", function()
      local q, _, _, name = R.queue(server)
      local _, err, code = cli(("queue %s --redis %s --in 60 '{\"n\":1}'"):format(name, url))
      assert.are.equal(0, code, err)
      local t = q:command("TIME")
      local now = tonumber(t[1]) * 1000
      local due = q:scheduled()[1].time
      assert.truthy(due > now + 55000 and due < now + 65000)
      _, err, code = cli(("queue %s --redis %s --at 2001-01-01T00:00:00Z '{\"n\":2}'"):format(name, url))
      assert.are.equal(0, code, err)
      assert.are.equal(1, q:stats().pending) -- a time in the past runs now
      local _, err2, code2 = cli(("queue %s --redis %s --at tomorrow '{}'"):format(name, url))
      assert.are.equal(2, code2)
      assert.matches("--at tomorrow is not an ISO 8601 time", err2, 1, true)
    end)
  end)

  describe("inspection", function()
    it("lists each part as JSON lines with the documented fields", function()
      local q, _, _, name = R.queue(server)
      local ids = q:queue_many { { n = 1 }, { n = 2 }, { n = 3 } }
      q:queue({ n = 4 }, { delay = 600 })
      local claims = q:step_claim(2, "host:1:w1")
      q:step_finish(claims[1], "failure", "no such user")
      q:command("LPUSH", R.key(name, "pending"), "garbage\255")
      local broken_claim = q:step_claim(2, "host:1:w2") -- ids[3], then the garbage
      q:step_finish(broken_claim[2], "broken", "not an hworker envelope")
      local last = q:queue { n = 5 }

      local function list(part)
        local out, err, code = cli(("%s %s --redis %s"):format(part, name, url))
        assert.are.equal(0, code, err)
        local t = {}
        for _, l in ipairs(lines(out)) do t[#t + 1] = cjson.decode(l) end
        return t
      end
      local jobs = list("jobs")
      assert.are.equal(1, #jobs)
      assert.are.equal(last, jobs[1].id)
      assert.are.same({ n = 5 }, jobs[1].job)
      assert.are.equal(1, jobs[1].attempt)
      assert.truthy(jobs[1].enqueued_at > 0)
      local inflight = list("inflight")
      assert.are.equal(2, #inflight)
      for _, e in ipairs(inflight) do
        assert.truthy(e.holder:match("^host:1:w[12]$"))
        assert.truthy(e.lease_expires_at > 0)
        assert.truthy(e.job.n)
      end
      local scheduled = list("scheduled")
      assert.are.equal(4, scheduled[1].job.n)
      assert.truthy(scheduled[1].due_at > 0)
      local failed = list("failed")
      assert.are.equal(ids[1], failed[1].id)
      assert.are.equal("no such user", failed[1].reason)
      assert.are.same({ n = 1 }, failed[1].job)
      assert.truthy(failed[1].failed_at > 0 and failed[1].record)
      local broken = list("broken")
      assert.are.equal("garbage\195\191", broken[1].payload) -- the byte 0xff, shown as \u00ff
      assert.are.equal("not an hworker envelope", broken[1].reason)
      assert.truthy(broken[1].broken_at > 0 and broken[1].record)
      local paged = cli(("jobs %s --redis %s --limit 1 --offset 5"):format(name, url))
      assert.are.equal("", paged)
    end)

    it("prints stats, and with --json exactly the documented names", function()
      local q, _, _, name = R.queue(server)
      q:queue { n = 1 }
      local out, err, code = cli(("stats %s --redis %s --json"):format(name, url))
      assert.are.equal(0, code, err)
      local s = cjson.decode(out)
      local keys = {}
      for k in pairs(s) do keys[#keys + 1] = k end
      table.sort(keys)
      assert.are.same({ "broken", "counters", "failed", "flow", "inflight", "latency_ms", "lateness_ms", "pending",
        "scheduled" }, keys)
      assert.are.same({ paused = false, concurrency = 0, rate = 0, rate_period_ms = cjson.null, burst = 0,
        group_concurrency = 0, group_rate = 0, group_rate_period_ms = cjson.null, group_burst = 0, events = 0 }, s.flow)
      assert.are.equal(0, s.lateness_ms.samples) -- no job waited: no figures (null)
      assert.are.equal(cjson.null, s.lateness_ms.p99)
      local counters = {}
      for k in pairs(s.counters) do counters[#counters + 1] = k end
      table.sort(counters)
      assert.are.same({ "broken", "cancelled", "deleted", "enqueued", "exhausted", "failed", "handed_back",
        "lease_lost", "merged", "processed", "promoted", "recovered", "requeued", "retried", "scheduled", "succeeded" },
        counters)
      assert.are.equal(1, s.pending)
      assert.are.equal(1, s.counters.enqueued)
      out = cli(("stats %s --redis %s"):format(name, url))
      assert.matches("pending%s+1%s+enqueued%s+1", out)
    end)

    it("pauses, resumes and limits a queue, its groups too, and enqueues into a group", function()
      local q, _, _, name = R.queue(server)
      local function run(args)
        local out, err, code = cli(args:format(name) .. " --redis " .. url)
        assert.are.equal(0, code, err)
        return out
      end
      assert.matches("queue " .. name:gsub("%p", "%%%0") .. " paused", run("pause %s"))
      assert.is_true(q:limits().paused)
      run("resume %s")
      assert.is_false(q:limits().paused)
      run("limit %s --concurrency 7 --rate 100/s")
      run("limit %s --group '*' --concurrency 2 --rate 5/min --burst 1")
      run("limit %s --group acme --concurrency 1")
      local flow = cjson.decode(run("limit ls %s --json"))
      assert.are.same({ paused = false, concurrency = 7, rate = 100, rate_period_ms = 1000, burst = 0,
        group_concurrency = 2, group_rate = 5, group_rate_period_ms = 60000, group_burst = 1, events = 0 }, flow)
      local key = "hw:{" .. name .. "}:groups"
      assert.are.equal("1", q:command("HGET", key, "c:acme"))
      assert.is_nil(q:command("HGET", key, "i:acme"))
      -- Without a flag, a group's limits are not touched.
      local _, err, code = cli(("limit %s --group acme --redis %s"):format(name, url))
      assert.are.equal(2, code)
      assert.matches("%-%-group takes the group's limits", err)
      local id = run("queue %s --group acme '{\"n\":1}'"):match("^(%S+)\n$")
      assert.truthy(id)
      assert.are.equal(1, q:stats().pending)
      assert.are.equal(1, q:command("LLEN", "hw:{" .. name .. "}:g:acme"))
      _, err, code = cli(("queue %s --group 'a\"b' '{}' --redis %s"):format(name, url))
      assert.are.equal(1, code)
      assert.matches("a group key is printable ASCII but", err, 1, true)
      -- Deleting the queue deletes its groups' lists too.
      q:destroy()
      assert.are.equal(0, q:command("EXISTS", "hw:{" .. name .. "}:g:acme"))
    end)

    it("requeues and deletes failed and broken records by id or all", function()
      local q, _, _, name = R.queue(server)
      local ids = q:queue_many { { n = 1 }, { n = 2 }, { n = 3 } }
      for _, c in ipairs(q:step_claim(3, "w")) do q:step_finish(c, "failure", "x") end
      local out, err, code = cli(("requeue %s --redis %s --failed %s"):format(name, url, ids[2]))
      assert.are.equal(0, code, err)
      assert.are.equal("requeued 1 failed record(s)\n", out)
      assert.are.equal(ids[2], q:jobs()[1].id)
      local failed_id = q:failed()[1].record
      out = cli(("delete %s --redis %s --failed %s"):format(name, url, failed_id))
      assert.are.equal("deleted 1 failed record(s)\n", out)
      out = cli(("requeue %s --redis %s --failed --all"):format(name, url))
      assert.are.equal("requeued 1 failed record(s)\n", out)
      local s = q:stats()
      assert.are.equal(0, s.failed)
      assert.are.equal(2, s.pending)
      q:command("LPUSH", R.key(name, "pending"), "junk")
      local c = q:step_claim(3, "w")
      q:step_finish(c[3], "broken", "junk")
      out = cli(("delete %s --redis %s --broken --all"):format(name, url))
      assert.are.equal("deleted 1 broken record(s)\n", out)
      local _, err2, code2 = cli(("requeue %s --redis %s --failed"):format(name, url))
      assert.are.equal(2, code2)
      assert.are.equal("hworker-lua requeue: give --all or job/record ids, not neither\n", err2)
      -- An id that matches no record is named, and the exit status says so.
      out, err, code = cli(("requeue %s --redis %s --failed nosuchid"):format(name, url))
      assert.are.equal(1, code)
      assert.are.equal("requeued 0 failed record(s)\n", out)
      assert.truthy(err:find("no failed record of nosuchid", 1, true), err)
    end)

    it("destroys a queue", function()
      local q, _, _, name = R.queue(server)
      q:queue { n = 1 }
      local out, _, code = cli(("destroy %s --redis %s --yes"):format(name, url))
      assert.are.equal(0, code)
      assert.are.equal("destroyed queue " .. name .. "\n", out)
      assert.are.equal(0, q:stats().pending)
    end)

    it("checks the Redis settings and warns when at-least-once is at risk", function()
      local out, _, code = cli("check --redis " .. url)
      assert.are.equal(0, code, out)
      -- Read from INFO: the version as the server gives it, and its role.
      local version = server.cli("INFO", "server"):match("redis_version:([%d.]+)")
      assert.matches("redis_version     " .. version .. "\n", out, 1, true)
      assert.matches("role              master\n", out, 1, true)
      assert.matches("appendonly%s+yes", out)
      assert.matches("ok: the settings at%-least%-once needs are in place", out)
      server.cli("CONFIG", "SET", "maxmemory-policy", "allkeys-lru")
      out, _, code = cli("check --redis " .. url)
      server.cli("CONFIG", "SET", "maxmemory-policy", "noeviction")
      assert.are.equal(1, code)
      assert.matches("warning: Redis has maxmemory-policy allkeys-lru: it may evict queue keys under memory "
        .. "pressure (set noeviction)", out, 1, true)
    end)

    -- Managed services often refuse CONFIG: what check cannot read, it
    -- says it cannot judge, and that alone does not fail it.
    it("reports the settings a Redis that refuses CONFIG hides, without failing on them", function()
      local hidden = H.redis_server { args = "--rename-command CONFIG ''" }
      hidden.start()
      local out, _, code = cli("check --redis " .. hidden.url)
      hidden.stop()
      assert.are.equal(0, code, out)
      assert.matches("appendonly%s+%(unknown%)", out)
      assert.matches("unknown: appendonly is unknown (CONFIG GET refused)", out, 1, true)
      assert.matches("unknown: maxmemory-policy is unknown (CONFIG GET refused)", out, 1, true)
      assert.matches("ok: no setting this server shows puts at-least-once at risk", out, 1, true)
    end)

    it("logs pending and in-flight jobs with debug until interrupted", function()
      local q, _, _, name = R.queue(server)
      local id = q:queue { n = 1 }
      local dir = H.tmpdir()
      local log = dir .. "/debug.log"
      local pid = tonumber(H.sh(("%s debug %s --redis %s --interval 0.05 > %s 2>&1 & echo $!"):format(
        H.quote(bin), name, url, log)))
      -- Three lines: the interval is read as seconds (0.05), not as
      -- milliseconds, nor as whole seconds.
      H.wait_until("three debug lines", 10, function()
        local _, count = read(log):gsub("debug: pending 1", "")
        return count >= 3
      end)
      H.kill(pid, 2)
      H.wait_until("debug to exit", 10, function() return not H.alive(pid) end)
      assert.matches("debug: pending 1 %[" .. id .. "%] in flight 0 %[%]", read(log))
      H.sh("rm -rf " .. dir)
    end)

    it("takes debug --interval in seconds, or with a unit, and refuses a bare number that was milliseconds", function()
      local _, said, code = cli("debug q --redis " .. url .. " --interval 500")
      assert.are.equal(2, code)
      assert.matches("--interval takes seconds, from 0.001 to 86400: write 0.5, 500ms or 120s", said, 1, true)
      for _, bad in ipairs { "0", "-1", "abc", "5min", "100000" } do
        local _, why, c = cli("debug q --redis " .. url .. " --interval " .. bad)
        assert.are.equal(2, c, bad)
        assert.matches("--interval takes seconds", why, 1, true)
      end
    end)
  end)

  describe("run", function()
    it("runs jobs, writes only log lines into a pipe, and stops on SIGTERM", function()
      local q, runs, config, name = R.queue(server)
      q:queue_many { { n = 1 }, { n = 2 } }
      local pid, log = spawn_run(("%s --name %s --redis %s --threads 2 --config %s"):format(
        H.quote(record), name, url, H.quote(cjson.encode(config))))
      H.wait_until("both jobs to succeed", 20, function() return q:stats().counters.succeeded == 2 end)
      H.kill(pid, 15)
      H.wait_until("run to exit", 20, function() return not H.alive(pid) end)
      local text = read(log)
      assert.is_nil(text:find("\r", 1, true))
      assert.truthy(text:find("info [" .. name .. "] running " .. record .. " on queue " .. name, 1, true), text)
      assert.are.equal("info [" .. name .. "] stopped\n", text:sub(-#("info [" .. name .. "] stopped\n")))
      local _, total = H.runs(runs)
      assert.are.equal(2, total)
    end)

    it("keeps to --log-level for its own lines too", function()
      local q, _, config, name = R.queue(server)
      q:queue { n = 1 }
      local pid, log = spawn_run(("%s --name %s --redis %s --threads 1 --log-level warn --config %s"):format(
        H.quote(record), name, url, H.quote(cjson.encode(config))))
      H.wait_until("the job to succeed", 20, function() return q:stats().counters.succeeded == 1 end)
      H.kill(pid, 15)
      H.wait_until("run to exit", 20, function() return not H.alive(pid) end)
      assert.are.equal("", read(log))
    end)

    it("hands unfinished jobs back within the grace period on SIGTERM, losing nothing", function()
      local q, runs, config, name = R.queue(server, { lease = 30 })
      local ids = q:queue_many { { sleep = 60 }, { sleep = 60 }, { n = 3 } }
      local pid = spawn_run(("%s --name %s --redis %s --threads 2 --grace 0.5 --lease 30 --config %s"):format(
        H.quote(record), name, url, H.quote(cjson.encode(config))))
      H.wait_until("two long jobs to start", 20, function() local _, n = H.runs(runs) return n == 2 end)
      H.kill(pid, 15)
      H.wait_until("run to exit after the grace period", 20, function() return not H.alive(pid) end)
      local s = q:stats()
      assert.are.equal(0, s.inflight)
      assert.are.equal(3, s.pending)
      assert.are.equal(2, s.counters.handed_back)
      local pending = {}
      for _, e in ipairs(q:jobs()) do pending[e.id] = true end
      for _, id in ipairs(ids) do assert.truthy(pending[id]) end
    end)

    it("stops at once on a second signal, still handing back", function()
      local q, runs, config, name = R.queue(server, { lease = 30 })
      q:queue { sleep = 60 }
      local pid, log = spawn_run(("%s --name %s --redis %s --threads 1 --grace 600 --config %s"):format(
        H.quote(record), name, url, H.quote(cjson.encode(config))))
      H.wait_until("the job to start", 20, function() local _, n = H.runs(runs) return n == 1 end)
      H.kill(pid, 15)
      H.wait_until("the first signal to be taken", 10, function() return read(log):find("stopping: no new jobs") end)
      H.kill(pid, 2)
      H.wait_until("run to exit", 20, function() return not H.alive(pid) end)
      assert.matches("stopping now: handing back the running jobs", read(log))
      local s = q:stats()
      assert.are.equal(1, s.pending)
      assert.are.equal(0, s.inflight)
    end)

    it("reloads the job file on SIGHUP with no job lost or run twice, "
      .. "and keeps the old one if the new fails", function()
      local dir = H.tmpdir()
      local job = H.file(dir, "job.lua", [[
        function init(config) return config end
        function job(state, t, meta) hworker.queue(state.runs, { id = meta.id, version = 1 }) end
      ]])
      local q, runs, config, name = R.queue(server)
      local pid, log = spawn_run(("%s --name %s --redis %s --threads 2 --config %s"):format(
        H.quote(job), name, url, H.quote(cjson.encode(config))))
      local all = {}
      local function enqueue(n, spin)
        local batch = {}
        for i = 1, n do batch[i] = { n = i, spin = spin } end
        for _, id in ipairs(q:queue_many(batch)) do all[#all + 1] = id end
      end
      enqueue(100)
      H.wait_until("the first jobs to run on version 1", 30, function() return q:stats().counters.succeeded == 100 end)
      -- Reload while jobs are flowing.
      enqueue(200, 0.005)
      H.file(dir, "job.lua", [[
        function init(config) return config end
        function job(state, t, meta) hworker.queue(state.runs, { id = meta.id, version = 2 }) end
      ]])
      H.kill(pid, 1)
      H.wait_until("the reload to be logged", 10, function() return read(log):find("reloading", 1, true) end)
      enqueue(100)
      H.wait_until("all jobs to succeed", 60, function() return q:stats().counters.succeeded == 400 end)
      -- A file that does not load leaves the running one in place.
      H.file(dir, "job.lua", "function job(state, t)\n  return (\nend\n")
      H.kill(pid, 1)
      H.wait_until("the failed reload to be logged", 10, function()
        return read(log):find("reload failed, the old job file keeps running: " .. dir .. "/job.lua:3:", 1, true)
      end)
      enqueue(1)
      H.wait_until("the last job to succeed", 20, function() return q:stats().counters.succeeded == 401 end)
      H.kill(pid, 15)
      H.wait_until("run to exit", 20, function() return not H.alive(pid) end)
      local count, versions = {}, {}
      for _, e in ipairs(runs:jobs { limit = 1000 }) do
        count[e.job.id] = (count[e.job.id] or 0) + 1
        versions[e.job.version] = (versions[e.job.version] or 0) + 1
      end
      for _, id in ipairs(all) do assert.are.equal(1, count[id], "runs of " .. id) end
      assert.truthy(versions[1] and versions[1] >= 100, cjson.encode(versions))
      -- Every job enqueued after the reload was logged, and the last one.
      assert.truthy(versions[2] and versions[2] >= 101, cjson.encode(versions))
      assert.are.equal(401, versions[1] + versions[2]) -- every job enqueued after the reload log line, and the last
      H.sh("rm -rf " .. dir)
    end)

    it("says why a job file cannot be loaded, with file and line", function()
      local _, err, code = cli("run /nonexistent/job.lua --name q --redis " .. url)
      assert.are.equal(1, code)
      assert.are.equal("hworker-lua run: /nonexistent/job.lua: cannot open the job file: "
        .. "No such file or directory\n", err)
      local dir = H.tmpdir()
      local bad = H.file(dir, "bad.lua", "function job()\n  x = = 1\nend\n")
      _, err, code = cli(("run %s --name q --redis %s"):format(bad, url))
      assert.are.equal(1, code)
      assert.matches("^hworker%-lua run: " .. bad:gsub("%p", "%%%0") .. ":2: ", err)
      H.sh("rm -rf " .. dir)
    end)

    it("keeps retrying an unreachable Redis, saying so, and still stops on SIGTERM", function()
      local pid, log = spawn_run(("%s --name q --redis unix:///nonexistent/redis.sock --threads 1")
        :format(H.quote(record)))
      H.wait_until("the retry to be logged", 20, function()
        return read(log):find("cannot connect to Redis at unix:///nonexistent/redis.sock: ", 1, true)
          and read(log):find("; retrying (attempt ", 1, true)
      end)
      H.kill(pid, 15)
      H.wait_until("run to exit", 20, function() return not H.alive(pid) end)
    end)

    it("shows a live status line on a terminal", function()
      local q, _, config, name = R.queue(server)
      q:queue_many { { n = 1 }, { n = 2 } }
      local dir = H.tmpdir()
      local typescript = dir .. "/tty.log"
      -- script(1) gives the runner a pseudo-terminal as its stdout.
      local pid = tonumber(H.sh(("script -qfec %s %s > /dev/null 2>&1 & echo $!"):format(
        H.quote(("%s run %s --name %s --redis %s --threads 1 --config %s"):format(H.quote(bin), H.quote(record), name,
          url, H.quote(cjson.encode(config)))), H.quote(typescript))))
      H.wait_until("the status line", 20, function()
        return read(typescript):find("jobs/s | processed 2 | pending 0 | in flight 0 | failed 0 | recovered 0", 1, true)
      end)
      H.sh(H.plain .. "pkill -TERM -f " .. H.quote("[h]worker-lua run .*--name " .. name))
      H.wait_until("run to exit", 20, function() return not H.alive(pid) end)
      assert.truthy(read(typescript):find("\r\27[K", 1, true))
      H.sh("rm -rf " .. dir)
    end)

    it("writes JSON log lines with --log-format json", function()
      local q, _, config, name = R.queue(server)
      q:queue { n = 1 }
      local pid, log = spawn_run(("%s --name %s --redis %s --threads 1 --log-format json --config %s"):format(
        H.quote(record), name, url, H.quote(cjson.encode(config))))
      H.wait_until("the job to succeed", 20, function() return q:stats().counters.succeeded == 1 end)
      H.kill(pid, 15)
      H.wait_until("run to exit", 20, function() return not H.alive(pid) end)
      for _, l in ipairs(lines(read(log))) do
        local entry = cjson.decode(l)
        assert.truthy(entry.ts and entry.level and entry.msg)
        assert.are.equal(name, entry.queue)
      end
    end)

    it("gives trusted handlers ffi and C modules, which the strict sandbox refuses", function()
      local dir = H.tmpdir()
      local job = H.file(dir, "job.lua", [[
        local ffi = require "ffi"
        function init(config) return config end
        function job(state, t) hworker.queue(state.runs, { sandbox = hworker.sandbox, size = ffi.sizeof("int") }) end
      ]])
      local q, runs, config, name = R.queue(server)
      local _, err, code = cli(("run %s --name %s --redis %s --threads 1"):format(job, name, url))
      assert.are.equal(1, code)
      assert.matches("module 'ffi' not found", err)
      q:queue { n = 1 }
      local pid = spawn_run(("%s --name %s --redis %s --threads 1 --sandbox trusted --config %s"):format(
        H.quote(job), name, url, H.quote(cjson.encode(config))))
      H.wait_until("the job to succeed", 20, function() return q:stats().counters.succeeded == 1 end)
      H.kill(pid, 15)
      H.wait_until("run to exit", 20, function() return not H.alive(pid) end)
      assert.are.same({ sandbox = "trusted", size = 4 }, runs:jobs()[1].job)
      H.sh("rm -rf " .. dir)
    end)
  end)
end)
