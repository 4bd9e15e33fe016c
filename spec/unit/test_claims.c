/* core/claims.h: parsing envelopes and claims, and the held set the lease
 * keeper reads. A broken envelope's message must say what is wrong. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "claims.h"
#include "sandbox.h"

/* hw_envelope_parse of an exact copy of a literal (no NUL after it). */
static void parse(hw_envelope *e, const char *text, size_t len)
{
    char *copy = exact_copy(text, len);
    hw_envelope_parse(e, copy, len);
    /* What points into the text is checked before it goes: keep job as an
     * offset, comparable after the copy is freed. */
    if (e->job) e->job = text + (e->job - copy);
    free(copy);
}
#define PARSE(e, lit) parse(e, lit, sizeof(lit) - 1)

static void test_envelope_parses(void)
{
    hw_envelope e = {0};
    PARSE(&e, "{\"v\":1,\"id\":\"job-1\",\"at\":2,\"rc\":1,\"eq\":1700000000123}\n{\"x\":[1,2]}");
    CHECK(e.broken == NULL);
    CHECK_STR(e.id.data, "job-1");
    CHECK_MEM(e.job, e.job_len, "{\"x\":[1,2]}");
    CHECK(e.attempt == 3 && e.recoveries == 1 && e.enqueued_at == 1700000000123LL);

    /* Absent counts: attempt 1, the rest 0; the job may be empty; the job
     * holds newlines of its own. */
    PARSE(&e, "{\"id\":\"a\",\"v\":1}\n");
    CHECK(e.broken == NULL);
    CHECK(e.job != NULL && e.job_len == 0);
    CHECK(e.attempt == 1 && e.recoveries == 0 && e.enqueued_at == 0);
    PARSE(&e, " { \"v\" : 1 , \"id\" : \"a\" } \n[\n1\n]\n");
    CHECK(e.broken == NULL);
    CHECK_MEM(e.job, e.job_len, "[\n1\n]\n");

    /* Escapes in the id and in keys are decoded; other members are ignored. */
    PARSE(&e, "{\"v\":1,\"\\u0069d\":\"a\\\"b\\u00e9\\n\",\"extra\":{\"id\":\"no\"},\"tags\":[1]}\n{}");
    CHECK(e.broken == NULL);
    CHECK_STR(e.id.data, "a\"b\xc3\xa9\n");
    /* The last of repeated keys wins, as for cjson in the Redis scripts. */
    PARSE(&e, "{\"v\":2,\"v\":1,\"id\":\"first\",\"id\":\"last\",\"at\":5,\"at\":1}\n{}");
    CHECK(e.broken == NULL);
    CHECK_STR(e.id.data, "last");
    CHECK(e.attempt == 2);
    hw_envelope_free(&e);
}

/* Whatever a hand-written header holds, counts stay in range. */
static void test_envelope_counts_clamped(void)
{
    hw_envelope e = {0};
    PARSE(&e, "{\"v\":1,\"id\":\"a\",\"at\":-5,\"rc\":-1,\"eq\":-1e300}\n{}");
    CHECK(e.broken == NULL);
    CHECK(e.attempt == 1 && e.recoveries == 0 && e.enqueued_at == LLONG_MIN);
    PARSE(&e, "{\"v\":1,\"id\":\"a\",\"at\":2.9,\"rc\":1e300,\"eq\":1e300}\n{}");
    CHECK(e.attempt == 3 && e.recoveries == LONG_MAX - 1 && e.enqueued_at == LLONG_MAX);
    PARSE(&e, "{\"v\":1,\"id\":\"a\",\"at\":1e300}\n{}");
    CHECK(e.attempt == LONG_MAX); /* 1 + (LONG_MAX - 1): the worker's + 1 cannot overflow */
    PARSE(&e, "{\"v\":1,\"id\":\"a\",\"at\":\"3\",\"rc\":true,\"eq\":null}\n{}");
    CHECK(e.broken == NULL);
    CHECK(e.attempt == 1 && e.recoveries == 0 && e.enqueued_at == 0);
    PARSE(&e, "{\"v\":1.0,\"id\":\"a\",\"eq\":1.5e3}\n{}");
    CHECK(e.broken == NULL);
    CHECK(e.enqueued_at == 1500);
    /* Whole numbers of 15 digits and more, and negative ones, read alike. */
    PARSE(&e, "{\"v\":1,\"id\":\"a\",\"at\":999999999999999,\"eq\":1234567890123456}\n{}");
    CHECK(e.attempt == 1000000000000000L && e.enqueued_at == 1234567890123456LL);
    PARSE(&e, "{\"v\":1,\"id\":\"a\",\"eq\":-25}\n{}");
    CHECK(e.enqueued_at == -25);
    hw_envelope_free(&e);
}

