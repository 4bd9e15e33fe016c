-- shards: a queue's shard count, recorded by its first runner or producer
-- (docs/cluster.md). Its key has the queue's own slot, not a shard's, so it
-- is never among the keys of a queue script.
-- KEYS[1] hw:{<name>}:shards
-- ARGV[1] the count to record when none is, or "" to only read it
-- Returns the count now recorded, or false when none is.
local n = redis.call('GET', KEYS[1])
if n then return n end
if ARGV[1] == '' then return false end
redis.call('SET', KEYS[1], ARGV[1])
return ARGV[1]
