/*
 * vcdc - issue 14's scenarios 6 and 11 as focused tests: the dead-letter
 * topic unavailable for a while, each asserting the outcome the
 * specification asks for (tests/test_model.c holds the consumer to the
 * whole of it):
 *
 *   6  the dead-letter topic has no leader for a while: the batch limit
 *      holds (vcdc.batch.records=10), no offset covering the dead letter is
 *      committed or recorded while it is not acknowledged, and the dead
 *      letter arrives once the topic is back;
 *  11  the dead-letter producer's queue holds 2 messages and 60 records
 *      are refused while the topic has no leader: the consumer never
 *      blocks on the full queue (it keeps its group, max.poll.interval.ms
 *      is 6 s and the outage 8 s), and every dead letter arrives.
 *
 * test_consumer_scenarios.c holds scenarios 4 and 5 and the snapshot's
 * records.
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

#include "scenario/scenario.h"

/* The offset target records for partition 0, -1. */
static int64_t recorded(scen_t *s, const char *target) {
        const memdb_target_t *t;
        memdb_state_t *st;
        int64_t off;

        scen_snapshot(s, &st, NULL);
        t = memdb_target(st, target);
        off = t ? t->offsets[0] : -1;
        free(st);
        return off;
}

/*
 * Scenario 6: the dead-letter topic unavailable for a while.
 */
#define S6_IDS 300
#define S6_BATCH 10
#define S6_OUTAGE_MS 9000

static void test_scenario6_dlq_outage(void **state) {
        static const char *const kv[] = {
                "vcdc.batch.records", "10", "vcdc.batch.ms", "20",
                "vcdc.commit.interval.ms", "0",
                /* the dead-letter producer gives up after 2 s */
                "message.timeout.ms", "2000", NULL};
        memdb_stats_t stats[MEMDB_TARGETS];
        const memdb_target_t *t;
        const memdb_row_t *row;
        memdb_state_t *st;
        int64_t bad, end, until, at, rec_at;
        size_t wrong = 0, ti;
        char id[16], *has;
        int c, i, reported = 0;
        scen_t s;

        (void)state;
        scen_start(&s, "s6");
        bad = scen_send(&s, "docs", "bad", VCDC_OP_UPSERT, 4, 0, NULL,
                        1 /*nested: check() refuses it*/);
        for (i = 1; i <= S6_IDS; i++) {
                snprintf(id, sizeof(id), "s%03d", i);
                scen_send(&s, "docs", id, VCDC_OP_UPSERT, 4, i, NULL, 0);
        }
        scen_flush(&s);
        end = s.written;
        if (rd_kafka_mock_partition_set_leader(s.mock.mc, "s6.dlq", 0, -1))
                fail_msg("cannot take the DLQ's leader away");
        c = scen_consumer(&s, "s6", "t6", "docs", kv);

        /* While the DLQ is down, no offset may cover the dead letter. */
        until = kit_now_ms() + S6_OUTAGE_MS;
        while (kit_now_ms() < until) {
                at = scen_committed(&s, c);
                rec_at = recorded(&s, "t6");
                if (!reported && (at > bad || rec_at >= bad)) {
                        hres_add(&s.res,
                                 "with the DLQ down, the dead letter of "
                                 "offset %" PRId64
                                 " is not acknowledged, yet the group "
                                 "committed %" PRId64
                                 " and the target recorded %" PRId64
                                 ": a crash now loses it",
                                 bad, at, rec_at);
                        reported = 1;
                }
                kit_sleep_ms(100);
        }
        if (rd_kafka_mock_partition_set_leader(s.mock.mc, "s6.dlq", 0, 1))
                fail_msg("cannot give the DLQ its leader back");
        scen_wait_committed(&s, c, end);
        scen_stop_ok(&s, c);

        scen_snapshot(&s, &st, stats);
        t = memdb_target(st, "t6");
        for (ti = 0; ti < MEMDB_TARGETS; ti++)
                if (!strcmp(st->targets[ti].name, "t6") &&
                    stats[ti].max_changes > S6_BATCH)
                        hres_add(&s.res,
                                 "an apply carried %" PRIu64
                                 " changes; vcdc.batch.records is %d (the "
                                 "messages polled while waiting for the "
                                 "DLQ went into one batch)",
                                 stats[ti].max_changes, S6_BATCH);
        for (i = 1; i <= S6_IDS; i++) {
                snprintf(id, sizeof(id), "s%03d", i);
                row = t ? memdb_row(t, id) : NULL;
                if (!row || row->hash != scen_rec_hash("docs", id, 4, i, NULL))
                        wrong++;
        }
        if (wrong)
                hres_add(&s.res, "%zu of %d ids do not hold their record",
                         wrong, S6_IDS);
        if (t && memdb_row(t, "bad"))
                hres_add(&s.res, "target t6 holds the refused record");
        free(st);
        has = scen_dlq_origins(&s);
        if (!has[bad])
                hres_add(&s.res,
                         "the DLQ misses the refused record (offset %" PRId64
                         "): its delivery failed during the outage and it "
                         "was never sent again",
                         bad);
        for (at = 0; at < end; at++)
                if (at != bad && has[at])
                        hres_add(&s.res,
                                 "the DLQ holds offset %" PRId64
                                 ", which applies",
                                 at);
        free(has);
        scen_finish(&s, "scenario 6");
}

