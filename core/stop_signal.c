#include "stop_signal.h"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

void hw_signal_init(hw_signal *s)
{
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cond, &attr);
    pthread_condattr_destroy(&attr);
    pthread_mutex_init(&s->lock, NULL);
    atomic_store(&s->raised, 0);
    if (pipe2(s->pipe, O_NONBLOCK | O_CLOEXEC) != 0) s->pipe[0] = s->pipe[1] = -1;
}

void hw_signal_destroy(hw_signal *s)
{
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->lock);
    if (s->pipe[0] >= 0) {
        close(s->pipe[0]);
        close(s->pipe[1]);
    }
}

void hw_signal_raise(hw_signal *s)
{
    pthread_mutex_lock(&s->lock);
    atomic_store(&s->raised, 1);
    pthread_cond_broadcast(&s->cond);
    /* Full (raised before and not reset) is as good as written. */
    if (s->pipe[1] >= 0 && write(s->pipe[1], "!", 1) < 0) (void)0;
    pthread_mutex_unlock(&s->lock);
}

void hw_signal_reset(hw_signal *s)
{
    pthread_mutex_lock(&s->lock);
    atomic_store(&s->raised, 0);
    char drain[64];
    while (s->pipe[0] >= 0 && read(s->pipe[0], drain, sizeof drain) > 0) continue;
    pthread_mutex_unlock(&s->lock);
}

int hw_signal_fd(const hw_signal *s) { return s->pipe[0]; }

int hw_signal_raised(hw_signal *s) { return atomic_load(&s->raised); }

int hw_signal_wait(hw_signal *s, double seconds)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    if (seconds < 0) seconds = 0;
    long long ns = until.tv_nsec + (long long)(seconds * 1e9);
    until.tv_sec += (time_t)(ns / 1000000000LL);
    until.tv_nsec = (long)(ns % 1000000000LL);
    pthread_mutex_lock(&s->lock);
    while (!atomic_load(&s->raised)) {
        if (pthread_cond_timedwait(&s->cond, &s->lock, &until) != 0) break;
    }
    int raised = atomic_load(&s->raised);
    pthread_mutex_unlock(&s->lock);
    return raised;
}

double hw_monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

long long hw_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
