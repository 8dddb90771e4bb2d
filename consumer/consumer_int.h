/*
 * vcdc - consumer internals: the handle the consumer's files share, and
 * what each of them offers the others. Only the consumer's own files
 * include this.
 *
 *   consumer.c  set-up, tear-down, statistics, metrics
 *   loop.c      the poll loop: messages in, timers, lag, progress, the end
 *   handle.c    one message: decode, the checks that decide what can never
 *               apply, into the batch or to the dead-letter topic; the
 *               group's own snapshot records skipped
 *   apply.c     batches to the sink: retries, splitting, dead letters of
 *               refused changes, fencing
 *   assign.c    partitions: assignment, revocation, commits, offsets in
 *               the target
 *   index.c     the index on the target: built once caught up
 *   until.c     the bound of a restore to a point in time (pure)
 *
 * The one rule they keep together: an offset is recorded in the target or
 * committed only once everything before it is applied or dead-lettered,
 * and every dead letter it covers is acknowledged by Kafka.
 */
#ifndef VCDC_CONSUMER_INT_H
#define VCDC_CONSUMER_INT_H

#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "batch.h"
#include "codec.h"
#include "consumer.h"
#include "dlq.h"
#include "metrics.h"
#include "sink.h"

/* Apply latency histogram buckets, seconds. */
#define VCDC_LATENCY_BUCKETS 11
extern const double vcdc_latency_buckets[VCDC_LATENCY_BUCKETS];

/* One assigned partition. */
typedef struct part_s {
        int32_t partition;
        int64_t next;       /* last applied + 1 (to commit), -1: none yet */
        int64_t start;      /* where consumption started, -1: reset policy */
        int64_t end;        /* exit-at-end: the log end seen at start, -1 */
        int64_t eof;        /* offset of the last end-of-partition event, -1 */
        int64_t first_seen; /* the first message read since assignment (or
                             * a seek) while nothing is applied, -1 */
        int until_done;     /* a record past the until bound was read: the
                             * partition is at its end (nothing more of it is
                             * applied) */
} part_t;

/* Where the index on the target stands (index.c). */
typedef enum {
        IX_OFF,      /* --index none */
        IX_WAIT,     /* to start once caught up */
        IX_BUILDING, /* the sink builds it */
        IX_DONE,     /* built, or found valid */
        IX_NO_TABLE, /* caught up before the table existed */
        IX_FAILED,   /* a build failed for good (logged) */
} index_phase_t;

/* What an apply (with its retries) ended with. */
typedef enum {
        APPLIED,   /* the sink took it */
        ABANDONED, /* a stop, a revocation or a resync came first */
        FAILED,    /* the run must stop (logged) */
} outcome_t;

struct vcdc_consumer_s {
        rd_kafka_t *rk;
        vcdc_sink_t *sink;
        vcdc_codec_t *codec;
        vcdc_dlq_t *dlq;
        vcdc_metrics_t *metrics;
        char *topic;
        char *group; /* group.id: its snapshot records are skipped */
        size_t group_len;
        char *collection;        /* the one collection applied */
        int collection_explicit; /* given: others are skipped; else the
                                  * target's name: others stop the run */
        int exit_at_end, from_beginning;

        vcdc_batch_t *batch; /* filling */
        /* With a sink that sends a batch and reads its answer later
         * (vcdc_sink_can_send), the batch sent: the next one fills while
         * the database works on it. */
        vcdc_batch_t *flight;
        int in_flight;
        int64_t flight_sent, flight_max_ts;
        vcdc_batch_t *applying; /* the batch an apply is working on: a
                                 * revocation meanwhile only marks it
                                 * abandoned */
        int64_t batch_started, batch_max_ts;
        /* A target not created yet takes the dimension of the first upsert
         * that reaches it; until it exists, that upsert's. 0: none yet. */
        size_t pending_dim;

        size_t batch_records, batch_bytes;
        int64_t batch_ms, backoff_base, backoff_max, progress_ms;
        int split_after; /* failed tries before a batch is split */

        int offsets_apart; /* the sink records offsets apart (Chroma) */
        int offsets_dirty; /* applied since they were last recorded */
        int offsets_failing;
        int64_t last_offsets;
        int64_t commit_ms, last_commit;
        int uncommitted;
        rd_kafka_queue_t *commitq; /* results of asynchronous commits */
        int commits_inflight;

        part_t *parts;
        size_t part_cnt, part_cap;
        /* The group's last rebalance gave this member its partitions
         * (maybe none), and none has been revoked since: between a
         * revocation and the assignment that follows it, the member owns
         * nothing yet and is not at the end of anything. */
        int assigned;
        int64_t *ends; /* exit-at-end: the log end per partition at start */
        int end_cnt;
        int32_t partitioned_for; /* the vcdc.partitions header seen, 0 */

