#!/usr/bin/env bash
# The quick start's demo: hworker-lua enqueues jobs, runs them on
# examples/jobs/greet.lua, and stops cleanly on SIGTERM.
# usage: examples/demo.sh REDIS_URL   (run from the repository, after a build)
set -euo pipefail
export HWORKER_REDIS=$1
hw=build/hworker-lua

$hw destroy demo --yes >/dev/null
for name in Ada Grace Edsger Barbara Ken Dennis Margaret Alan Donald Frances; do
  flaky=false
  case $name in Barbara|Alan) flaky=true ;; esac
  printf '{"name":"%s","flaky":%s}\n' "$name" "$flaky"
done | $hw queue demo >/dev/null
$hw queue demo '{"nobody":true}' >/dev/null
echo "demo: enqueued 11 jobs on queue 'demo'; starting hworker-lua run"

$hw run examples/jobs/greet.lua --name demo --threads 2 --config '{"greeting":"Hello"}' &
runner=$!

# Wait (at most 30 s) until every job succeeded or failed.
done_jobs() {
  $hw stats demo --json | luajit -e 'local s = require("cjson").decode(io.read("*a"))
    io.write(s.counters.succeeded + s.failed)'
}
for _ in $(seq 300); do
  [[ $(done_jobs) == 11 ]] && break
  sleep 0.1
done

kill -TERM "$runner"
wait "$runner"
echo "demo: hworker-lua run stopped; the queue now:"
$hw stats demo
echo "demo: failed jobs:"
$hw failed demo
$hw destroy demo --yes >/dev/null
