/*
 * vcdc - unit tests: verification and shadow reads, the parts that need no
 * database: digests and record comparison, accounting, partition
 * planning, overlap@k and rank agreement, percentiles, the queries-file
 * parser, and the commands' usage errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "shadow.h"
#include "verify.h"

#define DIM 8

/* A record with vector base[i] + i / 8 (i < dim), metadata and document
 * (either may be NULL). The strings are copied. */
static void make(vcdc_record_t *rec, const char *id, float base, size_t dim,
                 const char *metadata, const char *document) {
        size_t i;

        vcdc_record_init(rec);
        rec->id = strdup(id);
        if (dim) {
                rec->dim = dim;
                rec->vector = malloc(dim * sizeof(float));
                for (i = 0; i < dim; i++)
                        rec->vector[i] = base + (float)i / 8.0f;
        }
        rec->metadata = metadata ? strdup(metadata) : NULL;
        rec->document = document ? strdup(document) : NULL;
}

/* ---- Digest and comparison --------------------------------------------- */

enum { DIGEST_ANY = -1, DIGEST_DIFF = 0, DIGEST_SAME = 1 };

/* How the NEW record of a case departs from OLD's. */
enum {
        NONE,
        NUDGE_ULP,   /* one component one float32 ulp up */
        NUDGE_SMALL, /* one component + 5e-7 */
        NUDGE_BIG,   /* one component + 1e-3 */
        SHORTER,     /* one dimension less */
        NO_VECTOR,   /* no vector at all */
        NEG_ZERO,    /* OLD has +0.0, NEW -0.0 in one component */
};

