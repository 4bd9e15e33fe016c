-- Redis over TCP by URL, with a password, an ACL user and a database number;
-- IPv6 where the machine has ::1; and no password in any message.
local H = require "spec.support.helper"

local bin = H.quote(H.build .. "/hworker-lua")

-- Runs `hworker-lua run` on a job file that does nothing until its start-up
-- line is logged (or it exits), then stops it; returns what it printed.
local function runner_output(dir, redis_url)
  local job = H.file(dir, "idle.lua", "function job() end\n")
  local log = dir .. "/run.log"
  os.remove(log)
  local pid = tonumber(H.sh(("%s run %s --name startup --threads 1 --redis %s > %s 2>&1 & echo $!"):format(
    bin, H.quote(job), H.quote(redis_url), H.quote(log))))
  local function text() return H.read(log) end
  H.wait_until("the runner's start-up line", 20,
    function() return text():find(" running ", 1, true) or not H.alive(pid) end)
  H.kill(pid, 15)
  H.wait_until("the runner to exit", 20, function() return not H.alive(pid) end)
  return text()
end

describe("a Redis URL over TCP", function()
  local dir, port, cli, ipv6
  lazy_setup(function()
    dir = H.tmpdir()
    -- A free port: try a few until redis-server answers on one.
    for _ = 1, 20 do
      port = math.random(20000, 45000)
      H.sh((H.plain .. "redis-server --port %d --bind 127.0.0.1 --dir %s --daemonize yes --pidfile %s/pid "
        .. "--logfile %s/log --save '' --requirepass s3cret"):format(port, dir, dir, dir)
        :gsub("--bind 127.0.0.1", "--bind 127.0.0.1 -::1"))
      local ok = pcall(H.wait_until, "redis-server on port " .. port, 3, function()
        return H.sh((H.plain .. "redis-cli -p %d -a s3cret --no-auth-warning PING"):format(port)):match("PONG")
      end)
      if ok then break end
      port = nil
    end
    assert(port, "no free port found")
    cli = function(...)
      local args = { (H.plain .. "redis-cli -p %d -a s3cret --no-auth-warning"):format(port) }
      for _, a in ipairs({ ... }) do args[#args + 1] = H.quote(a) end
      return H.sh(table.concat(args, " "))
    end
    cli("ACL", "SETUSER", "jobs", "on", ">pw", "~*", "+@all")
    cli("ACL", "SETUSER", "runner", "on", ">r3dact-me", "~*", "+@all")
    cli("ACL", "SETUSER", "guest", "on", "nopass", "~*", "+@all")
    -- "-::1" binds ::1 where the machine has it, and is skipped where not.
    ipv6 = H.sh((H.plain .. "redis-cli -h ::1 -p %d -a s3cret --no-auth-warning PING"):format(port))
      :match("PONG") ~= nil
  end)
  lazy_teardown(function()
    cli("SHUTDOWN", "NOSAVE")
    H.sh("rm -rf " .. dir)
  end)
  after_each(H.cleanup)

  it("connects with a password and a database number", function()
    local q = H.track(H.hworker.open { name = "tcp", redis = ("redis://:s3cret@127.0.0.1:%d/3"):format(port),
      log_level = "error" })
    q:destroy()
    local id = q:queue { n = 1 }
    assert.are.equal(id, q:jobs()[1].id)
    assert.matches("hw:{tcp}:pending", cli("-n", "3", "KEYS", "*"))
    assert.are.equal("", (cli("-n", "0", "KEYS", "*"):gsub("%s", "")))
  end)

  it("connects as an ACL user", function()
    local q = H.track(H.hworker.open { name = "acl", redis = ("redis://jobs:pw@127.0.0.1:%d/0"):format(port),
      log_level = "error" })
    q:destroy()
    q:queue { n = 1 }
    assert.are.equal(1, q:stats().pending)
  end)

  it("says when authentication is refused, without showing the password", function()
    local q = H.track(H.hworker.open { name = "bad", redis = ("redis://:wrong-pass@127.0.0.1:%d/0"):format(port),
      log_level = "silent" })
    local ok, err = pcall(q.queue, q, { n = 1 })
    assert.is_false(ok)
    assert.matches("authentication refused", err)
    assert.is_nil(err:find("wrong-pass", 1, true))
  end)

  it("in hworker-lua: reports refused authentication, takes HWORKER_REDIS_PASSWORD, never prints a password", function()
    local out = H.sh(("{ %s stats q --redis redis://:wrong-pass@127.0.0.1:%d/0; echo rc=$?; }"):format(bin, port))
    assert.matches("hworker%-lua stats: cannot read stats: authentication refused: ", out)
    assert.matches("rc=1", out)
    assert.is_nil(out:find("wrong-pass", 1, true))
    out = H.sh(("{ HWORKER_REDIS_PASSWORD=s3cret %s queue pw --redis redis://127.0.0.1:%d/5 '{}'; echo rc=$?; }")
      :format(bin, port))
    assert.matches("^%w+\nrc=0", out)
    assert.matches("hw:{pw}:pending", cli("-n", "5", "KEYS", "*"))
    out = H.sh(("{ HWORKER_REDIS_PASSWORD=s3cret %s check --redis redis://127.0.0.1:%d/0; echo rc=$?; }")
      :format(bin, port))
    assert.is_nil(out:find("s3cret", 1, true))
  end)

  it("takes redis://user@host as an ACL user without a password, not as a password", function()
    local q = H.track(H.hworker.open { name = "guest", redis = ("redis://guest@127.0.0.1:%d/0"):format(port),
      log_level = "error" })
    q:destroy()
    q:queue { n = 1 }
    assert.are.equal(1, q:stats().pending)
    assert.matches("user=guest", cli("CLIENT", "LIST"))
    -- The password may come apart from the URL: the user is still the URL's.
    local out = H.sh(("{ HWORKER_REDIS_PASSWORD=pw %s queue viaenv --redis redis://jobs@127.0.0.1:%d/0 '{}'; "
      .. "echo rc=$?; }"):format(bin, port))
    assert.matches("^%w+\nrc=0", out)
    -- A user that has a password, named without one: refused, and said why.
    out = H.sh(("{ %s stats q --redis redis://jobs@127.0.0.1:%d/0; echo rc=$?; }"):format(bin, port))
    assert.matches("authentication refused %(the URL names a user and no password, "
      .. "which Redis takes only for a user that is nopass%): WRONGPASS", out)
    assert.matches("rc=1", out)
  end)

  it("connects to a bracketed IPv6 address, with and without user and port", function()
    if not ipv6 then pending("this machine has no ::1 that redis-server could bind") return end
    local q = H.track(H.hworker.open { name = "v6", redis = ("redis://runner:r3dact-me@[::1]:%d/2"):format(port),
      log_level = "error" })
    q:destroy()
    q:queue { n = 1 }
    assert.matches("hw:{v6}:pending", cli("-n", "2", "KEYS", "*"))
    local out = H.sh(("{ HWORKER_REDIS_PASSWORD=s3cret %s stats v6 --redis 'redis://[::1]:%d/2' --json; "
      .. "echo rc=$?; }"):format(bin, port))
    assert.matches('"pending":1', out)
    assert.matches("rc=0", out)
  end)

  it("never prints the password of a bad URL, and names the part at fault", function()
    for _, case in ipairs {
      { "redis://runner:r3dact-me@127.0.0.1:x/0", '"redis://runner:***@127.0.0.1:x/0": bad port \'x\'' },
      { "redis://runner:r3d/act-me@127.0.0.1:x/0", '"redis://runner:***@127.0.0.1:x/0": bad port \'x\'' },
      { "redis+cluster://runner:r3dact-me@127.0.0.1:1,h:0",
        '"redis+cluster://runner:***@127.0.0.1:1,h:0": bad port \'0\'' },
      { "redis://:r3dact-me@[::1", '"redis://:***@[::1": an IPv6 address needs its closing \']\'' },
      { "unix://:r3dact-me@/tmp/redis.sock", '"unix://:***@/tmp/redis.sock": the socket path must be absolute' },
      { "http://runner:r3dact-me@127.0.0.1", '"http://runner:***@127.0.0.1": unknown scheme' },
      { "rediss://runner:r3dact-me@127.0.0.1/0?cacert=ca.pem&token=r3dact-me",
        '"rediss://runner:***@127.0.0.1/0?cacert=***&token=***": unknown query parameter \'token\'' },
      -- Not a URL at all (a password given where the URL goes), and query
      -- values other than db, are not echoed either.
      { "r3dact-me", '"(not shown: no scheme://)": unknown scheme' },
      { "unix:///tmp/redis.sock?db=0&password=r3dact-me",
        '"unix:///tmp/redis.sock?db=0&password=***": the only query' },
    } do
      local out = H.sh(("{ %s stats q --redis %s; echo rc=$?; }"):format(bin, H.quote(case[1])))
      assert.truthy(out:find("hworker-lua stats: bad Redis URL " .. case[2], 1, true), out)
      assert.matches("rc=2", out)
      assert.is_nil(out:find("r3d", 1, true), out)
    end
  end)

  it("never prints the password in a connection error or the runner's start-up line", function()
    local out = H.sh(("{ %s stats q --redis redis://runner:r3dact-me@127.0.0.1:1/0; echo rc=$?; }"):format(bin))
    assert.matches("cannot connect to Redis at redis://runner:%*%*%*@127%.0%.0%.1:1/0", out)
    assert.is_nil(out:find("r3dact-me", 1, true), out)
    out = H.sh(("{ %s queue q --redis redis://runner:r3dact-me@127.0.0.1:1/0 --at 2001-01-01T00:00:00Z '{}'; "
      .. "echo rc=$?; }"):format(bin))
    assert.matches("cannot read the time of Redis at redis://runner:%*%*%*@127%.0%.0%.1:1/0", out)
    assert.is_nil(out:find("r3dact-me", 1, true), out)
    for _, url in ipairs {
      ("redis://runner:r3dact-me@127.0.0.1:%d/0"):format(port),
      ("redis+cluster://runner:r3dact-me@127.0.0.1:%d"):format(port),
    } do
      local text = runner_output(dir, url)
      local shown = url:gsub("r3dact%-me", "***")
      assert.truthy(text:find(" running .* at " .. shown:gsub("%p", "%%%0") .. ":"), text)
      assert.is_nil(text:find("r3dact-me", 1, true), text)
    end
  end)

  it("keeps the host process alive when Redis closes its connection in the middle of a write", function()
    -- The host keeps SIGPIPE's default action; exit status 141 is SIGPIPE.
    local out, err, code = H.run("luajit", ("%s %s %s"):format(H.quote(H.root .. "/spec/support/closed_mid_write.lua"),
      H.quote(H.build), H.quote(("redis://:s3cret@127.0.0.1:%d/0"):format(port)) .. " closed-mid-write"))
    assert.are.equal(0, code, err)
    assert.truthy(out:find("alive", 1, true), out)
  end)
end)
