-- The engine's API as a user meets it: graceful stop, producer errors,
-- paging, configuration errors, delayed jobs (issue 2).
local H = require "spec.support.helper"
local R = require "spec.support.recorded"

local record = H.job_path("record.lua")

describe("the engine API", function()
  local server
  lazy_setup(function() server = H.redis_server() end)
  lazy_teardown(function() server.stop() end)
  after_each(H.cleanup)

  describe("graceful stop", function()
    it("lets a running job finish within the grace period", function()
      local q, runs, config = R.queue(server)
      local id = q:queue { sleep = 0.5 }
      q:start { job_file = record, config = config, workers = 1, monitors = 0 }
      H.wait_until("the job to start", 10, function() return H.runs(runs)[id] == 1 end)
      q:stop { grace = 30 }
      local s = q:stats()
      assert.are.equal(1, s.counters.succeeded)
      assert.are.equal(0, s.pending + s.inflight)
    end)

    it("hands a job that outlives the grace period back to the front of pending at once #unsharded", function()
      local q, runs, config = R.queue(server, { lease = 30 })
      local long = q:queue { sleep = 60 }
      local waiting = q:queue { n = 2 }
      q:start { job_file = record, config = config, workers = 1, monitors = 0 }
      H.wait_until("the long job to start", 10, function() return H.runs(runs)[long] == 1 end)
      local t0 = H.now()
      q:stop { grace = 0.2 }
      assert.truthy(H.now() - t0 < 10, "stop took " .. (H.now() - t0) .. " s")
      local s = q:stats()
      assert.are.equal(0, s.inflight) -- handed back, not left to the 30 s lease
      assert.are.equal(2, s.pending)
      assert.are.equal(1, s.counters.handed_back)
      assert.are.equal(0, s.failed)
      -- The interrupted job is at the front, before the one that never started.
      local front = q:jobs { offset = 1, limit = 1 }[1]
      assert.are.equal(long, front.id)
      assert.are.equal(0, front.recoveries)
      assert.are.equal(waiting, q:jobs { limit = 1 }[1].id)
    end)

    it("hands back claimed jobs that never started", function()
      local q, runs, config = R.queue(server, { prefetch = 16 })
      -- Quick jobs first: the claim batch grows (1, 2, 4, 8), so the long job
      -- comes in a batch with jobs claimed behind it.
      local jobs = {}
      for i = 1, 7 do jobs[#jobs + 1] = { n = i } end
      jobs[#jobs + 1] = { sleep = 60 }
      for i = 1, 4 do jobs[#jobs + 1] = { n = 100 + i } end
      local ids = q:queue_many(jobs)
      q:start { job_file = record, config = config, workers = 1, monitors = 0 }
      H.wait_until("the long job to start with jobs claimed behind it", 10, function()
        return H.runs(runs)[ids[8]] == 1 and q:stats().inflight >= 2
      end)
      local s = q:stats()
      local claimed, done = s.inflight, s.counters.succeeded
      q:stop { grace = 0.1 }
      s = q:stats()
      assert.are.equal(0, s.inflight)
      assert.are.equal(claimed, s.counters.handed_back)
      assert.are.equal(12 - done, s.pending)
      local _, total = H.runs(runs)
      assert.are.equal(done + 1, total) -- the handed-back jobs behind the long one never ran
    end)

    it("can start again after a stop", function()
      local q, runs, config = R.queue(server)
      q:start { job_file = record, config = config, workers = 1, monitors = 1 }
      q:stop { grace = 1 }
      q:queue { n = 1 }
      q:start { job_file = record, config = config, workers = 1, monitors = 1 }
      R.settle(q, 1)
      q:stop { grace = 1 }
      local _, total = H.runs(runs)
      assert.are.equal(1, total)
    end)
  end)

  describe("producing", function()
    it("refuses a job that is not valid JSON, saying where", function()
      local q = R.queue(server)
      local ok, err = pcall(q.queue_json, q, '{"a": 1,\n "b": }')
      assert.is_false(ok)
      assert.matches("the job is not valid JSON: line 2, column 7: value expected, found '}'", err, 1, true)
      assert.are.equal(0, q:stats().pending)
    end)

    it("enqueues nothing of a batch with one bad job", function()
      local q = R.queue(server)
      local ok, err = pcall(q.queue_many, q, { { n = 1 }, function() end })
      assert.is_false(ok)
      assert.matches("job 2 cannot be encoded as JSON", err)
      assert.are.equal(0, q:stats().pending)
    end)

    it("reports Redis refusing the write", function()
      local q, _, _, name = R.queue(server)
      q:command("SET", R.key(name, "pending"), "not a list")
      local ok, err = pcall(q.queue, q, { n = 1 })
      assert.is_false(ok)
      assert.matches("cannot enqueue: Redis refused: WRONGTYPE", err, 1, true)
    end)

    it("reports an unreachable Redis with its address", function()
      local q = H.track(H.hworker.open {
        name = "nowhere", redis = "unix:///nonexistent/redis.sock", log_level = "silent",
      })
      local ok, err = pcall(q.queue, q, { n = 1 })
      assert.is_false(ok)
      assert.matches("cannot connect to Redis at unix:///nonexistent/redis.sock: ", err, 1, true)
    end)

    it("returns one id per job, in order, and keeps FIFO order", function()
      local q = R.queue(server)
      local ids = q:queue_many { { n = 1 }, { n = 2 }, { n = 3 }, { n = 4 }, { n = 5 } }
      assert.are.equal(5, #ids)
      for _, id in ipairs(ids) do assert.matches("^%w+$", id) assert.are.equal(17, #id) end
      -- A claim takes at most what it asks for, oldest first.
      local claims = q:step_claim(3, "me")
      assert.are.equal(3, #claims)
      for _, more in ipairs(q:step_claim(3, "me")) do claims[#claims + 1] = more end
      assert.are.equal(5, #claims)
      for i, claim in ipairs(claims) do assert.truthy(claim:find(ids[i], 1, true), "claim " .. i .. " out of order") end
    end)

    it("schedules a delayed job and runs it only once it is due", function()
      local q, runs, config = R.queue(server, { monitor_interval = 0.05 })
      local id = q:queue({ n = 1 }, { delay = 0.5 })
      local s = q:stats()
      assert.are.equal(1, s.scheduled)
      assert.are.equal(0, s.pending)
      local due = q:scheduled()[1].time
      q:start { job_file = record, config = config, workers = 1, monitors = 1 }
      R.settle(q, 1)
      q:stop { grace = 1 }
      local ran = R.run_times(runs, id)
      assert.are.equal(1, #ran)
      assert.is_true(ran[1] >= due, ("ran at %d, due at %d"):format(ran[1], due))
      assert.are.equal(1, q:stats().counters.promoted)
    end)

    it("honours a retry delay asked for by the handler", function()
      local dir = H.tmpdir()
      local job = H.file(dir, "delay.lua", [[
        function init(config) return config end
        function job(state, t, meta)
          hworker.queue(state.runs, { id = meta.id })
          if meta.attempt == 1 then return hworker.retry("later", { delay = 0.3 }) end
        end
      ]])
      -- The back-off would wait at least half an hour: a due time that near
      -- can only come from the handler's own delay.
      local q, runs, config = R.queue(server, { monitor_interval = 0.05, retry_base = 3600 })
      local id = q:queue { n = 1 }
      q:start { job_file = job, config = config, workers = 1, monitors = 0 }
      H.wait_until("the job to be retried", 10, function() return q:stats().counters.retried == 1 end)
      local s = q:stats()
      assert.are.equal(1, s.scheduled) -- waiting, not pending
      assert.are.equal(0, s.pending)
      local first, due = R.run_times(runs, id)[1], q:scheduled()[1].time
      assert.is_true(due >= first + 300, ("due %d ms after the run, asked 300"):format(due - first))
      assert.is_true(due < first + 1800 * 1000,
        ("due %d ms after the run: the back-off's, not the handler's"):format(due - first))
      q:stop { grace = 1 }
      q:start { job_file = job, config = config, workers = 1, monitors = 1 }
      H.wait_until("the job to succeed after its delay", 10, function() return q:stats().counters.succeeded == 1 end)
      q:stop { grace = 1 }
      local ran = R.run_times(runs, id)
      assert.are.equal(2, #ran)
      assert.is_true(ran[2] >= due, ("the retry ran at %d, due at %d"):format(ran[2], due))
      H.sh("rm -rf " .. dir)
    end)
  end)

  describe("inspection", function()
    it("pages through a part, newest first", function()
      local q = R.queue(server)
      local jobs = {}
      for i = 1, 25 do jobs[i] = { n = i } end
      q:queue_many(jobs)
      local first = q:jobs { limit = 10 }
      local second = q:jobs { offset = 10, limit = 10 }
      local last = q:jobs { offset = 20, limit = 10 }
      assert.are.equal(10, #first)
      assert.are.equal(10, #second)
      assert.are.equal(5, #last)
      assert.are.equal(25, first[1].job.n)
      assert.are.equal(15, second[1].job.n)
      assert.are.equal(1, last[5].job.n)
    end)

    it("lists the jobs waiting in groups' lists with the rest of pending, and pages across them", function()
      local q = R.queue(server)
      local ids = q:queue_many { { n = 1 }, { n = 2 } }
      for _, id in ipairs(q:queue_many({ { n = 11 }, { n = 12 } }, { group = "a" })) do ids[#ids + 1] = id end
      for _, id in ipairs(q:queue_many({ { n = 21 } }, { group = "b" })) do ids[#ids + 1] = id end
      ids[#ids + 1] = q:queue({ n = 31 }, { priority = 5 })
      local want = {}
      for _, id in ipairs(ids) do want[id] = true end
      local function listed(list)
        local got = {}
        for _, e in ipairs(list) do
          assert.is_nil(got[e.id], "listed twice: " .. e.id)
          got[e.id] = true
        end
        return got
      end
      assert.are.equal(6, q:stats().pending)
      assert.are.same(want, listed(q:jobs { limit = 100 }))
      local paged = {}
      for offset = 0, 5 do
        local page = q:jobs { offset = offset, limit = 1 }
        assert.are.equal(1, #page)
        paged[#paged + 1] = page[1]
      end
      assert.are.same(want, listed(paged))
      assert.are.same({}, q:jobs { offset = 6, limit = 10 })
    end)

    it("lists grouped jobs past damaged group state, and names a group list of the wrong type #unsharded", function()
      local q, _, _, name = R.queue(server)
      q:queue_many({ { n = 11 }, { n = 12 } }, { group = "a" })
      local groups = "hw:{" .. name .. "}:groups"
      q:command("HSET", groups, "s:a\0b", "t", "s:", "t", "tokens", "many")
      assert.are.equal(2, #q:jobs { limit = 100 })
      assert.are.equal(1, #q:jobs { offset = 1, limit = math.huge })
      assert.are.same({}, q:jobs { offset = 2 ^ 62, limit = 2 ^ 62 })
      assert.are.equal(2, #q:jobs { offset = 0 / 0, limit = -math.huge })
      q:command("HSET", groups, "s:b", "t")
      q:command("SET", "hw:{" .. name .. "}:g:b", "not a list")
      local ok, err = pcall(q.jobs, q, { limit = 100 })
      assert.is_false(ok)
      assert.matches("cannot list the queue: LRANGE hw:{" .. name .. "}:g:b: Redis refused: WRONGTYPE", err, 1, true)
    end)

    it("shows in-flight jobs with their holder and lease expiry", function()
      local q = R.queue(server, { lease = 30 })
      local id = q:queue { n = 1 }
      q:step_claim(1, "host:123:w7")
      local e = q:inflight()[1]
      assert.are.equal(id, e.id)
      assert.are.equal("host:123:w7", e.holder)
      local t = q:command("TIME")
      local now = tonumber(t[1]) * 1000
      assert.truthy(e.time > now + 25000 and e.time <= now + 31000)
    end)
  end)

  describe("configuration", function()
    local function open_error(opts)
      opts.log_level = "silent"
      local ok, err = pcall(H.hworker.open, opts)
      assert.is_false(ok)
      return err
    end

    it("names what to fix", function()
      assert.matches("config: name is required", open_error {})
      assert.matches("queue name has '{' at byte 2: '{' and '}' are not allowed", open_error { name = "a{b}" }, 1, true)
      assert.matches('bad Redis URL "http://x": unknown scheme', open_error { name = "a", redis = "http://x" }, 1, true)
      assert.matches("the port must be a number from 1 to 65535", open_error { name = "a", redis = "redis://h:99999" })
      assert.matches("lease must be at least 0.1 seconds", open_error { name = "a", lease = 0 })
      assert.matches('on_exception must be "failure" or "retry"', open_error { name = "a", on_exception = "ignore" })
      assert.matches("unknown option 'workerz' for hworker.open", open_error { name = "a", workerz = 3 })
      assert.matches("failed_cap must be at least 1", open_error { name = "a", failed_cap = 0 })
    end)
  end)

  -- What the C API and the command line can do, the Lua module can too.
  describe("the Lua module", function()
    -- A failed record of a fresh job, made with the single steps.
    local function fail_one(q, n)
      local id = q:queue { n = n }
      local claim = q:step_claim(1, "me")[1]
      assert.is_true(q:step_finish(claim, "failure", "bad " .. n))
      return id
    end

    it("enqueues a batch with a unique key per job", function()
      local q = R.queue(server, { shards = 1 })
      local ids = q:queue_many({ { n = 1 }, { n = 2 }, { n = 3 } }, { unique = { "k", false, "k" } })
      assert.are.equal(3, #ids)
      assert.are.equal(ids[1], ids[3])
      assert.are_not.equal(ids[1], ids[2])
      assert.are.equal(2, q:stats().pending)
      local ok, err = pcall(q.queue_many, q, { { n = 4 } }, { unique = { 7 } })
      assert.is_false(ok)
      assert.matches("queue_many's unique keys must be strings", err)
      assert.are.equal(2, q:stats().pending)
    end)

    it("enqueues on a chosen shard or on another queue, and refuses a shard a unique key would not pick", function()
      local q = R.queue(server, { shards = 3 })
      q:queue({ n = 1 }, { shard = 2 })
      q:queue_many({ { n = 2 }, { n = 3 } }, { shard = 2 })
      assert.are.equal(3, q:stats { shard = 2 }.pending)
      assert.are.equal(3, q:stats().pending)
      local other, other_name = H.queue(server, { shards = 1 })
      q:queue({ n = 4 }, { queue = other_name })
      assert.are.equal(1, other:stats().pending)
      local ok, err = pcall(q.queue, q, { n = 5 }, { shard = 1, unique = "k" })
      assert.is_false(ok)
      assert.matches("job 1 has a unique key, which picks its own shard", err)
      ok, err = pcall(q.queue, q, { n = 6 }, { shard = 3 })
      assert.is_false(ok)
      assert.matches("shard must be HWORKER_SHARD_ANY or from 0 to 2 %(got 3%)", err)
      ok, err = pcall(q.queue, q, { n = 7 }, { shard = 0, queue = "elsewhere" })
      assert.is_false(ok)
      assert.matches("leave it at HWORKER_SHARD_ANY for another queue", err)
      assert.are.equal(3, q:stats().pending)
    end)

    it("requeues and deletes failed records, by id or all", function()
      local q = R.queue(server, { shards = 1 })
      local first = fail_one(q, 1)
      fail_one(q, 2)
      assert.are.equal(1, q:requeue("failed", { first }))
      assert.are.equal(1, q:stats().pending)
      assert.are.equal(1, #q:failed())
      assert.are.equal(1, q:delete("failed", "all"))
      assert.are.equal(0, #q:failed())
      local ok, err = pcall(q.requeue, q, "pending", "all")
      assert.is_false(ok)
      assert.matches("invalid option 'pending'", err)
    end)

    it("reloads the job file, and refuses one that does not load", function()
      local dir = H.tmpdir()
      local file = H.file(dir, "job.lua", "function job() end\n")
      local q = R.queue(server, { shards = 1, job_file = file })
      assert.is_true(q:reload())
      H.file(dir, "job.lua", "function job( end\n")
      local ok, err = pcall(q.reload, q)
      assert.is_false(ok)
      assert.matches("job.lua", err)
      H.sh("rm -rf " .. H.quote(dir))
    end)
  end)
end)
