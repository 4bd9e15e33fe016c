/* hworker-lua metrics: the Prometheus text of every registered queue
 * (metrics_text.c), printed once; serve (cmd_serve.c) serves the same text
 * at /metrics (docs/operations.md, "Metrics"). */
#include <stdio.h>

#include "buf.h"
#include "cli.h"

int cmd_metrics(int argc, char **argv)
{
    cli_redis redis = {0};
    int npos, code = CLI_OK;
    cli_opt opts[] = {CLI_REDIS_FLAGS(redis), {NULL, 0, NULL, 0}};
    if (cli_parse("metrics", argc, argv, opts, NULL, 0, &npos)) return CLI_USAGE;
    hworker *h = cli_open("metrics", NULL, &redis, &code);
    if (h == NULL) return code;
    hw_buf text = {0};
    int failed = cli_metrics_text(&text, h, &redis);
    fwrite(text.data, 1, text.len, stdout);
    hw_buf_free(&text);
    hworker_free(h);
    return failed ? CLI_FAILED : CLI_OK;
}
