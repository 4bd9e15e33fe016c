/* core/json.h: the JSON checker, the flat-object reader, unescaping and
 * quoting. Every input is given as an exact-size copy without a NUL after
 * it, so a read past its end shows under ASan. */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "check.h"
#include "json.h"

/* hw_json_check on the bytes of a literal; the message in err, "" if none. */
static int json_check(const char *text, size_t len, char *err, size_t errlen)
{
    char *copy = exact_copy(text, len);
    err[0] = '\0';
    int rc = hw_json_check(copy, len, err, errlen);
    free(copy);
    return rc;
}

#define JSON_OK(lit)                                                     \
    do {                                                                 \
        char err_[200];                                                  \
        CHECK(json_check(lit, sizeof(lit) - 1, err_, sizeof err_) == 0); \
        CHECK_STR(err_, "");                                             \
    } while (0)

#define JSON_ERR(lit, want)                                               \
    do {                                                                  \
        char err_[200];                                                   \
        CHECK(json_check(lit, sizeof(lit) - 1, err_, sizeof err_) == -1); \
        CHECK_STR(err_, want);                                            \
    } while (0)

static void test_check_accepts_json(void)
{
    JSON_OK("{}");
    JSON_OK("[]");
    JSON_OK("\"\"");
    JSON_OK("0");
    JSON_OK("-0");
    JSON_OK("-12.50e+10");
    JSON_OK("1E-3");
    JSON_OK("true");
    JSON_OK("false");
    JSON_OK("null");
    JSON_OK(" \t\r\n{\"a\" : [1, 2.5, {\"b\": null}, \"c\"], \"d\": {}} \n");
    JSON_OK("\"escapes \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u00e9 \\uFFFF\"");
    JSON_OK("\"a surrogate pair \\ud83d\\ude00\"");
    JSON_OK("\"UTF-8: \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \x7f\"");
    /* len, not a terminator, says where the text ends. */
    char err[100];
    CHECK(hw_json_check("123abc", 3, err, sizeof err) == 0);
    CHECK(hw_json_check("{}\0garbage", 2, err, sizeof err) == 0);
}

static void test_check_names_the_fault(void)
{
    JSON_ERR("", "line 1, column 1: value expected, found end of input");
    JSON_ERR("   ", "line 1, column 4: value expected, found end of input");
    JSON_ERR("[1,]", "line 1, column 4: value expected, found ']'");
    JSON_ERR("tru", "line 1, column 1: value expected, found 't'");
    JSON_ERR("\x01", "line 1, column 1: value expected, found byte 0x01");
    JSON_ERR("\xff", "line 1, column 1: value expected, found byte 0xff");
    JSON_ERR("{\"a\":1,}", "line 1, column 8: object key (a string) expected");
    JSON_ERR("{1:2}", "line 1, column 2: object key (a string) expected");
    JSON_ERR("{\"a\" 1}", "line 1, column 6: ':' expected after object key");
    JSON_ERR("{\"a\":1 \"b\":2}", "line 1, column 8: ',' or '}' expected");
    JSON_ERR("{\"a\":1", "line 1, column 7: ',' or '}' expected");
    JSON_ERR("[1 2]", "line 1, column 4: ',' or ']' expected");
    JSON_ERR("[", "line 1, column 2: value expected, found end of input");
    JSON_ERR("\"abc", "line 1, column 5: unterminated string");
    JSON_ERR("\"abc\\", "line 1, column 6: unterminated string");
    JSON_ERR("\"a\x01z\"", "line 1, column 3: control character inside a string (escape it)");
    JSON_ERR("\"a\nz\"", "line 1, column 3: control character inside a string (escape it)");
    JSON_ERR("\"\\x\"", "line 1, column 3: bad escape in a string");
    JSON_ERR("\"\\u12G4\"", "line 1, column 3: bad \\u escape");
    JSON_ERR("\"\\u12", "line 1, column 3: bad \\u escape");
    JSON_ERR("\"\\udc00\"", "line 1, column 8: a \\u escape of a lone low surrogate");
    JSON_ERR("\"\\ud800\"", "line 1, column 8: a \\u escape of a high surrogate without its low one");
    JSON_ERR("\"\\ud800\\u0041\"", "line 1, column 8: a \\u escape of a high surrogate without its low one");
    JSON_ERR("\"\\ud800\\u", "line 1, column 8: a \\u escape of a high surrogate without its low one");
    JSON_ERR("\"\xff\"", "line 1, column 2: invalid UTF-8 in a string");
    JSON_ERR("\"\xc0\xaf\"", "line 1, column 2: invalid UTF-8 in a string");         /* overlong '/' */
    JSON_ERR("\"\xed\xa0\x80\"", "line 1, column 2: invalid UTF-8 in a string");     /* a surrogate */
    JSON_ERR("\"\xf4\x90\x80\x80\"", "line 1, column 2: invalid UTF-8 in a string"); /* past U+10FFFF */
    JSON_ERR("\"\xe2\x82", "line 1, column 2: invalid UTF-8 in a string");           /* cut short */
    JSON_ERR("-", "line 1, column 2: incomplete number");
    JSON_ERR("-a", "line 1, column 2: invalid number");
    JSON_ERR("1.", "line 1, column 3: digit expected after '.'");
    JSON_ERR("1.e5", "line 1, column 3: digit expected after '.'");
    JSON_ERR("1e", "line 1, column 3: digit expected in exponent");
    JSON_ERR("1e+", "line 1, column 4: digit expected in exponent");
    JSON_ERR("01", "line 1, column 2: unexpected text after the JSON value");
    JSON_ERR("{} {}", "line 1, column 4: unexpected text after the JSON value");
    /* Lines count from 1 and columns restart after each newline. */
    JSON_ERR("{\n  \"a\": x\n}", "line 2, column 8: value expected, found 'x'");
    JSON_ERR("[1,\n2,\n\n  oops]", "line 4, column 3: value expected, found 'o'");
}

