/*
 * vcdc - the producer library.
 * It never reads input nor decides what a record means.
 */
#include "producer.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "clock.h"
#include "codec.h"
#include "log.h"

/* Tells the delivery report which kind of message it reports on. */
#define MSG_RECORD ((void *)1)  /* an upsert, or a delete's DELETE record */
#define MSG_DELETE ((void *)2)  /* a DELETE record a tombstone follows */
#define MSG_TOMBSTONE ((void *)3)

/* How often the topic's partition count is read again. */
#define PARTITIONS_REFRESH_MS 30000

struct vcdc_producer_s {
        rd_kafka_t *rk;
        rd_kafka_topic_t *rkt;
        vcdc_codec_t *codec;
        char *key; /* the last record's key: librdkafka copies keys */
        size_t key_size;
        /* The last record's value, copied by librdkafka into the message
         * it allocates anyway (one allocation a message, not two, and this
         * buffer stays hot in the cache). */
        void *value;
        size_t value_size;
        char *topic;
        int partitions, replication; /* for a topic created here */
        /* The topic's partition count, which places each key (murmur2, as
         * the Java client does) and goes with every message as the
         * vcdc.partitions header; read again every PARTITIONS_REFRESH_MS.
         * 0 until first read. */
        int32_t partition_cnt;
        char partition_hdr[16];
        size_t partition_hdr_len;
        int64_t partitions_read;
        vcdc_producer_stats_t stats;
        uint64_t failed_msgs; /* failed messages of any kind */
        int fatal;
        char fatal_err[512];
};

static void dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *rkm,
                      void *opaque) {
        vcdc_producer_t *p = opaque;

        (void)rk;
        if (rkm->err) {
                /* A delete's tombstone failing leaves the delete applied by
                 * consumers but the key uncompacted: counted as a failed
                 * message, never as acked. */
                p->failed_msgs++;
                if (rkm->_private != MSG_TOMBSTONE)
                        p->stats.failed++;
                VCDC_ERR("producer",
                         "delivery failed for key %.*s (%s [%d]): %s",
                         (int)(rkm->key_len > 200 ? 200 : rkm->key_len),
                         (const char *)rkm->key, p->topic, rkm->partition,
                         rd_kafka_err2str(rkm->err));
                return;
        }
        /* A delete is acked when its tombstone is; the DELETE record before
         * it is in the same partition, so it was acked first. */
        if (rkm->_private == MSG_RECORD || rkm->_private == MSG_TOMBSTONE)
                p->stats.acked++;
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason,
                     void *opaque) {
        vcdc_producer_t *p = opaque;
        char fatal[400];

        if (err == RD_KAFKA_RESP_ERR__FATAL) {
                rd_kafka_fatal_error(rk, fatal, sizeof(fatal));
                snprintf(p->fatal_err, sizeof(p->fatal_err),
                         "fatal producer error: %s", fatal);
                p->fatal = 1;
                VCDC_ERR("producer", "%s", p->fatal_err);
                return;
        }
        /* Informational: librdkafka retries by itself. */
        VCDC_WARN("producer", "%s: %s", rd_kafka_err2name(err), reason);
}

