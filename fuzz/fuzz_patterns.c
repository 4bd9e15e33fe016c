/* libFuzzer target: the sandbox's own string.find / match / gmatch / gsub
 * (core/lua_patterns.c) against LuaJIT's, on the same inputs.
 *
 * The input is "<op><init><subject>\xff<pattern>\xff<replacement>". The
 * driver below runs the operation op selects in a state with our functions
 * installed, with a step budget: the poll raises once it is spent, which
 * stands for the sandbox's time limit. Only when ours finished within the
 * budget does the same driver run in a second state with LuaJIT's own
 * functions. Checked properties:
 *  - ours never crashes, overflows the C stack or trips a sanitizer, on any
 *    pattern, however deep or slow;
 *  - the results are the same values, and an error is raised by both or by
 *    neither, with the same message (both states run the same chunk, so the
 *    positions luaL_error adds are the same too).
 * LuaJIT's functions (lib_string.c) share no code with ours; at start the
 * target checks that ours really replaced them in the first state.
 * The init (find's start, gsub's count) is -100..100 or one of the numbers
 * LuaJIT reads in its own way (huge, fractional, NaN, infinite).
 * Build: cmake -DHWORKER_FUZZ=ON -DCMAKE_C_COMPILER=clang (tools/dev fuzz). */
#include <lauxlib.h>
#include <lualib.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lua_patterns.h"

#define CHECK(cond)                                        \
    do {                                                   \
        if (!(cond)) {                                     \
            fprintf(stderr, "fuzz_patterns: %s\n", #cond); \
            abort();                                       \
        }                                                  \
    } while (0)

/* Polls before ours counts as too slow: 200 polls of 4096 steps. */
#define BUDGET_POLLS 200

static const char driver[] =
    "local op, s, p, r, init = ...\n"
    "local find, match, gmatch, gsub = string.find, string.match, string.gmatch, string.gsub\n"
    "local out = {}\n"
    "local function put(...)\n"
    "  local n = select('#', ...)\n"
    "  out[#out + 1] = '#' .. n\n"
    "  for i = 1, n do local v = select(i, ...) out[#out + 1] = type(v) .. ':' .. tostring(v) end\n"
    "end\n"
    "local function pack(...) return { n = select('#', ...), ... } end\n"
    "local tbl = { a = '<A>', b = false, ['1'] = 7, [2] = 'two', x = '%1', [''] = '<empty>' }\n"
    "tbl[r] = '<R>'\n"
    "local function fn(...)\n"
    "  local n, a = select('#', ...), ...\n"
    "  if a == 'T' then return {} end\n"
    "  if a == 'F' then return false end\n"
    "  if n == 1 and type(a) == 'string' and #a % 3 == 0 then return nil end\n"
    "  local t = {}\n"
    "  for i = 1, n do t[i] = tostring((select(i, ...))) end\n"
    "  return table.concat(t, '<') .. n\n"
    "end\n"
    "if op == 0 then put(find(s, p, init))\n"
    "elseif op == 1 then put(find(s, p, init, true))\n"
    "elseif op == 2 then put(match(s, p, init))\n"
    "elseif op == 3 then put(find(s, p)) put(match(s, p))\n"
    "elseif op == 4 then\n"
    "  local it, k = gmatch(s, p), 0\n"
    "  while k < 5000 do\n"
    "    local t = pack(it())\n"
    "    put(unpack(t, 1, t.n))\n"
    "    if t.n == 0 or t[1] == nil then break end\n"
    "    k = k + 1\n"
    "  end\n"
    "elseif op == 5 then put(gsub(s, p, r))\n"
    "elseif op == 6 then put(gsub(s, p, tbl))\n"
    "elseif op == 7 then put(gsub(s, p, fn))\n"
    "elseif op == 8 then put(gsub(s, p, r, init))\n"
    "elseif op == 9 then put(s:find(p, init)) put(s:match(p)) put(s:gsub(p, r))\n"
    "elseif op == 10 then put(gsub(s, p, tonumber(r) or 42)) put(pcall(gsub, s, p, true))\n"
    "else put(find(#s, p)) put(match(-1.5, p)) put(gsub(1e15, p, r)) put(pcall(find, s, nil))\n"
    "end\n"
    "return table.concat(out, '\\1')\n";

#define NOPS 12

/* LuaJIT keeps pointers tagged inside its own objects, where LeakSanitizer
 * cannot see them: a state kept for the whole run would look leaked. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "detect_leaks=0"; }

typedef struct budget {
    int polls;
    int spent;
} budget;

static void *plain_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    (void)ud;
    (void)osize;
    if (nsize == 0) {
        free(ptr);
        return NULL;
    }
    return realloc(ptr, nsize);
}

static void poll_budget(lua_State *L)
{
    void *ud = NULL;
    lua_getallocf(L, &ud);
    budget *b = ud;
    if (++b->polls > BUDGET_POLLS) {
        b->spent = 1;
        luaL_error(L, "fuzz: step budget spent");
    }
}

typedef struct outcome {
    int ok;
    char *text; /* the driver's result, or the error message */
    size_t len;
} outcome;

