-- cron_tick: handles the due ticks of one cron entry, once: the caller read
-- the entry's last handled tick (ARGV[2]) and moves it to ARGV[3]; if another
-- process did so first, or the entry changed meanwhile, nothing happens. So
-- each tick is enqueued at most once however many processes run, and a
-- tick is never lost: the move and its jobs are one step.
-- KEYS[1] cron, KEYS[2] cron state (as in cron_add.lua)
-- KEYS[3] pending (list), KEYS[4] stats (hash), KEYS[5] unique (hash)
-- KEYS[6] flow (hash: its "events" field turns events on)
-- KEYS[7] events (stream: "enqueued" per job added, scripts/lib/events.lua)
-- ARGV[1] entry name, ARGV[2] its last tick as read ("" if none),
-- ARGV[3] the new last tick (ms), ARGV[4] ticks counted as missed,
-- ARGV[5] the definition as read, ARGV[6] "1" for a unique entry,
-- ARGV[7] the job JSON, ARGV[8..] pairs: job id, tick time (ms) of a job
-- to enqueue now (its "da": meta.due_at is the tick's time)
-- Returns { 1, enqueued, held } when done, { 0 } when another process or a
-- change came first, { -1, now } when Redis's clock is before ARGV[3].
local bad = hw_check({ KEYS[1], 'hash', KEYS[2], 'hash', KEYS[3], 'list', KEYS[4], 'hash', KEYS[5], 'hash',
  KEYS[6], 'hash' }, KEYS[4], { 'enqueued' })
if bad then return bad end
local now = hw_now_ms()
local name = ARGV[1]
if now < tonumber(ARGV[3]) then return { -1, now } end
if redis.call('HGET', KEYS[1], name) ~= ARGV[5] then return { 0 } end
if (redis.call('HGET', KEYS[2], 'last:' .. name) or '') ~= ARGV[2] then return { 0 } end
local state = redis.call('HMGET', KEYS[2], 'fired:' .. name, 'missed:' .. name, 'held:' .. name)
for i, field in ipairs({ 'fired', 'missed', 'held' }) do
  if state[i] and not hw_integer(state[i]) then
    return hw_fix('ERR', KEYS[2], 'has a field ' .. field .. ':' .. name .. ' that is not an integer')
  end
end
redis.call('HSET', KEYS[2], 'last:' .. name, ARGV[3])
local unique = ARGV[6] == '1' and ('cron:' .. name) or nil
local envelopes, held = {}, 0
for i = 8, #ARGV, 2 do
  local id, tick = ARGV[i], ARGV[i + 1]
  if unique and redis.call('HGET', KEYS[5], unique) then
    held = held + 1
  else
    local header = '{"v":1,"id":"' .. id .. '","eq":' .. hw_int(now) .. ',"da":' .. tick
    if unique then
      redis.call('HSET', KEYS[5], unique, id)
      header = header .. ',"u":' .. cjson.encode(unique)
    end
    envelopes[#envelopes + 1] = header .. '}\n' .. ARGV[7]
  end
end
if #envelopes > 0 then hw_push('LPUSH', KEYS[3], envelopes) end
hw_count(KEYS[4], { enqueued = #envelopes })
local cap = #envelopes > 0 and hw_events_cap(KEYS[6])
if cap then
  for _, e in ipairs(envelopes) do hw_event(KEYS[7], cap, 'enqueued', e) end
end
if #envelopes > 0 then redis.call('HINCRBY', KEYS[2], 'fired:' .. name, #envelopes) end
if held > 0 then redis.call('HINCRBY', KEYS[2], 'held:' .. name, held) end
local missed = tonumber(ARGV[4]) or 0
if missed > 0 then redis.call('HINCRBY', KEYS[2], 'missed:' .. name, missed) end
return { 1, #envelopes, held }
