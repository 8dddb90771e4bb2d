/*
 * vcdc - reading ranges of the change log back (logread.h): a consumer
 * without a group, assigned the partitions of one range at a time at their
 * start offsets, read until each reaches its end. Decoding is the
 * consumer's codec; the snapshot's headers are copied out NUL-terminated.
 * Nothing here decides anything about the records it hands on.
 */
#include "logread.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "clock.h"
#include "codec.h"
#include "log.h"

#define ADMIN_TIMEOUT_MS 15000
#define HDR_MAX          256

struct vcdc_logread_s {
        rd_kafka_t *rk;
        char *topic;
        int partitions;
        vcdc_codec_t *codec;
};

vcdc_logread_t *vcdc_logread_new(const vcdc_conf_t *conf, const char *topic,
                                 int decode, int *missingp, char *errstr,
                                 size_t errstr_size) {
        static const char *const props[] = {
                "enable.partition.eof", "true",
                "fetch.wait.max.ms", "50",
                "auto.offset.reset", "earliest",
                /* assign() wants a group id; nothing joins or commits. */
                "group.id", "vcdc.snapshot.logread",
                "enable.auto.commit", "false",
                "enable.auto.offset.store", "false",
                NULL,
        };
        vcdc_logread_t *lr = calloc(1, sizeof(*lr));
        rd_kafka_conf_t *rkc = NULL;
        char err[512];

        if (missingp)
                *missingp = 0;
        if (!lr || !(lr->topic = strdup(topic))) {
                snprintf(errstr, errstr_size, "out of memory");
                goto err;
        }
        if (!(rkc = vcdc_conf_kafka_reader(conf, props, errstr, errstr_size)))
                goto err;
        if (!(lr->rk = rd_kafka_new(RD_KAFKA_CONSUMER, rkc, err,
                                    sizeof(err)))) {
                snprintf(errstr, errstr_size, "log reader: %s", err);
                rd_kafka_conf_destroy(rkc);
                goto err;
        }
        if (vcdc_admin_partition_count(lr->rk, topic, &lr->partitions,
                                       ADMIN_TIMEOUT_MS, errstr,
                                       errstr_size) == -1)
                goto err;
        if (!lr->partitions) {
                snprintf(errstr, errstr_size, "topic %s does not exist",
                         topic);
                if (missingp)
                        *missingp = 1;
                goto err;
        }
        if (!decode)
                return lr;
        if (!(lr->codec = vcdc_codec_new(errstr, errstr_size)))
                goto err;
        vcdc_codec_set_schema_id(
                lr->codec, (int32_t)vcdc_conf_int(conf, "vcdc.schema.id"));
        return lr;
err:
        vcdc_logread_destroy(lr);
        return NULL;
}

int vcdc_logread_partitions(const vcdc_logread_t *lr) {
        return lr->partitions;
}

rd_kafka_t *vcdc_logread_handle(vcdc_logread_t *lr) {
        return lr->rk;
}

int vcdc_logread_ends(vcdc_logread_t *lr, int64_t *ends, char *errstr,
                      size_t errstr_size) {
        rd_kafka_resp_err_t err;
        int64_t lo, hi;
        int p;

        for (p = 0; p < lr->partitions; p++) {
                if ((err = rd_kafka_query_watermark_offsets(
                             lr->rk, lr->topic, p, &lo, &hi,
                             ADMIN_TIMEOUT_MS))) {
                        snprintf(errstr, errstr_size,
                                 "log end of %s [%d]: %s", lr->topic, p,
                                 rd_kafka_err2str(err));
                        return -1;
                }
                ends[p] = hi;
        }
        return 0;
}

/* A header's value, NUL-terminated into buf; NULL when absent. */
static const char *header(rd_kafka_headers_t *hdrs, const char *name,
                          char *buf) {
        const void *v;
        size_t len;

        if (!hdrs || rd_kafka_header_get_last(hdrs, name, &v, &len) || !v ||
            len >= HDR_MAX)
                return NULL;
        memcpy(buf, v, len);
        buf[len] = '\0';
        return buf;
}