/* Runs the driver in L; the outcome's text is malloc'd. */
static outcome run(lua_State *L, int op, const char *s, size_t slen, const char *p, size_t plen, const char *r,
                   size_t rlen, double init)
{
    outcome o = {0, NULL, 0};
    lua_getfield(L, LUA_REGISTRYINDEX, "fuzz.driver");
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        CHECK(luaL_loadbuffer(L, driver, sizeof driver - 1, "=driver") == 0);
        lua_pushvalue(L, -1);
        lua_setfield(L, LUA_REGISTRYINDEX, "fuzz.driver");
    }
    lua_pushinteger(L, op);
    lua_pushlstring(L, s, slen);
    lua_pushlstring(L, p, plen);
    lua_pushlstring(L, r, rlen);
    lua_pushnumber(L, init);
    o.ok = lua_pcall(L, 5, 1, 0) == 0;
    const char *text = lua_tolstring(L, -1, &o.len);
    if (text == NULL) text = "(not a string)";
    o.text = malloc(o.len + 1);
    CHECK(o.text != NULL);
    memcpy(o.text, text, o.len);
    o.text[o.len] = '\0';
    lua_pop(L, 1);
    return o;
}

static const char *next_part(const char *at, const char *end, size_t *len)
{
    const char *sep = memchr(at, 0xff, (size_t)(end - at));
    *len = (size_t)((sep ? sep : end) - at);
    return sep ? sep + 1 : end;
}

/* The two states live for the whole run (libFuzzer calls the target from
 * one thread): making them for each input would be most of the work. */
typedef struct states {
    budget b;
    lua_State *mine, *ref;
} states;

static states *both(void)
{
    static states st;
    if (st.mine) return &st;
    st.mine = lua_newstate(plain_alloc, &st.b);
    CHECK(st.mine != NULL);
    luaL_openlibs(st.mine);
    lua_getglobal(st.mine, "string");
    hw_patterns_install(st.mine, -1, poll_budget);
    lua_pop(st.mine, 1);
    st.ref = luaL_newstate();
    CHECK(st.ref != NULL);
    luaL_openlibs(st.ref);
    /* Ours must be what `mine` calls, as a function and as a method, or the
     * run would compare LuaJIT with itself: only ours polls, so a slow
     * search there must spend the budget. */
    static const char *const slow[] = {"return string.find(string.rep('a', 5000), '.-b')",
                                       "return ('a'):rep(5000):gsub('.-b', '')"};
    for (size_t i = 0; i < sizeof slow / sizeof *slow; i++) {
        st.b.polls = 0;
        st.b.spent = 0;
        CHECK(luaL_dostring(st.mine, slow[i]) != 0 && st.b.spent);
        lua_settop(st.mine, 0);
    }
    return &st;
}

/* libFuzzer's entry point, which no header declares. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    int op = data[0] % NOPS;
    static const double odd_inits[] = {2147483648.0, 2147483647.0,  4294967298.0,  -2147483653.0,
                                       4294967295.0, -2147483648.0, -2147483649.0, 9007199254740992.0,
                                       1e100,        -1e100,        NAN,           INFINITY,
                                       -INFINITY,    2.5,           -2.5,          -3.7,
                                       0.5,          -0.5};
    int byte = (int8_t)data[1];
    double init = byte >= -100 && byte <= 100 ? byte : odd_inits[data[1] % (sizeof odd_inits / sizeof *odd_inits)];
    const char *end = (const char *)data + size;
    size_t slen, plen, rlen;
    const char *s = (const char *)data + 2;
    const char *p = next_part(s, end, &slen);
    const char *r = next_part(p, end, &plen);
    next_part(r, end, &rlen);

    states *st = both();
    st->b.polls = 0;
    st->b.spent = 0;
    outcome ours = run(st->mine, op, s, slen, p, plen, r, rlen, init);
    lua_gc(st->mine, LUA_GCSTEP, 0);
    if (st->b.spent) {
        free(ours.text);
        return 0;
    }
    outcome theirs = run(st->ref, op, s, slen, p, plen, r, rlen, init);
    lua_gc(st->ref, LUA_GCSTEP, 0);
    if (ours.ok != theirs.ok || ours.len != theirs.len || memcmp(ours.text, theirs.text, ours.len) != 0) {
        fprintf(stderr, "fuzz_patterns: op %d init %g differs\n  ours   (%s): %s\n  LuaJIT (%s): %s\n", op, init,
                ours.ok ? "ok" : "error", ours.text, theirs.ok ? "ok" : "error", theirs.text);
        abort();
    }
    free(ours.text);
    free(theirs.text);
    return 0;
}
