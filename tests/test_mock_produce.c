/*
 * vcdc - unit tests: broker-level faults from librdkafka's mock cluster
 * (rdkafka_mock.h), injected into the producer library (tests/mock/ holds
 * the kit; test_mock_consume.c does the consumer). No real stack: the
 * brokers are the mock's.
 *
 *   retriable Produce errors, a non-retriable one, leader changes
 *   mid-stream, a broker down then up, high RTT; the topic is read back
 *   with a plain consumer and decoded with vcdc's codec: every record
 *   exactly once, each key's changes in order.
 *
 * VCDC_TEST_SMALL=1 uses a tenth of the data (make valgrind sets it).
 * VCDC_TEST_LOG=warn (or any level) shows vcdc's and librdkafka's logs,
 * silent by default since the faults make expected noise.
 * VCDC_TEST_FILTER=pattern runs only the matching tests;
 * VCDC_TEST_DEBUG=cgrp,fetch,... sets librdkafka's debug on vcdc's clients.
 *
 * Limits of the mock (librdkafka 2.0.2), which shape the scenarios: the
 * mock broker checks idempotent sequence numbers only for transactional
 * producers, so it neither drops a retried duplicate nor refuses a request
 * that arrives after a gap, where a real broker does both. With several
 * requests in flight, a request after a refused one can therefore be
 * appended ahead of the refused one's retry, and librdkafka, trusting the
 * broker's sequence check, counts the refused records as delivered: seen
 * here as 200 records lost when leaders moved under 300 ms RTT. One
 * request per connection is not enough either: a refusal's metadata
 * refresh moves every partition whose leader changed, also one whose
 * request is still in flight at its old leader, and the next request goes
 * to the new one on another connection (69 records lost under the
 * consumer test's feed, 128 in test_produce_retriable under valgrind). So
 * request errors are injected with one request in flight, leaders move
 * one partition at a time with the producer idle and one request in
 * flight (move_leaders()), and a broker is taken down only when the
 * producer has nothing in flight (a response lost with the connection
 * would make the mock append the retry a second time).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "codec.h"
#include "conf.h"
#include "consumer.h"
#include "log.h"
#include "mock/mockkit.h"
#include "producer.h"
#include "sink_int.h"

static const rd_kafka_resp_err_t retriable_produce_errs[] = {
        RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, /* NOT_LEADER_OR_FOLLOWER */
        RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
        RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
        RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND,
        RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE,
        RD_KAFKA_RESP_ERR_KAFKA_STORAGE_ERROR,
};
#define RETRIABLE_PRODUCE_CNT                                                  \
        (sizeof(retriable_produce_errs) / sizeof(*retriable_produce_errs))

/*
 * Retriable Produce errors on every broker, leaders moved, a broker down
 * then up, and high RTT; one request in flight (see the top).
 */
static void test_produce_retriable(void **state) {
        static const char *const kv[] = {
                "max.in.flight.requests.per.connection", "1",
                "batch.num.messages", "200", NULL};
        vcdc_producer_t *p;
        change_t *ch;
        size_t n, q;
        mock_t m;
        int32_t b;

        (void)state;
        mock_start(&m);
        ch = mock_changes_new(&n);
        q = n / 4;
        p = mock_producer_new(&m, kv);

        /* Request errors on every broker, taken by the first quarter. */
        for (b = 1; b <= BROKERS; b++)
                mock_push(&m, b, API_PRODUCE, retriable_produce_errs,
                          RETRIABLE_PRODUCE_CNT);
        mock_send_range(p, ch, 0, q);
        mock_drain_producer(&m, p, API_PRODUCE);

        /* Errors again; then the leaders move. */
        for (b = 1; b <= BROKERS; b++)
                mock_push(&m, b, API_PRODUCE, retriable_produce_errs,
                          RETRIABLE_PRODUCE_CNT);
        mock_send_range(p, ch, q, q + q / 2);
        mock_drain_producer(&m, p, API_PRODUCE);
        mock_move_leaders(&m, p, ch, q + q / 2, 2 * q);

        /* A broker down: its partitions wait, the others go on. */
        mock_send_through_outage(&m, p, ch, 2 * q, 3 * q, 2);

        /* High RTT, and errors that arrive late. */
        mock_set_rtt(&m, 100);
        for (b = 1; b <= BROKERS; b++)
                mock_push(&m, b, API_PRODUCE, retriable_produce_errs, 2);
        mock_send_range(p, ch, 3 * q, n);
        mock_drain_producer(&m, p, API_PRODUCE);
        mock_flush_ok(p);
        mock_set_rtt(&m, 0);

        mock_end_produce(&m, p, ch, n, "produce, retriable errors");
}

