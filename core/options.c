#include "options.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* Choices are stored in int-sized enum or int fields. */
_Static_assert(sizeof(hworker_log_level) == sizeof(int), "log_level is stored as an int");
_Static_assert(sizeof(hworker_exception_behavior) == sizeof(int), "on_exception is stored as an int");

static const char *const exception_choices[] = {"failure", "retry", NULL}; /* HWORKER_EXCEPTION_* order */
static const char *const sandbox_choices[] = {"strict", "trusted", NULL};  /* trusted = 0, 1 */
static const char *const switch_choices[] = {"off", "on", NULL};           /* 0, 1 */

/* Longest time or count a setting takes: far beyond any sensible value, and
 * it keeps `inf` and values that would overflow a millisecond count out. */
#define FAR 1e9

#define OPT(name_, alias_, field_, kind_, def_, min_, max_, above_, choices_, help_)                               \
    {                                                                                                              \
        name_, alias_, #field_, kind_, offsetof(hworker_config, field_), def_, min_, max_, above_, choices_, help_ \
    }

const hw_option hw_options[] = {
    OPT("timeout", "job_timeout", job_timeout, HW_OPT_SECONDS, 120, 0, FAR, 1, NULL, "a job's time limit"),
    OPT("lease", NULL, lease, HW_OPT_SECONDS, 30, 0.1, FAR, 0, NULL, "a claim's lease, renewed while its job runs"),
    OPT("memory_limit", "memory_limit_mb", memory_limit, HW_OPT_MIB, 64, 1, 1048576, 0, NULL,
        "memory cap of each worker's Lua state"),
    OPT("prefetch", NULL, prefetch, HW_OPT_INT, 64, 1, 1000, 0, NULL, "most jobs a worker claims at once; adapts"),
    OPT("on_exception", NULL, on_exception, HW_OPT_CHOICE, 0, 0, 1, 0, exception_choices, "what a Lua error counts as"),
    OPT("sandbox", NULL, trusted, HW_OPT_CHOICE, 0, 0, 1, 0, sandbox_choices, "the sandbox (see below)"),
    OPT("max_attempts", NULL, max_attempts, HW_OPT_LONG, 25, 0, FAR, 0, NULL,
        "runs before a retry fails the job; 0: no limit"),
    OPT("retry_base", NULL, retry_base, HW_OPT_SECONDS, 1, 0, FAR, 0, NULL, "back-off of the first retry"),
    OPT("retry_factor", NULL, retry_factor, HW_OPT_NUMBER, 2, 1, 1e6, 0, NULL,
        "each further retry waits X times longer"),
    OPT("retry_max_delay", NULL, retry_max_delay, HW_OPT_SECONDS, 3600, 0, FAR, 0, NULL, "the longest back-off"),
    OPT("max_recoveries", NULL, max_recoveries, HW_OPT_LONG, 3, 0, FAR, 0, NULL,
        "recoveries from dead workers before failing"),
    OPT("failed_cap", NULL, failed_cap, HW_OPT_LONG, 1000, 1, FAR, 0, NULL, "failed records kept"),
    OPT("broken_cap", NULL, broken_cap, HW_OPT_LONG, 1000, 1, FAR, 0, NULL, "broken records kept"),
    OPT("failed_max_age", NULL, failed_max_age, HW_OPT_SECONDS, 0, 0, FAR, 0, NULL,
        "drop older failed records; 0: keep all"),
    OPT("broken_max_age", NULL, broken_max_age, HW_OPT_SECONDS, 0, 0, FAR, 0, NULL,
        "drop older broken records; 0: keep all"),
    OPT("shards", NULL, shards, HW_OPT_INT, 1, 1, 1024, 0, NULL, "key sets the queue is spread over"),
    OPT("min_replicas", NULL, min_replicas, HW_OPT_INT, 0, 0, 1000, 0, NULL, "replicas each write must reach; 0: none"),
    OPT("min_replicas_timeout", NULL, min_replicas_timeout, HW_OPT_SECONDS, 1, 0, FAR, 1, NULL,
        "how long to wait for min_replicas"),
    OPT("monitor_interval", NULL, monitor_interval, HW_OPT_SECONDS, 5, 0, FAR, 1, NULL,
        "longest pause between monitor sweeps"),
    OPT("block_timeout", NULL, block_timeout, HW_OPT_SECONDS, 2, 0.01, FAR, 0, NULL, "how often an idle worker wakes"),
    OPT("redis_timeout", NULL, redis_timeout, HW_OPT_SECONDS, 30, 0.1, FAR, 0, NULL,
        "wait this long for a reply, then reconnect"),
    OPT("history", NULL, history, HW_OPT_CHOICE, 1, 0, 1, 0, switch_choices,
        "record wait and run times and per-minute history"),
    OPT("log_level", NULL, log_level, HW_OPT_CHOICE, HWORKER_LOG_INFO, 0, HW_LOG_SILENT, 0, hw_log_level_names,
        "lines below this level are dropped"),
    {NULL, NULL, NULL, 0, 0, 0, 0, 0, 0, NULL, NULL},
};

