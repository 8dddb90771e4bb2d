/*
 * vcdc - model test: a reference consumer, the specification written as
 * plainly as possible, to check the test itself (VCDC_MODEL_REFERENCE=1):
 * the model test and the scenario tests must pass against it.
 *
 * One message at a time: skip a snapshot record whose
 * vcdc.snapshot.group header names this group, decode (else a dead
 * letter), skip another
 * collection's record (or stop, without opts.collection), check() (else
 * a dead letter), apply it alone with its offset (fenced sinks) and retry
 * until the database answers: STALE after a lost answer means it is
 * applied; INVALID makes it a dead letter. A dead letter is acknowledged
 * before any offset covering it is recorded or committed. On assignment a
 * partition resumes after the larger of the committed and the recorded
 * offset. Slow, and not what vcdc does: only what it must amount to.
 */
#include "refcons.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codec.h"
#include "log.h"
#include "sink.h"

typedef struct ref_s {
        rd_kafka_t *rk;
        rd_kafka_t *dlq; /* dead-letter producer */
        char dlq_topic[300];
        int dlq_failed;
        vcdc_sink_t *sink;
        vcdc_codec_t *codec;
        const vcdc_consumer_opts_t *opts;
        const char *collection; /* the one applied */
        int fatal;
} ref_t;

static void nap(int ms) {
        struct timespec ts = {0, (long)ms * 1000000L};

        nanosleep(&ts, NULL);
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *rkm,
                  void *opaque) {
        ref_t *r = opaque;

        (void)rk;
        if (rkm->err)
                r->dlq_failed = 1;
}

/* Sends a dead letter and waits for its acknowledgement, however long. */
static void dead_letter(ref_t *r, const rd_kafka_message_t *rkm) {
        char pbuf[16], obuf[32];

        snprintf(pbuf, sizeof(pbuf), "%" PRId32, rkm->partition);
        snprintf(obuf, sizeof(obuf), "%" PRId64, rkm->offset);
        for (;;) {
                rd_kafka_headers_t *hdrs = rd_kafka_headers_new(3);
                rd_kafka_resp_err_t err;

                rd_kafka_header_add(hdrs, "vcdc.topic", -1, r->opts->topic,
                                    -1);
                rd_kafka_header_add(hdrs, "vcdc.partition", -1, pbuf, -1);
                rd_kafka_header_add(hdrs, "vcdc.offset", -1, obuf, -1);
                r->dlq_failed = 0;
                err = rd_kafka_producev(
                        r->dlq, RD_KAFKA_V_TOPIC(r->dlq_topic),
                        RD_KAFKA_V_KEY(rkm->key, rkm->key_len),
                        RD_KAFKA_V_VALUE(rkm->payload, rkm->len),
                        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                        RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_END);
                if (err) {
                        rd_kafka_headers_destroy(hdrs);
                        rd_kafka_poll(r->dlq, 100);
                        continue;
                }
                rd_kafka_flush(r->dlq, 60000);
                if (!r->dlq_failed && !rd_kafka_outq_len(r->dlq))
                        return;
        }
}

/* Records that everything up to offset is done in partition, when the sink
 * keeps offsets (a fenced sink refuses an old one: fine). */
static void record(ref_t *r, int32_t partition, int64_t offset) {
        vcdc_sink_offset_t o = {partition, offset};
        char errstr[512];

        while (vcdc_sink_record_offsets(r->sink, r->opts->topic, &o, 1,
                                        errstr, sizeof(errstr)) ==
               VCDC_SINK_RETRIABLE)
                nap(5);
}

static void commit(ref_t *r, int32_t partition, int64_t next, int async) {
        rd_kafka_topic_partition_list_t *l =
                rd_kafka_topic_partition_list_new(1);

        rd_kafka_topic_partition_list_add(l, r->opts->topic, partition)
                ->offset = next;
        rd_kafka_commit(r->rk, l, async);
        rd_kafka_topic_partition_list_destroy(l);
}

/* Applies one change with its offset; returns the final answer (never
 * RETRIABLE). */
