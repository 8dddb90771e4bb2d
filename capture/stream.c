/*
 * vcdc - the capture's handling of pgoutput messages: the table's changes
 * as records, in the order the stream gives them.
 *
 * Insert -> upsert. Update -> upsert, or, when the id changed (the old key
 * arrives as 'K', or the old row as 'O' under REPLICA IDENTITY FULL), a
 * delete of the old id and then an upsert of the new one. Delete ->
 * delete. A column an update left unchanged and whose value is TOASTed is
 * not sent ('u'): under REPLICA IDENTITY FULL the old row carries it;
 * otherwise the row is read again by id and published as it is now (a
 * later committed state, never an earlier one: the stream then publishes
 * every later change of it in order). With PostgreSQL 14 and later the
 * stream is asked for binary values (vectors as vector_send writes them:
 * no float text to print on the server or parse here); ids and metadata
 * are turned into the text the snapshot reads. Truncate cannot be told as
 * deletes of ids (the stream does not name the rows) and stops the capture
 * unless
 * --on-truncate skip. Other tables' changes, Origin, Type and Message are
 * ignored. This file decides what to publish; capture.c decides what to
 * confirm.
 */
#include "capture_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "rowmap.h"

static int64_t ts_ms_of(int64_t pg_us) {
        return pg_us / 1000 + VCDC_PG_EPOCH_UNIX_S * 1000;
}

int vcdc_capture_send(vcdc_capture_t *cap, const vcdc_record_t *rec,
                      char *errstr, size_t errstr_size) {
        char err[512];
        vcdc_rowmap_value_t idv = {
                .present = 1, .data = rec->id, .len = strlen(rec->id)};
        int r = vcdc_producer_send(cap->p, rec, err, sizeof(err));

        if (r == 0)
                return VCDC_PG_OK;
        if (r == VCDC_PRODUCER_ERR_RECORD && rec->op == VCDC_OP_UPSERT)
                return vcdc_capture_bad_row(cap, &idv, err, errstr,
                                            errstr_size);
        snprintf(errstr, errstr_size, "publishing id \"%.64s\": %s", rec->id,
                 err);
        return VCDC_PG_FATAL;
}

int vcdc_capture_bad_row(vcdc_capture_t *cap, const vcdc_rowmap_value_t *idv,
                         const char *why, char *errstr, size_t errstr_size) {
        char lsn[VCDC_LSN_TEXT_MAX], err[256], id[80];
        vcdc_rowmap_value_t copy = *idv;
        const vcdc_record_t *rec;
        char *bytes = NULL;
        int r = VCDC_PG_OK;

        vcdc_rowmap_id_excerpt(idv, id, sizeof(id));
        vcdc_pgconn_lsn_format(cap->txn_lsn, lsn, sizeof(lsn));
        if (cap->opts.on_bad_row == VCDC_BAD_ROW_STOP) {
                snprintf(errstr, errstr_size,
                         "table %s, id \"%s\"%s%s: %s. vcdc-capture stops "
                         "before publishing it, so that no change goes "
                         "missing unseen (nothing after the last "
                         "acknowledged transaction is confirmed). Restart "
                         "with --on-bad-row delete to publish such rows as "
                         "deletes of their id",
                         cap->table.qname, id,
                         cap->in_txn ? ", transaction committed at LSN " : "",
                         cap->in_txn ? lsn : " (snapshot)", why);
                return VCDC_PG_FATAL;
        }
        atomic_fetch_add(&cap->stats.bad_rows, 1);
        /* The id may live in the mapper's buffer, which the delete reuses. */
        if (idv->present) {
                if (!(bytes = malloc(idv->len ? idv->len : 1))) {
                        snprintf(errstr, errstr_size, "out of memory");
                        return VCDC_PG_FATAL;
                }
                memcpy(bytes, idv->data, idv->len);
                copy.data = bytes;
        }
        if (vcdc_rowmap_delete(cap->rm, &copy,
                               cap->in_txn ? ts_ms_of(cap->commit_ts_us) : -1,
                               &rec, err, sizeof(err)) != VCDC_ROWMAP_OK) {
                VCDC_WARN(LOG_COMP,
                          "table %s, id \"%s\": %s; skipped (the id itself "
                          "cannot be published: %s)",
                          cap->table.qname, id, why, err);
                goto done;
        }
        VCDC_WARN(LOG_COMP,
                  "table %s, id \"%s\": %s; published as a delete of the id "
                  "(--on-bad-row delete)",
                  cap->table.qname, id, why);
        r = vcdc_capture_send(cap, rec, errstr, errstr_size);
done:
        free(bytes);
        return r;
}

