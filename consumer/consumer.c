/*
 * vcdc - the consumer loop.
 */
#include "consumer.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admin.h"
#include "batch.h"
#include "codec.h"
#include "dlq.h"
#include "log.h"
#include "metrics.h"
#include "sink.h"

/* Apply latency histogram buckets, seconds. */
static const double latency_buckets[] = {0.005, 0.01, 0.025, 0.05, 0.1,
                                         0.25,  0.5,  1,     2.5,  5,
                                         10};
#define BUCKET_CNT (sizeof(latency_buckets) / sizeof(*latency_buckets))

/* One assigned partition. */
typedef struct part_s {
        int32_t partition;
        int64_t next;   /* next offset to commit (last applied + 1), -1 */
        int64_t start;  /* where consumption started, -1: auto.offset.reset */
        int64_t end;    /* exit-at-end: the log end seen at start */
} part_t;

/* What one apply attempt sequence ended with. */
typedef enum { APPLIED, ABANDONED, FAILED } outcome_t;

struct vcdc_consumer_s {
        rd_kafka_t *rk;
        vcdc_sink_t *sink;
        vcdc_codec_t *codec;
        vcdc_dlq_t *dlq;
        vcdc_batch_t *batch; /* filling */
        /* With a sink that can send a batch and read its answer later
         * (vcdc_sink_can_send), the batch sent: the next one fills while
         * the database works on it. */
        vcdc_batch_t *flight;
        int in_flight, flight_defer;
        size_t flight_changes;
        int64_t flight_max_ts, flight_sent;
        vcdc_batch_t *applying; /* the batch apply_now() is applying */
        vcdc_metrics_t *metrics;
        char *topic, *collection;
        int exit_at_end, from_beginning;

        size_t batch_records, batch_bytes;
        int64_t batch_ms, batch_started;
        int64_t backoff_base, backoff_max, progress_ms;
        int64_t batch_max_ts; /* newest message timestamp in the batch */
        int64_t commit_ms, last_commit; /* vcdc.commit.interval.ms */
        int uncommitted; /* applied since the last commit */
        rd_kafka_queue_t *commitq; /* results of asynchronous commits */
        int commits_inflight;
        /* A sink that records offsets in a request of their own (Chroma)
         * does so at most once per vcdc.commit.interval.ms as well. */
        int offsets_apart, offsets_pending, offsets_failing;
        int64_t last_offsets;

        part_t *parts;
        size_t part_cnt, part_cap;
        int assigned_once;
        int64_t *ends; /* exit-at-end: log end per partition at start */
        int end_cnt;

        rd_kafka_message_t **held; /* polled while paused: handled next */
        size_t held_cnt, held_cap;
        int paused, abandon, fatal;
        volatile sig_atomic_t *run;
        uint32_t rng;

        int64_t started, last_progress, last_lag, last_wake;
        size_t wake_next; /* the partition wake_fetcher() tries first */
        uint64_t progress_applied;

        atomic_uint_fast64_t messages, applied, batches, retries,
                dead_letters, filtered, apply_cnt, apply_us;
        atomic_uint_fast64_t apply_le[BUCKET_CNT];
        atomic_int_fast64_t lag, last_applied_ts;
};

static int64_t now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint32_t next_rand(vcdc_consumer_t *c) {
        /* xorshift32: jitter only, no need for more. */
        c->rng ^= c->rng << 13;
        c->rng ^= c->rng >> 17;
        c->rng ^= c->rng << 5;
        return c->rng;
}

/* A new list of the assigned partitions. */
static rd_kafka_topic_partition_list_t *assigned_list(vcdc_consumer_t *c) {
        rd_kafka_topic_partition_list_t *parts =
                rd_kafka_topic_partition_list_new((int)c->part_cnt);
        size_t i;

        for (i = 0; i < c->part_cnt; i++)
                rd_kafka_topic_partition_list_add(parts, c->topic,
                                                  c->parts[i].partition);
        return parts;
}

static part_t *part_find(vcdc_consumer_t *c, int32_t partition) {
        size_t i;

        for (i = 0; i < c->part_cnt; i++)
                if (c->parts[i].partition == partition)
                        return &c->parts[i];
        return NULL;
}

/*
 * Serves the results of asynchronous commits, waiting up to timeout_ms for
 * the first. A failed one is retried by the next commit.
 */
static void commit_results(vcdc_consumer_t *c, int timeout_ms) {
        rd_kafka_event_t *ev;

        while (c->commits_inflight > 0 &&
               (ev = rd_kafka_queue_poll(c->commitq, timeout_ms))) {
                rd_kafka_resp_err_t err = rd_kafka_event_error(ev);

                if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_OFFSET_COMMIT) {
                        c->commits_inflight--;
                        if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET) {
                                VCDC_WARN("consumer",
                                          "commit failed: %s (retried with "
                                          "the next commit)",
                                          rd_kafka_err2str(err));
                                c->uncommitted = 1;
                        }
                }
                rd_kafka_event_destroy(ev);
                timeout_ms = 0;
        }
}

static int transient_commit_error(rd_kafka_resp_err_t err) {
        return err == RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE ||
               err == RD_KAFKA_RESP_ERR_NOT_COORDINATOR ||
               err == RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS ||
               err == RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT ||
               err == RD_KAFKA_RESP_ERR__TIMED_OUT;
}

/*
 * Commits the offsets applied so far: async after batches, at most once per
 * vcdc.commit.interval.ms; sync before revocation and at shutdown.
 *
 * librdkafka retries a failed commit request by itself, so an older async
 * commit can land after a newer one. The sync commit is the last word on
 * these offsets: it first waits (a bounded time) for the async ones in
 * flight, so none of them lands after it and moves the group back.
 */
static void commit(vcdc_consumer_t *c, int async) {
        rd_kafka_topic_partition_list_t *offsets;
        rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
        int64_t deadline;
        size_t i;
        int attempt;

        offsets = rd_kafka_topic_partition_list_new((int)c->part_cnt);
        for (i = 0; i < c->part_cnt; i++)
                if (c->parts[i].next >= 0)
                        rd_kafka_topic_partition_list_add(
                                offsets, c->topic, c->parts[i].partition)
                                ->offset = c->parts[i].next;
        c->last_commit = now_ms();
        c->uncommitted = 0;
        if (offsets->cnt == 0) {
                rd_kafka_topic_partition_list_destroy(offsets);
                return;
        }
        if (async) {
                err = rd_kafka_commit_queue(c->rk, offsets, c->commitq, NULL,
                                            NULL);
                if (!err)
                        c->commits_inflight++;
                else
                        c->uncommitted = 1;
                rd_kafka_topic_partition_list_destroy(offsets);
                return;
        }
        deadline = now_ms() + 5000;
        while (c->commits_inflight > 0 && now_ms() < deadline)
                commit_results(c, 100);
        if (c->commits_inflight > 0)
                VCDC_WARN("consumer",
                          "%d asynchronous commit(s) still in flight after "
                          "5 s; committing over them",
                          c->commits_inflight);
        /* Retry a transient coordinator error a few times. */
        for (attempt = 0; attempt < 4; attempt++) {
                err = rd_kafka_commit(c->rk, offsets, 0);
                if (!transient_commit_error(err))
                        break;
                nanosleep(&(struct timespec){.tv_nsec =
                                                     (100L << attempt) *
                                                     1000000L},
                          NULL);
        }
        if (err)
                VCDC_WARN("consumer",
                          "commit failed: %s (the sink's recorded offsets "
                          "still hold; at most the last batch is re-applied)",
                          rd_kafka_err2str(err));
        rd_kafka_topic_partition_list_destroy(offsets);
}

