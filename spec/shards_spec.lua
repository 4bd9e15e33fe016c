-- Sharded queues (issue 8): a queue spread over S key sets hw:{name#i}:...
-- Producers spread batches over the shards in turn (a unique key picks its
-- own shard), workers claim from a home shard and from the others when it is
-- empty, monitors sweep every shard, and inspection spans them all.
local H = require "spec.support.helper"
local R = require "spec.support.recorded"

local record = H.job_path("record.lua")

local jobs = R.jobs

describe("sharded queues", function()
  local server
  lazy_setup(function() server = H.redis_server() end)
  lazy_teardown(function() server.stop() end)
  after_each(H.cleanup)

  it("spread batches over the shards in turn and run each job exactly once", function()
    local q, runs, config, name = R.queue(server, { shards = 4 })
    local ids = {}
    for b = 0, 39 do
      for _, id in ipairs(q:queue_many(jobs(25, b * 25))) do ids[#ids + 1] = id end
    end
    for k = 0, 3 do
      assert.are.equal(250, q:stats { shard = k }.pending)
      assert.are.equal(250, tonumber(q:command("LLEN", "hw:{" .. name .. "#" .. k .. "}:pending")))
    end
    assert.are.equal(0, tonumber(q:command("EXISTS", "hw:{" .. name .. "}:pending")))
    -- Two workers, four shards: two shards have no worker at home.
    q:start { job_file = record, config = config, workers = 2, monitors = 1 }
    R.settle(q, 1000, 60)
    q:stop { grace = 5 }
    R.assert_each_ran_once(runs, ids)
    local s = q:stats()
    assert.are.equal(1000, s.counters.succeeded)
    assert.are.equal(1000, s.counters.enqueued)
    for k = 0, 3 do assert.are.equal(250, q:stats { shard = k }.counters.succeeded) end
  end)

  it("take the shard each single step acts on, and refuse one the queue does not have", function()
    local q = R.queue(server, { shards = 3 })
    -- Each batch goes to the next shard in turn.
    q:queue_many(jobs(6, 0))
    q:queue_many(jobs(6, 6))
    q:queue_many(jobs(6, 12))
    for k = 0, 2 do
      local claims = q:step_claim(10, "me", k)
      assert.are.equal(6, #claims, "shard " .. k)
      -- A claim is live on its own shard only.
      assert.is_false(q:step_renew(claims[1], (k + 1) % 3))
      assert.is_true(q:step_renew(claims[1], k))
      for _, claim in ipairs(claims) do assert.is_true(q:step_finish(claim, "success", "", 0, k)) end
      assert.are.equal(6, q:stats { shard = k }.counters.succeeded)
    end
    assert.are.equal(0, q:stats().pending)
    local ok, err = pcall(q.step_claim, q, 1, "me", 3)
    assert.is_false(ok)
    assert.matches("shard must be from 0 to 2: the queue has 3 shard%(s%) %(got 3%)", err)
  end)

  it("start a lone job on each shard, though one worker calls only one of them home", function()
    local q, runs, config = R.queue(server, { shards = 4, block_timeout = 0.1 })
    q:start { job_file = record, config = config, workers = 1, monitors = 0 }
    local ran_on = {}
    for i = 1, 8 do -- one job per call: each goes to the next shard
      local id = q:queue { n = i }
      local shard
      for k = 0, 3 do
        if q:stats { shard = k }.counters.enqueued > (ran_on[k] or 0) then shard = k end
      end
      H.wait_until("job " .. i .. " to run", 10, function() return H.runs(runs)[id] == 1 end)
      ran_on[shard] = (ran_on[shard] or 0) + 1
    end
    q:stop { grace = 5 }
    for k = 0, 3 do
      assert.are.equal(2, ran_on[k], "jobs run from shard " .. k)
      assert.are.equal(2, q:stats { shard = k }.counters.succeeded)
    end
  end)

  it("keep a unique key on one shard, so it dedupes however the enqueues rotate", function()
    local q, _, _, name = R.queue(server, { shards = 4 })
    local first = q:queue({ n = 1 }, { unique = "mail:42" })
    for _ = 1, 6 do assert.are.equal(first, q:queue({ n = 2 }, { unique = "mail:42" })) end
    assert.are.equal(1, q:stats().pending)
    local ids = {}
    for i = 1, 20 do ids[i] = q:queue({ n = i }, { unique = "key" .. i }) end
    assert.are.equal(21, q:stats().pending)
    local used = 0
    for k = 0, 3 do
      if tonumber(q:command("LLEN", "hw:{" .. name .. "#" .. k .. "}:pending")) > 0 then used = used + 1 end
    end
    assert.is_true(used >= 2, "20 unique keys all hashed to one shard")
    for i = 1, 20 do assert.are.equal(ids[i], q:queue({ n = i }, { unique = "key" .. i })) end
    assert.are.equal(21, q:stats().pending)
  end)

  it("send a C batch whose unique keys fall in several shards as one call per shard, ids in order", function()
    local q, _, _, name = R.queue(server, { shards = 4 })
    local dir = H.tmpdir()
    local bin = H.c_program(dir, "enqueue_shards")
    -- Counted from here: the enqueue script's calls (every script is loaded
    -- already: the queue's shard count was recorded by a script).
    q:command("CONFIG", "RESETSTAT")
    local out = H.sh(H.quote(bin) .. " " .. H.quote(server.url) .. " " .. name .. " 4 20")
    local calls = tonumber(q:command("INFO", "commandstats"):match("cmdstat_evalsha:calls=(%d+)")) or 0
    H.sh("rm -rf " .. H.quote(dir))
    local first, second = out:match("^(.-)\n\n(.-)\n$")
    assert.truthy(first, out)
    local ids, again = {}, {}
    for id in first:gmatch("[^\n]+") do ids[#ids + 1] = id end
    for id in second:gmatch("[^\n]+") do again[#again + 1] = id end
    assert.are.equal(20, #ids)
    assert.are.same(ids, again) -- every key held: the same ids, in the same order
    assert.are.equal(20, q:stats().pending)
    -- Each id names the job given in its place: job i is {"n": i - 1}.
    local used, job_of = 0, {}
    for k = 0, 3 do
      local listed = q:command("LRANGE", "hw:{" .. name .. "#" .. k .. "}:pending", "0", "-1")
      if #listed > 0 then used = used + 1 end
      for _, envelope in ipairs(listed) do
        job_of[envelope:match('"id":"(%w+)"')] = tonumber(envelope:match('\n{"n":(%d+)}$'))
      end
    end
    assert.is_true(used >= 2, "20 unique keys all hashed to one shard")
    for i, id in ipairs(ids) do assert.are.equal(i - 1, job_of[id], "the job of id " .. i) end
    if not H.cluster_mode then -- one server counts every call
      -- One enqueue call per shard used, in each round, the one call that
      -- checked the queue's shard count when the program started, and the
      -- one that added the queue to the registry of queues on its first
      -- enqueue.
      assert.are.equal(2 + 2 * used, calls)
    end
  end)

  it("recover a killed worker's jobs on every shard", function()
    local q, runs, config = R.queue(server, { shards = 3, lease = 1, monitor_interval = 0.2 })
    local ids = {}
    for b = 0, 5 do
      for _, id in ipairs(q:queue_many(jobs(4, b * 4, { sleep = 0.3 }))) do ids[#ids + 1] = id end
    end
    local pid = H.spawn_workers({ name = config.runs:gsub("%-runs$", ""), redis = server.url, job_file = record,
      config = config, shards = 3, lease = 1, workers = 3, log_level = "error" }, "/dev/null")
    H.wait_until("jobs in flight on every shard", 20, function()
      for k = 0, 2 do
        if q:stats { shard = k }.inflight == 0 then return false end
      end
      return true
    end)
    H.kill(pid, 9)
    q:start { job_file = record, config = config, workers = 3, monitors = 1 }
    H.wait_until("every job to succeed", 60, function() return q:stats().counters.succeeded == #ids end)
    q:stop { grace = 5 }
    local by_id = H.runs(runs)
    for _, id in ipairs(ids) do assert.is_true((by_id[id] or 0) >= 1, "job " .. id) end
    for k = 0, 2 do
      assert.is_true(q:stats { shard = k }.counters.recovered >= 1, "nothing recovered on shard " .. k)
    end
    assert.are.equal(0, q:stats().inflight)
  end)

  it("list, requeue, delete and destroy across the shards", function()
    local q, _, config, name = R.queue(server, { shards = 3 })
    q:queue_many(jobs(3, 0, { fail = "no" }))
    q:queue_many(jobs(3, 3, { fail = "no" }))
    q:queue_many(jobs(3, 6, { fail = "no" }))
    q:start { job_file = record, config = config, workers = 2, monitors = 0 }
    H.wait_until("9 failures", 20, function() return q:stats().failed == 9 end)
    q:stop { grace = 5 }
    assert.are.equal(9, #q:failed { limit = 100 })
    assert.are.equal(4, #q:failed { offset = 5, limit = 100 })
    assert.are.equal(2, #q:failed { offset = 2, limit = 2 })
    local cli = H.quote(H.build .. "/hworker-lua")
    local function run(args)
      return (H.sh(cli .. " " .. args .. " --redis " .. H.quote(server.url) .. " --shards 3"):gsub("%s+$", ""))
    end
    local one = q:failed { limit = 1 }[1]
    assert.are.equal("deleted 1 failed record(s)", run("delete " .. name .. " --failed " .. one.id))
    assert.are.equal("requeued 8 failed record(s)", run("requeue " .. name .. " --failed --all"))
    assert.are.equal(8, q:stats().pending)
    local st = H.cjson.decode(run("stats " .. name .. " --json"))
    assert.are.equal(8, st.pending)
    assert.are.equal(3, #st.shards)
    local sum = 0
    for _, sh in ipairs(st.shards) do sum = sum + sh.pending end
    assert.are.equal(8, sum)
    q:destroy()
    for k = 0, 2 do
      assert.are.equal(0, tonumber(q:command("EXISTS", "hw:{" .. name .. "#" .. k .. "}:pending",
        "hw:{" .. name .. "#" .. k .. "}:stats")))
    end
  end)
end)
