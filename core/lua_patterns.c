/* Lua patterns (the Lua 5.1 manual, section 5.4.1) as LuaJIT 2.1 runs them,
 * in a matcher that a time limit can stop: see lua_patterns.h.
 *
 * Two LuaJIT behaviours are kept on purpose, because job code may rely on
 * any observable result:
 * - The matcher reads a pattern up to its first NUL byte, which ends it
 *   ("a\0b" matches as "a"; %z is how a pattern names NUL). Only find's
 *   literal search (plain, or no special character at all) sees the whole
 *   pattern.
 * - Errors in a pattern are found lazily, when the matcher reaches the bad
 *   item: ("b"):find("a%") is nil, ("a"):find("a%") raises. */
#include "lua_patterns.h"

#include <lauxlib.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define MAX_CAPTURES 32 /* LuaJIT's LUA_MAXCAPTURES */
#define CAP_OPEN (-1)   /* a capture whose ')' was not reached yet */
#define CAP_POSITION (-2)

typedef struct poll_box {
    hw_patterns_poll poll;
} poll_box;

typedef struct capture {
    const char *at;
    ptrdiff_t len; /* or CAP_OPEN, CAP_POSITION */
} capture;

/* One match attempt's whole state: on the C stack, so a longjmp from the
 * poll function leaves nothing behind. */
typedef struct matcher {
    lua_State *L;
    hw_patterns_poll poll;
    const char *subject, *subject_end;
    size_t steps; /* since the last poll */
    int depth;    /* of match_here calls */
    int ncap;
    capture cap[MAX_CAPTURES];
} matcher;

static void tick(matcher *m, size_t n)
{
    m->steps += n;
    if (m->steps >= HW_PATTERNS_POLL_STEPS) {
        m->steps = 0;
        m->poll(m->L);
    }
}

/* Every message is LuaJIT's own; luaL_error adds the caller's position
 * exactly as LuaJIT's errors from its string functions do. */
static __attribute__((noreturn)) void fail(matcher *m, const char *msg)
{
    luaL_error(m->L, "%s", msg);
    __builtin_unreachable(); /* luaL_error longjmps; LuaJIT's header does not say so */
}

/* ---- single characters -------------------------------------------------- */

/* The classes are ASCII, whatever the C locale, like LuaJIT's. */
static int is_lower(unsigned c) { return c >= 'a' && c <= 'z'; }
static int is_upper(unsigned c) { return c >= 'A' && c <= 'Z'; }
static int is_digit(unsigned c) { return c >= '0' && c <= '9'; }
static int is_alpha(unsigned c) { return is_lower(c) || is_upper(c); }
static int is_alnum(unsigned c) { return is_alpha(c) || is_digit(c); }
static int is_graph(unsigned c) { return c > ' ' && c < 127; }

/* Does byte c belong to %<cl>? An upper-case class letter is the
 * complement; any other character after % stands for itself. */
static int in_class(unsigned c, unsigned cl)
{
    int yes;
    switch (is_upper(cl) ? cl - 'A' + 'a' : cl) {
    case 'a': yes = is_alpha(c); break;
    case 'c': yes = c < ' ' || c == 127; break;
    case 'd': yes = is_digit(c); break;
    case 'g': yes = is_graph(c); break;
    case 'l': yes = is_lower(c); break;
    case 'p': yes = is_graph(c) && !is_alnum(c); break;
    case 's': yes = c == ' ' || (c >= '\t' && c <= '\r'); break;
    case 'u': yes = is_upper(c); break;
    case 'w': yes = is_alnum(c); break;
    case 'x': yes = is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); break;
    case 'z': yes = c == 0; break;
    default: return c == cl;
    }
    return is_upper(cl) ? !yes : yes;
}

/* Does byte c belong to the set from set ('[') to close (its ']')? */
static int in_set(unsigned c, const char *set, const char *close)
{
    int member = 1;
    const char *p = set + 1;
    if (*p == '^') {
        member = 0;
        p++;
    }
    for (; p < close; p++) {
        if (*p == '%') {
            p++;
            if (in_class(c, (unsigned char)*p)) return member;
        } else if (p[1] == '-' && p + 2 < close) {
            if ((unsigned char)p[0] <= c && c <= (unsigned char)p[2]) return member;
            p += 2;
        } else if ((unsigned char)*p == c) {
            return member;
        }
    }
    return !member;
}

