/*
 * vcdc - issue 14's scenarios 4 and 5, and the snapshot's records, as
 * focused tests of what a consumer applies, each asserting the outcome
 * the specification asks for (tests/test_model.c holds the consumer to
 * the whole of it):
 *
 *   4  a topic with docs/1 and img/1: a consumer without opts.collection,
 *      whose target is docs, stops with an error at img/1 and applies
 *      nothing of img (no coalescing by bare id, no delete of docs/1);
 *      consumers with opts.collection apply their own collection exactly;
 *   5  16-d upserts of 300 ids, then 8-d upserts of the same ids, in one
 *      batch (vcdc.batch.records=5000): the target is created at 16-d by
 *      the first upsert, keeps every 16-d version, and the 300 8-d records
 *      are dead letters; and in one batch, a DELETE then an upsert the
 *      database refuses leaves the id deleted, an upsert then a refused
 *      one keeps the first;
 *  snapshot (issue 18) records with a vcdc.snapshot.group header (an
 *      upsert, a delete and its tombstone, a repair): the group the header
 *      names applies none of them and commits past them, another group
 *      applies them like any record.
 *
 * test_consumer_dlq_outage.c holds scenarios 6 and 11, the dead-letter
 * topic unavailable.
 *
 * Same machinery as the model test (tests/model/), through the scenario
 * kit (tests/scenario/): the mock cluster, the shared-file test database,
 * consumers as processes of their own.
 * VCDC_TEST_FILTER=pattern runs only the matching tests;
 * VCDC_MODEL_REFERENCE=1 runs them against the test's reference consumer
 * (tests/model/refcons.c).
 * A failing scenario's files (database, consumer logs) stay in the
 * directory it prints.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "codec.h"
#include "scenario/scenario.h"

/*
 * Scenario 4: two collections in one topic, the same id in both.
 */
