-- Issue 12, item 6: one queue-name rule wherever a name comes from; follow-up
-- jobs that reach the shards of a sharded queue, and processes that disagree
-- with a queue's recorded shard count refused; capped reasons and log lines
-- a job cannot forge.
local H = require "spec.support.helper"
local R = require "spec.support.recorded"
local cjson = require "cjson"

local bin = H.build .. "/hworker-lua"
local record = H.job_path("record.lua")

local function cli(args) return H.run(bin, args) end
local read = H.read

-- A job file in a fresh directory.
local function job_file(text)
  return H.file(H.tmpdir(), "job.lua", text)
end

-- The part of an error that states the rule broken.
local function rule(message)
  return message and message:match("(queue name [^\n]*)")
end

describe("queue names", function()
  local server
  lazy_setup(function() server = H.redis_server() end)
  lazy_teardown(function() server.stop() end)
  after_each(H.cleanup)

  local bad = {
    { name = "nulq\0tail", says = "queue name has a NUL byte at byte 5" },
    { name = "ctl\nq", says = "queue name has a control character (0x0a) at byte 4" },
    { name = "del\127q", says = "queue name has a control character (0x7f) at byte 4" },
    { name = "a{b}", says = "queue name has '{' at byte 2: '{' and '}' are not allowed" },
    { name = "a}", says = "queue name has '}' at byte 2: '{' and '}' are not allowed" },
    { name = "", says = "queue name is empty" },
    { name = string.rep("q", 201), says = "queue name is 201 bytes long: at most 200 are allowed" },
  }

  local function open_error(name)
    local ok, err = pcall(H.hworker.open, { name = name, redis = server.url, log_level = "silent" })
    assert.is_false(ok, "hworker.open accepted " .. ("%q"):format(name))
    return err
  end

  it("are refused, never cut, by the Lua module, naming the rule broken", function()
    for _, case in ipairs(bad) do
      assert.are.equal(case.says, rule(open_error(case.name)))
    end
    -- A name of exactly 200 bytes is fine.
    local q = H.track(H.hworker.open { name = string.rep("q", 200), redis = server.url, log_level = "silent" })
    q:destroy()
  end)

  it("are refused by hworker.queue in job code with the same rule, and nothing is enqueued", function()
    local q = H.queue(server)
    for _, case in ipairs(bad) do q:queue { target = case.name } end
    q:start {
      job_file = job_file "function job(state, t) hworker.queue(t.target, { n = 1 }) end", workers = 1, monitors = 0,
    }
    H.wait_until("every job to fail", 20, function() return q:stats().failed == #bad end)
    q:stop { grace = 5 }
    local said = {}
    for _, e in ipairs(q:failed { limit = 100 }) do said[rule(e.reason) or e.reason] = true end
    for _, case in ipairs(bad) do
      assert.truthy(said[case.says], "no job failed with: " .. case.says)
      assert.are.equal(case.says, rule(open_error(case.name)))
    end
    -- The NUL case used to enqueue to the name cut at the NUL.
    assert.are.equal(0, q:command("EXISTS", "hw:{nulq}:pending"))
  end)

  it("are refused by the command line with the same rule", function()
    for _, case in ipairs(bad) do
      if not case.name:find("\0", 1, true) then -- argv cannot hold a NUL
        local _, err, code = cli(("queue %s '{}' --redis %s"):format(H.quote(case.name), H.quote(server.url)))
        assert.are.equal(2, code, err)
        assert.are.equal(case.says, rule(err))
      end
    end
  end)
end)

describe("shard counts", function()
  local server
  lazy_setup(function() server = H.redis_server() end)
  lazy_teardown(function() server.stop() end)
  after_each(H.cleanup)

  -- A job that sends one follow-up job per run to config.target.
  local forward = [[
    function init(config) return config end
    function job(state, t) hworker.queue(state.target, { n = t.n }) end
  ]]

  it("let a follow-up job from a job reach a queue run with 6 shards, and its workers run it", function()
    local target, runs, config, target_name = R.queue(server, { shards = 6 })
    target:start { job_file = record, config = config, workers = 2, monitors = 0 }
    local source = H.queue(server)
    source:start { job_file = job_file(forward), config = { target = target_name }, workers = 1, monitors = 0 }
    for i = 1, 12 do source:queue { n = i } end
    H.wait_until("12 follow-up jobs to run on the sharded queue", 30, function()
      local _, total = H.runs(runs)
      return total == 12
    end)
    source:stop { grace = 5 }
    target:stop { grace = 5 }
    assert.are.equal(0, target:command("EXISTS", "hw:{" .. target_name .. "}:pending"))
    assert.are.equal("6", target:command("GET", "hw:{" .. target_name .. "}:shards"))
    local used = 0
    for k = 0, 5 do
      if target:stats { shard = k }.counters.succeeded > 0 then used = used + 1 end
    end
    assert.is_true(used > 1, "every follow-up job went to one shard")
  end)

  it("let hworker_enqueue reach another queue run with 6 shards, and refuse a bad name", function()
    local target, runs, config, target_name = R.queue(server, { shards = 6 })
    target:start { job_file = record, config = config, workers = 2, monitors = 0 }
    local dir = H.tmpdir()
    local prog = H.c_program(dir, "queue_to")
    local function run(to, n)
      return H.sh(H.quote(prog) .. " " .. H.quote(server.url) .. " source " .. H.quote(to) .. " " .. n)
    end
    local out = run(target_name, 12)
    assert.matches("^" .. ("%w+\n"):rep(12) .. "$", out)
    H.wait_until("12 jobs to run on the sharded queue", 30, function()
      local _, total = H.runs(runs)
      return total == 12
    end)
    target:stop { grace = 5 }
    assert.are.equal(0, target:command("EXISTS", "hw:{" .. target_name .. "}:pending"))
    assert.are.equal("queue name has '{' at byte 2: '{' and '}' are not allowed\n", run("a{b}", 1))
    H.sh("rm -rf " .. H.quote(dir))
  end)

  it("refuse a runner, a producer and the command line started with another count than Redis records", function()
    local q, name = H.queue(server, { shards = 6 })
    q:start { job_file = record, workers = 1, monitors = 0 }
    q:stop { grace = 5 }
    local says = ("queue %s has 6 shard(s) in Redis (hw:{%s}:shards); this process was started with 1: use --shards 6")
      :format(name, name)
    local other = H.track(H.hworker.open { name = name, redis = server.url, shards = 1, log_level = "silent" })
    local ok, err = pcall(other.start, other, { job_file = record, workers = 1, monitors = 0 })
    assert.is_false(ok)
    assert.matches(says, err, 1, true)
    ok, err = pcall(other.queue, other, { n = 1 })
    assert.is_false(ok)
    assert.matches(says, err, 1, true)
    local _, stderr, code = cli(("run %s --name %s --redis %s --threads 1"):format(H.quote(record), name,
      H.quote(server.url)))
    assert.are.equal(1, code)
    assert.matches(says, stderr, 1, true)
    for _, args in ipairs { "queue %s '{}'", "stats %s", "jobs %s", "destroy %s --yes" } do
      _, stderr, code = cli((args .. " --redis %s"):format(name, H.quote(server.url)))
      assert.are.equal(1, code, args)
      assert.matches(says, stderr, 1, true)
    end
    assert.are.equal(0, q:stats().pending)
    -- The right count is accepted.
    local out
    out, stderr, code = cli(("queue %s '{}' --shards 6 --redis %s"):format(name, H.quote(server.url)))
    assert.are.equal(0, code, stderr)
    assert.matches("^%w+\n$", out)
  end)

  it("record 1 for a queue a follow-up job reaches first, so a later runner with 6 is refused; "
    .. "destroy forgets it", function()
    local fresh = "fresh-" .. math.random(1, 1e9)
    local source = H.queue(server)
    source:start { job_file = job_file(forward), config = { target = fresh }, workers = 1, monitors = 0 }
    source:queue { n = 1 }
    local q = H.track(H.hworker.open { name = fresh, redis = server.url, shards = 6, log_level = "silent" })
    H.wait_until("the follow-up job", 20, function() return q:command("GET", "hw:{" .. fresh .. "}:shards") == "1" end)
    source:stop { grace = 5 }
    local ok, err = pcall(q.start, q, { job_file = record, workers = 1, monitors = 0 })
    assert.is_false(ok)
    assert.matches("queue " .. fresh .. " has 1 shard(s) in Redis", err, 1, true)
    local unsharded = H.track(H.hworker.open { name = fresh, redis = server.url, log_level = "silent" })
    assert.are.equal(1, unsharded:stats().pending)
    unsharded:destroy()
    assert.are.equal(0, q:command("EXISTS", "hw:{" .. fresh .. "}:shards"))
    q:start { job_file = record, workers = 1, monitors = 0 }
    q:stop { grace = 5 }
    assert.are.equal("6", q:command("GET", "hw:{" .. fresh .. "}:shards"))
  end)
end)

describe("text a job controls", function()
  local server
  lazy_setup(function() server = H.redis_server() end)
  lazy_teardown(function() server.stop() end)
  after_each(H.cleanup)

  local noisy = [[
    function job(state, t)
      if t.log then hworker.log("warn", t.log) end
      if t.big then return hworker.failure(string.rep("x", t.big)) end
      return hworker.failure(t.fail)
    end
  ]]

  it("is capped in a failure record, with a marker saying how long it was", function()
    local q, name = H.queue(server)
    q:queue { big = 5 * 1024 * 1024 }
    q:start { job_file = job_file(noisy), workers = 1, monitors = 0 }
    H.wait_until("the failure", 20, function() return q:stats().failed == 1 end)
    q:stop { grace = 5 }
    local reason = q:failed { limit = 1 }[1].reason
    assert.are.equal(string.rep("x", 8192) .. "... [truncated, 5242880 bytes in all]", reason)
    local stored = q:command("LINDEX", R.key(name, "failed"), "0")
    assert.is_true(#stored < 9000, "the record holds " .. #stored .. " bytes")
  end)

  local function run_and_fail(format)
    local q, name = H.queue(server)
    q:queue { log = "first\nFORGED by hworker.log", fail = "oops\nFORGED by a failure\r\27[31m" }
    local log = H.tmpdir() .. "/run.log"
    local shards = H.spec_shards and (" --shards " .. H.spec_shards) or ""
    local pid = tonumber(H.sh(("%s run %s --name %s --redis %s --threads 1 --log-format %s%s > %s 2>&1 & echo $!")
      :format(H.quote(bin), H.quote(job_file(noisy)), name, H.quote(server.url), format, shards, H.quote(log))))
    H.wait_until("the failure", 20, function() return q:stats().failed == 1 end)
    H.kill(pid, 15)
    H.wait_until("run to exit", 20, function() return not H.alive(pid) end)
    return read(log)
  end

  it("cannot start a line of its own in a text log", function()
    local text = run_and_fail("text")
    assert.matches("first\\nFORGED by hworker.log", text, 1, true)
    assert.matches("oops\\nFORGED by a failure\\r\\x1b[31m", text, 1, true)
    for line in text:gmatch("[^\n]+") do
      assert.is_nil(line:find("^FORGED"), "a forged line: " .. line)
      assert.is_nil(line:find("\r", 1, true), "a carriage return in: " .. line)
      assert.is_nil(line:find("\27", 1, true), "an escape character in: " .. line)
    end
  end)

  it("leaves a JSON log one valid JSON object per line", function()
    local text = run_and_fail("json")
    local logged, failed = false, false
    for line in text:gmatch("[^\n]+") do
      local entry = cjson.decode(line)
      assert.are.equal("table", type(entry))
      logged = logged or entry.msg:find("first\\nFORGED by hworker.log", 1, true) ~= nil
      failed = failed or entry.msg:find("oops\\nFORGED by a failure", 1, true) ~= nil
    end
    assert.is_true(logged and failed, text)
  end)
end)