static void test_compare_table(void **state) {
        static const struct {
                const char *what;
                const char *old_meta, *new_meta;
                const char *old_doc, *new_doc;
                int nudge;
                double tolerance;
                int mask;
                int digest;
        } cases[] = {
                {"equal", "{\"a\":1,\"b\":\"x\"}", "{\"a\":1,\"b\":\"x\"}",
                 "doc", "doc", NONE, 1e-6, 0, DIGEST_SAME},
                {"equal, no metadata or document", NULL, NULL, NULL, NULL, NONE,
                 1e-6, 0, DIGEST_SAME},
                {"vector within tolerance (1 ulp)", NULL, NULL, NULL, NULL,
                 NUDGE_ULP, 1e-6, 0, DIGEST_DIFF},
                {"vector within tolerance (5e-7)", NULL, NULL, NULL, NULL,
                 NUDGE_SMALL, 1e-6, 0, DIGEST_DIFF},
                {"vector beyond tolerance", NULL, NULL, NULL, NULL, NUDGE_BIG,
                 1e-6, VCDC_VERIFY_VECTOR, DIGEST_DIFF},
                {"vector 5e-7 off, tolerance 1e-7", NULL, NULL, NULL, NULL,
                 NUDGE_SMALL, 1e-7, VCDC_VERIFY_VECTOR, DIGEST_DIFF},
                {"1 ulp off, exact comparison", NULL, NULL, NULL, NULL,
                 NUDGE_ULP, -1, VCDC_VERIFY_VECTOR, DIGEST_DIFF},
                {"other dimension", NULL, NULL, NULL, NULL, SHORTER, 1e-6,
                 VCDC_VERIFY_VECTOR, DIGEST_DIFF},
                {"no vector on one side", NULL, NULL, NULL, NULL, NO_VECTOR,
                 1e-6, VCDC_VERIFY_VECTOR, DIGEST_DIFF},
                {"-0.0 and 0.0", NULL, NULL, NULL, NULL, NEG_ZERO, -1, 0,
                 DIGEST_SAME},
                {"metadata key order", "{\"a\":1,\"b\":\"x\",\"c\":[1,2]}",
                 "{\"c\":[1,2],\"b\":\"x\",\"a\":1}", NULL, NULL, NONE, 1e-6, 0,
                 DIGEST_SAME},
                {"nested key order", "{\"o\":{\"x\":1,\"y\":{\"p\":true}}}",
                 "{\"o\":{\"y\":{\"p\":true},\"x\":1}}", NULL, NULL, NONE, 1e-6,
                 0, DIGEST_SAME},
                {"blanks in metadata text", "{\"a\": 1, \"b\": null}",
                 "{\"b\":null,\"a\":1}", NULL, NULL, NONE, 1e-6, 0,
                 DIGEST_SAME},
                {"integer and real of one value", "{\"n\":1,\"f\":0.5}",
                 "{\"n\":1.0,\"f\":0.5}", NULL, NULL, NONE, 1e-6, 0,
                 DIGEST_SAME},
                {"no metadata and {}", NULL, "{}", NULL, NULL, NONE, 1e-6, 0,
                 DIGEST_SAME},
                {"no metadata and some", NULL, "{\"a\":1}", NULL, NULL, NONE,
                 1e-6, VCDC_VERIFY_METADATA, DIGEST_DIFF},
                {"metadata value changed", "{\"a\":1,\"b\":\"x\"}",
                 "{\"a\":1,\"b\":\"y\"}", NULL, NULL, NONE, 1e-6,
                 VCDC_VERIFY_METADATA, DIGEST_DIFF},
                /* Chroma's parser stores some doubles an ulp away. */
                {"metadata real 1 ulp off", "{\"r\":3.8000000000000003}",
                 "{\"r\":3.8}", NULL, NULL, NONE, 1e-6, 0, DIGEST_DIFF},
                {"metadata real 1e-12 off", "{\"r\":3.8}",
                 "{\"r\":3.800000000001}", NULL, NULL, NONE, 1e-6,
                 VCDC_VERIFY_METADATA, DIGEST_DIFF},
                {"metadata real sign", "{\"r\":1e-300}", "{\"r\":-1e-300}",
                 NULL, NULL, NONE, 1e-6, VCDC_VERIFY_METADATA, DIGEST_DIFF},
                {"metadata number changed", "{\"n\":1}", "{\"n\":1.5}", NULL,
                 NULL, NONE, 1e-6, VCDC_VERIFY_METADATA, DIGEST_DIFF},
                {"metadata type changed", "{\"n\":1}", "{\"n\":\"1\"}", NULL,
                 NULL, NONE, 1e-6, VCDC_VERIFY_METADATA, DIGEST_DIFF},
                {"metadata key added", "{\"a\":1}", "{\"a\":1,\"b\":2}", NULL,
                 NULL, NONE, 1e-6, VCDC_VERIFY_METADATA, DIGEST_DIFF},
                {"metadata key renamed", "{\"a\":1}", "{\"b\":1}", NULL, NULL,
                 NONE, 1e-6, VCDC_VERIFY_METADATA, DIGEST_DIFF},
                {"array order matters", "{\"t\":[1,2]}", "{\"t\":[2,1]}", NULL,
                 NULL, NONE, 1e-6, VCDC_VERIFY_METADATA, DIGEST_DIFF},
                {"true and 1 differ", "{\"t\":true}", "{\"t\":1}", NULL, NULL,
                 NONE, 1e-6, VCDC_VERIFY_METADATA, DIGEST_DIFF},
                {"not JSON, same text", "{oops", "{oops", NULL, NULL, NONE,
                 1e-6, 0, DIGEST_SAME},
                {"not JSON, other text", "{oops", "{oops!", NULL, NULL, NONE,
                 1e-6, VCDC_VERIFY_METADATA, DIGEST_DIFF},
                {"not JSON and JSON", "{oops", "{}", NULL, NULL, NONE, 1e-6,
                 VCDC_VERIFY_METADATA, DIGEST_DIFF},
                {"document changed", NULL, NULL, "the cat", "the hat", NONE,
                 1e-6, VCDC_VERIFY_DOCUMENT, DIGEST_DIFF},
                {"no document and empty", NULL, NULL, NULL, "", NONE, 1e-6,
                 VCDC_VERIFY_DOCUMENT, DIGEST_DIFF},
                {"document case", NULL, NULL, "Doc", "doc", NONE, 1e-6,
                 VCDC_VERIFY_DOCUMENT, DIGEST_DIFF},
                {"everything", "{\"a\":1}", "{\"a\":2}", "x", "y", NUDGE_BIG,
                 1e-6,
                 VCDC_VERIFY_VECTOR | VCDC_VERIFY_METADATA |
                         VCDC_VERIFY_DOCUMENT,
                 DIGEST_DIFF},
        };
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                vcdc_record_t o, n;
                int mask;

                make(&o, "id-1", 0.25f, DIM, cases[i].old_meta,
                     cases[i].old_doc);
                make(&n, "id-1", 0.25f, DIM, cases[i].new_meta,
                     cases[i].new_doc);
                switch (cases[i].nudge) {
                case NUDGE_ULP:
                        n.vector[3] = nextafterf(n.vector[3], 2.0f);
                        break;
                case NUDGE_SMALL:
                        n.vector[3] += 5e-7f;
                        break;
                case NUDGE_BIG:
                        n.vector[3] += 1e-3f;
                        break;
                case SHORTER:
                        n.dim--;
                        break;
                case NO_VECTOR:
                        free(n.vector);
                        n.vector = NULL;
                        n.dim = 0;
                        break;
                case NEG_ZERO:
                        o.vector[2] = 0.0f;
                        n.vector[2] = -0.0f;
                        break;
                }
                mask = vcdc_verify_compare(&o, &n, cases[i].tolerance);
                if (mask != cases[i].mask)
                        fail_msg("%s: mask %d, expected %d", cases[i].what,
                                 mask, cases[i].mask);
                /* Symmetric. */
                if (vcdc_verify_compare(&n, &o, cases[i].tolerance) != mask)
                        fail_msg("%s: not symmetric", cases[i].what);
                if (cases[i].digest != DIGEST_ANY &&
                    (vcdc_verify_digest(&o) == vcdc_verify_digest(&n)) !=
                            cases[i].digest)
                        fail_msg("%s: digests %s", cases[i].what,
                                 cases[i].digest ? "differ" : "are equal");
                /* Equal digests must mean equal records. */
                if (vcdc_verify_digest(&o) == vcdc_verify_digest(&n))
                        assert_int_equal(vcdc_verify_compare(&o, &n, -1), 0);
                vcdc_record_clear(&o);
                vcdc_record_clear(&n);
        }
}

