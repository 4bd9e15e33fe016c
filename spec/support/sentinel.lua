-- A private Redis Sentinel set-up for specs: a master, `replicas` replicas
-- (1) and `sentinels` sentinels (3, quorum 2) watching it as master
-- `name` ("mymaster"), on loopback ports picked at random, each in its own
-- temp dir. Sentinels run as `redis-server CONF --sentinel` (what Debian's
-- redis-sentinel runs) with a short down-after-milliseconds, so a failover
-- takes seconds. opts.tls (a dir from H.test_ca) makes every server and
-- sentinel TLS-only (clients, replication and the sentinels' links), and
-- s.url a rediss+sentinel:// URL.
local H = require "spec.support.helper"
local C = require "spec.support.cluster"

local S = {}

-- redis-cli, over TLS when tls (a test CA dir) is given.
local function cli_command(tls)
  if not tls then return H.plain .. "redis-cli" end
  return ("%sredis-cli --tls --cacert %s/ca.pem"):format(H.plain, H.quote(tls))
end

-- What makes a server or sentinel TLS-only (tls: a test CA dir), as
-- redis.conf lines; the server certificate also serves as the client
-- certificate of replicas and sentinels.
local function tls_lines(tls, port)
  return { "port 0", "tls-port " .. port, "tls-replication yes", "tls-auth-clients no",
    "tls-cert-file " .. tls .. "/server.pem", "tls-key-file " .. tls .. "/server.key",
    "tls-ca-cert-file " .. tls .. "/ca.pem" }
end

-- A process on `port` with its files in `dir`: cli, start, pid, stop.
local function instance(dir, port, start_args, tls)
  local p = { port = port, dir = dir }
  function p.cli(...)
    local parts = { cli_command(tls), "-p", tostring(port) }
    for _, a in ipairs({ ... }) do parts[#parts + 1] = H.quote(a) end
    return (H.sh(table.concat(parts, " ")):gsub("%s+$", ""))
  end
  function p.pid()
    local f = io.open(dir .. "/redis.pid")
    if not f then return nil end
    local pid = tonumber(f:read("*a"))
    f:close()
    return pid
  end
  -- Ours, not some other server on that port: its pid file names it. A
  -- sentinel with a password answers NOAUTH.
  function p.start()
    H.sh(start_args())
    return pcall(H.wait_until, "port " .. port .. " to answer", 10, function()
      local pid = p.pid()
      local pong = pid and H.alive(pid) and p.cli("PING")
      return pong == "PONG" or (pong and pong:find("NOAUTH", 1, true))
    end)
  end
  function p.stop()
    local pid = p.pid()
    if pid then
      H.kill(pid, 9)
      pcall(H.wait_until, "process " .. pid .. " to exit", 10, function() return not H.alive(pid) end)
    end
  end
  return p
end

local function redis_node(dir, port, replica_of, tls)
  H.sh("mkdir -p " .. H.quote(dir))
  local lines = tls and tls_lines(tls, port) or { "port " .. port }
  for _, line in ipairs({ "bind 127.0.0.1", "dir " .. dir, "daemonize yes", "pidfile " .. dir .. "/redis.pid",
    "logfile " .. dir .. "/redis.log", "save ''", "appendonly yes",
    replica_of and ("replicaof 127.0.0.1 " .. replica_of) or "" }) do
    lines[#lines + 1] = line
  end
  lines[#lines + 1] = ""
  H.file(dir, "redis.conf", table.concat(lines, "\n"))
  return instance(dir, port, function()
    return H.plain .. "redis-server " .. H.quote(dir .. "/redis.conf")
  end, tls)
end

-- A sentinel watching `name` at 127.0.0.1:master_port. Sentinel rewrites
-- its configuration file, so each has its own.
local function sentinel_node(dir, port, name, master_port, quorum, extra_lines, tls)
  H.sh("mkdir -p " .. H.quote(dir))
  local lines = tls and tls_lines(tls, port) or { "port " .. port }
  for _, line in ipairs({ "bind 127.0.0.1", "daemonize yes", "pidfile " .. dir .. "/redis.pid",
    "logfile " .. dir .. "/sentinel.log", "dir " .. dir,
    ("sentinel monitor %s 127.0.0.1 %d %d"):format(name, master_port, quorum),
    ("sentinel down-after-milliseconds %s 1000"):format(name),
    ("sentinel failover-timeout %s 5000"):format(name),
    ("sentinel parallel-syncs %s 1"):format(name), extra_lines or "", "" }) do
    lines[#lines + 1] = line
  end
  H.file(dir, "sentinel.conf", table.concat(lines, "\n"))
  return instance(dir, port, function()
    return H.plain .. "redis-server " .. H.quote(dir .. "/sentinel.conf") .. " --sentinel"
  end, tls)
end

-- Loopback ports below the ephemeral range that nothing uses now.
local function free_ports(n)
  local busy = C.ports_in_use()
  for _ = 1, 100 do
    local base, ok = math.random(10000, 22000), true
    for i = 0, n - 1 do ok = ok and not busy[base + i] end
    if ok then return base end
  end
  error("no " .. n .. " free loopback ports in a row")
end

function S.start(opts)
  opts = opts or {}
  local nsentinels, nreplicas = opts.sentinels or 3, opts.replicas or 1
  local s = { name = opts.name or "mymaster", dir = H.tmpdir(), redis = {}, sentinels = {} }
  local base = free_ports(1 + nreplicas + nsentinels)
  s.redis[1] = redis_node(s.dir .. "/r0", base, nil, opts.tls)
  assert(s.redis[1].start(), "the master did not start")
  for i = 1, nreplicas do
    s.redis[i + 1] = redis_node(s.dir .. "/r" .. i, base + i, base, opts.tls)
    assert(s.redis[i + 1].start(), "a replica did not start")
  end
  H.wait_until("every replica to be in sync", 30, function()
    for i = 2, #s.redis do
      if not s.redis[i].cli("INFO", "replication"):find("master_link_status:up", 1, true) then return false end
    end
    return true
  end)
  local addrs = {}
  for i = 1, nsentinels do
    local port = base + nreplicas + i
    s.sentinels[i] = sentinel_node(s.dir .. "/s" .. i, port, s.name, base, 2, nil, opts.tls)
    assert(s.sentinels[i].start(), "a sentinel did not start")
    addrs[i] = "127.0.0.1:" .. port
  end
  s.url = "redis+sentinel://" .. table.concat(addrs, ",") .. "/" .. s.name
  if opts.tls then
    s.url = ("rediss+sentinel://%s/%s?cacert=%s/ca.pem"):format(table.concat(addrs, ","), s.name, opts.tls)
  end
  s.addrs = addrs
  -- Every sentinel knows the replicas and the other sentinels (found
  -- through the master's hello channel) before a spec relies on a vote.
  H.wait_until("the sentinels to know each other and the replicas", 30, function()
    for _, sn in ipairs(s.sentinels) do
      local info = sn.cli("INFO", "sentinel")
      if not info:find("status=ok", 1, true) or not info:find(",slaves=" .. nreplicas .. ",", 1, true)
        or not info:find(",sentinels=" .. nsentinels, 1, true) then
        return false
      end
    end
    return true
  end)

  -- The master's port as sentinel `i` (1) reports it, or nil.
  function s.master_port(i)
    local out = s.sentinels[i or 1].cli("SENTINEL", "get-master-addr-by-name", s.name)
    return tonumber(out:match("\n(%d+)$"))
  end

  -- The redis instance on `port`.
  function s.on(port)
    for _, r in ipairs(s.redis) do
      if r.port == port then return r end
    end
  end

  -- A sentinel of its own, started, and stopped with the rest: for a
  -- master name the others do not watch. extra_lines: more sentinel.conf.
  function s.extra_sentinel(name, port_watched, quorum, extra_lines)
    local port = free_ports(1)
    local sn = sentinel_node(s.dir .. "/extra" .. port, port, name, port_watched, quorum, extra_lines, opts.tls)
    s.sentinels[#s.sentinels + 1] = sn
    assert(sn.start(), "a sentinel did not start")
    return sn, "127.0.0.1:" .. port
  end

  -- A redis-server of its own (a replica of 127.0.0.1:replica_of if
  -- given), started, and stopped with the rest: for a master name the
  -- others do not watch.
  function s.extra_redis(replica_of)
    local port = free_ports(1)
    local r = redis_node(s.dir .. "/extra" .. port, port, replica_of, opts.tls)
    s.redis[#s.redis + 1] = r
    assert(r.start(), "a redis-server did not start")
    return r
  end

  function s.stop()
    for _, sn in ipairs(s.sentinels) do sn.stop() end
    for _, r in ipairs(s.redis) do r.stop() end
    H.sh("rm -rf " .. H.quote(s.dir))
  end

  return s
end

return S