#define NO_HEADER "not an hworker envelope: no header line (expected <header JSON> newline <job JSON>)"
#define NOT_OBJECT "not an hworker envelope: the header line is not a JSON object"
#define BAD_VERSION "unsupported envelope: the header's \"v\" must be 1"
#define NO_ID "not an hworker envelope: the header has no string \"id\" (or an empty one)"

#define BROKEN(e, lit, why)                           \
    do {                                              \
        PARSE(e, lit);                                \
        CHECK_STR((e)->broken, why);                  \
        CHECK((e)->job == NULL && (e)->job_len == 0); \
    } while (0)

static void test_envelope_broken(void)
{
    hw_envelope e = {0};
    BROKEN(&e, "", NO_HEADER);
    BROKEN(&e, "{\"v\":1,\"id\":\"a\"}", NO_HEADER);
    BROKEN(&e, "\n{}", NOT_OBJECT);
    BROKEN(&e, "[1]\n{}", NOT_OBJECT);
    BROKEN(&e, "{\"v\":1,\"id\":\"a\"} x\n{}", NOT_OBJECT);
    BROKEN(&e, "{\"v\":1,\"id\":\"a\"\n}", NOT_OBJECT);
    BROKEN(&e, "{\"v\":1,\"id\":\"a\",}\n{}", NOT_OBJECT);
    BROKEN(&e, "{\"id\":\"a\"}\n{}", BAD_VERSION);
    BROKEN(&e, "{\"v\":2,\"id\":\"a\"}\n{}", BAD_VERSION);
    BROKEN(&e, "{\"v\":\"1\",\"id\":\"a\"}\n{}", BAD_VERSION);
    BROKEN(&e, "{\"v\":1}\n{}", NO_ID);
    BROKEN(&e, "{\"v\":1,\"id\":\"\"}\n{}", NO_ID);
    BROKEN(&e, "{\"v\":1,\"id\":42}\n{}", NO_ID);
    BROKEN(&e, "{\"v\":1,\"id\":\"a\",\"id\":7}\n{}", NO_ID);

    /* One envelope reused: a parse after a good one starts afresh. */
    PARSE(&e, "{\"v\":1,\"id\":\"good\",\"at\":4,\"rc\":2,\"eq\":9}\n{}");
    CHECK(e.broken == NULL && e.attempt == 5);
    BROKEN(&e, "{\"v\":2}\n{}", BAD_VERSION);
    CHECK(e.id.len == 0 && e.attempt == 1 && e.recoveries == 0 && e.enqueued_at == 0);
    hw_envelope_free(&e);
}

static void test_claim_new(void)
{
    static const char text[] = "tok-1|worker-a|{\"v\":1,\"id\":\"a|b\",\"at\":1,\"eq\":12}\n{\"n\":1}";
    hw_claim *c = hw_claim_new(text, sizeof text - 1);
    CHECK(c->data != text && c->len == sizeof text - 1);
    CHECK(memcmp(c->data, text, c->len) == 0 && c->data[c->len] == '\0');
    CHECK_MEM(c->envelope, c->envelope_len, "{\"v\":1,\"id\":\"a|b\",\"at\":1,\"eq\":12}\n{\"n\":1}");
    CHECK_MEM(c->job, c->job_len, "{\"n\":1}");
    CHECK(c->job > c->data && c->job < c->data + c->len); /* inside its own copy */
    CHECK_STR(c->id, "a|b");
    CHECK(c->attempt == 2 && c->recoveries == 0 && c->enqueued_at == 12);
    CHECK(c->broken == NULL);
    CHECK(atomic_load(&c->stop) == 0 && atomic_load(&c->reporting) == 0);
    hw_claim_free(c);
    hw_claim_free(NULL);

    /* An id longer than the display buffer is cut, terminated. */
    char longer[300];
    int n = snprintf(longer, sizeof longer, "t|h|{\"v\":1,\"id\":\"%0120d\"}\n{}", 5);
    c = hw_claim_new(longer, (size_t)n);
    CHECK(c->broken == NULL);
    CHECK(strlen(c->id) == sizeof c->id - 1);
    CHECK(c->id[0] == '0' && c->id[sizeof c->id - 2] == '0');
    hw_claim_free(c);

    /* Broken: never fails, says why. */
    c = hw_claim_new("t|h|garbage", 11);
    CHECK_STR(c->broken, NO_HEADER);
    CHECK(c->job == NULL);
    CHECK_MEM(c->envelope, c->envelope_len, "garbage");
    CHECK_STR(c->id, "");
    hw_claim_free(c);
    c = hw_claim_new("no bars\n{}", 10);
    CHECK_MEM(c->envelope, c->envelope_len, "no bars\n{}");
    CHECK_STR(c->broken, NOT_OBJECT);
    hw_claim_free(c);
    c = hw_claim_new("", 0);
    CHECK(c->len == 0 && c->data[0] == '\0');
    CHECK_STR(c->broken, NO_HEADER);
    hw_claim_free(c);
}

