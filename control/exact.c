/*
 * vcdc - the exact top-k of many queries by brute force (exact.h).
 *
 * The inner loop is queries x records x dim. A block of records is
 * contiguous and small enough to stay in cache while every query runs
 * over it; a query (converted to double once) stays in L1 meanwhile.
 * Four records go through one pass over the query, each with four
 * partial sums, so the adds of sixteen independent chains overlap instead
 * of waiting on one another; the order of the additions is fixed, so a
 * distance is the same on every run. A heap rejects most records with one
 * comparison against its worst, which is kept beside it.
 */
#include "exact.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct vcdc_exact_s {
        size_t cnt, dim, k;
        vcdc_metric_t metric;
        double *queries;         /* cnt * dim, in double */
        double *qnorms;          /* cosine: |q| */
        vcdc_exact_hit_t *heaps; /* cnt * k: a max-heap each, worst first */
        size_t *lens;            /* entries in each heap */
        double *worst;           /* the root's distance once a heap is full,
                                  * +inf before */
        double *xnorms;          /* cosine: |x| of the block's records */
        size_t xnorms_cap;
        double *dists; /* the block's distances to one query */
        size_t dists_cap;
        size_t records;
        int sorted; /* vcdc_exact_result() sorted a heap since the last add */
};

/* a is farther than b: by distance, then by id. */
static int farther(double da, const char *ia, double db, const char *ib) {
        if (da != db)
                return da > db;
        return strcmp(ia, ib) > 0;
}

static void sift_down(vcdc_exact_hit_t *h, size_t len, size_t i) {
        for (;;) {
                size_t l = 2 * i + 1, r = l + 1, m = i;
                vcdc_exact_hit_t t;

                if (l < len &&
                    farther(h[l].distance, h[l].id, h[m].distance, h[m].id))
                        m = l;
                if (r < len &&
                    farther(h[r].distance, h[r].id, h[m].distance, h[m].id))
                        m = r;
                if (m == i)
                        return;
                t = h[i];
                h[i] = h[m];
                h[m] = t;
                i = m;
        }
}

static void sift_up(vcdc_exact_hit_t *h, size_t i) {
        while (i) {
                size_t p = (i - 1) / 2;
                vcdc_exact_hit_t t;

                if (!farther(h[i].distance, h[i].id, h[p].distance, h[p].id))
                        return;
                t = h[i];
                h[i] = h[p];
                h[p] = t;
                i = p;
        }
}

vcdc_exact_t *vcdc_exact_new(const float *queries, size_t cnt, size_t dim,
                             size_t k, vcdc_metric_t metric, char *errstr,
                             size_t errstr_size) {
        vcdc_exact_t *exact;
        size_t q, i;

        if (!cnt || !dim || !k) {
                snprintf(errstr, errstr_size,
                         "exact top-k: %zu queries of dimension %zu, k %zu: "
                         "none may be 0",
                         cnt, dim, k);
                return NULL;
        }
        if (metric != VCDC_METRIC_COSINE && metric != VCDC_METRIC_L2 &&
            metric != VCDC_METRIC_IP) {
                snprintf(errstr, errstr_size, "exact top-k: no metric");
                return NULL;
        }
        if (cnt > SIZE_MAX / dim / sizeof(double) ||
            cnt > SIZE_MAX / k / sizeof(vcdc_exact_hit_t)) {
                snprintf(errstr, errstr_size,
                         "exact top-k: %zu queries are too many", cnt);
                return NULL;
        }
        if (!(exact = calloc(1, sizeof(*exact))))
                goto oom;
        exact->cnt = cnt;
        exact->dim = dim;
        exact->k = k;
        exact->metric = metric;
        if (!(exact->queries = malloc(cnt * dim * sizeof(double))) ||
            !(exact->qnorms = calloc(cnt, sizeof(double))) ||
            !(exact->heaps = calloc(cnt * k, sizeof(vcdc_exact_hit_t))) ||
            !(exact->lens = calloc(cnt, sizeof(size_t))) ||
            !(exact->worst = malloc(cnt * sizeof(double))))
                goto oom;
        for (q = 0; q < cnt; q++) {
                double n2 = 0;

                for (i = 0; i < dim; i++) {
                        double x = queries[q * dim + i];
                        exact->queries[q * dim + i] = x;
                        n2 += x * x;
                }
                exact->qnorms[q] = sqrt(n2);
                exact->worst[q] = INFINITY;
        }
        return exact;
oom:
        vcdc_exact_destroy(exact);
        snprintf(errstr, errstr_size,
                 "exact top-k: out of memory (%zu "
                 "queries, k %zu, dimension %zu)",
                 cnt, k, dim);
        return NULL;
}

