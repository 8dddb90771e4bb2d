/*
 * vcdc - unit tests: the Chroma sink's answer parsers (a collection, a
 * get by ids, by page and from a row on, read from the scanner, a query,
 * the offsets records) with valid and malformed answers side by side,
 * and the scan cursor.
 * No server.
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

#include "json_load.h"
#include "sink.h"
#include "sink_chroma_int.h"

#define ARRAY_CNT(a) (sizeof(a) / sizeof(*(a)))

static void test_parse_collection(void **state) {
        static const struct {
                const char *answer;
                size_t dim;
                vcdc_metric_t metric;
        } valid[] = {
                /* As Chroma 3.0.6 answers. */
                {"{\"id\":\"4818b4f2-c24b-456b-8a52-b9c86f32485f\",\"name\":"
                 "\"tst1\",\"configuration_json\":{\"hnsw\":{\"space\":"
                 "\"cosine\",\"ef_construction\":100},\"spann\":null,"
                 "\"embedding_function\":null},\"metadata\":null,"
                 "\"dimension\":null,\"tenant\":\"default_tenant\"}",
                 0, VCDC_METRIC_COSINE},
                {"{\"id\":\"x\",\"configuration_json\":{\"hnsw\":{\"space\":"
                 "\"ip\"}},\"dimension\":128}",
                 128, VCDC_METRIC_IP},
                {"{\"id\":\"x\",\"configuration_json\":{\"hnsw\":null,"
                 "\"spann\":{\"space\":\"l2\"}},\"dimension\":3}",
                 3, VCDC_METRIC_L2},
                /* Older servers: the space only in the metadata. */
                {"{\"id\":\"x\",\"metadata\":{\"hnsw:space\":\"cosine\"}}", 0,
                 VCDC_METRIC_COSINE},
                {"{\"id\":\"x\",\"configuration\":{\"hnsw\":{\"space\":"
                 "\"ip\"}}}",
                 0, VCDC_METRIC_IP},
                /* Nothing said: Chroma's default. */
                {"{\"id\":\"x\"}", 0, VCDC_METRIC_L2},
        };
        static const char *const invalid[] = {
                "[]",
                "{}",
                "{\"id\":1}",
                "{\"id\":\"\"}",
                "{\"id\":\"x\",\"dimension\":\"128\"}",
                "{\"id\":\"x\",\"dimension\":-1}",
                "{\"id\":\"x\",\"configuration_json\":{\"hnsw\":{\"space\":"
                "\"hamming\"}}}",
                "{\"id\":\"0123456789012345678901234567890123456789012345678901"
                "234567890123456789\"}",
        };
        char id[64], errstr[256];
        vcdc_metric_t metric;
        size_t i, dim;

        (void)state;
        for (i = 0; i < ARRAY_CNT(valid); i++) {
                json_t *j = json_load_or_fail(valid[i].answer);
                if (vcdc_chroma_parse_collection(j, id, sizeof(id), &dim,
                                                 &metric, errstr,
                                                 sizeof(errstr)))
                        fail_msg("valid[%zu]: %s", i, errstr);
                assert_int_equal(dim, valid[i].dim);
                assert_int_equal(metric, valid[i].metric);
                json_decref(j);
        }
        for (i = 0; i < ARRAY_CNT(invalid); i++) {
                json_t *j = json_load_or_fail(invalid[i]);
                if (!vcdc_chroma_parse_collection(j, id, sizeof(id), &dim,
                                                  &metric, errstr,
                                                  sizeof(errstr)))
                        fail_msg("invalid[%zu] accepted", i);
                json_decref(j);
        }
        assert_int_equal(vcdc_chroma_parse_collection(NULL, id, sizeof(id),
                                                      &dim, &metric, errstr,
                                                      sizeof(errstr)),
                         -1);
}

/* A scanner that accepted text (the get answers are read from one). */
static vcdc_jsonscan_t *scan_or_fail(const char *text) {
        vcdc_jsonscan_t *js = vcdc_jsonscan_new();
        vcdc_json_span_t root;
        vcdc_json_error_t err;

        assert_non_null(js);
        if (vcdc_jsonscan_run(js, text, strlen(text), &root, &err) == -1)
                fail_msg("%s: %s", text, err.text);
        return js;
}

