/*
 * vcdc - the initial snapshot under an exported snapshot (snapshot.h).
 */
#include "snapshot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgconn.h"

/* COPY BINARY's signature, 11 bytes. */
static const char copy_signature[] = "PGCOPY\n\377\r\n";

#define FIELDS 4

static uint32_t be32(const unsigned char *p) {
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
               (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

int vcdc_snapshot_parse_copy(const char *buf, size_t len, int *header_done,
                             int *end, vcdc_snapshot_row_cb_t *row_cb,
                             void *opaque, uint64_t *rowsp, char *errstr,
                             size_t errstr_size) {
        const unsigned char *p = (const unsigned char *)buf;
        size_t off = 0;
        int r;

        if (!*header_done) {
                uint32_t ext;
                if (len < 19 || memcmp(p, copy_signature, 11)) {
                        snprintf(errstr, errstr_size,
                                 "COPY BINARY data without its header");
                        return -1;
                }
                ext = be32(p + 15);
                if (ext > len - 19) {
                        snprintf(errstr, errstr_size,
                                 "COPY BINARY header extension of %u bytes "
                                 "beyond the message",
                                 ext);
                        return -1;
                }
                off = 19 + ext;
                *header_done = 1;
        }
        while (off < len) {
                vcdc_rowmap_value_t *vals[FIELDS];
                vcdc_rowmap_row_t row;
                int16_t nfields;
                int i;

                if (*end) {
                        snprintf(errstr, errstr_size,
                                 "COPY BINARY data after its trailer");
                        return -1;
                }
                if (len - off < 2)
                        goto truncated;
                nfields = (int16_t)(p[off] << 8 | p[off + 1]);
                off += 2;
                if (nfields == -1) {
                        *end = 1;
                        continue;
                }
                if (nfields != FIELDS) {
                        snprintf(errstr, errstr_size,
                                 "COPY BINARY row of %d fields, expected %d",
                                 nfields, FIELDS);
                        return -1;
                }
                memset(&row, 0, sizeof(row));
                vals[0] = &row.id;
                vals[1] = &row.vector;
                vals[2] = &row.metadata;
                vals[3] = &row.document;
                for (i = 0; i < FIELDS; i++) {
                        uint32_t flen;
                        if (len - off < 4)
                                goto truncated;
                        flen = be32(p + off);
                        off += 4;
                        if (flen == 0xffffffffu)
                                continue; /* NULL */
                        if (flen > len - off)
                                goto truncated;
                        vals[i]->present = 1;
                        vals[i]->binary = i == 1;
                        vals[i]->data = buf + off;
                        vals[i]->len = flen;
                        off += flen;
                }
                if ((r = row_cb(opaque, &row)))
                        return r;
                (*rowsp)++;
        }
        return 0;
truncated:
        snprintf(errstr, errstr_size,
                 "COPY BINARY row cut short at byte %zu of %zu (a row "
                 "spans messages)",
                 off, len);
        return -1;
}

/* 1 when an exported snapshot's name is safe in a literal ("0000000A-
 * 0000001B-1"). */
static int snapshot_name_valid(const char *s) {
        size_t i;

        if (!*s || strlen(s) > 64)
                return 0;
        for (i = 0; s[i]; i++)
                if (!((s[i] >= '0' && s[i] <= '9') ||
                      (s[i] >= 'A' && s[i] <= 'F') || s[i] == '-'))
                        return 0;
        return 1;
}

static int exec_ok(PGconn *conn, const char *sql, char *errstr,
                   size_t errstr_size) {
        PGresult *res;
        int status;

        if (!(res = vcdc_pgconn_exec(conn, sql, 0, NULL, &status, errstr,
                                     errstr_size)))
                return status;
        PQclear(res);
        return VCDC_PG_OK;
}

int vcdc_snapshot_read(PGconn *conn, const vcdc_source_table_t *t,
                       const char *snapshot, vcdc_snapshot_row_cb_t *row_cb,
                       void *opaque, uint64_t *rowsp, char *errstr,
                       size_t errstr_size) {
        char sql[1024], err[512];
        int status, header_done = 0, end = 0, n;
        char *buf = NULL;
        PGresult *res;

        *rowsp = 0;
        if (!snapshot_name_valid(snapshot)) {
                snprintf(errstr, errstr_size,
                         "exported snapshot name \"%.64s\" is not one "
                         "PostgreSQL makes",
                         snapshot);
                return VCDC_PG_FATAL;
        }
        if ((status = exec_ok(conn,
                              "BEGIN ISOLATION LEVEL REPEATABLE READ READ "
                              "ONLY",
                              err, sizeof(err))) != VCDC_PG_OK)
                goto fail;
        snprintf(sql, sizeof(sql), "SET TRANSACTION SNAPSHOT '%s'", snapshot);
        if ((status = exec_ok(conn, sql, err, sizeof(err))) != VCDC_PG_OK)
                goto fail;
        /* Column names are [A-Za-z0-9_] (checked at start-up). The id as
         * text is what pgoutput sends for it; absent columns read NULL. */
        snprintf(sql, sizeof(sql),
                 "COPY (SELECT \"%s\"::text, \"%s\", %s%s%s, %s%s%s FROM %s) "
                 "TO STDOUT (FORMAT binary)",
                 t->id.name, t->vector.name, t->metadata.name ? "\"" : "",
                 t->metadata.name ? t->metadata.name : "NULL",
                 t->metadata.name ? "\"::text" : "::text",
                 t->document.name ? "\"" : "",
                 t->document.name ? t->document.name : "NULL",
                 t->document.name ? "\"::text" : "::text", t->qname);
        if (!(res = vcdc_pgconn_exec(conn, sql, 0, NULL, &status, err,
                                     sizeof(err))))
                goto fail;
        PQclear(res);
        while ((n = PQgetCopyData(conn, &buf, 0 /*blocking*/)) > 0) {
                int r = vcdc_snapshot_parse_copy(buf, (size_t)n, &header_done,
                                                 &end, row_cb, opaque, rowsp,
                                                 err, sizeof(err));
                PQfreemem(buf);
                buf = NULL;
                if (r == -1) {
                        status = VCDC_PG_FATAL;
                        goto fail;
                }
                if (r)
                        return r;
        }
        res = PQgetResult(conn);
        if (n == -2 || !res || PQresultStatus(res) != PGRES_COMMAND_OK) {
                const char *msg = res ? PQresultErrorMessage(res) : "";
                if (!*msg)
                        msg = PQerrorMessage(conn);
                snprintf(err, sizeof(err), "%.*s", vcdc_pgconn_msg_len(msg),
                         msg);
                status = vcdc_pgconn_status_of(conn, res);
                PQclear(res);
                goto fail;
        }
        PQclear(res);
        while ((res = PQgetResult(conn)))
                PQclear(res);
        if (!end) {
                snprintf(err, sizeof(err), "COPY ended without its trailer");
                status = VCDC_PG_FATAL;
                goto fail;
        }
        if ((status = exec_ok(conn, "COMMIT", err, sizeof(err))) != VCDC_PG_OK)
                goto fail;
        return VCDC_PG_OK;
fail:
        snprintf(errstr, errstr_size, "snapshot of %s: %s", t->qname, err);
        return status;
}
