/* libFuzzer target: what a worker does with bytes it claimed from Redis,
 * held to an independent reference. The input is an inflight member
 * ("token|holder|envelope"), as anyone with write access to Redis could
 * leave it. The reference (fuzz/claim_reference.lua, in a plain LuaJIT
 * state) splits it as the Redis scripts do and decodes it with lua-cjson.
 * Checked properties:
 *  - parsing never crashes, and a parsed claim's parts lie inside its copy;
 *  - a claim the engine accepts is a well-formed envelope for the
 *    reference, and the engine's id, attempt, recoveries, enqueued_at and
 *    job bytes are what the reference reads (docs/wire-format.md's rules);
 *  - a claim the engine refuses has one of the four documented reasons, the
 *    one the reference names, unless the header is JSON only for cjson (a
 *    difference cjson_only below names);
 *  - hw_json_check and cjson agree on the job, the header line and the
 *    whole input, both ways: the engine refuses only what cjson refuses too,
 *    or a difference cjson_only confirms at the byte the engine's error
 *    names; every refusal's reason is one json.h documents;
 *  - a job the JSON check accepts runs in the sandbox;
 *  - hw_json_quote of any bytes is JSON that cjson decodes to those bytes,
 *    each byte that is not UTF-8 (glibc's decoder) read as U+0000..U+00FF.
 * Build: cmake -DHWORKER_FUZZ=ON -DCMAKE_C_COMPILER=clang (tools/dev fuzz). */
#include <lauxlib.h>
#include <lualib.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wchar.h>

#include "cjson_entry.h"
#include "claims.h"
#include "json.h"
#include "sandbox.h"

