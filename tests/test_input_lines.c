/*
 * vcdc - unit tests: the producer's JSON Lines records, line by line
 * (vcdc_input_parse_json). Valid and invalid lines side by side in tables
 * (like jansson's test/suites/valid and invalid), and the required
 * dimension. test_input_malformed.c holds the checked-in sample of
 * tests/integration/bad_input_gen.py and the malformed-input sweep;
 * test_input_files.c reads whole files.
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
#include <unistd.h>

#include "input.h"
#include "input/inputkit.h"

/* Options the invalid-line table runs with: small limits to hit. */
static const vcdc_input_opts_t strict_opts = {
        .format = VCDC_INPUT_JSONL,
        .max_dim = 8,
        .max_document = 16,
        .max_metadata = 32,
        .max_depth = 2,
};

/* "<x*N>" in a table line stands for N letters x: long strings stay
 * readable. Returns a new string. */
static char *expand(const char *tmpl, size_t *lenp) {
        size_t cap = strlen(tmpl) + 1, len = 0;
        char *out = malloc(cap);
        const char *p = tmpl;

        assert_non_null(out);
        while (*p) {
                char *end;
                unsigned long n;

                if (p[0] == '<' && p[1] && p[2] == '*' &&
                    (n = strtoul(p + 3, &end, 10)) > 0 && *end == '>') {
                        out = realloc(out, cap += n);
                        assert_non_null(out);
                        memset(out + len, p[1], n);
                        len += n;
                        p = end + 1;
                        continue;
                }
                out[len++] = *p++;
        }
        out[len] = '\0';
        *lenp = len;
        return out;
}

/*
 * Lines
 */

