/*
 * vcdc - dead-letter producer: each dead letter kept until acknowledged,
 * sent again after a failure that may pass.
 * It never blocks on the consumer and never decides what is a dead letter.
 */
#include "dlq.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "clock.h"
#include "log.h"

/* One dead letter, owned here until its delivery report says delivered. */
typedef struct letter_s {
        struct letter_s *next, *prev;
        char *key, *value; /* copies; value NULL for a tombstone */
        size_t key_len, value_len;
        char *error, *err_class, *src_topic;
        int32_t partition;
        int64_t offset, ts_ms;
        int in_flight;              /* handed to librdkafka, no report yet */
        rd_kafka_resp_err_t failed; /* last failed delivery, or 0 */
} letter_t;

struct vcdc_dlq_s {
        rd_kafka_t *rk;
        char *topic;
        char *sink_name;
        letter_t head;   /* circular list of the letters not acknowledged */
        size_t pending;  /* letters in the list */
        uint64_t acked;
        letter_t *fatal; /* one that can never be delivered */
        rd_kafka_resp_err_t fatal_err;
};

/* A delivery failure that sending again may cure: the cluster or the
 * topic's leader was unavailable until message.timeout.ms. Everything
 * else (too large, not authorised, no such topic, invalid record, a fatal
 * producer error) fails the same way each time. */
static int failure_may_pass(rd_kafka_resp_err_t err) {
        switch (err) {
        case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
        case RD_KAFKA_RESP_ERR__TIMED_OUT:
        case RD_KAFKA_RESP_ERR__TRANSPORT:
        case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
        case RD_KAFKA_RESP_ERR__PURGE_QUEUE:
        case RD_KAFKA_RESP_ERR__PURGE_INFLIGHT:
        case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
        case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
        case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
        case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS:
        case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
        case RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION:
        case RD_KAFKA_RESP_ERR_KAFKA_STORAGE_ERROR:
        case RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER:
        case RD_KAFKA_RESP_ERR_UNKNOWN_PRODUCER_ID:
                return 1;
        default:
                return 0;
        }
}

static void letter_unlink(vcdc_dlq_t *dlq, letter_t *l) {
        l->prev->next = l->next;
        l->next->prev = l->prev;
        dlq->pending--;
}

static void letter_free(letter_t *l) {
        if (!l)
                return;
        free(l->key);
        free(l->value);
        free(l->error);
        free(l->err_class);
        free(l->src_topic);
        free(l);
}

static void dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *rkm,
                      void *opaque) {
        vcdc_dlq_t *dlq = opaque;
        letter_t *l = rkm->_private;

        (void)rk;
        l->in_flight = 0;
        if (!rkm->err) {
                letter_unlink(dlq, l);
                letter_free(l);
                dlq->acked++;
                return;
        }
        l->failed = rkm->err;
        if (failure_may_pass(rkm->err)) {
                VCDC_WARN("dlq",
                          "dead letter of %s [%" PRId32 "] offset %" PRId64
                          " not delivered to %s: %s (sent again)",
                          l->src_topic, l->partition, l->offset, dlq->topic,
                          rd_kafka_err2str(rkm->err));
        } else if (!dlq->fatal) {
                dlq->fatal = l;
                dlq->fatal_err = rkm->err;
        }
}

/*
 * The user's librdkafka settings (brokers, security, timeouts) without the
 * consumer-only ones, which a producer would warn about and ignore.
 * rd_kafka_conf_dup_filter() drops every property a filter is a prefix of.
 */
static rd_kafka_conf_t *producer_conf(const vcdc_conf_t *conf) {
        static const char *consumer_only[] = {
                "group.", "session.timeout.ms", "heartbeat.interval.ms",
                "max.poll.interval.ms", "partition.assignment.strategy",
                "coordinator.query.interval.ms", "enable.auto.",
                "auto.commit.", "auto.offset.reset", "queued.",
                "fetch.", "isolation.level", "enable.partition.eof",
                "check.crcs", "consume.callback.max.messages",
                "offset.store."};
        rd_kafka_conf_t *all = vcdc_conf_kafka_dup(conf), *rkc;

        rkc = rd_kafka_conf_dup_filter(
                all, sizeof(consumer_only) / sizeof(*consumer_only),
                consumer_only);
        rd_kafka_conf_destroy(all);
        return rkc;
}

