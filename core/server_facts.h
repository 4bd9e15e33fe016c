/* What hworker needs of the Redis server, read once and judged in one
 * place, for the workers' start-up check (warnings in the log) and for
 * `hworker-lua check` (a report): a version with BLMOVE and RPOP with a
 * count (6.2+, server_version.h), and the settings at-least-once depends
 * on (AOF on, no eviction, a primary). */
#ifndef HW_SERVER_FACTS_H
#define HW_SERVER_FACTS_H

#include <stddef.h>

#include "hworker.h"

/* Each field is "" when unknown: INFO lacked it, or the server refused
 * CONFIG GET (managed services often do). */
typedef struct hw_server_facts {
    char version[32];          /* INFO server redis_version */
    char role[32];             /* INFO replication role */
    char appendonly[32];       /* CONFIG GET appendonly */
    char appendfsync[32];      /* CONFIG GET appendfsync */
    char maxmemory_policy[64]; /* CONFIG GET maxmemory-policy */
    char maxmemory[64];        /* CONFIG GET maxmemory */
} hw_server_facts;

/* Reads the facts on h's producer connection (under its lock). Returns 0,
 * or -1 with the connection's or INFO's error in err (then nothing is
 * known). Thread-safe. */
int hw_server_facts_read(hworker *h, hw_server_facts *f, char *err, size_t errlen);

typedef enum { HW_FINDING_ERROR, HW_FINDING_RISK, HW_FINDING_UNKNOWN } hw_finding_kind;

/* Judges the facts: calls fn once per finding, with a sentence that names
 * what to change. An ERROR means hworker cannot run there (a Redis older
 * than 6.2); a RISK, a setting that puts at-least-once at risk; UNKNOWN, a
 * setting that could not be read, so cannot be judged. Returns the number
 * of errors and risks. Pure; thread-safe. */
typedef void (*hw_finding_fn)(void *ud, hw_finding_kind kind, const char *text);
int hw_server_findings(const hw_server_facts *f, hw_finding_fn fn, void *ud);

#endif
