/* clock: the monotonic clock in milliseconds, for deadlines and durations. */
#ifndef LD_CLOCK_H
#define LD_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Monotonic, so that setting the wall clock neither ends a deadline at once nor moves it
 * by the step; inline, as the daemon and the runtime programs link different libraries. */
static inline int64_t ld_clock_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif
