-- beat: a process with workers says it is alive (docs/operations.md,
-- "Processes"), or that it leaves; processes whose registration ran out
-- are forgotten on the way, a few per call, so the call stays O(1).
-- KEYS[1] procs (hash: process id -> its JSON, shard 0's)
-- KEYS[2] beats (zset: process id -> when its registration ends, ms)
-- ARGV[1] the process id
-- ARGV[2] its JSON object, to which "beat" (Redis ms) is added
-- ARGV[3] ms its registration lasts without another beat; "0": it leaves
-- Returns how many processes are registered.
local bad = hw_check({ KEYS[1], 'hash', KEYS[2], 'zset' })
if bad then return bad end
local now = hw_now_ms()
local gone = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', hw_int(now), 'LIMIT', 0, 16)
if #gone > 0 then
  hw_push('ZREM', KEYS[2], gone)
  hw_push('HDEL', KEYS[1], gone)
end
local ttl = tonumber(ARGV[3])
if ttl == nil or ttl <= 0 then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
else
  local info = ARGV[2]
  redis.call('HSET', KEYS[1], ARGV[1], string.sub(info, 1, -2) .. ',"beat":' .. hw_int(now) .. '}')
  redis.call('ZADD', KEYS[2], hw_int(now + ttl), ARGV[1])
end
return redis.call('HLEN', KEYS[1])
