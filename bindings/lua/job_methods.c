/* The queue methods on single jobs by id: q:cancel(id), q:delete_job(id)
 * and q:run_now(id) (hworker_cancel, hworker_delete_job, hworker_run_now).
 * Each returns {waiting = n, running = n, found = bool} (running:
 * executions told to stop, cancel only); found is false when no job has the
 * id, and true with both counts 0 for a cancel whose job an earlier cancel
 * is stopping. A failure raises, as every function of the module does. */
#include <string.h>

#include "module.h"

typedef hworker_rc (*job_fn)(hworker *h, const char *id, hworker_job_action *out, char *err, size_t errlen);

static int act(lua_State *L, job_fn fn)
{
    lqueue *q = hw_lua_check_queue(L);
    const char *id = luaL_checkstring(L, 2);
    hworker_job_action done;
    char err[512];
    hworker_rc rc = fn(q->h, id, &done, err, sizeof err);
    if (rc == HWORKER_E_NOT_FOUND) memset(&done, 0, sizeof done);
    else if (rc != HWORKER_OK) return luaL_error(L, "hworker: %s", err);
    lua_createtable(L, 0, 3);
    hw_lua_set_int(L, "waiting", done.waiting);
    hw_lua_set_int(L, "running", done.running);
    lua_pushboolean(L, rc == HWORKER_OK);
    lua_setfield(L, -2, "found");
    return 1;
}

static int l_cancel(lua_State *L) { return act(L, hworker_cancel); }
static int l_delete_job(lua_State *L) { return act(L, hworker_delete_job); }
static int l_run_now(lua_State *L) { return act(L, hworker_run_now); }

void hw_lua_job_methods(lua_State *L)
{
    lua_pushcfunction(L, l_cancel);
    lua_setfield(L, -2, "cancel");
    lua_pushcfunction(L, l_delete_job);
    lua_setfield(L, -2, "delete_job");
    lua_pushcfunction(L, l_run_now);
    lua_setfield(L, -2, "run_now");
}
