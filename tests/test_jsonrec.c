/*
 * vcdc - unit tests: a change record from one JSON text (jsonrec.h).
 *
 * The messages and checks are producer/input/input.h's (test_input.c pins them
 * line by line); here: the numbers are strtof()'s, not a double's
 * rounded again, and every record or message equals the reference's
 * (jsonref.h: jansson's tree plus strtof, the parser before issue 20) over
 * generated records and seeded random mutations of them, byte for byte.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonrec.h"
#include "jsonref.h"

static vcdc_jsonscan_t *js;

static const vcdc_jsonrec_opts_t default_opts = {
        .collection = "c",
        .max_dim = 64,
        .max_document = 1024,
        .max_metadata = 256,
        .max_depth = 3,
};

static int parse(const char *line, const vcdc_jsonrec_opts_t *o,
                 vcdc_record_t *rec, char *errstr, size_t size) {
        size_t len = strlen(line);
        char *copy = malloc(len ? len : 1);
        int r;

        assert_non_null(copy);
        memcpy(copy, line, len);
        vcdc_record_init(rec);
        r = vcdc_jsonrec_parse(js, copy, len, 0, o, rec, errstr, size);
        free(copy);
        return r;
}

/* Where the double the old parser went through gave another float. */
static void test_strtof_not_double(void **state) {
        static const struct {
                const char *number;
                uint32_t bits; /* strtof()'s */
        } cases[] = {
                /* just above the halfway point between 1 and its next
                 * float; as a double it is that halfway point, which then
                 * rounds to even: 1 */
                {"1.0000000596046447763", 0x3f800001u},
                /* just below FLT_MAX's halfway point to infinity; as a
                 * double it is that point: the old parser refused it as
                 * a huge number, strtof() gives FLT_MAX */
                {"3.4028235677973366163753e38", 0x7f7fffffu},
                {"340282356779733661637538269558235725824.0", 0x7f7fffffu},
                /* an integer is converted like any number: -0 is -0.0f */
                {"-0", 0x80000000u},
                {"16777217", 0x4b800000u},
                {"1e-46", 0},
        };
        vcdc_record_t rec;
        char line[256], errstr[512];
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                uint32_t got;

                snprintf(line, sizeof(line), "{\"id\":\"a\",\"vector\":[%s],"
                         "\"sparse\":{\"indices\":[0],\"values\":[%s]}}",
                         cases[i].number, cases[i].number);
                if (parse(line, &default_opts, &rec, errstr, sizeof(errstr)))
                        fail_msg("%s refused: %s", cases[i].number, errstr);
                memcpy(&got, &rec.vector[0], 4);
                assert_int_equal(got, cases[i].bits);
                memcpy(&got, &rec.sparse_values[0], 4);
                assert_int_equal(got, cases[i].bits);
                vcdc_record_clear(&rec);
        }
        /* the threshold itself (the halfway point) rounds to even: inf */
        assert_int_equal(parse("{\"id\":\"a\",\"vector\":[3.40282356779733661"
                               "637539395458142568448e38]}",
                               &default_opts, &rec, errstr, sizeof(errstr)),
                         -1);
        assert_string_equal(errstr, "vector[0] is a huge number "
                                    "(3.40282357e+38 does not fit in "
                                    "float32)");
}


/*
 * Against the reference
 */

static size_t compared, accepted;

static void assert_same(const vcdc_record_t *a, const vcdc_record_t *b,
                        const char *line) {
#define SAME_STR(f)                                                            \
        do {                                                                   \
                if ((a->f == NULL) != (b->f == NULL) ||                        \
                    (a->f && strcmp(a->f, b->f)))                              \
                        fail_msg("%s: " #f " \"%s\", reference \"%s\"", line,  \
                                 a->f ? a->f : "(null)",                       \
                                 b->f ? b->f : "(null)");                      \
        } while (0)
        SAME_STR(collection);
        SAME_STR(id);
        SAME_STR(metadata);
        SAME_STR(document);
#undef SAME_STR
        assert_int_equal(a->op, b->op);
        assert_int_equal(a->dim, b->dim);
        assert_int_equal(a->has_sparse, b->has_sparse);
        assert_int_equal(a->sparse_nnz, b->sparse_nnz);
        assert_true(a->source_ts_ms == b->source_ts_ms);
        if (a->dim && memcmp(a->vector, b->vector, a->dim * sizeof(float)))
                fail_msg("%s: vectors differ", line);
        if (a->sparse_nnz &&
            (memcmp(a->sparse_indices, b->sparse_indices,
                    a->sparse_nnz * sizeof(uint32_t)) ||
             memcmp(a->sparse_values, b->sparse_values,
                    a->sparse_nnz * sizeof(float))))
                fail_msg("%s: sparse vectors differ", line);
}

