/*
 * vcdc - test kit: the mock cluster, the producer against it and the
 * topic's read-back (mockkit.h).
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
#include "mockkit.h"
#include "producer.h"
#include "sink_int.h"

/* Kafka protocol request types (rdkafka_proto.h is not installed). */

int mock_key_cnt = 2000; /* 2000 keys x 10 changes: 20,000 records */
int mock_upd_cnt = 10;

void mock_report(const char *name, const counts_t *n, const char *unit) {
        print_message("[ mock     ] %s: %" PRIu64 " faults injected, %" PRIu64
                      " records written, %" PRIu64 " %s verified, %" PRIu64
                      " differences\n",
                      name, n->faults, n->written, n->verified, unit,
                      n->differences);
}

/*
 * The change stream: mock_upd_cnt changes of each key, round by round, the keys
 * shuffled in each round. Change seq of key k is an upsert, or a delete
 * (keys divisible by 7 at seq 3, revived by seq 4; keys divisible by 5 at
 * the last seq). source_ts_ms carries seq, so each record is recognisable.
 */

vcdc_op_t mock_op_of(int key, int seq) {
        if ((seq == mock_upd_cnt - 1 && key % 5 == 0) ||
            (seq == 3 && key % 7 == 0))
                return VCDC_OP_DELETE;
        return VCDC_OP_UPSERT;
}

change_t *mock_changes_new(size_t *cntp) {
        size_t n = (size_t)mock_key_cnt * (size_t)mock_upd_cnt, i = 0;
        change_t *c = malloc(n * sizeof(*c));
        int *order = malloc((size_t)mock_key_cnt * sizeof(*order));
        uint32_t rng = 2463534242u;
        int r, k, j, t;

        assert_non_null(c);
        assert_non_null(order);
        for (k = 0; k < mock_key_cnt; k++)
                order[k] = k;
        for (r = 0; r < mock_upd_cnt; r++) {
                for (k = mock_key_cnt - 1; k > 0; k--) {
                        rng ^= rng << 13;
                        rng ^= rng >> 17;
                        rng ^= rng << 5;
                        j = (int)(rng % (uint32_t)(k + 1));
                        t = order[k];
                        order[k] = order[j];
                        order[j] = t;
                }
                for (k = 0; k < mock_key_cnt; k++) {
                        c[i].key = order[k];
                        c[i++].seq = r;
                }
        }
        free(order);
        *cntp = n;
        return c;
}

size_t mock_delete_cnt(void) {
        size_t n = 0;
        int k, s;

        for (k = 0; k < mock_key_cnt; k++)
                for (s = 0; s < mock_upd_cnt; s++)
                        n += mock_op_of(k, s) == VCDC_OP_DELETE;
        return n;
}

void mock_make_record(const change_t *ch, vcdc_record_t *rec) {
        char id[32], meta[64];

        vcdc_record_init(rec);
        snprintf(id, sizeof(id), "k%05d", ch->key);
        rec->collection = strdup("docs");
        rec->id = strdup(id);
        rec->op = mock_op_of(ch->key, ch->seq);
        rec->source_ts_ms = ch->seq;
        if (rec->op == VCDC_OP_UPSERT) {
                rec->dim = DIM;
                rec->vector = malloc(DIM * sizeof(float));
                assert_non_null(rec->vector);
                rec->vector[0] = (float)ch->key;
                rec->vector[1] = (float)ch->seq;
                rec->vector[2] = 0.5f * (float)ch->key;
                rec->vector[3] = 1.0f;
                snprintf(meta, sizeof(meta), "{\"seq\":%d}", ch->seq);
                rec->metadata = strdup(meta);
        }
        assert_non_null(rec->collection);
        assert_non_null(rec->id);
}

/* "k00042" -> 42, or -1. */
int mock_parse_key(const char *id) {
        char *end;
        long k;

        if (id[0] != 'k')
                return -1;
        k = strtol(id + 1, &end, 10);
        if (*end || k < 0 || k >= mock_key_cnt)
                return -1;
        return (int)k;
}

