/* core/slots.h: the slot of a key, and a connection's map from slots to
 * nodes. The expected slots are what a real Redis Cluster node answers to
 * CLUSTER KEYSLOT for the same keys. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "slots.h"

/* hw_key_slot of an exact copy of a literal (no NUL after it). */
static unsigned slot_of(const char *key, size_t len)
{
    char *copy = exact_copy(key, len);
    unsigned slot = hw_key_slot(copy, len);
    free(copy);
    return slot;
}
#define SLOT(lit) slot_of(lit, sizeof(lit) - 1)

static void test_key_slot(void)
{
    CHECK(SLOT("123456789") == 12739); /* CRC16/XMODEM's check value 0x31C3 */
    CHECK(SLOT("foo") == 12182);
    CHECK(SLOT("bar") == 5061);
    CHECK(SLOT("hello") == 866);
    CHECK(SLOT("") == 0);
    /* A hash tag: the text between the first '{' and the next '}'. */
    CHECK(SLOT("user1000") == 3443);
    CHECK(SLOT("{user1000}.following") == 3443);
    CHECK(SLOT("{user1000}.followers") == 3443);
    CHECK(SLOT("a{b}{c}") == 3300 && SLOT("b") == 3300);
    CHECK(SLOT("{{b}}") == 6215 && SLOT("{b") == 6215);
    CHECK(SLOT("x}{y}") == 12222 && SLOT("y") == 12222);
    /* No tag: an empty one, or no closing brace, hashes the whole key. */
    CHECK(SLOT("{}x") == 10595);
    CHECK(SLOT("x{}") == 2608);
    CHECK(SLOT("{a") == 10276);
    /* len says where the key ends: a '}' after it is not the tag's end. */
    CHECK(slot_of("{ab}", 3) == 7174);
    CHECK(hw_key_slot("foo\0bar", 3) == 12182);
    /* Every slot is below 16384, whatever the bytes. */
    int in_range = 1;
    for (int i = 0; i < 5000; i++) {
        char key[8];
        for (int j = 0; j < 8; j++) key[j] = (char)((i * 31 + j * 7 + i / 3) & 0xff);
        in_range &= hw_key_slot(key, (size_t)(i % 9)) < HW_SLOTS;
    }
    CHECK(in_range);
}

static void test_map_set_get(void)
{
    hw_slot_map *m = hw_slot_map_new();
    int port = -1;
    CHECK(hw_slot_map_get(m, 0, &port) == NULL);
    CHECK(hw_slot_map_get(m, HW_SLOTS - 1, &port) == NULL);
    CHECK(port == -1);

    hw_slot_map_set(m, 5, "h1:ignored", 2, 7000); /* hostlen, not a terminator, ends the host */
    const char *host = hw_slot_map_get(m, 5, &port);
    CHECK_STR(host, "h1");
    CHECK(port == 7000);
    CHECK(hw_slot_map_get(m, 4, &port) == NULL);
    CHECK(hw_slot_map_get(m, 6, &port) == NULL);

    /* The same node twice is one node; another port is another node. */
    hw_slot_map_set(m, 6, "h1", 2, 7000);
    hw_slot_map_set(m, HW_SLOTS - 1, "h1", 2, 7001);
    CHECK(m->nnodes == 2);
    CHECK(hw_slot_map_get(m, 6, &port) == host && port == 7000);
    CHECK_STR(hw_slot_map_get(m, HW_SLOTS - 1, &port), "h1");
    CHECK(port == 7001);

    /* A MOVED reply moves one slot. */
    hw_slot_map_set(m, 5, "h2", 2, 7002);
    CHECK_STR(hw_slot_map_get(m, 5, &port), "h2");
    CHECK(port == 7002);
    CHECK(hw_slot_map_get(m, 6, &port) == host);

    /* Out of range: ignored, never written or read. */
    hw_slot_map_set(m, HW_SLOTS, "h3", 2, 7003);
    hw_slot_map_set(m, (unsigned)-1, "h3", 2, 7003);
    CHECK(m->nnodes == 3); /* no node added for them either */
    CHECK(hw_slot_map_get(m, HW_SLOTS, &port) == NULL);
    CHECK(hw_slot_map_get(NULL, 5, &port) == NULL);
    hw_slot_map_free(m);
    hw_slot_map_free(NULL);
}

static void test_map_node_table_full(void)
{
    hw_slot_map *m = hw_slot_map_new();
    for (int i = 0; i < 255; i++) hw_slot_map_set(m, (unsigned)i, "n", 1, 1000 + i);
    CHECK(m->nnodes == 255);
    int port = 0;
    CHECK_STR(hw_slot_map_get(m, 254, &port), "n");
    CHECK(port == 1254);
    /* A 256th node does not fit: its slot stays unknown (asked again, then
     * redirected), rather than pointing at another node. */
    hw_slot_map_set(m, 300, "n", 1, 2000);
    CHECK(m->nnodes == 255);
    CHECK(hw_slot_map_get(m, 300, &port) == NULL);
    hw_slot_map_set(m, 301, "n", 1, 1000); /* a known one still does */
    CHECK(hw_slot_map_get(m, 301, &port) != NULL && port == 1000);
    hw_slot_map_free(m);
}

