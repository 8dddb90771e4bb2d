/*
 * vcdc - what the capture does before it streams: the start-up checks
 * (server, table, Kafka, publication, slots), --drop-slot, and the initial
 * snapshot that ends in the slot (capture.h, steps 1 and 2). It must not
 * drop the snapshot's marker slot before Kafka acknowledged every row of
 * a snapshot: the slot without its marker is what tells a later start
 * that a whole snapshot was published.
 */
#include "capture_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin.h"
#include "log.h"
#include "snapshot.h"

static int exit_of(int status) {
        return status == VCDC_PG_TRANSIENT ? VCDC_CAPTURE_EXIT_TEMPFAIL
                                           : VCDC_CAPTURE_EXIT_FATAL;
}

/* Drops name if it exists (and no capture streams it). Returns an exit
 * status; *droppedp says whether it was there. */
static int drop_one(PGconn *conn, const char *name, int *droppedp) {
        char err[1024];
        int exists, active, status;

        *droppedp = 0;
        if ((status = vcdc_source_slot(conn, name, &exists, &active, err,
                                       sizeof(err))) != VCDC_PG_OK) {
                VCDC_ERR(LOG_COMP, "%s", err);
                return exit_of(status);
        }
        if (!exists)
                return VCDC_CAPTURE_EXIT_OK;
        if (active) {
                VCDC_ERR(LOG_COMP,
                         "replication slot %s is in use: stop the "
                         "vcdc-capture that streams it first",
                         name);
                return VCDC_CAPTURE_EXIT_FATAL;
        }
        if ((status = vcdc_source_drop_slot(conn, name, err, sizeof(err))) !=
            VCDC_PG_OK) {
                VCDC_ERR(LOG_COMP, "%s", err);
                return exit_of(status);
        }
        *droppedp = 1;
        return VCDC_CAPTURE_EXIT_OK;
}

static int drop_slot(vcdc_capture_t *cap, PGconn *conn) {
        int r, slot, pending;

        if ((r = drop_one(conn, cap->slot, &slot)) != VCDC_CAPTURE_EXIT_OK ||
            (r = drop_one(conn, cap->pending, &pending)) !=
                    VCDC_CAPTURE_EXIT_OK)
                return r;
        if (!slot && !pending) {
                VCDC_NOTICE(LOG_COMP, "no replication slot %s: nothing to drop",
                            cap->slot);
                return VCDC_CAPTURE_EXIT_OK;
        }
        VCDC_NOTICE(LOG_COMP,
                    "dropped replication slot %s%s: PostgreSQL no longer "
                    "keeps WAL for it. The publication %s stays (DROP "
                    "PUBLICATION %s when nothing else uses it)",
                    slot ? cap->slot : cap->pending,
                    slot && pending ? " and its snapshot marker" : "",
                    cap->publication, cap->publication);
        return VCDC_CAPTURE_EXIT_OK;
}

/* Kafka reachable and the topic usable. */
static int check_kafka(vcdc_capture_t *cap) {
        char err[1024];
        int cnt;

        if (vcdc_admin_partition_count(vcdc_producer_handle(cap->p),
                                       cap->opts.topic, &cnt, 10000, err,
                                       sizeof(err)) == -1) {
                VCDC_ERR(LOG_COMP, "Kafka: %s", err);
                return VCDC_CAPTURE_EXIT_TEMPFAIL;
        }
        if (vcdc_producer_ensure_topic(cap->p, cap->opts.create_topic,
                                       0 /*history must be kept*/, err,
                                       sizeof(err)) == -1) {
                VCDC_ERR(LOG_COMP, "%s", err);
                return VCDC_CAPTURE_EXIT_USAGE;
        }
        return VCDC_CAPTURE_EXIT_OK;
}

/* Returns an exit status, or -1 to go on; *slot_exists says whether the
 * snapshot was done. */