/*
 * The mock cluster.
 */

void mock_start(mock_t *m) {
        char errstr[512];
        rd_kafka_conf_t *rkc = rd_kafka_conf_new();
        int32_t p;

        memset(m, 0, sizeof(*m));
        rd_kafka_conf_set_log_cb(rkc, vcdc_log_rdkafka_cb);
        m->rk = rd_kafka_new(RD_KAFKA_PRODUCER, rkc, errstr, sizeof(errstr));
        assert_non_null(m->rk);
        m->mc = rd_kafka_mock_cluster_new(m->rk, BROKERS);
        assert_non_null(m->mc);
        m->bootstraps = rd_kafka_mock_cluster_bootstraps(m->mc);
        assert_int_equal(
                rd_kafka_mock_topic_create(m->mc, TOPIC, PARTS, BROKERS), 0);
        assert_int_equal(
                rd_kafka_mock_topic_create(m->mc, TOPIC ".dlq", 1, BROKERS), 0);
        /* Every broker leads a partition, so each takes its share of
         * requests and of the errors pushed onto it. */
        for (p = 0; p < PARTS; p++)
                assert_int_equal(rd_kafka_mock_partition_set_leader(
                                         m->mc, TOPIC, p, 1 + p % BROKERS),
                                 0);
}

void mock_stop(mock_t *m) {
        rd_kafka_mock_cluster_destroy(m->mc);
        rd_kafka_destroy(m->rk);
}

/* Pushes errs onto broker's stack for api: the next requests of that type
 * to that broker fail with them, in order. */
void mock_push(mock_t *m, int32_t broker, int16_t api,
               const rd_kafka_resp_err_t *errs, size_t cnt) {
        size_t i;

        for (i = 0; i < cnt; i++)
                assert_int_equal(
                        rd_kafka_mock_broker_push_request_error_rtts(
                                m->mc, broker, api, 1, errs[i], 0 /*rtt*/),
                        0);
        m->faults += cnt;
}

/* Errors still waiting on the brokers' stacks for api. */
size_t mock_pending(mock_t *m, int16_t api) {
        size_t total = 0, cnt;
        int32_t b;

        for (b = 1; b <= BROKERS; b++) {
                cnt = 0; /* left as it was when the broker has no stack */
                assert_int_equal(rd_kafka_mock_broker_error_stack_cnt(
                                         m->mc, b, api, &cnt),
                                 0);
                total += cnt;
        }
        return total;
}

void mock_set_rtt(mock_t *m, int rtt_ms) {
        int32_t b;

        for (b = 1; b <= BROKERS; b++)
                assert_int_equal(rd_kafka_mock_broker_set_rtt(m->mc, b, rtt_ms),
                                 0);
        if (rtt_ms)
                m->faults += BROKERS;
}

vcdc_conf_t *mock_client_conf(const mock_t *m, const char *const *kv) {
        vcdc_conf_t *conf = vcdc_conf_new();
        char errstr[512];

        assert_non_null(conf);
        if (vcdc_conf_set(conf, "bootstrap.servers", m->bootstraps, errstr,
                          sizeof(errstr)) ||
            /* Reconnect quickly after a broker comes back. */
            vcdc_conf_set(conf, "reconnect.backoff.ms", "20", errstr,
                          sizeof(errstr)) ||
            vcdc_conf_set(conf, "reconnect.backoff.max.ms", "200", errstr,
                          sizeof(errstr)) ||
            /* Retry soon: the faults are many, the data small. */
            vcdc_conf_set(conf, "retry.backoff.ms", "20", errstr,
                          sizeof(errstr)))
                fail_msg("%s", errstr);
        if (getenv("VCDC_TEST_DEBUG") &&
            vcdc_conf_set(conf, "debug", getenv("VCDC_TEST_DEBUG"), errstr,
                          sizeof(errstr)))
                fail_msg("%s", errstr);
        for (; kv && kv[0]; kv += 2)
                if (vcdc_conf_set(conf, kv[0], kv[1], errstr, sizeof(errstr)))
                        fail_msg("%s", errstr);
        return conf;
}

