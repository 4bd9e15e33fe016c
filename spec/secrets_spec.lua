-- Passwords and Redis addresses kept out of argv (issue 17, item 3):
-- --redis-password-file, the HWORKER_REDIS / REDIS_URL and
-- HWORKER_REDIS_PASSWORD variables with one precedence (docs/cli.md), and
-- password / password_file in hworker.open (hworker_config in C).
local H = require "spec.support.helper"

local bin = H.build .. "/hworker-lua"
local password = "fi1e-s3cret-7Qz"
-- Every variable the CLI reads for its address and password is set here
-- explicitly, so the spec's own environment cannot decide a case.
local clean_env = "env -u HWORKER_REDIS -u REDIS_URL -u HWORKER_REDIS_PASSWORD "

local function cli(args, env) return H.run(bin, args, nil, clean_env .. (env or "")) end

describe("secrets out of argv", function()
  local server, dir, good_file, wrong_file, url
  lazy_setup(function()
    server = H.redis_server { password = password, tcp = true }
    dir = H.tmpdir()
    good_file = H.file(dir, "redis-password", password .. "\n")
    wrong_file = H.file(dir, "wrong-password", "not-the-password-4Kx\n")
    url = H.quote(server.url)
  end)
  lazy_teardown(function()
    server.stop()
    H.sh("rm -rf " .. H.quote(dir))
  end)
  after_each(H.cleanup)

  local function open_queue(name)
    local q = H.track(H.hworker.open { name = name, redis = server.url, password = password, log_level = "error" })
    q:destroy()
    return q
  end

  describe("hworker-lua --redis-password-file", function()
    it("logs in with the file's first line on every command that takes --redis", function()
      local q = open_queue("pwfile")
      local flags = " --redis " .. url .. " --redis-password-file " .. H.quote(good_file)
      -- Without the password the server refuses: the file is what logs in.
      local _, err, code = cli("queue pwfile '{}' --redis " .. url)
      assert.are.equal(1, code, err)
      assert.matches("NOAUTH", err)
      _, err, code = cli("queue pwfile '{\"n\":1}'" .. flags)
      assert.are.equal(0, code, err)
      assert.are.equal(1, q:stats().pending)
      local out
      out, err, code = cli("stats pwfile --json" .. flags)
      assert.are.equal(0, code, err)
      assert.are.equal(1, H.cjson.decode(out).pending)
      for _, cmd in ipairs { "jobs pwfile", "inflight pwfile", "scheduled pwfile", "failed pwfile", "broken pwfile",
        "requeue pwfile --failed --all", "delete pwfile --failed --all" } do
        _, err, code = cli(cmd .. flags)
        assert.are.equal(0, code, cmd .. ": " .. err)
      end
      out, err = cli("check" .. flags)
      assert.matches("redis_version", out, err)
      _, err, code = cli("destroy pwfile --yes" .. flags)
      assert.are.equal(0, code, err)
      assert.are.equal(0, q:stats().pending)
    end)

    it("runs workers without the password in the process's argv or its output", function()
      local q = open_queue("pwrun")
      local job = H.file(dir, "noop.lua", "function job() end\n")
      local log = dir .. "/run.log"
      local pid = tonumber(H.sh(("%s %s run %s --name pwrun --threads 1 --redis %s --redis-password-file %s "
        .. "> %s 2>&1 & echo $!"):format(clean_env, H.quote(bin), H.quote(job), url, H.quote(good_file),
        H.quote(log))))
      H.wait_until("the runner to start", 20, function() return H.read(log):find(" running ", 1, true) end)
      local cmdline = H.read("/proc/" .. pid .. "/cmdline")
      assert.truthy(cmdline:find("--redis-password-file", 1, true), cmdline)
      assert.is_nil(cmdline:find(password, 1, true), cmdline)
      q:queue { n = 1 }
      H.wait_until("the runner to do the job", 20, function() return q:stats().counters.succeeded == 1 end)
      H.kill(pid, 15)
      H.wait_until("the runner to exit", 20, function() return not H.alive(pid) end)
      assert.is_nil(H.read(log):find(password, 1, true), H.read(log))
    end)

    it("says a refused password is refused without showing it", function()
      local out, err, code = cli("stats q --redis " .. url .. " --redis-password-file " .. H.quote(wrong_file))
      assert.are.equal(1, code, err)
      assert.matches("authentication refused", err)
      assert.is_nil((out .. err):find("not-the-password", 1, true), err)
      -- Over TCP, with the URL shown (its own password masked).
      local tcp = H.quote(server.tcp_url:gsub("^redis://", "redis://:url-pw-9Jd@"))
      out, err, code = cli("stats q --redis " .. tcp .. " --redis-password-file " .. H.quote(wrong_file))
      assert.are.equal(1, code, err)
      assert.is_nil((out .. err):find("not-the-password", 1, true), err)
      assert.is_nil((out .. err):find("url-pw-9Jd", 1, true), err)
    end)

    it("refuses a missing, empty or unreadable file as a usage error naming it, never its content", function()
      local second_line = H.file(dir, "blank-first-line", "\nsecond-line-pw-5Tr\n")
      local cases = {
        { dir .. "/no-such-file", "cannot read password_file \"" .. dir .. "/no-such-file\": No such file" },
        { H.file(dir, "empty", ""), "password_file \"" .. dir .. "/empty\" is empty" },
        { second_line, "password_file \"" .. second_line .. "\" is empty" },
        { dir, "cannot read password_file \"" .. dir .. "\"" },
      }
      for _, c in ipairs(cases) do
        for _, cmd in ipairs { "stats q", "check", "run " .. H.quote(H.job_path("record.lua")) .. " --name q" } do
          local out, err, code = cli(cmd .. " --redis " .. url .. " --redis-password-file " .. H.quote(c[1]))
          assert.are.equal(2, code, cmd .. ": " .. err)
          assert.truthy(err:find(c[2], 1, true), cmd .. ": " .. err)
          assert.is_nil((out .. err):find("second-line-pw", 1, true), err)
        end
      end
    end)
  end)

  describe("the environment", function()
    local bad = "unix:///nonexistent/redis.sock"
    -- stats refuses a queue that does not exist: this one does.
    before_each(function() open_queue("envq"):queue { n = 1 } end)
    local function stats(args, env)
      local _, err, code = cli("stats envq" .. args, env)
      return code, err
    end

    it("gives the address: --redis, then HWORKER_REDIS, then REDIS_URL", function()
      local pw = "HWORKER_REDIS_PASSWORD=" .. password .. " "
      local q = H.quote
      assert.are.equal(0, (stats(" --redis " .. url, pw .. "HWORKER_REDIS=" .. bad .. " REDIS_URL=" .. bad .. " ")))
      assert.are.equal(0, (stats("", pw .. "HWORKER_REDIS=" .. url .. " REDIS_URL=" .. bad .. " ")))
      assert.are.equal(0, (stats("", pw .. "REDIS_URL=" .. url .. " ")))
      assert.are.equal(0, (stats("", pw .. "HWORKER_REDIS= REDIS_URL=" .. url .. " ")))
      local code, err = stats("", pw .. "HWORKER_REDIS=" .. bad .. " REDIS_URL=" .. url .. " ")
      assert.are.equal(1, code, err)
      assert.truthy(err:find(bad, 1, true), err)
      code, err = stats("", pw .. "REDIS_URL=" .. q("redis://127.0.0.1:1/0") .. " ")
      assert.are.equal(1, code, err)
      assert.truthy(err:find("redis://127.0.0.1:1/0", 1, true), err)
    end)

    it("gives the password: --redis-password-file, then HWORKER_REDIS_PASSWORD, then the URL's", function()
      local tcp = function(pw) return H.quote(server.tcp_url:gsub("^redis://", "redis://:" .. pw .. "@")) end
      local file = function(f) return " --redis-password-file " .. H.quote(f) end
      local env = function(pw) return "HWORKER_REDIS_PASSWORD=" .. H.quote(pw) .. " " end
      -- The file over the variable, both ways round.
      assert.are.equal(0, (stats(" --redis " .. url .. file(good_file), env("wrong"))))
      local code, err = stats(" --redis " .. url .. file(wrong_file), env(password))
      assert.are.equal(1, code, err)
      assert.matches("authentication refused", err)
      -- The variable over the URL's, both ways round; the URL's alone.
      assert.are.equal(0, (stats(" --redis " .. tcp("wrong"), env(password))))
      code, err = stats(" --redis " .. tcp(password), env("wrong"))
      assert.are.equal(1, code, err)
      assert.matches("authentication refused", err)
      assert.are.equal(0, (stats(" --redis " .. tcp(password))))
      -- The file over the URL's.
      assert.are.equal(0, (stats(" --redis " .. tcp("wrong") .. file(good_file))))
    end)
  end)

  describe("hworker.open", function()
    it("takes password and password_file", function()
      local q = open_queue("luapw")
      q:queue { n = 1 }
      local f = H.track(H.hworker.open { name = "luapw", redis = server.url, password_file = good_file,
        log_level = "error" })
      assert.are.equal(1, f:stats().pending)
      local wrong = H.track(H.hworker.open { name = "luapw", redis = server.url, password_file = wrong_file,
        log_level = "error" })
      local ok, err = pcall(wrong.stats, wrong)
      assert.is_false(ok)
      assert.matches("authentication refused", tostring(err))
      assert.is_nil(tostring(err):find("not-the-password", 1, true), err)
    end)

    it("refuses a password file it cannot use, naming it, and password with password_file", function()
      local missing = dir .. "/missing-pw"
      local ok, err = pcall(H.hworker.open, { name = "luapw", redis = server.url, password_file = missing })
      assert.is_false(ok)
      assert.truthy(tostring(err):find("cannot read password_file \"" .. missing .. "\"", 1, true), err)
      ok, err = pcall(H.hworker.open, { name = "luapw", redis = server.url, password_file = H.file(dir, "e", "\n") })
      assert.is_false(ok)
      assert.truthy(tostring(err):find("is empty", 1, true), err)
      ok, err = pcall(H.hworker.open,
        { name = "luapw", redis = server.url, password = password, password_file = good_file })
      assert.is_false(ok)
      assert.matches("password and password_file are both set", tostring(err))
      assert.is_nil(tostring(err):find(password, 1, true), err)
      ok, err = pcall(H.hworker.open, { name = "luapw", password_file = 7 })
      assert.is_false(ok)
      assert.matches("password_file' must be a string", tostring(err))
    end)
  end)
end)