int vcdc_capture_startup(vcdc_capture_t *cap, int *snapshot_done) {
        char err[1024];
        PGconn *conn;
        int status, created, active, r;

        if (!(conn = vcdc_capture_side(cap, &status, err, sizeof(err)))) {
                VCDC_ERR(LOG_COMP, "%s", err);
                return exit_of(status);
        }
        if ((status = vcdc_source_check_server(conn, err, sizeof(err))) !=
                    VCDC_PG_OK ||
            (status = vcdc_source_inspect(conn, &cap->names, &cap->table, err,
                                          sizeof(err))) != VCDC_PG_OK) {
                VCDC_ERR(LOG_COMP, "%s: %s", vcdc_pgconn_name(cap->pc), err);
                return exit_of(status);
        }
        if (cap->opts.drop_slot)
                return drop_slot(cap, conn);
        if (!(cap->rm = vcdc_rowmap_new(cap->collection,
                                        cap->table.vector_kind))) {
                VCDC_ERR(LOG_COMP, "out of memory");
                return VCDC_CAPTURE_EXIT_FATAL;
        }
        if ((r = check_kafka(cap)) != VCDC_CAPTURE_EXIT_OK)
                return r;
        /* Before any slot: decoding looks the publication up as of each
         * change, so it must predate the slot. */
        if ((status = vcdc_source_ensure_publication(
                     conn, &cap->table, cap->publication, &created, err,
                     sizeof(err))) != VCDC_PG_OK) {
                VCDC_ERR(LOG_COMP, "%s", err);
                return exit_of(status);
        }
        if (created)
                VCDC_NOTICE(LOG_COMP, "created publication %s for %s",
                            cap->publication, cap->table.qname);
        if ((status = vcdc_source_slot(conn, cap->slot, &cap->slot_exists,
                                       &active, err, sizeof(err))) !=
                    VCDC_PG_OK ||
            (status = vcdc_source_slot(conn, cap->pending, &cap->pending_exists,
                                       &active, err, sizeof(err))) !=
                    VCDC_PG_OK) {
                VCDC_ERR(LOG_COMP, "%s", err);
                return exit_of(status);
        }
        *snapshot_done = cap->slot_exists && !cap->pending_exists;
        VCDC_NOTICE(LOG_COMP,
                    "capturing %s (%s) into topic %s as collection %s; "
                    "replica identity %s; slot %s %s",
                    cap->table.qname, vcdc_pgconn_name(cap->pc),
                    cap->opts.topic, cap->collection,
                    cap->table.replident == 'f' ? "FULL" : "by key", cap->slot,
                    *snapshot_done
                            ? "exists: the snapshot was done, streaming from it"
                    : cap->pending_exists
                            ? "is pending: an earlier snapshot did not finish, "
                              "snapshot again"
                            : "is new: snapshot first");
        return -1;
}

/*
 * The snapshot.
 */

typedef struct snap_ctx_s {
        vcdc_capture_t *cap;
        int status;
        char err[1024];
} snap_ctx_t;

static int snapshot_row(void *opaque, const vcdc_rowmap_row_t *row) {
        snap_ctx_t *ctx = opaque;
        vcdc_capture_t *cap = ctx->cap;
        const vcdc_record_t *rec;
        char why[512];
        int r;

        if (!*cap->run)
                return VCDC_CAPTURE_STOPPED;
        r = vcdc_rowmap_upsert(cap->rm, row, -1 /*no commit time*/, &rec, why,
                               sizeof(why));
        if (r == VCDC_ROWMAP_NOMEM) {
                snprintf(ctx->err, sizeof(ctx->err), "out of memory");
                r = VCDC_PG_FATAL;
        } else if (r == VCDC_ROWMAP_BAD) {
                r = vcdc_capture_bad_row(cap, &row->id, why, ctx->err,
                                         sizeof(ctx->err));
        } else {
                r = vcdc_capture_send(cap, rec, ctx->err, sizeof(ctx->err));
        }
        if (r != VCDC_PG_OK) {
                ctx->status = r;
                return r;
        }
        /* The clock is read once every 1,024 rows, not for each. */
        if ((atomic_fetch_add(&cap->stats.snapshot_rows, 1) & 1023) == 0)
                vcdc_capture_progress(cap, 0);
        return 0;
}

/* Publishes the whole table under a temporary slot's exported snapshot,
 * then makes the permanent slot at its position. Returns VCDC_PG_OK (the
 * replication connection stays open), VCDC_CAPTURE_STOPPED,
 * VCDC_CAPTURE_KAFKA_LOST, or an error status with errstr. */
