/*
 * vcdc - unit tests: the gateway's pending records (gateway/gwpending.c):
 * the record an id was last written as, or its delete, until the side
 * synced against applied its offset; a side not trusted until it covers
 * every entry that left unapplied (the bound reached, or a route switch);
 * the bound on memory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gwpending.h"

#define MB ((size_t)1 << 20)

static void rec_make(vcdc_record_t *r, const char *coll, const char *id,
                     const char *meta, const char *doc) {
        vcdc_record_init(r);
        r->collection = strdup(coll);
        r->id = strdup(id);
        r->op = VCDC_OP_UPSERT;
        r->dim = 3;
        r->vector = calloc(3, sizeof(float));
        r->vector[0] = 1.5f;
        r->metadata = meta ? strdup(meta) : NULL;
        r->document = doc ? strdup(doc) : NULL;
}

/* Puts coll/id as an upsert (meta) or, meta NULL and del, a delete. */
static int put(vcdc_gw_pending_t *pd, const char *coll, const char *id,
               const char *meta, int del, int32_t p, int64_t o) {
        vcdc_record_t r;
        int rc;

        rec_make(&r, coll, id, meta, "doc");
        if (del)
                r.op = VCDC_OP_DELETE;
        rc = vcdc_gw_pending_put(pd, &r, p, o);
        vcdc_record_clear(&r);
        return rc;
}

static int get(vcdc_gw_pending_t *pd, const char *coll, const char *id,
               char *meta, size_t meta_size) {
        vcdc_record_t r;
        int rc;

        vcdc_record_init(&r);
        rc = vcdc_gw_pending_get(pd, coll, id, &r);
        if (meta)
                snprintf(meta, meta_size, "%s", r.metadata ? r.metadata : "-");
        if (rc == VCDC_GW_PENDING_RECORD) {
                assert_null(r.collection);
                assert_string_equal(r.id, id);
                assert_int_equal(r.dim, 3);
                assert_true(r.vector[0] == 1.5f);
                assert_string_equal(r.document, "doc");
        }
        vcdc_record_clear(&r);
        return rc;
}

static size_t entries(vcdc_gw_pending_t *pd) {
        size_t n, bytes;

        vcdc_gw_pending_size(pd, &n, &bytes);
        assert_true(n == 0 ? bytes == 0 : bytes > 0);
        return n;
}

static void test_put_get_replace(void **state) {
        char errstr[128], meta[64];
        vcdc_gw_pending_t *pd = vcdc_gw_pending_new(MB, errstr, sizeof(errstr));

        (void)state;
        assert_non_null(pd);
        assert_int_equal(get(pd, "c", "x", NULL, 0), VCDC_GW_PENDING_NONE);
        assert_int_equal(put(pd, "c", "x", "{\"a\":1}", 0, 0, 10), 0);
        assert_int_equal(get(pd, "c", "x", meta, sizeof(meta)),
                         VCDC_GW_PENDING_RECORD);
        assert_string_equal(meta, "{\"a\":1}");
        /* The same id in another collection is another entry. */
        assert_int_equal(get(pd, "d", "x", NULL, 0), VCDC_GW_PENDING_NONE);
        assert_int_equal(get(pd, "c", "y", NULL, 0), VCDC_GW_PENDING_NONE);
        /* A later write replaces it: an update, then a delete. */
        assert_int_equal(put(pd, "c", "x", "{\"a\":2}", 0, 0, 11), 0);
        assert_int_equal(get(pd, "c", "x", meta, sizeof(meta)),
                         VCDC_GW_PENDING_RECORD);
        assert_string_equal(meta, "{\"a\":2}");
        assert_int_equal(entries(pd), 1);
        assert_int_equal(put(pd, "c", "x", NULL, 1, 0, 12), 0);
        assert_int_equal(get(pd, "c", "x", NULL, 0), VCDC_GW_PENDING_DELETED);
        assert_int_equal(entries(pd), 1);
        assert_int_equal(put(pd, "d", "x", "{}", 0, 1, 3), 0);
        assert_int_equal(entries(pd), 2);
        vcdc_gw_pending_destroy(pd);
        vcdc_gw_pending_destroy(NULL);
}

