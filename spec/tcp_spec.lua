-- Redis over TCP by URL, with a password, an ACL user and a database number.
local H = require "spec.support.helper"

describe("a Redis URL over TCP", function()
  local dir, port, cli
  lazy_setup(function()
    dir = H.tmpdir()
    -- A free port: try a few until redis-server answers on one.
    for _ = 1, 20 do
      port = math.random(20000, 45000)
      H.sh((H.plain .. "redis-server --port %d --bind 127.0.0.1 --dir %s --daemonize yes --pidfile %s/pid --logfile %s/log --save '' "
        .. "--requirepass s3cret"):format(port, dir, dir, dir))
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
  end)
  lazy_teardown(function()
    cli("SHUTDOWN", "NOSAVE")
    H.sh("rm -rf " .. dir)
  end)
  after_each(H.cleanup)

  it("connects with a password and a database number", function()
    local q = H.track(H.hworker.open { name = "tcp", redis = ("redis://:s3cret@127.0.0.1:%d/3"):format(port), log_level = "error" })
    q:destroy()
    local id = q:queue { n = 1 }
    assert.are.equal(id, q:jobs()[1].id)
    assert.matches("hw:{tcp}:pending", cli("-n", "3", "KEYS", "*"))
    assert.are.equal("", (cli("-n", "0", "KEYS", "*"):gsub("%s", "")))
  end)

  it("connects as an ACL user", function()
    local q = H.track(H.hworker.open { name = "acl", redis = ("redis://jobs:pw@127.0.0.1:%d/0"):format(port), log_level = "error" })
    q:destroy()
    q:queue { n = 1 }
    assert.are.equal(1, q:stats().pending)
  end)

  it("says when authentication is refused, without showing the password", function()
    local q = H.track(H.hworker.open { name = "bad", redis = ("redis://:wrong-pass@127.0.0.1:%d/0"):format(port), log_level = "silent" })
    local ok, err = pcall(q.queue, q, { n = 1 })
    assert.is_false(ok)
    assert.matches("authentication refused", err)
    assert.is_nil(err:find("wrong-pass", 1, true))
  end)

  it("in hworker-lua: reports refused authentication, takes HWORKER_REDIS_PASSWORD, never prints a password", function()
    local bin = H.quote(H.build .. "/hworker-lua")
    local out = H.sh(("{ %s stats q --redis redis://:wrong-pass@127.0.0.1:%d/0; echo rc=$?; }"):format(bin, port))
    assert.matches("hworker%-lua stats: cannot read stats: authentication refused: ", out)
    assert.matches("rc=1", out)
    assert.is_nil(out:find("wrong-pass", 1, true))
    out = H.sh(("{ HWORKER_REDIS_PASSWORD=s3cret %s queue pw --redis redis://127.0.0.1:%d/5 '{}'; echo rc=$?; }"):format(bin, port))
    assert.matches("^%w+\nrc=0", out)
    assert.matches("hw:{pw}:pending", cli("-n", "5", "KEYS", "*"))
    out = H.sh(("{ HWORKER_REDIS_PASSWORD=s3cret %s check --redis redis://127.0.0.1:%d/0; echo rc=$?; }"):format(bin, port))
    assert.is_nil(out:find("s3cret", 1, true))
  end)
end)