static hw_claim *claim(const char *id, int shard)
{
    char text[100];
    int n = snprintf(text, sizeof text, "t%s|h|{\"v\":1,\"id\":\"%s\"}\n{}", id, id);
    hw_claim *c = hw_claim_new(text, (size_t)n);
    c->shard = shard;
    return c;
}

/* Whether snapshot's arguments hold exactly the claims in out[0..n). */
static int args_match(const hw_args *a, size_t from, hw_claim **out, size_t n)
{
    if ((size_t)a->argc != from + n) return 0;
    for (size_t i = 0; i < n; i++)
        if (a->lens[from + i] != out[i]->len ||
            memcmp(a->store.data + a->offsets[from + i], out[i]->data, out[i]->len) != 0)
            return 0;
    return 1;
}

static void test_held(void)
{
    hw_held h;
    hw_held_init(&h);
    hw_args args = {0};
    hw_claim **out = NULL;
    CHECK(hw_held_snapshot(&h, 0, &args, &out) == 0);
    CHECK(out == NULL && args.argc == 0);

    hw_claim *a = claim("a", 0), *b = claim("b", 1), *c = claim("c", 0);
    hw_held_add(&h, a, 0);
    hw_held_add(&h, b, 0);
    hw_held_add(&h, c, 0);
    hw_args_adds(&args, "EVALSHA"); /* snapshot appends after what is there */
    size_t n = hw_held_snapshot(&h, 0, &args, &out);
    CHECK(n == 2);
    CHECK(n == 2 && ((out[0] == a && out[1] == c) || (out[0] == c && out[1] == a)));
    CHECK(args_match(&args, 1, out, n));
    free(out);
    hw_args_clear(&args);
    n = hw_held_snapshot(&h, 1, &args, &out);
    CHECK(n == 1 && out[0] == b && args_match(&args, 0, out, n));
    free(out);
    hw_args_clear(&args);
    n = hw_held_snapshot(&h, 7, &args, &out);
    CHECK(n == 0 && args.argc == 0);
    free(out);

    hw_held_remove(&h, a);
    hw_held_remove(&h, a); /* not held: nothing happens */
    n = hw_held_snapshot(&h, 0, &args, &out);
    CHECK(n == 1 && out[0] == c);
    free(out);
    hw_args_clear(&args);

    /* More than the first 16 slots. */
    hw_claim *many[40];
    for (int i = 0; i < 40; i++) {
        char id[8];
        snprintf(id, sizeof id, "m%d", i);
        many[i] = claim(id, 2);
        hw_held_add(&h, many[i], 0);
    }
    n = hw_held_snapshot(&h, 2, &args, &out);
    CHECK(n == 40 && args_match(&args, 0, out, n));
    free(out);
    hw_args_clear(&args);
    for (int i = 0; i < 40; i++) {
        hw_held_remove(&h, many[i]);
        hw_claim_free(many[i]);
    }
    n = hw_held_snapshot(&h, 2, &args, &out);
    CHECK(n == 0);
    free(out);

    /* mark_lost: only a claim still held, the same one, not being reported. */
    CHECK(hw_held_mark_lost(&h, c, "other", 5) == 0);
    CHECK(hw_held_mark_lost(&h, c, c->data, c->len - 1) == 0);
    CHECK(atomic_load(&c->stop) == 0);
    CHECK(hw_held_mark_lost(&h, a, a->data, a->len) == 0); /* removed above */
    CHECK(atomic_load(&a->stop) == 0);
    atomic_store(&b->reporting, 1);
    CHECK(hw_held_mark_lost(&h, b, b->data, b->len) == 0);
    CHECK(atomic_load(&b->stop) == 0);
    /* cancel: the held claims whose token is the one named, not lost ones. */
    const char *bar = memchr(b->data, '|', b->len);
    size_t token = (size_t)(bar - b->data);
    CHECK(hw_held_cancel(&h, b->data, token - 1, HW_HELD_RENEWED) == 0); /* a prefix of the token is another token */
    CHECK(hw_held_cancel(&h, a->data, (size_t)((const char *)memchr(a->data, '|', a->len) - a->data),
                         HW_HELD_RENEWED) == 0);
    CHECK(hw_held_cancel(&h, b->data, token, HW_HELD_RENEWED) == 1);
    CHECK(atomic_load(&b->stop) == HW_STOP_CANCELLED);
    CHECK(atomic_load(&c->stop) == 0);
    CHECK(hw_held_mark_lost(&h, c, c->data, c->len) == 1);
    CHECK(atomic_load(&c->stop) == HW_STOP_LEASE_LOST);
    CHECK(hw_held_cancel(&h, c->data, (size_t)((const char *)memchr(c->data, '|', c->len) - c->data),
                         HW_HELD_RENEWED) == 0);
    CHECK(atomic_load(&c->stop) == HW_STOP_LEASE_LOST);

    hw_held_remove(&h, b);
    hw_held_remove(&h, c);
    hw_claim_free(a);
    hw_claim_free(b);
    hw_claim_free(c);
    hw_args_free(&args);
    hw_held_destroy(&h);
}