static void drop_held(vcdc_consumer_t *c) {
        size_t i;

        for (i = 0; i < c->held_cnt; i++)
                rd_kafka_message_destroy(c->held[i]);
        c->held_cnt = 0;
}

/*
 * Records in the sink the offsets applied so far, for batches whose own
 * apply left them out (offsets_apart). One try: a failure leaves them
 * pending for the next interval; until then the target's recorded offsets
 * are behind what it holds, which only means more is applied again after a
 * crash.
 */
static void record_offsets(vcdc_consumer_t *c) {
        vcdc_sink_batch_t view = {.topic = c->topic};
        vcdc_sink_offset_t *offsets;
        vcdc_sink_status_t st = VCDC_SINK_OK;
        char errstr[512];
        size_t i;

        if (!c->offsets_pending || c->in_flight)
                return;
        if (!(offsets = calloc(c->part_cnt ? c->part_cnt : 1,
                               sizeof(*offsets))))
                return;
        for (i = 0; i < c->part_cnt; i++)
                if (c->parts[i].next > 0) {
                        offsets[view.offset_cnt].partition =
                                c->parts[i].partition;
                        offsets[view.offset_cnt++].offset =
                                c->parts[i].next - 1;
                }
        view.offsets = offsets;
        c->last_offsets = now_ms();
        if (view.offset_cnt)
                st = vcdc_sink_record_offsets(c->sink, c->topic, view.offsets,
                                              view.offset_cnt, errstr,
                                              sizeof(errstr));
        if (st == VCDC_SINK_OK) {
                c->offsets_pending = c->offsets_failing = 0;
        } else if (!c->offsets_failing++) {
                VCDC_WARN("consumer",
                          "recording the applied offsets: %s (tried again "
                          "every %" PRId64 " ms)",
                          errstr, c->commit_ms);
        }
        free(offsets);
}

/*
 * Assignment: resume each partition after the larger of the committed
 * offset and the offset recorded in the target.
 */
static void on_assign(vcdc_consumer_t *c,
                      rd_kafka_topic_partition_list_t *partitions) {
        vcdc_sink_offset_t *recorded = NULL;
        size_t recorded_cnt = 0, i, j;
        rd_kafka_resp_err_t err;
        char errstr[512];
        int attempt, catch_up = 0;

        for (attempt = 0;; attempt++) {
                vcdc_sink_status_t st = vcdc_sink_read_offsets(
                        c->sink, c->topic, &recorded, &recorded_cnt, errstr,
                        sizeof(errstr));
                if (st == VCDC_SINK_OK)
                        break;
                if (st != VCDC_SINK_RETRIABLE || attempt >= 8 || !*c->run) {
                        /* The committed offsets alone are safe: they never
                         * pass what was applied. More is re-applied. */
                        VCDC_WARN("consumer",
                                  "cannot read the offsets recorded in %s: "
                                  "%s; resuming from committed offsets",
                                  vcdc_sink_name(c->sink), errstr);
                        recorded = NULL;
                        recorded_cnt = 0;
                        break;
                }
                nanosleep(&(struct timespec){.tv_nsec = 250 * 1000000L}, NULL);
        }
        if ((err = rd_kafka_committed(c->rk, partitions, 10000)))
                VCDC_WARN("consumer", "cannot read committed offsets: %s",
                          rd_kafka_err2str(err));

        c->part_cnt = 0;
        if ((size_t)partitions->cnt > c->part_cap) {
                part_t *p = realloc(c->parts,
                                    (size_t)partitions->cnt * sizeof(*p));
                if (!p) {
                        VCDC_ERR("consumer", "out of memory");
                        c->fatal = 1;
                        free(recorded);
                        return;
                }
                c->parts = p;
                c->part_cap = (size_t)partitions->cnt;
        }
        for (i = 0; i < (size_t)partitions->cnt; i++) {
                rd_kafka_topic_partition_t *tp = &partitions->elems[i];
                part_t *p = &c->parts[c->part_cnt++];
                int64_t committed = tp->err ? RD_KAFKA_OFFSET_INVALID
                                            : tp->offset;
                int64_t start = committed >= 0 ? committed : -1;

                for (j = 0; j < recorded_cnt; j++)
                        if (recorded[j].partition == tp->partition &&
                            recorded[j].offset + 1 > start)
                                start = recorded[j].offset + 1;
                /* A replay starts at offset 0 itself: left to the reset
                 * policy, librdkafka first waits out an offset-query timer
                 * (100 ms) and asks for the log start. A partition that
                 * starts later is out of range at 0 and reset as usual. */
                tp->offset = start >= 0 ? start
                             : c->from_beginning ? 0
                                                 : RD_KAFKA_OFFSET_INVALID;
                p->partition = tp->partition;
                p->start = start;
                /* The target holds more than the group committed (a
                 * process died between applying and committing): commit
                 * that too, even if nothing more comes to this partition,
                 * or the committed offset would stay behind for good. */
                p->next = start >= 0 && start > committed ? start : -1;
                catch_up |= p->next >= 0;
                p->end = tp->partition < c->end_cnt ? c->ends[tp->partition]
                                                    : -1;
                VCDC_INFO("consumer",
                          "assigned %s [%" PRId32 "]: committed %" PRId64
                          ", resuming at %s%" PRId64,
                          c->topic, tp->partition, committed,
                          start >= 0 ? "" : "reset policy, ", tp->offset);
        }
        free(recorded);
        if ((err = rd_kafka_assign(c->rk, partitions))) {
                VCDC_ERR("consumer", "assign: %s", rd_kafka_err2str(err));
                c->fatal = 1;
        }
        c->assigned_once = 1;
        if (catch_up && !c->fatal)
                commit(c, 1 /*async*/);
}

static void land_revoked(vcdc_consumer_t *c);

static void on_revoke(vcdc_consumer_t *c) {
        /* What is not applied is not committed: the next owner reads it
         * again. What is applied is committed now, before losing it. */
        land_revoked(c);
        if (c->applying)
                c->abandon = 1; /* apply_now() gives it up */
        if (c->batch != c->applying)
                vcdc_batch_reset(c->batch);
        if (c->flight != c->applying)
                vcdc_batch_reset(c->flight);
        drop_held(c);
        record_offsets(c);
        commit(c, 0 /*sync*/);
        rd_kafka_assign(c->rk, NULL);
        c->part_cnt = 0;
        c->paused = 0;
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *partitions,
                         void *opaque) {
        vcdc_consumer_t *c = opaque;

        if (!strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE")) {
                VCDC_ERR("consumer",
                         "the cooperative rebalance protocol is not "
                         "supported: set partition.assignment.strategy to "
                         "range or roundrobin");
                c->fatal = 1;
                return;
        }
        if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS)
                on_assign(c, partitions);
        else
                on_revoke(c);
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason,
                     void *opaque) {
        vcdc_consumer_t *c = opaque;
        char fatal[512];

        if (err == RD_KAFKA_RESP_ERR__FATAL) {
                rd_kafka_fatal_error(rk, fatal, sizeof(fatal));
                VCDC_ERR("consumer", "fatal: %s", fatal);
                c->fatal = 1;
                return;
        }
        VCDC_WARN("consumer", "%s: %s", rd_kafka_err2name(err), reason);
}

