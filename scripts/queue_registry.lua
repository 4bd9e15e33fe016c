-- queue_registry: adds a queue to the registry of queues, or takes it out
-- (docs/operations.md, "Processes"). The registry is the one key of no
-- queue, so it has a script of its own.
-- KEYS[1] hw:queues (set of queue names)
-- ARGV[1] "add" or "remove", ARGV[2] the queue's name
-- Returns 1 if the set changed, else 0.
local bad = hw_check({ KEYS[1], 'set' })
if bad then return bad end
if ARGV[1] == 'add' then return redis.call('SADD', KEYS[1], ARGV[2]) end
return redis.call('SREM', KEYS[1], ARGV[2])