vcdc_dlq_t *vcdc_dlq_new(const vcdc_conf_t *conf, const char *topic,
                         const char *sink_name, char *errstr,
                         size_t errstr_size) {
        vcdc_dlq_t *dlq = calloc(1, sizeof(*dlq));
        rd_kafka_conf_t *rkc = NULL;
        char err[512];
        int cnt;

        if (!dlq || !(dlq->topic = strdup(topic)) ||
            !(dlq->sink_name = strdup(sink_name))) {
                snprintf(errstr, errstr_size, "out of memory");
                goto err;
        }
        dlq->head.next = dlq->head.prev = &dlq->head;
        rkc = producer_conf(conf);
        /* A missing dead-letter topic is created below, never auto-created
         * by a metadata request with whatever the broker defaults to. */
        if (rd_kafka_conf_set(rkc, "enable.idempotence", "true", err,
                              sizeof(err)) ||
            rd_kafka_conf_set(rkc, "allow.auto.create.topics", "false", err,
                              sizeof(err)) ||
            rd_kafka_conf_set(rkc, "acks", "all", err, sizeof(err)) ||
            rd_kafka_conf_set(rkc, "linger.ms", "5", err, sizeof(err))) {
                snprintf(errstr, errstr_size, "dead-letter producer: %s", err);
                goto err;
        }
        rd_kafka_conf_set_opaque(rkc, dlq);
        rd_kafka_conf_set_dr_msg_cb(rkc, dr_msg_cb);
        rd_kafka_conf_set_log_cb(rkc, vcdc_log_rdkafka_cb);
        if (!(dlq->rk = rd_kafka_new(RD_KAFKA_PRODUCER, rkc, err,
                                     sizeof(err)))) {
                snprintf(errstr, errstr_size, "dead-letter producer: %s", err);
                goto err;
        }
        rkc = NULL;
        if (vcdc_admin_partition_count(dlq->rk, topic, &cnt, 10000, errstr,
                                       errstr_size) == -1)
                goto err;
        if (!cnt && vcdc_admin_create_topic(dlq->rk, topic, 1, -1, NULL, 30000,
                                            errstr, errstr_size) == -1)
                goto err;
        return dlq;
err:
        if (rkc)
                rd_kafka_conf_destroy(rkc);
        vcdc_dlq_destroy(dlq);
        return NULL;
}

void vcdc_dlq_destroy(vcdc_dlq_t *dlq) {
        letter_t *l;

        if (!dlq)
                return;
        if (dlq->rk) {
                rd_kafka_flush(dlq->rk, 10000);
                /* What is still queued reports as purged, then goes. */
                rd_kafka_purge(dlq->rk, RD_KAFKA_PURGE_F_QUEUE |
                                                RD_KAFKA_PURGE_F_INFLIGHT);
                rd_kafka_poll(dlq->rk, 0 /*non-blocking*/);
                rd_kafka_destroy(dlq->rk);
        }
        if (dlq->head.next) {
                while ((l = dlq->head.next) != &dlq->head) {
                        letter_unlink(dlq, l);
                        letter_free(l);
                }
        }
        free(dlq->topic);
        free(dlq->sink_name);
        free(dlq);
}

/* Hands l to librdkafka. Returns 0, 1 when its queue is full (l waits for
 * the next flush), or -1 when librdkafka refuses it for good. */
static int produce(vcdc_dlq_t *dlq, letter_t *l) {
        char pbuf[16], obuf[32], tbuf[32];
        rd_kafka_headers_t *hdrs = rd_kafka_headers_new(7);
        rd_kafka_resp_err_t err;

        snprintf(pbuf, sizeof(pbuf), "%" PRId32, l->partition);
        snprintf(obuf, sizeof(obuf), "%" PRId64, l->offset);
        snprintf(tbuf, sizeof(tbuf), "%" PRId64, l->ts_ms);
        rd_kafka_header_add(hdrs, "vcdc.error", -1, l->error, -1);
        rd_kafka_header_add(hdrs, "vcdc.error.class", -1, l->err_class, -1);
        rd_kafka_header_add(hdrs, "vcdc.topic", -1, l->src_topic, -1);
        rd_kafka_header_add(hdrs, "vcdc.partition", -1, pbuf, -1);
        rd_kafka_header_add(hdrs, "vcdc.offset", -1, obuf, -1);
        rd_kafka_header_add(hdrs, "vcdc.sink", -1, dlq->sink_name, -1);
        rd_kafka_header_add(hdrs, "vcdc.ts_ms", -1, tbuf, -1);
        /* No copy: the letter's bytes live until its delivery report. */
        err = rd_kafka_producev(dlq->rk, RD_KAFKA_V_TOPIC(dlq->topic),
                                RD_KAFKA_V_KEY(l->key, l->key_len),
                                RD_KAFKA_V_VALUE(l->value, l->value_len),
                                RD_KAFKA_V_HEADERS(hdrs),
                                RD_KAFKA_V_OPAQUE(l), RD_KAFKA_V_END);
        if (!err) {
                l->in_flight = 1;
                l->failed = 0;
                return 0;
        }
        rd_kafka_headers_destroy(hdrs); /* not taken on failure */
        if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL)
                return 1;
        l->failed = err;
        if (!dlq->fatal) {
                dlq->fatal = l;
                dlq->fatal_err = err;
        }
        return -1;
}

