/*
 * vcdc - the logical replication protocol client (replication.h), from
 * PostgreSQL's "Streaming Replication Protocol" documentation.
 */
#include "replication.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"

struct vcdc_replication_s {
        PGconn *conn;
        char *buf; /* the last CopyData, owned by libpq's allocator */
        int streaming;
};

static uint64_t be64(const unsigned char *p) {
        uint64_t v = 0;
        int i;

        for (i = 0; i < 8; i++)
                v = v << 8 | p[i];
        return v;
}

static void put_be64(unsigned char *p, uint64_t v) {
        int i;

        for (i = 7; i >= 0; i--) {
                p[i] = (unsigned char)(v & 0xff);
                v >>= 8;
        }
}

int vcdc_replication_parse_frame(const char *buf, size_t len,
                                 vcdc_repl_frame_t *f, char *errstr,
                                 size_t errstr_size) {
        const unsigned char *p = (const unsigned char *)buf;

        memset(f, 0, sizeof(*f));
        if (len < 1) {
                snprintf(errstr, errstr_size,
                         "empty message in the replication stream");
                return -1;
        }
        f->type = (char)p[0];
        switch (p[0]) {
        case 'w':
                if (len < 25) {
                        snprintf(errstr, errstr_size,
                                 "XLogData of %zu bytes: shorter than its "
                                 "25-byte header",
                                 len);
                        return -1;
                }
                f->wal_start = be64(p + 1);
                f->wal_end = be64(p + 9);
                f->send_time_us = (int64_t)be64(p + 17);
                f->data = buf + 25;
                f->len = len - 25;
                return 0;
        case 'k':
                if (len != 18) {
                        snprintf(errstr, errstr_size,
                                 "primary keepalive of %zu bytes, expected "
                                 "18",
                                 len);
                        return -1;
                }
                f->wal_end = be64(p + 1);
                f->send_time_us = (int64_t)be64(p + 9);
                f->reply_requested = p[17] != 0;
                return 0;
        default:
                snprintf(errstr, errstr_size,
                         "replication stream message of unknown type 0x%02x",
                         p[0]);
                return -1;
        }
}

size_t vcdc_replication_build_status(unsigned char *out, uint64_t write,
                                     uint64_t flush, uint64_t apply,
                                     int64_t now_us, int reply) {
        out[0] = 'r';
        put_be64(out + 1, write);
        put_be64(out + 9, flush);
        put_be64(out + 17, apply);
        put_be64(out + 25, (uint64_t)now_us);
        out[33] = reply ? 1 : 0;
        return VCDC_REPL_STATUS_LEN;
}

int64_t vcdc_replication_now_us(void) {
        return (vcdc_wall_ms() - VCDC_PG_EPOCH_UNIX_S * 1000) * 1000;
}

vcdc_replication_t *vcdc_replication_open(const vcdc_pgconn_t *pc, int *statusp,
                                          char *errstr, size_t errstr_size) {
        vcdc_replication_t *r = calloc(1, sizeof(*r));

        if (!r) {
                snprintf(errstr, errstr_size, "out of memory");
                *statusp = VCDC_PG_FATAL;
                return NULL;
        }
        if (!(r->conn = vcdc_pgconn_connect(pc, 1 /*replication*/, statusp,
                                            errstr, errstr_size))) {
                free(r);
                return NULL;
        }
        return r;
}

void vcdc_replication_close(vcdc_replication_t *r) {
        if (!r)
                return;
        if (r->buf)
                PQfreemem(r->buf);
        PQfinish(r->conn);
        free(r);
}

int vcdc_replication_server_version(const vcdc_replication_t *r) {
        return PQserverVersion(r->conn);
}

int vcdc_replication_create_slot(vcdc_replication_t *r, const char *name,
                                 int temporary, uint64_t *lsnp, char *snapshot,
                                 size_t snapshot_size, char *errstr,
                                 size_t errstr_size) {
        char sql[256];
        PGresult *res;
        int status;

        /* Slot names are [a-z0-9_] (checked by the caller): no quoting.
         * PostgreSQL 15 has the option list; older ones the keyword. */
        snprintf(sql, sizeof(sql),
                 PQserverVersion(r->conn) >= 150000
                         ? "CREATE_REPLICATION_SLOT %s%s LOGICAL pgoutput "
                           "(SNAPSHOT 'export')"
                         : "CREATE_REPLICATION_SLOT %s%s LOGICAL pgoutput "
                           "EXPORT_SNAPSHOT",
                 name, temporary ? " TEMPORARY" : "");
        if (!(res = vcdc_pgconn_exec(r->conn, sql, 0, NULL, &status, errstr,
                                     errstr_size)))
                return status;
        /* slot_name, consistent_point, snapshot_name, output_plugin */
        if (PQntuples(res) != 1 || PQnfields(res) < 3 ||
            vcdc_pgconn_lsn_parse(PQgetvalue(res, 0, 1), lsnp) == -1 ||
            PQgetisnull(res, 0, 2) ||
            strlen(PQgetvalue(res, 0, 2)) >= snapshot_size) {
                snprintf(errstr, errstr_size,
                         "CREATE_REPLICATION_SLOT %s: unexpected answer "
                         "(%d rows, %d fields)",
                         name, PQntuples(res), PQnfields(res));
                PQclear(res);
                return VCDC_PG_FATAL;
        }
        snprintf(snapshot, snapshot_size, "%s", PQgetvalue(res, 0, 2));
        PQclear(res);
        return VCDC_PG_OK;
}

