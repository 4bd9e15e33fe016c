/* Flag parsing for every subcommand, with "did you mean" for typos. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

void cli_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "hworker-lua%s%s: ", cmd ? " " : "", cmd ? cmd : "");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static size_t distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64) return 99;
    size_t row[65];
    for (size_t j = 0; j <= lb; j++) row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t best = diag + cost;
            if (row[j] + 1 < best) best = row[j] + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

const char *cli_nearest(const char *word, const char *const *names)
{
    const char *best = NULL;
    size_t best_d = 99;
    for (const char *const *n = names; *n; n++) {
        size_t d = distance(word, *n);
        if (d < best_d) {
            best_d = d;
            best = *n;
        }
    }
    /* Close enough to be a typo: at most a third of the word changed. */
    return best && best_d <= 1 + strlen(word) / 3 ? best : NULL;
}

int cli_seen(const cli_opt *opts, const char *name)
{
    for (; opts->name; opts++)
        if (strcmp(opts->name, name) == 0) return opts->seen;
    return 0;
}

int cli_wants_help(int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) return 0;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) return 1;
    }
    return 0;
}

static int set_value(const char *cmd, cli_opt *o, const char *value)
{
    char *end;
    switch (o->kind) {
    case OPT_STRING: *(const char **)o->dest = value; return 0;
    case OPT_NUMBER: {
        double v = strtod(value, &end);
        if (*value == '\0' || *end != '\0') {
            cli_error(cmd, "--%s needs a number (got '%s')", o->name, value);
            return -1;
        }
        *(double *)o->dest = v;
        return 0;
    }
    case OPT_INT: {
        long v = strtol(value, &end, 10);
        if (*value == '\0' || *end != '\0' || v < -1000000000L || v > 1000000000L) {
            cli_error(cmd, "--%s needs a whole number (got '%s')", o->name, value);
            return -1;
        }
        *(int *)o->dest = (int)v;
        return 0;
    }
    default: return -1;
    }
}

int cli_parse(const char *cmd, int argc, char **argv, cli_opt *opts, const char **pos, int max, int *npos)
{
    *npos = 0;
    int flags_done = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (flags_done || a[0] != '-' || strcmp(a, "-") == 0) {
            if (*npos >= max) {
                cli_error(cmd, "unexpected argument '%s' (see hworker-lua %s --help)", a, cmd);
                return -1;
            }
            pos[(*npos)++] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            flags_done = 1;
            continue;
        }
        const char *name = a + (a[1] == '-' ? 2 : 1);
        const char *eq = strchr(name, '=');
        size_t n = eq ? (size_t)(eq - name) : strlen(name);
        cli_opt *o = NULL;
        for (cli_opt *p = opts; p->name; p++)
            if (strlen(p->name) == n && strncmp(p->name, name, n) == 0) o = p;
        if (o == NULL) {
            const char *names[64];
            int k = 0;
            for (cli_opt *p = opts; p->name && k < 63; p++) names[k++] = p->name;
            names[k] = NULL;
            char word[64];
            snprintf(word, sizeof word, "%.*s", (int)n, name);
            const char *near = cli_nearest(word, names);
            if (near) cli_error(cmd, "unknown flag --%s (did you mean --%s?)", word, near);
            else cli_error(cmd, "unknown flag --%s (see hworker-lua %s --help)", word, cmd);
            return -1;
        }
        o->seen = 1;
        if (o->kind == OPT_FLAG) {
            if (eq) {
                cli_error(cmd, "--%s takes no value", o->name);
                return -1;
            }
            *(int *)o->dest = 1;
            continue;
        }
        const char *value = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (value == NULL) {
            cli_error(cmd, "--%s needs a value", o->name);
            return -1;
        }
        if (set_value(cmd, o, value)) return -1;
    }
    return 0;
}
