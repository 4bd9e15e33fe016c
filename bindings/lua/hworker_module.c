/* require "hworker": the producer, inspection and in-process worker API for
 * LuaJIT programs. A queue object wraps one engine handle; workers it starts
 * run in their own sandboxed Lua states on their own threads, never in the
 * caller's state. Errors a caller can fix are raised as Lua errors whose
 * message names what to fix. */
#include <limits.h>
#include <lauxlib.h>
#include <lua.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hworker.h"
#include "hworker_steps.h"
#include "log.h"
#include "options.h"
#include "queue_name.h"
#include <hiredis/hiredis.h>
#include "cjson_entry.h"
#include "cron_def.h"
#include "module.h"

lqueue *hw_lua_check_queue(lua_State *L)
{
    lqueue *q = luaL_checkudata(L, 1, QUEUE_MT);
    if (q->h == NULL) luaL_error(L, "hworker: this queue was closed");
    return q;
}

/* cjson.encode / cjson.decode of the calling program, kept as upvalues. */
#define UV_ENCODE lua_upvalueindex(1)
#define UV_DECODE lua_upvalueindex(2)

static const char *encode(lua_State *L, int idx, size_t *len)
{
    idx = idx < 0 ? lua_gettop(L) + idx + 1 : idx;
    lua_pushvalue(L, UV_ENCODE);
    lua_pushvalue(L, idx);
    if (lua_pcall(L, 1, 1, 0) != 0)
        luaL_error(L, "hworker: the job cannot be encoded as JSON: %s", lua_tostring(L, -1));
    return lua_tolstring(L, -1, len);
}

/* ---- options ------------------------------------------------------------ */

static double opt_number(lua_State *L, int t, const char *key, double def)
{
    lua_getfield(L, t, key);
    double v = def;
    if (!lua_isnil(L, -1)) {
        if (!lua_isnumber(L, -1)) luaL_error(L, "hworker: option '%s' must be a number", key);
        v = lua_tonumber(L, -1);
    }
    lua_pop(L, 1);
    return v;
}

/* A count option as a long: NaN reads as 0, and values past what a long
 * holds as its limits (a cast of those would be undefined). */
static long opt_count(lua_State *L, int t, const char *key, long def)
{
    double v = opt_number(L, t, key, (double)def);
    if (!(v > (double)LONG_MIN / 2)) return v != v ? 0 : LONG_MIN / 2;
    if (v > (double)LONG_MAX / 2) return LONG_MAX / 2;
    return (long)v;
}

static const char *opt_string(lua_State *L, int t, const char *key, const char *def)
{
    lua_getfield(L, t, key);
    const char *v = def;
    if (!lua_isnil(L, -1)) {
        if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "hworker: option '%s' must be a string", key);
        v = lua_tostring(L, -1);
    }
    lua_pop(L, 1); /* the string stays alive: it is referenced by the table */
    return v;
}

/* The init config may be given as a table (encoded here) or a JSON string. */
static const char *opt_config(lua_State *L, int t)
{
    lua_getfield(L, t, "config");
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return NULL;
    }
    if (lua_type(L, -1) == LUA_TSTRING) return lua_tostring(L, -1); /* left on the stack */
    size_t len;
    return encode(L, -1, &len);
}

/* hworker.open's options besides the settings of core/options.c. */
static const char *const open_own_options[] = {"name",     "redis",  "password", "password_file",
                                               "job_file", "config", NULL};

/* Sets each setting of the option table given in the table at t; refuses
 * keys that are neither a setting nor one of open_own_options. */
static void set_options(lua_State *L, int t, hworker_config *cfg)
{
    lua_pushnil(L);
    while (lua_next(L, t)) {
        const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
        int own = 0;
        for (const char *const *p = open_own_options; k && *p && !own; p++) own = strcmp(*p, k) == 0;
        if (own) { /* read by l_open itself */
            lua_pop(L, 1);
            continue;
        }
        const hw_option *o = k ? hw_option_find(k) : NULL;
        if (o == NULL) {
            luaL_error(L, "hworker: unknown option '%s' for hworker.open", k ? k : "(not a string)");
            return;
        }
        char err[256];
        int bad = 0;
        if (lua_type(L, -1) == LUA_TNUMBER) {
            bad = hw_option_set(cfg, o, lua_tonumber(L, -1), k, err, sizeof err);
        } else if (lua_type(L, -1) == LUA_TSTRING) {
            bad = hw_option_set_text(cfg, o, lua_tostring(L, -1), k, err, sizeof err);
        } else {
            snprintf(err, sizeof err, "%s must be a %s (got a %s)", k, o->kind == HW_OPT_CHOICE ? "string" : "number",
                     luaL_typename(L, -1));
            bad = 1;
        }
        if (bad) luaL_error(L, "hworker.open: %s", err);
        lua_pop(L, 1);
    }
}

