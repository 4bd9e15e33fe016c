/* core/url.h: parsing Redis URLs and rendering them without their
 * password. Every error must name the part at fault and the expected
 * forms, and no message or display form may show a password. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "url.h"

/* A password no other part of the URLs below holds. */
#define SECRET "s3cr3tPW"

static int all_zero(const hw_target *t)
{
    static const hw_target empty;
    return memcmp(t, &empty, sizeof empty) == 0;
}

/* Parses url, which must fail with a message holding want; checks what
 * every error promises: t empty, the expected forms named, one line, the
 * URL shown through hw_url_redact and no password. */
static void check_bad(const char *file, int line, const char *url, const char *want)
{
    hw_target t;
    char err[512];
    memset(&t, 0x5a, sizeof t);
    err[0] = '\0';
    int before = check_failed;
    CHECK(hw_target_parse(&t, url, err, sizeof err) == -1);
    CHECK(all_zero(&t));
    CHECK_HAS(err, want);
    CHECK_HAS(err, "bad Redis URL \"");
    CHECK_HAS(err, "expected redis://[user[:password]@]host[:port][/db], unix:///path[?db=N] or redis+cluster://");
    CHECK_HAS(err, "rediss://, rediss+cluster:// and rediss+sentinel:// for TLS");
    CHECK_LACKS(err, SECRET);
    char shown[256];
    hw_url_redact(url, shown, sizeof shown);
    CHECK_HAS(err, shown);
    int one_line = 1;
    for (const char *p = err; *p; p++) one_line &= (unsigned char)*p >= 0x20 && *p != 0x7f;
    CHECK(one_line);
    if (check_failed != before) fprintf(stderr, "  (for the URL \"%s\", checked at %s:%d)\n", url, file, line);
}
#define BAD(url, want) check_bad(__FILE__, __LINE__, url, want)

static void test_parse_redis(void)
{
    hw_target t;
    char err[512] = "";
    CHECK(hw_target_parse(&t, "redis://localhost", err, sizeof err) == 0);
    CHECK_STR(t.host, "localhost");
    CHECK(t.port == 6379 && t.db == 0 && t.cluster == 0);
    CHECK(t.path == NULL && t.user == NULL && t.password == NULL);
    CHECK(t.nseeds == 1 && strcmp(t.seeds[0].host, "localhost") == 0 && t.seeds[0].port == 6379);
    CHECK_STR(t.display, "redis://localhost");
    hw_target_free(&t);
    CHECK(all_zero(&t));
    hw_target_free(&t); /* an empty target: nothing to do */

    CHECK(hw_target_parse(&t, "redis://10.0.0.1:6380/3", err, sizeof err) == 0);
    CHECK_STR(t.host, "10.0.0.1");
    CHECK(t.port == 6380 && t.db == 3);
    hw_target_free(&t);

    CHECK(hw_target_parse(&t, "redis://h:65535/100000", err, sizeof err) == 0);
    CHECK(t.port == 65535 && t.db == 100000);
    hw_target_free(&t);

    CHECK(hw_target_parse(&t, "redis://h:1/", err, sizeof err) == 0);
    CHECK(t.port == 1 && t.db == 0);
    hw_target_free(&t);

    CHECK(hw_target_parse(&t, "redis://[::1]:6380/2", err, sizeof err) == 0);
    CHECK_STR(t.host, "::1");
    CHECK(t.port == 6380 && t.db == 2);
    hw_target_free(&t);

    CHECK(hw_target_parse(&t, "redis://[fe80::1:2]", err, sizeof err) == 0);
    CHECK_STR(t.host, "fe80::1:2");
    CHECK(t.port == 6379);
    hw_target_free(&t);
}

