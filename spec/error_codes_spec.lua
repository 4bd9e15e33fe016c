-- Issue 13: every public call says what kind of failure it met (an
-- hworker_rc a host can branch on) next to the message that names the fix,
-- takes a NULL err, and reads and writes only as much of a config or stats
-- struct as the host's header has. The host is spec/c/error_codes.c.
local H = require "spec.support.helper"

local OK, INVALID, REDIS, STATE, JOB_FILE, SHARDS, REPLICAS, NOT_FOUND = 0, -1, -2, -3, -4, -5, -6, -8

describe("error codes", function()
  local server, lines
  lazy_setup(function()
    server = H.redis_server()
    local dir = H.tmpdir()
    local prog = H.c_program(dir, "error_codes", "$(pkg-config --libs hiredis)")
    local job = H.file(dir, "job.lua", "function job(state, t) return true end\n")
    -- Port 1 refuses connections: a Redis that cannot be reached.
    local out = H.sh(H.quote(prog) .. " " .. H.quote(server.url) .. " redis://127.0.0.1:1/0 codes " .. H.quote(job))
    lines = {}
    for what, rest in out:gmatch("(%S+) ([^\n]*)") do
      lines[what] = lines[what] or {}
      table.insert(lines[what], rest)
    end
  end)
  lazy_teardown(function() server.stop() end)

  -- The code and the message of one case.
  local function case(what)
    assert.is_truthy(lines[what], "the host printed no line for " .. what)
    local code, msg = lines[what][1]:match("^(%-?%d+) ?(.*)$")
    return tonumber(code), msg
  end

  local expected = {
    { "set_unknown", INVALID, "no setting is called \"no_such_setting\"" },
    { "set_range", INVALID, "lease" },
    { "enqueue_json", INVALID, "not valid JSON" },
    { "enqueue_json_noerr", INVALID },
    { "shard_stats", INVALID, "shard 5 does not exist" },
    { "list_part", INVALID, "unknown part 9" },
    { "requeue_none", INVALID, "name at least one id" },
    { "cancel_empty", INVALID, "the job id is empty" },
    { "cancel_none", NOT_FOUND, "has no job no%-such%-job waiting or running" },
    { "run_now_none", NOT_FOUND, "has no job no%-such%-job waiting in pending or scheduled" },
    { "step_shard_noerr", INVALID },
    { "register_name", INVALID, "not a Lua identifier" },
    { "debugger_interval", INVALID, "interval must be > 0" },
    { "start_counts", INVALID, "workers and monitors must be" },
    { "init_config_json", INVALID, "not valid JSON" },
    { "start_job_file", JOB_FILE, "/nonexistent/job.lua" },
    { "reload_job_file", JOB_FILE, "/nonexistent/job.lua" },
    { "start", OK },
    { "start_again", STATE, "already started" },
    { "register_running", STATE, "before starting workers" },
    { "check_shards", SHARDS, "has 3 shard%(s%) in Redis" },
    { "enqueue_shards", SHARDS, "use %-%-shards 3" },
    { "enqueue_dead", REDIS, "127.0.0.1:1" },
    { "stats_dead", REDIS, "127.0.0.1:1" },
    { "check_shards_dead", REDIS, "127.0.0.1:1" },
    { "enqueue_replicas", REPLICAS, "replica" },
    { "create_unsized", INVALID, "hworker_config_init" },
    { "create_newer", INVALID, "older than the header" },
    { "old_create", OK },
    { "old_set_newer", INVALID, "sandbox is newer than the hworker_config" },
    { "old_set_known", OK },
  }
  for _, e in ipairs(expected) do
    local what, code, says = e[1], e[2], e[3]
    it("gives " .. code .. " for " .. what, function()
      local got, msg = case(what)
      assert.are.equal(code, got, what .. ": " .. tostring(msg))
      if says then assert.matches(says, msg) end
    end)
  end

  it("names each code in words, and an unknown one as unknown", function()
    local seen = {}
    for code = 0, -8, -1 do
      local words = lines.strerror[1 - code]:match("^" .. code .. " (.+)$")
      assert.is_truthy(words, "hworker_strerror(" .. code .. ")")
      assert.is_not.matches("unknown", words)
      assert.is_nil(seen[words], "two codes share the words " .. words)
      seen[words] = true
    end
    assert.matches("^%-9 unknown", lines.strerror[10])
  end)

  it("fills only the bytes of a config or stats struct the host's header has", function()
    local size, untouched = lines.old_init[1]:match("size=(%d+) untouched=(%d)")
    assert.is_true(tonumber(size) > 0)
    assert.are.equal("1", untouched, "hworker_config_init_size wrote past the host's struct")
    assert.matches("^7 size=" .. size .. "$", lines.old_lease[1])
    local code, pending, left = lines.stats_short[1]:match("^(%-?%d+) pending=(%d+) untouched=(%d)")
    assert.are.equal("0", code)
    assert.are.equal("0", pending)
    assert.are.equal("1", left, "hworker_get_stats_size wrote past the host's struct")
  end)
end)
