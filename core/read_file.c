#include "read_file.h"

#include <errno.h>
#include <stdio.h>

int hw_read_file(const char *path, hw_buf *out)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) return -1;
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) hw_buf_add(out, chunk, n);
    int bad = ferror(f);
    fclose(f);
    hw_buf_add(out, "", 0); /* a string even when the file is empty */
    if (bad) {
        errno = EIO;
        return -1;
    }
    return 0;
}
