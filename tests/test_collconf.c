/*
 * vcdc - unit tests of the collection configuration's codec
 * (control/collconf.h): the value written, valid and invalid values side
 * by side, records of other kinds, truncations and allocation failures.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "collconf.h"

static void test_roundtrip(void **state) {
        vcdc_collconf_t cc, back;
        char errstr[256], *text;

        (void)state;
        vcdc_collconf_init(&cc);
        cc.collection = strdup("docs \"q\" \xc3\xa9");
        cc.metric = VCDC_METRIC_L2;
        cc.dim = 128;
        cc.index = strdup("{\"kind\": \"hnsw\", \"m\": 16, "
                          "\"ef_construction\": 64}");
        cc.source = strdup("chroma://127.0.0.1:8000/docs");
        cc.ts_ms = 1767225600123;
        assert_non_null(text = vcdc_collconf_encode(&cc, errstr,
                                                    sizeof(errstr)));
        /* Compact, the kind first, the documented members. */
        assert_string_equal(
                text,
                "{\"kind\":\"collection\",\"collection\":\"docs \\\"q\\\" "
                "\\u00E9\",\"metric\":\"l2\",\"dim\":128,\"index\":{\"kind\":"
                "\"hnsw\",\"m\":16,\"ef_construction\":64},\"source\":"
                "\"chroma://127.0.0.1:8000/docs\",\"ts_ms\":1767225600123}");
        assert_int_equal(vcdc_collconf_decode(text, strlen(text), &back,
                                              errstr, sizeof(errstr)),
                         0);
        assert_string_equal(back.collection, cc.collection);
        assert_int_equal(back.metric, VCDC_METRIC_L2);
        assert_int_equal(back.dim, 128);
        assert_string_equal(back.index, "{\"kind\":\"hnsw\",\"m\":16,"
                                        "\"ef_construction\":64}");
        assert_string_equal(back.source, cc.source);
        assert_int_equal(back.ts_ms, 1767225600123);
        free(text);
        vcdc_collconf_clear(&back);

        /* Nothing but the required: the index null, no source, dim 0. */
        free(cc.index);
        free(cc.source);
        cc.index = cc.source = NULL;
        cc.dim = 0;
        cc.metric = VCDC_METRIC_IP;
        assert_non_null(text = vcdc_collconf_encode(&cc, errstr,
                                                    sizeof(errstr)));
        assert_non_null(strstr(text, "\"metric\":\"ip\",\"dim\":0,"
                                     "\"index\":null,\"ts_ms\":"));
        assert_null(strstr(text, "source"));
        assert_int_equal(vcdc_collconf_decode(text, strlen(text), &back,
                                              errstr, sizeof(errstr)),
                         0);
        assert_int_equal(back.metric, VCDC_METRIC_IP);
        assert_int_equal(back.dim, 0);
        assert_null(back.index);
        assert_null(back.source);
        free(text);
        vcdc_collconf_clear(&back);
        vcdc_collconf_clear(&cc);
        assert_null(cc.collection);
        vcdc_collconf_clear(NULL);
}

static void test_encode_invalid(void **state) {
        static const struct {
                const char *collection;
                vcdc_metric_t metric;
                size_t dim;
                const char *index, *expect;
        } cases[] = {
                {NULL, VCDC_METRIC_COSINE, 3, NULL, "without a collection"},
                {"", VCDC_METRIC_COSINE, 3, NULL, "without a collection"},
                {"c", VCDC_METRIC_UNSET, 3, NULL, "without a metric"},
                {"c", VCDC_METRIC_COSINE, 1048577, NULL, "more than"},
                {"c", VCDC_METRIC_COSINE, 3, "[1]", "not a JSON object"},
                {"c", VCDC_METRIC_COSINE, 3, "{\"m\":", "not a JSON object"},
                {"c", VCDC_METRIC_COSINE, 3, "{\"m\":1,\"m\":2}",
                 "not a JSON object"},
        };
        vcdc_collconf_t cc;
        char errstr[256];
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                vcdc_collconf_init(&cc);
                cc.collection = (char *)cases[i].collection;
                cc.metric = cases[i].metric;
                cc.dim = cases[i].dim;
                cc.index = (char *)cases[i].index;
                errstr[0] = '\0';
                assert_null(vcdc_collconf_encode(&cc, errstr, sizeof(errstr)));
                if (!strstr(errstr, cases[i].expect))
                        fail_msg("case %zu: \"%s\" lacks \"%s\"", i, errstr,
                                 cases[i].expect);
        }
}

