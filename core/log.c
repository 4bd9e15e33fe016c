#include "log.h"

#include <stdarg.h>
#include <stdio.h>

const char *hw_log_level_name(hworker_log_level level)
{
    switch (level) {
    case HWORKER_LOG_DEBUG: return "debug";
    case HWORKER_LOG_INFO: return "info";
    case HWORKER_LOG_WARN: return "warn";
    default: return "error";
    }
}

void hw_log_stdout(void *ud, hworker_log_level level, const char *msg)
{
    const char *name = ud ? (const char *)ud : "";
    /* One fprintf: stdio locks the stream for the whole call. */
    fprintf(stdout, "hworker[%s] %s: %s\n", name, hw_log_level_name(level), msg);
    fflush(stdout);
}

void hw_log(const hw_logger *log, hworker_log_level level, const char *fmt, ...)
{
    if (log == NULL || log->fn == NULL || level < log->level) return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    log->fn(log->ud, level, msg);
}
