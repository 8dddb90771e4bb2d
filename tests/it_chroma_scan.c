/*
 * vcdc - Chroma's scan against a real Chroma, where records move: its
 * insertion order keeps an upserted record in place, puts a new one at
 * the end and closes the gap a delete leaves. A record the scan last
 * returned (an anchor of its cursor) that was deleted and written again
 * since is back at the end, after records the scan has not read yet:
 * placed after it, the next page would skip them. vcdc snapshot knows the
 * deletes from the log and tells the scan (vcdc_sink_shift_t, sink.h).
 *
 * Needs VCDC_CHROMA_HOST and VCDC_CHROMA_PORT (tests/run-integration.sh).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "it_chroma.h"
#include "it_sink.h"
#include "sink.h"

#define DIM 4
#define TOPIC "vcdc.it.scan"

/* Upserts ids (in this order, one request each: insertion order) or
 * deletes them. */
static void change(vcdc_sink_t *sink, const char *const *ids, size_t cnt,
                   int del) {
        vcdc_sink_batch_t batch = {.topic = TOPIC};
        const vcdc_record_t *up[1];
        vcdc_record_t rec;
        float v[DIM] = {1, 2, 3, 4};
        char errstr[1024];
        size_t i;

        for (i = 0; i < cnt; i++) {
                vcdc_record_init(&rec);
                rec.op = VCDC_OP_UPSERT;
                rec.id = (char *)ids[i];
                rec.dim = DIM;
                rec.vector = v;
                up[0] = &rec;
                batch.upserts = del ? NULL : up;
                batch.upsert_cnt = del ? 0 : 1;
                batch.delete_ids = del ? &ids[i] : NULL;
                batch.delete_cnt = del ? 1 : 0;
                its_want(vcdc_sink_apply(sink, &batch, errstr, sizeof(errstr)),
                         VCDC_SINK_OK, del ? "delete" : "upsert", errstr);
        }
}

/* The ids of the scan's pages of 2 from cursor (not changed) to its end,
 * space-separated; with sh (may be NULL) for the first page. */
static void scan_from(vcdc_sink_t *sink, const char *cursor,
                      vcdc_sink_shift_t *sh, char *ids, size_t size) {
        char *cur = cursor ? strdup(cursor) : NULL, errstr[1024];
        vcdc_record_t got[2];
        size_t cnt, i, len = 0;
        int first = 1;

        ids[0] = '\0';
        do {
                for (i = 0; i < 2; i++)
                        vcdc_record_init(&got[i]);
                its_want(vcdc_sink_scan_shifted(sink, &cur, 2, 0,
                                                first ? sh : NULL, got, &cnt,
                                                errstr, sizeof(errstr)),
                         VCDC_SINK_OK, "scan", errstr);
                for (i = 0; i < cnt; i++) {
                        len += (size_t)snprintf(ids + len, size - len, "%s%s",
                                                len ? " " : "", got[i].id);
                        vcdc_record_clear(&got[i]);
                }
                first = 0;
        } while (cur && len < size - 8);
        free(cur);
}

static int in_set(const char *id, void *opaque) {
        const char *const *set = opaque;

        for (; *set; set++)
                if (!strcmp(*set, id))
                        return 1;
        return 0;
}

static void test_anchor_written_again(void **state) {
        static const char *const all[] = {"r0", "r1", "r2", "r3", "r4",
                                          "r5", "r6", "r7", "r8", "r9"};
        /* What the log says was deleted since the second page. */
        static const char *const gone[] = {"r1", "r2", "r3", "r5",
                                           "r6", "r7", "r8", NULL};
        static const char *const gone_r0[] = {"r0", "r1", "r2", "r3", "r5",
                                              "r6", "r7", "r8", NULL};
        vcdc_sink_shift_t sh = {0};
        char coll[128], ids[256], errstr[1024], *cursor = NULL;
        vcdc_record_t got[2];
        vcdc_sink_t *sink;
        size_t cnt, i, page;

        (void)state;
        sink = itc_must_open(itc_coll(coll, sizeof(coll), "moved"),
                             VCDC_METRIC_L2);
        change(sink, all, 10, 0);
        scan_from(sink, NULL, NULL, ids, sizeof(ids));
        assert_string_equal(ids, "r0 r1 r2 r3 r4 r5 r6 r7 r8 r9");
        /* Two pages read: r0 to r3, the cursor at 4. */
        for (page = 0; page < 2; page++) {
                for (i = 0; i < 2; i++)
                        vcdc_record_init(&got[i]);
                its_want(vcdc_sink_scan(sink, &cursor, 2, 0, got, &cnt, errstr,
                                        sizeof(errstr)),
                         VCDC_SINK_OK, "scan", errstr);
                assert_int_equal(cnt, 2);
                for (i = 0; i < 2; i++)
                        vcdc_record_clear(&got[i]);
        }
        assert_non_null(cursor);
        /* r3 deleted and written again lands at 3, before the cursor:
         * r0 r4 r9 r3. */
        change(sink, gone, 7, 1);
        change(sink, (const char *const[]){"r3"}, 1, 0);
        scan_from(sink, NULL, NULL, ids, sizeof(ids));
        assert_string_equal(ids, "r0 r4 r9 r3");

        /* Without the deletes known, the page goes after r3: r4 and r9,
         * present throughout, are missed (vcdc_sink_scan()'s caveat). */
        scan_from(sink, cursor, NULL, ids, sizeof(ids));
        assert_string_equal(ids, "");

        /* Told that r1 to r3 were deleted since, it goes after r0. */
        sh.deletes = 7;
        sh.deleted = in_set;
        sh.opaque = (void *)gone;
        scan_from(sink, cursor, &sh, ids, sizeof(ids));
        assert_string_equal(ids, "r4 r9 r3");
        assert_false(sh.lost);
        assert_non_null(sh.anchor);
        assert_string_equal(sh.anchor, "r0");

        /* With r0 gone too, no anchor is left: back by the 8 deletes. */
        change(sink, (const char *const[]){"r0"}, 1, 1);
        sh.deletes = 8;
        sh.opaque = (void *)gone_r0;
        scan_from(sink, cursor, &sh, ids, sizeof(ids));
        assert_string_equal(ids, "r4 r9 r3");
        assert_true(sh.lost);
        assert_null(sh.anchor);

        free(cursor);
        vcdc_sink_destroy(sink);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_anchor_written_again),
        };

        if (itc_start("it_chroma_scan", "scan") == -1)
                return 0;
        return cmocka_run_group_tests(tests, NULL, itc_teardown);
}
