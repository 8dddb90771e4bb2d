/*
 * vcdc - the bound of a restore to a point in time (--until-timestamp,
 * --until-offsets): parsing it, checking it against the topic before the
 * run, and deciding whether a record lies past it. Pure functions: no
 * Kafka calls, no I/O; consumer.c and handle.c ask, they decide.
 */
#ifndef VCDC_UNTIL_H
#define VCDC_UNTIL_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
        VCDC_UNTIL_NONE,      /* no bound: the usual run */
        VCDC_UNTIL_TIMESTAMP, /* records with timestamp <= ts_ms */
        VCDC_UNTIL_OFFSETS,   /* offsets < offsets[partition] */
} vcdc_until_kind_t;

/* The most partitions --until-offsets may name (a topic's partition ids
 * are below it). */
#define VCDC_UNTIL_MAX_PARTITION 100000

typedef struct vcdc_until_s {
        vcdc_until_kind_t kind;
        int64_t ts_ms;       /* TIMESTAMP: epoch milliseconds, inclusive */
        int64_t *offsets;    /* OFFSETS: by partition, the first offset not
                              * applied; -1 for a partition not named */
        int offset_cnt;      /* entries in offsets */
        int allow_compacted; /* --allow-compacted-history given */
} vcdc_until_t;

/**
 * Parses --until-timestamp (ts, epoch milliseconds) or --until-offsets
 * (offsets, "P:O[,P:O...]"); both NULL is no bound, both given is an
 * error. allow_compacted is stored. Fills *u, which owns what it holds
 * until vcdc_until_clear(). Returns 0, or -1 with errstr naming the
 * option and the value (u is then empty).
 */
int vcdc_until_parse(const char *ts, const char *offsets, int allow_compacted,
                     vcdc_until_t *u, char *errstr, size_t errstr_size);

/** A deep copy of src into *dst. Returns 0, or -1 when out of memory. */
int vcdc_until_copy(vcdc_until_t *dst, const vcdc_until_t *src);

/** Frees what *u holds and empties it. Accepts an empty one. */
void vcdc_until_clear(vcdc_until_t *u);

/**
 * --until-offsets against the topic's partition count: every partition
 * must be named, and none beyond it. Returns 0, or -1 with errstr.
 */
int vcdc_until_check_partitions(const vcdc_until_t *u, const char *topic,
                                int partition_cnt, char *errstr,
                                size_t errstr_size);

/**
 * 1 when a record of timestamp ts_ms may already have been merged by
 * compaction with what follows it: the topic's cleanup.policy compacts and
 * now_ms - ts_ms is more than its min.compaction.lag.ms (the cleaner
 * leaves younger records alone). 0 otherwise.
 */
int vcdc_until_may_be_compacted(const char *cleanup_policy,
                                int64_t min_compaction_lag_ms, int64_t now_ms,
                                int64_t ts_ms);

/**
 * --until-timestamp against the topic: refused when the history after the
 * requested time may already be merged (vcdc_until_may_be_compacted),
 * unless allow_compacted. Any other bound passes. Returns 0, or -1 with
 * errstr naming the topic, the setting, its value and the time.
 */
int vcdc_until_check_history(const vcdc_until_t *u, const char *topic,
                             const char *cleanup_policy,
                             int64_t min_compaction_lag_ms, int64_t now_ms,
                             char *errstr, size_t errstr_size);

/**
 * 1 when the record at offset of partition, timestamp ts_ms, lies past
 * the bound (it is not applied, nor anything after it in its partition),
 * else 0.
 */
int vcdc_until_past(const vcdc_until_t *u, int32_t partition, int64_t offset,
                    int64_t ts_ms);

#endif
