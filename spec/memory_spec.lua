-- The memory cap holds for everything job code can make the process
-- allocate, not only the Lua heap: cjson's buffers, hworker.queue's
-- encoding, string building in C. A runner whose jobs all try to exceed
-- their cap stays within threads x cap plus a fixed overhead, and its RSS
-- comes back down after them. RSS is read from /proc: the plain build runs
-- here even in the sanitizer pass, whose shadow memory would swamp it.
local H = require "spec.support.helper"

local build = os.getenv("HWORKER_PLAIN_BUILD") or H.build
local bin = build .. "/hworker-lua"
local MiB = 1024 * 1024
-- What a runner holds besides its states' caps: its code, LuaJIT's and
-- hiredis's buffers, malloc's own overhead (docs/reliability.md).
local OVERHEAD = 16 * MiB

local function status_kb(pid, field)
  local f = io.open("/proc/" .. pid .. "/status")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return tonumber(s:match(field .. ":%s*(%d+) kB"))
end

describe("the memory cap #standalone", function()
  local server

  lazy_setup(function()
    server = H.redis_server()
    server.start()
  end)

  lazy_teardown(function()
    H.cleanup()
    server.stop()
  end)

  it("bounds the runner's RSS while every job tries to exceed it, and RSS comes back down", function()
    local q, name = H.queue(server, { shards = 1 })
    local threads, cap_mb = 2, 16
    local dir = H.tmpdir()
    local pid = tonumber(H.sh(("%s %s run %s --name %s --redis %s --threads %d --memory-limit %d --shards 1 "
      .. "> %s 2>&1 & echo $!"):format(H.plain, H.quote(bin), H.quote(H.job_path("memory_hog.lua")), name,
        H.quote(server.url), threads, cap_mb, H.quote(dir .. "/run.log"))))
    H.wait_until("the runner to log that it runs", 20,
      function() return H.read(dir .. "/run.log"):match("running ") end)
    local base = status_kb(pid, "VmRSS") * 1024
    local hogs = { "cjson", "sparse", "queue", "decode", "rep", "table", "gsub", "concat", "load", "format" }
    local jobs = {}
    for _ = 1, 3 do
      for _, hog in ipairs(hogs) do jobs[#jobs + 1] = { hog = hog } end
    end
    -- Leaks add up: many jobs of the kind that leaked a buffer each.
    for _ = 1, 40 do jobs[#jobs + 1] = { hog = "decode_oom" } end
    q:queue_many(jobs)
    H.wait_until("every hog to be stopped", 120, function() return q:stats().failed == #jobs end)
    local peak = status_kb(pid, "VmHWM") * 1024
    local after = status_kb(pid, "VmRSS") * 1024
    H.kill(pid, 15)
    H.wait_until("the runner to stop", 30, function() return not H.alive(pid) end)
    H.sh("rm -rf " .. H.quote(dir))
    for _, f in ipairs(q:failed { limit = 100 }) do
      -- The memory stop, or cjson.encode refusing before it allocates.
      local refused = f.reason:match("^memory limit: ")
        or f.reason:match("needs more memory than the job's state has left")
      assert.truthy(refused, f.job.hog .. ": " .. f.reason)
    end
    local limit = base + threads * cap_mb * MiB + OVERHEAD
    assert.is_true(peak <= limit, ("peak RSS %.1f MiB over %.1f MiB"):format(peak / MiB, limit / MiB))
    -- After a job, a state keeps at most a quarter of its cap (more is
    -- collected, or the state is made anew).
    local settled = base + threads * cap_mb * MiB / 4 + OVERHEAD
    assert.is_true(after <= settled, ("RSS after the jobs %.1f MiB over %.1f MiB"):format(after / MiB, settled / MiB))
  end)
end)