void hw_lua_check_known(lua_State *L, int t, const char *const *known, const char *what)
{
    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_pop(L, 1);
        const char *k = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
        int ok = 0;
        for (const char *const *p = known; k && *p && !ok; p++) ok = strcmp(*p, k) == 0;
        if (!ok) luaL_error(L, "hworker: unknown option '%s' for %s", k ? k : "(not a string)", what);
    }
}

/* hworker.options() -> a list of the settings hworker.open takes, each
 * { name, alias, field, flag, unit, default, min, max, above_min, choices,
 * help } as in hworker-lua options. */
static int l_options(lua_State *L)
{
    lua_newtable(L);
    int i = 0;
    for (const hw_option *o = hw_options; o->name; o++) {
        lua_newtable(L);
        lua_pushstring(L, o->name);
        lua_setfield(L, -2, "name");
        if (o->alias) {
            lua_pushstring(L, o->alias);
            lua_setfield(L, -2, "alias");
        }
        lua_pushstring(L, o->field);
        lua_setfield(L, -2, "field");
        char flag[64];
        snprintf(flag, sizeof flag, "--%s", o->name);
        for (char *c = flag; *c; c++)
            if (*c == '_') *c = '-';
        lua_pushstring(L, flag);
        lua_setfield(L, -2, "flag");
        lua_pushstring(L, hw_option_unit(o));
        lua_setfield(L, -2, "unit");
        if (o->kind == HW_OPT_CHOICE) {
            lua_pushstring(L, o->choices[(size_t)o->def]);
            lua_setfield(L, -2, "default");
            lua_newtable(L);
            for (int c = 0; o->choices[c]; c++) {
                lua_pushstring(L, o->choices[c]);
                lua_rawseti(L, -2, c + 1);
            }
            lua_setfield(L, -2, "choices");
        } else {
            lua_pushnumber(L, o->def);
            lua_setfield(L, -2, "default");
            lua_pushnumber(L, o->min);
            lua_setfield(L, -2, "min");
            lua_pushnumber(L, o->max);
            lua_setfield(L, -2, "max");
            lua_pushboolean(L, o->above_min);
            lua_setfield(L, -2, "above_min");
            lua_pushboolean(L, o->kind == HW_OPT_INT || o->kind == HW_OPT_LONG);
            lua_setfield(L, -2, "whole");
        }
        lua_pushstring(L, o->help);
        lua_setfield(L, -2, "help");
        lua_rawseti(L, -2, ++i);
    }
    return 1;
}

/* q:settings() -> { timeout = 120, ..., on_exception = "failure" }: the
 * settings the queue handle was opened with. */
static int l_settings(lua_State *L)
{
    lqueue *q = hw_lua_check_queue(L);
    hw_buf json = {0};
    hw_options_values_json(hw_config_of(q->h), &json);
    lua_pushvalue(L, UV_DECODE);
    lua_pushlstring(L, json.data, json.len);
    hw_buf_free(&json);
    lua_call(L, 1, 1);
    return 1;
}

/* hworker.open{ name = ..., redis = ..., ... } -> queue */
static int l_open(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    hworker_config cfg;
    hworker_config_init(&cfg);
    set_options(L, 1, &cfg);
    cfg.name = opt_string(L, 1, "name", NULL);
    if (cfg.name) {
        /* With its length: a NUL inside would cut the C string short. */
        size_t name_len;
        lua_getfield(L, 1, "name");
        const char *name = lua_tolstring(L, -1, &name_len);
        char why[160];
        if (hw_queue_name_check(name, name_len, why, sizeof why)) return luaL_error(L, "hworker.open: config: %s", why);
        lua_pop(L, 1);
    }
    cfg.redis_url = opt_string(L, 1, "redis", cfg.redis_url);
    cfg.password = opt_string(L, 1, "password", NULL);
    cfg.password_file = opt_string(L, 1, "password_file", NULL);
    cfg.job_file = opt_string(L, 1, "job_file", NULL);
    const char *config = opt_config(L, 1);
    if (config) cfg.init_config = config;
    char err[512];
    lqueue *q = lua_newuserdata(L, sizeof *q);
    q->h = NULL;
    luaL_getmetatable(L, QUEUE_MT);
    lua_setmetatable(L, -2);
    q->h = hworker_create(&cfg, err, sizeof err);
    if (q->h == NULL) return luaL_error(L, "hworker.open: %s", err);
    return 1;
}

/* ---- producing ---------------------------------------------------------- */

/* Options of queue/queue_json/queue_many: those of hworker_enqueue_opts
 * (delay in s, at in s since the epoch on the Redis clock, queue, shard,
 * priority 0 to 9, group)
 * and unique: a key for single jobs, a list of keys for queue_many. */
typedef struct queue_opts {
    hworker_enqueue_opts enqueue;
    const char *unique;
} queue_opts;

