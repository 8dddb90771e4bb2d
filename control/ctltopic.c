/*
 * vcdc - the control topic's plumbing: the client configuration, creating
 * the topic, the reader (every partition from the beginning, no group)
 * and the writer (idempotent, acks=all, waits for the delivery reports).
 * Shared by every kind of control record; knows none of them.
 */
#include "ctltopic.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admin.h"
#include "clock.h"
#include "log.h"

#define CONNECT_TIMEOUT_MS 15000
#define WRITE_TIMEOUT_MS   15000
#define DRAIN_MAX          10000 /* messages handed on by one poll at most */

int vcdc_ctltopic_kind_is(const json_t *obj, const char *kind) {
        json_t *v = json_object_get(obj, "kind");

        if (!v)
                return !strcmp(kind, "route");
        return json_is_string(v) && !strcmp(json_string_value(v), kind);
}

static void nap_ms(long ms) {
        nanosleep(&(struct timespec){.tv_sec = ms / 1000,
                                     .tv_nsec = (ms % 1000) * 1000000L},
                  NULL);
}

/* Readers of the control topic never join a group. */
#define client_conf vcdc_conf_kafka_reader

/*
 * Waits until the topic's partitions are known, creating it first when
 * create is set. Returns the partition count, 0 when it does not exist
 * (and create is not set), or -1 with errstr.
 */
static int ensure_topic(rd_kafka_t *rk, const char *topic, int create,
                        char *errstr, size_t errstr_size) {
        static const char *const configs[] = {"cleanup.policy", "compact",
                                              NULL};
        int64_t deadline = vcdc_clock_ms() + CONNECT_TIMEOUT_MS;
        char policy[64], err[512];
        int cnt, created = 0;

        for (;;) {
                if (vcdc_admin_partition_count(rk, topic, &cnt, 5000, errstr,
                                               errstr_size) == -1)
                        return -1;
                if (cnt > 0)
                        break;
                if (!create)
                        return 0;
                if (!created) {
                        if (vcdc_admin_create_topic(
                                    rk, topic, 1 /*partition*/,
                                    -1 /*broker default*/, configs, 10000,
                                    errstr, errstr_size) == -1)
                                return -1;
                        VCDC_INFO("control", "created the control topic %s",
                                  topic);
                        created = 1;
                }
                if (vcdc_clock_ms() > deadline) {
                        snprintf(errstr, errstr_size,
                                 "control topic %s: no partitions after "
                                 "%d ms",
                                 topic, CONNECT_TIMEOUT_MS);
                        return -1;
                }
                nap_ms(100);
        }
        if (!created &&
            vcdc_admin_topic_config(rk, topic, "cleanup.policy", policy,
                                    sizeof(policy), 10000, err,
                                    sizeof(err)) == 0 &&
            !vcdc_admin_policy_keeps_history(policy))
                VCDC_WARN("control",
                          "control topic %s has cleanup.policy=%s: the "
                          "route, its history and the collections' "
                          "configuration can be deleted; it should be "
                          "compact",
                          topic, policy);
        return cnt;
}

/*
 * The reader.
 */

typedef struct rpart_s {
        int32_t partition;
        int64_t end; /* log end when the reader started */
        int started, caught_up;
} rpart_t;

struct vcdc_ctlreader_s {
        rd_kafka_t *rk;
        rd_kafka_topic_t *rkt;
        rd_kafka_queue_t *q;
        char *topic;
        rpart_t *parts;
        size_t part_cnt;
        vcdc_ctlreader_cb_t *cb;
        void *opaque;
};

static void hand_on(vcdc_ctlreader_t *r, const rd_kafka_message_t *rkm) {
        size_t i;

        for (i = 0; i < r->part_cnt; i++) {
                rpart_t *p = &r->parts[i];

                if (p->partition != rkm->partition)
                        continue;
                if (rkm->err == RD_KAFKA_RESP_ERR__PARTITION_EOF ||
                    (!rkm->err && rkm->offset + 1 >= p->end))
                        p->caught_up = 1;
        }
        r->cb(rkm, r->opaque);
}

static int caught_up(const vcdc_ctlreader_t *r) {
        size_t i;

        for (i = 0; i < r->part_cnt; i++)
                if (r->parts[i].started && !r->parts[i].caught_up)
                        return 0;
        return 1;
}

