-- limit: sets one shard's share of a queue's limits (scripts/lib/flow.lua),
-- and wakes the workers held back by the cap, who see the new one at once.
-- A changed rate starts the limiter afresh.
-- KEYS[1] flow (hash), KEYS[2] freed (list)
-- ARGV[1] cap, ARGV[2] interval in ms, ARGV[3] burst: this shard's share,
--         "" for none
-- ARGV[4] concurrency, ARGV[5] rate, ARGV[6] per_ms, ARGV[7] burst_total:
--         the queue-wide values, for display; "" for none
-- Returns 1.
local bad = hw_check({ KEYS[1], 'hash', KEYS[2], 'list' })
if bad then return bad end
local old_interval = redis.call('HGET', KEYS[1], 'interval') or ''
local fields = { 'cap', 'interval', 'burst', 'concurrency', 'rate', 'per_ms', 'burst_total' }
for i, field in ipairs(fields) do
  if ARGV[i] == '' then
    redis.call('HDEL', KEYS[1], field)
  else
    redis.call('HSET', KEYS[1], field, ARGV[i])
  end
end
-- A changed rate, or a damaged limiter state, starts afresh.
local tat = redis.call('HGET', KEYS[1], 'tat')
if old_interval ~= ARGV[2] or (tat and not hw_flow_setting(KEYS[1], 'tat', tat)) then
  redis.call('HDEL', KEYS[1], 'tat')
end
redis.call('HDEL', KEYS[1], 'turn')
-- Workers waiting on the old cap wake (as many as the new cap lets run,
-- or 64 when there is none now) and claim under the new settings; the
-- wake-ups left over stay fewer than the cap.
redis.call('DEL', KEYS[2])
local cap = tonumber(ARGV[1])
local wakes = {}
for i = 1, math.min(cap or 64, 1000) do wakes[i] = '1' end
redis.call('LPUSH', KEYS[2], unpack(wakes))
return 1