static queue_opts opts_of(lua_State *L, int idx, int single)
{
    queue_opts o = {HWORKER_ENQUEUE_OPTS_INIT, NULL};
    if (lua_isnoneornil(L, idx)) return o;
    luaL_checktype(L, idx, LUA_TTABLE);
    static const char *const known[] = {"delay", "at", "unique", "queue", "shard", "priority", "group", NULL};
    hw_lua_check_known(L, idx, known, single ? "queue options" : "queue_many options");
    o.enqueue.delay = opt_number(L, idx, "delay", 0);
    o.enqueue.at = opt_number(L, idx, "at", 0);
    o.enqueue.queue = opt_string(L, idx, "queue", NULL);
    o.enqueue.shard = (int)opt_number(L, idx, "shard", HWORKER_SHARD_ANY);
    double priority = opt_number(L, idx, "priority", 0);
    if (!(priority >= 0 && priority <= 9 && priority == (double)(int)priority))
        luaL_error(L, "hworker: priority must be a whole number from 0 (none) to 9 (first)");
    o.enqueue.priority = (int)priority;
    o.enqueue.group = opt_string(L, idx, "group", NULL);
    o.unique = single ? opt_string(L, idx, "unique", NULL) : NULL;
    return o;
}

static int queue_one(lua_State *L, lqueue *q, const char *json, size_t len, const queue_opts *o)
{
    hworker_job job = {json, len, o->unique};
    char id[HWORKER_ID_SIZE], err[512];
    long held = 0;
    hworker_enqueue_opts enqueue = o->enqueue;
    enqueue.held = &held;
    if (hworker_enqueue(q->h, &job, 1, &enqueue, id, err, sizeof err) != 0) return luaL_error(L, "hworker: %s", err);
    lua_pushstring(L, id);
    if (o->unique == NULL || o->unique[0] == '\0') return 1;
    /* With a unique key, second: true when it was held, so nothing was added. */
    lua_pushboolean(L, held > 0);
    return 2;
}

/* Fills jobs[i].unique from the list opts.unique of the options table at
 * idx (the strings stay alive in it). Returns NULL, or what is wrong. */