static vcdc_sink_status_t apply_one(ref_t *r, const vcdc_record_t *rec,
                                    const rd_kafka_message_t *rkm,
                                    char *errstr, size_t errstr_size) {
        const vcdc_record_t *ups[1] = {rec};
        const char *dels[1] = {rec->id};
        vcdc_sink_offset_t o = {rkm->partition, rkm->offset};
        vcdc_sink_batch_t b = {.topic = r->opts->topic};
        vcdc_sink_status_t st;

        if (rec->op == VCDC_OP_UPSERT) {
                b.upserts = ups;
                b.upsert_cnt = 1;
        } else {
                b.delete_ids = dels;
                b.delete_cnt = 1;
        }
        if (!vcdc_sink_offsets_apart(r->sink)) {
                b.offsets = &o;
                b.offset_cnt = 1;
        }
        while ((st = vcdc_sink_apply(r->sink, &b, errstr, errstr_size)) ==
               VCDC_SINK_RETRIABLE)
                nap(5);
        return st == VCDC_SINK_STALE ? VCDC_SINK_OK : st;
}

static void handle(ref_t *r, const rd_kafka_message_t *rkm) {
        rd_kafka_headers_t *hdrs;
        vcdc_record_t rec;
        char errstr[512];
        vcdc_sink_status_t st;
        const void *v;
        size_t len;

        vcdc_record_init(&rec);
        if (!rd_kafka_message_headers(rkm, &hdrs) &&
            !rd_kafka_header_get_last(hdrs, "vcdc.snapshot.group", &v, &len) &&
            v && len == strlen(r->opts->group) &&
            !memcmp(v, r->opts->group, len))
                goto done;
        if (!rkm->payload) {
                if (vcdc_key_decode(rkm->key, rkm->key_len, &rec.collection,
                                    &rec.id) == -1) {
                        dead_letter(r, rkm);
                        goto done;
                }
                rec.op = VCDC_OP_DELETE;
        } else if (vcdc_codec_decode(r->codec, rkm->payload, rkm->len, &rec,
                                     errstr, sizeof(errstr)) == -1) {
                dead_letter(r, rkm);
                goto done;
        }
        if (strcmp(rec.collection, r->collection)) {
                if (!r->opts->collection) {
                        VCDC_ERR("reference",
                                 "%s [%" PRId32 "] offset %" PRId64
                                 ": a record of collection %s, not %s",
                                 r->opts->topic, rkm->partition, rkm->offset,
                                 rec.collection, r->collection);
                        r->fatal = 1;
                        vcdc_record_clear(&rec);
                        return;
                }
                goto done;
        }
        if (vcdc_sink_check(r->sink, &rec, errstr, sizeof(errstr)) !=
            VCDC_SINK_OK) {
                dead_letter(r, rkm);
                goto done;
        }
        st = apply_one(r, &rec, rkm, errstr, sizeof(errstr));
        if (st == VCDC_SINK_INVALID) {
                dead_letter(r, rkm);
        } else if (st != VCDC_SINK_OK) {
                VCDC_ERR("reference", "%s", errstr);
                r->fatal = 1;
                vcdc_record_clear(&rec);
                return;
        }
done:
        vcdc_record_clear(&rec);
        record(r, rkm->partition, rkm->offset);
        commit(r, rkm->partition, rkm->offset + 1, 1 /*async*/);
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts,
                         void *opaque) {
        rd_kafka_topic_partition_list_t *ahead;
        ref_t *r = opaque;
        vcdc_sink_offset_t *rec = NULL;
        size_t cnt = 0, j;
        char errstr[512];
        int i;

        if (err != RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
                rd_kafka_commit(rk, NULL, 0 /*sync: what was stored*/);
                rd_kafka_assign(rk, NULL);
                return;
        }
        while (vcdc_sink_read_offsets(r->sink, r->opts->topic, &rec, &cnt,
                                      errstr, sizeof(errstr)) ==
               VCDC_SINK_RETRIABLE)
                nap(5);
        rd_kafka_committed(rk, parts, 10000);
        ahead = rd_kafka_topic_partition_list_new(parts->cnt);
        for (i = 0; i < parts->cnt; i++) {
                int64_t committed = parts->elems[i].err ||
                                                    parts->elems[i].offset < 0
                                            ? 0
                                            : parts->elems[i].offset;
                int64_t start = committed;
                for (j = 0; j < cnt; j++)
                        if (rec[j].partition == parts->elems[i].partition &&
                            rec[j].offset + 1 > start)
                                start = rec[j].offset + 1;
                parts->elems[i].offset = start;
                /* The target is ahead of the group (a commit failed):
                 * commit that, or nothing more to read leaves it so. */
                if (start > committed)
                        rd_kafka_topic_partition_list_add(
                                ahead, parts->elems[i].topic,
                                parts->elems[i].partition)
                                ->offset = start;
        }
        free(rec);
        rd_kafka_assign(rk, parts);
        if (ahead->cnt)
                rd_kafka_commit(rk, ahead, 1 /*async*/);
        rd_kafka_topic_partition_list_destroy(ahead);
}

