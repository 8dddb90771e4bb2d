/*
 * vcdc - the pgvector sink's statements: the connection (made, kept,
 * dropped after a failure), one statement run within conf.timeout_ms
 * with poll(), a pipeline of statements read back at once, a COPY FROM
 * STDIN stream fed in pieces, and a failure
 * mapped to the sink's status by its SQLSTATE (a stale fence included).
 * Knows no table: the SQL comes from the callers.
 */
#include "sink_pgvector_state.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"

/* How long a timed-out statement's cancel request may take (the server
 * may be as slow to take it as it was to answer). */
#define CANCEL_WAIT_MS(sink)                                                   \
        ((sink)->conf.timeout_ms < 5000 ? (sink)->conf.timeout_ms : 5000)

/* The length of msg's first line: libpq ends messages with a newline and
 * adds hint lines ("This probably means the server terminated...") that
 * do not belong in a one-line errstr. */
static int msg_len(const char *msg) {
        size_t len = strcspn(msg, "\r\n");

        return len > INT_MAX ? INT_MAX : (int)len;
}

/* Server notices (e.g. "relation already exists, skipping") go to our log,
 * not to libpq's default of stderr. */
static void notice_cb(void *arg, const char *message) {
        vcdc_sink_t *sink = arg;

        VCDC_DEBUG(LOG_COMP, "%s: %.*s", sink->name, msg_len(message), message);
}

static void drop_conn(pgvector_t *pg) {
        PQfinish(pg->conn);
        pg->conn = NULL;
        pg->stmt[0] = '\0';
        pg->stage_ready = 0; /* a temporary table dies with its session */
}

/* Connects (sink_pgvector_conn.c): RETRIABLE or, for a refusal that will
 * recur (authentication), FATAL. */
vcdc_sink_status_t vcdc_pgvector_conn_open(vcdc_sink_t *sink, char *errstr,
                                           size_t errstr_size) {
        pgvector_t *pg = sink->state;
        vcdc_sink_status_t status;
        char err[768];
        PGconn *conn;

        if (!(conn = vcdc_pgvector_connect(pg->keys, pg->values,
                                           sink->conf.timeout_ms, &status, err,
                                           sizeof(err)))) {
                snprintf(errstr, errstr_size, "%s: cannot connect: %s",
                         sink->name, err);
                return status;
        }
        PQsetNoticeProcessor(conn, notice_cb, sink);
        if (PQsetnonblocking(conn, 1) == -1) {
                const char *msg = PQerrorMessage(conn);
                snprintf(errstr, errstr_size, "%s: %.*s", sink->name,
                         msg_len(msg), msg);
                PQfinish(conn);
                return VCDC_SINK_RETRIABLE;
        }
        pg->conn = conn;
        if (pg->connected_once)
                VCDC_NOTICE(LOG_COMP, "%s: reconnected", sink->name);
        pg->connected_once = 1;
        return VCDC_SINK_OK;
}

/* A usable connection, idle outside any transaction: reconnects after a
 * lost one. */
vcdc_sink_status_t vcdc_pgvector_conn_ensure(vcdc_sink_t *sink, char *errstr,
                                             size_t errstr_size) {
        pgvector_t *pg = sink->state;

        if (pg->conn && PQstatus(pg->conn) == CONNECTION_OK &&
            PQtransactionStatus(pg->conn) == PQTRANS_IDLE)
                return VCDC_SINK_OK;
        drop_conn(pg);
        return vcdc_pgvector_conn_open(sink, errstr, errstr_size);
}

/* Waits until the socket has one of events or deadline passes. Returns 1
 * ready (*reventsp set), 0 timed out, -1 error. */
static int wait_socket(PGconn *conn, short events, int64_t deadline,
                       short *reventsp) {
        struct pollfd pfd;
        int64_t left;
        int r;

        if ((pfd.fd = PQsocket(conn)) < 0)
                return -1;
        pfd.events = events;
        for (;;) {
                left = deadline - vcdc_clock_ms();
                if (left <= 0)
                        return 0;
                r = poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left);
                if (r > 0) {
                        *reventsp = pfd.revents;
                        return 1;
                }
                if (r == 0)
                        return 0;
                if (errno != EINTR)
                        return -1;
        }
}