/* Decodes rkm and hands it to cb. */
static int deliver(vcdc_logread_t *lr, const rd_kafka_message_t *rkm,
                   vcdc_logread_cb_t *cb, void *opaque, char *errstr,
                   size_t errstr_size) {
        char snap[HDR_MAX], group[HDR_MAX], repair[HDR_MAX], err[256];
        rd_kafka_headers_t *hdrs = NULL;
        rd_kafka_timestamp_type_t tstype;
        vcdc_logmsg_t m = {0};
        vcdc_record_t rec;
        int r;

        vcdc_record_init(&rec);
        m.partition = rkm->partition;
        m.offset = rkm->offset;
        m.ts_ms = rd_kafka_message_timestamp(rkm, &tstype);
        m.rec = &rec;
        m.key = rkm->key;
        m.key_len = rkm->key_len;
        m.value = rkm->payload;
        m.value_len = rkm->len;
        if (!lr->codec) {
                m.tombstone = !rkm->payload;
        } else if (!rkm->payload) {
                m.tombstone = 1;
                rec.op = VCDC_OP_DELETE;
                m.decoded = vcdc_key_decode(rkm->key, rkm->key_len,
                                            &rec.collection, &rec.id) == 0;
        } else if (vcdc_codec_decode(lr->codec, rkm->payload, rkm->len, &rec,
                                     err, sizeof(err)) == 0 &&
                   vcdc_key_check(rkm->key, rkm->key_len, &rec, err,
                                  sizeof(err)) == 0) {
                m.decoded = 1;
        } else {
                /* Dead-lettered by every consumer: it never applies. */
                vcdc_record_clear(&rec);
                if (vcdc_key_decode(rkm->key, rkm->key_len, &rec.collection,
                                    &rec.id) == -1)
                        vcdc_record_init(&rec);
        }
        if (!rd_kafka_message_headers(rkm, &hdrs)) {
                m.snapshot = header(hdrs, VCDC_HDR_SNAPSHOT, snap);
                m.snapshot_group = header(hdrs, VCDC_HDR_SNAPSHOT_GROUP, group);
                m.repair = header(hdrs, VCDC_HDR_REPAIR, repair);
        }
        r = cb(&m, opaque, errstr, errstr_size);
        vcdc_record_clear(&rec);
        return r;
}

int vcdc_logread_range(vcdc_logread_t *lr, const int64_t *from,
                       const int64_t *to, vcdc_logread_cb_t *cb, void *opaque,
                       char *errstr, size_t errstr_size) {
        rd_kafka_topic_partition_list_t *parts;
        rd_kafka_message_t *rkm;
        rd_kafka_resp_err_t err;
        int64_t *next = calloc((size_t)lr->partitions, sizeof(*next));
        int64_t stall_at;
        int p, open = 0, r = -1;

        if (!next) {
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        parts = rd_kafka_topic_partition_list_new(lr->partitions);
        for (p = 0; p < lr->partitions; p++) {
                next[p] = from[p];
                if (from[p] < to[p]) {
                        rd_kafka_topic_partition_list_add(parts, lr->topic, p)
                                ->offset = from[p];
                        open++;
                }
        }
        if (!open) {
                r = 0;
                goto out;
        }
        if ((err = rd_kafka_assign(lr->rk, parts))) {
                snprintf(errstr, errstr_size, "assign %s: %s", lr->topic,
                         rd_kafka_err2str(err));
                goto out;
        }
        stall_at = vcdc_clock_ms() + VCDC_LOGREAD_STALL_MS;
        while (open > 0) {
                if (vcdc_clock_ms() > stall_at) {
                        snprintf(errstr, errstr_size,
                                 "reading %s back: no progress for %d s",
                                 lr->topic, VCDC_LOGREAD_STALL_MS / 1000);
                        goto unassign;
                }
                if (!(rkm = rd_kafka_consumer_poll(lr->rk, 100)))
                        continue;
                p = rkm->partition;
                if (p < 0 || p >= lr->partitions || next[p] >= to[p]) {
                        rd_kafka_message_destroy(rkm);
                        continue; /* done with it, or not ours */
                }
                if (rkm->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                        /* The end: to[p] was at or before the log end when
                         * taken, so a partition at EOF has nothing left
                         * below it (compaction removed the rest). */
                        if (rkm->offset >= to[p]) {
                                next[p] = to[p];
                                open--;
                        }
                        rd_kafka_message_destroy(rkm);
                        continue;
                }
                if (rkm->err) {
                        VCDC_WARN("snapshot", "reading %s [%d] back: %s",
                                  lr->topic, p, rd_kafka_message_errstr(rkm));
                        rd_kafka_message_destroy(rkm);
                        continue;
                }
                stall_at = vcdc_clock_ms() + VCDC_LOGREAD_STALL_MS;
                if (rkm->offset < to[p] &&
                    deliver(lr, rkm, cb, opaque, errstr, errstr_size) == -1) {
                        rd_kafka_message_destroy(rkm);
                        goto unassign;
                }
                next[p] = rkm->offset + 1;
                if (next[p] >= to[p]) {
                        next[p] = to[p];
                        open--;
                }
                rd_kafka_message_destroy(rkm);
        }
        r = 0;
unassign:
        rd_kafka_assign(lr->rk, NULL);
out:
        rd_kafka_topic_partition_list_destroy(parts);
        free(next);
        return r;
}

void vcdc_logread_destroy(vcdc_logread_t *lr) {
        if (!lr)
                return;
        if (lr->rk) {
                rd_kafka_consumer_close(lr->rk);
                rd_kafka_destroy(lr->rk);
        }
        vcdc_codec_destroy(lr->codec);
        free(lr->topic);
        free(lr);
}
