-- Events (docs/operations.md, "Events"): an opt-in stream of job state
-- changes per shard, `hw:{q}:events`, capped at about `events` entries
-- (the shard's flow hash field, set by scripts/events_set.lua; absent: off).
-- Each entry: event (enqueued, started, succeeded, retried, failed, broken,
-- recovered, handed_back, cancelled, deleted, requeued), id (the job's id), attempt,
-- and as they apply worker, reason (at most 512 bytes), delay_ms, due (a
-- delayed enqueue's due time, ms) and recoveries. The
-- entry's stream id is its Redis time. An event never holds up the change
-- it tells of: XADD goes through redis.pcall, so a damaged events key only
-- loses events.

-- The events cap a flow hash's "events" field holds, or nil (off).
local function hw_events_cap_of(text)
  local cap = tonumber(text)
  if cap == nil or cap ~= cap or cap < 1 or cap == math.huge then return nil end
  return math.floor(cap)
end

-- The shard's events cap, or nil when events are off. One HGET per call.
local function hw_events_cap(flow)
  return hw_events_cap_of(redis.call('HGET', flow, 'events'))
end

-- The job id in an envelope's header: the plain form hworker writes, else
-- the decoded header's, else "".
local function hw_job_id(envelope)
  local id = string.match(envelope, '^{"v":1,"id":"([^"\\]*)"')
  if id then return id end
  local nl = string.find(envelope, '\n', 1, true)
  local ok, header = pcall(cjson.decode, string.sub(envelope, 1, (nl or 0) - 1))
  if ok and type(header) == 'table' and type(header.id) == 'string' then return header.id end
  return ''
end

-- A reason cut to 512 bytes, at a character boundary.
local function hw_event_reason(reason)
  if #reason <= 512 then return reason end
  local cut = 512
  while cut > 0 and string.byte(reason, cut + 1) and string.byte(reason, cut + 1) >= 128
    and string.byte(reason, cut + 1) < 192 do
    cut = cut - 1
  end
  return string.sub(reason, 1, cut)
end

-- Adds one event about the job of `envelope` (its id, and its attempt: 1 +
-- the header's "at"); `fields` is a flat list of more names and values.
local function hw_event(stream, cap, event, envelope, fields)
  local header = string.match(envelope, '^[^\n]*')
  local attempt = (tonumber(string.match(header, '"at":(%d+)')) or 0) + 1
  local args = { 'XADD', stream, 'MAXLEN', '~', cap, '*', 'event', event, 'id', hw_job_id(envelope), 'attempt',
    hw_int(attempt) }
  if fields then
    for _, v in ipairs(fields) do args[#args + 1] = v end
  end
  redis.pcall(unpack(args))
end