/* Compares a user's spelling with a table name: '-' and '_' are equal. */
static int same_name(const char *user, const char *table)
{
    for (; *user && *table; user++, table++) {
        char u = *user == '-' ? '_' : *user;
        if (u != *table) return 0;
    }
    return *user == *table;
}

const hw_option *hw_option_find(const char *name)
{
    for (const hw_option *o = hw_options; o->name; o++)
        if (same_name(name, o->name) || (o->alias && same_name(name, o->alias))) return o;
    return NULL;
}

const char *hw_option_unit(const hw_option *o)
{
    switch (o->kind) {
    case HW_OPT_SECONDS: return "seconds";
    case HW_OPT_MIB: return "MiB";
    default: return "";
    }
}

static size_t choice_count(const hw_option *o)
{
    size_t n = 0;
    while (o->choices[n]) n++;
    return n;
}

static void list_choices(const hw_option *o, char *out, size_t outlen)
{
    size_t n = choice_count(o), used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && used < outlen; i++) {
        const char *sep = i == 0 ? "" : i + 1 == n ? " or " : ", ";
        int w = snprintf(out + used, outlen - used, "%s\"%s\"", sep, o->choices[i]);
        if (w < 0) break;
        used += (size_t)w;
    }
}

/* Why `value` is not allowed for o (as the user `as` named it), or 0. */
static int refuse(const hw_option *o, double value, const char *as, char *err, size_t errlen)
{
    const char *unit = hw_option_unit(o), *space = unit[0] ? " " : "";
    if (o->kind == HW_OPT_CHOICE) {
        if (value >= 0 && value < (double)choice_count(o) && value == floor(value)) return 0;
        char names[128];
        list_choices(o, names, sizeof names);
        snprintf(err, errlen, "%s must be %s", as, names);
        return -1;
    }
    if (!isfinite(value)) {
        snprintf(err, errlen, "%s must be a finite number (got %g)", as, value);
        return -1;
    }
    if ((o->kind == HW_OPT_INT || o->kind == HW_OPT_LONG) && value != floor(value)) {
        snprintf(err, errlen, "%s must be a whole number (got %g)", as, value);
        return -1;
    }
    if (o->above_min ? !(value > o->min) : !(value >= o->min)) {
        snprintf(err, errlen, "%s must be %s %.15g%s%s (got %g)", as, o->above_min ? ">" : "at least", o->min, space,
                 unit, value);
        return -1;
    }
    if (value > o->max) {
        snprintf(err, errlen, "%s must be at most %.15g%s%s (got %g)", as, o->max, space, unit, value);
        return -1;
    }
    return 0;
}

static void store(hworker_config *cfg, const hw_option *o, double value)
{
    char *field = (char *)cfg + o->offset;
    switch (o->kind) {
    case HW_OPT_SECONDS:
    case HW_OPT_NUMBER: *(double *)(void *)field = value; break;
    case HW_OPT_INT:
    case HW_OPT_CHOICE: *(int *)(void *)field = (int)value; break;
    case HW_OPT_LONG: *(long *)(void *)field = (long)value; break;
    case HW_OPT_MIB: *(size_t *)(void *)field = (size_t)(value * 1024 * 1024); break;
    }
}

double hw_option_get(const hworker_config *cfg, const hw_option *o)
{
    const char *field = (const char *)cfg + o->offset;
    switch (o->kind) {
    case HW_OPT_SECONDS:
    case HW_OPT_NUMBER: return *(const double *)(const void *)field;
    case HW_OPT_INT:
    case HW_OPT_CHOICE: return *(const int *)(const void *)field;
    case HW_OPT_LONG: return (double)*(const long *)(const void *)field;
    case HW_OPT_MIB: return (double)*(const size_t *)(const void *)field / (1024.0 * 1024.0);
    }
    return 0;
}

int hw_option_set(hworker_config *cfg, const hw_option *o, double value, const char *as, char *err, size_t errlen)
{
    if (refuse(o, value, as, err, errlen)) return -1;
    store(cfg, o, value);
    return 0;
}

int hw_option_set_text(hworker_config *cfg, const hw_option *o, const char *text, const char *as, char *err,
                       size_t errlen)
{
    if (o->kind == HW_OPT_CHOICE) {
        for (size_t i = 0; o->choices[i]; i++)
            if (strcmp(text, o->choices[i]) == 0) return hw_option_set(cfg, o, (double)i, as, err, errlen);
        char names[128];
        list_choices(o, names, sizeof names);
        snprintf(err, errlen, "%s must be %s (got \"%s\")", as, names, text);
        return -1;
    }
    char *end;
    double value = strtod(text, &end);
    if (end == text || *end != '\0') {
        snprintf(err, errlen, "%s must be a number%s%s (got \"%s\")", as, hw_option_unit(o)[0] ? " of " : "",
                 hw_option_unit(o), text);
        return -1;
    }
    return hw_option_set(cfg, o, value, as, err, errlen);
}

