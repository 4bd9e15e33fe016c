/* The handle behind hworker.h, shared by the engine's files. What threads
 * share is named here with the lock that guards it. */
#ifndef HW_INTERNAL_H
#define HW_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "claims.h"
#include "conn.h"
#include "enqueue_gather.h"
#include "hworker.h"
#include "log.h"
#include "queue_name.h"
#include "sandbox.h"
#include "shard_count.h"
#include "stop_signal.h"
#include "text_cap.h"
#include "url.h"

typedef struct hw_worker hw_worker;

/* The keys of one queue, all with the hash tag {name} (Redis Cluster). */
typedef enum {
    HW_KEY_PENDING,
    HW_KEY_INFLIGHT,
    HW_KEY_SCHEDULED,
    HW_KEY_FAILED,
    HW_KEY_BROKEN,
    HW_KEY_STATS,
    HW_KEY_SEQ,
    HW_KEY_UNIQUE,
    HW_KEY_LATENESS,
    HW_KEY_CRON,       /* shard 0's only: cron entries of the queue */
    HW_KEY_CRON_STATE, /* shard 0's only: their last ticks and counters */
    HW_KEY_FLOW,       /* this shard's flow settings (pause, cap, rate) and limiter state */
    HW_KEY_OPEN,       /* list, non-empty while the queue is not paused: paused workers wait on it */
    HW_KEY_FREED,      /* list of wake-ups for workers held back by the concurrency cap */
    HW_KEY_URGENT,     /* zset of the jobs with a priority, claimed before pending's */
    HW_KEY_GROUPS,     /* hash of the groups' state and limits (their jobs wait in hw:{q}:g:<group>) */
    HW_KEY_GROUP_DUE,  /* zset of the groups waiting for their rate, by when */
    HW_KEY_TIMINGS,    /* hash of the queue's wait and run histograms since it began (timings.h) */
    HW_KEY_CANCELS,    /* hash of claim tokens a cancel marked; also the channel cancels are published on */
    HW_KEY_EVENTS,     /* stream of job state changes, while the flow hash's "events" is set */
    HW_KEY_COUNT
} hw_key;

typedef struct hw_keys {
    char *key[HW_KEY_COUNT];
} hw_keys;

void hw_keys_make(hw_keys *k, const char *queue);
/* Shard i of `shards`: hw:{queue}:ROLE when shards is 1, else hw:{queue#i}:ROLE. */
void hw_keys_make_shard(hw_keys *k, const char *queue, int i, int shards);
/* The shard a unique key belongs to (FNV-1a), so that one key always meets
 * the same unique hash. */
int hw_shard_of_unique(const char *unique, int shards);
void hw_keys_free(hw_keys *k);
/* The key recording a queue's shard count, hw:{queue}:shards (shard_count.h);
 * the caller frees it. */
char *hw_keys_shards(const char *queue);
/* The keys of a queue's process registry, whatever its shard count:
 * hw:{queue}:procs (a hash of process id -> its JSON) and hw:{queue}:beats
 * (a zset of process id -> when its registration ends, ms); `role` is
 * "procs" or "beats". The caller frees it. */
char *hw_keys_procs(const char *queue, const char *role);
/* The set of every queue's name that producers and workers have used (the
 * registry `hworker-lua queues` lists), outside any queue's hash tag. */
#define HW_QUEUES_KEY "hw:queues"
/* The longest hworker_events() blocks in one call (seconds). */
#define HW_EVENTS_BLOCK_MAX 10.0

struct hworker {
    /* Read-only after hworker_create(). */
    hworker_config cfg; /* its strings point at the owned copies below */
    char *name, *redis_url, *job_file, *init_config;
    hw_target target;
    hw_logger log;
    hw_keys *shard; /* nshards key sets; shard[0] is hw:{name}:... when unsharded */
    int nshards;
    char hostname[64];
    int pid;

    /* The connection host threads use (queue, list, stats, ...). */
    pthread_mutex_t producer_lock;
    hw_conn producer;
    /* The connection hworker_events() reads on, blocking for up to
     * HW_EVENTS_BLOCK_MAX, so that a reader never holds up the producer. */
    pthread_mutex_t events_lock;
    hw_conn events;

    /* Single-job enqueues waiting to go to Redis together (its own lock). */
    hw_gather gather;
    /* Round-robin position of enqueues over shards (any thread). */
    atomic_uint next_shard;
    /* Set once this handle's shard count agrees with the one Redis records
     * (shard_count.c); cleared by hworker_delete_queue(). */
    atomic_int shards_checked;
    /* Shard counts of the queues follow-up jobs go to (its own lock). */
    hw_shard_cache follow_ups;

    /* Raised by hworker_stop(): stop claiming, stop sleeping. */
    hw_signal stop;
    /* Raised after the grace period: running jobs are interrupted. */
    atomic_int abort_jobs;
    /* Bumped by hworker_reload(): workers rebuild their state between jobs. */
    atomic_int generation;