#define S11_BAD 60
#define S11_OUTAGE_MS 8000

static void test_scenario11_dlq_queue_full(void **state) {
        static const char *const kv[] = {
                "vcdc.batch.records", "20", "vcdc.batch.ms", "20",
                /* the dead-letter producer's queue: 2 messages */
                "queue.buffering.max.messages", "2",
                "session.timeout.ms", "6000", "max.poll.interval.ms", "6000",
                NULL};
        int64_t bad[S11_BAD], end;
        char id[16], *has, last[2100];
        int c, i;
        scen_t s;

        (void)state;
        scen_start(&s, "s11");
        for (i = 0; i < S11_BAD; i++) {
                snprintf(id, sizeof(id), "b%03d", i);
                bad[i] = scen_send(&s, "docs", id, VCDC_OP_UPSERT, 4, i, NULL,
                                   1 /*nested: check() refuses it*/);
                snprintf(id, sizeof(id), "g%03d", i);
                scen_send(&s, "docs", id, VCDC_OP_UPSERT, 4, i, NULL, 0);
        }
        scen_flush(&s);
        end = s.written;
        if (rd_kafka_mock_partition_set_leader(s.mock.mc, "s11.dlq", 0, -1))
                fail_msg("cannot take the DLQ's leader away");
        c = scen_consumer(&s, "s11", "t11", "docs", kv);
        kit_sleep_ms(S11_OUTAGE_MS);
        if (rd_kafka_mock_partition_set_leader(s.mock.mc, "s11.dlq", 0, 1))
                fail_msg("cannot give the DLQ its leader back");
        scen_wait_committed(&s, c, end);
        kit_log_last(s.c[c].log, "assignment was lost", last, sizeof(last));
        if (*last)
                hres_add(&s.res,
                         "the consumer lost its group while the dead-letter "
                         "queue was full: %s",
                         last);
        scen_stop_ok(&s, c);
        has = scen_dlq_origins(&s);
        for (i = 0; i < S11_BAD; i++)
                if (!has[bad[i]])
                        hres_add(&s.res, "the DLQ misses offset %" PRId64,
                                 bad[i]);
        free(has);
        scen_finish(&s, "scenario 11");
}

int main(int argc, char **argv) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_scenario6_dlq_outage),
                cmocka_unit_test(test_scenario11_dlq_queue_full),
        };
        int rc;

        if (scen_init(argc, argv, &rc))
                return rc;
        return cmocka_run_group_tests_name("consumer_dlq_outage", tests, NULL,
                                           NULL);
}