static void test_parse_user_info(void)
{
    hw_target t;
    char err[512] = "";
    CHECK(hw_target_parse(&t, "redis://alice:" SECRET "@h:7000/1", err, sizeof err) == 0);
    CHECK_STR(t.user, "alice");
    CHECK_STR(t.password, SECRET);
    CHECK_STR(t.host, "h");
    CHECK(t.port == 7000 && t.db == 1);
    CHECK_STR(t.display, "redis://alice:***@h:7000/1");
    hw_target_free(&t);

    CHECK(hw_target_parse(&t, "redis://:" SECRET "@h", err, sizeof err) == 0);
    CHECK(t.user == NULL);
    CHECK_STR(t.password, SECRET);
    CHECK_STR(t.display, "redis://:***@h");
    hw_target_free(&t);

    /* "user@host": an ACL user without a password. */
    CHECK(hw_target_parse(&t, "redis://alice@h", err, sizeof err) == 0);
    CHECK_STR(t.user, "alice");
    CHECK(t.password == NULL);
    CHECK_STR(t.display, "redis://alice@h");
    hw_target_free(&t);

    /* An empty password is none. */
    CHECK(hw_target_parse(&t, "redis://alice:@h", err, sizeof err) == 0);
    CHECK(t.password == NULL);
    hw_target_free(&t);

    /* The user info ends at the last '@': '@', ':' and '/' stay in the password. */
    CHECK(hw_target_parse(&t, "redis://u:p@ss/w:rd@h/4", err, sizeof err) == 0);
    CHECK_STR(t.user, "u");
    CHECK_STR(t.password, "p@ss/w:rd");
    CHECK_STR(t.host, "h");
    CHECK(t.db == 4);
    CHECK_STR(t.display, "redis://u:***@h/4");
    hw_target_free(&t);

    /* Percent-encoding in user and password. */
    CHECK(hw_target_parse(&t, "redis://us%65r:p%40%3as%2F@h", err, sizeof err) == 0);
    CHECK_STR(t.user, "user");
    CHECK_STR(t.password, "p@:s/");
    hw_target_free(&t);

    /* A one-byte password: "***" is longer than it, and still shown whole. */
    CHECK(hw_target_parse(&t, "redis://u:x@h", err, sizeof err) == 0);
    CHECK_STR(t.display, "redis://u:***@h");
    hw_target_free(&t);
}

static void test_parse_unix_and_cluster(void)
{
    hw_target t;
    char err[512] = "";
    CHECK(hw_target_parse(&t, "unix:///run/redis/redis.sock", err, sizeof err) == 0);
    CHECK_STR(t.path, "/run/redis/redis.sock");
    CHECK(t.host == NULL && t.db == 0 && t.nseeds == 0);
    CHECK_STR(t.display, "unix:///run/redis/redis.sock");
    hw_target_free(&t);

    CHECK(hw_target_parse(&t, "unix:///tmp/a%20b.sock?db=7", err, sizeof err) == 0);
    CHECK_STR(t.path, "/tmp/a b.sock");
    CHECK(t.db == 7);
    hw_target_free(&t);

    CHECK(hw_target_parse(&t, "redis+cluster://u:" SECRET "@a:7001,b,[::1]:7003/", err, sizeof err) == 0);
    CHECK(t.cluster == 1 && t.nseeds == 3 && t.db == 0);
    CHECK_STR(t.host, "a");
    CHECK(t.port == 7001);
    CHECK(strcmp(t.seeds[0].host, "a") == 0 && t.seeds[0].port == 7001);
    CHECK(strcmp(t.seeds[1].host, "b") == 0 && t.seeds[1].port == 6379);
    CHECK(strcmp(t.seeds[2].host, "::1") == 0 && t.seeds[2].port == 7003);
    CHECK_STR(t.password, SECRET);
    CHECK_STR(t.display, "redis+cluster://u:***@a:7001,b,[::1]:7003/");
    hw_target_free(&t);

    CHECK(hw_target_parse(&t, "redis+cluster://a/0", err, sizeof err) == 0);
    CHECK(t.cluster == 1 && t.nseeds == 1);
    hw_target_free(&t);
}