static void test_digest_stable(void **state) {
        vcdc_record_t a, b;
        uint64_t d;

        (void)state;
        /* The id is not part of the digest; every byte of the rest is. */
        make(&a, "x", 1.0f, 3, "{\"k\":\"v\"}", "text");
        make(&b, "y", 1.0f, 3, "{\"k\":\"v\"}", "text");
        d = vcdc_verify_digest(&a);
        assert_true(d == vcdc_verify_digest(&a));
        assert_true(d == vcdc_verify_digest(&b));
        b.document[3] = 'T';
        assert_true(d != vcdc_verify_digest(&b));
        b.document[3] = 't';
        b.vector[2] = 1.25f + 1.0f / 8; /* was 1.25 */
        assert_true(d != vcdc_verify_digest(&b));
        vcdc_record_clear(&a);
        vcdc_record_clear(&b);
        /* The vector's length is part of it: [x] vs [x, 0]. */
        make(&a, "x", 0.0f, 1, NULL, NULL);
        make(&b, "x", 0.0f, 2, NULL, NULL);
        b.vector[1] = 0.0f;
        assert_true(vcdc_verify_digest(&a) != vcdc_verify_digest(&b));
        vcdc_record_clear(&a);
        vcdc_record_clear(&b);
}

static void test_metadata_equal(void **state) {
        (void)state;
        assert_true(vcdc_verify_metadata_equal(NULL, NULL));
        assert_true(vcdc_verify_metadata_equal(NULL, "{}"));
        assert_true(vcdc_verify_metadata_equal("null", NULL));
        assert_true(vcdc_verify_metadata_equal("{\"a\":[1,{\"b\":2.0}]}",
                                               "{\"a\":[1.0,{\"b\":2}]}"));
        assert_false(vcdc_verify_metadata_equal("{\"a\":1e300}", "{\"a\":1}"));
        assert_false(vcdc_verify_metadata_equal("{\"a\":0.1}",
                                                "{\"a\":0.10000001}"));
        assert_false(vcdc_verify_metadata_equal("{\"a\":{}}", "{}"));
        assert_false(vcdc_verify_metadata_equal("{\"a\":null}", "{}"));
}

/* ---- Accounting --------------------------------------------------------- */

