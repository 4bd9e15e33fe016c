/* hworker-lua: shared pieces of the command line (one file per group of
 * subcommands). Exit codes: 0 ok, 1 runtime failure, 2 usage error. */
#ifndef HW_CLI_H
#define HW_CLI_H

#include <stdio.h>

#include "buf.h"
#include "hworker.h"

#define CLI_OK 0
#define CLI_FAILED 1
#define CLI_USAGE 2

typedef enum { OPT_FLAG, OPT_STRING, OPT_NUMBER, OPT_INT } cli_opt_kind;

/* One --flag of a subcommand; `dest` is an int (FLAG, INT), a double or a
 * const char * (STRING). `seen` is set when it was given. */
typedef struct cli_opt {
    const char *name; /* without the leading "--" */
    cli_opt_kind kind;
    void *dest;
    int seen;
} cli_opt;

/* Parses argv (after the subcommand) into opts (ending with a NULL name)
 * and positional arguments (pointers into argv, at most max). Accepts
 * --flag value and --flag=value; "--" ends the flags. On a bad flag prints a
 * one-line message that names the nearest valid flag and returns -1. */
int cli_parse(const char *cmd, int argc, char **argv, cli_opt *opts, const char **pos, int max, int *npos);

/* A command line with the flags that settings from elsewhere became in
 * front (run_settings.c): argv[0 .. first_own) are copies it owns, the
 * rest the caller's own arguments. */
typedef struct cli_args {
    char **argv;
    int n, cap, first_own;
} cli_args;

/* Builds out from the settings of --config-file FILE (if argv names one),
 * then the HWORKER_NAME variable of each flag in opts, then argv (see
 * run_settings.c). Returns 0, or -1 after saying which setting is wrong
 * and how. Free out with cli_args_free. */
int cli_settings_args(const char *cmd, int argc, char **argv, cli_opt *opts, cli_args *out);
void cli_args_free(cli_args *a);

/* True if the flag `name` of opts (parsed by cli_parse) was given. */
int cli_seen(const cli_opt *opts, const char *name);

/* True if argv has --help or -h. */
int cli_wants_help(int argc, char **argv);

/* The closest of `names` (NULL-terminated) to `word`, or NULL if none is close. */
const char *cli_nearest(const char *word, const char *const *names);

/* Prints "hworker-lua CMD: message" on stderr. */
void cli_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Where Redis is and how to log in: the values of --redis and
 * --redis-password-file (NULL when not given), which every command that
 * talks to Redis takes. */
typedef struct cli_redis {
    const char *url;
    const char *password_file;
} cli_redis;
#define CLI_REDIS_FLAGS(r) \
    {"redis", OPT_STRING, &(r).url, 0}, { "redis-password-file", OPT_STRING, &(r).password_file, 0 }

/* The Redis URL: --redis, else $HWORKER_REDIS, else $REDIS_URL, else the
 * default (an empty variable counts as unset). */
const char *cli_redis_url(const char *flag_value);

/* Sets cfg's redis_url and its password: --redis-password-file, else
 * $HWORKER_REDIS_PASSWORD, else the URL's own (docs/cli.md). The file is
 * read by hworker_create, whose message names a file it cannot use. */
void cli_config_redis(hworker_config *cfg, const cli_redis *redis);

/* Opens a handle on queue `name` (NULL for commands that need no queue)
 * with the common settings and a quiet logger; prints why on failure and
 * returns NULL with *code set. */
hworker *cli_open(const char *cmd, const char *name, const cli_redis *redis, int *code);
/* The same for a queue spread over `shards` key sets, with enqueues
 * acknowledged only once min_replicas replicas have them. A `shards` other
 * than the count Redis records for the queue is refused, with a message
 * naming the --shards to use. */
hworker *cli_open_queue(const char *cmd, const char *name, const cli_redis *redis, int shards, int min_replicas,
                        int *code);

/* Writes one JSON value: a string quoted, or raw JSON text if it is valid
 * JSON, else as a string. */
