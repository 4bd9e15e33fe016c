-- renew: extends the leases of claims the caller still holds. A claim no
-- longer held is counted as lease_lost.
-- KEYS[1] inflight (zset, score = lease expiry in ms)
-- KEYS[2] stats    (hash)
-- ARGV[1] lease duration in ms
-- ARGV[2..] claims
-- Returns one integer per claim: 1 renewed, 0 lost (requeued or finished).
-- Both keys are checked first, so a call renews every claim or none.
local bad = hw_check({ KEYS[1], 'zset', KEYS[2], 'hash' }, KEYS[2], { 'lease_lost' })
if bad then return bad end
local expiry = hw_int(hw_now_ms() + tonumber(ARGV[1]))
local result = {}
local lost = 0
for i = 2, #ARGV do
  if redis.call('ZSCORE', KEYS[1], ARGV[i]) then
    redis.call('ZADD', KEYS[1], 'XX', expiry, ARGV[i])
    result[i - 1] = 1
  else
    result[i - 1] = 0
    lost = lost + 1
  end
end
hw_count(KEYS[2], { lease_lost = lost })
return result
