-- Cron entries (docs/scheduling.md): each tick enqueued exactly once
-- however many processes run, die and restart; missed ticks after every
-- process stopped follow the entry's policy. Tick times themselves (fields,
-- zones, daylight-saving days) are checked in spec/unit/test_cron.c.
local H = require "spec.support.helper"
local R = require "spec.support.recorded"

local record = H.job_path("record.lua")

-- The recorded runs' due times (meta.due_at: the tick each job is for),
-- sorted, and how many runs each had.
local function ticks_run(runs)
  local count, list = {}, {}
  for _, e in ipairs(runs:jobs { limit = 10000 }) do
    local t = e.job.due_at
    if not count[t] then list[#list + 1] = t end
    count[t] = (count[t] or 0) + 1
  end
  table.sort(list)
  return list, count
end

local function entry(q, name)
  for _, e in ipairs(q:cron_ls()) do
    if e.entry == name then return e end
  end
end

describe("cron", function()
  local server
  lazy_setup(function() server = H.redis_server() end)
  lazy_teardown(function() server.stop() end)
  after_each(H.cleanup)

  it("checks an entry when it is added, naming what to fix", function()
    local q = H.queue(server)
    local ok, err = pcall(q.cron_add, q, "bad", "61 * * * *", { n = 1 })
    assert.is_false(ok)
    assert.matches("cron entry 'bad': minute field '61': values go from 0 to 59", err, 1, true)
    ok, err = pcall(q.cron_add, q, "tz", "@hourly", { n = 1 }, { tz = "Europe/Berln" })
    assert.is_false(ok)
    assert.matches("unknown time zone 'Europe/Berln'", err, 1, true)
    ok, err = pcall(q.cron_add, q, "json", "@hourly", "{nope")
    assert.is_false(ok)
    assert.matches("the job is not valid JSON", err, 1, true)
    assert.are.same({}, q:cron_ls())
  end)

  it("lists entries with their next tick, computes next ticks, and removes them", function()
    local q = H.queue(server)
    q:cron_add("hourly", "@hourly", { n = 1 }, { tz = "Europe/Berlin", missed = "skip", unique = true })
    q:cron_add("every", "@every 90s", '{"n":2}')
    local list = q:cron_ls()
    assert.are.equal(2, #list)
    assert.are.equal("every", list[1].entry)
    assert.are.equal("hourly", list[2].entry)
    local h = list[2]
    assert.are.equal("@hourly", h.schedule)
    assert.are.equal("Europe/Berlin", h.tz)
    assert.are.equal("skip", h.missed)
    assert.is_true(h.unique)
    assert.are.equal('{"n":1}', h.job_json)
    assert.are.equal(0, h.fired)
    local now = H.redis_time_ms(server)
    assert.is_true(h.next_at > now and h.next_at <= now + 3600 * 1000 and h.next_at % 3600000 == 0)
    local next = q:cron_next("every", 3)
    assert.are.equal(3, #next)
    for i = 1, 3 do assert.are.equal(0, next[i] % 90000) end
    assert.are.equal(90000, next[2] - next[1])
    assert.is_true(q:cron_rm("every"))
    assert.is_false(q:cron_rm("every"))
    assert.are.equal(1, #q:cron_ls())
    local ok, err = pcall(q.cron_next, q, "every", 1)
    assert.is_false(ok)
    assert.matches("no cron entry 'every'", err, 1, true)
  end)

  it("is run from the command line: cron add, ls, next and rm", function()
    local bin = H.build .. "/hworker-lua"
    local _, name = H.queue(server)
    local url = H.quote(server.url)
    local _, err, code = H.run(bin, ("cron add %s nightly '61 2 * * *' '{}' --redis %s"):format(name, url))
    local out
    assert.are.equal(2, code)
    assert.matches("minute field '61'", err, 1, true)
    out, err, code = H.run(bin, ("cron add %s nightly '30 2 * * *' '{\"n\":1}' --tz Europe/Berlin --missed all "
      .. "--unique --redis %s"):format(name, url))
    assert.are.equal(0, code, err)
    assert.are.equal("cron entry nightly of queue " .. name .. ": 30 2 * * * in Europe/Berlin\n", out)
    out, err, code = H.run(bin, ("cron ls %s --json --redis %s"):format(name, url))
    assert.are.equal(0, code, err)
    local e = H.cjson.decode(out)
    assert.are.equal("nightly", e.entry)
    assert.are.equal("30 2 * * *", e.schedule)
    assert.are.equal("Europe/Berlin", e.tz)
    assert.are.equal("all", e.missed)
    assert.is_true(e.unique)
    assert.are.same({ n = 1 }, e.job)
    out, err, code = H.run(bin, ("cron next %s nightly --count 3 --redis %s"):format(name, url))
    assert.are.equal(0, code, err)
    local times = {}
    for line in out:gmatch("[^\n]+") do times[#times + 1] = line end
    assert.are.equal(3, #times)
    -- 02:30 in Berlin is 01:30 or 00:30 UTC, by the season.
    for _, t in ipairs(times) do assert.matches("^%d%d%d%d%-%d%d%-%d%dT0[01]:30:00Z$", t) end
    _, err, code = H.run(bin, ("cron rm %s nightly --redis %s"):format(name, url))
    assert.are.equal(0, code, err)
    _, err, code = H.run(bin, ("cron rm %s nightly --redis %s"):format(name, url))
    assert.are.equal(1, code)
    assert.matches("no cron entry 'nightly'", err, 1, true)
  end)

  it("starts an entry added while monitors sleep at its first tick, not at their next read", function()
    local q, runs, config = R.queue(server, { monitor_interval = 60 })
    q:start { job_file = record, config = config, workers = 1, monitors = 1 }
    -- The monitor has read the (empty) entries when a first job it
    -- promoted has run; then it sleeps for monitor_interval.
    local warm = q:queue({ n = 0 }, { delay = 0.2 })
    H.wait_until("the monitor's first sweep", 30, function() return H.runs(runs)[warm] == 1 end)
    q:cron_add("soon", "@every 1s", { n = 1 })
    H.wait_until("the entry's first job", 10, function() return #ticks_run(runs) >= 2 end)
    q:stop { grace = 5 }
  end)

  -- Redis keys may hold anything: a last tick that is no time, or one
  -- decades ago, must not make a monitor walk (and enqueue) every tick since.
  it("starts an entry whose last tick in Redis is garbage or ancient now, or a month back at most", function()
    local q, runs, config, name = R.queue(server)
    q:cron_add("garbage", "@every 1s", { n = 1 }, { missed = "all" })
    q:cron_add("ancient", "@daily", { n = 2 }, { missed = "all" })
    local state = "hw:{" .. name .. "}:cron_state"
    q:command("HSET", state, "last:garbage", "not\0a time")
    q:command("HSET", state, "last:ancient", "1")
    q:start { job_file = record, config = config, workers = 1, monitors = 1 }
    H.wait_until("both entries handled", 30, function()
      return entry(q, "garbage").fired >= 1 and entry(q, "ancient").fired >= 1
    end)
    -- No tick after this: the every-second entry would otherwise keep one
    -- job pending now and then. A flood of catch-up jobs would stay.
    q:cron_rm("garbage")
    q:cron_rm("ancient")
    H.wait_until("the jobs enqueued to run", 30, function()
      local s = q:stats()
      return s.pending == 0 and s.inflight == 0
    end)
    q:stop { grace = 5 }
    local by_n = { 0, 0 }
    for _, e in ipairs(runs:jobs { limit = 10000 }) do by_n[e.job.n] = by_n[e.job.n] + 1 end
    assert.is_true(by_n[1] <= 3, by_n[1] .. " jobs for the entry whose last tick was garbage")
    assert.is_true(by_n[2] >= 30 and by_n[2] <= 32, by_n[2] .. " jobs for 31 days of a daily entry")
  end)

  it("enqueues exactly one job per tick with 3 processes, one killed and restarted meanwhile", function()
    local q, runs, config, name = R.queue(server)
    q:cron_add("tick", "@every 1s", { n = 1 })
    local function process()
      return H.spawn_workers { name = name, redis = server.url, workers = 0, monitors = 1, log_level = "error" }
    end
    local pids = { process(), process(), process() }
    q:start { job_file = record, config = config, workers = 1, monitors = 0 }
    H.wait_until("10 ticks", 30, function() return #ticks_run(runs) >= 10 end)
    H.kill(pids[1], 9)
    H.wait_until("15 ticks", 30, function() return #ticks_run(runs) >= 15 end)
    pids[1] = process()
    H.wait_until("31 ticks", 60, function() return #ticks_run(runs) >= 31 end)
    for _, pid in ipairs(pids) do H.kill(pid, 9) end
    q:stop { grace = 5 }
    local list, count = ticks_run(runs)
    -- 30 ticks in a row (the last one may be running still): one job each.
    for i = 1, 30 do
      assert.are.equal(1, count[list[i]], "jobs for tick " .. list[i])
      if i > 1 then assert.are.equal(1000, list[i] - list[i - 1], "the tick after " .. list[i - 1]) end
    end
    assert.are.equal(#list, entry(q, "tick").fired)
  end)

  it("after every process stopped for 10 s, skips, runs one, or runs all missed ticks as each entry says", function()
    local q, runs, config = R.queue(server)
    local policies = { "skip", "one", "all" }
    for i, policy in ipairs(policies) do q:cron_add(policy, "@every 1s", { n = i }, { missed = policy }) end
    q:start { job_file = record, config = config, workers = 1, monitors = 1 }
    H.wait_until("a tick of each entry", 30, function()
      for _, policy in ipairs(policies) do
        if entry(q, policy).fired < 1 then return false end
      end
      return true
    end)
    q:stop { grace = 5 }
    local stopped = H.redis_time_ms(server)
    -- The outage: nothing runs until Redis's clock is 10 s on.
    H.wait_until("10 s of Redis time", 30, function() return H.redis_time_ms(server) >= stopped + 10000 end)
    q:start { job_file = record, config = config, workers = 1, monitors = 1 }
    H.wait_until("the missed ticks handled", 30, function()
      for _, policy in ipairs(policies) do
        if entry(q, policy).last_at < stopped + 10000 then return false end
      end
      return true
    end)
    local restarted = H.redis_time_ms(server)
    q:stop { grace = 5 }
    -- The due times of each entry's jobs after the stop.
    local after = { {}, {}, {} }
    for _, e in ipairs(runs:jobs { limit = 10000 }) do
      if e.job.due_at > stopped then table.insert(after[e.job.n], e.job.due_at) end
    end
    for i = 1, 3 do table.sort(after[i]) end
    -- skip ran no tick of the outage: its first job is the tick on time at
    -- the restart; the others' jobs before that one are for missed ticks.
    local on_time = after[1][1]
    assert.is_true(on_time >= restarted - 2000 - 1000, "skip ran the tick of " .. on_time)
    local function missed_run(i)
      local n = 0
      for _, due in ipairs(after[i]) do
        if due < on_time then n = n + 1 end
      end
      return n
    end
    local skip, one, all = entry(q, "skip"), entry(q, "one"), entry(q, "all")
    assert.is_true(skip.missed_count >= 8, "skip missed " .. skip.missed_count)
    assert.are.equal(1, missed_run(2), "one ran " .. missed_run(2) .. " missed ticks")
    assert.is_true(one.missed_count >= 7, "one missed " .. one.missed_count)
    -- all ran every tick from the first after the stop on.
    local first = math.floor(stopped / 1000) * 1000 + 1000
    assert.are.equal((on_time - first) / 1000, missed_run(3))
    assert.is_true(missed_run(3) >= 8)
    assert.are.equal(0, all.missed_count)
  end)
end)
