-- recover: the monitor's sweep. Claims whose lease expired (their worker
-- died or lost Redis) go back to the front of pending with their recovery
-- count raised; past the recovery limit they go to failed instead (a poison
-- pill must not take down worker after worker). Due scheduled jobs move to
-- the back of pending, their due time (their score) written into their
-- header as "da". Bounded: at most ARGV[1] of each per call.
-- KEYS[1] pending   (list)
-- KEYS[2] inflight  (zset)
-- KEYS[3] scheduled (zset)
-- KEYS[4] failed    (list)
-- KEYS[5] broken    (list)
-- KEYS[6] stats     (hash)
-- KEYS[7] unique    (hash: unique key -> job id)
-- KEYS[8] flow, KEYS[9] freed: a capped shard wakes a worker per freed slot
-- KEYS[10] urgent, KEYS[11] seq: where a job with a priority waits
-- KEYS[12] groups: a job of a group goes back to its group's list
-- KEYS[13] group_due: groups waiting for their rate; those due get their
--          tokens back
-- KEYS[14] cancels (hash: claim token -> time): an expired claim marked
--          there by a cancel (cancel.lua) is cancelled, not run again
-- KEYS[15] events (stream: "recovered", "failed" or "cancelled" per expired
--          claim while events are on, scripts/lib/events.lua)
-- ARGV[1] most entries to move per kind
-- ARGV[2] recovery limit (0: unlimited)
-- ARGV[3] failed cap
-- ARGV[4] failed max age in ms, ARGV[5] broken max age in ms (0: no limit);
--         older records are dropped, at most ARGV[1] per list per call
-- Returns { recovered, promoted, ms until the next lease expiry, due job or
--           due group (-1 if there is none), 1 if a batch was full (call
--           again) }
-- Every key is checked before the first write, so an expired claim or a due
-- job taken from its set always reaches pending or failed; the monitor
-- tries again later.
local bad = hw_check({ KEYS[1], 'list', KEYS[2], 'zset', KEYS[3], 'zset', KEYS[4], 'list', KEYS[5], 'list',
  KEYS[6], 'hash', KEYS[7], 'hash', KEYS[8], 'hash', KEYS[9], 'list', KEYS[10], 'zset',
  KEYS[11], 'counter', KEYS[12], 'hash', KEYS[13], 'zset', KEYS[14], 'hash' }, KEYS[6],
  { 'recovered', 'failed', 'promoted', 'cancelled' })
if bad then return bad end
local now = hw_now_ms()
local limit = tonumber(ARGV[1])
local max_recoveries = tonumber(ARGV[2])
local counts = { recovered = 0, failed = 0, promoted = 0, cancelled = 0 }

local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, limit)
local due = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now, 'WITHSCORES', 'LIMIT', 0, limit)
local group_of
bad, group_of = hw_check_groups(KEYS[12], expired)
bad = bad or hw_check_groups(KEYS[12], due)
if bad then return bad end
local front, failed, tally = {}, {}, {}
local cancels = #expired > 0 and redis.call('EXISTS', KEYS[14]) == 1
local events_cap = #expired > 0 and hw_events_cap(KEYS[8])
for i, claim in ipairs(expired) do
  hw_group_tally(tally, group_of[i])
  local original = hw_envelope_of(claim)
  local envelope, recoveries = hw_bump(original, 'rc')
  if cancels and redis.call('HDEL', KEYS[14], hw_token_of(claim)) == 1 then
    counts.cancelled = counts.cancelled + 1
    hw_release_unique(KEYS[7], original)
    if events_cap then hw_event(KEYS[15], events_cap, 'cancelled', original) end
  elseif max_recoveries > 0 and recoveries > max_recoveries then
    -- The record keeps the envelope as it ran: rc = the recoveries it had.
    failed[#failed + 1] = hw_record('recovered ' .. max_recoveries ..
      ' times: the worker died while running it', now, original, hw_token_of(claim))
    hw_release_unique(KEYS[7], original)
    if events_cap then
      hw_event(KEYS[15], events_cap, 'failed', original, { 'reason', 'recovered ' .. max_recoveries .. ' times' })
    end
  else
    front[#front + 1] = envelope
    if events_cap then hw_event(KEYS[15], events_cap, 'recovered', original, { 'recoveries', hw_int(recoveries) }) end
  end
end
if #expired > 0 then
  hw_push('ZREM', KEYS[2], expired)
  counts.recovered = #front
  counts.failed = #failed
  hw_free_slots(KEYS[8], KEYS[2], KEYS[9], #expired)
end
if #front > 0 then hw_push_waiting(KEYS[1], KEYS[10], KEYS[11], KEYS[12], front, 'RPUSH') end
hw_group_release(KEYS[1], KEYS[12], tally)
hw_push_capped(KEYS[4], failed, ARGV[3])

if #due > 0 then
  local members, stamped = {}, {}
  for i = 1, #due, 2 do
    members[#members + 1] = due[i]
    stamped[#stamped + 1] = hw_stamp_due(due[i], due[i + 1])
  end
  hw_push('ZREM', KEYS[3], members)
  hw_push_waiting(KEYS[1], KEYS[10], KEYS[11], KEYS[12], stamped, 'LPUSH')
  counts.promoted = #members
end
local woken = hw_group_due(KEYS[1], KEYS[12], KEYS[13], now, limit)
hw_count(KEYS[6], counts)
local aged = hw_trim_by_age(KEYS[4], tonumber(ARGV[4]) or 0, now, limit)
  + hw_trim_by_age(KEYS[5], tonumber(ARGV[5]) or 0, now, limit)

local next_in = -1
for _, key in ipairs({ KEYS[2], KEYS[3], KEYS[13] }) do
  local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  if first[2] then
    local wait = math.max(0, tonumber(first[2]) - now)
    if next_in < 0 or wait < next_in then next_in = wait end
  end
end
local full = (#expired == limit or counts.promoted == limit or aged >= limit or woken == limit) and 1 or 0
return { #front, counts.promoted, next_in, full }
