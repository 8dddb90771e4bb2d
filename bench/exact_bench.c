/*
 * exact_bench - the brute-force rate of `vcdc shadow --recall`'s exact
 * top-k (control/exact.h): query x record pairs per second, against the
 * loop one writes first (one record at a time, every query, one running
 * sum, a sorted array per query; query norms computed once, as vcdc does)
 * on the same data.
 *
 * Usage: exact_bench DIM RECORDS QUERIES K ROUNDS
 * Prints one line per round:
 *   "dim records queries k vcdc_pairs_per_s naive_pairs_per_s"
 * Both compute cosine distances in double from float32 vectors; the
 * records go to vcdc_exact_add() in blocks of 500 (a scan's page), and the
 * two answers are checked to hold the same ids. The driver (bench/bench.py)
 * takes medians.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "exact.h"

#define PAGE 500

typedef struct top_s {
        double d;
        size_t r;
} top_t;

static double now_s(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long parse_pos(const char *s) {
        char *end;
        long v = strtol(s, &end, 10);

        return (end == s || *end || v <= 0) ? -1 : v;
}

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static double uniform(void) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        return (double)(rng >> 11) / 9007199254740992.0;
}

/* Clustered: 32 centres, each record a centre plus noise. */
static void fill(float *v, size_t n, size_t dim, const float *centres) {
        size_t i, j;

        for (i = 0; i < n; i++) {
                const float *c = centres + (size_t)(uniform() * 32) * dim;
                for (j = 0; j < dim; j++)
                        v[i * dim + j] = c[j] + (float)(uniform() - 0.5) * 0.4f;
        }
}

/* The first loop: record by record, every query, one sum. */
static void naive(const float *qs, const double *qnorms, size_t nq,
                  const float *xs, size_t n, size_t dim, size_t k, top_t *tops,
                  size_t *lens) {
        size_t r, q, i, j;

        for (r = 0; r < n; r++) {
                const float *x = xs + r * dim;
                double xn = 0;
                for (i = 0; i < dim; i++)
                        xn += (double)x[i] * x[i];
                xn = sqrt(xn);
                for (q = 0; q < nq; q++) {
                        const float *qv = qs + q * dim;
                        double dot = 0, d;
                        top_t *t = tops + q * k;
                        for (i = 0; i < dim; i++)
                                dot += (double)qv[i] * x[i];
                        d = 1.0 - dot / (qnorms[q] * xn);
                        if (lens[q] == k && d >= t[k - 1].d)
                                continue;
                        j = lens[q] < k ? lens[q]++ : k - 1;
                        while (j > 0 && t[j - 1].d > d) {
                                t[j] = t[j - 1];
                                j--;
                        }
                        t[j].d = d;
                        t[j].r = r;
                }
        }
}

int main(int argc, char **argv) {
        long dim, n, nq, k, rounds, round;
        float *centres = NULL, *xs = NULL, *qs = NULL;
        char **ids = NULL, errstr[256];
        top_t *tops = NULL;
        size_t *lens = NULL, i, q;
        double *qnorms = NULL;
        int rc = 1;

        if (argc != 6 || (dim = parse_pos(argv[1])) < 0 ||
            (n = parse_pos(argv[2])) < 0 || (nq = parse_pos(argv[3])) < 0 ||
            (k = parse_pos(argv[4])) < 0 || (rounds = parse_pos(argv[5])) < 0) {
                fprintf(stderr,
                        "usage: exact_bench DIM RECORDS QUERIES K ROUNDS\n");
                return 64;
        }
        if (!(centres = malloc(32 * (size_t)dim * sizeof(float))) ||
            !(xs = malloc((size_t)n * (size_t)dim * sizeof(float))) ||
            !(qs = malloc((size_t)nq * (size_t)dim * sizeof(float))) ||
            !(ids = calloc((size_t)n, sizeof(*ids))) ||
            !(tops = malloc((size_t)nq * (size_t)k * sizeof(*tops))) ||
            !(lens = calloc((size_t)nq, sizeof(*lens))) ||
            !(qnorms = calloc((size_t)nq, sizeof(*qnorms)))) {
                fprintf(stderr, "exact_bench: out of memory\n");
                goto done;
        }
        for (i = 0; i < 32 * (size_t)dim; i++)
                centres[i] = (float)(uniform() * 2 - 1);
        fill(xs, (size_t)n, (size_t)dim, centres);
        fill(qs, (size_t)nq, (size_t)dim, centres);
        for (q = 0; q < (size_t)nq; q++) {
                for (i = 0; i < (size_t)dim; i++)
                        qnorms[q] += (double)qs[q * dim + i] * qs[q * dim + i];
                qnorms[q] = sqrt(qnorms[q]);
        }
        for (i = 0; i < (size_t)n; i++) {
                char buf[32];
                snprintf(buf, sizeof(buf), "doc-%zu", i);
                if (!(ids[i] = strdup(buf)))
                        goto done;
        }
        for (round = 0; round < rounds; round++) {
                vcdc_exact_t *exact = vcdc_exact_new(
                        qs, (size_t)nq, (size_t)dim, (size_t)k,
                        VCDC_METRIC_COSINE, errstr, sizeof(errstr));
                double t0, t_vcdc, t_naive, pairs = (double)n * (double)nq;
                size_t off;

                if (!exact) {
                        fprintf(stderr, "exact_bench: %s\n", errstr);
                        goto done;
                }
                t0 = now_s();
                for (off = 0; off < (size_t)n; off += PAGE) {
                        size_t m =
                                (size_t)n - off < PAGE ? (size_t)n - off : PAGE;
                        if (vcdc_exact_add(exact, xs + off * (size_t)dim,
                                           (const char *const *)ids + off, m,
                                           errstr, sizeof(errstr)) == -1) {
                                fprintf(stderr, "exact_bench: %s\n", errstr);
                                vcdc_exact_destroy(exact);
                                goto done;
                        }
                }
                t_vcdc = now_s() - t0;
                memset(lens, 0, (size_t)nq * sizeof(*lens));
                t0 = now_s();
                naive(qs, qnorms, (size_t)nq, xs, (size_t)n, (size_t)dim,
                      (size_t)k, tops, lens);
                t_naive = now_s() - t0;
                /* The same neighbours (as sets: near-equal distances may
                 * come in another order). */
                for (q = 0; q < (size_t)nq; q++) {
                        const vcdc_exact_hit_t *hits;
                        size_t cnt, a, b;
                        vcdc_exact_result(exact, q, &hits, &cnt);
                        for (a = 0; a < cnt; a++) {
                                for (b = 0; b < lens[q]; b++)
                                        if (!strcmp(hits[a].id,
                                                    ids[tops[q * k + b].r]))
                                                break;
                                if (b == lens[q]) {
                                        fprintf(stderr,
                                                "exact_bench: query %zu: %s "
                                                "is not in the naive top-k\n",
                                                q, hits[a].id);
                                        vcdc_exact_destroy(exact);
                                        goto done;
                                }
                        }
                }
                vcdc_exact_destroy(exact);
                printf("%ld %ld %ld %ld %.0f %.0f\n", dim, n, nq, k,
                       pairs / t_vcdc, pairs / t_naive);
                fflush(stdout);
        }
        rc = 0;
done:
        for (i = 0; ids && i < (size_t)n; i++)
                free(ids[i]);
        free(ids);
        free(tops);
        free(lens);
        free(qnorms);
        free(qs);
        free(xs);
        free(centres);
        return rc;
}