static const char *unique_keys(lua_State *L, int idx, hworker_job *jobs, size_t n)
{
    if (lua_isnoneornil(L, idx)) return NULL;
    lua_getfield(L, idx, "unique");
    int list = lua_gettop(L);
    const char *bad = NULL;
    if (lua_isnil(L, list)) {
        /* no unique keys */
    } else if (!lua_istable(L, list)) {
        bad = "queue_many's unique must be a list of keys, one per job (false for none)";
    } else if (lua_objlen(L, list) > n) {
        bad = "queue_many's unique has more keys than there are jobs";
    } else {
        for (size_t i = 0; i < n && !bad; i++) {
            lua_rawgeti(L, list, (int)i + 1);
            if (lua_type(L, -1) == LUA_TSTRING) jobs[i].unique = lua_tostring(L, -1);
            else if (!lua_isnil(L, -1) && !(lua_isboolean(L, -1) && !lua_toboolean(L, -1)))
                bad = "queue_many's unique keys must be strings (false for none)";
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    return bad;
}

static int push_ids(lua_State *L, const char *ids, size_t n)
{
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        lua_pushstring(L, ids + i * HWORKER_ID_SIZE);
        lua_rawseti(L, -2, (int)i + 1);
    }
    return 1;
}

/* q:queue(t [, {delay = s, at = epoch_s, unique = key}]) -> id (with a
 * unique key: id, held) */
static int l_queue(lua_State *L)
{
    lqueue *q = hw_lua_check_queue(L);
    luaL_checkany(L, 2);
    queue_opts o = opts_of(L, 3, 1);
    size_t len;
    const char *json = encode(L, 2, &len);
    return queue_one(L, q, json, len, &o);
}

/* q:queue_json(json_text [, opts]) -> id: enqueue JSON text as it is. */
static int l_queue_json(lua_State *L)
{
    lqueue *q = hw_lua_check_queue(L);
    size_t len;
    const char *json = luaL_checklstring(L, 2, &len);
    queue_opts o = opts_of(L, 3, 1);
    return queue_one(L, q, json, len, &o);
}

/* q:queue_many{t1, t2, ...} [, {delay =, at =, unique = {key1, key2, ...}}]
 * -> {id1, id2, ...}: one atomic round trip. unique[i] (a string, or false
 * for none) is job i's unique key; a job whose key is held gets the
 * holder's id. */
static int l_queue_many(lua_State *L)
{
    lqueue *q = hw_lua_check_queue(L);
    luaL_checktype(L, 2, LUA_TTABLE);
    queue_opts o = opts_of(L, 3, 0);
    size_t n = lua_objlen(L, 2);
    if (n == 0) {
        lua_newtable(L);
        return 1;
    }
    const char **json = malloc(n * sizeof *json);
    size_t *lens = malloc(n * sizeof *lens);
    char *ids = malloc(n * HWORKER_ID_SIZE);
    if (!json || !lens || !ids) {
        free(json);
        free(lens);
        free(ids);
        return luaL_error(L, "hworker: out of memory");
    }
    /* Encoded strings are kept in a table so they stay alive. */
    lua_createtable(L, (int)n, 0);
    int keep = lua_gettop(L);
    for (size_t i = 0; i < n; i++) {
        lua_rawgeti(L, 2, (int)i + 1);
        lua_pushvalue(L, UV_ENCODE);
        lua_insert(L, -2);
        if (lua_pcall(L, 1, 1, 0) != 0) {
            free(json);
            free(lens);
            free(ids);
            return luaL_error(L, "hworker: job %d cannot be encoded as JSON: %s", (int)i + 1, lua_tostring(L, -1));
        }
        json[i] = lua_tolstring(L, -1, &lens[i]);
        lua_rawseti(L, keep, (int)i + 1);
    }
    char err[512];
    hworker_job *jobs = malloc(n * sizeof *jobs);
    if (jobs == NULL) {
        free(json);
        free(lens);
        free(ids);
        return luaL_error(L, "hworker: out of memory");
    }
    for (size_t i = 0; i < n; i++) jobs[i] = (hworker_job){json[i], lens[i], NULL};
    const char *bad_unique = unique_keys(L, 3, jobs, n);
    if (bad_unique) {
        free(jobs);
        free(json);
        free(lens);
        free(ids);
        return luaL_error(L, "hworker: %s", bad_unique);
    }
    int rc = hworker_enqueue(q->h, jobs, n, &o.enqueue, ids, err, sizeof err);
    free(jobs);
    free(json);
    free(lens);
    if (rc != 0) {
        free(ids);
        return luaL_error(L, "hworker: %s", err);
    }
    push_ids(L, ids, n);
    free(ids);
    return 1;
}

/* ---- inspecting --------------------------------------------------------- */

typedef struct list_ctx {
    lua_State *L;
    int n;
} list_ctx;

void hw_lua_set_int(lua_State *L, const char *k, long long v)
{
    if (v < 0) return;
    lua_pushnumber(L, (lua_Number)v);
    lua_setfield(L, -2, k);
}

static int push_entry(void *ud, const hworker_entry *e)
{
    list_ctx *c = ud;
    lua_State *L = c->L;
    lua_createtable(L, 0, 14);
    if (e->id) {
        lua_pushstring(L, e->id);
        lua_setfield(L, -2, "id");
    }
    if (e->job) {
        lua_pushlstring(L, e->job, e->job_len);
        lua_setfield(L, -2, "job_json");
        lua_pushvalue(L, UV_DECODE);
        lua_pushlstring(L, e->job, e->job_len);
        if (lua_pcall(L, 1, 1, 0) == 0) lua_setfield(L, -2, "job");
        else lua_pop(L, 1);
    }
    hw_lua_set_int(L, "attempt", e->attempt);
    hw_lua_set_int(L, "recoveries", e->recoveries);
    hw_lua_set_int(L, "enqueued_at", e->enqueued_at);
    hw_lua_set_int(L, "time", e->time);
    hw_lua_set_int(L, "started_at", e->started_at);
    if (e->holder) {
        lua_pushstring(L, e->holder);
        lua_setfield(L, -2, "holder");
    }
    if (e->reason) {
        lua_pushstring(L, e->reason);
        lua_setfield(L, -2, "reason");
    }
    if (e->record) {
        lua_pushstring(L, e->record);
        lua_setfield(L, -2, "record");
    }
    lua_pushlstring(L, e->raw, e->raw_len);
    lua_setfield(L, -2, "raw");
    lua_rawseti(L, -2, ++c->n);
    return 0;
}

static int list_part(lua_State *L, hworker_part part)
{
    lqueue *q = hw_lua_check_queue(L);
    long offset = 0, limit = 100;
    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        static const char *const known[] = {"offset", "limit", NULL};
        hw_lua_check_known(L, 2, known, "listing");
        offset = opt_count(L, 2, "offset", 0);
        limit = opt_count(L, 2, "limit", 100);
    }
    lua_newtable(L);
    list_ctx c = {L, 0};
    char err[512];
    if (hworker_list(q->h, part, offset, limit, push_entry, &c, err, sizeof err) != 0)
        return luaL_error(L, "hworker: %s", err);
    return 1;
}

static int l_jobs(lua_State *L) { return list_part(L, HWORKER_PENDING); }
static int l_inflight(lua_State *L) { return list_part(L, HWORKER_INFLIGHT); }
static int l_scheduled(lua_State *L) { return list_part(L, HWORKER_SCHEDULED); }
static int l_failed(lua_State *L) { return list_part(L, HWORKER_FAILED); }
static int l_broken(lua_State *L) { return list_part(L, HWORKER_BROKEN); }

