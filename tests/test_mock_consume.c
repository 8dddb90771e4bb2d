/*
 * vcdc - unit tests: broker-level faults from librdkafka's mock cluster
 * (rdkafka_mock.h), injected into the consumer loop (tests/mock/ holds the
 * kit; test_mock_produce.c does the producer). No real stack: the brokers
 * are the mock's, and the consumer's target is an in-memory sink (mem://)
 * registered by this test, since what is under test is the Kafka side.
 *
 *   errors on Fetch, OffsetCommit, JoinGroup and Heartbeat, leader
 *   changes, a broker down then up, high RTT, while the producer writes:
 *   the in-memory state equals the log's, each key's changes are applied
 *   in log order, and the committed offsets equal the ones the sink
 *   recorded.
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

/*
 * The in-memory sink: the state the consumer applied, each key's applied
 * changes checked for order, and the recorded offsets.
 */
static struct memdb_s {
        pthread_mutex_t lock;
        signed char *present;
        int *seq;      /* the applied change of each present key */
        int *last_seq; /* the newest change ever applied per key */
        int64_t offsets[PARTS];
        uint64_t upserts, deletes, batches, reorders, replays, regressions, bad;
        uint64_t offset_writes; /* applies that carried offsets */
        /* apply in two halves (mem:// only): every 11th send fails, every
         * 7th answer is lost (the batch was applied) */
        uint64_t sends, failed_sends, lost_answers;
        vcdc_sink_status_t answer;
} memdb = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void memdb_reset(void) {
        int k, p;

        free(memdb.present);
        free(memdb.seq);
        free(memdb.last_seq);
        memdb.present = calloc((size_t)mock_key_cnt, 1);
        memdb.seq = calloc((size_t)mock_key_cnt, sizeof(int));
        memdb.last_seq = malloc((size_t)mock_key_cnt * sizeof(int));
        assert_non_null(memdb.present);
        assert_non_null(memdb.seq);
        assert_non_null(memdb.last_seq);
        for (k = 0; k < mock_key_cnt; k++)
                memdb.last_seq[k] = -1;
        for (p = 0; p < PARTS; p++)
                memdb.offsets[p] = -1;
        memdb.upserts = memdb.deletes = memdb.batches = memdb.reorders =
                memdb.replays = memdb.regressions = memdb.bad =
                        memdb.offset_writes = memdb.sends = memdb.failed_sends =
                                memdb.lost_answers = 0;
}

static void memdb_free(void) {
        free(memdb.present);
        free(memdb.seq);
        free(memdb.last_seq);
        memdb.present = NULL;
        memdb.seq = memdb.last_seq = NULL;
}

static int mem_open(vcdc_sink_t *sink, char *errstr, size_t errstr_size) {
        (void)errstr;
        (void)errstr_size;
        sink->state = &memdb;
        return 0;
}

static void mem_close(vcdc_sink_t *sink) {
        sink->state = NULL;
}

static size_t mem_dim(vcdc_sink_t *sink) {
        (void)sink;
        return DIM;
}

static vcdc_sink_status_t mem_apply(vcdc_sink_t *sink,
                                    const vcdc_sink_batch_t *batch,
                                    char *errstr, size_t errstr_size) {
        const vcdc_record_t *rec;
        size_t i;
        int k, seq;

        (void)sink;
        (void)errstr;
        (void)errstr_size;
        pthread_mutex_lock(&memdb.lock);
        for (i = 0; i < batch->upsert_cnt; i++) {
                rec = batch->upserts[i];
                k = mock_parse_key(rec->id);
                seq = (int)rec->source_ts_ms;
                if (k < 0 || !mock_record_as_sent(rec, k)) {
                        memdb.bad++;
                        continue;
                }
                if (seq < memdb.last_seq[k])
                        memdb.reorders++;
                else if (seq == memdb.last_seq[k])
                        memdb.replays++; /* allowed: at least once */
                else
                        memdb.last_seq[k] = seq;
                memdb.present[k] = 1;
                memdb.seq[k] = seq;
                memdb.upserts++;
        }
        for (i = 0; i < batch->delete_cnt; i++) {
                if ((k = mock_parse_key(batch->delete_ids[i])) < 0) {
                        memdb.bad++;
                        continue;
                }
                memdb.present[k] = 0;
                memdb.deletes++;
        }
        for (i = 0; i < batch->offset_cnt; i++) {
                const vcdc_sink_offset_t *o = &batch->offsets[i];
                if (strcmp(batch->topic, TOPIC) || o->partition < 0 ||
                    o->partition >= PARTS) {
                        memdb.bad++;
                        continue;
                }
                if (o->offset < memdb.offsets[o->partition])
                        memdb.regressions++;
                memdb.offsets[o->partition] = o->offset;
        }
        memdb.offset_writes += batch->offset_cnt > 0;
        memdb.batches++;
        pthread_mutex_unlock(&memdb.lock);
        return VCDC_SINK_OK;
}

