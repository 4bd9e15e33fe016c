/* The one rule every queue name obeys, wherever it comes from (the C API,
 * the Lua module, the command line, hworker.queue in job code). A name
 * becomes part of Redis keys, hw:{<name>}:<role>, and of log lines, so it
 * may not hold what would change the keys' hash tag or split a line. */
#ifndef HW_QUEUE_NAME_H
#define HW_QUEUE_NAME_H

#include <stddef.h>

/* Longest queue name, in bytes. Every key of a queue repeats its name and
 * every log line shows it; 200 bytes leave room for any sensible name. */
#define HW_QUEUE_NAME_MAX 200

/* Checks `name` of `len` bytes (a NUL inside is seen, never cut at):
 * refused are an empty name, a name over HW_QUEUE_NAME_MAX bytes, a NUL or
 * other control character (below 0x20, and 0x7f), '{' and '}'. Returns 0,
 * or -1 with the rule broken and where in err ("queue name has a control
 * character (0x0a) at byte 5"); the name itself is never copied into the
 * message. Pure; thread-safe. */
int hw_queue_name_check(const char *name, size_t len, char *err, size_t errlen);

#endif