/* Maps and sends one upsert, or applies --on-bad-row. */
static int send_upsert(vcdc_capture_t *cap, const vcdc_rowmap_row_t *row,
                       char *errstr, size_t errstr_size) {
        const vcdc_record_t *rec;
        char why[512];
        int r;

        r = vcdc_rowmap_upsert(cap->rm, row, ts_ms_of(cap->commit_ts_us), &rec,
                               why, sizeof(why));
        if (r == VCDC_ROWMAP_NOMEM) {
                snprintf(errstr, errstr_size, "out of memory");
                return VCDC_PG_FATAL;
        }
        if (r == VCDC_ROWMAP_BAD)
                return vcdc_capture_bad_row(cap, &row->id, why, errstr,
                                            errstr_size);
        return vcdc_capture_send(cap, rec, errstr, errstr_size);
}

static int send_delete(vcdc_capture_t *cap, const vcdc_rowmap_value_t *idv,
                       char *errstr, size_t errstr_size) {
        const vcdc_record_t *rec;
        char why[512], id[80];
        int r;

        r = vcdc_rowmap_delete(cap->rm, idv, ts_ms_of(cap->commit_ts_us), &rec,
                               why, sizeof(why));
        if (r == VCDC_ROWMAP_NOMEM) {
                snprintf(errstr, errstr_size, "out of memory");
                return VCDC_PG_FATAL;
        }
        if (r == VCDC_ROWMAP_BAD) {
                /* An id that can never be a record was never published
                 * as one: its delete has nothing to remove. */
                vcdc_rowmap_id_excerpt(idv, id, sizeof(id));
                VCDC_WARN(LOG_COMP, "table %s: delete of id \"%s\" skipped: %s",
                          cap->table.qname, id, why);
                atomic_fetch_add(&cap->stats.bad_rows, 1);
                return VCDC_PG_OK;
        }
        return vcdc_capture_send(cap, rec, errstr, errstr_size);
}

/* Column idx of a tuple, or NULL when absent. */
static const vcdc_pgoutput_value_t *column(const vcdc_pgoutput_tuple_t *t,
                                           int idx) {
        return idx >= 0 && (size_t)idx < t->ncols ? &t->cols[idx] : NULL;
}

/* A tuple's value as rowmap wants it; 'u' counts as absent here. */
static void value_of(const vcdc_pgoutput_value_t *v, vcdc_rowmap_value_t *out) {
        memset(out, 0, sizeof(*out));
        if (v && (v->kind == 't' || v->kind == 'b')) {
                out->present = 1;
                out->binary = v->kind == 'b';
                out->data = v->data;
                out->len = v->len;
        }
}

/* In binary mode (binary 'true', PostgreSQL 14 and later) pgoutput sends
 * each value in its type's send form: the id and the metadata become the
 * text the snapshot reads (id::text, metadata::text), so that both name an
 * id alike; the vector stays binary (rowmap reads it). buf holds a
 * converted id. Returns 0, or -1 with why. */
static int id_text(const vcdc_capture_t *cap, vcdc_rowmap_value_t *v, char *buf,
                   char *why, size_t why_size) {
        size_t n = 0;

        if (!v->present || !v->binary)
                return 0;
        v->binary = 0;
        if (cap->table.id_type == VCDC_ID_TEXT)
                return 0; /* text and varchar send their bytes */
        n = cap->table.id_type == VCDC_ID_INT
                    ? vcdc_rowmap_int_text(v->data, v->len, buf)
                    : vcdc_rowmap_uuid_text(v->data, v->len, buf);
        if (!n) {
                snprintf(why, why_size,
                         "the id's binary value of %zu bytes is not a %s",
                         v->len,
                         cap->table.id_type == VCDC_ID_INT ? "integer"
                                                           : "uuid");
                return -1;
        }
        v->data = buf;
        v->len = n;
        return 0;
}

static int row_text(vcdc_rowmap_row_t *row, char *why, size_t why_size) {
        vcdc_rowmap_value_t *md = &row->metadata;

        if (md->present && md->binary) {
                /* jsonb_send: a version byte (1), then the text. */
                if (!md->len || md->data[0] != 1) {
                        snprintf(why, why_size,
                                 "the metadata's binary form has version "
                                 "%d, not 1",
                                 md->len ? md->data[0] : -1);
                        return -1;
                }
                md->data++;
                md->len--;
                md->binary = 0;
        }
        row->document.binary = 0; /* text and varchar send their bytes */
        return 0;
}

