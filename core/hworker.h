/**
 * @file
 * hworker: a reliable, at-least-once job queue on Redis whose job handlers are
 * Lua files run in sandboxed LuaJIT states (one per worker thread).
 *
 * Conventions for every function below:
 *  - Functions that can fail return an hworker_rc: HWORKER_OK (0) on
 *    success, a negative code saying what kind of failure it was otherwise,
 *    and write a one-line message that names what to fix into `err` (at most
 *    `errlen` bytes, always NUL-terminated). `err` may be NULL (or errlen 0):
 *    the code alone is then returned.
 *  - Structs that may grow in later versions carry their size (set by
 *    hworker_config_init, HWORKER_ENQUEUE_OPTS_INIT, or the macros that take
 *    sizeof of the caller's struct), so a host built against an older
 *    header keeps working with a newer library.
 *  - Strings passed in are copied when the function keeps them; the caller
 *    keeps ownership of everything it passes.
 *  - A `hworker` handle may be used from any number of threads at once,
 *    except hworker_free(), which must be the last call on it. Calls that talk
 *    to Redis from host threads share one connection, guarded by a lock.
 */
#ifndef HWORKER_H
#define HWORKER_H

#include <stddef.h>

#include "hworker_version.h"

/** Marks the functions libhworker.so exports; the library is built with
 * hidden visibility, so nothing else it defines is visible to a host. */
#if defined(__GNUC__) || defined(__clang__)
#define HWORKER_API __attribute__((visibility("default")))
#else
#define HWORKER_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/** LuaJIT's state, as lua.h declares it: declared here again (an identical
 * typedef may be repeated in C11 and C++) so that this header needs no Lua
 * headers. A host that registers functions includes lua.h or lauxlib.h
 * itself to write them. */
typedef struct lua_State lua_State;
/** A C function callable from Lua, exactly as lua.h declares it. */
typedef int (*lua_CFunction)(lua_State *L);

/** Buffers for a job id need this size. hworker makes ids of 17 letters and
 * digits; an id a producer in another language made may be longer, and is
 * cut to 32 bytes where hworker returns it. */
#define HWORKER_ID_SIZE 33

/** What a call's failure was, for hosts to branch on (the message in `err`
 * says what to fix). Codes may be added; treat any other negative value as
 * a failure. */
typedef enum hworker_rc {
    HWORKER_OK = 0,          /**< success */
    HWORKER_E_INVALID = -1,  /**< an argument, setting, name, option or JSON the call cannot take:
                                  the same call fails again */
    HWORKER_E_REDIS = -2,    /**< Redis unreachable, too slow or refusing the command (the message
                                  gives its reply), or set up in a way that loses jobs (the
                                  message names the setting) */
    HWORKER_E_STATE = -3,    /**< not now: workers are running, the handle was already started,
                                  or the last run is still stopping */
    HWORKER_E_JOB_FILE = -4, /**< the job file does not load, defines no job(), or its init raised */
    HWORKER_E_SHARDS = -5,   /**< the handle's shard count differs from the queue's in Redis */
    HWORKER_E_REPLICAS = -6, /**< written, but fewer replicas than min_replicas confirmed it in
                                  time (the write may still be there) */
    HWORKER_E_SYSTEM = -7,   /**< the system refused a resource (a thread) */
    HWORKER_E_NOT_FOUND = -8 /**< no job has the id an action on a single job named (it may have
                                  finished already) */
} hworker_rc;

/** A short, constant description of an hworker_rc ("Redis unreachable, ..."),
 * for a code a host did not expect. Never NULL; thread-safe. */
HWORKER_API const char *hworker_strerror(int rc);

struct redisContext;
/** A handle on one queue: its configuration, connections and threads (opaque). */
typedef struct hworker hworker;

/** How important a log line is. */
typedef enum {
    HWORKER_LOG_DEBUG = 0, /**< every job's outcome */
    HWORKER_LOG_INFO = 1,  /**< retries, recoveries, start and stop */
    HWORKER_LOG_WARN = 2,  /**< failures, broken jobs, lost leases, Redis outages */
    HWORKER_LOG_ERROR = 3  /**< what needs an operator */
} hworker_log_level;

/** Receives every log line (no trailing newline). Called from any hworker
 * thread, possibly at the same time from several: it must be thread-safe. */
typedef void (*hworker_log_fn)(void *ud, hworker_log_level level, const char *msg);

/** One field of a structured log line: a key and its value as text, with
 * control characters escaped as in the message. */
typedef struct hworker_log_field {
    const char *key;   /**< the field's name, e.g. "job_id" */
    const char *value; /**< its value, as text */
    int unquoted;      /**< 1 when the value is a number, true or false: a JSON sink writes it unquoted */
} hworker_log_field;

/** Receives every log line with its fields: the lines about one job carry
 * worker, job_id and attempt, and the outcome lines outcome and duration_ms
 * (a retry's also delay_ms); a handler's hworker.log(level, msg, fields)
 * adds its own (also in init(), where no job runs). Pointers are valid only
 * during the call. Thread-safe as hworker_log_fn must be. */
typedef void (*hworker_log_fields_fn)(void *ud, hworker_log_level level, const char *msg,
                                      const hworker_log_field *fields, size_t n);

/** Supplies a new connection to Redis each time one is needed (at start and
 * after every lost connection). Returns a connected context, or NULL or a
 * context with ->err set on failure; hworker takes ownership of it. Called
 * from any hworker thread: it must be thread-safe. */
typedef struct redisContext *(*hworker_connect_fn)(void *ud);

/** What a Lua error in a handler (or a stop at a limit) counts as. */
typedef enum {
    HWORKER_EXCEPTION_FAILS = 0,  /**< a Lua error counts as failure (default) */
    HWORKER_EXCEPTION_RETRIES = 1 /**< a Lua error counts as retry */
} hworker_exception_behavior;

/** Configuration. Fill it with hworker_config_init(), then change fields.
 * Later versions add fields at the end only. */
