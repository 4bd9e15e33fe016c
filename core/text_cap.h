/* The cap on text a job controls that the engine stores or logs: failure,
 * retry and broken reasons, and log messages. A job that fails with a
 * 5 MB message must not make a 5 MB record (the failed list keeps up to
 * failed_cap of them) nor a 5 MB log line. */
#ifndef HW_TEXT_CAP_H
#define HW_TEXT_CAP_H

#include <stddef.h>

#include "buf.h"

/* Longest text kept, in bytes. A longer one is cut at a UTF-8 character
 * boundary at or below it, and "... [truncated, N bytes in all]" is added. */
#define HW_TEXT_MAX 8192

/* Appends `s` (len bytes) to `out`, capped as above. Only the first
 * HW_TEXT_MAX + 3 bytes of s are read when len is larger, so a caller that
 * kept only those may pass the full length. Not thread-safe for one `out`. */
void hw_text_add_capped(hw_buf *out, const char *s, size_t len);
/* The same with the cap at `max` bytes (only the first max + 3 are read). */
void hw_text_add_capped_at(hw_buf *out, const char *s, size_t len, size_t max);

/* Adds the C string `s` to `args` as one argument, capped as above (no
 * allocation when it fits). */
void hw_text_arg(hw_args *args, const char *s);

#endif
