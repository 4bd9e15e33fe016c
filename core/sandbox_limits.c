/* The limits a sandbox enforces on the code it runs: the allocator that
 * caps memory, the count hook that enforces the time limit and watches the
 * claim's stop flag (lost lease, cancel) and the shutdown flag, the C stack budget, and the stop error that
 * carries the reason out. Runs on the thread that owns the state; nothing
 * is shared. */
#include "sandbox_limits.h"

#include <lauxlib.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "stop_signal.h"

/* How many VM instructions run between two checks of the clock and the stop
 * flags. Small enough to stop within microseconds, large enough to cost
 * nothing measurable. */
#define HW_HOOK_COUNT 1000

static const char *const stop_messages[] = {
    [HW_STOP_NONE] = "",
    [HW_STOP_TIMEOUT] = "timeout: the job ran longer than its time limit and was stopped",
    [HW_STOP_MEMORY] = "memory limit: the job needed more memory than its state may use and was stopped",
    [HW_STOP_LEASE_LOST] = "lease lost: the job was recovered by a monitor while it ran, so it was stopped",
    [HW_STOP_ABORT] = "shutdown: the worker stopped before the job finished",
    [HW_STOP_CANCELLED] = "cancelled: stopped while it ran",
};

const char *hw_sandbox_stop_message(hw_stop_reason why) { return stop_messages[why]; }

hw_sandbox *hw_sandbox_of(lua_State *L)
{
    void *ud = NULL;
    lua_getallocf(L, &ud);
    return ud;
}

/* The allocator enforces the memory cap: growth past it is refused, which
 * LuaJIT turns into a "not enough memory" error; the state stays usable. */
void *hw_sandbox_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    hw_sandbox *sb = ud;
    if (nsize == 0) {
        if (ptr) sb->used -= osize;
        free(ptr);
        return NULL;
    }
    size_t old = ptr ? osize : 0;
    if (nsize > old && !sb->upkeep && sb->used - old + nsize > sb->env->memory_limit) {
        sb->over_limit = 1;
        return NULL;
    }
    void *p = realloc(ptr, nsize);
    if (p) sb->used = sb->used - old + nsize;
    return p;
}

/* A full collection by the engine, outside any job. */
void hw_sandbox_collect(hw_sandbox *sb)
{
    sb->upkeep = 1;
    lua_gc(sb->L, LUA_GCCOLLECT, 0);
    sb->upkeep = 0;
}

hw_stop_reason hw_sandbox_pending_stop(hw_sandbox *sb)
{
    /* The claim's flag holds why it must stop: a lost lease or a cancel. */
    int flag = sb->stop_flag ? atomic_load(sb->stop_flag) : 0;
    if (flag == HW_STOP_LEASE_LOST || flag == HW_STOP_CANCELLED) return (hw_stop_reason)flag;
    if (sb->env->abort && atomic_load(sb->env->abort)) return HW_STOP_ABORT;
    if (sb->over_limit) return HW_STOP_MEMORY;
    if (sb->deadline > 0 && hw_monotonic() >= sb->deadline) return HW_STOP_TIMEOUT;
    return HW_STOP_NONE;
}

static void stop_hook(lua_State *L, lua_Debug *ar);

/* C stack used since the running code began (the stack grows down). */
static size_t stack_used(const hw_sandbox *sb)
{
    char here;
    uintptr_t base = (uintptr_t)sb->stack_base, now = (uintptr_t)&here;
    return base > now ? base - now : 0;
}

static int stack_exhausted(const hw_sandbox *sb) { return sb->stack_base != NULL && stack_used(sb) > sb->stack_limit; }

static int raise_stack(lua_State *L)
{
    return luaL_error(L,
                      "C stack limit: calls through C functions (coroutines, callbacks, metamethods) nested too "
                      "deeply");
}

/* The C stack the running code may use: HW_C_STACK_BUDGET, or half of what
 * is left of this thread's stack where that is less (a host thread, or the
 * main thread under a small ulimit -s). Only the first run on a thread asks
 * for the thread's bounds. */
