-- Spec harness: a private redis-server per spec file (unix socket in a temp
-- dir), queues with fresh names, bounded waits on conditions, and worker
-- processes that can be killed. Specs run under LuaJIT (busted --lua=luajit),
-- so the harness itself may use ffi; job code never can.
local ffi = require "ffi"
ffi.cdef [[
  int usleep(unsigned int usec);
  int kill(int pid, int sig);
  typedef struct { long tv_sec; long tv_nsec; } hw_timespec;
  int clock_gettime(int clk, void *ts); /* void *: bench/bench.lua declares it too */
]]

local M = {}
M.root = os.getenv("HWORKER_ROOT") or "."
M.build = os.getenv("HWORKER_BUILD") or (M.root .. "/build")
package.cpath = M.build .. "/lua/?.so;" .. package.cpath
M.hworker = require "hworker"
M.cjson = require "cjson"

function M.now()
  local ts = ffi.new("hw_timespec")
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) / 1e9
end

function M.sleep(seconds)
  ffi.C.usleep(math.floor(seconds * 1e6))
end

-- Polls fn until it returns a true value, at most `timeout` seconds; fails
-- the spec with `what` otherwise. The only way specs wait.
function M.wait_until(what, timeout, fn)
  local deadline = M.now() + timeout
  while true do
    local v = fn()
    if v then return v end
    if M.now() > deadline then error("timed out after " .. timeout .. " s waiting for " .. what, 2) end
    M.sleep(0.005)
  end
end

local function sh(cmd)
  local p = assert(io.popen(cmd .. " 2>&1"))
  local out = p:read("*a")
  p:close()
  return out
end
M.sh = sh

-- Runs system tools without the sanitizer runtimes that the ASan pass
-- preloads for LuaJIT: some (pkill) hang with them.
M.plain = "env -u LD_PRELOAD -u ASAN_OPTIONS -u UBSAN_OPTIONS "

local function quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end
M.quote = quote

function M.tmpdir()
  local d = sh("mktemp -d /tmp/hworker-spec.XXXXXX"):gsub("%s+$", "")
  return d
end

-- A file's contents, or "" when it cannot be read.
function M.read(path)
  local f = io.open(path)
  if not f then return "" end
  local s = f:read("*a")
  f:close()
  return s
end

-- Runs the program `bin` with `args` (already quoted), `stdin` (text, or
-- nil) and `env` (a prefix, or nil); returns stdout, stderr, exit code.
function M.run(bin, args, stdin, env)
  local dir = M.tmpdir()
  local input = ""
  if stdin then input = " < " .. quote(M.file(dir, "stdin", stdin)) end
  local cmd = ("%s %s %s%s > %s/out 2> %s/err; echo $?"):format(env or "", quote(bin), args, input, dir, dir)
  local code = tonumber(sh(cmd))
  local out, err = M.read(dir .. "/out"), M.read(dir .. "/err")
  sh("rm -rf " .. quote(dir))
  return out, err, code
end

function M.file(dir, name, text)
  local path = dir .. "/" .. name
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
  return path
end

