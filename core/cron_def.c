#include "cron_def.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

static const char *const missed_names[] = {
    [HWORKER_CRON_SKIP] = "skip", [HWORKER_CRON_ONE] = "one", [HWORKER_CRON_ALL] = "all"};

const char *hw_cron_missed_name(hworker_cron_missed m)
{
    return m >= HWORKER_CRON_SKIP && m <= HWORKER_CRON_ALL ? missed_names[m] : "?";
}

int hw_cron_missed_parse(const char *s)
{
    for (int m = HWORKER_CRON_SKIP; m <= HWORKER_CRON_ALL; m++)
        if (s && strcmp(s, missed_names[m]) == 0) return m;
    return -1;
}

void hw_cron_def_encode(hw_buf *out, const char *schedule, const char *tz, hworker_cron_missed missed, int unique,
                        const char *job, size_t job_len)
{
    hw_buf_add(out, "{\"schedule\":", 12);
    hw_json_quote(out, schedule, strlen(schedule));
    hw_buf_add(out, ",\"tz\":", 6);
    hw_json_quote(out, tz ? tz : "", tz ? strlen(tz) : 0);
    hw_buf_addf(out, ",\"missed\":\"%s\",\"unique\":%d}\n", hw_cron_missed_name(missed), unique ? 1 : 0);
    hw_buf_add(out, job, job_len);
}

int hw_cron_def_check(const char *entry, const char *schedule, const char *tz, const char *job, char *err,
                      size_t errlen)
{
    size_t n = entry ? strlen(entry) : 0;
    if (n == 0 || n > 200) {
        snprintf(err, errlen, "cron entry name must be 1 to 200 bytes (got %zu)", n);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)entry[i] < 0x20 || entry[i] == 0x7f) {
            snprintf(err, errlen, "cron entry name holds a control character at byte %zu", i + 1);
            return -1;
        }
    }
    char why[300];
    hw_cron c;
    if (schedule == NULL || hw_cron_parse(schedule, &c, why, sizeof why) != 0) {
        snprintf(err, errlen, "cron entry '%s': %s", entry, schedule ? why : "no schedule");
        return -1;
    }
    if (tz && *tz) {
        hw_tz *z = hw_tz_load(tz, why, sizeof why);
        if (z == NULL) {
            snprintf(err, errlen, "cron entry '%s': %s", entry, why);
            return -1;
        }
        hw_tz_free(z);
    }
    if (job == NULL || hw_json_check(job, strlen(job), why, sizeof why) != 0) {
        snprintf(err, errlen, "cron entry '%s': the job is not valid JSON: %s", entry, job ? why : "none given");
        return -1;
    }
    return 0;
}

typedef struct def_fields {
    hw_buf schedule, tz, missed;
    int unique, has_schedule;
} def_fields;

static void on_field(void *ud, const hw_json_field *f)
{
    def_fields *d = ud;
    hw_buf *target = NULL;
    if (f->key_len == 8 && memcmp(f->key, "schedule", 8) == 0) {
        target = &d->schedule;
        d->has_schedule = f->is_string;
    } else if (f->key_len == 2 && memcmp(f->key, "tz", 2) == 0) {
        target = &d->tz;
    } else if (f->key_len == 6 && memcmp(f->key, "missed", 6) == 0) {
        target = &d->missed;
    } else if (f->key_len == 6 && memcmp(f->key, "unique", 6) == 0) {
        d->unique = !f->is_string && f->value_len == 1 && f->value[0] == '1';
    }
    if (target && f->is_string) {
        hw_buf_clear(target);
        hw_json_unescape(target, f->value, f->value_len);
    }
}

static void fields_free(def_fields *f)
{
    hw_buf_free(&f->schedule);
    hw_buf_free(&f->missed);
}

int hw_cron_def_parse(hw_cron_def *d, const char *text, size_t len, char *err, size_t errlen)
{
    memset(d, 0, sizeof *d);
    const char *nl = memchr(text, '\n', len);
    def_fields f = {0};
    if (nl == NULL || hw_json_flat_object(text, (size_t)(nl - text), on_field, &f) != 0 || !f.has_schedule) {
        fields_free(&f);
        hw_buf_free(&f.tz);
        snprintf(err, errlen, "its definition is not a JSON header line with a \"schedule\", then the job");
        return -1;
    }
    char why[300];
    int rc = -1;
    d->tz_name = f.tz;
    f.tz = (hw_buf){0};
    int missed = f.missed.len ? hw_cron_missed_parse(f.missed.data) : HWORKER_CRON_ONE;
    int bad_schedule = hw_cron_parse(f.schedule.data ? f.schedule.data : "", &d->cron, why, sizeof why) != 0;
    if (!bad_schedule && d->tz_name.len && missed >= 0) d->tz = hw_tz_load(d->tz_name.data, why, sizeof why);
    if (missed < 0) {
        snprintf(err, errlen, "missed must be skip, one or all");
    } else if (bad_schedule || (d->tz_name.len && d->tz == NULL)) {
        snprintf(err, errlen, "%s", why);
    } else if (hw_json_check(nl + 1, len - (size_t)(nl + 1 - text), why, sizeof why) != 0) {
        snprintf(err, errlen, "its job is not valid JSON: %s", why);
    } else {
        d->missed = (hworker_cron_missed)missed;
        d->unique = f.unique;
        d->job = nl + 1;
        d->job_len = len - (size_t)(nl + 1 - text);
        rc = 0;
    }
    fields_free(&f);
    if (rc != 0) hw_cron_def_free(d);
    return rc;
}

void hw_cron_def_free(hw_cron_def *d)
{
    hw_tz_free(d->tz);
    hw_buf_free(&d->tz_name);
    memset(d, 0, sizeof *d);
}