/* Valid values: what each decodes to. */
static void test_decode_valid(void **state) {
        static const struct {
                const char *json, *collection;
                vcdc_metric_t metric;
                size_t dim;
                const char *index, *source;
                int64_t ts_ms;
        } cases[] = {
                {"{\"kind\":\"collection\",\"collection\":\"c\",\"metric\":"
                 "\"cosine\",\"ts_ms\":0}",
                 "c", VCDC_METRIC_COSINE, 0, NULL, NULL, 0},
                {" { \"ts_ms\" : 5 , \"dim\" : null , \"metric\" : \"l2\" , "
                 "\"collection\" : \"a:b\" , \"kind\" : \"collection\" } ",
                 "a:b", VCDC_METRIC_L2, 0, NULL, NULL, 5},
                {"{\"kind\":\"collection\",\"collection\":\"c\",\"metric\":"
                 "\"inner_product\",\"dim\":1048576,\"index\":{},\"source\":"
                 "\"pgvector://u@h:5432/db?table=t\",\"ts_ms\":"
                 "9007199254740993,\"future\":[1,{\"x\":2}]}",
                 "c", VCDC_METRIC_IP, 1048576, "{}",
                 "pgvector://u@h:5432/db?table=t", 9007199254740993LL},
                {"{\"kind\":\"collection\",\"collection\":\"\\u00e9\","
                 "\"metric\":\"ip\",\"dim\":3,\"index\":{\"lists\":[1.5]},"
                 "\"source\":null,\"ts_ms\":1}",
                 "\xc3\xa9", VCDC_METRIC_IP, 3, "{\"lists\":[1.5]}", NULL, 1},
        };
        vcdc_collconf_t cc;
        char errstr[256];
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                if (vcdc_collconf_decode(cases[i].json, strlen(cases[i].json),
                                         &cc, errstr, sizeof(errstr)) != 0)
                        fail_msg("case %zu: %s", i, errstr);
                assert_string_equal(cc.collection, cases[i].collection);
                assert_int_equal(cc.metric, cases[i].metric);
                assert_int_equal(cc.dim, cases[i].dim);
                assert_int_equal(cc.ts_ms, cases[i].ts_ms);
                if (cases[i].index)
                        assert_string_equal(cc.index, cases[i].index);
                else
                        assert_null(cc.index);
                if (cases[i].source)
                        assert_string_equal(cc.source, cases[i].source);
                else
                        assert_null(cc.source);
                vcdc_collconf_clear(&cc);
        }
}

#define CC_HEAD "{\"kind\":\"collection\",\"collection\":\"c\","

/* Malformed values: the error each gives; and other kinds: 1. */
static void test_decode_invalid(void **state) {
        static const struct {
                const char *json, *expect; /* expect NULL: another kind */
        } cases[] = {
                {"", "not JSON"},
                {"{", "not JSON"},
                {"[]", "not a JSON object"},
                {"\"collection\"", "not a JSON object"},
                {"{\"kind\":\"collection\"}", "without \"collection\""},
                {"{\"kind\":\"collection\",\"collection\":1}",
                 "not a string"},
                {"{\"kind\":\"collection\",\"collection\":\"\"}", "is empty"},
                {CC_HEAD "\"ts_ms\":1}", "\"metric\" must be"},
                {CC_HEAD "\"metric\":\"dot\",\"ts_ms\":1}",
                 "\"metric\" must be"},
                {CC_HEAD "\"metric\":\"COSINE\",\"ts_ms\":1}",
                 "\"metric\" must be"},
                {CC_HEAD "\"metric\":3,\"ts_ms\":1}", "\"metric\" must be"},
                {CC_HEAD "\"metric\":\"l2\",\"dim\":-1,\"ts_ms\":1}",
                 "\"dim\" must be"},
                {CC_HEAD "\"metric\":\"l2\",\"dim\":1048577,\"ts_ms\":1}",
                 "\"dim\" must be"},
                {CC_HEAD "\"metric\":\"l2\",\"dim\":2.5,\"ts_ms\":1}",
                 "\"dim\" must be"},
                {CC_HEAD "\"metric\":\"l2\",\"dim\":\"3\",\"ts_ms\":1}",
                 "\"dim\" must be"},
                {CC_HEAD "\"metric\":\"l2\",\"index\":\"hnsw\",\"ts_ms\":1}",
                 "\"index\" is not an object"},
                {CC_HEAD "\"metric\":\"l2\",\"index\":[],\"ts_ms\":1}",
                 "\"index\" is not an object"},
                {CC_HEAD "\"metric\":\"l2\",\"source\":{},\"ts_ms\":1}",
                 "\"source\" is not a string"},
                {CC_HEAD "\"metric\":\"l2\"}", "\"ts_ms\" must be"},
                {CC_HEAD "\"metric\":\"l2\",\"ts_ms\":-3}",
                 "\"ts_ms\" must be"},
                {CC_HEAD "\"metric\":\"l2\",\"ts_ms\":\"1\"}",
                 "\"ts_ms\" must be"},
                {CC_HEAD "\"metric\":\"l2\",\"metric\":\"ip\",\"ts_ms\":1}",
                 "not JSON"},
                {"{\"kind\":\"collection\",\"collection\":\"\xff\"}",
                 "not JSON"},
                /* Other kinds, whatever they hold. */
                {"{\"collection\":\"c\",\"route\":\"new\",\"previous\":"
                 "\"old\",\"ts_ms\":1}",
                 NULL},
                {"{\"kind\":\"route\"}", NULL},
                {"{\"kind\":\"snapshot\",\"collection\":\"c\",\"metric\":"
                 "\"l2\",\"ts_ms\":1}",
                 NULL},
                {"{\"kind\":[\"collection\"]}", NULL},
                {"{}", NULL},
        };
        vcdc_collconf_t cc;
        char errstr[256];
        size_t i;
        int r;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                snprintf(errstr, sizeof(errstr), "untouched");
                r = vcdc_collconf_decode(cases[i].json, strlen(cases[i].json),
                                         &cc, errstr, sizeof(errstr));
                if (!cases[i].expect) {
                        if (r != 1)
                                fail_msg("case %zu: %d, want 1 (another "
                                         "kind): %s",
                                         i, r, cases[i].json);
                        assert_string_equal(errstr, "untouched");
                } else {
                        if (r != -1)
                                fail_msg("case %zu accepted: %s", i,
                                         cases[i].json);
                        if (!strstr(errstr, cases[i].expect))
                                fail_msg("case %zu: \"%s\" lacks \"%s\"", i,
                                         errstr, cases[i].expect);
                }
                /* Nothing left behind. */
                assert_null(cc.collection);
                assert_null(cc.index);
                assert_null(cc.source);
        }
        assert_int_equal(vcdc_collconf_decode(NULL, 0, &cc, errstr,
                                              sizeof(errstr)),
                         -1);
        assert_non_null(strstr(errstr, "tombstone"));
}

