-- pause: pauses or resumes one shard of a queue. Paused, claims stop (jobs
-- in flight finish, producers still enqueue). The open list is non-empty
-- exactly while the queue is not paused: paused workers block on it
-- (BLMOVE onto itself), so a resume wakes every one of them at once.
-- KEYS[1] flow (hash), KEYS[2] open (list)
-- ARGV[1] "1" to pause, "0" to resume
-- Returns 1 if the state changed, 0 if it already was so.
local bad = hw_check({ KEYS[1], 'hash', KEYS[2], 'list' })
if bad then return bad end
local was = redis.call('HGET', KEYS[1], 'paused')
was = was ~= false and was ~= '0'
redis.call('DEL', KEYS[2])
if ARGV[1] == '1' then
  redis.call('HSET', KEYS[1], 'paused', '1')
  return was and 0 or 1
end
redis.call('HDEL', KEYS[1], 'paused')
redis.call('RPUSH', KEYS[2], '1')
return was and 1 or 0
