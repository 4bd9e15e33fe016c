/* Every --help text. docs/cli.md holds the same texts; spec/cli_spec.lua
 * checks that each `hworker-lua CMD --help` prints exactly its section. */
#include <string.h>

#include "buf.h"
#include "cli.h"
#include "options.h"

/* Flag lines several commands share. */
#define FLAGS_REDIS                                 \
    "  --redis URL                 Redis address\n" \
    "  --redis-password-file FILE  the password: FILE's first line\n"
#define FLAG_SHARDS "  --shards S                  the queue is spread over S key sets (default 1)\n"
#define FLAGS_RECORDS                                       \
    "  --failed                    act on failed records\n" \
    "  --broken                    act on broken records\n" \
    "  --all                       every record\n" FLAG_SHARDS

const char *const cli_help_main =
    "usage: hworker-lua COMMAND [ARGS] [--help]\n"
    "\n"
    "Run Lua job handlers on an at-least-once Redis queue, and operate it.\n"
    "\n"
    "commands:\n"
    "  run JOBFILE --name NAME    run workers and monitors until SIGINT/SIGTERM\n"
    "  queue NAME [JSON ...]      enqueue jobs (JSON lines from stdin without JSON arguments)\n"
    "  jobs NAME                  list pending jobs, newest first\n"
    "  inflight NAME              list claimed jobs: holder, lease expiry, running or not\n"
    "  scheduled NAME             list jobs waiting for their time\n"
    "  failed NAME                list failed jobs with reason and time\n"
    "  broken NAME                list undecodable payloads with reason and time\n"
    "  stats NAME                 sizes and counters of a queue\n"
    "  requeue NAME               move failed or broken jobs back to pending\n"
    "  delete NAME                delete failed or broken records, or waiting jobs by id\n"
    "  cancel NAME ID ...         cancel jobs: remove waiting ones, stop running ones\n"
    "  run-now NAME ID ...        move waiting jobs to the front of their line\n"
    "  events NAME                a queue's job events; --follow for new ones\n"
    "  destroy NAME --yes         delete every key of a queue\n"
    "  debug NAME                 log pending and in-flight jobs every interval\n"
    "  check                      check the Redis settings at-least-once needs\n"
    "  options                    the settings run and hworker.open take\n"
    "  cron ACTION NAME ...       periodic jobs: add, ls, rm, next\n"
    "  pause NAME                 stop claims of a queue in every process\n"
    "  resume NAME                let a paused queue's jobs start again\n"
    "  limit NAME [flags]         set a queue's concurrency cap and rate limit; limit ls NAME\n"
    "  ps [NAME]                  the live processes with workers, of a queue or of all\n"
    "  queues                     every queue in use: sizes, paused, latency\n"
    "  metrics                    every queue's metrics, in the Prometheus text format\n"
    "  serve                      serve them at /metrics, and the web dashboard\n"
    "\n"
    "Every command takes --redis URL (default $HWORKER_REDIS, else $REDIS_URL,\n"
    "else redis://127.0.0.1:6379/0; also unix:///path?db=N, rediss:// for TLS,\n"
    "redis+cluster:// and redis+sentinel://; docs/connections.md). The password comes\n"
    "from --redis-password-file FILE, else $HWORKER_REDIS_PASSWORD, else the URL,\n"
    "and is never printed.\n"
    "Exit codes: 0 ok, 1 runtime failure, 2 usage error.\n"
    "hworker-lua --version (or -V) prints the version; hworker-lua help COMMAND\n"
    "is COMMAND --help.\n";

static const char *const help_options =
    "usage: hworker-lua options [flags]\n"
    "\n"
    "Prints every setting of a queue: its name in hworker.open, its flag in run,\n"
    "its field in the C API's hworker_config, its unit, default and allowed values.\n"
    "The table is docs/configuration.md.\n"
    "\n"
    "flags:\n"
    "  --json                      one JSON object per setting instead\n";