static void test_scenario4_collections(void **state) {
        memdb_state_t *st;
        const memdb_target_t *t;
        const memdb_row_t *row;
        int64_t img_at, end;
        int a, d, i, status;
        uint32_t r;
        scen_t s;

        (void)state;
        scen_start(&s, "s4");
        /* Without opts.collection: the target's name, docs, is the
         * collection it applies. */
        a = scen_consumer(&s, "s4.bare", "docs", NULL, NULL);
        d = scen_consumer(&s, "s4.docs", "tdocs", "docs", NULL);
        i = scen_consumer(&s, "s4.img", "timg", "img", NULL);
        scen_send(&s, "docs", "1", VCDC_OP_UPSERT, 4, 1, NULL, 0);
        scen_send(&s, "docs", "2", VCDC_OP_UPSERT, 4, 2, NULL, 0);
        scen_flush(&s);
        scen_wait_committed(&s, a, s.written); /* docs/1 applied first */
        img_at = scen_send(&s, "img", "1", VCDC_OP_UPSERT, 4, 3, NULL, 0);
        scen_send(&s, "img", "1", VCDC_OP_DELETE, 0, 4, NULL, 0);
        scen_send(&s, "docs", "2", VCDC_OP_UPSERT, 4, 5, NULL, 0);
        scen_flush(&s);
        end = s.written;
        scen_wait_committed(&s, d, end);
        scen_wait_committed(&s, i, end);
        scen_stop_ok(&s, d);
        scen_stop_ok(&s, i);

        /* The bare consumer must stop by itself at img/1. */
        if (!kit_reap(s.c[a].pid, 20000, &status)) {
                hres_add(&s.res,
                         "the consumer without opts.collection (target "
                         "docs) still runs 20 s after img/1 (offset %" PRId64
                         ") was written: a record of another collection "
                         "must stop it (vcdc_consumer_run() returns -1)",
                         img_at);
                status = scen_stop(&s, a);
        } else {
                s.c[a].pid = 0;
                if (!WIFEXITED(status) ||
                    WEXITSTATUS(status) != KIT_EXIT_RUN_FAILED) {
                        char how[128];
                        kit_describe_exit(status, how, sizeof(how));
                        hres_add(&s.res,
                                 "the consumer without opts.collection %s; "
                                 "expected vcdc_consumer_run() to return -1",
                                 how);
                }
        }

        scen_snapshot(&s, &st, NULL);
        if ((t = memdb_target(st, "docs"))) {
                if (!(row = memdb_row(t, "1")))
                        hres_add(&s.res,
                                 "target docs lost docs/1: a change of img/1 "
                                 "(the delete at offset %" PRId64
                                 ") removed it",
                                 img_at + 1);
                else if (row->hash != scen_rec_hash("docs", "1", 4, 1, NULL))
                        hres_add(&s.res,
                                 "target docs: id 1 holds %s's record %s, "
                                 "not docs/1's",
                                 row->collection, row->tag);
                for (r = 0; r < t->row_cnt; r++)
                        if (strcmp(t->rows[r].collection, "docs"))
                                hres_add(&s.res,
                                         "target docs holds %s's record %s "
                                         "(id %s)",
                                         t->rows[r].collection,
                                         t->rows[r].tag, t->rows[r].id);
        } else {
                hres_add(&s.res, "target docs was never written");
        }
        /* With opts.collection, each its own, exactly. */
        t = memdb_target(st, "tdocs");
        if (!t || t->row_cnt != 2 || !(row = memdb_row(t, "1")) ||
            row->hash != scen_rec_hash("docs", "1", 4, 1, NULL) ||
            !(row = memdb_row(t, "2")) ||
            row->hash != scen_rec_hash("docs", "2", 4, 5, NULL))
                hres_add(&s.res,
                         "target tdocs (opts.collection docs) does not hold "
                         "exactly docs/1 (s1) and docs/2 (s5)");
        t = memdb_target(st, "timg");
        if (t && (t->row_cnt || (t->exists && t->dim != 4)))
                hres_add(&s.res,
                         "target timg (opts.collection img) is not left "
                         "empty (and 4-d, if created) by img/1's upsert and "
                         "delete");
        free(st);
        {
                char *has = scen_dlq_origins(&s);
                int64_t k;
                for (k = 0; k < end; k++)
                        if (has[k])
                                hres_add(&s.res,
                                         "a dead letter for offset %" PRId64
                                         ": nothing here can never apply",
                                         k);
                free(has);
        }
        scen_finish(&s, "scenario 4");
}

/*
 * Scenario 5: what is refused must not depend on batch boundaries.
 */
#define S5_IDS 300