static void measure_stack(hw_sandbox *sb, const char *base)
{
    pthread_t self = pthread_self();
    if (!sb->stack_known || !pthread_equal(self, sb->stack_thread)) {
        pthread_attr_t attr;
        void *low = NULL;
        size_t size = 0;
        sb->stack_low = NULL;
        if (pthread_getattr_np(self, &attr) == 0) {
            if (pthread_attr_getstack(&attr, &low, &size) == 0) sb->stack_low = low;
            pthread_attr_destroy(&attr);
        }
        sb->stack_thread = self;
        sb->stack_known = 1;
    }
    size_t left = HW_C_STACK_BUDGET * 2;
    if (sb->stack_low != NULL && (uintptr_t)base > (uintptr_t)sb->stack_low)
        left = (size_t)((uintptr_t)base - (uintptr_t)sb->stack_low);
    sb->stack_base = base;
    sb->stack_limit = left / 2 < HW_C_STACK_BUDGET ? left / 2 : HW_C_STACK_BUDGET;
}

/* Once a job must stop, the hook fires on every instruction and raises each
 * time: a pcall in job code may catch one error, but the next instruction
 * after it raises again, so the stop always reaches our own pcall. */
int hw_sandbox_raise_stop(lua_State *L, hw_sandbox *sb, hw_stop_reason why)
{
    if (sb->stopped == HW_STOP_NONE) {
        sb->stopped = why;
        lua_sethook(L, stop_hook, LUA_MASKCOUNT, 1);
    }
    lua_pushstring(L, stop_messages[sb->stopped]);
    return lua_error(L);
}

static void stop_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    hw_sandbox *sb = hw_sandbox_of(L);
    hw_stop_reason why = sb->stopped != HW_STOP_NONE ? sb->stopped : hw_sandbox_pending_stop(sb);
    if (why != HW_STOP_NONE) hw_sandbox_raise_stop(L, sb, why);
    if (stack_exhausted(sb)) raise_stack(L);
}

void hw_sandbox_arm(hw_sandbox *sb, atomic_int *stop)
{
    char base;
    measure_stack(sb, &base);
    sb->co_depth = 0;
    sb->deadline = hw_monotonic() + sb->env->job_timeout;
    sb->stop_flag = stop;
    sb->stopped = HW_STOP_NONE;
    sb->over_limit = 0;
    lua_sethook(sb->L, stop_hook, LUA_MASKCOUNT, HW_HOOK_COUNT);
}

void hw_sandbox_disarm(hw_sandbox *sb)
{
    lua_sethook(sb->L, NULL, 0, 0);
    sb->deadline = 0;
    sb->stop_flag = NULL;
    sb->meta = NULL;
    sb->stack_base = NULL;
}

/* Raises the stop error if the running job must stop: once it must, no call
 * into the engine or the host may have further effects. */
void hw_sandbox_check_stop(lua_State *L)
{
    hw_sandbox *sb = hw_sandbox_of(L);
    hw_stop_reason why = sb->stopped != HW_STOP_NONE ? sb->stopped : hw_sandbox_pending_stop(sb);
    if (why != HW_STOP_NONE) hw_sandbox_raise_stop(L, sb, why);
}

void hw_sandbox_poll(lua_State *L)
{
    hw_sandbox_check_stop(L);
    if (stack_exhausted(hw_sandbox_of(L))) raise_stack(L);
}

void hw_sandbox_reserve(lua_State *L, size_t bytes)
{
    hw_sandbox *sb = hw_sandbox_of(L);
    size_t limit = sb->env->memory_limit;
    if (sb->used > limit || bytes > limit - sb->used) {
        sb->over_limit = 1;
        hw_sandbox_raise_stop(L, sb, HW_STOP_MEMORY);
    }
    sb->used += bytes;
}

void hw_sandbox_unreserve(lua_State *L, size_t bytes) { hw_sandbox_of(L)->used -= bytes; }

int hw_sandbox_exhausted(hw_sandbox *sb) { return sb->used > sb->env->memory_limit / 4 * 3; }