/* run's help: this head, a line per setting of core/options.c, the tail. */
static const char *const help_run_head =
    "usage: hworker-lua run JOBFILE --name NAME [flags]\n"
    "\n"
    "Runs workers on JOBFILE (a Lua file defining job(state, t, meta)) and monitors\n"
    "for queue NAME until SIGINT or SIGTERM. Then it stops gracefully: no new\n"
    "claims, running jobs get the grace period, and whatever is unfinished is\n"
    "handed back to pending at once. A second signal stops at once, still handing\n"
    "back. SIGHUP reloads JOBFILE into fresh Lua states between jobs; a file that\n"
    "fails to load leaves the old one running and the log says why.\n"
    "\n"
    "Every flag but --redis, --redis-password-file, --workers and --print-settings\n"
    "may also come from a variable, HWORKER_ and its name in capitals with _ for -\n"
    "(HWORKER_THREADS=4, HWORKER_MAX_ATTEMPTS=10), or from --config-file FILE,\n"
    "lines of `name = value` (`max_attempts = 10`, `#` starts a comment). The\n"
    "command line wins over the environment, which wins over the file.\n"
    "\n"
    "flags:\n"
    "  --name NAME                 queue name (required)\n" FLAGS_REDIS
    "  --threads N                 worker threads, or --workers N (default: number of cores)\n"
    "  --monitors N                monitor threads (default 1)\n"
    "  --config JSON|@FILE         JSON given to init(config) (default {})\n"
    "  --grace SEC                 grace period at stop (default 25)\n"
    "  --log-format text|json      log line format (default text)\n"
    "  --print-settings            print the settings as JSON and exit\n"
    "  --config-file FILE          settings and flags as `name = value` lines\n"
    "\n"
    "settings (the same names, with _ for -, in hworker.open; docs/configuration.md):\n";

static const char *const help_run_tail =
    "\n"
    "strict: no io, os (but time and date), ffi, debug, jit, C modules or bytecode;\n"
    "the JIT is off, so the time limit stops any loop.\n"
    "trusted: for handlers you wrote yourself that need the Lua ecosystem: the\n"
    "whole standard library, require of Lua and C modules, ffi, and the JIT on.\n"
    "What it gives up: the time limit cannot stop a loop the JIT compiled, and job\n"
    "code can do anything the process can. The lease still protects the queue.\n"
    "\n"
    "On a terminal a status line shows jobs/s, processed, pending, in flight, failed\n"
    "and recovered; into a pipe or file only log lines are written.\n";

/* "--lease SEC": the flag and what it takes. */
static void setting_flag(const hw_option *o, hw_buf *out)
{
    static const char *const metavar[] = {
        [HW_OPT_SECONDS] = "SEC", [HW_OPT_NUMBER] = "X", [HW_OPT_INT] = "N", [HW_OPT_LONG] = "N", [HW_OPT_MIB] = "MIB"};
    hw_buf_adds(out, "--");
    for (const char *c = o->name; *c; c++) hw_buf_add(out, *c == '_' ? "-" : c, 1);
    hw_buf_adds(out, " ");
    if (o->kind != HW_OPT_CHOICE) {
        hw_buf_adds(out, metavar[o->kind]);
        return;
    }
    for (size_t i = 0; o->choices[i]; i++) hw_buf_addf(out, "%s%s", i ? "|" : "", o->choices[i]);
}

static void add_setting_lines(hw_buf *out)
{
    for (const hw_option *o = hw_options; o->name; o++) {
        hw_buf flag = {0};
        setting_flag(o, &flag);
        char def[64];
        hw_option_format(o, o->def, def, sizeof def);
        /* The help column starts at 30, as in the lines above. */
        hw_buf_addf(out, "  %-26s  %s (default %s)\n", flag.data, o->help, def);
        hw_buf_free(&flag);
    }
}

