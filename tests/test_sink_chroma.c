/*
 * vcdc - unit tests: the Chroma sink's checks (what Chroma refuses or
 * alters), request bodies and the model of its float parser, without a
 * server. Answers are test_sink_chroma_answer.c's, the transport
 * test_sink_chroma_http.c's.
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

#include "json_load.h"
#include "sink.h"
#include "sink_chroma_int.h"

#define ARRAY_CNT(a) (sizeof(a) / sizeof(*(a)))

static vcdc_record_t *rec_new(const char *id, const float *vector, size_t dim,
                              const char *metadata, const char *document) {
        vcdc_record_t *rec = calloc(1, sizeof(*rec));

        vcdc_record_init(rec);
        rec->id = id ? strdup(id) : NULL;
        if (vector) {
                rec->vector = malloc(dim * sizeof(float));
                memcpy(rec->vector, vector, dim * sizeof(float));
        }
        rec->dim = dim;
        rec->metadata = metadata ? strdup(metadata) : NULL;
        rec->document = document ? strdup(document) : NULL;
        return rec;
}

static void rec_free(vcdc_record_t *rec) {
        vcdc_record_clear(rec);
        free(rec);
}

/* Metadata Chroma can hold, and what it cannot, side by side. */
static void test_metadata_check(void **state) {
        static const char *const valid[] = {
                NULL,
                "{}",
                "{\"s\":\"x\",\"i\":1,\"f\":1.5,\"b\":true,\"n\":false}",
                "{\"min\":-9223372036854775808,\"max\":9223372036854775807}",
                "{\"\":1}",
                "{\"#document\":1,\"$x\":\"y\",\"chromax\":2}",
                "{\"k\\u00e9y\":\"\\u00e9\\ud83d\\ude00\"}",
                "{\"big\":1e300,\"tiny\":5e-324,\"neg0\":-0.0}",
                " { \"a\" : \"\" } ",
        };
        static const struct {
                const char *metadata, *expect;
        } invalid[] = {
                {"{\"a\":null}", "\"a\" is null"},
                {"{\"ok\":1,\"a\":[1,2]}", "\"a\" is an array"},
                {"{\"a\":[]}", "\"a\" is an array"},
                {"{\"a\":[\"x\"]}", "\"a\" is an array"},
                {"{\"a\":{\"b\":1}}", "\"a\" is a nested object"},
                {"{\"a\":{}}", "\"a\" is a nested object"},
                {"{\"chroma:document\":\"x\"}", "reserved"},
                {"{\"chroma:anything\":1}", "reserved"},
                {"[1]", "not a JSON object"},
                {"\"x\"", "not valid JSON"},
                {"1", "not valid JSON"},
                {"", "not valid JSON"},
                {"{bad", "not valid JSON"},
                {"{\"a\":1,\"a\":2}", "duplicate"},
                {"{\"a\":12345678901234567890}", "too big integer"},
                {"{\"a\":1e400}", "overflow"},
                {"{\"a\":NaN}", "not valid JSON"},
                {"{\"a\":\"\\u0000\"}", "not valid JSON"},
        };
        char errstr[512];
        size_t i;

        (void)state;
        for (i = 0; i < ARRAY_CNT(valid); i++) {
                errstr[0] = '\0';
                if (vcdc_chroma_metadata_check(valid[i], errstr,
                                               sizeof(errstr)) != 0)
                        fail_msg("valid[%zu] %s refused: %s", i, valid[i],
                                 errstr);
        }
        for (i = 0; i < ARRAY_CNT(invalid); i++) {
                errstr[0] = '\0';
                if (vcdc_chroma_metadata_check(invalid[i].metadata, errstr,
                                               sizeof(errstr)) != -1)
                        fail_msg("invalid[%zu] %s accepted", i,
                                 invalid[i].metadata);
                if (!strstr(errstr, invalid[i].expect))
                        fail_msg("invalid[%zu] %s: \"%s\" lacks \"%s\"", i,
                                 invalid[i].metadata, errstr,
                                 invalid[i].expect);
        }
}

