/* The rule every group key obeys (hworker_enqueue_opts.group, the Lua
 * module's group option, `queue --group`, `limit --group`). A group key
 * goes into a job's header as it is and names a Redis key,
 * hw:{<queue>}:g:<group> (scripts/lib/groups.lua). */
#ifndef HW_GROUP_KEY_H
#define HW_GROUP_KEY_H

#include <stddef.h>

/* Longest group key, in bytes; scripts/enqueue.lua holds the same bound. */
#define HW_GROUP_KEY_MAX 128

/* Checks `group`: 1 to HW_GROUP_KEY_MAX printable ASCII characters, but '"'
 * and '\' (and "*", which names every group in a limit, when `star_ok` is
 * 0). Returns 0, or -1 with the rule broken in err; the key itself is
 * never copied into the message. Pure; thread-safe. */
int hw_group_key_check(const char *group, int star_ok, char *err, size_t errlen);

#endif
