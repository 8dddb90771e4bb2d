/*
 * vcdc - dead-letter producer.
 */
#include "dlq.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admin.h"
#include "log.h"

struct vcdc_dlq_s {
        rd_kafka_t *rk;
        char *topic;
        char *sink_name;
        uint64_t acked, failed, failed_reported;
};

static void dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *rkm,
                      void *opaque) {
        vcdc_dlq_t *dlq = opaque;

        (void)rk;
        if (rkm->err) {
                dlq->failed++;
                VCDC_ERR("dlq", "dead letter not delivered to %s: %s",
                         dlq->topic, rd_kafka_err2str(rkm->err));
        } else {
                dlq->acked++;
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
        if (!dlq)
                return;
        if (dlq->rk) {
                rd_kafka_flush(dlq->rk, 10000);
                rd_kafka_destroy(dlq->rk);
        }
        free(dlq->topic);
        free(dlq->sink_name);
        free(dlq);
}

int vcdc_dlq_send(vcdc_dlq_t *dlq, const char *src_topic, int32_t partition,
                  int64_t offset, const void *key, size_t key_len,
                  const void *value, size_t value_len, const char *err_class,
                  const char *error, char *errstr, size_t errstr_size) {
        char pbuf[16], obuf[32], tbuf[32];
        rd_kafka_headers_t *hdrs = rd_kafka_headers_new(7);
        rd_kafka_resp_err_t err;

        snprintf(pbuf, sizeof(pbuf), "%" PRId32, partition);
        snprintf(obuf, sizeof(obuf), "%" PRId64, offset);
        snprintf(tbuf, sizeof(tbuf), "%lld", (long long)time(NULL) * 1000);
        rd_kafka_header_add(hdrs, "vcdc.error", -1, error, -1);
        rd_kafka_header_add(hdrs, "vcdc.error.class", -1, err_class, -1);
        rd_kafka_header_add(hdrs, "vcdc.topic", -1, src_topic, -1);
        rd_kafka_header_add(hdrs, "vcdc.partition", -1, pbuf, -1);
        rd_kafka_header_add(hdrs, "vcdc.offset", -1, obuf, -1);
        rd_kafka_header_add(hdrs, "vcdc.sink", -1, dlq->sink_name, -1);
        rd_kafka_header_add(hdrs, "vcdc.ts_ms", -1, tbuf, -1);
        for (;;) {
                err = rd_kafka_producev(
                        dlq->rk, RD_KAFKA_V_TOPIC(dlq->topic),
                        RD_KAFKA_V_KEY(key, key_len),
                        RD_KAFKA_V_VALUE((void *)value, value_len),
                        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                        RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_END);
                if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
                        break;
                rd_kafka_poll(dlq->rk, 100 /*ms*/);
        }
        if (err) {
                rd_kafka_headers_destroy(hdrs); /* not taken on failure */
                snprintf(errstr, errstr_size, "dead letter to %s: %s",
                         dlq->topic, rd_kafka_err2str(err));
                return -1;
        }
        rd_kafka_poll(dlq->rk, 0 /*non-blocking*/);
        return 0;
}

int vcdc_dlq_flush(vcdc_dlq_t *dlq, int timeout_ms, char *errstr,
                   size_t errstr_size) {
        int queued;

        rd_kafka_flush(dlq->rk, timeout_ms);
        queued = rd_kafka_outq_len(dlq->rk);
        if (queued > 0 || dlq->failed > dlq->failed_reported) {
                snprintf(errstr, errstr_size,
                         "dead letters to %s: %llu failed, %d still queued",
                         dlq->topic,
                         (unsigned long long)(dlq->failed -
                                              dlq->failed_reported),
                         queued);
                /* The caller does not commit: the records are read again
                 * and dead-lettered anew. */
                dlq->failed_reported = dlq->failed;
                return -1;
        }
        return 0;
}

uint64_t vcdc_dlq_count(const vcdc_dlq_t *dlq) {
        return dlq->acked;
}

const char *vcdc_dlq_topic(const vcdc_dlq_t *dlq) {
        return dlq->topic;
}