static void test_account(void **state) {
        vcdc_verify_result_t res;
        vcdc_record_t o, n, absent;
        char id[32];
        int i;

        (void)state;
        memset(&res, 0, sizeof(res));
        vcdc_record_init(&absent);
        make(&o, "a", 0.5f, DIM, "{\"x\":1}", "doc");
        make(&n, "a", 0.5f, DIM, "{\"x\":1}", "doc");
        vcdc_verify_account(&res, "a", &o, &n, 1e-6);
        assert_int_equal(res.compared, 1);
        assert_true(vcdc_verify_ok(&res));

        vcdc_verify_account(&res, "gone", &o, &absent, 1e-6);
        vcdc_verify_account(&res, "new", NULL, &n, 1e-6);
        vcdc_verify_account(&res, "nowhere", &absent, NULL, 1e-6);
        assert_int_equal(res.missing, 1);
        assert_string_equal(res.missing_ex[0], "gone");
        assert_int_equal(res.extra, 1);
        assert_string_equal(res.extra_ex[0], "new");
        assert_int_equal(res.compared, 1);
        assert_false(vcdc_verify_ok(&res));

        /* A record can differ in several ways at once. */
        n.vector[0] += 0.5f;
        free(n.document);
        n.document = strdup("other");
        vcdc_verify_account(&res, "b", &o, &n, 1e-6);
        assert_int_equal(res.compared, 2);
        assert_int_equal(res.vector_diff, 1);
        assert_int_equal(res.document_diff, 1);
        assert_int_equal(res.metadata_diff, 0);
        assert_string_equal(res.vector_ex[0], "b");
        assert_string_equal(res.document_ex[0], "b");

        /* Only the first few examples are kept; the count goes on. */
        for (i = 0; i < 12; i++) {
                snprintf(id, sizeof(id), "m%d", i);
                vcdc_verify_account(&res, id, &o, NULL, 1e-6);
        }
        assert_int_equal(res.missing, 13);
        assert_string_equal(res.missing_ex[0], "gone");
        assert_string_equal(res.missing_ex[VCDC_VERIFY_EXAMPLES - 1], "m3");

        /* Long ids are cut to fit, still NUL-terminated. */
        memset(&res, 0, sizeof(res));
        {
                char longid[300];
                memset(longid, 'z', sizeof(longid) - 1);
                longid[sizeof(longid) - 1] = '\0';
                vcdc_verify_account(&res, longid, NULL, &n, 1e-6);
                assert_int_equal(strlen(res.extra_ex[0]), 127);
        }
        vcdc_record_clear(&o);
        vcdc_record_clear(&n);
}

static void test_ok_sample_counts(void **state) {
        vcdc_verify_result_t res;

        (void)state;
        memset(&res, 0, sizeof(res));
        res.old_count = 10;
        res.new_count = 11;
        /* Full mode: the counts follow from missing and extra. */
        assert_true(vcdc_verify_ok(&res));
        /* Sample mode cannot see extras: unequal counts fail it. */
        res.sampled = 5;
        assert_false(vcdc_verify_ok(&res));
        res.new_count = 10;
        assert_true(vcdc_verify_ok(&res));
        res.metadata_diff = 1;
        assert_false(vcdc_verify_ok(&res));
}

/* ---- Partition planning ------------------------------------------------- */

static void test_partitions(void **state) {
        static const struct {
                uint64_t count;
                size_t id_len, memory;
                uint64_t parts;
        } cases[] = {
                {0, 16, VCDC_VERIFY_MEMORY_DEFAULT, 1},
                {1, 500, VCDC_VERIFY_MEMORY_MIN, 1},
                /* 1,000,000 short ids fit the default budget at once. */
                {1000000, 11, VCDC_VERIFY_MEMORY_DEFAULT, 1},
                {1000000, 16, VCDC_VERIFY_MEMORY_DEFAULT, 1},
                /* UUIDs do not: two passes. */
                {1000000, 36, VCDC_VERIFY_MEMORY_DEFAULT, 2},
                {10000000, 16, VCDC_VERIFY_MEMORY_DEFAULT, 16},
                {3000, 10, VCDC_VERIFY_MEMORY_MIN, 4},
                /* Below the minimum, the minimum applies. */
                {3000, 10, 1024, 4},
        };
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                uint64_t p = vcdc_verify_partitions(
                        cases[i].count, cases[i].id_len, cases[i].memory);
                if (p != cases[i].parts)
                        fail_msg("case %zu: %llu partitions, expected %llu", i,
                                 (unsigned long long)p,
                                 (unsigned long long)cases[i].parts);
                /* A power of two. */
                assert_int_equal(p & (p - 1), 0);
        }
}

