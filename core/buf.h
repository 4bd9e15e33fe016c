/* A growable byte buffer and a Redis argument list built on top of it.
 * Neither is thread-safe: each belongs to one thread. On allocation failure
 * they abort, as hiredis does: a queue that cannot allocate a few bytes has no
 * safe way to go on. */
#ifndef HW_BUF_H
#define HW_BUF_H

#include <stddef.h>

typedef struct hw_buf {
    char *data; /* always NUL-terminated when not NULL */
    size_t len, cap;
} hw_buf;

void hw_buf_reserve(hw_buf *b, size_t extra);
void hw_buf_add(hw_buf *b, const char *s, size_t n);
void hw_buf_adds(hw_buf *b, const char *s);
void hw_buf_addf(hw_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void hw_buf_clear(hw_buf *b);
void hw_buf_free(hw_buf *b);
/* Writes v in decimal at dst (at least 20 bytes); returns the length. No
 * printf: numbers are formatted per job on the hot path. */
size_t hw_fmt_ull(char *dst, unsigned long long v);
/* Appends one RESP bulk string ("$<n>\r\n<s>\r\n"), or an array header
 * ("*<n>\r\n"): commands are formatted straight into a reused buffer
 * instead of through hiredis's sdscatfmt. */
void hw_resp_bulk(hw_buf *b, const char *s, size_t n);
void hw_resp_array(hw_buf *b, size_t n);

/* Arguments of one Redis command. Added strings are copied into `store`, so
 * callers may pass temporaries; argv[] points into it once hw_args_finish()
 * has run (the store may move while arguments are added). */
typedef struct hw_args {
    hw_buf store;
    size_t *offsets, *lens;
    const char **argv;
    int argc, cap;
} hw_args;

void hw_args_add(hw_args *a, const char *s, size_t n);
void hw_args_adds(hw_args *a, const char *s);
void hw_args_addll(hw_args *a, long long v);
/* Makes argv[] valid; call after the last add and before sending. */
void hw_args_finish(hw_args *a);
void hw_args_clear(hw_args *a);
void hw_args_free(hw_args *a);

#endif
