-- stats: sizes of every part of the queue and its counters, read atomically.
-- KEYS[1] pending, KEYS[2] inflight, KEYS[3] scheduled, KEYS[4] failed,
-- KEYS[5] broken, KEYS[6] stats
-- Returns { pending, inflight, scheduled, failed, broken, {counter, value, ...} }
return {
  redis.call('LLEN', KEYS[1]),
  redis.call('ZCARD', KEYS[2]),
  redis.call('ZCARD', KEYS[3]),
  redis.call('LLEN', KEYS[4]),
  redis.call('LLEN', KEYS[5]),
  redis.call('HGETALL', KEYS[6]),
}
