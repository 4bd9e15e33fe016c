/* What subcommands share: the Redis address, opening a handle, JSON out. */
#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "cli.h"
#include "hworker_steps.h"
#include "internal.h"
#include "json.h"

const char *cli_redis_url(const char *flag_value)
{
    if (flag_value) return flag_value;
    const char *const names[] = {"HWORKER_REDIS", "REDIS_URL"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *env = getenv(names[i]);
        if (env && env[0]) return env;
    }
    return "redis://127.0.0.1:6379/0";
}

void cli_config_redis(hworker_config *cfg, const cli_redis *redis)
{
    cfg->redis_url = cli_redis_url(redis->url);
    /* hworker_create refuses both at once: the file, when given, wins. */
    cfg->password_file = redis->password_file;
    cfg->password = redis->password_file ? NULL : getenv("HWORKER_REDIS_PASSWORD");
}

/* Quiet: inspection commands print results, not engine chatter. */
static void quiet_log(void *ud, hworker_log_level level, const char *msg)
{
    (void)ud;
    if (level >= HWORKER_LOG_ERROR) fprintf(stderr, "hworker-lua: %s\n", msg);
}

hworker *cli_open(const char *cmd, const char *name, const cli_redis *redis, int *code)
{
    return cli_open_queue(cmd, name, redis, 1, 0, code);
}

hworker *cli_open_queue(const char *cmd, const char *name, const cli_redis *redis, int shards, int min_replicas,
                        int *code)
{
    hworker_config cfg;
    hworker_config_init(&cfg);
    cfg.shards = shards;
    cfg.min_replicas = min_replicas;
    cfg.name = name ? name : "hworker-lua";
    cli_config_redis(&cfg, redis);
    cfg.log = quiet_log;
    char err[512];
    hworker *h = hworker_create(&cfg, err, sizeof err);
    if (h == NULL) {
        cli_error(cmd, "%s", err);
        *code = CLI_USAGE;
        return NULL;
    }
    /* A --shards other than the queue's would show, requeue or destroy
     * other keys than its jobs'. Only compared: reading a queue records
     * nothing (enqueues and runners do). A Redis that cannot be read (-2)
     * is left for the command itself to report. */
    if (name && hworker_check_shards(h, 0, err, sizeof err) == HWORKER_E_SHARDS) {
        cli_error(cmd, "%s", err);
        hworker_free(h);
        *code = CLI_FAILED;
        return NULL;
    }
    return h;
}

void cli_json_string(FILE *out, const char *s, size_t len)
{
    hw_buf b = {0};
    hw_json_quote(&b, s, len);
    fwrite(b.data, 1, b.len, out);
    hw_buf_free(&b);
}

void cli_json_raw_or_string(FILE *out, const char *s, size_t len)
{
    if (s && hw_json_check(s, len, NULL, 0) == 0) {
        /* Keep it on one line: JSON white space outside strings may be a
         * newline, which would break JSON-lines output. */
        for (size_t i = 0; i < len; i++) fputc(s[i] == '\n' || s[i] == '\r' ? ' ' : s[i], out);
    } else {
        cli_json_string(out, s ? s : "", s ? len : 0);
    }
}

long long cli_parse_iso8601(const char *s)
{
    int y, mo, d, h, mi;
    double sec;
    int n = 0;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%lf%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6) return -1;
    const char *rest = s + n;
    long offset = 0;
    if (*rest == 'Z' && rest[1] == '\0') {
        offset = 0;
    } else if ((*rest == '+' || *rest == '-') && strlen(rest) == 6 && rest[3] == ':') {
        int oh, om;
        if (sscanf(rest + 1, "%2d:%2d", &oh, &om) != 2) return -1;
        offset = (oh * 60L + om) * 60L * (*rest == '-' ? -1 : 1);
    } else {
        return -1;
    }
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec < 0 || sec >= 61) return -1;
    struct tm tm = {0};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = 0;
    time_t t = timegm(&tm);
    return ((long long)t - offset) * 1000 + (long long)(sec * 1000.0 + 0.5);
}

const char *cli_iso8601(long long ms, char *out, size_t outlen)
{
    if (ms < 0) return "-";
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return out;
}

const char *cli_iso8601_ms(long long ms, char *out, size_t outlen)
{
    if (ms < 0) return "-";
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    char whole[32];
    strftime(whole, sizeof whole, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, outlen, "%s.%03lldZ", whole, ms % 1000);
    return out;
}

void cli_text_field(hw_buf *line, const char *key, const char *value)
{
    hw_buf_addf(line, " %s=", key);
    int plain = value[0] != '\0';
    for (const unsigned char *c = (const unsigned char *)value; *c && plain; c++)
        plain = *c > ' ' && *c != '=' && *c != '"' && *c != '\\' && *c != 0x7f;
    if (plain) {
        hw_buf_adds(line, value);
        return;
    }
    hw_buf_adds(line, "\"");
    for (const unsigned char *c = (const unsigned char *)value; *c; c++) {
        if (*c == '"' || *c == '\\') hw_buf_addf(line, "\\%c", *c);
        else if (*c == '\n') hw_buf_adds(line, "\\n");
        else if (*c < ' ' || *c == 0x7f) hw_buf_addf(line, "\\x%02x", *c);
        else hw_buf_add(line, (const char *)c, 1);
    }
    hw_buf_adds(line, "\"");
}

int cli_recorded_shards(hworker *h, const char *name)
{
    size_t n = strlen(name) + 16;
    char *key = malloc(n);
    if (key == NULL) abort();
    snprintf(key, n, "hw:{%s}:shards", name);
    const char *argv[2] = {"GET", key};
    char err[256];
    redisReply *r = hworker_command(h, 2, argv, NULL, err, sizeof err);
    free(key);
    int shards = r && r->type == REDIS_REPLY_STRING ? atoi(r->str) : 1;
    if (r) freeReplyObject(r);
    return shards > 0 ? shards : 1;
}

/* One integer reply of a command through h, or -1 when it cannot be read. */
static long long integer_reply(hworker *h, int argc, const char **argv)
{
    char err[256];
    redisReply *r = hworker_command(h, argc, argv, NULL, err, sizeof err);
    long long v = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    if (r) freeReplyObject(r);
    return v;
}

int cli_queue_known(hworker *h, const char *name)
{
    const char *member[3] = {"SISMEMBER", HW_QUEUES_KEY, name};
    long long registered = integer_reply(h, 3, member);
    if (registered != 0) return registered > 0 ? 1 : -1;
    /* A queue last used before the registry existed has its counters. */
    size_t n = strlen(name) + 16;
    char *key = malloc(n);
    if (key == NULL) abort();
    snprintf(key, n, "hw:{%s}:stats", name);
    const char *exists[2] = {"EXISTS", key};
    long long found = integer_reply(h, 2, exists);
    free(key);
    return found < 0 ? -1 : found > 0;
}
