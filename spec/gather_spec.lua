-- Group commit of single-job enqueues (core/enqueue_gather.c): concurrent
-- one-job hworker_enqueue calls on one handle share script calls, and each
-- caller still gets what a call of its own would give: its own id once Redis
-- has its job, a bad payload's error alone, a held unique key's holder
-- alone, and after a lost connection an id only for a job that is there.
-- Only the C API reaches this with threads (the Lua module has none): a C
-- program (spec/c/gather_enqueue.c) makes the calls; the ThreadSanitizer
-- pass of tools/dev runs this file too.
local H = require "spec.support.helper"

describe("single-job enqueues from many threads", function()
  local server, bin, dir
  lazy_setup(function()
    server = H.redis_server()
    dir = H.tmpdir()
    bin = H.c_program(dir, "gather_enqueue", "$(pkg-config --libs hiredis) -lpthread")
  end)
  lazy_teardown(function()
    server.stop()
    H.sh("rm -rf " .. H.quote(dir))
  end)
  after_each(H.cleanup)

  -- Runs the program; returns its lines by "T K", and how many script
  -- calls Redis ran meanwhile.
  local function produce(q, name, mode, threads, per)
    q:command("CONFIG", "RESETSTAT")
    local out = H.sh(table.concat({ H.quote(bin), H.quote(server.url), H.quote(name), mode, threads, per }, " ")
      .. " 2>&1; echo status=$?")
    assert.truthy(out:find("\nstatus=0\n$") or out == "status=0\n", out:sub(-2000))
    local calls = 0
    for n in q:command("INFO", "commandstats"):gmatch("cmdstat_evalsha:calls=(%d+)") do calls = calls + n end
    local lines = {}
    for t, k, what, rest in out:gmatch("(%d+) (%d+) (%a+) ([^\n]*)\n") do
      lines[#lines + 1] = { t = t + 0, k = k + 0, what = what, rest = rest }
    end
    return lines, calls
  end

  -- Every job in pending, by id, decoded.
  local function pending_by_id(q)
    local jobs = {}
    for _, e in ipairs(q:jobs { limit = 1000000 }) do jobs[e.id] = e.job end
    return jobs
  end

  it("acknowledges each of 16 threads' 10,000 jobs exactly once, each in Redis, in far fewer script calls",
    function()
    local q, name = H.queue(server)
    local lines, calls = produce(q, name, "plain", 16, 10000)
    assert.are.equal(160000, #lines)
    local jobs, seen = pending_by_id(q), {}
    for _, l in ipairs(lines) do
      assert.are.equal("ok", l.what, l.rest)
      assert.is_nil(seen[l.rest], "id " .. l.rest .. " given twice")
      seen[l.rest] = true
      local job = jobs[l.rest]
      assert.truthy(job, "no job with id " .. l.rest)
      assert.are.same({ t = l.t, k = l.k }, job)
    end
    assert.are.equal(160000, q:stats().pending)
    -- Gathered: more than one job per script call on average.
    assert.is_true(calls < 160000 / 2, calls .. " script calls for 160000 jobs")
  end)

  it("fails a bad payload alone, with its own message, while its neighbours are enqueued", function()
    local q, name = H.queue(server)
    local lines, calls = produce(q, name, "bad", 8, 2000)
    local jobs, bad = pending_by_id(q), 0
    for _, l in ipairs(lines) do
      if l.k % 97 == 50 then
        bad = bad + 1
        assert.are.equal("err", l.what)
        assert.truthy(l.rest:find("^the job is not valid JSON: line 1, column %d+: value expected, found end of input"),
          l.rest)
      else
        assert.are.equal("ok", l.what, l.rest)
        assert.are.same({ t = l.t, k = l.k }, jobs[l.rest])
      end
    end
    assert.are.equal(8 * 21, bad)
    assert.are.equal(8 * 2000 - bad, q:stats().pending)
    assert.is_true(calls < (8 * 2000) / 2, calls .. " script calls")
  end)

  it("never puts jobs with other options in one call: each job goes where its own call said", function()
    local q, name = H.queue(server)
    local lines, calls = produce(q, name, "mixed", 8, 2000)
    local jobs, later = pending_by_id(q), {}
    for _, e in ipairs(q:scheduled { limit = 1000000 }) do later[e.id] = e.job end
    for _, l in ipairs(lines) do
      assert.are.equal("ok", l.what, l.rest)
      local where = l.t % 2 == 0 and later or jobs
      assert.are.same({ t = l.t, k = l.k }, where[l.rest])
    end
    assert.are.same({ 8000, 8000 }, { q:stats().pending, q:stats().scheduled })
    assert.is_true(calls < (8 * 2000) / 2, calls .. " script calls")
  end)

  it("sends a huge job without others of its size, so that one call's arguments stay bounded", function()
    local q, name = H.queue(server)
    local lines, calls = produce(q, name, "big", 8, 10)
    local by_id = {}
    for _, e in ipairs(q:jobs { limit = 1000 }) do by_id[e.id] = e.job end
    for _, l in ipairs(lines) do
      assert.are.equal("ok", l.what, l.rest)
      assert.are.same({ l.t, l.k }, { by_id[l.rest].t, by_id[l.rest].k })
    end
    assert.are.equal(80, q:stats().pending)
    -- Jobs of 1.5 MB each: past a call's first job, at most 1 MB joins it.
    assert.is_true(calls >= 80, calls .. " script calls for 80 jobs of 1.5 MB")
  end)

  it("reports a held unique key to its own call only, with the holder's id", function()
    local q, name = H.queue(server)
    local holder = q:queue({ n = "holder" }, { unique = "held-key" })
    local lines = produce(q, name, "unique", 8, 2000)
    local jobs, held, own = pending_by_id(q), 0, 0
    for _, l in ipairs(lines) do
      if l.k % 50 == 25 then
        held = held + 1
        assert.are.same({ "held", holder }, { l.what, l.rest })
      else
        assert.are.equal("ok", l.what, l.rest)
        assert.are_not.equal(holder, l.rest)
        assert.are.same({ t = l.t, k = l.k }, jobs[l.rest])
        if l.k % 50 == 0 then own = own + 1 end
      end
    end
    assert.are.same({ 8 * 40, 8 * 40 }, { held, own })
    assert.are.equal(8 * 2000 - held + 1, q:stats().pending)
  end)

  it("gives every caller its id or an error while connections are killed, and no acknowledged job is missing",
    function()
    local q, name = H.queue(server)
    local function connections()
      return tonumber(q:command("INFO", "stats"):match("total_connections_received:(%d+)"))
    end
    local before = connections()
    local lines = produce(q, name, "kill", 16, 1000)
    assert.are.equal(16000, #lines)
    local jobs, ok, failed = pending_by_id(q), 0, 0
    for _, l in ipairs(lines) do
      if l.what == "ok" then
        ok = ok + 1
        assert.are.same({ t = l.t, k = l.k }, jobs[l.rest])
      else
        failed = failed + 1
        assert.are.equal("err", l.what)
        assert.truthy(l.rest:find("%S"), "an error without a message")
      end
    end
    assert.are.equal(16000, ok + failed)
    -- The handle's connection was killed and made again, many times.
    assert.is_true(connections() - before > 10, (connections() - before) .. " connections")
    -- A job
    -- whose caller saw an error may be there or not (it may have been
    -- sent twice, too): at least once, never zero times once acknowledged.
    assert.is_true(q:stats().pending >= ok)
  end)
end)
