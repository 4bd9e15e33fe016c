-- Events (docs/operations.md, "Events"): an opt-in, capped stream of job
-- state changes per shard, read with q:events{}, hworker_events and
-- `hworker-lua events NAME [--follow]`.
local H = require "spec.support.helper"
local R = require "spec.support.recorded"

local bin = H.build .. "/hworker-lua"
local record = H.job_path("record.lua")

describe("events", function()
  local server
  lazy_setup(function() server = H.redis_server() end)
  lazy_teardown(function() server.stop() end)
  after_each(H.cleanup)

  local function key(name, role) return "hw:{" .. name .. "}:" .. role end

  -- Every event kept, oldest first, and the cursor after them.
  local function all_events(q)
    local list, cursor = {}, ""
    repeat
      local page
      page, cursor = q:events { after = cursor, count = 500 }
      for _, e in ipairs(page) do list[#list + 1] = e end
    until #page == 0
    return list, cursor
  end

  -- The events of job `id`, as "event/attempt" strings.
  local function story(list, id)
    local out = {}
    for _, e in ipairs(list) do
      if e.id == id then out[#out + 1] = e.event .. "/" .. e.attempt end
    end
    return out
  end

  it("are off until turned on: nothing is written for the jobs before #unsharded", function()
    local q, _, config, name = R.queue(server)
    q:queue { n = 1 }
    q:start { job_file = record, config = config, workers = 1, monitors = 0 }
    R.settle(q, 1)
    q:stop { grace = 1 }
    assert.are.equal(0, tonumber(q:command("EXISTS", key(name, "events"))))
    assert.are.same({}, (q:events {}))
    assert.is_nil(q:limits().events)
    q:set_events(100)
    assert.are.equal(100, q:limits().events)
    local id = q:queue { n = 2 }
    assert.are.same({ "enqueued/1" }, story(all_events(q), id))
    q:set_events(false)
    q:queue { n = 3 }
    assert.are.equal(1, #all_events(q))
  end)

  it("arrive in order for a job that retries then succeeds, with its worker, reason and delay", function()
    local q, _, config, name = R.queue(server)
    q:set_events(1000)
    local id = q:queue { n = 1, retry_until = 2 }
    q:start { job_file = record, config = config, workers = 1, monitors = 1 }
    H.wait_until("the job to succeed", 20, function() return q:stats().counters.succeeded == 1 end)
    q:stop { grace = 1 }
    local list = all_events(q)
    assert.are.same({ "enqueued/1", "started/1", "retried/1", "started/2", "succeeded/2" }, story(list, id))
    local retried = list[3]
    assert.are.equal("not yet: attempt 1", retried.reason)
    assert.is_true(retried.delay_ms >= 0)
    assert.matches(":w1$", retried.worker)
    for i = 2, #list do assert.is_true(list[i].time_ms >= list[i - 1].time_ms) end
    -- The command line prints the same, as text and as JSON lines.
    local out, err, code = H.run(bin, ("events %s --json --redis %s"):format(H.quote(name), H.quote(server.url)))
    assert.are.equal(0, code, err)
    local seen = {}
    for line in out:gmatch("[^\n]+") do
      local e = H.cjson.decode(line)
      seen[#seen + 1] = e.event .. "/" .. e.attempt
    end
    assert.are.same(story(list, id), seen)
    out = H.run(bin, ("events %s --redis %s"):format(H.quote(name), H.quote(server.url)))
    assert.matches("retried +" .. id .. " attempt 1 on [^ ]+ in %d+ ms: \"not yet: attempt 1\"", out)
  end)

  it("tell of failures, broken payloads, cancels, deletes, recoveries and hand-backs #unsharded", function()
    local q, _, _, name = R.queue(server)
    q:set_events(1000)
    local ids = q:queue_many { { n = 1 }, { n = 2 }, { n = 3 }, { n = 4 } }
    local later = q:queue({ n = 5 }, { delay = 3600 })
    local waiting = q:queue { n = 6 }
    local claims = q:step_claim(4, "host:1:w1")
    assert.is_true(q:step_finish(claims[1], "failure", "no such user"))
    assert.is_true(q:step_finish(claims[2], "broken", "bad"))
    assert.is_true(q:step_hand_back(claims[3]))
    -- The fourth claim's lease runs out: a sweep recovers it.
    q:command("ZADD", key(name, "inflight"), "XX", "1", claims[4])
    assert.are.equal(1, (q:step_sweep()))
    q:cancel(later)
    q:delete_job(waiting)
    local list = all_events(q)
    assert.are.same({ "enqueued/1", "started/1", "failed/1" }, story(list, ids[1]))
    assert.are.same({ "enqueued/1", "started/1", "broken/1" }, story(list, ids[2]))
    assert.are.same({ "enqueued/1", "started/1", "handed_back/1" }, story(list, ids[3]))
    assert.are.same({ "enqueued/1", "started/1", "recovered/1" }, story(list, ids[4]))
    assert.are.same({ "enqueued/1", "cancelled/1" }, story(list, later))
    assert.are.same({ "enqueued/1", "deleted/1" }, story(list, waiting))
    for _, e in ipairs(list) do
      if e.id == ids[1] and e.event == "failed" then assert.are.equal("no such user", e.reason) end
      if e.id == later and e.event == "enqueued" then assert.is_true(e.due_ms > e.time_ms) end
    end
  end)

  it("tell of a cron entry's jobs and of requeued records #unsharded", function()
    local q, _, _, name = R.queue(server)
    q:set_events(1000)
    q:cron_add("tick", "@every 1s", { n = 1 })
    q:start { workers = 0, monitors = 1 }
    H.wait_until("the entry's first job", 10, function() return q:stats().pending >= 1 end)
    q:cron_rm("tick")
    q:stop { grace = 1 }
    local job = q:command("LRANGE", key(name, "pending"), -1, -1)[1]
    local ticked = job:match('^{"v":1,"id":"([^"]+)"')
    local claims = q:step_claim(1, "host:1:w1")
    assert.is_true(q:step_finish(claims[1], "failure", "no"))
    assert.are.equal(1, q:requeue("failed", { ticked }))
    assert.are.same({ "enqueued/1", "started/1", "failed/1", "requeued/1" }, story(all_events(q), ticked))
  end)

  it("follow new events from the command line, and a blocked read returns at the first one", function()
    local q, _, _, name = R.queue(server)
    q:set_events(1000)
    local log = H.tmpdir() .. "/follow.log"
    H.background(("%s events %s --follow --new --json --redis %s"):format(bin, H.quote(name), H.quote(server.url)),
      log)
    -- Enqueue until the follower, which starts after the last event kept,
    -- has printed one: then it is following.
    H.wait_until("the follower to print an event", 20, function()
      q:queue { n = 0 }
      return H.read(log):find("enqueued", 1, true) ~= nil
    end)
    local id = q:queue { n = 1 }
    H.wait_until("the follower to print job " .. id, 20, function() return H.read(log):find(id, 1, true) ~= nil end)
    -- A read that blocks from now is answered by a job enqueued meanwhile
    -- by another process.
    local _, cursor = q:events { after = "$" }
    H.background(("sleep 0.3; %s queue %s '{\"n\":2}' --redis %s"):format(bin, H.quote(name), H.quote(server.url)))
    local got = q:events { after = cursor, block = 10 }
    assert.are.equal(1, #got)
    assert.are.equal("enqueued", got[1].event)
  end)

  it("keep about the cap, and a damaged events key never holds up a job #unsharded", function()
    local q, _, config, name = R.queue(server)
    q:set_events(10)
    for _ = 1, 10 do q:queue_many(R.jobs(100, 0)) end
    -- Redis trims whole nodes of the stream (100 entries by default).
    local kept = tonumber(q:command("XLEN", key(name, "events")))
    assert.is_true(kept >= 10 and kept <= 110, "the stream keeps " .. kept)
    q:destroy()
    q:set_events(10)
    q:command("SET", key(name, "events"), "garbage")
    q:queue_many(R.jobs(5, 0))
    q:start { job_file = record, config = config, workers = 1, monitors = 0 }
    R.settle(q, 5)
    q:stop { grace = 1 }
    assert.are.equal(5, q:stats().counters.succeeded)
    assert.has_error(function() q:events {} end)
    -- A damaged flow hash (where the events switch is) refuses an enqueue
    -- whole, naming the key, before any job is written.
    q:command("SET", key(name, "flow"), "junk")
    local ok, err = pcall(q.queue, q, { n = 6 })
    assert.is_false(ok)
    assert.matches("key hw:{" .. name:gsub("%p", "%%%0") .. "}:flow holds a string", err)
    assert.are.equal(0, tonumber(q:command("LLEN", key(name, "pending"))))
  end)

  it("print the stream's text with its control bytes escaped #unsharded", function()
    local q, _, _, name = R.queue(server)
    q:set_events(100)
    q:command("XADD", key(name, "events"), "*", "event", "\27]0;owned\7", "id", "\27[2Jred", "attempt", "1",
      "worker", "w\27[5m", "reason", "\27[31m")
    local out, err, code = H.run(bin, ("events %s --redis %s"):format(H.quote(name), H.quote(server.url)))
    assert.are.equal(0, code, err)
    assert.is_nil(out:find("\27", 1, true), "an escape byte reached the terminal: " .. out)
    assert.truthy(out:find("\\x1b[2Jred", 1, true), out)
  end)

  it("merge a sharded queue's streams by time, and refuse a cursor of another queue", function()
    local q, name = H.queue(server, { shards = 5 })
    q:set_events(1000)
    -- Enqueued a millisecond of Redis time apart, round robin over the
    -- shards: the merged events must come back in enqueue order.
    local ids = {}
    for i = 1, 12 do
      local at = H.redis_time_ms(server)
      ids[i] = q:queue { n = i }
      H.wait_until("Redis time to move on", 5, function() return H.redis_time_ms(server) > at + 1 end)
    end
    local list, cursor = all_events(q)
    assert.are.equal(12, #list)
    local seen = {}
    for i, e in ipairs(list) do
      assert.are.equal("enqueued", e.event)
      assert.are.equal(ids[i], e.id)
      seen[e.shard] = true
    end
    assert.is_true(seen[0] and seen[1] and seen[2] and seen[3] and seen[4])
    assert.are.equal(4, select(2, cursor:gsub(",", ""))) -- one position per shard
    -- The command line prints them all and ends.
    local out = H.sh(("timeout 20 %s events %s --shards 5 --redis %s; echo exit=$?"):format(bin, H.quote(name),
      H.quote(server.url)))
    assert.matches("exit=0%s*$", out)
    assert.are.equal(12, select(2, out:gsub("enqueued", "")))
    assert.has_error(function() q:events { after = "1-0" } end)
    local next_page = q:events { after = cursor }
    assert.are.same({}, next_page)
  end)
end)
