-- cron_add: adds or changes a cron entry of the queue. A new entry ticks
-- from now on; a changed one keeps its last handled tick, so a deploy that
-- adds the same entries again neither repeats nor loses a tick.
-- KEYS[1] cron       (hash: entry name -> definition JSON)
-- KEYS[2] cron state (hash: "last:<name>" tick handled last, ms; "fired:",
--                     "missed:", "held:<name>" counters)
-- ARGV[1] entry name, ARGV[2] definition JSON (checked by the caller)
-- Returns 1 for a new entry, 0 for one changed or left as it was.
-- Tells the monitors on the channel named as KEYS[1] (they reload).
local bad = hw_check({ KEYS[1], 'hash', KEYS[2], 'hash' })
if bad then return bad end
local name = ARGV[1]
local old = redis.call('HGET', KEYS[1], name)
if old == ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], name, ARGV[2])
local fresh = 0
if not old or not redis.call('HGET', KEYS[2], 'last:' .. name) then
  redis.call('HSET', KEYS[2], 'last:' .. name, hw_int(hw_now_ms()))
  fresh = old and 0 or 1
end
redis.call('PUBLISH', KEYS[1], 'changed')
return fresh
