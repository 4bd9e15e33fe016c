#include "server_facts.h"

#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "server_version.h"

static void config_value(hworker *h, const char *name, char *out, size_t outlen)
{
    const char *argv[3] = {"CONFIG", "GET", name};
    char ignored[256]; /* refused or not, the value is then unknown */
    redisReply *r = hw_producer_command(h, 3, argv, NULL, "CONFIG GET", ignored, sizeof ignored);
    out[0] = '\0';
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[1]->str)
        snprintf(out, outlen, "%s", r->element[1]->str);
    if (r) freeReplyObject(r);
}

/* Copies the value of `field` in an INFO reply's text into out (at most
 * outlen bytes, NUL-terminated). Returns 0, or -1 (out is "") if absent. */
static int info_field(const char *info, const char *field, char *out, size_t outlen)
{
    size_t n = strlen(field);
    out[0] = '\0';
    for (const char *p = info; p && *p;) {
        if (strncmp(p, field, n) == 0 && p[n] == ':') {
            size_t len = strcspn(p + n + 1, "\r\n");
            snprintf(out, outlen, "%.*s", (int)len, p + n + 1);
            return 0;
        }
        p = strchr(p, '\n');
        if (p) p++;
    }
    return -1;
}

static int info_value(hworker *h, const char *section, const char *field, char *out, size_t outlen, char *err,
                      size_t errlen)
{
    const char *argv[2] = {"INFO", section};
    redisReply *r = hw_producer_command(h, 2, argv, NULL, "INFO", err, errlen);
    out[0] = '\0';
    if (r == NULL) return -1;
    int ok = r->type == REDIS_REPLY_STRING;
    if (ok) info_field(r->str, field, out, outlen);
    else snprintf(err, errlen, "INFO %s: %s", section, r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
    freeReplyObject(r);
    return ok ? 0 : -1;
}

int hw_server_facts_read(hworker *h, hw_server_facts *f, char *err, size_t errlen)
{
    memset(f, 0, sizeof *f);
    if (info_value(h, "server", "redis_version", f->version, sizeof f->version, err, errlen)) return -1;
    char ignored[256];
    info_value(h, "replication", "role", f->role, sizeof f->role, ignored, sizeof ignored);
    config_value(h, "appendonly", f->appendonly, sizeof f->appendonly);
    config_value(h, "appendfsync", f->appendfsync, sizeof f->appendfsync);
    config_value(h, "maxmemory-policy", f->maxmemory_policy, sizeof f->maxmemory_policy);
    config_value(h, "maxmemory", f->maxmemory, sizeof f->maxmemory);
    return 0;
}

/* One CONFIG setting against the value at-least-once needs: unknown (""),
 * a risk (1 returned; `fix` says what to set) or fine. */
static int judge_setting(hw_finding_fn fn, void *ud, const char *name, const char *value, const char *wanted,
                         const char *otherwise, const char *fix)
{
    char text[256];
    if (!value[0]) {
        snprintf(text, sizeof text, "%s is unknown (CONFIG GET refused): make sure it is %s, or %s", name, wanted,
                 otherwise);
        fn(ud, HW_FINDING_UNKNOWN, text);
        return 0;
    }
    if (strcmp(value, wanted) == 0) return 0;
    snprintf(text, sizeof text, "Redis has %s %s: %s (%s)", name, value, otherwise, fix);
    fn(ud, HW_FINDING_RISK, text);
    return 1;
}

int hw_server_findings(const hw_server_facts *f, hw_finding_fn fn, void *ud)
{
    char text[256];
    int bad = 0;
    if (f->version[0] && hw_redis_too_old(f->version)) {
        snprintf(text, sizeof text, "Redis %s is too old: hworker needs Redis 6.2 or later (BLMOVE, RPOP with a count)",
                 f->version);
        fn(ud, HW_FINDING_ERROR, text);
        bad++;
    }
    bad += judge_setting(fn, ud, "appendonly", f->appendonly, "yes", "acknowledged jobs can be lost if Redis restarts",
                         "set appendonly yes");
    bad += judge_setting(fn, ud, "maxmemory-policy", f->maxmemory_policy, "noeviction",
                         "it may evict queue keys under memory pressure", "set noeviction");
    if (f->role[0] && strcmp(f->role, "master") != 0) {
        snprintf(text, sizeof text, "Redis at this address is a %s: point hworker at the primary", f->role);
        fn(ud, HW_FINDING_RISK, text);
        bad++;
    }
    return bad;
}

typedef struct startup_check {
    hworker *h;
    char *err;
    size_t errlen;
    int failed;
} startup_check;

static void log_finding(void *ud, hw_finding_kind kind, const char *text)
{
    startup_check *c = ud;
    if (kind == HW_FINDING_ERROR) {
        if (!c->failed) snprintf(c->err, c->errlen, "%s", text);
        c->failed = 1;
    } else if (kind == HW_FINDING_RISK) {
        hw_log(&c->h->log, HWORKER_LOG_WARN, "%s", text);
    }
    /* Unknown settings are left unsaid at start-up: managed services that
     * hide CONFIG would warn on every start; `hworker-lua check` says it. */
}

int hw_check_server(hworker *h, char *err, size_t errlen)
{
    hw_server_facts f;
    char why[512];
    if (hw_server_facts_read(h, &f, why, sizeof why)) {
        /* Not fatal: workers wait for Redis with back-off. */
        hw_log(&h->log, HWORKER_LOG_WARN, "%s; workers will keep trying", why);
        return 0;
    }
    startup_check c = {h, err, errlen, 0};
    hw_server_findings(&f, log_finding, &c);
    return c.failed ? -1 : 0;
}