static void test_scenario5_dimension(void **state) {
        static const char *const kv[] = {"vcdc.batch.records", "5000",
                                         "vcdc.batch.ms", "2000", NULL};
        int64_t x_del, x_bad, y_bad, end, k;
        size_t wrong8 = 0, wrong_other = 0, dlq_missing = 0, dlq_extra = 0;
        const memdb_target_t *t;
        const memdb_row_t *row;
        memdb_state_t *st;
        char id[16], *has;
        int c, cxy, i;
        scen_t s;

        (void)state;
        scen_start(&s, "s5");
        /* 16-d upserts of every id, then (a second producer run) 8-d ones;
         * and x, applied before what follows. */
        for (i = 0; i < S5_IDS; i++) {
                snprintf(id, sizeof(id), "s%03d", i);
                scen_send(&s, "docs", id, VCDC_OP_UPSERT, 16, i, NULL, 0);
        }
        for (i = 0; i < S5_IDS; i++) {
                snprintf(id, sizeof(id), "s%03d", i);
                scen_send(&s, "docs", id, VCDC_OP_UPSERT, 8, S5_IDS + i, NULL,
                          0);
        }
        scen_send(&s, "xy", "x", VCDC_OP_UPSERT, 4, 1000, NULL, 0);
        scen_flush(&s);
        /* Everything is in the log before the consumers start: one batch
         * each (the other collection's records are skipped). */
        c = scen_consumer(&s, "s5", "t5", "docs", kv);
        cxy = scen_consumer(&s, "s5.xy", "t5xy", "xy", kv);
        scen_wait_committed(&s, cxy, s.written);
        /* Then in one batch: x deleted, then an upsert of x the database
         * refuses; y upserted, then a refused upsert of y. */
        x_del = scen_send(&s, "xy", "x", VCDC_OP_DELETE, 0, 1001, NULL, 0);
        x_bad = scen_send(&s, "xy", "x", VCDC_OP_UPSERT, 4, 1002,
                          MEMDB_REFUSE_MARK, 0);
        scen_send(&s, "xy", "y", VCDC_OP_UPSERT, 4, 1003, NULL, 0);
        y_bad = scen_send(&s, "xy", "y", VCDC_OP_UPSERT, 4, 1004,
                          MEMDB_REFUSE_MARK, 0);
        scen_flush(&s);
        end = s.written;
        scen_wait_committed(&s, c, end);
        scen_wait_committed(&s, cxy, end);
        scen_stop_ok(&s, c);
        scen_stop_ok(&s, cxy);

        scen_snapshot(&s, &st, NULL);
        t = memdb_target(st, "t5");
        if (!t || !t->exists)
                hres_add(&s.res, "target t5 was never created");
        else if (t->dim != 16)
                hres_add(&s.res,
                         "target t5 has dimension %" PRIu32
                         "; the first upsert in offset order (s000, 16-d) "
                         "creates it at 16",
                         t->dim);
        for (i = 0; t && i < S5_IDS; i++) {
                snprintf(id, sizeof(id), "s%03d", i);
                row = memdb_row(t, id);
                if (row && row->hash == scen_rec_hash("docs", id, 16, i, NULL))
                        continue;
                if (row && row->dim == 8)
                        wrong8++;
                else
                        wrong_other++;
                if (wrong8 + wrong_other <= 3)
                        hres_add(&s.res,
                                 "id docs/%s holds %s (%" PRIu32
                                 "-d), the model its 16-d version s%d",
                                 id, row ? row->tag : "nothing",
                                 row ? row->dim : 0, i);
        }
        if (wrong8 + wrong_other)
                hres_add(&s.res,
                         "%zu of %d ids hold their 8-d version and %zu "
                         "something else; every one must keep its 16-d "
                         "version",
                         wrong8, S5_IDS, wrong_other);
        t = memdb_target(st, "t5xy");
        if (t && (row = memdb_row(t, "x")))
                hres_add(&s.res,
                         "id xy/x holds %s: its DELETE (offset %" PRId64
                         ") must stand when the upsert after it (offset "
                         "%" PRId64 ") is refused",
                         row->tag, x_del, x_bad);
        if (!t || !(row = memdb_row(t, "y")) ||
            row->hash != scen_rec_hash("xy", "y", 4, 1003, NULL))
                hres_add(&s.res,
                         "id xy/y holds %s: its upsert s1003 must stand "
                         "when the upsert after it in the same batch "
                         "(offset %" PRId64 ") is refused",
                         t && row ? row->tag : "nothing", y_bad);
        free(st);

        /* The dead letters: exactly the 8-d upserts and the two refused. */
        has = scen_dlq_origins(&s);
        for (k = 0; k < end; k++) {
                int refused = (k >= S5_IDS && k < 2 * S5_IDS) || k == x_bad ||
                              k == y_bad;
                if (refused && !has[k] && dlq_missing++ < 3)
                        hres_add(&s.res,
                                 "the DLQ misses offset %" PRId64 " (%s)", k,
                                 k < 2 * S5_IDS ? "an 8-d upsert"
                                                : "a refused upsert");
                if (!refused && has[k] && dlq_extra++ < 3)
                        hres_add(&s.res,
                                 "the DLQ holds offset %" PRId64
                                 ", which applies",
                                 k);
        }
        if (dlq_missing || dlq_extra)
                hres_add(&s.res,
                         "the DLQ misses %zu of the %d refused records and "
                         "holds %zu records that apply",
                         dlq_missing, S5_IDS + 2, dlq_extra);
        free(has);
        scen_finish(&s, "scenario 5");
}

/*
 * Snapshot records: skipped by the group their vcdc.snapshot.group header
 * names, applied by every other.
 */

/* Writes rec (a delete: its DELETE record, then its tombstone) with the
 * snapshot tool's headers, as that tool does; repair: a vcdc.repair
 * header too. Returns the offset of its first message. */