void cli_json_string(FILE *out, const char *s, size_t len);
void cli_json_raw_or_string(FILE *out, const char *s, size_t len);

/* ms since the epoch as "2026-12-02T21:30:00Z" (UTC) in out, or "-" if
 * negative; returns what to print. */
const char *cli_iso8601(long long ms, char *out, size_t outlen);

/* The same with milliseconds: "2026-12-02T21:30:00.125Z". */
const char *cli_iso8601_ms(long long ms, char *out, size_t outlen);

/* Appends " key=value" to line, the value quoted (with \" and \\, control
 * characters as \n or \xNN) when it is empty or has a space, '=', '"', a
 * backslash or a control character, so no value reads as another field of
 * the line, and no value starts a line of its own. */
void cli_text_field(hw_buf *line, const char *key, const char *value);

/* Parses an ISO 8601 time (2026-11-28T10:00:00Z, with optional fraction and
 * offset) into ms since the epoch; -1 if it does not parse. */
long long cli_parse_iso8601(const char *s);

/* The shard count Redis records for queue `name` (1 when none is or it
 * cannot be read), through handle h. */
int cli_recorded_shards(hworker *h, const char *name);

/* Whether queue `name` exists, read through h: 1 when it is in the registry
 * of queues (or has counters from before the registry), 0 when not, -1
 * when Redis cannot say. For commands that would print zeros for a typo. */
int cli_queue_known(hworker *h, const char *name);

/* A duration as a user writes it ("90s", "30m", "6h", "7d", "250ms", or
 * bare seconds) in ms; -1 if it does not parse or is not > 0. */
long long cli_duration_ms(const char *text);

/* Prints the history of queue h for `stats --history` (cmd_history.c):
 * --since and --period as given (NULL: not given), as text or JSON.
 * Returns the exit code. */
int cli_print_history(const char *cmd, hworker *h, const char *since, const char *period, int json);

/* Appends the Prometheus text of every queue in the registry, read through
 * `registry` (metrics_text.c), to out. Returns 0, or -1 when the registry
 * or a queue could not be read (said on stderr; what could be read is
 * there, and hworker_scrape_errors counts the rest). */
struct hw_buf;
int cli_metrics_text(struct hw_buf *out, hworker *registry, const cli_redis *redis);

/* The subcommands. */
int cmd_run(int argc, char **argv);
int cmd_queue(int argc, char **argv);
int cmd_list(const char *part, int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_requeue(int argc, char **argv);
int cmd_delete(int argc, char **argv);
int cmd_cancel(int argc, char **argv);
int cmd_run_now(int argc, char **argv);
int cmd_events(int argc, char **argv);
/* Acts on each job id in turn (cmd is "cancel", "delete" or "run-now"),
 * printing what was done; CLI_FAILED if any id matched no job or failed. */
int cli_act_on_jobs(const char *cmd, hworker *h, const char *const *ids, size_t n);
int cmd_destroy(int argc, char **argv);
int cmd_debug(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_options(int argc, char **argv);
int cmd_cron(int argc, char **argv);
int cmd_pause(int argc, char **argv);
int cmd_resume(int argc, char **argv);
int cmd_limit(int argc, char **argv);
int cmd_ps(int argc, char **argv);
int cmd_queues(int argc, char **argv);
int cmd_metrics(int argc, char **argv);
int cmd_serve(int argc, char **argv);

/* A queue's flow settings from its stats: one line each, or one JSON
 * object {"paused","concurrency","rate","rate_period_ms","burst"} (0 or
 * null for none), without a newline. */
void cli_print_flow(const hworker_stats *s);
void cli_print_flow_json(const hworker_stats *s);

/* Help texts, shared with docs/cli.md (a spec keeps the two equal). */
extern const char *const cli_help_main;
/* The help of subcommand `cmd` (run's lists the settings of
 * core/options.c), or NULL if there is no such subcommand. The caller
 * frees it. */
char *cli_help_text(const char *cmd);

#endif