static const char *const help_queue =
    "usage: hworker-lua queue NAME [JSON ... | -] [flags]\n"
    "\n"
    "Enqueues one job per JSON argument, all or none. Without JSON arguments (or\n"
    "with -) it reads one JSON value per line from stdin (blank lines skipped) and sends them\n"
    "in batches, each all or none. Prints one job id per line. A line that is not\n"
    "valid JSON is reported with its line and column; nothing of its batch is sent.\n"
    "\n"
    "flags:\n" FLAGS_REDIS "  --in SEC                    run the jobs SEC seconds from now\n"
    "  --at TIME                   run the jobs at an ISO 8601 time (2026-12-01T09:00:00Z)\n"
    "  --batch N                   jobs per batch from stdin (default 1000)\n"
    "  --priority P                0 (none, the default) to 9: higher levels start first,\n"
    "                              in order within a level\n"
    "  --group G                   the jobs' group (a tenant, a customer): groups with work\n"
    "                              take turns, one job each; not with --priority\n"
    "  --unique KEY                while a job with KEY is pending, scheduled or in flight,\n"
    "                              add nothing and print that job's id (one JSON argument)\n"
    "  --min-replicas N            acknowledge only once N replicas have the jobs (WAIT);\n"
    "                              fewer within 1 s is an error (the jobs may be there)\n" FLAG_SHARDS;

static const char *const help_list =
    "usage: hworker-lua jobs|inflight|scheduled|failed|broken NAME [flags]\n"
    "\n"
    "Lists one part of a queue as JSON lines, newest first. Every line has id, job\n"
    "(the job's JSON), attempt, recoveries and enqueued_at (ms since the epoch).\n"
    "jobs lists the waiting jobs without a priority, then those with one, then\n"
    "those in groups' lists, group by group (per shard on a sharded queue).\n"
    "inflight adds holder, lease_expires_at, state and started_at: state is running\n"
    "once the worker's process has reported the job started (it does so at each\n"
    "heartbeat, every third of the lease), else claimed (waiting in the worker's\n"
    "batch behind another job, or started since), and started_at is then null.\n"
    "scheduled adds due_at; failed adds reason, failed_at and record; broken has\n"
    "payload (the raw text), reason, broken_at and record, and id when the payload\n"
    "has one.\n"
    "\n"
    "flags:\n" FLAGS_REDIS "  --text                      one line of key=value fields per entry instead, times\n"
    "                              in ISO 8601 (UTC, to the millisecond), the job last\n"
    "  --json                      JSON lines (the default)\n"
    "  --limit N                   at most N entries (default 100)\n"
    "  --offset N                  skip the N newest (default 0)\n" FLAG_SHARDS;

static const char *const help_stats =
    "usage: hworker-lua stats NAME [flags]\n"
    "\n"
    "Prints the sizes (pending, inflight, scheduled, failed, broken) and the counters\n"
    "(enqueued, processed, succeeded, retried, failed, broken, recovered, lease_lost,\n"
    "handed_back, promoted, requeued, scheduled, exhausted, merged, cancelled,\n"
    "deleted) of a queue, and\n"
    "how late the last jobs that waited (scheduled or retried) started after their\n"
    "due time: p50, p99 and max in ms over the last 1,000 per shard. The latency is\n"
    "how long the job next in line has been ready to run.\n"
    "\n"
    "flags:\n" FLAGS_REDIS "  --json                      one JSON object: the sizes, latency_ms, the counters under\n"
    "                              \"counters\",\n"
    "                              lateness under \"lateness_ms\" (samples, p50, p99, max),\n"
    "                              pause and limits under \"flow\"\n"
    "  --watch SEC                 print again every SEC seconds until interrupted\n"
    "  --shards S                  the queue is spread over S key sets: sums, then one line\n"
    "                              (one \"shards\" array entry) per shard\n"
    "  --history                   print per-minute (kept 48 h) or per-hour (30 d) rows\n"
    "                              instead: the outcomes, and the p50 and p99 of wait and\n"
    "                              run time as bucket upper bounds\n"
    "  --since DURATION            how far back --history goes (90s, 30m, 6h, 7d); 1h, or\n"
    "                              24h with --period hour\n"
    "  --period minute|hour        its rows; minute unless --since is over 48h\n";

static const char *const help_pause = "usage: hworker-lua pause NAME [flags]\n"
                                      "\n"
                                      "Pauses queue NAME: no job of it starts in any process until resume.\n"
                                      "Jobs in flight finish; producers still enqueue. stats shows it paused.\n"
                                      "\n"
                                      "flags:\n" FLAGS_REDIS FLAG_SHARDS;

static const char *const help_resume = "usage: hworker-lua resume NAME [flags]\n"
                                       "\n"
                                       "Resumes paused queue NAME: its waiting workers claim again at once.\n"
                                       "\n"
                                       "flags:\n" FLAGS_REDIS FLAG_SHARDS;

