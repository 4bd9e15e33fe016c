-- Redis Sentinel (redis+sentinel://, docs/connections.md): the master found
-- through the sentinels, checked with ROLE, and followed through a
-- failover (a READONLY reply, a lost connection). The set-up is local: a
-- master, a replica and 3 sentinels on loopback ports.
local H = require "spec.support.helper"
local R = require "spec.support.recorded"
local S = require "spec.support.sentinel"

local record = H.job_path("record.lua")

local function jobs(n, from) return R.jobs(n, from, { sleep = 0.001 }) end

-- A loopback port nothing listens on: a sentinel that does not answer.
local function dead_port(s)
  local sn, addr = s.extra_sentinel("unused", s.master_port(), 2)
  sn.stop()
  return addr
end

describe("behind Redis Sentinel", function()
  local s
  lazy_setup(function() s = S.start { sentinels = 3, replicas = 1 } end)
  lazy_teardown(function() s.stop() end)
  after_each(H.cleanup)

  it("names the master and every sentinel asked, with its answer, when none gives the master", function()
    local dead = dead_port(s)
    local url = "redis+sentinel://" .. dead .. "," .. s.addrs[1] .. "/nosuch"
    local q = H.hworker.open { name = "unknown", redis = url, log_level = "error" }
    local ok, err = pcall(q.stats, q)
    assert.is_false(ok)
    err = tostring(err)
    assert.truthy(err:find("no sentinel gave the address of master 'nosuch' (asked 2: ", 1, true), err)
    assert.truthy(err:find(dead .. ": Connection refused; ", 1, true), err)
    assert.truthy(err:find(s.addrs[1] .. ": does not know a master named 'nosuch'", 1, true), err)
  end)

  it("skips a sentinel that does not answer and works on the master the next one names", function()
    local url = "redis+sentinel://" .. dead_port(s) .. "," .. s.addrs[2] .. "/" .. s.name
    local q, name = H.queue({ url = url })
    q:queue { n = 1 }
    assert.are.equal(1, q:stats().pending)
    assert.are.equal("1", s.on(s.master_port()).cli("EXISTS", "hw:{" .. name .. "}:pending"))
  end)

  it("refuses a server the sentinels name as master when its ROLE says it is a replica", function()
    -- A sentinel of its own told that the replica is master "stale"; with a
    -- quorum it cannot reach alone, it never fails it over.
    local replica = s.redis[2]
    assert.truthy(replica.cli("ROLE"):find("^slave"))
    local sn, addr = s.extra_sentinel("stale", replica.port, 2)
    local q = H.hworker.open { name = "stale", redis = "redis+sentinel://" .. addr .. "/stale", log_level = "error" }
    local ok, err = pcall(q.stats, q)
    sn.stop()
    assert.is_false(ok)
    assert.truthy(tostring(err):find("127.0.0.1:" .. replica.port .. ", named by the sentinels as master 'stale', "
      .. "says its role is slave", 1, true), err)
  end)

  it("authenticates to sentinels with ?sentinel_password=, and says why one refuses", function()
    local sn, addr = s.extra_sentinel("locked", s.master_port(), 2, "requirepass s3ntinel-pw")
    local url = "redis+sentinel://" .. addr .. "/locked"
    local q = H.hworker.open { name = "locked", redis = url, log_level = "error" }
    local ok, err = pcall(q.stats, q)
    assert.is_false(ok)
    assert.truthy(tostring(err):find(addr .. ": NOAUTH", 1, true), err)
    q = H.hworker.open { name = "locked", redis = url .. "?sentinel_password=s3ntinel-pw", log_level = "error" }
    assert.are.equal(0, q:stats().pending)
    q = H.hworker.open { name = "locked", redis = url .. "?sentinel_password=wrong-pw", log_level = "error" }
    ok, err = pcall(q.stats, q)
    sn.stop()
    assert.is_false(ok)
    assert.truthy(tostring(err):find(addr .. ": refused sentinel_password: ", 1, true), err)
    assert.is_nil(tostring(err):find("wrong-pw", 1, true), err)
  end)

  -- A master demoted while clients stay connected answers writes with
  -- READONLY: the command must fail as on a lost connection, so the
  -- producer's one retry reconnects through the sentinels.
  it("goes back to the sentinels on a READONLY reply and enqueues on the new master", function()
    local a = s.extra_redis()
    local b = s.extra_redis(a.port)
    H.wait_until("the new replica to be in sync", 30, function()
      return b.cli("INFO", "replication"):find("master_link_status:up", 1, true) ~= nil
    end)
    local sn, addr = s.extra_sentinel("solo", a.port, 2)
    local q, name = H.queue({ url = "redis+sentinel://" .. addr .. "/solo" })
    q:queue { n = 1 }
    -- A switch-over done by hand, so nothing closes the producer's
    -- connection to a: b becomes master, a its replica, and the sentinel
    -- names b.
    assert.are.equal("OK", b.cli("REPLICAOF", "NO", "ONE"))
    assert.are.equal("OK", a.cli("REPLICAOF", "127.0.0.1", tostring(b.port)))
    assert.are.equal("OK", sn.cli("SENTINEL", "REMOVE", "solo"))
    assert.are.equal("OK", sn.cli("SENTINEL", "MONITOR", "solo", "127.0.0.1", tostring(b.port), "2"))
    local id = q:queue { n = 2 }
    assert.are.equal(2, q:stats().pending)
    assert.truthy(b.cli("LRANGE", "hw:{" .. name .. "}:pending", "0", "-1"):find(id, 1, true))
    sn.stop()
  end)

  -- With min_replicas = 1 an enqueue is acknowledged only once the replica
  -- has it, so the replica that takes over has every acknowledged job.
  it("loses no acknowledged job when the master is killed and the sentinels promote the replica", function()
    local q, runs, config = R.queue(s, { min_replicas = 1, min_replicas_timeout = 1, redis_timeout = 2, lease = 3,
      monitor_interval = 0.5, on_exception = "retry", retry_base = 0.1, retry_max_delay = 1 })
    q:start { job_file = record, config = config, workers = 2, monitors = 1 }
    local acked, n = {}, 0
    local function enqueue_some()
      local ok, ids = pcall(q.queue_many, q, jobs(20, n))
      n = n + 20
      if ok then
        for _, id in ipairs(ids) do acked[#acked + 1] = id end
      end
    end
    for _ = 1, 20 do enqueue_some() end
    local before_kill = #acked
    H.wait_until("jobs to run before the kill", 30, function() return select(2, H.runs(runs)) >= 20 end)
    local old_port = s.master_port()
    local old = s.on(old_port)
    H.kill(old.pid(), 9)
    -- Keep enqueueing through the failover until every sentinel names a
    -- new master and it says so itself.
    H.wait_until("the sentinels to promote the replica", 60, function()
      enqueue_some()
      for i = 1, 3 do
        local port = s.master_port(i)
        if port == nil or port == old_port then return false end
      end
      return s.on(s.master_port()).cli("ROLE"):find("^master") ~= nil
    end)
    -- The old master comes back as the new one's replica: writes can be
    -- confirmed again.
    assert.is_true(old.start())
    H.wait_until("the old master to replicate the new one", 60, function()
      return old.cli("INFO", "replication"):find("master_link_status:up", 1, true) ~= nil
    end)
    local before_more = #acked
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
    assert.is_true(#acked > before_more, "no enqueue was acknowledged after the failover")
  end)
end)

-- rediss+sentinel://: the same over TLS, to the sentinels and the master
-- alike (every server and sentinel here is TLS-only). One sentinel is
-- enough: SENTINEL FAILOVER needs no vote.
describe("behind Redis Sentinel over TLS", function()
  local s, ca
  lazy_setup(function()
    ca = H.test_ca()
    s = S.start { sentinels = 1, replicas = 1, tls = ca }
  end)
  lazy_teardown(function() s.stop() end)
  after_each(H.cleanup)

  it("runs jobs on the master the sentinels name, and follows a failover", function()
    local q, runs, config = R.queue(s, { redis_timeout = 2, lease = 3, monitor_interval = 0.5 })
    q:start { job_file = record, config = config, workers = 1, monitors = 1 }
    local first = q:queue { n = 1 }
    H.wait_until("the first job to run", 30, function() return H.runs(runs)[first] == 1 end)
    local old_port = s.master_port()
    -- A sentinel refuses (NOGOODSLAVE, changing nothing) until its own
    -- view of the replica is fresh: ask until it takes the failover.
    H.wait_until("the sentinel to take the failover", 30, function()
      return s.sentinels[1].cli("SENTINEL", "FAILOVER", s.name) == "OK"
    end)
    H.wait_until("the sentinel to promote the replica", 60, function()
      local port = s.master_port()
      return port ~= nil and port ~= old_port and s.on(port).cli("ROLE"):find("^master") ~= nil
    end)
    -- The producer's connection to the old master gets READONLY or is
    -- closed by the switch; either way it asks the sentinel again.
    local second
    H.wait_until("an enqueue on the new master", 30, function()
      local ok, id = pcall(q.queue, q, { n = 2 })
      second = ok and id or nil
      return second ~= nil
    end)
    H.wait_until("the second job to run", 30, function() return H.runs(runs)[second] == 1 end)
    q:stop { grace = 5 }
  end)

  it("authenticates to TLS sentinels with sentinel_password= next to the TLS parameters", function()
    local sn, addr = s.extra_sentinel("locked", s.master_port(), 2, "requirepass s3ntinel-pw")
    local url = ("rediss+sentinel://%s/locked?cacert=%s/ca.pem"):format(addr, ca)
    local q = H.hworker.open { name = "locked", redis = url, log_level = "error" }
    local ok, err = pcall(q.stats, q)
    assert.is_false(ok)
    assert.truthy(tostring(err):find(addr .. ": NOAUTH", 1, true), err)
    q = H.hworker.open { name = "locked", redis = url .. "&sentinel_password=s3ntinel-pw", log_level = "error" }
    assert.are.equal(0, q:stats().pending)
    sn.stop()
  end)

  it("refuses sentinels whose certificate is not signed by the CA given, naming the cause", function()
    local url = ("rediss+sentinel://%s/%s?cacert=%s/other-ca.pem"):format(s.addrs[1], s.name, ca)
    local q = H.hworker.open { name = "wrongca", redis = url, log_level = "error" }
    local ok, err = pcall(q.stats, q)
    assert.is_false(ok)
    assert.truthy(tostring(err):find(s.addrs[1] .. ": TLS: the server's certificate is not signed by a CA in ", 1,
      true), err)
  end)
end)
