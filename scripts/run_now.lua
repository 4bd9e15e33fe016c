-- run_now: moves one waiting job to the front of the queue, by its exact
-- bytes: a scheduled job is due now (its header's "da" says so), a pending
-- one is claimed next (among its priority level, or within its group,
-- whose limits still hold). The caller found it by its id with paged reads
-- (core/job_find.c); if it moved since, nothing changes.
-- KEYS[1] where it waits: pending or a group's list (lists), urgent or
--         scheduled (sorted sets)
-- KEYS[2] pending, KEYS[3] urgent, KEYS[4] seq, KEYS[5] groups: where it goes
-- KEYS[6] stats (hash): a scheduled job moved counts as promoted
-- ARGV[1] "list", "zset", "group" or "scheduled": what KEYS[1] is
-- ARGV[2] the envelope, exactly
-- Returns 1 if it moved, 0 if it was no longer there.
local kind = ARGV[1]
local zset = kind == 'zset' or kind == 'scheduled'
local bad = hw_check({ KEYS[1], zset and 'zset' or 'list', KEYS[2], 'list', KEYS[3], 'zset', KEYS[4], 'counter',
  KEYS[5], 'hash', KEYS[6], 'hash' }, KEYS[6], { 'promoted' })
if bad then return bad end
bad = hw_check_groups(KEYS[5], { ARGV[2] })
if bad then return bad end
local removed
if zset then removed = redis.call('ZREM', KEYS[1], ARGV[2])
else removed = redis.call('LREM', KEYS[1], 1, ARGV[2]) end
if removed == 0 then return 0 end
local envelope = ARGV[2]
if kind == 'group' then hw_group_add(KEYS[5], 'waiting', -1) end
if kind == 'scheduled' then
  envelope = hw_stamp_due(envelope, hw_int(hw_now_ms()))
  hw_count(KEYS[6], { promoted = 1 })
end
hw_push_waiting(KEYS[2], KEYS[3], KEYS[4], KEYS[5], { envelope }, 'RPUSH')
return 1