/* ---- Overlap, rank agreement, percentiles ------------------------------- */

static void test_overlap_rank(void **state) {
        static const char *a[] = {"a", "b", "c", "d", "e"};
        static const char *same[] = {"a", "b", "c", "d", "e"};
        static const char *shuffled[] = {"b", "a", "c", "e", "d"};
        static const char *half[] = {"a", "x", "c", "y", "z"};
        static const char *none[] = {"v", "w", "x", "y", "z"};
        static const struct {
                const char *const *b;
                size_t na, nb, k;
                double overlap;
                size_t matches, positions;
        } cases[] = {
                {same, 5, 5, 5, 1.0, 5, 5},
                {shuffled, 5, 5, 5, 1.0, 1, 5},
                {half, 5, 5, 5, 0.4, 2, 5},
                {none, 5, 5, 5, 0.0, 0, 5},
                /* Both answers shorter than k (a small target): they
                 * agree fully. */
                {same, 5, 5, 10, 1.0, 5, 5},
                /* NEW answers less than OLD. */
                {same, 5, 3, 5, 0.6, 3, 5},
                {same, 3, 5, 5, 0.6, 3, 5},
                /* Answers longer than k count up to k. */
                {same, 5, 5, 3, 1.0, 3, 3},
                {half, 5, 5, 2, 0.5, 1, 2},
                {same, 0, 0, 10, 1.0, 0, 0},
                {same, 0, 4, 10, 0.0, 0, 4},
        };
        size_t i, positions;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                double o = vcdc_shadow_overlap(a, cases[i].na, cases[i].b,
                                               cases[i].nb, cases[i].k);
                size_t m = vcdc_shadow_rank_matches(a, cases[i].na, cases[i].b,
                                                    cases[i].nb, cases[i].k,
                                                    &positions);
                if (fabs(o - cases[i].overlap) > 1e-12)
                        fail_msg("case %zu: overlap %g, expected %g", i, o,
                                 cases[i].overlap);
                assert_int_equal(m, cases[i].matches);
                assert_int_equal(positions, cases[i].positions);
        }
}

static void test_percentile(void **state) {
        double v[100], one[1] = {7.5}, few[] = {3, 1, 2, 5, 4};
        size_t i;

        (void)state;
        /* 100 values, given in reverse. */
        for (i = 0; i < 100; i++)
                v[i] = (double)(100 - i);
        assert_true(vcdc_shadow_percentile(v, 100, 50) == 50);
        assert_true(vcdc_shadow_percentile(v, 100, 99) == 99);
        assert_true(vcdc_shadow_percentile(v, 100, 100) == 100);
        assert_true(vcdc_shadow_percentile(v, 100, 0) == 1);
        assert_true(vcdc_shadow_percentile(v, 100, 99.5) == 100);
        assert_true(vcdc_shadow_percentile(one, 1, 50) == 7.5);
        assert_true(vcdc_shadow_percentile(one, 1, 99) == 7.5);
        /* Nearest rank: the 50th percentile of 5 values is the 3rd. */
        assert_true(vcdc_shadow_percentile(few, 5, 50) == 3);
        assert_true(vcdc_shadow_percentile(few, 5, 99) == 5);
        assert_true(vcdc_shadow_percentile(few, 5, 20) == 1);
        assert_true(vcdc_shadow_percentile(few, 5, 21) == 2);
        assert_true(vcdc_shadow_percentile(NULL, 0, 50) == 0);
}

/* ---- The queries file --------------------------------------------------- */

