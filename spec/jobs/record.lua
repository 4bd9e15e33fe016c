-- The specs' job file. Every run is recorded as a job on the queue named by
-- config.runs (nobody works that queue, so the runs stay listed there), then
-- the job does what its fields ask.
function init(config)
  return { runs = config.runs }
end

function job(state, t, meta)
  if state.runs then
    hworker.queue(state.runs, { id = meta.id, n = t.n, attempt = meta.attempt, recoveries = meta.recoveries,
      due_at = meta.due_at, enqueued_at = meta.enqueued_at, claimed_at = meta.claimed_at })
  end
  if t.sleep then hworker.sleep(t.sleep) end
  -- A second record when the job ends, for specs that count the jobs
  -- running at once.
  if state.runs and t.record_end then hworker.queue(state.runs, { id = meta.id, n = t.n, phase = "end" }) end
  if t.spin then
    local stop = hworker.now() + t.spin * 1000
    while hworker.now() < stop do end
  end
  if t.retry_until and meta.attempt < t.retry_until then
    return hworker.retry("not yet: attempt " .. meta.attempt, t.retry_delay and { delay = t.retry_delay } or nil)
  end
  if t.error_until and meta.attempt < t.error_until then error("boom on attempt " .. meta.attempt) end
  if t.fail then return hworker.failure(t.fail) end
  if t.error then error(t.error) end
end