static void test_sync_drops_what_the_side_applied(void **state) {
        char errstr[128];
        vcdc_gw_pending_t *pd = vcdc_gw_pending_new(MB, errstr, sizeof(errstr));
        vcdc_sink_offset_t offs[2] = {{0, 4}, {1, 100}};

        (void)state;
        /* Nothing written: nothing to sync, any side trusted. */
        assert_int_equal(vcdc_gw_pending_sync_due(pd, "c", 0, 0, 50), 0);
        assert_int_equal(vcdc_gw_pending_sync(pd, "c", 0, NULL, 0, 0), 1);
        assert_int_equal(put(pd, "c", "a", "{}", 0, 0, 5), 0);
        assert_int_equal(put(pd, "c", "b", "{}", 0, 1, 100), 0);
        assert_int_equal(put(pd, "c", "e", NULL, 1, 2, 7), 0);
        assert_int_equal(vcdc_gw_pending_sync_due(pd, "c", 0, 1000, 50),
                         VCDC_GW_PENDING_DUE_PRUNE);
        /* Partition 0 at 4 (a is at 5), 1 at 100 (b), 2 not applied. */
        assert_int_equal(vcdc_gw_pending_sync(pd, "c", 0, offs, 2, 1000), 1);
        assert_int_equal(get(pd, "c", "a", NULL, 0), VCDC_GW_PENDING_RECORD);
        assert_int_equal(get(pd, "c", "b", NULL, 0), VCDC_GW_PENDING_NONE);
        assert_int_equal(get(pd, "c", "e", NULL, 0), VCDC_GW_PENDING_DELETED);
        assert_int_equal(entries(pd), 2);
        /* Synced just now: not due again within the interval. */
        assert_int_equal(vcdc_gw_pending_sync_due(pd, "c", 0, 1020, 50), 0);
        assert_int_equal(vcdc_gw_pending_sync_due(pd, "c", 0, 1050, 50),
                         VCDC_GW_PENDING_DUE_PRUNE);
        offs[0].offset = 5;
        offs[1].partition = 2;
        offs[1].offset = 9;
        assert_int_equal(vcdc_gw_pending_sync(pd, "c", 0, offs, 2, 1050), 1);
        assert_int_equal(entries(pd), 0);
        assert_int_equal(vcdc_gw_pending_sync_due(pd, "c", 0, 5000, 50), 0);
        vcdc_gw_pending_destroy(pd);
}

static void test_route_switch(void **state) {
        char errstr[128];
        vcdc_gw_pending_t *pd = vcdc_gw_pending_new(MB, errstr, sizeof(errstr));
        vcdc_sink_offset_t old_side[1] = {{0, 20}};
        vcdc_sink_offset_t new_side[2] = {{0, 15}, {1, 3}};

        (void)state;
        assert_int_equal(put(pd, "c", "a", "{}", 0, 0, 10), 0);
        assert_int_equal(put(pd, "c", "b", "{}", 0, 0, 30), 0);
        assert_int_equal(put(pd, "c", "z", "{}", 0, 1, 2), 0);
        /* OLD (0) serves and applied a (10) but not b (30) nor z. */
        assert_int_equal(vcdc_gw_pending_sync(pd, "c", 0, old_side, 1, 100), 1);
        assert_int_equal(entries(pd), 2);
        /* The route switches to NEW (1), which is behind at 15 > 10:
         * trusted, and it drops z (1:2 <= 3) but not b. */
        assert_int_equal(vcdc_gw_pending_sync_due(pd, "c", 1, 110, 50),
                         VCDC_GW_PENDING_DUE_TRUST);
        assert_int_equal(vcdc_gw_pending_sync(pd, "c", 1, new_side, 2, 110), 1);
        assert_int_equal(get(pd, "c", "z", NULL, 0), VCDC_GW_PENDING_NONE);
        assert_int_equal(get(pd, "c", "b", NULL, 0), VCDC_GW_PENDING_RECORD);
        /* Back to OLD: it has not applied z (partition 1), which left
         * applied only on NEW; a read of OLD could miss z. */
        assert_int_equal(vcdc_gw_pending_sync_due(pd, "c", 0, 120, 50),
                         VCDC_GW_PENDING_DUE_TRUST);
        assert_int_equal(vcdc_gw_pending_sync(pd, "c", 0, old_side, 1, 120), 0);
        assert_int_equal(get(pd, "c", "b", NULL, 0), VCDC_GW_PENDING_RECORD);
        assert_int_equal(vcdc_gw_pending_sync_due(pd, "c", 0, 121, 50),
                         VCDC_GW_PENDING_DUE_TRUST);
        /* Once OLD applied it too, OLD is trusted again. */
        {
                vcdc_sink_offset_t caught_up[2] = {{1, 2}, {0, 29}};

                assert_int_equal(
                        vcdc_gw_pending_sync(pd, "c", 0, caught_up, 2, 130), 1);
        }
        assert_int_equal(get(pd, "c", "b", NULL, 0), VCDC_GW_PENDING_RECORD);
        assert_int_equal(vcdc_gw_pending_sync_due(pd, "c", 0, 131, 50), 0);
        /* Another collection was never concerned. */
        assert_int_equal(vcdc_gw_pending_sync_due(pd, "d", 1, 131, 50), 0);
        vcdc_gw_pending_destroy(pd);
}

