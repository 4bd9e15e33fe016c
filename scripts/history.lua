-- history: a queue shard's timing totals and its history buckets, as
-- finish.lua keeps them. Paged inspection: it reads each bucket asked for.
-- KEYS[1] timings (hash); the buckets are hw:{q}:history:<m|h>:<index>
--         beside it (finish.lua)
-- ARGV[1] "m" for minutes or "h" for hours, ARGV[2] how many buckets back
-- from the current one, which counts (0: none, for the totals alone)
-- Returns { Redis's clock (ms), the totals' fields and values, then for
-- each bucket that holds anything: its index (minutes or hours since the
-- epoch) and its fields and values }. It writes nothing; a key that holds
-- something else reads as empty.
local now = hw_now_ms()
local unit = ARGV[1] == 'h' and 3600000 or 60000
local current = math.floor(now / unit)
local prefix = string.sub(KEYS[1], 1, -8) .. 'history:' .. (ARGV[1] == 'h' and 'h' or 'm') .. ':'
local function fields(key)
  local got = redis.pcall('HGETALL', key)
  if type(got) ~= 'table' or got.err then return {} end
  return got
end
local out = { hw_int(now), fields(KEYS[1]) }
for index = current - (tonumber(ARGV[2]) or 0) + 1, current do
  local got = fields(prefix .. hw_int(index))
  if #got > 0 then
    out[#out + 1] = hw_int(index)
    out[#out + 1] = got
  end
end
return out
