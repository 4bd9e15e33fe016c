/* The assertions of the C unit tests in spec/unit: CHECK(expr) prints
 * file:line and the expression when expr is false and counts the failure;
 * check_report() prints the totals and gives main's exit status (1 when
 * anything failed). Each test program is one thread and one translation
 * unit, so the counts are file-scope statics of that program alone. */
#ifndef HW_UNIT_CHECK_H
#define HW_UNIT_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_total, check_failed;

#define CHECK(expr)                                                                  \
    do {                                                                             \
        check_total++;                                                               \
        if (!(expr)) {                                                               \
            check_failed++;                                                          \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #expr); \
        }                                                                            \
    } while (0)

/* Compares got[0..got_len) with want[0..want_len); on a difference prints
 * both: what a message said is what one needs to see. got may be NULL (a
 * failure, not a crash). mode: 0 equal, 1 got holds want, 2 got lacks want
 * (both then NUL-terminated). */
static inline void check_bytes(const char *file, int line, const char *expr, int mode, const char *got, size_t got_len,
                               const char *want, size_t want_len)
{
    int ok;
    check_total++;
    if (got == NULL) ok = 0;
    else if (mode == 1) ok = strstr(got, want) != NULL;
    else if (mode == 2) ok = strstr(got, want) == NULL;
    else ok = got_len == want_len && memcmp(got, want, got_len) == 0;
    if (ok) return;
    check_failed++;
    fprintf(stderr, "%s:%d: CHECK failed: %s\n  got:  \"%.*s\" (%zu bytes)\n  %s \"%.*s\"\n", file, line, expr,
            got ? (int)got_len : 6, got ? got : "(null)", got ? got_len : 0,
            mode == 0       ? "want:"
                : mode == 1 ? "holding:"
                            : "lacking:",
            (int)want_len, want);
}

#define CHECK_TEXT_(mode, got, want, what)                                                                           \
    do {                                                                                                             \
        const char *got_ = (got), *want_ = (want);                                                                   \
        check_bytes(__FILE__, __LINE__, #got what #want, mode, got_, got_ ? strlen(got_) : 0, want_, strlen(want_)); \
    } while (0)

/* The NUL-terminated got equals want. */
#define CHECK_STR(got, want) CHECK_TEXT_(0, got, want, " == ")
/* got holds want somewhere. */
#define CHECK_HAS(got, want) CHECK_TEXT_(1, got, want, " holds ")
/* got does not hold want (a secret that must not show). */
#define CHECK_LACKS(got, want) CHECK_TEXT_(2, got, want, " lacks ")
/* got[0..got_len) equals the bytes of the string literal want (which may
 * hold NUL bytes: its length is sizeof - 1). */
#define CHECK_MEM(got, got_len, want) \
    check_bytes(__FILE__, __LINE__, #got " == " #want, 0, (got), (got_len), (want), sizeof(want) - 1)

/* A malloc'd copy of s[0..n) with no NUL after it, so that under ASan a
 * read past n (a parser trusting a terminator) is reported. Aborts on out
 * of memory; free() it. */
static inline char *exact_copy(const char *s, size_t n)
{
    char *p = malloc(n ? n : 1);
    if (p == NULL) abort();
    memcpy(p, s, n);
    return p;
}

static inline int check_report(const char *name)
{
    printf("%s: %d checks, %d failed\n", name, check_total, check_failed);
    return check_failed ? 1 : 0;
}

#endif