/*
 * The producer side.
 */
vcdc_producer_t *mock_producer_new(const mock_t *m, const char *const *kv) {
        vcdc_conf_t *conf = mock_client_conf(m, kv);
        char errstr[512];
        vcdc_producer_t *p =
                vcdc_producer_new(conf, TOPIC, errstr, sizeof(errstr));

        if (!p)
                fail_msg("vcdc_producer_new: %s", errstr);
        vcdc_conf_destroy(conf);
        return p;
}

void mock_send_range(vcdc_producer_t *p, const change_t *ch, size_t lo,
                     size_t hi) {
        vcdc_record_t rec;
        char errstr[512];
        size_t i;

        for (i = lo; i < hi; i++) {
                mock_make_record(&ch[i], &rec);
                if (vcdc_producer_send(p, &rec, errstr, sizeof(errstr)))
                        fail_msg("send change %zu: %s", i, errstr);
                vcdc_record_clear(&rec);
        }
}

/* Serves delivery reports until api's injected errors were all taken by
 * requests. */
void mock_drain_producer(mock_t *m, vcdc_producer_t *p, int16_t api) {
        int64_t until = vcdc_clock_ms() + WAIT_MS;

        while (mock_pending(m, api) > 0) {
                if (vcdc_clock_ms() > until)
                        fail_msg("%zu injected errors (api %d) were never "
                                 "taken by a request",
                                 mock_pending(m, api), api);
                vcdc_producer_poll(p, 20 /*ms*/);
        }
}

void mock_flush_ok(vcdc_producer_t *p) {
        char errstr[512];

        if (vcdc_producer_flush(p, WAIT_MS, errstr, sizeof(errstr)))
                fail_msg("flush: %s", errstr);
}

/*
 * Moves every partition's leadership to the next broker, one partition at
 * a time, each while the producer is idle, and sends [lo, hi) in slices
 * in between: the producer's next request for the moved partition goes to
 * the old leader, is refused (NOT_LEADER_OR_FOLLOWER) and is retried at
 * the new one after a metadata refresh. Never several at once (see the
 * top): the refresh one refusal asks for would move a partition whose
 * request is still in flight at its old leader.
 */
void mock_move_leaders(mock_t *m, vcdc_producer_t *p, const change_t *ch,
                       size_t lo, size_t hi) {
        size_t span = hi - lo;
        int32_t part;

        for (part = 0; part < PARTS; part++) {
                mock_flush_ok(p);
                assert_int_equal(
                        rd_kafka_mock_partition_set_leader(
                                m->mc, TOPIC, part, 1 + (part + 1) % BROKERS),
                        0);
                m->faults++;
                mock_send_range(p, ch, lo + span * (size_t)part / PARTS,
                                lo + span * (size_t)(part + 1) / PARTS);
        }
        mock_flush_ok(p);
}

/* Keeps serving delivery reports for ms: how long an outage lasts. */
void mock_poll_for(vcdc_producer_t *p, int ms) {
        int64_t until = vcdc_clock_ms() + ms;

        while (vcdc_clock_ms() < until)
                vcdc_producer_poll(p, 20 /*ms*/);
}

/*
 * Reading the topic back: a plain librdkafka consumer from offset 0 to the
 * high watermarks, every value decoded with vcdc's codec.
 */

void mock_logcheck_free(logcheck_t *lc) {
        free(lc->seen);
}

int mock_record_as_sent(const vcdc_record_t *rec, int key) {
        int seq = (int)rec->source_ts_ms;

        if (strcmp(rec->collection, "docs") || rec->source_ts_ms < 0 ||
            rec->source_ts_ms >= mock_upd_cnt ||
            rec->op != mock_op_of(key, seq))
                return 0;
        if (rec->op == VCDC_OP_DELETE)
                return 1;
        return rec->dim == DIM && rec->vector[0] == (float)key &&
               rec->vector[1] == (float)seq &&
               rec->vector[2] == 0.5f * (float)key && rec->metadata;
}