    /* Claims held by this process's workers (has its own lock). */
    hw_held held;
    /* Serialises Lua state creation: cjson's set-up touches a static. */
    pthread_mutex_t state_lock;

    /* Guards everything below. */
    pthread_mutex_t threads_lock;
    pthread_cond_t threads_changed; /* a worker came or went */
    hw_host_function *functions;    /* frozen while workers run */
    size_t nfunctions;
    hw_sandbox_env sandbox_env;
    hw_worker **workers; /* registered workers: CLIENT UNBLOCK, the watchdog */
    size_t nworkers, worker_cap;
    long next_worker;   /* numbering for holder names */
    pthread_t *threads; /* started by hworker_start() */
    size_t nthreads;
    int keeper_running;
    pthread_t keeper;
    hw_signal keeper_stop;

    /* The watchdog (watchdog.c) runs in the keeper thread. keeper_wake
     * wakes it early (a stop raises it too); keeper_wakes_at is when it
     * plans to wake next, so that a job starting with an earlier deadline
     * wakes it. abandoned_live counts abandoned threads still running: the
     * handle cannot be freed under them. */
    hw_signal keeper_wake;
    _Atomic double keeper_wakes_at;
    atomic_int abandoned_live;

    /* Workers running a job now, for the process registry (any thread). */
    atomic_int busy;
    /* Set once this handle added its queue to the registry of queues
     * (queue_registry.c); cleared by hworker_delete_queue(). */
    atomic_int queue_listed;
};

/* How long past its time limit a job may stay inside one C function before
 * the watchdog gives up on its thread, and how long a stop waits after the
 * grace period before it does the same. */
#define HW_STUCK_SLACK 1.0
/* Abandoned threads still running past which no replacement is started. */
#define HW_MAX_ABANDONED 16
/* The C stack of every thread the engine starts, whatever ulimit -s says. */
#define HW_THREAD_STACK (8u * 1024u * 1024u)

/* worker.c: a worker is made (its Lua state created, serialised by
 * state_lock) on the thread that starts it, then runs on its own thread
 * until stop; hw_worker_loop() frees it. */
hw_worker *hw_worker_new(hworker *h, char *err, size_t errlen);
void hw_worker_loop(hw_worker *w);
void hw_worker_free(hw_worker *w);
hw_conn *hw_worker_conn(hw_worker *w);
/* Appends to out, after a comma if `comma`, the JSON object of the job w
 * runs ({"worker","id","claim","started_at"}: its holder name, the job's
 * id, the claim token, ms in Redis time or -1), and returns 1; returns 0
 * and appends nothing when w runs none. Any thread, while w is registered
 * (under threads_lock); takes w's run lock. */
int hw_worker_describe_running(hw_worker *w, hw_buf *out, int comma);
hworker *hw_worker_handle(hw_worker *w);
/* The start routine of the worker threads the engine starts. */
void *hw_worker_main(void *w);
/* The thread that runs w when the engine started it (set under
 * threads_lock by the starter, read under it by the watchdog). */
void hw_worker_set_thread(hw_worker *w, pthread_t t);
int hw_worker_thread(hw_worker *w, pthread_t *t);
/* The watchdog's side (any thread but w's, under threads_lock): marks w
 * abandoned when its job is HW_STUCK_SLACK past its time limit, or, with
 * `force`, whenever it runs a job; returns 1 if so. Otherwise lowers *next
 * to when w's running job would become stuck. */
int hw_worker_take_if_stuck(hw_worker *w, double now, int force, double *next);
/* After hw_worker_take_if_stuck returned 1, without threads_lock: records
 * the stuck job (timed out, or handed back when `timed_out` is 0), sends
 * the outcomes w had not sent and hands back its prefetched jobs, on
 * `conn`. w must not be used afterwards. */
void hw_worker_settle_abandoned(hw_worker *w, hw_conn *conn, int timed_out);

/* watchdog.c. hw_watchdog_check gives up on workers stuck in C code (see
 * hw_worker_take_if_stuck), settles them on `conn` and starts replacements
 * unless the handle is stopping; returns when it should next look (or
 * INFINITY). Any thread; takes threads_lock. */
double hw_watchdog_check(hworker *h, hw_conn *conn, double now, int force);
/* A worker starting a job that may become stuck at `at` (monotonic s). */
void hw_watchdog_expect(hworker *h, double at);
/* The last thing an abandoned thread does with the handle. */
void hw_watchdog_thread_ended(hworker *h);
/* pthread_create with HW_THREAD_STACK, SIGPIPE blocked in the new thread;
 * returns pthread_create's code. */