static void test_record_check(void **state) {
        static const float v3[] = {1, 2, 3}, v2[] = {1, 2};
        const float bad[] = {1, NAN, 3}, inf[] = {INFINITY, 0, 0};
        static const struct {
                const char *id;
                int vec; /* 0 none, 1 v3, 2 v2, 3 NaN, 4 inf */
                const char *metadata, *document, *expect;
        } cases[] = {
                {"a", 1, "{\"k\":1}", "doc", NULL},
                {"a", 1, NULL, "", NULL},
                {"", 1, NULL, NULL, "empty id"},
                {NULL, 1, NULL, NULL, "empty id"},
                {"\xff", 1, NULL, NULL, "not UTF-8"},
                {"a", 0, NULL, NULL, "no vector"},
                {"a", 2, NULL, NULL, "dimension 2, expected 3"},
                {"a", 3, NULL, NULL, "id \"a\": vector[1] is NaN"},
                {"a", 4, NULL, NULL, "id \"a\": vector[0] is infinite"},
                {"a", 1, "{\"x\":[1]}", NULL, "id \"a\": metadata key \"x\""},
                {"a", 1, NULL, "bad \xc3\x28", "document is not UTF-8"},
        };
        const float *vecs[] = {NULL, v3, v2, bad, inf};
        size_t dims[] = {0, 3, 2, 3, 3};
        char errstr[512];
        size_t i, dim;

        (void)state;
        for (i = 0; i < ARRAY_CNT(cases); i++) {
                vcdc_record_t *rec = rec_new(
                        cases[i].id, vecs[cases[i].vec], dims[cases[i].vec],
                        cases[i].metadata, cases[i].document);
                int r;
                dim = 3;
                errstr[0] = '\0';
                r = vcdc_chroma_record_check(rec, VCDC_METRIC_L2, &dim, errstr,
                                             sizeof(errstr));
                if (!cases[i].expect && r != 0)
                        fail_msg("case %zu refused: %s", i, errstr);
                if (cases[i].expect &&
                    (r != -1 || !strstr(errstr, cases[i].expect)))
                        fail_msg("case %zu: r=%d \"%s\" lacks \"%s\"", i, r,
                                 errstr, cases[i].expect);
                rec_free(rec);
        }
        /* An unknown dimension is taken from the record. */
        {
                vcdc_record_t *rec = rec_new("a", v2, 2, NULL, NULL);
                dim = 0;
                assert_int_equal(vcdc_chroma_record_check(rec, VCDC_METRIC_L2,
                                                          &dim, errstr,
                                                          sizeof(errstr)),
                                 0);
                assert_int_equal(dim, 2);
                rec_free(rec);
        }
        /* A norm float32 cannot hold: fine for l2, refused for cosine. */
        {
                static const float huge[] = {FLT_MAX, 1};
                vcdc_record_t *rec = rec_new("h", huge, 2, NULL, NULL);
                dim = 0;
                assert_int_equal(vcdc_chroma_record_check(rec, VCDC_METRIC_L2,
                                                          &dim, errstr,
                                                          sizeof(errstr)),
                                 0);
                assert_int_equal(
                        vcdc_chroma_record_check(rec, VCDC_METRIC_COSINE, &dim,
                                                 errstr, sizeof(errstr)),
                        -1);
                assert_non_null(strstr(errstr, "overflows float32"));
                rec_free(rec);
        }
        /* Every square rounds to 0 in float32 (at most 2^-150, so each
         * component at most 2^-75): Chroma's cosine stores zeros. One
         * component above keeps the norm, and so does l2. */
        {
                static const float tiny[] = {0x1p-75f, -0x1p-75f, 0},
                                   fine[] = {0x1p-75f, 0x1.000002p-75f, 0},
                                   zero[] = {0, 0, 0};
                vcdc_record_t *rec = rec_new("t", tiny, 3, NULL, NULL);
                dim = 0;
                assert_int_equal(
                        vcdc_chroma_record_check(rec, VCDC_METRIC_COSINE, &dim,
                                                 errstr, sizeof(errstr)),
                        -1);
                assert_non_null(strstr(errstr, "as zeros"));
                assert_int_equal(vcdc_chroma_record_check(rec, VCDC_METRIC_L2,
                                                          &dim, errstr,
                                                          sizeof(errstr)),
                                 0);
                rec_free(rec);
                rec = rec_new("f", fine, 3, NULL, NULL);
                assert_int_equal(
                        vcdc_chroma_record_check(rec, VCDC_METRIC_COSINE, &dim,
                                                 errstr, sizeof(errstr)),
                        0);
                rec_free(rec);
                rec = rec_new("z", zero, 3, NULL, NULL); /* stored as is */
                assert_int_equal(
                        vcdc_chroma_record_check(rec, VCDC_METRIC_COSINE, &dim,
                                                 errstr, sizeof(errstr)),
                        0);
                rec_free(rec);
        }
        /* A record whose upsert alone exceeds Chroma's 40 MiB body cap. */
        {
                size_t n = VCDC_CHROMA_SERVER_BODY_MAX;
                char *doc = malloc(n + 1);
                vcdc_record_t *rec;
                memset(doc, 'd', n);
                doc[n] = '\0';
                rec = rec_new("b", v3, 3, NULL, doc);
                dim = 3;
                assert_int_equal(vcdc_chroma_record_check(rec, VCDC_METRIC_L2,
                                                          &dim, errstr,
                                                          sizeof(errstr)),
                                 -1);
                assert_non_null(strstr(errstr, "HTTP 413"));
                rec_free(rec);
                doc[n - 1024] = '\0';
                rec = rec_new("b", v3, 3, NULL, doc);
                assert_int_equal(vcdc_chroma_record_check(rec, VCDC_METRIC_L2,
                                                          &dim, errstr,
                                                          sizeof(errstr)),
                                 0);
                rec_free(rec);
                free(doc);
        }
}

