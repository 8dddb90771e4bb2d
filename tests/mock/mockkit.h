/*
 * vcdc - test kit: librdkafka's mock cluster with injected faults, the
 * vcdc producer against it, a change stream whose every record is
 * recognisable, and a read-back of the topic that checks it. Shared by
 * test_mock_produce.c and test_mock_consume.c (the limits of the mock that
 * shape the scenarios are said there). Test code only.
 */
#ifndef VCDC_TEST_MOCKKIT_H
#define VCDC_TEST_MOCKKIT_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "conf.h"
#include "producer.h"
#include "record.h"

#define API_PRODUCE       0
#define API_FETCH         1
#define API_OFFSET_COMMIT 8
#define API_JOIN_GROUP    11
#define API_HEARTBEAT     12
#define TOPIC             "vectors"
#define PARTS             4
#define BROKERS           3
#define GROUP             "vcdc.mock"
#define DIM               4
#define WAIT_MS           60000 /* a hang guard, never a timing assertion */

extern int mock_key_cnt; /* keys of the change stream */
extern int mock_upd_cnt; /* changes of each key */

/* What the run printed at the end of each test. */
typedef struct counts_s {
        uint64_t faults;      /* injected and consumed by a request */
        uint64_t written;     /* records acknowledged by the producer */
        uint64_t verified;    /* records found where and as expected (the
                               * consumer: keys whose state is right) */
        uint64_t differences; /* missing, duplicate, reordered, wrong */
} counts_t;

typedef struct change_s {
        int key, seq;
} change_t;

typedef struct mock_s {
        rd_kafka_t *rk; /* hosts the mock brokers */
        rd_kafka_mock_cluster_t *mc;
        const char *bootstraps;
        uint64_t faults;
} mock_t;

typedef struct logcheck_s {
        uint64_t log_size; /* the partitions' high watermarks, summed */
        uint64_t gaps;     /* offsets the read-back skipped */
        uint64_t messages;
        uint64_t complete;   /* upserts, and deletes with their tombstone */
        uint64_t dups;       /* a record seen again */
        uint64_t reorders;   /* a key's change after a later one */
        uint64_t bad;        /* undecodable, unknown, or not as sent */
        uint64_t lone;       /* a delete without its tombstone, or a
                              * tombstone without its delete */
        unsigned char *seen; /* per (key, seq) */
} logcheck_t;

void mock_start(mock_t *m);

void mock_stop(mock_t *m);

void mock_report(const char *name, const counts_t *n, const char *unit);

vcdc_op_t mock_op_of(int key, int seq);

change_t *mock_changes_new(size_t *cntp);

size_t mock_delete_cnt(void);

void mock_make_record(const change_t *ch, vcdc_record_t *rec);

int mock_parse_key(const char *id);

void mock_push(mock_t *m, int32_t broker, int16_t api,
               const rd_kafka_resp_err_t *errs, size_t cnt);

size_t mock_pending(mock_t *m, int16_t api);

void mock_set_rtt(mock_t *m, int rtt_ms);

vcdc_conf_t *mock_client_conf(const mock_t *m, const char *const *kv);

vcdc_producer_t *mock_producer_new(const mock_t *m, const char *const *kv);

void mock_send_range(vcdc_producer_t *p, const change_t *ch, size_t lo,
                     size_t hi);

void mock_drain_producer(mock_t *m, vcdc_producer_t *p, int16_t api);

void mock_flush_ok(vcdc_producer_t *p);

void mock_move_leaders(mock_t *m, vcdc_producer_t *p, const change_t *ch,
                       size_t lo, size_t hi);

void mock_poll_for(vcdc_producer_t *p, int ms);

void mock_logcheck_free(logcheck_t *lc);

int mock_record_as_sent(const vcdc_record_t *rec, int key);

void mock_read_log(const mock_t *m, logcheck_t *lc);

void mock_check_log_complete(const mock_t *m, const char *name, size_t n,
                             uint64_t acked);

void mock_end_produce(mock_t *m, vcdc_producer_t *p, change_t *ch, size_t n,
                      const char *name);

void mock_send_through_outage(mock_t *m, vcdc_producer_t *p, const change_t *ch,
                              size_t lo, size_t hi, int32_t b);

#endif
