/*
 * vcdc - integration test: the Chroma sink's recorded offsets belong to
 * the collection they describe (issue 14, the Chroma side of scenario 3),
 * against a real Chroma server named by VCDC_CHROMA_HOST and
 * VCDC_CHROMA_PORT (skipped, saying so, when they are unset).
 *
 *   - each companion record carries the id of the user's collection, ""
 *     while it does not exist; read_offsets() returns only those of the
 *     collection that exists now: none after it is deleted or
 *     re-created, and records stamped "" only while it is missing;
 *   - record_offsets() never creates the user's collection;
 *   - a missing collection whose companion holds only "" records opens.
 *
 * Collections are named vcdc_ito_<pid>_<time>_* and deleted at the end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "http.h"
#include "sink.h"
#include "sink_chroma_int.h"

#define TOPIC "vcdc.it.offsets"

static const char *host;
static int port;
static char prefix[64];
static char created[8][128];
static int created_cnt;

static const char *coll_name(char *buf, size_t size, const char *what) {
        snprintf(buf, size, "%s_%s", prefix, what);
        if (created_cnt < 8)
                snprintf(created[created_cnt++], sizeof(*created), "%s", buf);
        return buf;
}

/* A request around the sink, under the default database's collections. */
static vcdc_sink_status_t raw(const char *method, const char *path,
                              const char *body, json_t **respp, long *codep) {
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
                status = vcdc_http_json(http, method, full, body,
                                        body ? strlen(body) : 0, respp, codep,
                                        errstr, sizeof(errstr));
        else
                status = vcdc_http_request(http, method, full, body,
                                           body ? strlen(body) : 0, codep,
                                           errstr, sizeof(errstr));
        vcdc_http_destroy(http);
        return status;
}

/* The id of collection name, "" when it does not exist. */
static void coll_id(const char *name, char *id, size_t size) {
        char path[256];
        json_t *resp = NULL;
        long code;

        snprintf(path, sizeof(path), "/%s", name);
        id[0] = '\0';
        if (raw("GET", path, NULL, &resp, &code) == VCDC_SINK_OK)
                snprintf(id, size, "%s",
                         json_string_value(json_object_get(resp, "id")));
        json_decref(resp);
}

static vcdc_sink_t *open_sink(const char *coll, char *errstr,
                              size_t errstr_size) {
        vcdc_sink_conf_t conf = {.metric = VCDC_METRIC_L2, .timeout_ms = 30000};
        char url[512];

        snprintf(url, sizeof(url), "chroma://%s:%d/%s", host, port, coll);
        return vcdc_sink_new(url, &conf, errstr, errstr_size);
}

static vcdc_sink_t *must_open(const char *coll) {
        char errstr[1024];
        vcdc_sink_t *sink = open_sink(coll, errstr, sizeof(errstr));

        if (!sink)
                fail_msg("open %s: %s", coll, errstr);
        return sink;
}

static void upsert_one(vcdc_sink_t *sink, const char *id) {
        float v[4] = {0.5f, 0.25f, 0.125f, 1};
        vcdc_record_t rec = {
                .id = (char *)id, .op = VCDC_OP_UPSERT, .vector = v, .dim = 4};
        const vcdc_record_t *ptr = &rec;
        vcdc_sink_batch_t batch = {.upserts = &ptr, .upsert_cnt = 1};
        char errstr[1024];
        vcdc_sink_status_t st =
                vcdc_sink_apply(sink, &batch, errstr, sizeof(errstr));

        if (st != VCDC_SINK_OK)
                fail_msg("apply: %s: %s", vcdc_sink_status_name(st), errstr);
}

static void record(vcdc_sink_t *sink, int32_t partition, int64_t offset) {
        vcdc_sink_offset_t off = {partition, offset};
        char errstr[1024];
        vcdc_sink_status_t st = vcdc_sink_record_offsets(
                sink, TOPIC, &off, 1, errstr, sizeof(errstr));

        if (st != VCDC_SINK_OK)
                fail_msg("record_offsets: %s: %s", vcdc_sink_status_name(st),
                         errstr);
}

/* The offset read back for partition, -1 for none; *cntp: how many. */
static int64_t read_back(vcdc_sink_t *sink, int32_t partition, size_t *cntp) {
        vcdc_sink_offset_t *offs;
        char errstr[1024];
        size_t cnt, i;
        int64_t v = -1;

        if (vcdc_sink_read_offsets(sink, TOPIC, &offs, &cnt, errstr,
                                   sizeof(errstr)) != VCDC_SINK_OK)
                fail_msg("read_offsets: %s", errstr);
        for (i = 0; i < cnt; i++)
                if (offs[i].partition == partition)
                        v = offs[i].offset;
        free(offs);
        if (cntp)
                *cntp = cnt;
        return v;
}

/* What the companion records hold, for partition: the collection id they
 * are stamped with (NULL: none). */
static char *stamp_of(const char *coll, int32_t partition) {
        char path[256], companion[200], id[128], body[256], *stamp = NULL;
        json_t *resp = NULL;
        long code;

        snprintf(companion, sizeof(companion), "%s%s", coll,
                 VCDC_CHROMA_OFFSETS_SUFFIX);
        coll_id(companion, id, sizeof(id));
        assert_true(id[0]);
        snprintf(path, sizeof(path), "/%s/get", id);
        snprintf(body, sizeof(body),
                 "{\"ids\":[\"%s/%d\"],\"include\":[\"metadatas\"]}", TOPIC,
                 (int)partition);
        assert_int_equal(raw("POST", path, body, &resp, &code), VCDC_SINK_OK);
        {
                const char *s = json_string_value(json_object_get(
                        json_array_get(json_object_get(resp, "metadatas"), 0),
                        "collection_id"));
                if (s)
                        stamp = strdup(s);
        }
        json_decref(resp);
        return stamp;
}

