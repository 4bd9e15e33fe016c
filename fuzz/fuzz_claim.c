/* libFuzzer target: what a worker does with bytes it claimed from Redis.
 * The input is an inflight member ("token|holder|envelope"), as anyone with
 * write access to Redis could leave it. Checked properties:
 *  - parsing never crashes, and a parsed claim's parts lie inside its copy;
 *  - the listing parser (hw_envelope_parse) agrees on whether it is broken;
 *  - a job the engine's JSON check accepts decodes and runs in the sandbox
 *    (the check and cjson agree), and one it refuses is never run;
 *  - hw_json_quote of any bytes is valid JSON (listings show any payload).
 * Build: cmake -DHWORKER_FUZZ=ON -DCMAKE_C_COMPILER=clang (tools/dev fuzz). */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "claims.h"
#include "json.h"
#include "sandbox.h"

#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "fuzz_claim: %s\n", #cond); abort(); } } while (0)

static void quiet(void *ud, hworker_log_level level, const char *msg) { (void)ud; (void)level; (void)msg; }

/* The target's one sandbox lives for the whole run (libFuzzer calls the
 * target from one thread). */
static hw_sandbox *sandbox(void)
{
    static hw_sandbox sb;
    static hw_logger log = {quiet, NULL, HWORKER_LOG_ERROR, "fuzz"};
    static atomic_int abort_flag;
    static hw_sandbox_env env;
    static int opened;
    if (opened) return &sb;
    char path[] = "/tmp/hworker-fuzz-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    const char *code = "function job(state, t) return end\n";
    CHECK(write(fd, code, strlen(code)) == (ssize_t)strlen(code));
    close(fd);
    env = (hw_sandbox_env){.job_file = path, .init_config = "{}", .memory_limit = (size_t)64 << 20,
                           .job_timeout = 10, .log = &log, .abort = &abort_flag};
    char err[512];
    if (hw_sandbox_open(&sb, &env, NULL, NULL, err, sizeof err) != 0) {
        fprintf(stderr, "fuzz_claim: %s\n", err);
        abort();
    }
    unlink(path);
    opened = 1;
    return &sb;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hw_claim *c = hw_claim_new((const char *)data, size);
    CHECK(c->len == size && memcmp(c->data, data, size) == 0);
    CHECK(memchr(c->id, '\0', sizeof c->id) != NULL);
    if (c->broken == NULL) {
        CHECK(c->envelope >= c->data && c->envelope + c->envelope_len <= c->data + c->len);
        CHECK(c->job >= c->envelope && c->job + c->job_len <= c->envelope + c->envelope_len);
        hw_envelope e = {0};
        hw_envelope_parse(&e, c->envelope, c->envelope_len);
        CHECK(e.broken == NULL);
        hw_envelope_free(&e);

        char why[200];
        if (hw_json_check(c->job, c->job_len, why, sizeof why) == 0) {
            hw_job_meta meta = {c->id, c->attempt, c->recoveries, c->enqueued_at};
            hw_result res;
            memset(&res, 0, sizeof res);
            hw_sandbox *sb = sandbox();
            hw_sandbox_run(sb, c->job, c->job_len, &meta, NULL, &res);
            if (res.kind != HW_RESULT_SUCCESS) {
                fprintf(stderr, "fuzz_claim: a job the JSON check accepts did not run: %s\n",
                        res.message.data ? res.message.data : "(no message)");
                abort();
            }
            hw_buf_free(&res.message);
            if (hw_sandbox_exhausted(sb)) abort();
        }
    }
    hw_claim_free(c);

    hw_buf q = {0};
    hw_json_quote(&q, (const char *)data, size);
    char why[200];
    CHECK(hw_json_check(q.data, q.len, why, sizeof why) == 0);
    hw_buf_free(&q);
    return 0;
}
