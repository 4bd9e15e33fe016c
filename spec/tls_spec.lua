-- Redis over TLS (rediss://, docs/connections.md): a TLS-only redis-server
-- with a test CA made by the openssl command; jobs queued, run and counted
-- over it; mutual TLS; a wrong CA, a wrong host name and bad files refused
-- with messages that name the cause; ?insecure works and says so.
local H = require "spec.support.helper"
local R = require "spec.support.recorded"
local cjson = require "cjson"

local bin = H.build .. "/hworker-lua"
local record = H.job_path("record.lua")

describe("rediss:// #standalone", function()
  local ca, server, mtls
  lazy_setup(function()
    ca = H.test_ca()
    server = H.redis_server { tls = ca }
    mtls = H.redis_server { tls = ca, tls_auth_clients = "yes" }
  end)
  lazy_teardown(function()
    server.stop()
    mtls.stop()
    H.sh("rm -rf " .. H.quote(ca))
  end)
  after_each(H.cleanup)

  local function url(s, query)
    return ("rediss://localhost:%d/0?%s"):format(s.tls_port, query)
  end
  local function open(s, query, name)
    local q = H.track(H.hworker.open { name = name or ("tls-" .. math.random(1, 1e9)), redis = url(s, query),
      log_level = "silent" })
    return q
  end
  local function attempt(s, query)
    local ok, q = pcall(open, s, query)
    if not ok then return false, q end
    return pcall(q.queue, q, { n = 1 })
  end

  it("queues, runs with hworker-lua run, and counts, verified against ?cacert", function()
    local tls = url(server, "cacert=" .. ca .. "/ca.pem")
    -- The runs queue lives on the same server: record.lua reaches it over TLS too.
    local q, name = H.queue({ url = tls }, { log_level = "silent" })
    local runs = H.track(H.hworker.open { name = name .. "-runs", redis = tls, log_level = "silent" })
    runs:destroy()
    local ids = q:queue_many(R.jobs(20, 0))
    local log = H.tmpdir() .. "/run.log"
    local pid = tonumber(H.sh(("%s run %s --name %s --redis %s --threads 2 --config %s > %s 2>&1 & echo $!"):format(
      H.quote(bin), H.quote(record), name, H.quote(tls), H.quote(cjson.encode { runs = name .. "-runs" }),
      H.quote(log))))
    R.settle(q, 20)
    H.kill(pid, 15)
    H.wait_until("run to exit", 20, function() return not H.alive(pid) end)
    assert.are.equal(20, q:stats().counters.succeeded)
    R.assert_each_ran_once(runs, ids)
    local out, err, code = H.run(bin, ("stats %s --redis %s --json"):format(name, H.quote(tls)))
    assert.are.equal(0, code, err)
    assert.are.equal(20, cjson.decode(out).counters.succeeded)
    -- None of it went over plain TCP: the server has no plain TCP port.
    assert.are.equal("port\n0", server.cli("CONFIG", "GET", "port"))
  end)

  it("runs jobs with the Lua module's workers and monitors", function()
    local tls = url(server, "cacert=" .. ca .. "/ca.pem")
    local q, runs, config = R.queue({ url = tls }, { log_level = "silent" })
    local ids = q:queue_many(R.jobs(10, 0))
    q:start { job_file = record, config = config, workers = 2, monitors = 1 }
    R.settle(q, 10)
    R.assert_each_ran_once(runs, ids)
  end)

  it("keeps the host process alive when Redis closes its connection in the middle of a write", function()
    -- OpenSSL writes the socket: without the library's guard, SIGPIPE (exit status 141) ends the host.
    local out, err, code = H.run("luajit", ("%s %s %s closed-mid-write"):format(
      H.quote(H.root .. "/spec/support/closed_mid_write.lua"), H.quote(H.build),
      H.quote(url(server, "cacert=" .. ca .. "/ca.pem"))))
    assert.are.equal(0, code, err)
    assert.truthy(out:find("alive", 1, true), out)
  end)

  it("offers the client certificate (?cert=&key=) to a server that requires one", function()
    local q = open(mtls, ("cacert=%s/ca.pem&cert=%s/client.pem&key=%s/client.key"):format(ca, ca, ca))
    q:destroy()
    q:queue { n = 1 }
    assert.are.equal(1, q:stats().pending)
  end)

  it("is refused by a server that requires a client certificate when none is given", function()
    local ok, err = attempt(mtls, "cacert=" .. ca .. "/ca.pem")
    assert.is_false(ok)
    -- The server's alert ("certificate required") may be lost to the reset
    -- that follows it; either way the message points at the fix.
    assert.matches("client certificate: add ?cert=FILE&key=FILE", err, 1, true)
  end)

  it("refuses a server whose certificate no CA in ?cacert signed, naming the file", function()
    local ok, err = attempt(server, "cacert=" .. ca .. "/other-ca.pem")
    assert.is_false(ok)
    assert.matches("TLS: the server's certificate is not signed by a CA in " .. ca .. "/other-ca.pem "
      .. "(certificate verify failed: ", err, 1, true)
  end)

  it("refuses a server whose certificate does not name the host (?sni)", function()
    local ok, err = attempt(server, ("cacert=%s/ca.pem&sni=localhost2"):format(ca))
    assert.is_false(ok)
    assert.matches("TLS: the server's certificate does not name host localhost2 (certificate verify failed: "
      .. "hostname mismatch", err, 1, true)
  end)

  it("verifies an IP address against the certificate's IP entries", function()
    local q = H.track(H.hworker.open { name = "tls-ip", log_level = "silent",
      redis = ("rediss://127.0.0.1:%d/0?cacert=%s/ca.pem"):format(server.tls_port, ca) })
    q:destroy()
    q:queue { n = 1 }
    assert.are.equal(1, q:stats().pending)
  end)

  it("fails at open when a CA, certificate or key file cannot be used, naming the file", function()
    local missing = ca .. "/missing.pem"
    for _, query in ipairs {
      "cacert=" .. missing,
      ("cacert=%s/ca.pem&cert=%s&key=%s/client.key"):format(ca, missing, ca),
      ("cacert=%s/ca.pem&cert=%s/client.pem&key=%s/server.key"):format(ca, ca, ca),
    } do
      local ok, err = pcall(H.hworker.open, { name = "tls-files", redis = url(server, query) })
      assert.is_false(ok)
      assert.matches("TLS: cannot use the ", err, 1, true)
      assert.matches(query:match("key=[^&]*server.key") and "server.key" or "missing.pem", err, 1, true)
    end
  end)

  it("connects without verification under ?insecure, and warns at every connect", function()
    local insecure = url(server, "insecure")
    local q = open(server, "insecure")
    q:destroy()
    q:queue { n = 1 }
    assert.are.equal(1, q:stats().pending)
    -- hworker-lua run logs warnings: one for each connection it makes.
    local dir = H.tmpdir()
    local job = H.file(dir, "idle.lua", "function job() end\n")
    local log = dir .. "/run.log"
    local pid = tonumber(H.sh(("%s run %s --name tls-insecure --threads 1 --redis %s > %s 2>&1 & echo $!"):format(
      H.quote(bin), H.quote(job), H.quote(insecure), H.quote(log))))
    -- The monitor and the worker connect on their own threads, after the
    -- start-up line: wait for each warning, or for the runner to die.
    local function warned(text, role)
      return text:find("warn [tls-insecure] " .. role .. ": TLS certificate verification is off (?insecure in the URL)",
        1, true)
    end
    local roles = { "producer", "monitor", "worker 1" }
    H.wait_until("a warning from each connection", 20, function()
      local text = H.read(log)
      for _, role in ipairs(roles) do
        if not warned(text, role) then return not H.alive(pid) end
      end
      return true
    end)
    H.kill(pid, 15)
    H.wait_until("the runner to exit", 20, function() return not H.alive(pid) end)
    local text = H.read(log)
    for _, role in ipairs(roles) do assert.is_truthy(warned(text, role), role .. " did not warn:\n" .. text) end
    -- Without ?insecure, the system CA store does not know the test CA.
    local _, err, code = H.run(bin, ("stats tls-insecure --redis %s"):format(H.quote(url(server, "sni=localhost"))))
    assert.are_not.equal(0, code)
    assert.matches("TLS: the server's certificate is not signed by a CA in the system CA store", err, 1, true)
    H.sh("rm -rf " .. H.quote(dir))
  end)
end)

describe("rediss+cluster:// #standalone", function()
  local C = require "spec.support.cluster"
  local ca, cluster
  lazy_setup(function()
    ca = H.test_ca()
    cluster = C.start { masters = 3, tls = ca }
  end)
  lazy_teardown(function()
    cluster.stop()
    H.sh("rm -rf " .. H.quote(ca))
  end)
  after_each(H.cleanup)

  it("announces the TLS ports, and runs each job once on every master over TLS", function()
    -- With --port 0 and tls-cluster yes, CLUSTER SLOTS names the TLS ports:
    -- the ones the redirections lead to.
    local slots = cluster.nodes[1].cli("CLUSTER", "SLOTS")
    for _, node in ipairs(cluster.nodes) do
      assert.matches("\n" .. node.port .. "\n", "\n" .. slots .. "\n", 1, true)
    end
    for i = 1, 3 do
      local name = cluster.name_on(cluster.nodes[i].port)
      -- The only seed is another master: the first command meets MOVED.
      local seed_port = cluster.nodes[i % 3 + 1].port
      local seed = { url = ("rediss+cluster://127.0.0.1:%d?cacert=%s/ca.pem"):format(seed_port, ca) }
      local q, runs, config = R.queue(seed, { name = name, log_level = "silent" })
      local ids = q:queue_many(R.jobs(50, 0))
      q:start { job_file = record, config = config, workers = 2, monitors = 1 }
      R.settle(q, 50, 60)
      q:stop { grace = 5 }
      R.assert_each_ran_once(runs, ids)
      assert.are.equal(50, q:stats().counters.succeeded)
      assert.are.equal(cluster.nodes[i].port, cluster.owner("hw:{" .. name .. "}:stats").port)
    end
  end)
end)
