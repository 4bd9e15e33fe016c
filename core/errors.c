/* The error codes' words, and the one way a call writes its message. */
#include "errors.h"

#include <stdarg.h>
#include <stdio.h>

hworker_rc hw_fail(hworker_rc rc, char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return rc;
}

const char *hworker_strerror(int rc)
{
    switch (rc) {
    case HWORKER_OK: return "success";
    case HWORKER_E_INVALID: return "invalid argument: a setting, name, option or JSON the call cannot take";
    case HWORKER_E_REDIS:
        return "Redis unreachable, too slow, refusing the command, or set up in a way that loses jobs";
    case HWORKER_E_STATE: return "not now: the handle's threads are in a state that forbids the call";
    case HWORKER_E_JOB_FILE: return "the job file does not load";
    case HWORKER_E_SHARDS: return "the shard count differs from the one Redis records for the queue";
    case HWORKER_E_REPLICAS: return "written, but fewer replicas than min_replicas confirmed it in time";
    case HWORKER_E_SYSTEM: return "the system refused a resource (a thread)";
    case HWORKER_E_NOT_FOUND: return "no job has that id: it may have finished already";
    default: return "unknown hworker error code";
    }
}