/*
 * Dead letters.
 */
static int dead_letter(vcdc_consumer_t *c, int32_t partition, int64_t offset,
                       const void *key, size_t key_len, const void *value,
                       size_t len, const char *err_class, const char *error) {
        char errstr[512];

        VCDC_WARN("consumer",
                  "%s [%" PRId32 "] offset %" PRId64
                  ": dead-lettered to %s: %s",
                  c->topic, partition, offset, vcdc_dlq_topic(c->dlq), error);
        if (vcdc_dlq_send(c->dlq, c->topic, partition, offset, key, key_len,
                          value, len, err_class, error, errstr,
                          sizeof(errstr)) == -1) {
                VCDC_ERR("consumer", "%s", errstr);
                c->fatal = 1;
                return -1;
        }
        atomic_fetch_add(&c->dead_letters, 1);
        return 0;
}

/* A change the sink refused: re-encoded, since the message is gone. */
static int dead_letter_change(vcdc_consumer_t *c, const vcdc_record_t *rec,
                              int32_t partition, int64_t offset,
                              const char *error) {
        void *value = NULL;
        size_t len = 0, key_len = 0;
        char *key = NULL, errstr[256];
        int r;

        if (vcdc_key_encode(rec->collection, rec->id, &key, &key_len) == -1 ||
            vcdc_codec_encode(c->codec, rec, &value, &len, errstr,
                              sizeof(errstr)) == -1) {
                free(key);
                VCDC_ERR("consumer", "cannot re-encode a refused record");
                c->fatal = 1;
                return -1;
        }
        r = dead_letter(c, partition, offset, key, key_len, value, len,
                        "rejected", error);
        free(key);
        free(value);
        return r;
}

/*
 * One message into the batch, or to the dead-letter topic.
 */
