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

#include "it_chroma.h"
#include "it_sink.h"
#include "sink.h"
#include "sink_chroma_int.h"

#define TOPIC "vcdc.it.offsets"

static vcdc_sink_t *must_open(const char *coll) {
        return itc_must_open(coll, VCDC_METRIC_L2);
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

/* What the companion records hold, for partition: the collection id they
 * are stamped with (NULL: none). */
static char *stamp_of(const char *coll, int32_t partition) {
        char path[256], companion[200], id[128], body[256], *stamp = NULL;
        json_t *resp = NULL;
        long code;

        snprintf(companion, sizeof(companion), "%s%s", coll,
                 VCDC_CHROMA_OFFSETS_SUFFIX);
        itc_coll_id(companion, id, sizeof(id));
        assert_true(id[0]);
        snprintf(path, sizeof(path), "/%s/get", id);
        snprintf(body, sizeof(body),
                 "{\"ids\":[\"%s/%d\"],\"include\":[\"metadatas\"]}", TOPIC,
                 (int)partition);
        assert_int_equal(itc_raw("POST", path, body, &resp, &code),
                         VCDC_SINK_OK);
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

/* Fails unless partition's companion record is stamped with id (same
 * 1) or with another (same 0). */
static void assert_stamp(const char *coll, int32_t partition, const char *id,
                         int same) {
        char *stamp = stamp_of(coll, partition);

        assert_non_null(stamp);
        if (same)
                assert_string_equal(stamp, id);
        else
                assert_string_not_equal(stamp, id);
        free(stamp);
}

/*
 * Recorded offsets carry the collection's id; once it is deleted, and
 * once it is re-created, none read back; new ones belong to the new one.
 */
static void test_stamped(void **state) {
        char coll[128], id[128], path[256];
        vcdc_sink_t *sink, *again;
        size_t cnt;
        long code;

        (void)state;
        itc_coll(coll, sizeof(coll), "stamped");
        sink = must_open(coll);
        upsert_one(sink, "a");
        record(sink, 0, 10);
        record(sink, 1, 4);
        assert_int_equal(its_offset(sink, TOPIC, 0, &cnt), 10);
        assert_int_equal(cnt, 2);

        snprintf(path, sizeof(path), "/%s", coll);
        assert_int_equal(itc_raw("DELETE", path, NULL, NULL, &code),
                         VCDC_SINK_OK);
        assert_int_equal(its_offset(sink, TOPIC, 0, &cnt), -1);
        assert_int_equal(cnt, 0);

        /* Re-created by someone else: a new id, still none of ours. */
        snprintf(path, sizeof(path),
                 "{\"name\":\"%s\",\"configuration\":{\"hnsw\":{\"space\":"
                 "\"l2\"}}}",
                 coll);
        assert_int_equal(itc_raw("POST", "", path, NULL, &code), VCDC_SINK_OK);
        again = must_open(coll);
        assert_int_equal(its_offset(again, TOPIC, 0, &cnt), -1);
        assert_int_equal(cnt, 0);
        upsert_one(again, "b");
        record(again, 0, 3);
        assert_int_equal(its_offset(again, TOPIC, 0, &cnt), 3);
        assert_int_equal(cnt, 1);
        /* Stamped with the new collection's id; partition 1's record is
         * still the old collection's. */
        itc_coll_id(coll, id, sizeof(id));
        assert_stamp(coll, 0, id, 1);
        assert_stamp(coll, 1, id, 0);
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
        char coll[128], id[128];
        vcdc_sink_t *sink;
        size_t cnt;

        (void)state;
        itc_coll(coll, sizeof(coll), "none");
        sink = must_open(coll);
        record(sink, 0, 5);
        record(sink, 1, 9);
        itc_coll_id(coll, id, sizeof(id));
        assert_string_equal(id, ""); /* not created */
        assert_int_equal(its_offset(sink, TOPIC, 0, &cnt), 5);
        vcdc_sink_destroy(sink);

        sink = must_open(coll);
        assert_int_equal(its_offset(sink, TOPIC, 0, &cnt), 5);
        upsert_one(sink, "a");
        assert_int_equal(its_offset(sink, TOPIC, 0, &cnt), -1);
        assert_int_equal(cnt, 0);
        record(sink, 0, 6);
        assert_int_equal(its_offset(sink, TOPIC, 0, &cnt), 6);
        assert_int_equal(cnt, 1);
        itc_coll_id(coll, id, sizeof(id));
        assert_stamp(coll, 0, id, 1);
        assert_stamp(coll, 1, "", 1);
        vcdc_sink_destroy(sink);
}

/* vcdc_sink_target(): the collection named in the URL. */
static void test_target(void **state) {
        char coll[128];
        vcdc_sink_t *sink;

        (void)state;
        itc_coll(coll, sizeof(coll), "target");
        sink = must_open(coll);
        assert_string_equal(vcdc_sink_target(sink), coll);
        vcdc_sink_destroy(sink);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_stamped),
                cmocka_unit_test(test_without_collection),
                cmocka_unit_test(test_target),
        };

        if (itc_start("it_sink_chroma_offsets", "ito") == -1)
                return 0;
        return cmocka_run_group_tests(tests, NULL, itc_teardown);
}
