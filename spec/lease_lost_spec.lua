-- lease_lost counts claims that were really taken over (issue 12, item 8).
-- The lease keeper renews every claim its process holds; a claim whose job
-- finished between the keeper's snapshot and the renewal is gone from
-- inflight through its own report, which is no lost lease.
local H = require "spec.support.helper"

local record = H.job_path("record.lua")

describe("lease_lost", function()
  local server
  lazy_setup(function() server = H.redis_server() end)
  lazy_teardown(function() server.stop() end)
  after_each(H.cleanup)

  it("is not counted for claims that finish while the keeper renews them", function()
    -- The shortest lease: the keeper renews every 33 ms, while quick jobs
    -- finish all the time, so renewals meet claims that just finished. No
    -- monitor runs, so no claim is ever taken over.
    local q = H.queue(server, { lease = 0.1 })
    local n = 0
    for _ = 1, 8 do
      local batch = {}
      for i = 1, 500 do batch[i] = { n = n + i, sleep = 0.001 } end
      q:queue_many(batch)
      n = n + 500
    end
    q:start { job_file = record, config = {}, workers = 4, monitors = 0 }
    H.wait_until(n .. " jobs to succeed", 60, function() return q:stats().counters.succeeded == n end)
    q:stop { grace = 5 }
    local s = q:stats()
    assert.are.equal(0, s.counters.recovered)
    assert.are.equal(0, s.counters.lease_lost)
    assert.are.equal(0, s.inflight)
  end)
end)
