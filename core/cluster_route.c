#include "cluster_route.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conn_transport.h"

void hw_cluster_address(hw_conn *c, const char **host, int *port)
{
    *host = c->target->host;
    *port = c->target->port;
    if (c->target->cluster && c->node_host) {
        *host = c->node_host;
        *port = c->node_port;
    } else if (c->target->cluster) {
        const hw_node *seed = &c->target->seeds[c->next_seed++ % c->target->nseeds];
        *host = seed->host;
        *port = seed->port;
    }
}

void hw_cluster_connected(hw_conn *c, const char *host, int port)
{
    if (!c->target->cluster) return;
    free(c->cur_host);
    c->cur_host = strdup(host);
    if (c->cur_host == NULL) abort();
    c->cur_port = port;
}

void hw_cluster_unreachable(hw_conn *c)
{
    free(c->node_host);
    c->node_host = NULL;
    c->map_stale = 1;
}

int hw_cluster_read_map(hw_conn *c)
{
    if (!c->target->cluster || (c->map != NULL && !c->map_stale)) return 0;
    /* The slot map, read once (and again after a node was lost); MOVED
     * replies correct it slot by slot. A node that refuses is no error:
     * MOVED still leads the way. */
    static const char cluster_slots[] = "*2\r\n$7\r\nCLUSTER\r\n$5\r\nSLOTS\r\n";
    redisReply *slots = hw_link_exchange(c->link, cluster_slots, sizeof cluster_slots - 1);
    if (slots && slots->type == REDIS_REPLY_ARRAY) {
        hw_slot_map_free(c->map);
        c->map = hw_slot_map_new();
        hw_slot_map_load(c->map, slots);
        c->map_stale = 0;
    }
    if (slots) freeReplyObject(slots);
    return hw_link_failed(c->link) ? -1 : 0;
}

void hw_cluster_release(hw_conn *c)
{
    for (int i = 0; i < c->nparked; i++) {
        hw_link_close(c->parked[i].link);
        free(c->parked[i].host);
    }
    c->nparked = 0;
    free(c->cur_host);
    c->cur_host = NULL;
    hw_slot_map_free(c->map);
    c->map = NULL;
    free(c->node_host);
    c->node_host = NULL;
}

/* Keeps the live connection to the current node for later (the oldest
 * kept one goes if all places are taken). */
static void park(hw_conn *c)
{
    if (c->link == NULL || hw_link_failed(c->link) || c->cur_host == NULL) {
        hw_conn_close(c);
        return;
    }
    if (c->nparked == (int)(sizeof c->parked / sizeof *c->parked)) {
        hw_link_close(c->parked[0].link);
        free(c->parked[0].host);
        memmove(c->parked, c->parked + 1, sizeof *c->parked * (size_t)(c->nparked - 1));
        c->nparked--;
    }
    struct hw_parked *p = &c->parked[c->nparked++];
    p->host = c->cur_host;
    p->port = c->cur_port;
    p->link = c->link;
    p->client_id = atomic_load(&c->client_id);
    c->cur_host = NULL;
    c->link = NULL;
    atomic_store(&c->client_id, -1);
}

/* Takes back a kept connection to the node a MOVED named; 0 if none. */
static int unpark(hw_conn *c)
{
    for (int i = 0; i < c->nparked; i++) {
        struct hw_parked *p = &c->parked[i];
        if (p->port != c->node_port || strcmp(p->host, c->node_host) != 0) continue;
        c->link = p->link;
        c->cur_host = p->host;
        c->cur_port = p->port;
        atomic_store(&c->client_id, p->client_id);
        memmove(p, p + 1, sizeof *p * (size_t)(c->nparked - i - 1));
        c->nparked--;
        return 1;
    }
    return 0;
}

/* Points the connection at the node a redirection names
 * ("MOVED <slot> <host>:<port>" or "ASK ..."); a MOVED also corrects the
 * slot map. Returns -1 if the reply does not parse. */
static int note_redirect(hw_conn *c, const char *reply, int moved)
{
    const char *slot = strchr(reply, ' ');
    const char *addr = strrchr(reply, ' ');
    const char *colon = addr ? strrchr(addr, ':') : NULL;
    if (slot == NULL || addr == NULL || colon == NULL || colon == addr + 1) return -1;
    free(c->node_host);
    c->node_host = strndup(addr + 1, (size_t)(colon - addr - 1));
    if (c->node_host == NULL) abort();
    c->node_port = atoi(colon + 1);
    if (moved) {
        if (c->map == NULL) c->map = hw_slot_map_new();
        hw_slot_map_set(c->map, (unsigned)atoi(slot + 1), c->node_host, strlen(c->node_host), c->node_port);
    }
    return 0;
}

