/*
 * vcdc - unit tests: pgvector values in text and binary form
 * (capture/pgvec.h), valid and invalid inputs side by side, and the number
 * parser held to strtof() over many floats and decimals.
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

#include "pgvec.h"

static uint32_t bits_of(float f) {
        uint32_t b;

        memcpy(&b, &f, sizeof(b));
        return b;
}

/* Parses s with vcdc and with strtof and expects the same float. */
static void expect_like_strtof(const char *s) {
        float ours, ref;
        char *end;

        ref = strtof(s, &end);
        assert_true(*end == '\0');
        if (vcdc_pgvec_parse_float(s, strlen(s), &ours) == -1) {
                /* Only what strtof cannot hold as a finite float. */
                if (isfinite(ref))
                        fail_msg("%s refused, strtof gives %.9g", s, ref);
                return;
        }
        if (bits_of(ours) != bits_of(ref))
                fail_msg("%s: parsed %.9g (0x%08x), strtof %.9g (0x%08x)", s,
                         ours, bits_of(ours), ref, bits_of(ref));
}

static void test_float_valid(void **state) {
        static const struct {
                const char *text;
                float want;
        } cases[] = {
                {"0", 0.0f},
                {"1", 1.0f},
                {"-1", -1.0f},
                {"+2.5", 2.5f},
                {"0.5", 0.5f},
                {".25", 0.25f},
                {"3.", 3.0f},
                {"1e3", 1000.0f},
                {"1E+3", 1000.0f},
                {"1.5e-05", 1.5e-05f},
                {"-3.4028235e+38", -3.4028235e+38f},
                {"1e-45", 1e-45f}, /* the smallest subnormal */
                {"1.17549435e-38", 1.17549435e-38f},
                {"0.000000000000000000000000000001", 1e-30f},
                {"123456789012345678901234567890", 1.2345679e29f},
                {"0.1", 0.1f},
                {"0.30000001", 0.30000001f},
        };
        size_t i;
        float f;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                const char *s = cases[i].text;
                if (vcdc_pgvec_parse_float(s, strlen(s), &f) == -1)
                        fail_msg("\"%s\" refused", s);
                if (bits_of(f) != bits_of(cases[i].want))
                        fail_msg("\"%s\": %.9g, expected %.9g", s, f,
                                 cases[i].want);
                expect_like_strtof(s);
        }
        /* Signed zero survives. */
        assert_int_equal(vcdc_pgvec_parse_float("-0", 2, &f), 0);
        assert_true(signbit(f));
}

static void test_float_invalid(void **state) {
        static const char *const cases[] = {
                "",
                "-",
                "+",
                ".",
                "e5",
                "1e",
                "1e+",
                "1.2.3",
                "1,2",
                " 1",
                "1 ",
                "NaN",
                "nan",
                "Infinity",
                "-inf",
                "0x10",
                "1f",
                "--1",
                "1e39",
                "-1e39",
                "3.5e38",
                "1234567890123456789012345678901234567890123456789012345678901"
                "2345",
        };
        size_t i;
        float f;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(*cases); i++)
                if (vcdc_pgvec_parse_float(cases[i], strlen(cases[i]), &f) !=
                    -1)
                        fail_msg("\"%s\" accepted as %.9g", cases[i], f);
}

/* Midpoints between adjacent floats, and decimals a hair away from them:
 * where a double rounded once more to float goes wrong. */
static void test_float_midpoints(void **state) {
        static const char *const cases[] = {
                "1.000000059604644775390625", /* exactly 1 + 2^-24 */
                "1.0000000596046448",         /* above it, by a hair */
                "1.0000000596046447",         /* below it */
                "1.000000178813934326171875", /* 1 + 3 * 2^-24 */
                "1.0000001788139343",
                "0.50000002980232238769531250", /* 0.5 + 2^-25 */
                "16777217",                     /* 2^24 + 1 */
                "16777219",
                "3.4028235677973366e+38", /* between FLT_MAX and 2^128 */
                "3.4028235e+38",
                "7.0064923216240854e-46", /* half the smallest subnormal */
                "1.4012984643248171e-45",
        };
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(*cases); i++)
                expect_like_strtof(cases[i]);
}

/* The shortest text of random floats (as pgvector prints them) and
 * random long decimals read back like strtof() reads them. */
static void test_float_sweep(void **state) {
        uint64_t x = 0x9e3779b97f4a7c15u;
        /* A tenth under valgrind (make valgrind sets VCDC_TEST_SMALL). */
        int n = getenv("VCDC_TEST_SMALL") ? 20000 : 200000;
        char buf[64];
        int i, prec;

        (void)state;
        for (i = 0; i < n; i++) {
                uint32_t b;
                float f, back;

                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                b = (uint32_t)x;
                if (i % 2)
                        /* Embedding-like magnitudes, most of the time. */
                        b = (b & 0x807fffffu) | ((0x70u + (b >> 27)) << 23);
                memcpy(&f, &b, sizeof(f));
                if (!isfinite(f))
                        continue;
                for (prec = 1; prec <= 9; prec++) {
                        snprintf(buf, sizeof(buf), "%.*g", prec, f);
                        back = strtof(buf, NULL);
                        if (bits_of(back) == b)
                                break;
                }
                expect_like_strtof(buf);
                /* And a decimal with more digits than either needs. */
                snprintf(buf, sizeof(buf), "%.*e", 10 + (int)(x % 15),
                         (double)f * (1.0 + (double)(x >> 40) * 1e-18));
                expect_like_strtof(buf);
        }
}