/* Starts every partition at its beginning and notes its end now. */
static int start_parts(vcdc_ctlreader_t *r, int cnt, int64_t deadline,
                       char *errstr, size_t errstr_size) {
        int64_t lo;
        size_t i;

        if (!(r->parts = calloc((size_t)cnt, sizeof(*r->parts))) ||
            !(r->rkt = rd_kafka_topic_new(r->rk, r->topic, NULL)) ||
            !(r->q = rd_kafka_queue_new(r->rk))) {
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        r->part_cnt = (size_t)cnt;
        for (i = 0; i < r->part_cnt; i++) {
                rpart_t *p = &r->parts[i];
                rd_kafka_resp_err_t kerr;

                p->partition = (int32_t)i;
                /* A new topic's leader may take a moment to be elected. */
                while ((kerr = rd_kafka_query_watermark_offsets(
                                r->rk, r->topic, p->partition, &lo, &p->end,
                                5000)) &&
                       vcdc_clock_ms() < deadline)
                        nap_ms(100);
                if (kerr) {
                        snprintf(errstr, errstr_size,
                                 "control topic %s [%" PRId32
                                 "]: cannot read the log end: %s",
                                 r->topic, p->partition,
                                 rd_kafka_err2str(kerr));
                        return -1;
                }
                p->caught_up = p->end <= lo;
                if (rd_kafka_consume_start_queue(r->rkt, p->partition,
                                                 RD_KAFKA_OFFSET_BEGINNING,
                                                 r->q) == -1) {
                        snprintf(errstr, errstr_size,
                                 "control topic %s [%" PRId32 "]: %s",
                                 r->topic, p->partition,
                                 rd_kafka_err2str(rd_kafka_last_error()));
                        return -1;
                }
                p->started = 1;
        }
        return 0;
}

vcdc_ctlreader_t *vcdc_ctlreader_new(const vcdc_conf_t *conf,
                                     const char *topic, int create,
                                     vcdc_ctlreader_cb_t *cb, void *opaque,
                                     int *missingp, char *errstr,
                                     size_t errstr_size) {
        static const char *const props[] = {
                "enable.partition.eof", "true",
                "fetch.wait.max.ms", "100",
                "fetch.error.backoff.ms", "100",
                "auto.offset.reset", "earliest",
                "topic.metadata.refresh.interval.ms", "10000",
                /* Asking about a missing topic must not create it. */
                "allow.auto.create.topics", "false",
                NULL,
        };
        vcdc_ctlreader_t *r = calloc(1, sizeof(*r));
        rd_kafka_conf_t *rkc = NULL;
        rd_kafka_message_t *rkm;
        int64_t deadline = vcdc_clock_ms() + CONNECT_TIMEOUT_MS;
        char err[512];
        int cnt;

        if (missingp)
                *missingp = 0;
        if (!topic)
                topic = VCDC_CONTROL_TOPIC;
        if (!r || !(r->topic = strdup(topic))) {
                snprintf(errstr, errstr_size, "out of memory");
                goto err;
        }
        r->cb = cb;
        r->opaque = opaque;
        if (!(rkc = client_conf(conf, props, errstr, errstr_size)))
                goto err;
        if (!(r->rk = rd_kafka_new(RD_KAFKA_CONSUMER, rkc, err,
                                   sizeof(err)))) {
                snprintf(errstr, errstr_size, "control topic reader: %s", err);
                goto err;
        }
        rkc = NULL;
        if ((cnt = ensure_topic(r->rk, topic, create, errstr, errstr_size)) ==
            -1)
                goto err;
        if (!cnt) {
                snprintf(errstr, errstr_size,
                         "control topic %s does not exist", topic);
                if (missingp)
                        *missingp = 1;
                goto err;
        }
        if (start_parts(r, cnt, deadline, errstr, errstr_size) == -1)
                goto err;
        /* Up to the end seen at start. */
        while (!caught_up(r)) {
                if (vcdc_clock_ms() > deadline) {
                        snprintf(errstr, errstr_size,
                                 "control topic %s: not read to its end "
                                 "within %d ms",
                                 topic, CONNECT_TIMEOUT_MS);
                        goto err;
                }
                if ((rkm = rd_kafka_consume_queue(r->q, 100 /*ms*/))) {
                        hand_on(r, rkm);
                        rd_kafka_message_destroy(rkm);
                }
        }
        return r;
err:
        if (rkc)
                rd_kafka_conf_destroy(rkc);
        vcdc_ctlreader_destroy(r);
        return NULL;
}

const char *vcdc_ctlreader_topic(const vcdc_ctlreader_t *r) {
        return r->topic;
}

int vcdc_ctlreader_poll(vcdc_ctlreader_t *r, int timeout_ms, int max) {
        rd_kafka_message_t *rkm;
        int n = 0;

        if (max <= 0)
                max = DRAIN_MAX;
        rkm = rd_kafka_consume_queue(r->q, timeout_ms);
        while (rkm) {
                hand_on(r, rkm);
                rd_kafka_message_destroy(rkm);
                if (++n >= max)
                        break;
                rkm = rd_kafka_consume_queue(r->q, 0 /*non-blocking*/);
        }
        return n;
}

void vcdc_ctlreader_destroy(vcdc_ctlreader_t *r) {
        size_t i;

        if (!r)
                return;
        for (i = 0; i < r->part_cnt; i++)
                if (r->parts[i].started)
                        rd_kafka_consume_stop(r->rkt, r->parts[i].partition);
        if (r->q)
                rd_kafka_queue_destroy(r->q);
        if (r->rkt)
                rd_kafka_topic_destroy(r->rkt);
        if (r->rk)
                rd_kafka_destroy(r->rk);
        free(r->parts);
        free(r->topic);
        free(r);
}

/*
 * The writer.
 */

struct vcdc_ctlwriter_s {
        rd_kafka_t *rk;
        char *topic;
        /* The write under way: each message's outcome. */
        rd_kafka_resp_err_t *errs;
        size_t cnt;
};

static void dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *rkm,
                      void *opaque) {
        vcdc_ctlwriter_t *w = opaque;
        uintptr_t which = (uintptr_t)rkm->_private;

        (void)rk;
        if (which < w->cnt)
                w->errs[which] = rkm->err;
}

