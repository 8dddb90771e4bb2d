/*
 * vcdc - lag and readiness of a consumer group (DESIGN.md, Readiness):
 * samples and their judgement; the reports are the callers' (vcdc
 * status, the cut-over gate).
 *
 * A sample reads, for one group on one topic, every partition's committed
 * offset and log-end offset (admin API and watermarks), the group's member
 * count, and, given the group's sink, the offset recorded in the target
 * and the state of vcdc's index on it (a sink that builds one).
 * Readiness is judged over a window of samples, never one:
 *   OK       lag reached zero within the window and is within the limit now
 *   LAGGING  lag above the limit, or never zero in the window, and moving
 *   STALLED  lag above zero and the committed offsets did not move
 *   REWOUND  a committed offset went backwards within the window
 *   STOPPED  the group has no member
 * "Reached zero" is judged per partition: its lag was 0 in a sample, or a
 * later sample's committed offset reached the log end an earlier sample saw
 * (with writes flowing, lag is seldom exactly 0 when a sample is taken, but
 * a consumer that keeps up passes every end it was shown). The limit is
 * the lag a ready group may have now: records written a moment ago and
 * not applied yet (VCDC_LAG_MAX_DEFAULT unless the caller says otherwise).
 * When several hold, the first in this order wins: REWOUND, STOPPED,
 * STALLED, LAGGING (a reset needs an empty group, so a rewound group
 * usually has no member either; the rewind is what the operator must see).
 *
 * Time lag: how long the oldest record the group has not applied has been
 * waiting, i.e. now minus the Kafka timestamp of the record at the committed
 * offset (or of the next one compaction left), 0 when the group is caught
 * up. A sample reads that record, and the one before it (the last applied),
 * with a short-lived consumer (no group) made from rk's configuration.
 */
#ifndef VCDC_LAG_H
#define VCDC_LAG_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "conf.h"
#include "sink.h"

/* The default limit of the lag a ready group may have now, in records
 * (vcdc status --max-lag, vcdc cutover --max-lag). */
#define VCDC_LAG_MAX_DEFAULT 1000

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
        int64_t lag;       /* end - committed, 0 at least (end - log start
                            * when nothing committed) */
        int64_t recorded;  /* last offset applied per the target; -1 */
        int64_t start;     /* log-start offset (low watermark) */
        int64_t applied_ts_ms; /* Kafka timestamp of the record before the
                                * committed offset; -1: none or unknown */
        int64_t pending_ts_ms; /* Kafka timestamp of the oldest record not
                                * applied; -1: none or unknown */
} vcdc_part_lag_t;

typedef struct vcdc_lag_sample_s {
        int64_t t_ms;     /* wall clock when taken */
        int members;      /* group members; 0: stopped */
        int64_t total_lag;
        int64_t last_applied_ts_ms; /* Kafka timestamp of the newest record
                                     * at or before the committed offsets,
                                     * -1 when unknown: time lag is
                                     * now - this */
        int64_t time_lag_ms; /* the largest partition time lag: 0 when caught
                              * up, -1 when unknown */
        char group_state[32]; /* as the coordinator says: "Stable", "Empty",
                               * "Dead" (no such group), ... */
        vcdc_part_lag_t *parts;
        size_t part_cnt;
        int has_index;           /* the sink reports an index (pgvector) */
        vcdc_index_info_t index; /* vcdc's index on the target, then */
} vcdc_lag_sample_t;

/**
 * A client handle to take samples with: a consumer (without a group)
 * made from conf's librdkafka settings. Returns NULL with errstr.
 */
rd_kafka_t *vcdc_lag_client_new(const vcdc_conf_t *conf, char *errstr,
                                size_t errstr_size);

/**
 * Takes one sample of group on topic through rk (any client handle; a
 * producer should have allow.auto.create.topics=false, or the broker
 * creates a missing topic when asked for its metadata). sink may be NULL
 * (no recorded offsets: recorded = -1). Returns 0, or -1 with errstr
 * ("topic ... does not exist" among others). Clear the sample with
 * vcdc_lag_sample_clear().
 */
int vcdc_lag_sample(rd_kafka_t *rk, const char *topic, const char *group,
                    vcdc_sink_t *sink, vcdc_lag_sample_t *out, char *errstr,
                    size_t errstr_size);

void vcdc_lag_sample_clear(vcdc_lag_sample_t *s);

/** The time lag of partition p of sample s: 0 when caught up, -1 when
 *  unknown. */
int64_t vcdc_lag_part_time_lag(const vcdc_lag_sample_t *s,
                               const vcdc_part_lag_t *p);

/** Sums over s's partitions: committed offsets (those set) and log
 *  ends. */
void vcdc_lag_totals(const vcdc_lag_sample_t *s, int64_t *committedp,
                     int64_t *endp);

/**
 * Takes n samples interval_ms apart (from the start of one to the start of
 * the next) into samples[0..n), oldest first. On failure the samples taken
 * are cleared and -1 is returned with errstr.
 */
int vcdc_lag_window(rd_kafka_t *rk, const char *topic, const char *group,
                    vcdc_sink_t *sink, size_t n, int interval_ms,
                    vcdc_lag_sample_t *samples, char *errstr,
                    size_t errstr_size);

typedef struct vcdc_readiness_s {
        vcdc_group_state_t state;
        int64_t lag;         /* now */
        int reached_zero;    /* every partition caught up within the
                              * window (see above) */
        double rate;         /* committed messages per second in the window */
        double eta_s;        /* lag / the rate at which lag shrank over the
                              * window; 0 when caught up, -1 when not
                              * catching up */
        int64_t time_lag_ms; /* of the newest sample */
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
