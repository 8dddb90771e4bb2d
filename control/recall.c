/*
 * vcdc - shadow reads against ground truth (recall.h).
 *
 * First the queries (a file, or a sample of OLD), then one scan of the
 * truth side with vectors: its records are copied into a block of
 * contiguous floats (sized to stay in cache) and each full block goes to
 * the exact top-k of every query (control/exact.c), so the scan holds one
 * page and one block, whatever the collection's size. Then the shadow
 * comparison runs the same queries on both sides, and each answer is
 * measured against the truth as it arrives.
 */
#include "recall.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "exact.h"
#include "log.h"
#include "side.h"

#define LOG_COMP    "shadow"
#define PAGE        500
#define RETRIES     3
#define BLOCK_BYTES (256 * 1024) /* the block of records every query reads */
#define BLOCK_MIN   16
#define BLOCK_MAX   4096

/* ---- The truth scan ---------------------------------------------------- */

typedef struct truth_s {
        vcdc_exact_t *exact;
        const char *role;
        size_t dim;
        float *block; /* cap * dim */
        char **ids;   /* owned, n of them */
        size_t n, cap;
        size_t no_vector; /* records the scan gave without one */
        int64_t compute_us;
} truth_t;

static int flush_block(truth_t *t, char *errstr, size_t errstr_size) {
        int64_t start = vcdc_clock_us();
        size_t i;
        int rc;

        rc = vcdc_exact_add(t->exact, t->block, (const char *const *)t->ids,
                            t->n, errstr, errstr_size);
        t->compute_us += vcdc_clock_us() - start;
        for (i = 0; i < t->n; i++) {
                free(t->ids[i]);
                t->ids[i] = NULL;
        }
        t->n = 0;
        return rc;
}

static int on_record(void *ctx, vcdc_record_t *rec, char *errstr,
                     size_t errstr_size) {
        truth_t *t = ctx;

        if (!rec->vector || !rec->dim) {
                t->no_vector++;
                return 0;
        }
        if (rec->dim != t->dim) {
                snprintf(errstr, errstr_size,
                         "%s: \"%.100s\" has dimension %zu, the queries %zu",
                         t->role, rec->id, rec->dim, t->dim);
                return -1;
        }
        memcpy(t->block + t->n * t->dim, rec->vector,
               t->dim * sizeof(*t->block));
        t->ids[t->n++] = rec->id; /* taken over */
        rec->id = NULL;
        if (t->n == t->cap)
                return flush_block(t, errstr, errstr_size);
        return 0;
}

/* The exact top-k of cnt queries over every record of side. */
static int scan_truth(const vcdc_side_t *side, size_t page, const float *vecs,
                      size_t cnt, size_t dim, size_t k, vcdc_exact_t **exactp,
                      vcdc_recall_result_t *rres, char *errstr,
                      size_t errstr_size) {
        truth_t t;
        vcdc_progress_t prog;
        uint64_t total = 0;
        int64_t start = vcdc_clock_us();
        size_t i;
        int rc = -1;

        memset(&t, 0, sizeof(t));
        t.role = side->role;
        t.dim = dim;
        rres->metric = vcdc_sink_metric(side->sink);
        t.cap = BLOCK_BYTES / (dim * sizeof(float));
        t.cap = t.cap < BLOCK_MIN   ? BLOCK_MIN
                : t.cap > BLOCK_MAX ? BLOCK_MAX
                                    : t.cap;
        if (!(t.exact = vcdc_exact_new(vecs, cnt, dim, k, rres->metric, errstr,
                                       errstr_size)))
                return -1;
        if (!(t.block = malloc(t.cap * dim * sizeof(*t.block))) ||
            !(t.ids = calloc(t.cap, sizeof(*t.ids)))) {
                snprintf(errstr, errstr_size, "out of memory");
                goto done;
        }
        if (vcdc_side_count(side, &total, errstr, errstr_size) == -1)
                goto done;
        VCDC_NOTICE(LOG_COMP,
                    "exact top-%zu of %zu queries over %s's ~%llu records "
                    "(%s)",
                    k, cnt, side->role, (unsigned long long)total,
                    vcdc_metric_name(rres->metric));
        vcdc_progress_start(&prog, LOG_COMP, "exact top-k scan", total);
        if ((rc = vcdc_side_scan(side, page, 1 /*with vectors*/, &prog,
                                 on_record, &t, errstr, errstr_size)) != 0) {
                rc = -1;
                goto done;
        }
        if (t.n && flush_block(&t, errstr, errstr_size) == -1) {
                rc = -1;
                goto done;
        }
        if (t.no_vector)
                VCDC_WARN(LOG_COMP,
                          "%s: %zu records without a vector left out "
                          "of the truth",
                          side->role, t.no_vector);
        rres->records = vcdc_exact_records(t.exact);
        if (!rres->records) {
                snprintf(errstr, errstr_size,
                         "%s holds no vectors: no ground truth to measure "
                         "recall against",
                         side->role);
                rc = -1;
                goto done;
        }
        rres->scan_seconds = (double)(vcdc_clock_us() - start) / 1e6;
        rres->compute_seconds = (double)t.compute_us / 1e6;
        if (t.compute_us > 0)
                rres->pairs_per_second = (double)cnt * (double)rres->records /
                                         rres->compute_seconds;
        VCDC_NOTICE(LOG_COMP,
                    "exact top-k: %zu records in %.2f s (%.2f s computing, "
                    "%.3g query x record pairs/s)",
                    rres->records, rres->scan_seconds, rres->compute_seconds,
                    rres->pairs_per_second);
        *exactp = t.exact;
        t.exact = NULL;
        rc = 0;
done:
        for (i = 0; i < t.n; i++)
                free(t.ids[i]);
        free(t.ids);
        free(t.block);
        vcdc_exact_destroy(t.exact);
        return rc;
}

