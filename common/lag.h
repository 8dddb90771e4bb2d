/*
 * vcdc - lag and readiness of a consumer group (DESIGN.md, Readiness).
 *
 * A sample reads, for one group on one topic, every partition's committed
 * offset and log-end offset (admin API and watermarks), the group's member
 * count, and, given the group's sink, the offset recorded in the target.
 * Readiness is judged over a window of samples, never one:
 *   OK       lag reached zero within the window and is within the limit now
 *   LAGGING  lag above the limit, or never zero in the window, and moving
 *   STALLED  lag above zero and the committed offsets did not move
 *   REWOUND  a committed offset went backwards within the window
 *   STOPPED  the group has no member
 */
#ifndef VCDC_LAG_H
#define VCDC_LAG_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "sink.h"

typedef enum vcdc_group_state_e {
        VCDC_STATE_OK = 0,
        VCDC_STATE_LAGGING,
        VCDC_STATE_STALLED,
        VCDC_STATE_REWOUND,
        VCDC_STATE_STOPPED,
} vcdc_group_state_t;

const char *vcdc_group_state_name(vcdc_group_state_t state);

typedef struct vcdc_part_lag_s {
        int32_t partition;
        int64_t committed; /* next offset the group reads; -1: none */
        int64_t end;       /* log-end offset (high watermark) */
        int64_t lag;       /* end - committed (end when nothing committed) */
        int64_t recorded;  /* last offset applied per the target; -1 */
} vcdc_part_lag_t;

typedef struct vcdc_lag_sample_s {
        int64_t t_ms;     /* wall clock when taken */
        int members;      /* group members; 0: stopped */
        int64_t total_lag;
        int64_t last_applied_ts_ms; /* Kafka timestamp of the newest record
                                     * at or before the committed offsets,
                                     * -1 when unknown: time lag is
                                     * now - this */
        vcdc_part_lag_t *parts;
        size_t part_cnt;
} vcdc_lag_sample_t;

/**
 * Takes one sample of group on topic through rk (any client handle).
 * sink may be NULL (no recorded offsets: recorded = -1). Returns 0, or -1
 * with errstr. Clear the sample with vcdc_lag_sample_clear().
 */
int vcdc_lag_sample(rd_kafka_t *rk, const char *topic, const char *group,
                    vcdc_sink_t *sink, vcdc_lag_sample_t *out, char *errstr,
                    size_t errstr_size);

void vcdc_lag_sample_clear(vcdc_lag_sample_t *s);

typedef struct vcdc_readiness_s {
        vcdc_group_state_t state;
        int64_t lag;         /* now */
        int reached_zero;    /* lag was 0 in some sample of the window */
        double rate;         /* committed messages per second in the window */
        double eta_s;        /* lag / rate, -1 when not catching up */
        char reason[256];    /* why this state, in words */
} vcdc_readiness_t;

/**
 * Judges a window of samples (oldest first, n >= 1) against max_lag.
 * Pure: no I/O, so it is unit-tested with made-up samples.
 */
vcdc_group_state_t vcdc_lag_evaluate(const vcdc_lag_sample_t *samples,
                                     size_t n, int64_t max_lag,
                                     vcdc_readiness_t *out);

#endif
