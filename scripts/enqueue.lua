-- enqueue: adds jobs to the queue in one atomic step. A job with a unique
-- key that another job of this queue holds is not added: its id is returned
-- instead. The key is held until that job leaves the queue.
-- KEYS[1] pending   (list)
-- KEYS[2] scheduled (zset, score = due time in ms)
-- KEYS[3] stats     (hash)
-- KEYS[4] unique    (hash: unique key -> job id)
-- KEYS[5] urgent    (zset: jobs with a priority, scripts/lib/priority.lua)
-- KEYS[6] seq       (string counter: their order within a level)
-- KEYS[7] groups    (hash: the groups' state, scripts/lib/groups.lua)
-- KEYS[8] flow      (hash: its "events" field turns events on)
-- KEYS[9] events    (stream: "enqueued" per job added, scripts/lib/events.lua)
-- ARGV[1] when: "0" now; "<ms>" that many ms from now; "@<ms>" at that time
--         (ms since the epoch, Redis time; a past time means now)
-- ARGV[2] priority, 0 (none) to 9 (first)
-- ARGV[3] group key ("" for none): 1 to 128 printable ASCII bytes but '"'
--         and '\', so it goes into the header as it is
-- ARGV[4..] triples: job id, unique key ("" for none), job JSON
-- Returns the id of each job (its own, or the id of the job holding its
-- key), or an empty array when every job got its own id, the common case:
-- a thousand ids back to the client was a visible part of a batch's cost.
-- A batch that becomes the earliest of scheduled is announced on the
-- channel named as that key, so a sleeping monitor wakes for it in time.
-- Every key is checked first, so a batch is added whole or not at all (a
-- unique key taken for a job that never lands would be held for ever).
local group = ARGV[3]
if #group > 128 or string.find(group, '[^ -~]') or string.find(group, '["\\]') then
  return redis.error_reply('ERR hworker: a group key is 1 to 128 printable ASCII characters but " and \\')
end
local expected = { KEYS[1], 'list', KEYS[2], 'zset', KEYS[3], 'hash', KEYS[4], 'hash', KEYS[5], 'zset',
  KEYS[6], 'counter', KEYS[7], 'hash', KEYS[8], 'hash' }
if group ~= '' then
  expected[#expected + 1] = hw_group_key(KEYS[7], group)
  expected[#expected + 1] = 'list'
end
local bad = hw_check(expected, KEYS[3], { 'enqueued', 'scheduled', 'merged' })
if bad then return bad end
local now = hw_now_ms()
local due
if string.sub(ARGV[1], 1, 1) == '@' then
  due = math.max(now, tonumber(string.sub(ARGV[1], 2)))
else
  due = now + (tonumber(ARGV[1]) or 0)
end
local ids, envelopes, held = {}, {}, false
-- Formatted once per call: number formatting is the costly part of a
-- header in Redis's Lua. "at" and "rc" are left out while 0 (their default):
-- the header is most of what a pending job costs beyond its payload.
local tail = '","eq":' .. hw_int(now)
local priority = tonumber(ARGV[2]) or 0
if priority >= 1 and priority <= 9 then
  tail = tail .. ',"p":' .. hw_int(priority)
else
  priority = 0
end
if group ~= '' then tail = tail .. ',"g":"' .. group .. '"' end
for i = 4, #ARGV, 3 do
  local id, unique = ARGV[i], ARGV[i + 1]
  local holder = unique ~= '' and redis.call('HGET', KEYS[4], unique) or false
  if holder then
    ids[#ids + 1] = holder
    held = true
  elseif unique == '' then
    -- One concatenation, so one new Lua string per job: each is interned.
    envelopes[#envelopes + 1] = '{"v":1,"id":"' .. id .. tail .. '}\n' .. ARGV[i + 2]
    ids[#ids + 1] = id
  else
    redis.call('HSET', KEYS[4], unique, id)
    envelopes[#envelopes + 1] = '{"v":1,"id":"' .. id .. tail .. ',"u":' .. cjson.encode(unique) .. '}\n' .. ARGV[i + 2]
    ids[#ids + 1] = id
  end
end
if due > now then
  local score = hw_int(due)
  local args = {}
  for i, e in ipairs(envelopes) do args[2 * i - 1] = score; args[2 * i] = e end
  -- A job sent again after a lost reply within the same millisecond is
  -- already there byte for byte; then it stays one entry and is counted as
  -- merged. (A later resend differs in "eq", and both copies run.)
  local first = #args > 0 and hw_first_due(KEYS[2])
  local added = #args > 0 and hw_push('ZADD', KEYS[2], args) or 0
  if #args > 0 and (not first or due < first) then hw_wake_monitors(KEYS[2], due - now) end
  hw_count(KEYS[3], { enqueued = #envelopes, scheduled = added, merged = #envelopes - added })
else
  -- The batch shares one group or priority: no envelope is looked into.
  local merged = 0
  if #envelopes == 0 then
    merged = 0
  elseif group ~= '' then
    hw_group_push(KEYS[1], KEYS[7], group, envelopes, 'LPUSH')
  elseif priority > 0 then
    local scored = {}
    for i, e in ipairs(envelopes) do
      scored[2 * i - 1] = hw_urgent_score(priority, redis.call('INCR', KEYS[6]))
      scored[2 * i] = e
    end
    merged = hw_push_urgent(KEYS[1], KEYS[5], scored)
  else
    hw_push('LPUSH', KEYS[1], envelopes)
  end
  hw_count(KEYS[3], { enqueued = #envelopes, merged = merged })
end
local cap = #envelopes > 0 and hw_events_cap(KEYS[8])
if cap then
  local fields = due > now and { 'due', hw_int(due) } or nil
  for _, e in ipairs(envelopes) do hw_event(KEYS[9], cap, 'enqueued', e, fields) end
end
if not held then return {} end
return ids