/*
 * The producer's own settings (five requests in flight): high RTT, so
 * requests pile up in flight, and a broker down then up. Leaders move in
 * test_produce_retriable, with one request in flight, and not here: after
 * a move, requests still sent to the old leader are refused, and a later
 * one can reach the new leader first; the mock, which does not check
 * sequences, appends it over the gap, and librdkafka then takes the
 * refused records as "implicitly acked by subsequent batch success"
 * although the mock never stored them (200 records lost in about one run
 * in thirty, even with the leaders moved between bursts). A real broker
 * refuses the later request as out of order and the client retries both.
 */
static void test_produce_outage_rtt(void **state) {
        static const char *const kv[] = {"batch.num.messages", "200", NULL};
        vcdc_producer_t *p;
        change_t *ch;
        size_t n, q;
        mock_t m;

        (void)state;
        mock_start(&m);
        ch = mock_changes_new(&n);
        q = n / 4;
        p = mock_producer_new(&m, kv);

        /* High RTT on every broker: five requests in flight each. */
        mock_set_rtt(&m, 200);
        mock_send_range(p, ch, 0, 2 * q);
        mock_flush_ok(p);
        mock_set_rtt(&m, 0);
        mock_send_range(p, ch, 2 * q, 2 * q + q / 2);

        /* Broker 1 down: its partitions wait, the others go on. */
        mock_flush_ok(p);
        mock_send_through_outage(&m, p, ch, 2 * q + q / 2, 3 * q + q / 2, 1);
        mock_send_range(p, ch, 3 * q + q / 2, n);
        mock_flush_ok(p);

        mock_end_produce(&m, p, ch, n, "produce, outage/rtt");
}

/*
 * A non-retriable Produce error: the records of that request fail, the
 * producer says so (flush fails with the counts, stats.failed), and the
 * log holds exactly the acknowledged records, in order, once.
 */
static void test_produce_non_retriable(void **state) {
        static const char *const kv[] = {
                "max.in.flight.requests.per.connection", "1",
                "batch.num.messages", "100", NULL};
        vcdc_producer_stats_t st;
        vcdc_producer_t *p;
        char errstr[512];
        counts_t c = {0};
        logcheck_t lc;
        change_t *ch;
        size_t n, half;
        mock_t m;

        (void)state;
        mock_start(&m);
        ch = mock_changes_new(&n);
        n /= 4;
        half = n / 2;
        p = mock_producer_new(&m, kv);
        mock_send_range(p, ch, 0, half);
        mock_flush_ok(p);
        /* The next Produce request, whichever broker gets it. */
        rd_kafka_mock_push_request_errors(m.mc, API_PRODUCE, 1,
                                          RD_KAFKA_RESP_ERR_INVALID_RECORD);
        m.faults++;
        mock_send_range(p, ch, half, n);
        assert_int_equal(
                vcdc_producer_flush(p, WAIT_MS, errstr, sizeof(errstr)), -1);
        vcdc_producer_stats(p, &st);
        print_message("[ mock     ] non-retriable: flush said \"%s\"\n",
                      errstr);
        assert_non_null(strstr(errstr, "not acknowledged"));
        assert_non_null(strstr(errstr, "failed"));
        assert_int_equal(st.sent, n);
        assert_true(st.failed > 0);
        assert_true(st.acked + st.failed <= st.sent);
        assert_true(st.acked >= half);
        vcdc_producer_destroy(p);

        mock_read_log(&m, &lc);
        c.faults = m.faults;
        c.written = st.acked;
        c.verified = lc.complete;
        /* Acknowledged, and only acknowledged, records are in the log. */
        c.differences = (lc.complete > st.acked ? lc.complete - st.acked
                                                : st.acked - lc.complete) +
                        lc.dups + lc.reorders + lc.bad;
        mock_report("produce, non-retriable error", &c, "records");
        assert_int_equal(lc.complete, st.acked);
        assert_int_equal(lc.dups, 0);
        assert_int_equal(lc.reorders, 0);
        assert_int_equal(lc.bad, 0);
        mock_logcheck_free(&lc);
        free(ch);
        mock_stop(&m);
}