static void test_parse_get_by_ids(void **state) {
        /* Answer order differs from the question; "zz" is missing; "a" is
         * asked for twice. */
        static const char answer[] =
                "{\"ids\":[\"b\",\"a\"],\"embeddings\":[[0.33333334,1e-45],"
                "[1.0,-2.5]],\"documents\":[null,\"doc a\"],\"uris\":null,"
                "\"metadatas\":[{\"x\":0.1,\"n\":3},null],"
                "\"include\":[\"embeddings\",\"metadatas\",\"documents\"]}";
        static const char *const ids[] = {"a", "zz", "b", "a"};
        vcdc_record_t out[4];
        char errstr[256];
        size_t i, found;
        vcdc_jsonscan_t *j = scan_or_fail(answer);
        float third = 1.0f / 3.0f, tiny = 1e-45f;

        (void)state;
        for (i = 0; i < 4; i++)
                vcdc_record_init(&out[i]);
        assert_int_equal(vcdc_chroma_scan_get(j, ids, 4, out, &found, errstr,
                                               sizeof(errstr)),
                         0);
        assert_int_equal(found, 3);
        assert_string_equal(out[0].id, "a");
        assert_int_equal(out[0].dim, 2);
        assert_true(out[0].vector[0] == 1.0f && out[0].vector[1] == -2.5f);
        assert_null(out[0].metadata);
        assert_string_equal(out[0].document, "doc a");
        assert_null(out[1].id);
        assert_string_equal(out[2].id, "b");
        assert_memory_equal(&out[2].vector[0], &third, sizeof(float));
        assert_memory_equal(&out[2].vector[1], &tiny, sizeof(float));
        assert_string_equal(out[2].metadata, "{\"x\":0.1,\"n\":3}");
        assert_null(out[2].document);
        assert_string_equal(out[3].id, "a");
        assert_string_equal(out[3].document, "doc a");
        assert_ptr_not_equal(out[3].vector, out[0].vector);
        for (i = 0; i < 4; i++)
                vcdc_record_clear(&out[i]);
        vcdc_jsonscan_destroy(j);
}

static void test_parse_get_page(void **state) {
        static const char answer[] =
                "{\"ids\":[\"p\",\"q\"],\"embeddings\":null,\"documents\":"
                "[\"\",null],\"metadatas\":[{},{\"b\":true}]}";
        vcdc_record_t out[3];
        char errstr[256];
        size_t i, n;
        vcdc_jsonscan_t *j = scan_or_fail(answer);

        (void)state;
        for (i = 0; i < 3; i++)
                vcdc_record_init(&out[i]);
        assert_int_equal(vcdc_chroma_scan_get(j, NULL, 3, out, &n, errstr,
                                               sizeof(errstr)),
                         0);
        assert_int_equal(n, 2);
        assert_string_equal(out[0].id, "p");
        assert_null(out[0].vector);
        assert_null(out[0].metadata);
        assert_string_equal(out[0].document, "");
        assert_string_equal(out[1].metadata, "{\"b\":true}");
        assert_null(out[2].id);
        /* More than asked for. */
        for (i = 0; i < 3; i++)
                vcdc_record_clear(&out[i]);
        assert_int_equal(vcdc_chroma_scan_get(j, NULL, 1, out, &n, errstr,
                                               sizeof(errstr)),
                         -1);
        assert_null(out[0].id);
        vcdc_jsonscan_destroy(j);
}

/* A page read from a row on, as a scan does after its lookback. */
static void test_parse_rows(void **state) {
        static const char answer[] =
                "{\"ids\":[\"a\",\"b\",\"c\",\"d\"],\"embeddings\":"
                "[[1],[2],[3],[4]],\"documents\":null,\"metadatas\":null}";
        vcdc_record_t out[2];
        char errstr[256];
        size_t n;
        vcdc_jsonscan_t *j = scan_or_fail(answer);

        (void)state;
        vcdc_record_init(&out[0]);
        vcdc_record_init(&out[1]);
        assert_int_equal(vcdc_chroma_scan_rows(j, 1, 2, out, &n, errstr,
                                                sizeof(errstr)),
                         0);
        assert_int_equal(n, 2);
        assert_string_equal(out[0].id, "b");
        assert_true(out[1].vector[0] == 3);
        vcdc_record_clear(&out[0]);
        vcdc_record_clear(&out[1]);
        assert_int_equal(vcdc_chroma_scan_rows(j, 3, 2, out, &n, errstr,
                                                sizeof(errstr)),
                         0);
        assert_int_equal(n, 1);
        assert_string_equal(out[0].id, "d");
        vcdc_record_clear(&out[0]);
        assert_int_equal(vcdc_chroma_scan_rows(j, 9, 2, out, &n, errstr,
                                                sizeof(errstr)),
                         0);
        assert_int_equal(n, 0);
        vcdc_jsonscan_destroy(j);
}