int vcdc_capture_snapshot(vcdc_capture_t *cap, char *errstr,
                          size_t errstr_size) {
        char tmp[64], snapname[128], lsn[VCDC_LSN_TEXT_MAX];
        const char *export_slot = cap->pending;
        snap_ctx_t ctx = {.cap = cap};
        uint64_t point, rows = 0;
        int64_t t0 = vcdc_clock_ms();
        PGconn *data = NULL, *conn;
        int status, again, active;

        atomic_store(&cap->stats.phase, 1);
        /* A retry looks again: an attempt cut short may have made the
         * marker, or even the slot. */
        if (!(conn = vcdc_capture_side(cap, &status, errstr, errstr_size)) ||
            (status = vcdc_source_slot(conn, cap->slot, &cap->slot_exists,
                                       &active, errstr, errstr_size)) !=
                    VCDC_PG_OK ||
            (status = vcdc_source_slot(conn, cap->pending,
                                       &cap->pending_exists, &active, errstr,
                                       errstr_size)) != VCDC_PG_OK)
                return status;
        if (cap->slot_exists && !cap->pending_exists)
                return VCDC_PG_OK; /* done by an earlier attempt */
        again = cap->pending_exists;
        if (!(cap->repl = vcdc_replication_open(cap->pc, &status, errstr,
                                                errstr_size)))
                return status;
        /* The first time, the marker itself exports the snapshot: the
         * stream then starts exactly where the snapshot stands. Again, a
         * temporary slot exports a newer one, and the stream starts at the
         * marker, before it. */
        if (again) {
                snprintf(tmp, sizeof(tmp), "vcdcsnap_%ld_%08x", (long)getpid(),
                         (unsigned)rand());
                export_slot = tmp;
        }
        if ((status = vcdc_replication_create_slot(
                     cap->repl, export_slot, again /*temporary*/, &point,
                     snapname, sizeof(snapname), errstr, errstr_size)) !=
            VCDC_PG_OK)
                return status;
        cap->pending_exists = 1;
        vcdc_pgconn_lsn_format(point, lsn, sizeof(lsn));
        VCDC_NOTICE(LOG_COMP, "snapshot of %s as of LSN %s%s", cap->table.qname,
                    lsn,
                    again ? " (again: the stream will start at the first "
                            "snapshot's position, before it)"
                          : "");
        if (!(data = vcdc_pgconn_connect(cap->pc, 0, &status, errstr,
                                         errstr_size)))
                return status;
        status = vcdc_snapshot_read(data, &cap->table, snapname, snapshot_row,
                                    &ctx, &rows, errstr, errstr_size);
        PQfinish(data);
        if (status == VCDC_CAPTURE_STOPPED)
                return VCDC_CAPTURE_STOPPED;
        if (ctx.status != VCDC_PG_OK) {
                snprintf(errstr, errstr_size, "%s", ctx.err);
                return ctx.status;
        }
        if (status != VCDC_PG_OK)
                return status;
        VCDC_INFO(LOG_COMP,
                  "snapshot read: %" PRIu64 " rows in %.3f s; waiting for "
                  "Kafka to acknowledge them",
                  rows, (double)(vcdc_clock_ms() - t0) / 1000.0);
        /* Only a snapshot Kafka holds whole ends the marker. */
        if ((status = vcdc_capture_wait_acked(cap, 0, 0)) != VCDC_PG_OK)
                return status;
        if (!(conn = vcdc_capture_side(cap, &status, errstr, errstr_size)))
                return status;
        if (!cap->slot_exists &&
            (status = vcdc_source_copy_slot(conn, cap->pending, cap->slot,
                                            errstr, errstr_size)) != VCDC_PG_OK)
                return status;
        cap->slot_exists = 1;
        if ((status = vcdc_replication_drop_slot(cap->repl, cap->pending,
                                                 errstr, errstr_size)) !=
            VCDC_PG_OK)
                return status;
        cap->pending_exists = 0;
        if (again && vcdc_replication_drop_slot(cap->repl, tmp, errstr,
                                                errstr_size) != VCDC_PG_OK) {
                /* It goes with the session anyway. */
                vcdc_replication_close(cap->repl);
                cap->repl = NULL;
        }
        /* The stream starts where the slot stands (0: its own position). */
        cap->confirmed = cap->last_commit_end = again ? 0 : point;
        atomic_store(&cap->stats.confirmed_lsn, cap->confirmed);
        VCDC_NOTICE(LOG_COMP,
                    "snapshot done: %" PRIu64 " rows published and "
                    "acknowledged in %.3f s; snapshot as of LSN %s; slot %s "
                    "ready",
                    rows, (double)(vcdc_clock_ms() - t0) / 1000.0, lsn,
                    cap->slot);
        return VCDC_PG_OK;
}