static void compare(const char *line, size_t len,
                    const vcdc_jsonrec_opts_t *o) {
        char *copy = malloc(len ? len : 1);
        char e1[512] = "", e2[512] = "";
        vcdc_record_t r1, r2;
        int a, b;

        assert_non_null(copy);
        memcpy(copy, line, len);
        vcdc_record_init(&r1);
        a = vcdc_jsonrec_parse(js, copy, len, 3, o, &r1, e1, sizeof(e1));
        b = vcdc_jsonref_parse(copy, len, 3, o, &r2, e2, sizeof(e2));
        compared++;
        if (a != b)
                fail_msg("\"%.*s\": %s (%s), reference %s (%s)", (int)len,
                         line, a ? "refused" : "accepted", e1,
                         b ? "refuses" : "accepts", e2);
        if (a) {
                if (strcmp(e1, e2))
                        fail_msg("\"%.*s\": \"%s\", reference \"%s\"",
                                 (int)len, line, e1, e2);
        } else {
                assert_same(&r1, &r2, e1);
                accepted++;
        }
        vcdc_record_clear(&r1);
        vcdc_record_clear(&r2);
        free(copy);
}

static uint64_t rng_state = 0x853c49e6748fea9bULL;

static uint32_t rng(void) {
        rng_state ^= rng_state >> 12;
        rng_state ^= rng_state << 25;
        rng_state ^= rng_state >> 27;
        return (uint32_t)((rng_state * 0x2545f4914f6cdd1dULL) >> 32);
}

/* A number as users' files have them, or one of the awkward ones. */
static int number(char *buf, size_t size) {
        static const char *odd[] = {
                "-0", "0", "1e39", "-3.5e38", "3.4028235e38", "1e-50",
                "1.0000000596046447763", "16777217", "9007199254740993",
                "1e400", "-1e-400", "123456789012345678901234567890",
                "0.1e1", "1E+2", "-0.0", "5e-324", "2.5e-45",
        };
        float f;
        uint32_t u;

        switch (rng() % 4) {
        case 0:
                return snprintf(buf, size, "%s",
                                odd[rng() % (sizeof(odd) / sizeof(*odd))]);
        case 1:
                return snprintf(buf, size, "%d", (int)(rng() % 2001) - 1000);
        default:
                u = rng();
                memcpy(&f, &u, 4);
                if (!isfinite(f))
                        f = 1.5f;
                return snprintf(buf, size, "%.*g", 1 + (int)(rng() % 17),
                                (double)f);
        }
}

/* A JSON Lines record: mostly valid (an id, a vector, maybe sparse,
 * metadata with reals and escapes, a document), fields in random order,
 * now and then one of the wrong type, unknown or twice. */