static const char full[] =
        "{\"kind\":\"collection\",\"collection\":\"docs\",\"metric\":"
        "\"cosine\",\"dim\":128,\"index\":{\"kind\":\"hnsw\",\"m\":16},"
        "\"source\":\"chroma://h:1/docs\",\"ts_ms\":17}";

/* Every prefix of a valid value is malformed, and never crashes. */
static void test_decode_truncated(void **state) {
        vcdc_collconf_t cc;
        char errstr[256];
        size_t len;

        (void)state;
        for (len = 0; len < sizeof(full) - 1; len++)
                assert_int_equal(vcdc_collconf_decode(full, len, &cc, errstr,
                                                      sizeof(errstr)),
                                 -1);
        assert_int_equal(vcdc_collconf_decode(full, sizeof(full) - 1, &cc,
                                              errstr, sizeof(errstr)),
                         0);
        vcdc_collconf_clear(&cc);
}

/* jansson's allocations fail one after the other: an error, never a
 * crash or a leak. */
static int fail_at, allocs;

static void *failing_malloc(size_t size) {
        return ++allocs == fail_at ? NULL : malloc(size);
}

static void test_alloc_failures(void **state) {
        vcdc_collconf_t cc;
        char errstr[256], *text;
        int r, n, ok = 0;

        (void)state;
        json_set_alloc_funcs(failing_malloc, free);
        for (n = 1; n < 200 && !ok; n++) {
                fail_at = n;
                allocs = 0;
                r = vcdc_collconf_decode(full, sizeof(full) - 1, &cc, errstr,
                                         sizeof(errstr));
                assert_true(r == 0 || r == -1);
                if (r == 0) {
                        /* Encoding it back may fail in turn. */
                        text = vcdc_collconf_encode(&cc, errstr,
                                                    sizeof(errstr));
                        /* Past the last allocation: nothing failed. */
                        if ((ok = allocs < fail_at))
                                assert_non_null(text);
                        free(text);
                }
                vcdc_collconf_clear(&cc);
        }
        json_set_alloc_funcs(malloc, free);
        assert_true(ok);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_roundtrip),
                cmocka_unit_test(test_encode_invalid),
                cmocka_unit_test(test_decode_valid),
                cmocka_unit_test(test_decode_invalid),
                cmocka_unit_test(test_decode_truncated),
                cmocka_unit_test(test_alloc_failures),
        };

        return cmocka_run_group_tests_name("collconf", tests, NULL, NULL);
}
