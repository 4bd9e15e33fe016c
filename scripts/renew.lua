-- renew: extends the leases of claims the caller still holds.
-- KEYS[1] inflight (zset, score = lease expiry in ms)
-- KEYS[2] stats    (hash)
-- KEYS[3] cancels  (hash: claim token -> time): a claim marked there is
--         renewed and answered 2, for a keeper that missed the published
--         cancel (cancel.lua)
-- ARGV[1] lease duration in ms
-- ARGV[2] "1": count each claim no longer held as lease_lost; "0": do not.
--         The lease keeper passes "0": a claim whose outcome its worker
--         has just reported is gone too, and is no loss. It counts the
--         claims it finds really taken over with a second call.
-- ARGV[3..] claims
-- Returns one integer per claim: 1 renewed, 2 renewed and cancelled (its
-- job must stop), 0 no longer held (recovered, finished or handed back).
-- The keys it writes are checked first, so a call renews every claim or
-- none (stats only when it counts: a bad stats key must not stop renewals).
local count = ARGV[2] == '1'
local bad
if count then bad = hw_check({ KEYS[1], 'zset', KEYS[2], 'hash' }, KEYS[2], { 'lease_lost' })
else bad = hw_check({ KEYS[1], 'zset' }) end
if bad then return bad end
local expiry = hw_int(hw_now_ms() + tonumber(ARGV[1]))
local result = {}
local lost = 0
local cancels = redis.pcall('EXISTS', KEYS[3]) == 1
for i = 3, #ARGV do
  if redis.call('ZSCORE', KEYS[1], ARGV[i]) then
    redis.call('ZADD', KEYS[1], 'XX', expiry, ARGV[i])
    result[i - 2] = 1
    if cancels and redis.pcall('HEXISTS', KEYS[3], hw_token_of(ARGV[i])) == 1 then result[i - 2] = 2 end
  else
    result[i - 2] = 0
    lost = lost + 1
  end
end
if count then hw_count(KEYS[2], { lease_lost = lost }) end
return result
