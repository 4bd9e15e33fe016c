-- requeue: moves failed or broken records back to the back of pending, by
-- record id or job id, or all of them. A failed job keeps its attempt and
-- recovery counts; a broken payload goes back exactly as it was found.
-- KEYS[1] the records list (failed or broken)
-- KEYS[2] pending (list)
-- KEYS[3] stats   (hash)
-- KEYS[4] unique  (hash: unique key -> job id); a requeued job takes its
--         unique key again if no other job holds it
-- KEYS[5] urgent, KEYS[6] seq: where a job with a priority waits
-- KEYS[7] groups: a job of a group goes back to its group's list
-- KEYS[8] flow (hash: its "events" field turns events on)
-- KEYS[9] events (stream: "requeued" per job, scripts/lib/events.lua)
-- ARGV[1] "all" to take every record, "ids" to take those named
-- ARGV[2..] record ids or job ids
-- Returns the number of jobs requeued.
-- Every key is checked before the first write: a record removed from its
-- list must reach pending.
local bad = hw_check({ KEYS[1], 'list', KEYS[2], 'list', KEYS[3], 'hash', KEYS[4], 'hash', KEYS[5], 'zset',
  KEYS[6], 'counter', KEYS[7], 'hash', KEYS[8], 'hash' }, KEYS[3], { 'requeued' })
if bad then return bad end
local ids = {}
for i = 2, #ARGV do ids[#ids + 1] = ARGV[i] end
local picked = hw_select_records(KEYS[1], ARGV[1] == 'all', ids)
local payloads = {}
for _, p in ipairs(picked) do
  local nl = string.find(p.record, '\n', 1, true)
  payloads[#payloads + 1] = nl and string.sub(p.record, nl + 1) or p.record
end
bad = hw_check_groups(KEYS[7], payloads)
if bad then return bad end
for _, payload in ipairs(payloads) do
  local u, id = hw_unique_of(payload)
  if u then redis.call('HSETNX', KEYS[4], u, id) end
end
hw_remove_records(KEYS[1], picked)
if #payloads > 0 then hw_push_waiting(KEYS[2], KEYS[5], KEYS[6], KEYS[7], payloads, 'LPUSH') end
hw_count(KEYS[3], { requeued = #payloads })
local cap = #payloads > 0 and hw_events_cap(KEYS[8])
if cap then
  for _, payload in ipairs(payloads) do hw_event(KEYS[9], cap, 'requeued', payload) end
end
return #payloads