/* Sends what libpq holds. Returns 1 done, 0 timed out, -1 connection lost. */
static int flush_out(PGconn *conn, int64_t deadline) {
        short revents;
        int r;

        while ((r = PQflush(conn)) == 1) {
                r = wait_socket(conn, POLLIN | POLLOUT, deadline, &revents);
                if (r <= 0)
                        return r;
                if ((revents & POLLIN) && !PQconsumeInput(conn))
                        return -1;
        }
        return r == 0 ? 1 : -1;
}

/* The next result (NULL: the current statement's results are done).
 * Returns 1, 0 timed out, -1 connection lost. */
static int next_result(PGconn *conn, int64_t deadline, PGresult **resp) {
        short revents;
        int r;

        while (PQisBusy(conn)) {
                r = wait_socket(conn, POLLIN, deadline, &revents);
                if (r <= 0)
                        return r;
                if (!PQconsumeInput(conn))
                        return -1;
        }
        *resp = PQgetResult(conn);
        return 1;
}

/* Reads one statement's results: the first error, else the last result
 * (NULL if there was none). Returns as next_result(). */
static int statement_result(PGconn *conn, int64_t deadline,
                            PGresult **resultp) {
        PGresult *res, *result = NULL;
        int r;

        while ((r = next_result(conn, deadline, &res)) == 1 && res) {
                if (result && PQresultStatus(result) == PGRES_FATAL_ERROR) {
                        PQclear(res);
                } else {
                        PQclear(result);
                        result = res;
                }
        }
        if (r != 1) {
                PQclear(result);
                result = NULL;
        }
        *resultp = result;
        return r;
}

/* Sets *statusp and errstr for a connection lost (r -1) or silent (r 0)
 * during what, and closes it: the next call reconnects. */
void vcdc_pgvector_conn_failed(vcdc_sink_t *sink, const char *what, int r,
                               vcdc_sink_status_t *statusp, char *errstr,
                               size_t errstr_size) {
        pgvector_t *pg = sink->state;
        const char *msg = pg->conn ? PQerrorMessage(pg->conn) : "";
        char err[256];
        int sent;

        *statusp = VCDC_SINK_RETRIABLE;
        /* Reached and slow: a smaller batch may do. Lost: we cannot tell. */
        sink->retry_smaller = r == 0;
        if (r == 0) {
                /* Closing alone would leave the statement running, and
                 * what follows it in the pipeline, COMMIT included, would
                 * still execute: cancel it first. A cancel that lands
                 * between two statements is ignored by the server; the
                 * fenced offsets keep such a batch from overwriting a
                 * newer one. */
                sent = pg->conn ? vcdc_pgvector_cancel(pg->conn,
                                                       CANCEL_WAIT_MS(sink),
                                                       err, sizeof(err))
                                : -1;
                if (sent != 1)
                        VCDC_WARN(LOG_COMP,
                                  "%s: %s: cannot cancel the statement we "
                                  "stopped waiting for: %s",
                                  sink->name, what,
                                  pg->conn ? err : "not connected");
                snprintf(errstr, errstr_size,
                         "%s: %s: no answer within %d ms; %s, connection "
                         "closed",
                         sink->name, what, sink->conf.timeout_ms,
                         sent == 1 ? "statement cancelled"
                                   : "statement not cancelled");
        } else {
                snprintf(errstr, errstr_size, "%s: %s: connection lost: %.*s",
                         sink->name, what, msg_len(msg), msg);
        }
        drop_conn(pg);
}

/* Returns result if it succeeded; else frees it and sets *statusp and
 * errstr: the SQL error mapped by its SQLSTATE. */
