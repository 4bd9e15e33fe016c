-- Structured logs (docs/operations.md, "Logs"): `run --log-format json`
-- writes one JSON object a line, and the lines about a job carry its
-- worker, job_id and attempt; outcome lines their outcome and duration_ms,
-- a retry's its delay_ms; a handler's hworker.log(level, msg, fields) its
-- own fields, checked and bounded. Text lines carry the job id.
local H = require "spec.support.helper"
local cjson = require "cjson"

local bin = H.build .. "/hworker-lua"

local job_file = [[
function job(state, t, meta)
  if t.fields then hworker.log("info", "hello", t.fields) end
  if t.bad then
    local ok, err = pcall(hworker.log, "info", "never", t.bad)
    hworker.log("warn", "refused: " .. tostring(ok) .. " " .. tostring(err))
  end
  if t.retry and meta.attempt < 2 then return hworker.retry("not yet", { delay = 0 }) end
end
]]

-- Runs the job file on queue `name` until `done()` holds; returns the log.
local function run(server, name, flags, done)
  local dir = H.tmpdir()
  local file = H.file(dir, "job.lua", job_file)
  local log = dir .. "/run.log"
  local pid = H.background(("%s run %s --name %s --redis %s --threads 1 %s"):format(H.quote(bin), H.quote(file),
    H.quote(name), H.quote(server.url), flags), log)
  H.wait_until("the jobs to end", 20, done)
  H.kill(pid, 15)
  H.wait_until("run to exit", 20, function() return not H.alive(pid) end)
  return H.read(log)
end

local function json_lines(text)
  local out = {}
  for line in text:gmatch("[^\n]+") do out[#out + 1] = cjson.decode(line) end
  return out
end

local function find(lines, fn)
  for _, l in ipairs(lines) do
    if fn(l) then return l end
  end
end

describe("logs", function()
  local server
  lazy_setup(function() server = H.redis_server() end)
  lazy_teardown(function() server.stop() end)
  after_each(H.cleanup)

  it("carry the job's id, attempt, worker, outcome, duration and delay as JSON fields", function()
    local q, name = H.queue(server)
    local id = q:queue { retry = true, fields = { order = 42, customer = "acme", rush = true } }
    local text = run(server, name, "--log-format json --log-level debug", function()
      return q:stats().counters.succeeded == 1
    end)
    local lines = json_lines(text)
    local hello = find(lines, function(l) return l.msg == "job " .. id .. ": hello" and l.attempt == 1 end)
    assert.truthy(hello, text)
    assert.are.same({ "info", name, id, 42, "acme", true }, { hello.level, hello.queue, hello.job_id, hello.order,
      hello.customer, hello.rush })
    assert.truthy(hello.worker:find(":", 1, true), hello.worker)
    local retried = find(lines, function(l) return l.outcome == "retried" end)
    assert.truthy(retried, text)
    assert.are.same({ id, 1, 0, "info" }, { retried.job_id, retried.attempt, retried.delay_ms, retried.level })
    assert.truthy(retried.msg:find("(attempt 1, again in 0 ms): not yet", 1, true), retried.msg)
    assert.are.equal("number", type(retried.duration_ms))
    local succeeded = find(lines, function(l) return l.outcome == "succeeded" end)
    assert.truthy(succeeded, text)
    assert.are.same({ id, 2, "debug" }, { succeeded.job_id, succeeded.attempt, succeeded.level })
    assert.are.equal("number", type(succeeded.duration_ms))
    assert.is_nil(succeeded.delay_ms)
    -- Lines about no job carry no job fields.
    local running = find(lines, function(l) return l.msg:find("^running ") end)
    assert.truthy(running, text)
    assert.is_nil(running.job_id)
  end)

  it("show a handler's fields after a text line, which carries the job id", function()
    local q, name = H.queue(server)
    local id = q:queue { fields = { order = 7 } }
    local text = run(server, name, "", function() return q:stats().counters.succeeded == 1 end)
    assert.truthy(text:find(" info [" .. name .. "] job " .. id .. ": hello order=7\n", 1, true), text)
  end)

  it("refuse a handler's fields that would forge or swamp a line", function()
    local q, name = H.queue(server)
    local many = {}
    for i = 1, 17 do many["f" .. i] = i end
    local cases = {
      { { job_id = "forged" }, "the field job_id is the engine's own" },
      { { ["bad key"] = 1 }, "a field's key is 1 to 64 letters, digits or '_'" },
      { { nested = { 1 } }, "the field nested is a table" },
      { many, "at most 16 fields on a line" },
    }
    for _, c in ipairs(cases) do q:queue { bad = c[1] } end
    local text = run(server, name, "--log-format json", function()
      return q:stats().counters.succeeded == #cases
    end)
    local refused = {}
    for _, l in ipairs(json_lines(text)) do
      if l.msg:find(": refused: ", 1, true) then refused[#refused + 1] = l.msg end
      assert.is_nil(l.msg:find("never", 1, true))
      assert.are_not.equal("forged", l.job_id)
    end
    assert.are.equal(#cases, #refused, text)
    for _, c in ipairs(cases) do
      assert.truthy(find(refused, function(m) return m:find(c[2], 1, true) ~= nil end), c[2] .. "\n" .. text)
    end
    -- A value's control characters are escaped, a long one cut with a mark,
    -- and one with a space or '=' quoted, so it cannot pass for a field.
    q:queue { fields = { note = "a\nb" .. ("x"):rep(5000) } }
    q:queue { fields = { said = 'ok job_id=999 "x"' } }
    text = run(server, name, "", function() return q:stats().counters.succeeded == #cases + 2 end)
    local line = text:match("[^\n]* note=[^\n]*")
    assert.truthy(line and line:find(' note="a\\\\nbxxx', 1, true), text)
    assert.truthy(line:find('x... [truncated, 5003 bytes in all]"', 1, true), line)
    assert.truthy(#line < 1200, #line)
    assert.truthy(text:find(' said="ok job_id=999 \\"x\\""\n', 1, true), text)
  end)
end)
