-- Job file for spec/stuck_spec.lua: {"block": seconds} calls the host's
-- blocking C function (spec/c/stuck_host.c); any other job succeeds.
function job(state, t)
  if t.block then host.block(t.block) end
end
