/*
 * vcdc - the pgvector sink's COPY path: a batch's upserts streamed with
 * COPY ... FROM STDIN (FORMAT binary) into a temporary staging table of
 * the session, then merged into the table with one INSERT ... SELECT ...
 * ON CONFLICT (id) DO UPDATE, inside apply()'s transaction
 * (sink_pgvector_apply.c keeps the fence, the deletes and COMMIT around
 * it). Decides which batches take it (?copy=, VCDC_PGVECTOR_COPY_MIN_ROWS).
 * Starts and ends no transaction, and writes no offsets.
 *
 * COPY cannot go in a pipeline (libpq runs the stream outside one), so
 * BEGIN and the stream are waited for, a round trip each. The stream
 * touches nothing but the session's own staging table, so it may come
 * before the fence: the fenced offsets, the merge, the deletes and COMMIT
 * then go in one pipeline, which apply_send() leaves for apply_wait() to
 * read, as on the INSERT path: the database fences, merges, updates the
 * indexes and commits while the caller builds its next batch, and a stale
 * batch is answered by apply_wait(), as there (its rows were streamed for
 * nothing, and roll back with the staging table's).
 *
 * The staging table (vcdc_pgvector_stage_sql()) is made once per
 * connection, outside any transaction, so that a rolled-back batch never
 * takes it away; it is emptied at every commit (ON COMMIT DELETE ROWS)
 * and on a rollback its rows go with the transaction. A new connection
 * makes it again. A server that loses it between transactions (a
 * transaction pooler hands each transaction another session) answers
 * 42P01: the batch is RETRIABLE and the next one makes it again.
 */
#include "sink_pgvector_state.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

int vcdc_pgvector_use_copy(const pgvector_t *pg, size_t upsert_cnt) {
        return upsert_cnt > 0 && upsert_cnt >= pg->copy_min;
}

vcdc_sink_status_t vcdc_pgvector_stage_ensure(vcdc_sink_t *sink, char *errstr,
                                              size_t errstr_size) {
        pgvector_t *pg = sink->state;
        vcdc_sink_status_t status;

        if (pg->stage_ready)
                return VCDC_SINK_OK;
        /* The session's buffers for temporary tables (8 MB by default,
         * settable only before its first use of one): a batch of 5,000
         * 768-d rows is 16 MB, which would spill to disk. Taken as needed,
         * not at once. A refusal costs only the spill. */
        if ((status = vcdc_pgvector_run_cmd(sink, "setting temp_buffers",
                                            "SET temp_buffers = '128MB'", 0,
                                            NULL, errstr, errstr_size)))
                VCDC_DEBUG(LOG_COMP, "%s", errstr);
        if ((status = vcdc_pgvector_run_cmd(
                     sink, "creating the staging table",
                     vcdc_pgvector_stage_sql(), 0, NULL, errstr, errstr_size)))
                return status;
        pg->stage_ready = 1;
        return VCDC_SINK_OK;
}

/* Streams recs[0..cnt) into the staging table: header, rows, trailer, in
 * pieces of about VCDC_PGVECTOR_COPY_PIECE bytes (a row larger than that
 * goes alone). */
static vcdc_sink_status_t stream_rows(vcdc_sink_t *sink,
                                      const vcdc_record_t *const *recs,
                                      size_t cnt, char *errstr,
                                      size_t errstr_size) {
        pgvector_t *pg = sink->state;
        vcdc_sink_status_t status;
        size_t i, row, largest = 0, size, used = 0;
        char what[64], *piece;

        for (i = 0; i < cnt; i++) {
                if (!(row = vcdc_pgvector_copy_row_size(recs[i]))) {
                        snprintf(errstr, errstr_size,
                                 "%s: record \"%.100s\": a field longer "
                                 "than COPY takes",
                                 sink->name, recs[i]->id);
                        return VCDC_SINK_INVALID;
                }
                if (row > largest)
                        largest = row;
        }
        size = largest > VCDC_PGVECTOR_COPY_PIECE ? largest
                                                  : VCDC_PGVECTOR_COPY_PIECE;
        size += VCDC_PGVECTOR_COPY_HEADER_SIZE +
                VCDC_PGVECTOR_COPY_TRAILER_SIZE;
        /* Allocated before the stream opens: nothing fails half-way but
         * the connection. */
        if (!(piece = malloc(size))) {
                snprintf(errstr, errstr_size, "%s: out of memory", sink->name);
                return VCDC_SINK_RETRIABLE;
        }
        snprintf(what, sizeof(what), "copying %zu rows", cnt);
        if ((status = vcdc_pgvector_copy_begin(sink, what,
                                               vcdc_pgvector_copy_sql(), errstr,
                                               errstr_size)))
                goto done;
        used = vcdc_pgvector_copy_header(piece);
        for (i = 0; i < cnt; i++) {
                row = vcdc_pgvector_copy_row_size(recs[i]);
                if (used + row > size - VCDC_PGVECTOR_COPY_TRAILER_SIZE) {
                        if ((status = vcdc_pgvector_copy_put(
                                     sink, what, piece, used, errstr,
                                     errstr_size)))
                                goto done;
                        used = 0;
                }
                used += vcdc_pgvector_copy_row(recs[i], piece + used);
        }
        used += vcdc_pgvector_copy_trailer(piece + used);
        if ((status = vcdc_pgvector_copy_put(sink, what, piece, used, errstr,
                                             errstr_size)))
                goto done;
        status = vcdc_pgvector_copy_end(sink, what, errstr, errstr_size);
done:
        free(piece);
        if (status && !strcmp(pg->sqlstate, "42P01")) {
                /* The staging table is gone (a pooler's other session):
                 * made again by the next batch. */
                pg->stage_ready = 0;
                status = VCDC_SINK_RETRIABLE;
        }
        return status;
}

vcdc_sink_status_t vcdc_pgvector_copy_stream(vcdc_sink_t *sink,
                                             const vcdc_record_t *const *recs,
                                             size_t cnt, char *errstr,
                                             size_t errstr_size) {
        return stream_rows(sink, recs, cnt, errstr, errstr_size);
}

vcdc_sink_status_t vcdc_pgvector_copy_merge(vcdc_sink_t *sink, size_t cnt,
                                            char *errstr, size_t errstr_size) {
        pgvector_t *pg = sink->state;
        char what[64];

        snprintf(what, sizeof(what), "merging %zu rows", cnt);
        return vcdc_pgvector_exec_bin(sink, what, NULL, pg->merge_sql, 0, NULL,
                                      NULL, NULL, errstr, errstr_size);
}
