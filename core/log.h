/* Log lines go through the host's callback (stdout by default). A logger is
 * filled once when the handle is created and read-only afterwards, so any
 * thread may log through it at once. */
#ifndef HW_LOG_H
#define HW_LOG_H

#include "hworker.h"

typedef struct hw_logger {
    hworker_log_fn fn;
    void *ud;
    hworker_log_level level;
    const char *name;  /* queue name, prefixed to default-format lines */
} hw_logger;

/* Formats a message and hands it to the logger's callback if its level is
 * kept. The message is capped at HW_TEXT_MAX bytes (text_cap.h: a longer one
 * ends "... [truncated, N bytes in all]"), and control characters other
 * than tab are escaped ('\n' as \n, '\r' as \r, others as \xNN), so no
 * message, whatever a job put in it, can start a line of its own in a text
 * log; a JSON sink quotes the escaped text as any other. Thread-safe. */
void hw_log(const hw_logger *log, hworker_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The default callback: "hworker[<queue>] <level>: <msg>" on stdout, one
 * write per line so lines of different threads do not mix. */
void hw_log_stdout(void *ud, hworker_log_level level, const char *msg);
const char *hw_log_level_name(hworker_log_level level);

#endif