typedef struct hworker_config {
    size_t size;                             /**< sizeof the caller's struct, as hworker_config_init
                                                  sets it: the library reads only the fields it covers
                                                  (the others keep their defaults) */
    const char *name;                        /**< queue name; required; keys are hw:{name}:ROLE. 1 to 200
                                    bytes, without control characters, '{' or '}' */
    const char *redis_url;                   /**< "redis://[user[:pass]@]host:port/db" (host may be "[IPv6]"),
                                    "unix:///path?db=N", "redis+cluster://host:port,..." or
                                    "redis+sentinel://host:port,.../MASTER[/db]";
                                    "rediss://...", "rediss+cluster://..." and
                                    "rediss+sentinel://..." are the same over TLS, with ?cacert=FILE, ?cert=FILE&key=FILE, ?sni=NAME and
                                    ?insecure (docs/connections.md); CA, certificate and key
                                    files are read by hworker_create, which fails naming a bad
                                    one. default "redis://127.0.0.1:6379/0". "user@host" is an
                                    ACL user. No message shows its password. */
    const char *password;                    /**< if set, used instead of the URL's password (the URL's
                                    user, if any, stays) */
    hworker_connect_fn connect;              /**< if set, used instead of redis_url */
    void *connect_ud;                        /**< passed to connect */
    const char *job_file;                    /**< Lua file defining job(state, t, meta); needed to run workers */
    const char *init_config;                 /**< JSON given to the job file's init(config); default "{}" */
    double job_timeout;                      /**< seconds a handler may run before it is stopped; 120 */
    double lease;                            /**< seconds a claim lives without renewal; 30 */
    double monitor_interval;                 /**< longest pause between monitor sweeps, seconds; 5 */
    double block_timeout;                    /**< an idle worker wakes this often, seconds; 2 */
    int shards;                              /**< key sets the queue is spread over, 1 to 1024; 1. With S > 1
                                    the keys are hw:{name#0}:ROLE to hw:{name#S-1}:ROLE, which a
                                    Redis Cluster spreads over its masters; every process of a
                                    queue must use the same S (docs/cluster.md) */
    int min_replicas;                        /**< after each enqueue and each batch of outcomes, wait until
                                    this many replicas have the write (Redis WAIT); 0 = don't.
                                    An enqueue that reaches fewer within min_replicas_timeout
                                    fails with a message saying so (the job may still be there) */
    double min_replicas_timeout;             /**< seconds to wait for min_replicas; 1 */
    double redis_timeout;                    /**< seconds a Redis reply may take before the connection is
                                    dropped and made again (a worker's blocking wait adds
                                    block_timeout); 30 */
    long failed_cap;                         /**< records kept in failed; 1000 (at least 1) */
    long broken_cap;                         /**< records kept in broken; 1000 (at least 1) */
    long max_recoveries;                     /**< a job recovered more often goes to failed; 3; 0 = unlimited */
    long max_attempts;                       /**< runs a job gets before a retry fails it ("retries
                                    exhausted: MESSAGE"); 25; 0 = unlimited */
    double retry_base;                       /**< back-off of the first retry, seconds; 1 */
    double retry_factor;                     /**< each further retry waits this many times longer; 2 */
    double retry_max_delay;                  /**< the longest back-off, seconds; 3600. A retry waits
                                    between half and all of min(max, base * factor^(n-1)) */
    double failed_max_age;                   /**< seconds a failed record is kept; 0 = no age limit */
    double broken_max_age;                   /**< seconds a broken record is kept; 0 = no age limit */
    hworker_exception_behavior on_exception; /**< HWORKER_EXCEPTION_FAILS */
    size_t memory_limit;                     /**< bytes per Lua state; 64 MiB */
    int prefetch;                            /**< most jobs a worker claims at once; 64. Each worker starts
                                    at 1 and doubles while batches finish within 10 ms; a batch
                                    that takes over 100 ms cuts it to a quarter. 1 turns it off. */
    int trusted;                             /**< 0: the strict sandbox (default). 1: trusted handlers get
                                    the whole standard library, require of Lua and C modules,
                                    ffi and the JIT; the time limit then cannot stop a loop
                                    the JIT compiled (the lease still protects the queue) */
    hworker_log_fn log;                      /**< default: lines on stdout */
    void *log_ud;                            /**< passed to log */
    hworker_log_level log_level;             /**< lines below this level are dropped; INFO */
    const char *password_file;               /**< if set, a file whose first line (without its "\n" or
                                    "\r\n") is the password, read once by hworker_create and
                                    used as `password` is; set this or password, not both. A
                                    file that is missing, unreadable or has an empty first line
                                    fails hworker_create with HWORKER_E_INVALID naming the file
                                    (never its content) */
    int history;                             /**< 1: record timings and history (hworker_history); 0:
                                    do not; 1 */
    hworker_log_fields_fn log_fields;        /**< if set, receives every line with its fields in place
                                    of `log` (log_ud is passed); NULL */
} hworker_config;

/** Fills the first `size` bytes of `cfg` with the defaults above (name
 * NULL) and sets cfg->size. Call it through hworker_config_init(cfg), which
 * passes the size of the struct the host was built with. Thread-safe; no
 * errors. */
HWORKER_API void hworker_config_init_size(hworker_config *cfg, size_t size);
/** Fills `cfg` with the defaults (see hworker_config_init_size). */
#define hworker_config_init(cfg) hworker_config_init_size((cfg), sizeof(hworker_config))

/** Sets one setting of `cfg` by its name, as hworker.open and hworker-lua
 * run take it ("lease", "memory_limit", "on_exception"; '-' and '_' alike;
 * docs/configuration.md lists them), from text as a user would write it
 * ("30", "64", "retry"): for hosts that read settings from a file or the
 * environment. A memory_limit is in MiB here, as everywhere but the field.
 * Returns HWORKER_OK, or HWORKER_E_INVALID with a message naming the setting
 * and what it takes (an unknown name, text that is not a number or a choice,
 * a value out of range, a setting newer than cfg's size); cfg is then
 * unchanged. Not thread-safe on the same cfg. */