void mock_read_log(const mock_t *m, logcheck_t *lc) {
        rd_kafka_topic_partition_list_t *parts;
        int64_t lo, hi[PARTS], next[PARTS], until = vcdc_clock_ms() + WAIT_MS;
        int *last_seq = malloc((size_t)mock_key_cnt * sizeof(int));
        char *open_delete = calloc((size_t)mock_key_cnt, 1);
        rd_kafka_conf_t *rkc = rd_kafka_conf_new();
        vcdc_codec_t *codec;
        rd_kafka_message_t *rkm;
        vcdc_record_t rec;
        char errstr[512], *collection, *id;
        rd_kafka_t *rk;
        int p, done, k, seq;

        memset(lc, 0, sizeof(*lc));
        lc->seen = calloc((size_t)mock_key_cnt * (size_t)mock_upd_cnt, 1);
        assert_non_null(lc->seen);
        assert_non_null(last_seq);
        assert_non_null(open_delete);
        for (k = 0; k < mock_key_cnt; k++)
                last_seq[k] = -1;
        assert_non_null(codec = vcdc_codec_new(errstr, sizeof(errstr)));
        rd_kafka_conf_set_log_cb(rkc, vcdc_log_rdkafka_cb);
        assert_int_equal(rd_kafka_conf_set(rkc, "bootstrap.servers",
                                           m->bootstraps, errstr,
                                           sizeof(errstr)),
                         RD_KAFKA_CONF_OK);
        assert_int_equal(rd_kafka_conf_set(rkc, "group.id", "vcdc.readback",
                                           errstr, sizeof(errstr)),
                         RD_KAFKA_CONF_OK);
        assert_int_equal(rd_kafka_conf_set(rkc, "enable.auto.commit", "false",
                                           errstr, sizeof(errstr)),
                         RD_KAFKA_CONF_OK);
        rk = rd_kafka_new(RD_KAFKA_CONSUMER, rkc, errstr, sizeof(errstr));
        assert_non_null(rk);
        rd_kafka_poll_set_consumer(rk);

        parts = rd_kafka_topic_partition_list_new(PARTS);
        for (p = 0; p < PARTS; p++) {
                assert_int_equal(rd_kafka_query_watermark_offsets(
                                         rk, TOPIC, p, &lo, &hi[p], 10000),
                                 0);
                assert_int_equal(lo, 0);
                lc->log_size += (uint64_t)hi[p];
                next[p] = 0;
                rd_kafka_topic_partition_list_add(parts, TOPIC, p)->offset =
                        RD_KAFKA_OFFSET_BEGINNING;
        }
        assert_int_equal(rd_kafka_assign(rk, parts), 0);
        rd_kafka_topic_partition_list_destroy(parts);

        for (;;) {
                for (p = 0, done = 1; p < PARTS; p++)
                        done &= next[p] >= hi[p];
                if (done)
                        break;
                if (vcdc_clock_ms() > until)
                        fail_msg("read-back did not reach the log end");
                if (!(rkm = rd_kafka_consumer_poll(rk, 100 /*ms*/)))
                        continue;
                if (rkm->err) {
                        if (getenv("VCDC_TEST_LOG"))
                                print_message("[ mock     ] read-back: %s\n",
                                              rd_kafka_message_errstr(rkm));
                        rd_kafka_message_destroy(rkm);
                        continue;
                }
                if (rkm->offset > next[rkm->partition])
                        lc->gaps +=
                                (uint64_t)(rkm->offset - next[rkm->partition]);
                next[rkm->partition] = rkm->offset + 1;
                lc->messages++;
                if (vcdc_key_decode(rkm->key, rkm->key_len, &collection, &id) ==
                    -1) {
                        lc->bad++;
                        rd_kafka_message_destroy(rkm);
                        continue;
                }
                k = mock_parse_key(id);
                free(collection);
                free(id);
                if (k < 0) {
                        lc->bad++;
                } else if (!rkm->payload) {
                        /* A tombstone follows its DELETE record. */
                        if (open_delete[k]) {
                                open_delete[k] = 0;
                                lc->complete++;
                        } else {
                                lc->lone++;
                        }
                } else if (vcdc_record_init(&rec),
                           vcdc_codec_decode(codec, rkm->payload, rkm->len,
                                             &rec, errstr,
                                             sizeof(errstr)) == -1) {
                        lc->bad++;
                } else {
                        seq = (int)rec.source_ts_ms;
                        if (!mock_record_as_sent(&rec, k))
                                lc->bad++;
                        else if (seq == last_seq[k])
                                lc->dups++;
                        else if (seq < last_seq[k])
                                lc->reorders++;
                        else {
                                if (open_delete[k])
                                        lc->lone++;
                                last_seq[k] = seq;
                                if (lc->seen[k * mock_upd_cnt + seq]++)
                                        lc->dups++;
                                else if (rec.op == VCDC_OP_DELETE)
                                        open_delete[k] = 1;
                                else
                                        lc->complete++;
                        }
                        vcdc_record_clear(&rec);
                }
                rd_kafka_message_destroy(rkm);
        }
        for (k = 0; k < mock_key_cnt; k++)
                lc->lone += open_delete[k];
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
        vcdc_codec_destroy(codec);
        free(last_seq);
        free(open_delete);
}