static PGresult *checked(vcdc_sink_t *sink, const char *what, PGresult *result,
                         vcdc_sink_status_t *statusp, char *errstr,
                         size_t errstr_size) {
        pgvector_t *pg = sink->state;
        const char *sqlstate, *msg;
        char why[256];

        if (!result) {
                vcdc_pgvector_conn_failed(sink, what, -1, statusp, errstr,
                                          errstr_size);
                return NULL;
        }
        switch (PQresultStatus(result)) {
        case PGRES_COMMAND_OK:
        case PGRES_TUPLES_OK:
                return result;
        case PGRES_FATAL_ERROR:
                break;
        default:
                *statusp = VCDC_SINK_FATAL;
                snprintf(errstr, errstr_size, "%s: %s: unexpected result %s",
                         sink->name, what, PQresStatus(PQresultStatus(result)));
                PQclear(result);
                drop_conn(pg);
                return NULL;
        }
        if (PQstatus(pg->conn) == CONNECTION_BAD) {
                PQclear(result);
                vcdc_pgvector_conn_failed(sink, what, -1, statusp, errstr,
                                          errstr_size);
                return NULL;
        }
        sqlstate = PQresultErrorField(result, PG_DIAG_SQLSTATE);
        if (!(msg = PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY)))
                msg = PQresultErrorMessage(result);
        *statusp = vcdc_pgvector_sqlstate_status(sqlstate);
        sink->retry_smaller = *statusp == VCDC_SINK_RETRIABLE &&
                              vcdc_pgvector_sqlstate_smaller(sqlstate);
        if (sqlstate)
                snprintf(pg->sqlstate, sizeof(pg->sqlstate), "%s", sqlstate);
        if ((!strcmp(what, FENCE_WHAT) || !strcmp(what, FENCE_ONLY_WHAT)) &&
            vcdc_pgvector_fence_refused(sqlstate, msg, why, sizeof(why))) {
                *statusp = VCDC_SINK_STALE;
                snprintf(errstr, errstr_size,
                         "%s: %s: stale batch: %s (a newer writer applied "
                         "it); nothing of the batch was applied",
                         sink->name, what, why);
                PQclear(result);
                return NULL;
        }
        snprintf(errstr, errstr_size, "%s: %s: SQLSTATE %s: %.*s", sink->name,
                 what, sqlstate ? sqlstate : "(none)", msg_len(msg), msg);
        if (!sqlstate || !*sqlstate)
                drop_conn(pg); /* raised by libpq: state unknown */
        PQclear(result);       /* sqlstate and msg point into it */
        return NULL;
}

/* Sends sql unnamed (name NULL), the statement prepared as name (sql
 * NULL), or prepares sql as name (both). Returns as PQsendQueryParams(). */
static int send_statement(PGconn *conn, const char *name, const char *sql,
                          int nparams, const char *const *params,
                          const int *lengths, const int *formats) {
        if (name && sql)
                return PQsendPrepare(conn, name, sql, nparams, NULL);
        if (name)
                return PQsendQueryPrepared(conn, name, nparams, params, lengths,
                                           formats, 0 /*text*/);
        return PQsendQueryParams(conn, sql, nparams, NULL, params, lengths,
                                 formats, 0 /*text results*/);
}

/*
 * Runs one statement (as send_statement() sends it) and waits at most
 * conf.timeout_ms for its answer.
 * Parameters are text (a NULL value is SQL NULL) unless formats[i] is 1:
 * then params[i] is lengths[i] bytes of the type's binary input. Returns
 * the result (the caller PQclear()s it), or NULL with *statusp and errstr
 * set: the SQL error mapped by its SQLSTATE, or RETRIABLE for a lost or
 * silent connection, which is then closed so that the next call reconnects.
 */
static PGresult *run_bin(vcdc_sink_t *sink, const char *what, const char *name,
                         const char *sql, int nparams,
                         const char *const *params, const int *lengths,
                         const int *formats, vcdc_sink_status_t *statusp,
                         char *errstr, size_t errstr_size) {
        pgvector_t *pg = sink->state;
        int64_t deadline = vcdc_clock_ms() + sink->conf.timeout_ms;
        PGresult *result;
        int r;

        pg->sqlstate[0] = '\0';
        if (!pg->conn) {
                *statusp = VCDC_SINK_RETRIABLE;
                snprintf(errstr, errstr_size, "%s: %s: not connected",
                         sink->name, what);
                return NULL;
        }
        if (!send_statement(pg->conn, name, sql, nparams, params, lengths,
                            formats))
                r = -1;
        else if ((r = flush_out(pg->conn, deadline)) == 1)
                r = statement_result(pg->conn, deadline, &result);
        if (r != 1) {
                vcdc_pgvector_conn_failed(sink, what, r, statusp, errstr,
                                          errstr_size);
                return NULL;
        }
        return checked(sink, what, result, statusp, errstr, errstr_size);
}