static vcdc_sink_status_t mem_record_offsets(vcdc_sink_t *sink,
                                             const char *topic,
                                             const vcdc_sink_offset_t *offsets,
                                             size_t cnt, char *errstr,
                                             size_t errstr_size) {
        vcdc_sink_batch_t batch = {
                .topic = topic, .offsets = offsets, .offset_cnt = cnt};

        return mem_apply(sink, &batch, errstr, errstr_size);
}

static const char *mem_target(vcdc_sink_t *sink) {
        (void)sink;
        return "docs";
}

static vcdc_sink_status_t mem_apply_send(vcdc_sink_t *sink,
                                         const vcdc_sink_batch_t *batch,
                                         char *errstr, size_t errstr_size) {
        uint64_t n;

        pthread_mutex_lock(&memdb.lock);
        n = ++memdb.sends;
        memdb.failed_sends += n % 11 == 0;
        memdb.lost_answers += n % 7 == 0 && n % 11 != 0;
        pthread_mutex_unlock(&memdb.lock);
        if (n % 11 == 0) {
                snprintf(errstr, errstr_size, "send %" PRIu64 " failed", n);
                return VCDC_SINK_RETRIABLE;
        }
        memdb.answer = mem_apply(sink, batch, errstr, errstr_size);
        if (n % 7 == 0)
                memdb.answer = VCDC_SINK_RETRIABLE;
        return VCDC_SINK_OK;
}

static vcdc_sink_status_t mem_apply_wait(vcdc_sink_t *sink, char *errstr,
                                         size_t errstr_size) {
        (void)sink;
        if (memdb.answer != VCDC_SINK_OK)
                snprintf(errstr, errstr_size, "the answer was lost");
        return memdb.answer;
}

static vcdc_sink_status_t mem_read_offsets(vcdc_sink_t *sink, const char *topic,
                                           vcdc_sink_offset_t **offsetsp,
                                           size_t *cntp, char *errstr,
                                           size_t errstr_size) {
        vcdc_sink_offset_t *o = calloc(PARTS, sizeof(*o));
        int32_t p;

        (void)sink;
        *offsetsp = NULL;
        *cntp = 0;
        if (!o) {
                snprintf(errstr, errstr_size, "out of memory");
                return VCDC_SINK_RETRIABLE;
        }
        pthread_mutex_lock(&memdb.lock);
        for (p = 0; p < PARTS; p++)
                if (!strcmp(topic, TOPIC) && memdb.offsets[p] >= 0) {
                        o[*cntp].partition = p;
                        o[(*cntp)++].offset = memdb.offsets[p];
                }
        pthread_mutex_unlock(&memdb.lock);
        *offsetsp = o;
        return VCDC_SINK_OK;
}

static vcdc_sink_status_t mem_count(vcdc_sink_t *sink, uint64_t *countp,
                                    char *errstr, size_t errstr_size) {
        int k;

        (void)sink;
        (void)errstr;
        (void)errstr_size;
        *countp = 0;
        pthread_mutex_lock(&memdb.lock);
        for (k = 0; k < mock_key_cnt; k++)
                *countp += (uint64_t)memdb.present[k];
        pthread_mutex_unlock(&memdb.lock);
        return VCDC_SINK_OK;
}

static const struct vcdc_sink_ops mem_ops = {
        .scheme = "mem",
        .open = mem_open,
        .close = mem_close,
        .target = mem_target,
        .dim = mem_dim,
        .apply = mem_apply,
        .apply_send = mem_apply_send,
        .apply_wait = mem_apply_wait,
        .record_offsets = mem_record_offsets,
        .read_offsets = mem_read_offsets,
        .count = mem_count,
};