/* A cancel heard before its claim is held: the claim starts cancelled if it
 * comes within HW_EARLY_KEEP seconds; renewals and long tokens are not kept;
 * the oldest gives way when more are kept than there is room for. */
static void test_early_cancel(void)
{
    hw_held h;
    hw_held_init(&h);
    CHECK(hw_held_cancel(&h, "tx", 2, 100.0) == 0);
    CHECK(hw_held_cancel(&h, "ty", 2, 100.0) == 0);
    CHECK(hw_held_cancel(&h, "tz", 2, HW_HELD_RENEWED) == 0);
    CHECK(h.nearly == 2);
    hw_claim *x = claim("x", 0), *y = claim("y", 0), *z = claim("z", 0), *w = claim("w", 0);
    hw_held_add(&h, x, 101.0);
    CHECK(atomic_load(&x->stop) == HW_STOP_CANCELLED);
    hw_held_add(&h, z, 101.0); /* a renewal's cancel is not kept */
    CHECK(atomic_load(&z->stop) == 0);
    hw_held_add(&h, y, 100.0 + HW_EARLY_KEEP + 1); /* too late: forgotten */
    CHECK(atomic_load(&y->stop) == 0);
    CHECK(h.nearly == 0);
    /* A token a held claim has is marked there, not kept. */
    CHECK(hw_held_cancel(&h, "tz", 2, 102.0) == 1);
    CHECK(h.nearly == 0);
    /* Room for HW_EARLY_MAX: one more pushes the oldest out. */
    char token[HW_EARLY_TOKEN + 8];
    for (int i = 0; i <= HW_EARLY_MAX; i++) {
        int n = snprintf(token, sizeof token, "t%d", i);
        CHECK(hw_held_cancel(&h, token, (size_t)n, 200.0 + i / 100.0) == 0);
    }
    CHECK(h.nearly == HW_EARLY_MAX);
    hw_claim *first = claim("0", 0), *last = claim("16", 0);
    hw_held_add(&h, first, 201.0);
    CHECK(atomic_load(&first->stop) == 0);
    hw_held_add(&h, last, 201.0);
    CHECK(atomic_load(&last->stop) == HW_STOP_CANCELLED);
    memset(token, 'a', sizeof token);
    CHECK(hw_held_cancel(&h, token, HW_EARLY_TOKEN, 201.0) == 0);
    CHECK(h.nearly == HW_EARLY_MAX - 1);
    hw_held_add(&h, w, 201.0);
    CHECK(atomic_load(&w->stop) == 0);
    hw_claim *held[] = {x, y, z, w, first, last};
    for (size_t i = 0; i < sizeof held / sizeof *held; i++) {
        hw_held_remove(&h, held[i]);
        hw_claim_free(held[i]);
    }
    hw_held_destroy(&h);
}

int main(void)
{
    test_envelope_parses();
    test_envelope_counts_clamped();
    test_envelope_broken();
    test_claim_new();
    test_held();
    test_early_cancel();
    return check_report("test_claims");
}
