/*
 * vcdc - integration test: the Chroma sink against a real Chroma server
 * named by VCDC_CHROMA_HOST and VCDC_CHROMA_PORT. When they are unset every
 * test is skipped, saying so. Collections are named vcdc_it_<pid>_<time>_*
 * and deleted at the end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "http.h"
#include "sink.h"
#include "sink_chroma_int.h"

#define DIM       128
#define N         2500
#define BATCH     1000
#define TOPIC     "vcdc.it.changes"

static const char *host;
static int port;
static char prefix[64];
static char created[16][128]; /* collections to delete at the end */
static int created_cnt;

static int have_server(void) {
        if (host && port)
                return 1;
        fprintf(stderr, "it_sink_chroma: skipped: VCDC_CHROMA_HOST and "
                        "VCDC_CHROMA_PORT are unset\n");
        return 0;
}

#define NEED_SERVER()                                                          \
        do {                                                                   \
                if (!have_server())                                            \
                        skip();                                                \
        } while (0)

static double now_s(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A collection name of this run, remembered for deletion. */
static const char *coll_name(char *buf, size_t size, const char *what) {
        snprintf(buf, size, "%s_%s", prefix, what);
        if (created_cnt < 16)
                snprintf(created[created_cnt++], sizeof(*created), "%s", buf);
        return buf;
}

static vcdc_sink_t *open_sink(const char *h, int p, const char *coll,
                              const char *params, vcdc_metric_t metric,
                              size_t dim, int timeout_ms, char *errstr,
                              size_t errstr_size) {
        vcdc_sink_conf_t conf = {.metric = metric,
                                 .dim = dim,
                                 .timeout_ms = timeout_ms};
        char url[512];

        snprintf(url, sizeof(url), "chroma://%s:%d/%s%s%s", h, p, coll,
                 params ? "?" : "", params ? params : "");
        return vcdc_sink_new(url, &conf, errstr, errstr_size);
}

/* Raw API calls for checks that go around the sink. */
static vcdc_sink_status_t raw(const char *method, const char *path,
                              json_t **respp, long *codep) {
        char base[300], full[1024], errstr[512];
        vcdc_sink_status_t status;
        vcdc_http_t *http;

        snprintf(base, sizeof(base), "http://%s:%d", host, port);
        snprintf(full, sizeof(full),
                 "/api/v2/tenants/default_tenant/databases/default_database/"
                 "collections%s",
                 path);
        http = vcdc_http_new(base, 30000, 0, errstr, sizeof(errstr));
        assert_non_null(http);
        if (respp)
                status = vcdc_http_json(http, method, full, NULL, 0, respp,
                                        codep, errstr, sizeof(errstr));
        else
                status = vcdc_http_request(http, method, full, NULL, 0, codep,
                                           errstr, sizeof(errstr));
        vcdc_http_destroy(http);
        return status;
}

/* Deterministic float32 with every mantissa bit in play. */
static float rnd_float(uint32_t seed) {
        uint32_t x = seed * 2654435761u + 0x9e3779b9u, u;
        float f;

        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        /* any sign and mantissa, magnitudes in [1/16, 1) */
        u = (x & 0x807fffffu) | ((uint32_t)(123 + (x >> 24) % 4) << 23);
        memcpy(&f, &u, sizeof(f));
        return f;
}

/* Record i, version v: vector, metadata and document all depend on both. */
static void make_rec(vcdc_record_t *rec, int i, int v) {
        char buf[256];
        int j;

        vcdc_record_init(rec);
        snprintf(buf, sizeof(buf), "id%d", i);
        rec->id = strdup(buf);
        rec->op = VCDC_OP_UPSERT;
        rec->dim = DIM;
        rec->vector = malloc(DIM * sizeof(float));
        for (j = 0; j < DIM; j++)
                rec->vector[j] = rnd_float((uint32_t)(i * 7919 + j * 31 + v));
        if (i % 5 != 4) {
                if (v == 0)
                        snprintf(buf, sizeof(buf),
                                 "{\"i\":%d,\"name\":\"n\\u00e9%d\","
                                 "\"even\":%s,\"score\":%.17g,\"v\":%d}",
                                 i, i, i % 2 ? "false" : "true", i * 0.1, v);
                else
                        snprintf(buf, sizeof(buf), "{\"i\":%d,\"v\":%d}", i,
                                 v);
                rec->metadata = strdup(buf);
        }
        if (i % 3 != 0 && v == 0) {
                snprintf(buf, sizeof(buf), "document %d \xe2\x9c\x93", i);
                rec->document = strdup(buf);
        }
}

/* Floats Chroma stored altered, as vcdc_chroma_stored_real() predicts. */
static size_t altered;

/* got equals want, but for floats Chroma alters as predicted. */
static int meta_equal(const char *got, const char *want) {
        json_t *jg, *jw, *w;
        const char *key;
        int eq;

        if (!got || !want)
                return !got && !want;
        jg = json_loads(got, 0, NULL);
        jw = json_loads(want, 0, NULL);
        eq = jg && jw && json_object_size(jg) == json_object_size(jw);
        json_object_foreach(jw, key, w) {
                json_t *g = json_object_get(jg, key);
                if (!eq)
                        break;
                if (json_is_real(w) && json_is_real(g) &&
                    json_real_value(g) != json_real_value(w) &&
                    json_real_value(g) ==
                            vcdc_chroma_stored_real(json_real_value(w))) {
                        altered++;
                        continue;
                }
                eq = g && json_equal(g, w);
        }
        json_decref(jg);
        json_decref(jw);
        return eq;
}

/* Fails unless got holds exactly what want says (vectors bit for bit). */
static void assert_same(const vcdc_record_t *got, const vcdc_record_t *want) {
        if (!got->id)
                fail_msg("%s: missing", want->id);
        assert_string_equal(got->id, want->id);
        assert_int_equal(got->dim, want->dim);
        if (memcmp(got->vector, want->vector, want->dim * sizeof(float))) {
                size_t j;
                for (j = 0; j < want->dim; j++)
                        if (memcmp(&got->vector[j], &want->vector[j], 4))
                                fail_msg("%s: vector[%zu] %.9g, wrote %.9g",
                                         want->id, j, got->vector[j],
                                         want->vector[j]);
        }
        if (!meta_equal(got->metadata, want->metadata))
                fail_msg("%s: metadata %s, wrote %s", want->id,
                         got->metadata ? got->metadata : "(none)",
                         want->metadata ? want->metadata : "(none)");
        if (want->document)
                assert_string_equal(got->document, want->document);
        else if (got->document)
                fail_msg("%s: document \"%s\", wrote none", want->id,
                         got->document);
}

/* Applies the batch, then records its offsets as the consumer does for
 * Chroma: apart, after the data (vcdc_sink_record_offsets()). */
static vcdc_sink_status_t apply(vcdc_sink_t *sink, vcdc_record_t *recs,
                                size_t cnt, const char *const *dels,
                                size_t del_cnt,
                                const vcdc_sink_offset_t *offs,
                                size_t off_cnt, char *errstr,
                                size_t errstr_size) {
        const vcdc_record_t **ups = malloc((cnt ? cnt : 1) * sizeof(*ups));
        vcdc_sink_batch_t batch = {
                .upserts = ups,
                .upsert_cnt = cnt,
                .delete_ids = dels,
                .delete_cnt = del_cnt,
                .topic = TOPIC,
        };
        vcdc_sink_status_t status;
        size_t i;

        for (i = 0; i < cnt; i++)
                ups[i] = &recs[i];
        status = vcdc_sink_apply(sink, &batch, errstr, errstr_size);
        free(ups);
        if (status == VCDC_SINK_OK && off_cnt)
                status = vcdc_sink_record_offsets(sink, TOPIC, offs, off_cnt,
                                                  errstr, errstr_size);
        return status;
}

static void clear_recs(vcdc_record_t *recs, size_t cnt) {
        size_t i;

        for (i = 0; i < cnt; i++)
                vcdc_record_clear(&recs[i]);
}

/* Everything a migration does, on one new l2 collection (l2 returns
 * vectors exactly; see test_cosine_precision). */
static void test_lifecycle(void **state) {
        static vcdc_record_t want[N], got[N];
        const char *ids[N];
        char errstr[1024], coll[128];
        vcdc_sink_offset_t offs[2], *roffs;
        vcdc_sink_status_t status;
        vcdc_hit_t hits[5];
        vcdc_sink_t *sink;
        uint64_t count;
        size_t i, n, cnt, seen_cnt;
        char *cursor = NULL, *seen;
        double t0, t1;
        json_t *resp;
        long code;

        (void)state;
        NEED_SERVER();
        coll_name(coll, sizeof(coll), "main");
        sink = open_sink(host, port, coll, "tenant=default_tenant&"
                                           "database=default_database&"
                                           "metric=l2",
                         VCDC_METRIC_UNSET, 0, 30000, errstr, sizeof(errstr));
        if (!sink)
                fail_msg("open: %s", errstr);
        assert_int_equal(vcdc_sink_dim(sink), 0);
        assert_true(vcdc_sink_max_batch(sink) >= 1000);

        /* A collection that does not exist yet counts as empty. */
        assert_int_equal(vcdc_sink_count(sink, &count, errstr, sizeof(errstr)),
                         VCDC_SINK_OK);
        assert_int_equal(count, 0);
        ids[0] = "id1";
        vcdc_record_init(&got[0]);
        assert_int_equal(vcdc_sink_get(sink, ids, 1, got, errstr,
                                       sizeof(errstr)),
                         VCDC_SINK_OK);
        assert_null(got[0].id);
        assert_int_equal(vcdc_sink_scan(sink, &cursor, 10, 1, got, &cnt,
                                        errstr, sizeof(errstr)),
                         VCDC_SINK_OK);
        assert_int_equal(cnt, 0);
        assert_null(cursor);
        {
                float q[DIM] = {0};
                assert_int_equal(vcdc_sink_query(sink, q, DIM, 5, hits, &cnt,
                                                 errstr, sizeof(errstr)),
                                 VCDC_SINK_OK);
                assert_int_equal(cnt, 0);
        }
        assert_int_equal(vcdc_sink_read_offsets(sink, TOPIC, &roffs, &cnt,
                                                errstr, sizeof(errstr)),
                         VCDC_SINK_OK);
        assert_int_equal(cnt, 0);
        free(roffs);

        /* 2,500 upserts in batches, each recording its offsets. */
        for (i = 0; i < N; i++)
                make_rec(&want[i], (int)i, 0);
        t0 = now_s();
        for (i = 0; i < N; i += n) {
                n = N - i < BATCH ? N - i : BATCH;
                offs[0].partition = 0;
                offs[0].offset = (int64_t)(i + n) - 1;
                offs[1].partition = 1;
                offs[1].offset = (int64_t)(i + n) / 2;
                status = apply(sink, want + i, n, NULL, 0, offs, 2, errstr,
                               sizeof(errstr));
                if (status != VCDC_SINK_OK)
                        fail_msg("apply: %s: %s", vcdc_sink_status_name(status),
                                 errstr);
        }
        t1 = now_s();
        fprintf(stderr,
                "it_sink_chroma: applied %d new %d-d vectors in batches of %d "
                "in %.2f s: %.0f vectors/s\n",
                N, DIM, BATCH, t1 - t0, N / (t1 - t0));
        assert_int_equal(vcdc_sink_dim(sink), DIM);
        assert_int_equal(vcdc_sink_count(sink, &count, errstr, sizeof(errstr)),
                         VCDC_SINK_OK);
        assert_int_equal(count, N);

        /* Read back: vectors bit for bit, metadata, documents. */
        for (i = 0; i < N; i++) {
                ids[i] = want[i].id;
                vcdc_record_init(&got[i]);
        }
        t0 = now_s();
        status = vcdc_sink_get(sink, ids, N, got, errstr, sizeof(errstr));
        if (status != VCDC_SINK_OK)
                fail_msg("get: %s", errstr);
        fprintf(stderr, "it_sink_chroma: got %d vectors back in %.2f s\n", N,
                now_s() - t0);
        for (i = 0; i < N; i++)
                assert_same(&got[i], &want[i]);
        clear_recs(got, N);

        /* The same records again: the pre-read now finds them all. */
        t0 = now_s();
        status = apply(sink, want, BATCH, NULL, 0, NULL, 0, errstr,
                       sizeof(errstr));
        assert_int_equal(status, VCDC_SINK_OK);
        t1 = now_s();
        fprintf(stderr,
                "it_sink_chroma: re-applied %d existing vectors: %.0f "
                "vectors/s\n",
                BATCH, BATCH / (t1 - t0));

        /* Deletes (0..99) and new versions (100..199) in one batch: fewer
         * metadata keys, no document, another vector. */
        for (i = 100; i < 200; i++) {
                vcdc_record_clear(&want[i]);
                make_rec(&want[i], (int)i, 1);
                ids[i] = want[i].id;
        }
        offs[0].offset = 4000;
        offs[1].offset = 3000;
        status = apply(sink, want + 100, 100, ids, 100, offs, 2, errstr,
                       sizeof(errstr));
        if (status != VCDC_SINK_OK)
                fail_msg("apply: %s", errstr);
        assert_int_equal(vcdc_sink_count(sink, &count, errstr, sizeof(errstr)),
                         VCDC_SINK_OK);
        /* The offsets collection holds records too: not counted here. */
        assert_int_equal(count, N - 100);
        for (i = 0; i < 200; i++)
                vcdc_record_init(&got[i]);
        assert_int_equal(vcdc_sink_get(sink, ids, 200, got, errstr,
                                       sizeof(errstr)),
                         VCDC_SINK_OK);
        for (i = 0; i < 100; i++)
                if (got[i].id)
                        fail_msg("%s was deleted but is there", ids[i]);
        for (i = 100; i < 200; i++)
                assert_same(&got[i], &want[i]);
        clear_recs(got, 200);

        /* Offsets: the last ones recorded, per partition, for this topic. */
        assert_int_equal(vcdc_sink_read_offsets(sink, TOPIC, &roffs, &cnt,
                                                errstr, sizeof(errstr)),
                         VCDC_SINK_OK);
        assert_int_equal(cnt, 2);
        assert_int_equal(roffs[0].partition, 0);
        assert_int_equal(roffs[0].offset, 4000);
        assert_int_equal(roffs[1].partition, 1);
        assert_int_equal(roffs[1].offset, 3000);
        free(roffs);
        assert_int_equal(vcdc_sink_read_offsets(sink, "other.topic", &roffs,
                                                &cnt, errstr, sizeof(errstr)),
                         VCDC_SINK_OK);
        assert_int_equal(cnt, 0);
        free(roffs);
        /* ... kept in their own collection, one record per partition. */
        {
                char path[256];
                snprintf(path, sizeof(path), "/%s%s", coll,
                         VCDC_CHROMA_OFFSETS_SUFFIX);
                assert_int_equal(raw("GET", path, &resp, &code), VCDC_SINK_OK);
                assert_string_equal(
                        json_string_value(json_object_get(resp, "name")) +
                                strlen(coll),
                        VCDC_CHROMA_OFFSETS_SUFFIX);
                snprintf(path, sizeof(path), "/%s/count",
                         json_string_value(json_object_get(resp, "id")));
                json_decref(resp);
                assert_int_equal(raw("GET", path, &resp, &code), VCDC_SINK_OK);
                assert_int_equal(json_integer_value(resp), 2);
                json_decref(resp);
        }

        /* The nearest neighbour of a stored vector is itself. */
        status = vcdc_sink_query(sink, want[2000].vector, DIM, 5, hits, &cnt,
                                 errstr, sizeof(errstr));
        if (status != VCDC_SINK_OK)
                fail_msg("query: %s", errstr);
        assert_int_equal(cnt, 5);
        assert_string_equal(hits[0].id, "id2000");
        assert_true(hits[0].distance < 1e-3);
        assert_true(hits[1].distance >= hits[0].distance);
        for (i = 0; i < cnt; i++)
                free(hits[i].id);

        /* Scan pages: every record once, with its vector. */
        seen = calloc(N, 1);
        seen_cnt = 0;
        cursor = NULL;
        do {
                status = vcdc_sink_scan(sink, &cursor, 700, 1, got, &cnt,
                                        errstr, sizeof(errstr));
                if (status != VCDC_SINK_OK)
                        fail_msg("scan: %s", errstr);
                assert_true(cnt <= 700);
                for (i = 0; i < cnt; i++) {
                        long k = strtol(got[i].id + 2, NULL, 10);
                        assert_true(k >= 100 && k < N);
                        assert_false(seen[k]);
                        seen[k] = 1;
                        seen_cnt++;
                        assert_same(&got[i], &want[k]);
                }
                clear_recs(got, cnt);
        } while (cursor);
        assert_int_equal(seen_cnt, N - 100);
        free(seen);
        /* Without vectors. */
        assert_int_equal(vcdc_sink_scan(sink, &cursor, 10, 0, got, &cnt,
                                        errstr, sizeof(errstr)),
                         VCDC_SINK_OK);
        assert_int_equal(cnt, 10);
        assert_null(got[0].vector);
        assert_non_null(cursor);
        clear_recs(got, cnt);
        free(cursor);

        /* Embeddings as JSON numbers instead of base64: still exact, with
         * floats at the edges of float32. */
        vcdc_sink_chroma_set_base64(sink, 0);
        for (i = 200; i < 210; i++) {
                static const float edge[] = {FLT_MAX, -FLT_MAX, FLT_MIN,
                                             1e-45f,  -0.0f,    0.1f,
                                             1.0f / 3};
                size_t j;
                for (j = 0; j < sizeof(edge) / sizeof(*edge); j++)
                        want[i].vector[j * 7 % DIM] = edge[j];
        }
        assert_int_equal(apply(sink, want + 200, 10, NULL, 0, NULL, 0, errstr,
                               sizeof(errstr)),
                         VCDC_SINK_OK);
        vcdc_sink_chroma_set_base64(sink, 1);
        for (i = 200; i < 210; i++)
                vcdc_record_init(&got[i]);
        assert_int_equal(vcdc_sink_get(sink, ids + 200, 10, got + 200, errstr,
                                       sizeof(errstr)),
                         VCDC_SINK_OK);
        for (i = 200; i < 210; i++)
                assert_same(&got[i], &want[i]);
        clear_recs(got + 200, 10);

        /* Data the sink refuses before sending: wrong dimension, nested
         * metadata. */
        {
                vcdc_record_t bad;
                make_rec(&bad, 9999, 0);
                bad.dim = 64;
                assert_int_equal(vcdc_sink_check(sink, &bad, errstr,
                                                 sizeof(errstr)),
                                 VCDC_SINK_INVALID);
                assert_int_equal(apply(sink, &bad, 1, NULL, 0, NULL, 0,
                                       errstr, sizeof(errstr)),
                                 VCDC_SINK_INVALID);
                bad.dim = DIM;
                free(bad.metadata);
                bad.metadata = strdup("{\"tags\":[\"a\",\"b\"]}");
                assert_int_equal(vcdc_sink_check(sink, &bad, errstr,
                                                 sizeof(errstr)),
                                 VCDC_SINK_INVALID);
                assert_non_null(strstr(errstr, "\"tags\" is an array"));
                vcdc_record_clear(&bad);
        }

        vcdc_sink_destroy(sink);
        clear_recs(want, N);

        /* Reopened: the dimension comes from the collection. */
        sink = open_sink(host, port, coll, "metric=l2", VCDC_METRIC_UNSET, 0,
                         30000, errstr, sizeof(errstr));
        if (!sink)
                fail_msg("reopen: %s", errstr);
        assert_int_equal(vcdc_sink_dim(sink), DIM);
        vcdc_sink_destroy(sink);
}

/* Metadata floats come back exactly, but for the few Chroma's parser
 * cannot read exactly from any text (then one ulp off). */
static void test_metadata_floats(void **state) {
        enum { CNT = 300, KEYS = 10 };
        static vcdc_record_t want[CNT], got[CNT];
        const char *ids[CNT];
        char errstr[1024], coll[128];
        size_t i, k, predicted = 0, total = 0;
        uint64_t x = 0x9e3779b97f4a7c15ULL;
        vcdc_sink_t *sink;

        (void)state;
        NEED_SERVER();
        coll_name(coll, sizeof(coll), "floats");
        sink = open_sink(host, port, coll, NULL, VCDC_METRIC_L2, 0, 30000,
                         errstr, sizeof(errstr));
        assert_non_null(sink);
        for (i = 0; i < CNT; i++) {
                json_t *meta = json_object();
                make_rec(&want[i], (int)i, 0);
                free(want[i].metadata);
                for (k = 0; k < KEYS; k++) {
                        char key[8];
                        double d;
                        if (k < 3) {
                                d = (double)(i * KEYS + k) * 0.1;
                        } else {
                                do {
                                        x ^= x << 13;
                                        x ^= x >> 7;
                                        x ^= x << 17;
                                        memcpy(&d, &x, sizeof(d));
                                } while (!isfinite(d));
                        }
                        snprintf(key, sizeof(key), "f%zu", k);
                        json_object_set_new(meta, key, json_real(d));
                        if (vcdc_chroma_stored_real(d) != d)
                                predicted++;
                        total++;
                }
                want[i].metadata = json_dumps(meta, JSON_COMPACT);
                json_decref(meta);
                ids[i] = want[i].id;
                vcdc_record_init(&got[i]);
        }
        assert_int_equal(apply(sink, want, CNT, NULL, 0, NULL, 0, errstr,
                               sizeof(errstr)),
                         VCDC_SINK_OK);
        assert_int_equal(vcdc_sink_get(sink, ids, CNT, got, errstr,
                                       sizeof(errstr)),
                         VCDC_SINK_OK);
        altered = 0;
        for (i = 0; i < CNT; i++)
                assert_same(&got[i], &want[i]);
        fprintf(stderr,
                "it_sink_chroma: metadata floats: %zu of %zu stored altered, "
                "as predicted (%zu)\n",
                altered, total, predicted);
        assert_int_equal(altered, predicted);
        clear_recs(want, CNT);
        clear_recs(got, CNT);
        vcdc_sink_destroy(sink);
}

/* An existing collection with another space or dimension is refused. */
static void test_refuse_mismatch(void **state) {
        char errstr[1024], coll[128];
        vcdc_record_t rec;
        vcdc_sink_t *sink;

        (void)state;
        NEED_SERVER();
        coll_name(coll, sizeof(coll), "refuse");
        sink = open_sink(host, port, coll, NULL, VCDC_METRIC_L2, 0, 30000,
                         errstr, sizeof(errstr));
        assert_non_null(sink);
        make_rec(&rec, 1, 0);
        assert_int_equal(apply(sink, &rec, 1, NULL, 0, NULL, 0, errstr,
                               sizeof(errstr)),
                         VCDC_SINK_OK);
        vcdc_record_clear(&rec);
        vcdc_sink_destroy(sink);

        sink = open_sink(host, port, coll, "metric=cosine", VCDC_METRIC_UNSET,
                         0, 30000, errstr, sizeof(errstr));
        assert_null(sink);
        if (!strstr(errstr, "has space l2, configured cosine"))
                fail_msg("%s", errstr);
        sink = open_sink(host, port, coll, NULL, VCDC_METRIC_L2, 768, 30000,
                         errstr, sizeof(errstr));
        assert_null(sink);
        if (!strstr(errstr, "has dimension 128, configured 768"))
                fail_msg("%s", errstr);
        sink = open_sink(host, port, coll, NULL, VCDC_METRIC_L2, DIM, 30000,
                         errstr, sizeof(errstr));
        assert_non_null(sink);
        vcdc_sink_destroy(sink);
        /* A database that does not exist. */
        sink = open_sink(host, port, coll, "database=no_such_db",
                         VCDC_METRIC_L2, 0, 30000, errstr, sizeof(errstr));
        assert_null(sink);
        assert_non_null(strstr(errstr, "HTTP 404"));
}

/* The server's own refusal of bad data is INVALID: a sink that saw no
 * vector yet writes 64-d into a collection another sink filled with
 * 128-d. */
static void test_server_refusal(void **state) {
        char errstr[1024], coll[128];
        vcdc_sink_t *first, *second;
        vcdc_record_t rec;

        (void)state;
        NEED_SERVER();
        coll_name(coll, sizeof(coll), "refusal");
        first = open_sink(host, port, coll, NULL, VCDC_METRIC_IP, 0, 30000,
                          errstr, sizeof(errstr));
        second = open_sink(host, port, coll, NULL, VCDC_METRIC_IP, 0, 30000,
                           errstr, sizeof(errstr));
        assert_non_null(first);
        assert_non_null(second);
        make_rec(&rec, 1, 0);
        assert_int_equal(apply(second, &rec, 1, NULL, 0, NULL, 0, errstr,
                               sizeof(errstr)),
                         VCDC_SINK_OK);
        rec.dim = 64;
        assert_int_equal(apply(first, &rec, 1, NULL, 0, NULL, 0, errstr,
                               sizeof(errstr)),
                         VCDC_SINK_INVALID);
        if (!strstr(errstr, "HTTP 400") || !strstr(errstr, "dimension"))
                fail_msg("%s", errstr);
        vcdc_record_clear(&rec);
        vcdc_sink_destroy(first);
        vcdc_sink_destroy(second);
}

/* Cosine collections give vectors back normalised and scaled again:
 * close, not exact. This pins down that Chroma behaviour. */
static void test_cosine_precision(void **state) {
        enum { CNT = 50 };
        static vcdc_record_t want[CNT], got[CNT];
        const char *ids[CNT];
        char errstr[1024], coll[128];
        size_t i, j, inexact = 0;
        vcdc_sink_t *sink;
        double worst = 0;

        (void)state;
        NEED_SERVER();
        coll_name(coll, sizeof(coll), "cosine");
        sink = open_sink(host, port, coll, NULL, VCDC_METRIC_COSINE, 0, 30000,
                         errstr, sizeof(errstr));
        assert_non_null(sink);
        for (i = 0; i < CNT; i++) {
                make_rec(&want[i], (int)i, 0);
                ids[i] = want[i].id;
                vcdc_record_init(&got[i]);
        }
        assert_int_equal(apply(sink, want, CNT, NULL, 0, NULL, 0, errstr,
                               sizeof(errstr)),
                         VCDC_SINK_OK);
        assert_int_equal(vcdc_sink_get(sink, ids, CNT, got, errstr,
                                       sizeof(errstr)),
                         VCDC_SINK_OK);
        for (i = 0; i < CNT; i++) {
                assert_int_equal(got[i].dim, DIM);
                for (j = 0; j < DIM; j++) {
                        double w = want[i].vector[j], g = got[i].vector[j];
                        double rel = fabs(g - w) / fabs(w);
                        if (g != w)
                                inexact++;
                        if (rel > worst)
                                worst = rel;
                }
        }
        fprintf(stderr,
                "it_sink_chroma: cosine: %zu of %d floats came back "
                "inexact, worst relative error %.3g\n",
                inexact, CNT * DIM, worst);
        assert_true(worst < 1e-6);
        clear_recs(want, CNT);
        clear_recs(got, CNT);
        vcdc_sink_destroy(sink);
}

/*
 * A TCP proxy in front of the real server, so the test can stop "the
 * server" (close everything) or make it hang (stop forwarding).
 */
typedef struct proxy_s {
        int lfd;
        int port;
        int wake[2];
        volatile int hang;
        pthread_t thread;
} proxy_t;

static int connect_server(void) {
        struct sockaddr_in sa;
        int fd = socket(AF_INET, SOCK_STREAM, 0);

        memset(&sa, 0, sizeof(sa));
        sa.sin_family = AF_INET;
        sa.sin_port = htons((uint16_t)port);
        if (inet_pton(AF_INET, host, &sa.sin_addr) != 1 ||
            connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
                close(fd);
                return -1;
        }
        return fd;
}

static void *proxy_run(void *opaque) {
        proxy_t *px = opaque;
        int fds[64], nfds = 0, i;

        for (;;) {
                struct pollfd pfd[66];
                int n = 0, polled = nfds;
                pfd[n].fd = px->wake[0];
                pfd[n++].events = POLLIN;
                pfd[n].fd = px->lfd;
                pfd[n++].events = POLLIN;
                for (i = 0; i < nfds; i++) {
                        pfd[n].fd = px->hang ? -1 : fds[i];
                        pfd[n].revents = 0;
                        pfd[n++].events = POLLIN;
                }
                if (poll(pfd, (nfds_t)n, 100) < 0 && errno != EINTR)
                        break;
                if (pfd[0].revents)
                        break;
                if ((pfd[1].revents & POLLIN) && nfds + 2 <= 64) {
                        int c = accept(px->lfd, NULL, NULL), s;
                        if (c >= 0 && (s = connect_server()) >= 0) {
                                fds[nfds++] = c;
                                fds[nfds++] = s;
                        } else if (c >= 0) {
                                close(c);
                        }
                }
                for (i = 0; i < polled && !px->hang; i++) {
                        char buf[65536];
                        ssize_t r;
                        int peer = i ^ 1;
                        if (!(pfd[2 + i].revents & (POLLIN | POLLHUP)))
                                continue;
                        r = read(fds[i], buf, sizeof(buf));
                        if (r <= 0 || send(fds[peer], buf, (size_t)r,
                                           MSG_NOSIGNAL) != r) {
                                int pair = i & ~1;
                                close(fds[pair]);
                                close(fds[pair + 1]);
                                memmove(&fds[pair], &fds[pair + 2],
                                        (size_t)(nfds - pair - 2) *
                                                sizeof(*fds));
                                nfds -= 2;
                                break; /* pfd no longer matches fds */
                        }
                }
        }
        for (i = 0; i < nfds; i++)
                close(fds[i]);
        return NULL;
}

static void proxy_start(proxy_t *px) {
        struct sockaddr_in sa;
        socklen_t salen = sizeof(sa);

        memset(px, 0, sizeof(*px));
        assert_int_equal(pipe(px->wake), 0);
        px->lfd = socket(AF_INET, SOCK_STREAM, 0);
        memset(&sa, 0, sizeof(sa));
        sa.sin_family = AF_INET;
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        assert_int_equal(bind(px->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        assert_int_equal(listen(px->lfd, 16), 0);
        getsockname(px->lfd, (struct sockaddr *)&sa, &salen);
        px->port = ntohs(sa.sin_port);
        assert_int_equal(pthread_create(&px->thread, NULL, proxy_run, px), 0);
}

static void proxy_stop(proxy_t *px) {
        assert_int_equal(write(px->wake[1], "x", 1), 1);
        pthread_join(px->thread, NULL);
        close(px->lfd);
        close(px->wake[0]);
        close(px->wake[1]);
}

/* A server that stops, or stops answering, is RETRIABLE. */
static void test_unreachable(void **state) {
        char errstr[1024], coll[128];
        vcdc_sink_status_t status;
        vcdc_record_t rec;
        vcdc_sink_t *sink;
        uint64_t count;
        proxy_t px;
        double t0;

        (void)state;
        NEED_SERVER();
        coll_name(coll, sizeof(coll), "unreachable");
        make_rec(&rec, 1, 0);

        /* Hangs: each request times out. */
        proxy_start(&px);
        sink = open_sink("127.0.0.1", px.port, coll, NULL, VCDC_METRIC_L2, 0,
                         1000 /*timeout_ms*/, errstr, sizeof(errstr));
        if (!sink)
                fail_msg("open through the proxy: %s", errstr);
        assert_int_equal(apply(sink, &rec, 1, NULL, 0, NULL, 0, errstr,
                               sizeof(errstr)),
                         VCDC_SINK_OK);
        px.hang = 1;
        t0 = now_s();
        status = vcdc_sink_count(sink, &count, errstr, sizeof(errstr));
        assert_int_equal(status, VCDC_SINK_RETRIABLE);
        assert_true(now_s() - t0 < 5);
        fprintf(stderr, "it_sink_chroma: hanging server: %s\n", errstr);
        px.hang = 0;

        /* Stops: connection refused. */
        proxy_stop(&px);
        status = apply(sink, &rec, 1, NULL, 0, NULL, 0, errstr,
                       sizeof(errstr));
        assert_int_equal(status, VCDC_SINK_RETRIABLE);
        fprintf(stderr, "it_sink_chroma: stopped server: %s\n", errstr);
        assert_int_equal(vcdc_sink_count(sink, &count, errstr, sizeof(errstr)),
                         VCDC_SINK_RETRIABLE);
        vcdc_record_clear(&rec);
        vcdc_sink_destroy(sink);
}

/* A collection deleted under a running sink stops it (FATAL); a new sink
 * reads none of the deleted collection's offsets. */
static void test_deleted_collection(void **state) {
        char errstr[1024], coll[128], path[256];
        vcdc_sink_offset_t off = {0, 7};
        vcdc_record_t rec;
        vcdc_sink_t *sink;
        long code;

        (void)state;
        NEED_SERVER();
        coll_name(coll, sizeof(coll), "deleted");
        sink = open_sink(host, port, coll, NULL, VCDC_METRIC_L2, 0, 30000,
                         errstr, sizeof(errstr));
        assert_non_null(sink);
        make_rec(&rec, 1, 0);
        assert_int_equal(apply(sink, &rec, 1, NULL, 0, &off, 1, errstr,
                               sizeof(errstr)),
                         VCDC_SINK_OK);
        snprintf(path, sizeof(path), "/%s", coll);
        assert_int_equal(raw("DELETE", path, NULL, &code), VCDC_SINK_OK);
        /* The open sink notices on its next write. */
        assert_int_equal(apply(sink, &rec, 1, NULL, 0, &off, 1, errstr,
                               sizeof(errstr)),
                         VCDC_SINK_FATAL);
        assert_non_null(strstr(errstr, "was deleted while in use"));
        vcdc_sink_destroy(sink);
        /* A new one starts, and finds no offsets: they were the deleted
         * collection's (a new group replays the topic whole). */
        sink = open_sink(host, port, coll, NULL, VCDC_METRIC_L2, 0, 30000,
                         errstr, sizeof(errstr));
        if (!sink)
                fail_msg("open: %s", errstr);
        {
                vcdc_sink_offset_t *offs;
                size_t cnt;
                assert_int_equal(vcdc_sink_read_offsets(sink, TOPIC, &offs,
                                                        &cnt, errstr,
                                                        sizeof(errstr)),
                                 VCDC_SINK_OK);
                assert_int_equal(cnt, 0);
                free(offs);
        }
        vcdc_record_clear(&rec);
        vcdc_sink_destroy(sink);
}

static int setup(void **state) {
        const char *p = getenv("VCDC_CHROMA_PORT");

        (void)state;
        host = getenv("VCDC_CHROMA_HOST");
        if (host && !*host)
                host = NULL;
        if (p && *p) {
                char *end;
                long v = strtol(p, &end, 10);
                port = *end || v < 1 || v > 65535 ? 0 : (int)v;
        }
        snprintf(prefix, sizeof(prefix), "vcdc_it_%ld_%ld", (long)getpid(),
                 (long)time(NULL));
        return 0;
}

static int teardown(void **state) {
        char path[256];
        long code;
        int i;

        (void)state;
        if (!host || !port)
                return 0;
        for (i = 0; i < created_cnt; i++) {
                snprintf(path, sizeof(path), "/%.200s", created[i]);
                raw("DELETE", path, NULL, &code);
                snprintf(path, sizeof(path), "/%.200s%s", created[i],
                         VCDC_CHROMA_OFFSETS_SUFFIX);
                raw("DELETE", path, NULL, &code);
        }
        return 0;
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_lifecycle),
                cmocka_unit_test(test_metadata_floats),
                cmocka_unit_test(test_refuse_mismatch),
                cmocka_unit_test(test_server_refusal),
                cmocka_unit_test(test_cosine_precision),
                cmocka_unit_test(test_unreachable),
                cmocka_unit_test(test_deleted_collection),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
