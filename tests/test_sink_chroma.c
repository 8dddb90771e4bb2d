/*
 * vcdc - unit tests: the Chroma sink's request bodies, metadata rules,
 * answer parsing and status mapping, and the HTTP helper against a canned
 * local responder (no Chroma server).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <float.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http.h"
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

static json_t *parse(const char *text) {
        json_error_t jerr;
        json_t *j = json_loads(text, JSON_DECODE_ANY, &jerr);

        if (!j)
                fail_msg("not JSON: %s: %s", jerr.text, text);
        return j;
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
                {"a", 3, NULL, NULL, "vector[1] is not a finite"},
                {"a", 4, NULL, NULL, "vector[0] is not a finite"},
                {"a", 1, "{\"x\":[1]}", NULL, "id \"a\": metadata key \"x\""},
                {"a", 1, NULL, "bad \xc3\x28", "document is not UTF-8"},
        };
        const float *vecs[] = {NULL, v3, v2, bad, inf};
        size_t dims[] = {0, 3, 2, 3, 3};
        char errstr[512];
        size_t i, dim;

        (void)state;
        for (i = 0; i < ARRAY_CNT(cases); i++) {
                vcdc_record_t *rec =
                        rec_new(cases[i].id, vecs[cases[i].vec],
                                dims[cases[i].vec], cases[i].metadata,
                                cases[i].document);
                int r;
                dim = 3;
                errstr[0] = '\0';
                r = vcdc_chroma_record_check(rec, VCDC_METRIC_L2, &dim,
                                             errstr, sizeof(errstr));
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
                assert_int_equal(vcdc_chroma_record_check(
                                         rec, VCDC_METRIC_COSINE, &dim, errstr,
                                         sizeof(errstr)),
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
                assert_int_equal(vcdc_chroma_record_check(
                                         rec, VCDC_METRIC_COSINE, &dim, errstr,
                                         sizeof(errstr)),
                                 -1);
                assert_non_null(strstr(errstr, "as zeros"));
                assert_int_equal(vcdc_chroma_record_check(rec, VCDC_METRIC_L2,
                                                          &dim, errstr,
                                                          sizeof(errstr)),
                                 0);
                rec_free(rec);
                rec = rec_new("f", fine, 3, NULL, NULL);
                assert_int_equal(vcdc_chroma_record_check(
                                         rec, VCDC_METRIC_COSINE, &dim, errstr,
                                         sizeof(errstr)),
                                 0);
                rec_free(rec);
                rec = rec_new("z", zero, 3, NULL, NULL); /* stored as is */
                assert_int_equal(vcdc_chroma_record_check(
                                         rec, VCDC_METRIC_COSINE, &dim, errstr,
                                         sizeof(errstr)),
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
                "abc", "docs", "a_b-c.d", "A1.b2", "x.y.z", "123",
                "coll_vcdc_offsets",
        };
        static const char *const invalid[] = {
                "", "ab", "_abc", "abc_", "-ab", "ab.", "a..b", "a b c",
                "a/bc", "ab%c", "caf\xc3\xa9", "1.2.3.4",
        };
        char errstr[256], longname[VCDC_CHROMA_NAME_MAX + 2];
        size_t i;

        (void)state;
        for (i = 0; i < ARRAY_CNT(valid); i++)
                if (vcdc_chroma_name_check(valid[i], errstr, sizeof(errstr)))
                        fail_msg("valid \"%s\" refused: %s", valid[i], errstr);
        for (i = 0; i < ARRAY_CNT(invalid); i++)
                if (!vcdc_chroma_name_check(invalid[i], errstr,
                                            sizeof(errstr)))
                        fail_msg("invalid \"%s\" accepted", invalid[i]);
        memset(longname, 'a', VCDC_CHROMA_NAME_MAX);
        longname[VCDC_CHROMA_NAME_MAX] = '\0';
        assert_int_equal(vcdc_chroma_name_check(longname, errstr,
                                                sizeof(errstr)),
                         0);
        longname[VCDC_CHROMA_NAME_MAX] = 'a';
        longname[VCDC_CHROMA_NAME_MAX + 1] = '\0';
        assert_int_equal(vcdc_chroma_name_check(longname, errstr,
                                                sizeof(errstr)),
                         -1);
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
        0.1f,      1.0f / 3.0f, -2.5e-8f,   FLT_MAX, -FLT_MAX,
        FLT_MIN,   1e-45f,      16777217.0f, 0.0f,   -0.0f,
        123456.789f, 3.14159274f,
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
        n = vcdc_chroma_upsert_body((const vcdc_record_t *const *)recs, 2,
                                    NULL, 0 /*text*/, 1 << 20, &text, &len,
                                    NULL, errstr, sizeof(errstr));
        assert_int_equal(n, 2);
        assert_int_equal(len, strlen(text));
        assert_non_null(strstr(text, "\"metadatas\":[{\"s\":\"x\",\"f\":0.1,"
                                     "\"i\":7,\"b\":false},null]"));
        assert_non_null(strstr(text, "\"documents\":[\"doc \xc3\xa9\",null]"));
        assert_non_null(strstr(text, "{\"ids\":[\"a\\\"1\",\"b\"],"));
        /* Every float reads back to the same float32. */
        body = parse(text);
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
        assert_int_equal(vcdc_chroma_upsert_body(
                                 (const vcdc_record_t *const *)&rec, 1, NULL,
                                 1 /*base64*/, 1 << 20, &text, &len, NULL,
                                 errstr, sizeof(errstr)),
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
                vcdc_record_t *rec = rec_new("x", v, 1, cases[i].metadata,
                                             NULL);
                json_t *old = cases[i].old ? parse(cases[i].old) : NULL;
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
                n = vcdc_chroma_upsert_body(
                        (const vcdc_record_t *const *)recs + done, 10 - done,
                        NULL, 0, 300, &text, &len, NULL, errstr,
                        sizeof(errstr));
                assert_true(n >= 1);
                assert_true(n < 10);
                assert_true(len <= 300 || n == 1);
                body = parse(text);
                assert_int_equal(json_array_size(json_object_get(body, "ids")),
                                 n);
                assert_int_equal(json_array_size(
                                         json_object_get(body, "documents")),
                                 n);
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
        assert_int_equal(vcdc_chroma_upsert_body(
                                 (const vcdc_record_t *const *)recs, 10, NULL,
                                 0, 1, &text, &len, NULL, errstr,
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
        assert_int_equal(vcdc_chroma_upsert_body(
                                 (const vcdc_record_t *const *)recs, 2, NULL,
                                 0, 1 << 20, &text, &len, NULL, errstr,
                                 sizeof(errstr)),
                         0);
        assert_null(text);
        assert_non_null(strstr(errstr, "\"bad\": metadata key \"n\""));
        rec_free(recs[1]);
        /* Mixed dimensions in one body. */
        recs[1] = rec_new("wide", w, 3, NULL, NULL);
        assert_int_equal(vcdc_chroma_upsert_body(
                                 (const vcdc_record_t *const *)recs, 2, NULL,
                                 0, 1 << 20, &text, &len, NULL, errstr,
                                 sizeof(errstr)),
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
                json_t *in = parse(cases[i].in), *back;
                char *out = vcdc_chroma_metadata_dump(in);
                assert_non_null(out);
                if (strcmp(out, cases[i].out))
                        fail_msg("case %zu: %s, expected %s", i, out,
                                 cases[i].out);
                back = parse(out);
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
        s = vcdc_chroma_get_body(NULL, 0, 100, 2500,
                                 VCDC_CHROMA_INC_METADATAS);
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

static void test_status_map(void **state) {
        static const struct {
                long code;
                vcdc_sink_status_t status;
        } cases[] = {
                {200, VCDC_SINK_OK},        {201, VCDC_SINK_OK},
                {204, VCDC_SINK_OK},        {400, VCDC_SINK_INVALID},
                {401, VCDC_SINK_FATAL},     {403, VCDC_SINK_FATAL},
                {404, VCDC_SINK_INVALID},   {408, VCDC_SINK_RETRIABLE},
                {409, VCDC_SINK_INVALID},   {413, VCDC_SINK_INVALID},
                {422, VCDC_SINK_INVALID},   {425, VCDC_SINK_RETRIABLE},
                {429, VCDC_SINK_RETRIABLE}, {500, VCDC_SINK_RETRIABLE},
                {502, VCDC_SINK_RETRIABLE}, {503, VCDC_SINK_RETRIABLE},
                {504, VCDC_SINK_RETRIABLE}, {301, VCDC_SINK_FATAL},
                {407, VCDC_SINK_FATAL},     {501, VCDC_SINK_FATAL},
                {505, VCDC_SINK_FATAL},     {599, VCDC_SINK_RETRIABLE},
                {100, VCDC_SINK_FATAL},     {0, VCDC_SINK_FATAL},
        };
        size_t i;

        (void)state;
        for (i = 0; i < ARRAY_CNT(cases); i++)
                if (vcdc_http_status_map(cases[i].code) != cases[i].status)
                        fail_msg("HTTP %ld: %s, expected %s", cases[i].code,
                                 vcdc_sink_status_name(vcdc_http_status_map(
                                         cases[i].code)),
                                 vcdc_sink_status_name(cases[i].status));
}

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
                json_t *j = parse(valid[i].answer);
                if (vcdc_chroma_parse_collection(j, id, sizeof(id), &dim,
                                                 &metric, errstr,
                                                 sizeof(errstr)))
                        fail_msg("valid[%zu]: %s", i, errstr);
                assert_int_equal(dim, valid[i].dim);
                assert_int_equal(metric, valid[i].metric);
                json_decref(j);
        }
        for (i = 0; i < ARRAY_CNT(invalid); i++) {
                json_t *j = parse(invalid[i]);
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
        json_t *j = parse(answer);
        float third = 1.0f / 3.0f, tiny = 1e-45f;

        (void)state;
        for (i = 0; i < 4; i++)
                vcdc_record_init(&out[i]);
        assert_int_equal(vcdc_chroma_parse_get(j, ids, 4, out, &found, errstr,
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
        json_decref(j);
}

static void test_parse_get_page(void **state) {
        static const char answer[] =
                "{\"ids\":[\"p\",\"q\"],\"embeddings\":null,\"documents\":"
                "[\"\",null],\"metadatas\":[{},{\"b\":true}]}";
        vcdc_record_t out[3];
        char errstr[256];
        size_t i, n;
        json_t *j = parse(answer);

        (void)state;
        for (i = 0; i < 3; i++)
                vcdc_record_init(&out[i]);
        assert_int_equal(vcdc_chroma_parse_get(j, NULL, 3, out, &n, errstr,
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
        assert_int_equal(vcdc_chroma_parse_get(j, NULL, 1, out, &n, errstr,
                                               sizeof(errstr)),
                         -1);
        assert_null(out[0].id);
        json_decref(j);
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
                json_t *j = parse(answers[i]);
                for (k = 0; k < 2; k++)
                        vcdc_record_init(&out[k]);
                errstr[0] = '\0';
                if (vcdc_chroma_parse_get(j, ids, 2, out, &found, errstr,
                                          sizeof(errstr)) != -1)
                        fail_msg("answer[%zu] %s accepted", i, answers[i]);
                assert_true(errstr[0] != '\0');
                for (k = 0; k < 2; k++)
                        assert_null(out[k].id);
                json_decref(j);
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
        json_t *j = parse(answer);

        (void)state;
        memset(hits, 0, sizeof(hits));
        assert_int_equal(vcdc_chroma_parse_query(j, hits, 3, &n, errstr,
                                                 sizeof(errstr)),
                         0);
        assert_int_equal(n, 3);
        assert_string_equal(hits[0].id, "n1");
        assert_true(hits[1].distance == 0.25);
        for (i = 0; i < n; i++)
                free(hits[i].id);
        assert_int_equal(vcdc_chroma_parse_query(j, hits, 2, &n, errstr,
                                                 sizeof(errstr)),
                         0);
        assert_int_equal(n, 2);
        for (i = 0; i < n; i++)
                free(hits[i].id);
        json_decref(j);
        j = parse("{\"ids\":[[]],\"distances\":[[]]}");
        assert_int_equal(vcdc_chroma_parse_query(j, hits, 3, &n, errstr,
                                                 sizeof(errstr)),
                         0);
        assert_int_equal(n, 0);
        json_decref(j);
        for (i = 0; i < ARRAY_CNT(malformed); i++) {
                memset(hits, 0, sizeof(hits));
                j = parse(malformed[i]);
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
        json_t *j = parse(answer);

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
        j = parse("{\"ids\":[],\"metadatas\":[]}");
        assert_int_equal(vcdc_chroma_parse_offsets(j, "t", "", &offs, &n,
                                                   errstr, sizeof(errstr)),
                         0);
        assert_int_equal(n, 0);
        assert_non_null(offs);
        free(offs);
        json_decref(j);
        for (i = 0; i < ARRAY_CNT(malformed); i++) {
                j = parse(malformed[i]);
                if (vcdc_chroma_parse_offsets(j, "t", "", &offs, &n, errstr,
                                              sizeof(errstr)) != -1)
                        fail_msg("malformed[%zu] accepted", i);
                assert_null(offs);
                json_decref(j);
        }
}

/*
 * A canned HTTP responder on 127.0.0.1 for the HTTP helper: it answers
 * each request with the next of its answers, keeping the connection open
 * unless told otherwise, and counts connections.
 */
typedef struct responder_s {
        int fd;
        int port;
        const char *const *answers; /* NULL-terminated; "" = hang up */
        int connections;
        int requests;
        int stall_ms; /* sleep before answering (timeouts) */
        char seen[16384]; /* the requests' head lines, as received */
        size_t seen_len;
        pthread_t thread;
} responder_t;

/* Reads one request (headers and Content-Length body) and keeps its
 * headers in rs->seen. 0 at EOF. */
static int read_request(responder_t *rs, int fd) {
        char buf[65536];
        size_t len = 0;
        long body = -1;

        for (;;) {
                char *end;
                ssize_t r;
                buf[len] = '\0';
                if ((end = strstr(buf, "\r\n\r\n"))) {
                        char *cl = strstr(buf, "Content-Length: ");
                        size_t head = (size_t)(end + 4 - buf);
                        if (body < 0)
                                body = cl ? strtol(cl + 16, NULL, 10) : 0;
                        if (len >= head + (size_t)body) {
                                if (head < sizeof(rs->seen) - rs->seen_len) {
                                        memcpy(rs->seen + rs->seen_len, buf,
                                               head);
                                        rs->seen_len += head;
                                        rs->seen[rs->seen_len] = '\0';
                                }
                                return 1;
                        }
                }
                if (len + 1 >= sizeof(buf))
                        return 1;
                if ((r = read(fd, buf + len, sizeof(buf) - 1 - len)) <= 0)
                        return 0;
                len += (size_t)r;
        }
}

static void *responder_run(void *opaque) {
        responder_t *rs = opaque;
        const char *const *a = rs->answers;

        while (*a) {
                int fd = accept(rs->fd, NULL, NULL);
                if (fd < 0)
                        break;
                rs->connections++;
                while (*a && read_request(rs, fd)) {
                        size_t len = strlen(*a), off = 0;
                        rs->requests++;
                        if (rs->stall_ms)
                                usleep((useconds_t)rs->stall_ms * 1000);
                        if (!len) {
                                a++;
                                break; /* hang up without answering */
                        }
                        while (off < len) {
                                ssize_t w = send(fd, *a + off, len - off,
                                                 MSG_NOSIGNAL);
                                if (w <= 0)
                                        break;
                                off += (size_t)w;
                        }
                        a++;
                }
                close(fd);
        }
        return NULL;
}

static void responder_start(responder_t *rs, const char *const *answers) {
        struct sockaddr_in sa;
        socklen_t salen = sizeof(sa);
        int one = 1;

        rs->answers = answers;
        rs->fd = socket(AF_INET, SOCK_STREAM, 0);
        assert_true(rs->fd >= 0);
        setsockopt(rs->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        memset(&sa, 0, sizeof(sa));
        sa.sin_family = AF_INET;
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        assert_int_equal(bind(rs->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        assert_int_equal(listen(rs->fd, 8), 0);
        getsockname(rs->fd, (struct sockaddr *)&sa, &salen);
        rs->port = ntohs(sa.sin_port);
        assert_int_equal(pthread_create(&rs->thread, NULL, responder_run, rs),
                         0);
}

static void responder_stop(responder_t *rs) {
        shutdown(rs->fd, SHUT_RDWR);
        pthread_join(rs->thread, NULL);
        close(rs->fd);
}

#define OK_JSON(body)                                                          \
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"               \
        "Content-Length: " #body "\r\n\r\n"

static void test_http_answers(void **state) {
        static const char *const answers[] = {
                "HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n{\"a\":1}",
                "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n42",
                "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 31\r\n\r\n"
                "{\"error\":\"busy\",\"message\":\"x\n\"}",
                "HTTP/1.1 401 Unauthorized\r\nContent-Length: 2\r\n\r\n{}",
                "HTTP/1.1 422 Unprocessable\r\nContent-Length: 5\r\n\r\nbad!!",
                "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n{\"a\":",
                NULL,
        };
        responder_t rs = {0};
        char base[64], errstr[512];
        vcdc_http_t *http;
        json_t *resp;
        long code;

        (void)state;
        responder_start(&rs, answers);
        snprintf(base, sizeof(base), "http://127.0.0.1:%d", rs.port);
        http = vcdc_http_new(base, 5000, 0, errstr, sizeof(errstr));
        assert_non_null(http);
        assert_int_equal(vcdc_http_add_header(http, "x-chroma-token: s3cret"),
                         0);

        assert_int_equal(vcdc_http_json(http, "POST", "/p", "{}", 2, &resp,
                                        &code, errstr, sizeof(errstr)),
                         VCDC_SINK_OK);
        assert_int_equal(code, 200);
        assert_int_equal(json_integer_value(json_object_get(resp, "a")), 1);
        json_decref(resp);

        assert_int_equal(vcdc_http_json(http, "GET", "/count", NULL, 0, &resp,
                                        &code, errstr, sizeof(errstr)),
                         VCDC_SINK_OK);
        assert_int_equal(json_integer_value(resp), 42);
        json_decref(resp);

        assert_int_equal(vcdc_http_json(http, "GET", "/x", NULL, 0, &resp,
                                        &code, errstr, sizeof(errstr)),
                         VCDC_SINK_RETRIABLE);
        assert_null(resp);
        assert_int_equal(code, 503);
        assert_string_equal(errstr, "GET /x: HTTP 503: {\"error\":\"busy\","
                                    "\"message\":\"x \"}");

        assert_int_equal(vcdc_http_request(http, "DELETE", "/y", NULL, 0,
                                           &code, errstr, sizeof(errstr)),
                         VCDC_SINK_FATAL);
        assert_int_equal(code, 401);
        assert_null(strstr(errstr, "s3cret"));

        assert_int_equal(vcdc_http_request(http, "POST", "/z", "[1]", 3,
                                           &code, errstr, sizeof(errstr)),
                         VCDC_SINK_INVALID);
        assert_non_null(strstr(errstr, "HTTP 422: bad!!"));

        /* A 200 that is not (complete) JSON. */
        assert_int_equal(vcdc_http_json(http, "GET", "/t", NULL, 0, &resp,
                                        &code, errstr, sizeof(errstr)),
                         VCDC_SINK_RETRIABLE);
        assert_non_null(strstr(errstr, "not JSON"));

        vcdc_http_destroy(http);
        responder_stop(&rs);
        /* Keep-alive: six requests, one connection. */
        assert_int_equal(rs.requests, 6);
        assert_int_equal(rs.connections, 1);
}

static void test_http_cap_and_failures(void **state) {
        static char big[3000], bigclose[3000];
        const char *answers[] = {big, bigclose, "", NULL};
        responder_t rs = {0}, slow = {0};
        static const char *const slow_answers[] = {OK_JSON(2) "{}", NULL};
        char base[64], errstr[512];
        vcdc_http_t *http;
        json_t *resp;
        long code;
        int n;

        (void)state;
        n = snprintf(big, sizeof(big),
                     "HTTP/1.1 200 OK\r\nContent-Length: 2000\r\n\r\n");
        memset(big + n, 'x', sizeof(big) - 1 - (size_t)n);
        n = snprintf(bigclose, sizeof(bigclose),
                     "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
        memset(bigclose + n, 'y', sizeof(bigclose) - 1 - (size_t)n);
        responder_start(&rs, answers);
        snprintf(base, sizeof(base), "http://127.0.0.1:%d", rs.port);
        http = vcdc_http_new(base, 5000, 1000 /*max body*/, errstr,
                             sizeof(errstr));
        assert_non_null(http);
        /* An answer over the cap is refused, not buffered. */
        assert_int_equal(vcdc_http_json(http, "GET", "/big", NULL, 0, &resp,
                                        &code, errstr, sizeof(errstr)),
                         VCDC_SINK_INVALID);
        assert_non_null(strstr(errstr, "exceeds 1000 bytes"));
        /* The same without a Content-Length: cut while reading. */
        assert_int_equal(vcdc_http_json(http, "GET", "/big2", NULL, 0, &resp,
                                        &code, errstr, sizeof(errstr)),
                         VCDC_SINK_INVALID);
        assert_non_null(strstr(errstr, "exceeds 1000 bytes"));
        /* The server hangs up without an answer. */
        assert_int_equal(vcdc_http_request(http, "GET", "/gone", NULL, 0,
                                           &code, errstr, sizeof(errstr)),
                         VCDC_SINK_RETRIABLE);
        assert_int_equal(code, 0);
        responder_stop(&rs);
        /* Nobody listens any more: connection refused. */
        assert_int_equal(vcdc_http_request(http, "GET", "/", NULL, 0, &code,
                                           errstr, sizeof(errstr)),
                         VCDC_SINK_RETRIABLE);
        vcdc_http_destroy(http);

        /* A server slower than the timeout. */
        slow.stall_ms = 1500;
        responder_start(&slow, slow_answers);
        snprintf(base, sizeof(base), "http://127.0.0.1:%d", slow.port);
        http = vcdc_http_new(base, 300, 0, errstr, sizeof(errstr));
        assert_int_equal(vcdc_http_request(http, "GET", "/slow", NULL, 0,
                                           &code, errstr, sizeof(errstr)),
                         VCDC_SINK_RETRIABLE);
        assert_non_null(strstr(errstr, "imed out"));
        vcdc_http_destroy(http);
        responder_stop(&slow);
}

/* Opening against canned Chroma answers: the calls it makes, the token
 * on each, the batch limit it takes, and a refused token. */
static void test_open_canned(void **state) {
        static const char *const answers[] = {
                OK_JSON(55) "{\"max_batch_size\":5461,"
                            "\"supports_base64_encoding\":true}",
                OK_JSON(49) "{\"id\":\"0\",\"name\":\"default_database\","
                            "\"tenant\":\"t\"}",
                "HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\n{}",
                "HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\n{}",
                /* then a sink whose token is refused */
                OK_JSON(56) "{\"max_batch_size\":1000,"
                            "\"supports_base64_encoding\":false}",
                "HTTP/1.1 403 Forbidden\r\nContent-Length: 14\r\n\r\n"
                "{\"error\":\"no\"}",
                NULL,
        };
        responder_t rs = {0};
        char url[128], errstr[512];
        vcdc_sink_t *sink;
        const char *p;
        int tokens = 0;

        (void)state;
        responder_start(&rs, answers);
        setenv("VCDC_CHROMA_TOKEN", "tok-s3cret", 1);
        snprintf(url, sizeof(url),
                 "chroma://127.0.0.1:%d/docs?tenant=t%%2F1&database=d",
                 rs.port);
        sink = vcdc_sink_new(url, NULL, errstr, sizeof(errstr));
        if (!sink)
                fail_msg("%s", errstr);
        assert_int_equal(vcdc_sink_max_batch(sink), 5461);
        assert_int_equal(vcdc_sink_dim(sink), 0);
        vcdc_sink_destroy(sink);
        sink = vcdc_sink_new(url, NULL, errstr, sizeof(errstr));
        assert_null(sink);
        if (!strstr(errstr, "HTTP 403"))
                fail_msg("%s", errstr);
        assert_null(strstr(errstr, "s3cret"));
        unsetenv("VCDC_CHROMA_TOKEN");
        responder_stop(&rs);

        assert_non_null(strstr(rs.seen, "GET /api/v2/pre-flight-checks "));
        assert_non_null(strstr(rs.seen, "GET /api/v2/tenants/t%2F1/"
                                        "databases/d HTTP/1.1"));
        assert_non_null(strstr(rs.seen, "GET /api/v2/tenants/t%2F1/"
                                        "databases/d/collections/docs "));
        assert_non_null(strstr(rs.seen, "GET /api/v2/tenants/t%2F1/"
                                        "databases/d/collections/"
                                        "docs_vcdc_offsets "));
        for (p = rs.seen; (p = strstr(p, "x-chroma-token: tok-s3cret\r\n"));
             p++)
                tokens++;
        assert_int_equal(tokens, 6);
}

/* What vcdc_sink_new refuses before (or instead of) talking to Chroma. */
static void test_open_refusals(void **state) {
        static const struct {
                const char *url, *expect;
        } cases[] = {
                {"chroma://127.0.0.1:1/docs?tenant=t&colour=red",
                 "unknown chroma:// parameter \"colour\""},
                {"chroma://127.0.0.1:1/", "no collection"},
                {"chroma://127.0.0.1:1/ab", "takes 3 to 512"},
                {"chroma://127.0.0.1:1/a..b", "\"..\""},
                {"chroma://me@127.0.0.1:1/docs", "takes no user name"},
                {"chroma://127.0.0.1:1/docs?metric=hamming",
                 "is not cosine, l2 or ip"},
                /* Port 1: nobody listens; the error names the request. */
                {"chroma://127.0.0.1:1/docs",
                 "GET /api/v2/pre-flight-checks: "},
        };
        char errstr[512];
        size_t i;

        (void)state;
        unsetenv("VCDC_CHROMA_TOKEN");
        unsetenv("VCDC_CHROMA_TOKEN_FILE");
        for (i = 0; i < ARRAY_CNT(cases); i++) {
                vcdc_sink_t *sink;
                errstr[0] = '\0';
                sink = vcdc_sink_new(cases[i].url, NULL, errstr,
                                     sizeof(errstr));
                if (sink)
                        fail_msg("%s opened", cases[i].url);
                if (!strstr(errstr, cases[i].expect))
                        fail_msg("%s: \"%s\" lacks \"%s\"", cases[i].url,
                                 errstr, cases[i].expect);
        }
        /* A token file that cannot be read. */
        setenv("VCDC_CHROMA_TOKEN_FILE", "/nonexistent/token", 1);
        assert_null(vcdc_sink_new("chroma://127.0.0.1:1/docs", NULL, errstr,
                                  sizeof(errstr)));
        assert_non_null(strstr(errstr, "VCDC_CHROMA_TOKEN_FILE"));
        unsetenv("VCDC_CHROMA_TOKEN_FILE");
        /* A token never shows in errors. */
        setenv("VCDC_CHROMA_TOKEN", "tok-s3cret", 1);
        assert_null(vcdc_sink_new("chroma://127.0.0.1:1/docs", NULL, errstr,
                                  sizeof(errstr)));
        assert_null(strstr(errstr, "s3cret"));
        setenv("VCDC_CHROMA_TOKEN", "a\r\nX-Evil: 1", 1);
        assert_null(vcdc_sink_new("chroma://127.0.0.1:1/docs", NULL, errstr,
                                  sizeof(errstr)));
        assert_non_null(strstr(errstr, "line break"));
        unsetenv("VCDC_CHROMA_TOKEN");
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
                cmocka_unit_test(test_status_map),
                cmocka_unit_test(test_parse_collection),
                cmocka_unit_test(test_parse_get_by_ids),
                cmocka_unit_test(test_parse_get_page),
                cmocka_unit_test(test_parse_get_malformed),
                cmocka_unit_test(test_parse_query),
                cmocka_unit_test(test_parse_offsets),
                cmocka_unit_test(test_http_answers),
                cmocka_unit_test(test_http_cap_and_failures),
                cmocka_unit_test(test_open_canned),
                cmocka_unit_test(test_open_refusals),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