static int unchanged(const vcdc_pgoutput_value_t *v) {
        return v && v->kind == 'u';
}

/* The Relation message of the table: where its columns are, and that they
 * are what start-up found. */
static int relation(vcdc_capture_t *cap, const vcdc_pgoutput_msg_t *msg,
                    char *errstr, size_t errstr_size) {
        const vcdc_source_col_t *want[4] = {&cap->table.id, &cap->table.vector,
                                            &cap->table.metadata,
                                            &cap->table.document};
        int *idx[4] = {&cap->rel.id, &cap->rel.vector, &cap->rel.metadata,
                       &cap->rel.document};
        size_t i, k;

        if (msg->oid != cap->table.oid) {
                if (!strcmp(msg->name, cap->table.relname) &&
                    !strcmp(*msg->nspname ? msg->nspname : "pg_catalog",
                            cap->table.nspname)) {
                        snprintf(errstr, errstr_size,
                                 "table %s was dropped and created again "
                                 "(relation %u, was %u): the capture follows "
                                 "the table it started with. Start a new "
                                 "migration (vcdc-capture --drop-slot, a new "
                                 "topic)",
                                 cap->table.qname, msg->oid, cap->table.oid);
                        return VCDC_PG_FATAL;
                }
                return VCDC_PG_OK;
        }
        if (msg->replident == 'n') {
                snprintf(errstr, errstr_size,
                         "table %s was set to REPLICA IDENTITY NOTHING while "
                         "captured: its deletes no longer carry the id",
                         cap->table.qname);
                return VCDC_PG_FATAL;
        }
        for (k = 0; k < 4; k++) {
                *idx[k] = -1;
                if (!want[k]->name)
                        continue;
                for (i = 0; i < msg->ncols; i++)
                        if (!strcmp(msg->cols[i].name, want[k]->name))
                                break;
                if (i == msg->ncols ||
                    msg->cols[i].type_oid != want[k]->type_oid) {
                        snprintf(errstr, errstr_size,
                                 "table %s changed while captured: column %s "
                                 "%s. Restart vcdc-capture to check the "
                                 "table again",
                                 cap->table.qname, want[k]->name,
                                 i == msg->ncols ? "is gone"
                                                 : "changed its type");
                        return VCDC_PG_FATAL;
                }
                *idx[k] = (int)i;
        }
        cap->rel.known = 1;
        return VCDC_PG_OK;
}

/* Publishes the row of id as it is now (an update left a TOASTed value
 * unchanged and the stream does not carry it). Now means at least as new
 * as the transaction being decoded: its commit is in the WAL before other
 * sessions see it, so a read is repeated (every millisecond, for up to
 * 10 s) until its snapshot shows the transaction committed. A row gone
 * since is not published: the change that removed it follows in the
 * stream. */
