/* How a public call fails: the one way to write its message and return its
 * hworker_rc, and the scratch buffer used when the caller gave no err. */
#ifndef HW_ERRORS_H
#define HW_ERRORS_H

#include <stddef.h>

#include "hworker.h"

/* Makes err/errlen safe to write: a call whose caller passed NULL (or 0
 * bytes) writes into a small scratch buffer instead, so no code below has
 * to test err. Declares a local array: use once, at the top of a function. */
#define HW_ERR_BUF(err, errlen)            \
    char hw_err_scratch_[8];               \
    if ((err) == NULL || (errlen) == 0) {  \
        (err) = hw_err_scratch_;           \
        (errlen) = sizeof hw_err_scratch_; \
    }

/* Writes the message (printf format) into err and returns rc. err must be
 * writable (HW_ERR_BUF). Thread-safe. */
hworker_rc hw_fail(hworker_rc rc, char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