static void test_parse_query_valid(void **state) {
        static const struct {
                const char *line;
                size_t dim_before;
                int rc;
                size_t dim;
                float first, last;
        } cases[] = {
                {"{\"vector\":[1,2,3]}", 0, 1, 3, 1, 3},
                {"{\"vector\": [1.5e-3, -2, 0]}\n", 3, 1, 3, 1.5e-3f, 0},
                {"{\"id\":\"q1\",\"vector\":[0.25],\"k\":5}\r\n", 0, 1, 1,
                 0.25f, 0.25f},
                {"  {\"vector\":[-1e-40, 3.4e38]}  ", 0, 1, 2, -1e-40f,
                 3.4e38f},
                {"", 0, 0, 0, 0, 0},
                {"   \t\r\n", 3, 0, 0, 0, 0},
        };
        size_t i, dim;
        float *vec;
        char err[256];

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                int rc = vcdc_shadow_parse_query(
                        cases[i].line, strlen(cases[i].line),
                        cases[i].dim_before, &vec, &dim, err, sizeof(err));
                if (rc != cases[i].rc)
                        fail_msg("\"%s\": %d (%s)", cases[i].line, rc,
                                 rc == -1 ? err : "");
                assert_int_equal(dim, cases[i].dim);
                if (rc == 1) {
                        assert_true(vec[0] == cases[i].first);
                        assert_true(vec[dim - 1] == cases[i].last);
                } else {
                        assert_null(vec);
                }
                free(vec);
        }
}

static void test_parse_query_invalid(void **state) {
        static const struct {
                const char *line;
                size_t dim_before;
                const char *expect;
        } cases[] = {
                {"not json", 0, "not JSON"},
                {"{\"vector\":[1,2]", 0, "not JSON"},
                {"[1,2,3]", 0, "expected an object"},
                {"{\"v\":[1]}", 0, "no \"vector\" member"},
                {"{\"vector\":\"1,2\"}", 0, "\"vector\" is not an array"},
                {"{\"vector\":[]}", 0, "has 0 numbers"},
                {"{\"vector\":[1,\"2\"]}", 0, "vector[1] is not a number"},
                {"{\"vector\":[1,null]}", 0, "vector[1] is not a number"},
                {"{\"vector\":[1e39]}", 0,
                 "vector[0] = 1e+39 is out of "
                 "float32 range"},
                {"{\"vector\":[1,2]}", 3,
                 "vector of dimension 2, earlier "
                 "queries have 3"},
                {"{\"vector\":[1],\"vector\":[2]}", 0, "not JSON"},
                {"{\"vector\":[1]} {\"vector\":[2]}", 0, "not JSON"},
        };
        size_t i, dim;
        float *vec;
        char err[256];

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                err[0] = '\0';
                if (vcdc_shadow_parse_query(cases[i].line,
                                            strlen(cases[i].line),
                                            cases[i].dim_before, &vec, &dim,
                                            err, sizeof(err)) != -1)
                        fail_msg("\"%s\" parsed", cases[i].line);
                assert_null(vec);
                if (!strstr(err, cases[i].expect))
                        fail_msg("\"%s\": \"%s\" lacks \"%s\"", cases[i].line,
                                 err, cases[i].expect);
        }
}

static void test_read_queries(void **state) {
        static const struct {
                const char *text;
                int rc;
                size_t cnt, dim;
                const char *expect;
        } cases[] = {
                {"{\"vector\":[1,2]}\n\n{\"vector\":[3,4]}\n"
                 "{\"vector\":[5,6]}",
                 0, 3, 2, NULL},
                {"{\"vector\":[1,2]}\n{\"vector\":[3]}\n", -1, 0, 0,
                 "q.jsonl:2: vector of dimension 1, earlier queries have 2"},
                {"\n{\"vector\":[1]}\n{\"vector\":[x]}\n", -1, 0, 0,
                 "q.jsonl:3: not JSON"},
                {"{\"vector\":[1]}\n{\"vector\":[1e300]}\n", -1, 0, 0,
                 "q.jsonl:2: vector[0]"},
                {"", -1, 0, 0, "q.jsonl: no query vectors"},
                {"\n  \n", -1, 0, 0, "q.jsonl: no query vectors"},
        };
        size_t i, cnt, dim;
        char err[256];
        float *vecs;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                FILE *fp = tmpfile();
                int rc;

                assert_non_null(fp);
                fputs(cases[i].text, fp);
                rewind(fp);
                err[0] = '\0';
                rc = vcdc_shadow_read_queries(fp, "q.jsonl", &vecs, &cnt, &dim,
                                              err, sizeof(err));
                fclose(fp);
                if (rc != cases[i].rc)
                        fail_msg("case %zu: %d (%s)", i, rc, err);
                if (rc == 0) {
                        assert_int_equal(cnt, cases[i].cnt);
                        assert_int_equal(dim, cases[i].dim);
                        assert_true(vecs[0] == 1 && vecs[5] == 6);
                        free(vecs);
                } else {
                        assert_null(vecs);
                        if (!strstr(err, cases[i].expect))
                                fail_msg("case %zu: \"%s\" lacks \"%s\"", i,
                                         err, cases[i].expect);
                }
        }
}