/* The scan cursor as text, valid and invalid side by side, and the
 * anchors found again in a page. */
static void test_scan_cursor(void **state) {
        static const struct {
                const char *text;
                int ok;
                unsigned long long offset;
                size_t anchors;
        } cases[] = {
                {"0", 1, 0, 0},
                {"120", 1, 120, 0},
                {"5,1:a", 1, 5, 1},
                {"5,3:a,b,1:c", 1, 5, 2}, /* "a,b" is one id */
                {"7,0:", 1, 7, 1},
                {"", 0, 0, 0},
                {"-1", 0, 0, 0},
                {"x", 0, 0, 0},
                {"5,", 0, 0, 0},
                {"5,2:a", 0, 0, 0},
                {"5,1:ab", 0, 0, 0},
                {"5;1:a", 0, 0, 0},
                {"99999999999999999999999", 0, 0, 0},
        };
        static const char answer[] = "{\"ids\":[\"x\",\"a\",\"y\","
                                     "\"b\",\"z\",\"c\"]}";
        vcdc_chroma_cursor_t cur;
        char *text, id[8];
        size_t i, k;
        vcdc_jsonscan_t *j;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                int r = vcdc_chroma_cursor_parse(cases[i].text, &cur);
                if (r != (cases[i].ok ? 0 : -1))
                        fail_msg("\"%s\": %d", cases[i].text, r);
                assert_int_equal(cur.offset, cases[i].offset);
                assert_int_equal(cur.anchor_cnt, cases[i].anchors);
                if (cases[i].ok) {
                        text = vcdc_chroma_cursor_format(&cur);
                        assert_string_equal(text, cases[i].text);
                        free(text);
                }
                vcdc_chroma_cursor_clear(&cur);
        }
        /* At most VCDC_CHROMA_SCAN_ANCHORS, the oldest dropped. */
        memset(&cur, 0, sizeof(cur));
        for (i = 0; i < VCDC_CHROMA_SCAN_ANCHORS + 3; i++) {
                snprintf(id, sizeof(id), "i%zu", i);
                assert_int_equal(vcdc_chroma_cursor_push(&cur, id), 0);
        }
        assert_int_equal(cur.anchor_cnt, VCDC_CHROMA_SCAN_ANCHORS);
        assert_string_equal(cur.anchors[0], "i3");
        vcdc_chroma_cursor_clear(&cur);

        /* The latest anchor there, before the end offset only. */
        j = scan_or_fail(answer);
        assert_int_equal(vcdc_chroma_cursor_parse("10,1:a,1:b,1:q", &cur), 0);
        assert_int_equal(vcdc_chroma_scan_anchor(j, 4, 10, &cur, &k), 3);
        assert_int_equal(k, 1); /* "b": "q" is gone */
        assert_int_equal(vcdc_chroma_scan_anchor(j, 4, 7, &cur, &k), 1);
        assert_int_equal(k, 0); /* "b" moved past the end: "a" */
        assert_int_equal(vcdc_chroma_scan_anchor(j, 4, 5, &cur, &k), -1);
        vcdc_chroma_cursor_keep(&cur, 1);
        assert_int_equal(cur.anchor_cnt, 1);
        vcdc_chroma_cursor_clear(&cur);
        vcdc_jsonscan_destroy(j);
}