static void test_invalid_lines(void **state) {
        static const struct {
                const char *line;
                size_t len; /* 0: strlen(line) (after expansion) */
                size_t dim; /* required dimension, 0: any */
                const char *expect;
        } cases[] = {
                /* not an object */
                {"[1,2]", 0, 0, "the line is an array, expected a JSON object"},
                {"\"x\"", 0, 0, "the line is a string, expected a JSON object"},
                {"42", 0, 0, "the line is an integer, expected"},
                {"null", 0, 0, "the line is null, expected"},
                /* not JSON */
                {"{", 0, 0, "invalid JSON at column"},
                {"{\"c\"", 0, 0, "invalid JSON at column"},
                {"{\"collection\":\"c\",\"id\":\"a\",\"vector\":[1]} x", 0, 0,
                 "end of file expected"},
                {"{\"collection\":\"c\",\"id\":\"a\",\"vector\":[1],}", 0, 0,
                 "invalid JSON at column"},
                {"{'id':'a'}", 0, 0, "invalid JSON at column 2"},
                {"{\"id\":\"a\tb\"}", 0, 0, "control character 0x9"},
                {"{\"id\":\"a\",\"id\":\"b\"}", 0, 0,
                 "duplicate field at column"},
                /* unknown fields */
                {"{\"collection\":\"c\",\"id\":\"a\",\"vectors\":[1]}", 0, 0,
                 "unknown field \"vectors\" (known fields: collection, id, op, "
                 "vector, sparse, metadata, document, source_ts_ms)"},
                {"{\"Vector\":[1]}", 0, 0, "unknown field \"Vector\""},
                {"{\"collection\":\"c\",\"id\":\"a\",\"op\":\"delete\","
                 "\"meta\":{}}",
                 0, 0, "unknown field \"meta\""},
                {"{\"a\\u001b[31m\":1}", 0, 0, "unknown field \"a?[31m\""},
                {"{\"<k*100>\":1}", 0, 0,
                 "unknown field \"kkkkkkkkkkkkkkkkkkkk"
                 "kkkkkkkkkkkkkkkkkkkk...\""},
                /* collection */
                {"{\"id\":\"a\",\"vector\":[1]}", 0, 0,
                 "\"collection\" is missing and there is no default"},
                {"{\"collection\":\"\",\"id\":\"a\",\"vector\":[1]}", 0, 0,
                 "\"collection\" is empty"},
                {"{\"collection\":5,\"id\":\"a\",\"vector\":[1]}", 0, 0,
                 "\"collection\" must be a string, not an integer"},
                {"{\"collection\":null,\"id\":\"a\",\"vector\":[1]}", 0, 0,
                 "\"collection\" must be a string, not null"},
                {"{\"collection\":\"<c*257>\",\"id\":\"a\",\"vector\":[1]}", 0,
                 0, "\"collection\" is 257 bytes, more than the maximum 256"},
                /* id */
                {"{\"collection\":\"c\",\"vector\":[1]}", 0, 0,
                 "\"id\" is missing"},
                {"{\"collection\":\"c\",\"id\":\"\",\"vector\":[1]}", 0, 0,
                 "\"id\" is empty"},
                {"{\"collection\":\"c\",\"id\":1.5,\"vector\":[1]}", 0, 0,
                 "\"id\" must be a string or an integer, not a real number"},
                {"{\"collection\":\"c\",\"id\":true,\"vector\":[1]}", 0, 0,
                 "\"id\" must be a string or an integer, not true"},
                {"{\"collection\":\"c\",\"id\":null,\"vector\":[1]}", 0, 0,
                 "\"id\" must be a string or an integer, not null"},
                {"{\"collection\":\"c\",\"id\":[\"a\"],\"vector\":[1]}", 0, 0,
                 "not an array"},
                {"{\"collection\":\"c\",\"id\":\"<i*513>\",\"vector\":[1]}", 0,
                 0, "\"id\" is 513 bytes, more than the maximum 512"},
                {"{\"collection\":\"c\",\"id\":99999999999999999999}", 0, 0,
                 "huge number at column"},
                /* op */
                {"{\"collection\":\"c\",\"id\":\"a\",\"op\":\"merge\"}", 0, 0,
                 "\"op\" must be \"upsert\" or \"delete\", not \"merge\""},
                {"{\"collection\":\"c\",\"id\":\"a\",\"op\":\"\"}", 0, 0,
                 "not \"\""},
                {"{\"collection\":\"c\",\"id\":\"a\",\"op\":1}", 0, 0,
                 "\"op\" must be a string, \"upsert\" or \"delete\", not an "
                 "integer"},
                /* vector */
                {"{\"collection\":\"c\",\"id\":\"a\"}", 0, 0,
                 "\"vector\" is missing (an upsert needs one)"},
                {"{\"collection\":\"c\",\"id\":\"a\",\"op\":\"upsert\"}", 0, 0,
                 "\"vector\" is missing"},
                {"{\"collection\":\"c\",\"id\":\"a\",\"vector\":\"1,2\"}", 0, 0,
                 "\"vector\" must be an array of numbers, not a string"},
                {"{\"collection\":\"c\",\"id\":\"a\",\"vector\":null}", 0, 0,
                 "\"vector\" must be an array of numbers, not null"},
                {"{\"collection\":\"c\",\"id\":\"a\",\"vector\":{}}", 0, 0,
                 "not an object"},
                {"{\"collection\":\"c\",\"id\":\"a\",\"vector\":[]}", 0, 0,
                 "\"vector\" is empty"},
                {"{\"collection\":\"c\",\"id\":\"a\",\"vector\":[1,\"2\"]}", 0,
                 0, "vector[1] must be a number, not a string"},
                {"{\"collection\":\"c\",\"id\":\"a\",\"vector\":[1,[2]]}", 0, 0,
                 "vector[1] must be a number, not an array"},
                {"{\"collection\":\"c\",\"id\":\"a\",\"vector\":[true]}", 0, 0,
                 "vector[0] must be a number, not true"},
                {"{\"collection\":\"c\",\"id\":\"a\",\"vector\":[null]}", 0, 0,
                 "vector[0] must be a number, not null"},
                {"{\"collection\":\"c\",\"id\":\"a\",\"vector\":[1,NaN]}", 0, 0,
                 "NaN at column 40 is not a JSON number (NaN and Infinity"},
                {"{\"collection\":\"c\",\"id\":\"a\",\"vector\":[Infinity]}", 0,
                 0, "Infinity at column 38 is not a JSON number"},
                {"{\"collection\":\"c\",\"id\":\"a\","
                 "\"vector\":[-Infinity]}",
                 0, 0, "Infinity at column 39 is not a JSON number"},
                {"{\"collection\":\"c\",\"id\":\"a\",\"vector\":[nan]}", 0, 0,
                 "nan at column 38 is not a JSON number"},
                {"{\"collection\":\"c\",\"id\":\"a\",\"vector\":[inf]}", 0, 0,
                 "inf at column 38 is not a JSON number"},
                {"{\"collection\":\"c\",\"id\":\"a\",\"vector\":[1e39]}", 0, 0,
                 "vector[0] is a huge number (1e+39 does not fit in float32)"},
                {"{\"collection\":\"c\",\"id\":\"a\","
                 "\"vector\":[0,-3.5e38]}",
                 0, 0, "vector[1] is a huge number"},
                {"{\"collection\":\"c\",\"id\":\"a\","
                 "\"vector\":[3.40282357e38]}",
                 0, 0, "vector[0] is a huge number"},
                {"{\"collection\":\"c\",\"id\":\"a\",\"vector\":[1e400]}", 0, 0,
                 "huge number at column"},
                {"{\"collection\":\"c\",\"id\":\"a\",\"vector\":[1,2,3]}", 0, 4,
                 "vector has 3 dimensions, expected 4"},
                {"{\"collection\":\"c\",\"id\":\"a\","
                 "\"vector\":[1,2,3,4,5]}",
                 0, 4, "vector has 5 dimensions, expected 4"},
                {"{\"collection\":\"c\",\"id\":\"a\","
                 "\"vector\":[1,2,3,4,5,6,7,8,9]}",
                 0, 0, "vector has 9 dimensions, more than the maximum 8"},
                /* sparse */
                {"{\"collection\":\"c\",\"id\":\"a\",\"vector\":[1],"
                 "\"sparse\":[]}",
                 0, 0, "\"sparse\" must be an object {\"indices\""},
                {"{\"collection\":\"c\",\"id\":\"a\",\"vector\":[1],"
                 "\"sparse\":{\"indices\":[1]}}",
                 0, 0, "\"sparse.values\" is missing"},
                {"{\"collection\":\"c\",\"id\":\"a\",\"vector\":[1],"
                 "\"sparse\":{\"values\":[1]}}",
                 0, 0, "\"sparse.indices\" is missing"},
                {"{\"collection\":\"c\",\"id\":\"a\",\"vector\":[1],"
                 "\"sparse\":{\"indices\":1,\"values\":[1]}}",
                 0, 0,
                 "\"sparse.indices\" must be an array of integers, not "
                 "an integer"},
                {"{\"collection\":\"c\",\"id\":\"a\",\"vector\":[1],"
                 "\"sparse\":{\"indices\":[1],\"values\":{}}}",
                 0, 0, "\"sparse.values\" must be an array of numbers"},
                {"{\"collection\":\"c\",\"id\":\"a\",\"vector\":[1],"
                 "\"sparse\":{\"indices\":[1,2],\"values\":[1]}}",
                 0, 0,
                 "\"sparse.indices\" has 2 entries but \"sparse.values\" "
                 "has 1"},
                {"{\"collection\":\"c\",\"id\":\"a\",\"vector\":[1],"
                 "\"sparse\":{\"indices\":[-1],\"values\":[1]}}",
                 0, 0,
                 "sparse.indices[0] is -1, out of range (0 to "
                 "4294967295)"},
                {"{\"collection\":\"c\",\"id\":\"a\",\"vector\":[1],"
                 "\"sparse\":{\"indices\":[4294967296],\"values\":[1]}}",
                 0, 0, "sparse.indices[0] is 4294967296, out of range"},
                {"{\"collection\":\"c\",\"id\":\"a\",\"vector\":[1],"
                 "\"sparse\":{\"indices\":[3,3],\"values\":[1,2]}}",
                 0, 0,
                 "sparse.indices[1] is 3, not above the previous index 3 "
                 "(indices must be strictly ascending)"},
                {"{\"collection\":\"c\",\"id\":\"a\",\"vector\":[1],"
                 "\"sparse\":{\"indices\":[5,2],\"values\":[1,2]}}",
                 0, 0, "strictly ascending"},
                {"{\"collection\":\"c\",\"id\":\"a\",\"vector\":[1],"
                 "\"sparse\":{\"indices\":[1.0],\"values\":[1]}}",
                 0, 0, "sparse.indices[0] must be an integer, not a real"},
                {"{\"collection\":\"c\",\"id\":\"a\",\"vector\":[1],"
                 "\"sparse\":{\"indices\":[1],\"values\":[\"a\"]}}",
                 0, 0, "sparse.values[0] must be a number, not a string"},
                {"{\"collection\":\"c\",\"id\":\"a\",\"vector\":[1],"
                 "\"sparse\":{\"indices\":[1],\"values\":[-1e39]}}",
                 0, 0, "sparse.values[0] is a huge number"},
                {"{\"collection\":\"c\",\"id\":\"a\",\"vector\":[1],"
                 "\"sparse\":{\"indices\":[],\"values\":[],\"weights\":[]}}",
                 0, 0,
                 "unknown field \"sparse.weights\" (known fields: "
                 "indices, values)"},
                /* metadata */
                {"{\"collection\":\"c\",\"id\":\"a\",\"vector\":[1],"
                 "\"metadata\":[]}",
                 0, 0, "\"metadata\" must be an object or null, not an array"},
                {"{\"collection\":\"c\",\"id\":\"a\",\"vector\":[1],"
                 "\"metadata\":\"{}\"}",
                 0, 0, "\"metadata\" must be an object or null, not a string"},
                {"{\"collection\":\"c\",\"id\":\"a\",\"vector\":[1],"
                 "\"metadata\":{\"a\":{\"b\":{\"c\":1}}}}",
                 0, 0, "\"metadata\" nests deeper than 2 levels"},
                {"{\"collection\":\"c\",\"id\":\"a\",\"vector\":[1],"
                 "\"metadata\":{\"a\":[[1]]}}",
                 0, 0, "\"metadata\" nests deeper than 2 levels"},
                {"{\"collection\":\"c\",\"id\":\"a\",\"vector\":[1],"
                 "\"metadata\":{\"k\":\"<v*25>\"}}",
                 0, 0,
                 "\"metadata\" is 33 bytes as compact JSON, more than "
                 "the maximum 32"},
                /* document */
                {"{\"collection\":\"c\",\"id\":\"a\",\"vector\":[1],"
                 "\"document\":5}",
                 0, 0, "\"document\" must be a string or null, not an integer"},
                {"{\"collection\":\"c\",\"id\":\"a\",\"vector\":[1],"
                 "\"document\":{\"text\":\"x\"}}",
                 0, 0, "not an object"},
                {"{\"collection\":\"c\",\"id\":\"a\",\"vector\":[1],"
                 "\"document\":\"<d*17>\"}",
                 0, 0, "\"document\" is 17 bytes, more than the maximum 16"},
                /* source_ts_ms */
                {"{\"collection\":\"c\",\"id\":\"a\",\"vector\":[1],"
                 "\"source_ts_ms\":-1}",
                 0, 0, "\"source_ts_ms\" is negative (-1)"},
                {"{\"collection\":\"c\",\"id\":\"a\",\"vector\":[1],"
                 "\"source_ts_ms\":1.7e12}",
                 0, 0, "\"source_ts_ms\" must be an integer, not a real"},
                {"{\"collection\":\"c\",\"id\":\"a\",\"op\":\"delete\","
                 "\"source_ts_ms\":\"1\"}",
                 0, 0, "\"source_ts_ms\" must be an integer, not a string"},
                /* encoding */
                {"{\"collection\":\"c\",\"id\":\"\xff\",\"vector\":[1]}", 0, 0,
                 "invalid UTF-8 at byte 25 of the line"},
                {"{\"collection\":\"c\",\"id\":\"\xc0\xaf\",\"vector\":[1]}", 0,
                 0, "invalid UTF-8 at byte 25"},
                {"{\"collection\":\"c\",\"id\":\"\xed\xa0\x80\","
                 "\"vector\":[1]}",
                 0, 0, "invalid UTF-8"},
                {"{\"collection\":\"c\",\"id\":\"a\xc3\",\"vector\":[1]}", 0, 0,
                 "invalid UTF-8"},
                {"{\"\xfe\":1}", 0, 0, "invalid UTF-8 at byte 3"},
                {"{\"collection\":\"c\",\"id\":\"\\ud800\",\"vector\":[1]}", 0,
                 0, "invalid Unicode"},
                {"{\"collection\":\"c\",\"id\":\"a\\u0000b\","
                 "\"vector\":[1]}",
                 0, 0, "NUL characters are not allowed"},
                {"{\"collection\":\"c\",\"id\":\"a\0b\",\"vector\":[1]}", 40, 0,
                 "NUL byte at column 26"},
        };
        vcdc_record_t rec;
        size_t i;

        (void)state;
        assert_true(sizeof(cases) / sizeof(*cases) >= 40);
        vcdc_record_init(&rec);
        for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                size_t len, dim = cases[i].dim;
                char *line = expand(cases[i].line, &len);
                int r;

                if (cases[i].len)
                        len = cases[i].len;
                errstr[0] = '\0';
                r = vcdc_input_parse_json(line, len, &strict_opts, &dim, &rec,
                                          errstr, sizeof(errstr));
                if (r != -1)
                        fail_msg("case %zu accepted: %s", i, cases[i].line);
                assert_contains(errstr, cases[i].expect);
                assert_record_clear(&rec);
                assert_int_equal(dim, cases[i].dim);
                free(line);
        }
}