static void test_text_valid(void **state) {
        static const struct {
                const char *text;
                size_t dim;
                float first, last;
        } cases[] = {
                {"[1,2,3]", 3, 1.0f, 3.0f},
                {"[-0.5]", 1, -0.5f, -0.5f},
                {" [ 1 , 2.5e-07 ,-3 ] ", 3, 1.0f, -3.0f},
                {"[0.012345678,1e+20]", 2, 0.012345678f, 1e20f},
                {"[\t4\n]", 1, 4.0f, 4.0f},
        };
        char errstr[256];
        size_t i, dim;
        float *v = NULL;
        size_t cap = 0;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                const char *s = cases[i].text;
                if (vcdc_pgvec_parse_text(s, strlen(s), &v, &cap, &dim, errstr,
                                          sizeof(errstr)) == -1)
                        fail_msg("\"%s\": %s", s, errstr);
                assert_int_equal(dim, cases[i].dim);
                assert_true(v[0] == cases[i].first);
                assert_true(v[dim - 1] == cases[i].last);
                /* One buffer serves every case, grown as needed. */
                assert_true(cap >= dim);
        }
        free(v);
}

static void test_text_invalid(void **state) {
        static const struct {
                const char *text, *expect;
        } cases[] = {
                {"", "does not start with '['"},
                {"1,2", "does not start with '['"},
                {"[]", "vector is empty"},
                {"[ ]", "vector is empty"},
                {"[1,2", "expected ',' or ']'"},
                {"[1 2]", "expected ',' or ']'"},
                {"[1,,2]", "element 2 (\"\")"},
                {"[1,]", "element 2"},
                {"[,1]", "element 1"},
                {"[NaN]", "element 1 (\"NaN\") is not a finite float32"},
                {"[1,Infinity]", "element 2"},
                {"[1e39]", "not a finite float32"},
                {"[1]x", "unexpected text after ']'"},
                {"[1][2]", "unexpected text after ']'"},
                {"{1:1}/3", "does not start with '['"},
        };
        char errstr[256];
        size_t i, dim;
        float *v = NULL;
        size_t cap = 0;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                const char *s = cases[i].text;
                if (vcdc_pgvec_parse_text(s, strlen(s), &v, &cap, &dim, errstr,
                                          sizeof(errstr)) != -1)
                        fail_msg("\"%s\" accepted", s);
                assert_int_equal(dim, 0);
                if (!strstr(errstr, cases[i].expect))
                        fail_msg("\"%s\": \"%s\" lacks \"%s\"", s, errstr,
                                 cases[i].expect);
        }
        free(v);
}

/* Text is length-delimited: nothing past len is read. */
static void test_text_not_terminated(void **state) {
        char errstr[256], buf[16];
        size_t dim;
        float *v = NULL;
        size_t cap = 0;

        (void)state;
        memcpy(buf, "[7,8]99999", 10);
        assert_int_equal(vcdc_pgvec_parse_text(buf, 5, &v, &cap, &dim, errstr,
                                               sizeof(errstr)),
                         0);
        assert_int_equal(dim, 2);
        assert_true(v[1] == 8.0f);
        assert_int_equal(vcdc_pgvec_parse_text(buf, 4, &v, &cap, &dim, errstr,
                                               sizeof(errstr)),
                         -1);
        free(v);
}

static void test_too_many_dims(void **state) {
        size_t n = VCDC_PGVEC_DIM_MAX + 1, i, dim;
        char *s = malloc(2 * n + 2), errstr[256];
        float *v = NULL;
        size_t cap = 0;

        (void)state;
        assert_non_null(s);
        s[0] = '[';
        for (i = 0; i < n; i++) {
                s[1 + 2 * i] = '1';
                s[2 + 2 * i] = i + 1 < n ? ',' : ']';
        }
        assert_int_equal(vcdc_pgvec_parse_text(s, 2 * n + 1, &v, &cap, &dim,
                                               errstr, sizeof(errstr)),
                         -1);
        assert_non_null(strstr(errstr, "more than 65536 dimensions"));
        /* One fewer is fine. */
        s[2 * n - 2] = ']';
        assert_int_equal(vcdc_pgvec_parse_text(s, 2 * n - 1, &v, &cap, &dim,
                                               errstr, sizeof(errstr)),
                         0);
        assert_int_equal(dim, n - 1);
        free(v);
        free(s);
}

