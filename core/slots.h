/* Redis Cluster slots: which of the 16384 slots a key is in (CRC16 of its
 * hash tag), and a connection's map from slots to the nodes serving them,
 * read from CLUSTER SLOTS and corrected by every MOVED reply. A map belongs
 * to one connection (one thread): no locking. */
#ifndef HW_SLOTS_H
#define HW_SLOTS_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#define HW_SLOTS 16384

/* The slot of a key: CRC16 (XMODEM) of the text between the first '{' and
 * the next '}' if that is not empty, else of the whole key. Pure. */
unsigned hw_key_slot(const char *key, size_t len);

typedef struct hw_slot_map {
    uint8_t node[HW_SLOTS]; /* index into nodes + 1; 0: not known */
    struct {
        char *host;
        int port;
    } nodes[255];
    int nnodes;
} hw_slot_map;

/* A zeroed map (aborts on out of memory); free with hw_slot_map_free. */
hw_slot_map *hw_slot_map_new(void);
void hw_slot_map_free(hw_slot_map *m);
/* Slot `slot` is served by host:port. */
void hw_slot_map_set(hw_slot_map *m, unsigned slot, const char *host, size_t hostlen, int port);
/* Fills the map from a CLUSTER SLOTS reply; returns how many ranges. */
int hw_slot_map_load(hw_slot_map *m, const redisReply *slots);
/* The node of a slot, or NULL if not known (host stays owned by the map). */
const char *hw_slot_map_get(const hw_slot_map *m, unsigned slot, int *port);

#endif
