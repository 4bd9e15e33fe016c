-- drop_groups: deletes the lists of a shard's groups with waiting jobs (the
-- groups hash names them), before the queue's own keys are deleted.
-- KEYS[1] groups (hash)
-- Returns the number of lists deleted. O(groups): an operator's deletion.
-- A groups key that is no hash names no list: the deletion goes on.
if redis.call('TYPE', KEYS[1]).ok ~= 'hash' then return 0 end
local n = 0
for _, field in ipairs(redis.call('HKEYS', KEYS[1])) do
  if string.sub(field, 1, 2) == 's:' then
    n = n + redis.call('DEL', hw_group_key(KEYS[1], string.sub(field, 3)))
  end
end
return n