static void test_check_depth(void)
{
    size_t deep = 1000;
    char *text = malloc(2 * deep + 2);
    CHECK(text != NULL);
    memset(text, '[', deep);
    memset(text + deep, ']', deep);
    char err[100] = "";
    CHECK(hw_json_check(text, 2 * deep, err, sizeof err) == 0);

    memset(text, '[', deep + 1);
    memset(text + deep + 1, ']', deep + 1);
    CHECK(hw_json_check(text, 2 * deep + 2, err, sizeof err) == -1);
    CHECK_STR(err, "line 1, column 1001: nested deeper than 1000 levels");
    free(text);
}

static void test_check_err_buffer(void)
{
    /* No buffer, or none of it: the result alone. */
    CHECK(hw_json_check("x", 1, NULL, 0) == -1);
    char err[12];
    memset(err, '#', sizeof err);
    CHECK(hw_json_check("x", 1, err, 0) == -1);
    CHECK(err[0] == '#');
    /* A short buffer: cut, and terminated. */
    CHECK(hw_json_check("x", 1, err, sizeof err) == -1);
    CHECK_STR(err, "line 1, col");
}

/* The members hw_json_flat_object reported, as "key=value|" (s: string) per member. */
static void collect(void *ud, const hw_json_field *f)
{
    hw_buf *out = ud;
    hw_buf_add(out, f->key, f->key_len);
    hw_buf_adds(out, f->is_string ? "=s:" : "=");
    hw_buf_add(out, f->value, f->value_len);
    hw_buf_adds(out, "|");
}

/* hw_json_flat_object on an exact copy of a literal; the members in *out. */
static int flat(const char *text, size_t len, hw_buf *out)
{
    char *copy = exact_copy(text, len);
    hw_buf_clear(out);
    hw_buf_adds(out, "");
    int rc = hw_json_flat_object(copy, len, collect, out);
    free(copy);
    return rc;
}
#define FLAT(lit, out) flat(lit, sizeof(lit) - 1, out)