static void handle_message(vcdc_consumer_t *c, rd_kafka_message_t *rkm) {
        vcdc_record_t rec;
        char errstr[512];
        rd_kafka_timestamp_type_t tstype;
        int64_t ts;

        if (rkm->err) {
                if (rkm->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                        VCDC_WARN("consumer", "consume: %s",
                                  rd_kafka_message_errstr(rkm));
                return;
        }
        if (!part_find(c, rkm->partition))
                return; /* from a partition revoked meanwhile */
        if (!vcdc_batch_msg_cnt(c->batch))
                c->batch_started = now_ms();
        ts = rd_kafka_message_timestamp(rkm, &tstype);
        if (ts > c->batch_max_ts)
                c->batch_max_ts = ts;

        vcdc_record_init(&rec);
        if (!rkm->payload) {
                /* A tombstone: after compaction it may be all that is left
                 * of a delete, so it is applied as one. */
                if (vcdc_key_decode(rkm->key, rkm->key_len, &rec.collection,
                                    &rec.id) == -1) {
                        dead_letter(c, rkm->partition, rkm->offset, rkm->key,
                                    rkm->key_len, NULL, 0, "decode",
                                    "tombstone with a malformed key");
                        vcdc_batch_note(c->batch, rkm->partition, rkm->offset,
                                        0);
                        return;
                }
                rec.op = VCDC_OP_DELETE;
        } else if (vcdc_codec_decode(c->codec, rkm->payload, rkm->len, &rec,
                                     errstr, sizeof(errstr)) == -1) {
                dead_letter(c, rkm->partition, rkm->offset, rkm->key,
                            rkm->key_len, rkm->payload, rkm->len, "decode",
                            errstr);
                vcdc_batch_note(c->batch, rkm->partition, rkm->offset,
                                rkm->len);
                return;
        }
        if (c->collection && strcmp(rec.collection, c->collection)) {
                atomic_fetch_add(&c->filtered, 1);
                vcdc_batch_note(c->batch, rkm->partition, rkm->offset,
                                rkm->len);
                vcdc_record_clear(&rec);
                return;
        }
        if (vcdc_sink_check(c->sink, &rec, errstr, sizeof(errstr)) !=
            VCDC_SINK_OK) {
                dead_letter(c, rkm->partition, rkm->offset, rkm->key,
                            rkm->key_len, rkm->payload, rkm->len, "invalid",
                            errstr);
                vcdc_batch_note(c->batch, rkm->partition, rkm->offset,
                                rkm->len);
                vcdc_record_clear(&rec);
                return;
        }
        if (vcdc_batch_add(c->batch, &rec, rkm->partition, rkm->offset,
                           rkm->len) == -1) {
                VCDC_ERR("consumer", "out of memory");
                c->fatal = 1;
        }
        vcdc_record_clear(&rec);
}

/*
 * Waiting for a retry: the partitions are paused, polling goes on so the
 * group keeps us, and anything polled meanwhile is held for later.
 */
static void pause_all(vcdc_consumer_t *c, int pause) {
        rd_kafka_topic_partition_list_t *parts;

        if (c->paused == pause || !c->part_cnt)
                return;
        parts = assigned_list(c);
        if (pause)
                rd_kafka_pause_partitions(c->rk, parts);
        else
                rd_kafka_resume_partitions(c->rk, parts);
        rd_kafka_topic_partition_list_destroy(parts);
        c->paused = pause;
}

static void wait_polling(vcdc_consumer_t *c, int64_t ms) {
        int64_t until = now_ms() + ms, left;
        rd_kafka_message_t *rkm;

        while (*c->run && !c->abandon && !c->fatal &&
               (left = until - now_ms()) > 0) {
                rkm = rd_kafka_consumer_poll(c->rk,
                                             left > 100 ? 100 : (int)left);
                if (!rkm)
                        continue;
                if (c->held_cnt == c->held_cap) {
                        size_t cap = c->held_cap ? c->held_cap * 2 : 64;
                        rd_kafka_message_t **h =
                                realloc(c->held, cap * sizeof(*h));
                        if (!h) {
                                /* Not handed on: it is read again later. */
                                rd_kafka_message_destroy(rkm);
                                VCDC_ERR("consumer", "out of memory");
                                c->fatal = 1;
                                return;
                        }
                        c->held = h;
                        c->held_cap = cap;
                }
                c->held[c->held_cnt++] = rkm;
        }
}

/* One successful apply that took us microseconds, for the metrics. */
static void count_apply(vcdc_consumer_t *c, int64_t us) {
        size_t b;

        atomic_fetch_add(&c->apply_cnt, 1);
        atomic_fetch_add(&c->apply_us, (uint64_t)us);
        for (b = 0; b < BUCKET_CNT; b++)
                if ((double)us / 1e6 <= latency_buckets[b])
                        atomic_fetch_add(&c->apply_le[b], 1);
}

static outcome_t apply_with_retry(vcdc_consumer_t *c,
                                  const vcdc_sink_batch_t *view,
                                  vcdc_sink_status_t *statusp, char *errstr,
                                  size_t errstr_size) {
        vcdc_sink_status_t st;
        int attempt;
        int64_t t0, wait;

        for (attempt = 0;; attempt++) {
                t0 = now_ms();
                st = vcdc_sink_apply(c->sink, view, errstr, errstr_size);
                *statusp = st;
                if (st == VCDC_SINK_OK) {
                        count_apply(c, (now_ms() - t0) * 1000);
                        if (attempt > 0)
                                VCDC_NOTICE("consumer",
                                            "%s: applied after %d retries",
                                            vcdc_sink_name(c->sink), attempt);
                        return APPLIED;
                }
                if (st != VCDC_SINK_RETRIABLE)
                        return FAILED;
                atomic_fetch_add(&c->retries, 1);
                wait = vcdc_backoff_ms(attempt < 30 ? attempt : 30,
                                       c->backoff_base, c->backoff_max,
                                       next_rand(c));
                if (attempt == 0 || attempt % 10 == 0)
                        VCDC_WARN("consumer",
                                  "%s; retry %d in %" PRId64
                                  " ms (partitions paused)",
                                  errstr, attempt + 1, wait);
                pause_all(c, 1);
                wait_polling(c, wait);
                if (!*c->run || c->abandon || c->fatal)
                        return ABANDONED;
        }
}

/*
 * The sink refused a batch as invalid: find the bad changes by halving.
 * A refused half is split again, down to single changes, which are
 * dead-lettered; halves the sink takes are applied. One bad record in a
 * batch of n costs about 2 log2(n) calls instead of n.
 */
static outcome_t apply_range(vcdc_consumer_t *c, vcdc_batch_t *b, size_t lo,
                             size_t hi,
                             const vcdc_record_t **upserts,
                             const char **delete_ids, char *dead) {
        vcdc_sink_batch_t view = {.topic = c->topic};
        vcdc_sink_status_t st;
        const vcdc_record_t *rec;
        char errstr[512];
        int32_t partition;
        int64_t offset;
        outcome_t o;
        size_t i, mid;

        view.upserts = upserts;
        view.delete_ids = delete_ids;
        for (i = lo; i < hi; i++) {
                rec = vcdc_batch_change(b, i, NULL, NULL);
                if (rec->op == VCDC_OP_DELETE)
                        delete_ids[view.delete_cnt++] = rec->id;
                else
                        upserts[view.upsert_cnt++] = rec;
        }
        o = apply_with_retry(c, &view, &st, errstr, sizeof(errstr));
        if (o == APPLIED) {
                atomic_fetch_add(&c->applied, hi - lo);
                return o;
        }
        if (o == FAILED && st != VCDC_SINK_INVALID)
                VCDC_ERR("consumer", "%s (%s)", errstr,
                         vcdc_sink_status_name(st));
        if (o == ABANDONED || st != VCDC_SINK_INVALID)
                return o;
        if (hi - lo == 1) {
                rec = vcdc_batch_change(b, lo, &partition, &offset);
                if (dead_letter_change(c, rec, partition, offset, errstr) ==
                    -1)
                        return FAILED;
                dead[lo] = 1;
                return APPLIED;
        }
        mid = lo + (hi - lo) / 2;
        if ((o = apply_range(c, b, lo, mid, upserts, delete_ids, dead)) !=
            APPLIED)
                return o;
        return apply_range(c, b, mid, hi, upserts + (mid - lo),
                           delete_ids + (mid - lo), dead);
}

static outcome_t apply_isolating(vcdc_consumer_t *c, vcdc_batch_t *b) {
        size_t n = vcdc_batch_change_cnt(b), i;
        const vcdc_record_t **upserts = calloc(n ? n : 1, sizeof(*upserts));
        const char **delete_ids = calloc(n ? n : 1, sizeof(*delete_ids));
        char *dead = calloc(n ? n : 1, 1), errstr[512];
        vcdc_sink_batch_t view;
        vcdc_sink_status_t st;
        outcome_t o = FAILED;

        if (!upserts || !delete_ids || !dead) {
                VCDC_ERR("consumer", "out of memory");
                goto done;
        }
        if ((o = apply_range(c, b, 0, n, upserts, delete_ids, dead)) !=
            APPLIED)
                goto done;
        /* The refused ones are dead letters now; their offsets still count
         * in the batch, which records them with nothing else to apply. */
        for (i = n; i-- > 0;)
                if (dead[i])
                        vcdc_batch_drop(b, i);
        if (vcdc_batch_view(b, c->topic, &view) == -1) {
                o = FAILED;
                goto done;
        }
        view.upsert_cnt = view.delete_cnt = 0;
        if (c->offsets_apart)
                view.offset_cnt = 0;
        o = apply_with_retry(c, &view, &st, errstr, sizeof(errstr));
        if (o == FAILED)
                VCDC_ERR("consumer", "%s", errstr);
done:
        free(upserts);
        free(delete_ids);
        free(dead);
        return o;
}

/*
 * A new target takes the dimension of the first vectors it is given. So
 * that one stray vector cannot decide it, the first batch's most common
 * dimension wins and the others are dead-lettered (--dim pins it instead).
 */
static int drop_minority_dims(vcdc_consumer_t *c) {
        struct { size_t dim, cnt; } dims[16];
        size_t dim_cnt = 0, i, j, mode = 0;
        const vcdc_record_t *rec;
        char errstr[256];
        int32_t partition;
        int64_t offset;

        for (i = 0; i < vcdc_batch_change_cnt(c->batch); i++) {
                rec = vcdc_batch_change(c->batch, i, NULL, NULL);
                if (rec->op != VCDC_OP_UPSERT)
                        continue;
                for (j = 0; j < dim_cnt && dims[j].dim != rec->dim; j++)
                        ;
                if (j == dim_cnt) {
                        if (dim_cnt == sizeof(dims) / sizeof(*dims))
                                continue; /* refused by the sink, isolated */
                        dims[dim_cnt].dim = rec->dim;
                        dims[dim_cnt++].cnt = 0;
                }
                dims[j].cnt++;
        }
        if (dim_cnt < 2)
                return 0;
        for (j = 1; j < dim_cnt; j++)
                if (dims[j].cnt > dims[mode].cnt)
                        mode = j;
        for (i = vcdc_batch_change_cnt(c->batch); i-- > 0;) {
                rec = vcdc_batch_change(c->batch, i, &partition, &offset);
                if (rec->op != VCDC_OP_UPSERT || rec->dim == dims[mode].dim)
                        continue;
                snprintf(errstr, sizeof(errstr),
                         "%s: vector of dimension %zu; the new target takes "
                         "the first batch's dimension, %zu",
                         vcdc_sink_name(c->sink), rec->dim, dims[mode].dim);
                if (dead_letter_change(c, rec, partition, offset, errstr) ==
                    -1)
                        return -1;
                vcdc_batch_drop(c->batch, i);
        }
        return 0;
}

/* Marks an applied batch's offsets for the next commit (and for the sink,
 * when deferred), counts it and empties it. */
static void mark_applied(vcdc_consumer_t *c, vcdc_batch_t *b, size_t changes,
                         int defer, int64_t max_ts) {
        size_t i, cnt;
        const vcdc_sink_offset_t *offsets = vcdc_batch_offsets(b, &cnt);

        if (defer) {
                c->offsets_pending = 1;
        } else if (cnt) {
                c->offsets_pending = 0;
                c->last_offsets = now_ms();
        }
        for (i = 0; i < cnt; i++) {
                part_t *p = part_find(c, offsets[i].partition);
                if (p)
                        p->next = offsets[i].offset + 1;
        }
        c->uncommitted = 1;
        atomic_fetch_add(&c->applied, changes);
        atomic_fetch_add(&c->messages, vcdc_batch_msg_cnt(b));
        atomic_fetch_add(&c->batches, 1);
        atomic_store(&c->last_applied_ts, max_ts);
        vcdc_batch_reset(b);
}

/*
 * A batch the sink took: its dead letters made durable, then its offsets
 * marked and, when due, committed. Returns 0, or 1 when a stop or a
 * revocation came first (nothing marked: read again later).
 */
static int applied(vcdc_consumer_t *c, vcdc_batch_t *b, size_t changes,
                   int defer, int64_t max_ts) {
        char errstr[512];
        int attempt;

        /* Dead letters must be durable before their offsets are committed. */
        for (attempt = 0; vcdc_dlq_flush(c->dlq, 10000, errstr,
                                        sizeof(errstr)) == -1;
             attempt++) {
                VCDC_WARN("consumer", "%s; retrying", errstr);
                wait_polling(c, vcdc_backoff_ms(attempt < 10 ? attempt : 10,
                                                c->backoff_base,
                                                c->backoff_max, next_rand(c)));
                if (!*c->run || c->abandon) {
                        vcdc_batch_reset(b);
                        c->abandon = 0;
                        return 1;
                }
        }
        pause_all(c, 0);
        mark_applied(c, b, changes, defer, max_ts);
        /* The target records its offsets with each batch, so commits only
         * report progress and spare a restart the target's lookup: at most
         * one per vcdc.commit.interval.ms, however small the batches. */
        if (now_ms() - c->last_commit >= c->commit_ms)
                commit(c, 1 /*async*/);
        return 0;
}

/*
 * Applies batch b and waits for it, with retries, a refused batch split
 * to find the bad records. Returns -1 when the run must stop, 1 when the
 * batch was given up (stop, revocation: not committed, read again later),
 * else 0.
 */
static int apply_now(vcdc_consumer_t *c, vcdc_batch_t *b, int defer,
                     int64_t max_ts) {
        vcdc_sink_batch_t view;
        vcdc_sink_status_t st;
        char errstr[512];
        outcome_t o;
        size_t changes;

        if (vcdc_batch_view(b, c->topic, &view) == -1) {
                VCDC_ERR("consumer", "out of memory");
                return -1;
        }
        changes = view.upsert_cnt + view.delete_cnt;
        if (defer)
                view.offset_cnt = 0; /* record_offsets() writes them */
        c->applying = b;
        o = apply_with_retry(c, &view, &st, errstr, sizeof(errstr));
        if (o == FAILED && st == VCDC_SINK_INVALID) {
                VCDC_WARN("consumer",
                          "a batch of %zu was refused: %s; splitting it to "
                          "find the bad records",
                          changes, errstr);
                o = apply_isolating(c, b);
                changes = 0; /* counted by apply_range */
        }
        c->applying = NULL;
        if (o == FAILED) {
                VCDC_ERR("consumer", "%s (%s): stopping", errstr,
                         vcdc_sink_status_name(st));
                c->fatal = 1;
                return -1;
        }
        if (o == ABANDONED) {
                vcdc_batch_reset(b);
                c->abandon = 0;
                return 1;
        }
        return applied(c, b, changes, defer, max_ts);
}

/*
 * Reads the answer for the batch in flight, if any. One the sink did not
 * take is applied again from the start, as any failed apply is. Returns
 * as apply_now().
 */
static int land(vcdc_consumer_t *c) {
        vcdc_sink_status_t st;
        char errstr[512];

        if (!c->in_flight)
                return 0;
        c->in_flight = 0;
        st = vcdc_sink_apply_wait(c->sink, errstr, sizeof(errstr));
        if (st == VCDC_SINK_OK) {
                count_apply(c, (now_ms() - c->flight_sent) * 1000);
                return applied(c, c->flight, c->flight_changes,
                               c->flight_defer, c->flight_max_ts);
        }
        if (st == VCDC_SINK_RETRIABLE) {
                atomic_fetch_add(&c->retries, 1);
                VCDC_WARN("consumer", "%s; applying the batch again", errstr);
        }
        return apply_now(c, c->flight, c->flight_defer, c->flight_max_ts);
}

/* Revocation: the batch in flight is applied if its answer says so (no
 * retries, no waiting on dead letters), else left to the next owner. */
static void land_revoked(vcdc_consumer_t *c) {
        char errstr[512];

        if (!c->in_flight)
                return;
        c->in_flight = 0;
        if (vcdc_sink_apply_wait(c->sink, errstr, sizeof(errstr)) ==
                    VCDC_SINK_OK &&
            vcdc_dlq_flush(c->dlq, 10000, errstr, sizeof(errstr)) == 0)
                mark_applied(c, c->flight, c->flight_changes, c->flight_defer,
                             c->flight_max_ts);
        vcdc_batch_reset(c->flight);
}

/*
 * Applies the filling batch, after landing the one in flight. With a sink
 * that can, it is only sent: land() reads its answer when the next batch
 * is due or the consumer is idle. Returns -1 when the run must stop.
 */
static int flush_batch(vcdc_consumer_t *c) {
        vcdc_batch_t *b = c->batch;
        vcdc_sink_batch_t view;
        char errstr[512];
        int64_t max_ts = c->batch_max_ts;
        int r, defer;

        if ((r = land(c)) != 0) {
                /* Nothing after a batch given up may be applied. */
                vcdc_batch_reset(b);
                c->batch_max_ts = 0;
                return r == -1 ? -1 : 0;
        }
        if (!vcdc_batch_msg_cnt(b))
                return 0;
        if (!vcdc_sink_dim(c->sink) && drop_minority_dims(c) == -1)
                return -1;
        c->batch_max_ts = 0;
        defer = c->offsets_apart;
        if (vcdc_sink_can_send(c->sink)) {
                if (vcdc_batch_view(b, c->topic, &view) == -1) {
                        VCDC_ERR("consumer", "out of memory");
                        return -1;
                }
                if (defer)
                        view.offset_cnt = 0;
                c->flight_sent = now_ms();
                if (vcdc_sink_apply_send(c->sink, &view, errstr,
                                         sizeof(errstr)) == VCDC_SINK_OK) {
                        c->batch = c->flight;
                        c->flight = b;
                        c->in_flight = 1;
                        c->flight_changes = view.upsert_cnt + view.delete_cnt;
                        c->flight_defer = defer;
                        c->flight_max_ts = max_ts;
                        return 0;
                }
                VCDC_DEBUG("consumer", "%s; applying the batch at once",
                           errstr);
        }
        return apply_now(c, b, defer, max_ts) == -1 ? -1 : 0;
}

static int batch_due(vcdc_consumer_t *c) {
        size_t msgs = vcdc_batch_msg_cnt(c->batch);

        return msgs && (vcdc_batch_change_cnt(c->batch) >= c->batch_records ||
                        vcdc_batch_bytes(c->batch) >= c->batch_bytes ||
                        now_ms() - c->batch_started >= c->batch_ms);
}

/* Lag of the assigned partitions; 1 in *at_endp when exit-at-end's
 * targets are all reached. */
static int64_t measure_lag(vcdc_consumer_t *c, int *at_endp) {
        rd_kafka_topic_partition_list_t *pos;
        int64_t lag = 0, lo, hi, at;
        size_t i;
        int at_end = c->assigned_once;

        pos = assigned_list(c);
        rd_kafka_position(c->rk, pos);
        for (i = 0; i < c->part_cnt; i++) {
                part_t *p = &c->parts[i];
                at = pos->elems[i].offset;
                if (at < 0)
                        at = p->start;
                if (p->next > at)
                        at = p->next;
                if (rd_kafka_get_watermark_offsets(c->rk, c->topic,
                                                   p->partition, &lo, &hi) ==
                            RD_KAFKA_RESP_ERR_NO_ERROR &&
                    hi >= 0) {
                        if (at < 0)
                                at = lo >= 0 ? lo : 0;
                        if (hi > at)
                                lag += hi - at;
                }
                /* At the end when everything up to the end seen at start
                 * is applied (committed), not merely read. */
                if (p->end > 0 && (p->next < 0 ? p->start : p->next) < p->end)
                        at_end = 0;
        }
        rd_kafka_topic_partition_list_destroy(pos);
        if (at_endp)
                *at_endp = at_end && !vcdc_batch_msg_cnt(c->batch) &&
                           !c->held_cnt && !c->in_flight;
        return lag;
}

/*
 * librdkafka 2.0 stops fetching a partition whose prefetch queue is over
 * queued.max.messages.kbytes, and looks at it again only when its broker
 * thread wakes: on network I/O, else after a second. A fast sink drains
 * the queue well within that second and would wait out the rest. So when
 * nothing is queued but a partition is known to have more, a watermark
 * query to its leader (at most one every 50 ms) wakes that thread, which
 * resumes fetching at once; the answer is not needed.
 */
static void wake_fetcher(vcdc_consumer_t *c) {
        rd_kafka_topic_partition_list_t *pos;
        int64_t lo, hi, now = now_ms();
        size_t i, k;

        if (!c->part_cnt || c->paused || now - c->last_wake < 50)
                return;
        c->last_wake = now;
        pos = assigned_list(c);
        rd_kafka_position(c->rk, pos);
        for (i = 0; i < c->part_cnt; i++) {
                k = (c->wake_next + i) % c->part_cnt;
                if (pos->elems[k].offset < 0 ||
                    rd_kafka_get_watermark_offsets(c->rk, c->topic,
                                                   c->parts[k].partition, &lo,
                                                   &hi) ||
                    hi <= pos->elems[k].offset)
                        continue;
                rd_kafka_query_watermark_offsets(c->rk, c->topic,
                                                 c->parts[k].partition, &lo,
                                                 &hi, 50);
                c->wake_next = k + 1;
                break;
        }
        rd_kafka_topic_partition_list_destroy(pos);
}

static void progress(vcdc_consumer_t *c, int64_t lag) {
        int64_t now = now_ms();
        uint64_t applied = atomic_load(&c->messages);
        double rate = now > c->last_progress
                              ? (double)(applied - c->progress_applied) *
                                        1000.0 /
                                        (double)(now - c->last_progress)
                              : 0;

        char eta[48] = "";

        if (lag > 0 && rate > 0)
                snprintf(eta, sizeof(eta), ", ETA %.0f s", (double)lag / rate);
        if (applied != c->progress_applied || lag > 0)
                VCDC_NOTICE("consumer",
                            "%s: %" PRIu64 " messages applied (%.0f/s), lag "
                            "%" PRId64 "%s, %" PRIu64 " dead letters",
                            vcdc_sink_name(c->sink), applied, rate, lag, eta,
                            (uint64_t)atomic_load(&c->dead_letters));
        c->last_progress = now;
        c->progress_applied = applied;
}

int vcdc_consumer_run(vcdc_consumer_t *c, volatile sig_atomic_t *run) {
        rd_kafka_topic_partition_list_t *sub;
        rd_kafka_message_t *rkm;
        rd_kafka_resp_err_t err;
        int at_end = 0, open_batch, r = 0;
        int64_t now;
        size_t i;

        c->run = run;
        sub = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(sub, c->topic, RD_KAFKA_PARTITION_UA);
        err = rd_kafka_subscribe(c->rk, sub);
        rd_kafka_topic_partition_list_destroy(sub);
        if (err) {
                VCDC_ERR("consumer", "subscribe to %s: %s", c->topic,
                         rd_kafka_err2str(err));
                return -1;
        }
        c->started = c->last_progress = now_ms();

        while (*run && !c->fatal) {
                if (c->held_cnt) {
                        /* Polled while paused: their turn now. */
                        rd_kafka_message_t **held = c->held;
                        size_t cnt = c->held_cnt;
                        c->held = NULL;
                        c->held_cnt = c->held_cap = 0;
                        for (i = 0; i < cnt; i++) {
                                handle_message(c, held[i]);
                                rd_kafka_message_destroy(held[i]);
                        }
                        free(held);
                }
                /* With a batch open, take only what is already fetched:
                 * when nothing is, the consumer has caught up and applies
                 * the batch at once instead of waiting out vcdc.batch.ms.
                 * Latency stays low at low rates, and at high rates the
                 * queue refills during each apply, so batches still grow
                 * to their limits. */
                open_batch = vcdc_batch_msg_cnt(c->batch) > 0;
                rkm = rd_kafka_consumer_poll(
                        c->rk, open_batch || c->in_flight ? 0 : 100);
                if (rkm) {
                        handle_message(c, rkm);
                        rd_kafka_message_destroy(rkm);
                } else {
                        wake_fetcher(c);
                }
                if (batch_due(c) || (open_batch && !rkm)) {
                        if (flush_batch(c) == -1)
                                break;
                } else if (!rkm && land(c) == -1) {
                        break; /* idle: the answer for the batch sent */
                }
                commit_results(c, 0);
                /* The clock once per message, for every timer below. */
                now = now_ms();
                if (c->offsets_pending &&
                    now - c->last_offsets >= c->commit_ms)
                        record_offsets(c);
                if (c->uncommitted && now - c->last_commit >= c->commit_ms)
                        commit(c, 1 /*async*/);
                if (c->progress_ms > 0 &&
                    now - c->last_progress >= c->progress_ms)
                        progress(c, measure_lag(c, NULL));
                /* Idle, a run to the end checks at once whether it is. */
                if (now - c->last_lag < 100 && (rkm || !c->exit_at_end))
                        continue;
                c->last_lag = now;
                atomic_store(&c->lag, measure_lag(c, &at_end));
                if (c->exit_at_end && at_end) {
                        VCDC_NOTICE("consumer",
                                    "reached the log end seen at start");
                        break;
                }
        }
        /* Stopping: finish the batch once if the sink takes it, commit what
         * was applied, leave the group. */
        /* One try, no retries once *run is 0: a stop does not wait out an
         * outage, and what fails is read again by the next run. */
        if (!c->fatal && (vcdc_batch_msg_cnt(c->batch) || c->in_flight) &&
            (flush_batch(c) == -1 || land(c) == -1))
                r = -1;
        progress(c, measure_lag(c, NULL));
        record_offsets(c);
        commit(c, 0 /*sync*/);
        if (c->fatal)
                r = -1;
        return r;
}

/*
 * Metrics, Prometheus text format.
 */
static size_t render_metrics(char *buf, size_t size, void *opaque) {
        vcdc_consumer_t *c = opaque;
        size_t n = 0, b;
        uint64_t cnt = atomic_load(&c->apply_cnt);

#define OUT(...)                                                               \
        do {                                                                   \
                if (n < size)                                                  \
                        n += (size_t)snprintf(buf + n, size - n, __VA_ARGS__); \
        } while (0)
#define COUNTER(name, help, v)                                                 \
        OUT("# HELP " name " " help "\n# TYPE " name " counter\n" name         \
            " %" PRIu64 "\n",                                                  \
            (uint64_t)(v))
        COUNTER("vcdc_consumer_messages_total",
                "Messages applied, dead-lettered or filtered, and committed.",
                atomic_load(&c->messages));
        COUNTER("vcdc_consumer_records_applied_total",
                "Changes applied to the sink (after coalescing).",
                atomic_load(&c->applied));
        COUNTER("vcdc_consumer_batches_total", "Batches applied.",
                atomic_load(&c->batches));
        COUNTER("vcdc_consumer_retries_total",
                "Sink calls retried after a transient failure.",
                atomic_load(&c->retries));
        COUNTER("vcdc_consumer_dead_letters_total",
                "Records sent to the dead-letter topic.",
                atomic_load(&c->dead_letters));
        COUNTER("vcdc_consumer_filtered_total",
                "Records of other collections, skipped.",
                atomic_load(&c->filtered));
        OUT("# HELP vcdc_consumer_lag_messages Messages between the "
            "consumer's position and the log end, assigned partitions.\n"
            "# TYPE vcdc_consumer_lag_messages gauge\n"
            "vcdc_consumer_lag_messages %" PRId64 "\n",
            (int64_t)atomic_load(&c->lag));
        OUT("# HELP vcdc_consumer_last_applied_timestamp_ms Kafka timestamp "
            "of the newest applied record.\n"
            "# TYPE vcdc_consumer_last_applied_timestamp_ms gauge\n"
            "vcdc_consumer_last_applied_timestamp_ms %" PRId64 "\n",
            (int64_t)atomic_load(&c->last_applied_ts));
        OUT("# HELP vcdc_consumer_apply_seconds Time of one sink apply.\n"
            "# TYPE vcdc_consumer_apply_seconds histogram\n");
        for (b = 0; b < BUCKET_CNT; b++)
                OUT("vcdc_consumer_apply_seconds_bucket{le=\"%g\"} %" PRIu64
                    "\n",
                    latency_buckets[b], (uint64_t)atomic_load(&c->apply_le[b]));
        OUT("vcdc_consumer_apply_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n"
            "vcdc_consumer_apply_seconds_sum %.6f\n"
            "vcdc_consumer_apply_seconds_count %" PRIu64 "\n",
            cnt, (double)atomic_load(&c->apply_us) / 1e6, cnt);
#undef COUNTER
#undef OUT
        return n < size ? n : size - 1;
}

/*
 * Set-up.
 */

/* A replay from offset zero must find all history: every partition starts
 * at offset 0, or the topic is compacted. */
static int check_replay(vcdc_consumer_t *c, int partition_cnt, char *errstr,
                        size_t errstr_size) {
        char policy[128];
        int64_t lo, hi;
        int p;

        if (vcdc_admin_topic_config(c->rk, c->topic, "cleanup.policy", policy,
                                    sizeof(policy), 10000, errstr,
                                    errstr_size) == -1)
                return -1;
        if (vcdc_admin_policy_keeps_history(policy))
                return 0;
        for (p = 0; p < partition_cnt; p++) {
                rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
                        c->rk, c->topic, p, &lo, &hi, 10000);
                if (err) {
                        snprintf(errstr, errstr_size,
                                 "%s [%d]: cannot read offsets: %s", c->topic,
                                 p, rd_kafka_err2str(err));
                        return -1;
                }
                if (lo > 0) {
                        snprintf(errstr, errstr_size,
                                 "cannot replay %s from offset zero: "
                                 "partition %d starts at offset %" PRId64
                                 " (cleanup.policy=%s deleted the records "
                                 "before it), so the replay would miss "
                                 "changes. Replay from a compacted topic",
                                 c->topic, p, lo, policy);
                        return -1;
                }
        }
        return 0;
}

