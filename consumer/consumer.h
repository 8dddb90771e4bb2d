/*
 * vcdc - the consumer: applies the topic to one sink, at least once and
 * idempotently, so the database converges to the state the log describes
 * (DESIGN.md, The consumer).
 *
 * Poll, decode, batch (by count, bytes and time), coalesce by id, apply to
 * the sink with the batch's offsets, and only then commit. Transient sink
 * failures are retried with backoff while the partitions are paused and
 * polling goes on; a record that can never apply goes to the dead-letter
 * topic. On assignment a partition resumes after the larger of the
 * committed offset and the offset recorded in the target.
 */
#ifndef VCDC_CONSUMER_H
#define VCDC_CONSUMER_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "sinkindex.h"
#include "until.h"

typedef struct vcdc_consumer_s vcdc_consumer_t;

typedef struct vcdc_consumer_opts_s {
        const char *topic;
        const char *group;
        const char *sink_url;
        const char *collection;  /* apply only this collection; NULL: all */
        int from_beginning;      /* auto.offset.reset=earliest, and check that
                                  * the topic still holds its whole history */
        int exit_at_end;         /* stop once the log-end offsets seen at start
                                  * are applied */
        int metrics_port;        /* -1: no metrics endpoint; 0: any port */
        vcdc_index_spec_t index; /* built once caught up with the log end
                                  * seen at start; kind NONE: no index */
        vcdc_until_t until;      /* a restore to a point in time: apply up to
                                  * it and stop (implies exit_at_end); copied
                                  * by vcdc_consumer_new. Kind NONE: no bound */
        const char *control_topic; /* the collection's configuration
                                    * (collconf.h) is read there at start:
                                    * a new target takes its metric and
                                    * dimension, a contradicting metric is
                                    * refused. NULL: not read */
} vcdc_consumer_opts_t;

typedef struct vcdc_consumer_stats_s {
        uint64_t messages; /* messages handled (committed or to be) */
        uint64_t applied;  /* changes applied to the sink */
        uint64_t batches;
        uint64_t retries;
        uint64_t dead_letters;
        uint64_t filtered; /* other collections' records, skipped */
        uint64_t snapshot_skipped; /* snapshot records naming this group
                                    * (vcdc.snapshot.group), skipped */
        int64_t lag;       /* messages behind the log end, assigned
                            * partitions */
} vcdc_consumer_stats_t;

/**
 * Connects to Kafka and the sink and checks the configuration (a replay
 * that could not hold all history is refused here, naming the partition,
 * and so is a point in time that compaction may already have merged, and
 * a metric or dimension that contradicts the collection's recorded
 * configuration).
 * conf stays the caller's. Returns NULL with errstr; *transientp (when not
 * NULL) is then 1 when what failed may pass by itself (the broker or the
 * database did not answer), 0 for a configuration error.
 */
vcdc_consumer_t *vcdc_consumer_new(const vcdc_conf_t *conf,
                                   const vcdc_consumer_opts_t *opts,
                                   int *transientp, char *errstr,
                                   size_t errstr_size);

/**
 * Runs until *run becomes 0 (a signal), the end is reached with
 * exit_at_end, or a fatal error. Commits what was applied and closes the
 * group membership before it returns. Returns 0, or -1 on a fatal error
 * (logged).
 */
int vcdc_consumer_run(vcdc_consumer_t *c, volatile sig_atomic_t *run);

void vcdc_consumer_stats(vcdc_consumer_t *c, vcdc_consumer_stats_t *stats);

/** The metrics endpoint's port, or -1. */
int vcdc_consumer_metrics_port(const vcdc_consumer_t *c);

/** Accepts NULL. */
void vcdc_consumer_destroy(vcdc_consumer_t *c);

#endif