static int reread(vcdc_capture_t *cap, const vcdc_rowmap_value_t *idv,
                  char *errstr, size_t errstr_size) {
        const vcdc_source_table_t *t = &cap->table;
        char sql[768], *id = NULL, err[512];
        const char *params[1];
        Oid types[1] = {t->id.type_oid};
        vcdc_rowmap_row_t row;
        PGresult *res = NULL;
        PGconn *conn;
        int status, k, tries;

        if (!(id = malloc(idv->len + 1))) {
                snprintf(errstr, errstr_size, "out of memory");
                return VCDC_PG_FATAL;
        }
        memcpy(id, idv->data, idv->len);
        id[idv->len] = '\0';
        params[0] = id;
        /* One statement, so one snapshot for the row and for the check. */
        snprintf(sql, sizeof(sql),
                 "SELECT s.snap, r.found, r.v, r.m, r.d FROM (SELECT "
                 "txid_current_snapshot()::text AS snap) s LEFT JOIN "
                 "(SELECT true AS found, \"%s\"::text AS v, %s%s%s AS m, "
                 "%s%s%s AS d FROM %s WHERE \"%s\" = $1) r ON true",
                 t->vector.name, t->metadata.name ? "\"" : "",
                 t->metadata.name ? t->metadata.name : "NULL",
                 t->metadata.name ? "\"::text" : "::text",
                 t->document.name ? "\"" : "",
                 t->document.name ? t->document.name : "NULL",
                 t->document.name ? "\"::text" : "::text", t->qname,
                 t->id.name);
        for (tries = 0;; tries++) {
                PQclear(res);
                res = NULL;
                if (!(conn = vcdc_capture_side(cap, &status, err, sizeof(err))))
                        goto fail;
                res = PQexecParams(conn, sql, 1, types, params, NULL, NULL, 0);
                if (PQresultStatus(res) != PGRES_TUPLES_OK ||
                    PQntuples(res) != 1) {
                        const char *msg = PQresultErrorMessage(res);
                        snprintf(err, sizeof(err), "%.*s",
                                 vcdc_pgconn_msg_len(msg), msg);
                        status = vcdc_pgconn_status_of(conn, res);
                        goto fail;
                }
                if (vcdc_pgconn_xid_visible(PQgetvalue(res, 0, 0),
                                            cap->txn_xid))
                        break;
                if (tries == 10000) {
                        snprintf(err, sizeof(err),
                                 "transaction %u is still not visible "
                                 "after 10 s",
                                 cap->txn_xid);
                        status = VCDC_PG_TRANSIENT;
                        goto fail;
                }
                nanosleep(&(struct timespec){.tv_nsec = 1000000L}, NULL);
        }
        atomic_fetch_add(&cap->stats.toast_rereads, 1);
        if (PQgetisnull(res, 0, 1)) {
                VCDC_DEBUG(LOG_COMP,
                           "id %s: gone before its unchanged TOASTed value "
                           "could be read; a later change removed it",
                           id);
                status = VCDC_PG_OK;
                goto done;
        }
        memset(&row, 0, sizeof(row));
        row.id = *idv;
        {
                vcdc_rowmap_value_t *v[3] = {&row.vector, &row.metadata,
                                             &row.document};
                for (k = 0; k < 3; k++)
                        if (!PQgetisnull(res, 0, k + 2)) {
                                v[k]->present = 1;
                                v[k]->data = PQgetvalue(res, 0, k + 2);
                                v[k]->len = (size_t)PQgetlength(res, 0, k + 2);
                        }
        }
        status = send_upsert(cap, &row, errstr, errstr_size);
        goto done;
fail:
        snprintf(errstr, errstr_size,
                 "reading a row of %s again for an unchanged TOASTed value "
                 "(set REPLICA IDENTITY FULL to avoid it): %s",
                 t->qname, err);
done:
        PQclear(res);
        free(id);
        return status;
}

static int update(vcdc_capture_t *cap, const vcdc_pgoutput_msg_t *msg,
                  char *errstr, size_t errstr_size) {
        const vcdc_pgoutput_tuple_t *nt = &msg->new_tuple,
                                    *ot = msg->old_kind ? &msg->old_tuple
                                                        : NULL;
        const relmap_t *m = &cap->rel;
        int idx[3] = {m->vector, m->metadata, m->document};
        vcdc_rowmap_value_t *dst[3];
        vcdc_rowmap_row_t row;
        vcdc_rowmap_value_t old_id;
        char old_buf[VCDC_ROWMAP_ID_TEXT_MAX], new_buf[VCDC_ROWMAP_ID_TEXT_MAX];
        char why[256];
        int k, need_reread = 0, r;

        memset(&row, 0, sizeof(row));
        memset(&old_id, 0, sizeof(old_id));
        dst[0] = &row.vector;
        dst[1] = &row.metadata;
        dst[2] = &row.document;
        if (ot)
                value_of(column(ot, m->id), &old_id);
        if (unchanged(column(nt, m->id)))
                row.id = old_id;
        else
                value_of(column(nt, m->id), &row.id);
        for (k = 0; k < 3; k++) {
                const vcdc_pgoutput_value_t *v = column(nt, idx[k]);
                if (!unchanged(v)) {
                        value_of(v, dst[k]);
                        continue;
                }
                /* The old row (REPLICA IDENTITY FULL) has it; a key
                 * ('K') has only the key's columns. */
                if (msg->old_kind == 'O' && !unchanged(column(ot, idx[k])))
                        value_of(column(ot, idx[k]), dst[k]);
                else
                        need_reread = 1;
        }
        if (id_text(cap, &old_id, old_buf, why, sizeof(why)) == -1 ||
            id_text(cap, &row.id, new_buf, why, sizeof(why)) == -1 ||
            row_text(&row, why, sizeof(why)) == -1)
                return vcdc_capture_bad_row(cap, &row.id, why, errstr,
                                            errstr_size);
        /* The id changed: the old one goes first, in the same
         * transaction. */
        if (old_id.present && row.id.present &&
            !vcdc_rowmap_id_equal(&old_id, &row.id) &&
            (r = send_delete(cap, &old_id, errstr, errstr_size)) != VCDC_PG_OK)
                return r;
        if (need_reread && row.id.present)
                return reread(cap, &row.id, errstr, errstr_size);
        return send_upsert(cap, &row, errstr, errstr_size);
}