static size_t record(char *buf, size_t size) {
        static const char *strings[] = {
                "\"a\"", "\"\"", "\"caf\xc3\xa9\"", "\"\\u00e9\\n\\\"\"",
                "\"\\ud83d\\ude00\"", "\"x\\/y\"", "\"DELETE\"", "\"upsert\"",
        };
        static const char *odd[] = {
                "null", "true", "[]", "{}", "\"1\"", "1.5", "-7", "[1,[2]]",
        };
        const char *fields[8];
        char val[8][400], num[64];
        size_t len = 0, nf = 0, i, k, n;
        int w;

#define PUT(dst, sz, ...)                                                      \
        ((w = snprintf((dst), (sz), __VA_ARGS__)) > 0 &&                       \
                         (size_t)w < (sz)                                      \
                 ? (size_t)w                                                   \
                 : 0)
        /* id */
        fields[nf] = rng() % 16 ? "id" : "\\u0069d";
        if (rng() % 3)
                PUT(val[nf], sizeof(val[nf]), "%s", strings[rng() % 6]);
        else
                PUT(val[nf], sizeof(val[nf]), "%d", (int)(rng() % 100) - 5);
        nf++;
        /* vector */
        fields[nf] = "vector";
        k = PUT(val[nf], sizeof(val[nf]), "[");
        for (i = 0, n = 1 + rng() % 5; i < n; i++) {
                number(num, sizeof(num));
                k += PUT(val[nf] + k, sizeof(val[nf]) - k, "%s%s",
                         i ? (rng() % 4 ? "," : " , ") : "", num);
        }
        PUT(val[nf] + k, sizeof(val[nf]) - k, "]");
        nf++;
        if (rng() % 2) {
                fields[nf] = "sparse";
                number(num, sizeof(num));
                k = PUT(val[nf], sizeof(val[nf]),
                        "{\"values\":[%s,", num);
                number(num, sizeof(num));
                PUT(val[nf] + k, sizeof(val[nf]) - k,
                    "%s],\"indices\":[%u,%u]}", num, rng() % 4,
                    rng() % 8);
                nf++;
        }
        if (rng() % 2) {
                fields[nf] = "metadata";
                number(num, sizeof(num));
                PUT(val[nf], sizeof(val[nf]),
                    "{\"k\":%s,\"r\":%s,\"n\":[1,{\"x\":%s}]}",
                    strings[rng() % 8], num, rng() % 2 ? "true" : "[[]]");
                nf++;
        }
        if (rng() % 2) {
                fields[nf] = "document";
                PUT(val[nf], sizeof(val[nf]), "%s", strings[rng() % 8]);
                nf++;
        }
        if (rng() % 3 == 0) {
                fields[nf] = rng() % 2 ? "op" : "source_ts_ms";
                if (fields[nf][0] == 'o')
                        PUT(val[nf], sizeof(val[nf]), "%s",
                            strings[6 + rng() % 2]);
                else
                        PUT(val[nf], sizeof(val[nf]), "%d",
                            (int)(rng() % 9) - 1);
                nf++;
        }
        if (rng() % 4 == 0) {
                fields[nf] = "collection";
                PUT(val[nf], sizeof(val[nf]), "%s", strings[rng() % 6]);
                nf++;
        }
        /* now and then a field of the wrong type, unknown, or twice */
        if (rng() % 4 == 0)
                PUT(val[rng() % nf], sizeof(val[0]), "%s", odd[rng() % 8]);
        if (rng() % 16 == 0)
                fields[rng() % nf] = rng() % 2 ? "vectors" : "id";
        /* shuffled */
        for (i = nf; i > 1; i--) {
                size_t j = rng() % i;
                const char *t = fields[i - 1];
                char tmp[400];

                fields[i - 1] = fields[j];
                fields[j] = t;
                memcpy(tmp, val[i - 1], sizeof(tmp));
                memcpy(val[i - 1], val[j], sizeof(tmp));
                memcpy(val[j], tmp, sizeof(tmp));
        }
        len = PUT(buf, size, "{");
        for (i = 0; i < nf; i++)
                len += PUT(buf + len, size - len, "%s\"%s\":%s",
                           i ? "," : "", fields[i], val[i]);
        len += PUT(buf + len, size - len, "}");
#undef PUT
        return len;
}

static void test_against_reference(void **state) {
        size_t n = getenv("VCDC_TEST_SMALL") ? 5000 : 100000, i, len, q;
        vcdc_jsonrec_opts_t o = default_opts;
        char line[1024];

        (void)state;
        for (i = 0; i < n; i++) {
                o.dim = rng() % 3 ? 0 : 1 + rng() % 4;
                o.dim_line = rng() % 2 ? 7 : 0;
                o.dim_required = o.dim && !o.dim_line;
                o.collection = rng() % 4 ? "c" : NULL;
                len = record(line, sizeof(line) - 8);
                compare(line, len, &o);
                /* and a mutation of it */
                for (q = 1 + rng() % 3; q > 0 && len > 1; q--) {
                        size_t at = rng() % len;

                        switch (rng() % 3) {
                        case 0:
                                line[at] = "{}[]\",:\\-e.0 \x80"[rng() % 15];
                                break;
                        case 1:
                                memmove(line + at, line + at + 1,
                                        len - at - 1);
                                len--;
                                break;
                        default:
                                line[at] = (char)(rng() & 0xff);
                                break;
                        }
                }
                compare(line, len, &o);
        }
        assert_true(accepted > n / 10);
        assert_true(compared - accepted > n / 10);
}

static int setup(void **state) {
        (void)state;
        js = vcdc_jsonscan_new();
        return js ? 0 : -1;
}

static int teardown(void **state) {
        (void)state;
        vcdc_jsonscan_destroy(js);
        return 0;
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_strtof_not_double),
                cmocka_unit_test(test_against_reference),
        };
        int r = cmocka_run_group_tests_name("jsonrec", tests, setup,
                                            teardown);

        printf("jsonrec: %zu lines compared with the reference, %zu "
               "accepted\n",
               compared, accepted);
        return r;
}