/*
 * A statement whose rows we do not read: run at once, or, while apply()
 * pipelines, only sent; vcdc_pgvector_pipeline_finish() reads its answer.
 */
vcdc_sink_status_t
vcdc_pgvector_exec_bin(vcdc_sink_t *sink, const char *what, const char *name,
                       const char *sql, int nparams, const char *const *params,
                       const int *lengths, const int *formats, char *errstr,
                       size_t errstr_size) {
        pgvector_t *pg = sink->state;
        vcdc_sink_status_t status = VCDC_SINK_OK;
        PGresult *res;

        if (!pg->pipeline) {
                if (!(res = run_bin(sink, what, name, sql, nparams, params,
                                    lengths, formats, &status, errstr,
                                    errstr_size)))
                        return status;
                PQclear(res);
                return VCDC_SINK_OK;
        }
        if (pg->pending_cnt == VCDC_PGVECTOR_PIPELINE_MAX) {
                snprintf(errstr, errstr_size,
                         "%s: %s: more than %d statements in one pipeline",
                         sink->name, what, VCDC_PGVECTOR_PIPELINE_MAX);
                return VCDC_SINK_FATAL;
        }
        if (!send_statement(pg->conn, name, sql, nparams, params, lengths,
                            formats)) {
                vcdc_pgvector_conn_failed(sink, what, -1, &status, errstr,
                                          errstr_size);
                return status;
        }
        snprintf(pg->pending[pg->pending_cnt++], sizeof(pg->pending[0]), "%s",
                 what);
        return VCDC_SINK_OK;
}

/*
 * COPY FROM STDIN. The server answers the statement with CopyInResponse
 * (PGRES_COPY_IN, which PQgetResult() repeats for as long as the stream is
 * open: read once, not to the end) or with its error; the data goes with
 * PQputCopyData(), which on a non-blocking connection may refuse (0) until
 * the socket drains.
 */
vcdc_sink_status_t vcdc_pgvector_copy_begin(vcdc_sink_t *sink,
                                            const char *what, const char *sql,
                                            char *errstr, size_t errstr_size) {
        pgvector_t *pg = sink->state;
        int64_t deadline = vcdc_clock_ms() + sink->conf.timeout_ms;
        vcdc_sink_status_t status = VCDC_SINK_OK;
        PGresult *res = NULL, *rest;
        int r;

        pg->sqlstate[0] = '\0';
        if (!pg->conn || pg->pipeline) {
                snprintf(errstr, errstr_size, "%s: %s: %s", sink->name, what,
                         pg->conn ? "COPY inside a pipeline" : "not connected");
                return pg->conn ? VCDC_SINK_FATAL : VCDC_SINK_RETRIABLE;
        }
        if (!PQsendQueryParams(pg->conn, sql, 0, NULL, NULL, NULL, NULL,
                               0 /*text results*/))
                r = -1;
        else if ((r = flush_out(pg->conn, deadline)) == 1)
                r = next_result(pg->conn, deadline, &res);
        if (r != 1) {
                vcdc_pgvector_conn_failed(sink, what, r, &status, errstr,
                                          errstr_size);
                return status;
        }
        if (res && PQresultStatus(res) == PGRES_COPY_IN) {
                PQclear(res);
                return VCDC_SINK_OK;
        }
        /* Refused: the error, then the end of the statement's results. */
        if ((r = statement_result(pg->conn, deadline, &rest)) != 1) {
                PQclear(res);
                vcdc_pgvector_conn_failed(sink, what, r, &status, errstr,
                                          errstr_size);
                return status;
        }
        PQclear(rest);
        if ((res = checked(sink, what, res, &status, errstr, errstr_size))) {
                PQclear(res); /* anything but COPY IN is not an answer */
                snprintf(errstr, errstr_size, "%s: %s: no COPY stream",
                         sink->name, what);
                drop_conn(pg);
                return VCDC_SINK_FATAL;
        }
        return status;
}