HWORKER_API hworker_rc hworker_config_set(hworker_config *cfg, const char *name, const char *value, char *err,
                                          size_t errlen);

/** Checks the configuration and makes a handle; it does not connect (the first
 * call that needs Redis does). Returns NULL on a bad configuration, the only
 * way it fails (HWORKER_E_INVALID: the message names the setting; a cfg
 * whose size is larger than this library's struct is refused as made for a
 * newer version). The caller owns the handle and releases it with
 * hworker_free(). */
HWORKER_API hworker *hworker_create(const hworker_config *cfg, char *err, size_t errlen);

/** Makes `fn` callable from job code as host.NAME(...), with `ud` as its
 * first upvalue (lua_touserdata(L, lua_upvalueindex(1))): this is how host
 * state reaches Lua. Call before hworker_start()/hworker_worker(); `fn` runs
 * on worker threads and must be thread-safe. It runs under the job's time
 * limit only between Lua instructions: a C function that blocks cannot be
 * stopped. One second past the job's limit its worker thread is abandoned
 * (the job is recorded as timed out, another thread takes the slot); the
 * abandoned thread ends by itself if `fn` ever returns. Fails with
 * HWORKER_E_STATE if workers are running, HWORKER_E_INVALID if the name is
 * not an identifier. */
HWORKER_API hworker_rc hworker_register(hworker *h, const char *name, lua_CFunction fn, void *ud, char *err,
                                        size_t errlen);

/** One job for hworker_enqueue(). */
typedef struct hworker_job {
    const char *json;   /**< one JSON value */
    size_t len;         /**< its length */
    const char *unique; /**< NULL or "" for none; else while a job with this key is
                            pending, scheduled or in flight, enqueueing another adds
                            nothing and gives the existing job's id */
} hworker_job;

/** hworker_enqueue()'s options: where and when the jobs go. */
typedef struct hworker_enqueue_opts {
    size_t size;       /**< sizeof(hworker_enqueue_opts), as HWORKER_ENQUEUE_OPTS_INIT
                            sets it: fields added in later versions are read only
                            when the caller's struct has them */
    double delay;      /**< > 0: run the jobs that many seconds from now */
    double at;         /**< > 0: run them at that time (seconds since the epoch,
                            Redis clock; a past time means now); wins over delay */
    const char *queue; /**< NULL: this handle's queue; else the name of another
                            queue (a follow-up job), whose shard count is read from
                            Redis once per handle and queue (a queue with none
                            recorded is recorded as unsharded) */
    int shard;         /**< HWORKER_SHARD_ANY: the next shard in turn, and a job
                            with a unique key its key's shard; else that shard of
                            this handle's queue (jobs without unique keys only) */
    int priority;      /**< 0: none; 1 to 9: claimed before every job of a lower
                            level (and before those without one), FIFO within a
                            level (docs/flow-control.md) */
    const char *group; /**< NULL: none; else the jobs' group key (a tenant, a
                            customer): groups with work take turns, one job each,
                            and each may have its own limits
                            (hworker_set_group_limits). 1 to 128 printable ASCII
                            characters but a double quote and a backslash; not
                            with a priority, nor
                            with a unique key on a sharded queue. The copy is
                            the caller's; it is read during the call only. */
    long *held;        /**< NULL, or where to count the jobs of the call whose unique key
                            was held: those added nothing and got the holder's id
                            (set to 0 first) */
} hworker_enqueue_opts;

/** hworker_enqueue_opts.shard: the next shard in turn (or a unique key's). */
#define HWORKER_SHARD_ANY (-1)
/** The defaults: now, on this handle's queue, any shard. */
#define HWORKER_ENQUEUE_OPTS_INIT                                                  \
    {                                                                              \
        sizeof(hworker_enqueue_opts), 0, 0, NULL, HWORKER_SHARD_ANY, 0, NULL, NULL \
    }

/** Enqueues n jobs: each `json` must be one JSON value. Atomic, in one round
 * trip: all or none; on a sharded queue, one atomic call per shard the jobs'
 * unique keys fall in (if one fails, the error says how many shards' jobs
 * were enqueued). `opts` may be NULL for HWORKER_ENQUEUE_OPTS_INIT. `ids` (n
 * * HWORKER_ID_SIZE bytes, or NULL) receives each job's id, or the id of the
 * job that holds its unique key. Fails with HWORKER_E_INVALID on invalid
 * JSON (the message gives the job, line and column) or options out of
 * range; HWORKER_E_REDIS on an unreachable Redis or when Redis refuses the
 * write (the message gives its reply); HWORKER_E_REPLICAS when fewer than
 * min_replicas confirmed it; HWORKER_E_SHARDS when the queue's recorded
 * shard count differs from the handle's. After a
 * connection loss it sends the batch once more, so a job may, rarely, be
 * enqueued twice; it is never lost once this returns 0. Thread-safe.
 * Single-job calls (n == 1) that threads make on one handle while another
 * such call is on its way to Redis are sent together in one script call
 * (group commit: up to 512 jobs with the same options, and 1 MB of jobs
 * past the first): each call still
 * returns only once Redis has its own job, with its own id and held count;
 * a job that is not JSON fails alone before it joins; a failed shared call
 * fails each of its calls with its message. */
HWORKER_API hworker_rc hworker_enqueue(hworker *h, const hworker_job *jobs, size_t n, const hworker_enqueue_opts *opts,
                                       char *ids, char *err, size_t errlen);

/** Sets the job file and the JSON for its init(config) (either may be NULL to
 * keep the current one). Workers started afterwards load it, and so does a
 * running worker that must rebuild its Lua state (after a job left it full);
 * other running workers keep theirs. Fails (HWORKER_E_INVALID) if
 * `init_config` is not valid JSON. Thread-safe. */
HWORKER_API hworker_rc hworker_set_job_file(hworker *h, const char *job_file, const char *init_config, char *err,
                                            size_t errlen);

