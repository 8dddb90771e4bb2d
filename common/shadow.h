/*
 * vcdc - shadow reads: the same k-NN queries on OLD and NEW, compared.
 */
#ifndef VCDC_SHADOW_H
#define VCDC_SHADOW_H

#include <stddef.h>
#include <stdint.h>

#include "sink.h"

typedef struct vcdc_shadow_opts_s {
        size_t k;                /* neighbours per query; 0: 10 */
        const char *queries_path; /* JSONL of {"vector": [...]}; or NULL: */
        size_t sample;           /* N query vectors sampled from OLD */
        uint32_t seed;
} vcdc_shadow_opts_t;

typedef struct vcdc_shadow_result_s {
        size_t queries;
        double overlap_mean, overlap_min; /* |top-k OLD ∩ top-k NEW| / k */
        double rank_agreement;  /* share of positions holding the same id */
        double old_p50_ms, old_p99_ms, new_p50_ms, new_p99_ms;
} vcdc_shadow_result_t;

/** Runs the queries. Returns 0, or -1 with errstr. */
int vcdc_shadow(vcdc_sink_t *old_sink, vcdc_sink_t *new_sink,
                const vcdc_shadow_opts_t *opts, vcdc_shadow_result_t *res,
                char *errstr, size_t errstr_size);

#endif