/* q:stats() -> { pending, inflight, scheduled, failed, broken, counters = {...} } */
static int l_stats(lua_State *L)
{
    lqueue *q = hw_lua_check_queue(L);
    hworker_stats s;
    char err[512];
    /* q:stats() sums the shards; q:stats{ shard = k } reads shard k alone. */
    int shard = -1;
    if (lua_istable(L, 2)) {
        lua_getfield(L, 2, "shard");
        if (!lua_isnil(L, -1)) shard = (int)luaL_checkinteger(L, -1);
        lua_pop(L, 1);
    }
    int rc = shard < 0 ? hworker_get_stats(q->h, &s, err, sizeof err)
                       : hworker_get_shard_stats(q->h, shard, &s, err, sizeof err);
    if (rc != 0) return luaL_error(L, "hworker: %s", err);
    lua_createtable(L, 0, 6);
    hw_lua_set_int(L, "pending", s.pending);
    hw_lua_set_int(L, "inflight", s.inflight);
    hw_lua_set_int(L, "scheduled", s.scheduled);
    hw_lua_set_int(L, "failed", s.failed);
    hw_lua_set_int(L, "broken", s.broken);
    hw_lua_set_int(L, "latency_ms", s.latency_ms);
    lua_createtable(L, 0, 10);
    hw_lua_set_int(L, "enqueued", s.enqueued);
    hw_lua_set_int(L, "processed", s.processed);
    hw_lua_set_int(L, "succeeded", s.succeeded);
    hw_lua_set_int(L, "retried", s.retried);
    hw_lua_set_int(L, "failed", s.failed_total);
    hw_lua_set_int(L, "broken", s.broken_total);
    hw_lua_set_int(L, "recovered", s.recovered);
    hw_lua_set_int(L, "lease_lost", s.lease_lost);
    hw_lua_set_int(L, "handed_back", s.handed_back);
    hw_lua_set_int(L, "promoted", s.promoted);
    hw_lua_set_int(L, "requeued", s.requeued);
    hw_lua_set_int(L, "scheduled", s.scheduled_total);
    hw_lua_set_int(L, "exhausted", s.exhausted);
    hw_lua_set_int(L, "merged", s.merged);
    hw_lua_set_int(L, "cancelled", s.cancelled);
    hw_lua_set_int(L, "deleted", s.deleted);
    lua_setfield(L, -2, "counters");
    lua_createtable(L, 0, 4);
    hw_lua_set_int(L, "samples", s.lateness_samples);
    if (s.lateness_samples > 0) {
        hw_lua_set_int(L, "p50", s.lateness_p50_ms);
        hw_lua_set_int(L, "p99", s.lateness_p99_ms);
        hw_lua_set_int(L, "max", s.lateness_max_ms);
    }
    lua_setfield(L, -2, "lateness_ms");
    hw_lua_push_flow(L, &s);
    lua_setfield(L, -2, "flow");
    return 1;
}

static int l_destroy(lua_State *L)
{
    lqueue *q = hw_lua_check_queue(L);
    char err[512];
    if (hworker_delete_queue(q->h, err, sizeof err) != 0) return luaL_error(L, "hworker: %s", err);
    return 0;
}

/* The records one of q:requeue / q:delete acts on: part ("failed" or
 * "broken") at arg 2, then "all" or a list of ids at arg 3. */
typedef int (*records_fn)(hworker *h, hworker_part part, int all, const char *const *ids, size_t n, long *count,
                          char *err, size_t errlen);

static int on_records(lua_State *L, records_fn fn)
{
    lqueue *q = hw_lua_check_queue(L);
    static const char *const parts[] = {"failed", "broken", NULL};
    int p = luaL_checkoption(L, 2, NULL, parts);
    int all = lua_type(L, 3) == LUA_TSTRING && strcmp(lua_tostring(L, 3), "all") == 0;
    if (!all && !lua_istable(L, 3)) return luaL_argerror(L, 3, "\"all\" or a list of record or job ids");
    size_t n = all ? 0 : lua_objlen(L, 3);
    const char **ids = calloc(n + 1, sizeof *ids);
    if (ids == NULL) return luaL_error(L, "hworker: out of memory");
    for (size_t i = 0; i < n; i++) {
        lua_rawgeti(L, 3, (int)i + 1);
        /* Strings only: a number converted here would be a new string
         * that nothing keeps alive. A string of the table lives with it. */
        ids[i] = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
        lua_pop(L, 1);
        if (ids[i] == NULL) {
            free(ids);
            return luaL_argerror(L, 3, "the ids must be strings");
        }
    }
    long count = 0;
    char err[512];
    int rc = fn(q->h, p == 0 ? HWORKER_FAILED : HWORKER_BROKEN, all, ids, n, &count, err, sizeof err);
    free(ids);
    if (rc != 0) return luaL_error(L, "hworker: %s", err);
    lua_pushinteger(L, count);
    return 1;
}

/* q:requeue("failed"|"broken", "all"|{id, ...}) -> how many went back to pending */
static int l_requeue(lua_State *L) { return on_records(L, hworker_requeue); }
/* q:delete("failed"|"broken", "all"|{id, ...}) -> how many were deleted */
static int l_delete(lua_State *L) { return on_records(L, hworker_delete); }

/* q:reload() -> true: workers switch to a fresh load of the job file
 * between jobs; a file that does not load raises and changes nothing. */