static void test_name_check(void **state) {
        static const char *const valid[] = {
                "abc",   "docs", "a_b-c.d",           "A1.b2",
                "x.y.z", "123",  "coll_vcdc_offsets",
        };
        static const char *const invalid[] = {
                "",     "ab",    "_abc", "abc_", "-ab",         "ab.",
                "a..b", "a b c", "a/bc", "ab%c", "caf\xc3\xa9", "1.2.3.4",
        };
        char errstr[256], longname[VCDC_CHROMA_NAME_MAX + 2];
        size_t i;

        (void)state;
        for (i = 0; i < ARRAY_CNT(valid); i++)
                if (vcdc_chroma_name_check(valid[i], errstr, sizeof(errstr)))
                        fail_msg("valid \"%s\" refused: %s", valid[i], errstr);
        for (i = 0; i < ARRAY_CNT(invalid); i++)
                if (!vcdc_chroma_name_check(invalid[i], errstr, sizeof(errstr)))
                        fail_msg("invalid \"%s\" accepted", invalid[i]);
        memset(longname, 'a', VCDC_CHROMA_NAME_MAX);
        longname[VCDC_CHROMA_NAME_MAX] = '\0';
        assert_int_equal(
                vcdc_chroma_name_check(longname, errstr, sizeof(errstr)), 0);
        longname[VCDC_CHROMA_NAME_MAX] = 'a';
        longname[VCDC_CHROMA_NAME_MAX + 1] = '\0';
        assert_int_equal(
                vcdc_chroma_name_check(longname, errstr, sizeof(errstr)), -1);
}

