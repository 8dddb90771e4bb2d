/*
 * vcdc - time.
 * Reads clocks; never sleeps.
 */
#include "clock.h"

#include <time.h>

int64_t vcdc_clock_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t vcdc_wall_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t vcdc_backoff_ms(int attempt, int64_t base_ms, int64_t max_ms,
                        uint32_t rnd) {
        int64_t cap = base_ms, half;

        while (attempt-- > 0 && cap < max_ms)
                cap *= 2;
        if (cap > max_ms)
                cap = max_ms;
        half = cap / 2;
        return half + (int64_t)(rnd % (uint64_t)(cap - half + 1));
}
