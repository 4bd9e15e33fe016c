-- The sandbox specs' job file: runs t.code (Lua text) with the job's fields
-- in the global T, and records {name, ok, result} on the queue config.runs.
-- The code runs in the job's own sandbox, exactly as handler code would.
function init(config)
  return { runs = config.runs }
end

function job(state, t)
  T = t
  local chunk, err = load(t.code, "=probe")
  local ok, result
  if chunk then ok, result = pcall(chunk) else ok, result = false, err end
  hworker.queue(state.runs, { name = t.name, ok = ok, result = tostring(result) })
end
