-- handback: a stopping worker returns claims it will not finish. Each claim
-- still held goes back to the front of pending at once (not left to expire).
-- KEYS[1] pending  (list)
-- KEYS[2] inflight (zset)
-- KEYS[3] stats    (hash)
-- KEYS[4] flow, KEYS[5] freed: a capped shard wakes a worker per freed slot
-- KEYS[6] urgent, KEYS[7] seq: where a job with a priority waits
-- KEYS[8] groups: a job of a group goes back to its group's list
-- KEYS[9] cancels (hash: claim token -> time): a claim marked there by a
--         cancel (cancel.lua) is cancelled, not handed back
-- KEYS[10] unique (hash): a cancelled job releases its unique key
-- KEYS[11] events (stream: "handed_back" or "cancelled" per claim while
--          events are on, scripts/lib/events.lua)
-- ARGV[1..] claims
-- Returns the number handed back (claims no longer held are skipped and
-- counted as lease_lost).
-- Every key is checked before the first ZREM, so a claim taken from inflight
-- always reaches pending.
local bad = hw_check({ KEYS[1], 'list', KEYS[2], 'zset', KEYS[3], 'hash', KEYS[4], 'hash', KEYS[5], 'list',
  KEYS[6], 'zset', KEYS[7], 'counter', KEYS[8], 'hash', KEYS[9], 'hash', KEYS[10], 'hash' }, KEYS[3],
  { 'handed_back', 'lease_lost', 'cancelled' })
if bad then return bad end
local group_of
bad, group_of = hw_check_groups(KEYS[8], ARGV)
if bad then return bad end
local front, tally = {}, {}
local cancels = redis.call('EXISTS', KEYS[9]) == 1
local events_cap = hw_events_cap(KEYS[4])
local cancelled = 0
for i = 1, #ARGV do
  if redis.call('ZREM', KEYS[2], ARGV[i]) == 1 then
    hw_group_tally(tally, group_of[i])
    if cancels and redis.call('HDEL', KEYS[9], hw_token_of(ARGV[i])) == 1 then
      cancelled = cancelled + 1
      hw_release_unique(KEYS[10], hw_envelope_of(ARGV[i]))
      if events_cap then hw_event(KEYS[11], events_cap, 'cancelled', hw_envelope_of(ARGV[i])) end
    else
      front[#front + 1] = hw_envelope_of(ARGV[i])
      if events_cap then hw_event(KEYS[11], events_cap, 'handed_back', front[#front]) end
    end
  end
end
if #front > 0 then hw_push_waiting(KEYS[1], KEYS[6], KEYS[7], KEYS[8], front, 'RPUSH') end
hw_group_release(KEYS[1], KEYS[8], tally)
hw_count(KEYS[3], { handed_back = #front, lease_lost = #ARGV - #front - cancelled, cancelled = cancelled })
hw_free_slots(KEYS[4], KEYS[2], KEYS[5], #front + cancelled)
return #front
