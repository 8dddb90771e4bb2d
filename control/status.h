/*
 * vcdc - the status of consumer groups on one topic (DESIGN.md,
 * Readiness): each group with, optionally, the sink it applies to (for the
 * offsets recorded in the target) and a sliding window of lag samples
 * (control/lag.h), sampled in rounds and judged. What `vcdc status` shows
 * and a gateway's status page would; it prints nothing.
 */
#ifndef VCDC_STATUS_H
#define VCDC_STATUS_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "lag.h"
#include "sink.h"

typedef struct vcdc_status_group_s {
        char *name;                 /* the consumer group */
        char *sink_url;             /* NULL: no sink */
        vcdc_sink_t *sink;          /* of sink_url, or NULL */
        vcdc_lag_sample_t *samples; /* the window, oldest first */
        size_t cnt;                 /* samples in the window */
        vcdc_readiness_t ready;     /* the window judged (_evaluate()) */
        char error[512];            /* why the last sample failed; "" */
} vcdc_status_group_t;

typedef struct vcdc_status_s vcdc_status_t;

/**
 * The status of group_cnt groups on topic, windows of window samples:
 * opens each group's sink (sink_urls[i], NULL for none) with sink_conf,
 * then a client with conf's librdkafka settings. Names and URLs are
 * copied. Returns NULL with errstr ("group G: why" for a sink).
 */
vcdc_status_t *vcdc_status_new(const vcdc_conf_t *conf, const char *topic,
                               const char *const *groups,
                               const char *const *sink_urls, size_t group_cnt,
                               size_t window, const vcdc_sink_conf_t *sink_conf,
                               char *errstr, size_t errstr_size);

/** Closes the sinks and the client, frees. Accepts NULL. */
void vcdc_status_destroy(vcdc_status_t *st);

/**
 * One round: a sample of every group, each taken at least interval_ms
 * after the group's previous one (waiting as needed), pushed into its
 * window (the oldest leaves a full one). A failed sample leaves the window
 * as it was and says why in the group's error (logged too). Stops early,
 * between waits, when *running (may be NULL) turns 0. Returns the number
 * of groups whose sample failed.
 */
int vcdc_status_sample(vcdc_status_t *st, int interval_ms,
                       const volatile sig_atomic_t *running);

/**
 * Judges every group's window against max_lag (vcdc_lag_evaluate()).
 * Returns 1 when every group is OK, else 0 (a group without a sample is
 * not OK); *errorsp (may be NULL) is set to the groups whose last sample
 * failed.
 */
int vcdc_status_evaluate(vcdc_status_t *st, int64_t max_lag, int *errorsp);

size_t vcdc_status_group_cnt(const vcdc_status_t *st);

/** Group i (0 <= i < vcdc_status_group_cnt()), valid until the next
 *  call on st. */
const vcdc_status_group_t *vcdc_status_group(const vcdc_status_t *st, size_t i);

#endif
