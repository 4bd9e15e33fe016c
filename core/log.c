#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "buf.h"
#include "text_cap.h"

const char *const hw_log_level_names[] = {"debug", "info", "warn", "error", "silent", NULL};

const char *hw_log_level_name(hworker_log_level level)
{
    return level <= HWORKER_LOG_ERROR ? hw_log_level_names[level] : "error";
}

void hw_log_stdout(void *ud, hworker_log_level level, const char *msg)
{
    const char *name = ud ? (const char *)ud : "";
    /* One fprintf: stdio locks the stream for the whole call. */
    fprintf(stdout, "hworker[%s] %s: %s\n", name, hw_log_level_name(level), msg);
    fflush(stdout);
}

/* Control characters that are not tabs: a newline or carriage return in a
 * message would start a forged line in a text log, an escape sequence
 * would drive the terminal. */
static int needs_escape(unsigned char ch) { return (ch < 0x20 && ch != '\t') || ch == 0x7f; }

void hw_log_escape(hw_buf *out, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t run = 0; /* start of the bytes not yet copied */
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (!needs_escape(ch)) continue;
        hw_buf_add(out, s + run, i - run);
        char esc[4] = {'\\', 'x', hex[ch >> 4], hex[ch & 15]};
        if (ch == '\n') hw_buf_add(out, "\\n", 2);
        else if (ch == '\r') hw_buf_add(out, "\\r", 2);
        else hw_buf_add(out, esc, 4);
        run = i + 1;
    }
    hw_buf_add(out, s + run, len - run);
}

void hw_logger_init(hw_logger *log, hworker_log_fn fn, void *ud, hworker_log_level level, const char *name)
{
    log->fn = fn ? fn : hw_log_stdout;
    log->ud = fn ? ud : (void *)name;
    log->level = level;
    log->name = name;
    log->detached = 0;
    pthread_rwlock_init(&log->gate, NULL);
}

void hw_logger_detach(hw_logger *log)
{
    pthread_rwlock_wrlock(&log->gate);
    log->detached = 1;
    pthread_rwlock_unlock(&log->gate);
}

void hw_logger_destroy(hw_logger *log)
{
    if (log->fn != NULL) pthread_rwlock_destroy(&log->gate);
}

static void deliver(hw_logger *log, hworker_log_level level, const char *line)
{
    pthread_rwlock_rdlock(&log->gate);
    if (!log->detached) log->fn(log->ud, level, line);
    pthread_rwlock_unlock(&log->gate);
}

void hw_log(hw_logger *log, hworker_log_level level, const char *fmt, ...)
{
    if (log == NULL || log->fn == NULL || level < log->level) return;
    /* Room for the cap and the 3 bytes after it that the cut looks at. */
    char msg[HW_TEXT_MAX + 4];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    size_t len = (size_t)n, kept = len < sizeof msg ? len : sizeof msg - 1;
    size_t i = 0;
    while (i < kept && !needs_escape((unsigned char)msg[i])) i++;
    if (i == kept && len <= HW_TEXT_MAX) {
        deliver(log, level, msg); /* the common case: no copy */
        return;
    }
    hw_buf capped = {0}, line = {0};
    hw_text_add_capped(&capped, msg, len);
    hw_log_escape(&line, capped.data, capped.len);
    deliver(log, level, line.data);
    hw_buf_free(&capped);
    hw_buf_free(&line);
}
