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

-- The envelope with `,"da":<due>` written at the end of its header: when the
-- job was due, for the handler's meta.due_at. String work only, no decode:
-- promotion is on the path of every scheduled job. A header that already
-- has "da" (a job scheduled again) then has two, and the last one counts,
-- as for cjson; one that does not end in '}' is left alone.
local function hw_stamp_due(envelope, due)
  local nl = string.find(envelope, '\n', 1, true)
  if nl == nil or nl < 3 or string.sub(envelope, nl - 1, nl - 1) ~= '}' or string.sub(envelope, nl - 2, nl - 2) == '{'
  then
    return envelope
  end
  return string.sub(envelope, 1, nl - 2) .. ',"da":' .. due .. string.sub(envelope, nl - 1)
end

-- Returns a copy of the envelope whose integer header field `field` is
-- increased by one (and, if given, header field `set_field` set to
-- `set_value`), and the new value. A header that does not parse is left
-- as it is (the worker that claims it next reports it as broken). Never
-- raises: it runs after a job left inflight, and an error there would leave
-- the job written nowhere. A value cjson reads but cannot write back (1e999
-- reads as infinity) is dropped from the copy.
local function hw_bump(envelope, field, set_field, set_value)
  local nl = string.find(envelope, '\n', 1, true)
  if nl == nil then return envelope, 0 end
  local ok, header = pcall(cjson.decode, string.sub(envelope, 1, nl - 1))
  if not ok or type(header) ~= 'table' then return envelope, 0 end
  local value = (tonumber(header[field]) or 0) + 1
  if value ~= value or value == math.huge or value == -math.huge then value = 1 end
  header[field] = value
  if set_field then header[set_field] = set_value end
  local encoded, text = pcall(cjson.encode, header)
  if not encoded then
    local kept = {}
    for k, v in pairs(header) do
      if pcall(cjson.encode, v) then kept[k] = v end
    end
    encoded, text = pcall(cjson.encode, kept)
    if not encoded then return envelope, 0 end
  end
  return text .. string.sub(envelope, nl), value
end

-- Whether the header of a claim or envelope (the text before the first
-- newline) contains `needle`, without making a new string.
local function hw_header_has(text, needle)
  local at = string.find(text, needle, 1, true)
  if at == nil then return false end
  local nl = string.find(text, '\n', 1, true)
  return nl ~= nil and at < nl
end

-- The token of a claim: everything before the first '|'.
local function hw_token_of(claim)
  return string.match(claim, '^([^|]*)|') or ''
end

-- A failed or broken record: a one-line JSON header, then the payload. The
-- record id is the token of the execution that made it, unique per record.
local function hw_record(reason, now, payload, token)
  return '{"t":' .. hw_int(now) .. ',"reason":' .. cjson.encode(reason) .. ',"rec":' .. cjson.encode(token) ..
    '}\n' .. payload
end

-- Adds per-name counters to the stats hash in one HINCRBY each.
local function hw_count(stats_key, counts)
  for name, n in pairs(counts) do
    if n ~= 0 then redis.call('HINCRBY', stats_key, name, n) end
  end
end

