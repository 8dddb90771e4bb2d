/*
 * vcdc - shadow reads: the same k-NN queries on OLD and NEW, compared:
 * overlap@k, rank agreement, latency. It prints nothing; the report is the
 * caller's (cli/shadow.c, the cut-over gate).
 */
#ifndef VCDC_SHADOW_H
#define VCDC_SHADOW_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "sink.h"

#define VCDC_SHADOW_K_MAX 1000

/* Called with both answers to query q (nearest first); 0 go on, -1
 * stop with errstr. */
typedef int (*vcdc_shadow_answer_cb_t)(void *ctx, size_t q,
                                       const vcdc_hit_t *old_hits,
                                       size_t old_cnt,
                                       const vcdc_hit_t *new_hits,
                                       size_t new_cnt, char *errstr,
                                       size_t errstr_size);

typedef struct vcdc_shadow_opts_s {
        size_t k;                 /* neighbours per query; 0: 10 */
        const char *queries_path; /* JSONL of {"vector": [...]}; or NULL: */
        size_t sample;            /* N query vectors sampled from OLD */
        uint32_t seed;
        /* Or the queries themselves (vector_cnt * vector_dim floats, not
         * owned): then neither of the two above is used. */
        const float *vectors;
        size_t vector_cnt, vector_dim;
        vcdc_shadow_answer_cb_t on_answer; /* optional */
        void *answer_ctx;
} vcdc_shadow_opts_t;

typedef struct vcdc_shadow_result_s {
        size_t queries;
        double overlap_mean, overlap_min; /* |top-k OLD ∩ top-k NEW| / k */
        double rank_agreement; /* share of positions holding the same id */
        double old_p50_ms, old_p99_ms, new_p50_ms, new_p99_ms;
        size_t k;
        size_t dim;
        double old_mean_ms, new_mean_ms;
        double seconds;
} vcdc_shadow_result_t;

/**
 * Runs the queries on both sides (in alternating order, so neither side
 * always goes first). Overlap and rank agreement count against
 * min(k, the longer of the two answers), so two equal answers shorter than
 * k (a target smaller than k) agree fully. Returns 0, or -1 with errstr.
 */
int vcdc_shadow(vcdc_sink_t *old_sink, vcdc_sink_t *new_sink,
                const vcdc_shadow_opts_t *opts, vcdc_shadow_result_t *res,
                char *errstr, size_t errstr_size);

/**
 * The query vectors opts names: read from its queries file, or sampled
 * from old_sink (opts->sample, opts->seed). *vecsp is a new array of
 * *cntp * *dimp floats (free() it). Returns 0, or -1 with errstr.
 */
int vcdc_shadow_load_queries(vcdc_sink_t *old_sink,
                             const vcdc_shadow_opts_t *opts, float **vecsp,
                             size_t *cntp, size_t *dimp, char *errstr,
                             size_t errstr_size);

/* The pure parts, exposed for the unit tests. */

/**
 * Parses one line of a queries file: {"vector": [numbers]} (other members
 * are ignored). dim: the dimension earlier lines had, 0 for the first.
 * Returns 1 with *vecp a new array of *dimp floats (free() it), 0 for a
 * blank line, -1 with errstr saying what is wrong (without file and line).
 */
int vcdc_shadow_parse_query(const char *line, size_t len, size_t dim,
                            float **vecp, size_t *dimp, char *errstr,
                            size_t errstr_size);

/**
 * Reads every query of fp; name is the file's name for errors
 * ("queries.jsonl:7: vector[2] is not a number"). *vecsp is a new array
 * of *cntp * *dimp floats (free() it). An empty file is an error.
 * Returns 0, or -1 with errstr.
 */
int vcdc_shadow_read_queries(FILE *fp, const char *name, float **vecsp,
                             size_t *cntp, size_t *dimp, char *errstr,
                             size_t errstr_size);

/**
 * Overlap of two top-k answers: |a ∩ b| / min(k, max(na, nb)); 1 when both
 * are empty. Ids are assumed unique within each answer.
 */
double vcdc_shadow_overlap(const char *const *a, size_t na,
                           const char *const *b, size_t nb, size_t k);

/** Positions i < min(k, max(na, nb)) where a[i] and b[i] are the same id,
 *  and *positionsp (may be NULL) set to that bound. */
size_t vcdc_shadow_rank_matches(const char *const *a, size_t na,
                                const char *const *b, size_t nb, size_t k,
                                size_t *positionsp);

/**
 * The p-th percentile (0..100, nearest rank) of values[0..n), which it
 * sorts in place. 0 when n == 0.
 */
double vcdc_shadow_percentile(double *values, size_t n, double p);

#endif