static void test_base64(void **state) {
        static const float v1[] = {1.0f}, v3[] = {1, 2, 3};
        static const float v2[] = {-0.0f, 0.5f};
        char *s;

        (void)state;
        s = vcdc_chroma_base64_floats(v1, 0);
        assert_string_equal(s, "");
        free(s);
        s = vcdc_chroma_base64_floats(v1, 1);
        assert_string_equal(s, "AACAPw==");
        free(s);
        s = vcdc_chroma_base64_floats(v2, 2);
        assert_string_equal(s, "AAAAgAAAAD8=");
        free(s);
        /* The same bytes the server was seen to accept for [1,2,3]. */
        s = vcdc_chroma_base64_floats(v3, 3);
        assert_string_equal(s, "AACAPwAAAEAAAEBA");
        free(s);
}

/* Floats that need all nine digits, or are at the edges of float32. */
static const float tricky[] = {
        0.1f,   1.0f / 3.0f, -2.5e-8f, FLT_MAX, -FLT_MAX,    FLT_MIN,
        1e-45f, 16777217.0f, 0.0f,     -0.0f,   123456.789f, 3.14159274f,
};

static void test_upsert_body_text(void **state) {
        vcdc_record_t *recs[2];
        json_t *body, *emb;
        char errstr[256], *text;
        size_t len, i, n;

        (void)state;
        recs[0] = rec_new("a\"1", tricky, ARRAY_CNT(tricky),
                          "{\"s\":\"x\",\"f\":0.1,\"i\":7,\"b\":false}",
                          "doc \xc3\xa9");
        recs[1] = rec_new("b", tricky, ARRAY_CNT(tricky), "{}", NULL);
        n = vcdc_chroma_upsert_body((const vcdc_record_t *const *)recs, 2, NULL,
                                    0 /*text*/, 1 << 20, &text, &len, NULL,
                                    errstr, sizeof(errstr));
        assert_int_equal(n, 2);
        assert_int_equal(len, strlen(text));
        assert_non_null(strstr(text, "\"metadatas\":[{\"s\":\"x\",\"f\":0.1,"
                                     "\"i\":7,\"b\":false},null]"));
        assert_non_null(strstr(text, "\"documents\":[\"doc \xc3\xa9\",null]"));
        assert_non_null(strstr(text, "{\"ids\":[\"a\\\"1\",\"b\"],"));
        /* Every float reads back to the same float32. */
        body = json_load_or_fail(text);
        emb = json_object_get(body, "embeddings");
        assert_int_equal(json_array_size(emb), 2);
        for (i = 0; i < ARRAY_CNT(tricky); i++) {
                float f = (float)json_number_value(
                        json_array_get(json_array_get(emb, 0), i));
                assert_memory_equal(&f, &tricky[i], sizeof(f));
        }
        json_decref(body);
        free(text);
        rec_free(recs[0]);
        rec_free(recs[1]);
}

static void test_upsert_body_base64(void **state) {
        static const float v3[] = {1, 2, 3};
        vcdc_record_t *rec = rec_new("x", v3, 3, NULL, "d");
        char errstr[256], *text;
        size_t len;

        (void)state;
        assert_int_equal(
                vcdc_chroma_upsert_body((const vcdc_record_t *const *)&rec, 1,
                                        NULL, 1 /*base64*/, 1 << 20, &text,
                                        &len, NULL, errstr, sizeof(errstr)),
                1);
        assert_string_equal(text, "{\"ids\":[\"x\"],\"embeddings\":["
                                  "\"AACAPwAAAEAAAEBA\"],\"metadatas\":[null],"
                                  "\"documents\":[\"d\"]}");
        free(text);
        rec_free(rec);
}