/* Where the single-character item at p ('.', a byte, %x or a set) ends. */
static const char *item_end(matcher *m, const char *p)
{
    const char *start = p;
    switch (*p++) {
    case '%':
        if (*p == '\0') fail(m, "malformed pattern (ends with '%')");
        return p + 1;
    case '[':
        if (*p == '^') p++;
        do { /* the first byte may be ']' itself */
            if (*p == '\0') fail(m, "malformed pattern (missing ']')");
            if (*p++ == '%' && *p != '\0') p++;
        } while (*p != ']');
        tick(m, (size_t)(p - start) / 32);
        return p + 1;
    default: return p;
    }
}

/* Does byte c match the single-character item from p to ep? */
static int single(matcher *m, unsigned c, const char *p, const char *ep)
{
    switch (*p) {
    case '.': return 1;
    case '%': return in_class(c, (unsigned char)p[1]);
    case '[': tick(m, (size_t)(ep - p) / 32); return in_set(c, p, ep - 1);
    default: return (unsigned char)*p == c;
    }
}

/* ---- the backtracking matcher -------------------------------------------- */

static const char *match_here(matcher *m, const char *s, const char *p);

/* The longest run of the item, then shorter ones until the rest matches. */
static const char *match_greedy(matcher *m, const char *s, const char *p, const char *ep)
{
    size_t n = 0;
    while (s + n < m->subject_end && single(m, (unsigned char)s[n], p, ep)) {
        n++;
        tick(m, 1);
    }
    for (;;) {
        const char *end = match_here(m, s + n, ep + 1);
        if (end) return end;
        if (n == 0) return NULL;
        n--;
    }
}

/* The shortest run of the item for which the rest matches. */
static const char *match_lazy(matcher *m, const char *s, const char *p, const char *ep)
{
    for (;;) {
        const char *end = match_here(m, s, ep + 1);
        if (end) return end;
        if (s < m->subject_end && single(m, (unsigned char)*s, p, ep)) s++;
        else return NULL;
    }
}

static const char *open_capture(matcher *m, const char *s, const char *p, ptrdiff_t kind)
{
    if (m->ncap >= MAX_CAPTURES) fail(m, "too many captures");
    m->cap[m->ncap].at = s;
    m->cap[m->ncap].len = kind;
    m->ncap++;
    const char *end = match_here(m, s, p);
    if (end == NULL) m->ncap--;
    return end;
}

static const char *close_capture(matcher *m, const char *s, const char *p)
{
    int i = m->ncap - 1;
    while (i >= 0 && m->cap[i].len != CAP_OPEN) i--;
    if (i < 0) fail(m, "invalid pattern capture");
    m->cap[i].len = s - m->cap[i].at;
    const char *end = match_here(m, s, p);
    if (end == NULL) m->cap[i].len = CAP_OPEN;
    return end;
}

/* %bxy at p ('x'): a run from x to its balancing y. */
static const char *match_balance(matcher *m, const char *s, const char *p)
{
    if (p[0] == '\0' || p[1] == '\0') fail(m, "unbalanced pattern");
    if (s >= m->subject_end || *s != p[0]) return NULL;
    int open = 1;
    while (++s < m->subject_end) {
        tick(m, 1);
        if (*s == p[1]) {
            if (--open == 0) return s + 1;
        } else if (*s == p[0]) {
            open++;
        }
    }
    return NULL;
}

/* %1..%9: the same bytes as that capture. */
static const char *match_backref(matcher *m, const char *s, unsigned digit)
{
    int i = (int)digit - '1';
    if (i < 0 || i >= m->ncap || m->cap[i].len == CAP_OPEN) fail(m, "invalid capture index");
    if (m->cap[i].len == CAP_POSITION) return NULL; /* a position is no text */
    size_t len = (size_t)m->cap[i].len;
    tick(m, len / 32);
    if ((size_t)(m->subject_end - s) >= len && memcmp(m->cap[i].at, s, len) == 0) return s + len;
    return NULL;
}

