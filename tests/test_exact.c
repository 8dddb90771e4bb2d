/*
 * vcdc - unit tests: the exact top-k by brute force (control/exact.h),
 * against a naive reference that computes every distance and sorts them
 * all; and the recall arithmetic.
 *
 * The vectors are small integers, so every dot product and squared
 * distance is exact in double whatever the order of the additions: the
 * kernel and the reference then agree to the bit, and the many equal
 * distances exercise the tie-break by id.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exact.h"

typedef struct ref_s {
        double d;
        const char *id;
} ref_t;

static uint64_t rng = 88172645463325252ULL;

static uint32_t rnd(void) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        return (uint32_t)(rng >> 16);
}

/* The reference distance: one plain loop, as the definition says. */
static double ref_distance(vcdc_metric_t metric, const float *a, const float *b,
                           size_t dim) {
        double dot = 0, na = 0, nb = 0, l2 = 0;
        size_t i;

        for (i = 0; i < dim; i++) {
                dot += (double)a[i] * b[i];
                na += (double)a[i] * a[i];
                nb += (double)b[i] * b[i];
                l2 += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        }
        switch (metric) {
        case VCDC_METRIC_L2:
                return l2;
        case VCDC_METRIC_IP:
                return -dot;
        default:
                if (na == 0 || nb == 0)
                        return INFINITY;
                return 1.0 - dot / (sqrt(na) * sqrt(nb));
        }
}

static int ref_cmp(const void *a, const void *b) {
        const ref_t *x = a, *y = b;

        if (x->d != y->d)
                return x->d < y->d ? -1 : 1;
        return strcmp(x->id, y->id);
}

/* Checks exact's answer to every query against sorting all n records. */
static void check_against_ref(vcdc_exact_t *exact, vcdc_metric_t metric,
                              const float *queries, size_t nq,
                              const float *vecs, char **ids, size_t n,
                              size_t dim, size_t k) {
        ref_t *ref = calloc(n, sizeof(*ref));
        size_t q, r, cnt;

        assert_non_null(ref);
        for (q = 0; q < nq; q++) {
                const vcdc_exact_hit_t *hits;

                for (r = 0; r < n; r++) {
                        ref[r].d = ref_distance(metric, queries + q * dim,
                                                vecs + r * dim, dim);
                        ref[r].id = ids[r];
                }
                qsort(ref, n, sizeof(*ref), ref_cmp);
                vcdc_exact_result(exact, q, &hits, &cnt);
                assert_int_equal(cnt, n < k ? n : k);
                for (r = 0; r < cnt; r++) {
                        if (strcmp(hits[r].id, ref[r].id) ||
                            !(hits[r].distance == ref[r].d ||
                              (isinf(hits[r].distance) && isinf(ref[r].d))))
                                fail_msg("%s, query %zu, rank %zu: got %s "
                                         "(%.17g), want %s (%.17g)",
                                         vcdc_metric_name(metric), q, r,
                                         hits[r].id, hits[r].distance,
                                         ref[r].id, ref[r].d);
                }
        }
        free(ref);
}

/* n records of dim small integers (-3..3) with ids "r<perm>": the ids'
 * order is not the records' order. */
static void make_data(size_t n, size_t dim, float **vecsp, char ***idsp) {
        float *vecs = malloc(n * dim * sizeof(*vecs));
        char **ids = calloc(n, sizeof(*ids));
        size_t i;

        assert_non_null(vecs);
        assert_non_null(ids);
        for (i = 0; i < n * dim; i++)
                vecs[i] = (float)((int)(rnd() % 7) - 3);
        for (i = 0; i < n; i++) {
                char buf[32];
                snprintf(buf, sizeof(buf), "r%zu", (i * 7919) % n);
                ids[i] = strdup(buf);
                assert_non_null(ids[i]);
        }
        *vecsp = vecs;
        *idsp = ids;
}

static void free_data(float *vecs, char **ids, size_t n) {
        size_t i;

        for (i = 0; i < n; i++)
                free(ids[i]);
        free(ids);
        free(vecs);
}

/* Every metric, several k and dimensions (tails of the unrolled loops),
 * the records offered in blocks of random sizes. */