/* ---- Measuring each answer --------------------------------------------- */

typedef struct measure_s {
        vcdc_exact_t *exact;
        size_t cnt, k; /* queries measured */
        double *recall[2];
        vcdc_recall_query_t *per_query; /* or NULL */
} measure_t;

static char **copy_ids(const char *const *ids, size_t n) {
        char **out = calloc(n ? n : 1, sizeof(*out));
        size_t i;

        if (!out)
                return NULL;
        for (i = 0; i < n; i++)
                if (!(out[i] = strdup(ids[i]))) {
                        while (i-- > 0)
                                free(out[i]);
                        free(out);
                        return NULL;
                }
        return out;
}

static int keep(vcdc_recall_query_t *pq, const vcdc_exact_hit_t *truth,
                size_t nt, const char *const *truth_ids,
                const char *const *got[2], const size_t n[2]) {
        size_t i, s;

        if (!(pq->truth = copy_ids(truth_ids, nt)))
                return -1;
        pq->truth_cnt = nt;
        if (!(pq->truth_dist = calloc(nt ? nt : 1, sizeof(double))))
                return -1;
        for (i = 0; i < nt; i++)
                pq->truth_dist[i] = truth[i].distance;
        for (s = 0; s < 2; s++) {
                if (!(pq->ids[s] = copy_ids(got[s], n[s])))
                        return -1;
                pq->cnt[s] = n[s];
        }
        return 0;
}

static int on_answer(void *ctx, size_t q, const vcdc_hit_t *old_hits,
                     size_t old_cnt, const vcdc_hit_t *new_hits, size_t new_cnt,
                     char *errstr, size_t errstr_size) {
        measure_t *m = ctx;
        const vcdc_hit_t *hits[2] = {old_hits, new_hits};
        const size_t n[2] = {old_cnt, new_cnt};
        const char **ids[2] = {NULL, NULL}, **truth_ids = NULL;
        const vcdc_exact_hit_t *truth;
        size_t nt, i, s;
        int rc = -1;

        if (q >= m->cnt)
                return 0;
        vcdc_exact_result(m->exact, q, &truth, &nt);
        if (!(truth_ids = calloc(nt + 1, sizeof(*truth_ids))) ||
            !(ids[0] = calloc(old_cnt + 1, sizeof(*ids[0]))) ||
            !(ids[1] = calloc(new_cnt + 1, sizeof(*ids[1])))) {
                snprintf(errstr, errstr_size, "out of memory");
                goto done;
        }
        for (i = 0; i < nt; i++)
                truth_ids[i] = truth[i].id;
        for (s = 0; s < 2; s++) {
                for (i = 0; i < n[s]; i++)
                        ids[s][i] = hits[s][i].id;
                m->recall[s][q] =
                        vcdc_exact_recall(truth_ids, nt, ids[s], n[s], m->k);
        }
        if (m->per_query) {
                vcdc_recall_query_t *pq = &m->per_query[q];
                const char *const *got[2] = {ids[0], ids[1]};
                if (keep(pq, truth, nt, truth_ids, got, n) == -1) {
                        snprintf(errstr, errstr_size, "out of memory");
                        goto done;
                }
                pq->recall[0] = m->recall[0][q];
                pq->recall[1] = m->recall[1][q];
        }
        rc = 0;
done:
        free(truth_ids);
        free(ids[0]);
        free(ids[1]);
        return rc;
}

/* ---- The run ----------------------------------------------------------- */