/* Malformed answers are errors that leave nothing allocated. */
static void test_parse_get_malformed(void **state) {
        static const char *const answers[] = {
                "[]",
                "{}",
                "{\"ids\":null}",
                "{\"ids\":\"a\"}",
                "{\"ids\":[1]}",
                "{\"ids\":[\"a\"],\"embeddings\":[]}",
                "{\"ids\":[\"a\"],\"embeddings\":{}}",
                "{\"ids\":[\"a\"],\"embeddings\":[\"AAAA\"]}",
                "{\"ids\":[\"a\"],\"embeddings\":[[]]}",
                "{\"ids\":[\"a\"],\"embeddings\":[[1,\"2\"]]}",
                "{\"ids\":[\"a\"],\"embeddings\":[[1e40]]}",
                "{\"ids\":[\"a\"],\"embeddings\":[[1,null]]}",
                "{\"ids\":[\"a\"],\"metadatas\":[[1]]}",
                "{\"ids\":[\"a\"],\"metadatas\":[1,2]}",
                "{\"ids\":[\"a\"],\"documents\":[7]}",
                "{\"ids\":[\"a\",\"x\"]}",
                "{\"ids\":[\"a\",\"a\"]}",
                "{\"ids\":[\"b\",\"a\"],\"documents\":[\"ok\",1]}",
                "{\"ids\":[\"a\",\"b\"],\"embeddings\":[[1],[true]]}",
        };
        static const char *const ids[] = {"a", "b"};
        vcdc_record_t out[2];
        char errstr[256];
        size_t i, k, found;

        (void)state;
        for (i = 0; i < ARRAY_CNT(answers); i++) {
                vcdc_jsonscan_t *j = scan_or_fail(answers[i]);
                for (k = 0; k < 2; k++)
                        vcdc_record_init(&out[k]);
                errstr[0] = '\0';
                if (vcdc_chroma_scan_get(j, ids, 2, out, &found, errstr,
                                          sizeof(errstr)) != -1)
                        fail_msg("answer[%zu] %s accepted", i, answers[i]);
                assert_true(errstr[0] != '\0');
                for (k = 0; k < 2; k++)
                        assert_null(out[k].id);
                vcdc_jsonscan_destroy(j);
        }
}

static void test_parse_query(void **state) {
        static const char answer[] =
                "{\"ids\":[[\"n1\",\"n2\",\"n3\"]],\"embeddings\":null,"
                "\"distances\":[[0.0,0.25,1.5]],\"include\":[\"distances\"]}";
        static const char *const malformed[] = {
                "{}",
                "{\"ids\":[],\"distances\":[]}",
                "{\"ids\":[[\"a\"]],\"distances\":[[]]}",
                "{\"ids\":[[\"a\"]]}",
                "{\"ids\":[[\"a\",\"b\"]],\"distances\":[[0.1,\"x\"]]}",
                "{\"ids\":[[\"a\",2]],\"distances\":[[0.1,0.2]]}",
                "{\"ids\":[\"a\"],\"distances\":[0.1]}",
        };
        vcdc_hit_t hits[3];
        char errstr[256];
        size_t i, n;
        json_t *j = json_load_or_fail(answer);

        (void)state;
        memset(hits, 0, sizeof(hits));
        assert_int_equal(
                vcdc_chroma_parse_query(j, hits, 3, &n, errstr, sizeof(errstr)),
                0);
        assert_int_equal(n, 3);
        assert_string_equal(hits[0].id, "n1");
        assert_true(hits[1].distance == 0.25);
        for (i = 0; i < n; i++)
                free(hits[i].id);
        assert_int_equal(
                vcdc_chroma_parse_query(j, hits, 2, &n, errstr, sizeof(errstr)),
                0);
        assert_int_equal(n, 2);
        for (i = 0; i < n; i++)
                free(hits[i].id);
        json_decref(j);
        j = json_load_or_fail("{\"ids\":[[]],\"distances\":[[]]}");
        assert_int_equal(
                vcdc_chroma_parse_query(j, hits, 3, &n, errstr, sizeof(errstr)),
                0);
        assert_int_equal(n, 0);
        json_decref(j);
        for (i = 0; i < ARRAY_CNT(malformed); i++) {
                memset(hits, 0, sizeof(hits));
                j = json_load_or_fail(malformed[i]);
                if (vcdc_chroma_parse_query(j, hits, 3, &n, errstr,
                                            sizeof(errstr)) != -1)
                        fail_msg("malformed[%zu] accepted", i);
                assert_null(hits[0].id);
                assert_int_equal(n, 0);
                json_decref(j);
        }
}

