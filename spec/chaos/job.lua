-- The chaos test's job file. Each run records itself, with the chaos
-- sequence number and the job's id, on the queue named by config.runs (no
-- worker takes from it), through hworker.queue: the one capability the
-- strict sandbox grants for writing to Redis. A short wait keeps jobs in
-- flight, so kill -9 and SIGSTOP catch runners mid-job.
function init(config)
  return { runs = assert(config.runs, "config.runs: the queue that records runs") }
end

function job(state, t, meta)
  hworker.queue(state.runs, { n = t.n, id = meta.id })
  if t.wait and t.wait > 0 then hworker.sleep(t.wait) end
end