static const char *const help_limit =
    "usage: hworker-lua limit NAME [--concurrency N] [--rate R] [--burst B] [flags]\n"
    "       hworker-lua limit NAME --group G [--concurrency N] [--rate R] [--burst B] [flags]\n"
    "       hworker-lua limit ls NAME [--json]\n"
    "\n"
    "Sets the limits of queue NAME, kept in Redis: every process applies them at its\n"
    "next claim, without a restart. Flags not given keep their value; 0 (or none)\n"
    "removes a limit. Prints the limits; ls only prints them. docs/flow-control.md.\n"
    "\n"
    "flags:\n" FLAGS_REDIS "  --concurrency N             at most N jobs of the queue run at once, in all processes\n"
    "  --rate R                    at most COUNT starts per PERIOD: 100/s, 6000/min, 5/10s\n"
    "  --burst B                   starts allowed at once beyond the rate after a quiet spell\n"
    "                              (default 0)\n"
    "  --group G                   the limits are group G's, each job of G counted (\"*\":\n"
    "                              every group without its own); the flags given replace\n"
    "                              G's limits, those left out are removed\n"
    "  --json                      one JSON object: paused, concurrency, rate, rate_period_ms,\n"
    "                              burst, and the same of every group: group_concurrency,\n"
    "                              group_rate, group_rate_period_ms, group_burst; and events\n"
    "                              (the events cap, 0: off)\n" FLAG_SHARDS;

static const char *const help_ps =
    "usage: hworker-lua ps [NAME] [--json]\n"
    "\n"
    "Lists the live processes with workers on queue NAME, or on every queue in the\n"
    "registry of queues: id (host:pid:tag), queue, worker threads, threads running\n"
    "a job, when its workers started, its last heartbeat (UTC), its hworker version\n"
    "and its job file; under it, a line for each job its workers run: the job's id,\n"
    "the worker and since when. Each process beats every third of its lease; one\n"
    "that stops beating drops out a lease after its last beat. docs/operations.md.\n"
    "\n"
    "flags:\n" FLAGS_REDIS "  --json                      one JSON object per process: id, host, pid, version,\n"
    "                              queue, shards, threads, busy, started_at, beat_at,\n"
    "                              expires_at (ms since the epoch), job_file, running\n"
    "                              (worker, id and started_at of each job it runs)\n";

static const char *const help_queues =
    "usage: hworker-lua queues [--json]\n"
    "\n"
    "Lists every queue in the registry of queues (each queue a producer enqueued on\n"
    "or a runner worked, until destroyed), by name: its shard count, the sizes of\n"
    "pending, in flight, scheduled, failed and broken, whether it is paused, and its\n"
    "latency: how long the job next in line has been ready to run. One stats call\n"
    "per shard of each queue; nothing scans the keyspace. docs/operations.md.\n"
    "\n"
    "flags:\n" FLAGS_REDIS "  --json                      one JSON object per queue: name, shards, pending,\n"
    "                              inflight, scheduled, failed, broken, paused, latency_ms\n";

static const char *const help_metrics =
    "usage: hworker-lua metrics\n"
    "\n"
    "Prints the metrics of every queue in the registry of queues in the Prometheus\n"
    "text format, as serve's /metrics gives them: for node_exporter's textfile\n"
    "collector (write to a temporary file, then rename it over the .prom file).\n"
    "Queue sizes, outcome counters, latency, paused, processes and busy threads,\n"
    "and the wait and run time histograms, labelled by queue (and shard where\n"
    "sharded). Exits 1 if a queue could not be read (hworker_scrape_errors counts\n"
    "them). docs/operations.md.\n"
    "\n"
    "flags:\n" FLAGS_REDIS;

