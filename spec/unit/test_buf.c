/* core/buf.h: the growable buffer, RESP formatting and argument lists. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "check.h"

static void test_buf_grows_and_stays_terminated(void)
{
    hw_buf b = {0};
    hw_buf_add(&b, "", 0);
    CHECK(b.data != NULL);
    CHECK(b.len == 0 && b.data[0] == '\0');

    for (int i = 0; i < 1000; i++) hw_buf_add(&b, "abc", 3);
    CHECK(b.len == 3000);
    CHECK(b.cap > b.len);
    CHECK(b.data[3000] == '\0');
    CHECK(memcmp(b.data + 2997, "abc", 3) == 0);
    CHECK(strlen(b.data) == 3000);
    hw_buf_free(&b);
    CHECK(b.data == NULL && b.len == 0 && b.cap == 0);

    /* Bytes are bytes: an embedded NUL is kept and counted. */
    hw_buf_add(&b, "a\0b", 3);
    CHECK_MEM(b.data, b.len, "a\0b");
    hw_buf_adds(&b, "cd");
    CHECK_MEM(b.data, b.len, "a\0bcd");
    hw_buf_free(&b);
}

static void test_buf_reserve(void)
{
    hw_buf b = {0};
    hw_buf_reserve(&b, 0);
    CHECK(b.data != NULL && b.data[0] == '\0'); /* "NUL-terminated when not NULL" */
    hw_buf_reserve(&b, 1000);
    CHECK(b.cap >= 1001);
    char *before = b.data;
    for (int i = 0; i < 1000; i++) hw_buf_add(&b, "x", 1); /* no move: the room was reserved */
    CHECK(b.data == before);
    CHECK(b.len == 1000 && b.data[1000] == '\0');
    hw_buf_free(&b);
}

static void test_buf_addf(void)
{
    hw_buf b = {0};
    hw_buf_adds(&b, "n=");
    hw_buf_addf(&b, "%d,%s,%05.1f", -42, "str", 2.5);
    CHECK_STR(b.data, "n=-42,str,002.5");
    CHECK(b.len == strlen(b.data));
    hw_buf_addf(&b, "%0300d", 7); /* longer than the first allocation */
    CHECK(b.len == 15 + 300);
    CHECK(b.data[15] == '0' && b.data[15 + 299] == '7' && b.data[b.len] == '\0');
    hw_buf_addf(&b, "%s", "");
    CHECK(b.len == 315);
    hw_buf_free(&b);
}

static void test_buf_clear(void)
{
    hw_buf b = {0};
    hw_buf_clear(&b); /* an empty buffer: nothing to do */
    CHECK(b.data == NULL && b.len == 0);
    hw_buf_adds(&b, "hello");
    size_t cap = b.cap;
    hw_buf_clear(&b);
    CHECK(b.len == 0 && b.data != NULL && b.data[0] == '\0' && b.cap == cap);
    hw_buf_adds(&b, "hi");
    CHECK_STR(b.data, "hi");
    hw_buf_free(&b);
    hw_buf_free(&b); /* freeing an empty buffer is harmless */
}

static void test_fmt_ull(void)
{
    /* Exactly 20 bytes, as documented: ASan sees a write past them. */
    char *dst = malloc(20);
    CHECK(dst != NULL);
    CHECK(hw_fmt_ull(dst, 0) == 1 && dst[0] == '0');
    size_t n = hw_fmt_ull(dst, 7);
    CHECK_MEM(dst, n, "7");
    n = hw_fmt_ull(dst, 10);
    CHECK_MEM(dst, n, "10");
    n = hw_fmt_ull(dst, 1234567890ULL);
    CHECK_MEM(dst, n, "1234567890");
    n = hw_fmt_ull(dst, ULLONG_MAX);
    CHECK_MEM(dst, n, "18446744073709551615");
    free(dst);
}

static void test_resp(void)
{
    hw_buf b = {0};
    hw_resp_array(&b, 3);
    hw_resp_bulk(&b, "SET", 3);
    hw_resp_bulk(&b, "", 0);
    hw_resp_bulk(&b, "a\r\nb\0", 5); /* binary-safe: the length says where it ends */
    CHECK_MEM(b.data, b.len, "*3\r\n$3\r\nSET\r\n$0\r\n\r\n$5\r\na\r\nb\0\r\n");
    CHECK(b.data[b.len] == '\0');
    hw_buf_clear(&b);
    hw_resp_array(&b, 0);
    CHECK_STR(b.data, "*0\r\n");

    hw_buf_clear(&b);
    size_t big = 100000;
    char *payload = malloc(big);
    CHECK(payload != NULL);
    memset(payload, 'p', big);
    hw_resp_bulk(&b, payload, big);
    CHECK(b.len == strlen("$100000\r\n") + big + 2);
    CHECK(memcmp(b.data, "$100000\r\npp", 11) == 0);
    CHECK(memcmp(b.data + b.len - 3, "p\r\n", 3) == 0);
    free(payload);
    hw_buf_free(&b);
}

static void test_args(void)
{
    hw_args a = {0};
    hw_args_adds(&a, "EVALSHA");
    hw_args_add(&a, "x\0y", 3);
    hw_args_addll(&a, 0);
    hw_args_addll(&a, -1);
    hw_args_addll(&a, 42);
    hw_args_addll(&a, LLONG_MAX);
    hw_args_addll(&a, LLONG_MIN);
    /* More than the first 16 slots, each from a temporary that is then
     * overwritten: the arguments are copies, and the store moves. */
    for (int i = 0; i < 40; i++) {
        char tmp[16];
        int n = snprintf(tmp, sizeof tmp, "k%d", i);
        hw_args_add(&a, tmp, (size_t)n);
        memset(tmp, '#', sizeof tmp);
    }
    hw_args_finish(&a);
    CHECK(a.argc == 47);
    CHECK_MEM(a.argv[0], a.lens[0], "EVALSHA");
    CHECK_MEM(a.argv[1], a.lens[1], "x\0y");
    CHECK_MEM(a.argv[2], a.lens[2], "0");
    CHECK_MEM(a.argv[3], a.lens[3], "-1");
    CHECK_MEM(a.argv[4], a.lens[4], "42");
    CHECK_MEM(a.argv[5], a.lens[5], "9223372036854775807");
    CHECK_MEM(a.argv[6], a.lens[6], "-9223372036854775808");
    CHECK_MEM(a.argv[7], a.lens[7], "k0");
    CHECK_MEM(a.argv[46], a.lens[46], "k39");

    hw_args_clear(&a);
    CHECK(a.argc == 0 && a.store.len == 0);
    hw_args_adds(&a, "PING");
    hw_args_finish(&a);
    CHECK(a.argc == 1);
    CHECK_MEM(a.argv[0], a.lens[0], "PING");
    hw_args_free(&a);
    CHECK(a.argc == 0 && a.cap == 0 && a.argv == NULL && a.store.data == NULL);
}

int main(void)
{
    test_buf_grows_and_stays_terminated();
    test_buf_reserve();
    test_buf_addf();
    test_buf_clear();
    test_fmt_ull();
    test_resp();
    test_args();
    return check_report("test_buf");
}
