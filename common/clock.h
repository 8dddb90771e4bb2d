/*
 * vcdc - time: the monotonic clock every timer reads, and the retry
 * schedule. Nothing here sleeps.
 */
#ifndef VCDC_CLOCK_H
#define VCDC_CLOCK_H

#include <stdint.h>

/** Milliseconds of the monotonic clock (CLOCK_MONOTONIC). */
int64_t vcdc_clock_ms(void);

/** Microseconds of the same clock, for durations shorter than a few
 *  milliseconds (a database query's latency). */
int64_t vcdc_clock_us(void);

/** Milliseconds since the epoch (CLOCK_REALTIME), for timestamps. */
int64_t vcdc_wall_ms(void);

/**
 * The retry schedule: exponential backoff from base_ms, capped at max_ms,
 * with "equal jitter" (a uniform draw in the upper half) so restarting
 * clients do not retry in step. attempt counts from 0; rnd is any
 * uniformly random 32-bit value.
 */
int64_t vcdc_backoff_ms(int attempt, int64_t base_ms, int64_t max_ms,
                        uint32_t rnd);

#endif