/** Starts `workers` worker threads, `monitors` monitor threads and, when
 * workers > 0, the lease keeper. Every worker's Lua state is created before
 * this returns, so a job file that does not load (syntax error, no job
 * function, init raising) fails here with "file:line: message"
 * (HWORKER_E_JOB_FILE). Can be called once per handle until hworker_stop()
 * (HWORKER_E_STATE otherwise). A shard count that differs from the one
 * Redis records gives HWORKER_E_SHARDS; no thread can be made,
 * HWORKER_E_SYSTEM. */
HWORKER_API hworker_rc hworker_start(hworker *h, int workers, int monitors, char *err, size_t errlen);

/** The blocking form of a worker, for hosts that run their own threads: runs
 * a worker on the calling thread. Returns 0 after hworker_stop() was called,
 * or a failure at once if its set-up failed (e.g. the job file does not load). It is
 * stopped and handed back like the workers hworker_start() made; the lease
 * keeper runs while at least one worker runs. Fails with HWORKER_E_JOB_FILE
 * or HWORKER_E_SHARDS. */
HWORKER_API hworker_rc hworker_worker(hworker *h, char *err, size_t errlen);
/** The blocking form of a monitor: runs monitor sweeps on the calling thread
 * until hworker_stop(). Returns 0; it survives Redis outages. A shard count
 * that differs from the queue's in Redis fails it at once
 * (HWORKER_E_SHARDS). */
HWORKER_API hworker_rc hworker_monitor(hworker *h, char *err, size_t errlen);
/** Logs the first entries of pending and in-flight every `interval` seconds
 * until hworker_stop(). An interval that is not a positive number of
 * seconds is HWORKER_E_INVALID. */
HWORKER_API hworker_rc hworker_debugger(hworker *h, double interval, char *err, size_t errlen);

/** Stops gracefully: workers stop claiming at once; running jobs get `grace`
 * seconds to finish; then they are interrupted and their jobs handed back to
 * the front of pending at once (claimed jobs not yet started are handed back
 * immediately). A worker still inside a C function one second after that is
 * abandoned, its job handed back. Returns when every thread started by
 * hworker_start() has ended or been abandoned, and every blocking call above
 * has returned or been told to. Safe to call from any thread, more than
 * once; returns 0. */
HWORKER_API hworker_rc hworker_stop(hworker *h, double grace);

/** Stops (grace 0) and releases the handle. Not thread-safe: no other call on
 * `h` may run or follow. NULL is ignored. While an abandoned worker thread is
 * still stuck in a C function, the handle's memory is not released (that
 * thread still uses it); an error is logged. The log callback is never
 * called once this returns, so the host may free what its ud points to. */
HWORKER_API void hworker_free(hworker *h);

/** The parts of a queue. */
typedef enum {
    HWORKER_PENDING = 0,   /**< waiting to run */
    HWORKER_INFLIGHT = 1,  /**< running, under a lease */
    HWORKER_SCHEDULED = 2, /**< waiting for a time (a delay or a retry's back-off) */
    HWORKER_FAILED = 3,    /**< failure records */
    HWORKER_BROKEN = 4     /**< records of payloads that could not be decoded */
} hworker_part;

/** One listed entry. Pointers are valid only during the callback. Fields that
 * do not apply are NULL or -1. */
typedef struct hworker_entry {
    const char *id;        /**< job id, or NULL if the entry does not parse */
    const char *job;       /**< job JSON (broken: the raw payload) */
    size_t job_len;        /**< its length */
    long attempt;          /**< 1 for a job that has not been retried */
    long recoveries;       /**< times it was recovered from a dead worker */
    long long enqueued_at; /**< ms since the epoch, Redis time */
    long long time;        /**< inflight: lease expiry; scheduled: due time;
                                failed/broken: when it got there (ms) */
    const char *holder;    /**< inflight: host:pid:thread of the worker */
    const char *reason;    /**< failed/broken: why */
    const char *record;    /**< failed/broken: the record's id (unique per record) */
    const char *raw;       /**< the stored entry, exactly */
    size_t raw_len;        /**< its length */
    /** inflight: when its worker started running it (ms, Redis time), as
     * the worker's process reported at its last beat (every third of the
     * lease); -1 for a job claimed and still waiting behind others in its
     * worker's batch, or one that started after that beat. */
    long long started_at;
} hworker_entry;

/** Receives each listed entry; returns nonzero to stop listing early. */
typedef int (*hworker_entry_fn)(void *ud, const hworker_entry *entry);

/** Lists one part, newest first, skipping `offset` entries and giving at most
 * `limit` (limit <= 0 means 100). Pending lists, shard by shard, the jobs
 * without a priority, then those with one, then those waiting in groups'
 * lists, group by group in the order of their names; the offset and the
 * limit count jobs. While pending's list holds a group's turn or a
 * doorbell, a page past the first reads that list from its front up to the
 * offset (1,000 entries a round trip); a group list of the wrong type
 * fails the listing, naming its key. In-flight is ordered by lease expiry, latest
 * first; scheduled by due time, latest first. An in-flight listing also
 * reads the queue's process registry (one script call more) to fill
 * started_at. Thread-safe. */
HWORKER_API hworker_rc hworker_list(hworker *h, hworker_part part, long offset, long limit, hworker_entry_fn fn,
                                    void *ud, char *err, size_t errlen);

