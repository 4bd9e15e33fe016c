/* A sandboxed LuaJIT state that runs one job file: owned by one worker
 * thread, never shared. It enforces the per-state memory cap (allocator) and
 * the per-job time limit (count hook; the JIT is never enabled, since
 * compiled loops do not run hooks), and offers the job the `hworker` table. */
#ifndef HW_SANDBOX_H
#define HW_SANDBOX_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <lua.h>

#include "buf.h"
#include "hworker.h"
#include "log.h"

typedef struct hw_host_function {
    char *name;
    lua_CFunction fn;
    void *ud;
} hw_host_function;

/* What a sandbox needs from the engine. Shared read-only by every sandbox of
 * a handle; `queue` must be thread-safe with respect to different `ud`s. */
typedef struct hw_sandbox_env {
    const char *job_file;
    const char *init_config; /* JSON */
    size_t memory_limit;     /* bytes */
    double job_timeout;      /* seconds */
    hw_logger *log;
    const hw_host_function *functions;
    size_t nfunctions;
    atomic_int *abort; /* raised to stop the running job (shutdown) */
    int trusted;       /* the full standard library, ffi and the JIT */
} hw_sandbox_env;

/* Enqueues a follow-up job for hworker.queue(name, t); `ud` is the worker.
 * The name comes with its length, so a NUL in it is seen, never cut at. */
typedef int (*hw_queue_fn)(void *ud, const char *queue, size_t queue_len, const char *json, size_t len, char *id,
                           char *err, size_t errlen);

typedef enum {
    HW_STOP_NONE = 0,
    HW_STOP_TIMEOUT,
    HW_STOP_MEMORY,
    HW_STOP_LEASE_LOST,
    HW_STOP_ABORT,
    HW_STOP_CANCELLED
} hw_stop_reason;

typedef struct hw_job_meta {
    const char *id;
    long attempt, recoveries;
    long long enqueued_at;
    long long due_at;     /* when it was due to start (ms, Redis time) */
    long long claimed_at; /* when Redis granted its claim (ms, Redis time); 0 if unknown */
    const char *worker;   /* the worker running it (host:pid:thread), for its log lines */
} hw_job_meta;

typedef struct hw_sandbox {
    lua_State *L;
    const hw_sandbox_env *env;
    char *job_file; /* own copy: the env's may change for later states */
    hw_queue_fn queue;
    void *queue_ud;
    size_t used;             /* bytes allocated by the state */
    int over_limit;          /* the allocator refused memory during this run */
    int upkeep;              /* the engine's own collection runs: no cap (it may
                               allocate, e.g. a smaller string table) */
    double deadline;         /* monotonic seconds; 0 when no job runs */
    atomic_int *stop_flag;   /* the running claim's stop flag (hw_sandbox_run), or NULL */
    const hw_job_meta *meta; /* the running job (hw_sandbox_run), or NULL: its log lines carry it */
    hw_stop_reason stopped;  /* why the running code is being stopped */
    const char *stack_base;  /* C stack position where the running code began */
    void *stack_low;         /* the lowest address of that thread's stack, if known */
    pthread_t stack_thread;  /* the thread stack_low belongs to */
    int stack_known;
    size_t stack_limit;    /* how much C stack below it the code may use */
    int co_depth;          /* coroutines resumed inside one another now */
    int json_dirty;        /* the job changed its cjson's settings */
    int json_sparse_ratio; /* the job's cjson.encode_sparse_array ratio and safe */
    int json_sparse_safe;
    int json_encode_depth; /* the job's cjson.encode_max_depth */
    int random_dirty;      /* the job seeded math.random */
    int ref_randomseed;    /* the real math.randomseed */
    int ref_job, ref_state, ref_decode, ref_encode, ref_result_mt, ref_tostring, ref_runner;
    int ref_json_reset; /* puts the job's cjson settings back */
    int ref_globals;    /* the job's globals as the job file left them */
} hw_sandbox;

/* ---- for the sandbox's own library files (sandbox_*.c) ------------------ */

/* The sandbox of a state made by hw_sandbox_open. */
hw_sandbox *hw_sandbox_of(lua_State *L);
/* Raises the stop error when the running job must stop (time limit, lost
 * lease, shutdown, memory), or an error when the code has used its share of
 * the C stack. C functions that loop or call back into Lua call it, so no
 * C function can outrun the limits. Returns only when the job may go on. */
void hw_sandbox_poll(lua_State *L);
/* Counts `bytes` that a C library will malloc outside the Lua allocator
 * against the state's memory cap until hw_sandbox_unreserve. Raises the
 * memory-limit stop when they do not fit. */
void hw_sandbox_reserve(lua_State *L, size_t bytes);
void hw_sandbox_unreserve(lua_State *L, size_t bytes);
/* The most coroutines a job may have resumed inside one another. */
#define HW_COROUTINE_DEPTH 64
/* C stack a job's code may use, at most; less where the thread has less. */
#define HW_C_STACK_BUDGET (1024 * 1024)

typedef enum {
    HW_RESULT_SUCCESS,
    HW_RESULT_RETRY,
    HW_RESULT_FAILURE,
    HW_RESULT_BROKEN, /* the job JSON did not decode */
    HW_RESULT_STOPPED /* lease lost, shutdown or cancelled: report nothing / hand back / report cancelled */
} hw_result_kind;

typedef struct hw_result {
    hw_result_kind kind;
    hw_stop_reason stopped; /* for STOPPED, and for results caused by a stop */
    int from_error;         /* the handler raised (or was stopped) */
    long long delay_ms;     /* retry delay the handler asked for, or -1 */
    hw_buf message;         /* reason for retry, failure or broken */
} hw_result;

/* Creates the state, loads the job file and runs its init(config). Returns
 * 0, or -1 with "file:line: message" (or another message naming what to
 * fix). On failure nothing needs closing. */
int hw_sandbox_open(hw_sandbox *sb, const hw_sandbox_env *env, hw_queue_fn queue, void *queue_ud, char *err,
                    size_t errlen);

/* Decodes `job` and runs job(state, t, meta) under the time limit. `stop`
 * (the claim's stop flag: 0, HW_STOP_LEASE_LOST or HW_STOP_CANCELLED; may be
 * NULL) is watched while it runs. Fills `out` (its message buffer is
 * reused). */
void hw_sandbox_run(hw_sandbox *sb, const char *job, size_t len, const hw_job_meta *meta, atomic_int *stop,
                    hw_result *out);

/* True when the state holds so much live memory after a collection that the
 * next job could not run (a job kept data in its state): reopen it. */
int hw_sandbox_exhausted(hw_sandbox *sb);

void hw_sandbox_close(hw_sandbox *sb);

#endif
