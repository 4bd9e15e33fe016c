-- hworker_set_job_file and hworker_reload are thread-safe: a host may call
-- them from threads of its own while workers run. Only the C API reaches
-- this (the Lua module has no threads), so a C program does it; the
-- ThreadSanitizer pass of tools/dev runs this file and fails on any race
-- between them, the workers and the handle's own threads.
local H = require "spec.support.helper"

describe("reloading from threads of the host", function()
  local server
  lazy_setup(function() server = H.redis_server() end)
  lazy_teardown(function() server.stop() end)
  after_each(H.cleanup)

  it("switches and reloads the job file from two threads while workers run, each reload naming a whole file", function()
    local q, name = H.queue(server)
    local dir = H.tmpdir()
    local a = H.file(dir, "a.lua", "function job(state, t) end\n")
    local b = H.file(dir, "b.lua", "function job(state, t) return nil end\n")
    local bin = H.c_program(dir, "reload_threads", "-lpthread")
    local out = H.sh(table.concat({ H.quote(bin), H.quote(server.url), name, H.quote(a), H.quote(b), "200" }, " ") ..
      "; echo status=$?")
    H.sh("rm -rf " .. H.quote(dir))
    -- A sanitizer report makes the program exit with another status.
    assert.are.equal("reloads=200 succeeded=200 other=0\nstatus=0\n", out)
    assert.are.equal(200, q:stats().counters.succeeded)
  end)
end)