vcdc_sink_status_t vcdc_pgvector_copy_put(vcdc_sink_t *sink, const char *what,
                                          const char *data, size_t len,
                                          char *errstr, size_t errstr_size) {
        pgvector_t *pg = sink->state;
        int64_t deadline = vcdc_clock_ms() + sink->conf.timeout_ms;
        vcdc_sink_status_t status = VCDC_SINK_OK;
        int r;

        if (len > INT_MAX) {
                snprintf(errstr, errstr_size, "%s: %s: %zu bytes at once",
                         sink->name, what, len);
                return VCDC_SINK_FATAL;
        }
        while ((r = PQputCopyData(pg->conn, data, (int)len)) == 0)
                if ((r = flush_out(pg->conn, deadline)) != 1)
                        break;
        /* Sent on, so that libpq's buffer stays one piece. */
        if (r == 1)
                r = flush_out(pg->conn, deadline);
        if (r != 1)
                vcdc_pgvector_conn_failed(sink, what, r, &status, errstr,
                                          errstr_size);
        return status;
}

vcdc_sink_status_t vcdc_pgvector_copy_end(vcdc_sink_t *sink, const char *what,
                                          char *errstr, size_t errstr_size) {
        pgvector_t *pg = sink->state;
        int64_t deadline = vcdc_clock_ms() + sink->conf.timeout_ms;
        vcdc_sink_status_t status = VCDC_SINK_OK;
        PGresult *res = NULL;
        int r;

        while ((r = PQputCopyEnd(pg->conn, NULL)) == 0)
                if ((r = flush_out(pg->conn, deadline)) != 1)
                        break;
        if (r == 1 && (r = flush_out(pg->conn, deadline)) == 1)
                r = statement_result(pg->conn, deadline, &res);
        if (r != 1) {
                vcdc_pgvector_conn_failed(sink, what, r, &status, errstr,
                                          errstr_size);
                return status;
        }
        if (!(res = checked(sink, what, res, &status, errstr, errstr_size)))
                return status;
        PQclear(res);
        return VCDC_SINK_OK;
}

/* Starts a pipeline on a connection known good. */
void vcdc_pgvector_pipeline_start(pgvector_t *pg) {
        pg->pending_cnt = 0;
        pg->sqlstate[0] = '\0';
        pg->synced = 0;
        pg->pipeline = PQenterPipelineMode(pg->conn);
}

/* Sends the pipeline's sync and everything queued before it. Returns as
 * flush_out(). */
int vcdc_pgvector_pipeline_sync(vcdc_sink_t *sink, int64_t deadline) {
        pgvector_t *pg = sink->state;

        pg->synced = 1;
        return PQpipelineSync(pg->conn) ? flush_out(pg->conn, deadline) : -1;
}

/*
 * Ends the pipeline: syncs (unless apply_send() did), reads every
 * statement's answer within conf.timeout_ms, and reports the first failure
 * as run_bin() would. After a failed statement the server skips the rest
 * (PIPELINE_ABORTED) and the transaction is left failed for
 * vcdc_pgvector_rollback(). Called on any way out of apply(): a pipeline
 * abandoned half-sent only closes the connection.
 */
vcdc_sink_status_t vcdc_pgvector_pipeline_finish(vcdc_sink_t *sink, int abandon,
                                                 char *errstr,
                                                 size_t errstr_size) {
        pgvector_t *pg = sink->state;
        int64_t deadline = vcdc_clock_ms() + sink->conf.timeout_ms;
        vcdc_sink_status_t status = VCDC_SINK_OK;
        PGresult *res, *failed = NULL;
        int i, r, failed_at = -1;

        if (!pg->pipeline)
                return VCDC_SINK_OK;
        pg->pipeline = 0;
        if (abandon || !pg->conn) {
                drop_conn(pg);
                return VCDC_SINK_OK;
        }
        r = pg->synced ? 1 : vcdc_pgvector_pipeline_sync(sink, deadline);
        for (i = 0; r == 1 && i < pg->pending_cnt; i++) {
                if ((r = statement_result(pg->conn, deadline, &res)) != 1)
                        break;
                if (failed_at < 0 && res &&
                    PQresultStatus(res) != PGRES_COMMAND_OK &&
                    PQresultStatus(res) != PGRES_TUPLES_OK) {
                        failed = res;
                        failed_at = i;
                } else {
                        PQclear(res);
                }
        }
        if (r == 1 && (r = next_result(pg->conn, deadline, &res)) == 1) {
                if (!res || PQresultStatus(res) != PGRES_PIPELINE_SYNC)
                        r = -1;
                PQclear(res);
        }
        if (r != 1 || !PQexitPipelineMode(pg->conn)) {
                PQclear(failed);
                char what[96];
                /* The server holds its answers until the sync: the first
                 * one missing says little about where it is. */
                if (r == 0 && failed_at < 0)
                        snprintf(what, sizeof(what),
                                 "a batch of %d statements (%d answered)",
                                 pg->pending_cnt, i);
                else
                        snprintf(what, sizeof(what), "%s",
                                 failed_at >= 0        ? pg->pending[failed_at]
                                 : i < pg->pending_cnt ? pg->pending[i]
                                                       : "pipeline sync");
                vcdc_pgvector_conn_failed(sink, what, r, &status, errstr,
                                          errstr_size);
                return status;
        }
        if (failed && !checked(sink, pg->pending[failed_at], failed, &status,
                               errstr, errstr_size))
                return status;
        return VCDC_SINK_OK;
}