/* Stored keys the new state lacks are sent as null, which removes them. */
static void test_upsert_body_stale_keys(void **state) {
        static const float v[] = {1};
        static const struct {
                const char *metadata, *old, *expect;
        } cases[] = {
                {"{\"a\":2}", "{\"a\":1,\"b\":2,\"c\":\"x\"}",
                 "[{\"a\":2,\"b\":null,\"c\":null}]"},
                {NULL, "{\"a\":1}", "[{\"a\":null}]"},
                {"{}", "{\"a\":1}", "[{\"a\":null}]"},
                {NULL, NULL, "[null]"},
                {"{}", NULL, "[null]"},
                {"{\"a\":1}", "{\"a\":\"old\"}", "[{\"a\":1}]"},
                {"{\"a\":1.0}", "{}", "[{\"a\":1.0}]"},
        };
        char errstr[256], *text, expect[256];
        size_t i, len;

        (void)state;
        for (i = 0; i < ARRAY_CNT(cases); i++) {
                vcdc_record_t *rec =
                        rec_new("x", v, 1, cases[i].metadata, NULL);
                json_t *old =
                        cases[i].old ? json_load_or_fail(cases[i].old) : NULL;
                const json_t *olds[1] = {old};
                assert_int_equal(vcdc_chroma_upsert_body(
                                         (const vcdc_record_t *const *)&rec, 1,
                                         olds, 0, 1 << 20, &text, &len, NULL,
                                         errstr, sizeof(errstr)),
                                 1);
                snprintf(expect, sizeof(expect),
                         "{\"ids\":[\"x\"],\"embeddings\":[[1]],"
                         "\"metadatas\":%s,\"documents\":[null]}",
                         cases[i].expect);
                if (strcmp(text, expect))
                        fail_msg("case %zu: %s, expected %s", i, text, expect);
                free(text);
                json_decref(old);
                rec_free(rec);
        }
}

/* Bodies stop at max_bytes, with at least one record each. */
static void test_upsert_body_split(void **state) {
        static const float v[] = {0.1f, 0.2f, 0.3f, 0.4f};
        vcdc_record_t *recs[10];
        char errstr[256], *text, id[8];
        size_t i, n, done = 0, bodies = 0, len;

        (void)state;
        for (i = 0; i < 10; i++) {
                snprintf(id, sizeof(id), "id%zu", i);
                recs[i] = rec_new(id, v, 4, "{\"k\":\"v\"}", "doc");
        }
        while (done < 10) {
                json_t *body;
                n = vcdc_chroma_upsert_body((const vcdc_record_t *const *)recs +
                                                    done,
                                            10 - done, NULL, 0, 300, &text,
                                            &len, NULL, errstr, sizeof(errstr));
                assert_true(n >= 1);
                assert_true(n < 10);
                assert_true(len <= 300 || n == 1);
                body = json_load_or_fail(text);
                assert_int_equal(json_array_size(json_object_get(body, "ids")),
                                 n);
                assert_int_equal(
                        json_array_size(json_object_get(body, "documents")), n);
                assert_string_equal(json_string_value(json_array_get(
                                            json_object_get(body, "ids"), 0)),
                                    recs[done]->id);
                json_decref(body);
                free(text);
                done += n;
                bodies++;
        }
        assert_int_equal(done, 10);
        assert_true(bodies >= 3);
        /* A limit below one record still sends that record alone. */
        assert_int_equal(
                vcdc_chroma_upsert_body((const vcdc_record_t *const *)recs, 10,
                                        NULL, 0, 1, &text, &len, NULL, errstr,
                                        sizeof(errstr)),
                1);
        free(text);
        for (i = 0; i < 10; i++)
                rec_free(recs[i]);
}

static void test_upsert_body_invalid(void **state) {
        static const float v[] = {1, 2}, w[] = {1, 2, 3};
        vcdc_record_t *recs[2];
        char errstr[256], *text = (char *)"untouched";
        size_t len;

        (void)state;
        recs[0] = rec_new("ok", v, 2, NULL, NULL);
        recs[1] = rec_new("bad", v, 2, "{\"n\":{\"x\":1}}", NULL);
        assert_int_equal(
                vcdc_chroma_upsert_body((const vcdc_record_t *const *)recs, 2,
                                        NULL, 0, 1 << 20, &text, &len, NULL,
                                        errstr, sizeof(errstr)),
                0);
        assert_null(text);
        assert_non_null(strstr(errstr, "\"bad\": metadata key \"n\""));
        rec_free(recs[1]);
        /* Mixed dimensions in one body. */
        recs[1] = rec_new("wide", w, 3, NULL, NULL);
        assert_int_equal(
                vcdc_chroma_upsert_body((const vcdc_record_t *const *)recs, 2,
                                        NULL, 0, 1 << 20, &text, &len, NULL,
                                        errstr, sizeof(errstr)),
                0);
        assert_non_null(strstr(errstr, "dimension 3, expected 2"));
        rec_free(recs[0]);
        rec_free(recs[1]);
}