/** Sizes of a queue's parts and its counters (hworker_get_stats()). */
typedef struct hworker_stats {
    long long pending;              /**< jobs waiting to run */
    long long inflight;             /**< jobs claimed by workers: running, or waiting in a worker's batch */
    long long scheduled;            /**< jobs waiting for a time */
    long long failed;               /**< failure records kept */
    long long broken;               /**< broken records kept */
    long long enqueued;             /**< counter: jobs added */
    long long processed;            /**< counter: outcomes reported by live claims */
    long long succeeded;            /**< counter: successes */
    long long retried;              /**< counter: retries asked for */
    long long failed_total;         /**< counter: jobs that went to failed */
    long long broken_total;         /**< counter: payloads that went to broken */
    long long recovered;            /**< counter: jobs taken back from dead workers */
    long long lease_lost;           /**< counter: reports and renewals by stale claims */
    long long handed_back;          /**< counter: jobs handed back at a graceful stop */
    long long promoted;             /**< counter: jobs moved from scheduled to pending */
    long long requeued;             /**< counter: records moved back from failed or broken */
    long long scheduled_total;      /**< counter: jobs put in scheduled (delays, retries) */
    long long exhausted;            /**< counter: jobs failed because their attempts ran out */
    long long merged;               /**< counter: copies of one job id (an enqueue sent again after
                                  its reply was lost) that met in scheduled and became one */
    long long lateness_samples;     /**< how many jobs that waited (scheduled, or retried) the
                                   lateness figures below cover: the last 1,000 per shard */
    long long lateness_p50_ms;      /**< median ms from due time to start among them; -1 if none */
    long long lateness_p99_ms;      /**< 99th percentile (nearest rank); -1 if none */
    long long lateness_max_ms;      /**< the most; -1 if none */
    long long paused;               /**< 1 while the queue is paused (hworker_pause) */
    long long concurrency;          /**< the queue's concurrency cap; 0: none (hworker_set_limits) */
    long long rate;                 /**< its rate limit: starts per rate_period_ms; 0: none */
    long long rate_period_ms;       /**< the rate's period in ms; 0 without a rate */
    long long burst;                /**< starts the rate allows beyond it after a quiet spell */
    long long group_concurrency;    /**< of every group without its own limits
                                       (hworker_set_group_limits): the cap; 0: none */
    long long group_rate;           /**< its rate: starts per group_rate_period_ms; 0: none */
    long long group_rate_period_ms; /**< the rate's period in ms; 0 without a rate */
    long long group_burst;          /**< starts its rate allows beyond it after a quiet spell */
    long long latency_ms;           /**< how long the job next in line has been ready to run (since its
                                       due time, else its enqueue), the most over the shards; 0 when
                                       none waits (docs/operations.md) */
    long long cancelled;            /**< counter: jobs cancelled (hworker_cancel), waiting or running */
    long long deleted;              /**< counter: waiting jobs deleted by id (hworker_delete_job) */
    long long events_cap;           /**< about how many events each shard's stream keeps; 0 while events are
                                       off (hworker_set_events) */
} hworker_stats;

/** Reads sizes and counters in one atomic step (per shard, summed over the
 * shards of a sharded queue) into the first `size` bytes of `out` (the
 * struct grows at its end in later versions). Call it through
 * hworker_get_stats(h, out, err, errlen), which passes sizeof *out.
 * Thread-safe. */
HWORKER_API hworker_rc hworker_get_stats_size(hworker *h, hworker_stats *out, size_t size, char *err, size_t errlen);
/** Reads the stats of the whole queue (see hworker_get_stats_size). */
#define hworker_get_stats(h, out, err, errlen) hworker_get_stats_size((h), (out), sizeof *(out), (err), (errlen))

/** The same for shard `shard` alone (0 to hworker_shards() - 1; another
 * shard is HWORKER_E_INVALID). */
HWORKER_API hworker_rc hworker_get_shard_stats_size(hworker *h, int shard, hworker_stats *out, size_t size, char *err,
                                                    size_t errlen);
/** Reads one shard's stats (see hworker_get_shard_stats_size). */
#define hworker_get_shard_stats(h, shard, out, err, errlen) \
    hworker_get_shard_stats_size((h), (shard), (out), sizeof *(out), (err), (errlen))

/** The handle's shard count (cfg.shards). Thread-safe; no errors. */
HWORKER_API int hworker_shards(const hworker *h);

/** Compares the handle's shard count with the one Redis records for its queue
 * (the key hw:{name}:shards; docs/cluster.md). With `record`, a queue with no
 * recorded count gets the handle's. Returns 0 when they agree or (without
 * `record`) nothing is recorded; HWORKER_E_SHARDS with a message naming the
 * count to use on a mismatch (or when the key holds no count);
 * HWORKER_E_REDIS with the reason when the count could not be read (Redis
 * unreachable or refusing). Workers, monitors and enqueues check (and
 * record) by themselves; this is for inspection tools
 * that must not read or change the wrong keys. One round trip until they
 * agree, none after. Thread-safe. */
HWORKER_API hworker_rc hworker_check_shards(hworker *h, int record, char *err, size_t errlen);

/** Moves failed or broken records (`part` is HWORKER_FAILED or
 * HWORKER_BROKEN) back to the back of pending: every record if `all`, else
 * those whose record id or job id is one of the n `ids`. A failed job keeps
 * its attempt and recovery counts; a broken payload goes back as found.
 * *count gets how many moved. One atomic script, O(records kept). */
HWORKER_API hworker_rc hworker_requeue(hworker *h, hworker_part part, int all, const char *const *ids, size_t n,
                                       long *count, char *err, size_t errlen);

/** Deletes failed or broken records, selected as for hworker_requeue(). */
HWORKER_API hworker_rc hworker_delete(hworker *h, hworker_part part, int all, const char *const *ids, size_t n,
                                      long *count, char *err, size_t errlen);

/** What hworker_cancel(), hworker_delete_job() and hworker_run_now() did. */
typedef struct hworker_job_action {
    long waiting; /**< copies of the job taken out of pending or scheduled (run now: moved to the
                       front of pending) */
    long running; /**< running executions asked to stop (cancel only) */
} hworker_job_action;

/** Cancels job `id`: every copy waiting in pending or scheduled is taken out
 * (counted as cancelled, its unique key released), and every running
 * execution is marked, so that its worker stops it at once (within
 * milliseconds: its process hears of it through Redis Pub/Sub, or at the
 * next lease renewal if it missed that) and records it as cancelled. A
 * marked execution that ends anyway before it hears (it returned, raised,
 * was recovered after its worker died, or handed back at a stop) is
 * recorded as cancelled too: a cancelled job never runs again and is never
 * retried. Returns HWORKER_E_NOT_FOUND when no job had that id (including
 * one that finished before the call); HWORKER_OK with both counts 0 when
 * the only executions found were marked by an earlier cancel and are
 * stopping. The search reads the queue's parts in
 * pages (O(queue size) round trips of 1,000 entries; docs/operations.md),
 * so it suits an operator's action, not a hot path. `out` may be NULL.
 * Thread-safe. Errors: HWORKER_E_INVALID (an empty id), HWORKER_E_REDIS. */