/* The whole stream was acknowledged: the log holds every record once, in
 * order per key. */
void mock_check_log_complete(const mock_t *m, const char *name, size_t n,
                             uint64_t acked) {
        counts_t c = {.faults = m->faults, .written = acked};
        logcheck_t lc;
        size_t i, missing = 0;

        mock_read_log(m, &lc);
        for (i = 0; i < (size_t)mock_key_cnt * (size_t)mock_upd_cnt; i++)
                if (!lc.seen[i] && missing++ < 5 && getenv("VCDC_TEST_LOG"))
                        print_message("[ mock     ] missing: key %d seq %d\n",
                                      (int)i / mock_upd_cnt,
                                      (int)i % mock_upd_cnt);
        c.verified = lc.complete;
        c.differences = missing + lc.dups + lc.reorders + lc.bad + lc.lone;
        mock_report(name, &c, "records");
        if (lc.gaps || lc.log_size != lc.messages)
                print_message("[ mock     ] the log holds %" PRIu64
                              " messages, %" PRIu64 " read back, %" PRIu64
                              " skipped\n",
                              lc.log_size, lc.messages, lc.gaps);
        assert_int_equal(acked, n);
        assert_int_equal(lc.log_size, n + mock_delete_cnt());
        assert_int_equal(lc.gaps, 0);
        assert_int_equal(lc.messages, n + mock_delete_cnt());
        assert_int_equal(missing, 0);
        assert_int_equal(lc.dups, 0);
        assert_int_equal(lc.reorders, 0);
        assert_int_equal(lc.bad, 0);
        assert_int_equal(lc.lone, 0);
        assert_int_equal(lc.complete, n);
        mock_logcheck_free(&lc);
}

/* The end of a producer test without failures: everything sent was
 * acknowledged, and the log holds it all, once, in order per key. */
void mock_end_produce(mock_t *m, vcdc_producer_t *p, change_t *ch, size_t n,
                      const char *name) {
        vcdc_producer_stats_t st;

        vcdc_producer_stats(p, &st);
        assert_int_equal(st.sent, n);
        assert_int_equal(st.failed, 0);
        vcdc_producer_destroy(p);
        mock_check_log_complete(m, name, n, st.acked);
        free(ch);
        mock_stop(m);
}

/* Broker b down while changes [lo, hi) are sent and half a second passes:
 * its partitions wait, the others go on; then it is up again. */
void mock_send_through_outage(mock_t *m, vcdc_producer_t *p, const change_t *ch,
                              size_t lo, size_t hi, int32_t b) {
        assert_int_equal(rd_kafka_mock_broker_set_down(m->mc, b), 0);
        m->faults++;
        mock_send_range(p, ch, lo, hi);
        mock_poll_for(p, 500);
        assert_int_equal(rd_kafka_mock_broker_set_up(m->mc, b), 0);
}
