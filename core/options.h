/* The settings of a queue handle, each defined once: its name, type, unit,
 * default, range and one line of help. The table drives the C defaults
 * (hworker_config_init) and checks (hworker_create), the command line's
 * flags (run), the Lua module's options (hworker.open) and the docs'
 * table (hworker-lua options), so a setting has one name, one unit and one
 * default wherever it is given. */
#ifndef HW_OPTIONS_H
#define HW_OPTIONS_H

#include <stddef.h>

#include "buf.h"
#include "hworker.h"

typedef enum {
    HW_OPT_SECONDS, /* double field, seconds */
    HW_OPT_NUMBER,  /* double field, no unit */
    HW_OPT_INT,     /* int field, a whole number */
    HW_OPT_LONG,    /* long field, a whole number */
    HW_OPT_MIB,     /* size_t field in bytes, given in MiB */
    HW_OPT_CHOICE   /* int-sized field: the index of one of `choices` */
} hw_option_kind;

typedef struct hw_option {
    const char *name;  /* Lua key; the flag is --name with '-' for '_' */
    const char *alias; /* an older name still taken, or NULL */
    const char *field; /* the hworker_config field */
    hw_option_kind kind;
    size_t offset;              /* of the field in hworker_config */
    double def;                 /* default (a choice's index) */
    double min, max;            /* the range, inclusive unless above_min */
    int above_min;              /* the value must be > min, not >= min */
    const char *const *choices; /* HW_OPT_CHOICE: the names, NULL-ended */
    const char *help;
} hw_option;

/* The table, in the order the docs list it, ending with a NULL name. */
extern const hw_option hw_options[];

/* The option called `name` (its name or alias, with '-' or '_'), or NULL.
 * Pure; thread-safe. */
const hw_option *hw_option_find(const char *name);

/* The unit word of a kind ("seconds", "MiB" or ""). */
const char *hw_option_unit(const hw_option *o);

/* Sets option o of cfg from a number (a choice's index), or from text as a
 * user wrote it (a number, or a choice's name). Out of range, not a whole
 * number where one is needed, not finite, or not one of the choices: -1
 * with a message in err that starts with `as` (how the caller's user names
 * the option: "--lease", "lease") and says what is allowed; cfg is then
 * unchanged. Not thread-safe on the same cfg. */
int hw_option_set(hworker_config *cfg, const hw_option *o, double value, const char *as, char *err, size_t errlen);
int hw_option_set_text(hworker_config *cfg, const hw_option *o, const char *text, const char *as, char *err,
                       size_t errlen);

/* The value of option o in cfg (a choice's index; MiB for HW_OPT_MIB). */
double hw_option_get(const hworker_config *cfg, const hw_option *o);
/* The value as text: "%g", or the choice's name. */
void hw_option_format(const hw_option *o, double value, char *out, size_t outlen);

/* Appends cfg's settings as one JSON object, {"timeout":120,...}: numbers
 * as numbers (MiB for memory_limit), choices as their names. */
void hw_options_values_json(const hworker_config *cfg, hw_buf *out);
/* Appends the table itself, one JSON object per line: name, alias, field,
 * flag, kind, unit, default, min, max, above_min, choices, help. */
void hw_options_table_json(hw_buf *out);
/* Appends the table as the Markdown table of docs/configuration.md. */
void hw_options_table_markdown(hw_buf *out);

/* The configuration handle h was created with, as hworker_create()
 * checked and kept it (engine.c). Valid while h lives. */
const hworker_config *hw_config_of(const hworker *h);

/* Sets every option of cfg to its default. */
void hw_options_defaults(hworker_config *cfg);
/* Checks every option of cfg against its range; -1 with "config: FIELD
 * must be ..." (the C field's name) in err. Pure. */
int hw_options_check(const hworker_config *cfg, char *err, size_t errlen);

#endif
