/* A queue's cron entries with their state, as cron_read.lua returns them:
 * what listings show and what a monitor's cron runner works from. */
#ifndef HW_CRON_TABLE_H
#define HW_CRON_TABLE_H

#include <hiredis/hiredis.h>

#include "cron_def.h"

typedef struct hw_cron_row {
    char *name;
    char *text; /* the stored definition (owned; def points into it) */
    size_t len;
    hw_cron_def def;
    int ok; /* def parsed; else problem says why */
    char problem[300];
    char *last_text; /* the stored last tick as read, whatever it holds ("" if none; owned):
                        cron_tick.lua compares it, byte for byte */
    size_t last_len;
    int last_ok;    /* last_text is a tick time: decimal ms, at most HW_CRON_LAST_MAX */
    long long last; /* ms; 0 unless last_ok */
    long long fired, missed, held;
} hw_cron_row;

/* A stored last tick past this (the year 2286) is no tick time. */
#define HW_CRON_LAST_MAX 9999999999999LL

typedef struct hw_cron_table {
    long long now; /* Redis's clock when read, ms */
    hw_cron_row *rows;
    size_t n;
} hw_cron_table;

/* Fills t from a cron_read.lua reply, rows sorted by name. Returns 0, or -1
 * with err set when the reply is not such a reply (then t is empty). An
 * entry whose definition does not parse is kept with ok = 0. */
int hw_cron_table_parse(hw_cron_table *t, const redisReply *r, char *err, size_t errlen);
void hw_cron_table_free(hw_cron_table *t);
/* The row named `name`, or NULL. */
const hw_cron_row *hw_cron_table_find(const hw_cron_table *t, const char *name);

#endif
