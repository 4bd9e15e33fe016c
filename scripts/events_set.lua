-- events_set: turns one shard's events on (with a cap) or off
-- (scripts/lib/events.lua). Off, the stream keeps what it has until the
-- queue is destroyed or the events age out of the cap.
-- KEYS[1] flow (hash)
-- ARGV[1] the cap: about how many events the stream keeps (1 to 10^9), or
--         0 for off
-- Returns 1.
local bad = hw_check({ KEYS[1], 'hash' })
if bad then return bad end
local cap = tonumber(ARGV[1]) or 0
if cap >= 1 then redis.call('HSET', KEYS[1], 'events', hw_int(math.floor(cap)))
else redis.call('HDEL', KEYS[1], 'events') end
return 1
