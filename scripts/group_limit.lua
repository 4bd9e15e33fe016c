-- group_limit: sets the limits of one group, or of every group without its
-- own (scripts/lib/groups.lua).
-- KEYS[1] groups (hash), KEYS[2] pending (list), KEYS[3] group_due (zset)
-- ARGV[1] the group, or "*" for every group
-- ARGV[2] cap, ARGV[3] ms between starts, ARGV[4] burst, ARGV[5] rate,
--         ARGV[6] its period in ms: "" for none (a group's own then falls
--         back to every group's)
-- A named group held back under its old limits is given its turn back at
-- once (its next claim applies the new ones); with "*", a group parked at
-- its cap gets it when its next job ends, and one waiting for its rate
-- when that wait ends (finding them all would scan every group).
-- Returns 1.
local bad = hw_check({ KEYS[1], 'hash', KEYS[2], 'list', KEYS[3], 'zset' })
if bad then return bad end
local group = ARGV[1]
local old_interval = redis.call('HGET', KEYS[1], 'i:' .. group) or ''
for i, prefix in ipairs({ 'c:', 'i:', 'b:', 'n:', 'p:' }) do
  if ARGV[i + 1] == '' then
    redis.call('HDEL', KEYS[1], prefix .. group)
  else
    redis.call('HSET', KEYS[1], prefix .. group, ARGV[i + 1])
  end
end
if group ~= '*' then
  if old_interval ~= ARGV[3] then redis.call('HDEL', KEYS[1], 't:' .. group) end
  if redis.call('HGET', KEYS[1], 's:' .. group) == 'w' then
    redis.call('ZREM', KEYS[3], group)
    redis.call('HSET', KEYS[1], 's:' .. group, 'p')
  end
  hw_group_release(KEYS[2], KEYS[1], { [group] = 0 })
end
return 1
