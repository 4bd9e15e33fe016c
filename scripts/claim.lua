-- claim: takes up to N jobs from the front of pending and leases them to the
-- caller. Each claim gets a fresh token, so every execution of a job is a
-- distinct inflight member (the fencing token of docs/design.md invariant 2).
-- KEYS[1] pending  (list; the front is the right end)
-- KEYS[2] inflight (zset, score = lease expiry in ms)
-- KEYS[3] seq      (string counter for claim tokens)
-- ARGV[1] most jobs to take (1..1000)
-- ARGV[2] lease duration in ms
-- ARGV[3] holder: who claims (host:pid:thread), no '|'
-- Returns the claims ("token|holder|envelope"), oldest job first, then
-- Redis's clock in ms (an integer: how late a job that waited started is
-- measured against it); {} if none.
-- Every key is checked first: the jobs taken from pending must reach
-- inflight, and INCR must not fail after RPOP.
local bad = hw_check({ KEYS[1], 'list', KEYS[2], 'zset', KEYS[3], 'counter' })
if bad then return bad end
local envelopes = redis.call('RPOP', KEYS[1], ARGV[1])
if not envelopes then return {} end
local now = hw_now_ms()
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
claims[#claims + 1] = now
return claims