/* ---- The commands' usage ------------------------------------------------ */

static int run(int (*cmd)(int, char **), const char *const *args) {
        char *argv[32];
        int argc = 0;

        while (args[argc] && argc < 31) {
                argv[argc] = (char *)args[argc];
                argc++;
        }
        argv[argc] = NULL;
        return cmd(argc, argv);
}

static void test_cli_usage(void **state) {
        static const char *const v_none[] = {"verify", NULL};
        static const char *const v_no_new[] = {"verify", "--old",
                                               "chroma://h/c", NULL};
        static const char *const v_unknown[] = {
                "verify", "--old", "chroma://h/c", "--new", "chroma://h/d",
                "--fast", NULL};
        static const char *const v_sample[] = {
                "verify",       "--old",    "chroma://h/c", "--new",
                "chroma://h/d", "--sample", "many",         NULL};
        static const char *const v_sample0[] = {"verify", "--old=chroma://h/c",
                                                "--new=chroma://h/d",
                                                "--sample=0", NULL};
        static const char *const v_tol[] = {
                "verify",       "--old",       "chroma://h/c", "--new",
                "chroma://h/d", "--tolerance", "-1",           NULL};
        static const char *const v_mem[] = {
                "verify",       "--old",    "chroma://h/c", "--new",
                "chroma://h/d", "--memory", "1K",           NULL};
        static const char *const v_mem2[] = {
                "verify",       "--old",    "chroma://h/c", "--new",
                "chroma://h/d", "--memory", "64Q",          NULL};
        static const char *const v_missing[] = {"verify", "--old",
                                                "chroma://h/c", "--new", NULL};
        static const char *const v_help[] = {"verify", "--help", NULL};
        static const char *const s_both[] = {
                "shadow",    "--old",   "chroma://h/c", "--new", "chroma://h/d",
                "--queries", "q.jsonl", "--sample",     "5",     NULL};
        static const char *const s_neither[] = {"shadow",       "--old",
                                                "chroma://h/c", "--new",
                                                "chroma://h/d", NULL};
        static const char *const s_k0[] = {
                "shadow",   "--old", "chroma://h/c", "--new", "chroma://h/d",
                "--sample", "5",     "-k",           "0",     NULL};
        static const char *const s_kbig[] = {
                "shadow",   "--old", "chroma://h/c", "--new", "chroma://h/d",
                "--sample", "5",     "-k",           "1001",  NULL};
        static const char *const s_min[] = {
                "shadow",   "--old", "chroma://h/c",  "--new", "chroma://h/d",
                "--sample", "5",     "--min-overlap", "1.5",   NULL};
        static const char *const s_help[] = {"shadow", "-h", NULL};
        static const char *const r_norecall[] = {
                "shadow",   "--old", "chroma://h/c", "--new", "chroma://h/d",
                "--sample", "5",     "--min-recall", "0.9",   NULL};
        static const char *const r_minbig[] = {"shadow",
                                               "--old",
                                               "chroma://h/c",
                                               "--new",
                                               "chroma://h/d",
                                               "--sample",
                                               "5",
                                               "--recall",
                                               "--min-recall",
                                               "2",
                                               NULL};
        static const char *const r_truth[] = {
                "shadow",   "--old", "chroma://h/c", "--new",   "chroma://h/d",
                "--sample", "5",     "--recall",     "--truth", "both",
                NULL};
        static const char *const r_nq0[] = {"shadow",
                                            "--old",
                                            "chroma://h/c",
                                            "--new",
                                            "chroma://h/d",
                                            "--sample",
                                            "5",
                                            "--recall",
                                            "--recall-queries",
                                            "0",
                                            NULL};
        static const char *const r_pq[] = {
                "shadow", "--old",        "chroma://h/c",
                "--new",  "chroma://h/d", "--sample",
                "5",      "--recall",     "--per-query",
                NULL};
        int saved_out, saved_err, null_fd;

        (void)state;
        /* Usage texts go to stdout and stderr: keep the test log short. */
        fflush(stdout);
        fflush(stderr);
        saved_out = dup(1);
        saved_err = dup(2);
        null_fd = open("/dev/null", O_WRONLY);
        assert_true(saved_out >= 0 && saved_err >= 0 && null_fd >= 0);
        dup2(null_fd, 1);
        dup2(null_fd, 2);
        assert_int_equal(run(vcdc_cmd_verify, v_none), 64);
        assert_int_equal(run(vcdc_cmd_verify, v_no_new), 64);
        assert_int_equal(run(vcdc_cmd_verify, v_unknown), 64);
        assert_int_equal(run(vcdc_cmd_verify, v_sample), 64);
        assert_int_equal(run(vcdc_cmd_verify, v_sample0), 64);
        assert_int_equal(run(vcdc_cmd_verify, v_tol), 64);
        assert_int_equal(run(vcdc_cmd_verify, v_mem), 64);
        assert_int_equal(run(vcdc_cmd_verify, v_mem2), 64);
        assert_int_equal(run(vcdc_cmd_verify, v_missing), 64);
        assert_int_equal(run(vcdc_cmd_verify, v_help), 0);
        assert_int_equal(run(vcdc_cmd_shadow, s_both), 64);
        assert_int_equal(run(vcdc_cmd_shadow, s_neither), 64);
        assert_int_equal(run(vcdc_cmd_shadow, s_k0), 64);
        assert_int_equal(run(vcdc_cmd_shadow, s_kbig), 64);
        assert_int_equal(run(vcdc_cmd_shadow, s_min), 64);
        assert_int_equal(run(vcdc_cmd_shadow, s_help), 0);
        assert_int_equal(run(vcdc_cmd_shadow, r_norecall), 64);
        assert_int_equal(run(vcdc_cmd_shadow, r_minbig), 64);
        assert_int_equal(run(vcdc_cmd_shadow, r_truth), 64);
        assert_int_equal(run(vcdc_cmd_shadow, r_nq0), 64);
        assert_int_equal(run(vcdc_cmd_shadow, r_pq), 64);
        fflush(stdout);
        fflush(stderr);
        dup2(saved_out, 1);
        dup2(saved_err, 2);
        close(saved_out);
        close(saved_err);
        close(null_fd);
}

