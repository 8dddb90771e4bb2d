/*
 * vcdc - the capture's internals, shared by capture.c (start-up, the
 * snapshot, the run loop and the position), stream.c (pgoutput messages
 * to records) and report.c (progress lines and metrics). Only those
 * include this.
 */
#ifndef VCDC_CAPTURE_INT_H
#define VCDC_CAPTURE_INT_H

#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "capture.h"
#include "clock.h"
#include "metrics.h"
#include "pgconn.h"
#include "pgoutput.h"
#include "producer.h"
#include "record.h"
#include "replication.h"
#include "rowmap.h"
#include "source.h"
#include "url.h"

#define LOG_COMP "capture"

/* What the capture's phases answer besides VCDC_PG_OK, _TRANSIENT and
 * _FATAL. */
#define VCDC_CAPTURE_STOPPED 1 /* *run became 0 */
#define VCDC_CAPTURE_KAFKA_LOST                                                \
        2 /* deliveries failed for good: records                               \
           * must be sent again */

/* Counters the metrics thread reads while the capture writes them. */
typedef struct capture_stats_s {
        atomic_uint_least64_t snapshot_rows; /* published by the snapshot */
        atomic_uint_least64_t changes;       /* row changes of the table */
        atomic_uint_least64_t transactions;  /* commits processed */
        atomic_uint_least64_t toast_rereads; /* rows read again for an
                                              * unchanged TOASTed value */
        atomic_uint_least64_t bad_rows;      /* published as deletes or
                                              * skipped (--on-bad-row) */
        atomic_uint_least64_t truncates;     /* skipped (--on-truncate) */
        atomic_uint_least64_t reconnects;    /* streams restarted */
        atomic_uint_least64_t confirmed_lsn; /* last flush LSN sent */
        atomic_uint_least64_t server_lsn;    /* pg_current_wal_lsn() */
        atomic_int_least64_t lag_ms;         /* -1 unknown */
        atomic_uint_least64_t records_sent;  /* from the producer */
        atomic_uint_least64_t records_acked;
        atomic_int phase; /* 0 start, 1 snapshot, 2
                           * streaming */
} capture_stats_t;

/* Where the table's columns sit in the Relation message's tuples. */
typedef struct relmap_s {
        int known; /* a Relation message for the table arrived */
        int id, vector, metadata, document; /* column index, -1: absent */
} relmap_t;

struct vcdc_capture_s {
        vcdc_capture_opts_t opts;
        vcdc_conf_t *conf;
        vcdc_url_t *url;
        vcdc_pgconn_t *pc;
        char slot[64], publication[64], collection[256];
        /* The snapshot's marker slot ("vcdcp_" + slot): it exists from the
         * first snapshot's start until a whole snapshot is acknowledged,
         * and holds the position the stream must start from. */
        char pending[64];
        int slot_exists, pending_exists;
        vcdc_source_names_t names;
        vcdc_source_table_t table;
        volatile sig_atomic_t *run;

        vcdc_producer_t *p;
        PGconn *side; /* normal connection: checks, re-reads, lag */
        vcdc_replication_t *repl;
        vcdc_pgoutput_t *dec;
        vcdc_rowmap_t *rm; /* made once the table's vector type is known */
        relmap_t rel;

        /* The stream's position. last_commit_end: the end of the last
         * transaction whose records were all handed to the producer;
         * confirmed: the last flush LSN sent to the server; sent_end: the
         * server's "sent up to" of the last message processed. */
        uint64_t last_commit_end, confirmed, sent_end, end_target;
        int64_t commit_ts_us;      /* of the transaction being processed */
        int64_t unconfirmed_since; /* monotonic ms: first commit not yet
                                    * confirmed; 0: none */
        int64_t unconfirmed_ts_us; /* its commit time */
        int64_t status_sent_ms;
        int reply_due;
        int streaming; /* START_REPLICATION answered on repl */
        int in_txn;
        uint64_t txn_lsn; /* Begin's final LSN, for messages */
        uint32_t txn_xid; /* Begin's transaction id */

        vcdc_metrics_t *metrics;
        capture_stats_t stats;
        int64_t progress_every; /* vcdc.progress.ms */
        int64_t progress_ms, progress_line_ms, started_ms, stream_started_ms;
        uint64_t progress_changes, stream_changes_at_start;
};

/* Start-up checks (startup.c): returns an exit status to stop with, or
 * -1 to go on; *snapshot_done says whether a whole snapshot was
 * published (the slot exists, its marker does not). */
int vcdc_capture_startup(vcdc_capture_t *cap, int *snapshot_done);

/* The initial snapshot, ending in the permanent slot (startup.c). Returns
 * VCDC_PG_OK (the replication connection stays open), STOPPED,
 * KAFKA_LOST, or an error status with errstr. */
int vcdc_capture_snapshot(vcdc_capture_t *cap, char *errstr,
                          size_t errstr_size);

/* Waits until every record sent is acknowledged, answering the server
 * meanwhile (capture.c). Returns VCDC_PG_OK, VCDC_CAPTURE_KAFKA_LOST, or
 * VCDC_CAPTURE_STOPPED when *run fell (unless stop_ok) or deadline_ms (if
 * not 0) passed. */
int vcdc_capture_wait_acked(vcdc_capture_t *cap, int64_t deadline_ms,
                            int stop_ok);

/* A new producer after deliveries failed for good (capture.c): what they
 * carried is published again from the confirmed position. */
int vcdc_capture_reset_producer(vcdc_capture_t *cap, char *errstr,
                                size_t errstr_size);

/* Handles one pgoutput message (stream.c). Returns VCDC_PG_OK, or
 * VCDC_PG_TRANSIENT (restart the stream: a re-read failed) or
 * VCDC_PG_FATAL with errstr. */
int vcdc_capture_handle(vcdc_capture_t *cap, const vcdc_pgoutput_msg_t *msg,
                        char *errstr, size_t errstr_size);

/* Sends rec through the producer, applying --on-bad-row to an upsert
 * that can never be sent (larger than message.max.bytes) (stream.c).
 * Returns VCDC_PG_OK or VCDC_PG_FATAL with errstr. */
int vcdc_capture_send(vcdc_capture_t *cap, const vcdc_record_t *rec,
                      char *errstr, size_t errstr_size);

/* A row that cannot be a record (stream.c): stops (VCDC_PG_FATAL with
 * errstr naming the table, the id and why) or, with --on-bad-row delete,
 * publishes a delete of id. */
int vcdc_capture_bad_row(vcdc_capture_t *cap, const vcdc_rowmap_value_t *id,
                         const char *why, char *errstr, size_t errstr_size);

/* The side connection, connected when needed (capture.c). NULL with
 * *statusp and errstr. */
PGconn *vcdc_capture_side(vcdc_capture_t *cap, int *statusp, char *errstr,
                          size_t errstr_size);

/* Progress on stderr every vcdc.progress.ms and the lag (report.c). */
void vcdc_capture_progress(vcdc_capture_t *cap, int force);

/* Starts the metrics endpoint (report.c). Returns 0 or -1 with errstr. */
int vcdc_capture_metrics_start(vcdc_capture_t *cap, char *errstr,
                               size_t errstr_size);

/* The producer's counters into the stats (report.c). */
void vcdc_capture_stats_update(vcdc_capture_t *cap);

#endif