static void test_binary(void **state) {
        /* vector_send of [1, -2.5]: dim 2, unused 0, two float4. */
        static const unsigned char vec[] = {0, 2, 0,    0,    0x3f, 0x80,
                                            0, 0, 0xc0, 0x20, 0,    0};
        /* halfvec_send of [1, -2.5, 65504, 2^-24]. */
        static const unsigned char half[] = {
                0, 4, 0, 0, 0x3c, 0x00, 0xc1, 0x00, 0x7b, 0xff, 0x00, 0x01};
        static const unsigned char nan[] = {0, 1, 0, 0, 0x7f, 0xc0, 0, 0};
        static const unsigned char half_inf[] = {0, 1, 0, 0, 0x7c, 0x00};
        /* [1, -inf, 2, NaN]: the first non-finite element is named. */
        static const unsigned char inf_third[] = {
                0, 4, 0, 0, 0x3f, 0x80, 0, 0, 0xff, 0x80, 0, 0,
                0x40, 0x00, 0, 0, 0x7f, 0xc0, 0, 0};
        static const unsigned char empty[] = {0, 0, 0, 0};
        char errstr[256];
        size_t dim;
        float *v = NULL;
        size_t cap = 0;

        (void)state;
        assert_int_equal(vcdc_pgvec_parse_binary(VCDC_PGVEC_VECTOR, vec,
                                                 sizeof(vec), &v, &cap, &dim,
                                                 errstr, sizeof(errstr)),
                         0);
        assert_int_equal(dim, 2);
        assert_true(v[0] == 1.0f && v[1] == -2.5f);
        assert_int_equal(vcdc_pgvec_parse_binary(VCDC_PGVEC_HALFVEC, half,
                                                 sizeof(half), &v, &cap, &dim,
                                                 errstr, sizeof(errstr)),
                         0);
        assert_int_equal(dim, 4);
        assert_true(v[0] == 1.0f && v[1] == -2.5f && v[2] == 65504.0f &&
                    v[3] == ldexpf(1.0f, -24));

        /* Invalid: each refused with a reason. */
        assert_int_equal(vcdc_pgvec_parse_binary(VCDC_PGVEC_VECTOR, vec,
                                                 sizeof(vec) - 1, &v, &cap,
                                                 &dim, errstr, sizeof(errstr)),
                         -1);
        assert_non_null(strstr(errstr, "does not hold 2 dimensions"));
        assert_int_equal(vcdc_pgvec_parse_binary(VCDC_PGVEC_HALFVEC, vec,
                                                 sizeof(vec), &v, &cap, &dim,
                                                 errstr, sizeof(errstr)),
                         -1);
        assert_int_equal(vcdc_pgvec_parse_binary(VCDC_PGVEC_VECTOR, vec, 3, &v,
                                                 &cap, &dim, errstr,
                                                 sizeof(errstr)),
                         -1);
        assert_non_null(strstr(errstr, "too short"));
        assert_int_equal(vcdc_pgvec_parse_binary(VCDC_PGVEC_VECTOR, empty,
                                                 sizeof(empty), &v, &cap, &dim,
                                                 errstr, sizeof(errstr)),
                         -1);
        assert_int_equal(vcdc_pgvec_parse_binary(VCDC_PGVEC_VECTOR, nan,
                                                 sizeof(nan), &v, &cap, &dim,
                                                 errstr, sizeof(errstr)),
                         -1);
        assert_non_null(strstr(errstr, "element 1 is not finite"));
        assert_int_equal(vcdc_pgvec_parse_binary(VCDC_PGVEC_VECTOR, inf_third,
                                                 sizeof(inf_third), &v, &cap,
                                                 &dim, errstr, sizeof(errstr)),
                         -1);
        assert_non_null(strstr(errstr, "element 2 is not finite"));
        assert_int_equal(dim, 0);
        assert_int_equal(vcdc_pgvec_parse_binary(VCDC_PGVEC_HALFVEC, half_inf,
                                                 sizeof(half_inf), &v, &cap,
                                                 &dim, errstr, sizeof(errstr)),
                         -1);
        assert_int_equal(dim, 0);
        free(v);
}

/* Every binary16 value widens to the float that means the same. */
static void test_half_exhaustive(void **state) {
        uint32_t h;

        (void)state;
        for (h = 0; h < 0x10000; h++) {
                uint32_t exp = (h >> 10) & 0x1f, frac = h & 0x3ff;
                float f = vcdc_pgvec_half_to_float((uint16_t)h);
                double want;

                if (exp == 31) {
                        assert_true(frac ? isnan(f) : isinf(f));
                        continue;
                }
                want = exp ? ldexp(1.0 + frac / 1024.0, (int)exp - 15)
                           : ldexp(frac / 1024.0, -14);
                if (h & 0x8000)
                        want = -want;
                assert_true((double)f == want);
                assert_true(!!signbit(f) == !!(h & 0x8000));
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_float_valid),
                cmocka_unit_test(test_float_invalid),
                cmocka_unit_test(test_float_midpoints),
                cmocka_unit_test(test_float_sweep),
                cmocka_unit_test(test_text_valid),
                cmocka_unit_test(test_text_invalid),
                cmocka_unit_test(test_text_not_terminated),
                cmocka_unit_test(test_too_many_dims),
                cmocka_unit_test(test_binary),
                cmocka_unit_test(test_half_exhaustive),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