static int l_reload(lua_State *L)
{
    lqueue *q = hw_lua_check_queue(L);
    char err[512];
    if (hworker_reload(q->h, err, sizeof err) != 0) return luaL_error(L, "hworker: %s", err);
    lua_pushboolean(L, 1);
    return 1;
}

/* ---- running workers ---------------------------------------------------- */

/* q:start{ job_file =, config =, workers = 1, monitors = 1 } */
static int l_start(lua_State *L)
{
    lqueue *q = hw_lua_check_queue(L);
    int workers = 1, monitors = 1;
    char err[1024];
    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        static const char *const known[] = {"job_file", "config", "workers", "threads", "monitors", NULL};
        hw_lua_check_known(L, 2, known, "start");
        /* threads: the command line's name for the same */
        workers = (int)opt_number(L, 2, "workers", opt_number(L, 2, "threads", 1));
        monitors = (int)opt_number(L, 2, "monitors", 1);
        const char *file = opt_string(L, 2, "job_file", NULL);
        const char *config = opt_config(L, 2);
        if ((file || config) && hworker_set_job_file(q->h, file, config, err, sizeof err) != 0)
            return luaL_error(L, "hworker: %s", err);
    }
    if (hworker_start(q->h, workers, monitors, err, sizeof err) != 0) return luaL_error(L, "hworker: %s", err);
    return 0;
}

/* q:stop{ grace = seconds } */
static int l_stop(lua_State *L)
{
    lqueue *q = hw_lua_check_queue(L);
    double grace = 25;
    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        grace = opt_number(L, 2, "grace", 25);
    }
    hworker_stop(q->h, grace);
    return 0;
}

static int l_close(lua_State *L)
{
    lqueue *q = luaL_checkudata(L, 1, QUEUE_MT);
    hworker_free(q->h);
    q->h = NULL;
    return 0;
}

/* ---- single steps (hworker_steps.h), for tests and custom loops -------- */

static void push_claim(void *ud, const char *claim, size_t len)
{
    list_ctx *c = ud;
    lua_pushlstring(c->L, claim, len);
    lua_rawseti(c->L, -2, ++c->n);
}

/* Each step's last argument: the shard it acts on (default 0). */
static int shard_arg(lua_State *L, int arg) { return (int)luaL_optinteger(L, arg, 0); }

/* q:step_claim(n, holder [, shard]) -> { claim, ... } */
static int l_step_claim(lua_State *L)
{
    lqueue *q = hw_lua_check_queue(L);
    int n = (int)luaL_optinteger(L, 2, 1);
    const char *holder = luaL_optstring(L, 3, "step");
    int shard = shard_arg(L, 4);
    lua_newtable(L);
    list_ctx c = {L, 0};
    char err[512];
    if (hworker_step_claim(q->h, shard, n, holder, push_claim, &c, err, sizeof err) != 0)
        return luaL_error(L, "hworker: %s", err);
    return 1;
}

/* q:step_finish(claim, "success"|"retry"|"failure"|"broken" [, reason [, delay [, shard]]]) -> applied */
static int l_step_finish(lua_State *L)
{
    lqueue *q = hw_lua_check_queue(L);
    size_t len;
    const char *claim = luaL_checklstring(L, 2, &len);
    static const char *const names[] = {"success", "retry", "failure", "broken", "exhausted", NULL};
    static const hworker_outcome outcomes[] = {HWORKER_OUTCOME_SUCCESS, HWORKER_OUTCOME_RETRY, HWORKER_OUTCOME_FAILURE,
                                               HWORKER_OUTCOME_BROKEN, HWORKER_OUTCOME_EXHAUSTED};
    int o = luaL_checkoption(L, 3, NULL, names);
    const char *reason = luaL_optstring(L, 4, "");
    double delay = luaL_optnumber(L, 5, 0);
    int applied = 0;
    char err[512];
    if (hworker_step_finish(q->h, shard_arg(L, 6), claim, len, outcomes[o], reason, delay, &applied, err, sizeof err))
        return luaL_error(L, "hworker: %s", err);
    lua_pushboolean(L, applied);
    return 1;
}

/* A step on one claim that answers whether the claim was still live. */
typedef int (*claim_step_fn)(hworker *h, int shard, const char *claim, size_t len, int *live, char *err, size_t errlen);

static int claim_step(lua_State *L, claim_step_fn fn)
{
    lqueue *q = hw_lua_check_queue(L);
    size_t len;
    const char *claim = luaL_checklstring(L, 2, &len);
    int live = 0;
    char err[512];
    if (fn(q->h, shard_arg(L, 3), claim, len, &live, err, sizeof err) != 0) return luaL_error(L, "hworker: %s", err);
    lua_pushboolean(L, live != 0);
    lua_pushboolean(L, live == 2);
    return 2;
}

/* q:step_renew(claim [, shard]) -> still held, cancelled (hworker_cancel);
 * q:step_hand_back(claim [, shard]) -> handed back */
static int l_step_renew(lua_State *L) { return claim_step(L, hworker_step_renew); }
static int l_step_hand_back(lua_State *L) { return claim_step(L, hworker_step_hand_back); }