vcdc_consumer_t *vcdc_consumer_new(const vcdc_conf_t *conf,
                                   const vcdc_consumer_opts_t *opts,
                                   char *errstr, size_t errstr_size) {
        vcdc_consumer_t *c = calloc(1, sizeof(*c));
        vcdc_sink_conf_t sink_conf = {0};
        rd_kafka_conf_t *rkc = NULL;
        char dlq_topic[512];
        int partition_cnt, p;

        if (!c || !(c->topic = strdup(opts->topic)) ||
            (opts->collection && !(c->collection = strdup(opts->collection))) ||
            !(c->batch = vcdc_batch_new()) ||
            !(c->flight = vcdc_batch_new())) {
                snprintf(errstr, errstr_size, "out of memory");
                goto err;
        }
        c->exit_at_end = opts->exit_at_end;
        c->from_beginning = opts->from_beginning;
        c->batch_records = (size_t)vcdc_conf_int(conf, "vcdc.batch.records");
        c->batch_bytes = (size_t)vcdc_conf_int(conf, "vcdc.batch.bytes");
        c->batch_ms = vcdc_conf_int(conf, "vcdc.batch.ms");
        c->backoff_base = vcdc_conf_int(conf, "vcdc.retry.backoff.ms");
        c->backoff_max = vcdc_conf_int(conf, "vcdc.retry.backoff.max.ms");
        c->progress_ms = vcdc_conf_int(conf, "vcdc.progress.ms");
        c->commit_ms = vcdc_conf_int(conf, "vcdc.commit.interval.ms");
        c->rng = (uint32_t)time(NULL) ^ (uint32_t)(uintptr_t)c;
        if (!c->rng)
                c->rng = 1;

        if (*vcdc_conf_str(conf, "vcdc.sink.metric"))
                sink_conf.metric = vcdc_metric_parse(
                        vcdc_conf_str(conf, "vcdc.sink.metric"));
        sink_conf.timeout_ms = (int)vcdc_conf_int(conf, "vcdc.sink.timeout.ms");
        sink_conf.dim = (size_t)vcdc_conf_int(conf, "vcdc.sink.dim");
        if (!(c->sink = vcdc_sink_new(opts->sink_url, &sink_conf, errstr,
                                      errstr_size)))
                goto err;
        c->offsets_apart = vcdc_sink_offsets_apart(c->sink);
        /* The batch never exceeds what the sink takes in one call. */
        if (c->batch_records > vcdc_sink_max_batch(c->sink))
                c->batch_records = vcdc_sink_max_batch(c->sink);
        if (!(c->codec = vcdc_codec_new(errstr, errstr_size)))
                goto err;
        /* Without a registry client, vcdc.schema.id is the one Confluent
         * schema id known: the current schema's, as the producer's
         * --schema-id wrote it. Other ids are dead-lettered as unknown. */
        vcdc_codec_set_schema_id(
                c->codec, (int32_t)vcdc_conf_int(conf, "vcdc.schema.id"));

        rkc = vcdc_conf_kafka_dup(conf);
        if (vcdc_conf_kafka_set(rkc, "group.id", opts->group,
                                errstr, errstr_size) ||
            vcdc_conf_kafka_set(rkc, "enable.auto.commit", "false",
                                errstr, errstr_size) ||
            vcdc_conf_kafka_set(rkc, "enable.auto.offset.store", "false",
                                errstr, errstr_size) ||
            vcdc_conf_kafka_set(rkc, "auto.offset.reset",
                                opts->from_beginning ? "earliest" : "latest",
                                errstr, errstr_size))
                goto err;
        /* librdkafka prefetches up to 64 MB per consumer by default, which
         * would be most of the consumer's memory. Bounded to 8 MB unless
         * set to something else; wake_fetcher() keeps a small queue from
         * stalling (bench: 1,000,000 records replayed into pgvector as fast
         * with 8 MB as with 16 MB; peak RSS 40 and 52-64 MB, the larger
         * bound overshot by the fetch answers landing on it). */
        {
                char v[32];
                size_t vsize = sizeof(v);
                if (rd_kafka_conf_get(rkc, "queued.max.messages.kbytes", v,
                                      &vsize) == RD_KAFKA_CONF_OK &&
                    !strcmp(v, "65536") &&
                    vcdc_conf_kafka_set(rkc, "queued.max.messages.kbytes",
                                        "8192", errstr, errstr_size))
                        goto err;
        }
        rd_kafka_conf_set_opaque(rkc, c);
        rd_kafka_conf_set_rebalance_cb(rkc, rebalance_cb);
        rd_kafka_conf_set_error_cb(rkc, error_cb);
        rd_kafka_conf_set_log_cb(rkc, vcdc_log_rdkafka_cb);
        if (!(c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, rkc, errstr,
                                   errstr_size)))
                goto err;
        rkc = NULL;
        rd_kafka_poll_set_consumer(c->rk);
        c->commitq = rd_kafka_queue_new(c->rk);

        if (vcdc_admin_partition_count(c->rk, c->topic, &partition_cnt, 10000,
                                       errstr, errstr_size) == -1)
                goto err;
        if (!partition_cnt) {
                snprintf(errstr, errstr_size, "topic %s does not exist",
                         c->topic);
                goto err;
        }
        if (opts->from_beginning &&
            check_replay(c, partition_cnt, errstr, errstr_size) == -1)
                goto err;
        if (opts->exit_at_end) {
                int64_t lo;
                if (!(c->ends = calloc((size_t)partition_cnt,
                                       sizeof(*c->ends)))) {
                        snprintf(errstr, errstr_size, "out of memory");
                        goto err;
                }
                c->end_cnt = partition_cnt;
                for (p = 0; p < partition_cnt; p++) {
                        rd_kafka_resp_err_t err =
                                rd_kafka_query_watermark_offsets(
                                        c->rk, c->topic, p, &lo, &c->ends[p],
                                        10000);
                        if (err) {
                                snprintf(errstr, errstr_size,
                                         "%s [%d]: cannot read the log end: "
                                         "%s",
                                         c->topic, p, rd_kafka_err2str(err));
                                goto err;
                        }
                }
        }
        if (*vcdc_conf_str(conf, "vcdc.dlq.topic"))
                snprintf(dlq_topic, sizeof(dlq_topic), "%s",
                         vcdc_conf_str(conf, "vcdc.dlq.topic"));
        else
                snprintf(dlq_topic, sizeof(dlq_topic), "%s.dlq", c->topic);
        if (!(c->dlq = vcdc_dlq_new(conf, dlq_topic, vcdc_sink_name(c->sink),
                                    errstr, errstr_size)))
                goto err;
        if (opts->metrics_port >= 0 &&
            !(c->metrics = vcdc_metrics_start(
                      vcdc_conf_str(conf, "vcdc.metrics.bind"),
                      opts->metrics_port, render_metrics, c, errstr,
                      errstr_size)))
                goto err;
        VCDC_NOTICE("consumer",
                    "group %s applies %s (%d partitions) to %s; dead letters "
                    "to %s%s",
                    opts->group, c->topic, partition_cnt,
                    vcdc_sink_name(c->sink), dlq_topic,
                    opts->from_beginning ? "; replay from offset zero" : "");
        return c;
