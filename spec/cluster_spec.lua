-- Redis Cluster (issue 8): slot routing (MOVED followed, ASK/TRYAGAIN
-- waited out), a busy queue's slot moved to another master, and
-- min_replicas. The cluster is local: 3 masters on loopback ports.
local H = require "spec.support.helper"
local R = require "spec.support.recorded"
local C = require "spec.support.cluster"

local record = H.job_path("record.lua")

local function jobs(n, from) return R.jobs(n, from, { sleep = 0.001 }) end

local function node_id(node) return node.cli("CLUSTER", "MYID") end

describe("on a Redis Cluster", function()
  local cluster
  lazy_setup(function() cluster = C.start { masters = 3 } end)
  lazy_teardown(function() cluster.stop() end)
  after_each(H.cleanup)

  it("runs each job exactly once for queues on every master, from a seed that serves none of them", function()
    for i = 1, 3 do
      local name = cluster.name_on(cluster.nodes[i].port)
      -- The only seed is another master: the first command meets MOVED.
      local seed = { url = "redis+cluster://127.0.0.1:" .. cluster.nodes[i % 3 + 1].port }
      local q, runs, config = R.queue(seed, { name = name })
      local ids = q:queue_many(jobs(200, 0))
      q:start { job_file = record, config = config, workers = 2, monitors = 1 }
      R.settle(q, 200, 60)
      q:stop { grace = 5 }
      R.assert_each_ran_once(runs, ids)
      local s = q:stats()
      assert.are.equal(200, s.counters.succeeded)
      assert.are.equal(0, s.inflight)
      -- Every key of the queue is on the master that serves its slot.
      assert.are.equal(cluster.nodes[i].port, cluster.owner("hw:{" .. name .. "}:stats").port)
    end
  end)

  it("neither loses nor repeats a job while every slot of a busy queue's master moves to another", function()
    local src, dst = cluster.nodes[1], cluster.nodes[2]
    local name = cluster.name_on(src.port)
    local q, runs, config = R.queue(cluster, { name = name })
    local ids = q:queue_many(jobs(1500, 0))
    q:start { job_file = record, config = config, workers = 2, monitors = 1 }
    H.wait_until("jobs to flow", 30, function() return q:stats().counters.succeeded >= 100 end)
    local slots = 0
    for line in src.cli("CLUSTER", "NODES"):gmatch("[^\n]+") do
      if line:find("myself", 1, true) then
        for lo, hi in line:gmatch(" (%d+)%-(%d+)") do slots = slots + tonumber(hi) - tonumber(lo) + 1 end
      end
    end
    local out = H.sh(H.plain .. "redis-cli --cluster reshard 127.0.0.1:" .. src.port .. " --cluster-from " ..
      node_id(src) .. " --cluster-to " .. node_id(dst) .. " --cluster-slots " .. slots .. " --cluster-yes")
    assert.are.equal(dst.port, cluster.owner("hw:{" .. name .. "}:pending").port, out:sub(-500))
    -- More jobs, enqueued through the moved slot.
    for _, id in ipairs(q:queue_many(jobs(500, 1500))) do ids[#ids + 1] = id end
    R.settle(q, 2000, 120)
    q:stop { grace = 5 }
    R.assert_each_ran_once(runs, ids)
    local s = q:stats()
    assert.are.equal(2000, s.counters.succeeded)
    assert.are.equal(0, s.counters.lease_lost)
    assert.are.equal(0, s.counters.recovered)
  end)

  -- While a slot is half moved, a script whose keys are not all on one side
  -- cannot run anywhere (the source answers ASK, the target TRYAGAIN):
  -- commands must wait, not fail, and go on once the move completes.
  it("waits out a half-moved slot, following ASK, and runs every job once the move completes", function()
    -- The reshard spec before emptied node 1 (which then became a replica):
    -- move a queue of node 2 to node 3.
    local src, dst = cluster.nodes[2], cluster.nodes[3]
    local name = cluster.name_on(src.port)
    local q, runs, config = R.queue(cluster, { name = name })
    local ids = q:queue_many(jobs(50, 0))
    local _, _, slot = cluster.owner("hw:{" .. name .. "}:pending")
    -- What redis-cli --cluster reshard does, stopped half-way: every key of
    -- the slot is on dst, but src still owns the slot and answers ASK.
    assert.are.equal("OK", dst.cli("CLUSTER", "SETSLOT", slot, "IMPORTING", node_id(src)))
    assert.are.equal("OK", src.cli("CLUSTER", "SETSLOT", slot, "MIGRATING", node_id(dst)))
    local keys = {}
    for k in src.cli("CLUSTER", "GETKEYSINSLOT", slot, "100"):gmatch("[^\n]+") do keys[#keys + 1] = k end
    local migrated = src.cli("MIGRATE", "127.0.0.1", tostring(dst.port), "", "0", "5000", "KEYS", unpack(keys))
    assert.are.equal("OK", migrated, table.concat(keys, " "))
    local function askings()
      return tonumber(dst.cli("INFO", "commandstats"):match("cmdstat_asking:calls=(%d+)")) or 0
    end
    local before = askings()
    q:start { job_file = record, config = config, workers = 2, monitors = 1 }
    H.wait_until("a worker to follow ASK to the importing node", 20, function() return askings() > before end)
    -- The move completes a moment later, while the enqueue below waits.
    local ids_of = {}
    for _, node in ipairs(cluster.nodes) do ids_of[#ids_of + 1] = node.port end
    local finish = {}
    for _, port in ipairs(ids_of) do
      finish[#finish + 1] = H.plain .. "redis-cli -p " .. port .. " CLUSTER SETSLOT " .. slot
        .. " NODE " .. node_id(dst)
    end
    H.sh("(sleep 1; " .. table.concat(finish, "; ") .. ") >/dev/null 2>&1 &")
    for _, id in ipairs(q:queue_many(jobs(50, 50))) do ids[#ids + 1] = id end
    R.settle(q, 100, 60)
    q:stop { grace = 5 }
    assert.are.equal(dst.port, cluster.owner("hw:{" .. name .. "}:pending").port)
    R.assert_each_ran_once(runs, ids)
  end)

  it("spreads a queue of 6 shards over the masters and runs each job exactly once", function()
    local q, runs, config, name = R.queue(cluster, { shards = 6 })
    local ids = {}
    for b = 0, 29 do
      for _, id in ipairs(q:queue_many(jobs(20, b * 20))) do ids[#ids + 1] = id end
    end
    local masters = {}
    for k = 0, 5 do
      masters[cluster.owner("hw:{" .. name .. "#" .. k .. "}:pending").port] = true
      assert.are.equal(100, q:stats { shard = k }.pending)
    end
    local count = 0
    for _ in pairs(masters) do count = count + 1 end
    assert.is_true(count >= 2, "all 6 shards hash to one master")
    q:start { job_file = record, config = config, workers = 3, monitors = 1 }
    R.settle(q, 600, 60)
    q:stop { grace = 5 }
    R.assert_each_ran_once(runs, ids)
    assert.are.equal(600, q:stats().counters.succeeded)
  end)

  it("splits a concurrency cap over a queue's shards on several masters, and pauses every shard", function()
    local q, runs, config, name = R.queue(cluster, { shards = 6 })
    q:limit { concurrency = 6 }
    for k = 0, 5 do
      local key = "hw:{" .. name .. "#" .. k .. "}:flow"
      assert.are.equal(1, tonumber(cluster.owner(key).cli("HGET", key, "cap")))
    end
    -- A batch goes to one shard, the next batch to the next.
    for b = 0, 11 do q:queue_many(R.jobs(10, b * 10, { sleep = 0.05, record_end = true })) end
    q:start { job_file = record, config = config, workers = 8, monitors = 1 }
    H.wait_until("30 runs", 30, function() return #R.events(runs) >= 30 end)
    q:pause()
    assert.is_true(q:stats().flow.paused)
    H.wait_until("the jobs in flight to finish", 30, function() return q:stats().inflight == 0 end)
    local ran = #R.events(runs)
    assert.are.equal(120 - ran, q:stats().pending)
    q:resume()
    R.settle(q, 120, 60)
    q:stop { grace = 5 }
    local most = R.most_at_once(runs)
    assert.is_true(most >= 2 and most <= 6, most .. " at once")
  end)

  it("runs groups of a queue spread over the masters, each group in turns and under its own cap", function()
    local q, runs, config = R.queue(cluster, { shards = 6 })
    q:limit { group = "*", concurrency = 1, rate = "50/s" }
    for g = 1, 6 do q:queue_many(R.jobs(10, g * 100, { sleep = 0.01, record_end = true }), { group = "t" .. g }) end
    assert.are.equal(60, q:stats().pending)
    q:start { job_file = record, config = config, workers = 8, monitors = 1 }
    R.settle(q, 60, 60)
    q:stop { grace = 5 }
    for g = 1, 6 do
      assert.are.equal(1, R.most_at_once(runs, nil, function(n) return n > g * 100 and n <= g * 100 + 10 end),
        "group t" .. g)
    end
  end)

  it("refuses an enqueue that no replica confirms when min_replicas is set, saying so", function()
    -- A master without replicas (an emptied master may have become one's).
    local lone
    for _, node in ipairs(cluster.nodes) do
      local info = node.cli("INFO", "replication")
      if info:find("role:master", 1, true) and info:find("connected_slaves:0", 1, true) then lone = node end
    end
    local q = H.queue(cluster, { name = cluster.name_on(lone.port), min_replicas = 1, min_replicas_timeout = 0.2 })
    local ok, err = pcall(q.queue, q, { n = 1 })
    assert.is_false(ok)
    assert.truthy(tostring(err):find("reached 0 of 1 replicas within 0.2 s", 1, true), err)
    -- The job is there all the same: the caller was told it may be.
    assert.are.equal(1, q:stats().pending)
  end)
end)

describe("on a Redis Cluster with replicas", function()
  local cluster
  lazy_setup(function() cluster = C.start { masters = 3, replicas = 1, node_timeout = 1000 } end)
  lazy_teardown(function() cluster.stop() end)
  after_each(H.cleanup)

  -- With min_replicas = 1 an enqueue is acknowledged only once a replica
  -- has it, so the replica that takes over has every acknowledged job.
  it("loses no acknowledged job when the queue's master is killed and its replica takes over", function()
    local master = cluster.nodes[1]
    local name = cluster.name_on(master.port)
    -- on_exception = retry: a job whose record cannot reach a replica yet
    -- (between the failover and the old master's return) runs again.
    local q, runs, config = R.queue(cluster, { name = name, min_replicas = 1, min_replicas_timeout = 1,
      redis_timeout = 2, lease = 3, monitor_interval = 0.5, on_exception = "retry", retry_base = 0.1,
      retry_max_delay = 1 })
    q:start { job_file = record, config = config, workers = 2, monitors = 1 }
    local acked, refused, n = {}, 0, 0
    local function enqueue_some()
      local ok, ids = pcall(q.queue_many, q, jobs(20, n))
      n = n + 20
      if ok then
        for _, id in ipairs(ids) do acked[#acked + 1] = id end
      else
        refused = refused + 1
      end
    end
    for _ = 1, 20 do enqueue_some() end
    local before_kill = #acked
    H.kill(master.pid(), 9)
    -- Keep enqueueing through the failover until the replica serves the slot.
    H.wait_until("a replica to take over the queue's slot", 60, function()
      enqueue_some()
      local owner = cluster.owner("hw:{" .. name .. "}:pending")
      return owner and owner.port ~= master.port
    end)
    -- The old master comes back as the new one's replica: writes can be
    -- confirmed again.
    master.start()
    H.wait_until("the old master to replicate the new one", 60, function()
      return master.cli("INFO", "replication"):find("master_link_status:up", 1, true) ~= nil
    end)
    for _ = 1, 20 do enqueue_some() end
    H.wait_until("every acknowledged job to run", 120, function()
      local by_id = H.runs(runs)
      for _, id in ipairs(acked) do
        if not by_id[id] then return false end
      end
      return true
    end)
    q:stop { grace = 5 }
    assert.are.equal(400, before_kill)
    assert.is_true(#acked > before_kill, "no enqueue was acknowledged after the failover")
  end)
end)