void vcdc_exact_destroy(vcdc_exact_t *exact) {
        size_t i;

        if (!exact)
                return;
        if (exact->heaps && exact->lens)
                for (i = 0; i < exact->cnt; i++) {
                        size_t j;
                        for (j = 0; j < exact->lens[i]; j++)
                                free(exact->heaps[i * exact->k + j].id);
                }
        free(exact->queries);
        free(exact->qnorms);
        free(exact->heaps);
        free(exact->lens);
        free(exact->worst);
        free(exact->xnorms);
        free(exact->dists);
        free(exact);
}

/* Offers (d, id) to query q's heap. Returns 0, or -1 out of memory. */
static int offer(vcdc_exact_t *exact, size_t q, double d, const char *id) {
        vcdc_exact_hit_t *h = exact->heaps + q * exact->k;
        size_t *len = &exact->lens[q];
        char *copy;

        if (*len == exact->k && !farther(h[0].distance, h[0].id, d, id))
                return 0;
        if (!(copy = strdup(id)))
                return -1;
        if (*len < exact->k) {
                h[*len].distance = d;
                h[*len].id = copy;
                sift_up(h, (*len)++);
        } else {
                free(h[0].id);
                h[0].distance = d;
                h[0].id = copy;
                sift_down(h, *len, 0);
        }
        if (*len == exact->k)
                exact->worst[q] = h[0].distance;
        return 0;
}

/* The dot products of q with x0..x3 (each dim floats). Four partial sums
 * each, combined in a fixed order. */
static void dot4(const double *q, const float *x0, const float *x1,
                 const float *x2, const float *x3, size_t dim, double out[4]) {
        double a[4][4] = {{0}};
        size_t i, l, r;

        for (i = 0; i + 4 <= dim; i += 4)
                for (l = 0; l < 4; l++) {
                        double ql = q[i + l];
                        a[0][l] += ql * x0[i + l];
                        a[1][l] += ql * x1[i + l];
                        a[2][l] += ql * x2[i + l];
                        a[3][l] += ql * x3[i + l];
                }
        for (; i < dim; i++) {
                a[0][0] += q[i] * x0[i];
                a[1][0] += q[i] * x1[i];
                a[2][0] += q[i] * x2[i];
                a[3][0] += q[i] * x3[i];
        }
        for (r = 0; r < 4; r++)
                out[r] = (a[r][0] + a[r][1]) + (a[r][2] + a[r][3]);
}

/* The same for the squared distances |q - x|^2. */
static void l2sq4(const double *q, const float *x0, const float *x1,
                  const float *x2, const float *x3, size_t dim, double out[4]) {
        double a[4][4] = {{0}}, d;
        size_t i, l, r;

        for (i = 0; i + 4 <= dim; i += 4)
                for (l = 0; l < 4; l++) {
                        double ql = q[i + l];
                        d = ql - x0[i + l];
                        a[0][l] += d * d;
                        d = ql - x1[i + l];
                        a[1][l] += d * d;
                        d = ql - x2[i + l];
                        a[2][l] += d * d;
                        d = ql - x3[i + l];
                        a[3][l] += d * d;
                }
        for (; i < dim; i++) {
                d = q[i] - x0[i];
                a[0][0] += d * d;
                d = q[i] - x1[i];
                a[1][0] += d * d;
                d = q[i] - x2[i];
                a[2][0] += d * d;
                d = q[i] - x3[i];
                a[3][0] += d * d;
        }
        for (r = 0; r < 4; r++)
                out[r] = (a[r][0] + a[r][1]) + (a[r][2] + a[r][3]);
}

/* Distances of query q to the block's n records into exact->dists. */
static void distances(vcdc_exact_t *exact, size_t q, const float *vecs,
                      size_t n) {
        const double *qv = exact->queries + q * exact->dim;
        size_t dim = exact->dim, r, j;
        double *out = exact->dists, qn = exact->qnorms[q], v[4];

        for (r = 0; r < n; r += 4) {
                /* A short last group repeats its last record. */
                const float *x[4];
                for (j = 0; j < 4; j++)
                        x[j] = vecs + (r + j < n ? r + j : n - 1) * dim;
                if (exact->metric == VCDC_METRIC_L2)
                        l2sq4(qv, x[0], x[1], x[2], x[3], dim, v);
                else
                        dot4(qv, x[0], x[1], x[2], x[3], dim, v);
                for (j = 0; j < 4 && r + j < n; j++) {
                        double xn;
                        switch (exact->metric) {
                        case VCDC_METRIC_COSINE:
                                xn = exact->xnorms[r + j];
                                out[r + j] = qn > 0 && xn > 0
                                                     ? 1.0 - v[j] / (qn * xn)
                                                     : INFINITY;
                                break;
                        case VCDC_METRIC_IP:
                                out[r + j] = -v[j];
                                break;
                        default:
                                out[r + j] = v[j];
                                break;
                        }
                }
        }
}

