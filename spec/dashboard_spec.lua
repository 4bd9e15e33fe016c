-- The web dashboard of `hworker-lua serve` (docs/operations.md, "Dashboard"),
-- driven in Debian's chromium through playwright-core (spec/browser/drive.js):
-- the page shows what Redis holds, acts with the token and refuses without
-- it, and shows a hostile payload as text. Its HTTP guards (the token, the
-- origin, the Host, read-only) are checked with curl.
local H = require "spec.support.helper"
local cjson = require "cjson"

local bin = H.build .. "/hworker-lua"
local token = "spec-token-0123456789abcdef"

local function curl(args)
  return H.sh(H.plain .. "curl -s -m 5 " .. args)
end

-- Runs one scenario of drive.js; returns what it printed, decoded.
local function drive(scenario, base, name, id, with_token)
  local env = ("DASH_URL=%s DASH_QUEUE=%s DASH_ID=%s DASH_TOKEN=%s"):format(H.quote(base), H.quote(name),
    H.quote(id or ""), H.quote(with_token or ""))
  local dir = H.tmpdir()
  local out = H.sh(("cd %s && %s env %s node drive.js %s 2>%s"):format(H.quote(H.root .. "/spec/browser"), H.plain,
    env, scenario, H.quote(dir .. "/drive.err")))
  local ok, doc = pcall(cjson.decode, out)
  assert(ok and type(doc) == "table", "drive.js " .. scenario .. " printed " .. out .. "; stderr: "
    .. H.read(dir .. "/drive.err"))
  assert.are.same({}, doc.page_errors)
  return doc
end

-- Starts serve with `flags` and the token in its environment (nil: none);
-- returns its base URL once it answers. A port taken meanwhile by another
-- program makes serve exit: then it tries another.
local function serve(server, flags, with_token)
  local env = with_token and ("env HWORKER_DASHBOARD_TOKEN=" .. H.quote(with_token) .. " ") or ""
  for _ = 1, 5 do
    local port, dir = H.free_port(), H.tmpdir()
    local log = dir .. "/serve.log"
    local pid = H.background(("%s%s serve --listen 127.0.0.1:%d --redis %s %s"):format(env, H.quote(bin), port,
      H.quote(server.url), flags or ""), log)
    local base = "http://127.0.0.1:" .. port
    local up = false
    H.wait_until("serve to answer or exit", 20, function()
      up = curl(base .. "/api/overview"):find("queues", 1, true) ~= nil
      return up or not H.alive(pid)
    end)
    if up then return base, log end
    io.stderr:write("serve on port " .. port .. " exited: " .. H.read(log) .. "\n")
  end
  error("serve found no port to listen on")
end

-- POSTs an action; returns the HTTP status and the reply.
local function post(base, body, headers)
  local dir = H.tmpdir()
  local status = curl(("-o %s -w '%%{http_code}' -X POST %s --data-binary %s %s/api/action"):format(
    H.quote(dir .. "/reply"), headers or "", H.quote(cjson.encode(body)), base))
  return status, H.read(dir .. "/reply")
end

-- A queue with one failed job; returns the handle, its name and the job's id.
local function failed_job(server)
  local q, name = H.queue(server)
  local id = q:queue { n = 1 }
  local claims = q:step_claim(1, "host:1:w1")
  q:step_finish(claims[1], "failure", "no such user")
  assert.are.equal(1, q:stats().failed)
  return q, name, id
end