static void test_bound(void **state) {
        char errstr[128];
        /* Room for about two small records. */
        vcdc_gw_pending_t *pd = vcdc_gw_pending_new(
                2 * (sizeof(void *) * 16 + 64), errstr, sizeof(errstr));
        vcdc_sink_offset_t offs[1] = {{0, 2}};
        size_t bytes;
        int i, kept = 0;

        (void)state;
        for (i = 0; i < 4; i++) {
                char id[16];

                snprintf(id, sizeof(id), "i%d", i);
                if (put(pd, "c", id, "{}", 0, 0, i) == 0)
                        kept++;
        }
        assert_true(kept >= 1 && kept < 4);
        assert_int_equal(entries(pd), (size_t)kept);
        vcdc_gw_pending_size(pd, NULL, &bytes);
        assert_true(bytes <= 2 * (sizeof(void *) * 16 + 64));
        /* i3 (offset 3) left unapplied: no side is trusted until one
         * applied offset 3. */
        assert_int_equal(vcdc_gw_pending_sync_due(pd, "c", 0, 0, 50),
                         VCDC_GW_PENDING_DUE_TRUST);
        assert_int_equal(vcdc_gw_pending_sync(pd, "c", 0, offs, 1, 0), 0);
        assert_int_equal(entries(pd), (size_t)kept);
        offs[0].offset = 3;
        assert_int_equal(vcdc_gw_pending_sync(pd, "c", 0, offs, 1, 0), 1);
        assert_int_equal(entries(pd), 0);
        /* A replaced entry that no longer fits leaves: no stale base. */
        assert_int_equal(put(pd, "c", "x", "{}", 0, 0, 10), 0);
        {
                char big[4096];

                memset(big, 'a', sizeof(big) - 1);
                big[0] = '"';
                big[sizeof(big) - 2] = '"';
                big[sizeof(big) - 1] = '\0';
                assert_int_equal(put(pd, "c", "x", big, 0, 0, 11), -1);
        }
        assert_int_equal(get(pd, "c", "x", NULL, 0), VCDC_GW_PENDING_NONE);
        assert_int_equal(vcdc_gw_pending_sync_due(pd, "c", 0, 0, 50),
                         VCDC_GW_PENDING_DUE_TRUST);
        vcdc_gw_pending_destroy(pd);

        /* 0: nothing is kept, every put says so. */
        pd = vcdc_gw_pending_new(0, errstr, sizeof(errstr));
        assert_int_equal(put(pd, "c", "x", NULL, 1, 0, 1), -1);
        assert_int_equal(entries(pd), 0);
        assert_int_equal(get(pd, "c", "x", NULL, 0), VCDC_GW_PENDING_NONE);
        vcdc_gw_pending_destroy(pd);
}

/* --ack applied: an entry leaves as soon as the side trusted applied it;
 * one replaced by a later write, or on a side not trusted, stays. */
static void test_applied(void **state) {
        char errstr[128];
        vcdc_gw_pending_t *pd = vcdc_gw_pending_new(MB, errstr, sizeof(errstr));

        (void)state;
        assert_int_equal(put(pd, "c", "a", "{}", 0, 0, 5), 0);
        assert_int_equal(put(pd, "c", "b", "{}", 0, 1, 6), 0);
        /* Trusted on no side yet (never synced): stays. */
        assert_int_equal(vcdc_gw_pending_applied(pd, "c", "a", 0, 0, 5), 0);
        assert_int_equal(vcdc_gw_pending_sync(pd, "c", 0, NULL, 0, 0), 1);
        /* Another side, another offset, another id: stays. */
        assert_int_equal(vcdc_gw_pending_applied(pd, "c", "a", 1, 0, 5), 0);
        assert_int_equal(vcdc_gw_pending_applied(pd, "c", "a", 0, 0, 4), 0);
        assert_int_equal(vcdc_gw_pending_applied(pd, "c", "z", 0, 0, 5), 0);
        assert_int_equal(vcdc_gw_pending_applied(pd, "d", "a", 0, 0, 5), 0);
        assert_int_equal(entries(pd), 2);
        assert_int_equal(vcdc_gw_pending_applied(pd, "c", "a", 0, 0, 5), 1);
        assert_int_equal(get(pd, "c", "a", NULL, 0), VCDC_GW_PENDING_NONE);
        assert_int_equal(entries(pd), 1);
        /* What left must be covered by a side switched to. */
        assert_int_equal(vcdc_gw_pending_sync_due(pd, "c", 1, 0, 50),
                         VCDC_GW_PENDING_DUE_TRUST);
        {
                vcdc_sink_offset_t behind[1] = {{0, 4}};

                assert_int_equal(vcdc_gw_pending_sync(pd, "c", 1, behind, 1, 0),
                                 0);
        }
        vcdc_gw_pending_destroy(pd);
}

