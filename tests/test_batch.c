/*
 * vcdc - unit tests: consumer batches (grouping by collection and id, each
 * key's changes in order, stepping back past refused ones, offsets).
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

static int freed; /* messages the batch freed */

static void msg_free(void *msg) {
        free(msg);
        freed++;
}

static void add_in(vcdc_batch_t *b, const char *coll, const char *id,
                   vcdc_op_t op, float v, int32_t partition, int64_t offset) {
        vcdc_record_t rec;
        int64_t *msg = malloc(sizeof(*msg));

        assert_non_null(msg);
        *msg = offset;
        vcdc_record_init(&rec);
        rec.collection = strdup(coll);
        rec.id = strdup(id);
        rec.op = op;
        if (op == VCDC_OP_UPSERT) {
                rec.dim = 1;
                rec.vector = malloc(sizeof(float));
                rec.vector[0] = v;
        }
        assert_int_equal(
                vcdc_batch_add(b, &rec, partition, offset, 10, msg), 0);
        /* The batch took the contents. */
        assert_null(rec.id);
        vcdc_record_clear(&rec);
}

static void add(vcdc_batch_t *b, const char *id, vcdc_op_t op, float v,
                int32_t partition, int64_t offset) {
        add_in(b, "c", id, op, v, partition, offset);
}

static const vcdc_sink_offset_t *find_offset(const vcdc_batch_t *b,
                                             int32_t partition) {
        size_t i, cnt;
        const vcdc_sink_offset_t *o = vcdc_batch_offsets(b, &cnt);

        for (i = 0; i < cnt; i++)
                if (o[i].partition == partition)
                        return &o[i];
        return NULL;
}

/* The head of the key named id (collection "c"), or NULL. */
static const vcdc_record_t *head_of(const vcdc_batch_t *b, const char *id,
                                    size_t *kp) {
        size_t k;
        const vcdc_record_t *rec;

        for (k = 0; k < vcdc_batch_key_cnt(b); k++) {
                rec = vcdc_batch_head(b, k, NULL, NULL);
                if (rec && !strcmp(rec->id, id)) {
                        if (kp)
                                *kp = k;
                        return rec;
                }
        }
        return NULL;
}

/* Table-driven: a sequence of changes and the expected view. */
static void test_group(void **state) {
        vcdc_batch_t *b = vcdc_batch_new(msg_free);
        vcdc_sink_batch_t v;
        size_t i;

        (void)state;
        freed = 0;
        add(b, "a", VCDC_OP_UPSERT, 1, 0, 10);
        add(b, "b", VCDC_OP_UPSERT, 2, 1, 5);
        add(b, "a", VCDC_OP_UPSERT, 3, 0, 11); /* a: last upsert wins */
        add(b, "b", VCDC_OP_DELETE, 0, 1, 6);  /* b: deleted at the end */
        add(b, "c", VCDC_OP_DELETE, 0, 2, 1);
        add(b, "c", VCDC_OP_UPSERT, 4, 2, 2);  /* c: re-created */
        assert_int_equal(vcdc_batch_note(b, 3, 100, 7), 0); /* a dead letter */
        assert_int_equal(vcdc_batch_msg_cnt(b), 7);
        assert_int_equal(vcdc_batch_bytes(b), 67);
        assert_int_equal(vcdc_batch_key_cnt(b), 3);
        assert_int_equal(vcdc_batch_view(b, 0, vcdc_batch_key_cnt(b), &v), 0);
        assert_int_equal(v.offset_cnt, 0); /* the consumer adds them */
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
        assert_int_equal(find_offset(b, 0)->offset, 11);
        assert_int_equal(find_offset(b, 1)->offset, 6);
        assert_int_equal(find_offset(b, 2)->offset, 2);
        assert_int_equal(find_offset(b, 3)->offset, 100);

        /* Every message is the batch's until the reset. */
        assert_int_equal(freed, 0);
        vcdc_batch_reset(b);
        assert_int_equal(freed, 6);
        assert_int_equal(vcdc_batch_msg_cnt(b), 0);
        assert_int_equal(vcdc_batch_key_cnt(b), 0);
        assert_int_equal(vcdc_batch_view(b, 0, 0, &v), 0);
        assert_int_equal(v.upsert_cnt + v.delete_cnt, 0);
        vcdc_batch_destroy(b);
}

/* One id in two collections is two keys: neither replaces the other. */
static void test_collections(void **state) {
        vcdc_batch_t *b = vcdc_batch_new(msg_free);
        vcdc_sink_batch_t v;

        (void)state;
        add_in(b, "docs", "1", VCDC_OP_UPSERT, 1, 0, 1);
        add_in(b, "img", "1", VCDC_OP_DELETE, 0, 0, 2);
        /* A collection that runs into the id must not alias either. */
        add_in(b, "do", "cs1", VCDC_OP_UPSERT, 2, 0, 3);
        assert_int_equal(vcdc_batch_key_cnt(b), 3);
        assert_int_equal(vcdc_batch_view(b, 0, 3, &v), 0);
        assert_int_equal(v.upsert_cnt, 2);
        assert_int_equal(v.delete_cnt, 1);
        vcdc_batch_destroy(b);
}