-- Second passes over the portable specs (tools/dev test):
-- HWORKER_SPEC_CLUSTER=1 makes redis_server() start a 3-master Redis Cluster
-- instead (specs tagged #standalone need one server and are left out), and
-- HWORKER_SPEC_SHARDS=S gives every queue S shards.
M.cluster_mode = os.getenv("HWORKER_SPEC_CLUSTER") == "1"
M.spec_shards = tonumber(os.getenv("HWORKER_SPEC_SHARDS") or "")

-- A test CA made by tools/test-ca in a new temp dir: ca.pem, a server
-- certificate server.pem/server.key for localhost and 127.0.0.1 (also a
-- client certificate: cluster nodes present it to each other), a client
-- certificate client.pem/client.key, and other-ca.pem, a CA that signed
-- neither. Returns the dir (paths are dir .. "/ca.pem" and so on).
function M.test_ca()
  local dir = M.tmpdir()
  local out = M.sh(M.plain .. quote(M.root .. "/tools/test-ca") .. " " .. quote(dir))
  assert(out:match("made\n$"), "openssl could not make the test CA: " .. out)
  return dir
end

-- A free TCP port for a server about to start: one no process listens on
-- now (a race with another process remains; the caller retries on it).
function M.free_port()
  for _ = 1, 50 do
    local port = math.random(20000, 45000)
    if not M.sh("ss -Htln 'sport = :" .. port .. "'"):match("%d") then return port end
  end
  error("no free port found")
end

-- A private redis-server. Options: appendonly (default true), args (more
-- redis-server arguments, one string), password (its requirepass; s.cli
-- logs in with it), tcp (also listen on a free port of 127.0.0.1: s.port,
-- and s.tcp_url without a password), tls (a dir from M.test_ca: the server
-- also listens with TLS on s.tls_port, plain TCP off; its unix socket stays
-- plain for s.cli), tls_auth_clients ("yes" for mutual TLS; default "no").
function M.redis_server(opts)
  opts = opts or {}
  if opts.tls then
    -- A port taken between the check and the start fails the start: try another.
    for attempt = 1, 5 do
      local port = M.free_port()
      local o = {}
      for k, v in pairs(opts) do o[k] = v end
      o.tls = nil
      o.args = ("%s --tls-port %d --tls-cert-file %s/server.pem --tls-key-file %s/server.key "
        .. "--tls-ca-cert-file %s/ca.pem --tls-auth-clients %s"):format(opts.args or "", port, opts.tls, opts.tls,
        opts.tls, opts.tls_auth_clients or "no")
      local ok, s = pcall(M.redis_server, o)
      if ok then
        s.tls_port = port
        return s
      end
      if attempt == 5 then error(s) end
    end
  end
  if M.cluster_mode then
    local c = require("spec.support.cluster").start { masters = 3 }
    -- redis-cli -c follows MOVED, so keyed commands reach their node.
    function c.cli(...)
      local parts = { M.plain .. "redis-cli", "-c", "-p", tostring(c.nodes[1].port) }
      for _, a in ipairs({ ... }) do parts[#parts + 1] = quote(a) end
      return (sh(table.concat(parts, " ")):gsub("%s+$", ""))
    end
    return c
  end
  local s = { dir = M.tmpdir() }
  s.sock = s.dir .. "/redis.sock"
  s.url = "unix://" .. s.sock
  local args = table.concat({
    M.plain .. "redis-server", "--port 0", "--unixsocket " .. s.sock, "--unixsocketperm 700",
    "--dir " .. s.dir, "--daemonize yes", "--pidfile " .. s.dir .. "/redis.pid",
    "--logfile " .. s.dir .. "/redis.log", "--save ''",
    "--appendonly " .. ((opts.appendonly == false) and "no" or "yes"), opts.args or "",
    opts.password and "--requirepass " .. quote(opts.password) or "",
  }, " ")
  local login = opts.password and ("-a " .. quote(opts.password) .. " --no-auth-warning") or ""

  function s.cli(...)
    local parts = { M.plain .. "redis-cli", login, "-s", quote(s.sock) }
    for _, a in ipairs({ ... }) do parts[#parts + 1] = quote(a) end
    return (sh(table.concat(parts, " ")):gsub("%s+$", ""))
  end

  local function start_on_unix_socket()
    local out = sh(args)
    M.wait_until("redis-server to answer PING (" .. out .. ")", 10, function()
      return s.cli("PING") == "PONG"
    end)
  end

  -- A port another program holds makes redis-server exit: try others.
  local function start_on_a_free_port()
    local tcp_args = args:gsub("%-%-port 0", "--port %%d --bind 127.0.0.1")
    for _ = 1, 20 do
      s.port = s.port or M.free_port()
      local out = sh(tcp_args:format(s.port))
      if pcall(M.wait_until, "redis-server on port " .. s.port .. " (" .. out .. ")", 3,
        function() return s.cli("PING") == "PONG" end) then
        s.tcp_url = ("redis://127.0.0.1:%d/0"):format(s.port)
        return
      end
      s.port = nil
    end
    error("redis-server found no free port")
  end

  function s.start()
    if opts.tcp then start_on_a_free_port() else start_on_unix_socket() end
  end

  function s.pid()
    local f = io.open(s.dir .. "/redis.pid")
    if not f then return nil end
    local pid = tonumber(f:read("*a"))
    f:close()
    return pid
  end

  -- Shuts down (the AOF keeps the data) and waits until the process is gone.
  function s.shutdown()
    local pid = s.pid()
    s.cli("SHUTDOWN")
    M.wait_until("redis-server to exit", 10, function() return not pid or not M.alive(pid) end)
  end

  function s.restart()
    s.shutdown()
    s.start()
  end

  -- Throws the data away. A server still alive after its deadline (one
  -- caught mid-sync, say) is killed: a spec's teardown must not hang or fail.
  function s.stop()
    local pid = s.pid()
    s.cli("SHUTDOWN", "NOSAVE")
    if pid and not pcall(M.wait_until, "redis-server to exit", 10, function() return not M.alive(pid) end) then
      M.kill(pid, 9)
      M.wait_until("redis-server to exit after SIGKILL", 10, function() return not M.alive(pid) end)
    end
    sh("rm -rf " .. quote(s.dir))
  end

  s.start()
  return s
end

-- Everything a spec starts is stopped by M.cleanup (run it in after_each),
-- even when the spec fails half-way.
local started = { queues = {}, pids = {} }

function M.track(q)
  started.queues[#started.queues + 1] = q
  return q
end

function M.cleanup()
  for _, pid in ipairs(started.pids) do M.kill(pid, 9) end
  for _, q in ipairs(started.queues) do pcall(q.stop, q, { grace = 0 }) end
  started = { queues = {}, pids = {} }
end

local counter = 0
-- A queue with a fresh name on `server`, emptied first. Quiet by default.
function M.queue(server, opts)
  counter = counter + 1
  opts = opts or {}
  local o = {}
  for k, v in pairs(opts) do o[k] = v end
  o.name = o.name or ("spec" .. counter .. "-" .. math.random(1, 1e9))
  if o.shards == nil and M.spec_shards then o.shards = M.spec_shards end
  o.redis = o.redis or server.url
  o.log_level = o.log_level or os.getenv("HWORKER_SPEC_LOG") or "error"
  local q = M.track(M.hworker.open(o))
  q:destroy()
  return q, o.name
end

-- Redis's clock on `server` (anything with cli), in ms since the epoch.
function M.redis_time_ms(server)
  local s, us = server.cli("TIME"):match("(%d+)%s+(%d+)")
  return tonumber(s) * 1000 + math.floor(tonumber(us) / 1000)
end

-- Runs recorded by spec/jobs/record.lua: {[id] = count}, and the total.
function M.runs(runs_queue)
  local by_id, total, offset = {}, 0, 0
  while true do
    local page = runs_queue:jobs { offset = offset, limit = 1000 }
    for _, e in ipairs(page) do
      by_id[e.job.id] = (by_id[e.job.id] or 0) + 1
      total = total + 1
    end
    if #page < 1000 then break end
    offset = offset + 1000
  end
  return by_id, total
end

function M.job_path(name)
  return M.root .. "/spec/jobs/" .. name
end

function M.alive(pid)
  local f = io.open("/proc/" .. pid .. "/stat")
  if not f then return false end
  -- A process reaped between the open and the read leaves nothing to read.
  local stat = f:read("*a")
  f:close()
  return stat ~= nil and not stat:match("^%d+ %b() Z")
end

function M.kill(pid, sig)
  ffi.C.kill(pid, sig or 9)
end

-- Starts spec/support/worker_process.lua in the background: a separate
-- process running workers and monitors, so it can be killed. Returns its pid.
-- opts: the hworker.open options plus workers, monitors, env (prefix).
function M.spawn_workers(opts, logfile)
  local env, build = opts.env or "", opts.build or M.build
  opts.env, opts.build = nil, nil
  if opts.shards == nil and M.spec_shards then opts.shards = M.spec_shards end
  local json = M.cjson.encode(opts)
  local cmd = string.format("%s luajit %s %s %s >%s 2>&1 & echo $!",
    env, quote(M.root .. "/spec/support/worker_process.lua"), quote(build), quote(json),
    quote(logfile or "/dev/null"))
  local pid = tonumber(sh(cmd))
  assert(pid, "could not start a worker process")
  started.pids[#started.pids + 1] = pid
  return pid
end

-- Runs the shell command `cmd` in the background, its output to `logfile`
-- (default /dev/null); returns its pid, killed by M.cleanup.
function M.background(cmd, logfile)
  local pid = tonumber(sh(("%s > %s 2>&1 & echo $!"):format(cmd, quote(logfile or "/dev/null"))))
  assert(pid, "could not start: " .. cmd)
  started.pids[#started.pids + 1] = pid
  return pid
end

-- The language and warning flags the build compiles its own C with (-std,
-- -D_GNU_SOURCE, every -W, -Werror among them), read from the entry of
-- examples/host.c in its compile_commands.json: a program linked to
-- libhworker.so, as the spec programs are. The sanitizer flags are left
-- out: the programs get the runtimes from the library they link.
local project_c_flags
local function c_flags()
  if project_c_flags then return project_c_flags end
  local f = assert(io.open(M.build .. "/compile_commands.json"), "no compile_commands.json in " .. M.build)
  local entries = M.cjson.decode(f:read("*a"))
  f:close()
  for _, entry in ipairs(entries) do
    if entry.file:match("/examples/host%.c$") then
      local flags = {}
      for word in entry.command:gmatch("%S+") do
        if word:match("^%-W") or word:match("^%-std=") or word == "-D_GNU_SOURCE" then flags[#flags + 1] = word end
      end
      project_c_flags = table.concat(flags, " ")
      return project_c_flags
    end
  end
  error("examples/host.c is not in " .. M.build .. "/compile_commands.json")
end

-- Compiles spec/c/<name>.c into dir against the library under test
-- (sanitized in the sanitizer passes: the program inherits their preloaded
-- runtimes when it runs, as LuaJIT has them), held to the project's
-- warnings as errors (c_flags), and returns its path; fails the spec with
-- the compiler's output if no program came out. Linking against libtsan
-- warns about its tmpnam (a linker warning, which -Werror leaves alone), so
-- the program, not silence, is the test.
function M.c_program(dir, name, libs)
  local bin = dir .. "/" .. name
  local out = sh(M.plain .. "cc " .. c_flags() .. " -o " .. quote(bin) .. " $(pkg-config --cflags luajit hiredis)"
    .. " -I" .. quote(M.root .. "/core") .. " -I" .. quote(M.build .. "/generated")
    .. " " .. quote(M.root .. "/spec/c/" .. name .. ".c") .. " "
    .. quote(M.build .. "/libhworker.so") .. " " .. (libs or "") .. " -Wl,-rpath," .. quote(M.build) .. " 2>&1")
  local f = io.open(bin)
  assert(f, "cannot build spec/c/" .. name .. ".c: " .. out)
  f:close()
  return bin
end

-- Options for spawn_workers that run the process with its clock moved by
-- `offset` (e.g. "+1h") through libfaketime. libfaketime and the sanitizer
-- runtimes deadlock when preloaded together, so in the ASan pass this one
-- process runs the plain build (HWORKER_PLAIN_BUILD); what it checks is the
-- engine's use of time, which the plain pass checks the same way.
M.faketime_lib = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"
function M.faketime(offset)
  return "env -u LD_PRELOAD -u ASAN_OPTIONS -u UBSAN_OPTIONS FAKETIME=" .. offset .. " LD_PRELOAD=" .. M.faketime_lib,
    os.getenv("HWORKER_PLAIN_BUILD") or M.build
end

-- A relay in front of `server` (standalone) that loses the reply to the
-- first request holding `marker` (spec/support/lose_reply.lua). Returns
-- {url = where to connect, lost = fn: was the reply lost yet, stop = fn}.
function M.lose_reply(server, marker)
  local dir = M.tmpdir()
  local r = { url = "unix://" .. dir .. "/relay.sock" }
  local pid = tonumber(sh(("%sluajit %s %s %s %s > %s 2>&1 & echo $!"):format(M.plain,
    quote(M.root .. "/spec/support/lose_reply.lua"), quote(dir .. "/relay.sock"), quote(server.sock), quote(marker),
    quote(dir .. "/out"))))
  assert(pid, "could not start the relay")
  started.pids[#started.pids + 1] = pid
  M.wait_until("the relay to listen", 10, function() return M.read(dir .. "/out"):find("listening", 1, true) end)
  function r.lost() return M.read(dir .. "/out"):find("lost", 1, true) ~= nil end
  function r.stop()
    M.kill(pid, 9)
    M.wait_until("the relay to exit", 10, function() return not M.alive(pid) end)
    sh("rm -rf " .. quote(dir))
  end
  return r
end

-- INFO commandstats as {command = calls}.
function M.commandstats(q)
  local text = q:command("INFO", "commandstats")
  local calls = {}
  for name, n in text:gmatch("cmdstat_([%w|_]+):calls=(%d+)") do calls[name] = tonumber(n) end
  return calls
end

return M
