-- Bad input (issue 5, point 2): payloads pushed straight into Redis, queue
-- keys of the wrong type, handlers that misbehave. Each ends as a broken or
-- failed record with a reason, or a clear error; the engine keeps running and
-- no other job is lost.
local H = require "spec.support.helper"
local R = require "spec.support.recorded"

local record = H.job_path("record.lua")

local function envelope(job)
  return '{"v":1,"id":"raw"}\n' .. job
end

describe("bad input", function()
  local server
  lazy_setup(function() server = H.redis_server() end)
  lazy_teardown(function() server.stop() end)
  after_each(H.cleanup)

  it("refuses a lone UTF-16 surrogate at enqueue, naming it, since the job could never decode", function()
    local q = H.queue(server)
    local ok, err = pcall(q.queue_json, q, '{"name":"\\ud83d"}')
    assert.is_false(ok)
    assert.truthy(tostring(err):find("high surrogate without its low one", 1, true), err)
    ok, err = pcall(q.queue_json, q, '"\\udc00"')
    assert.is_false(ok)
    assert.truthy(tostring(err):find("lone low surrogate", 1, true), err)
    assert.are.equal(2, #q:queue_many { { s = "\u{1F600}" }, { s = "é" } }) -- pairs and UTF-8 pass
    assert.is_string(q:queue_json('"\\ud83d\\ude00"'))
  end)

  it("records every malformed payload as broken with a reason, and runs the good jobs around them", function()
    local q, runs, config, name = R.queue(server, { broken_cap = 100 })
    local deep = string.rep("[", 100000) .. string.rep("]", 100000)
    local bad = {
      truncated = envelope('{"a": [1, 2'),
      invalid_utf8 = envelope('"\255\254"'),
      binary = "\0\1\2\3\255\n\0",
      huge = envelope('"' .. string.rep("x", 10 * 1024 * 1024)), -- 10 MB, unterminated
      nested = envelope(deep),
      wrong_shape = '["4334e9e0-aa46-4fac-885b-4bd33228dd19", 1]',
      header_not_object = '[1]\n{}',
      no_id = '{"v":1}\n{}',
      empty_id = '{"v":1,"id":""}\n{}', -- read uninitialised memory once (found by fuzz/fuzz_claim)
      lone_surrogate = envelope('"\\ud83d"'), -- cjson refuses it (found by fuzz/fuzz_claim)
      wrong_version = '{"v":2,"id":"x"}\n{}',
      empty = "",
    }
    local good = q:queue_many { { n = 1 }, { n = 2 } }
    for _, payload in pairs(bad) do q:command("LPUSH", R.key(name, "pending"), payload) end
    local good_after = q:queue { n = 3 }
    local n_bad = 0
    for _ in pairs(bad) do n_bad = n_bad + 1 end
    q:start { job_file = record, config = config, workers = 2, monitors = 1 }
    R.settle(q, n_bad + 3, 60)
    q:stop { grace = 5 }
    local by_id = H.runs(runs)
    for _, id in ipairs(good) do assert.are.equal(1, by_id[id]) end
    assert.are.equal(1, by_id[good_after])
    local s = q:stats()
    assert.are.equal(n_bad, s.broken)
    assert.are.equal(3, s.counters.succeeded)
    local reasons = {}
    for _, b in ipairs(q:broken { limit = 100 }) do reasons[#reasons + 1] = b.reason end
    table.sort(reasons)
    for _, r in ipairs(reasons) do
      assert.truthy(r:match("^job is not valid JSON") or r:match("^not an hworker envelope")
        or r:match("^unsupported envelope"), "unexpected reason: " .. r)
    end
    -- The raw payload is kept exactly, even binary.
    local kept = {}
    for _, b in ipairs(q:broken { limit = 100 }) do kept[b.job_json] = true end
    assert.truthy(kept[bad.binary])
    assert.truthy(kept[bad.huge])
  end)

  it("keeps running when a queue key has the wrong type, and resumes when it is fixed", function()
    local q, runs, config, name = R.queue(server)
    q:start { job_file = record, config = config, workers = 1, monitors = 1 }
    q:command("SET", R.key(name, "pending"), "someone's string")
    local ok, err = pcall(q.queue, q, { n = 1 })
    assert.is_false(ok)
    assert.matches("WRONGTYPE", err)
    -- Workers and monitors are still alive: fix the key and work resumes.
    q:command("DEL", R.key(name, "pending"))
    local id = q:queue { n = 2 }
    H.wait_until("the job to run after the key was fixed", 20, function() return H.runs(runs)[id] == 1 end)
    q:stop { grace = 5 }
  end)

  it("reports Redis refusing writes (OOM) to the producer and finishes jobs once Redis takes writes again", function()
    local q, runs, config = R.queue(server)
    local id = q:queue { sleep = 0.5 }
    q:start { job_file = record, config = config, workers = 1, monitors = 0 }
    H.wait_until("the job to start", 10, function() return H.runs(runs)[id] == 1 end)
    local function ooms()
      return tonumber((q:command("INFO", "errorstats") or ""):match("errorstat_OOM:count=(%d+)")) or 0
    end
    local before = ooms()
    server.cli("CONFIG", "SET", "maxmemory", "1")
    local ok, err = pcall(q.queue, q, { n = 2 })
    assert.is_false(ok)
    assert.matches("OOM", err)
    -- The running job's outcome cannot be written yet: wait until Redis has
    -- refused the worker's report too, then let Redis take writes again.
    H.wait_until("the worker's report to be refused", 20, function() return ooms() >= before + 2 end)
    server.cli("CONFIG", "SET", "maxmemory", "0")
    H.wait_until("the job's outcome to be recorded", 20, function() return q:stats().counters.succeeded == 1 end)
    q:stop { grace = 5 }
    assert.are.equal(0, q:stats().inflight)
  end)

  it("reports a read-only replica to the producer, keeps workers waiting, and goes on once it is promoted", function()
    local replica = H.redis_server()
    local q, runs, config = R.queue(replica)
    local function refusals()
      return tonumber((replica.cli("INFO", "errorstats") or ""):match("errorstat_READONLY:count=(%d+)")) or 0
    end
    -- A master that never answers: the server turns read-only at once.
    replica.cli("REPLICAOF", "127.0.0.1", "1")
    local ok, err = pcall(q.queue, q, { n = 1 })
    assert.is_false(ok)
    assert.matches("READONLY", err)
    local before = refusals()
    q:start { job_file = record, config = config, workers = 1, monitors = 1 }
    H.wait_until("the worker and monitor to be refused", 20, function() return refusals() >= before + 2 end)
    replica.cli("REPLICAOF", "NO", "ONE")
    local id = q:queue { n = 2 }
    H.wait_until("the job to run once the server takes writes", 20, function() return H.runs(runs)[id] == 1 end)
    q:stop { grace = 5 }
    replica.stop()
  end)

  it("fails a job whose handler yields, with a reason", function()
    local dir = H.tmpdir()
    local job = H.file(dir, "yield.lua", "function job(state, t) coroutine.yield(1) end\n")
    local q = R.queue(server)
    local id = q:queue { n = 1 }
    q:start { job_file = job, workers = 1, monitors = 0 }
    R.settle(q, 1)
    q:stop { grace = 5 }
    H.sh("rm -rf " .. dir)
    local failed = q:failed()[1]
    assert.are.equal(id, failed.id)
    assert.matches("^error: .*yield", failed.reason)
  end)

  it("fails a job whose error object's __tostring never returns, at the time limit", function()
    local dir = H.tmpdir()
    local job = H.file(dir, "tostring.lua", [[
      function job(state, t)
        error(setmetatable({}, { __tostring = function() while true do end end }))
      end
    ]])
    local q = R.queue(server, { timeout = 0.3 })
    local id = q:queue { n = 1 }
    local after = q:queue { n = 2 }
    q:start { job_file = job, workers = 1, monitors = 0 }
    H.wait_until("both jobs to be processed", 20, function() return q:stats().counters.processed == 2 end)
    q:stop { grace = 5 }
    H.sh("rm -rf " .. dir)
    local failed = {}
    for _, f in ipairs(q:failed()) do failed[f.id] = f.reason end
    assert.truthy(failed[id])
    assert.truthy(failed[after])
  end)
end)