/*
 * Recorded offsets carry the collection's id; once it is deleted, and
 * once it is re-created, none read back; new ones belong to the new one.
 */
static void test_stamped(void **state) {
        char coll[128], id[128], path[256], *stamp;
        vcdc_sink_t *sink, *again;
        size_t cnt;
        long code;

        (void)state;
        coll_name(coll, sizeof(coll), "stamped");
        sink = must_open(coll);
        upsert_one(sink, "a");
        record(sink, 0, 10);
        record(sink, 1, 4);
        assert_int_equal(read_back(sink, 0, &cnt), 10);
        assert_int_equal(cnt, 2);

        snprintf(path, sizeof(path), "/%s", coll);
        assert_int_equal(raw("DELETE", path, NULL, NULL, &code), VCDC_SINK_OK);
        assert_int_equal(read_back(sink, 0, &cnt), -1);
        assert_int_equal(cnt, 0);

        /* Re-created by someone else: a new id, still none of ours. */
        snprintf(path, sizeof(path),
                 "{\"name\":\"%s\",\"configuration\":{\"hnsw\":{\"space\":"
                 "\"l2\"}}}",
                 coll);
        assert_int_equal(raw("POST", "", path, NULL, &code), VCDC_SINK_OK);
        again = must_open(coll);
        assert_int_equal(read_back(again, 0, &cnt), -1);
        assert_int_equal(cnt, 0);
        upsert_one(again, "b");
        record(again, 0, 3);
        assert_int_equal(read_back(again, 0, &cnt), 3);
        assert_int_equal(cnt, 1);
        /* Stamped with the new collection's id; partition 1's record is
         * still the old collection's. */
        coll_id(coll, id, sizeof(id));
        stamp = stamp_of(coll, 0);
        assert_non_null(stamp);
        assert_string_equal(stamp, id);
        free(stamp);
        stamp = stamp_of(coll, 1);
        assert_non_null(stamp);
        assert_string_not_equal(stamp, id);
        free(stamp);
        vcdc_sink_destroy(again);
        vcdc_sink_destroy(sink);
}

/*
 * Offsets recorded while the collection does not exist (a batch of
 * deletes before any upsert): the collection is not created for them,
 * they read back while it is missing, a new sink opens over them, and
 * they stop counting once the collection exists.
 */
static void test_without_collection(void **state) {
        char coll[128], id[128], *stamp;
        vcdc_sink_t *sink;
        size_t cnt;

        (void)state;
        coll_name(coll, sizeof(coll), "none");
        sink = must_open(coll);
        record(sink, 0, 5);
        record(sink, 1, 9);
        coll_id(coll, id, sizeof(id));
        assert_string_equal(id, ""); /* not created */
        assert_int_equal(read_back(sink, 0, &cnt), 5);
        vcdc_sink_destroy(sink);

        sink = must_open(coll);
        assert_int_equal(read_back(sink, 0, &cnt), 5);
        upsert_one(sink, "a");
        assert_int_equal(read_back(sink, 0, &cnt), -1);
        assert_int_equal(cnt, 0);
        record(sink, 0, 6);
        assert_int_equal(read_back(sink, 0, &cnt), 6);
        assert_int_equal(cnt, 1);
        coll_id(coll, id, sizeof(id));
        stamp = stamp_of(coll, 0);
        assert_non_null(stamp);
        assert_string_equal(stamp, id);
        free(stamp);
        stamp = stamp_of(coll, 1);
        assert_non_null(stamp);
        assert_string_equal(stamp, "");
        free(stamp);
        vcdc_sink_destroy(sink);
}

/* vcdc_sink_target(): the collection named in the URL. */
static void test_target(void **state) {
        char coll[128];
        vcdc_sink_t *sink;

        (void)state;
        coll_name(coll, sizeof(coll), "target");
        sink = must_open(coll);
        assert_string_equal(vcdc_sink_target(sink), coll);
        vcdc_sink_destroy(sink);
}

static int setup(void **state) {
        const char *p = getenv("VCDC_CHROMA_PORT");

        (void)state;
        host = getenv("VCDC_CHROMA_HOST");
        if (p && *p)
                port = (int)strtol(p, NULL, 10);
        snprintf(prefix, sizeof(prefix), "vcdc_ito_%ld_%ld", (long)getpid(),
                 (long)time(NULL));
        return 0;
}

static int teardown(void **state) {
        char path[256];
        long code;
        int i;

        (void)state;
        for (i = 0; i < created_cnt; i++) {
                snprintf(path, sizeof(path), "/%.200s", created[i]);
                raw("DELETE", path, NULL, NULL, &code);
                snprintf(path, sizeof(path), "/%.200s%s", created[i],
                         VCDC_CHROMA_OFFSETS_SUFFIX);
                raw("DELETE", path, NULL, NULL, &code);
        }
        return 0;
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_stamped),
                cmocka_unit_test(test_without_collection),
                cmocka_unit_test(test_target),
        };
        const char *h = getenv("VCDC_CHROMA_HOST"),
                   *p = getenv("VCDC_CHROMA_PORT");

        if (!h || !*h || !p || !*p) {
                fprintf(stderr, "it_sink_chroma_offsets: skipped: "
                                "VCDC_CHROMA_HOST and VCDC_CHROMA_PORT are "
                                "unset\n");
                return 0;
        }
        return cmocka_run_group_tests(tests, setup, teardown);
}
