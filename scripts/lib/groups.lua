-- Groups (docs/flow-control.md). A job enqueued with a group key carries
-- "g" in its header and waits in its group's own list, hw:{q}:g:<group>
-- (front at the right end, as pending). While a group has waiting jobs and
-- room to start one, pending holds one token for it: "\1" and the group's
-- name. A claim that takes a token takes the group's next job and, if the
-- group has more and is under its cap, puts the token back at the back of
-- pending: groups with work take turns, one job each, whatever their sizes.
-- A group at its cap is parked (its token leaves pending) until one of its
-- jobs leaves inflight; a group over its rate waits in the shard's
-- `group_due` sorted set until its next start is allowed, when a monitor
-- (scripts/recover.lua) puts its token back. The shard's `groups` hash
-- holds, per group G:
--   s:G  "t" while G's token is in pending, "p" while G is parked at its
--        cap, "w" while it waits in group_due
--   r:G  G's jobs in flight (absent: none)
--   t:G  G's rate limiter state (GCRA's theoretical arrival time, ms)
--   c:G, i:G, b:G  G's own cap, ms between starts, burst; n:G, p:G its rate
--        as given (starts per period ms), for display
-- with c:*, i:*, b:*, n:*, p:* for every group without its own, and, for
-- stats, `waiting` (jobs in group lists) and `tokens` (in pending). The
-- counts are state, not settings: a damaged one reads as 0 and heals.
local hw_token_mark = '\1'

-- The list of group `name`, next to the shard's `groups` hash.
local function hw_group_key(groups, name)
  return string.sub(groups, 1, -7) .. 'g:' .. name
end