static void test_flat_object(void)
{
    hw_buf out = {0};
    CHECK(FLAT("{\"v\":1,\"id\":\"a\\\"b\",\"at\":-2.5e3,\"x\":{\"y\":[1,{}]},\"n\":null,\"s\":\"\"}", &out) == 0);
    CHECK_STR(out.data, "v=1|id=s:a\\\"b|at=-2.5e3|x={\"y\":[1,{}]}|n=null|s=s:|");
    CHECK(FLAT(" \n{ \"k\" : \"v\" } \n", &out) == 0);
    CHECK_STR(out.data, "k=s:v|");
    CHECK(FLAT("{\"\\u0069d\":1}", &out) == 0); /* keys stay escaped */
    CHECK_STR(out.data, "\\u0069d=1|");
    CHECK(FLAT("{}", &out) == 0);
    CHECK_STR(out.data, "");
    CHECK(FLAT("  {  }  ", &out) == 0);

    CHECK(FLAT("", &out) == -1);
    CHECK(FLAT("[]", &out) == -1);
    CHECK(FLAT("\"s\"", &out) == -1);
    CHECK(FLAT("{} x", &out) == -1);
    CHECK(FLAT("{\"a\":1} {", &out) == -1);
    CHECK(FLAT("{", &out) == -1);
    CHECK(FLAT("{\"a\"", &out) == -1);
    CHECK(FLAT("{\"a\":", &out) == -1);
    CHECK(FLAT("{\"a\":1", &out) == -1);
    CHECK(FLAT("{\"a\":1,}", &out) == -1);
    CHECK(FLAT("{\"a\" 1}", &out) == -1);
    CHECK(FLAT("{a:1}", &out) == -1);
    CHECK(FLAT("{\"a\":tru}", &out) == -1);
    CHECK(FLAT("{\"a\":\"\\x\"}", &out) == -1);
    CHECK(FLAT("{\"a\":\"unterminated}", &out) == -1);
    hw_buf_free(&out);
}

/* hw_json_unescape of an exact copy of a literal, into a fresh buffer. */
static void unescape(hw_buf *out, const char *s, size_t len)
{
    char *copy = exact_copy(s, len);
    hw_buf_clear(out);
    hw_json_unescape(out, copy, len);
    free(copy);
}
#define UNESCAPE(out, lit) unescape(out, lit, sizeof(lit) - 1)

static void test_unescape(void)
{
    hw_buf out = {0};
    UNESCAPE(&out, "plain");
    CHECK_MEM(out.data, out.len, "plain");
    UNESCAPE(&out, "a\\nb\\tc\\rd\\be\\ff\\\"g\\\\h\\/i");
    CHECK_MEM(out.data, out.len, "a\nb\tc\rd\be\ff\"g\\h/i");
    UNESCAPE(&out, "\\u0041\\u00e9\\u20ac");
    CHECK_MEM(out.data, out.len, "A\xc3\xa9\xe2\x82\xac");
    UNESCAPE(&out, "\\u0000x");
    CHECK_MEM(out.data, out.len, "\0x");
    UNESCAPE(&out, "\\ud83d\\ude00!");
    CHECK_MEM(out.data, out.len, "\xf0\x9f\x98\x80!");
    UNESCAPE(&out, "\\ud83d\\ude00"); /* the pair ends the text */
    CHECK_MEM(out.data, out.len, "\xf0\x9f\x98\x80");
    UNESCAPE(&out, "\\u00e9"); /* the escape ends the text */
    CHECK_MEM(out.data, out.len, "\xc3\xa9");
    UNESCAPE(&out, "\\uDBFF\\uDFFF");
    CHECK_MEM(out.data, out.len, "\xf4\x8f\xbf\xbf");
    UNESCAPE(&out, "\\u00zz!"); /* not 4 hex digits: the replacement character */
    CHECK_MEM(out.data, out.len, "\xef\xbf\xbd!");
    UNESCAPE(&out, "\\ud83d\\u12x4"); /* a high half, then no low one */
    CHECK_MEM(out.data, out.len, "\xed\xa0\xbd\xef\xbf\xbd");
    /* Appends to what is there. */
    hw_buf_clear(&out);
    hw_buf_adds(&out, ">");
    hw_json_unescape(&out, "x\\n", 3);
    CHECK_MEM(out.data, out.len, ">x\n");
    hw_buf_free(&out);
}

/* hw_json_quote of the bytes of a literal. */
#define QUOTE(out, lit)                                 \
    do {                                                \
        char *copy_ = exact_copy(lit, sizeof(lit) - 1); \
        hw_buf_clear(out);                              \
        hw_json_quote(out, copy_, sizeof(lit) - 1);     \
        free(copy_);                                    \
    } while (0)

