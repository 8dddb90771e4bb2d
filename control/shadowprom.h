/*
 * vcdc - the gateway's shadow-read metrics in Prometheus text: their
 * names (the gateway writes them, `vcdc shadow --gateway` reads them, so
 * both take them from here) and the reader of an exposition's shadow
 * part. DESIGN.md, The gateway's shadow reads.
 */
#ifndef VCDC_SHADOWPROM_H
#define VCDC_SHADOWPROM_H

#include <stddef.h>

/* Counters. */
#define VCDC_SHADOW_M_SAMPLED   "vcdc_gateway_shadow_sampled_total"
#define VCDC_SHADOW_M_QUERIES   "vcdc_gateway_shadow_queries_total"
#define VCDC_SHADOW_M_COMPARED  "vcdc_gateway_shadow_compared_total"
#define VCDC_SHADOW_M_DROPPED   "vcdc_gateway_shadow_dropped_total"
#define VCDC_SHADOW_M_ERRORS    "vcdc_gateway_shadow_errors_total"
#define VCDC_SHADOW_M_MATCHES   "vcdc_gateway_shadow_rank_matches_total"
#define VCDC_SHADOW_M_POSITIONS "vcdc_gateway_shadow_rank_positions_total"
/* Gauges. */
#define VCDC_SHADOW_M_RATE    "vcdc_gateway_shadow_rate"
#define VCDC_SHADOW_M_QUEUE   "vcdc_gateway_shadow_queue"
#define VCDC_SHADOW_M_OV_MEAN "vcdc_gateway_shadow_overlap_mean"
#define VCDC_SHADOW_M_OV_MIN  "vcdc_gateway_shadow_overlap_min"
#define VCDC_SHADOW_M_RANK    "vcdc_gateway_shadow_rank_agreement"
/* A histogram (_bucket, _sum, _count) and a summary (quantiles, _sum,
 * _count), both labelled. */
#define VCDC_SHADOW_M_OVERLAP "vcdc_gateway_shadow_overlap"
#define VCDC_SHADOW_M_LATENCY "vcdc_gateway_query_latency_seconds"

/* What an exposition says about shadow reads; side 0 is OLD, 1 NEW. */
typedef struct vcdc_shadow_prom_s {
        int present; /* a shadow metric was seen at all */
        double rate, queue;
        double sampled, queries, compared, dropped, errors[2];
        double matches, positions;
        double overlap_mean, overlap_min, rank_agreement;
        double p50_s[2], p99_s[2]; /* of the last samples */
        double lat_count[2], lat_sum_s[2];
} vcdc_shadow_prom_t;

/**
 * Reads text[0..len) (Prometheus text format 0.0.4) into *out: the
 * metrics above are taken, every other sample is skipped, comments and
 * blank lines too. A line that is not a sample ("name{labels} value
 * [timestamp]", label values quoted with \\ \" \n escapes) is an error, as
 * is a known metric with a side or quantile it does not have.
 * Returns 0, or -1 with errstr naming the line ("line 7: ...").
 */
int vcdc_shadow_prom_parse(const char *text, size_t len,
                           vcdc_shadow_prom_t *out, char *errstr,
                           size_t errstr_size);

#endif
