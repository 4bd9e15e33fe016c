-- forget: deletes failed or broken records, by record id or job id, or all.
-- KEYS[1] the records list (failed or broken)
-- ARGV[1] "all" to take every record, "ids" to take those named
-- ARGV[2..] record ids or job ids
-- Returns the number of records deleted.
-- The list is checked first, for an error that names it.
local bad = hw_check({ KEYS[1], 'list' })
if bad then return bad end
local ids = {}
for i = 2, #ARGV do ids[#ids + 1] = ARGV[i] end
local picked = hw_select_records(KEYS[1], ARGV[1] == 'all', ids)
hw_remove_records(KEYS[1], picked)
return #picked