static void test_parse_offsets(void **state) {
        /* Records of collection c-1, of another one (c-0, since
         * deleted), of none yet (""), and from before the stamp. */
        static const char answer[] =
                "{\"ids\":[\"t/2\",\"t/0\",\"u/0\",\"t/5\",\"t/6\","
                "\"t/7\"],\"metadatas\":["
                "{\"topic\":\"t\",\"partition\":2,\"offset\":9000000000,"
                "\"collection_id\":\"c-1\"},"
                "{\"topic\":\"t\",\"partition\":0,\"offset\":-1,"
                "\"collection_id\":\"c-1\"},"
                "{\"topic\":\"u\",\"partition\":0,\"offset\":5,"
                "\"collection_id\":\"c-1\"},"
                "{\"topic\":\"t\",\"partition\":5,\"offset\":50,"
                "\"collection_id\":\"c-0\"},"
                "{\"topic\":\"t\",\"partition\":6,\"offset\":60,"
                "\"collection_id\":\"\"},"
                "{\"topic\":\"t\",\"partition\":7,\"offset\":70}]}";
        static const char *const malformed[] = {
                "{}",
                "{\"metadatas\":null}",
                "{\"metadatas\":[null]}",
                "{\"metadatas\":[{\"topic\":\"t\",\"partition\":0}]}",
                "{\"metadatas\":[{\"topic\":\"t\",\"partition\":-1,"
                "\"offset\":1}]}",
                "{\"metadatas\":[{\"topic\":\"t\",\"partition\":4294967296,"
                "\"offset\":1}]}",
                "{\"metadatas\":[{\"topic\":\"t\",\"partition\":0,"
                "\"offset\":1.5}]}",
        };
        vcdc_sink_offset_t *offs;
        char errstr[256];
        size_t i, n;
        json_t *j = json_load_or_fail(answer);

        (void)state;
        assert_int_equal(vcdc_chroma_parse_offsets(j, "t", "c-1", &offs, &n,
                                                   errstr, sizeof(errstr)),
                         0);
        assert_int_equal(n, 2);
        assert_int_equal(offs[0].partition, 0);
        assert_int_equal(offs[0].offset, -1);
        assert_int_equal(offs[1].partition, 2);
        assert_int_equal(offs[1].offset, 9000000000LL);
        free(offs);
        /* While no collection exists: only those recorded without one. */
        assert_int_equal(vcdc_chroma_parse_offsets(j, "t", "", &offs, &n,
                                                   errstr, sizeof(errstr)),
                         0);
        assert_int_equal(n, 1);
        assert_int_equal(offs[0].partition, 6);
        free(offs);
        /* A collection since re-created: none. */
        assert_int_equal(vcdc_chroma_parse_offsets(j, "t", "c-2", &offs, &n,
                                                   errstr, sizeof(errstr)),
                         0);
        assert_int_equal(n, 0);
        free(offs);
        json_decref(j);
        j = json_load_or_fail("{\"ids\":[],\"metadatas\":[]}");
        assert_int_equal(vcdc_chroma_parse_offsets(j, "t", "", &offs, &n,
                                                   errstr, sizeof(errstr)),
                         0);
        assert_int_equal(n, 0);
        assert_non_null(offs);
        free(offs);
        json_decref(j);
        for (i = 0; i < ARRAY_CNT(malformed); i++) {
                j = json_load_or_fail(malformed[i]);
                if (vcdc_chroma_parse_offsets(j, "t", "", &offs, &n, errstr,
                                              sizeof(errstr)) != -1)
                        fail_msg("malformed[%zu] accepted", i);
                assert_null(offs);
                json_decref(j);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_collection),
                cmocka_unit_test(test_parse_get_by_ids),
                cmocka_unit_test(test_parse_get_page),
                cmocka_unit_test(test_parse_rows),
                cmocka_unit_test(test_scan_cursor),
                cmocka_unit_test(test_parse_get_malformed),
                cmocka_unit_test(test_parse_query),
                cmocka_unit_test(test_parse_offsets),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