describe("dashboard #standalone", function()
  local server
  lazy_setup(function() server = H.redis_server() end)
  lazy_teardown(function() server.stop() end)
  after_each(H.cleanup)

  it("shows the sizes Redis holds on the overview", function()
    local q, name = failed_job(server)
    q:queue_many { { n = 2 }, { n = 3 } }
    q:queue({ n = 4 }, { delay = 3600 })
    local base = serve(server)
    local shown = drive("overview", base, name)
    local s = q:stats()
    assert.are.same({ pending = s.pending, scheduled = s.scheduled, inflight = s.inflight, failed = s.failed,
      broken = s.broken }, { pending = shown.pending, scheduled = shown.scheduled, inflight = shown.inflight,
      failed = shown.failed, broken = shown.broken })
    assert.are.same({ 2, 1, 1 }, { shown.pending, shown.scheduled, shown.failed })
  end)

  it("requeues a failed job from the page with the token, and refuses without it", function()
    local q, name, id = failed_job(server)
    local base = serve(server, nil, token)
    local refused = drive("requeue_without_token", base, name, id)
    assert.truthy(refused.status:find("token", 1, true), refused.status)
    assert.are.equal(1, q:stats().failed)
    assert.are.equal(0, q:stats().pending)

    local done = drive("requeue", base, name, id, token)
    assert.truthy(done.status:find("moved to the back of pending", 1, true), done.status)
    assert.are.equal(0, q:stats().failed)
    local pending = q:jobs()
    assert.are.equal(1, #pending)
    assert.are.equal(id, pending[1].id)
  end)

  it("shows a payload with <script> as text and runs none of it", function()
    local q, name = H.queue(server)
    local payload = '<script>window.hworkerPwned = true; alert(1)</script>'
      .. '<img src=x onerror="window.hworkerPwned = true">'
    local id = q:queue { html = payload }
    -- An entry whose enqueue time is out of a Date's range must not stop the list.
    q:command("LPUSH", "hw:{" .. name .. "}:pending", '{"v":1,"id":"far-future","eq":99999999999999999}\n{}')
    local base = serve(server)
    local seen = drive("payload", base, name, id)
    assert.is_false(seen.ran)
    assert.are.same({}, seen.dialogs)
    assert.are.equal(0, seen.scripts)
    assert.are.equal(payload, cjson.decode(seen.shown).html)
  end)

  it("acts only with the right token, a JSON body and this server's origin", function()
    local q, name, id = failed_job(server)
    local base, log = serve(server, nil, token)
    local json, right = "-H 'Content-Type: application/json'", "-H " .. H.quote("X-Hworker-Token: " .. token)
    local body = { queue = name, action = "requeue", part = "failed", id = id }
    local status, reply = post(base, body, json .. " -H 'X-Hworker-Token: wrong-token-0123456789'")
    assert.are.equal("403", status)
    assert.truthy(reply:find("wrong or missing token", 1, true), reply)
    status = post(base, body, json .. " " .. right .. " -H 'Origin: http://evil.example'")
    assert.are.equal("403", status)
    status = post(base, body, json .. " " .. right .. " -H 'Sec-Fetch-Site: cross-site'")
    assert.are.equal("403", status)
    status = post(base, body, "-H 'Content-Type: text/plain' " .. right)
    assert.are.equal("403", status)
    status = curl(("-o /dev/null -w '%%{http_code}' -H 'Host: rebound.example' %s/api/overview"):format(base))
    assert.are.equal("403", status)
    assert.are.equal(1, q:stats().failed)

    status, reply = post(base, body, json .. " " .. right .. " -H " .. H.quote("Origin: " .. base))
    assert.are.equal("200", status, reply)
    assert.are.equal(0, q:stats().failed)
    status, reply = post(base, body, json .. " " .. right)
    assert.are.equal("404", status)
    assert.truthy(reply:find("no failed record of job " .. id, 1, true), reply)
    assert.is_nil(H.read(log):find(token, 1, true))
  end)

  it("is read-only without a token, or with --read-only", function()
    local q, name, id = failed_job(server)
    local body = { queue = name, action = "requeue", part = "failed", id = id }
    local json = "-H 'Content-Type: application/json' -H " .. H.quote("X-Hworker-Token: " .. token)
    for _, how in ipairs { { flags = nil, token = nil }, { flags = "--read-only", token = token } } do
      local base = serve(server, how.flags, how.token)
      local overview = cjson.decode(curl(base .. "/api/overview"))
      assert.is_false(overview.actions)
      local status, reply = post(base, body, json)
      assert.are.equal("403", status)
      assert.truthy(reply:find("read-only", 1, true), reply)
    end
    assert.are.equal(1, q:stats().failed)
  end)

  it("serves its pages with a policy that runs no inline script, and lists, finds and acts on jobs", function()
    local q, name = H.queue(server)
    local ids = q:queue_many { { n = 1 }, { n = 2 }, { n = 3 } }
    local later = q:queue({ n = 4 }, { delay = 3600 })
    local base = serve(server, nil, token)
    local headers = curl("-D - -o /dev/null " .. base .. "/"):lower()
    assert.truthy(headers:find("content-security-policy: default-src 'none'; script-src 'self';", 1, true), headers)
    assert.truthy(headers:find("x-frame-options: deny", 1, true), headers)
    local page = curl(base .. "/")
    assert.is_nil(page:find("<script>", 1, true))
    assert.is_nil(page:find("https?://"))

    local list = cjson.decode(curl(("'%s/api/jobs?queue=%s&part=pending&limit=2'"):format(base, name)))
    assert.are.equal(3, list.total)
    assert.are.same({ ids[3], ids[2] }, { list.jobs[1].id, list.jobs[2].id })
    -- Another site's page may not make the server read for it; a bad name is the request's error.
    assert.are.equal("403", curl(("-o /dev/null -w '%%{http_code}' -H 'Sec-Fetch-Site: cross-site' "
      .. "'%s/api/jobs?queue=%s&part=pending'"):format(base, name)))
    local bad = cjson.decode(curl(("'%s/api/jobs?queue=a%%7Bb&part=pending'"):format(base)))
    assert.truthy(bad.error:find("{", 1, true), bad.error)

    -- A page cuts a big payload to its first 4 KiB; find gives it whole.
    local big = q:queue { blob = ("x"):rep(10000) }
    list = cjson.decode(curl(("'%s/api/jobs?queue=%s&part=pending&limit=1'"):format(base, name)))
    assert.are.equal(big, list.jobs[1].id)
    assert.is_true(list.jobs[1].truncated)
    assert.are.equal(4096, #list.jobs[1].job)
    local whole = cjson.decode(curl(("'%s/api/find?queue=%s&id=%s'"):format(base, name, big)))
    assert.are.equal(10000, #cjson.decode(whole.jobs[1].job).blob)
    assert.are.equal("200", (post(base, { queue = name, action = "delete", id = big },
      "-H 'Content-Type: application/json' -H " .. H.quote("X-Hworker-Token: " .. token))))
    local found = cjson.decode(curl(("'%s/api/find?queue=%s&id=%s'"):format(base, name, later)))
    assert.are.equal("scheduled", found.jobs[1].part)
    assert.are.same({ n = 4 }, cjson.decode(found.jobs[1].job))

    local json = "-H 'Content-Type: application/json' -H " .. H.quote("X-Hworker-Token: " .. token)
    assert.are.equal("200", (post(base, { queue = name, action = "run_now", id = later }, json)))
    assert.are.equal(0, q:stats().scheduled)
    assert.are.equal("200", (post(base, { queue = name, action = "delete", id = ids[1] }, json)))
    assert.are.equal("200", (post(base, { queue = name, action = "cancel", id = ids[2] }, json)))
    assert.are.equal(2, q:stats().pending)
    assert.are.equal("200", (post(base, { queue = name, action = "pause" }, json)))
    assert.is_true(q:limits().paused)
    assert.are.equal("200", (post(base, { queue = name, action = "resume" }, json)))
    assert.is_false(q:limits().paused)
    local status, reply = post(base, { queue = name, action = "explode", id = ids[3] }, json)
    assert.are.equal("400", status)
    assert.truthy(reply:find("one of pause, resume", 1, true), reply)
  end)
end)