static void test_quote(void)
{
    hw_buf out = {0};
    QUOTE(&out, "");
    CHECK_STR(out.data, "\"\"");
    QUOTE(&out, "abc");
    CHECK_STR(out.data, "\"abc\"");
    QUOTE(&out, "say \"hi\" \\ bye");
    CHECK_STR(out.data, "\"say \\\"hi\\\" \\\\ bye\"");
    QUOTE(&out, "l1\nl2\tx\ry");
    CHECK_STR(out.data, "\"l1\\nl2\\tx\\ry\"");
    QUOTE(&out, "\x01\x1f\b\f");
    CHECK_STR(out.data, "\"\\u0001\\u001f\\u0008\\u000c\"");
    QUOTE(&out, "a\0b");
    CHECK_STR(out.data, "\"a\\u0000b\"");
    QUOTE(&out, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\x7f/");
    CHECK_STR(out.data, "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\x7f/\"");
    /* Bytes that are not UTF-8 become escapes of the byte. */
    QUOTE(&out, "\xff");
    CHECK_STR(out.data, "\"\\u00ff\"");
    QUOTE(&out, "x\xc3");
    CHECK_STR(out.data, "\"x\\u00c3\"");
    QUOTE(&out, "\xed\xa0\x80");
    CHECK_STR(out.data, "\"\\u00ed\\u00a0\\u0080\"");

    hw_buf_clear(&out);
    hw_buf_adds(&out, "[");
    hw_json_quote(&out, "q", 1);
    CHECK_STR(out.data, "[\"q\"");
    hw_buf_free(&out);
}

/* Whatever bytes are quoted, the result is JSON the checker accepts; and
 * text that is UTF-8 unescapes back to itself. */
static void test_quote_round_trip(void)
{
    static const char *const samples[] = {
        "",
        "plain",
        "\"\\/",
        "\n\r\t\b\f",
        "\x01\x02\x1f\x7f",
        "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80",
        "{\"json\": [1, 2]}",
        "tab\tand \"quotes\"",
    };
    hw_buf quoted = {0}, back = {0};
    char err[200];
    for (size_t i = 0; i < sizeof samples / sizeof *samples; i++) {
        size_t len = strlen(samples[i]);
        hw_buf_clear(&quoted);
        hw_json_quote(&quoted, samples[i], len);
        CHECK(json_check(quoted.data, quoted.len, err, sizeof err) == 0);
        hw_buf_clear(&back);
        unescape(&back, quoted.data + 1, quoted.len - 2);
        CHECK(back.len == len && memcmp(back.data, samples[i], len) == 0);
    }
    /* Every byte value, alone: never invalid JSON. */
    for (int b = 0; b < 256; b++) {
        char byte = (char)b;
        hw_buf_clear(&quoted);
        hw_json_quote(&quoted, &byte, 1);
        err[0] = '\0';
        if (json_check(quoted.data, quoted.len, err, sizeof err) != 0) {
            fprintf(stderr, "byte 0x%02x quoted as %s: %s\n", b, quoted.data, err);
            CHECK(!"hw_json_quote gave JSON that hw_json_check refuses");
        }
    }
    hw_buf_free(&quoted);
    hw_buf_free(&back);
}

/* The elements hw_json_array_each reported, each followed by "|". */
static void collect_element(void *ud, const char *v, size_t v_len)
{
    hw_buf *out = ud;
    hw_buf_add(out, v, v_len);
    hw_buf_adds(out, "|");
}

static int array(const char *text, size_t len, hw_buf *out)
{
    char *copy = exact_copy(text, len);
    hw_buf_clear(out);
    hw_buf_adds(out, "");
    int rc = hw_json_array_each(copy, len, collect_element, out);
    free(copy);
    return rc;
}
#define ARRAY(lit, out) array(lit, sizeof(lit) - 1, out)

static void test_array_each(void)
{
    hw_buf out = {0};
    CHECK(ARRAY("[{\"a\":[1,2]}, \"s,]\" ,3,null]", &out) == 0);
    CHECK_STR(out.data, "{\"a\":[1,2]}|\"s,]\"|3|null|");
    CHECK(ARRAY(" [ ] ", &out) == 0);
    CHECK_STR(out.data, "");
    CHECK(ARRAY("", &out) == -1);
    CHECK(ARRAY("{}", &out) == -1);
    CHECK(ARRAY("[", &out) == -1);
    CHECK(ARRAY("[1,]", &out) == -1);
    CHECK(ARRAY("[1] x", &out) == -1);
    CHECK(ARRAY("[1 2]", &out) == -1);
    /* The elements before a fault were reported. */
    CHECK(ARRAY("[1,{\"b\"", &out) == -1);
    CHECK_STR(out.data, "1|");
    hw_buf_free(&out);
}

int main(void)
{
    test_check_accepts_json();
    test_check_names_the_fault();
    test_check_depth();
    test_check_err_buffer();
    test_flat_object();
    test_array_each();
    test_unescape();
    test_quote();
    test_quote_round_trip();
    return check_report("test_json");
}