/* A refused head steps back to the change before it, down to nothing. */
static void test_step_back(void **state) {
        vcdc_batch_t *b = vcdc_batch_new(msg_free);
        const vcdc_record_t *rec;
        vcdc_sink_batch_t v;
        int64_t offset;
        void *msg;
        size_t k = 0;

        (void)state;
        add(b, "x", VCDC_OP_UPSERT, 1, 0, 1);
        add(b, "y", VCDC_OP_UPSERT, 5, 0, 2);
        add(b, "x", VCDC_OP_DELETE, 0, 0, 3);
        add(b, "x", VCDC_OP_UPSERT, 2, 0, 4);
        rec = head_of(b, "x", &k);
        assert_non_null(rec);
        vcdc_batch_head(b, k, &msg, &offset);
        assert_int_equal(offset, 4);
        assert_int_equal(*(int64_t *)msg, 4); /* its own message */
        assert_true(rec->vector[0] == 2);

        /* UPSERT 2 refused: DELETE stands. */
        assert_int_equal(vcdc_batch_step_back(b, k), 1);
        rec = vcdc_batch_head(b, k, NULL, &offset);
        assert_int_equal(rec->op, VCDC_OP_DELETE);
        assert_int_equal(offset, 3);
        /* DELETE refused too: UPSERT 1 stands. */
        assert_int_equal(vcdc_batch_step_back(b, k), 1);
        rec = vcdc_batch_head(b, k, NULL, NULL);
        assert_true(rec->op == VCDC_OP_UPSERT && rec->vector[0] == 1);
        /* And refused: nothing of x is left to apply. */
        assert_int_equal(vcdc_batch_step_back(b, k), 0);
        assert_null(vcdc_batch_head(b, k, NULL, NULL));
        assert_int_equal(vcdc_batch_step_back(b, k), 0);
        assert_int_equal(vcdc_batch_view(b, 0, vcdc_batch_key_cnt(b), &v), 0);
        assert_int_equal(v.upsert_cnt, 1);
        assert_string_equal(v.upserts[0]->id, "y");
        assert_int_equal(v.delete_cnt, 0);
        /* The refused changes' offsets still count. */
        assert_int_equal(find_offset(b, 0)->offset, 4);
        vcdc_batch_destroy(b);
}

/* Views of key ranges split the batch without losing or doubling keys. */
static void test_ranges(void **state) {
        vcdc_batch_t *b = vcdc_batch_new(NULL);
        vcdc_sink_batch_t v;
        size_t n, lo, total = 0;
        char id[16];
        int i;

        (void)state;
        for (i = 0; i < 10; i++) {
                vcdc_record_t rec;
                snprintf(id, sizeof(id), "k%d", i);
                vcdc_record_init(&rec);
                rec.collection = strdup("c");
                rec.id = strdup(id);
                rec.op = i % 3 ? VCDC_OP_UPSERT : VCDC_OP_DELETE;
                assert_int_equal(vcdc_batch_add(b, &rec, 0, i, 1, NULL), 0);
        }
        n = vcdc_batch_key_cnt(b);
        for (lo = 0; lo < n; lo += 3) {
                assert_int_equal(vcdc_batch_view(b, lo, lo + 3 < n ? lo + 3 : n,
                                                 &v),
                                 0);
                total += v.upsert_cnt + v.delete_cnt;
        }
        assert_int_equal(total, 10);
        vcdc_batch_destroy(b);
}

/* Many ids: the table grows, every id stays findable, and a second round
 * of changes to the same ids adds to their chains, not to the keys. */
static void test_many(void **state) {
        vcdc_batch_t *b = vcdc_batch_new(msg_free);
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
        assert_int_equal(vcdc_batch_key_cnt(b), 5000);
        assert_int_equal(vcdc_batch_msg_cnt(b), 10000);
        assert_int_equal(vcdc_batch_view(b, 0, 5000, &v), 0);
        assert_int_equal(v.upsert_cnt, 5000);
        for (i = 0; i < 5000; i++)
                assert_true(v.upserts[i]->vector[0] >= 10000);
        assert_int_equal(find_offset(b, 3)->offset, 9999);
        /* Stepping back reaches the first round's change. */
        assert_int_equal(vcdc_batch_step_back(b, 7), 1);
        assert_true(vcdc_batch_head(b, 7, NULL, NULL)->vector[0] < 10000);
        vcdc_batch_destroy(b);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_group),
                cmocka_unit_test(test_collections),
                cmocka_unit_test(test_step_back),
                cmocka_unit_test(test_ranges),
                cmocka_unit_test(test_many),
        };
        return cmocka_run_group_tests_name("batch", tests, NULL, NULL);
}