int vcdc_shadow_recall(vcdc_sink_t *old_sink, vcdc_sink_t *new_sink,
                       const vcdc_shadow_opts_t *sopts,
                       const vcdc_recall_opts_t *ropts,
                       vcdc_shadow_result_t *sres, vcdc_recall_result_t *rres,
                       char *errstr, size_t errstr_size) {
        const vcdc_side_t sides[2] = {{old_sink, "OLD", LOG_COMP, RETRIES},
                                      {new_sink, "NEW", LOG_COMP, RETRIES}};
        const vcdc_side_t *truth_side = &sides[ropts->truth_new ? 1 : 0];
        const vcdc_side_t *other = &sides[ropts->truth_new ? 0 : 1];
        vcdc_shadow_opts_t so = *sopts;
        measure_t m;
        float *vecs = NULL;
        size_t cnt = 0, dim = 0, k, s, have;
        int64_t start_us = vcdc_clock_us();
        int rc = -1;

        memset(rres, 0, sizeof(*rres));
        memset(&m, 0, sizeof(m));
        rres->truth_role = truth_side->role;
        k = sopts->k ? sopts->k : 10;
        if (vcdc_shadow_load_queries(old_sink, sopts, &vecs, &cnt, &dim, errstr,
                                     errstr_size) == -1)
                return -1;
        /* Both sides, before the scan rather than after it. */
        for (s = 0; s < 2; s++)
                if ((have = vcdc_sink_dim(sides[s].sink)) && have != dim) {
                        snprintf(errstr, errstr_size,
                                 "the queries have dimension %zu, %s (%s) "
                                 "has %zu",
                                 dim, sides[s].role,
                                 vcdc_sink_name(sides[s].sink), have);
                        goto done;
                }
        if (vcdc_sink_metric(other->sink) != vcdc_sink_metric(truth_side->sink))
                VCDC_WARN(LOG_COMP,
                          "%s ranks by %s, %s by %s: both are measured "
                          "against %s's %s neighbours",
                          other->role,
                          vcdc_metric_name(vcdc_sink_metric(other->sink)),
                          truth_side->role,
                          vcdc_metric_name(vcdc_sink_metric(truth_side->sink)),
                          truth_side->role,
                          vcdc_metric_name(vcdc_sink_metric(truth_side->sink)));
        m.cnt = ropts->max_queries && ropts->max_queries < cnt
                        ? ropts->max_queries
                        : cnt;
        m.k = k;
        if (scan_truth(truth_side, ropts->page ? ropts->page : PAGE, vecs,
                       m.cnt, dim, k, &m.exact, rres, errstr,
                       errstr_size) == -1)
                goto done;
        for (s = 0; s < 2; s++)
                if (!(m.recall[s] = calloc(m.cnt, sizeof(double)))) {
                        snprintf(errstr, errstr_size, "out of memory");
                        goto done;
                }
        if (ropts->keep_answers &&
            !(m.per_query = calloc(m.cnt, sizeof(*m.per_query)))) {
                snprintf(errstr, errstr_size, "out of memory");
                goto done;
        }
        rres->per_query = m.per_query; /* cleared by the caller from now */
        rres->per_query_cnt = m.per_query ? m.cnt : 0;
        so.vectors = vecs;
        so.vector_cnt = cnt;
        so.vector_dim = dim;
        so.on_answer = on_answer;
        so.answer_ctx = &m;
        if (vcdc_shadow(old_sink, new_sink, &so, sres, errstr, errstr_size) ==
            -1)
                goto done;
        /* The whole run: the queries, the scan, the shadow reads. */
        sres->seconds = (double)(vcdc_clock_us() - start_us) / 1e6;
        rres->queries = m.cnt;
        for (s = 0; s < 2; s++) {
                size_t q;
                rres->min[s] = 1.0;
                for (q = 0; q < m.cnt; q++) {
                        rres->mean[s] += m.recall[s][q] / (double)m.cnt;
                        if (m.recall[s][q] < rres->min[s])
                                rres->min[s] = m.recall[s][q];
                }
                rres->p50[s] = vcdc_shadow_percentile(m.recall[s], m.cnt, 50);
        }
        VCDC_NOTICE(LOG_COMP,
                    "recall@%zu against %s's exact top-k, %zu queries: OLD "
                    "mean %.4f (min %.4f), NEW mean %.4f (min %.4f)",
                    k, truth_side->role, m.cnt, rres->mean[0], rres->min[0],
                    rres->mean[1], rres->min[1]);
        rc = 0;
done:
        vcdc_exact_destroy(m.exact);
        free(m.recall[0]);
        free(m.recall[1]);
        free(vecs);
        return rc;
}

void vcdc_recall_result_clear(vcdc_recall_result_t *rres) {
        size_t q, i, s;

        if (!rres->per_query)
                return;
        for (q = 0; q < rres->per_query_cnt; q++) {
                vcdc_recall_query_t *pq = &rres->per_query[q];
                for (i = 0; pq->truth && i < pq->truth_cnt; i++)
                        free(pq->truth[i]);
                free(pq->truth);
                free(pq->truth_dist);
                for (s = 0; s < 2; s++) {
                        for (i = 0; pq->ids[s] && i < pq->cnt[s]; i++)
                                free(pq->ids[s][i]);
                        free(pq->ids[s]);
                }
        }
        free(rres->per_query);
        rres->per_query = NULL;
        rres->per_query_cnt = 0;
}