static void test_valid_lines(void **state) {
        static const struct {
                const char *line;
                const char *collection; /* default collection */
                size_t dim;             /* required dimension */
                /* expected */
                const char *ecollection, *eid;
                vcdc_op_t eop;
                size_t edim;
                float evec[4];
                int has_sparse;
                size_t nnz;
                uint32_t eidx[2];
                float evals[2];
                const char *emetadata, *edocument;
                int64_t ets;
        } cases[] = {
                {"{\"collection\": \"docs\", \"id\": \"a1\", "
                 "\"op\": \"upsert\", \"vector\": [0.1, 0.2], "
                 "\"sparse\": {\"indices\": [3, 9], "
                 "\"values\": [1, 2]}, \"metadata\": {\"k\": \"v\"}, "
                 "\"document\": \"text\", \"source_ts_ms\": 1700000000000}",
                 NULL,
                 0,
                 "docs",
                 "a1",
                 VCDC_OP_UPSERT,
                 2,
                 {0.1f, 0.2f},
                 1,
                 2,
                 {3, 9},
                 {1, 2},
                 "{\"k\":\"v\"}",
                 "text",
                 1700000000000LL},
                /* defaults: collection from the options, op upsert */
                {"{\"id\":\"x\",\"vector\":[1,-2,0]}",
                 "dflt",
                 3,
                 "dflt",
                 "x",
                 VCDC_OP_UPSERT,
                 3,
                 {1, -2, 0},
                 0,
                 0,
                 {0},
                 {0},
                 NULL,
                 NULL,
                 -1},
                /* the line's collection wins */
                {"{\"id\":\"x\",\"collection\":\"own\",\"vector\":[1]}",
                 "dflt",
                 0,
                 "own",
                 "x",
                 VCDC_OP_UPSERT,
                 1,
                 {1},
                 0,
                 0,
                 {0},
                 {0},
                 NULL,
                 NULL,
                 -1},
                /* integer ids */
                {"{\"collection\":\"c\",\"id\":42,\"vector\":[1]}",
                 NULL,
                 0,
                 "c",
                 "42",
                 VCDC_OP_UPSERT,
                 1,
                 {1},
                 0,
                 0,
                 {0},
                 {0},
                 NULL,
                 NULL,
                 -1},
                {"{\"collection\":\"c\",\"id\":-7,\"vector\":[1]}",
                 NULL,
                 0,
                 "c",
                 "-7",
                 VCDC_OP_UPSERT,
                 1,
                 {1},
                 0,
                 0,
                 {0},
                 {0},
                 NULL,
                 NULL,
                 -1},
                {"{\"collection\":\"c\",\"id\":9223372036854775807,"
                 "\"vector\":[1]}",
                 NULL,
                 0,
                 "c",
                 "9223372036854775807",
                 VCDC_OP_UPSERT,
                 1,
                 {1},
                 0,
                 0,
                 {0},
                 {0},
                 NULL,
                 NULL,
                 -1},
                /* op in any case */
                {"{\"collection\":\"c\",\"id\":\"a\",\"op\":\"Upsert\","
                 "\"vector\":[1]}",
                 NULL,
                 0,
                 "c",
                 "a",
                 VCDC_OP_UPSERT,
                 1,
                 {1},
                 0,
                 0,
                 {0},
                 {0},
                 NULL,
                 NULL,
                 -1},
                {"{\"collection\":\"c\",\"id\":\"a\",\"op\":\"delete\"}",
                 NULL,
                 0,
                 "c",
                 "a",
                 VCDC_OP_DELETE,
                 0,
                 {0},
                 0,
                 0,
                 {0},
                 {0},
                 NULL,
                 NULL,
                 -1},
                /* a delete's payload is ignored, even when invalid */
                {"{\"collection\":\"c\",\"id\":\"a\",\"op\":\"DELETE\","
                 "\"vector\":\"junk\",\"metadata\":5,\"document\":[],"
                 "\"sparse\":1,\"source_ts_ms\":5}",
                 NULL,
                 7,
                 "c",
                 "a",
                 VCDC_OP_DELETE,
                 0,
                 {0},
                 0,
                 0,
                 {0},
                 {0},
                 NULL,
                 NULL,
                 5},
                /* null is absent for the optional fields */
                {"{\"collection\":\"c\",\"id\":\"a\",\"vector\":[1],"
                 "\"metadata\":null,\"document\":null,\"sparse\":null,"
                 "\"source_ts_ms\":null}",
                 NULL,
                 0,
                 "c",
                 "a",
                 VCDC_OP_UPSERT,
                 1,
                 {1},
                 0,
                 0,
                 {0},
                 {0},
                 NULL,
                 NULL,
                 -1},
                /* metadata: compact, keys in input order, text kept */
                {"{\"collection\":\"c\",\"id\":\"a\",\"vector\":[1],"
                 "\"metadata\": {\"z\": 1, \"a\": [1, 2], \"m\": {\"x\": null},"
                 " \"s\": \"\xc3\xa9\\\"\\u00e9\", \"b\": true, \"e\": {}}}",
                 NULL,
                 0,
                 "c",
                 "a",
                 VCDC_OP_UPSERT,
                 1,
                 {1},
                 0,
                 0,
                 {0},
                 {0},
                 "{\"z\":1,\"a\":[1,2],\"m\":{\"x\":null},"
                 "\"s\":\"\xc3\xa9\\\"\xc3\xa9\",\"b\":true,\"e\":{}}",
                 NULL,
                 -1},
                /* reals are kept exactly (17 significant digits) */
                {"{\"collection\":\"c\",\"id\":\"a\",\"vector\":[1],"
                 "\"metadata\":{\"p\":0.5,\"q\":0.1}}",
                 NULL,
                 0,
                 "c",
                 "a",
                 VCDC_OP_UPSERT,
                 1,
                 {1},
                 0,
                 0,
                 {0},
                 {0},
                 "{\"p\":0.5,\"q\":0.10000000000000001}",
                 NULL,
                 -1},
                {"{\"collection\":\"c\",\"id\":\"a\",\"vector\":[1],"
                 "\"metadata\":{}}",
                 NULL,
                 0,
                 "c",
                 "a",
                 VCDC_OP_UPSERT,
                 1,
                 {1},
                 0,
                 0,
                 {0},
                 {0},
                 "{}",
                 NULL,
                 -1},
                /* an empty sparse vector is a sparse vector */
                {"{\"collection\":\"c\",\"id\":\"a\",\"vector\":[1],"
                 "\"sparse\":{\"values\":[],\"indices\":[]}}",
                 NULL,
                 0,
                 "c",
                 "a",
                 VCDC_OP_UPSERT,
                 1,
                 {1},
                 1,
                 0,
                 {0},
                 {0},
                 NULL,
                 NULL,
                 -1},
                {"{\"collection\":\"c\",\"id\":\"a\",\"vector\":[1],"
                 "\"sparse\":{\"indices\":[0,4294967295],"
                 "\"values\":[-0.5,3]}}",
                 NULL,
                 0,
                 "c",
                 "a",
                 VCDC_OP_UPSERT,
                 1,
                 {1},
                 1,
                 2,
                 {0, 4294967295u},
                 {-0.5f, 3},
                 NULL,
                 NULL,
                 -1},
                /* float32 edges: FLT_MAX as numpy prints it, underflow */
                {"{\"collection\":\"c\",\"id\":\"a\","
                 "\"vector\":[3.4028235e38,-3.4028235e+38,1e-50,-0.0]}",
                 NULL,
                 4,
                 "c",
                 "a",
                 VCDC_OP_UPSERT,
                 4,
                 {FLT_MAX, -FLT_MAX, 0, 0},
                 0,
                 0,
                 {0},
                 {0},
                 NULL,
                 NULL,
                 -1},
                /* whitespace, unicode ids, documents */
                {"  { \"id\" : \"\xe2\x82\xac-\\u00e9\" ,\t"
                 "\"vector\" : [ 1 ] , "
                 "\"document\": \"<d*16>\", \"source_ts_ms\": 0 }  ",
                 "c",
                 0,
                 "c",
                 "\xe2\x82\xac-\xc3\xa9",
                 VCDC_OP_UPSERT,
                 1,
                 {1},
                 0,
                 0,
                 {0},
                 {0},
                 NULL,
                 "dddddddddddddddd",
                 0},
                {"{\"collection\":\"c\",\"id\":\"a\",\"vector\":[1],"
                 "\"document\":\"\"}",
                 NULL,
                 0,
                 "c",
                 "a",
                 VCDC_OP_UPSERT,
                 1,
                 {1},
                 0,
                 0,
                 {0},
                 {0},
                 NULL,
                 "",
                 -1},
                /* limits reached but not passed */
                {"{\"collection\":\"<c*256>\",\"id\":\"<i*512>\","
                 "\"vector\":[1,2,3,4,5,6,7,8],"
                 "\"metadata\":{\"a\":{\"b\":1},\"k\":\"<v*44>\"}}",
                 NULL,
                 8,
                 NULL,
                 NULL,
                 VCDC_OP_UPSERT,
                 8,
                 {1, 2, 3, 4},
                 0,
                 0,
                 {0},
                 {0},
                 "{\"a\":{\"b\":1},\"k\":\"<v*44>\"}",
                 NULL,
                 -1},
        };
        vcdc_record_t rec;
        size_t i, k;

        (void)state;
        vcdc_record_init(&rec);
        for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                vcdc_input_opts_t opts = strict_opts;
                size_t len, dim = cases[i].dim;
                char *line = expand(cases[i].line, &len);

                opts.collection = cases[i].collection;
                opts.max_metadata = 64; /* the last case has exactly 64 */
                if (vcdc_input_parse_json(line, len, &opts, &dim, &rec, errstr,
                                          sizeof(errstr)))
                        fail_msg("case %zu rejected: %s", i, errstr);
                if (cases[i].ecollection)
                        assert_string_equal(rec.collection,
                                            cases[i].ecollection);
                else
                        assert_int_equal(strlen(rec.collection), 256);
                if (cases[i].eid)
                        assert_string_equal(rec.id, cases[i].eid);
                else
                        assert_int_equal(strlen(rec.id), 512);
                assert_int_equal(rec.op, cases[i].eop);
                assert_int_equal(rec.dim, cases[i].edim);
                if (cases[i].edim) {
                        assert_non_null(rec.vector);
                        for (k = 0; k < cases[i].edim && k < 4; k++)
                                assert_true(rec.vector[k] == cases[i].evec[k]);
                        /* a vector fixes the dimension */
                        assert_int_equal(dim, cases[i].edim);
                } else {
                        assert_null(rec.vector);
                        assert_int_equal(dim, cases[i].dim);
                }
                assert_int_equal(rec.has_sparse, cases[i].has_sparse);
                assert_int_equal(rec.sparse_nnz, cases[i].nnz);
                for (k = 0; k < cases[i].nnz; k++) {
                        assert_int_equal(rec.sparse_indices[k],
                                         cases[i].eidx[k]);
                        assert_true(rec.sparse_values[k] == cases[i].evals[k]);
                }
                if (cases[i].emetadata) {
                        char *m = expand(cases[i].emetadata, &len);

                        assert_string_equal(rec.metadata, m);
                        free(m);
                } else
                        assert_null(rec.metadata);
                if (cases[i].edocument)
                        assert_string_equal(rec.document, cases[i].edocument);
                else
                        assert_null(rec.document);
                assert_true(rec.source_ts_ms == cases[i].ets);
                vcdc_record_clear(&rec);
                free(line);
        }
}

