-- remove_job: takes one waiting job out of the queue, by its exact bytes,
-- for `delete` and `cancel` of a pending or scheduled job. The caller found
-- it by its id with paged reads (core/job_find.c); if it moved since (a
-- worker claimed it, a monitor promoted it), nothing changes and the caller
-- looks again.
-- KEYS[1] where it waits: pending or a group's list (lists), urgent or
--         scheduled (sorted sets)
-- KEYS[2] stats  (hash)
-- KEYS[3] unique (hash: unique key -> job id): the job's key is released
-- KEYS[4] groups (hash): a job taken from its group's list leaves its count
-- KEYS[5] flow (hash), KEYS[6] events (stream): "cancelled" or "deleted"
--         while events are on (scripts/lib/events.lua)
-- ARGV[1] "list", "zset" or "group": what KEYS[1] is
-- ARGV[2] the envelope, exactly
-- ARGV[3] the counter to add 1 to: "deleted" or "cancelled"
-- Returns 1 if it was taken out, 0 if it was no longer there.
local kind = ARGV[1]
local bad = hw_check({ KEYS[1], kind == 'zset' and 'zset' or 'list', KEYS[2], 'hash', KEYS[3], 'hash',
  KEYS[4], 'hash', KEYS[5], 'hash' }, KEYS[2], { ARGV[3] })
if bad then return bad end
local removed
if kind == 'zset' then removed = redis.call('ZREM', KEYS[1], ARGV[2])
else removed = redis.call('LREM', KEYS[1], 1, ARGV[2]) end
if removed == 0 then return 0 end
-- An emptied group list leaves its token to the next claim, which drops
-- it (hw_group_take): the token needs no change here.
if kind == 'group' then hw_group_add(KEYS[4], 'waiting', -1) end
hw_release_unique(KEYS[3], ARGV[2])
hw_count(KEYS[2], { [ARGV[3]] = 1 })
local cap = hw_events_cap(KEYS[5])
if cap then hw_event(KEYS[6], cap, ARGV[3], ARGV[2]) end
return 1