/* Makes the connection talk to node_host:node_port: a kept connection to it,
 * or a new one. Returns 0, or -1 (not connected; errstr says why). */
static int switch_node(hw_conn *c)
{
    park(c);
    if (unpark(c)) return 0;
    return hw_conn_open(c);
}

/* Before a command on `slot`: talk to the node the map says serves it. */
int hw_cluster_route(hw_conn *c, unsigned slot)
{
    int port;
    const char *host = hw_slot_map_get(c->map, slot, &port);
    if (host == NULL || (c->link && c->cur_host && port == c->cur_port && strcmp(host, c->cur_host) == 0)) return 0;
    free(c->node_host);
    c->node_host = strdup(host);
    if (c->node_host == NULL) abort();
    c->node_port = port;
    return switch_node(c);
}

/* Follows an ASK redirection for one command: on the target node, ASKING
 * and then the command; then back to the node that serves the slot.
 * Returns the target's reply, or NULL if it could not be asked (the caller
 * then waits for the move to finish instead). */
static redisReply *ask(hw_conn *c, const char *redirect, const char *cmd, size_t len)
{
    if (c->cur_host == NULL) return NULL;
    char *home = strdup(c->cur_host);
    if (home == NULL) abort();
    int home_port = c->cur_port;
    redisReply *answer = NULL;
    if (note_redirect(c, redirect, 0) == 0 && switch_node(c) == 0) {
        static const char asking[] = "*1\r\n$6\r\nASKING\r\n";
        redisReply *ok = hw_transport_send(c, asking, sizeof asking - 1);
        if (ok && ok->type == REDIS_REPLY_STATUS) answer = hw_transport_send(c, cmd, len);
        if (ok) freeReplyObject(ok);
    }
    free(c->node_host);
    c->node_host = home;
    c->node_port = home_port;
    /* If going back fails, the answer still stands: the next command
     * reconnects through the seeds. */
    (void)switch_node(c);
    return answer;
}

/* An error reply that means "not here, or not now" in a Redis Cluster. */
static int redirection(const char *err)
{
    return strncmp(err, "MOVED ", 6) == 0 || strncmp(err, "ASK ", 4) == 0 || strncmp(err, "TRYAGAIN", 8) == 0 ||
        strncmp(err, "CLUSTERDOWN", 11) == 0;
}

/* Sends a formatted command, following a Redis Cluster where it points.
 * MOVED: the slot lives on another node; correct the map, go there, send
 * again. ASK: follow it once (see ask()). TRYAGAIN (a slot half moved) and
 * CLUSTERDOWN (a failover), and an ASK that did not help: wait, since the
 * move or failover finishes on its own, and send again. Waits are bounded
 * by the connection's timeout; then the error reply is returned. */
redisReply *hw_cluster_exchange(hw_conn *c, const char *cmd, size_t len)
{
    double waited = 0, pause = 0.005, bound = c->timeout > 0 ? c->timeout : 30;
    int moved = 0, asked = 0;
    for (;;) {
        redisReply *r = hw_transport_send(c, cmd, len);
        if (r == NULL || !c->target->cluster || r->type != REDIS_REPLY_ERROR) return r;
        /* A few MOVED in a row are followed; more means the cluster is
         * changing under us: wait a moment, then follow again. */
        if (strncmp(r->str, "MOVED ", 6) == 0 && moved < 5 && note_redirect(c, r->str, 1) == 0) {
            moved++;
            freeReplyObject(r);
            if (switch_node(c) != 0) return NULL;
            continue;
        }
        if (strncmp(r->str, "ASK ", 4) == 0 && asked < 3) {
            /* The slot is moving and this key is already on the target:
             * ask there once (ASKING, then the command), then come back. A
             * script whose keys are not all on one side meets TRYAGAIN
             * there until the move completes: then only waiting helps. */
            asked++;
            redisReply *answer = ask(c, r->str, cmd, len);
            if (answer != NULL) {
                freeReplyObject(r);
                if (answer->type != REDIS_REPLY_ERROR || !redirection(answer->str)) return answer;
                r = answer;
            }
        }
        if (!redirection(r->str) || waited >= bound) return r;
        freeReplyObject(r);
        struct timespec ts = {0, (long)(pause * 1e9)};
        nanosleep(&ts, NULL);
        waited += pause;
        pause = pause * 2 < 0.2 ? pause * 2 : 0.2;
        moved = 0;
    }
}
