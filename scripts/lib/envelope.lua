-- Helpers shared by every hworker script (prepended to each at build time).
-- Formats (docs/wire-format.md):
--   envelope (pending, scheduled): <header JSON> "\n" <job JSON>
--   claim    (inflight member):    <token> "|" <holder> "|" <envelope>
--   record   (failed, broken):     <record JSON> "\n" <envelope or raw payload>

-- Redis server time in milliseconds: all time in hworker is Redis time.
local function hw_now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Integers are formatted by hand: Lua 5.1's default number format would
-- print large millisecond values in exponent form.
local function hw_int(n)
  return string.format('%.0f', n)
end

-- The envelope inside a claim: everything after the second '|'.
local function hw_envelope_of(claim)
  local pos = string.match(claim, '^[^|]*|[^|]*|()')
  if pos == nil then return claim end
  return string.sub(claim, pos)
end

-- Returns a copy of the envelope whose integer header field `field` is
-- increased by one, and the new value. A header that does not parse is left
-- as it is (the worker that claims it next reports it as broken).
local function hw_bump(envelope, field)
  local nl = string.find(envelope, '\n', 1, true)
  if nl == nil then return envelope, 0 end
  local ok, header = pcall(cjson.decode, string.sub(envelope, 1, nl - 1))
  if not ok or type(header) ~= 'table' then return envelope, 0 end
  local value = (tonumber(header[field]) or 0) + 1
  header[field] = value
  return cjson.encode(header) .. string.sub(envelope, nl), value
end

-- A failed or broken record: a one-line JSON header, then the payload.
local function hw_record(reason, now, payload)
  return '{"t":' .. hw_int(now) .. ',"reason":' .. cjson.encode(reason) .. '}\n' .. payload
end

-- Adds per-name counters to the stats hash in one HINCRBY each.
local function hw_count(stats_key, counts)
  for name, n in pairs(counts) do
    if n ~= 0 then redis.call('HINCRBY', stats_key, name, n) end
  end
end

-- Pushes many values with as few variadic calls as Lua's stack allows.
local function hw_push(cmd, key, values)
  local step = 1000
  for i = 1, #values, step do
    redis.call(cmd, key, unpack(values, i, math.min(i + step - 1, #values)))
  end
end

-- Pushes records onto a capped list (newest first) and trims it to `cap`.
local function hw_push_capped(key, records, cap)
  if #records == 0 then return end
  hw_push('LPUSH', key, records)
  redis.call('LTRIM', key, 0, tonumber(cap) - 1)
end
