-- Metrics (docs/operations.md, "Metrics"): `hworker-lua metrics` prints
-- every registered queue in the Prometheus text format, which promtool
-- accepts, and `serve` serves the same at /metrics, which a real
-- prometheus server scrapes and answers queries on.
local H = require "spec.support.helper"

local bin = H.build .. "/hworker-lua"

-- The value of the sample `line` (its name and labels, exactly) in `text`.
local function sample(text, line)
  for l in text:gmatch("[^\n]+") do
    local value = l:sub(#line + 2)
    if l:sub(1, #line + 1) == line .. " " then return tonumber(value) end
  end
end

local function curl(args)
  return H.sh(H.plain .. "curl -s -m 5 " .. args)
end

describe("metrics", function()
  local server
  lazy_setup(function() server = H.redis_server() end)
  lazy_teardown(function() server.stop() end)
  after_each(H.cleanup)

  -- A queue with 3 jobs pending, 2 run (one failed), and a sharded queue
  -- with 4 pending; names that need escaping in a label.
  local function queues()
    local q, name = H.queue(server, { name = 'm"e\\trics' .. math.random(1, 1e9), shards = 1 })
    local job = H.file(H.tmpdir(), "job.lua", "function job(s, t) if t.fail then error('no') end end\n")
    q:queue_many({ { n = 1 }, { fail = true } })
    q:start { job_file = job, workers = 1, monitors = 0 }
    H.wait_until("both outcomes", 20, function() return q:stats().counters.processed == 2 end)
    q:stop { grace = 5 }
    q:queue_many({ { n = 2 }, { n = 3 }, { n = 4 } })
    local s, sharded = H.queue(server, { shards = 2 })
    s:queue_many({ { n = 1 }, { n = 2 }, { n = 3 }, { n = 4 } })
    -- A name that is not UTF-8 (Latin-1): a parser refuses such a label.
    local latin, latin_name = H.queue(server, { name = "caf\233-" .. math.random(1, 1e9) })
    latin:queue({ n = 1 })
    return name, sharded, latin_name
  end

  local function label(name) return (name:gsub('[\\"]', "\\%0")) end

  it("prints every registered queue in the Prometheus text format, which promtool accepts", function()
    local name, sharded, latin = queues()
    local text, err, code = H.run(bin, "metrics --redis " .. H.quote(server.url))
    assert.are.equal(0, code, err)
    local q = 'queue="' .. label(name) .. '"'
    assert.are.equal(3, sample(text, "hworker_queue_jobs{" .. q .. ',state="pending"}'), text)
    assert.are.equal(1, sample(text, "hworker_queue_jobs{" .. q .. ',state="failed"}'))
    assert.are.equal(5, sample(text, "hworker_jobs_enqueued_total{" .. q .. "}"))
    assert.are.equal(1, sample(text, "hworker_jobs_succeeded_total{" .. q .. "}"))
    assert.are.equal(2, sample(text, "hworker_job_run_seconds_count{" .. q .. "}"))
    assert.are.equal(2, sample(text, "hworker_job_run_seconds_bucket{" .. q .. ',le="+Inf"}'))
    assert.is_true(sample(text, "hworker_queue_latency_seconds{" .. q .. "}") > 0)
    assert.are.equal(0, sample(text, "hworker_queue_paused{" .. q .. "}"))
    -- A sharded queue: one sample per shard, summing to its 4 jobs.
    local per = 0
    for k = 0, 1 do
      per = per + sample(text, ('hworker_queue_jobs{queue="%s",shard="%d",state="pending"}'):format(sharded, k))
    end
    assert.are.equal(4, per)
    assert.are.equal(0, sample(text, "hworker_scrape_errors"))
    local shown = "caf\\\\xE9" .. latin:sub(5)
    assert.are.equal(1, sample(text, 'hworker_queue_jobs{queue="' .. shown .. '",state="pending"}'), text)
    local dir = H.tmpdir()
    H.file(dir, "m.prom", text)
    local out = H.sh(H.plain .. "promtool check metrics < " .. H.quote(dir .. "/m.prom") .. " 2>&1; echo exit=$?")
    assert.are.equal("exit=0\n", out)
  end)

  it("is served at /metrics, scraped by a real prometheus that answers a query for a queue's pending count", function()
    local name = queues()
    local port, dir = H.free_port(), H.tmpdir()
    H.background(("%s serve --listen 127.0.0.1:%d --redis %s"):format(H.quote(bin), port, H.quote(server.url)),
      dir .. "/serve.log")
    local base = "http://127.0.0.1:" .. port
    local text
    H.wait_until("serve to answer", 20, function()
      text = curl(base .. "/metrics")
      return text:find("hworker_queue_jobs", 1, true) ~= nil
    end)
    assert.are.equal(3, sample(text, 'hworker_queue_jobs{queue="' .. label(name) .. '",state="pending"}'))
    assert.are.equal("404", curl("-o /dev/null -w '%{http_code}' " .. base .. "/elsewhere"))
    assert.are.equal("405", curl("-o /dev/null -w '%{http_code}' -X POST " .. base .. "/metrics"))
    local headers = curl("-D - -o /dev/null " .. base .. "/metrics"):lower()
    assert.truthy(headers:find("content-type: text/plain; version=0.0.4", 1, true), headers)

    local prom_port = H.free_port()
    H.file(dir, "prometheus.yml", ("global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: hworker\n"
      .. "    static_configs:\n      - targets: ['127.0.0.1:%d']\n"):format(port))
    H.background((H.plain .. "prometheus --config.file=%s --storage.tsdb.path=%s --web.listen-address=127.0.0.1:%d")
      :format(H.quote(dir .. "/prometheus.yml"), H.quote(dir .. "/data"), prom_port), dir .. "/prometheus.log")
    local query = ('hworker_queue_jobs{queue="%s",state="pending"}'):format(label(name))
    local answer
    H.wait_until("prometheus to scrape and answer", 60, function()
      local got = curl(("http://127.0.0.1:%d/api/v1/query --data-urlencode %s"):format(prom_port,
        H.quote("query=" .. query)))
      local ok, doc = pcall(H.cjson.decode, got)
      answer = ok and type(doc) == "table" and type(doc.data) == "table" and doc.data.result[1] or nil
      return answer ~= nil
    end)
    assert.are.equal("3", answer.value[2])
    assert.are.equal(name, answer.metric.queue)
  end)

  it("documents alert rules that promtool accepts", function()
    local docs = H.read(H.root .. "/docs/operations.md")
    local rules = docs:match("\n(# rules%.yml\n.-)```")
    assert.truthy(rules, "docs/operations.md has no rules.yml block")
    local dir = H.tmpdir()
    H.file(dir, "rules.yml", rules)
    local out = H.sh(H.plain .. "promtool check rules " .. H.quote(dir .. "/rules.yml") .. " 2>&1; echo exit=$?")
    assert.truthy(out:find("SUCCESS: 4 rules found", 1, true) and out:match("exit=0\n$"), out)
  end)

  it("names what to fix in a bad --listen", function()
    local _, err, code = H.run(bin, "serve --listen nowhere --redis " .. H.quote(server.url))
    assert.are.equal(2, code)
    assert.truthy(err:find("--listen takes HOST:PORT", 1, true), err)
  end)
end)
