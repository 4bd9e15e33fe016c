-- A private Redis Cluster for specs: `masters` masters (3) and `replicas`
-- replicas per master (0), on loopback ports picked at random, each node in
-- its own temp dir with appendonly on. The cluster bus uses port + 10000.
-- opts.tls (a dir from H.test_ca) makes every node TLS-only (client port,
-- cluster bus and replication), and c.url a rediss+cluster:// URL.
local H = require "spec.support.helper"

local C = {}

-- Local ports in use now, in any state (a cluster bus port answers no
-- PING, and a port in TIME_WAIT cannot be bound either).
local function ports_in_use()
  local ports = {}
  for p in H.sh(H.plain .. "ss -Htan"):gmatch("127%.0%.0%.1:(%d+)%s") do ports[tonumber(p)] = true end
  for p in H.sh(H.plain .. "ss -Htln"):gmatch(":(%d+)%s") do ports[tonumber(p)] = true end
  return ports
end
C.ports_in_use = ports_in_use

function C.start(opts)
  opts = opts or {}
  local masters, replicas = opts.masters or 3, opts.replicas or 0
  local n = masters * (1 + replicas)
  local c = { nodes = {}, dir = H.tmpdir() }
  local cli = H.plain .. "redis-cli"
  local listen = "--port %d"
  if opts.tls then
    cli = ("%s --tls --cacert %s/ca.pem"):format(cli, H.quote(opts.tls))
    listen = ("--port 0 --tls-port %%d --tls-cluster yes --tls-replication yes --tls-auth-clients no "
      .. "--tls-cert-file %s/server.pem --tls-key-file %s/server.key --tls-ca-cert-file %s/ca.pem")
      :format(H.quote(opts.tls), H.quote(opts.tls), H.quote(opts.tls))
  end

  local function make_node(port)
    local dir = c.dir .. "/" .. port
    H.sh("mkdir -p " .. H.quote(dir))
    local node = { port = port, dir = dir }
    function node.cli(...)
      local parts = { cli, "-p", tostring(port) }
      for _, a in ipairs({ ... }) do parts[#parts + 1] = H.quote(a) end
      return (H.sh(table.concat(parts, " ")):gsub("%s+$", ""))
    end
    -- Ours, not some other server on that port: its dir is our dir.
    local function ours() return node.cli("CONFIG", "GET", "dir"):find(dir, 1, true) ~= nil end
    function node.start()
      H.sh(table.concat({ H.plain .. "redis-server", listen:format(port), "--bind 127.0.0.1", "--dir", H.quote(dir),
        "--daemonize yes", "--pidfile", H.quote(dir .. "/redis.pid"), "--logfile", H.quote(dir .. "/redis.log"),
        "--save ''", "--appendonly yes", "--cluster-enabled yes", "--cluster-config-file nodes.conf",
        "--cluster-node-timeout", opts.node_timeout or 2000, opts.args or "" }, " "))
      return pcall(H.wait_until, "cluster node " .. port .. " to answer", 10, ours)
    end
    function node.pid()
      local f = io.open(dir .. "/redis.pid")
      if not f then return nil end
      local pid = tonumber(f:read("*a"))
      f:close()
      return pid
    end
    return node
  end

  -- Ports nothing listens on (nor on their bus ports); another try on
  -- other ports if a node does not come up (a port taken meanwhile).
  for attempt = 1, 3 do
    local busy, base = ports_in_use(), nil
    for _ = 1, 50 do
      -- Below the kernel's ephemeral range (32768 and up), node and bus
      -- port alike, so no outgoing connection can take one meanwhile.
      base = math.random(10000, 22000)
      local ok = true
      for i = 0, n - 1 do ok = ok and not busy[base + i] and not busy[base + 10000 + i] end
      if ok then break end
    end
    local up = true
    for i = 1, n do
      local node = make_node(base + i - 1)
      c.nodes[i] = node
      if not node.start() then up = false break end
    end
    if up then break end
    for _, node in ipairs(c.nodes) do
      if node.cli("CONFIG", "GET", "dir"):find(node.dir, 1, true) then node.cli("SHUTDOWN", "NOSAVE") end
    end
    c.nodes = {}
    if attempt == 3 then error("could not start a local Redis Cluster on free ports") end
  end
  local addrs = {}
  for i, node in ipairs(c.nodes) do addrs[i] = "127.0.0.1:" .. node.port end
  -- Bounded: redis-cli waits for the nodes to meet without end (a bus
  -- that cannot connect, e.g. a TLS set-up the nodes refuse).
  local out = H.sh("timeout 60 " .. cli .. " --cluster create " .. table.concat(addrs, " ") ..
    " --cluster-replicas " .. replicas .. " --cluster-yes")
  H.wait_until("the cluster to be ok (" .. out:sub(-300) .. ")", 30, function()
    for _, node in ipairs(c.nodes) do
      if not node.cli("CLUSTER", "INFO"):find("cluster_state:ok", 1, true) then return false end
    end
    return true
  end)
  if replicas > 0 then
    H.wait_until("every replica to be in sync", 30, function()
      for _, node in ipairs(c.nodes) do
        local info = node.cli("INFO", "replication")
        if info:find("role:slave", 1, true) and not info:find("master_link_status:up", 1, true) then return false end
      end
      return true
    end)
  end
  -- Seeds: the masters as created (the first `masters` addresses).
  local seeds = {}
  for i = 1, masters do seeds[i] = addrs[i] end
  c.url = "redis+cluster://" .. table.concat(seeds, ",")
  if opts.tls then c.url = ("rediss+cluster://%s?cacert=%s/ca.pem"):format(table.concat(seeds, ","), opts.tls) end

  -- The node that serves a key now, per the first live node's view.
  function c.owner(key)
    for _, node in ipairs(c.nodes) do
      local slot = tonumber(node.cli("CLUSTER", "KEYSLOT", key))
      if slot then
        for line in node.cli("CLUSTER", "NODES"):gmatch("[^\n]+") do
          local f = {}
          for field in line:gmatch("%S+") do f[#f + 1] = field end
          -- id addr flags master ping pong epoch link slot...
          if f[3]:find("master") and not f[3]:find("fail") then
            for k = 9, #f do
              local lo, hi = f[k]:match("^(%d+)%-(%d+)$")
              lo, hi = tonumber(lo or f[k]), tonumber(hi or f[k])
              if lo and slot >= lo and slot <= hi then
                local port = tonumber(f[2]:match(":(%d+)"))
                for _, n2 in ipairs(c.nodes) do
                  if n2.port == port then return n2, f[1], slot end
                end
              end
            end
          end
        end
      end
    end
  end

  -- A queue name whose slot another master than `not_port` serves, so
  -- specs can spread queues over masters.
  function c.name_on(port_wanted)
    for i = 1, 10000 do
      local name = "q" .. i .. "-" .. math.random(1e6)
      local node = c.owner("hw:{" .. name .. "}:pending")
      if node and node.port == port_wanted then return name end
    end
  end

  function c.stop()
    for _, node in ipairs(c.nodes) do
      local pid = node.pid()
      node.cli("SHUTDOWN", "NOSAVE")
      if pid then pcall(H.wait_until, "cluster node to exit", 10, function() return not H.alive(pid) end) end
    end
    H.sh("rm -rf " .. H.quote(c.dir))
  end

  return c
end

return C
