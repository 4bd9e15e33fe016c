-- Priorities (docs/flow-control.md). A job enqueued with a priority from 1
-- to 9 carries "p" in its header and waits in the shard's `urgent` sorted
-- set instead of `pending`: higher levels first, FIFO within a level (the
-- score is the level's base plus a sequence number from `seq`). Claims take
-- from `urgent` before `pending`. Idle workers block on `pending`, so a job
-- put in `urgent` while `pending` is empty also pushes a doorbell there: an
-- element that is not a job, which wakes them and which claims drop.
local hw_doorbell = '\0'

-- An envelope's priority, 1 to 9, or nil for none (0). String work only:
-- the header is decoded nowhere on this path.
local function hw_priority_of(envelope)
  if not hw_header_has(envelope, '"p":') then return nil end
  local p = tonumber(string.match(envelope, '"p":(%d)[,}]'))
  if p and p >= 1 then return p end
  return nil
end

-- 2^43 apart: room for 8.8e12 sequence numbers per level, and every score
-- exact in a double.
local function hw_urgent_score(level, n)
  return (10 - level) * 8796093022208 + n
end

-- Adds scored envelopes (score, envelope, ...) to `urgent`, with a
-- doorbell onto an empty `pending`. Returns how many were already there
-- byte for byte (the same job sent twice: it stays one entry).
local function hw_push_urgent(pending, urgent, scored)
  local added = hw_push('ZADD', urgent, scored)
  if redis.call('LLEN', pending) == 0 then redis.call('LPUSH', pending, hw_doorbell) end
  return #scored / 2 - added
end

-- Puts envelopes where they wait to be claimed: those of a group into its
-- list (scripts/lib/groups.lua), those with a priority into `urgent` (at
-- the back of their level, or at its front when `cmd` is RPUSH: handed back
-- or recovered), the others onto `pending` with `cmd` (LPUSH: the back;
-- RPUSH: the front). A doorbell stays at the front: one there goes before
-- jobs are pushed in front of it (they wake the workers themselves).
-- Returns how many envelopes with a priority were already in `urgent`.
-- The caller has checked the groups' lists (hw_check_groups). O(envelopes).
local function hw_push_waiting(pending, urgent, seq, groups, envelopes, cmd)
  local plain, scored, grouped, names = {}, {}, {}, {}
  for _, e in ipairs(envelopes) do
    local g = hw_group_of(e)
    local p = not g and hw_priority_of(e)
    if g then
      if not grouped[g] then
        grouped[g] = {}
        names[#names + 1] = g
      end
      grouped[g][#grouped[g] + 1] = e
    elseif p then
      scored[#scored + 1] = hw_urgent_score(p, cmd == 'LPUSH' and redis.call('INCR', seq) or 0)
      scored[#scored + 1] = e
    else
      plain[#plain + 1] = e
    end
  end
  if #plain > 0 then
    if cmd == 'RPUSH' and redis.call('LINDEX', pending, -1) == hw_doorbell then redis.call('RPOP', pending) end
    hw_push(cmd, pending, plain)
  end
  for _, g in ipairs(names) do hw_group_push(pending, groups, g, grouped[g], cmd) end
  if #scored == 0 then return 0 end
  return hw_push_urgent(pending, urgent, scored)
end
