-- stats: sizes of every part of the queue and its counters, read atomically.
-- KEYS[1] pending, KEYS[2] inflight, KEYS[3] scheduled, KEYS[4] failed,
-- KEYS[5] broken, KEYS[6] stats, KEYS[7] lateness, KEYS[8] flow, KEYS[9] urgent,
-- KEYS[10] groups
-- Returns { pending (with the jobs of urgent and of the groups' lists,
--           without doorbells and group tokens), inflight,
--           scheduled, failed, broken, {counter, value, ...},
--           {ms late of the last (up to 1000) jobs that waited},
--           {paused, concurrency, rate, per_ms, burst_total, events} (flow settings,
--           each nil when unset), {cap, rate, per_ms, burst} of every group
--           without its own (each nil when unset), latency: ms since the
--           job next in line became ready (its due time, else its enqueue
--           time), 0 when none waits }
-- It writes nothing; the keys are checked for an error that names the one
-- to fix, rather than a bare WRONGTYPE.
local bad = hw_check({ KEYS[1], 'list', KEYS[2], 'zset', KEYS[3], 'zset', KEYS[4], 'list', KEYS[5], 'list',
  KEYS[6], 'hash', KEYS[7], 'list', KEYS[8], 'hash', KEYS[9], 'zset', KEYS[10], 'hash' })
if bad then return bad end
-- A doorbell waits at the front, if anywhere (it is pushed onto an empty
-- pending list).
local front = redis.call('LINDEX', KEYS[1], -1)
local doorbell = front == hw_doorbell and 1 or 0
-- The latency: how long the job next in line has been ready. O(1): the
-- front of urgent, else of pending (behind a doorbell; through a group's
-- token, the front of that group's list). Jobs handed back or retried go
-- to the front with their old times, so it may read older than the rest.
local next_job = redis.call('ZRANGE', KEYS[9], 0, 0)[1]
if not next_job then
  if doorbell == 1 then front = redis.call('LINDEX', KEYS[1], -2) end
  if front and string.byte(front, 1) == 1 then
    local list = hw_group_key(KEYS[10], string.sub(front, 2))
    if redis.call('TYPE', list).ok == 'list' then front = redis.call('LINDEX', list, -1) else front = nil end
  end
  next_job = front
end
local latency = 0
if next_job then
  local header = string.match(next_job, '^[^\n]*')
  local ready = tonumber(string.match(header, '"da":(%d+)') or string.match(header, '"eq":(%d+)'))
  if ready then latency = math.max(0, hw_now_ms() - ready) end
end
return {
  redis.call('LLEN', KEYS[1]) - doorbell + redis.call('ZCARD', KEYS[9])
    + hw_group_count(KEYS[10], 'waiting') - hw_group_count(KEYS[10], 'tokens'),
  redis.call('ZCARD', KEYS[2]),
  redis.call('ZCARD', KEYS[3]),
  redis.call('LLEN', KEYS[4]),
  redis.call('LLEN', KEYS[5]),
  redis.call('HGETALL', KEYS[6]),
  redis.call('LRANGE', KEYS[7], 0, 999),
  redis.call('HMGET', KEYS[8], 'paused', 'concurrency', 'rate', 'per_ms', 'burst_total', 'events'),
  redis.call('HMGET', KEYS[10], 'c:*', 'n:*', 'p:*', 'b:*'),
  hw_int(latency),
}