/* q:step_sweep([batch [, shard]]) -> recovered, promoted */
static int l_step_sweep(lua_State *L)
{
    lqueue *q = hw_lua_check_queue(L);
    long recovered = 0, promoted = 0;
    char err[512];
    if (hworker_step_sweep(q->h, shard_arg(L, 3), (long)luaL_optinteger(L, 2, 100), &recovered, &promoted, err,
                           sizeof err) != 0)
        return luaL_error(L, "hworker: %s", err);
    lua_pushinteger(L, recovered);
    lua_pushinteger(L, promoted);
    return 2;
}

static void push_reply(lua_State *L, const redisReply *r)
{
    switch (r->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS: lua_pushlstring(L, r->str, r->len); break;
    case REDIS_REPLY_INTEGER: lua_pushnumber(L, (lua_Number)r->integer); break;
    case REDIS_REPLY_NIL: lua_pushnil(L); break;
    case REDIS_REPLY_ARRAY:
        lua_createtable(L, (int)r->elements, 0);
        for (size_t i = 0; i < r->elements; i++) {
            push_reply(L, r->element[i]);
            if (lua_isnil(L, -1)) {
                lua_pop(L, 1);
                lua_pushboolean(L, 0);
            }
            lua_rawseti(L, -2, (int)i + 1);
        }
        break;
    default: lua_pushnil(L);
    }
}

/* q:command("LPUSH", key, value, ...) -> reply; an error reply -> nil, message */
static int l_command(lua_State *L)
{
    lqueue *q = hw_lua_check_queue(L);
    int argc = lua_gettop(L) - 1;
    if (argc < 1 || argc > 64) return luaL_error(L, "hworker: command takes 1 to 64 arguments");
    const char *argv[64];
    size_t lens[64];
    for (int i = 0; i < argc; i++) argv[i] = luaL_checklstring(L, i + 2, &lens[i]);
    char err[512];
    redisReply *r = hworker_command(q->h, argc, argv, lens, err, sizeof err);
    if (r == NULL) return luaL_error(L, "hworker: %s", err);
    if (r->type == REDIS_REPLY_ERROR) {
        lua_pushnil(L);
        lua_pushlstring(L, r->str, r->len);
        freeReplyObject(r);
        return 2;
    }
    push_reply(L, r);
    freeReplyObject(r);
    return 1;
}

/* ---- cron ----------------------------------------------------------------- */

/* q:cron_add(entry, schedule, job [, {tz =, missed = "skip"|"one"|"all",
 * unique = bool}]): job is a table (encoded) or JSON text. -> true */
static int l_cron_add(lua_State *L)
{
    lqueue *q = hw_lua_check_queue(L);
    const char *entry = luaL_checkstring(L, 2);
    const char *schedule = luaL_checkstring(L, 3);
    luaL_checkany(L, 4);
    const char *tz = NULL, *missed = "one";
    int unique = 0;
    if (!lua_isnoneornil(L, 5)) {
        luaL_checktype(L, 5, LUA_TTABLE);
        static const char *const known[] = {"tz", "missed", "unique", NULL};
        hw_lua_check_known(L, 5, known, "cron_add options");
        tz = opt_string(L, 5, "tz", NULL);
        missed = opt_string(L, 5, "missed", "one");
        lua_getfield(L, 5, "unique");
        unique = lua_toboolean(L, -1);
        lua_pop(L, 1);
    }
    int m = hw_cron_missed_parse(missed);
    if (m < 0) return luaL_error(L, "hworker: cron_add: missed must be \"skip\", \"one\" or \"all\"");
    /* After the options: encoding pushes onto the stack. */
    const char *job = lua_type(L, 4) == LUA_TSTRING ? lua_tostring(L, 4) : encode(L, 4, &(size_t){0});
    char err[512];
    if (hworker_cron_add(q->h, entry, schedule, job, tz, (hworker_cron_missed)m, unique, err, sizeof err) != 0)
        return luaL_error(L, "hworker: %s", err);
    lua_pushboolean(L, 1);
    return 1;
}

/* q:cron_rm(entry) -> whether it existed */
static int l_cron_rm(lua_State *L)
{
    lqueue *q = hw_lua_check_queue(L);
    int removed = 0;
    char err[512];
    if (hworker_cron_remove(q->h, luaL_checkstring(L, 2), &removed, err, sizeof err) != 0)
        return luaL_error(L, "hworker: %s", err);
    lua_pushboolean(L, removed);
    return 1;
}

