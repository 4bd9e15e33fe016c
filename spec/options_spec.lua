-- One setting, one name: the option table of core/options.c drives the
-- command line's flags, the Lua module's options, the C defaults and
-- docs/configuration.md. Each setting is walked through every way in:
-- the same name, default and unit, a value given is the value kept, and a
-- value out of range is refused with a message that names the setting as
-- it was written. No Redis is needed: opening a handle does not connect.
local H = require "spec.support.helper"

local bin = H.build .. "/hworker-lua"
local function cli(args) return H.run(bin, args) end

-- A value inside the range other than the default, and one outside it.
local function good_value(o)
  if o.choices then return o.choices[o.default == o.choices[#o.choices] and 1 or #o.choices] end
  local v = o.default + 1
  assert(v <= o.max, o.name .. ": default + 1 is out of range")
  return v
end

local function bad_values(o)
  if o.choices then return { "no-such-" .. o.name } end
  local below = o.above_min and o.min or o.min - (o.whole and 1 or 0.001)
  local t = { below, o.max * 10 }
  if o.whole then t[#t + 1] = o.min + 1.5 end
  return t
end

local function settings_of(args)
  local out, err, code = cli("run job.lua --name q " .. args .. " --print-settings")
  assert.are.equal(0, code, err)
  return H.cjson.decode(out)
end

describe("the option table", function()
  local options = H.hworker.options()
  local by_name = {}
  for _, o in ipairs(options) do by_name[o.name] = o end

  it("is the same table in the Lua module and on the command line", function()
    local out, err, code = cli("options --json")
    assert.are.equal(0, code, err)
    local n = 0
    for line in out:gmatch("[^\n]+") do
      n = n + 1
      local c = H.cjson.decode(line)
      local o = by_name[c.name]
      assert.truthy(o, c.name .. " is missing from hworker.options()")
      assert.are.equal(o.flag, c.flag)
      assert.are.equal(o.field, c.field)
      assert.are.equal(o.unit, c.unit)
      assert.are.equal(o.default, c.default)
      if not o.choices then
        assert.are.equal(o.min, c.min)
        assert.are.equal(o.max, c.max)
      end
    end
    assert.are.equal(#options, n)
    assert.truthy(n >= 20)
  end)

  it("gives C, Lua and the command line the same defaults", function()
    local q = H.hworker.open { name = "defaults", log_level = "error" }
    local lua = q:settings()
    q:close()
    local cmdline = settings_of("")
    for _, o in ipairs(options) do
      local expected = o.name == "log_level" and "error" or o.default
      assert.are.equal(expected, lua[o.name], "hworker.open's " .. o.name)
      assert.are.equal(o.default, cmdline[o.name], "run's " .. o.flag)
    end
  end)

  it("keeps a value given by its name, its alias or its flag", function()
    for _, o in ipairs(options) do
      local v = good_value(o)
      local q = H.hworker.open { name = "given", [o.name] = v }
      assert.are.equal(v, q:settings()[o.name], "hworker.open's " .. o.name)
      q:close()
      if o.alias then
        q = H.hworker.open { name = "given", [o.alias] = v }
        assert.are.equal(v, q:settings()[o.name], "hworker.open's " .. o.alias)
        q:close()
      end
      assert.are.equal(v, settings_of(o.flag .. " " .. H.quote(tostring(v)))[o.name], "run's " .. o.flag)
    end
  end)

  it("refuses a value out of range with a message that names the setting", function()
    for _, o in ipairs(options) do
      for _, v in ipairs(bad_values(o)) do
        local ok, err = pcall(H.hworker.open, { name = "refused", [o.name] = v })
        assert.is_false(ok, o.name .. " = " .. tostring(v) .. " was taken")
        assert.truthy(err:find("hworker.open: " .. o.name .. " must be", 1, true), err)
        local given = o.flag .. " " .. H.quote(tostring(v))
        local out, cerr, code = cli("run job.lua --name q " .. given .. " --print-settings")
        assert.are.equal(2, code, o.flag .. " " .. tostring(v) .. " was taken: " .. out)
        assert.truthy(cerr:find("hworker-lua run: " .. o.flag .. " must be", 1, true), cerr)
      end
    end
  end)

  it("refuses values that are not finite on the command line", function()
    for _, o in ipairs(options) do
      if not o.choices then
        local _, err, code = cli("run job.lua --name q " .. o.flag .. " inf --print-settings")
        assert.are.equal(2, code, o.flag .. " inf was taken")
        assert.truthy(err:find(o.flag .. " must be a finite number", 1, true), err)
      end
    end
  end)

  it("comes from --config-file and HWORKER_ variables too, the command line first", function()
    local dir = H.tmpdir()
    local file = H.file(dir, "run.conf", "# the file\nlease = 30\nmax_attempts = 7\n  log-level = \"warn\"\n\n")
    local function settings(env, args)
      local out, err, code = H.run(bin, "run job.lua --name q --config-file " .. H.quote(file) .. " "
        .. (args or "") .. " --print-settings", nil, "env " .. env .. " ")
      assert.are.equal(0, code, err)
      return H.cjson.decode(out)
    end
    local s = settings("")
    assert.are.same({ 30, 7, "warn" }, { s.lease, s.max_attempts, s.log_level })
    s = settings("HWORKER_LEASE=40 HWORKER_MAX_ATTEMPTS=")
    assert.are.same({ 40, 7 }, { s.lease, s.max_attempts })
    s = settings("HWORKER_LEASE=40", "--lease 50")
    assert.are.equal(50, s.lease)
    -- A bad value is named by where it came from.
    local _, err, code = H.run(bin, "run job.lua --name q --print-settings", nil, "env HWORKER_LEASE=abc ")
    assert.are.equal(2, code)
    assert.are.equal('hworker-lua run: HWORKER_LEASE must be a number of seconds (got "abc")\n', err)
    H.file(dir, "bad.conf", "lease = 30\nleese = 3\n")
    _, err, code = cli("run job.lua --name q --print-settings --config-file " .. H.quote(dir .. "/bad.conf"))
    assert.are.equal(2, code)
    assert.truthy(err:find("bad.conf line 2: unknown flag --leese (did you mean --lease?)", 1, true), err)
  end)

  it("takes --workers on the command line as the Lua module's name for --threads", function()
    local _, err, code = cli("run job.lua --name q --workers 3 --print-settings")
    assert.are.equal(0, code, err)
    _, err, code = cli("run job.lua --name q --workerz 3 --print-settings")
    assert.are.equal(2, code)
    assert.matches("workers", err)
  end)

  it("is the table in docs/configuration.md", function()
    local docs = H.read(H.root .. "/docs/configuration.md")
    local block = docs:match("<!%-%- options:[^\n]*%-%->\n(.-)<!%-%- /options %-%->")
    assert.truthy(block, "docs/configuration.md has no options block")
    local out = cli("options")
    assert.are.equal(out, block, "docs/configuration.md differs from hworker-lua options")
  end)
end)