int vcdc_replication_drop_slot(vcdc_replication_t *r, const char *name,
                               char *errstr, size_t errstr_size) {
        char sql[128];
        PGresult *res;
        int status;

        snprintf(sql, sizeof(sql), "DROP_REPLICATION_SLOT %s", name);
        if (!(res = vcdc_pgconn_exec(r->conn, sql, 0, NULL, &status, errstr,
                                     errstr_size)))
                return status;
        PQclear(res);
        return VCDC_PG_OK;
}

int vcdc_replication_start(vcdc_replication_t *r, const char *slot,
                           uint64_t start_lsn, const char *publication,
                           int binary, char *errstr, size_t errstr_size) {
        char sql[512], lsn[VCDC_LSN_TEXT_MAX];
        PGresult *res;
        int status;

        /* publication_names is a list of identifiers inside a literal;
         * publication names are letters, digits and '_' (checked by the
         * caller), double-quoted to keep their case. */
        vcdc_pgconn_lsn_format(start_lsn, lsn, sizeof(lsn));
        snprintf(sql, sizeof(sql),
                 "START_REPLICATION SLOT %s LOGICAL %s (proto_version '1', "
                 "publication_names '\"%s\"'%s)",
                 slot, lsn, publication, binary ? ", binary 'true'" : "");
        if (!(res = vcdc_pgconn_exec(r->conn, sql, 0, NULL, &status, errstr,
                                     errstr_size)))
                return status;
        if (PQresultStatus(res) != PGRES_COPY_BOTH) {
                snprintf(errstr, errstr_size,
                         "START_REPLICATION: unexpected answer %s",
                         PQresStatus(PQresultStatus(res)));
                PQclear(res);
                return VCDC_PG_FATAL;
        }
        PQclear(res);
        r->streaming = 1;
        return VCDC_PG_OK;
}

/* Why the stream ended: the result the server sent, or libpq's error. */
static int stream_ended(vcdc_replication_t *r, char *errstr,
                        size_t errstr_size) {
        PGresult *res = PQgetResult(r->conn);
        const char *msg = res ? PQresultErrorMessage(res) : "";
        int status;

        if (!*msg)
                msg = PQerrorMessage(r->conn);
        if (!*msg)
                msg = "the server ended the replication stream";
        snprintf(errstr, errstr_size, "replication stream: %.*s",
                 vcdc_pgconn_msg_len(msg), msg);
        /* A lost connection, a shutdown or a restart may pass; an error
         * the server raised while decoding (a publication dropped, the
         * slot invalidated) will not. */
        status = res && PQresultStatus(res) == PGRES_COMMAND_OK
                         ? VCDC_PG_TRANSIENT
                         : vcdc_pgconn_status_of(r->conn, res);
        PQclear(res);
        r->streaming = 0;
        return status;
}

int vcdc_replication_read(vcdc_replication_t *r, int timeout_ms,
                          vcdc_repl_frame_t *f, char *errstr,
                          size_t errstr_size) {
        int64_t deadline = vcdc_clock_ms() + timeout_ms, left;
        struct pollfd pfd;
        int n;

        if (r->buf) {
                PQfreemem(r->buf);
                r->buf = NULL;
        }
        for (;;) {
                n = PQgetCopyData(r->conn, &r->buf, 1 /*async*/);
                if (n > 0) {
                        if (vcdc_replication_parse_frame(r->buf, (size_t)n, f,
                                                         errstr,
                                                         errstr_size) == -1)
                                return VCDC_PG_FATAL;
                        return 1;
                }
                if (n == -1 || n == -2)
                        return stream_ended(r, errstr, errstr_size);
                /* Nothing buffered: wait for the socket. */
                left = deadline - vcdc_clock_ms();
                if (left <= 0)
                        return 0;
                pfd.fd = PQsocket(r->conn);
                pfd.events = POLLIN;
                if (pfd.fd < 0)
                        return stream_ended(r, errstr, errstr_size);
                n = poll(&pfd, 1, (int)left);
                if (n == 0)
                        return 0;
                if (n < 0)
                        continue; /* EINTR: a signal; look again */
                if (!PQconsumeInput(r->conn))
                        return stream_ended(r, errstr, errstr_size);
        }
}

int vcdc_replication_send_status(vcdc_replication_t *r, uint64_t write,
                                 uint64_t flush, int reply, char *errstr,
                                 size_t errstr_size) {
        unsigned char msg[VCDC_REPL_STATUS_LEN];
        size_t len = vcdc_replication_build_status(
                msg, write, flush, flush, vcdc_replication_now_us(), reply);
        const char *err;

        if (PQputCopyData(r->conn, (const char *)msg, (int)len) != 1 ||
            PQflush(r->conn) != 0) {
                err = PQerrorMessage(r->conn);
                snprintf(errstr, errstr_size,
                         "sending a standby status update: %.*s",
                         vcdc_pgconn_msg_len(err), err);
                return VCDC_PG_TRANSIENT;
        }
        return VCDC_PG_OK;
}
