/* The stop signal of a handle: a flag threads test between steps, and a
 * condition they sleep on so that a stop wakes them at once. A thread that
 * waits on a socket instead polls hw_signal_fd too. Shared by every thread
 * of a handle; the mutex guards only the sleeping. */
#ifndef HW_SIGNAL_H
#define HW_SIGNAL_H

#include <pthread.h>
#include <stdatomic.h>

typedef struct hw_signal {
    pthread_mutex_t lock;
    pthread_cond_t cond; /* uses CLOCK_MONOTONIC */
    atomic_int raised;
    int pipe[2]; /* a byte is written on raise: poll()able; -1 if none could be made */
} hw_signal;

void hw_signal_init(hw_signal *s);
void hw_signal_destroy(hw_signal *s);
void hw_signal_raise(hw_signal *s);
/* Clears the flag so the handle can be started again after a stop. */
void hw_signal_reset(hw_signal *s);
int hw_signal_raised(hw_signal *s);
/* A descriptor that polls readable once the signal is raised (until it is
 * reset), or -1 if the system gave none (then poll in slices and test
 * hw_signal_raised). Owned by the signal. */
int hw_signal_fd(const hw_signal *s);
/* Sleeps up to `seconds`; returns 1 at once if (or as soon as) raised. */
int hw_signal_wait(hw_signal *s, double seconds);

/* Monotonic clock in seconds, and wall clock in milliseconds. */
double hw_monotonic(void);
long long hw_wall_ms(void);

#endif