int hw_thread_start(pthread_t *t, void *(*fn)(void *), void *arg);
void *hw_keeper_main(void *h);
int hw_monitor_run(hworker *h, char *err, size_t errlen);

/* Length of the ids hworker makes (producer.c says why). */
#define HW_ID_LEN 17
/* producer.c: fills n new job ids, HWORKER_ID_SIZE bytes apart. Thread-safe. */
void hw_new_ids(char *ids, size_t n);
/* debugger.c: logs pending and in-flight jobs every interval until stop. */
int hw_debugger_run(hworker *h, double interval, char *err, size_t errlen);

/* Registration of running workers (registry.c): the first worker starts
 * the lease keeper, the last one to leave stops it. */
void hw_worker_register(hworker *h, hw_worker *w, long *number);
void hw_worker_unregister(hworker *h, hw_worker *w);
/* Stops the keeper thread's loop (under threads_lock). */
void hw_keeper_signal_stop(hworker *h);
/* Joins a keeper asked to stop; called and returns with threads_lock held
 * (it is let go while joining). */
void hw_join_keeper_locked(hworker *h);
/* How many workers are registered now (under threads_lock). */
size_t hw_worker_count(hworker *h);

/* process_beat.c: the keeper's heartbeat in the queue's process registry
 * (hw_keys_procs), under the id `id`: registers or refreshes it, or with
 * `leaving` removes it; then adds the queue to the registry of queues.
 * Runs on the keeper's thread, on its connection. Returns 0, or -1 when
 * Redis cannot be reached or refuses (the next beat tries again); a
 * refusal is logged when *failing is 0, which it then sets, and a beat
 * that works clears it. */
int hw_process_beat(hworker *h, hw_conn *c, const char *id, long long started_ms, int leaving, int *failing);

/* queue_registry.c: adds the handle's queue to the registry of queues,
 * once per handle (a failure is retried at the next call), on the
 * producer connection; and takes it out. */
void hw_queue_listed(hworker *h);
hworker_rc hw_queue_unlisted(hworker *h, char *err, size_t errlen);

/* server_facts.c: refuses a Redis older than 6.2 (-1 with a message) and
 * logs a warning for each setting that puts at-least-once at risk. */
int hw_check_server(hworker *h, char *err, size_t errlen);

/* producer.c: a command or a script on the handle's producer connection,
 * under its lock, reconnecting once. Returns the reply (it may be an error
 * reply; the caller frees it), or NULL with "<what>: <reason>" in err. */
redisReply *hw_producer_command(hworker *h, int argc, const char **argv, const size_t *lens, const char *what,
                                char *err, size_t errlen);
redisReply *hw_producer_script(hworker *h, hw_script s, int nkeys, hw_args *args, const char *what, char *err,
                               size_t errlen);

/* shard_count.c: compares this handle's shard count with the one Redis
 * records for its queue, recording it first when `record` and none is.
 * Once they agree it returns HWORKER_OK at once, with no Redis call.
 * Returns HWORKER_OK, HWORKER_E_SHARDS with a message naming the count to
 * use, or HWORKER_E_REDIS with the connection's error or Redis's refusal.
 * Takes the producer lock: call it without. */
hworker_rc hw_check_own_shards(hworker *h, int record, char *err, size_t errlen);
/* shard_count.c: the keys of one shard of `queue` for a follow-up job sent
 * on `c` (the calling thread's connection): its recorded shard count, looked
 * up once per handle and queue (1 is recorded if none is), and the next
 * shard in turn. Returns HWORKER_OK (free the keys with hw_keys_free), or
 * a failure (HWORKER_E_SHARDS, HWORKER_E_REDIS) with a message. */
hworker_rc hw_follow_up_keys(hworker *h, hw_conn *c, const char *queue, hw_keys *keys, char *err, size_t errlen);
/* shard_count.c: the recorded shard count of `queue`, as hw_follow_up_keys
 * looks it up, into *shards. Returns HWORKER_OK, or a failure with a
 * message. */
hworker_rc hw_queue_shards(hworker *h, hw_conn *c, const char *queue, int *shards, char *err, size_t errlen);

/* producer.c: enqueue through a given connection (a worker's own, for
 * hworker.queue in job code, or the producer connection under its lock). */
/* `uniques` may be NULL; of `o` (NULL: the defaults) the delay, the
 * run-at time, the priority and the group are read (the group already
 * checked by hw_group_key_check), and o->held is counted. `held_each`
 * (NULL, or n ints) gets 1 for each job whose unique key was held. Returns
 * HWORKER_OK or the failure's hworker_rc with a message. */
hworker_rc hw_enqueue(hw_conn *conn, const hw_keys *keys, size_t n, const char *const *json, const size_t *lens,
                      const char *const *uniques, const hworker_enqueue_opts *o, char *ids, int *held_each,
                      int retry_once, char *err, size_t errlen);

#endif