static void test_against_naive_sort(void **state) {
        static const vcdc_metric_t metrics[] = {VCDC_METRIC_COSINE,
                                                VCDC_METRIC_L2, VCDC_METRIC_IP};
        static const size_t ks[] = {1, 3, 10, 64, 700};
        static const size_t dims[] = {1, 3, 4, 7, 16};
        const size_t n = 613, nq = 9;
        char errstr[256];
        size_t m, ki, di;

        (void)state;
        for (di = 0; di < sizeof(dims) / sizeof(dims[0]); di++) {
                size_t dim = dims[di];
                float *vecs, *queries;
                char **ids, **qids;

                make_data(n, dim, &vecs, &ids);
                make_data(nq, dim, &queries, &qids);
                for (m = 0; m < 3; m++)
                        for (ki = 0; ki < sizeof(ks) / sizeof(ks[0]); ki++) {
                                vcdc_exact_t *exact = vcdc_exact_new(
                                        queries, nq, dim, ks[ki], metrics[m],
                                        errstr, sizeof(errstr));
                                size_t off = 0;

                                assert_non_null(exact);
                                while (off < n) {
                                        size_t b = 1 + rnd() % 37;
                                        if (b > n - off)
                                                b = n - off;
                                        assert_int_equal(
                                                vcdc_exact_add(
                                                        exact, vecs + off * dim,
                                                        (const char *const *)
                                                                        ids +
                                                                off,
                                                        b, errstr,
                                                        sizeof(errstr)),
                                                0);
                                        off += b;
                                }
                                assert_int_equal(vcdc_exact_records(exact), n);
                                check_against_ref(exact, metrics[m], queries,
                                                  nq, vecs, ids, n, dim,
                                                  ks[ki]);
                                vcdc_exact_destroy(exact);
                        }
                free_data(vecs, ids, n);
                free_data(queries, qids, nq);
        }
}

/* Identical vectors: every distance ties, so the answer is the k smallest
 * ids, whatever order they come in. */
static void test_ties_by_id(void **state) {
        static const char *const fwd[] = {"e", "a", "d", "b", "c", "aa"};
        static const char *const rev[] = {"aa", "c", "b", "d", "a", "e"};
        static const char *const want[] = {"a", "aa", "b"};
        const float q[2] = {1, 2}, v[12] = {3, 1, 3, 1, 3, 1, 3, 1, 3, 1, 3, 1};
        const char *const *orders[2] = {fwd, rev};
        char errstr[256];
        size_t o, i, cnt, m;

        (void)state;
        for (m = VCDC_METRIC_COSINE; m <= VCDC_METRIC_IP; m++)
                for (o = 0; o < 2; o++) {
                        vcdc_exact_t *exact =
                                vcdc_exact_new(q, 1, 2, 3, (vcdc_metric_t)m,
                                               errstr, sizeof(errstr));
                        const vcdc_exact_hit_t *hits;

                        assert_non_null(exact);
                        /* One at a time, then the rest in one block. */
                        assert_int_equal(vcdc_exact_add(exact, v, orders[o], 1,
                                                        errstr, sizeof(errstr)),
                                         0);
                        assert_int_equal(vcdc_exact_add(exact, v + 2,
                                                        orders[o] + 1, 5,
                                                        errstr, sizeof(errstr)),
                                         0);
                        vcdc_exact_result(exact, 0, &hits, &cnt);
                        assert_int_equal(cnt, 3);
                        for (i = 0; i < 3; i++)
                                assert_string_equal(hits[i].id, want[i]);
                        vcdc_exact_destroy(exact);
                }
}

/* Fewer records than k; a zero vector under cosine is farthest; adding
 * after a result was read is still right (the heap is rebuilt). */
static void test_small_zero_and_add_after_result(void **state) {
        const float q[2] = {1, 0};
        const float v[8] = {0, 0, 0, 1, 1, 0, -1, 0};
        const char *const ids[4] = {"zero", "up", "same", "opposite"};
        const float more[2] = {1, 0.5f};
        const char *const more_id[1] = {"near"};
        const vcdc_exact_hit_t *hits;
        vcdc_exact_t *exact;
        char errstr[256];
        size_t cnt;

        (void)state;
        exact = vcdc_exact_new(q, 1, 2, 10, VCDC_METRIC_COSINE, errstr,
                               sizeof(errstr));
        assert_non_null(exact);
        assert_int_equal(
                vcdc_exact_add(exact, v, ids, 4, errstr, sizeof(errstr)), 0);
        vcdc_exact_result(exact, 0, &hits, &cnt);
        assert_int_equal(cnt, 4);
        assert_string_equal(hits[0].id, "same");
        assert_true(hits[0].distance == 0.0);
        assert_string_equal(hits[1].id, "up");
        assert_true(hits[1].distance == 1.0);
        assert_string_equal(hits[2].id, "opposite");
        assert_true(hits[2].distance == 2.0);
        assert_string_equal(hits[3].id, "zero");
        assert_true(isinf(hits[3].distance));
        vcdc_exact_destroy(exact);

        /* k = 2: read, add a nearer one, read again. */
        exact = vcdc_exact_new(q, 1, 2, 2, VCDC_METRIC_L2, errstr,
                               sizeof(errstr));
        assert_non_null(exact);
        assert_int_equal(
                vcdc_exact_add(exact, v, ids, 4, errstr, sizeof(errstr)), 0);
        vcdc_exact_result(exact, 0, &hits, &cnt);
        assert_int_equal(cnt, 2);
        assert_string_equal(hits[0].id, "same"); /* 0 */
        assert_string_equal(hits[1].id, "zero"); /* 1 (up: 2) */
        assert_int_equal(
                vcdc_exact_add(exact, more, more_id, 1, errstr, sizeof(errstr)),
                0);
        vcdc_exact_result(exact, 0, &hits, &cnt);
        assert_int_equal(cnt, 2);
        assert_string_equal(hits[0].id, "same");
        assert_string_equal(hits[1].id, "near"); /* 0.25 */
        assert_true(hits[1].distance == 0.25);
        vcdc_exact_destroy(exact);
}

