/* hworker-lua options: the settings table of core/options.c, for people
 * (Markdown, as in docs/configuration.md) and for scripts (JSON lines). */
#include <stdio.h>

#include "buf.h"
#include "cli.h"
#include "options.h"

int cmd_options(int argc, char **argv)
{
    int json = 0;
    cli_opt opts[] = {{"json", OPT_FLAG, &json, 0}, {NULL, 0, NULL, 0}};
    const char *pos[1];
    int npos;
    if (cli_parse("options", argc, argv, opts, pos, 0, &npos)) return CLI_USAGE;
    hw_buf out = {0};
    if (json) hw_options_table_json(&out);
    else hw_options_table_markdown(&out);
    fputs(out.data, stdout);
    hw_buf_free(&out);
    return CLI_OK;
}
