/* A monitor's part in cron (docs/scheduling.md): it reads the queue's cron
 * entries (again every monitor_interval, and at once when told they
 * changed), and when a tick comes due it hands it over with cron_tick.lua,
 * which enqueues its job unless another process did so first. Every
 * monitor of every process may do this at the same time: the script moves
 * each entry's last tick atomically, so each tick is handled once. Owned by
 * the monitor thread; not thread-safe. */
#ifndef HW_CRON_RUNNER_H
#define HW_CRON_RUNNER_H

#include "cron_table.h"
#include "internal.h"

typedef struct hw_cron_runner {
    hw_cron_table table;
    int loaded;
    double read_at;       /* monotonic time of the read */
    double reload_at;     /* read again from then on */
    char logged[20][256]; /* entries whose problem was logged (so once each) */
    int nlogged;
} hw_cron_runner;

void hw_cron_runner_init(hw_cron_runner *r);
void hw_cron_runner_free(hw_cron_runner *r);
/* The entries changed (a message said so): read them at the next step. */
void hw_cron_runner_changed(hw_cron_runner *r);
/* Handles every tick due now, reading the entries first when it is time.
 * Returns the seconds until the next tick (at most monitor_interval, 0 to
 * be called again at once), or -1 if the connection failed. */
double hw_cron_runner_step(hw_cron_runner *r, hworker *h, hw_conn *conn);

#endif
