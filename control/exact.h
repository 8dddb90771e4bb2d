/*
 * vcdc - the exact k nearest neighbours of many queries at once, by brute
 * force: the ground truth `vcdc shadow --recall` measures each side's
 * answers against.
 *
 * The collection streams through in blocks of contiguous vectors (one
 * scan, any size); each query keeps a bounded max-heap of its k best
 * (distance, id) so far. Memory is O(queries x k + block), never
 * O(collection). Pure: no database, no I/O (control/recall.c scans).
 */
#ifndef VCDC_EXACT_H
#define VCDC_EXACT_H

#include <stddef.h>

#include "sink.h"

typedef struct vcdc_exact_s vcdc_exact_t;

/* One neighbour: the distance in vcdc's convention (below), the id. */
typedef struct vcdc_exact_hit_s {
        double distance;
        char *id; /* owned by the vcdc_exact_t */
} vcdc_exact_hit_t;

/**
 * Starts the exact top-k of cnt queries (cnt * dim floats, copied) in
 * metric. Distances, computed in double from the float32 vectors, are
 * those whose order the databases use: cosine 1 - cos (a zero vector is
 * farther than any other: +inf), l2 the squared Euclidean distance, ip
 * -dot. Equal distances are ordered by id (strcmp), so the answer is the
 * same whatever order the records come in. Returns NULL with errstr on a
 * bad argument or out of memory.
 */
vcdc_exact_t *vcdc_exact_new(const float *queries, size_t cnt, size_t dim,
                             size_t k, vcdc_metric_t metric, char *errstr,
                             size_t errstr_size);

void vcdc_exact_destroy(vcdc_exact_t *exact);

/**
 * Offers n records (vecs: n * dim contiguous floats; ids[i] the id of
 * vecs + i * dim) to every query. Ids are copied when kept. Returns 0, or
 * -1 with errstr (out of memory; what was offered before is kept).
 */
int vcdc_exact_add(vcdc_exact_t *exact, const float *vecs,
                   const char *const *ids, size_t n, char *errstr,
                   size_t errstr_size);

/**
 * Query q's neighbours, nearest first: *hitsp points into exact (valid
 * until the next vcdc_exact_add() or destroy), *cntp = min(k, records
 * offered). Sorts that query's heap; adding afterwards is still right.
 */
void vcdc_exact_result(vcdc_exact_t *exact, size_t q,
                       const vcdc_exact_hit_t **hitsp, size_t *cntp);

/** Records offered so far (each counted once, for all queries). */
size_t vcdc_exact_records(const vcdc_exact_t *exact);

/** How many ids of a[0..na) are among b[0..nb) (ids unique within each):
 *  recall and shadow overlap both count this. */
size_t vcdc_exact_common(const char *const *a, size_t na,
                         const char *const *b, size_t nb);

/**
 * Recall of one answer: |got[0..min(ng, k)) ∩ truth[0..min(nt, k))| /
 * min(nt, k), 1 when the truth is empty. Ids are assumed unique within
 * each list.
 */
double vcdc_exact_recall(const char *const *truth, size_t nt,
                         const char *const *got, size_t ng, size_t k);

#endif