#define CHECK(cond)                                     \
    do {                                                \
        if (!(cond)) {                                  \
            fprintf(stderr, "fuzz_claim: %s\n", #cond); \
            abort();                                    \
        }                                               \
    } while (0)

/* LuaJIT keeps pointers tagged inside its own objects, where LeakSanitizer
 * cannot see them: the reference state kept for the whole run would look
 * leaked. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "detect_leaks=0"; }

static void quiet(void *ud, hworker_log_level level, const char *msg)
{
    (void)ud;
    (void)level;
    (void)msg;
}

/* The target's one sandbox lives for the whole run (libFuzzer calls the
 * target from one thread). */
static hw_sandbox *sandbox(void)
{
    static hw_sandbox sb;
    static hw_logger log;
    static atomic_int abort_flag;
    static hw_sandbox_env env;
    static int opened;
    if (opened) return &sb;
    hw_logger_init(&log, quiet, NULL, NULL, HWORKER_LOG_ERROR, "fuzz");
    char path[] = "/tmp/hworker-fuzz-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    const char *code = "function job(state, t) return end\n";
    CHECK(write(fd, code, strlen(code)) == (ssize_t)strlen(code));
    close(fd);
    env = (hw_sandbox_env){.job_file = path,
                           .init_config = "{}",
                           .memory_limit = (size_t)64 << 20,
                           .job_timeout = 10,
                           .log = &log,
                           .abort = &abort_flag};
    char err[512];
    if (hw_sandbox_open(&sb, &env, NULL, NULL, err, sizeof err) != 0) {
        fprintf(stderr, "fuzz_claim: %s\n", err);
        abort();
    }
    unlink(path);
    opened = 1;
    return &sb;
}

/* ---- the reference -------------------------------------------------------- */

/* A plain LuaJIT state with cjson and fuzz/claim_reference.lua (its path is
 * compiled in); the reference's table sits at stack index 1. */
static lua_State *reference(void)
{
    static lua_State *L;
    if (L) return L;
    L = luaL_newstate();
    CHECK(L != NULL);
    luaL_openlibs(L);
    if (luaL_loadfile(L, HW_FUZZ_REFERENCE) != 0) {
        fprintf(stderr, "fuzz_claim: %s\n", lua_tostring(L, -1));
        abort();
    }
    lua_pushcfunction(L, luaopen_cjson);
    lua_call(L, 0, 1);
    lua_call(L, 1, 1);
    CHECK(lua_istable(L, 1));
    return L;
}

/* Whether cjson decodes text; if out is given and the value is a string,
 * its bytes go there. */
static int ref_decodes(const char *text, size_t len, hw_buf *out)
{
    lua_State *L = reference();
    lua_getfield(L, 1, "decodes");
    lua_pushlstring(L, text, len);
    lua_call(L, 1, 2);
    int ok = lua_toboolean(L, -2);
    if (ok && out && lua_type(L, -1) == LUA_TSTRING) {
        size_t n;
        const char *s = lua_tolstring(L, -1, &n);
        hw_buf_add(out, s, n);
    }
    lua_settop(L, 1);
    return ok;
}

typedef struct ref_claim {
    size_t envelope_at; /* 0-based, like everything below */
    char verdict[32];
    hw_buf id;
    double at, rc, eq; /* NAN: the header has no such number */
    size_t job_at;
} ref_claim;

static double number_or_nan(lua_State *L, int idx)
{
    return lua_type(L, idx) == LUA_TNUMBER ? lua_tonumber(L, idx) : NAN;
}

static void ref_claim_read(ref_claim *r, const char *data, size_t size)
{
    lua_State *L = reference();
    lua_getfield(L, 1, "claim");
    lua_pushlstring(L, data, size);
    lua_call(L, 1, 7);
    r->envelope_at = (size_t)lua_tointeger(L, 2) - 1;
    snprintf(r->verdict, sizeof r->verdict, "%s", lua_tostring(L, 3));
    hw_buf_clear(&r->id);
    if (strcmp(r->verdict, "ok") == 0) {
        size_t n;
        const char *id = lua_tolstring(L, 4, &n);
        hw_buf_add(&r->id, id, n);
        r->at = number_or_nan(L, 5);
        r->rc = number_or_nan(L, 6);
        r->eq = number_or_nan(L, 7);
        r->job_at = (size_t)lua_tointeger(L, 8) - 1;
    }
    lua_settop(L, 1);
}

/* docs/wire-format.md's rules for a header number: a count is 0 when the
 * header has none (or a negative one), else its whole part, at most
 * LONG_MAX - 1 (the worker adds 1); eq is its whole part within long long. */
static long count_of(double x)
{
    if (isnan(x) || x < 0) return 0;
    if (x >= 9223372036854775807.0) return LONG_MAX - 1;
    return (long)x;
}

static long long time_of(double x)
{
    if (isnan(x)) return 0;
    if (x >= 9223372036854775807.0) return LLONG_MAX;
    if (x < -9223372036854775807.0) return LLONG_MIN;
    return (long long)x;
}

/* ---- what the engine may say ---------------------------------------------- */

/* The reasons of a broken envelope (docs/wire-format.md, "Records"), by
 * the reference's verdict for the same rule. */
static const struct {
    const char *verdict, *reason;
} broken_reasons[] = {
    {"no header line", "not an hworker envelope: no header line (expected <header JSON> newline <job JSON>)"},
    {"header not an object", "not an hworker envelope: the header line is not a JSON object"},
    {"version not 1", "unsupported envelope: the header's \"v\" must be 1"},
    {"no id", "not an hworker envelope: the header has no string \"id\" (or an empty one)"},
};

static const char *reason_for(const char *verdict)
{
    for (size_t i = 0; i < sizeof broken_reasons / sizeof *broken_reasons; i++)
        if (strcmp(broken_reasons[i].verdict, verdict) == 0) return broken_reasons[i].reason;
    return NULL;
}

/* The reasons hw_json_check gives (core/json.h), after "line L, column C: ". */
static const char *const json_reasons[] = {
    "control character inside a string (escape it)",
    "bad \\u escape",
    "a \\u escape of a lone low surrogate",
    "a \\u escape of a high surrogate without its low one",
    "bad escape in a string",
    "invalid UTF-8 in a string",
    "unterminated string",
    "incomplete number",
    "invalid number",
    "digit expected after '.'",
    "digit expected in exponent",
    "value expected, found end of input",
    "nested deeper than 1000 levels",
    "object key (a string) expected",
    "':' expected after object key",
    "',' or '}' expected",
    "',' or ']' expected",
    "unexpected text after the JSON value",
};

/* Splits a hw_json_check error into the byte offset it names and its reason. */
static const char *json_reason(const char *text, size_t len, const char *why, size_t *at)
{
    long line, col;
    int n = 0;
    CHECK(sscanf(why, "line %ld, column %ld: %n", &line, &col, &n) == 2 && n > 0);
    long l = 1, c = 1;
    size_t i = 0;
    while (i < len && (l < line || (l == line && c < col))) {
        if (text[i] == '\n') {
            l++;
            c = 1;
        } else c++;
        i++;
    }
    CHECK(l == line && c == col); /* the position lies inside the text, or just past it */
    *at = i;
    return why + n;
}

static void check_json_reason(const char *text, size_t len, const char *why)
{
    size_t at;
    const char *what = json_reason(text, len, why, &at);
    for (size_t i = 0; i < sizeof json_reasons / sizeof *json_reasons; i++)
        if (strcmp(what, json_reasons[i]) == 0) return;
    char expected[64];
    if (at < len && (unsigned char)text[at] >= 0x20 && (unsigned char)text[at] < 0x7f)
        snprintf(expected, sizeof expected, "value expected, found '%c'", text[at]);
    else if (at < len)
        snprintf(expected, sizeof expected, "value expected, found byte 0x%02x", (unsigned char)text[at]);
    else expected[0] = '\0';
    if (strcmp(what, expected) == 0) return;
    fprintf(stderr, "fuzz_claim: hw_json_check refused with an undocumented reason: %s\n", why);
    abort();
}

/* The length of the UTF-8 character at s by glibc's decoder and RFC 3629's
 * range, or 0 if it is not one. A NUL is a character of length 1. */
static size_t utf8_char(const char *s, size_t len)
{
    static locale_t utf8;
    if (utf8 == (locale_t)0) utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
    CHECK(utf8 != (locale_t)0);
    locale_t was = uselocale(utf8);
    mbstate_t st;
    memset(&st, 0, sizeof st);
    wchar_t wc;
    size_t n = mbrtowc(&wc, s, len, &st);
    uselocale(was);
    if (n == 0) return 1;
    if (n == (size_t)-1 || n == (size_t)-2 || (unsigned long)wc > 0x10FFFF) return 0;
    return n;
}

/* Whether the engine's refusal of text that cjson decodes is one of
 * cjson's own leniencies, at the byte the error names:
 *  - a raw control character (0x01..0x1f) inside a string;
 *  - bytes inside a string that are not UTF-8;
 *  - a NUL after the value (cjson stops reading at a NUL);
 *  - a '.' with no digit after it (1., 1.e5) or none before it (-.5):
 *    cjson hands numbers to strtod. */
static int cjson_only(const char *text, size_t len, const char *why)
{
    size_t at;
    const char *what = json_reason(text, len, why, &at);
    unsigned char here = at < len ? (unsigned char)text[at] : 0;
    if (strcmp(what, "control character inside a string (escape it)") == 0)
        return at < len && here >= 0x01 && here < 0x20;
    if (strcmp(what, "invalid UTF-8 in a string") == 0) return at < len && utf8_char(text + at, len - at) == 0;
    if (strcmp(what, "unexpected text after the JSON value") == 0) return at < len && here == '\0';
    if (strcmp(what, "digit expected after '.'") == 0)
        return at > 0 && text[at - 1] == '.' && !(here >= '0' && here <= '9' && at < len);
    if (strcmp(what, "invalid number") == 0) return at > 0 && text[at - 1] == '-' && here == '.' && at < len;
    return 0;
}

/* hw_json_check against cjson on the same bytes; returns whether the engine
 * accepted them. */
static int check_json(const char *what, const char *text, size_t len)
{
    char why[200];
    int engine = hw_json_check(text, len, why, sizeof why) == 0;
    int cjson = ref_decodes(text, len, NULL);
    if (engine && !cjson) {
        fprintf(stderr, "fuzz_claim: hw_json_check accepts the %s, cjson refuses it\n", what);
        abort();
    }
    if (!engine) {
        CHECK(why[0] != '\0');
        check_json_reason(text, len, why);
        if (cjson && !cjson_only(text, len, why)) {
            fprintf(stderr, "fuzz_claim: cjson decodes the %s, hw_json_check refuses it (%s)\n", what, why);
            abort();
        }
    }
    return engine;
}

/* ---- the target ------------------------------------------------------------ */

static void check_accepted(const hw_claim *c, const ref_claim *r)
{
    if (strcmp(r->verdict, "ok") != 0) {
        fprintf(stderr, "fuzz_claim: the engine accepts an envelope the reference finds broken (%s)\n", r->verdict);
        abort();
    }
    CHECK(c->envelope >= c->data && c->envelope + c->envelope_len <= c->data + c->len);
    CHECK(c->job >= c->envelope && c->job + c->job_len <= c->envelope + c->envelope_len);
    CHECK((size_t)(c->job - c->data) == r->job_at && c->job_len == c->len - r->job_at);

    /* The full id comes from the envelope parser; the claim keeps it for
     * display, up to its first NUL and at most sizeof c->id - 1 bytes. */
    hw_envelope e = {0};
    hw_envelope_parse(&e, c->envelope, c->envelope_len);
    CHECK(e.broken == NULL);
    CHECK(e.id.len == r->id.len && memcmp(e.id.data, r->id.data, r->id.len) == 0);
    hw_envelope_free(&e);
    size_t shown = strnlen(r->id.data, r->id.len);
    if (shown > sizeof c->id - 1) shown = sizeof c->id - 1;
    CHECK(strlen(c->id) == shown && memcmp(c->id, r->id.data, shown) == 0);

    if (c->attempt != 1 + count_of(r->at) || c->recoveries != count_of(r->rc) || c->enqueued_at != time_of(r->eq)) {
        fprintf(
            stderr,
            "fuzz_claim: header numbers differ: engine at %ld rc %ld eq %lld, reference at %.17g rc %.17g eq %.17g\n",
            c->attempt - 1, c->recoveries, c->enqueued_at, r->at, r->rc, r->eq);
        abort();
    }
}

static void check_refused(const hw_claim *c, const ref_claim *r)
{
    CHECK(c->job == NULL);
    int documented = 0;
    for (size_t i = 0; i < sizeof broken_reasons / sizeof *broken_reasons; i++)
        documented |= strcmp(c->broken, broken_reasons[i].reason) == 0;
    if (!documented) {
        fprintf(stderr, "fuzz_claim: undocumented reason for a broken envelope: %s\n", c->broken);
        abort();
    }
    const char *expected = reason_for(r->verdict);
    if (expected && strcmp(c->broken, expected) == 0) return;
    /* The one allowed difference: a header that is JSON only for cjson. */
    const char *nl = memchr(c->envelope, '\n', c->envelope_len);
    char why[200];
    if (strcmp(c->broken, reason_for("header not an object")) == 0 && nl &&
        hw_json_check(c->envelope, (size_t)(nl - c->envelope), why, sizeof why) != 0 &&
        cjson_only(c->envelope, (size_t)(nl - c->envelope), why))
        return;
    fprintf(stderr, "fuzz_claim: the engine says \"%s\", the reference \"%s\"\n", c->broken, r->verdict);
    abort();
}

static void run_job(const hw_claim *c)
{
    hw_job_meta meta = {c->id, c->attempt, c->recoveries, c->enqueued_at, c->due_at, 0, "fuzz:1:w1"};
    hw_result res;
    memset(&res, 0, sizeof res);
    hw_sandbox *sb = sandbox();
    hw_sandbox_run(sb, c->job, c->job_len, &meta, NULL, &res);
    if (res.kind != HW_RESULT_SUCCESS) {
        fprintf(stderr, "fuzz_claim: a job the JSON check accepts did not run: %s\n",
                res.message.data ? res.message.data : "(no message)");
        abort();
    }
    hw_buf_free(&res.message);
    if (hw_sandbox_exhausted(sb)) abort();
}

/* hw_json_quote(data) must decode to data, with each byte that is not UTF-8
 * read as the character of the same number. */
static void check_quote(const char *data, size_t size)
{
    hw_buf expected = {0}, decoded = {0}, q = {0};
    for (size_t i = 0; i < size;) {
        size_t n = utf8_char(data + i, size - i);
        if (n) {
            hw_buf_add(&expected, data + i, n);
            i += n;
            continue;
        }
        unsigned char b = (unsigned char)data[i++];
        char two[2] = {(char)(0xC0 | (b >> 6)), (char)(0x80 | (b & 0x3F))};
        hw_buf_add(&expected, two, 2);
    }
    hw_json_quote(&q, data, size);
    CHECK(check_json("quoted input", q.data, q.len));
    CHECK(ref_decodes(q.data, q.len, &decoded));
    CHECK(decoded.len == expected.len && (expected.len == 0 || memcmp(decoded.data, expected.data, expected.len) == 0));
    hw_buf_free(&q);
    hw_buf_free(&decoded);
    hw_buf_free(&expected);
}

/* libFuzzer's entry point, which no header declares. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static ref_claim r;
    const char *text = (const char *)data;
    hw_claim *c = hw_claim_new(text, size);
    CHECK(c->len == size && (size == 0 || memcmp(c->data, data, size) == 0));
    CHECK(memchr(c->id, '\0', sizeof c->id) != NULL);
    ref_claim_read(&r, text, size);
    CHECK((size_t)(c->envelope - c->data) == r.envelope_at);

    if (c->broken == NULL) {
        check_accepted(c, &r);
        if (check_json("job", c->job, c->job_len)) run_job(c);
    } else {
        check_refused(c, &r);
    }
    const char *nl = memchr(c->envelope, '\n', c->envelope_len);
    if (nl) check_json("header line", c->envelope, (size_t)(nl - c->envelope));
    hw_claim_free(c);

    check_json("input", text, size);
    check_quote(text, size);
    lua_gc(reference(), LUA_GCSTEP, 0);
    return 0;
}