static int truncate_table(vcdc_capture_t *cap, const vcdc_pgoutput_msg_t *msg,
                          char *errstr, size_t errstr_size) {
        char lsn[VCDC_LSN_TEXT_MAX];
        size_t i;

        for (i = 0; i < msg->nrelids; i++)
                if (msg->relids[i] == cap->table.oid)
                        break;
        if (i == msg->nrelids)
                return VCDC_PG_OK;
        vcdc_pgconn_lsn_format(cap->txn_lsn, lsn, sizeof(lsn));
        if (cap->opts.on_truncate == VCDC_TRUNCATE_SKIP) {
                atomic_fetch_add(&cap->stats.truncates, 1);
                VCDC_WARN(LOG_COMP,
                          "TRUNCATE of %s (transaction ending at LSN %s) "
                          "skipped (--on-truncate skip): the targets keep "
                          "the rows it removed unless emptied by hand",
                          cap->table.qname, lsn);
                return VCDC_PG_OK;
        }
        snprintf(errstr, errstr_size,
                 "TRUNCATE of %s (transaction ending at LSN %s): a truncate "
                 "does not name the rows it removes, so it cannot be "
                 "published as deletes of ids, and publishing nothing would "
                 "leave every removed vector in the targets. vcdc-capture "
                 "stops here without confirming it. Either start the "
                 "migration again (vcdc-capture --drop-slot, a new topic, "
                 "a new snapshot), or empty the targets yourself and "
                 "restart with --on-truncate skip",
                 cap->table.qname, lsn);
        return VCDC_PG_FATAL;
}

int vcdc_capture_handle(vcdc_capture_t *cap, const vcdc_pgoutput_msg_t *msg,
                        char *errstr, size_t errstr_size) {
        char buf[VCDC_ROWMAP_ID_TEXT_MAX], why[256];
        vcdc_rowmap_row_t row;
        vcdc_rowmap_value_t idv;
        const relmap_t *m = &cap->rel;

        switch (msg->type) {
        case VCDC_PGO_BEGIN:
                cap->in_txn = 1;
                cap->commit_ts_us = msg->ts_us;
                cap->txn_lsn = msg->lsn;
                cap->txn_xid = msg->xid;
                return VCDC_PG_OK;
        case VCDC_PGO_COMMIT:
                cap->in_txn = 0;
                cap->last_commit_end = msg->end_lsn;
                atomic_fetch_add(&cap->stats.transactions, 1);
                if (!cap->unconfirmed_since) {
                        cap->unconfirmed_since = vcdc_clock_ms();
                        cap->unconfirmed_ts_us = msg->ts_us;
                }
                return VCDC_PG_OK;
        case VCDC_PGO_RELATION:
                return relation(cap, msg, errstr, errstr_size);
        case VCDC_PGO_TRUNCATE:
                return truncate_table(cap, msg, errstr, errstr_size);
        case VCDC_PGO_INSERT:
        case VCDC_PGO_UPDATE:
        case VCDC_PGO_DELETE:
                break;
        default:
                /* Origin, Type, Message: nothing to publish. */
                return VCDC_PG_OK;
        }
        if (msg->oid != cap->table.oid)
                return VCDC_PG_OK;
        if (!m->known) {
                snprintf(errstr, errstr_size,
                         "pgoutput sent a change of %s before its Relation "
                         "message",
                         cap->table.qname);
                return VCDC_PG_FATAL;
        }
        atomic_fetch_add(&cap->stats.changes, 1);
        if (msg->type == VCDC_PGO_UPDATE)
                return update(cap, msg, errstr, errstr_size);
        if (msg->type == VCDC_PGO_DELETE) {
                value_of(column(&msg->old_tuple, m->id), &idv);
                if (id_text(cap, &idv, buf, why, sizeof(why)) == -1)
                        return vcdc_capture_bad_row(cap, &idv, why, errstr,
                                                    errstr_size);
                return send_delete(cap, &idv, errstr, errstr_size);
        }
        memset(&row, 0, sizeof(row));
        value_of(column(&msg->new_tuple, m->id), &row.id);
        value_of(column(&msg->new_tuple, m->vector), &row.vector);
        value_of(column(&msg->new_tuple, m->metadata), &row.metadata);
        value_of(column(&msg->new_tuple, m->document), &row.document);
        if (id_text(cap, &row.id, buf, why, sizeof(why)) == -1 ||
            row_text(&row, why, sizeof(why)) == -1)
                return vcdc_capture_bad_row(cap, &row.id, why, errstr,
                                            errstr_size);
        return send_upsert(cap, &row, errstr, errstr_size);
}
