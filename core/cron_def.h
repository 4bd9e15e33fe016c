/* A cron entry's definition as stored in the queue's cron hash: one line
 * of flat JSON, a newline, then the job JSON byte for byte (the same shape
 * as an envelope, docs/wire-format.md):
 *   {"schedule":"*\/5 * * * *","tz":"Europe/Berlin","missed":"one","unique":0}
 *   {"report":"daily"}
 * Reading one that another writer (or anything else) put there never
 * trusts it: every fault becomes a message. */
#ifndef HW_CRON_DEF_H
#define HW_CRON_DEF_H

#include <stddef.h>

#include "buf.h"
#include "cron.h"
#include "hworker.h"
#include "tz.h"

typedef struct hw_cron_def {
    hw_cron cron;               /* the parsed schedule */
    hw_tz *tz;                  /* loaded zone (owned), NULL for UTC */
    hw_buf tz_name;             /* "" for UTC */
    hworker_cron_missed missed; /* HWORKER_CRON_ONE unless the definition says otherwise */
    int unique;
    const char *job; /* the job JSON, inside the text parsed (valid while it is) */
    size_t job_len;
} hw_cron_def;

/* Writes a definition into out (appended). Strings are the caller's,
 * already checked by hw_cron_def_check. */
void hw_cron_def_encode(hw_buf *out, const char *schedule, const char *tz, hworker_cron_missed missed, int unique,
                        const char *job, size_t job_len);

/* Checks what hworker_cron_add was given: the entry name (1 to 200 bytes,
 * no control characters), the schedule, the zone (NULL or "" for UTC) and
 * the job (one JSON value). Returns 0, or -1 with err naming what to fix. */
int hw_cron_def_check(const char *entry, const char *schedule, const char *tz, const char *job, char *err,
                      size_t errlen);

/* Parses a stored definition (len bytes) into d, loading its zone. Returns
 * 0 (free d with hw_cron_def_free), or -1 with err saying what is wrong and
 * d empty. d->job points into text. */
int hw_cron_def_parse(hw_cron_def *d, const char *text, size_t len, char *err, size_t errlen);
void hw_cron_def_free(hw_cron_def *d);

/* The words for missed policies: "skip", "one", "all"; and back (-1 if
 * none matches). */
const char *hw_cron_missed_name(hworker_cron_missed m);
int hw_cron_missed_parse(const char *s);

#endif