static const char *const help_serve =
    "usage: hworker-lua serve [--listen HOST:PORT] [--token-file FILE] [--read-only]\n"
    "\n"
    "Serves the metrics of every queue in the registry at /metrics over HTTP (the\n"
    "text `hworker-lua metrics` prints), read afresh for each scrape, and the web\n"
    "dashboard at /: queues with their sizes, latency and throughput, each queue's\n"
    "jobs, the processes. Its actions (requeue, delete, cancel, run now, pause,\n"
    "resume) need the token, from HWORKER_DASHBOARD_TOKEN or --token-file (at\n"
    "least 16 characters; never on the command line); without one the dashboard\n"
    "is read-only. Runs until SIGTERM or SIGINT. docs/operations.md.\n"
    "\n"
    "flags:\n" FLAGS_REDIS "  --listen HOST:PORT          where to listen; 127.0.0.1:9187 (this host only)\n"
    "  --token-file FILE           the dashboard's token: the file's first line\n"
    "  --read-only                 no actions, even with a token\n";

static const char *const help_cron =
    "usage: hworker-lua cron add NAME ENTRY SCHEDULE JSON [--tz ZONE] [--missed skip|one|all] [--unique]\n"
    "       hworker-lua cron ls NAME [--json]\n"
    "       hworker-lua cron rm NAME ENTRY\n"
    "       hworker-lua cron next NAME ENTRY [--count N] [--json]\n"
    "\n"
    "Periodic jobs of queue NAME: at every tick of SCHEDULE, entry ENTRY enqueues\n"
    "the job JSON, once however many processes run (the monitors of every run\n"
    "process take part). SCHEDULE is five cron fields (\"*/15 9-17 * * mon-fri\"),\n"
    "@hourly, @daily, @weekly, @monthly, @yearly, or @every DURATION (\"@every 30s\",\n"
    "\"@every 1h30m\"); docs/cron-schedules.md. add replaces an entry of that name\n"
    "(keeping its last tick); ls lists the entries with their next and last\n"
    "ticks and counts; next prints the next N ticks (ISO 8601, UTC).\n"
    "\n"
    "flags:\n" FLAGS_REDIS "  --tz ZONE                   an IANA time zone for the fields (default UTC)\n"
    "  --missed skip|one|all       ticks missed while no monitor ran: none, one job\n"
    "                              for the latest (default), or one job each\n"
    "  --unique                    skip a tick while the last tick's job is still queued\n"
    "  --count N                   next: how many ticks (1 to 1000, default 5)\n"
    "  --json                      ls: one JSON object per entry; next: ms since the epoch\n";

static const char *const help_requeue =
    "usage: hworker-lua requeue NAME --failed|--broken (--all | ID ...) [flags]\n"
    "\n"
    "Moves failed or broken records back to the back of pending. ID is a job id or\n"
    "a record id (as listed by failed and broken). Prints how many moved.\n"
    "\n"
    "flags:\n" FLAGS_REDIS FLAGS_RECORDS;

static const char *const help_delete = "usage: hworker-lua delete NAME --failed|--broken (--all | ID ...) [flags]\n"
                                       "       hworker-lua delete NAME ID ... [flags]\n"
                                       "\n"
                                       "Deletes failed or broken records. ID is a job id or a record id (as listed by\n"
                                       "failed and broken). Prints how many were deleted.\n"
                                       "\n"
                                       "Without --failed or --broken, deletes the waiting jobs with these job ids:\n"
                                       "every copy in pending (jobs) or scheduled, counted as deleted. A running job\n"
                                       "is left alone (see cancel). Exit status 1 if an id matched no waiting job.\n"
                                       "\n"
                                       "flags:\n" FLAGS_REDIS FLAGS_RECORDS;

static const char *const help_cancel = "usage: hworker-lua cancel NAME ID ... [flags]\n"
                                       "\n"
                                       "Cancels the jobs with these ids. A copy waiting in pending or scheduled is\n"
                                       "removed; a running one is stopped by its worker within milliseconds (its\n"
                                       "process hears of it through Redis Pub/Sub, or at its next lease renewal).\n"
                                       "Either way the job is counted as cancelled and never runs again, also when\n"
                                       "it ends before its worker hears. Exit status 1 if an id matched no job (one\n"
                                       "that finished already matches none).\n"
                                       "\n"
                                       "flags:\n" FLAGS_REDIS FLAG_SHARDS;

