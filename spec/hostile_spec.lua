-- Job code written to crash the runner, overflow its C stack, or change what
-- later jobs see (docs/reliability.md, "Hostile job code"). Each attack runs
-- in a real runner process, so a crash shows as the process gone; the job
-- after the attacks must run as if no earlier job had.
local H = require "spec.support.helper"
local R = require "spec.support.recorded"

local bin = H.build .. "/hworker-lua"
local hostile = H.job_path("hostile.lua")

describe("hostile job code #standalone", function()
  local server

  lazy_setup(function()
    server = H.redis_server()
    server.start()
  end)

  lazy_teardown(function()
    H.cleanup()
    server.stop()
  end)

  -- Runs `jobs` in order on one worker thread of a runner process; returns
  -- the queue, the runs queue and the runner's log. Fails if the runner dies.
  local function run_in_order(jobs, flags)
    local q, runs, config, name = R.queue(server, { shards = 1 })
    q:queue_many(jobs)
    local dir = H.tmpdir()
    local log = dir .. "/run.log"
    local pid = tonumber(H.sh(("%s run %s --name %s --redis %s --threads 1 --shards 1 --config %s %s "
      .. "> %s 2>&1 & echo $!"):format(H.quote(bin), H.quote(hostile), name, H.quote(server.url),
        H.quote(H.cjson.encode(config)), flags or "", H.quote(log))))
    H.wait_until("every job to reach an outcome", 60, function()
      assert.is_true(H.alive(pid), "the runner died: " .. H.sh("tail -5 " .. H.quote(log)))
      local s = q:stats()
      return s.counters.processed >= #jobs and s.pending == 0 and s.inflight == 0
    end)
    H.kill(pid, 15)
    H.wait_until("the runner to stop", 30, function() return not H.alive(pid) end)
    local text = H.read(log)
    H.sh("rm -rf " .. H.quote(dir))
    return q, runs, text
  end

  local function failures(q)
    local by_attack = {}
    for _, f in ipairs(q:failed { limit = 100 }) do by_attack[f.job.attack] = f.reason end
    return by_attack
  end

  it("cannot crash the runner by changing a result or hworker.success", function()
    local q = run_in_order { { attack = "edit_result" }, { attack = "edit_success" }, { attack = "nothing" } }
    local failed = failures(q)
    assert.matches("results cannot be changed", failed.edit_result)
    assert.matches("results cannot be changed", failed.edit_success)
    assert.are.equal(1, q:stats().counters.succeeded)
  end)

  it("stops coroutines nested without bound at the nesting limit, and goes on", function()
    local q = run_in_order { { attack = "coroutines" }, { attack = "nothing" } }
    assert.matches("coroutine nesting limit", failures(q).coroutines)
    assert.are.equal(1, q:stats().counters.succeeded)
  end)

  it("stops recursion through C functions at the C stack budget, and goes on", function()
    local q = run_in_order { { attack = "c_recursion" }, { attack = "nothing" } }
    assert.matches("C stack limit", failures(q).c_recursion)
    assert.are.equal(1, q:stats().counters.succeeded)
  end)

  it("cannot crash the runner through load: an environment that is no table, a reader that churns", function()
    local q = run_in_order { { attack = "load_env" }, { attack = "load_reader" }, { attack = "nothing" } }
    assert.matches("bad argument #4 to 'load' %(table expected", failures(q).load_env)
    assert.are.equal(2, q:stats().counters.succeeded)
  end)

  it("refuses table.insert far out of bounds instead of shifting 2^31 slots in C", function()
    local q = run_in_order { { attack = "insert_far" } }
    assert.matches("position out of bounds", failures(q).insert_far)
  end)

  it("stops a loop of slow C calls at its limit, without the watchdog", function()
    local q, _, log = run_in_order({ { attack = "sort_loop" }, { attack = "nothing" } }, "--timeout 1")
    assert.matches("^timeout: ", failures(q).sort_loop)
    assert.is_nil(log:find("abandoned", 1, true), log)
    assert.are.equal(1, q:stats().counters.succeeded)
  end)

  it("stops a loop of linear pattern searches at its limit, without the watchdog", function()
    local q, _, log = run_in_order({ { attack = "literal_loop" }, { attack = "nothing" } }, "--timeout 1")
    assert.matches("^timeout: ", failures(q).literal_loop)
    assert.is_nil(log:find("abandoned", 1, true), log)
  end)

  it("refuses in cjson.encode, as errors a job can catch, a doubly self-holding table "
    .. "and an index past 2^31", function()
    local q = run_in_order { { attack = "encode_cycle" }, { attack = "encode_huge_key" } }
    local failed = failures(q)
    assert.matches("excessive nesting", failed.encode_cycle)
    assert.matches("past 2147483647", failed.encode_huge_key)
  end)

  it("keeps NUL bytes of a reason, and refuses a retry delay that would never come", function()
    local q, _, log = run_in_order { { attack = "nul_reason" }, { attack = "endless_delay" }, { attack = "log_nul" } }
    local failed = failures(q)
    assert.are.equal("before\\0after", failed.nul_reason)
    assert.matches("opts.delay must be a number of seconds from 0 to", failed.endless_delay)
    assert.are.equal(0, q:stats().scheduled)
    assert.truthy(log:find("job %S+: a\\0b\tc"), log)
  end)

  it("refuses to start when init returns only after a C call outlasted the time limit", function()
    local dir = H.tmpdir()
    local file = H.file(dir, "slow_init.lua",
      'function init() local s = string.rep("ab", 5e7) end\nfunction job() end\n')
    local _, name = H.queue(server, { shards = 1 })
    -- Bounded: a runner whose init passed would run until killed.
    local out, err, code = H.run(bin, ("run %s --name %s --redis %s --timeout 0.01 --memory-limit 256 --shards 1")
      :format(H.quote(file), name, H.quote(server.url)), nil, "timeout -s KILL 30")
    H.sh("rm -rf " .. H.quote(dir))
    assert.are_not.equal(0, code)
    assert.matches("init%(config%) failed: timeout", out .. err)
  end)

  it("counts a job whose last C call outlasted its time limit as timed out, never as succeeded", function()
    local q = run_in_order({ { attack = "late_return" } }, "--timeout 0.01 --memory-limit 256")
    assert.matches("^timeout: ", failures(q).late_return)
    assert.are.equal(0, q:stats().counters.succeeded)
  end)

  it("keeps a job's changes to libraries, globals, results and cjson from the jobs after it", function()
    local _, runs = run_in_order { { attack = "tamper" }, { attack = "observe", a = { b = { c = 7 } } } }
    local recorded = runs:jobs()
    assert.are.equal(1, #recorded)
    local r = recorded[1].job
    -- What math.random would give had the tampering job's seed carried over.
    math.randomseed(42)
    local leaked = math.random(1, 1000000)
    assert.are_not.equal(leaked, r.seen.random)
    r.seen.random = nil
    assert.are.same({
      upper = "A", tostring = "12", leftover = "nil", leftover_global = "nil", success_kind = "success",
      print = "function", nested = 7, encoded = "[123456789,null,1]",
    }, r.seen)
    assert.are.equal(123456789, r.precise)
  end)
end)
