-- Job file for spec/stuck_spec.lua: {"block": seconds} calls the host's
-- blocking C function (spec/c/stuck_host.c); then {"after": what} calls
-- hworker.queue (on t.runs), hworker.log or host.note, each of which must
-- raise instead of acting if the block outlasted the time limit. Any other
-- job succeeds.
function job(state, t)
  if t.block then host.block(t.block) end
  if t.after == "queue" then hworker.queue(t.runs, { n = t.n }) end
  if t.after == "log" then hworker.log("error", "late call " .. t.n) end
  if t.after == "host" then host.note("late call " .. t.n) end
end
