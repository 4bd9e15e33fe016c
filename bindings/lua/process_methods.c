/* The process registry's queue method: q:processes() (docs/lua-api.md). */
#include "module.h"

static void set_string(lua_State *L, const char *k, const char *v)
{
    if (v == NULL) return;
    lua_pushstring(L, v);
    lua_setfield(L, -2, k);
}

static int push_process(void *ud, const hworker_process_info *p)
{
    lua_State *L = ud;
    lua_createtable(L, 0, 12);
    set_string(L, "id", p->id);
    set_string(L, "host", p->host);
    set_string(L, "version", p->version);
    set_string(L, "queue", p->queue);
    set_string(L, "job_file", p->job_file);
    hw_lua_set_int(L, "pid", p->pid);
    hw_lua_set_int(L, "shards", p->shards);
    hw_lua_set_int(L, "threads", p->threads);
    hw_lua_set_int(L, "busy", p->busy);
    hw_lua_set_int(L, "started_at", p->started_at);
    hw_lua_set_int(L, "beat_at", p->beat_at);
    hw_lua_set_int(L, "expires_at", p->expires_at);
    lua_createtable(L, (int)p->nrunning, 0);
    for (size_t i = 0; i < p->nrunning; i++) {
        lua_createtable(L, 0, 3);
        set_string(L, "worker", p->running[i].worker);
        set_string(L, "id", p->running[i].id);
        hw_lua_set_int(L, "started_at", p->running[i].started_at);
        lua_rawseti(L, -2, (int)i + 1);
    }
    lua_setfield(L, -2, "running");
    lua_rawseti(L, -2, (int)lua_objlen(L, -2) + 1);
    return 0;
}

/* q:processes() -> { {id =, host =, pid =, version =, queue =, shards =,
 * threads =, busy =, started_at =, beat_at =, expires_at = [, job_file =],
 * running = { {worker =, id =, started_at =}, ... }}, ... }, the live
 * processes with workers on the queue; `running` is what their workers ran
 * at their last beat. */
static int l_processes(lua_State *L)
{
    lqueue *q = hw_lua_check_queue(L);
    lua_newtable(L);
    char err[512];
    if (hworker_list_processes(q->h, NULL, push_process, L, err, sizeof err) != HWORKER_OK)
        return luaL_error(L, "hworker: %s", err);
    return 1;
}

void hw_lua_process_methods(lua_State *L)
{
    lua_pushcfunction(L, l_processes);
    lua_setfield(L, -2, "processes");
}