/* Matches pattern p at s; returns the end of the match or NULL. Each call
 * is one level of recursion (items that need no backtracking loop here
 * instead), bounded by HW_PATTERNS_MAX_DEPTH: the same count as LuaJIT's, so
 * the same patterns are "too complex". */
static const char *match_here(matcher *m, const char *s, const char *p)
{
    if (++m->depth > HW_PATTERNS_MAX_DEPTH) fail(m, "pattern too complex");
    for (;;) {
        tick(m, 1);
        switch (*p) {
        case '\0': goto done;
        case '(':
            s = p[1] == ')' ? open_capture(m, s, p + 2, CAP_POSITION) : open_capture(m, s, p + 1, CAP_OPEN);
            goto done;
        case ')': s = close_capture(m, s, p + 1); goto done;
        case '$':
            if (p[1] == '\0') { /* only the last '$' anchors */
                if (s != m->subject_end) s = NULL;
                goto done;
            }
            break;
        case '%':
            if (p[1] == 'b') {
                s = match_balance(m, s, p + 2);
                if (s == NULL) goto done;
                p += 4;
                continue;
            }
            if (p[1] == 'f') {
                p += 2;
                if (*p != '[') fail(m, "missing '[' after '%f' in pattern");
                const char *ep = item_end(m, p);
                unsigned before = s == m->subject ? 0 : (unsigned char)s[-1];
                unsigned here = s < m->subject_end ? (unsigned char)*s : 0;
                if (in_set(before, p, ep - 1) || !in_set(here, p, ep - 1)) {
                    s = NULL;
                    goto done;
                }
                p = ep;
                continue;
            }
            if (is_digit((unsigned char)p[1])) {
                s = match_backref(m, s, (unsigned char)p[1]);
                if (s == NULL) goto done;
                p += 2;
                continue;
            }
            break;
        default: break;
        }
        /* A single-character item, maybe with a quantifier. */
        const char *ep = item_end(m, p);
        int here = s < m->subject_end && single(m, (unsigned char)*s, p, ep);
        switch (*ep) {
        case '?':
            if (here) {
                const char *end = match_here(m, s + 1, ep + 1);
                if (end) {
                    s = end;
                    goto done;
                }
            }
            p = ep + 1;
            continue;
        case '+': s = here ? match_greedy(m, s + 1, p, ep) : NULL; goto done;
        case '*': s = match_greedy(m, s, p, ep); goto done;
        case '-': s = match_lazy(m, s, p, ep); goto done;
        default:
            if (!here) {
                s = NULL;
                goto done;
            }
            s++;
            p = ep;
            continue;
        }
    }
done:
    m->depth--;
    return s;
}

static void matcher_init(matcher *m, lua_State *L, int box_index, const char *s, size_t len)
{
    const poll_box *box = lua_touserdata(L, box_index);
    m->L = L;
    m->poll = box->poll;
    m->subject = s;
    m->subject_end = s + len;
    m->steps = 0;
    m->depth = 0;
    m->ncap = 0;
}

/* A literal search from `at`: memmem over a window that starts small and
 * doubles while nothing is found, up to LITERAL_WINDOW bytes, counting the
 * bytes gone through as steps. A search reads about twice the distance to
 * its match, not the whole rest of the subject (glibc's memmem may stop
 * early, but sanitizers check the whole range it is given, and a loop of
 * searches would read the subject once per match), and a search of a long
 * subject polls between windows. */
#define LITERAL_WINDOW_MIN 64
#define LITERAL_WINDOW_MAX 65536
static const char *find_literal(matcher *m, const char *at, const char *p, size_t plen)
{
    if (plen == 0) return at;
    size_t window = LITERAL_WINDOW_MIN;
    while ((size_t)(m->subject_end - at) >= plen) {
        size_t room = (size_t)(m->subject_end - at), span = window + plen - 1;
        if (span > room) span = room;
        const char *found = memmem(at, span, p, plen);
        if (found != NULL) {
            tick(m, 1 + (size_t)(found - at) / 16);
            return found;
        }
        tick(m, 1 + span / 16);
        at += span - plen + 1; /* the next window starts where a match could */
        if (window < LITERAL_WINDOW_MAX) window *= 2;
    }
    return NULL;
}