static void test_zero_is_farther_only_under_cosine(void **state) {
        const float q[2] = {1, 0};
        const float v[4] = {0, 0, 3, 3};
        const char *const ids[2] = {"zero", "far"};
        const vcdc_exact_hit_t *hits;
        vcdc_exact_t *exact;
        char errstr[256];
        size_t cnt;

        (void)state;
        /* l2: |q - 0|^2 = 1 < |q - (3,3)|^2 = 13 */
        exact = vcdc_exact_new(q, 1, 2, 1, VCDC_METRIC_L2, errstr,
                               sizeof(errstr));
        assert_non_null(exact);
        assert_int_equal(
                vcdc_exact_add(exact, v, ids, 2, errstr, sizeof(errstr)), 0);
        vcdc_exact_result(exact, 0, &hits, &cnt);
        assert_int_equal(cnt, 1);
        assert_string_equal(hits[0].id, "zero");
        assert_true(hits[0].distance == 1.0);
        vcdc_exact_destroy(exact);
        /* ip: -0 > -3 */
        exact = vcdc_exact_new(q, 1, 2, 1, VCDC_METRIC_IP, errstr,
                               sizeof(errstr));
        assert_non_null(exact);
        assert_int_equal(
                vcdc_exact_add(exact, v, ids, 2, errstr, sizeof(errstr)), 0);
        vcdc_exact_result(exact, 0, &hits, &cnt);
        assert_string_equal(hits[0].id, "far");
        assert_true(hits[0].distance == -3.0);
        vcdc_exact_destroy(exact);
}

static void test_new_refuses(void **state) {
        const float q[2] = {1, 0};
        char errstr[256];

        (void)state;
        assert_null(vcdc_exact_new(q, 0, 2, 1, VCDC_METRIC_L2, errstr,
                                   sizeof(errstr)));
        assert_non_null(strstr(errstr, "none may be 0"));
        assert_null(vcdc_exact_new(q, 1, 0, 1, VCDC_METRIC_L2, errstr,
                                   sizeof(errstr)));
        assert_null(vcdc_exact_new(q, 1, 2, 0, VCDC_METRIC_L2, errstr,
                                   sizeof(errstr)));
        assert_null(vcdc_exact_new(q, 1, 2, 1, VCDC_METRIC_UNSET, errstr,
                                   sizeof(errstr)));
        assert_non_null(strstr(errstr, "no metric"));
        assert_null(vcdc_exact_new(q, SIZE_MAX / 2, 2, 1, VCDC_METRIC_L2,
                                   errstr, sizeof(errstr)));
        assert_non_null(strstr(errstr, "too many"));
}

static void test_recall_table(void **state) {
        static const char *const t[] = {"a", "b", "c", "d"};
        static const char *const all[] = {"d", "c", "b", "a"};
        static const char *const half[] = {"a", "x", "c", "y"};
        static const char *const none[] = {"x", "y", "z", "w"};
        static const char *const short2[] = {"b", "a"};
        static const char *const late[] = {"x", "y", "z", "a", "b"};
        static const struct {
                const char *const *truth;
                size_t nt;
                const char *const *got;
                size_t ng, k;
                double want;
        } cases[] = {
                {t, 4, all, 4, 4, 1.0}, /* order does not matter */
                {t, 4, half, 4, 4, 0.5},    {t, 4, none, 4, 4, 0.0},
                {t, 4, short2, 2, 4, 0.5},  /* a short answer misses */
                {t, 4, late, 5, 4, 0.25},   /* past k does not count */
                {t, 4, late, 5, 5, 0.5},    /* the truth counts to min(nt,k) */
                {t, 2, short2, 2, 10, 1.0}, /* a collection smaller than k */
                {t, 0, none, 4, 4, 1.0},    /* no truth: nothing to miss */
                {t, 4, none, 0, 4, 0.0},    /* an empty answer */
                {t, 4, half, 4, 1, 1.0},    /* k = 1: "a" */
        };
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                double got = vcdc_exact_recall(cases[i].truth, cases[i].nt,
                                               cases[i].got, cases[i].ng,
                                               cases[i].k);
                if (fabs(got - cases[i].want) > 1e-12)
                        fail_msg("case %zu: recall %g, want %g", i, got,
                                 cases[i].want);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_against_naive_sort),
                cmocka_unit_test(test_ties_by_id),
                cmocka_unit_test(test_small_zero_and_add_after_result),
                cmocka_unit_test(test_zero_is_farther_only_under_cosine),
                cmocka_unit_test(test_new_refuses),
                cmocka_unit_test(test_recall_table),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
