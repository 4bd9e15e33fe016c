/* Log lines go through the host's callback (stdout by default). A logger's
 * fields are set once by hw_logger_init and read-only afterwards, so any
 * thread may log through it at once. The host's callback and its ud are
 * the host's, though, and an abandoned worker thread can outlive the
 * handle's release (hworker_free): hw_logger_detach ends the logger's use
 * of them, waiting for a call in progress, so no line reaches the callback
 * once the host may have freed what it uses. */
#ifndef HW_LOG_H
#define HW_LOG_H

#include <pthread.h>
#include <stdarg.h>

#include "buf.h"
#include "hworker.h"

typedef struct hw_logger {
    hworker_log_fn fn;
    hworker_log_fields_fn fields_fn; /* when set, it gets every line in place of fn */
    void *ud;
    hworker_log_level level;
    const char *name; /* queue name, prefixed to default-format lines */
    /* Held for reading around each callback, for writing to detach. */
    pthread_rwlock_t gate;
    int detached; /* under gate */
} hw_logger;

/* Fills a logger: fields_fn(ud, level, msg, fields, n), else fn(ud, level,
 * msg), gets the lines of `level` and above (both NULL: hw_log_stdout with
 * the queue name). */
void hw_logger_init(hw_logger *log, hworker_log_fn fn, hworker_log_fields_fn fields_fn, void *ud,
                    hworker_log_level level, const char *name);
/* Returns once no thread is inside the callback; no line reaches it after.
 * Thread-safe; idempotent. */
void hw_logger_detach(hw_logger *log);
/* Releases the gate; no thread may log through `log` any more. */
void hw_logger_destroy(hw_logger *log);

/* Formats a message and hands it to the logger's callback if its level is
 * kept. The message is capped at HW_TEXT_MAX bytes (text_cap.h: a longer one
 * ends "... [truncated, N bytes in all]"), and control characters other
 * than tab are escaped ('\n' as \n, '\r' as \r, others as \xNN), so no
 * message, whatever a job put in it, can start a line of its own in a text
 * log; a JSON sink quotes the escaped text as any other. Thread-safe. */
void hw_log(hw_logger *log, hworker_log_level level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The most fields a line carries: the engine's, then a handler's own. */
#define HW_LOG_FIELDS_MAX 24
/* A handler's field value is cut to this many bytes (at a character
 * boundary, with the "... [truncated, N bytes in all]" mark). */
#define HW_LOG_FIELD_MAX 1024
/* hw_log with fields for a sink that takes them (their values escaped as
 * the message is); a sink that does not gets the message alone. */
void hw_log_fields(hw_logger *log, hworker_log_level level, const hworker_log_field *fields, size_t n, const char *fmt,
                   ...) __attribute__((format(printf, 5, 6)));
/* hw_log_fields with a va_list. */
void hw_vlog_fields(hw_logger *log, hworker_log_level level, const hworker_log_field *fields, size_t n, const char *fmt,
                    va_list ap) __attribute__((format(printf, 5, 0)));
/* True if a line of `level` would be kept: callers skip building fields. */
int hw_log_wants(const hw_logger *log, hworker_log_level level);
/* The default callback: "hworker[<queue>] <level>: <msg>" on stdout, one
 * write per line so lines of different threads do not mix. */
void hw_log_stdout(void *ud, hworker_log_level level, const char *msg);
/* The levels' names as users write them, index = level, then "silent"
 * (a threshold above every level: no line at all), then NULL: the one table
 * the settings (core/options.c) and hworker.log read. */
extern const char *const hw_log_level_names[];
#define HW_LOG_SILENT (HWORKER_LOG_ERROR + 1)
/* The name of `level` ("error" for anything above it). */
const char *hw_log_level_name(hworker_log_level level);

/* Appends s to out with every control character but tab escaped ('\n' as
 * \n, '\r' as \r, others as \xNN): text from Redis or from a job, printed
 * on a terminal, can then neither forge a line nor send an escape
 * sequence. */
void hw_log_escape(hw_buf *out, const char *s, size_t len);

#endif