vcdc_producer_t *vcdc_producer_new(const vcdc_conf_t *conf, const char *topic,
                                   char *errstr, size_t errstr_size) {
        vcdc_producer_t *p;
        rd_kafka_conf_t *rkc;
        char value[64];
        size_t size = sizeof(value);

        if (!(p = calloc(1, sizeof(*p))) || !(p->topic = strdup(topic))) {
                free(p);
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        p->partitions = (int)vcdc_conf_int(conf, "vcdc.topic.partitions");
        p->replication = (int)vcdc_conf_int(conf, "vcdc.topic.replication");
        if (!(p->codec = vcdc_codec_new(errstr, errstr_size)))
                goto err;
        vcdc_codec_set_schema_id(
                p->codec, (int32_t)vcdc_conf_int(conf, "vcdc.schema.id"));

        rkc = vcdc_conf_kafka_dup(conf);
        /* Always on: no duplicates or reordering from retries. */
        if (vcdc_conf_kafka_set(rkc, "enable.idempotence", "true",
                                errstr, errstr_size) ||
            vcdc_conf_kafka_set(rkc, "acks", "all", errstr, errstr_size) ||
            /* A missing topic is refused, never auto-created with a
             * retention policy that would lose history. */
            vcdc_conf_kafka_set(rkc, "allow.auto.create.topics", "false",
                                errstr, errstr_size)) {
                rd_kafka_conf_destroy(rkc);
                goto err;
        }
        /* vcdc's records are placed here (send()); anything else sent
         * through vcdc_producer_handle() lands where they would. */
        if (rd_kafka_conf_get(rkc, "partitioner", value, &size) ==
                    RD_KAFKA_CONF_OK &&
            !strcmp(value, "consistent_random") &&
            vcdc_conf_kafka_set(rkc, "partitioner", "murmur2_random",
                                errstr, errstr_size)) {
                rd_kafka_conf_destroy(rkc);
                goto err;
        }
        rd_kafka_conf_set_opaque(rkc, p);
        rd_kafka_conf_set_dr_msg_cb(rkc, dr_msg_cb);
        rd_kafka_conf_set_error_cb(rkc, error_cb);
        rd_kafka_conf_set_log_cb(rkc, vcdc_log_rdkafka_cb);
        if (!(p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, rkc, errstr,
                                   errstr_size))) {
                rd_kafka_conf_destroy(rkc);
                goto err;
        }
        if (!(p->rkt = rd_kafka_topic_new(p->rk, topic, NULL))) {
                snprintf(errstr, errstr_size, "topic %s: %s", topic,
                         rd_kafka_err2str(rd_kafka_last_error()));
                goto err;
        }
        return p;
err:
        vcdc_producer_destroy(p);
        return NULL;
}

/* The partition count keys are placed with from now on. */
static void set_partitions(vcdc_producer_t *p, int cnt) {
        if (p->partition_cnt && cnt != p->partition_cnt)
                VCDC_WARN("producer",
                          "topic %s now has %d partitions (was %" PRId32
                          "): keys move partition, so one id's changes may "
                          "sit in two partitions; consumers stop on that. "
                          "Keep a topic's partition count fixed",
                          p->topic, cnt, p->partition_cnt);
        p->partition_cnt = (int32_t)cnt;
        p->partition_hdr_len = (size_t)snprintf(
                p->partition_hdr, sizeof(p->partition_hdr), "%d", cnt);
        p->partitions_read = vcdc_clock_ms();
}

/* Reads the topic's partition count (when it is time to). Returns 0, or -1
 * with errstr when the topic is gone or the cluster does not answer and no
 * count is known yet. */
static int read_partitions(vcdc_producer_t *p, char *errstr,
                           size_t errstr_size) {
        int64_t now = vcdc_clock_ms();
        char err[256];
        int cnt;

        if (p->partition_cnt && now - p->partitions_read < PARTITIONS_REFRESH_MS)
                return 0;
        p->partitions_read = now;
        if (vcdc_admin_partition_count(p->rk, p->topic, &cnt, 10000, err,
                                       sizeof(err)) == -1 ||
            cnt <= 0) {
                if (p->partition_cnt) {
                        VCDC_WARN("producer",
                                  "reading the partition count of %s: %s "
                                  "(going on with %" PRId32 ")",
                                  p->topic, cnt <= 0 ? "no such topic" : err,
                                  p->partition_cnt);
                        return 0;
                }
                snprintf(errstr, errstr_size, "topic %s: %s", p->topic,
                         cnt <= 0 ? "does not exist" : err);
                return -1;
        }
        set_partitions(p, cnt);
        return 0;
}