/* Reply builders: CLUSTER SLOTS entries as hiredis would hand them over. */
static redisReply *r_int(long long v)
{
    redisReply *r = calloc(1, sizeof *r);
    if (r == NULL) abort();
    r->type = REDIS_REPLY_INTEGER;
    r->integer = v;
    return r;
}

static redisReply *r_str(const char *s)
{
    redisReply *r = calloc(1, sizeof *r);
    if (r == NULL || (r->str = strdup(s)) == NULL) abort();
    r->type = REDIS_REPLY_STRING;
    r->len = strlen(s);
    return r;
}

static redisReply *r_arr(size_t n, ...)
{
    redisReply *r = calloc(1, sizeof *r);
    if (r == NULL || (r->element = calloc(n ? n : 1, sizeof *r->element)) == NULL) abort();
    r->type = REDIS_REPLY_ARRAY;
    r->elements = n;
    va_list ap;
    va_start(ap, n);
    for (size_t i = 0; i < n; i++) r->element[i] = va_arg(ap, redisReply *);
    va_end(ap);
    return r;
}

static void r_free(redisReply *r)
{
    if (r->type == REDIS_REPLY_ARRAY)
        for (size_t i = 0; i < r->elements; i++) r_free(r->element[i]);
    free(r->element);
    free(r->str);
    free(r);
}

static void test_map_load(void)
{
    hw_slot_map *m = hw_slot_map_new();
    redisReply *reply = r_arr(3,
                              r_arr(4, r_int(0), r_int(5460), r_arr(3, r_str("10.0.0.1"), r_int(7000), r_str("id1")),
                                    r_arr(3, r_str("10.0.0.4"), r_int(7003), r_str("replica"))),
                              r_arr(3, r_int(5461), r_int(10922), r_arr(2, r_str("10.0.0.2"), r_int(7001))),
                              r_arr(3, r_int(10923), r_int(16383), r_arr(2, r_str("10.0.0.3"), r_int(7002))));
    CHECK(hw_slot_map_load(m, reply) == 3);
    int port = 0;
    CHECK_STR(hw_slot_map_get(m, 0, &port), "10.0.0.1");
    CHECK(port == 7000);
    CHECK_STR(hw_slot_map_get(m, 5460, &port), "10.0.0.1");
    CHECK_STR(hw_slot_map_get(m, 5461, &port), "10.0.0.2");
    CHECK(port == 7001);
    CHECK_STR(hw_slot_map_get(m, 10922, &port), "10.0.0.2");
    CHECK_STR(hw_slot_map_get(m, 10923, &port), "10.0.0.3");
    CHECK_STR(hw_slot_map_get(m, 16383, &port), "10.0.0.3");
    CHECK(port == 7002);
    CHECK(m->nnodes == 3); /* replicas are not routed to */
    r_free(reply);
    hw_slot_map_free(m);
}

static void test_map_load_bad_replies(void)
{
    hw_slot_map *m = hw_slot_map_new();
    int port = 0;
    CHECK(hw_slot_map_load(m, NULL) == 0);
    redisReply *not_array = r_str("ERR This instance has cluster support disabled");
    CHECK(hw_slot_map_load(m, not_array) == 0);
    r_free(not_array);

    /* Malformed entries are skipped; the good one among them is loaded. */
    redisReply *reply =
        r_arr(7, r_str("junk"), r_arr(2, r_int(0), r_int(10)),
              r_arr(3, r_str("0"), r_int(10), r_arr(2, r_str("x"), r_int(1))),
              r_arr(3, r_int(0), r_int(10), r_str("x:1")), r_arr(3, r_int(0), r_int(10), r_arr(1, r_str("x"))),
              r_arr(3, r_int(0), r_int(10), r_arr(2, r_int(1), r_int(1))),
              r_arr(3, r_int(100), r_int(100), r_arr(2, r_str("good"), r_int(6000))));
    CHECK(hw_slot_map_load(m, reply) == 1);
    CHECK(hw_slot_map_get(m, 0, &port) == NULL);
    CHECK(hw_slot_map_get(m, 99, &port) == NULL);
    CHECK_STR(hw_slot_map_get(m, 100, &port), "good");
    CHECK(hw_slot_map_get(m, 101, &port) == NULL);
    r_free(reply);

    /* Ranges reaching outside 0..16383 are cut to it, not written past it. */
    reply = r_arr(2, r_arr(3, r_int(-5), r_int(2), r_arr(2, r_str("low"), r_int(1))),
                  r_arr(3, r_int(16380), r_int(99999), r_arr(2, r_str("high"), r_int(2))));
    CHECK(hw_slot_map_load(m, reply) == 2);
    CHECK_STR(hw_slot_map_get(m, 0, &port), "low");
    CHECK_STR(hw_slot_map_get(m, 2, &port), "low");
    CHECK(hw_slot_map_get(m, 3, &port) == NULL);
    CHECK_STR(hw_slot_map_get(m, 16383, &port), "high");
    r_free(reply);
    hw_slot_map_free(m);
}

int main(void)
{
    test_key_slot();
    test_map_set_get();
    test_map_node_table_full();
    test_map_load();
    test_map_load_bad_replies();
    return check_report("test_slots");
}