static void test_parse_sentinel(void)
{
    hw_target t;
    char err[512] = "";
    CHECK(hw_target_parse(&t, "redis+sentinel://u:" SECRET "@a:26380,b,[::1]:26381/mymaster/2", err, sizeof err) == 0);
    CHECK(t.sentinel == 1 && t.cluster == 0 && t.nseeds == 3 && t.db == 2);
    CHECK(strcmp(t.seeds[0].host, "a") == 0 && t.seeds[0].port == 26380);
    CHECK(strcmp(t.seeds[1].host, "b") == 0 && t.seeds[1].port == 26379);
    CHECK(strcmp(t.seeds[2].host, "::1") == 0 && t.seeds[2].port == 26381);
    CHECK_STR(t.master_name, "mymaster");
    CHECK_STR(t.user, "u");
    CHECK_STR(t.password, SECRET);
    CHECK(t.sentinel_password == NULL);
    CHECK_STR(t.display, "redis+sentinel://u:***@a:26380,b,[::1]:26381/mymaster/2");
    hw_target_free(&t);

    CHECK(hw_target_parse(&t, "redis+sentinel://s1/m?sentinel_password=" SECRET "%40x", err, sizeof err) == 0);
    CHECK(t.sentinel == 1 && t.nseeds == 1 && t.db == 0 && t.password == NULL);
    CHECK_STR(t.master_name, "m");
    CHECK_STR(t.sentinel_password, SECRET "@x");
    CHECK_STR(t.display, "redis+sentinel://s1/m?sentinel_password=***");
    hw_target_free(&t);

    CHECK(hw_target_parse(&t, "redis+sentinel://s1/m/", err, sizeof err) == 0);
    CHECK_STR(t.master_name, "m");
    CHECK(t.db == 0);
    hw_target_free(&t);

    BAD("redis+sentinel://s1", "no master name: redis+sentinel:// needs /MASTER after the sentinels");
    BAD("redis+sentinel://s1,s2/", "no master name");
    BAD("redis+sentinel://s1//0", "no master name");
    BAD("redis+sentinel://s1/m x", "the master name contains white space or a control character");
    BAD("redis+sentinel://s1/m/x", "bad database 'x'");
    BAD("redis+sentinel://s1/m?password=" SECRET, "\"redis+sentinel://s1/m?password=***\": the only query");
    BAD("redis+sentinel://s1/m?sentinel_password=", "sentinel_password is empty");
    BAD("redis+sentinel://s1/m?sentinel_password=a%00" SECRET, "sentinel_password holds %00");
    BAD("redis+sentinel://s1:x" SECRET "/m", "\"redis+sentinel://s1:***/m\": bad port:");
}

/* rediss://, rediss+cluster:// and rediss+sentinel://: the same authority as without the s,
 * then the TLS parameters. */
static void test_parse_tls(void)
{
    hw_target t;
    char err[512] = "";
    CHECK(hw_target_parse(&t, "rediss://u:" SECRET "?x@h:6380/2?cacert=/etc/ca%20s.pem&cert=c.pem&key=k.pem&sni=r.in",
                          err, sizeof err) == 0);
    CHECK(t.tls == 1 && t.cluster == 0 && t.port == 6380 && t.db == 2 && t.tls_insecure == 0);
    CHECK_STR(t.host, "h");
    CHECK_STR(t.password, SECRET "?x");
    CHECK_STR(t.tls_cacert, "/etc/ca s.pem");
    CHECK_STR(t.tls_cert, "c.pem");
    CHECK_STR(t.tls_key, "k.pem");
    CHECK_STR(t.tls_sni, "r.in");
    CHECK_LACKS(t.display, SECRET);
    hw_target_free(&t);

    CHECK(hw_target_parse(&t, "rediss+cluster://a:7001,b:7002?insecure", err, sizeof err) == 0);
    CHECK(t.tls == 1 && t.cluster == 1 && t.nseeds == 2 && t.tls_insecure == 1);
    CHECK(t.tls_cacert == NULL && t.tls_cert == NULL && t.tls_sni == NULL);
    hw_target_free(&t);

    CHECK(hw_target_parse(&t, "rediss://h", err, sizeof err) == 0);
    CHECK(t.tls == 1 && t.port == 6379 && t.db == 0 && t.tls_insecure == 0);
    hw_target_free(&t);

    CHECK(hw_target_parse(&t, "redis://h", err, sizeof err) == 0);
    CHECK(t.tls == 0);
    hw_target_free(&t);

    CHECK(hw_target_parse(&t,
                          "rediss+sentinel://u:" SECRET "@a:26380,b/mymaster/3?cacert=ca.pem&sentinel_password=" SECRET
                          "%26y&sni=r.in",
                          err, sizeof err) == 0);
    CHECK(t.tls == 1 && t.sentinel == 1 && t.cluster == 0 && t.nseeds == 2 && t.db == 3);
    CHECK(t.seeds[1].port == 26379);
    CHECK_STR(t.master_name, "mymaster");
    CHECK_STR(t.password, SECRET);
    CHECK_STR(t.sentinel_password, SECRET "&y");
    CHECK_STR(t.tls_cacert, "ca.pem");
    CHECK_STR(t.tls_sni, "r.in");
    CHECK_LACKS(t.display, SECRET);
    hw_target_free(&t);

    BAD("rediss://h?bogus=" SECRET, "unknown query parameter 'bogus': rediss:// takes cacert=FILE");
    BAD("rediss://h?cert=c.pem", "cert= and key= go together");
    BAD("rediss://h?key=k.pem", "cert= and key= go together");
    BAD("rediss://h?cacert=", "cacert needs a value");
    BAD("rediss://h?sni", "sni needs a value");
    BAD("rediss://h?cacert=a&cacert=b", "cacert given twice");
    BAD("rediss://h?insecure=2", "insecure takes no value (or 1 or 0)");
    BAD("rediss://h?cacert=a%00", "cacert holds %00 (a NUL byte)");
    BAD("rediss://h:x?cacert=a", "bad port:");
    BAD("rediss+sentinel://s1?cacert=a", "no master name: redis+sentinel:// needs /MASTER");
    BAD("rediss+sentinel://s1/m?sentinel_password=", "sentinel_password is empty");
    BAD("rediss+sentinel://s1/m?sentinel_password=a&sentinel_password=" SECRET, "sentinel_password given twice");
    BAD("rediss+sentinel://s1/m?bogus=1", "unknown query parameter 'bogus': rediss+sentinel:// takes cacert=FILE");
    /* Only a sentinel URL has sentinels to give a password to. */
    BAD("rediss://h?sentinel_password=" SECRET, "unknown query parameter 'sentinel_password': rediss:// takes");
}

