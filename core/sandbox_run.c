/* The run of one job in a state that hw_sandbox_open made: undo what the
 * last job changed, decode the payload, call job(state, t, meta) under the
 * limits, and turn what came back (a result, an error or a stop) into an
 * hw_result. Runs on the thread that owns the state; nothing is shared. */
#include "sandbox_run.h"

#include <lauxlib.h>
#include <malloc.h>

#include "sandbox_bounds.h"
#include "sandbox_isolation.h"
#include "sandbox_limits.h"
#include "sandbox_results.h"

/* Everything a job run does in its state happens inside this one protected
 * call: an allocation refused at the memory cap is then an ordinary error,
 * never an unprotected one (which would end the whole process). */
typedef struct run_ctx {
    hw_sandbox *sb;
    const char *job;
    size_t len;
    const hw_job_meta *meta;
    int decoded; /* the job JSON was decoded: later errors are the job's */
} run_ctx;

int hw_sandbox_run_protected(lua_State *L)
{
    run_ctx *c = lua_touserdata(L, 1);
    hw_sandbox *sb = c->sb;
    lua_settop(L, 0);
    /* What the last job changed is undone before this one runs. */
    hw_sandbox_reset_globals(L, sb);
    hw_sandbox_reset_random(L, sb);
    if (sb->json_dirty) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, sb->ref_json_reset);
        lua_call(L, 0, 0);
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, sb->ref_job);
    lua_rawgeti(L, LUA_REGISTRYINDEX, sb->ref_state);
    lua_rawgeti(L, LUA_REGISTRYINDEX, sb->ref_decode);
    lua_pushlstring(L, c->job, c->len);
    lua_call(L, 1, 1);
    c->decoded = 1;
    lua_createtable(L, 0, 6);
    lua_pushstring(L, c->meta->id);
    lua_setfield(L, -2, "id");
    lua_pushinteger(L, c->meta->attempt);
    lua_setfield(L, -2, "attempt");
    lua_pushinteger(L, c->meta->recoveries);
    lua_setfield(L, -2, "recoveries");
    lua_pushnumber(L, (lua_Number)c->meta->enqueued_at);
    lua_setfield(L, -2, "enqueued_at");
    lua_pushnumber(L, (lua_Number)c->meta->due_at);
    lua_setfield(L, -2, "due_at");
    if (c->meta->claimed_at > 0) {
        lua_pushnumber(L, (lua_Number)c->meta->claimed_at);
        lua_setfield(L, -2, "claimed_at");
    }
    lua_call(L, 3, 1);
    return 1;
}

/* Turns the error value on top of the stack into a message in out. */
void hw_sandbox_error_message(hw_sandbox *sb, hw_buf *out)
{
    lua_State *L = sb->L;
    hw_buf_clear(out);
    if (sb->stopped != HW_STOP_NONE) {
        hw_buf_adds(out, hw_sandbox_stop_message(sb->stopped));
        return;
    }
    if (lua_type(L, -1) == LUA_TSTRING) {
        size_t len;
        const char *s = lua_tolstring(L, -1, &len);
        hw_buf_add(out, s, len);
        return;
    }
    if (lua_type(L, -1) == LUA_TNUMBER) {
        hw_buf_addf(out, "%.14g", (double)lua_tonumber(L, -1));
        return;
    }
    /* A table or other value: tostring() may run a __tostring metamethod,
     * which is still under the time limit here. */
    lua_rawgeti(L, LUA_REGISTRYINDEX, sb->ref_tostring);
    lua_pushvalue(L, -2);
    if (lua_pcall(L, 1, 1, 0) == 0 && lua_type(L, -1) == LUA_TSTRING) {
        size_t len;
        const char *s = lua_tolstring(L, -1, &len);
        hw_buf_add(out, s, len);
    } else {
        hw_buf_addf(out, "(error object is a %s value)", luaL_typename(L, -2));
    }
    lua_pop(L, 1);
}

void hw_sandbox_run(hw_sandbox *sb, const char *job, size_t len, const hw_job_meta *meta, atomic_int *stop,
                    hw_result *out)
{
    lua_State *L = sb->L;
    out->kind = HW_RESULT_SUCCESS;
    out->stopped = HW_STOP_NONE;
    out->from_error = 0;
    out->delay_ms = -1;
    hw_buf_clear(&out->message);
    lua_settop(L, 0);
    hw_sandbox_arm(sb, stop);
    sb->meta = meta;
    run_ctx ctx = {sb, job, len, meta, 0};
    /* Neither call allocates: the runner is a registry reference. */
    lua_rawgeti(L, LUA_REGISTRYINDEX, sb->ref_runner);
    lua_pushlightuserdata(L, &ctx);
    int status = lua_pcall(L, 1, 1, 0);
    if (sb->stopped == HW_STOP_NONE && sb->over_limit) sb->stopped = HW_STOP_MEMORY;
    if (status != 0 && sb->stopped == HW_STOP_NONE) {
        if (!ctx.decoded) {
            out->kind = HW_RESULT_BROKEN;
            hw_buf_adds(&out->message, "job is not valid JSON: ");
        } else {
            out->kind = HW_RESULT_FAILURE;
            out->from_error = 1;
            hw_buf_adds(&out->message, "error: ");
        }
        hw_buf msg = {0};
        hw_sandbox_error_message(sb, &msg);
        hw_buf_add(&out->message, msg.data ? msg.data : "", msg.len);
        hw_buf_free(&msg);
        goto done;
    }
    /* A job that caught its own stop error and returned still stops, and
     * one that returned past its time limit (its last C call outlasted it,
     * before the hook could fire) timed out: it never counts as a success. */
    if (sb->stopped == HW_STOP_NONE) {
        hw_stop_reason why = hw_sandbox_pending_stop(sb);
        if (why == HW_STOP_LEASE_LOST || why == HW_STOP_TIMEOUT || why == HW_STOP_CANCELLED) sb->stopped = why;
    }
    if (sb->stopped != HW_STOP_NONE) {
        out->stopped = sb->stopped;
        if (out->stopped == HW_STOP_LEASE_LOST || out->stopped == HW_STOP_ABORT || out->stopped == HW_STOP_CANCELLED) {
            out->kind = HW_RESULT_STOPPED;
        } else {
            out->kind = HW_RESULT_FAILURE;
            out->from_error = 1;
        }
        hw_buf_adds(&out->message, hw_sandbox_stop_message(out->stopped));
        goto done;
    }
    hw_sandbox_read_result(sb, out);
done:
    hw_sandbox_escape_nul(&out->message);
    hw_sandbox_disarm(sb);
    lua_settop(L, 0);
    /* Collect now rather than let garbage from this job count against the
     * next one's memory cap (LuaJIT does not collect when an allocation is
     * refused). Small states skip this. */
    if (sb->used > sb->env->memory_limit / 4) {
        hw_sandbox_collect(sb);
        /* glibc keeps freed memory in the thread's arena: give it back, so
         * that a job that went to its cap leaves the process's RSS where it
         * was. Only after such jobs: a trim walks the arena. */
        malloc_trim(0);
    }
}