int vcdc_producer_ensure_topic(vcdc_producer_t *p, int create,
                               int allow_retention, char *errstr,
                               size_t errstr_size) {
        static const char *const compacted[] = {"cleanup.policy", "compact",
                                                NULL};
        char policy[128];
        int cnt;

        if (vcdc_admin_partition_count(p->rk, p->topic, &cnt, 10000, errstr,
                                       errstr_size) == -1)
                return -1;
        if (!cnt) {
                if (!create) {
                        snprintf(errstr, errstr_size,
                                 "topic %s does not exist: create it with "
                                 "--create-topic (compacted, "
                                 "--partitions N)",
                                 p->topic);
                        return -1;
                }
                if (vcdc_admin_create_topic(p->rk, p->topic, p->partitions,
                                            p->replication, compacted, 30000,
                                            errstr, errstr_size) == -1)
                        return -1;
                VCDC_NOTICE("producer",
                            "created topic %s: %d partitions, "
                            "cleanup.policy=compact",
                            p->topic, p->partitions);
                /* Its metadata may take a moment to reach every broker:
                 * the count is the one just created. */
                set_partitions(p, p->partitions);
                return 0;
        }
        set_partitions(p, cnt);
        if (vcdc_admin_topic_config(p->rk, p->topic, "cleanup.policy", policy,
                                    sizeof(policy), 10000, errstr,
                                    errstr_size) == -1)
                return -1;
        if (!vcdc_admin_policy_keeps_history(policy)) {
                if (!allow_retention) {
                        snprintf(errstr, errstr_size,
                                 "topic %s has cleanup.policy=%s: records "
                                 "older than its retention are deleted, so a "
                                 "replay from offset zero could not rebuild a "
                                 "database. Use a compacted topic "
                                 "(cleanup.policy=compact), or pass "
                                 "--allow-retention to write anyway",
                                 p->topic, policy);
                        return -1;
                }
                VCDC_WARN("producer",
                          "topic %s has cleanup.policy=%s: history older "
                          "than its retention will be lost (allowed by "
                          "--allow-retention)",
                          p->topic, policy);
        }
        return 0;
}

/* Produces one message, waiting while the queue is full. Takes ownership of
 * value (freed by librdkafka, or here on failure). Returns 0,
 * VCDC_PRODUCER_ERR_RECORD when the message is too large to ever be sent,
 * or VCDC_PRODUCER_ERR_FATAL. */
static int produce(vcdc_producer_t *p, int32_t partition, const void *value,
                   size_t len, const char *key, size_t key_len, void *kind,
                   const vcdc_tag_t *tags, size_t tag_cnt, char *errstr,
                   size_t errstr_size) {
        rd_kafka_resp_err_t err;
        rd_kafka_headers_t *hdrs = NULL;
        char max[32] = "?";
        size_t max_size = sizeof(max), i;
        int r = VCDC_PRODUCER_ERR_FATAL;

        if (tag_cnt) {
                /* A header list of its own (librdkafka takes it with the
                 * message); only tagged messages pay for the allocation. */
                hdrs = rd_kafka_headers_new(tag_cnt + 1);
                rd_kafka_header_add(hdrs, "vcdc.partitions", -1,
                                    p->partition_hdr,
                                    (ssize_t)p->partition_hdr_len);
                for (i = 0; i < tag_cnt; i++)
                        rd_kafka_header_add(hdrs, tags[i].name, -1,
                                            tags[i].value, -1);
        }
        for (;;) {
                if (p->fatal) {
                        snprintf(errstr, errstr_size, "%s", p->fatal_err);
                        goto fail;
                }
                if (hdrs)
                        err = rd_kafka_producev(
                                p->rk, RD_KAFKA_V_RKT(p->rkt),
                                RD_KAFKA_V_PARTITION(partition),
                                RD_KAFKA_V_KEY(key, key_len),
                                RD_KAFKA_V_VALUE((void *)value, len),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                RD_KAFKA_V_HEADERS(hdrs),
                                RD_KAFKA_V_OPAQUE(kind), RD_KAFKA_V_END);
                else
                        err = rd_kafka_producev(
                                p->rk, RD_KAFKA_V_RKT(p->rkt),
                                RD_KAFKA_V_PARTITION(partition),
                                RD_KAFKA_V_KEY(key, key_len),
                                RD_KAFKA_V_VALUE((void *)value, len),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                RD_KAFKA_V_HEADER("vcdc.partitions",
                                                  p->partition_hdr,
                                                  (ssize_t)p->partition_hdr_len),
                                RD_KAFKA_V_OPAQUE(kind), RD_KAFKA_V_END);
                if (!err)
                        break;
                if (err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE) {
                        /* librdkafka's own check, before anything is sent:
                         * this record can never go, the next one may. */
                        rd_kafka_conf_get(rd_kafka_conf(p->rk),
                                          "message.max.bytes", max,
                                          &max_size);
                        snprintf(errstr, errstr_size,
                                 "record %.*s is %zu bytes, more than "
                                 "message.max.bytes (%s): make it smaller, "
                                 "or raise -X message.max.bytes and the "
                                 "topic's max.message.bytes",
                                 (int)key_len, key, len + key_len, max);
                        r = VCDC_PRODUCER_ERR_RECORD;
                        goto fail;
                }
                if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                        snprintf(errstr, errstr_size, "produce %.*s: %s",
                                 (int)key_len, key, rd_kafka_err2str(err));
                        goto fail;
                }
                /* Let delivery reports make room. */
                rd_kafka_poll(p->rk, 100 /*ms*/);
        }
        p->stats.messages++;
        p->stats.bytes += len;
        return 0;