/* The same sink, recording offsets apart from the data, as Chroma does. */
static const struct vcdc_sink_ops mem_apart_ops = {
        .scheme = "memapart",
        .offsets_apart = 1,
        .open = mem_open,
        .close = mem_close,
        .target = mem_target,
        .dim = mem_dim,
        .apply = mem_apply,
        .record_offsets = mem_record_offsets,
        .read_offsets = mem_read_offsets,
        .count = mem_count,
};

/*
 * The consumer side.
 */
typedef struct runner_s {
        vcdc_consumer_t *c;
        volatile sig_atomic_t run;
        int r;
} runner_t;

static void *consumer_thread(void *arg) {
        runner_t *rn = arg;

        rn->r = vcdc_consumer_run(rn->c, &rn->run);
        return NULL;
}

static void consumer_start(runner_t *rn, pthread_t *thr,
                           const vcdc_conf_t *conf,
                           const vcdc_consumer_opts_t *opts) {
        char errstr[512];

        rn->run = 1;
        rn->r = 0;
        if (!(rn->c = vcdc_consumer_new(conf, opts, NULL, errstr,
                                        sizeof(errstr))))
                fail_msg("vcdc_consumer_new: %s", errstr);
        assert_int_equal(pthread_create(thr, NULL, consumer_thread, rn), 0);
}

/* Stops the consumer as SIGTERM would; adds its message count to
 * *messagesp. */
static void consumer_stop(runner_t *rn, pthread_t thr, uint64_t *messagesp) {
        vcdc_consumer_stats_t cst;

        rn->run = 0;
        assert_int_equal(pthread_join(thr, NULL), 0);
        assert_int_equal(rn->r, 0);
        vcdc_consumer_stats(rn->c, &cst);
        assert_int_equal(cst.dead_letters, 0);
        *messagesp += cst.messages;
        vcdc_consumer_destroy(rn->c);
        rn->c = NULL;
}

/* 1 when the sink recorded every partition up to hi. */
static int caught_up(const int64_t *hi) {
        int p, ok = 1;

        pthread_mutex_lock(&memdb.lock);
        for (p = 0; p < PARTS; p++)
                ok &= memdb.offsets[p] + 1 >= hi[p];
        pthread_mutex_unlock(&memdb.lock);
        return ok;
}

static void log_ends(vcdc_producer_t *p, int64_t *hi) {
        int64_t lo;
        int32_t part;

        for (part = 0; part < PARTS; part++)
                assert_int_equal(rd_kafka_query_watermark_offsets(
                                         vcdc_producer_handle(p), TOPIC, part,
                                         &lo, &hi[part], 10000),
                                 0);
}

/* Flushes the producer, then waits until the consumer applied all of it and
 * the injected errors were taken. */
static void wait_applied(mock_t *m, vcdc_producer_t *p, const runner_t *rn) {
        int64_t hi[PARTS], until = vcdc_clock_ms() + WAIT_MS;

        mock_flush_ok(p);
        log_ends(p, hi);
        while (!caught_up(hi) || mock_pending(m, API_FETCH) ||
               mock_pending(m, API_OFFSET_COMMIT) ||
               mock_pending(m, API_HEARTBEAT) ||
               mock_pending(m, API_JOIN_GROUP)) {
                if (vcdc_clock_ms() > until)
                        fail_msg("consumer did not catch up: recorded "
                                 "%" PRId64 "/%" PRId64 " %" PRId64 "/%" PRId64
                                 " %" PRId64 "/%" PRId64 " %" PRId64 "/%" PRId64
                                 " (errors left: "
                                 "fetch %zu, commit %zu, heartbeat %zu, "
                                 "join %zu)",
                                 memdb.offsets[0] + 1, hi[0],
                                 memdb.offsets[1] + 1, hi[1],
                                 memdb.offsets[2] + 1, hi[2],
                                 memdb.offsets[3] + 1, hi[3],
                                 mock_pending(m, API_FETCH),
                                 mock_pending(m, API_OFFSET_COMMIT),
                                 mock_pending(m, API_HEARTBEAT),
                                 mock_pending(m, API_JOIN_GROUP));
                if (rn->r)
                        fail_msg("consumer stopped with an error");
                vcdc_producer_poll(p, 20 /*ms*/);
        }
}