static const char *const help_run_now =
    "usage: hworker-lua run-now NAME ID ... [flags]\n"
    "\n"
    "Runs the waiting jobs with these ids next: a scheduled job becomes due now,\n"
    "a pending one moves to the front of its line (its priority level, or its\n"
    "group, whose limits still hold). Exit status 1 if an id matched no waiting job.\n"
    "\n"
    "flags:\n" FLAGS_REDIS FLAG_SHARDS;

static const char *const help_events =
    "usage: hworker-lua events NAME [--follow] [--new] [--json] [flags]\n"
    "       hworker-lua events NAME --enable [--cap N] | --disable [flags]\n"
    "\n"
    "Prints the events of queue NAME, oldest first: each change of a job's state\n"
    "(enqueued, started, succeeded, retried, failed, broken, recovered,\n"
    "handed_back, cancelled, deleted, requeued) with its time, job id and\n"
    "attempt, and the worker, reason or delay where they apply. Events are off\n"
    "until turned on:\n"
    "--enable keeps about N events per shard (default 10000) in a Redis stream,\n"
    "in every process at once; --disable stops adding them.\n"
    "\n"
    "flags:\n" FLAGS_REDIS "  --follow                    keep printing new events until interrupted\n"
    "  --new                       with --follow: only events to come, none kept\n"
    "                              before (without --follow it prints nothing)\n"
    "  --json                      one JSON object per line (entry, time_ms, shard, event,\n"
    "                              id, attempt, worker, reason, delay_ms, due_ms)\n"
    "  --enable                    turn events on\n"
    "  --cap N                     with --enable: events each shard keeps (default 10000)\n"
    "  --disable                   turn events off\n" FLAG_SHARDS;

static const char *const help_destroy = "usage: hworker-lua destroy NAME --yes [flags]\n"
                                        "\n"
                                        "Deletes every key of queue NAME: pending, in-flight, scheduled, failed and\n"
                                        "broken jobs and the counters. Stop its workers first.\n"
                                        "\n"
                                        "flags:\n" FLAGS_REDIS "  --yes                       confirm\n" FLAG_SHARDS;

static const char *const help_debug =
    "usage: hworker-lua debug NAME [flags]\n"
    "\n"
    "Logs the first pending and in-flight job ids of queue NAME every interval until\n"
    "interrupted, like the original hworker's debugger.\n"
    "\n"
    "flags:\n" FLAGS_REDIS "  --interval SEC              seconds between lines (default 1; 250ms and 2s work too)\n";

static const char *const help_check = "usage: hworker-lua check [flags]\n"
                                      "\n"
                                      "Connects to Redis, prints its version and the settings that matter, and warns\n"
                                      "(exit 1) when at-least-once is at risk: appendonly off, an eviction policy\n"
                                      "other than noeviction, or a replica. A setting the server will not show\n"
                                      "(CONFIG GET refused) is reported as unknown and does not fail the check.\n"
                                      "\n"
                                      "flags:\n" FLAGS_REDIS;

char *cli_help_text(const char *cmd)
{
    hw_buf out = {0};
    if (strcmp(cmd, "run") == 0) {
        hw_buf_adds(&out, help_run_head);
        add_setting_lines(&out);
        hw_buf_adds(&out, help_run_tail);
        return out.data;
    }
    static const struct {
        const char *name;
        const char *const *text;
    } table[] = {
        {"queue", &help_queue},   {"jobs", &help_list},       {"inflight", &help_list},   {"scheduled", &help_list},
        {"failed", &help_list},   {"broken", &help_list},     {"stats", &help_stats},     {"requeue", &help_requeue},
        {"delete", &help_delete}, {"destroy", &help_destroy}, {"debug", &help_debug},     {"check", &help_check},
        {"cron", &help_cron},     {"options", &help_options}, {"pause", &help_pause},     {"resume", &help_resume},
        {"limit", &help_limit},   {"ps", &help_ps},           {"queues", &help_queues},   {"metrics", &help_metrics},
        {"serve", &help_serve},   {"cancel", &help_cancel},   {"run-now", &help_run_now}, {"events", &help_events},
    };
    for (size_t i = 0; i < sizeof table / sizeof *table; i++) {
        if (strcmp(table[i].name, cmd) == 0) {
            hw_buf_adds(&out, *table[i].text);
            return out.data;
        }
    }
    return NULL;
}
