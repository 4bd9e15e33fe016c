-- finish: records the outcome of a batch of executions. An outcome acts only
-- if its claim is still in inflight (the caller still holds the lease); a
-- stale claim changes nothing and is counted as lease_lost.
-- KEYS[1] pending   (list)
-- KEYS[2] inflight  (zset)
-- KEYS[3] scheduled (zset)
-- KEYS[4] failed    (list of records, newest first)
-- KEYS[5] broken    (list of records, newest first)
-- KEYS[6] stats     (hash)
-- KEYS[7] unique    (hash: unique key -> job id)
-- KEYS[8] lateness  (list: ms late of the last jobs that waited, newest first)
-- KEYS[9] flow, KEYS[10] freed: a capped shard wakes a worker per freed slot
-- KEYS[11] urgent, KEYS[12] seq: where a retried job with a priority waits
-- KEYS[13] groups: a job of a group frees its group's slot, and is retried
--          in its group's list
-- KEYS[14] timings (hash: the wait and run histograms since the queue began)
-- KEYS[15] cancels (hash: claim token -> time): a claim marked there by a
--          cancel (cancel.lua) ends as cancelled whatever its outcome, so
--          a cancel that raced the job's end still means it never runs again
-- KEYS[16] events (stream: one event per outcome applied while events are
--          on, scripts/lib/events.lua)
-- ARGV[1] failed cap, ARGV[2] broken cap (at least 1)
-- ARGV[3..] quadruples: outcome, claim, reason, retry delay in ms
--   outcome: "s" success, "r" retry, "f" failure, "x" failure because the
--   retries are exhausted, "b" broken payload; followed by the ms its start
--   came after its due time for a job that waited ("s12")
-- then, when the queue keeps history, one more: the seconds a minute's and
--   an hour's history bucket live, then the batch's timings as "name=count"
--   (core/timings.c), e.g. "172860 2595600 wn=2 rn=2 ws=3000 rs=90 w1=2 r0=2"
-- A job that leaves the queue releases its unique key. A retried job whose
-- envelope is already scheduled byte for byte (two copies of one job id,
-- from an enqueue that was sent again after its reply was lost) becomes one
-- entry there, counted as merged.
-- A retry at once gets its due time ("da") now; a delayed retry that
-- becomes the earliest scheduled job wakes the monitors (enqueue.lua).
-- Returns one integer per outcome: 1 applied, 0 lease lost.
-- Every key is checked before the first ZREM: a claim removed from
-- inflight must reach its next place. The worker keeps its outcomes and
-- sends them again until the key is fixed.
local bad = hw_check({ KEYS[1], 'list', KEYS[2], 'zset', KEYS[3], 'zset', KEYS[4], 'list', KEYS[5], 'list',
  KEYS[6], 'hash', KEYS[7], 'hash', KEYS[8], 'list', KEYS[9], 'hash', KEYS[10], 'list', KEYS[11], 'zset',
  KEYS[12], 'counter', KEYS[13], 'hash', KEYS[15], 'hash' }, KEYS[6],
  { 'processed', 'succeeded', 'retried', 'failed', 'broken', 'lease_lost', 'scheduled', 'exhausted', 'merged',
    'cancelled' })
