-- The process registry (docs/operations.md, "Processes"): a process with
-- workers beats every third of its lease and is listed by q:processes()
-- and `hworker-lua ps`; one killed without a word drops out a lease after
-- its last beat, one that stops takes itself out at once. The registry of
-- queues lists every queue a producer or a worker used, without SCAN.
local H = require "spec.support.helper"

local bin = H.build .. "/hworker-lua"
local record = H.job_path("record.lua")

describe("the process registry", function()
  local server
  lazy_setup(function() server = H.redis_server() end)
  lazy_teardown(function() server.stop() end)
  after_each(H.cleanup)

  local function only(q)
    local list = q:processes()
    return #list == 1 and list[1] or nil
  end

  it("lists a runner with its threads and job file, counts its busy threads, and drops it after kill -9", function()
    local q, name = H.queue(server, { lease = 1 })
    local pid = H.spawn_workers({ name = name, redis = server.url, job_file = record, workers = 3, monitors = 1,
      lease = 1, log_level = "error" })
    local p
    H.wait_until("the runner to beat with its 3 threads", 20, function()
      p = only(q)
      return p ~= nil and p.threads == 3
    end)
    assert.are.equal(pid, p.pid)
    assert.are.equal(name, p.queue)
    assert.are.equal(record, p.job_file)
    assert.are.equal(H.hworker.version, p.version)
    assert.are.equal(p.host .. ":" .. pid, p.id:match("^(.*):[^:]+$"))
    assert.is_true(p.expires_at > p.beat_at and p.beat_at >= p.started_at - 5000)
    assert.are.equal(0, p.busy)
    q:queue_many({ { n = 1, sleep = 30 }, { n = 2, sleep = 30 } })
    H.wait_until("a beat to count 2 busy threads", 20, function()
      p = only(q)
      return p ~= nil and p.busy == 2
    end)
    H.kill(pid, 9)
    H.wait_until("the killed runner to drop out", 20, function() return #q:processes() == 0 end)
    -- Only its registration went: nothing was left behind for it.
    assert.are.equal(0, tonumber(q:command("HLEN", "hw:{" .. name .. "}:procs")))
  end)

  it("takes a process out as soon as its workers stop, and keeps two handles of one process apart", function()
    local q, name = H.queue(server)
    local dir = H.tmpdir()
    local job = H.file(dir, "noop.lua", "function job() end\n")
    local other = H.track(H.hworker.open { name = name, redis = server.url, log_level = "error" })
    q:start { job_file = job, workers = 1, monitors = 0 }
    other:start { job_file = job, workers = 2, monitors = 0 }
    local list
    H.wait_until("both handles to beat", 20, function()
      list = q:processes()
      return #list == 2 and list[1].threads + list[2].threads == 3
    end)
    assert.are_not.equal(list[1].id, list[2].id)
    q:stop { grace = 1 }
    list = q:processes()
    assert.are.equal(1, #list)
    assert.are.equal(2, list[1].threads)
    other:stop { grace = 1 }
    assert.are.same({}, q:processes())
  end)

  it("ps lists the processes of one queue or of every queue, as text or JSON", function()
    local a, name_a = H.queue(server)
    local b, name_b = H.queue(server)
    H.spawn_workers({ name = name_a, redis = server.url, job_file = record, workers = 1, monitors = 0,
      log_level = "error" })
    H.spawn_workers({ name = name_b, redis = server.url, job_file = record, workers = 2, monitors = 0,
      log_level = "error" })
    -- A runner's first beat may come before all its threads have started.
    H.wait_until("both runners to beat with all their threads", 20, function()
      local pa, pb = a:processes(), b:processes()
      return #pa == 1 and #pb == 1 and pa[1].threads == 1 and pb[1].threads == 2
    end)
    local redis = " --redis " .. H.quote(server.url)
    local out, err, code = H.run(bin, "ps --json" .. redis)
    assert.are.equal(0, code, err)
    local seen = {}
    for line in out:gmatch("[^\n]+") do
      local p = H.cjson.decode(line)
      seen[p.queue] = p.threads
      assert.is_number(p.beat_at)
      assert.are.equal(record, p.job_file)
    end
    assert.are.equal(1, seen[name_a])
    assert.are.equal(2, seen[name_b])
    out, err, code = H.run(bin, "ps " .. H.quote(name_b) .. redis)
    assert.are.equal(0, code, err)
    assert.truthy(out:match("^ID%s+QUEUE%s+THREADS%s+BUSY%s+STARTED%s+LAST BEAT%s+VERSION%s+JOB FILE\n"), out)
    assert.truthy(out:find("\n%S+%s+" .. name_b:gsub("%p", "%%%0") .. "%s+2%s+0%s+%d%d%d%d%-%d%d%-%d%dT"), out)
    assert.falsy(out:find(name_a, 1, true), out)
    out, err, code = H.run(bin, "ps nobody-runs-this" .. redis)
    assert.are.equal(0, code, err)
    assert.are.equal("no live process with workers\n", out)
  end)

  it("tells a running job from one claimed behind it, in ps, q:inflight() and inflight as JSON or ISO-8601 text",
    function()
    local q, name = H.queue(server, { lease = 2 })
    local pid = H.spawn_workers({ name = name, redis = server.url, job_file = record, workers = 1, monitors = 0,
      lease = 2, log_level = "error" })
    local slow = q:queue { n = 1, sleep = 60 }
    local before = H.redis_time_ms(server)
    local p
    H.wait_until("a beat to report the job running", 20, function()
      p = only(q)
      return p ~= nil and #p.running == 1
    end)
    assert.are.equal(slow, p.running[1].id)
    assert.truthy(p.running[1].worker:find(":" .. pid .. ":", 1, true), p.running[1].worker)
    -- A second job, claimed as a worker claims the rest of its batch: in
    -- flight, and not started.
    local waiting = q:queue { n = 2 }
    assert.are.equal(1, #q:step_claim(1, "elsewhere:1:w1"))
    local redis = " --redis " .. H.quote(server.url)
    local out, err, code = H.run(bin, "inflight " .. H.quote(name) .. redis)
    assert.are.equal(0, code, err)
    local by_id = {}
    for line in out:gmatch("[^\n]+") do
      local e = H.cjson.decode(line)
      by_id[e.id] = e
    end
    assert.are.equal("running", by_id[slow].state)
    assert.are.equal(p.running[1].started_at, by_id[slow].started_at)
    assert.is_true(by_id[slow].started_at >= by_id[slow].enqueued_at and by_id[slow].started_at <= before + 60000)
    assert.are.equal("claimed", by_id[waiting].state)
    assert.are.equal(H.cjson.null, by_id[waiting].started_at)
    local listed = {}
    for _, e in ipairs(q:inflight()) do listed[e.id] = e end
    assert.are.equal(p.running[1].started_at, listed[slow].started_at)
    assert.is_nil(listed[waiting].started_at)
    -- As text: key=value fields, times in ISO 8601 (UTC, to the ms) that
    -- stand for the same instants as the JSON's milliseconds.
    local function iso(ms)
      return os.date("!%Y-%m-%dT%H:%M:%S", math.floor(ms / 1000)) .. (".%03dZ"):format(ms % 1000)
    end
    out, err, code = H.run(bin, "inflight --text " .. H.quote(name) .. redis)
    assert.are.equal(0, code, err)
    local lines = {}
    for line in out:gmatch("[^\n]+") do lines[line:match("^id=(%S+)")] = line end
    local e = by_id[slow]
    assert.truthy(lines[slow]:find(" enqueued_at=" .. iso(e.enqueued_at) .. " ", 1, true), lines[slow])
    assert.truthy(lines[slow]:find(" started_at=" .. iso(e.started_at) .. " ", 1, true), lines[slow])
    assert.truthy(lines[slow]:find(" lease_expires_at=" .. iso(e.lease_expires_at) .. " ", 1, true), lines[slow])
    assert.truthy(lines[slow]:find(" state=running ", 1, true), lines[slow])
    assert.truthy(lines[waiting]:find(" state=claimed started_at=- ", 1, true), lines[waiting])
    assert.truthy(lines[waiting]:find(' job="{\\"n\\":2}"$'), lines[waiting])
    out, err, code = H.run(bin, "ps " .. H.quote(name) .. redis)
    assert.are.equal(0, code, err)
    assert.truthy(out:find("\n  running=" .. slow .. " worker=" .. p.running[1].worker:gsub("%p", "%%%0")
      .. " since=" .. iso(p.running[1].started_at):gsub("%p", "%%%0") .. "\n"), out)
    out, err, code = H.run(bin, "scheduled --text --json " .. H.quote(name) .. redis)
    assert.are.equal(2, code, out)
    assert.truthy(err:find("--text and --json cannot go together", 1, true), err)
  end)

  it("keeps a registry of queues that producers and workers add to and destroy takes out", function()
    local q, name = H.queue(server)
    local function listed()
      for _, n in ipairs(q:command("SMEMBERS", "hw:queues")) do if n == name then return true end end
      return false
    end
    assert.is_false(listed())
    q:queue { n = 1 }
    assert.is_true(listed())
    q:destroy()
    assert.is_false(listed())
    H.spawn_workers({ name = name, redis = server.url, job_file = record, workers = 1, monitors = 0,
      log_level = "error" })
    H.wait_until("the runner to add its queue", 20, listed)
  end)

  it("queues lists each registered queue with its sizes, whether it is paused, and its latency", function()
    local plain, name_plain = H.queue(server)
    local due, name_due = H.queue(server)
    local grouped, name_grouped = H.queue(server)
    local sharded, name_sharded = H.queue(server, { shards = 2 })
    local empty, name_empty = H.queue(server)
    local t0 = H.redis_time_ms(server)
    -- Jobs as another producer would push them, ready for a known time:
    -- since they were enqueued, or since they came due ("da").
    plain:queue { n = 0 }
    plain:command("RPUSH", "hw:{" .. name_plain .. "}:pending",
      ('{"v":1,"id":"old","eq":%d}\n{"n":1}'):format(t0 - 60000))
    due:queue { n = 0 }
    due:command("RPUSH", "hw:{" .. name_due .. "}:pending",
      ('{"v":1,"id":"due","eq":%d,"da":%d}\n{"n":1}'):format(t0 - 600000, t0 - 30000))
    -- A group's token at the front: its list's front job is the one in line.
    grouped:queue({ n = 1 }, { group = "acme" })
    grouped:command("LSET", "hw:{" .. name_grouped .. "}:g:acme", "-1",
      ('{"v":1,"id":"g","eq":%d,"g":"acme"}\n{"n":1}'):format(t0 - 45000))
    sharded:queue_many({ { n = 1 }, { n = 2 }, { n = 3 } })
    sharded:pause()
    empty:queue { n = 1 }
    empty:command("DEL", "hw:{" .. name_empty .. "}:pending")
    local out, err, code = H.run(bin, "queues --json --redis " .. H.quote(server.url))
    local t1 = H.redis_time_ms(server)
    assert.are.equal(0, code, err)
    local by_name = {}
    for line in out:gmatch("[^\n]+") do
      local q = H.cjson.decode(line)
      by_name[q.name] = q
    end
    local function latency_near(q, ready_at)
      assert.is_true(q.latency_ms >= t0 - ready_at and q.latency_ms <= t1 - ready_at,
        ("latency %d ms, expected %d to %d"):format(q.latency_ms, t0 - ready_at, t1 - ready_at))
    end
    latency_near(by_name[name_plain], t0 - 60000)
    assert.are.equal(2, by_name[name_plain].pending)
    latency_near(by_name[name_due], t0 - 30000)
    latency_near(by_name[name_grouped], t0 - 45000)
    local s = by_name[name_sharded]
    assert.are.same({ 2, 3, true }, { s.shards, s.pending, s.paused })
    assert.is_false(by_name[name_plain].paused)
    assert.are.same({ 0, 0 }, { by_name[name_empty].pending, by_name[name_empty].latency_ms })
    -- q:stats() carries the same figure.
    assert.is_true(plain:stats().latency_ms >= 60000)
    out, err, code = H.run(bin, "queues --redis " .. H.quote(server.url))
    assert.are.equal(0, code, err)
    assert.truthy(out:match("^NAME%s+SHARDS%s+PENDING%s+INFLIGHT%s+SCHEDULED%s+FAILED%s+BROKEN%s+PAUSED%s+LATENCY\n"),
      out)
    assert.truthy(out:find("\n" .. name_sharded:gsub("%p", "%%%0") .. "%s+2%s+3%s+0%s+0%s+0%s+0%s+yes%s"), out)
  end)

  it("reads a hand-written running list within bounds: odd elements skipped, at most 1,024, listings unharmed",
    function()
    local q, name = H.queue(server)
    local id = q:queue { n = 1 }
    local claim = q:step_claim(1, "h:1:w1")[1]
    local token = claim:match("^([^|]+)|")
    -- 5,000 elements: the one that names the real claim comes first, then
    -- wrong kinds, a 19-digit number (past a long long: UBSan would see an
    -- overflow), nested junk, and fillers.
    local elements = { ('{"worker":"h:1:w1","id":"%s","claim":"%s","started_at":1234}'):format(id, token),
      '"text"', "7", "null", '{"worker":["x"],"claim":{},"started_at":9999999999999999999}',
      '{"id":' .. string.rep("[", 900) .. string.rep("]", 900) .. "}" }
    while #elements < 5000 do elements[#elements + 1] = '{"worker":"f","id":"f","claim":"f","started_at":1}' end
    local key = "hw:{" .. name .. "}:procs"
    q:command("HSET", key, "odd", '{"id":"odd","running":[' .. table.concat(elements, ",") .. "]}")
    q:command("ZADD", "hw:{" .. name .. "}:beats", "9999999999999", "odd")
    local p = q:processes()[1]
    assert.are.equal(1024, #p.running)
    assert.are.same({ "h:1:w1", id, 1234 }, { p.running[1].worker, p.running[1].id, p.running[1].started_at })
    assert.is_nil(p.running[5].started_at)
    local e = q:inflight()[1]
    assert.are.same({ id, 1234 }, { e.id, e.started_at })
    local redis = " --redis " .. H.quote(server.url)
    local out, err, code = H.run(bin, "inflight " .. H.quote(name) .. redis)
    assert.are.equal(0, code, err)
    assert.are.equal("running", H.cjson.decode(out).state)
    out, err, code = H.run(bin, "ps " .. H.quote(name) .. " --json" .. redis)
    assert.are.equal(0, code, err)
    assert.are.equal(1024, #H.cjson.decode(out).running)
  end)

  it("names a registry key that holds garbage, and the runner's jobs still run", function()
    local q, name = H.queue(server)
    local key = "hw:{" .. name .. "}:procs"
    q:command("SET", key, "garbage")
    local log = H.tmpdir() .. "/runner.log"
    H.spawn_workers({ name = name, redis = server.url, job_file = record, workers = 1, monitors = 0,
      log_level = "warn" }, log)
    H.wait_until("the runner to name the key", 20, function()
      return H.read(log):find("key " .. key, 1, true) ~= nil
    end)
    local ok, err = pcall(q.processes, q)
    assert.is_false(ok)
    assert.truthy(err:find("key " .. key .. " holds a string, not a hash", 1, true), err)
    local _, cli_err, code = H.run(bin, "ps " .. H.quote(name) .. " --redis " .. H.quote(server.url))
    assert.are.equal(1, code)
    assert.truthy(cli_err:find("key " .. key, 1, true), cli_err)
    q:queue { n = 1 }
    H.wait_until("the job to run", 20, function() return q:stats().counters.succeeded == 1 end)
    q:command("DEL", key)
    H.wait_until("the runner to be listed once the key is fixed", 20, function() return #q:processes() == 1 end)
    -- Entries that are not what a beat writes are listed with what can be
    -- read from them, never crash the listing.
    q:command("HSET", key, "a", "not json", "b", '{"id":"b","pid":"x","threads":99999999999999999999,"job_file":{}}',
      "c", string.rep("\255", 100000))
    for _, id in ipairs({ "a", "b", "c" }) do q:command("ZADD", "hw:{" .. name .. "}:beats", "9999999999999", id) end
    local listed = q:processes()
    assert.are.equal(4, #listed)
    local out
    out, cli_err, code = H.run(bin, "ps " .. H.quote(name) .. " --json --redis " .. H.quote(server.url))
    assert.are.equal(0, code, cli_err)
    local odd = 0
    for line in out:gmatch("[^\n]+") do
      local p = H.cjson.decode(line)
      if p.threads == -1 then odd = odd + 1 end
    end
    assert.are.equal(3, odd)
    -- The registry of queues spoiled: enqueues still land, queues names it.
    local fresh = H.queue(server)
    q:command("SET", "hw:queues", "garbage")
    fresh:queue { n = 2 }
    assert.are.equal(1, fresh:stats().pending)
    _, cli_err, code = H.run(bin, "queues --redis " .. H.quote(server.url))
    q:command("DEL", "hw:queues")
    assert.are.equal(1, code)
    assert.truthy(cli_err:find("key hw:queues does not hold a set; fix or delete it", 1, true), cli_err)
  end)
end)