/* What the delivery hook saw for one track. */
typedef struct seen_s {
        int messages, failed, tombstones;
        int64_t max_offset;
} seen_t;

static void seen_hook(void *opaque, void *track, int32_t partition,
                      int64_t offset, int failed) {
        seen_t *none = opaque, *s = track ? track : none;

        (void)partition;
        s->messages++;
        s->failed += failed;
        if (offset < 0)
                s->tombstones++;
        else if (offset > s->max_offset)
                s->max_offset = offset;
}

/*
 * vcdc_producer_send_tracked(): each message's report reaches the hook
 * with the track it was sent with (a delete: two messages, its tombstone
 * with offset -1); vcdc_producer_send() reports with no track.
 */
static void test_produce_tracked(void **state) {
        seen_t a = {0, 0, 0, -1}, b = {0, 0, 0, -1}, none = {0, 0, 0, -1};
        vcdc_producer_t *p;
        vcdc_record_t rec;
        float v[2] = {1, 2};
        char errstr[512], id[16];
        mock_t m;
        int i;

        (void)state;
        mock_start(&m);
        p = mock_producer_new(&m, NULL);
        vcdc_producer_set_dr_hook(p, seen_hook, &none);
        vcdc_record_init(&rec);
        rec.collection = "docs";
        rec.id = id;
        rec.vector = v;
        rec.dim = 2;
        for (i = 0; i < 30; i++) {
                snprintf(id, sizeof(id), "k%d", i);
                rec.op = i % 10 == 9 ? VCDC_OP_DELETE : VCDC_OP_UPSERT;
                rec.vector = rec.op == VCDC_OP_DELETE ? NULL : v;
                rec.dim = rec.op == VCDC_OP_DELETE ? 0 : 2;
                assert_int_equal(i % 3 == 2
                                         ? vcdc_producer_send(p, &rec, errstr,
                                                              sizeof(errstr))
                                         : vcdc_producer_send_tracked(
                                                   p, &rec, i % 3 ? &b : &a,
                                                   errstr, sizeof(errstr)),
                                 0);
        }
        /* Not 4-aligned: refused before anything is sent. */
        assert_int_equal(vcdc_producer_send_tracked(p, &rec, (char *)&a + 1,
                                                    errstr, sizeof(errstr)),
                         VCDC_PRODUCER_ERR_FATAL);
        mock_flush_ok(p);
        /* Ten records each: i % 3 == 0 to a, 1 to b, 2 without a track;
         * the deletes (i = 9, 19, 29) one to each, two messages apiece. */
        assert_int_equal(a.messages, 10 + 1);
        assert_int_equal(a.tombstones, 1);
        assert_int_equal(b.messages, 10 + 1);
        assert_int_equal(b.tombstones, 1);
        assert_int_equal(none.messages, 10 + 1);
        assert_int_equal(none.tombstones, 1);
        assert_int_equal(a.failed + b.failed + none.failed, 0);
        assert_true(a.max_offset >= 0 && b.max_offset >= 0);
        vcdc_producer_destroy(p);
        mock_stop(&m);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_produce_tracked),
                cmocka_unit_test(test_produce_retriable),
                cmocka_unit_test(test_produce_outage_rtt),
                cmocka_unit_test(test_produce_non_retriable),
        };
        const char *v;

        if ((v = getenv("VCDC_TEST_SMALL")) && *v && strcmp(v, "0")) {
                mock_key_cnt = 200;
                mock_upd_cnt = 10;
        }
        vcdc_log_level = 0; /* silent: the faults make expected noise */
        if ((v = getenv("VCDC_TEST_LOG")) && *v &&
            (vcdc_log_level = vcdc_log_level_parse(v)) < 0)
                vcdc_log_level = VCDC_LOG_WARN;
        if ((v = getenv("VCDC_TEST_FILTER")) && *v)
                cmocka_set_test_filter(v);
        return cmocka_run_group_tests_name("mock_produce", tests, NULL, NULL);
}