static void test_metadata_dump(void **state) {
        static const struct {
                const char *in, *out;
        } cases[] = {
                {"{\"b\":0.1,\"a\":1.0,\"i\":5}",
                 "{\"b\":0.1,\"a\":1.0,\"i\":5}"},
                {"{\"c\":1e300,\"d\":3.141592653589793,\"z\":-0.0}",
                 "{\"c\":1e+300,\"d\":3.141592653589793,\"z\":-0.0}"},
                {"{\"s\":\"x\\\"y\\n\",\"t\":true,\"f\":false}",
                 "{\"s\":\"x\\\"y\\n\",\"t\":true,\"f\":false}"},
                {"{\"x\":0.30000000000000004,\"y\":5e-324}",
                 "{\"x\":0.30000000000000004,\"y\":5e-324}"},
                {"{}", "{}"},
        };
        size_t i;

        (void)state;
        for (i = 0; i < ARRAY_CNT(cases); i++) {
                json_t *in = json_load_or_fail(cases[i].in), *back;
                char *out = vcdc_chroma_metadata_dump(in);
                assert_non_null(out);
                if (strcmp(out, cases[i].out))
                        fail_msg("case %zu: %s, expected %s", i, out,
                                 cases[i].out);
                back = json_load_or_fail(out);
                assert_true(json_equal(in, back));
                json_decref(back);
                json_decref(in);
                free(out);
        }
}

/* The model of what Chroma stores for metadata floats, pinned to what a
 * Chroma 3.0.6 server was seen to store. */
static void test_stored_real(void **state) {
        static const struct {
                double sent, stored;
        } cases[] = {
                {0.1, 0.1},
                {1.0, 1.0},
                {-0.0, -0.0},
                {1e300, 1e300},
                {5e-324, 5e-324},
                {0.30000000000000004, 0.30000000000000004},
                {1.0000000000000002, 1.0000000000000002},
                {3.141592653589793, 3.141592653589793},
                {3.8000000000000003, 3.8},
                {9.2000000000000011, 9.2},
                {1.0715660391465825e-75, 1.0715660391465823e-75},
                {-1.8199673040271697e-179, -1.8199673040271697e-179},
                /* Right in the request, misread from the log's 16 digits
                 * plus ".0". */
                {4277834443099750.0, 4277834443099750.5},
                {-2.5200137670732935e281, -2.5200137670732942e281},
        };
        uint64_t x = 88172645463325252ULL;
        size_t i, n = 0, altered = 0;

        (void)state;
        assert_true(vcdc_chroma_serde_read("3.8000000000000003") == 3.8);
        assert_true(vcdc_chroma_serde_read("-1.5e+2") == -150.0);
        assert_true(vcdc_chroma_serde_read("1e-320") == 1e-320);
        assert_true(isnan(vcdc_chroma_serde_read("")));
        assert_true(isnan(vcdc_chroma_serde_read("1.2.3")));
        assert_true(isnan(vcdc_chroma_serde_read("x")));
        for (i = 0; i < ARRAY_CNT(cases); i++) {
                double got = vcdc_chroma_stored_real(cases[i].sent);
                if (memcmp(&got, &cases[i].stored, sizeof(got)))
                        fail_msg("%.17g: model %.17g, Chroma stored %.17g",
                                 cases[i].sent, got, cases[i].stored);
        }
        /* Random doubles: altered by at most four ulps, and not most. */
        for (i = 0; i < 100000; i++) {
                double d, s;
                int64_t a, b;
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                memcpy(&d, &x, sizeof(d));
                if (!isfinite(d))
                        continue;
                n++;
                if ((s = vcdc_chroma_stored_real(d)) == d)
                        continue;
                altered++;
                memcpy(&a, &d, sizeof(a));
                memcpy(&b, &s, sizeof(b));
                assert_true(a - b <= 4 && b - a <= 4);
        }
        assert_true(altered * 3 < n);
}