/* The options' dimension applies when the caller gives none. */
static void test_parse_json_dims(void **state) {
        vcdc_input_opts_t opts = {.collection = "c", .dim = 2};
        const char *l3 = "{\"id\":\"a\",\"vector\":[1,2,3]}";
        const char *l2 = "{\"id\":\"a\",\"vector\":[1,2]}";
        vcdc_record_t rec;
        size_t dim = 0;

        (void)state;
        vcdc_record_init(&rec);
        assert_int_equal(vcdc_input_parse_json(l3, strlen(l3), &opts, &dim,
                                               &rec, errstr, sizeof(errstr)),
                         -1);
        assert_contains(errstr, "vector has 3 dimensions, expected 2 (the "
                                "required dimension)");
        assert_int_equal(vcdc_input_parse_json(l2, strlen(l2), &opts, NULL,
                                               &rec, errstr, sizeof(errstr)),
                         0);
        vcdc_record_clear(&rec);
        /* An explicit *dimp wins over the options. */
        dim = 3;
        assert_int_equal(vcdc_input_parse_json(l3, strlen(l3), &opts, &dim,
                                               &rec, errstr, sizeof(errstr)),
                         0);
        vcdc_record_clear(&rec);
        /* Not NUL-terminated: only len bytes are read. */
        assert_int_equal(vcdc_input_parse_json("{\"id\":\"a\",\"vector\":[1,2]}"
                                               "garbage",
                                               strlen(l2), &opts, NULL, &rec,
                                               errstr, sizeof(errstr)),
                         0);
        vcdc_record_clear(&rec);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_invalid_lines),
                cmocka_unit_test(test_valid_lines),
                cmocka_unit_test(test_parse_json_dims),
        };

        return cmocka_run_group_tests_name("input_lines", tests, NULL, NULL);
}