static void test_parse_errors(void)
{
    BAD("", "unknown scheme");
    BAD("http://h", "unknown scheme");
    BAD("REDIS://h", "unknown scheme");
    BAD("localhost:6379", "unknown scheme");
    BAD("redis://", "no host");
    BAD("redis://:6380", "no host");
    BAD("redis://h%00", "the host holds %00 (a NUL byte)");
    BAD("redis://h%20x", "the host contains white space or a control character");
    BAD("redis://h x", "the host contains white space or a control character");
    BAD("redis://h:", "no port after ':'");
    BAD("redis://h:0", "bad port '0': the port must be a number from 1 to 65535");
    BAD("redis://h:65536", "bad port '65536': the port must be a number from 1 to 65535");
    BAD("redis://h:99999999999999999999", "bad port '99999999999999999999'");
    /* Without user info, a port that is no number may be a password whose
     * "@host" was forgotten: it is not shown, in the URL or the reason. */
    BAD("redis://h:6a",
        "\"redis://h:***\": bad port: the port must be a number from 1 to 65535 (what was there is not shown");
    BAD("redis://h:-1", "\"redis://h:***\": bad port:");
    BAD("redis://alice:" SECRET, "\"redis://alice:***\": bad port:");
    BAD("redis+cluster://h:7000,alice:" SECRET "/0", "\"redis+cluster://h:7000,alice:***/0\": bad port:");
    BAD("redis://h/x", "bad database 'x': the database must be a number from 0 to 100000");
    BAD("redis://h/100001", "bad database '100001'");
    BAD("redis://h/-1", "bad database '-1'");
    BAD("redis://h/1x", "bad database '1x'");
    /* A long bad part is quoted cut to 40 bytes. */
    BAD("redis://h/0123456789012345678901234567890123456789TAIL",
        "bad database '0123456789012345678901234567890123456789'");
    BAD("redis://a,b", "several hosts need redis+cluster://");
    BAD("redis+cluster://a,b/1", "a Redis Cluster has database 0 only");
    BAD("redis+cluster://a,", "no host");
    BAD("redis://::1", "an IPv6 address goes in brackets, e.g. redis://[::1]:6379");
    BAD("redis://[::1", "an IPv6 address needs its closing ']'");
    BAD("redis://[zz::1]", "bad IPv6 address '[zz::1]'");
    BAD("redis://[1]", "bad IPv6 address '[1]'");
    BAD("redis://[::1]x", "'x' after an IPv6 address: only ':port' may follow it");
    BAD("unix://", "the socket path must be absolute (a unix:// URL has no user or password part)");
    BAD("unix://run/r.sock", "the socket path must be absolute");
    BAD("unix:///r.sock?db=x", "the only query allowed is ?db=N, N a number from 0 to 100000");
    BAD("unix:///r.sock?password=x", "the only query allowed is ?db=N");
    BAD("unix:///a%00b", "the socket path holds %00 (a NUL byte)");
    BAD("redis://u:p%00w@h", "the user name or password holds %00 (a NUL byte), which cannot be sent");
    /* A control character in the URL does not break the message's line. */
    BAD("redis://h\n:1", "the host contains white space or a control character");
}