/* A plain consumer of GROUP, to read or set its committed offsets. */
static rd_kafka_t *group_client(const mock_t *m) {
        rd_kafka_conf_t *rkc = rd_kafka_conf_new();
        char errstr[512];
        rd_kafka_t *rk;

        rd_kafka_conf_set_log_cb(rkc, vcdc_log_rdkafka_cb);
        assert_int_equal(rd_kafka_conf_set(rkc, "bootstrap.servers",
                                           m->bootstraps, errstr,
                                           sizeof(errstr)),
                         RD_KAFKA_CONF_OK);
        assert_int_equal(rd_kafka_conf_set(rkc, "group.id", GROUP, errstr,
                                           sizeof(errstr)),
                         RD_KAFKA_CONF_OK);
        assert_non_null(rk = rd_kafka_new(RD_KAFKA_CONSUMER, rkc, errstr,
                                          sizeof(errstr)));
        return rk;
}

/* An existing group at offset 0 (without DescribeConfigs, which the mock
 * lacks, the consumer cannot check a replay from the beginning). */
static void group_at_zero(const mock_t *m) {
        rd_kafka_topic_partition_list_t *offsets;
        rd_kafka_t *rk = group_client(m);
        int32_t p;

        offsets = rd_kafka_topic_partition_list_new(PARTS);
        for (p = 0; p < PARTS; p++)
                rd_kafka_topic_partition_list_add(offsets, TOPIC, p)->offset =
                        0;
        assert_int_equal(rd_kafka_commit(rk, offsets, 0 /*sync*/), 0);
        rd_kafka_topic_partition_list_destroy(offsets);
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
}

/* The group's committed offsets, as a new member would read them. */
static void group_committed(const mock_t *m, int64_t *committed) {
        rd_kafka_topic_partition_list_t *offsets;
        rd_kafka_t *rk = group_client(m);
        int32_t p;

        offsets = rd_kafka_topic_partition_list_new(PARTS);
        for (p = 0; p < PARTS; p++)
                rd_kafka_topic_partition_list_add(offsets, TOPIC, p);
        assert_int_equal(rd_kafka_committed(rk, offsets, 10000), 0);
        for (p = 0; p < PARTS; p++) {
                assert_int_equal(offsets->elems[p].err, 0);
                committed[offsets->elems[p].partition] =
                        offsets->elems[p].offset;
        }
        rd_kafka_topic_partition_list_destroy(offsets);
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
}

static const rd_kafka_resp_err_t fetch_errs[] = {
        RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
        RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
        RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE,
};
static const rd_kafka_resp_err_t commit_errs[] = {
        RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE,
        RD_KAFKA_RESP_ERR_NOT_COORDINATOR,
        RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
};
static const rd_kafka_resp_err_t join_errs[] = {
        RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE,
        RD_KAFKA_RESP_ERR_NOT_COORDINATOR,
        RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS,
};
static const rd_kafka_resp_err_t heartbeat_errs[] = {
        RD_KAFKA_RESP_ERR_NOT_COORDINATOR,
        RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS,
};
#define CNT(a) (sizeof(a) / sizeof(*(a)))

/*
 * vcdc's consumer loop tails the topic while the producer writes and the
 * brokers misbehave; then the in-memory state, the order of each key's
 * applies and the committed offsets are checked.
 */