HWORKER_API hworker_rc hworker_cancel(hworker *h, const char *id, hworker_job_action *out, char *err, size_t errlen);

/** Deletes job `id` where it waits: every copy in pending or scheduled is
 * taken out (counted as deleted, its unique key released). A running job is
 * left alone (cancel it). Returns HWORKER_E_NOT_FOUND when no copy waits.
 * Searches as hworker_cancel(). Thread-safe. */
HWORKER_API hworker_rc hworker_delete_job(hworker *h, const char *id, hworker_job_action *out, char *err,
                                          size_t errlen);

/** Runs job `id` now: a copy waiting in scheduled becomes due now, one in
 * pending goes to the front of its line (of its priority level, or of its
 * group, whose limits still hold). One copy moves. Returns
 * HWORKER_E_NOT_FOUND when no copy waits. Searches as hworker_cancel().
 * Thread-safe. */
HWORKER_API hworker_rc hworker_run_now(hworker *h, const char *id, hworker_job_action *out, char *err, size_t errlen);

/* ---- events: an opt-in stream of job state changes (docs/operations.md) ---- */

/** Turns the queue's events on, each shard's stream keeping about `cap`
 * events (1 to 10^9; Redis trims whole blocks of them, so a few more), or
 * off with `cap` 0: the scripts that change a job's state then add one
 * stream entry per change (enqueued, started, succeeded, retried, failed,
 * broken, recovered, handed_back, cancelled, deleted, requeued). It acts
 * on every process at once; turned off, the stream keeps what it holds. One
 * call per shard. Thread-safe. Errors: HWORKER_E_INVALID (cap out of range),
 * HWORKER_E_REDIS. */
HWORKER_API hworker_rc hworker_set_events(hworker *h, long long cap, char *err, size_t errlen);

/** One event. Pointers are valid only during the callback; a field that does
 * not apply is NULL or -1. */
typedef struct hworker_event {
    const char *entry;  /**< its stream entry id, "<ms>-<n>" */
    long long time_ms;  /**< when it happened, ms since the epoch (Redis time) */
    int shard;          /**< the shard whose stream holds it */
    const char *event;  /**< what happened: "enqueued", "started", "succeeded", "retried", "failed",
                              "broken", "recovered", "handed_back", "cancelled" or "deleted" */
    const char *job_id; /**< the job's id */
    long attempt;       /**< the job's attempt: 1 + retries so far */
    const char *worker; /**< started and outcomes: the worker thread (host:pid:thread) */
    const char *reason; /**< retried, failed, broken: why (at most 512 bytes) */
    long long delay_ms; /**< retried: the back-off in ms */
    long long due_ms;   /**< enqueued with a delay: when it is due, ms since the epoch */
} hworker_event;

/** Receives each event, oldest first; returns nonzero to stop early. */
typedef int (*hworker_event_fn)(void *ud, const hworker_event *event);

/** The size a cursor buffer of hworker_events() needs for a queue of
 * `shards` shards. */
#define HWORKER_EVENTS_CURSOR_SIZE(shards) ((size_t)(shards)*44u + 1u)

/** Reads the events after `cursor`, oldest first (across shards, by Redis
 * time), at most `count` of them (count <= 0 means 100), and passes each to
 * fn. `cursor` is read and then written (it holds `cursor_size` bytes, at
 * least HWORKER_EVENTS_CURSOR_SIZE(shards)): "" starts at the oldest event
 * kept, "$" at the next one to come, and anything else must be what an
 * earlier call left there; on return it is the position after the last
 * event given to fn. With nothing to read and `block` > 0, waits up to
 * `block` seconds (at most 10) for the next event; a sharded queue is then
 * read shard by shard, up to 100 ms each. Reads on a connection of its own,
 * so a wait never holds up the handle's other calls; calls from several
 * threads take turns. Errors: HWORKER_E_INVALID (a cursor that is not one
 * position per shard of this queue, or a buffer too small), HWORKER_E_REDIS.
 * A cursor carries only positions: one of another queue with the same shard
 * count reads this queue's events after those times. */
HWORKER_API hworker_rc hworker_events(hworker *h, char *cursor, size_t cursor_size, long count, double block,
                                      hworker_event_fn fn, void *ud, char *err, size_t errlen);

/** Loads the job file again (as SIGHUP does in hworker-lua): it is first
 * loaded into a scratch state; if that fails, nothing changes and the
 * message says why (HWORKER_E_JOB_FILE). Otherwise every running worker switches to a fresh state
 * of the new file before its next job (jobs in progress finish on the old
 * one). Thread-safe. */
HWORKER_API hworker_rc hworker_reload(hworker *h, char *err, size_t errlen);

/* ---- cron: periodic jobs (docs/scheduling.md, docs/cron-schedules.md) ---- */

/** What a cron entry does with ticks missed while no monitor ran (or that
 * a newer tick overtook): */
typedef enum hworker_cron_missed {
    HWORKER_CRON_SKIP = 0, /**< enqueue none of them; they are counted as missed */
    HWORKER_CRON_ONE = 1,  /**< enqueue one job for the latest of them (the default) */
    HWORKER_CRON_ALL = 2   /**< enqueue one job for each (at most 1,000 per step) */
} hworker_cron_missed;

/** Adds cron entry `entry` (1 to 200 bytes, no control characters) to the
 * queue, or changes it: at every tick of `schedule` ("*\/5 * * * *",
 * "@hourly", "@every 30s"; docs/cron-schedules.md) in time zone `tz` (an
 * IANA name such as "Europe/Berlin"; NULL or "" for UTC), the job `job`
 * (JSON) is enqueued, once however many processes run: the monitors of
 * every process take part, and each tick is handed to one of them
 * atomically. The job's meta.due_at is its tick's time. With `unique`, a
 * tick whose previous job is still pending or running enqueues nothing
 * (counted as held). A new entry ticks from now on; a changed one keeps its
 * last tick. Returns HWORKER_OK, HWORKER_E_INVALID with a message naming
 * what to fix (the schedule's field, an unknown zone, the job's JSON), or
 * HWORKER_E_REDIS. Thread-safe. */
