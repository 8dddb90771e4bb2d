/*
 * vcdc - the producer library: publishes change records into the topic,
 * the ordered source of truth (DESIGN.md, The producer).
 *
 *   vcdc_producer_t *p = vcdc_producer_new(conf, "vectors", errstr, sz);
 *   vcdc_producer_send(p, &rec, errstr, sz);   // upsert or delete
 *   vcdc_producer_flush(p, 60000, errstr, sz); // 0: every record acked
 *   vcdc_producer_destroy(p);
 *
 * Idempotence and acks=all are always on, so retries neither duplicate nor
 * reorder. Keys are collection and id (codec.h), placed by murmur2 of the
 * key modulo the topic's partition count, as the Java client does, so
 * other producers of the topic agree on partitions; every message carries
 * that count in its vcdc.partitions header, so consumers notice a topic
 * whose count changed (keys moved partition). A delete is a DELETE record followed by a tombstone with the
 * same key, so compaction can drop the key in the end. A record counts as
 * published only when its delivery report (and its tombstone's) arrived.
 */
#ifndef VCDC_PRODUCER_H
#define VCDC_PRODUCER_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "record.h"

typedef struct vcdc_producer_s vcdc_producer_t;

typedef struct vcdc_producer_stats_s {
        uint64_t sent;     /* records handed to librdkafka */
        uint64_t acked;    /* records whose delivery reports all succeeded */
        uint64_t failed;   /* records with a failed delivery report */
        uint64_t messages; /* Kafka messages (records plus tombstones) */
        uint64_t bytes;    /* value bytes produced */
} vcdc_producer_stats_t;

/**
 * A producer for topic with the librdkafka settings and vcdc keys of conf
 * (copied; conf stays the caller's). Returns NULL with errstr on bad
 * configuration.
 */
vcdc_producer_t *vcdc_producer_new(const vcdc_conf_t *conf, const char *topic,
                                   char *errstr, size_t errstr_size);

/**
 * Makes sure the topic can hold the whole history: creates it compacted
 * when missing and create is set (partitions and replication from conf);
 * refuses a missing topic otherwise, and an existing topic whose
 * cleanup.policy would delete history unless allow_retention is set.
 * Returns 0, or -1 with errstr saying why.
 */
int vcdc_producer_ensure_topic(vcdc_producer_t *p, int create,
                               int allow_retention, char *errstr,
                               size_t errstr_size);

/* Errors of vcdc_producer_send(). */
#define VCDC_PRODUCER_ERR_FATAL -1  /* the producer cannot go on */
#define VCDC_PRODUCER_ERR_RECORD -2 /* this record can never be sent (larger
                                     * than message.max.bytes); nothing of it
                                     * was sent and the producer goes on */

/**
 * Encodes and enqueues one record (upsert, or delete plus tombstone).
 * Blocks while librdkafka's queue is full, serving delivery reports.
 * Returns 0, or VCDC_PRODUCER_ERR_RECORD or VCDC_PRODUCER_ERR_FATAL (record
 * not encodable, fatal producer error) with errstr. Never drops a record
 * silently.
 */
int vcdc_producer_send(vcdc_producer_t *p, const vcdc_record_t *rec,
                       char *errstr, size_t errstr_size);

/* A header of a tagged record: NUL-terminated name and value. */
typedef struct vcdc_tag_s {
        const char *name;
        const char *value;
} vcdc_tag_t;

/**
 * vcdc_producer_send() with tags[0..tag_cnt) as extra headers on the
 * record and, for a delete, on its tombstone too (vcdc snapshot marks its
 * records so; DESIGN.md, The snapshot of a live OLD).
 */
int vcdc_producer_send_tagged(vcdc_producer_t *p, const vcdc_record_t *rec,
                              const vcdc_tag_t *tags, size_t tag_cnt,
                              char *errstr, size_t errstr_size);

/** Serves delivery reports for up to timeout_ms. */
void vcdc_producer_poll(vcdc_producer_t *p, int timeout_ms);

/**
 * Waits until every enqueued message has its delivery report. Returns 0
 * when every record sent so far was acknowledged, or -1 with errstr giving
 * the counts of failed and undelivered records.
 */
int vcdc_producer_flush(vcdc_producer_t *p, int timeout_ms, char *errstr,
                        size_t errstr_size);

void vcdc_producer_stats(const vcdc_producer_t *p,
                         vcdc_producer_stats_t *stats);

/** The librdkafka handle, for admin calls and tests. */
rd_kafka_t *vcdc_producer_handle(vcdc_producer_t *p);

/** Destroys the producer (without flushing: call flush first). Accepts
 *  NULL. */
void vcdc_producer_destroy(vcdc_producer_t *p);

#endif
