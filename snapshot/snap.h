/*
 * vcdc - the snapshot of a live OLD into the log (DESIGN.md, The snapshot
 * of a live OLD): every record of a collection or table, copied into the
 * topic chunk by chunk between watermarks while writers go on through the
 * log, so that a replay of the topic yields exactly OLD's state.
 *
 *   vcdc_snapshot_opts_t o = {.from_url = ..., .topic = ..., .old_group = ...};
 *   vcdc_snapshot_result_t res;
 *   int rc = vcdc_snapshot_run(conf, &o, &res, errstr, sizeof(errstr));
 */
#ifndef VCDC_SNAP_H
#define VCDC_SNAP_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"

/* The least min.compaction.lag.ms the topic must have: the evidence a
 * chunk's window and repairs read is seconds old when read, and the
 * cleaner must not merge it away before (DESIGN.md). */
#define VCDC_SNAPSHOT_MIN_COMPACTION_LAG_MS (15 * 60 * 1000)

typedef struct vcdc_snapshot_opts_s {
        const char *from_url;      /* OLD, a sink URL */
        const char *topic;
        const char *old_group;     /* OLD's consumer group */
        const char *collection;    /* NULL: the sink's target name */
        const char *control_topic; /* NULL: vcdc.control */
        size_t chunk;              /* records per chunk; 0: 1000 */
        double max_rate;           /* records/s read from OLD; 0: no limit */
        int set_compaction_lag;    /* raise min.compaction.lag.ms if lower */
        int timeout_ms;            /* per OLD request; 0: the sink's */
        int64_t wait_ms;           /* for OLD's consumer to catch up to a
                                    * low watermark; 0: 10 minutes */
        volatile sig_atomic_t *stop; /* set: stop after the current chunk */
} vcdc_snapshot_opts_t;

typedef struct vcdc_snapshot_result_s {
        char run[40];          /* the run's id */
        uint64_t records;      /* snapshot records written */
        uint64_t chunks;       /* chunks finished (this process) */
        uint64_t superseded;   /* rows dropped: changed inside their window */
        uint64_t repairs;      /* repairs written */
        uint64_t resolved;     /* ids of an interrupted chunk read again */
        int64_t resumed_chunk; /* the chunk a rerun resumed at; -1: none */
        double seconds;
        int finished;          /* the whole collection was copied */
} vcdc_snapshot_result_t;

/* Exit statuses of vcdc_snapshot_run(), as vcdc snapshot exits. */
#define VCDC_SNAPSHOT_DONE        0
#define VCDC_SNAPSHOT_FAILED      1  /* midway: a rerun resumes */
#define VCDC_SNAPSHOT_BAD_INPUT   64 /* nothing written */
#define VCDC_SNAPSHOT_UNAVAILABLE 75 /* OLD or the cluster unreachable at
                                      * start: nothing written */

/**
 * Runs (or resumes) the snapshot. Returns one of the statuses above, with
 * errstr saying why when not DONE (a stop asked through opts->stop
 * returns FAILED with errstr saying so). res is filled either way.
 */
int vcdc_snapshot_run(vcdc_conf_t *conf, const vcdc_snapshot_opts_t *opts,
                      vcdc_snapshot_result_t *res, char *errstr,
                      size_t errstr_size);

#endif