/* Nothing listens on 127.0.0.1 port 1: opening fails at once, exit 2. */
static void test_cli_unreachable(void **state) {
        static const char *const v[] = {"verify",
                                        "--old",
                                        "chroma://127.0.0.1:1/coll_a",
                                        "--new",
                                        "chroma://127.0.0.1:1/coll_b",
                                        "--timeout-ms",
                                        "2000",
                                        NULL};
        static const char *const v_scheme[] = {"verify",
                                               "--old",
                                               "mongo://127.0.0.1:1/coll_a",
                                               "--new",
                                               "chroma://127.0.0.1:1/coll_b",
                                               NULL};
        static const char *const s[] = {"shadow",
                                        "--old",
                                        "pgvector://postgres@127.0.0.1:1/db",
                                        "--new",
                                        "chroma://127.0.0.1:1/coll_b",
                                        "--sample",
                                        "3",
                                        NULL};
        static const char *const s_recall[] = {
                "shadow",
                "--old",
                "pgvector://postgres@127.0.0.1:1/db",
                "--new",
                "chroma://127.0.0.1:1/coll_b",
                "--sample",
                "3",
                "--recall",
                "--json",
                "--per-query",
                NULL};

        (void)state;
        assert_int_equal(run(vcdc_cmd_verify, v), 2);
        assert_int_equal(run(vcdc_cmd_verify, v_scheme), 2);
        assert_int_equal(run(vcdc_cmd_shadow, s), 2);
        assert_int_equal(run(vcdc_cmd_shadow, s_recall), 2);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_compare_table),
                cmocka_unit_test(test_digest_stable),
                cmocka_unit_test(test_metadata_equal),
                cmocka_unit_test(test_account),
                cmocka_unit_test(test_ok_sample_counts),
                cmocka_unit_test(test_partitions),
                cmocka_unit_test(test_overlap_rank),
                cmocka_unit_test(test_percentile),
                cmocka_unit_test(test_parse_query_valid),
                cmocka_unit_test(test_parse_query_invalid),
                cmocka_unit_test(test_read_queries),
                cmocka_unit_test(test_cli_usage),
                cmocka_unit_test(test_cli_unreachable),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