/* ---- results ------------------------------------------------------------- */

/* Pushes capture i of the match from s to e; with no captures, capture 0
 * is the whole match. */
static void push_capture(matcher *m, int i, const char *s, const char *e)
{
    if (i >= m->ncap) {
        if (i != 0) fail(m, "invalid capture index");
        lua_pushlstring(m->L, s, (size_t)(e - s));
        return;
    }
    ptrdiff_t len = m->cap[i].len;
    if (len == CAP_OPEN) fail(m, "unfinished capture");
    if (len == CAP_POSITION) lua_pushinteger(m->L, m->cap[i].at - m->subject + 1);
    else lua_pushlstring(m->L, m->cap[i].at, (size_t)len);
}

/* Pushes every capture (or the whole match when s is not NULL and there is
 * none); returns how many. */
static int push_captures(matcher *m, const char *s, const char *e)
{
    int n = m->ncap == 0 && s ? 1 : m->ncap;
    luaL_checkstack(m->L, n, "too many captures");
    for (int i = 0; i < n; i++) push_capture(m, i, s, e);
    return n;
}

/* ---- literal search ------------------------------------------------------ */

static int has_any(const char *p, size_t len, const char *chars)
{
    for (size_t i = 0; i < len; i++)
        if (p[i] != '\0' && strchr(chars, p[i])) return 1;
    return 0;
}

/* find searches literally when told to or when the pattern has none of
 * these (LuaJIT's test, over the whole pattern). */
static const char find_specials[] = "^$*+?.([%-";
/* The bytes that make the matcher do anything but compare bytes: ')' is
 * an error on its own. */
static const char matcher_specials[] = "^$*+?.([%-)";

/* Is the pattern p (read up to its first NUL, as the matcher does) a plain
 * string? Then memmem finds what the matcher would, in linear time. */
static int is_literal(const char *p, size_t *len)
{
    *len = strlen(p);
    return !has_any(p, *len, matcher_specials);
}

/* ---- the library functions ----------------------------------------------- */

/* Number arguments are read as LuaJIT on x86-64 reads them, so that even
 * huge, fractional or NaN ones give its results: find's init is truncated
 * to 32 bits by one instruction (out of range or NaN: INT32_MIN); gsub's
 * count is truncated to 64 bits (out of range or NaN: INT64_MIN) of which
 * the low 32 are kept. */
static lua_Integer arg_int32(lua_State *L, int arg, lua_Integer def)
{
    if (lua_isnoneornil(L, arg)) return def;
    lua_Number n = luaL_checknumber(L, arg);
    if (n > -2147483649.0 && n < 2147483648.0) return (lua_Integer)n;
    return INT32_MIN;
}

static lua_Integer arg_low32(lua_State *L, int arg, lua_Integer def)
{
    if (lua_isnoneornil(L, arg)) return def;
    lua_Number n = luaL_checknumber(L, arg);
    int64_t wide = n >= -9223372036854775808.0 && n < 9223372036854775808.0 ? (int64_t)n : INT64_MIN;
    uint32_t low = (uint32_t)(uint64_t)wide;
    return low >= 0x80000000u ? (lua_Integer)low - 4294967296 : (lua_Integer)low;
}

/* The 0-based offset where find and match start: init counts from 1,
 * negative from the end; out of range is clamped, as LuaJIT 2.1 does. */
static size_t start_offset(lua_State *L, int arg, size_t len)
{
    lua_Integer init = arg_int32(L, arg, 1);
    if (init < 0) init += (lua_Integer)len + 1;
    if (init < 1) return 0;
    if ((size_t)(init - 1) > len) return len;
    return (size_t)(init - 1);
}

