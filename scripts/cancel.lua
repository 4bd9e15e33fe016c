-- cancel: asks that a running execution stop, and makes sure its job ends
-- as cancelled and never runs again, whatever happens next: the worker's
-- report of any outcome (finish.lua), a recovery after its worker died
-- (recover.lua) and a hand-back at a stop (handback.lua) each find the mark
-- and record the job as cancelled instead.
-- KEYS[1] inflight (zset)
-- KEYS[2] cancels  (hash: claim token -> when the cancel was asked, in ms);
--         also the channel the token is published on, which the lease
--         keepers of the processes with workers listen to (keeper.c)
-- ARGV[1] the claim, exactly as inflight holds it
-- Returns 1 if the claim is in flight and is marked now, 2 if it was marked
-- already, 0 if it is not in flight (it finished, or was recovered or
-- handed back, before this call).
local bad = hw_check({ KEYS[1], 'zset', KEYS[2], 'hash' })
if bad then return bad end
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
local token = hw_token_of(ARGV[1])
if redis.call('HEXISTS', KEYS[2], token) == 1 then return 2 end
redis.call('HSET', KEYS[2], token, hw_int(hw_now_ms()))
redis.call('PUBLISH', KEYS[2], token)
return 1
