-- drop_history: deletes a queue shard's history buckets (hworker_delete_queue
-- deletes the totals with its other keys): every minute and hour bucket
-- that can still exist. O(the buckets kept), for an operator's rare call.
-- KEYS[1] timings (hash); the buckets are beside it (finish.lua)
-- ARGV[1] minute buckets kept, ARGV[2] hour buckets kept
-- Returns the number of buckets deleted.
local now = hw_now_ms()
local prefix = string.sub(KEYS[1], 1, -8) .. 'history:'
local deleted = 0
for _, kept in ipairs({ { 'm', 60000, tonumber(ARGV[1]) }, { 'h', 3600000, tonumber(ARGV[2]) } }) do
  local current = math.floor(now / kept[2])
  local names = {}
  -- One bucket more than kept: its key may not have expired yet.
  for index = current - kept[3] - 1, current do
    names[#names + 1] = prefix .. kept[1] .. ':' .. hw_int(index)
    if #names == 1000 then
      deleted = deleted + redis.call('DEL', unpack(names))
      names = {}
    end
  end
  if #names > 0 then deleted = deleted + redis.call('DEL', unpack(names)) end
end
return deleted