        rd_kafka_message_t **held; /* polled while paused: handled next */
        size_t held_cnt, held_cap, held_next;
        int paused, abandon, fatal;
        volatile sig_atomic_t *run;
        uint32_t rng;

        vcdc_index_spec_t index_spec;
        index_phase_t index_phase;
        int64_t index_retry_at, index_last_log;
        uint64_t index_applied_at; /* IX_NO_TABLE: applied then */

        int64_t delete_retention_ms;   /* the topic's, -1: unknown */
        vcdc_until_t until;            /* kind NONE: no bound */
        char cleanup_policy[128];      /* with a bound: the topic's */
        int64_t min_compaction_lag_ms; /* with a bound: the topic's */
        int replaying, retention_warned;

        int64_t started, last_progress, last_lag, last_wake;
        size_t wake_next;
        uint64_t progress_applied;

        atomic_uint_fast64_t messages, applied, batches, retries, dead_letters,
                filtered, snapshot_skipped, splits, stale, apply_cnt,
                apply_us;
        atomic_uint_fast64_t apply_le[VCDC_LATENCY_BUCKETS];
        atomic_int_fast64_t lag, last_applied_ts;
};

/* loop.c */
uint32_t vcdc_consumer_rand(vcdc_consumer_t *c);
void vcdc_consumer_pause(vcdc_consumer_t *c, int pause);
/* Waits ms (while the run goes on), polling so the group keeps us; what
 * is polled meanwhile is held for later. Pauses the partitions first, so
 * at most what was already fetched is held. */
void vcdc_consumer_wait(vcdc_consumer_t *c, int64_t ms);
void vcdc_consumer_drop_held(vcdc_consumer_t *c);
rd_kafka_topic_partition_list_t *vcdc_consumer_assigned(vcdc_consumer_t *c);
part_t *vcdc_consumer_part(vcdc_consumer_t *c, int32_t partition);

/* handle.c */
/* One polled message into the batch (which takes it) or to the dead-letter
 * topic; destroys what it does not keep. */
void vcdc_consumer_handle(vcdc_consumer_t *c, rd_kafka_message_t *rkm);

/* apply.c */
/* Applies the filling batch (after the one in flight). Returns -1 when the
 * run must stop. */
int vcdc_consumer_flush(vcdc_consumer_t *c);
/* Reads the answer for the batch in flight, if any. Returns -1 when the run
 * must stop, 1 when the batch was given up, else 0. */
int vcdc_consumer_land(vcdc_consumer_t *c);
/* Waits until every dead letter is acknowledged. Returns 0, 1 when a stop
 * or revocation came first, -1 when one can never be delivered. */
int vcdc_consumer_dlq_wait(vcdc_consumer_t *c);
/* Drops what is not applied (batches, held messages): a revocation or a
 * fence. The answer for a batch in flight is read first, and ignored. */
void vcdc_consumer_drop_unapplied(vcdc_consumer_t *c);
/* A revocation: the batch in flight counts as applied if its answer says
 * so; no retries. */
void vcdc_consumer_land_once(vcdc_consumer_t *c);

/* index.c */
void vcdc_consumer_index_init(vcdc_consumer_t *c,
                              const vcdc_index_spec_t *spec);
/* After each lag measurement: at_end, everything up to the log end seen
 * at start is applied. Starts the build then, follows it, logs. */
void vcdc_consumer_index_tick(vcdc_consumer_t *c, int at_end, int64_t now);
/* 1 while a build is to start or under way: an --exit-at-end run waits. */
int vcdc_consumer_index_pending(const vcdc_consumer_t *c);
/* 1 when the build failed for good. */
int vcdc_consumer_index_failed(const vcdc_consumer_t *c);

/* assign.c */
void vcdc_consumer_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                                rd_kafka_topic_partition_list_t *partitions,
                                void *opaque);
void vcdc_consumer_commit(vcdc_consumer_t *c, int async);
void vcdc_consumer_commit_results(vcdc_consumer_t *c, int timeout_ms);
/* For a sink that keeps offsets apart: records the applied offsets of
 * every assigned partition (one try). */
void vcdc_consumer_record_offsets(vcdc_consumer_t *c);
/* A batch was fenced (VCDC_SINK_STALE): drops what is not applied and
 * resumes each partition after what the target records. Returns -1 when
 * the run must stop. */
int vcdc_consumer_resync(vcdc_consumer_t *c);

#endif
