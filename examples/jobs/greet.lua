-- An example job file. init(config) makes the state every job of this worker
-- shares; job(state, t, meta) handles one job. A flaky job asks for a retry
-- on its first attempt; a job without a name fails.
function init(config)
  return { greeting = config.greeting or "Hello", seen = 0 }
end

function job(state, t, meta)
  state.seen = state.seen + 1
  if t.flaky and meta.attempt == 1 then
    return hworker.retry("flaky: try again")
  end
  if not t.name then
    return hworker.failure("no name to greet")
  end
  hworker.log("info", ("%s, %s! (job %s, attempt %d)"):format(state.greeting, t.name, meta.id:sub(1, 8), meta.attempt))
end