static char *dup_mem(const void *p, size_t len) {
        char *d = malloc(len ? len : 1);

        if (d && len)
                memcpy(d, p, len);
        return d;
}

int vcdc_dlq_send(vcdc_dlq_t *dlq, const char *src_topic, int32_t partition,
                  int64_t offset, const void *key, size_t key_len,
                  const void *value, size_t value_len, const char *err_class,
                  const char *error, char *errstr, size_t errstr_size) {
        letter_t *l = calloc(1, sizeof(*l));

        if (!l || !(l->key = dup_mem(key, key_len)) ||
            (value && !(l->value = dup_mem(value, value_len))) ||
            !(l->error = strdup(error)) ||
            !(l->err_class = strdup(err_class)) ||
            !(l->src_topic = strdup(src_topic))) {
                letter_free(l);
                snprintf(errstr, errstr_size, "dead letter to %s: out of memory",
                         dlq->topic);
                return -1;
        }
        l->key_len = key_len;
        l->value_len = value ? value_len : 0;
        l->partition = partition;
        l->offset = offset;
        l->ts_ms = vcdc_wall_ms();
        l->prev = dlq->head.prev;
        l->next = &dlq->head;
        l->prev->next = l;
        dlq->head.prev = l;
        dlq->pending++;
        produce(dlq, l); /* a full queue or a refusal: the flush says */
        rd_kafka_poll(dlq->rk, 0 /*non-blocking*/);
        return 0;
}

int vcdc_dlq_flush(vcdc_dlq_t *dlq, int timeout_ms, char *errstr,
                   size_t errstr_size) {
        int64_t deadline = vcdc_clock_ms() + timeout_ms, left;
        letter_t *l;

        for (;;) {
                /* Those not in flight (new, waiting for room, or failed in
                 * a way that may pass) go now, until the queue is full. */
                for (l = dlq->head.next; l != &dlq->head && !dlq->fatal;
                     l = l->next)
                        if (!l->in_flight && produce(dlq, l) == 1)
                                break;
                if (dlq->fatal || !dlq->pending ||
                    (left = deadline - vcdc_clock_ms()) <= 0)
                        break;
                rd_kafka_poll(dlq->rk, left < 50 ? (int)left : 50);
        }
        if (dlq->fatal) {
                l = dlq->fatal;
                snprintf(errstr, errstr_size,
                         "the dead letter of %s [%" PRId32 "] offset %" PRId64
                         " can never be delivered to %s: %s",
                         l->src_topic, l->partition, l->offset, dlq->topic,
                         rd_kafka_err2str(dlq->fatal_err));
                return VCDC_DLQ_FATAL;
        }
        if (!dlq->pending)
                return VCDC_DLQ_DONE;
        l = dlq->head.next;
        snprintf(errstr, errstr_size,
                 "%zu dead letter(s) to %s not acknowledged yet%s%s",
                 dlq->pending, dlq->topic, l->failed ? ": " : "",
                 l->failed ? rd_kafka_err2str(l->failed) : "");
        return VCDC_DLQ_AGAIN;
}

size_t vcdc_dlq_pending(const vcdc_dlq_t *dlq) {
        return dlq->pending;
}

uint64_t vcdc_dlq_count(const vcdc_dlq_t *dlq) {
        return dlq->acked;
}

const char *vcdc_dlq_topic(const vcdc_dlq_t *dlq) {
        return dlq->topic;
}