static void test_consume_faults(void **state) {
        /* The session outlasts the mock's 3 s delay before it answers the
         * first JoinGroup of an empty group: a member whose session ends
         * in that wait is dropped, and its JoinGroup never answered (the
         * client waits max.poll.interval.ms). Seen as a 60 s hang under
         * valgrind on a loaded machine with a 3 s session. */
        static const char *const ckv[] = {"heartbeat.interval.ms",
                                          "100",
                                          "session.timeout.ms",
                                          "6000",
                                          "fetch.wait.max.ms",
                                          "50",
                                          "vcdc.batch.records",
                                          "100",
                                          "vcdc.batch.ms",
                                          "20",
                                          "vcdc.retry.backoff.ms",
                                          "10",
                                          "vcdc.progress.ms",
                                          "0",
                                          NULL};
        /* The producer only feeds the consumer here: one request in
         * flight, as the mock needs to keep every record through the
         * leader moves (see the top). */
        static const char *const pkv[] = {
                "max.in.flight.requests.per.connection", "1",
                "batch.num.messages", "200", NULL};
        vcdc_consumer_opts_t opts = {.topic = TOPIC,
                                     .group = GROUP,
                                     .sink_url = "mem://memory/docs",
                                     .metrics_port = -1};
        int64_t committed[PARTS], hi[PARTS];
        uint64_t present = 0, wrong = 0, expected_present = 0, messages = 0;
        vcdc_producer_stats_t pst;
        vcdc_producer_t *p;
        vcdc_conf_t *conf;
        runner_t rn = {.run = 1};
        pthread_t thr;
        counts_t c = {0};
        change_t *ch;
        size_t n, q;
        mock_t m;
        int32_t b, part;
        int k;

        (void)state;
        mock_start(&m);
        memdb_reset();
        ch = mock_changes_new(&n);
        q = n / 6;
        assert_int_equal(rd_kafka_mock_coordinator_set(m.mc, "group", GROUP, 1),
                         0);
        group_at_zero(&m);
        p = mock_producer_new(&m, pkv);
        conf = mock_client_conf(&m, ckv);

        /* Joining the group fails three times first. */
        mock_push(&m, 1, API_JOIN_GROUP, join_errs, CNT(join_errs));
        consumer_start(&rn, &thr, conf, &opts);
        mock_send_range(p, ch, 0, q);
        wait_applied(&m, p, &rn);

        /* Fetch errors on every broker, commit and heartbeat errors at the
         * coordinator (a rebalance among them). */
        for (b = 1; b <= BROKERS; b++)
                mock_push(&m, b, API_FETCH, fetch_errs, CNT(fetch_errs));
        mock_push(&m, 1, API_OFFSET_COMMIT, commit_errs, CNT(commit_errs));
        mock_push(&m, 1, API_HEARTBEAT, heartbeat_errs, CNT(heartbeat_errs));
        mock_send_range(p, ch, q, 2 * q);
        wait_applied(&m, p, &rn);

        /* Leaders move while the consumer reads. */
        mock_send_range(p, ch, 2 * q, 2 * q + q / 2);
        mock_move_leaders(&m, p, ch, 2 * q + q / 2, 3 * q);
        wait_applied(&m, p, &rn);

        /* The consumer stops (its commits equal the sink's offsets), the
         * producer goes on, a new consumer resumes where it stopped. */
        consumer_stop(&rn, thr, &messages);
        group_committed(&m, committed);
        for (part = 0; part < PARTS; part++)
                assert_int_equal(committed[part], memdb.offsets[part] + 1);
        m.faults++;
        mock_send_range(p, ch, 3 * q, 3 * q + q / 2);
        consumer_start(&rn, &thr, conf, &opts);
        mock_send_range(p, ch, 3 * q + q / 2, 4 * q);
        wait_applied(&m, p, &rn);

        /* A partition leader (not the coordinator) down, then up. */
        mock_send_through_outage(&m, p, ch, 4 * q, 5 * q, 3);
        wait_applied(&m, p, &rn);

        /* The coordinator down, then up; then high RTT with commit errors
         * under it. */
        mock_send_through_outage(&m, p, ch, 5 * q, 5 * q + q / 2, 1);
        wait_applied(&m, p, &rn);
        mock_set_rtt(&m, 200);
        mock_push(&m, 1, API_OFFSET_COMMIT, commit_errs, 1);
        mock_send_range(p, ch, 5 * q + q / 2, n);
        wait_applied(&m, p, &rn);
        mock_set_rtt(&m, 0);

        consumer_stop(&rn, thr, &messages);
        vcdc_conf_destroy(conf);
        log_ends(p, hi);
        vcdc_producer_stats(p, &pst);
        vcdc_producer_destroy(p);

        /* The input itself is whole. */
        mock_check_log_complete(&m, "consume, the input", n, pst.acked);

        /* The state equals the last change of every key. */
        for (k = 0; k < mock_key_cnt; k++) {
                int up = mock_op_of(k, mock_upd_cnt - 1) == VCDC_OP_UPSERT;
                expected_present += (uint64_t)up;
                present += (uint64_t)memdb.present[k];
                if (memdb.present[k] != up ||
                    (up && memdb.seq[k] != mock_upd_cnt - 1))
                        wrong++;
                /* Every key's last change was applied, in order. */
                if (up && memdb.last_seq[k] != mock_upd_cnt - 1)
                        wrong++;
        }
        group_committed(&m, committed);
        for (part = 0; part < PARTS; part++) {
                assert_int_equal(committed[part], memdb.offsets[part] + 1);
                assert_int_equal(committed[part], hi[part]);
        }
        c.faults = m.faults;
        c.written = pst.acked;
        c.verified = (uint64_t)mock_key_cnt - wrong;
        c.differences = wrong + memdb.reorders + memdb.regressions + memdb.bad;
        mock_report("consume", &c, "keys");
        print_message("[ mock     ] consume: %" PRIu64 " messages in %" PRIu64
                      " batches, %" PRIu64 " upserts and %" PRIu64
                      " deletes applied, %" PRIu64 " re-applied, %" PRIu64
                      " keys present of %d\n",
                      messages, memdb.batches, memdb.upserts, memdb.deletes,
                      memdb.replays, present, mock_key_cnt);
        print_message("[ mock     ] consume: %" PRIu64 " batches sent apart, "
                      "%" PRIu64 " sends failed, %" PRIu64
                      " answers lost, each applied again\n",
                      memdb.sends, memdb.failed_sends, memdb.lost_answers);
        /* Both ways a batch sent apart fails were taken. */
        assert_true(memdb.failed_sends > 0);
        assert_true(memdb.lost_answers > 0);
        assert_int_equal(pst.acked, n);
        assert_int_equal(wrong, 0);
        assert_int_equal(present, expected_present);
        assert_int_equal(memdb.reorders, 0);
        assert_int_equal(memdb.regressions, 0);
        assert_int_equal(memdb.bad, 0);
        assert_true(messages >= n + mock_delete_cnt());
        memdb_free();
        free(ch);
        mock_stop(&m);
}