fail:
        if (hdrs) /* not taken on failure */
                rd_kafka_headers_destroy(hdrs);
        return r;
}

int vcdc_producer_send(vcdc_producer_t *p, const vcdc_record_t *rec,
                       char *errstr, size_t errstr_size) {
        return vcdc_producer_send_tagged(p, rec, NULL, 0, errstr, errstr_size);
}

int vcdc_producer_send_tagged(vcdc_producer_t *p, const vcdc_record_t *rec,
                              const vcdc_tag_t *tags, size_t tag_cnt,
                              char *errstr, size_t errstr_size) {
        size_t len, key_len;
        int32_t partition;
        int r;

        if (!rec->collection || !rec->id) {
                snprintf(errstr, errstr_size,
                         "record without collection or id");
                return VCDC_PRODUCER_ERR_FATAL;
        }
        key_len = vcdc_key_write(rec->collection, rec->id, p->key,
                                 p->key_size);
        if (key_len >= p->key_size) {
                size_t size = key_len + 1 > 256 ? key_len + 1 : 256;
                char *key = realloc(p->key, size);

                if (!key) {
                        snprintf(errstr, errstr_size, "out of memory");
                        return VCDC_PRODUCER_ERR_FATAL;
                }
                p->key = key;
                p->key_size = size;
                vcdc_key_write(rec->collection, rec->id, p->key, p->key_size);
        }
        if (vcdc_codec_encode_into(p->codec, rec, &p->value, &p->value_size,
                                   &len, errstr, errstr_size) == -1)
                return VCDC_PRODUCER_ERR_FATAL;
        if (read_partitions(p, errstr, errstr_size) == -1)
                return VCDC_PRODUCER_ERR_FATAL;
        partition = rd_kafka_msg_partitioner_murmur2(
                p->rkt, p->key, key_len, p->partition_cnt, NULL, NULL);
        if ((r = produce(p, partition, p->value, len, p->key, key_len,
                         rec->op == VCDC_OP_DELETE ? MSG_DELETE : MSG_RECORD,
                         tags, tag_cnt, errstr, errstr_size)))
                return r;
        p->stats.sent++;
        if (rec->op == VCDC_OP_DELETE &&
            produce(p, partition, NULL, 0, p->key, key_len, MSG_TOMBSTONE,
                    tags, tag_cnt, errstr, errstr_size)) {
                /* The DELETE record went out, its tombstone did not: the
                 * record is never counted as acked, so flush reports it. */
                return VCDC_PRODUCER_ERR_FATAL;
        }
        rd_kafka_poll(p->rk, 0 /*non-blocking*/);
        return 0;
}

void vcdc_producer_poll(vcdc_producer_t *p, int timeout_ms) {
        rd_kafka_poll(p->rk, timeout_ms);
}

int vcdc_producer_flush(vcdc_producer_t *p, int timeout_ms, char *errstr,
                        size_t errstr_size) {
        int left;

        rd_kafka_flush(p->rk, timeout_ms);
        left = rd_kafka_outq_len(p->rk);
        if (left > 0 || p->failed_msgs > 0 ||
            p->stats.acked != p->stats.sent) {
                snprintf(errstr, errstr_size,
                         "%llu of %llu records not acknowledged by Kafka "
                         "(%llu failed, %d messages still queued after %d ms)",
                         (unsigned long long)(p->stats.sent - p->stats.acked),
                         (unsigned long long)p->stats.sent,
                         (unsigned long long)p->stats.failed, left,
                         timeout_ms);
                return -1;
        }
        return 0;
}

void vcdc_producer_stats(const vcdc_producer_t *p,
                         vcdc_producer_stats_t *stats) {
        *stats = p->stats;
}

rd_kafka_t *vcdc_producer_handle(vcdc_producer_t *p) {
        return p->rk;
}

void vcdc_producer_destroy(vcdc_producer_t *p) {
        if (!p)
                return;
        if (p->rkt)
                rd_kafka_topic_destroy(p->rkt);
        if (p->rk)
                rd_kafka_destroy(p->rk);
        vcdc_codec_destroy(p->codec);
        free(p->key);
        free(p->value);
        free(p->topic);
        free(p);
}
