/* libFuzzer target: the Redis URL parser, which reads user input (--redis,
 * config files, HWORKER_REDIS_URL). Checked properties: it never crashes,
 * a parsed target is complete (a host and port, or a socket path), an error
 * always has a message, and no message shows a password: neither an error
 * about the input nor the redacted rendering of a parsed target.
 * Build: cmake -DHWORKER_FUZZ=ON -DCMAKE_C_COMPILER=clang (tools/dev fuzz). */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "url.h"

#define CHECK(cond)                                   \
    do {                                              \
        if (!(cond)) {                                \
            fprintf(stderr, "fuzz_url: %s\n", #cond); \
            abort();                                  \
        }                                             \
    } while (0)

/* A password no other part of an input holds (inputs that hold CRET or
 * @pw are left out). Its ':', '/' and '@' are what a parser could take
 * for the end of the user info; a message that shows a part of it shows
 * CRET or @pw. */
static const char SECRET[] = "S3:CRET/@pw";
static int shows_secret(const char *msg) { return strstr(msg, "CRET") != NULL || strstr(msg, "@pw") != NULL; }

/* Where a human would see a password in text, found here independently
 * of url.c: after "scheme://" (or from the start), from the first ':' to
 * the last '@'. Returns its length (0: none) and its start in *start. */
static size_t password_span(const char *s, size_t *start)
{
    const char *from = s, *sep = strstr(s, "://");
    if (sep && sep > s && isalpha((unsigned char)s[0])) {
        int scheme = 1;
        for (const char *p = s; p < sep; p++)
            if (!isalnum((unsigned char)*p) && *p != '+' && *p != '-' && *p != '.') scheme = 0;
        if (scheme) from = sep + 3;
    }
    const char *at = strrchr(from, '@');
    const char *colon = at ? memchr(from, ':', (size_t)(at - from)) : NULL;
    if (colon == NULL) return 0;
    *start = (size_t)(colon + 1 - s);
    return (size_t)(at - colon - 1);
}

/* Parses url; checks what a parse always promises; returns the result
 * (0 or -1) with err filled. */
static int parse_checked(const char *url, hw_target *t, char *err, size_t errlen)
{
    err[0] = '\0';
    if (hw_target_parse(t, url, err, errlen) != 0) {
        CHECK(err[0] != '\0');
        for (const char *p = err; *p; p++) CHECK((unsigned char)*p >= 0x20 && *p != 0x7f);
        return -1;
    }
    CHECK((t->host != NULL && t->port > 0 && t->port < 65536) || (t->host == NULL && t->path != NULL));
    CHECK(t->db >= 0);
    CHECK(t->display != NULL);
    CHECK(t->password == NULL || t->password[0] != '\0');
    return 0;
}

/* libFuzzer's entry point, which no header declares. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *url = malloc(size + 1);
    CHECK(url != NULL);
    memcpy(url, data, size);
    url[size] = '\0';
    hw_target t;
    char err[512];
    if (parse_checked(url, &t, err, sizeof err) == 0) hw_target_free(&t);

    /* The same input with its password (if it has one a human would see)
     * replaced by SECRET: no message may show SECRET. Inputs with a NUL
     * (C sees less of them) are left out too. */
    size_t start = 0, len = password_span(url, &start);
    if (len >= 3 && strlen(url) == size && !shows_secret(url)) {
        size_t n = size - len + sizeof SECRET - 1;
        char *with = malloc(n + 1);
        CHECK(with != NULL);
        memcpy(with, url, start);
        memcpy(with + start, SECRET, sizeof SECRET - 1);
        memcpy(with + start + sizeof SECRET - 1, url + start + len, size - start - len);
        with[n] = '\0';
        char shown[1024];
        hw_url_redact(with, shown, sizeof shown);
        CHECK(!shows_secret(shown));
        if (parse_checked(with, &t, err, sizeof err) == 0) {
            CHECK(!shows_secret(t.display));
            /* The parser reads the same user info: the password is all of
             * SECRET (unless it sits in a unix:// path), never a host. */
            CHECK(t.path != NULL || (t.password != NULL && strcmp(t.password, SECRET) == 0));
            hw_target_free(&t);
        } else {
            CHECK(!shows_secret(err));
        }
        free(with);
    }
    free(url);
    return 0;
}