/* Each call polls on entry: a linear search is quick alone, but a loop of
 * them would run many between two checks of the count hook. */
static void poll_entry(lua_State *L, int box_index)
{
    const poll_box *box = lua_touserdata(L, box_index);
    box->poll(L);
}

static int find_or_match(lua_State *L, int find)
{
    poll_entry(L, lua_upvalueindex(1));
    size_t slen, plen;
    const char *s = luaL_checklstring(L, 1, &slen);
    const char *p = luaL_checklstring(L, 2, &plen);
    size_t start = start_offset(L, 3, slen);
    size_t litlen = plen;
    int literal = find && (lua_toboolean(L, 4) || !has_any(p, plen, find_specials));
    if (!literal) literal = is_literal(p, &litlen);
    if (literal) {
        matcher m;
        matcher_init(&m, L, lua_upvalueindex(1), s, slen);
        const char *at = find_literal(&m, s + start, p, litlen);
        if (at == NULL) {
            lua_pushnil(L);
            return 1;
        }
        if (!find) {
            lua_pushlstring(L, at, litlen);
            return 1;
        }
        lua_pushinteger(L, at - s + 1);
        lua_pushinteger(L, (lua_Integer)(at - s) + (lua_Integer)litlen);
        return 2;
    }
    matcher m;
    matcher_init(&m, L, lua_upvalueindex(1), s, slen);
    int anchored = *p == '^';
    if (anchored) p++;
    for (const char *at = s + start;; at++) {
        m.ncap = 0;
        m.depth = 0;
        const char *end = match_here(&m, at, p);
        if (end) {
            if (!find) return push_captures(&m, at, end);
            lua_pushinteger(L, at - s + 1);
            lua_pushinteger(L, end - s);
            return push_captures(&m, NULL, NULL) + 2;
        }
        if (anchored || at == m.subject_end) break;
    }
    lua_pushnil(L);
    return 1;
}

static int l_find(lua_State *L) { return find_or_match(L, 1); }
static int l_match(lua_State *L) { return find_or_match(L, 0); }

/* gmatch's iterator. Upvalues: the subject, the pattern, the offset to go
 * on from, the poll box. */
static int gmatch_next(lua_State *L)
{
    size_t slen, plen;
    const char *s = lua_tolstring(L, lua_upvalueindex(1), &slen);
    const char *p = lua_tostring(L, lua_upvalueindex(2));
    size_t from = (size_t)lua_tointeger(L, lua_upvalueindex(3));
    if (from > slen) return 0;
    const char *at, *end;
    matcher m;
    matcher_init(&m, L, lua_upvalueindex(4), s, slen);
    m.poll(L);
    if (is_literal(p, &plen)) {
        at = find_literal(&m, s + from, p, plen);
        if (at == NULL) return 0;
        end = at + plen;
    } else {
        for (at = s + from;; at++) {
            m.ncap = 0;
            m.depth = 0;
            end = match_here(&m, at, p);
            if (end) break;
            if (at == m.subject_end) return 0;
        }
    }
    /* After an empty match, go on one byte later. */
    lua_pushinteger(L, (end - s) + (end == at));
    lua_replace(L, lua_upvalueindex(3));
    return push_captures(&m, at, end);
}

static int l_gmatch(lua_State *L)
{
    luaL_checkstring(L, 1);
    luaL_checkstring(L, 2);
    lua_settop(L, 2);
    lua_pushinteger(L, 0);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushcclosure(L, gmatch_next, 4);
    return 1;
}

/* gsub's string replacement: %0 the match, %1..%9 a capture, % before any
 * other byte that byte. A lone % at the end adds a NUL byte, as LuaJIT's
 * reading past the end does. */
static void add_template(matcher *m, luaL_Buffer *b, const char *s, const char *e)
{
    size_t len;
    const char *r = lua_tolstring(m->L, 3, &len);
    /* A long template of empty captures adds nothing to the result, so the
     * memory cap would never stop it: it counts as steps. */
    tick(m, len / 16);
    for (size_t i = 0; i < len; i++) {
        if (r[i] != '%') {
            luaL_addchar(b, r[i]);
            continue;
        }
        unsigned c = (unsigned char)r[++i]; /* r[len] is the string's NUL */
        if (!is_digit(c)) {
            luaL_addchar(b, (char)c);
        } else if (c == '0') {
            luaL_addlstring(b, s, (size_t)(e - s));
        } else {
            push_capture(m, (int)c - '1', s, e);
            luaL_addvalue(b);
        }
    }
}