void hw_option_format(const hw_option *o, double value, char *out, size_t outlen)
{
    if (o->kind == HW_OPT_CHOICE && value >= 0 && value < (double)choice_count(o))
        snprintf(out, outlen, "%s", o->choices[(size_t)value]);
    else snprintf(out, outlen, "%g", value);
}

void hw_options_defaults(hworker_config *cfg)
{
    for (const hw_option *o = hw_options; o->name; o++) store(cfg, o, o->def);
}

int hw_options_check(const hworker_config *cfg, char *err, size_t errlen)
{
    for (const hw_option *o = hw_options; o->name; o++) {
        char as[64];
        snprintf(as, sizeof as, "config: %s", o->field);
        if (refuse(o, hw_option_get(cfg, o), as, err, errlen)) return -1;
    }
    return 0;
}

static void add_number(hw_buf *out, double v) { hw_buf_addf(out, "%.15g", v); }

static void add_value_json(hw_buf *out, const hw_option *o, double v)
{
    if (o->kind == HW_OPT_CHOICE) hw_buf_addf(out, "\"%s\"", o->choices[(size_t)v]);
    else add_number(out, v);
}

void hw_options_values_json(const hworker_config *cfg, hw_buf *out)
{
    hw_buf_adds(out, "{");
    for (const hw_option *o = hw_options; o->name; o++) {
        hw_buf_addf(out, "%s\"%s\":", o == hw_options ? "" : ",", o->name);
        add_value_json(out, o, hw_option_get(cfg, o));
    }
    hw_buf_adds(out, "}");
}

static const char *kind_name(hw_option_kind kind)
{
    static const char *const names[] = {
        [HW_OPT_SECONDS] = "seconds", [HW_OPT_NUMBER] = "number", [HW_OPT_INT] = "integer",
        [HW_OPT_LONG] = "integer",    [HW_OPT_MIB] = "MiB",       [HW_OPT_CHOICE] = "choice"};
    return names[kind];
}

static void add_flag(hw_buf *out, const hw_option *o)
{
    hw_buf_adds(out, "--");
    for (const char *c = o->name; *c; c++) hw_buf_add(out, *c == '_' ? "-" : c, 1);
}

void hw_options_table_json(hw_buf *out)
{
    for (const hw_option *o = hw_options; o->name; o++) {
        hw_buf_addf(out, "{\"name\":\"%s\",\"alias\":", o->name);
        if (o->alias) hw_buf_addf(out, "\"%s\"", o->alias);
        else hw_buf_adds(out, "null");
        hw_buf_addf(out, ",\"field\":\"%s\",\"flag\":\"", o->field);
        add_flag(out, o);
        hw_buf_addf(out, "\",\"kind\":\"%s\",\"unit\":\"%s\",\"default\":", kind_name(o->kind), hw_option_unit(o));
        add_value_json(out, o, o->def);
        if (o->kind == HW_OPT_CHOICE) {
            hw_buf_adds(out, ",\"choices\":[");
            for (size_t i = 0; o->choices[i]; i++) hw_buf_addf(out, "%s\"%s\"", i ? "," : "", o->choices[i]);
            hw_buf_adds(out, "]");
        } else {
            hw_buf_adds(out, ",\"min\":");
            add_number(out, o->min);
            hw_buf_adds(out, ",\"max\":");
            add_number(out, o->max);
            hw_buf_addf(out, ",\"above_min\":%s", o->above_min ? "true" : "false");
        }
        hw_buf_addf(out, ",\"help\":\"%s\"}\n", o->help);
    }
}

void hw_options_table_markdown(hw_buf *out)
{
    hw_buf_adds(out,
                "| setting | flag | C field | unit | default | allowed | what it is |\n"
                "|---|---|---|---|---|---|---|\n");
    for (const hw_option *o = hw_options; o->name; o++) {
        hw_buf_addf(out, "| `%s`", o->name);
        if (o->alias) hw_buf_addf(out, " (or `%s`)", o->alias);
        hw_buf_adds(out, " | `");
        add_flag(out, o);
        hw_buf_addf(out, "` | `%s` | %s | ", o->field, hw_option_unit(o));
        char def[64];
        hw_option_format(o, o->def, def, sizeof def);
        hw_buf_addf(out, "%s | ", def);
        if (o->kind == HW_OPT_CHOICE) {
            for (size_t i = 0; o->choices[i]; i++) hw_buf_addf(out, "%s%s", i ? ", " : "", o->choices[i]);
        } else {
            hw_buf_addf(out, "%s %.15g to %.15g", o->above_min ? "above" : "from", o->min, o->max);
            if (o->kind == HW_OPT_INT || o->kind == HW_OPT_LONG) hw_buf_adds(out, ", whole");
        }
        hw_buf_addf(out, " | %s |\n", o->help);
    }
}
