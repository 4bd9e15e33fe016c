#include "slots.h"

#include <stdlib.h>
#include <string.h>

/* CRC16-CCITT (XMODEM: polynomial 0x1021, initial 0), the one Redis
 * Cluster uses, computed bit by bit: keys are short and a table would be
 * 512 bytes of constants for no measurable gain. */
static uint16_t crc16(const char *buf, size_t len)
{
    uint16_t crc = 0;
    for (size_t i = 0; i < len; i++) {
        crc ^= (uint16_t)((uint8_t)buf[i] << 8);
        for (int b = 0; b < 8; b++) crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
    }
    return crc;
}

unsigned hw_key_slot(const char *key, size_t len)
{
    const char *open = memchr(key, '{', len);
    if (open) {
        const char *close = memchr(open + 1, '}', len - (size_t)(open + 1 - key));
        if (close && close > open + 1) return crc16(open + 1, (size_t)(close - open - 1)) & (HW_SLOTS - 1);
    }
    return crc16(key, len) & (HW_SLOTS - 1);
}

hw_slot_map *hw_slot_map_new(void)
{
    hw_slot_map *m = calloc(1, sizeof *m);
    if (m == NULL) abort();
    return m;
}

void hw_slot_map_free(hw_slot_map *m)
{
    if (m == NULL) return;
    for (int i = 0; i < m->nnodes; i++) free(m->nodes[i].host);
    free(m);
}

/* The index + 1 of host:port, added if new; 0 if the table is full. */
static int node_index(hw_slot_map *m, const char *host, size_t hostlen, int port)
{
    for (int i = 0; i < m->nnodes; i++)
        if (m->nodes[i].port == port && strlen(m->nodes[i].host) == hostlen &&
            memcmp(m->nodes[i].host, host, hostlen) == 0)
            return i + 1;
    if (m->nnodes == (int)(sizeof m->nodes / sizeof *m->nodes)) return 0;
    char *copy = strndup(host, hostlen);
    if (copy == NULL) abort();
    m->nodes[m->nnodes].host = copy;
    m->nodes[m->nnodes].port = port;
    return ++m->nnodes;
}

void hw_slot_map_set(hw_slot_map *m, unsigned slot, const char *host, size_t hostlen, int port)
{
    if (slot < HW_SLOTS) m->node[slot] = (uint8_t)node_index(m, host, hostlen, port);
}

int hw_slot_map_load(hw_slot_map *m, const redisReply *slots)
{
    if (slots == NULL || slots->type != REDIS_REPLY_ARRAY) return 0;
    int ranges = 0;
    /* Each entry: start, end, [host, port, id...] of the master, replicas. */
    for (size_t i = 0; i < slots->elements; i++) {
        const redisReply *e = slots->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 3) continue;
        const redisReply *master = e->element[2];
        if (e->element[0]->type != REDIS_REPLY_INTEGER || e->element[1]->type != REDIS_REPLY_INTEGER ||
            master->type != REDIS_REPLY_ARRAY || master->elements < 2 ||
            master->element[0]->type != REDIS_REPLY_STRING || master->element[1]->type != REDIS_REPLY_INTEGER)
            continue;
        int index = node_index(m, master->element[0]->str, master->element[0]->len, (int)master->element[1]->integer);
        for (long long s = e->element[0]->integer; s <= e->element[1]->integer && s < HW_SLOTS; s++)
            if (s >= 0) m->node[s] = (uint8_t)index;
        ranges++;
    }
    return ranges;
}

const char *hw_slot_map_get(const hw_slot_map *m, unsigned slot, int *port)
{
    if (m == NULL || slot >= HW_SLOTS || m->node[slot] == 0) return NULL;
    *port = m->nodes[m->node[slot] - 1].port;
    return m->nodes[m->node[slot] - 1].host;
}
