-- processes: the processes registered by beat.lua whose registration has
-- not run out (those that have are forgotten first). Paged inspection: it
-- reads every registered process, up to ARGV[1].
-- KEYS[1] procs (hash), KEYS[2] beats (zset)
-- ARGV[1] most to return
-- Returns Redis's clock in ms, then for each: its JSON and when its
-- registration ends (ms).
local bad = hw_check({ KEYS[1], 'hash', KEYS[2], 'zset' })
if bad then return bad end
local now = hw_now_ms()
local gone = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', hw_int(now))
if #gone > 0 then
  hw_push('ZREM', KEYS[2], gone)
  hw_push('HDEL', KEYS[1], gone)
end
local out = { hw_int(now) }
local live = redis.call('ZRANGE', KEYS[2], 0, tonumber(ARGV[1]) - 1, 'WITHSCORES')
for i = 1, #live, 2 do
  local info = redis.call('HGET', KEYS[1], live[i])
  if info then
    out[#out + 1] = info
    out[#out + 1] = live[i + 1]
  end
end
return out
