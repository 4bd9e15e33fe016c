-- cron_rm: removes a cron entry and its state.
-- KEYS[1] cron, KEYS[2] cron state (as in cron_add.lua)
-- ARGV[1] entry name
-- Returns 1 if it existed, else 0. Tells the monitors (they reload).
local bad = hw_check({ KEYS[1], 'hash', KEYS[2], 'hash' })
if bad then return bad end
local name = ARGV[1]
local removed = redis.call('HDEL', KEYS[1], name)
redis.call('HDEL', KEYS[2], 'last:' .. name, 'fired:' .. name, 'missed:' .. name, 'held:' .. name)
if removed == 1 then redis.call('PUBLISH', KEYS[1], 'changed') end
return removed