static int grow(double **p, size_t *cap, size_t n) {
        double *np;

        if (n <= *cap)
                return 0;
        if (!(np = realloc(*p, n * sizeof(*np))))
                return -1;
        *p = np;
        *cap = n;
        return 0;
}

int vcdc_exact_add(vcdc_exact_t *exact, const float *vecs,
                   const char *const *ids, size_t n, char *errstr,
                   size_t errstr_size) {
        size_t q, r, i, dim = exact->dim;

        if (!n)
                return 0;
        if (exact->sorted) {
                for (q = 0; q < exact->cnt; q++) {
                        vcdc_exact_hit_t *h = exact->heaps + q * exact->k;
                        for (i = exact->lens[q] / 2; i-- > 0;)
                                sift_down(h, exact->lens[q], i);
                }
                exact->sorted = 0;
        }
        if (grow(&exact->dists, &exact->dists_cap, n) == -1 ||
            (exact->metric == VCDC_METRIC_COSINE &&
             grow(&exact->xnorms, &exact->xnorms_cap, n) == -1))
                goto oom;
        if (exact->metric == VCDC_METRIC_COSINE)
                for (r = 0; r < n; r++) {
                        const float *x = vecs + r * dim;
                        double n2 = 0;
                        for (i = 0; i < dim; i++)
                                n2 += (double)x[i] * x[i];
                        exact->xnorms[r] = sqrt(n2);
                }
        for (q = 0; q < exact->cnt; q++) {
                const double *d = exact->dists;
                double worst;

                distances(exact, q, vecs, n);
                worst = exact->worst[q];
                for (r = 0; r < n; r++) {
                        /* Farther than the worst kept: out, without
                         * looking at the id (equal goes to the heap). */
                        if (d[r] > worst)
                                continue;
                        if (offer(exact, q, d[r], ids[r]) == -1)
                                goto oom;
                        worst = exact->worst[q];
                }
        }
        exact->records += n;
        return 0;
oom:
        snprintf(errstr, errstr_size, "exact top-k: out of memory");
        return -1;
}

static int hit_cmp(const void *a, const void *b) {
        const vcdc_exact_hit_t *x = a, *y = b;

        if (x->distance != y->distance)
                return x->distance < y->distance ? -1 : 1;
        return strcmp(x->id, y->id);
}

void vcdc_exact_result(vcdc_exact_t *exact, size_t q,
                       const vcdc_exact_hit_t **hitsp, size_t *cntp) {
        vcdc_exact_hit_t *h = exact->heaps + q * exact->k;
        size_t len = exact->lens[q];

        /* Sorted nearest first, the array is no longer a max-heap: the
         * next add makes it one again. */
        qsort(h, len, sizeof(*h), hit_cmp);
        exact->sorted = 1;
        *hitsp = h;
        *cntp = len;
}

size_t vcdc_exact_records(const vcdc_exact_t *exact) {
        return exact->records;
}

static int str_ptr_cmp(const void *a, const void *b) {
        return strcmp(*(const char *const *)a, *(const char *const *)b);
}

size_t vcdc_exact_common(const char *const *a, size_t na,
                         const char *const *b, size_t nb) {
        size_t common = 0, i, j;
        const char **sa, **sb;

        if (!(sa = malloc((na + nb + 1) * sizeof(*sa)))) {
                /* Quadratic, but needs no memory. */
                for (i = 0; i < na; i++)
                        for (j = 0; j < nb; j++)
                                if (!strcmp(a[i], b[j])) {
                                        common++;
                                        break;
                                }
                return common;
        }
        sb = sa + na;
        memcpy(sa, a, na * sizeof(*sa));
        memcpy(sb, b, nb * sizeof(*sb));
        qsort(sa, na, sizeof(*sa), str_ptr_cmp);
        qsort(sb, nb, sizeof(*sb), str_ptr_cmp);
        for (i = j = 0; i < na && j < nb;) {
                int c = strcmp(sa[i], sb[j]);

                if (!c) {
                        common++;
                        i++;
                        j++;
                } else if (c < 0) {
                        i++;
                } else {
                        j++;
                }
        }
        free(sa);
        return common;
}

double vcdc_exact_recall(const char *const *truth, size_t nt,
                         const char *const *got, size_t ng, size_t k) {
        if (nt > k)
                nt = k;
        if (ng > k)
                ng = k;
        if (!nt)
                return 1.0;
        return (double)vcdc_exact_common(truth, nt, got, ng) / (double)nt;
}