static int push_cron(void *ud, const hworker_cron_info *e)
{
    list_ctx *c = ud;
    lua_State *L = c->L;
    lua_createtable(L, 0, 12);
    lua_pushstring(L, e->entry);
    lua_setfield(L, -2, "entry");
    lua_pushstring(L, e->schedule);
    lua_setfield(L, -2, "schedule");
    lua_pushstring(L, e->tz);
    lua_setfield(L, -2, "tz");
    lua_pushlstring(L, e->job, e->job_len);
    lua_setfield(L, -2, "job_json");
    lua_pushstring(L, hw_cron_missed_name(e->missed));
    lua_setfield(L, -2, "missed");
    lua_pushboolean(L, e->unique);
    lua_setfield(L, -2, "unique");
    hw_lua_set_int(L, "last_at", e->last_at);
    hw_lua_set_int(L, "next_at", e->next_at);
    hw_lua_set_int(L, "fired", e->fired);
    hw_lua_set_int(L, "missed_count", e->missed_count);
    hw_lua_set_int(L, "held", e->held);
    if (e->problem) {
        lua_pushstring(L, e->problem);
        lua_setfield(L, -2, "problem");
    }
    lua_rawseti(L, -2, ++c->n);
    return 0;
}

/* q:cron_ls() -> { {entry =, schedule =, tz =, job_json =, missed =, unique =,
 * last_at =, next_at =, fired =, missed_count =, held = [, problem =]}, ... } */
static int l_cron_ls(lua_State *L)
{
    lqueue *q = hw_lua_check_queue(L);
    lua_newtable(L);
    list_ctx c = {L, 0};
    char err[512];
    if (hworker_cron_list(q->h, push_cron, &c, err, sizeof err) != 0) return luaL_error(L, "hworker: %s", err);
    return 1;
}

/* q:cron_next(entry [, count = 1]) -> { ms, ... } */
static int l_cron_next(lua_State *L)
{
    lqueue *q = hw_lua_check_queue(L);
    const char *entry = luaL_checkstring(L, 2);
    int count = (int)luaL_optinteger(L, 3, 1);
    long long at[1000];
    int n = 0;
    char err[512];
    if (hworker_cron_next(q->h, entry, count, at, &n, err, sizeof err) != 0) return luaL_error(L, "hworker: %s", err);
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lua_pushnumber(L, (lua_Number)at[i]);
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

static const luaL_Reg queue_methods[] = {{"command", l_command},
                                         {"queue", l_queue},
                                         {"queue_json", l_queue_json},
                                         {"queue_many", l_queue_many},
                                         {"jobs", l_jobs},
                                         {"inflight", l_inflight},
                                         {"scheduled", l_scheduled},
                                         {"failed", l_failed},
                                         {"broken", l_broken},
                                         {"stats", l_stats},
                                         {"destroy", l_destroy},
                                         {"start", l_start},
                                         {"stop", l_stop},
                                         {"close", l_close},
                                         {"step_claim", l_step_claim},
                                         {"step_finish", l_step_finish},
                                         {"step_renew", l_step_renew},
                                         {"step_hand_back", l_step_hand_back},
                                         {"step_sweep", l_step_sweep},
                                         {"settings", l_settings},
                                         {"requeue", l_requeue},
                                         {"delete", l_delete},
                                         {"reload", l_reload},
                                         {"cron_add", l_cron_add},
                                         {"cron_rm", l_cron_rm},
                                         {"cron_ls", l_cron_ls},
                                         {"cron_next", l_cron_next},
                                         {NULL, NULL}};

/* Registers fns with the two cjson upvalues on the stack top. */
static void register_with_json(lua_State *L, const luaL_Reg *fns)
{
    for (; fns->name; fns++) {
        lua_pushvalue(L, -2);
        lua_pushvalue(L, -2);
        lua_pushcclosure(L, fns->func, 2);
        lua_setfield(L, -4, fns->name);
    }
}

/* The module's entry point: LuaJIT's require finds it by name in the shared
 * object, and no C code calls it, so no header declares it. */
int luaopen_hworker(lua_State *L);

int luaopen_hworker(lua_State *L)
{
    /* A cjson of our own (linked in), so require "hworker" needs nothing
     * else on the Lua path and never changes the program's cjson settings. */
    lua_pushcfunction(L, luaopen_cjson);
    lua_call(L, 0, 1);
    int cjson = lua_gettop(L);

    lua_newtable(L); /* module */
    int module = lua_gettop(L);
    luaL_newmetatable(L, QUEUE_MT);
    lua_newtable(L); /* methods */
    lua_getfield(L, cjson, "encode");
    lua_getfield(L, cjson, "decode");
    register_with_json(L, queue_methods);
    lua_pop(L, 2);
    hw_lua_flow_methods(L);
    hw_lua_process_methods(L);
    hw_lua_history_methods(L);
    hw_lua_job_methods(L);
    hw_lua_event_methods(L);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, l_close);
    lua_setfield(L, -2, "__gc");
    lua_pop(L, 1);

    lua_pushvalue(L, module);
    lua_getfield(L, cjson, "encode");
    lua_getfield(L, cjson, "decode");
    static const luaL_Reg fns[] = {{"open", l_open}, {"options", l_options}, {NULL, NULL}};
    register_with_json(L, fns);
    lua_pop(L, 3);
    lua_pushstring(L, hworker_version());
    lua_setfield(L, module, "version");
    hw_lua_push_timing_bounds(L);
    lua_setfield(L, module, "timing_bounds");
    return 1;
}
