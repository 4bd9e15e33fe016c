#include "sentinel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn_transport.h"
#include "link.h"

static int sentinel_target(const hw_conn *c) { return c->target->sentinel && c->connect == NULL; }

/* "host:port", an IPv6 address in brackets. */
static void show_address(char *out, size_t outlen, const char *host, int port)
{
    int v6 = strchr(host, ':') != NULL;
    snprintf(out, outlen, "%s%s%s:%d", v6 ? "[" : "", host, v6 ? "]" : "", port);
}

/* Asks one sentinel for the master's address. Returns 0 with the address
 * kept in c, or -1 with why into why. */
static int ask_sentinel(hw_conn *c, const hw_node *s, char *why, size_t whylen)
{
    const hw_target *t = c->target;
    hw_link *link = hw_transport_connect(c, s->host, s->port, why, whylen);
    if (link == NULL) return -1;
    int rc = -1;
    redisReply *r = NULL;
    if (t->sentinel_password) {
        const char *argv[2] = {"AUTH", t->sentinel_password};
        r = hw_link_command(link, 2, argv, NULL);
        if (r == NULL || r->type == REDIS_REPLY_ERROR) {
            snprintf(why, whylen, "refused sentinel_password: %s", r ? r->str : hw_link_error(link));
            goto done;
        }
        freeReplyObject(r);
    }
    const char *argv[3] = {"SENTINEL", "get-master-addr-by-name", t->master_name};
    r = hw_link_command(link, 3, argv, NULL);
    if (r == NULL) {
        snprintf(why, whylen, "%s", hw_link_error(link));
    } else if (r->type == REDIS_REPLY_ERROR) {
        snprintf(why, whylen, "%s", r->str);
    } else if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[0]->type == REDIS_REPLY_STRING &&
               r->element[1]->type == REDIS_REPLY_STRING && atoi(r->element[1]->str) > 0) {
        free(c->master_host);
        c->master_host = strdup(r->element[0]->str);
        if (c->master_host == NULL) abort();
        c->master_port = atoi(r->element[1]->str);
        rc = 0;
    } else if (r->type == REDIS_REPLY_NIL) {
        snprintf(why, whylen, "does not know a master named '%s'", t->master_name);
    } else {
        snprintf(why, whylen, "unexpected reply type %d", r->type);
    }
done:
    if (r) freeReplyObject(r);
    hw_link_close(link);
    return rc;
}

int hw_sentinel_address(hw_conn *c, const char **host, int *port)
{
    if (!sentinel_target(c)) return 0;
    const hw_target *t = c->target;
    char asked[400] = "";
    size_t used = 0;
    for (int i = 0; i < t->nseeds; i++) {
        int k = (c->next_seed + i) % t->nseeds;
        char why[200], where[120];
        if (ask_sentinel(c, &t->seeds[k], why, sizeof why) == 0) {
            c->next_seed = k; /* ask the one that answered first next time */
            *host = c->master_host;
            *port = c->master_port;
            return 0;
        }
        show_address(where, sizeof where, t->seeds[k].host, t->seeds[k].port);
        if (used < sizeof asked) {
            int n = snprintf(asked + used, sizeof asked - used, "%s%s: %s", i ? "; " : "", where, why);
            if (n > 0) used += (size_t)n;
        }
    }
    snprintf(c->errstr, sizeof c->errstr,
             "no sentinel gave the address of master '%s' (asked %d: %s); check the master name and that the "
             "sentinels monitor it (SENTINEL MASTERS)",
             t->master_name, t->nseeds, asked);
    return -1;
}

int hw_sentinel_verify(hw_conn *c)
{
    if (!sentinel_target(c)) return 0;
    const char *argv[1] = {"ROLE"};
    redisReply *r = hw_link_command(c->link, 1, argv, NULL);
    if (r == NULL || r->type == REDIS_REPLY_ERROR) {
        hw_conn_set_error(c, "asking ROLE of the master the sentinels named", r);
        if (r) freeReplyObject(r);
        return -1;
    }
    const char *role = r->type == REDIS_REPLY_ARRAY && r->elements > 0 && r->element[0]->type == REDIS_REPLY_STRING
        ? r->element[0]->str
        : "(no role)";
    int ok = strcmp(role, "master") == 0;
    if (!ok) {
        char where[120];
        show_address(where, sizeof where, c->master_host, c->master_port);
        snprintf(c->errstr, sizeof c->errstr,
                 "%s, named by the sentinels as master '%s', says its role is %s: a failover is under way; asking "
                 "the sentinels again",
                 where, c->target->master_name, role);
    }
    freeReplyObject(r);
    return ok ? 0 : -1;
}

redisReply *hw_sentinel_screen(hw_conn *c, redisReply *r)
{
    if (r == NULL || !sentinel_target(c) || r->type != REDIS_REPLY_ERROR || strncmp(r->str, "READONLY", 8) != 0)
        return r;
    char where[120];
    show_address(where, sizeof where, c->master_host ? c->master_host : "?", c->master_port);
    snprintf(c->errstr, sizeof c->errstr,
             "Redis connection lost: %s is a replica now (READONLY), no longer master '%s'; the next connect asks "
             "the sentinels",
             where, c->target->master_name);
    freeReplyObject(r);
    hw_conn_close(c);
    return NULL;
}

void hw_sentinel_release(hw_conn *c)
{
    free(c->master_host);
    c->master_host = NULL;
}
