/*
 * vcdc - test kit for the consumer's scenario tests (issue 14's scenarios
 * and the snapshot's records, test_consumer_scenarios.c and
 * test_consumer_dlq_outage.c): one scenario's world (a mock cluster with
 * a one-partition topic, the shared-file test database, a producer,
 * consumers as processes of their own, each its own group), writing
 * changes, waiting for a group's commits, reading the dead-letter topic
 * and the database back, and the tear-down that reports what differed.
 *
 * Built on the model test's kit (tests/model/). Unlike that kit it calls
 * cmocka: a broken set-up fails the test at once; differences from the
 * specification collect in scen_t.res and fail it in scen_finish().
 */
#ifndef VCDC_TEST_SCENARIO_H
#define VCDC_TEST_SCENARIO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "model/kit.h"
#include "model/memdb.h"
#include "model/model.h"
#include "producer.h"
#include "record.h"

#define SCEN_WAIT_MS 60000 /* a hang guard: a test fails, never hangs */
#define SCEN_MAX_CONSUMERS 4

/* One scenario's world; failures collect in res and are asserted at the
 * end, after everything is torn down. */
typedef struct scen_s {
        kit_mock_t mock;
        char dir[64], db_path[128];
        const char *topic;
        memdb_t *db;
        vcdc_producer_t *producer;
        int64_t written; /* messages in the (one-partition) topic */
        struct {
                pid_t pid;
                char group[64], log[160];
                rd_kafka_t *client; /* the group's committed offsets */
        } c[SCEN_MAX_CONSUMERS];
        int cnt;
        hresult_t res;
} scen_t;

/** The start of main(): in a consumer process (argv[1] is
 *  --model-consumer) runs it; else makes this binary the consumers'
 *  program and reads VCDC_TEST_LOG and VCDC_TEST_FILTER. Returns 1 when
 *  main() must return *rcp now (the consumer's exit code, or 1 when this
 *  binary's path cannot be read), 0 to run the tests. */
int scen_init(int argc, char **argv, int *rcp);

/** A new world: a temporary directory, the mock cluster with topic (and
 *  topic.dlq), the database, a producer. */
void scen_start(scen_t *s, const char *topic);

/** The record of tag: a vector of dim floats from tag, metadata (nested or
 *  not) and document "s<tag><suffix>". Free with vcdc_record_clear(). */
void scen_make_rec(vcdc_record_t *rec, const char *coll, const char *id,
                   vcdc_op_t op, uint32_t dim, int tag, const char *suffix,
                   int nested);

/** Writes one change; returns its offset (a delete's tombstone follows). */
int64_t scen_send(scen_t *s, const char *coll, const char *id, vcdc_op_t op,
                  uint32_t dim, int tag, const char *suffix, int nested);

void scen_flush(scen_t *s);

/** The hash of the record scen_send() wrote for these arguments. */
uint64_t scen_rec_hash(const char *coll, const char *id, uint32_t dim, int tag,
                       const char *suffix);

/** Starts a consumer of a new group (at the start of the topic) applying
 *  collection (NULL: none given) to target, with the vcdc_conf_set pairs
 *  kv (NULL-terminated, or NULL). Returns its index. */
int scen_consumer(scen_t *s, const char *group, const char *target,
                  const char *collection, const char *const *kv);

/** Consumer i's group committed offset, -1. */
int64_t scen_committed(scen_t *s, int i);

/** Waits until consumer i's group committed offset reaches want; -1 (a
 *  difference noted) when it does not within SCEN_WAIT_MS. */
int scen_wait_committed(scen_t *s, int i, int64_t want);

/** Stops consumer i with SIGTERM; its exit status, or -1 when it had to be
 *  killed. */
int scen_stop(scen_t *s, int i);

/** A clean stop: SIGTERM, exit 0 (else a difference). */
void scen_stop_ok(scen_t *s, int i);

/** The origins the dead-letter topic names: has[offset] for offsets up to
 *  s->written (free()). */
char *scen_dlq_origins(scen_t *s);

/** The database now: *statep (free()), and per target stats if not NULL. */
void scen_snapshot(scen_t *s, memdb_state_t **statep, memdb_stats_t *stats);

/** Tears down, then fails with everything that differed. */
void scen_finish(scen_t *s, const char *name);

#endif