/* Adds the replacement of the match from s to e; false or nil from a table
 * or function keeps the match. */
static void add_replacement(matcher *m, luaL_Buffer *b, const char *s, const char *e, int repl_type)
{
    lua_State *L = m->L;
    if (repl_type == LUA_TSTRING || repl_type == LUA_TNUMBER) {
        add_template(m, b, s, e);
        return;
    }
    /* A function, or a table's __index, runs Lua from inside this C call:
     * nested gsubs deepen the C stack, which the poll also checks. */
    m->poll(L);
    if (repl_type == LUA_TFUNCTION) {
        lua_pushvalue(L, 3);
        int n = push_captures(m, s, e);
        lua_call(L, n, 1);
    } else {
        push_capture(m, 0, s, e);
        lua_gettable(L, 3);
    }
    if (!lua_toboolean(L, -1)) {
        lua_pop(L, 1);
        lua_pushlstring(L, s, (size_t)(e - s));
    } else if (!lua_isstring(L, -1)) {
        luaL_error(L, "invalid replacement value (a %s)", luaL_typename(L, -1));
    }
    luaL_addvalue(b);
}

static int l_gsub(lua_State *L)
{
    size_t slen, plen;
    const char *s = luaL_checklstring(L, 1, &slen);
    const char *p = luaL_checkstring(L, 2);
    int repl_type = lua_type(L, 3);
    lua_Integer max = arg_low32(L, 4, (lua_Integer)slen + 1);
    if (repl_type != LUA_TNUMBER && repl_type != LUA_TSTRING && repl_type != LUA_TFUNCTION && repl_type != LUA_TTABLE)
        luaL_argerror(L, 3, "string/function/table expected");
    matcher m;
    matcher_init(&m, L, lua_upvalueindex(1), s, slen);
    m.poll(L);
    int literal = is_literal(p, &plen);
    int anchored = *p == '^';
    if (anchored) p++;
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    const char *at = s;
    lua_Integer n = 0;
    while (n < max) {
        const char *end;
        m.ncap = 0;
        m.depth = 0;
        if (literal) {
            const char *found = find_literal(&m, at, p, plen);
            if (found == NULL) break;
            luaL_addlstring(&b, at, (size_t)(found - at));
            at = found;
            end = at + plen;
        } else {
            end = match_here(&m, at, p);
        }
        if (end) {
            n++;
            add_replacement(&m, &b, at, end, repl_type);
        }
        if (end && end > at) at = end;
        /* NOLINTNEXTLINE(clang-analyzer-core.NullDereference): s is never NULL, luaL_checklstring raises */
        else if (at < m.subject_end) luaL_addchar(&b, *at++);
        else break;
        if (anchored) break;
    }
    luaL_addlstring(&b, at, (size_t)(m.subject_end - at));
    luaL_pushresult(&b);
    lua_pushinteger(L, n);
    return 2;
}

void hw_patterns_install(lua_State *L, int string_table_index, hw_patterns_poll poll)
{
    if (string_table_index < 0 && string_table_index > LUA_REGISTRYINDEX)
        string_table_index = lua_gettop(L) + string_table_index + 1;
    static const luaL_Reg fns[] = {
        {"find", l_find}, {"match", l_match}, {"gmatch", l_gmatch}, {"gsub", l_gsub}, {NULL, NULL}};
    poll_box *box = lua_newuserdata(L, sizeof *box);
    box->poll = poll;
    for (const luaL_Reg *r = fns; r->name; r++) {
        lua_pushvalue(L, -1);
        lua_pushcclosure(L, r->func, 1);
        lua_setfield(L, string_table_index, r->name);
    }
    lua_pop(L, 1);
}
