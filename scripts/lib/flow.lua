-- Flow control (docs/flow-control.md). Each shard's `flow` hash holds its
-- share of the queue's limits, written by limit.lua and pause.lua:
--   paused    "1" while the queue is paused
--   cap       most claims of this shard held at once (its share of the cap)
--   interval  ms between two starts at this shard's share of the rate
--   burst     starts beyond the rate this shard may grant at once
--   tat, turn the rate limiter's state (GCRA's theoretical arrival time, and
--             when the next worker held back by the rate is told to return)
-- and, for display only, the queue-wide values: concurrency, rate, per_ms,
-- burst_total.

-- A setting read from the flow hash: nil when absent, else a finite number
-- >= 0. Anything else is an error reply naming the key and the field: a
-- damaged limit must stop claims, never lift the limit silently.
local function hw_flow_setting(key, field, text)
  if text == false or text == nil then return nil end
  local n = tonumber(text)
  if n == nil or n ~= n or n < 0 or n == math.huge then
    return nil, hw_fix('ERR', key, 'has a field ' .. field .. ' that is not a number >= 0 (set the limits again with '
      .. 'hworker-lua limit)')
  end
  return n
end

-- After `removed` claims left inflight: if this shard has a cap and now has
-- free slots, one wake-up per freed slot for the workers waiting on it
-- (BLPOP on `freed`), kept to at most `cap` so stale ones stay few.
local function hw_free_slots(flow, inflight, freed, removed)
  if removed < 1 then return end
  local cap = tonumber(redis.call('HGET', flow, 'cap'))
  if cap == nil or cap < 1 then return end
  local free = cap - redis.call('ZCARD', inflight)
  if free < 1 then return end
  local wakes = {}
  for i = 1, math.min(removed, free) do wakes[i] = '1' end
  redis.call('LPUSH', freed, unpack(wakes))
  redis.call('LTRIM', freed, 0, cap - 1)
end