-- The group of an envelope or a claim, or nil. Its name is checked on
-- enqueue (no '"' or '\'), so the header's first "g" is the whole name.
local function hw_group_of(text)
  if not hw_header_has(text, '"g":') then return nil end
  return string.match(text, '"g":"([^"]*)"')
end

-- A number kept in the groups hash, or `default` when it is absent or not
-- a finite number >= 0.
local function hw_group_number(text, default)
  local n = tonumber(text)
  if n == nil or n ~= n or n < 0 or n == math.huge then return default end
  return n
end

local function hw_group_count(groups, field)
  return math.floor(hw_group_number(redis.call('HGET', groups, field), 0))
end

-- Adds delta to a count and returns the new value; a count of 0 is deleted,
-- so a hash with 100,000 idle groups holds no field for them.
local function hw_group_add(groups, field, delta)
  local n = hw_group_count(groups, field) + delta
  if n > 0 then redis.call('HSET', groups, field, n) else redis.call('HDEL', groups, field) end
  return n
end

-- The group's cap, its own else every group's, else nil (none); then its
-- ms between starts and its burst, likewise (nil, 0 without a rate); then
-- its jobs in flight. One HMGET. A damaged setting holds the group back
-- without stopping it: a cap reads as 1, a rate as one start a second, a
-- burst as 0.
local function hw_group_limits(groups, name)
  local v = redis.call('HMGET', groups, 'c:' .. name, 'c:*', 'i:' .. name, 'i:*', 'b:' .. name, 'b:*',
    'r:' .. name)
  local cap, interval, burst = v[1] or v[2], nil, 0
  if cap then
    cap = hw_group_number(cap, 1)
    if cap < 1 then cap = 1 end
  end
  if v[3] or v[4] then
    interval = hw_group_number(v[3] or v[4], 1000)
    if interval == 0 then interval = 1000 end
    burst = math.floor(hw_group_number(v[3] and v[5] or v[6], 0))
  end
  return cap, interval, burst, math.floor(hw_group_number(v[7], 0))
end

local function hw_group_cap(groups, name)
  return (hw_group_limits(groups, name))
end


-- Puts the group's token at the back of pending.
local function hw_group_queue_token(pending, groups, name)
  redis.call('HSET', groups, 's:' .. name, 't')
  hw_group_add(groups, 'tokens', 1)
  redis.call('LPUSH', pending, hw_token_mark .. name)
end

-- After jobs were added to a group's list: its token goes into pending
-- unless it is there already, the group is parked at its cap, or it waits
-- for its rate (a monitor brings its token back).
local function hw_group_wake(pending, groups, name)
  local state = redis.call('HGET', groups, 's:' .. name)
  if state == 't' or state == 'w' then return end
  if state == 'p' then
    local cap = hw_group_cap(groups, name)
    if cap and hw_group_count(groups, 'r:' .. name) >= cap then return end
  end
  hw_group_queue_token(pending, groups, name)
end

-- Adds envelopes of one group to its list (LPUSH: at the back; RPUSH: at
-- the front) and wakes the group.
local function hw_group_push(pending, groups, name, envelopes, cmd)
  hw_push(cmd, hw_group_key(groups, name), envelopes)
  hw_group_add(groups, 'waiting', #envelopes)
  hw_group_wake(pending, groups, name)
end

-- A claim took the token of group `name` from pending: returns the group's
-- next job, or nil (the group is at its cap and is parked, or has no job).
-- What it changes in the counts `tokens` and `waiting` is added to
-- `deltas`, for the claim to write once (hw_group_add_deltas).
-- The token goes back to the back of pending while the group has more
-- jobs and room for them. A group key that holds something else (damaged)
-- is left as it is and keeps its token: nil and the key are returned, for
-- the claim to name it, and the group's jobs wait there until it is fixed.
local function hw_group_take(pending, groups, due, name, deltas)
  local key = hw_group_key(groups, name)
  local have = redis.call('TYPE', key).ok
  if have ~= 'list' and have ~= 'none' then
    redis.call('LPUSH', pending, hw_token_mark .. name)
    return nil, key
  end
  deltas.tokens = deltas.tokens - 1
  if have == 'none' then
    redis.call('HDEL', groups, 's:' .. name)
    return nil
  end
  local cap, interval, burst, running = hw_group_limits(groups, name)
  if cap and running >= cap then
    redis.call('HSET', groups, 's:' .. name, 'p')
    return nil
  end
  if interval then
    -- GCRA, as the queue's rate (scripts/claim.lua), one job at a time.
    local now = hw_now_ms()
    local tat = math.max(hw_group_number(redis.call('HGET', groups, 't:' .. name), 0), now)
    local at = tat - burst * interval
    if at > now then
      local first = hw_first_due(due)
      redis.call('HSET', groups, 's:' .. name, 'w')
      redis.call('ZADD', due, string.format('%.3f', at), name)
      if not first or at < first then hw_wake_monitors(string.sub(groups, 1, -7) .. 'scheduled', at - now) end
      return nil
    end
    redis.call('HSET', groups, 't:' .. name, string.format('%.3f', tat + interval))
  end
  local job = redis.call('RPOP', key)
  deltas.waiting = deltas.waiting - 1
  running = running + 1
  redis.call('HSET', groups, 'r:' .. name, running)
  if redis.call('EXISTS', key) == 0 then
    redis.call('HDEL', groups, 's:' .. name)
  elseif cap and running >= cap then
    redis.call('HSET', groups, 's:' .. name, 'p')
  else
    deltas.tokens = deltas.tokens + 1
    redis.call('LPUSH', pending, hw_token_mark .. name)
  end
  return job
end

-- Writes what a claim's takes changed in the counts (hw_group_take).
local function hw_group_add_deltas(groups, deltas)
  if deltas.tokens ~= 0 then hw_group_add(groups, 'tokens', deltas.tokens) end
  if deltas.waiting ~= 0 then hw_group_add(groups, 'waiting', deltas.waiting) end
end

-- Counts a claim of group `name` (nil: none) that just left inflight.
local function hw_group_tally(tally, name)
  if name then tally[name] = (tally[name] or 0) + 1 end
end

-- After claims left inflight (`tally`: group -> how many): their groups'
-- running counts drop, and a parked group with jobs and room again gets its
-- token back.
local function hw_group_release(pending, groups, tally)
  for name, n in pairs(tally) do
    local running = hw_group_add(groups, 'r:' .. name, -n)
    if redis.call('HGET', groups, 's:' .. name) == 'p' then
      local cap = hw_group_cap(groups, name)
      -- Redis deletes an empty list; a damaged key is no list either.
      if redis.call('TYPE', hw_group_key(groups, name)).ok ~= 'list' then
        redis.call('HDEL', groups, 's:' .. name)
      elseif not cap or running < cap then
        hw_group_queue_token(pending, groups, name)
      end
    end
  end
end

-- A monitor's sweep: the groups whose next start is now allowed get their
-- tokens back (at most `limit`). Returns how many.
local function hw_group_due(pending, groups, due, now, limit)
  local names = redis.call('ZRANGEBYSCORE', due, '-inf', now, 'LIMIT', 0, limit)
  if #names == 0 then return 0 end
  hw_push('ZREM', due, names)
  for _, name in ipairs(names) do
    if redis.call('HGET', groups, 's:' .. name) == 'w' then
      if redis.call('TYPE', hw_group_key(groups, name)).ok == 'list' then
        hw_group_queue_token(pending, groups, name)
      else
        redis.call('HDEL', groups, 's:' .. name)
      end
    end
  end
  return #names
end

-- Checks, before a script's first write, the list of each group that
-- `texts` (envelopes or claims) would go back to: a WRONGTYPE half-way
-- would lose a job. `first` and `step` (default 1) pick the texts to look
-- at. Returns nil or the error reply naming the key, and the group of each
-- text (names[i], nil for none), found once for the caller.
local function hw_check_groups(groups, texts, first, step)
  local names = {}
  for i = first or 1, #texts, step or 1 do
    local name = hw_group_of(texts[i])
    if name then
      names[i] = name
      local key = hw_group_key(groups, name)
      local have = redis.call('TYPE', key).ok
      if have ~= 'none' and have ~= 'list' then
        return hw_fix('WRONGTYPE', key, 'holds a ' .. have .. ', not a list'), names
      end
    end
  end
  return nil, names
end
