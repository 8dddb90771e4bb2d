/*
 * vcdc - reading ranges of the change log back, for vcdc snapshot
 * (DESIGN.md, The snapshot of a live OLD): the log-end offsets of every
 * partition, and every message of [from[p], to[p]) decoded, with the
 * snapshot's own headers. No consumer group, nothing committed.
 *
 *   vcdc_logread_t *lr = vcdc_logread_new(conf, "vectors", errstr, sz);
 *   vcdc_logread_ends(lr, ends, errstr, sz);
 *   vcdc_logread_range(lr, from, to, on_msg, opaque, errstr, sz);
 *   vcdc_logread_destroy(lr);
 */
#ifndef VCDC_LOGREAD_H
#define VCDC_LOGREAD_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "conf.h"
#include "record.h"

/* The headers vcdc snapshot tags its records with. */
#define VCDC_HDR_SNAPSHOT       "vcdc.snapshot"       /* "RUN:CHUNK" */
#define VCDC_HDR_SNAPSHOT_GROUP "vcdc.snapshot.group" /* OLD's group */
#define VCDC_HDR_REPAIR         "vcdc.repair" /* "P:O" of the copied change */

typedef struct vcdc_logread_s vcdc_logread_t;

/* One message of a range, valid during the callback only. */
typedef struct vcdc_logmsg_s {
        int32_t partition;
        int64_t offset;
        int64_t ts_ms;
        /* The record: a tombstone comes as a DELETE of its key's id; a
         * value that cannot be decoded has decoded 0 (only collection and
         * id are set then, from the key, when the key is readable). */
        const vcdc_record_t *rec;
        int decoded;
        int tombstone;
        /* The snapshot's headers, NUL-terminated, or NULL when absent. */
        const char *snapshot;
        const char *snapshot_group;
        const char *repair;
        /* The message as it is. */
        const void *key, *value;
        size_t key_len, value_len;
} vcdc_logmsg_t;

/* Called for each message in order within a partition; returns 0, or -1
 * to stop the read (vcdc_logread_range() then fails with the errstr the
 * callback wrote into the buffer it was given). */
typedef int(vcdc_logread_cb_t)(const vcdc_logmsg_t *m, void *opaque,
                               char *errstr, size_t errstr_size);

/**
 * A reader of topic with conf's client settings (its group settings are
 * left out); decode 0 hands on messages undecoded (rec then holds nothing:
 * the control topic's JSON). Fails (NULL, errstr) when the cluster does
 * not answer; *missingp (when not NULL) is then 1 when the topic does not
 * exist.
 */
vcdc_logread_t *vcdc_logread_new(const vcdc_conf_t *conf, const char *topic,
                                 int decode, int *missingp, char *errstr,
                                 size_t errstr_size);

/** The topic's partition count. */
int vcdc_logread_partitions(const vcdc_logread_t *lr);

/** The client handle (admin calls). */
rd_kafka_t *vcdc_logread_handle(vcdc_logread_t *lr);

/** The log-end offset (high watermark) of every partition into
 *  ends[0..partitions). Returns 0, or -1 with errstr. */
int vcdc_logread_ends(vcdc_logread_t *lr, int64_t *ends, char *errstr,
                      size_t errstr_size);

/**
 * Every message in [from[p], to[p]) of every partition, through cb. Ends
 * are exclusive; offsets compaction removed are simply not there. Returns
 * 0, or -1 with errstr (the cluster stopped answering for
 * VCDC_LOGREAD_STALL_MS, or the callback stopped the read).
 */
int vcdc_logread_range(vcdc_logread_t *lr, const int64_t *from,
                       const int64_t *to, vcdc_logread_cb_t *cb, void *opaque,
                       char *errstr, size_t errstr_size);

#define VCDC_LOGREAD_STALL_MS 60000

void vcdc_logread_destroy(vcdc_logread_t *lr);

#endif
