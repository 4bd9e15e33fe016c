/* The web dashboard of hworker-lua serve (docs/operations.md, "Dashboard"):
 * its pages are static files compiled in (bindings/cli/dashboard/, embedded
 * by cmake/embed_assets.cmake); they read /api/ JSON and post actions.
 * Everything runs on the HTTP daemon's one thread, the only user of the
 * registry handle. */
#ifndef HW_CLI_DASHBOARD_H
#define HW_CLI_DASHBOARD_H

#include <stddef.h>

#include "buf.h"
#include "cli.h"

/* One compiled-in file. */
typedef struct cli_asset {
    const char *path; /* "/", "/app.js", ... */
    const char *type; /* its Content-Type */
    const unsigned char *data;
    size_t len;
} cli_asset;

/* The compiled-in files, ending with a NULL path (generated). */
extern const cli_asset cli_assets[];

/* What the dashboard's handlers share. `token` is NULL when actions are
 * off (no token given, or --read-only); it is never printed. */
typedef struct cli_dashboard {
    hworker *registry;
    const cli_redis *redis;
    const char *token;
} cli_dashboard;

/* A reply under construction: its HTTP status and JSON body. */
typedef struct cli_reply {
    unsigned int status;
    hw_buf body;
} cli_reply;

/* GET /api/...: `path` is after "/api/", `arg` looks up a query argument
 * (NULL when absent). Fills r with JSON (an error is {"error": "..."} that
 * says what to fix). */
typedef const char *(*cli_arg_fn)(void *ud, const char *key);
void cli_dashboard_get(const cli_dashboard *d, const char *path, cli_arg_fn arg, void *ud, cli_reply *r);

/* POST /api/action with its JSON body, once the caller checked the token
 * and the request's origin. */
void cli_dashboard_act(const cli_dashboard *d, const char *body, size_t len, cli_reply *r);

/* Sets r to status and {"error": message}. */
void cli_reply_error(cli_reply *r, unsigned int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Opens a handle on queue `name` with the shard count Redis records for it;
 * NULL with r set to the error. */
hworker *cli_dashboard_queue(const cli_dashboard *d, const char *name, cli_reply *r);

#endif