/* The same faults with a password in the URL: no message shows it. */
static void test_errors_hide_the_password(void)
{
    BAD("redis://u:" SECRET "@h:0", "bad port '0'");
    BAD("redis://u:" SECRET "@h/x", "bad database 'x'");
    BAD("redis://u:" SECRET "@", "no host");
    BAD("redis://u:" SECRET "@a,b", "several hosts need redis+cluster://");
    BAD("redis://u:" SECRET "@[::1", "closing ']'");
    BAD("redis://u:" SECRET "@h%00", "%00");
    BAD("redis://u:" SECRET "%00@h", "%00");
    BAD("redis://u:" SECRET "@h x", "white space");
    BAD("redis://u:pass@" SECRET "@h:x", "bad port 'x'"); /* the password holds an '@' */
    BAD("redis://u:a/" SECRET "@h:x", "bad port 'x'");    /* ... or a '/' */
    BAD("redis+cluster://u:" SECRET "@a/3", "database 0 only");
    BAD("http://u:" SECRET "@h", "unknown scheme");
    BAD("rediss://u:" SECRET "@h:x?cacert=a", "bad port 'x'");
    BAD("rediss://u:" SECRET "@h?cacert=a&" SECRET, "unknown query parameter");
    BAD("unix://u:" SECRET "@/p", "the socket path must be absolute");
    /* Without a scheme nothing of the text is shown. */
    BAD("u:" SECRET "@h", "bad Redis URL \"(not shown: no scheme://)\"");
    BAD(SECRET, "(not shown: no scheme://)");
}

static void test_err_buffer(void)
{
    hw_target t;
    char err[16];
    memset(err, '#', sizeof err);
    CHECK(hw_target_parse(&t, "redis://u:" SECRET "@h:0", err, sizeof err) == -1);
    CHECK_STR(err, "bad Redis URL \"");
}

#define REDACT(url, want)                      \
    do {                                       \
        char out_[256];                        \
        hw_url_redact(url, out_, sizeof out_); \
        CHECK_STR(out_, want);                 \
    } while (0)

static void test_redact(void)
{
    REDACT("redis://h:6379/1", "redis://h:6379/1");
    REDACT("redis://alice@h", "redis://alice@h");
    REDACT("redis://alice:" SECRET "@h:1/2", "redis://alice:***@h:1/2");
    REDACT("redis://:" SECRET "@h", "redis://:***@h");
    REDACT("redis://u:a@b:c/d@h", "redis://u:***@h");
    REDACT("redis://u:a://b@h", "redis://u:***@h");
    REDACT("redis+cluster://u:" SECRET "@a,b", "redis+cluster://u:***@a,b");
    REDACT("x-y.z+w://u:" SECRET "@h", "x-y.z+w://u:***@h"); /* any scheme, even one the parser refuses */
    REDACT("unix:///p?db=2", "unix:///p?db=2");
    REDACT("unix:///p?db=2&password=" SECRET "&token=t&flag", "unix:///p?db=2&password=***&token=***&***");
    REDACT("rediss://h?insecure&" SECRET, "rediss://h?insecure&***");
    REDACT("redis://u:" SECRET "@h?x=" SECRET, "redis://u:***@h?x=***");
    REDACT("redis://h\n\x1b[2J\x7f", "redis://h??[2J?");
    /* Not a scheme: nothing shown, whatever follows. */
    REDACT("u:" SECRET "@h", "(not shown: no scheme://)");
    REDACT("1redis://u:" SECRET "@h", "(not shown: no scheme://)");
    REDACT("://u:" SECRET "@h", "(not shown: no scheme://)");
    REDACT("", "(not shown: no scheme://)");

    /* The output is cut to outlen bytes, terminated; outlen 0 writes nothing. */
    char out[8];
    memset(out, '#', sizeof out);
    hw_url_redact("redis://u:" SECRET "@h", out, 0);
    CHECK(out[0] == '#');
    hw_url_redact("redis://u:" SECRET "@h", out, 1);
    CHECK_STR(out, "");
    hw_url_redact("redis://u:" SECRET "@h", out, 5);
    CHECK_STR(out, "redi");
    char exact[16]; /* "redis://u:***@h" is 15 bytes */
    hw_url_redact("redis://u:" SECRET "@h", exact, sizeof exact);
    CHECK_STR(exact, "redis://u:***@h");
    /* Cut inside the stars: still no password byte. */
    for (size_t n = 1; n <= 16; n++) {
        char cut[16];
        hw_url_redact("redis://u:" SECRET "@h", cut, n);
        CHECK(strlen(cut) == n - 1);
        CHECK_LACKS(cut, "s3");
    }
}

int main(void)
{
    test_parse_redis();
    test_parse_user_info();
    test_parse_unix_and_cluster();
    test_parse_sentinel();
    test_parse_tls();
    test_parse_errors();
    test_errors_hide_the_password();
    test_err_buffer();
    test_redact();
    return check_report("test_url");
}
