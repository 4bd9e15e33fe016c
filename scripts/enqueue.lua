-- enqueue: adds jobs to the queue in one atomic step.
-- KEYS[1] pending   (list)
-- KEYS[2] scheduled (zset, score = due time in ms)
-- KEYS[3] stats     (hash)
-- ARGV[1] delay in ms: 0 puts the jobs in pending, more schedules them
-- ARGV[2..] triples: job id, options ("" for none; reserved), job JSON
-- Returns the number of jobs added.
local now = hw_now_ms()
local delay = tonumber(ARGV[1]) or 0
local envelopes = {}
for i = 2, #ARGV, 3 do
  envelopes[#envelopes + 1] = '{"v":1,"id":"' .. ARGV[i] .. '","at":0,"rc":0,"eq":' .. hw_int(now) .. '}\n' .. ARGV[i + 2]
end
if delay > 0 then
  local due = hw_int(now + delay)
  local args = {}
  for i, e in ipairs(envelopes) do args[2 * i - 1] = due; args[2 * i] = e end
  hw_push('ZADD', KEYS[2], args)
else
  hw_push('LPUSH', KEYS[1], envelopes)
end
hw_count(KEYS[3], { enqueued = #envelopes })
return #envelopes