vcdc_ctlwriter_t *vcdc_ctlwriter_new(const vcdc_conf_t *conf,
                                     const char *topic, char *errstr,
                                     size_t errstr_size) {
        static const char *const props[] = {
                "enable.idempotence", "true",
                "acks", "all",
                "linger.ms", "0",
                /* A producer's metadata request would otherwise have the
                 * broker create a missing topic with its defaults (not
                 * compacted) before ensure_topic() creates it right. */
                "allow.auto.create.topics", "false",
                NULL,
        };
        vcdc_ctlwriter_t *w = calloc(1, sizeof(*w));
        rd_kafka_conf_t *rkc;
        char err[512];

        if (!topic)
                topic = VCDC_CONTROL_TOPIC;
        if (!w || !(w->topic = strdup(topic))) {
                snprintf(errstr, errstr_size, "out of memory");
                goto err;
        }
        if (!(rkc = client_conf(conf, props, errstr, errstr_size)))
                goto err;
        rd_kafka_conf_set_opaque(rkc, w);
        rd_kafka_conf_set_dr_msg_cb(rkc, dr_msg_cb);
        if (!(w->rk = rd_kafka_new(RD_KAFKA_PRODUCER, rkc, err, sizeof(err)))) {
                snprintf(errstr, errstr_size, "control topic writer: %s", err);
                rd_kafka_conf_destroy(rkc);
                goto err;
        }
        if (ensure_topic(w->rk, topic, 1 /*create*/, errstr, errstr_size) ==
            -1)
                goto err;
        return w;
err:
        vcdc_ctlwriter_destroy(w);
        return NULL;
}

int vcdc_ctlwriter_write(vcdc_ctlwriter_t *w, const char *const *keys,
                         const char *const *values, size_t cnt,
                         rd_kafka_resp_err_t *errs, char *errstr,
                         size_t errstr_size) {
        rd_kafka_resp_err_t kerr;
        int64_t deadline;
        int r = -1;
        size_t i;

        for (i = 0; i < cnt; i++)
                errs[i] = RD_KAFKA_RESP_ERR__IN_PROGRESS;
        w->errs = errs;
        w->cnt = cnt;
        for (i = 0; i < cnt; i++) {
                deadline = vcdc_clock_ms() + WRITE_TIMEOUT_MS;
                while ((kerr = rd_kafka_producev(
                                w->rk, RD_KAFKA_V_TOPIC(w->topic),
                                RD_KAFKA_V_KEY(keys[i], strlen(keys[i])),
                                RD_KAFKA_V_VALUE((void *)values[i],
                                                 strlen(values[i])),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                RD_KAFKA_V_OPAQUE((void *)(uintptr_t)i),
                                RD_KAFKA_V_END)) ==
                               RD_KAFKA_RESP_ERR__QUEUE_FULL &&
                       vcdc_clock_ms() < deadline)
                        rd_kafka_poll(w->rk, 100 /*ms*/);
                if (kerr) {
                        snprintf(errstr, errstr_size,
                                 "control topic %s: cannot produce: %s",
                                 w->topic, rd_kafka_err2str(kerr));
                        goto done;
                }
        }
        r = 0;
done:
        /* Every report of this write arrives before it returns; one past
         * the timeout is purged, so no later callback writes into errs. */
        if (rd_kafka_flush(w->rk, WRITE_TIMEOUT_MS))
                rd_kafka_purge(w->rk, RD_KAFKA_PURGE_F_QUEUE |
                                              RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_poll(w->rk, 0);
        w->errs = NULL;
        w->cnt = 0;
        return r;
}

void vcdc_ctlwriter_destroy(vcdc_ctlwriter_t *w) {
        if (!w)
                return;
        if (w->rk)
                rd_kafka_destroy(w->rk);
        free(w->topic);
        free(w);
}

int vcdc_ctltopic_write(const vcdc_conf_t *conf, const char *topic,
                        const char *const *keys, const char *const *values,
                        size_t cnt, rd_kafka_resp_err_t *errs, char *errstr,
                        size_t errstr_size) {
        vcdc_ctlwriter_t *w;
        size_t i;
        int r;

        for (i = 0; i < cnt; i++)
                errs[i] = RD_KAFKA_RESP_ERR__IN_PROGRESS;
        if (!(w = vcdc_ctlwriter_new(conf, topic, errstr, errstr_size)))
                return -1;
        r = vcdc_ctlwriter_write(w, keys, values, cnt, errs, errstr,
                                 errstr_size);
        vcdc_ctlwriter_destroy(w);
        return r;
}
