/* libFuzzer target: the Redis URL parser, which reads user input (--redis,
 * config files, HWORKER_REDIS_URL). Checked properties: it never crashes,
 * a parsed target is complete (a host and port, or a socket path), an error
 * always has a message, and the printable form never shows the password.
 * Build: cmake -DHWORKER_FUZZ=ON -DCMAKE_C_COMPILER=clang (tools/dev fuzz). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "url.h"

#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "fuzz_url: %s\n", #cond); abort(); } } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *url = malloc(size + 1);
    CHECK(url != NULL);
    memcpy(url, data, size);
    url[size] = '\0';
    hw_target t;
    char err[512] = "";
    if (hw_target_parse(&t, url, err, sizeof err) == 0) {
        CHECK((t.host != NULL && t.port > 0 && t.port < 65536) || (t.host == NULL && t.path != NULL));
        CHECK(t.db >= 0);
        /* describe must never print the password: give it one that cannot
         * occur in the rest, and look for it. */
        free(t.password);
        t.password = strdup("\x01password\x01"); /* the same text as `secret` below */
        CHECK(t.password != NULL);
        char desc[1024];
        hw_target_describe(&t, desc, sizeof desc);
        const char *secret = "\x01password\x01";
        CHECK(strstr(desc, secret) == NULL || (t.user && strstr(t.user, secret)) ||
              (t.host && strstr(t.host, secret)) || (t.path && strstr(t.path, secret)));
        hw_target_free(&t);
    } else {
        CHECK(err[0] != '\0');
    }
    free(url);
    return 0;
}
