/*
 * vcdc - shadow reads measured against ground truth (`vcdc shadow
 * --recall`): the exact top-k of the sampled queries, by brute force over
 * one side's whole collection (control/exact.h), and the recall@k of each
 * side's answers against it, beside their overlap. Two approximate indexes
 * can agree with each other and both be wrong; recall says how far each
 * is from the truth. It prints nothing (cli/shadow.c reports).
 */
#ifndef VCDC_RECALL_H
#define VCDC_RECALL_H

#include <stddef.h>

#include "shadow.h"
#include "sink.h"

typedef struct vcdc_recall_opts_s {
        int truth_new;      /* 0: the truth is OLD's records, 1: NEW's */
        size_t max_queries; /* the first N queries only; 0: all */
        size_t page;        /* records a scan request; 0: 500 */
        int keep_answers;   /* keep each query's ids (per_query below) */
} vcdc_recall_opts_t;

/* One query's answers (with keep_answers). */
typedef struct vcdc_recall_query_s {
        char **truth;       /* the exact top-k, nearest first */
        double *truth_dist; /* their distances (exact.h's convention) */
        size_t truth_cnt;
        char **ids[2]; /* [0] OLD's answer, [1] NEW's */
        size_t cnt[2];
        double recall[2];
} vcdc_recall_query_t;

typedef struct vcdc_recall_result_s {
        size_t queries;                 /* measured against the truth */
        size_t records;                 /* scanned for it */
        vcdc_metric_t metric;           /* the truth side's */
        const char *truth_role;         /* "OLD", "NEW" */
        double mean[2], min[2], p50[2]; /* recall@k, [0] OLD, [1] NEW */
        double scan_seconds;            /* the whole truth scan */
        double compute_seconds;         /* of it, the distances and heaps */
        double pairs_per_second; /* queries x records / compute_seconds */
        vcdc_recall_query_t *per_query; /* queries entries, or NULL */
        size_t per_query_cnt;
} vcdc_recall_result_t;

/**
 * Loads the queries as vcdc_shadow() does (sopts), computes the exact
 * top-k of the first ropts->max_queries of them over every record of the
 * truth side (one scan with vectors, bounded memory), then runs the
 * shadow comparison of all of them (sres) and measures each side's answer
 * against the truth (rres; free it with vcdc_recall_result_clear()).
 * Returns 0, or -1 with errstr.
 */
int vcdc_shadow_recall(vcdc_sink_t *old_sink, vcdc_sink_t *new_sink,
                       const vcdc_shadow_opts_t *sopts,
                       const vcdc_recall_opts_t *ropts,
                       vcdc_shadow_result_t *sres, vcdc_recall_result_t *rres,
                       char *errstr, size_t errstr_size);

/** Frees what rres holds. Accepts a zeroed result. */
void vcdc_recall_result_clear(vcdc_recall_result_t *rres);

#endif