typedef struct seen_s {
        int records, deletes, stop_after;
} seen_t;

static int each_cb(void *opaque, const vcdc_record_t *rec, int deleted) {
        seen_t *s = opaque;

        assert_non_null(rec->id);
        if (deleted) {
                s->deletes++;
                assert_null(rec->metadata);
        } else {
                s->records++;
                assert_non_null(rec->metadata);
        }
        return s->stop_after && s->records + s->deletes >= s->stop_after ? -1
                                                                         : 0;
}

static void test_each(void **state) {
        char errstr[128];
        vcdc_gw_pending_t *pd = vcdc_gw_pending_new(MB, errstr, sizeof(errstr));
        seen_t s = {0, 0, 0};

        (void)state;
        put(pd, "c", "a", "{\"k\":1}", 0, 0, 1);
        put(pd, "c", "b", NULL, 1, 0, 2);
        put(pd, "c", "d", "{\"k\":2}", 0, 1, 1);
        put(pd, "other", "a", "{}", 0, 0, 3);
        assert_int_equal(vcdc_gw_pending_each(pd, "c", each_cb, &s), 0);
        assert_int_equal(s.records, 2);
        assert_int_equal(s.deletes, 1);
        memset(&s, 0, sizeof(s));
        s.stop_after = 2;
        assert_int_equal(vcdc_gw_pending_each(pd, "c", each_cb, &s), -1);
        assert_int_equal(s.records + s.deletes, 2);
        memset(&s, 0, sizeof(s));
        assert_int_equal(vcdc_gw_pending_each(pd, "none", each_cb, &s), 0);
        assert_int_equal(s.records + s.deletes, 0);
        vcdc_gw_pending_destroy(pd);
}

/* Many ids over several partitions (the table grows): each found, then
 * pruned partition by partition. */
static void test_many(void **state) {
        char errstr[128], id[16];
        vcdc_gw_pending_t *pd =
                vcdc_gw_pending_new(64 * MB, errstr, sizeof(errstr));
        vcdc_sink_offset_t offs[3] = {{0, -1}, {1, -1}, {2, -1}};
        int i, n = getenv("VCDC_TEST_SMALL") ? 3000 : 20000;

        (void)state;
        for (i = 0; i < n; i++) {
                snprintf(id, sizeof(id), "id%d", i);
                assert_int_equal(put(pd, "c", id, "{}", 0, i % 3, i), 0);
        }
        for (i = 0; i < n; i += 7) {
                snprintf(id, sizeof(id), "id%d", i);
                assert_int_equal(get(pd, "c", id, NULL, 0),
                                 VCDC_GW_PENDING_RECORD);
        }
        assert_int_equal(entries(pd), (size_t)n);
        offs[1].offset = n; /* partition 1 all applied */
        assert_int_equal(vcdc_gw_pending_sync(pd, "c", 0, offs, 3, 0), 1);
        assert_int_equal(entries(pd), (size_t)(n - n / 3 - (n % 3 > 1)));
        snprintf(id, sizeof(id), "id%d", 1);
        assert_int_equal(get(pd, "c", id, NULL, 0), VCDC_GW_PENDING_NONE);
        snprintf(id, sizeof(id), "id%d", 2);
        assert_int_equal(get(pd, "c", id, NULL, 0), VCDC_GW_PENDING_RECORD);
        offs[0].offset = n;
        offs[2].offset = n;
        assert_int_equal(vcdc_gw_pending_sync(pd, "c", 0, offs, 3, 0), 1);
        assert_int_equal(entries(pd), 0);
        vcdc_gw_pending_destroy(pd);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_put_get_replace),
                cmocka_unit_test(test_sync_drops_what_the_side_applied),
                cmocka_unit_test(test_route_switch),
                cmocka_unit_test(test_bound),
                cmocka_unit_test(test_applied),
                cmocka_unit_test(test_each),
                cmocka_unit_test(test_many),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