HWORKER_API hworker_rc hworker_cron_add(hworker *h, const char *entry, const char *schedule, const char *job,
                                        const char *tz, hworker_cron_missed missed, int unique, char *err,
                                        size_t errlen);

/** Removes cron entry `entry`; *removed (may be NULL) gets 1 if it existed.
 * Thread-safe. */
HWORKER_API hworker_rc hworker_cron_remove(hworker *h, const char *entry, int *removed, char *err, size_t errlen);

/** One cron entry, as listed. Pointers are valid only during the callback. */
typedef struct hworker_cron_info {
    const char *entry;          /**< its name */
    const char *schedule;       /**< as given, white space made single */
    const char *tz;             /**< "UTC" when none was given */
    const char *job;            /**< the job JSON */
    size_t job_len;             /**< its length */
    hworker_cron_missed missed; /**< its policy for missed ticks */
    int unique;                 /**< 1 for an entry added with unique */
    long long last_at;          /**< ms since the epoch: the last tick handled, or when it was added */
    long long next_at;          /**< ms: its next tick; -1 if none within five years */
    long long fired;            /**< ticks that enqueued a job */
    long long missed_count;     /**< ticks missed: not enqueued because of the policy */
    long long held;             /**< ticks not enqueued because the last job still held its unique key */
    const char *problem;        /**< why it cannot run (its stored definition does not parse), else NULL */
} hworker_cron_info;

/** Receives each cron entry; returns nonzero to stop listing early. */
typedef int (*hworker_cron_fn)(void *ud, const hworker_cron_info *info);

/** Lists the queue's cron entries, by name. Thread-safe. */
HWORKER_API hworker_rc hworker_cron_list(hworker *h, hworker_cron_fn fn, void *ud, char *err, size_t errlen);

/** The next `count` (1 to 1000) ticks of entry `entry` after now (Redis
 * time), in ms since the epoch, into out; *n gets how many (fewer when the
 * schedule has no more within five years). HWORKER_E_INVALID for an
 * unknown entry or a bad count. Thread-safe. */
HWORKER_API hworker_rc hworker_cron_next(hworker *h, const char *entry, int count, long long *out, int *n, char *err,
                                         size_t errlen);

/** Deletes every key of the queue in Redis (jobs, records, counters); the
 * handle stays as it is (hworker_free releases it). Running workers of this
 * handle keep running; stop them first to be sure nothing is left. */
HWORKER_API hworker_rc hworker_delete_queue(hworker *h, char *err, size_t errlen);

/** The library version, e.g. "0.2.0". Thread-safe. */
HWORKER_API const char *hworker_version(void);

/* The process registry (docs/operations.md, "Processes"): while a handle
 * has workers, its lease keeper records the process in Redis every third
 * of the lease; a registration lasts one lease, so a process that died
 * without a word drops out a lease after its last beat. */

/** A job one of a process's workers was running at the process's last beat. */
typedef struct hworker_running_job {
    const char *worker;   /**< the worker, host:pid:thread (an in-flight entry's holder) */
    const char *id;       /**< the job's id */
    const char *claim;    /**< the claim token of this run of it */
    long long started_at; /**< ms since the epoch (Redis time) when it started, or -1 */
} hworker_running_job;

/** One registered process. Pointers are valid only during the callback. */
typedef struct hworker_process_info {
    const char *id;       /**< host:pid:tag, one per handle with workers */
    const char *host;     /**< its host name */
    long long pid;        /**< its process id on that host */
    const char *version;  /**< the hworker version it runs */
    const char *queue;    /**< the queue its workers take jobs from */
    int shards;           /**< that queue's shard count, as the process sees it */
    int threads;          /**< its worker threads at its last beat */
    int busy;             /**< of those, how many were running a job */
    long long started_at; /**< ms since the epoch (its own clock): when its workers started */
    long long beat_at;    /**< ms since the epoch (Redis time): its last beat */
    long long expires_at; /**< ms (Redis time): when it drops out without another beat */
    const char *job_file; /**< the job file its workers run, or NULL */
    /** The jobs its workers were running at its last beat (a job that
     * started since is not among them yet), nrunning of them. */
    const hworker_running_job *running;
    size_t nrunning; /**< how many jobs `running` holds */
} hworker_process_info;

/** Receives each process; returns nonzero to stop listing early. */
typedef int (*hworker_process_fn)(void *ud, const hworker_process_info *p);

/** Lists the live processes with workers on queue `queue` (NULL: the
 * handle's own; any shard count), the registration to expire soonest first
 * (at most 10,000), after forgetting those whose registration ran out.
 * HWORKER_E_INVALID for a bad queue name; HWORKER_E_REDIS when Redis fails
 * or a registry key holds something else (the message names the key). One
 * script call. Thread-safe. */
HWORKER_API hworker_rc hworker_list_processes(hworker *h, const char *queue, hworker_process_fn fn, void *ud, char *err,
                                              size_t errlen);

/** Receives each queue's name; returns nonzero to stop listing early. */
typedef int (*hworker_queue_fn)(void *ud, const char *name);

/** Lists the registry of queues, by name: every queue a handle has
 * enqueued on or run workers for since it was last destroyed (the key
 * hw:queues, one SMEMBERS). The handle's own queue does not matter; it may
 * be one made without a name. HWORKER_E_REDIS when Redis fails or the key
 * holds something else. Thread-safe. */
HWORKER_API hworker_rc hworker_list_queues(hworker *h, hworker_queue_fn fn, void *ud, char *err, size_t errlen);

