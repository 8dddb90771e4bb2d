/*
 * vcdc - the initial snapshot: every row of the captured table as of the
 * replication slot's exported snapshot, read in one REPEATABLE READ
 * transaction that imports it (SET TRANSACTION SNAPSHOT) with
 * COPY (SELECT ...) TO STDOUT (FORMAT binary), one row at a time: memory
 * stays bounded whatever the table's size, and vectors arrive in
 * pgvector's binary form, exact and cheap to read.
 *
 * It reads and hands rows over; it publishes nothing and does not know of
 * slots beyond the snapshot's name (capture.c orders slot, snapshot and
 * stream).
 */
#ifndef VCDC_SNAPSHOT_H
#define VCDC_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "rowmap.h"
#include "source.h"

/* Called for each row; 0 goes on, anything else stops the read and is
 * returned by vcdc_snapshot_read(). The row is valid during the call. */
typedef int(vcdc_snapshot_row_cb_t)(void *opaque, const vcdc_rowmap_row_t *row);

/**
 * Reads table t as of snapshot (an exported snapshot's name) over conn, an
 * idle normal connection, calling row_cb for each row. Leaves conn idle
 * (the transaction ended) when the read finishes; after a failure or a
 * stop, close conn. *rowsp counts the rows handed over. Returns
 * VCDC_PG_OK, a row_cb's non-zero answer, or an error status
 * (VCDC_PG_TRANSIENT, VCDC_PG_FATAL) with errstr.
 */
int vcdc_snapshot_read(PGconn *conn, const vcdc_source_table_t *t,
                       const char *snapshot, vcdc_snapshot_row_cb_t *row_cb,
                       void *opaque, uint64_t *rowsp, char *errstr,
                       size_t errstr_size);

/**
 * Parses COPY BINARY data buf[0..len), one CopyData message, which may
 * begin with the file header (*header_done 0 until it is read) and end
 * with the trailer (*end set). Each tuple of 4 fields becomes a row for
 * row_cb. Pure: exposed for the unit tests. Returns 0, a row_cb's
 * non-zero answer, or -1 with errstr (malformed data).
 */
int vcdc_snapshot_parse_copy(const char *buf, size_t len, int *header_done,
                             int *end, vcdc_snapshot_row_cb_t *row_cb,
                             void *opaque, uint64_t *rowsp, char *errstr,
                             size_t errstr_size);

#endif
