-- claim: takes up to N jobs from the front of pending and leases them to the
-- caller. Each claim gets a fresh token, so every execution of a job is a
-- distinct inflight member (the fencing token of docs/design.md invariant 2).
-- The shard's flow settings (scripts/lib/flow.lua) may hold the claim back.
-- KEYS[1] pending  (list; the front is the right end)
-- KEYS[2] inflight (zset, score = lease expiry in ms)
-- KEYS[3] seq      (string counter for claim tokens)
-- KEYS[4] flow     (hash: this shard's limits and the rate limiter's state)
-- KEYS[5] open     (list: paused workers wait for it to be non-empty)
-- KEYS[6] urgent   (zset: jobs with a priority, taken before pending's)
-- KEYS[7] groups   (hash: the groups' state; pending holds their tokens)
-- KEYS[8] group_due (zset: groups waiting for their rate, by when)
-- KEYS[9] events   (stream: "started" per claim while events are on,
--                   scripts/lib/events.lua)
-- ARGV[1] most jobs to take (1..1000)
-- ARGV[2] lease duration in ms
-- ARGV[3] holder: who claims (host:pid:thread), no '|'
-- ARGV[4] longest wait in ms a worker held back by the rate is given a turn
--         for (its block timeout); -1: the caller will not wait here, give
--         it no turn
-- Returns the claims ("token|holder|envelope"), oldest job first, then
-- Redis's clock in ms (an integer: how late a job that waited started is
-- measured against it); {} if none is pending; or, held back, { -1, why,
-- ms to wait } with why "paused", "capped" (wait for a wake-up on the
-- freed list) or "rate" (come back in that many ms: the turns of waiting
-- workers are spread one start apart, so each wake-up finds a start).
-- A group key that holds what is not a list keeps its token and, when
-- nothing else could be claimed, is named in an error reply.
-- Every key is checked first: the jobs taken from pending must reach
-- inflight, and INCR must not fail after RPOP.
local bad = hw_check({ KEYS[1], 'list', KEYS[2], 'zset', KEYS[3], 'counter', KEYS[4], 'hash', KEYS[6], 'zset',
  KEYS[7], 'hash', KEYS[8], 'zset' })
if bad then return bad end
local n = tonumber(ARGV[1])
local now
local flow = redis.call('HMGET', KEYS[4], 'paused', 'cap', 'interval', 'burst', 'tat', 'turn', 'events')
local interval, tat, base
if flow[1] or flow[2] or flow[3] then
  -- Anything but absent or "0" counts as paused: a damaged flag stops
  -- claims rather than lifting a pause. The open list must then be empty,
  -- or paused workers would not wait on it.
  if flow[1] and flow[1] ~= '0' then
    redis.call('DEL', KEYS[5])
    return { -1, 'paused', 0 }
  end
  local cap, interval_, burst, tat_, turn
  cap, bad = hw_flow_setting(KEYS[4], 'cap', flow[2])
  if bad then return bad end
  interval_, bad = hw_flow_setting(KEYS[4], 'interval', flow[3])
  if bad then return bad end
  if interval_ == 0 then
    return hw_fix('ERR', KEYS[4], 'has a field interval of 0 (set the limits again with hworker-lua limit)')
  end
  burst, bad = hw_flow_setting(KEYS[4], 'burst', flow[4])
  if bad then return bad end
  tat_, bad = hw_flow_setting(KEYS[4], 'tat', flow[5])
  if bad then return bad end
  turn, bad = hw_flow_setting(KEYS[4], 'turn', flow[6])
  if bad then return bad end
  if cap then
    -- Expired leases still count: a dead worker's slot comes back when a
    -- monitor recovers its job. One job per claim, so a worker does not
    -- sit on slots with jobs it has not started.
    if redis.call('ZCARD', KEYS[2]) >= cap then return { -1, 'capped', 0 } end
    n = 1
  end
  if interval_ then
    -- GCRA: a start is allowed when the theoretical arrival time, less the
    -- burst's tolerance, is not after now. Nothing pending spends nothing.
    if redis.call('LLEN', KEYS[1]) == 0 and redis.call('ZCARD', KEYS[6]) == 0 then return {} end
    now = hw_now_ms()
    interval = interval_
    tat = tat_ or 0
    base = math.max(tat, now)
    local tolerance = (burst or 0) * interval
    local allowed = math.floor((now + tolerance - base) / interval) + 1
    if allowed < 1 then
      local horizon = tonumber(ARGV[4])
      if horizon < 0 then return { -1, 'rate', 0 } end
      local at = math.max(turn or 0, base - tolerance)
      if at - now <= horizon then
        redis.call('HSET', KEYS[4], 'turn', string.format('%.3f', at + interval))
      else
        at = now + horizon
      end
      return { -1, 'rate', math.ceil(at - now) }
    end
    if allowed < n then n = allowed end
  end
end
-- Jobs with a priority first, highest level first; then pending, whose
-- doorbells (scripts/lib/priority.lua) are dropped and whose group tokens
-- (scripts/lib/groups.lua) each give one job of their group. A token put
-- back goes behind the others, so pending is popped again, round after
-- round, until the batch is full: each round gives every group with work
-- one job. A round that gives none ends it (what was left were parked
-- groups' tokens or doorbells), and a call pops at most 2 n elements.
local envelopes = {}
local urgent = redis.call('ZPOPMIN', KEYS[6], n)
for i = 1, #urgent, 2 do envelopes[#envelopes + 1] = urgent[i] end
local budget, damaged, deltas = 2 * n, nil, { tokens = 0, waiting = 0 }
while #envelopes < n and budget > 0 do
  local before = #envelopes
  local popped = redis.call('RPOP', KEYS[1], math.min(n - #envelopes, budget)) or {}
  budget = budget - #popped
  for _, e in ipairs(popped) do
    local first = string.byte(e, 1) or 2 -- an empty element is a (broken) job
    if first > 1 then
      envelopes[#envelopes + 1] = e
    elseif first == 1 then
      local job, bad_key = hw_group_take(KEYS[1], KEYS[7], KEYS[8], string.sub(e, 2), deltas)
      envelopes[#envelopes + 1] = job
      damaged = damaged or bad_key
    elseif e ~= hw_doorbell then
      envelopes[#envelopes + 1] = e
    end
  end
  if #envelopes == before then break end
end
hw_group_add_deltas(KEYS[7], deltas)
if #envelopes == 0 then
  if damaged then return hw_fix('WRONGTYPE', damaged, 'is not a list (a group\'s jobs)') end
  return {}
end
now = now or hw_now_ms()
if interval then
  redis.call('HSET', KEYS[4], 'tat', string.format('%.3f', base + #envelopes * interval))
end
local expiry = hw_int(now + tonumber(ARGV[2]))
local batch = redis.call('INCR', KEYS[3])
local prefix = hw_int(batch) .. '.'
local holder = '|' .. ARGV[3] .. '|'
local args, claims = {}, {}
for i, envelope in ipairs(envelopes) do
  local claim = prefix .. i .. holder .. envelope
  claims[i] = claim
  args[2 * i - 1] = expiry
  args[2 * i] = claim
end
hw_push('ZADD', KEYS[2], args)
local events_cap = hw_events_cap_of(flow[7])
if events_cap then
  for _, envelope in ipairs(envelopes) do hw_event(KEYS[9], events_cap, 'started', envelope, { 'worker', ARGV[3] }) end
end
claims[#claims + 1] = now
return claims
