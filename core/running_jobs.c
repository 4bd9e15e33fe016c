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
            if (s->claims == NULL) abort();
        }
        hw_buf key = {0};
        hw_buf_addf(&key, "%s|%s", r->claim, r->worker);
        s->claims[s->n++] = (hw_running_claim){key.data, key.len, r->started_at};
    }
    return 0;
}

static int compare(const char *a, size_t a_len, const char *b, size_t b_len)
{
    int c = memcmp(a, b, a_len < b_len ? a_len : b_len);
    return c ? c : (a_len > b_len) - (a_len < b_len);
}

static int by_key(const void *a, const void *b)
{
    const hw_running_claim *x = a, *y = b;
    return compare(x->key, x->len, y->key, y->len);
}

void hw_running_collect(hworker *h, hw_running_set *s)
{
    char err[256];
    memset(s, 0, sizeof *s);
    if (hworker_list_processes(h, NULL, add_process, s, err, sizeof err) != HWORKER_OK) {
        hw_running_free(s);
        memset(s, 0, sizeof *s);
    }
    if (s->n > 1) qsort(s->claims, s->n, sizeof *s->claims, by_key);
}

long long hw_running_started(const hw_running_set *s, const char *member, size_t len)
{
    /* The member begins with "claim|holder|": the key is up to the second bar. */
    const char *bar = memchr(member, '|', len);
    bar = bar ? memchr(bar + 1, '|', len - (size_t)(bar + 1 - member)) : NULL;
    if (bar == NULL) return -1;
    size_t key_len = (size_t)(bar - member);
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = compare(s->claims[mid].key, s->claims[mid].len, member, key_len);
        if (c == 0) return s->claims[mid].started_at;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return -1;
}

void hw_running_free(hw_running_set *s)
{
    for (size_t i = 0; i < s->n; i++) free(s->claims[i].key);
    free(s->claims);
}
