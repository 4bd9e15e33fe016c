/* Reading a whole file into a buffer: the job file, the modules it
 * requires, and the CLI's --config @FILE all read files the same way. */
#ifndef HW_READ_FILE_H
#define HW_READ_FILE_H

#include "buf.h"

/* Appends the bytes of the file at `path` to `out` (which then holds a
 * NUL-terminated string, even for an empty file). Returns 0, or -1 with
 * errno set (from fopen, or EIO when a read failed part way; what was read
 * stays in `out` for the caller to free). Thread-safe: no shared state. */
int hw_read_file(const char *path, hw_buf *out);

#endif