err:
        if (rkc)
                rd_kafka_conf_destroy(rkc);
        vcdc_consumer_destroy(c);
        return NULL;
}

void vcdc_consumer_stats(vcdc_consumer_t *c, vcdc_consumer_stats_t *stats) {
        stats->messages = atomic_load(&c->messages);
        stats->applied = atomic_load(&c->applied);
        stats->batches = atomic_load(&c->batches);
        stats->retries = atomic_load(&c->retries);
        stats->dead_letters = atomic_load(&c->dead_letters);
        stats->filtered = atomic_load(&c->filtered);
        stats->lag = atomic_load(&c->lag);
}

int vcdc_consumer_metrics_port(const vcdc_consumer_t *c) {
        return c->metrics ? vcdc_metrics_port(c->metrics) : -1;
}

void vcdc_consumer_destroy(vcdc_consumer_t *c) {
        if (!c)
                return;
        vcdc_metrics_stop(c->metrics);
        if (c->rk) {
                rd_kafka_consumer_close(c->rk);
                if (c->commitq)
                        rd_kafka_queue_destroy(c->commitq);
                rd_kafka_destroy(c->rk);
        }
        drop_held(c);
        free(c->held);
        vcdc_dlq_destroy(c->dlq);
        vcdc_codec_destroy(c->codec);
        vcdc_sink_destroy(c->sink);
        vcdc_batch_destroy(c->batch);
        vcdc_batch_destroy(c->flight);
        free(c->parts);
        free(c->ends);
        free(c->topic);
        free(c->collection);
        free(c);
}
