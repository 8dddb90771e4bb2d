/*
 * vcdc gateway - the shadow reads' measures: comparing two query answers
 * (Chroma's shape) id by id, and the running figures the metrics show
 * (overlap, rank agreement, errors, each side's latency). No I/O: the
 * worker that runs the shadow queries is gwshadow.c. DESIGN.md, The
 * gateway's shadow reads.
 */
#ifndef VCDC_GW_SHADOWSTAT_H
#define VCDC_GW_SHADOWSTAT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

/* The latency samples kept per side for p50/p99: the last this many. */
#define VCDC_GW_SHADOW_LAT_RING 1024
/* The overlap histogram's upper bounds (and +Inf). */
#define VCDC_GW_SHADOW_OV_BUCKETS 6

/* One request's comparison: per query embedding. */
typedef struct vcdc_gw_shadow_cmp_s {
        size_t n;         /* query embeddings compared */
        double *overlap;  /* n of them: |A ∩ B| / max(|A|, |B|) */
        size_t matches;   /* positions holding the same id */
        size_t positions; /* positions compared: sum of max(|A|, |B|) */
} vcdc_gw_shadow_cmp_t;

/**
 * Compares two answers to the same query request: the serving side's
 * (a) and the other's (b), each Chroma's query answer ({"ids": [[...],
 * ...], ...}). For each query embedding q, A and B are the id lists
 * ids[q] (nearest first; at most n_results long): overlap@k is
 * |A ∩ B| / k with k = max(|A|, |B|) (so two answers a filter made
 * shorter than n_results agree fully; both empty: 1), and rank agreement
 * counts the positions i < k where A[i] and B[i] are the same id
 * (control/shadow.h, the measures `vcdc shadow` uses). Returns 0 with
 * *out filled (vcdc_gw_shadow_cmp_clear() it), or -1 with errstr (an
 * answer that is not JSON, has no ids, or a different number of queries).
 */
int vcdc_gw_shadow_compare(const char *a, size_t alen, const char *b,
                           size_t blen, vcdc_gw_shadow_cmp_t *out, char *errstr,
                           size_t errstr_size);

void vcdc_gw_shadow_cmp_clear(vcdc_gw_shadow_cmp_t *cmp);

/* The running figures; side 0 is OLD, 1 NEW. Updated by the shadow
 * workers (under lock), read by the metrics thread. The request path
 * only touches the two atomic counters. */
typedef struct vcdc_gw_shadow_stats_s {
        pthread_mutex_t lock;
        uint64_t sampled, dropped; /* atomic: the request path's */
        uint64_t queries, compared, errors[2];
        double overlap_sum, overlap_min;
        uint64_t overlap_bucket[VCDC_GW_SHADOW_OV_BUCKETS + 1];
        uint64_t matches, positions;
        double lat_ms[2][VCDC_GW_SHADOW_LAT_RING];
        size_t lat_n[2], lat_pos[2];
        uint64_t lat_count[2];
        double lat_sum_ms[2];
} vcdc_gw_shadow_stats_t;

void vcdc_gw_shadow_stats_init(vcdc_gw_shadow_stats_t *st);
void vcdc_gw_shadow_stats_destroy(vcdc_gw_shadow_stats_t *st);

/** A request compared: serving_side answered in serving_ms, the other
 *  side in other_ms; cmp the comparison. */
void vcdc_gw_shadow_stats_add(vcdc_gw_shadow_stats_t *st, int serving_side,
                              double serving_ms, double other_ms,
                              const vcdc_gw_shadow_cmp_t *cmp);

/** A shadow query failed on side (its answer not compared). */
void vcdc_gw_shadow_stats_error(vcdc_gw_shadow_stats_t *st, int side);

/**
 * The Prometheus text of st (names in shadowprom.h) into buf, with the
 * configured rate and the queue's depth now. Returns its length (cut at
 * size - 1, NUL-terminated when size > 0).
 */
size_t vcdc_gw_shadow_stats_render(vcdc_gw_shadow_stats_t *st, double rate,
                                   size_t queued, char *buf, size_t size);

#endif
