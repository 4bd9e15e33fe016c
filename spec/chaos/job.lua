-- The chaos test's job file. Each run records itself twice, with the chaos
-- sequence number and the job's id, on the queue named by config.runs (no
-- worker takes from it): "start" as its first act and "end" as its last.
-- hworker.queue is the one capability the strict sandbox grants for writing
-- to Redis, and it writes at once, so a record survives the runner being
-- killed right after; a record that cannot be written raises, and the job
-- runs again. The driver counts an acknowledged job as lost when no run of
-- it reached "end". A short wait keeps jobs in flight, so kill -9 and
-- SIGSTOP catch runners mid-job.
--
-- config.fault (from HWORKER_CHAOS_FAULT, see chaos.lua) breaks a run on
-- purpose, to prove the driver's checks fail:
--   never_finish      every tenth job returns before its "end" record, as if
--                     the engine acknowledged a job cut short
--   sanitizer_report  each worker's Lua state logs one line that reads as an
--                     UndefinedBehaviorSanitizer report ("runtime error:")
function init(config)
  return { runs = assert(config.runs, "config.runs: the queue that records runs"), fault = config.fault }
end

function job(state, t, meta)
  hworker.queue(state.runs, { n = t.n, id = meta.id, at = "start" })
  if t.wait and t.wait > 0 then hworker.sleep(t.wait) end
  if state.fault == "never_finish" and t.n % 10 == 0 then return end
  if state.fault == "sanitizer_report" and not state.reported then
    state.reported = true
    hworker.log("error", "runtime error: a fake report, injected by HWORKER_CHAOS_FAULT=sanitizer_report")
  end
  hworker.queue(state.runs, { n = t.n, id = meta.id, at = "end" })
end