/* run_bin() with text parameters only. */
PGresult *vcdc_pgvector_run(vcdc_sink_t *sink, const char *what,
                            const char *sql, int nparams,
                            const char *const *params,
                            vcdc_sink_status_t *statusp, char *errstr,
                            size_t errstr_size) {
        return run_bin(sink, what, NULL, sql, nparams, params, NULL, NULL,
                       statusp, errstr, errstr_size);
}

/* vcdc_pgvector_exec_bin() with text parameters only. */
vcdc_sink_status_t vcdc_pgvector_run_cmd(vcdc_sink_t *sink, const char *what,
                                         const char *sql, int nparams,
                                         const char *const *params,
                                         char *errstr, size_t errstr_size) {
        return vcdc_pgvector_exec_bin(sink, what, NULL, sql, nparams, params,
                                      NULL, NULL, errstr, errstr_size);
}

/* Ends a failed transaction. Its own error, if any, only closes the
 * connection: the caller's errstr and SQLSTATE keep the root cause. */
void vcdc_pgvector_rollback(vcdc_sink_t *sink) {
        pgvector_t *pg = sink->state;
        char errstr[512], sqlstate[sizeof(pg->sqlstate)];

        if (!pg->conn || PQstatus(pg->conn) != CONNECTION_OK ||
            PQtransactionStatus(pg->conn) == PQTRANS_IDLE)
                return;
        memcpy(sqlstate, pg->sqlstate, sizeof(sqlstate));
        if (vcdc_pgvector_run_cmd(sink, "ROLLBACK", "ROLLBACK", 0, NULL, errstr,
                                  sizeof(errstr)) != VCDC_SINK_OK) {
                VCDC_DEBUG(LOG_COMP, "%s", errstr);
                drop_conn(pg);
        }
        memcpy(pg->sqlstate, sqlstate, sizeof(sqlstate));
}

/* Deallocates the prepared upsert, if any, keeping the SQLSTATE of what
 * failed before. Closing the connection would free it too, except on a
 * server that keeps one session for every client (PGlite). */
void vcdc_pgvector_deallocate(vcdc_sink_t *sink) {
        pgvector_t *pg = sink->state;
        char sql[sizeof(pg->stmt) + 16], errstr[512],
                sqlstate[sizeof(pg->sqlstate)];
        vcdc_sink_status_t status;
        PGresult *res;

        if (!pg->stmt[0] || !pg->conn ||
            PQtransactionStatus(pg->conn) != PQTRANS_IDLE)
                return;
        memcpy(sqlstate, pg->sqlstate, sizeof(sqlstate));
        snprintf(sql, sizeof(sql), "DEALLOCATE %s", pg->stmt);
        pg->stmt[0] = '\0';
        if ((res = vcdc_pgvector_run(sink, "deallocating the upsert", sql, 0,
                                     NULL, &status, errstr, sizeof(errstr))))
                PQclear(res);
        else
                VCDC_DEBUG(LOG_COMP, "%s", errstr);
        memcpy(pg->sqlstate, sqlstate, sizeof(sqlstate));
}