static int64_t scen_send_snapshot(scen_t *s, rd_kafka_t *rk,
                                  const vcdc_record_t *rec, const char *group,
                                  int repair) {
        vcdc_codec_t *codec;
        char errstr[512], *key;
        void *value = NULL;
        size_t key_len, len = 0;
        int64_t offset = s->written;
        int i, n = rec->op == VCDC_OP_DELETE ? 2 : 1;

        if (!(codec = vcdc_codec_new(errstr, sizeof(errstr))) ||
            vcdc_codec_encode(codec, rec, &value, &len, errstr,
                              sizeof(errstr)) ||
            vcdc_key_encode(rec->collection, rec->id, &key, &key_len))
                fail_msg("encode: %s", errstr);
        for (i = 0; i < n; i++) {
                rd_kafka_headers_t *hdrs = rd_kafka_headers_new(4);

                rd_kafka_header_add(hdrs, "vcdc.partitions", -1, "1", -1);
                rd_kafka_header_add(hdrs, "vcdc.snapshot", -1, "run1:0", -1);
                rd_kafka_header_add(hdrs, "vcdc.snapshot.group", -1, group,
                                    -1);
                if (repair)
                        rd_kafka_header_add(hdrs, "vcdc.repair", -1, "0:1",
                                            -1);
                /* The tombstone, i == 1, has no value. */
                if (rd_kafka_producev(
                            rk, RD_KAFKA_V_TOPIC(s->topic),
                            RD_KAFKA_V_PARTITION(0),
                            RD_KAFKA_V_KEY(key, key_len),
                            RD_KAFKA_V_VALUE(i ? NULL : value, i ? 0 : len),
                            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                            RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_END)) {
                        rd_kafka_headers_destroy(hdrs);
                        fail_msg("produce a snapshot record");
                }
        }
        if (rd_kafka_flush(rk, SCEN_WAIT_MS) || rd_kafka_outq_len(rk))
                fail_msg("snapshot records not delivered");
        s->written += n;
        free(key);
        free(value);
        vcdc_codec_destroy(codec);
        return offset;
}

/* 1 when the consumers are the test's reference (VCDC_MODEL_REFERENCE). */
static int reference(void) {
        const char *v = getenv("VCDC_MODEL_REFERENCE");

        return v && *v && strcmp(v, "0");
}

static void check_row(scen_t *s, const memdb_target_t *t, const char *name,
                      const char *id, int tag) {
        const memdb_row_t *row = t ? memdb_row(t, id) : NULL;

        if (tag < 0 && row)
                hres_add(&s->res,
                         "target %s holds docs/%s (%s): expected "
                         "it deleted or never written",
                         name, id, row->tag);
        else if (tag >= 0 &&
                 (!row || row->hash != scen_rec_hash("docs", id, 4, tag, NULL)))
                hres_add(&s->res, "target %s: docs/%s is %s, expected "
                         "record s%d", name, id, row ? row->tag : "missing",
                         tag);
}

