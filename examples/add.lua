-- Job file for examples/host.c: adds each job's n to the host's counter.
function job(state, t, meta)
  host.add(t.n)
end
