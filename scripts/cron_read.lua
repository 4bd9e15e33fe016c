-- cron_read: the queue's cron entries and their state, with Redis's clock,
-- for the monitors and listings. O(entries): there are few.
-- KEYS[1] cron, KEYS[2] cron state (as in cron_add.lua)
-- Returns { now (ms), {name, definition, ...}, {field, value, ...} }
local bad = hw_check({ KEYS[1], 'hash', KEYS[2], 'hash' })
if bad then return bad end
return { hw_now_ms(), redis.call('HGETALL', KEYS[1]), redis.call('HGETALL', KEYS[2]) }