static void test_snapshot_own_group(void **state) {
        rd_kafka_conf_t *rkc = rd_kafka_conf_new();
        memdb_state_t *st;
        const memdb_target_t *t;
        vcdc_record_t rec;
        rd_kafka_t *rk;
        char errstr[512], last[2100];
        int64_t end;
        int old, new;
        scen_t s;

        (void)state;
        scen_start(&s, "ssn");
        if (rd_kafka_conf_set(rkc, "bootstrap.servers", s.mock.bootstraps,
                              errstr, sizeof(errstr)) ||
            !(rk = rd_kafka_new(RD_KAFKA_PRODUCER, rkc, errstr,
                                sizeof(errstr))))
                fail_msg("snapshot producer: %s", errstr);
        /* The live changes, OLD's own. */
        scen_send(&s, "docs", "1", VCDC_OP_UPSERT, 4, 1, NULL, 0);
        scen_send(&s, "docs", "2", VCDC_OP_UPSERT, 4, 2, NULL, 0);
        scen_send(&s, "docs", "3", VCDC_OP_UPSERT, 4, 3, NULL, 0);
        scen_flush(&s);
        /* What the snapshot tool wrote for group ssn.old: an upsert of a
         * live id, one of an id only OLD held, a delete with its
         * tombstone, a repair; the last message of the topic is one of
         * them, so the offsets must go past it. */
        scen_make_rec(&rec, "docs", "1", VCDC_OP_UPSERT, 4, 11, NULL, 0);
        scen_send_snapshot(&s, rk, &rec, "ssn.old", 0);
        vcdc_record_clear(&rec);
        scen_make_rec(&rec, "docs", "4", VCDC_OP_UPSERT, 4, 14, NULL, 0);
        scen_send_snapshot(&s, rk, &rec, "ssn.old", 0);
        vcdc_record_clear(&rec);
        scen_make_rec(&rec, "docs", "5", VCDC_OP_UPSERT, 4, 15, NULL, 0);
        scen_send_snapshot(&s, rk, &rec, "ssn.old", 1 /*repair*/);
        vcdc_record_clear(&rec);
        scen_make_rec(&rec, "docs", "2", VCDC_OP_DELETE, 0, 0, NULL, 0);
        scen_send_snapshot(&s, rk, &rec, "ssn.old", 0);
        vcdc_record_clear(&rec);
        /* Another group's snapshot record: OLD applies it. */
        scen_make_rec(&rec, "docs", "6", VCDC_OP_UPSERT, 4, 16, NULL, 0);
        scen_send_snapshot(&s, rk, &rec, "ssn.other", 0);
        vcdc_record_clear(&rec);
        scen_make_rec(&rec, "docs", "3", VCDC_OP_DELETE, 0, 0, NULL, 0);
        scen_send_snapshot(&s, rk, &rec, "ssn.old", 0);
        vcdc_record_clear(&rec);
        rd_kafka_destroy(rk);
        end = s.written;

        old = scen_consumer(&s, "ssn.old", "told", "docs", NULL);
        new = scen_consumer(&s, "ssn.new", "tnew", "docs", NULL);
        scen_wait_committed(&s, old, end);
        scen_wait_committed(&s, new, end);
        scen_stop_ok(&s, old);
        scen_stop_ok(&s, new);
        /* The counters (the reference consumer has none). */
        kit_log_last(s.c[old].log, "run returned", last, sizeof(last));
        if (!reference() && !strstr(last, " 7 own snapshot records skipped"))
                hres_add(&s.res,
                         "group ssn.old should count 7 own snapshot "
                         "messages skipped; it says: %s",
                         *last ? last : "nothing");
        kit_log_last(s.c[new].log, "run returned", last, sizeof(last));
        if (!reference() && !strstr(last, " 0 own snapshot records skipped"))
                hres_add(&s.res,
                         "group ssn.new skipped snapshot records of "
                         "another group: %s",
                         *last ? last : "nothing");

        scen_snapshot(&s, &st, NULL);
        t = memdb_target(st, "told");
        check_row(&s, t, "told", "1", 1);
        check_row(&s, t, "told", "2", 2);
        check_row(&s, t, "told", "3", 3);
        check_row(&s, t, "told", "4", -1);
        check_row(&s, t, "told", "5", -1);
        check_row(&s, t, "told", "6", 16);
        t = memdb_target(st, "tnew");
        check_row(&s, t, "tnew", "1", 11);
        check_row(&s, t, "tnew", "2", -1);
        check_row(&s, t, "tnew", "3", -1);
        check_row(&s, t, "tnew", "4", 14);
        check_row(&s, t, "tnew", "5", 15);
        check_row(&s, t, "tnew", "6", 16);
        free(st);
        scen_finish(&s, "snapshot records");
}

int main(int argc, char **argv) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_scenario4_collections),
                cmocka_unit_test(test_scenario5_dimension),
                cmocka_unit_test(test_snapshot_own_group),
        };
        int rc;

        if (scen_init(argc, argv, &rc))
                return rc;
        return cmocka_run_group_tests_name("consumer_scenarios", tests, NULL,
                                           NULL);
}