-- Pushes many values with as few variadic calls as Lua's stack allows.
-- Returns the sum of the replies: for ZADD, how many members were new.
local function hw_push(cmd, key, values)
  local step, sum = 1000, 0
  for i = 1, #values, step do
    sum = sum + redis.call(cmd, key, unpack(values, i, math.min(i + step - 1, #values)))
  end
  return sum
end

-- Pushes records onto a capped list (newest first) and trims it to `cap`.
local function hw_push_capped(key, records, cap)
  if #records == 0 then return end
  hw_push('LPUSH', key, records)
  redis.call('LTRIM', key, 0, tonumber(cap) - 1)
end

-- The due time (ms, Redis time) of the earliest job in scheduled set `key`,
-- or false when it is empty: jobs added due before it must wake the
-- monitors sleeping until then (hw_wake_monitors).
local function hw_first_due(key)
  local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  return first[2] ~= nil and tonumber(first[2])
end

-- Tells the monitors that a job of scheduled set `key` is due in `in_ms`:
-- they subscribe to the channel named as the key (docs/scheduling.md).
local function hw_wake_monitors(key, in_ms)
  redis.call('PUBLISH', key, hw_int(in_ms))
end

-- The records of a capped list (failed, broken) to act on: every one when
-- `all` is true, else those whose record id or job id is in `ids`. O(cap):
-- these lists are capped. Returns {index = 0-based position, record = text}.
local function hw_select_records(key, all, ids)
  local wanted = {}
  for _, id in ipairs(ids) do wanted[id] = true end
  local picked = {}
  for i, record in ipairs(redis.call('LRANGE', key, 0, -1)) do
    local take = all
    local nl = string.find(record, '\n', 1, true)
    if not take and nl then
      local ok, header = pcall(cjson.decode, string.sub(record, 1, nl - 1))
      take = ok and type(header) == 'table' and wanted[tostring(header.rec)] == true
      if not take then
        local envelope = string.sub(record, nl + 1)
        local nl2 = string.find(envelope, '\n', 1, true)
        if nl2 then
          local ok2, env_header = pcall(cjson.decode, string.sub(envelope, 1, nl2 - 1))
          take = ok2 and type(env_header) == 'table' and wanted[tostring(env_header.id)] == true
        end
      end
    end
    if take then picked[#picked + 1] = { index = i - 1, record = record } end
  end
  return picked
end

-- Removes selected records in O(list): each is overwritten with a marker by
-- position, then one LREM drops every marker.
local function hw_remove_records(key, picked)
  if #picked == 0 then return end
  local marker = '\0hworker:removed\0'
  for _, p in ipairs(picked) do redis.call('LSET', key, p.index, marker) end
  redis.call('LREM', key, 0, marker)
end

-- The unique key of an envelope ("u" in its header), or nil. The header is
-- decoded only when it mentions "u".
local function hw_unique_of(envelope)
  local nl = string.find(envelope, '\n', 1, true)
  if nl == nil then return nil end
  local header = string.sub(envelope, 1, nl - 1)
  if not string.find(header, '"u"', 1, true) then return nil end
  local ok, h = pcall(cjson.decode, header)
  if ok and type(h) == 'table' and type(h.u) == 'string' then return h.u, tostring(h.id) end
  return nil
end

-- Releases the unique key an envelope holds, if it still holds it: called
-- when the job leaves the queue (success, failed, broken).
local function hw_release_unique(unique_key, envelope)
  local u, id = hw_unique_of(envelope)
  if u and redis.call('HGET', unique_key, u) == id then redis.call('HDEL', unique_key, u) end
end

-- Drops records older than `max_age_ms` from the old end of a records list
-- (newest first), at most `limit` per call. Returns how many were dropped.
local function hw_trim_by_age(key, max_age_ms, now, limit)
  if max_age_ms <= 0 then return 0 end
  local dropped = 0
  while dropped < limit do
    local oldest = redis.call('LINDEX', key, -1)
    if not oldest then break end
    local t = tonumber(string.match(oldest, '^{"t":(%d+)'))
    if t == nil or t >= now - max_age_ms then break end
    redis.call('RPOP', key)
    dropped = dropped + 1
  end
  return dropped
end

-- Whether a stored counter is an integer INCR and HINCRBY accept (Redis's
-- canonical form), with room left to add to it.
local function hw_integer(text)
  if text == '0' then return true end
  local digits = string.match(text, '^%-?([1-9]%d*)$')
  return digits ~= nil and #digits <= 18
end

-- The error reply for a key that holds what hworker cannot use. It names
-- the key, never its content (which may be anything).
local function hw_fix(code, key, problem)
  return redis.error_reply(code .. ' hworker: key ' .. key .. ' ' .. problem .. '; fix or delete it')
end

-- Checks, before a script's first write, that every key it may write holds
-- what the script will write there. Redis keeps a script's writes up to a
-- failing command, so a WRONGTYPE half-way through would leave a job taken
-- from one key and written to none. `expected` is a flat list of key, type
-- ('list', 'zset', 'hash', or 'counter': absent, or a string holding an
-- integer, as INCR needs); each key's type is read once per call, O(1).
-- `fields` (optional) names the counters of the hash `fields_key` (which
-- must be in `expected`) that the script may HINCRBY: each must be absent
-- or an integer. Returns nil, or an error reply naming the key and what is
-- wrong, for the script to return before it writes anything.
local function hw_check(expected, fields_key, fields)
  for i = 1, #expected, 2 do
    local key, want = expected[i], expected[i + 1]
    local have = redis.call('TYPE', key).ok
    if want == 'counter' then
      if have == 'string' then
        if not hw_integer(redis.call('GET', key)) then
          return hw_fix('ERR', key, 'holds a string that is not an integer')
        end
      elseif have ~= 'none' then
        return hw_fix('WRONGTYPE', key, 'holds a ' .. have .. ', not a string holding an integer')
      end
    elseif have ~= 'none' and have ~= want then
      return hw_fix('WRONGTYPE', key, 'holds a ' .. have .. ', not a ' .. want)
    end
  end
  if fields and #fields > 0 then
    local values = redis.call('HMGET', fields_key, unpack(fields))
    for i, name in ipairs(fields) do
      if values[i] and not hw_integer(values[i]) then
        return hw_fix('ERR', fields_key, 'has a field ' .. name .. ' that is not an integer')
      end
    end
  end
  return nil
end
