/*
 * vcdc - unit tests: consumer batches (coalescing, offsets) and the retry
 * schedule.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"

static void add(vcdc_batch_t *b, const char *id, vcdc_op_t op, float v,
                int32_t partition, int64_t offset) {
        vcdc_record_t rec;

        vcdc_record_init(&rec);
        rec.collection = strdup("c");
        rec.id = strdup(id);
        rec.op = op;
        if (op == VCDC_OP_UPSERT) {
                rec.dim = 1;
                rec.vector = malloc(sizeof(float));
                rec.vector[0] = v;
        }
        assert_int_equal(vcdc_batch_add(b, &rec, partition, offset, 10), 0);
        /* The batch took the contents. */
        assert_null(rec.id);
        vcdc_record_clear(&rec);
}

static const vcdc_sink_offset_t *find_offset(const vcdc_sink_batch_t *v,
                                             int32_t partition) {
        size_t i;

        for (i = 0; i < v->offset_cnt; i++)
                if (v->offsets[i].partition == partition)
                        return &v->offsets[i];
        return NULL;
}

/* Table-driven: a sequence of changes and the expected view. */
static void test_coalesce(void **state) {
        vcdc_batch_t *b = vcdc_batch_new();
        vcdc_sink_batch_t v;
        size_t i;

        (void)state;
        add(b, "a", VCDC_OP_UPSERT, 1, 0, 10);
        add(b, "b", VCDC_OP_UPSERT, 2, 1, 5);
        add(b, "a", VCDC_OP_UPSERT, 3, 0, 11); /* a: last upsert wins */
        add(b, "b", VCDC_OP_DELETE, 0, 1, 6);  /* b: deleted at the end */
        add(b, "c", VCDC_OP_DELETE, 0, 2, 1);
        add(b, "c", VCDC_OP_UPSERT, 4, 2, 2);  /* c: re-created */
        vcdc_batch_note(b, 3, 100, 7);         /* dead-lettered elsewhere */
        assert_int_equal(vcdc_batch_msg_cnt(b), 7);
        assert_int_equal(vcdc_batch_bytes(b), 67);
        assert_int_equal(vcdc_batch_change_cnt(b), 3);
        assert_int_equal(vcdc_batch_view(b, "t", &v), 0);
        assert_string_equal(v.topic, "t");
        assert_int_equal(v.upsert_cnt, 2);
        assert_int_equal(v.delete_cnt, 1);
        assert_string_equal(v.delete_ids[0], "b");
        for (i = 0; i < v.upsert_cnt; i++) {
                if (!strcmp(v.upserts[i]->id, "a"))
                        assert_true(v.upserts[i]->vector[0] == 3);
                else if (!strcmp(v.upserts[i]->id, "c"))
                        assert_true(v.upserts[i]->vector[0] == 4);
                else
                        fail_msg("unexpected upsert %s", v.upserts[i]->id);
        }
        assert_int_equal(v.offset_cnt, 4);
        assert_int_equal(find_offset(&v, 0)->offset, 11);
        assert_int_equal(find_offset(&v, 1)->offset, 6);
        assert_int_equal(find_offset(&v, 2)->offset, 2);
        assert_int_equal(find_offset(&v, 3)->offset, 100);
        {
                size_t cnt;
                /* The same offsets, without building a view. */
                assert_ptr_equal(vcdc_batch_offsets(b, &cnt), v.offsets);
                assert_int_equal(cnt, v.offset_cnt);
        }

        vcdc_batch_reset(b);
        assert_int_equal(vcdc_batch_msg_cnt(b), 0);
        assert_int_equal(vcdc_batch_view(b, "t", &v), 0);
        assert_int_equal(v.upsert_cnt + v.delete_cnt + v.offset_cnt, 0);
        vcdc_batch_destroy(b);
}

/* Many ids: the table grows, every id stays findable, and a second round
 * of changes to the same ids replaces rather than adds. */
static void test_many(void **state) {
        vcdc_batch_t *b = vcdc_batch_new();
        vcdc_sink_batch_t v;
        char id[32];
        int i, round;

        (void)state;
        for (round = 0; round < 2; round++)
                for (i = 0; i < 5000; i++) {
                        snprintf(id, sizeof(id), "id-%d", i);
                        add(b, id, VCDC_OP_UPSERT, (float)(round * 10000 + i),
                            i % 4, round * 5000 + i);
                }
        assert_int_equal(vcdc_batch_change_cnt(b), 5000);
        assert_int_equal(vcdc_batch_msg_cnt(b), 10000);
        assert_int_equal(vcdc_batch_view(b, "t", &v), 0);
        assert_int_equal(v.upsert_cnt, 5000);
        for (i = 0; i < 5000; i++)
                assert_true(v.upserts[i]->vector[0] >= 10000);
        assert_int_equal(find_offset(&v, 3)->offset, 9999);
        vcdc_batch_destroy(b);
}

static void test_drop(void **state) {
        vcdc_batch_t *b = vcdc_batch_new();
        vcdc_sink_batch_t v;
        int32_t p;
        int64_t o;

        (void)state;
        add(b, "x", VCDC_OP_UPSERT, 1, 0, 1);
        add(b, "bad", VCDC_OP_UPSERT, 2, 0, 2);
        add(b, "y", VCDC_OP_UPSERT, 3, 0, 3);
        assert_string_equal(vcdc_batch_change(b, 1, &p, &o)->id, "bad");
        assert_int_equal(o, 2);
        vcdc_batch_drop(b, 1);
        assert_int_equal(vcdc_batch_change_cnt(b), 2);
        /* The dropped change's offset still counts. */
        assert_int_equal(vcdc_batch_view(b, "t", &v), 0);
        assert_int_equal(find_offset(&v, 0)->offset, 3);
        /* The remaining ids are still coalesced correctly. */
        add(b, "y", VCDC_OP_DELETE, 0, 0, 4);
        assert_int_equal(vcdc_batch_change_cnt(b), 2);
        assert_int_equal(vcdc_batch_view(b, "t", &v), 0);
        assert_int_equal(v.delete_cnt, 1);
        assert_string_equal(v.delete_ids[0], "y");
        vcdc_batch_destroy(b);
}

static void test_backoff(void **state) {
        static const struct {
                int attempt;
                int64_t lo, hi;
        } cases[] = {
                {0, 50, 100},     {1, 100, 200},     {2, 200, 400},
                {5, 1600, 3200},  {7, 5000, 10000},  {30, 5000, 10000},
        };
        size_t i;
        uint32_t r;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                int64_t min = INT64_MAX, max = 0;
                for (r = 0; r < 100000; r += 7) {
                        int64_t ms = vcdc_backoff_ms(cases[i].attempt, 100,
                                                     10000, r * 2654435761u);
                        if (ms < min)
                                min = ms;
                        if (ms > max)
                                max = ms;
                }
                /* Within the window, and spread over it (jitter). */
                assert_true(min >= cases[i].lo);
                assert_true(max <= cases[i].hi);
                assert_true(max - min > (cases[i].hi - cases[i].lo) / 2);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_coalesce),
                cmocka_unit_test(test_many),
                cmocka_unit_test(test_drop),
                cmocka_unit_test(test_backoff),
        };
        return cmocka_run_group_tests_name("batch", tests, NULL, NULL);
}