/* Timings and history (docs/operations.md, "History and timings"): with
 * cfg.history on, every batch of outcomes a worker reports also adds, in
 * the same script call, each run's wait (from its due time, else its
 * enqueue, to its start) and run time to the queue's histograms, and the
 * outcomes and timings to the current minute's bucket (kept 48 hours) and
 * hour's bucket (kept 30 days), in Redis time. */

/** How many buckets a timing histogram has; the last has no upper bound. */
#define HWORKER_TIMING_BUCKETS 16

/** The upper bound, in seconds, of timing bucket i (a duration d falls in
 * the first bucket with d <= its bound): 0.001, 0.005, 0.01, 0.025, 0.05,
 * 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, then INFINITY; NAN for an i
 * outside 0 to HWORKER_TIMING_BUCKETS - 1. Thread-safe; no errors. */
HWORKER_API double hworker_timing_bound(int i);

/** A histogram of durations. */
typedef struct hworker_timing {
    long long count;                          /**< durations counted */
    long long sum_us;                         /**< their sum, in microseconds */
    long long bucket[HWORKER_TIMING_BUCKETS]; /**< how many fell in each bucket (not cumulative) */
} hworker_timing;

/** One bucket of a queue's history: the outcomes reported in it and the
 * timings of the runs they came from (all shards summed). A run whose
 * outcome came from a lost lease counts in the timings, not the outcomes. */
typedef struct hworker_history_entry {
    long long start_ms;  /**< when it starts, ms since the epoch (Redis time) */
    long long period_ms; /**< its length: 60000 or 3600000 */
    long long processed; /**< outcomes applied */
    long long succeeded; /**< of them, successes */
    long long retried;   /**< retries */
    long long failed;    /**< jobs that went to failed */
    long long broken;    /**< payloads that went to broken */
    hworker_timing wait; /**< from due time (else enqueue) to start */
    hworker_timing run;  /**< from start to the end of the handler */
} hworker_history_entry;

/** Receives each history bucket; returns nonzero to stop early. */
typedef int (*hworker_history_fn)(void *ud, const hworker_history_entry *e);

/** Hands fn every bucket of length period_ms (60000: a minute, 3600000: an
 * hour) that overlaps the last since_ms (1 ms up to 48 hours for minutes, 30
 * days for hours), oldest first, the current one last, including empty
 * ones. HWORKER_E_INVALID names the argument to fix; HWORKER_E_REDIS when
 * Redis fails. A history key that holds something else reads as empty.
 * One script call per shard, which reads every bucket asked for (paged
 * inspection). Thread-safe. */
HWORKER_API hworker_rc hworker_history(hworker *h, long long period_ms, long long since_ms, hworker_history_fn fn,
                                       void *ud, char *err, size_t errlen);

/** Reads the queue's timing histograms since it began (all shards summed)
 * into *wait and *run (either may be NULL). HWORKER_E_REDIS when Redis
 * fails. One script call per shard. Thread-safe. */
HWORKER_API hworker_rc hworker_get_timings(hworker *h, hworker_timing *wait, hworker_timing *run, char *err,
                                           size_t errlen);

/* Flow control (docs/flow-control.md): settings kept in Redis, so every
 * process agrees and a change takes effect without a restart. */

/** Pauses the queue: claims stop in every process at their next claim;
 * jobs in flight finish; enqueues still land. Idempotent. Returns
 * HWORKER_OK or HWORKER_E_REDIS. One script call per shard. Thread-safe. */
HWORKER_API hworker_rc hworker_pause(hworker *h, char *err, size_t errlen);

/** Resumes a paused queue and wakes its waiting workers at once. Idempotent.
 * Errors and cost as hworker_pause. Thread-safe. */
HWORKER_API hworker_rc hworker_resume(hworker *h, char *err, size_t errlen);

/** A queue's limits. 0 in a field means no such limit. */
typedef struct hworker_limits {
    long long concurrency;    /**< most of its jobs running at once, across every process */
    long long rate;           /**< most job starts per rate_period_ms (GCRA, in Redis time) */
    long long rate_period_ms; /**< the rate's period, ms (1 or more when rate is set) */
    long long burst;          /**< starts allowed at once beyond the rate after a quiet spell */
} hworker_limits;

/** Replaces the queue's limits with *l. A sharded queue splits each limit
 * over its shards (each shard gets its share, the shares sum to the limit),
 * so a concurrency or a rate must be 0 or at least the shard count.
 * HWORKER_E_INVALID with a message naming the field to fix, or
 * HWORKER_E_REDIS. Workers waiting under the old limits see the new ones
 * at once. One script call per shard. Thread-safe. */
HWORKER_API hworker_rc hworker_set_limits(hworker *h, const hworker_limits *l, char *err, size_t errlen);

/** Reads the queue's limits into *l and whether it is paused into *paused
 * (may be NULL). HWORKER_E_REDIS on failure. Thread-safe. */
HWORKER_API hworker_rc hworker_get_limits(hworker *h, hworker_limits *l, int *paused, char *err, size_t errlen);

/** Replaces the limits of one group (`group`), or of every group without its
 * own (`group` "*"), with those in l: at no instant do more than l->concurrency jobs
 * of the group run, and its starts keep to l->rate per l->rate_period_ms
 * (GCRA, with l->burst). A field at 0 removes that limit of the group (a
 * group's own then falls back to every group's). A named group held back
 * under its old limits gets its turn back at once; with "*", a group at its
 * old cap when its next job ends, one waiting for its old rate when that
 * wait ends. HWORKER_E_INVALID with a message naming what to fix, or
 * HWORKER_E_REDIS. One script call per shard. Thread-safe. */
HWORKER_API hworker_rc hworker_set_group_limits(hworker *h, const char *group, const hworker_limits *l, char *err,
                                                size_t errlen);

/** Parses a rate such as "100/s", "6000/min", "10/h" or "5/10s" (units ms,
 * s, min, h, d; long names too) into starts and a period in ms. "0" or
 * "none" is no rate (0 and 0). HWORKER_E_INVALID with a message showing
 * the forms. No state; thread-safe. */
HWORKER_API hworker_rc hworker_parse_rate(const char *text, long long *rate, long long *period_ms, char *err,
                                          size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
