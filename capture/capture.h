/*
 * vcdc - change data capture from a PostgreSQL table (issue 17): the
 * table's committed changes, read through logical decoding, published as
 * vcdc change records by the producer library (DESIGN.md, Ways in).
 *
 *   vcdc_capture_t *cap = vcdc_capture_new(conf, &opts, &exit, errstr, sz);
 *   exit = vcdc_capture_run(cap, &run);   // until SIGTERM or a fatal error
 *   vcdc_capture_destroy(cap);
 *
 * The order of things, and what each guarantees:
 * 1. Start-up checks the server, the table, the publication (created when
 *    missing, before any slot, so the slot's decoding sees it) and the
 *    slot.
 * 2. Without the slot, the snapshot. A marker slot (vcdcp_SLOT) is made
 *    with an exported snapshot; the table is read under that snapshot and
 *    every row published as an upsert; once Kafka acknowledged every one
 *    of them, the slot is made as a copy of the marker (same position,
 *    pg_copy_logical_replication_slot) and the marker dropped. The slot
 *    without its marker is what tells a later start that a whole snapshot
 *    was published. A capture stopped midway leaves the marker: the next
 *    start snapshots again (under a temporary slot's exported snapshot),
 *    and then streams from the marker's position, the first snapshot's:
 *    so a row the unfinished snapshot published and that was deleted
 *    before the new snapshot is deleted by the stream, never left behind.
 * 3. Streaming from the slot: pgoutput's changes of the table, each
 *    transaction whole and in commit order, become records keyed and
 *    partitioned as the producer does. The position confirmed to the
 *    server (standby status update, flush LSN) is the end of a
 *    transaction only once Kafka has acknowledged every record sent before
 *    it (or, with nothing in flight, what the server says it has sent).
 *    After a crash the server resends from the confirmed position:
 *    records may be published again, never lost.
 * 4. A lost connection (the database restarting) or a broker outage is
 *    waited out with backoff: the stream resumes after the last
 *    transaction Kafka acknowledged. SIGTERM flushes, confirms, exits 0.
 */
#ifndef VCDC_CAPTURE_H
#define VCDC_CAPTURE_H

#include <signal.h>
#include <stddef.h>

#include "conf.h"

/* Exit statuses (sysexits.h's EX_USAGE and EX_TEMPFAIL). */
#define VCDC_CAPTURE_EXIT_OK       0
#define VCDC_CAPTURE_EXIT_FATAL    1
#define VCDC_CAPTURE_EXIT_USAGE    64
#define VCDC_CAPTURE_EXIT_TEMPFAIL 75

typedef enum vcdc_bad_row_e {
        VCDC_BAD_ROW_STOP = 0, /* stop (exit 1) before publishing it */
        VCDC_BAD_ROW_DELETE,   /* publish a delete of its id instead */
} vcdc_bad_row_t;

typedef enum vcdc_truncate_e {
        VCDC_TRUNCATE_STOP = 0, /* stop (exit 1) at a TRUNCATE */
        VCDC_TRUNCATE_SKIP,     /* go past it (the operator empties the
                                 * targets) */
} vcdc_truncate_t;

typedef struct vcdc_capture_opts_s {
        const char *source_url; /* pgvector://USER@HOST:PORT/DB?table=NAME */
        const char *topic;
        const char *slot;        /* NULL: vcdc_<table>, lower case */
        const char *publication; /* NULL: vcdc_<table> */
        const char *collection;  /* NULL: the table's name */
        const char *id_column, *vector_column;         /* NULL: id, embedding */
        const char *metadata_column, *document_column; /* NULL: metadata,
                                                        * document, when the
                                                        * table has them */
        int create_topic;
        int drop_slot;   /* drop the slot and exit */
        int exit_at_end; /* stop once the WAL written before streaming
                          * began is published and confirmed */
        vcdc_bad_row_t on_bad_row;
        vcdc_truncate_t on_truncate;
        int metrics_port; /* -1: none */
} vcdc_capture_opts_t;

typedef struct vcdc_capture_s vcdc_capture_t;

/**
 * A capture of opts (copied) with conf's librdkafka settings and vcdc keys
 * (kept by reference: conf must outlive the capture). Checks what can be
 * checked without a network: the URL, names, options. Returns NULL with
 * errstr and *exitp (VCDC_CAPTURE_EXIT_USAGE for bad configuration).
 */
vcdc_capture_t *vcdc_capture_new(vcdc_conf_t *conf,
                                 const vcdc_capture_opts_t *opts, int *exitp,
                                 char *errstr, size_t errstr_size);

/**
 * Runs until *run becomes 0 (a signal), a fatal error, or, with
 * exit_at_end, the end. Returns the exit status: 0, 1 (fatal: the
 * database or Kafka refuses what it is asked, a change cannot be
 * published), 64 (configuration) or 75 (the database or Kafka cannot be
 * reached at start-up: try again later).
 */
int vcdc_capture_run(vcdc_capture_t *cap, volatile sig_atomic_t *run);

/** Accepts NULL. */
void vcdc_capture_destroy(vcdc_capture_t *cap);

#endif
