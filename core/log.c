#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

void hw_logger_init(hw_logger *log, hworker_log_fn fn, hworker_log_fields_fn fields_fn, void *ud,
                    hworker_log_level level, const char *name)
{
    int own = fn != NULL || fields_fn != NULL;
    log->fn = fn ? fn : hw_log_stdout;
    log->fields_fn = fields_fn;
    log->ud = own ? ud : (void *)name;
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

int hw_log_wants(const hw_logger *log, hworker_log_level level)
{
    return log != NULL && log->fn != NULL && level >= log->level;
}

static void deliver(hw_logger *log, hworker_log_level level, const char *line, const hworker_log_field *fields,
                    size_t n)
{
    hworker_log_field safe[HW_LOG_FIELDS_MAX];
    hw_buf values[HW_LOG_FIELDS_MAX];
    if (n > HW_LOG_FIELDS_MAX) n = HW_LOG_FIELDS_MAX;
    /* Values come capped (the engine's are short, a handler's are cut to
     * HW_LOG_FIELD_MAX); escaping keeps each to one line. */
    for (size_t i = 0; log->fields_fn && i < n; i++) {
        values[i] = (hw_buf){0};
        const char *v = fields[i].value ? fields[i].value : "";
        hw_log_escape(&values[i], v, strlen(v));
        hw_buf_adds(&values[i], "");
        safe[i] = (hworker_log_field){fields[i].key, values[i].data, fields[i].unquoted};
    }
    pthread_rwlock_rdlock(&log->gate);
    if (!log->detached) {
        if (log->fields_fn) log->fields_fn(log->ud, level, line, safe, n);
        else log->fn(log->ud, level, line);
    }
    pthread_rwlock_unlock(&log->gate);
    for (size_t i = 0; log->fields_fn && i < n; i++) hw_buf_free(&values[i]);
}

void hw_vlog_fields(hw_logger *log, hworker_log_level level, const hworker_log_field *fields, size_t n, const char *fmt,
                    va_list ap)
{
    if (!hw_log_wants(log, level)) return;
    /* Room for the cap and the 3 bytes after it that the cut looks at. */
    char msg[HW_TEXT_MAX + 4];
    int got = vsnprintf(msg, sizeof msg, fmt, ap);
    if (got < 0) return;
    size_t len = (size_t)got, kept = len < sizeof msg ? len : sizeof msg - 1;
    size_t i = 0;
    while (i < kept && !needs_escape((unsigned char)msg[i])) i++;
    if (i == kept && len <= HW_TEXT_MAX) {
        deliver(log, level, msg, fields, n); /* the common case: no copy */
        return;
    }
    hw_buf capped = {0}, line = {0};
    hw_text_add_capped(&capped, msg, len);
    hw_log_escape(&line, capped.data, capped.len);
    deliver(log, level, line.data, fields, n);
    hw_buf_free(&capped);
    hw_buf_free(&line);
}

void hw_log(hw_logger *log, hworker_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    hw_vlog_fields(log, level, NULL, 0, fmt, ap);
    va_end(ap);
}

void hw_log_fields(hw_logger *log, hworker_log_level level, const hworker_log_field *fields, size_t n, const char *fmt,
                   ...)
{
    va_list ap;
    va_start(ap, fmt);
    hw_vlog_fields(log, level, fields, n, fmt, ap);
    va_end(ap);
}
