/* hworker-lua: the runner and the operator's command line. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int main(int argc, char **argv)
{
    static const char *const commands[] = {"run",   "queue",   "jobs",    "inflight", "scheduled", "failed", "broken",
                                           "stats", "requeue", "delete",  "destroy",  "debug",     "check",  "options",
                                           "cron",  "pause",   "resume",  "limit",    "ps",        "queues", "metrics",
                                           "serve", "cancel",  "run-now", "events",   NULL};
    /* help COMMAND is COMMAND --help. */
    char help_flag[] = "--help";
    char *help_argv[] = {argv[0], NULL, help_flag, NULL};
    if (argc == 3 && strcmp(argv[1], "help") == 0) {
        help_argv[1] = argv[2];
        argv = help_argv;
    }
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        fputs(cli_help_main, argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0 || strcmp(argv[1], "version") == 0) {
        printf("hworker-lua %s\n", hworker_version());
        return CLI_OK;
    }
    const char *cmd = argv[1];
    char *help = cli_help_text(cmd);
    if (help == NULL) {
        const char *near = cli_nearest(cmd, commands);
        if (near) cli_error(NULL, "unknown command '%s' (did you mean '%s'?)", cmd, near);
        else cli_error(NULL, "unknown command '%s' (see hworker-lua --help)", cmd);
        return CLI_USAGE;
    }
    int wants_help = cli_wants_help(argc - 2, argv + 2);
    if (wants_help) fputs(help, stdout);
    free(help);
    if (wants_help) return CLI_OK;
    int n = argc - 2;
    char **args = argv + 2;
    if (strcmp(cmd, "run") == 0) return cmd_run(n, args);
    if (strcmp(cmd, "queue") == 0) return cmd_queue(n, args);
    if (strcmp(cmd, "stats") == 0) return cmd_stats(n, args);
    if (strcmp(cmd, "requeue") == 0) return cmd_requeue(n, args);
    if (strcmp(cmd, "delete") == 0) return cmd_delete(n, args);
    if (strcmp(cmd, "destroy") == 0) return cmd_destroy(n, args);
    if (strcmp(cmd, "debug") == 0) return cmd_debug(n, args);
    if (strcmp(cmd, "check") == 0) return cmd_check(n, args);
    if (strcmp(cmd, "options") == 0) return cmd_options(n, args);
    if (strcmp(cmd, "cron") == 0) return cmd_cron(n, args);
    if (strcmp(cmd, "pause") == 0) return cmd_pause(n, args);
    if (strcmp(cmd, "resume") == 0) return cmd_resume(n, args);
    if (strcmp(cmd, "limit") == 0) return cmd_limit(n, args);
    if (strcmp(cmd, "ps") == 0) return cmd_ps(n, args);
    if (strcmp(cmd, "queues") == 0) return cmd_queues(n, args);
    if (strcmp(cmd, "metrics") == 0) return cmd_metrics(n, args);
    if (strcmp(cmd, "serve") == 0) return cmd_serve(n, args);
    if (strcmp(cmd, "cancel") == 0) return cmd_cancel(n, args);
    if (strcmp(cmd, "run-now") == 0) return cmd_run_now(n, args);
    if (strcmp(cmd, "events") == 0) return cmd_events(n, args);
    return cmd_list(cmd, n, args);
}