/*
 * A sink that records offsets apart from the data (Chroma) gets them at
 * most once per commit interval, yet they reach the log end on their own
 * once the consumer is idle, and equal the group's commits at stop.
 */
static void test_consume_offsets_apart(void **state) {
        static const char *const ckv[] = {"vcdc.batch.records",
                                          "10",
                                          "vcdc.commit.interval.ms",
                                          "500",
                                          "vcdc.progress.ms",
                                          "0",
                                          NULL};
        vcdc_consumer_opts_t opts = {.topic = TOPIC,
                                     .group = GROUP,
                                     .sink_url = "memapart://memory/docs",
                                     .metrics_port = -1};
        int64_t committed[PARTS];
        uint64_t messages = 0;
        vcdc_producer_t *p;
        vcdc_conf_t *conf;
        runner_t rn = {.run = 1};
        pthread_t thr;
        change_t *ch;
        size_t n;
        mock_t m;
        int32_t part;

        (void)state;
        mock_start(&m);
        memdb_reset();
        ch = mock_changes_new(&n);
        n = n / 10;
        group_at_zero(&m);
        p = mock_producer_new(&m, NULL);
        conf = mock_client_conf(&m, ckv);
        consumer_start(&rn, &thr, conf, &opts);
        mock_send_range(p, ch, 0, n);
        wait_applied(&m, p, &rn); /* the recorded offsets reach the end */
        print_message("[ mock     ] offsets apart: %" PRIu64
                      " batches, %" PRIu64 " of them with offsets\n",
                      memdb.batches, memdb.offset_writes);
        assert_true(memdb.offset_writes > 0);
        assert_true(memdb.offset_writes * 2 < memdb.batches);
        consumer_stop(&rn, thr, &messages);
        group_committed(&m, committed);
        for (part = 0; part < PARTS; part++)
                assert_int_equal(committed[part], memdb.offsets[part] + 1);
        assert_int_equal(memdb.regressions + memdb.reorders + memdb.bad, 0);
        vcdc_conf_destroy(conf);
        vcdc_producer_destroy(p);
        memdb_free();
        free(ch);
        mock_stop(&m);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_consume_faults),
                cmocka_unit_test(test_consume_offsets_apart),
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
        if (vcdc_sink_register(&mem_ops) ||
            vcdc_sink_register(&mem_apart_ops)) {
                fprintf(stderr, "cannot register the mem:// sinks\n");
                return 1;
        }
        return cmocka_run_group_tests_name("mock_consume", tests, NULL, NULL);
}
