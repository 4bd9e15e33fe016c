-- The chaos test's checks must be able to fail. Each fault switch
-- (HWORKER_CHAOS_FAULT, see spec/chaos/chaos.lua) breaks a short run on
-- purpose, and the run must exit 1 naming that problem; the same run with no
-- switch must pass. Every run kills a runner (--faults kill) at a low rate
-- for a few seconds, so the whole file takes about half a minute.
-- Tagged #chaos_check, so a pass can leave it out (--exclude-tags=chaos_check).
local H = require "spec.support.helper"

local ARGS = "--seconds 4 --rate 50 --producers 2 --runners 2 --threads 2 --faults kill --seed 7"

-- Runs the chaos test; returns its stdout, stderr and exit code. A failed
-- run leaves its redis-server running and its logs for a post-mortem: they
-- are removed here.
local function chaos(fault)
  local env = "env -u HWORKER_CHAOS_FAULT HWORKER_ROOT=" .. H.quote(H.root) .. " HWORKER_BUILD=" .. H.quote(H.build) ..
    (fault and (" HWORKER_CHAOS_FAULT=" .. fault) or "")
  local out, err, code = H.run("luajit", H.quote(H.root .. "/spec/chaos/chaos.lua") .. " " .. ARGS, nil, env)
  local logs, sock = err:match("logs kept in (%S+); redis%-server left running at unix://(%S+)")
  if sock then
    H.sh(H.plain .. "redis-cli -s " .. H.quote(sock) .. " SHUTDOWN NOSAVE")
    H.sh("rm -rf " .. H.quote(logs) .. " " .. H.quote((sock:gsub("/redis%.sock$", ""))))
  end
  return out, err, code
end

describe("chaos check #chaos_check", function()
  it("passes a healthy run: every acknowledged job completed, a runner killed on the way", function()
    local out, err, code = chaos(nil)
    assert.are.equal(0, code, err)
    assert.truthy(out:match("kills=[1-9]"), out)
    assert.truthy(out:match(" lost=0 "), out)
    assert.truthy(out:match(" problems=0$") or out:match(" problems=0\n"), out)
  end)

  it("fails when every producer's enqueue raises", function()
    local _, err, code = chaos("producers_raise")
    assert.are.equal(1, code, err)
    assert.truthy(err:match("FAILED: producer 1: every queue_many raised"), err)
    assert.truthy(err:match("FAILED: producer 2: every queue_many raised"), err)
  end)

  it("fails when jobs start but never reach their end", function()
    local out, err, code = chaos("never_finish")
    assert.are.equal(1, code, err)
    local lost, started = err:match("FAILED: (%d+) acknowledged jobs never completed %((%d+) of them started%)")
    assert.truthy(lost, err)
    assert.are.equal(lost, started)
    assert.truthy(out:match(" lost=" .. lost .. " "), out)
  end)

  it("fails when a child process's log holds a sanitizer report", function()
    local _, err, code = chaos("sanitizer_report")
    assert.are.equal(1, code, err)
    assert.truthy(err:match("FAILED: a sanitizer report in %S+/runner%d+%.log: [^\n]*runtime error:"), err)
  end)
end)
