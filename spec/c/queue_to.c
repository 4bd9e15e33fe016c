/* For spec/names_spec.lua: hworker_enqueue() with opts.queue (a path only
 * the C API reaches) sends COUNT jobs {"n":i} from a handle of queue FROM to
 * queue TO, one call each, and prints each id on a line, or the error on
 * stderr.
 * usage: queue_to REDIS_URL FROM TO COUNT */
#include <stdio.h>
#include <stdlib.h>

#include "hworker.h"

int main(int argc, char **argv)
{
    if (argc != 5) return 2;
    hworker_config cfg;
    hworker_config_init(&cfg);
    cfg.redis_url = argv[1];
    cfg.name = argv[2];
    cfg.log_level = HWORKER_LOG_ERROR;
    char err[512];
    hworker *h = hworker_create(&cfg, err, sizeof err);
    if (h == NULL) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    int rc = 0;
    for (int i = 0; i < atoi(argv[4]) && rc == 0; i++) {
        char json[32], id[HWORKER_ID_SIZE];
        int len = snprintf(json, sizeof json, "{\"n\":%d}", i);
        hworker_job job = {json, (size_t)len, NULL};
        hworker_enqueue_opts opts = HWORKER_ENQUEUE_OPTS_INIT;
        opts.queue = argv[3];
        rc = hworker_enqueue(h, &job, 1, &opts, id, err, sizeof err);
        if (rc == 0) printf("%s\n", id);
        else fprintf(stderr, "%s\n", err);
    }
    hworker_free(h);
    return rc ? 1 : 0;
}
