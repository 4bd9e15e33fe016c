/* For spec/shards_spec.lua: hworker_enqueue() of one batch whose unique keys
 * fall in several shards (a path only the C API reaches). Enqueues the batch
 * twice on queue NAME with SHARDS shards and prints the ids of each round,
 * one per line, with a blank line between the rounds.
 * usage: enqueue_shards REDIS_URL NAME SHARDS COUNT */
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
    cfg.shards = atoi(argv[3]);
    cfg.log_level = HWORKER_LOG_ERROR;
    size_t n = (size_t)atoi(argv[4]);
    char err[512];
    hworker *h = hworker_create(&cfg, err, sizeof err);
    if (h == NULL) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    hworker_job *jobs = calloc(n, sizeof *jobs);
    char(*json)[32] = calloc(n, 32), (*keys)[32] = calloc(n, 32);
    char *ids = calloc(n, HWORKER_ID_SIZE);
    if (!jobs || !json || !keys || !ids) return 1;
    for (size_t i = 0; i < n; i++) {
        jobs[i].len = (size_t)snprintf(json[i], sizeof json[i], "{\"n\":%zu}", i);
        jobs[i].json = json[i];
        snprintf(keys[i], sizeof keys[i], "key%zu", i);
        jobs[i].unique = keys[i];
    }
    for (int round = 0; round < 2; round++) {
        if (hworker_enqueue(h, jobs, n, NULL, ids, err, sizeof err) != 0) {
            fprintf(stderr, "%s\n", err);
            return 1;
        }
        for (size_t i = 0; i < n; i++) printf("%s\n", ids + i * HWORKER_ID_SIZE);
        if (round == 0) printf("\n");
    }
    free(jobs);
    free(json);
    free(keys);
    free(ids);
    hworker_free(h);
    return 0;
}