static void test_small_bodies(void **state) {
        static const char *const ids[] = {"a", "b\"c"};
        static const float q[] = {0.1f, -2.0f, 1e-45f};
        static const vcdc_sink_offset_t offs[] = {{0, 41}, {3, 9000000000LL}};
        char *s;

        (void)state;
        s = vcdc_chroma_delete_body(ids, 2);
        assert_string_equal(s, "{\"ids\":[\"a\",\"b\\\"c\"]}");
        free(s);
        s = vcdc_chroma_get_body(ids, 2, 0, 0,
                                 VCDC_CHROMA_INC_EMBEDDINGS |
                                         VCDC_CHROMA_INC_METADATAS |
                                         VCDC_CHROMA_INC_DOCUMENTS);
        assert_string_equal(s, "{\"include\":[\"embeddings\",\"metadatas\","
                               "\"documents\"],\"ids\":[\"a\",\"b\\\"c\"]}");
        free(s);
        s = vcdc_chroma_get_body(NULL, 0, 100, 2500, VCDC_CHROMA_INC_METADATAS);
        assert_string_equal(s, "{\"include\":[\"metadatas\"],\"limit\":100,"
                               "\"offset\":2500}");
        free(s);
        s = vcdc_chroma_query_body(q, 3, 10);
        assert_string_equal(s, "{\"query_embeddings\":[[0.100000001,-2,"
                               "1.40129846e-45]],\"n_results\":10,"
                               "\"include\":[\"distances\"]}");
        free(s);
        s = vcdc_chroma_offsets_body("vcdc.changes", "c-1", offs, 2);
        assert_string_equal(
                s, "{\"ids\":[\"vcdc.changes/0\",\"vcdc.changes/3\"],"
                   "\"embeddings\":[[0.0],[0.0]],\"metadatas\":["
                   "{\"topic\":\"vcdc.changes\",\"partition\":0,"
                   "\"offset\":41,\"collection_id\":\"c-1\"},"
                   "{\"topic\":\"vcdc.changes\",\"partition\":3,"
                   "\"offset\":9000000000,\"collection_id\":\"c-1\"}]}");
        free(s);
        s = vcdc_chroma_create_body("docs", VCDC_METRIC_IP);
        assert_string_equal(s, "{\"name\":\"docs\",\"configuration\":{\"hnsw\":"
                               "{\"space\":\"ip\"}},\"get_or_create\":true}");
        free(s);
        /* An id that is not UTF-8 cannot be put in JSON. */
        {
                static const char *const bad[] = {"ok", "\xff"};
                assert_null(vcdc_chroma_delete_body(bad, 2));
                assert_null(vcdc_chroma_get_body(bad, 2, 0, 0, 0));
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_metadata_check),
                cmocka_unit_test(test_record_check),
                cmocka_unit_test(test_name_check),
                cmocka_unit_test(test_base64),
                cmocka_unit_test(test_upsert_body_text),
                cmocka_unit_test(test_upsert_body_base64),
                cmocka_unit_test(test_upsert_body_stale_keys),
                cmocka_unit_test(test_upsert_body_split),
                cmocka_unit_test(test_upsert_body_invalid),
                cmocka_unit_test(test_metadata_dump),
                cmocka_unit_test(test_stored_real),
                cmocka_unit_test(test_small_bodies),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