int refcons_run(const vcdc_conf_t *conf, const vcdc_consumer_opts_t *opts,
                volatile sig_atomic_t *run) {
        vcdc_sink_conf_t sink_conf = {0};
        rd_kafka_topic_partition_list_t *sub;
        rd_kafka_conf_t *rkc, *pkc;
        rd_kafka_message_t *rkm;
        char errstr[512];
        ref_t r;

        memset(&r, 0, sizeof(r));
        r.opts = opts;
        sink_conf.dim = (size_t)vcdc_conf_int(conf, "vcdc.sink.dim");
        if (!(r.sink = vcdc_sink_new(opts->sink_url, &sink_conf, errstr,
                                     sizeof(errstr))) ||
            !(r.codec = vcdc_codec_new(errstr, sizeof(errstr)))) {
                VCDC_ERR("reference", "%s", errstr);
                goto done;
        }
        r.collection = opts->collection ? opts->collection
                                        : vcdc_sink_target(r.sink);
        snprintf(r.dlq_topic, sizeof(r.dlq_topic), "%s.dlq", opts->topic);
        pkc = vcdc_conf_kafka_dup(conf);
        rd_kafka_conf_set(pkc, "enable.idempotence", "true", NULL, 0);
        rd_kafka_conf_set_opaque(pkc, &r);
        rd_kafka_conf_set_dr_msg_cb(pkc, dr_cb);
        rd_kafka_conf_set_log_cb(pkc, vcdc_log_rdkafka_cb);
        if (!(r.dlq = rd_kafka_new(RD_KAFKA_PRODUCER, pkc, errstr,
                                   sizeof(errstr)))) {
                rd_kafka_conf_destroy(pkc);
                VCDC_ERR("reference", "%s", errstr);
                goto done;
        }
        rkc = vcdc_conf_kafka_dup(conf);
        rd_kafka_conf_set(rkc, "group.id", opts->group, NULL, 0);
        rd_kafka_conf_set(rkc, "enable.auto.commit", "false", NULL, 0);
        rd_kafka_conf_set(rkc, "auto.offset.reset", "earliest", NULL, 0);
        rd_kafka_conf_set(rkc, "partition.assignment.strategy", "range",
                          NULL, 0);
        rd_kafka_conf_set_opaque(rkc, &r);
        rd_kafka_conf_set_rebalance_cb(rkc, rebalance_cb);
        rd_kafka_conf_set_log_cb(rkc, vcdc_log_rdkafka_cb);
        if (!(r.rk = rd_kafka_new(RD_KAFKA_CONSUMER, rkc, errstr,
                                  sizeof(errstr)))) {
                rd_kafka_conf_destroy(rkc);
                VCDC_ERR("reference", "%s", errstr);
                goto done;
        }
        rd_kafka_poll_set_consumer(r.rk);
        sub = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(sub, opts->topic,
                                          RD_KAFKA_PARTITION_UA);
        rd_kafka_subscribe(r.rk, sub);
        rd_kafka_topic_partition_list_destroy(sub);
        while (*run && !r.fatal) {
                if (!(rkm = rd_kafka_consumer_poll(r.rk, 100)))
                        continue;
                if (!rkm->err)
                        handle(&r, rkm);
                rd_kafka_message_destroy(rkm);
        }
        rd_kafka_consumer_close(r.rk);
done:
        if (r.rk)
                rd_kafka_destroy(r.rk);
        if (r.dlq)
                rd_kafka_destroy(r.dlq);
        vcdc_codec_destroy(r.codec);
        vcdc_sink_destroy(r.sink);
        return r.fatal || !r.rk ? -1 : 0;
}
