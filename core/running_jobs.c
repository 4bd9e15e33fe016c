/* Running claims from the process registry, matched to in-flight members. */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "running_jobs.h"

/* The most running claims one listing matches against: a registry of
 * hand-written entries cannot make it allocate without bound, and a real
 * one has far fewer busy workers. */
#define HW_RUNNING_SET_MAX 65536

static int add_process(void *ud, const hworker_process_info *p)
{
    hw_running_set *s = ud;
    for (size_t i = 0; i < p->nrunning && s->n < HW_RUNNING_SET_MAX; i++) {
        const hworker_running_job *r = &p->running[i];
        if (s->n == s->cap) {
            s->cap = s->cap ? s->cap * 2 : 16;
            s->claims = realloc(s->claims, s->cap * sizeof *s->claims);
            s->started_at = realloc(s->started_at, s->cap * sizeof *s->started_at);
            if (s->claims == NULL || s->started_at == NULL) abort();
        }
        hw_buf key = {0};
        hw_buf_addf(&key, "%s|%s", r->claim, r->worker);
        s->claims[s->n] = key.data;
        s->started_at[s->n] = r->started_at;
        s->n++;
    }
    return 0;
}

void hw_running_collect(hworker *h, hw_running_set *s)
{
    char err[256];
    memset(s, 0, sizeof *s);
    if (hworker_list_processes(h, NULL, add_process, s, err, sizeof err) != HWORKER_OK) {
        hw_running_free(s);
        memset(s, 0, sizeof *s);
    }
}

long long hw_running_started(const hw_running_set *s, const char *member, size_t len)
{
    /* The member begins with "claim|holder|": the same two as a key. */
    for (size_t i = 0; i < s->n; i++) {
        size_t n = strlen(s->claims[i]);
        if (n < len && member[n] == '|' && memcmp(member, s->claims[i], n) == 0) return s->started_at[i];
    }
    return -1;
}

void hw_running_free(hw_running_set *s)
{
    for (size_t i = 0; i < s->n; i++) free(s->claims[i]);
    free(s->claims);
    free(s->started_at);
}