if bad then return bad end
-- Without a groups hash no claim in flight is of a group (each holds its
-- group's running count there), so the batch's headers need no look.
local group_of = {}
if redis.call('EXISTS', KEYS[13]) == 1 then
  bad, group_of = hw_check_groups(KEYS[13], ARGV, 4, 4)
  if bad then return bad end
end
-- The history argument, if any, follows the quadruples.
local last = #ARGV
local history = (last - 2) % 4 == 1 and ARGV[last] or nil
if history then last = last - 1 end
local tally = {}
local now = hw_now_ms()
local counts = { processed = 0, succeeded = 0, retried = 0, failed = 0, broken = 0, lease_lost = 0,
  scheduled = 0, exhausted = 0, merged = 0, cancelled = 0 }
-- One look per call while no cancel is pending, none per claim.
local cancels = redis.call('EXISTS', KEYS[15]) == 1
local events_cap = hw_events_cap(KEYS[9])
local event_names = { s = 'succeeded', r = 'retried', f = 'failed', x = 'failed', b = 'broken', c = 'cancelled' }
local result = {}
local back, failed, broken, late = {}, {}, {}, {}
-- The earliest due time in scheduled before this batch's first delayed
-- retry (false: none), and the earliest of those retries.
local first_due, soonest
for i = 3, last, 4 do
  local outcome, claim, reason = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local live = redis.call('ZREM', KEYS[2], claim) == 1
  if #outcome > 1 then
    if live then late[#late + 1] = string.sub(outcome, 2) end
    outcome = string.sub(outcome, 1, 1)
  end
  result[#result + 1] = live and 1 or 0
  if not live then
    counts.lease_lost = counts.lease_lost + 1
  else
    counts.processed = counts.processed + 1
    hw_group_tally(tally, group_of[i + 1])
    if cancels and redis.call('HDEL', KEYS[15], hw_token_of(claim)) == 1 then outcome = 'c' end
    if events_cap then
      local fields = { 'worker', string.match(claim, '^[^|]*|([^|]*)') or '' }
      if outcome ~= 's' and outcome ~= 'c' then
        fields[#fields + 1] = 'reason'
        fields[#fields + 1] = hw_event_reason(reason)
      end
      if outcome == 'r' then
        fields[#fields + 1] = 'delay_ms'
        fields[#fields + 1] = hw_int(math.max(0, tonumber(ARGV[i + 3]) or 0))
      end
      hw_event(KEYS[16], events_cap, event_names[outcome] or outcome, hw_envelope_of(claim), fields)
    end
    if outcome == 's' then
      -- The common case makes no new Lua string: each one is interned and
      -- hashed, and string churn was the top cost of a drain inside Redis.
      counts.succeeded = counts.succeeded + 1
      if hw_header_has(claim, '"u"') then hw_release_unique(KEYS[7], hw_envelope_of(claim)) end
    else
      local envelope = hw_envelope_of(claim)
      if outcome ~= 'r' then hw_release_unique(KEYS[7], envelope) end
      if outcome == 'c' then
        counts.cancelled = counts.cancelled + 1
      elseif outcome == 'r' then
        counts.retried = counts.retried + 1
        local delay = math.max(0, tonumber(ARGV[i + 3]) or 0)
        -- Due now, or when the monitor promotes it (recover.lua sets "da").
        -- Without "da" in scheduled, copies of one job stay byte for byte
        -- the same whatever their back-off, and still merge there.
        local again = hw_bump(envelope, 'at', 'da', delay == 0 and now or nil)
        if delay > 0 then
          if first_due == nil then first_due = hw_first_due(KEYS[3]) end
          if soonest == nil or now + delay < soonest then soonest = now + delay end
          if redis.call('ZADD', KEYS[3], hw_int(now + delay), again) == 1 then
            counts.scheduled = counts.scheduled + 1
          else
            counts.merged = counts.merged + 1
          end
        else
          back[#back + 1] = again
        end
      elseif outcome == 'f' or outcome == 'x' then
        counts.failed = counts.failed + 1
        if outcome == 'x' then counts.exhausted = counts.exhausted + 1 end
        failed[#failed + 1] = hw_record(reason, now, envelope, hw_token_of(claim))
      else
        counts.broken = counts.broken + 1
        broken[#broken + 1] = hw_record(reason, now, envelope, hw_token_of(claim))
      end
    end
  end
end
if soonest and (not first_due or soonest < first_due) then hw_wake_monitors(KEYS[3], soonest - now) end
-- A retried job goes to the back of the queue, as in the original.
if #back > 0 then hw_push_waiting(KEYS[1], KEYS[11], KEYS[12], KEYS[13], back, 'LPUSH') end
hw_group_release(KEYS[1], KEYS[13], tally)
hw_push_capped(KEYS[4], failed, ARGV[1])
hw_push_capped(KEYS[8], late, 1000)
hw_push_capped(KEYS[5], broken, ARGV[2])
hw_count(KEYS[6], counts)
hw_free_slots(KEYS[9], KEYS[2], KEYS[10], counts.processed)
local minute_ttl, hour_ttl, at = string.match(history or '', '^(%d+) (%d+)()')
if minute_ttl then
  -- The buckets are named by Redis time: hw:{q}:history:m:<minutes since
  -- the epoch> and hw:{q}:history:h:<hours>, in the queue's slot. History
  -- never holds up an outcome: a write to a key or a count that holds
  -- something else fails alone (redis.pcall), and only a bucket that took
  -- a write gets its lifetime.
  local minute = math.floor(now / 60000)
  local prefix = string.sub(KEYS[14], 1, -8)
  local buckets = { prefix .. 'history:m:' .. minute, prefix .. 'history:h:' .. math.floor(minute / 60) }
  local wrote = {}
  local function add(key, name, n)
    if type(redis.pcall('HINCRBY', key, name, n)) == 'number' then wrote[key] = true end
  end
  for _, key in ipairs(buckets) do
    for _, name in ipairs({ 'processed', 'succeeded', 'retried', 'failed', 'broken' }) do
      if counts[name] ~= 0 then add(key, name, counts[name]) end
    end
  end
  for name, n in string.gmatch(string.sub(history, at), '(%w+)=(%d+)') do
    add(KEYS[14], name, n)
    add(buckets[1], name, n)
    add(buckets[2], name, n)
  end
  if wrote[buckets[1]] then redis.call('EXPIRE', buckets[1], minute_ttl) end
  if wrote[buckets[2]] then redis.call('EXPIRE', buckets[2], hour_ttl) end
end
return result
