/* Where run's flags may also come from (docs/cli.md, "Settings from the
 * environment and a file"): a file of `name = value` lines given by
 * --config-file, then HWORKER_NAME variables, then the command line, each
 * over the one before. They become flags placed before the command line's,
 * so one parser checks them all and the last one given wins; each is first
 * checked alone, so a bad one is named by its variable or file line. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cli.h"
#include "options.h"
#include "read_file.h"

/* Flags with no variable: their own variables exist (HWORKER_REDIS,
 * HWORKER_REDIS_PASSWORD), or they are not settings. */
static int has_variable(const char *flag)
{
    static const char *const none[] = {"redis",          "redis-password-file", "workers",
                                       "print-settings", "config-file",         NULL};
    for (int i = 0; none[i]; i++)
        if (strcmp(flag, none[i]) == 0) return 0;
    return 1;
}

static int set(const char *variable) { return variable != NULL && variable[0] != '\0'; }

static cli_opt *find_opt(cli_opt *opts, const char *name)
{
    for (cli_opt *o = opts; o->name; o++)
        if (strcmp(o->name, name) == 0) return o;
    return NULL;
}

static void add_arg(cli_args *a, char *arg)
{
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 16;
        a->argv = realloc(a->argv, (size_t)a->cap * sizeof *a->argv);
        if (a->argv == NULL) abort();
    }
    a->argv[a->n++] = arg;
}

/* Turns `name` and `value` into a flag, checks it alone, and adds it; -1
 * after saying what is wrong: at `place` (a variable, or a file's line),
 * naming the setting as `as` (the variable, or the line and the name). */
static int add_setting(cli_args *a, cli_opt *opts, const char *cmd, const char *place, const char *as, const char *name,
                       const char *value)
{
    /* A setting of the option table is checked by the table, which names
     * it as the user wrote it. */
    char key[64];
    snprintf(key, sizeof key, "%s", name);
    for (char *c = key; *c; c++)
        if (*c == '-') *c = '_';
    const hw_option *setting = hw_option_find(key);
    if (setting) {
        hworker_config scratch;
        hworker_config_init(&scratch);
        char err[400];
        if (hw_option_set_text(&scratch, setting, value, as, err, sizeof err)) {
            cli_error(cmd, "%s", err);
            return -1;
        }
    }
    char where[600];
    snprintf(where, sizeof where, "%s: %s", cmd, place);
    cli_opt *o = find_opt(opts, name);
    char *flag;
    if (o && o->kind == OPT_FLAG) {
        if (strcmp(value, "1") == 0 || strcmp(value, "true") == 0 || strcmp(value, "yes") == 0) {
            flag = malloc(strlen(name) + 3);
            if (flag == NULL) abort();
            sprintf(flag, "--%s", name);
        } else if (strcmp(value, "0") == 0 || strcmp(value, "false") == 0 || strcmp(value, "no") == 0) {
            return 0;
        } else {
            cli_error(where, "%s is a switch: give true or false, not \"%s\"", name, value);
            return -1;
        }
    } else {
        flag = malloc(strlen(name) + strlen(value) + 4);
        if (flag == NULL) abort();
        sprintf(flag, "--%s=%s", name, value);
    }
    int npos;
    char *one[1] = {flag};
    if (cli_parse(where, 1, one, opts, NULL, 0, &npos) != 0) {
        free(flag);
        return -1;
    }
    add_arg(a, flag);
    return 0;
}

/* The lines of FILE: `name = value`, `#` comments and blank lines. */
static int add_file(cli_args *a, cli_opt *opts, const char *cmd, const char *path)
{
    hw_buf text = {0};
    if (hw_read_file(path, &text)) {
        cli_error(cmd, "cannot read --config-file %s: %s", path, strerror(errno));
        hw_buf_free(&text);
        return -1;
    }
    int rc = 0, line_no = 0;
    for (char *line = text.data, *next; rc == 0 && line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = '\0';
        line_no++;
        while (isspace((unsigned char)*line)) line++;
        size_t len = strlen(line);
        while (len > 0 && isspace((unsigned char)line[len - 1])) line[--len] = '\0';
        if (*line == '\0' || *line == '#') continue;
        char place[520], where[600], as[700];
        snprintf(place, sizeof place, "%s line %d", path, line_no);
        snprintf(where, sizeof where, "%s: %s", cmd, place);
        char *eq = strchr(line, '=');
        if (eq == NULL) {
            cli_error(where, "a setting is `name = value`, e.g. `lease = 30`");
            rc = -1;
            break;
        }
        char *name = line, *value = eq + 1;
        *eq = '\0';
        while (eq > name && isspace((unsigned char)eq[-1])) *--eq = '\0';
        while (isspace((unsigned char)*value)) value++;
        size_t vlen = strlen(value);
        if (vlen >= 2 && value[0] == '"' && value[vlen - 1] == '"') {
            value[vlen - 1] = '\0';
            value++;
        }
        if (strncmp(name, "--", 2) == 0) name += 2;
        for (char *c = name; *c; c++)
            if (*c == '_') *c = '-';
        if (strcmp(name, "print-settings") == 0 || strcmp(name, "config-file") == 0) {
            cli_error(where, "%s cannot be set in a file", name);
            rc = -1;
            break;
        }
        /* The Redis address and password have variables of their own,
         * which win over the file as every other variable does. */
        if ((strcmp(name, "redis") == 0 && (set(getenv("HWORKER_REDIS")) || set(getenv("REDIS_URL")))) ||
            (strcmp(name, "redis-password-file") == 0 && set(getenv("HWORKER_REDIS_PASSWORD"))))
            continue;
        snprintf(as, sizeof as, "%s: %s", place, name);
        rc = add_setting(a, opts, cmd, place, as, name, value);
    }
    hw_buf_free(&text);
    return rc;
}

int cli_settings_args(const char *cmd, int argc, char **argv, cli_opt *opts, cli_args *out)
{
    *out = (cli_args){0};
    const char *file = NULL;
    /* The parser takes a flag with one dash or two: so does this. */
    for (int i = 0; i < argc && strcmp(argv[i], "--") != 0; i++) {
        const char *a = argv[i][0] == '-' && argv[i][1] == '-' ? argv[i] + 1 : argv[i];
        if (strcmp(a, "-config-file") == 0 && i + 1 < argc) file = argv[i + 1];
        else if (strncmp(a, "-config-file=", 13) == 0) file = a + 13;
    }
    if (file && add_file(out, opts, cmd, file)) goto failed;
    for (cli_opt *o = opts; o->name; o++) {
        if (!has_variable(o->name)) continue;
        char var[80] = "HWORKER_";
        size_t n = strlen(var);
        for (const char *c = o->name; *c && n < sizeof var - 1; c++)
            var[n++] = *c == '-' ? '_' : (char)toupper((unsigned char)*c);
        var[n] = '\0';
        const char *value = getenv(var);
        if (value == NULL || value[0] == '\0') continue;
        if (add_setting(out, opts, cmd, var, var, o->name, value)) goto failed;
    }
    out->first_own = out->n;
    for (int i = 0; i < argc; i++) add_arg(out, argv[i]);
    for (cli_opt *o = opts; o->name; o++) o->seen = 0;
    return 0;
failed:
    out->first_own = out->n; /* every argument so far is a copy */
    cli_args_free(out);
    return -1;
}

void cli_args_free(cli_args *a)
{
    for (int i = 0; i < a->first_own && i < a->n; i++) free(a->argv[i]);
    free(a->argv);
    *a = (cli_args){0};
}
