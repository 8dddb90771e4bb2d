/*
 * vcdc - the pgvector sink: PostgreSQL with the pgvector extension, through
 * libpq (DESIGN.md, Sinks).
 *
 * URL: pgvector://USER@HOST:PORT/DB?table=NAME&metric=cosine|l2|ip&
 *      sslmode=MODE
 *   table    the target table, "vectors" when absent. Letters, digits and
 *            '_' only (not starting with a digit), at most 63 bytes; it is
 *            always double-quoted in SQL, so "Docs" and "docs" differ.
 *   metric   must agree with conf.metric when both are given.
 *   sslmode  passed to libpq (disable, prefer, require, verify-full, ...).
 * The password comes from VCDC_PG_PASSWORD or VCDC_PG_PASSWORD_FILE (or
 * libpq's own PGPASSWORD / ~/.pgpass); it is handed to libpq and never
 * logged. conf.timeout_ms bounds the connection and every statement, which
 * we wait for with poll(): a statement without an answer in time is
 * cancelled (PQcancel(), bounded) and the connection closed, RETRIABLE
 * with vcdc_sink_retry_smaller() set. A connection refused for
 * authentication (SQLSTATE class 28, 42501, 3D000, read from libpq's
 * verbose message: sink_pgvector_conn.c) is FATAL; one refused because
 * the server is down, starting or full is RETRIABLE.
 *
 * Schema. The user's table:
 *   (id text PRIMARY KEY, embedding vector(DIM) NOT NULL, metadata jsonb,
 *    document text)
 * created on the first batch with upserts, with that batch's dimension (or
 * conf.dim), in the batch's own transaction. pgvector has no per-table
 * metric (only indexes have one), so vcdc keeps two bookkeeping tables next
 * to it, created at open when missing:
 *   vcdc_targets(table_name, dim, metric)  one row per table vcdc created;
 *   vcdc_offsets(table_name, topic, partition, "offset", updated_at,
 *     table_instance)  the last offset applied per partition, written in
 *     the batch's transaction and stamped with the table instance it
 *     describes (sink_pgvector_fence.c); a vcdc_offsets from before the
 *     stamp gets the column at open, and its old rows count for none.
 * An existing table must have the four columns with those types (id and
 * document may be varchar); its dimension comes from the column type
 * (vector(N)), else from vcdc_targets, else from a stored row. A table vcdc
 * did not create has no recorded metric and is taken as conf.metric.
 *
 * apply() is one transaction: [CREATE TABLE and its vcdc_targets row], the
 * fenced vcdc_offsets write (or, for fence_only, the fenced check: the
 * batch is STALE and rolls back, on the server, when a partition already
 * records an offset at or past its own; sink_pgvector_fence.c), the
 * upserts in multi-row INSERT ... ON CONFLICT (id) DO UPDATE statements of
 * VCDC_PGVECTOR_CHUNK_ROWS rows, one DELETE ... WHERE id = ANY($1::text[]),
 * COMMIT, sent in one pipeline (one round trip) once the table exists.
 * record_offsets() is the same transaction with the offsets alone. The full chunk's
 * INSERT is prepared once per connection (prepare_upsert()). Any failure
 * rolls it all back. apply_send() sends that pipeline and apply_wait()
 * reads its answers, so the consumer can build its next batch meanwhile;
 * a batch that creates the table is applied whole by apply_send(). Errors
 * map by SQLSTATE (vcdc_pgvector_sqlstate_status()); a lost or silent
 * connection is RETRIABLE and the next call reconnects.
 *
 * No index is created: query() is an exact scan ordered by <=> (cosine),
 * <-> (l2) or <#> (ip, the negated inner product: smaller is nearer). An
 * HNSW index with the metric's operator class is the user's to add.
 *
 * Reads: metadata comes back as PostgreSQL prints jsonb, made compact: jsonb
 * keeps one copy of each key, orders keys (shorter first, then bytewise) and
 * prints numbers as numeric does, so {"b":1,"a":2.50} reads back as
 * {"a":2.50,"b":1}. Compare metadata as JSON values, not as text.
 *
 * PGlite (the local test server) breaks on COPY FROM STDIN, so upserts are
 * multi-row INSERT ... ON CONFLICT statements with text parameters.
 */
#include "sink_pgvector_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "log.h"
#include "sink_int.h"

#define LOG_COMP "pgvector"

/* What the fenced offsets statement is called in errors; checked() knows
 * its refusal by it. */
#define FENCE_WHAT      "recording offsets"
#define FENCE_ONLY_WHAT "checking offsets"

/* How long a timed-out statement's cancel request may take (the server
 * may be as slow to take it as it was to answer). */
#define CANCEL_WAIT_MS(sink)                                                   \
        ((sink)->conf.timeout_ms < 5000 ? (sink)->conf.timeout_ms : 5000)

/* Bytes one float takes in "%.9g" plus its separator: "-1.23456789e-38,". */
#define FLOAT_TEXT_MAX 16

typedef struct pgvector_s {
        PGconn *conn;   /* NULL after a lost connection: the next call
                         * reconnects */
        char *table;    /* the table's name as given */
        char *qtable;   /* the same, quoted for SQL */
        char *password; /* or NULL; never logged */
        char *upsert_sql; /* the statement for a full chunk, built once */
        /* upsert_sql prepared on this connection under this name ("" while
         * not), forgotten with the connection. stmt_fresh: prepared in the
         * pipeline not yet answered, where an earlier error makes the
         * server skip it. no_prepare: the server lost one (a transaction
         * pooler), so chunks go unprepared from then on. */
        char stmt[48];
        unsigned stmt_gen;
        int stmt_fresh;
        int no_prepare;
        const char *keys[12]; /* PQconnectdbParams() */
        const char *values[12];
        char port[8];
        char tcp_user_timeout[16];
        char sqlstate[6]; /* of the last failed statement, "" if none */
        /* apply() sends its statements in one pipeline: what each one is,
         * for the error message, until pipeline_finish() reads them. */
        int pipeline;
        int synced; /* the pipeline's sync is sent (apply_send) */
        int pending_cnt;
        char pending[VCDC_PGVECTOR_PIPELINE_MAX][64];
        int exists;     /* the table exists */
        size_t dim;     /* its dimension, 0 while unknown */
        int connected_once;
} pgvector_t;

/* What load_target() finds. */
typedef struct target_s {
        int exists;
        size_t dim;           /* 0: unknown */
        vcdc_metric_t metric; /* UNSET: not recorded */
} target_t;

/*
 * Pure helpers (sink_pgvector_int.h).
 */

int vcdc_pgvector_ident_valid(const char *name) {
        size_t i;

        if (!name || !*name || strlen(name) > VCDC_PGVECTOR_IDENT_MAX)
                return 0;
        if (name[0] >= '0' && name[0] <= '9')
                return 0;
        for (i = 0; name[i]; i++) {
                char c = name[i];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                      (c >= '0' && c <= '9') || c == '_'))
                        return 0;
        }
        /* The bookkeeping tables are not targets. */
        if (!strcmp(name, "vcdc_targets") || !strcmp(name, "vcdc_offsets"))
                return 0;
        return 1;
}

char *vcdc_pgvector_quote_ident(const char *name) {
        size_t len = strlen(name), i, n = 0;
        char *q;

        if (!(q = malloc(2 * len + 3)))
                return NULL;
        q[n++] = '"';
        for (i = 0; i < len; i++) {
                if (name[i] == '"')
                        q[n++] = '"';
                q[n++] = name[i];
        }
        q[n++] = '"';
        q[n] = '\0';
        return q;
}

size_t vcdc_pgvector_vector_text_max(size_t dim) {
        return dim * FLOAT_TEXT_MAX + 3; /* '[', ']', NUL */
}

size_t vcdc_pgvector_vector_format(const float *v, size_t dim, char *out,
                                   size_t out_size) {
        size_t i, n = 0;
        int r;

        if (out_size < 3)
                return 0;
        out[n++] = '[';
        for (i = 0; i < dim; i++) {
                if (!isfinite(v[i]))
                        return 0;
                /* Room for this float, a ',' or ']', and the NUL. */
                if (out_size - n < FLOAT_TEXT_MAX + 2)
                        return 0;
                if (i > 0)
                        out[n++] = ',';
                r = snprintf(out + n, out_size - n, "%.9g", (double)v[i]);
                if (r < 0 || (size_t)r >= out_size - n)
                        return 0;
                n += (size_t)r;
        }
        if (out_size - n < 2)
                return 0;
        out[n++] = ']';
        out[n] = '\0';
        return n;
}

size_t vcdc_pgvector_vector_binary_size(size_t dim) {
        return 4 + 4 * dim;
}

size_t vcdc_pgvector_vector_binary(const float *v, size_t dim, char *out) {
        uint16_t head[2] = {htons((uint16_t)dim), 0};
        size_t i;

        memcpy(out, head, sizeof(head));
        for (i = 0; i < dim; i++) {
                uint32_t u;
                memcpy(&u, &v[i], sizeof(u));
                u = htonl(u);
                memcpy(out + 4 + 4 * i, &u, sizeof(u));
        }
        return 4 + 4 * dim;
}

static const char *skip_blanks(const char *p) {
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
                p++;
        return p;
}

int vcdc_pgvector_vector_parse(const char *text, float **vecp, size_t *dimp) {
        const char *p;
        size_t cnt = 1, n = 0;
        float *vec;

        *vecp = NULL;
        *dimp = 0;
        p = skip_blanks(text);
        if (*p != '[')
                return -1;
        for (p = text; *p; p++)
                if (*p == ',')
                        cnt++;
        if (!(vec = malloc(cnt * sizeof(*vec))))
                return -1;
        p = skip_blanks(text) + 1;
        for (;;) {
                char *end;
                float f;

                p = skip_blanks(p);
                errno = 0;
                f = strtof(p, &end);
                if (end == p || !isfinite(f) || n == cnt)
                        goto bad;
                vec[n++] = f;
                p = skip_blanks(end);
                if (*p == ',') {
                        p++;
                        continue;
                }
                if (*p == ']')
                        break;
                goto bad;
        }
        if (*skip_blanks(p + 1) != '\0')
                goto bad;
        *vecp = vec;
        *dimp = n;
        return 0;
bad:
        free(vec);
        return -1;
}

char *vcdc_pgvector_text_array(const char *const *items, size_t cnt) {
        size_t size = 3, i, n = 0;
        const char *s;
        char *out;

        for (i = 0; i < cnt; i++)
                size += 2 * strlen(items[i]) + 3; /* worst case: all escaped */
        if (!(out = malloc(size)))
                return NULL;
        out[n++] = '{';
        for (i = 0; i < cnt; i++) {
                if (i > 0)
                        out[n++] = ',';
                out[n++] = '"';
                for (s = items[i]; *s; s++) {
                        if (*s == '"' || *s == '\\')
                                out[n++] = '\\';
                        out[n++] = *s;
                }
                out[n++] = '"';
        }
        out[n++] = '}';
        out[n] = '\0';
        return out;
}

/* A growing string for SQL text. */
typedef struct sqlbuf_s {
        char *p;
        size_t len, size;
        int failed;
} sqlbuf_t;

static void sqlbuf_add(sqlbuf_t *b, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

static void sqlbuf_add(sqlbuf_t *b, const char *fmt, ...) {
        va_list ap;
        int r;

        if (b->failed)
                return;
        for (;;) {
                va_start(ap, fmt);
                r = vsnprintf(b->p ? b->p + b->len : NULL,
                              b->p ? b->size - b->len : 0, fmt, ap);
                va_end(ap);
                if (r < 0)
                        goto fail;
                if (b->p && (size_t)r < b->size - b->len) {
                        b->len += (size_t)r;
                        return;
                }
                {
                        size_t size = b->size ? b->size : 256;
                        char *p;
                        while (size - b->len <= (size_t)r)
                                size *= 2;
                        if (!(p = realloc(b->p, size)))
                                goto fail;
                        b->p = p;
                        b->size = size;
                }
        }
fail:
        b->failed = 1;
}

/* Returns the built string (the caller frees it), NULL if anything failed. */
static char *sqlbuf_finish(sqlbuf_t *b) {
        if (b->failed || !b->p) {
                free(b->p);
                return NULL;
        }
        return b->p;
}

char *vcdc_pgvector_upsert_sql(const char *qtable, size_t rows) {
        sqlbuf_t b = {0};
        size_t i, p;

        if (!rows)
                return NULL;
        sqlbuf_add(&b, "INSERT INTO %s (id, embedding, metadata, document) "
                       "VALUES ",
                   qtable);
        for (i = 0; i < rows; i++) {
                p = i * VCDC_PGVECTOR_UPSERT_PARAMS;
                sqlbuf_add(&b, "%s($%zu::text,$%zu::vector,$%zu::jsonb,"
                               "$%zu::text)",
                           i ? "," : "", p + 1, p + 2, p + 3, p + 4);
        }
        sqlbuf_add(&b, " ON CONFLICT (id) DO UPDATE SET "
                       "embedding = EXCLUDED.embedding, "
                       "metadata = EXCLUDED.metadata, "
                       "document = EXCLUDED.document");
        return sqlbuf_finish(&b);
}

size_t vcdc_pgvector_statement_cnt(size_t upsert_cnt, size_t delete_cnt,
                                   int with_offsets, int prepare) {
        size_t chunks = (upsert_cnt + VCDC_PGVECTOR_CHUNK_ROWS - 1) /
                        VCDC_PGVECTOR_CHUNK_ROWS;

        return 2 /* BEGIN, COMMIT */ + (with_offsets ? 1 : 0) + chunks +
               (prepare && upsert_cnt >= VCDC_PGVECTOR_CHUNK_ROWS ? 1 : 0) +
               (delete_cnt ? 1 : 0);
}

/* Exact codes first: they override their class (the first two characters). */
static const struct {
        const char *code;
        vcdc_sink_status_t status;
} sqlstate_map[] = {
        {"25006", VCDC_SINK_RETRIABLE}, /* read-only transaction: a standby
                                         * after a failover */
        {"26000", VCDC_SINK_RETRIABLE}, /* invalid statement name: the
                                         * unnamed statement was lost
                                         * between Parse and Bind (a
                                         * transaction pooler; PGlite's
                                         * socket server with two clients);
                                         * parsed again on retry */
        {"40002", VCDC_SINK_INVALID},   /* integrity violation at commit */
        {"53400", VCDC_SINK_FATAL},     /* configuration limit exceeded */
        {"55006", VCDC_SINK_RETRIABLE}, /* object in use */
        {"55P03", VCDC_SINK_RETRIABLE}, /* lock not available */
        {"57014", VCDC_SINK_RETRIABLE}, /* query canceled (statement_timeout) */
        {"57P01", VCDC_SINK_RETRIABLE}, /* admin shutdown */
        {"57P02", VCDC_SINK_RETRIABLE}, /* crash shutdown */
        {"57P03", VCDC_SINK_RETRIABLE}, /* cannot connect now */
        {"57P05", VCDC_SINK_RETRIABLE}, /* idle session timeout */
        {"08", VCDC_SINK_RETRIABLE},    /* connection exception */
        {"40", VCDC_SINK_RETRIABLE},    /* transaction rollback: 40001
                                         * serialization, 40P01 deadlock */
        {"53", VCDC_SINK_RETRIABLE},    /* insufficient resources: 53300 too
                                         * many connections, disk full */
        {"58", VCDC_SINK_RETRIABLE},    /* system error (I/O) */
        {"21", VCDC_SINK_INVALID},      /* cardinality violation */
        {"22", VCDC_SINK_INVALID},      /* data exception: bad vector text,
                                         * wrong dimension, bad JSON */
        {"23", VCDC_SINK_INVALID},      /* integrity constraint violation */
        {"54", VCDC_SINK_INVALID},      /* program limit exceeded: too many
                                         * dimensions, row too big */
};

vcdc_sink_status_t vcdc_pgvector_sqlstate_status(const char *sqlstate) {
        size_t i;

        if (!sqlstate || !*sqlstate)
                return VCDC_SINK_RETRIABLE;
        for (i = 0; i < sizeof(sqlstate_map) / sizeof(*sqlstate_map); i++) {
                const char *code = sqlstate_map[i].code;
                if (!strncmp(sqlstate, code, strlen(code)))
                        return sqlstate_map[i].status;
        }
        return VCDC_SINK_FATAL;
}

int vcdc_pgvector_sqlstate_smaller(const char *sqlstate) {
        static const char *const codes[] = {"57014", "53000", "53100",
                                            "53200"};
        size_t i;

        for (i = 0; sqlstate && i < sizeof(codes) / sizeof(*codes); i++)
                if (!strcmp(sqlstate, codes[i]))
                        return 1;
        return 0;
}

char *vcdc_pgvector_json_compact(const char *json) {
        size_t n = 0;
        int in_string = 0;
        const char *s;
        char *out;

        if (!(out = malloc(strlen(json) + 1)))
                return NULL;
        for (s = json; *s; s++) {
                if (in_string) {
                        out[n++] = *s;
                        if (*s == '\\' && s[1])
                                out[n++] = *++s;
                        else if (*s == '"')
                                in_string = 0;
                } else if (*s == '"') {
                        out[n++] = *s;
                        in_string = 1;
                } else if (*s != ' ' && *s != '\t' && *s != '\n' &&
                           *s != '\r') {
                        out[n++] = *s;
                }
        }
        out[n] = '\0';
        return out;
}

/*
 * Connection and statements.
 */

static int64_t now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

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

        VCDC_DEBUG(LOG_COMP, "%s: %.*s", sink->name, msg_len(message),
                   message);
}

static void drop_conn(pgvector_t *pg) {
        PQfinish(pg->conn);
        pg->conn = NULL;
        pg->stmt[0] = '\0';
}

/* Connects (sink_pgvector_conn.c): RETRIABLE or, for a refusal that will
 * recur (authentication), FATAL. */
static vcdc_sink_status_t pg_connect(vcdc_sink_t *sink, char *errstr,
                                     size_t errstr_size) {
        pgvector_t *pg = sink->state;
        vcdc_sink_status_t status;
        char err[768];
        PGconn *conn;

        if (!(conn = vcdc_pgvector_connect(pg->keys, pg->values,
                                           sink->conf.timeout_ms, &status,
                                           err, sizeof(err)))) {
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
static vcdc_sink_status_t conn_ensure(vcdc_sink_t *sink, char *errstr,
                                      size_t errstr_size) {
        pgvector_t *pg = sink->state;

        if (pg->conn && PQstatus(pg->conn) == CONNECTION_OK &&
            PQtransactionStatus(pg->conn) == PQTRANS_IDLE)
                return VCDC_SINK_OK;
        drop_conn(pg);
        return pg_connect(sink, errstr, errstr_size);
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
                left = deadline - now_ms();
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
static void conn_failed(vcdc_sink_t *sink, const char *what, int r,
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
                sent = pg->conn ? vcdc_pgvector_cancel(
                                          pg->conn, CANCEL_WAIT_MS(sink), err,
                                          sizeof(err))
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
                snprintf(errstr, errstr_size,
                         "%s: %s: connection lost: %.*s", sink->name, what,
                         msg_len(msg), msg);
        }
        drop_conn(pg);
}

/* Returns result if it succeeded; else frees it and sets *statusp and
 * errstr: the SQL error mapped by its SQLSTATE. */
static PGresult *checked(vcdc_sink_t *sink, const char *what,
                         PGresult *result, vcdc_sink_status_t *statusp,
                         char *errstr, size_t errstr_size) {
        pgvector_t *pg = sink->state;
        const char *sqlstate, *msg;
        char why[256];

        if (!result) {
                conn_failed(sink, what, -1, statusp, errstr, errstr_size);
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
                         sink->name, what,
                         PQresStatus(PQresultStatus(result)));
                PQclear(result);
                drop_conn(pg);
                return NULL;
        }
        if (PQstatus(pg->conn) == CONNECTION_BAD) {
                PQclear(result);
                conn_failed(sink, what, -1, statusp, errstr, errstr_size);
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
        PQclear(result); /* sqlstate and msg point into it */
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
                return PQsendQueryPrepared(conn, name, nparams, params,
                                           lengths, formats, 0 /*text*/);
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
static PGresult *run_bin(vcdc_sink_t *sink, const char *what,
                         const char *name, const char *sql, int nparams,
                         const char *const *params, const int *lengths,
                         const int *formats, vcdc_sink_status_t *statusp,
                         char *errstr, size_t errstr_size) {
        pgvector_t *pg = sink->state;
        int64_t deadline = now_ms() + sink->conf.timeout_ms;
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
                conn_failed(sink, what, r, statusp, errstr, errstr_size);
                return NULL;
        }
        return checked(sink, what, result, statusp, errstr, errstr_size);
}

/*
 * A statement whose rows we do not read: run at once, or, while apply()
 * pipelines, only sent; pipeline_finish() reads its answer.
 */
static vcdc_sink_status_t exec_bin(vcdc_sink_t *sink, const char *what,
                                   const char *name, const char *sql,
                                   int nparams,
                                   const char *const *params,
                                   const int *lengths, const int *formats,
                                   char *errstr, size_t errstr_size) {
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
                conn_failed(sink, what, -1, &status, errstr, errstr_size);
                return status;
        }
        snprintf(pg->pending[pg->pending_cnt++], sizeof(pg->pending[0]), "%s",
                 what);
        return VCDC_SINK_OK;
}

/* Starts a pipeline on a connection known good. */
static void pipeline_start(pgvector_t *pg) {
        pg->pending_cnt = 0;
        pg->sqlstate[0] = '\0';
        pg->synced = 0;
        pg->pipeline = PQenterPipelineMode(pg->conn);
}

/* Sends the pipeline's sync and everything queued before it. Returns as
 * flush_out(). */
static int pipeline_sync(vcdc_sink_t *sink, int64_t deadline) {
        pgvector_t *pg = sink->state;

        pg->synced = 1;
        return PQpipelineSync(pg->conn) ? flush_out(pg->conn, deadline) : -1;
}

/*
 * Ends the pipeline: syncs (unless apply_send() did), reads every
 * statement's answer within conf.timeout_ms, and reports the first failure
 * as run_bin() would. After a failed statement the server skips the rest
 * (PIPELINE_ABORTED) and the transaction is left failed for rollback().
 * Called on any way out of apply(): a pipeline abandoned half-sent only
 * closes the connection.
 */
static vcdc_sink_status_t pipeline_finish(vcdc_sink_t *sink, int abandon,
                                          char *errstr, size_t errstr_size) {
        pgvector_t *pg = sink->state;
        int64_t deadline = now_ms() + sink->conf.timeout_ms;
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
        r = pg->synced ? 1 : pipeline_sync(sink, deadline);
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
                                 failed_at >= 0 ? pg->pending[failed_at]
                                 : i < pg->pending_cnt ? pg->pending[i]
                                                       : "pipeline sync");
                conn_failed(sink, what, r, &status, errstr, errstr_size);
                return status;
        }
        if (failed &&
            !checked(sink, pg->pending[failed_at], failed, &status, errstr,
                     errstr_size))
                return status;
        return VCDC_SINK_OK;
}

/* run_bin() with text parameters only. */
static PGresult *run(vcdc_sink_t *sink, const char *what, const char *sql,
                     int nparams, const char *const *params,
                     vcdc_sink_status_t *statusp, char *errstr,
                     size_t errstr_size) {
        return run_bin(sink, what, NULL, sql, nparams, params, NULL, NULL,
                       statusp, errstr, errstr_size);
}

/* exec_bin() with text parameters only. */
static vcdc_sink_status_t run_cmd(vcdc_sink_t *sink, const char *what,
                                  const char *sql, int nparams,
                                  const char *const *params, char *errstr,
                                  size_t errstr_size) {
        return exec_bin(sink, what, NULL, sql, nparams, params, NULL, NULL,
                        errstr, errstr_size);
}

/* Ends a failed transaction. Its own error, if any, only closes the
 * connection: the caller's errstr and SQLSTATE keep the root cause. */
static void rollback(vcdc_sink_t *sink) {
        pgvector_t *pg = sink->state;
        char errstr[512], sqlstate[sizeof(pg->sqlstate)];

        if (!pg->conn || PQstatus(pg->conn) != CONNECTION_OK ||
            PQtransactionStatus(pg->conn) == PQTRANS_IDLE)
                return;
        memcpy(sqlstate, pg->sqlstate, sizeof(sqlstate));
        if (run_cmd(sink, "ROLLBACK", "ROLLBACK", 0, NULL, errstr,
                    sizeof(errstr)) != VCDC_SINK_OK) {
                VCDC_DEBUG(LOG_COMP, "%s", errstr);
                drop_conn(pg);
        }
        memcpy(pg->sqlstate, sqlstate, sizeof(sqlstate));
}

/* Deallocates the prepared upsert, if any, keeping the SQLSTATE of what
 * failed before. Closing the connection would free it too, except on a
 * server that keeps one session for every client (PGlite). */
static void deallocate(vcdc_sink_t *sink) {
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
        if ((res = run(sink, "deallocating the upsert", sql, 0, NULL, &status,
                       errstr, sizeof(errstr))))
                PQclear(res);
        else
                VCDC_DEBUG(LOG_COMP, "%s", errstr);
        memcpy(pg->sqlstate, sqlstate, sizeof(sqlstate));
}

/* Parses a non-negative decimal from a result cell. */
static int parse_u64(const char *s, uint64_t *vp) {
        unsigned long long v;
        char *end;

        if (*s < '0' || *s > '9')
                return -1;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno || *end)
                return -1;
        *vp = v;
        return 0;
}

static int parse_i64(const char *s, int64_t *vp) {
        long long v;
        char *end;

        errno = 0;
        v = strtoll(s, &end, 10);
        if (end == s || errno || *end)
                return -1;
        *vp = v;
        return 0;
}

/*
 * The target: existence, dimension, metric.
 */

/* Checks an existing table's columns and reads the dimension from the
 * embedding column's type, vector(N). */
static vcdc_sink_status_t read_columns(vcdc_sink_t *sink, target_t *t,
                                       char *errstr, size_t errstr_size) {
        static const struct {
                const char *name;
                const char *types[3];
        } want[] = {
                {"id", {"text", "varchar", NULL}},
                {"embedding", {"vector", NULL, NULL}},
                {"metadata", {"jsonb", NULL, NULL}},
                {"document", {"text", "varchar", NULL}},
        };
        pgvector_t *pg = sink->state;
        vcdc_sink_status_t status = VCDC_SINK_OK;
        const char *params[1] = {pg->qtable};
        PGresult *res;
        size_t i, j;
        int row, found;

        if (!(res = run(sink, "reading the table's columns",
                        "SELECT a.attname, t.typname, a.atttypmod "
                        "FROM pg_attribute a "
                        "JOIN pg_type t ON t.oid = a.atttypid "
                        "WHERE a.attrelid = to_regclass($1) "
                        "AND a.attnum > 0 AND NOT a.attisdropped",
                        1, params, &status, errstr, errstr_size)))
                return status;
        for (i = 0; i < sizeof(want) / sizeof(*want); i++) {
                found = 0;
                for (row = 0; row < PQntuples(res); row++) {
                        const char *type = PQgetvalue(res, row, 1);
                        if (strcmp(PQgetvalue(res, row, 0), want[i].name))
                                continue;
                        found = 1;
                        for (j = 0; want[i].types[j]; j++)
                                if (!strcmp(type, want[i].types[j]))
                                        break;
                        if (!want[i].types[j]) {
                                snprintf(errstr, errstr_size,
                                         "%s: table %s exists and its column "
                                         "%s is of type %s, not %s: not a "
                                         "table vcdc can write",
                                         sink->name, pg->qtable, want[i].name,
                                         type, want[i].types[0]);
                                status = VCDC_SINK_FATAL;
                                goto done;
                        }
                        if (i == 1) {
                                int64_t typmod;
                                if (parse_i64(PQgetvalue(res, row, 2),
                                              &typmod) == 0 &&
                                    typmod > 0)
                                        t->dim = (size_t)typmod;
                        }
                }
                if (!found) {
                        snprintf(errstr, errstr_size,
                                 "%s: table %s exists without a column %s "
                                 "(%s): not a table vcdc can write",
                                 sink->name, pg->qtable, want[i].name,
                                 want[i].types[0]);
                        status = VCDC_SINK_FATAL;
                        goto done;
                }
        }
done:
        PQclear(res);
        return status;
}

/* Reads whether the table exists, its dimension and recorded metric. */
static vcdc_sink_status_t load_target(vcdc_sink_t *sink, target_t *t,
                                      char *errstr, size_t errstr_size) {
        pgvector_t *pg = sink->state;
        vcdc_sink_status_t status = VCDC_SINK_OK;
        const char *params[2] = {pg->qtable, pg->table};
        uint64_t recorded_dim = 0;
        PGresult *res;
        char sql[256];

        memset(t, 0, sizeof(*t));
        if (!(res = run(sink, "reading the target",
                        "SELECT to_regclass($1) IS NOT NULL, t.dim, t.metric "
                        "FROM (SELECT 1) AS one "
                        "LEFT JOIN vcdc_targets t ON t.table_name = $2",
                        2, params, &status, errstr, errstr_size)))
                return status;
        if (PQntuples(res) != 1) {
                snprintf(errstr, errstr_size, "%s: reading the target: %d rows",
                         sink->name, PQntuples(res));
                PQclear(res);
                return VCDC_SINK_FATAL;
        }
        t->exists = !strcmp(PQgetvalue(res, 0, 0), "t");
        if (!t->exists) {
                /* A row left by a dropped table describes nothing. */
                PQclear(res);
                return VCDC_SINK_OK;
        }
        if (!PQgetisnull(res, 0, 1))
                parse_u64(PQgetvalue(res, 0, 1), &recorded_dim);
        if (!PQgetisnull(res, 0, 2)) {
                t->metric = vcdc_metric_parse(PQgetvalue(res, 0, 2));
                if (t->metric == VCDC_METRIC_UNSET) {
                        snprintf(errstr, errstr_size,
                                 "%s: vcdc_targets records metric \"%.32s\" "
                                 "for table %s: not cosine, l2 or ip",
                                 sink->name, PQgetvalue(res, 0, 2),
                                 pg->qtable);
                        PQclear(res);
                        return VCDC_SINK_FATAL;
                }
        }
        PQclear(res);

        if ((status = read_columns(sink, t, errstr, errstr_size)))
                return status;
        if (!t->dim && recorded_dim)
                t->dim = (size_t)recorded_dim;
        if (!t->dim) {
                /* An unconstrained vector column: ask a stored row. */
                snprintf(sql, sizeof(sql),
                         "SELECT vector_dims(embedding) FROM %s LIMIT 1",
                         pg->qtable);
                if (!(res = run(sink, "reading the dimension", sql, 0, NULL,
                                &status, errstr, errstr_size)))
                        return status;
                if (PQntuples(res) == 1 &&
                    parse_u64(PQgetvalue(res, 0, 0), &recorded_dim) == 0)
                        t->dim = (size_t)recorded_dim;
                PQclear(res);
        }
        return VCDC_SINK_OK;
}

/* Refuses a target whose dimension or metric differ from the configured
 * ones; takes its dimension otherwise. */
static vcdc_sink_status_t adopt_target(vcdc_sink_t *sink, const target_t *t,
                                       char *errstr, size_t errstr_size) {
        pgvector_t *pg = sink->state;

        if (!t->exists)
                return VCDC_SINK_OK;
        if (sink->conf.dim && t->dim && sink->conf.dim != t->dim) {
                snprintf(errstr, errstr_size,
                         "%s: table %s has dimension %zu, this sink is "
                         "configured for %zu",
                         sink->name, pg->qtable, t->dim, sink->conf.dim);
                return VCDC_SINK_FATAL;
        }
        if (t->metric != VCDC_METRIC_UNSET && !sink->metric_explicit)
                sink->conf.metric = t->metric; /* the table's own */
        if (t->metric != VCDC_METRIC_UNSET && t->metric != sink->conf.metric) {
                snprintf(errstr, errstr_size,
                         "%s: table %s was created for metric %s, this sink "
                         "is configured for %s (?metric=%s to use it)",
                         sink->name, pg->qtable, vcdc_metric_name(t->metric),
                         vcdc_metric_name(sink->conf.metric),
                         vcdc_metric_name(t->metric));
                return VCDC_SINK_FATAL;
        }
        if (t->metric == VCDC_METRIC_UNSET)
                VCDC_NOTICE(LOG_COMP,
                            "%s: table %s was not created by vcdc: no "
                            "recorded metric, taking it as %s",
                            sink->name, pg->qtable,
                            vcdc_metric_name(sink->conf.metric));
        pg->exists = 1;
        pg->dim = t->dim;
        return VCDC_SINK_OK;
}

/* Before reading a target missing at open: another process may have
 * created it since. */
static vcdc_sink_status_t refresh_target(vcdc_sink_t *sink, char *errstr,
                                         size_t errstr_size) {
        pgvector_t *pg = sink->state;
        vcdc_sink_status_t status;
        target_t t;

        if (pg->exists)
                return VCDC_SINK_OK;
        if ((status = load_target(sink, &t, errstr, errstr_size)))
                return status;
        return adopt_target(sink, &t, errstr, errstr_size);
}

/* The last statement failed because a concurrent transaction created the
 * same table, type or extension first. */
static int lost_create_race(const pgvector_t *pg) {
        return !strcmp(pg->sqlstate, "42P07") || /* duplicate table */
               !strcmp(pg->sqlstate, "42710") || /* duplicate object */
               !strcmp(pg->sqlstate, "23505");   /* its catalog row */
}

/* Creates what vcdc needs beside the target, when missing. Probing first
 * lets a user without CREATE rights read a prepared database. */
static vcdc_sink_status_t setup(vcdc_sink_t *sink, char *errstr,
                                size_t errstr_size) {
        vcdc_sink_status_t status = VCDC_SINK_OK;
        int has_vector, has_targets, has_offsets, has_instance;
        PGresult *res;

        if (!(res = run(sink, "probing the schema",
                        "SELECT EXISTS (SELECT 1 FROM pg_extension "
                        "WHERE extname = 'vector'), "
                        "to_regclass('vcdc_targets') IS NOT NULL, "
                        "to_regclass('vcdc_offsets') IS NOT NULL, "
                        "EXISTS (SELECT 1 FROM pg_attribute "
                        "WHERE attrelid = to_regclass('vcdc_offsets') "
                        "AND attname = 'table_instance' "
                        "AND NOT attisdropped)",
                        0, NULL, &status, errstr, errstr_size)))
                return status;
        has_vector = !strcmp(PQgetvalue(res, 0, 0), "t");
        has_targets = !strcmp(PQgetvalue(res, 0, 1), "t");
        has_offsets = !strcmp(PQgetvalue(res, 0, 2), "t");
        has_instance = !strcmp(PQgetvalue(res, 0, 3), "t");
        PQclear(res);
        if (has_vector && has_targets && has_offsets && has_instance)
                return VCDC_SINK_OK;

        if ((status = run_cmd(sink, "BEGIN", "BEGIN", 0, NULL, errstr,
                              errstr_size)))
                return status;
        if (!has_vector &&
            (status = run_cmd(sink, "creating extension vector",
                              "CREATE EXTENSION IF NOT EXISTS vector", 0, NULL,
                              errstr, errstr_size)))
                goto err;
        if (!has_targets &&
            (status = run_cmd(sink, "creating vcdc_targets",
                              "CREATE TABLE IF NOT EXISTS vcdc_targets ("
                              "table_name text PRIMARY KEY, dim int, "
                              "metric text)",
                              0, NULL, errstr, errstr_size)))
                goto err;
        if (!has_offsets &&
            (status = run_cmd(sink, "creating vcdc_offsets",
                              "CREATE TABLE IF NOT EXISTS vcdc_offsets ("
                              "table_name text, topic text, partition int, "
                              "\"offset\" bigint, updated_at timestamptz, "
                              "table_instance oid, "
                              "PRIMARY KEY (table_name, topic, partition))",
                              0, NULL, errstr, errstr_size)))
                goto err;
        /* Written by a vcdc from before offsets belonged to the table
         * instance: its rows stay, unstamped, and count for none. */
        if (has_offsets && !has_instance &&
            (status = run_cmd(sink, "adding table_instance to vcdc_offsets",
                              "ALTER TABLE vcdc_offsets ADD COLUMN IF NOT "
                              "EXISTS table_instance oid",
                              0, NULL, errstr, errstr_size)))
                goto err;
        if ((status = run_cmd(sink, "COMMIT", "COMMIT", 0, NULL, errstr,
                              errstr_size)))
                goto err;
        return VCDC_SINK_OK;
err:
        rollback(sink);
        return status;
}

static void pgvector_free(pgvector_t *pg) {
        if (!pg)
                return;
        PQfinish(pg->conn);
        if (pg->password) {
                explicit_bzero(pg->password, strlen(pg->password));
                free(pg->password);
        }
        free(pg->upsert_sql);
        free(pg->qtable);
        free(pg->table);
        free(pg);
}

static void add_key(pgvector_t *pg, size_t *np, const char *key,
                    const char *value) {
        if (!value || !*value)
                return; /* libpq's default (or PG* environment variable) */
        pg->keys[*np] = key;
        pg->values[*np] = value;
        (*np)++;
}

static int pgvector_open(vcdc_sink_t *sink, char *errstr, size_t errstr_size) {
        static const char *const allowed[] = {"table", "metric", "sslmode",
                                              NULL};
        const vcdc_url_t *url = sink->url;
        const char *table, *metric;
        vcdc_sink_status_t status;
        pgvector_t *pg;
        target_t t;
        size_t n = 0;
        int failed, attempt;

        if (vcdc_url_check_params(url, allowed, errstr, errstr_size) == -1)
                return -1;
        if ((metric = vcdc_url_param(url, "metric")) &&
            vcdc_metric_parse(metric) != sink->conf.metric) {
                snprintf(errstr, errstr_size,
                         "%s: ?metric=%s disagrees with the configured metric "
                         "%s",
                         sink->name, metric,
                         vcdc_metric_name(sink->conf.metric));
                return -1;
        }
        if (!(table = vcdc_url_param(url, "table")))
                table = VCDC_PGVECTOR_DEFAULT_TABLE;
        if (!vcdc_pgvector_ident_valid(table)) {
                snprintf(errstr, errstr_size,
                         "%s: table \"%.80s\" is not a valid table name "
                         "(1..%d letters, digits or _, not starting with a "
                         "digit; not vcdc_targets or vcdc_offsets)",
                         sink->name, table, VCDC_PGVECTOR_IDENT_MAX);
                return -1;
        }
        if (!(pg = calloc(1, sizeof(*pg))) || !(pg->table = strdup(table)) ||
            !(pg->qtable = vcdc_pgvector_quote_ident(table)) ||
            !(pg->upsert_sql = vcdc_pgvector_upsert_sql(
                      pg->qtable, VCDC_PGVECTOR_CHUNK_ROWS))) {
                snprintf(errstr, errstr_size, "%s: out of memory", sink->name);
                goto err;
        }
        sink->state = pg;
        pg->password = vcdc_sink_secret("VCDC_PG_PASSWORD", &failed, errstr,
                                        errstr_size);
        if (failed)
                goto err;

        snprintf(pg->tcp_user_timeout, sizeof(pg->tcp_user_timeout), "%d",
                 sink->conf.timeout_ms);
        if (url->port)
                snprintf(pg->port, sizeof(pg->port), "%d", url->port);
        add_key(pg, &n, "host", url->host);
        add_key(pg, &n, "port", pg->port);
        add_key(pg, &n, "user", url->user);
        add_key(pg, &n, "dbname", url->path);
        add_key(pg, &n, "sslmode", vcdc_url_param(url, "sslmode"));
        add_key(pg, &n, "password", pg->password);
        add_key(pg, &n, "tcp_user_timeout", pg->tcp_user_timeout);
        add_key(pg, &n, "application_name", "vcdc");
        add_key(pg, &n, "client_encoding", "UTF8");
        pg->keys[n] = NULL;
        pg->values[n] = NULL;

        snprintf(sink->name, sizeof(sink->name), "pgvector://%s:%d/%s/%s",
                 url->host, url->port ? url->port : 5432, url->path, table);
        if ((status = pg_connect(sink, errstr, errstr_size)) != VCDC_SINK_OK)
                goto db_err;
        /* Two processes starting at once may race to create the bookkeeping
         * tables: the loser sees a duplicate and succeeds on a second try. */
        for (attempt = 0; attempt < 2; attempt++)
                if ((status = setup(sink, errstr, errstr_size)) ==
                            VCDC_SINK_OK ||
                    !lost_create_race(pg))
                        break;
        if (status != VCDC_SINK_OK ||
            (status = load_target(sink, &t, errstr, errstr_size)) !=
                    VCDC_SINK_OK ||
            (status = adopt_target(sink, &t, errstr, errstr_size)) !=
                    VCDC_SINK_OK)
                goto db_err;
        VCDC_INFO(LOG_COMP, "%s: %s, dimension %zu, metric %s", sink->name,
                  pg->exists ? "table exists" : "table created on first upsert",
                  pg->dim ? pg->dim : sink->conf.dim,
                  vcdc_metric_name(sink->conf.metric));
        return 0;

db_err:
        if (status == VCDC_SINK_RETRIABLE)
                sink->open_status = VCDC_SINK_RETRIABLE;
err:
        pgvector_free(pg);
        sink->state = NULL;
        return -1;
}

static void pgvector_close(vcdc_sink_t *sink) {
        if (sink->state)
                deallocate(sink);
        pgvector_free(sink->state);
        sink->state = NULL;
}

static const char *pgvector_target(vcdc_sink_t *sink) {
        return ((pgvector_t *)sink->state)->table;
}

static size_t pgvector_max_batch(vcdc_sink_t *sink) {
        (void)sink;
        return VCDC_PGVECTOR_MAX_BATCH;
}

static size_t pgvector_dim(vcdc_sink_t *sink) {
        pgvector_t *pg = sink->state;

        return pg->dim ? pg->dim : sink->conf.dim;
}

/* 1 when s[0..] is valid UTF-8 (what a UTF8 database accepts in text). */
static int utf8_valid(const char *s) {
        const unsigned char *p = (const unsigned char *)s;

        while (*p) {
                uint32_t cp;
                int n, i;

                if (*p < 0x80) {
                        p++;
                        continue;
                } else if ((*p & 0xe0) == 0xc0) {
                        n = 1;
                        cp = *p & 0x1f;
                } else if ((*p & 0xf0) == 0xe0) {
                        n = 2;
                        cp = *p & 0x0f;
                } else if ((*p & 0xf8) == 0xf0) {
                        n = 3;
                        cp = *p & 0x07;
                } else {
                        return 0;
                }
                for (i = 1; i <= n; i++) {
                        if ((p[i] & 0xc0) != 0x80)
                                return 0;
                        cp = (cp << 6) | (p[i] & 0x3f);
                }
                if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) ||
                    (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
                    (cp >= 0xd800 && cp <= 0xdfff))
                        return 0;
                p += n + 1;
        }
        return 1;
}

/* The checks that need no database, shared by check() and apply(). */
static vcdc_sink_status_t check_vector(vcdc_sink_t *sink,
                                       const vcdc_record_t *rec, char *errstr,
                                       size_t errstr_size) {
        size_t i;

        if (!rec->id) {
                snprintf(errstr, errstr_size, "%s: record without an id",
                         sink->name);
                return VCDC_SINK_INVALID;
        }
        if (!rec->vector || !rec->dim) {
                snprintf(errstr, errstr_size,
                         "%s: record \"%.100s\": upsert without a vector",
                         sink->name, rec->id);
                return VCDC_SINK_INVALID;
        }
        if (rec->dim > VCDC_PGVECTOR_DIM_MAX) {
                snprintf(errstr, errstr_size,
                         "%s: record \"%.100s\": dimension %zu, pgvector "
                         "holds at most %d",
                         sink->name, rec->id, rec->dim, VCDC_PGVECTOR_DIM_MAX);
                return VCDC_SINK_INVALID;
        }
        for (i = 0; i < rec->dim; i++)
                if (!isfinite(rec->vector[i])) {
                        snprintf(errstr, errstr_size,
                                 "%s: record \"%.100s\": component %zu is %s: "
                                 "pgvector holds finite floats only",
                                 sink->name, rec->id, i,
                                 isnan(rec->vector[i]) ? "NaN" : "infinite");
                        return VCDC_SINK_INVALID;
                }
        return VCDC_SINK_OK;
}

/* What the database would refuse in rec, predicted (issue 14): the
 * consumer dead-letters what this refuses, before batching. */
static vcdc_sink_status_t pgvector_check(vcdc_sink_t *sink,
                                         const vcdc_record_t *rec,
                                         char *errstr, size_t errstr_size) {
        vcdc_sink_status_t status;
        size_t id_len;
        char err[256];

        if (rec->op == VCDC_OP_DELETE) {
                /* The id goes into a text[]: UTF-8 is all it needs. */
                if (!rec->id || !utf8_valid(rec->id)) {
                        snprintf(errstr, errstr_size,
                                 "%s: delete of an id that is not valid "
                                 "UTF-8",
                                 sink->name);
                        return VCDC_SINK_INVALID;
                }
                return VCDC_SINK_OK;
        }
        if ((status = check_vector(sink, rec, errstr, errstr_size)))
                return status;
        if (!utf8_valid(rec->id) ||
            (rec->document && !utf8_valid(rec->document))) {
                snprintf(errstr, errstr_size,
                         "%s: record \"%.100s\": %s is not valid UTF-8",
                         sink->name, rec->id,
                         utf8_valid(rec->id) ? "document" : "id");
                return VCDC_SINK_INVALID;
        }
        if ((id_len = strlen(rec->id)) > VCDC_PGVECTOR_ID_BYTES_MAX) {
                snprintf(errstr, errstr_size,
                         "%s: record \"%.100s...\": an id of %zu bytes; the "
                         "primary key's index holds %d (PostgreSQL refuses "
                         "a longer one unless it compresses)",
                         sink->name, rec->id, id_len,
                         VCDC_PGVECTOR_ID_BYTES_MAX);
                return VCDC_SINK_INVALID;
        }
        if (rec->metadata &&
            vcdc_pgvector_jsonb_check(rec->metadata, 1 /*object*/, err,
                                      sizeof(err)) == -1) {
                snprintf(errstr, errstr_size,
                         "%s: record \"%.100s\": metadata is not JSON "
                         "that jsonb holds: %s",
                         sink->name, rec->id, err);
                return VCDC_SINK_INVALID;
        }
        return VCDC_SINK_OK;
}

/*
 * apply
 */

/* Prepares the full chunk's upsert once per connection: the server parses
 * and plans its 2,000 parameters once, not per chunk (PGlite: about a
 * quarter less time per chunk). The name is new each time, so that one
 * left behind (PGlite keeps one session for all its clients) never
 * clashes. */
static vcdc_sink_status_t prepare_upsert(vcdc_sink_t *sink, char *errstr,
                                         size_t errstr_size) {
        pgvector_t *pg = sink->state;
        struct timespec ts;
        char name[sizeof(pg->stmt)];
        vcdc_sink_status_t status;

        if (pg->stmt[0])
                return VCDC_SINK_OK;
        clock_gettime(CLOCK_REALTIME, &ts);
        snprintf(name, sizeof(name), "vcdc_upsert_%ld_%ld_%u", (long)getpid(),
                 (long)ts.tv_nsec, ++pg->stmt_gen);
        if ((status = exec_bin(sink, "preparing the upsert", name,
                               pg->upsert_sql,
                               VCDC_PGVECTOR_CHUNK_ROWS *
                                       VCDC_PGVECTOR_UPSERT_PARAMS,
                               NULL, NULL, NULL, errstr, errstr_size)))
                return status;
        memcpy(pg->stmt, name, sizeof(name));
        pg->stmt_fresh = pg->pipeline;
        return VCDC_SINK_OK;
}

/* After a failed apply, rolled back. A statement prepared in it may or
 * may not exist: deallocated, prepared again under a new name next time.
 * One prepared before survives the rollback, unless the server lost it
 * (SQLSTATE 26000): statements do not outlive a transaction there, as
 * behind a transaction pooler, and chunks go unprepared from then on. */
static void after_failure(vcdc_sink_t *sink) {
        pgvector_t *pg = sink->state;

        if (!pg->stmt[0])
                return;
        if (!strcmp(pg->sqlstate, "26000")) {
                pg->no_prepare = 1;
                pg->stmt[0] = '\0';
                VCDC_NOTICE(LOG_COMP,
                            "%s: the server lost a prepared statement (a "
                            "transaction pooler?); upserts go unprepared "
                            "from now on",
                            sink->name);
        } else if (pg->stmt_fresh) {
                deallocate(sink);
        }
        pg->stmt_fresh = 0;
}

/* Upserts recs[0..cnt) (cnt <= VCDC_PGVECTOR_CHUNK_ROWS, each passed by
 * check_vector: finite, at most VCDC_PGVECTOR_DIM_MAX dimensions) in one
 * statement.
 * Vectors go in pgvector's binary input format: no float formatting, and
 * 4 bytes a float on the wire instead of up to 16. */
static vcdc_sink_status_t upsert_chunk(vcdc_sink_t *sink,
                                       const vcdc_record_t *const *recs,
                                       size_t cnt, char *errstr,
                                       size_t errstr_size) {
        pgvector_t *pg = sink->state;
        vcdc_sink_status_t status = VCDC_SINK_OK;
        size_t nparams = cnt * VCDC_PGVECTOR_UPSERT_PARAMS, size = 0, used = 0,
               i, j;
        const char **params = NULL;
        int *lengths = NULL, *formats = NULL;
        char *bin = NULL, *sql = NULL, what[64];

        for (i = 0; i < cnt; i++)
                size += vcdc_pgvector_vector_binary_size(recs[i]->dim);
        if (!(params = calloc(nparams, sizeof(*params))) ||
            !(lengths = calloc(nparams, sizeof(*lengths))) ||
            !(formats = calloc(nparams, sizeof(*formats))) ||
            !(bin = malloc(size)) ||
            (cnt < VCDC_PGVECTOR_CHUNK_ROWS &&
             !(sql = vcdc_pgvector_upsert_sql(pg->qtable, cnt)))) {
                snprintf(errstr, errstr_size, "%s: out of memory", sink->name);
                status = VCDC_SINK_RETRIABLE;
                goto done;
        }
        for (i = 0; i < cnt; i++) {
                const vcdc_record_t *r = recs[i];
                j = i * VCDC_PGVECTOR_UPSERT_PARAMS;
                params[j] = r->id;
                params[j + 1] = bin + used;
                lengths[j + 1] = (int)vcdc_pgvector_vector_binary(
                        r->vector, r->dim, bin + used);
                formats[j + 1] = 1;
                used += (size_t)lengths[j + 1];
                params[j + 2] = r->metadata; /* NULL: SQL NULL */
                params[j + 3] = r->document;
        }
        snprintf(what, sizeof(what), "upserting %zu rows", cnt);
        if (sql || pg->no_prepare)
                status = exec_bin(sink, what, NULL, sql ? sql : pg->upsert_sql,
                                  (int)nparams, params, lengths, formats,
                                  errstr, errstr_size);
        else if (!(status = prepare_upsert(sink, errstr, errstr_size)))
                status = exec_bin(sink, what, pg->stmt, NULL, (int)nparams,
                                  params, lengths, formats, errstr,
                                  errstr_size);
done:
        free(sql);
        free(bin);
        free(formats);
        free(lengths);
        free(params);
        return status;
}

static vcdc_sink_status_t delete_ids(vcdc_sink_t *sink,
                                     const char *const *ids, size_t cnt,
                                     char *errstr, size_t errstr_size) {
        pgvector_t *pg = sink->state;
        vcdc_sink_status_t status;
        const char *params[1];
        char sql[128], what[64];
        char *array;

        if (!(array = vcdc_pgvector_text_array(ids, cnt))) {
                snprintf(errstr, errstr_size, "%s: out of memory", sink->name);
                return VCDC_SINK_RETRIABLE;
        }
        params[0] = array;
        snprintf(sql, sizeof(sql), "DELETE FROM %s WHERE id = ANY($1::text[])",
                 pg->qtable);
        snprintf(what, sizeof(what), "deleting %zu ids", cnt);
        status = run_cmd(sink, what, sql, 1, params, errstr, errstr_size);
        free(array);
        return status;
}

/*
 * The fenced offsets statement for offsets[0..cnt) of topic
 * (vcdc_pgvector_fence_sql()): record them, or (record 0) only check and
 * lock. A partition listed twice keeps its last entry (one statement
 * cannot touch a row twice).
 */
static vcdc_sink_status_t fence_offsets(vcdc_sink_t *sink, const char *topic,
                                        const vcdc_sink_offset_t *offsets,
                                        size_t cnt, int record, char *errstr,
                                        size_t errstr_size) {
        pgvector_t *pg = sink->state;
        vcdc_sink_status_t status = VCDC_SINK_OK;
        const char **params = NULL;
        char (*text)[2][24] = NULL;
        char *sql = NULL;
        size_t i, j, rows = 0;

        if (!(params = calloc(2 + 2 * cnt, sizeof(*params))) ||
            !(text = calloc(cnt, sizeof(*text)))) {
                snprintf(errstr, errstr_size, "%s: out of memory", sink->name);
                status = VCDC_SINK_RETRIABLE;
                goto done;
        }
        params[0] = pg->table;
        params[1] = topic;
        for (i = 0; i < cnt; i++) {
                for (j = i + 1; j < cnt; j++)
                        if (offsets[j].partition == offsets[i].partition)
                                break;
                if (j < cnt)
                        continue; /* a later entry wins */
                snprintf(text[rows][0], sizeof(text[rows][0]), "%" PRId32,
                         offsets[i].partition);
                snprintf(text[rows][1], sizeof(text[rows][1]), "%" PRId64,
                         offsets[i].offset);
                params[2 + 2 * rows] = text[rows][0];
                params[3 + 2 * rows] = text[rows][1];
                rows++;
        }
        if (!(sql = vcdc_pgvector_fence_sql(rows, record))) {
                snprintf(errstr, errstr_size, "%s: out of memory", sink->name);
                status = VCDC_SINK_RETRIABLE;
                goto done;
        }
        status = run_cmd(sink, record ? FENCE_WHAT : FENCE_ONLY_WHAT, sql,
                         (int)(2 + 2 * rows), params, errstr, errstr_size);
done:
        free(sql);
        free(text);
        free(params);
        return status;
}

/* Creates the missing table in the open transaction, and records it. */
static vcdc_sink_status_t create_table(vcdc_sink_t *sink, size_t dim,
                                       char *errstr, size_t errstr_size) {
        pgvector_t *pg = sink->state;
        vcdc_sink_status_t status;
        const char *params[3];
        char sql[256], dimstr[24];

        snprintf(sql, sizeof(sql),
                 "CREATE TABLE %s (id text PRIMARY KEY, "
                 "embedding vector(%zu) NOT NULL, metadata jsonb, "
                 "document text)",
                 pg->qtable, dim);
        status = run_cmd(sink, "creating the table", sql, 0, NULL, errstr,
                         errstr_size);
        /* Another process created it first (duplicate table, or the
         * duplicate type row in a race): the retry will find it. */
        if (status && lost_create_race(pg))
                status = VCDC_SINK_RETRIABLE;
        if (status)
                return status;
        snprintf(dimstr, sizeof(dimstr), "%zu", dim);
        params[0] = pg->table;
        params[1] = dimstr;
        params[2] = vcdc_metric_name(sink->conf.metric);
        return run_cmd(sink, "recording the table in vcdc_targets",
                       "INSERT INTO vcdc_targets (table_name, dim, metric) "
                       "VALUES ($1, $2::int, $3) ON CONFLICT (table_name) DO "
                       "UPDATE SET dim = EXCLUDED.dim, "
                       "metric = EXCLUDED.metric",
                       3, params, errstr, errstr_size);
}

/*
 * apply() up to its answers. The usual batch, to a table known to exist,
 * is left in a pipeline (pg->pipeline) for apply_wait() to read back; a
 * batch that creates the table is applied statement by statement here.
 */
static vcdc_sink_status_t apply_start(vcdc_sink_t *sink,
                                      const vcdc_sink_batch_t *batch,
                                      char *errstr, size_t errstr_size) {
        pgvector_t *pg = sink->state;
        vcdc_sink_status_t status;
        size_t i, dim, create_dim = 0;
        int created = 0;

        if (!batch->upsert_cnt && !batch->delete_cnt && !batch->offset_cnt)
                return VCDC_SINK_OK;
        if (batch->offset_cnt && !batch->topic) {
                snprintf(errstr, errstr_size,
                         "%s: a batch with offsets needs a topic", sink->name);
                return VCDC_SINK_FATAL;
        }
        /* Refuse what cannot apply before starting a transaction. */
        dim = pg->dim ? pg->dim : sink->conf.dim;
        if (!dim && batch->upsert_cnt && batch->upserts[0]->dim)
                dim = batch->upserts[0]->dim;
        for (i = 0; i < batch->upsert_cnt; i++) {
                const vcdc_record_t *rec = batch->upserts[i];
                if ((status = check_vector(sink, rec, errstr, errstr_size)))
                        return status;
                if (dim && rec->dim != dim && (pg->dim || !pg->exists)) {
                        snprintf(errstr, errstr_size,
                                 "%s: record \"%.100s\": dimension %zu, the "
                                 "table has %zu",
                                 sink->name, rec->id, rec->dim, dim);
                        return VCDC_SINK_INVALID;
                }
        }
        if ((status = conn_ensure(sink, errstr, errstr_size)))
                return status;
        /* The usual batch, to a table known to exist, is one round trip:
         * its statements go in one pipeline and are read back at the end.
         * Creating the table reads answers on the way, so it does not; nor
         * does a batch larger than max_batch(), which needs more
         * statements than a pipeline holds. */
        if (pg->exists &&
            vcdc_pgvector_statement_cnt(batch->upsert_cnt, batch->delete_cnt,
                                        batch->offset_cnt > 0,
                                        !pg->stmt[0] && !pg->no_prepare) <=
                    VCDC_PGVECTOR_PIPELINE_MAX)
                pipeline_start(pg);
        if ((status = run_cmd(sink, "BEGIN", "BEGIN", 0, NULL, errstr,
                              errstr_size)))
                goto err;
        if (!pg->exists) {
                if ((status = refresh_target(sink, errstr, errstr_size)))
                        goto err;
                if (!pg->exists && batch->upsert_cnt) {
                        create_dim = dim;
                        if ((status = create_table(sink, create_dim, errstr,
                                                   errstr_size)))
                                goto err;
                        created = 1;
                }
        }
        /* The fence first: writers of a partition queue on its offsets row
         * before touching data, and a stale batch stops here. */
        if (batch->offset_cnt &&
            (status = fence_offsets(sink, batch->topic, batch->offsets,
                                    batch->offset_cnt, !batch->fence_only,
                                    errstr, errstr_size)))
                goto err;
        for (i = 0; i < batch->upsert_cnt; i += VCDC_PGVECTOR_CHUNK_ROWS) {
                size_t cnt = batch->upsert_cnt - i;
                if (cnt > VCDC_PGVECTOR_CHUNK_ROWS)
                        cnt = VCDC_PGVECTOR_CHUNK_ROWS;
                if ((status = upsert_chunk(sink, batch->upserts + i, cnt,
                                           errstr, errstr_size)))
                        goto err;
        }
        /* No table yet: nothing to delete. */
        if (batch->delete_cnt && (pg->exists || created) &&
            (status = delete_ids(sink, batch->delete_ids, batch->delete_cnt,
                                 errstr, errstr_size)))
                goto err;
        if ((status = run_cmd(sink, "COMMIT", "COMMIT", 0, NULL, errstr,
                              errstr_size)))
                goto err;
        if (created) {
                pg->exists = 1;
                pg->dim = create_dim;
                VCDC_INFO(LOG_COMP, "%s: created with dimension %zu, metric %s",
                          sink->name, create_dim,
                          vcdc_metric_name(sink->conf.metric));
        }
        return VCDC_SINK_OK;
err:
        pipeline_finish(sink, 1 /*abandon*/, errstr, errstr_size);
        rollback(sink);
        after_failure(sink);
        return status;
}

static vcdc_sink_status_t pgvector_apply_wait(vcdc_sink_t *sink, char *errstr,
                                              size_t errstr_size) {
        pgvector_t *pg = sink->state;
        vcdc_sink_status_t status;

        if ((status = pipeline_finish(sink, 0, errstr, errstr_size))) {
                rollback(sink);
                after_failure(sink);
        }
        pg->stmt_fresh = 0;
        return status;
}

static vcdc_sink_status_t pgvector_apply(vcdc_sink_t *sink,
                                         const vcdc_sink_batch_t *batch,
                                         char *errstr, size_t errstr_size) {
        vcdc_sink_status_t status = apply_start(sink, batch, errstr,
                                                errstr_size);

        return status ? status
                      : pgvector_apply_wait(sink, errstr, errstr_size);
}

static vcdc_sink_status_t pgvector_apply_send(vcdc_sink_t *sink,
                                              const vcdc_sink_batch_t *batch,
                                              char *errstr,
                                              size_t errstr_size) {
        pgvector_t *pg = sink->state;
        vcdc_sink_status_t status;
        int r;

        if ((status = apply_start(sink, batch, errstr, errstr_size)) ||
            !pg->pipeline)
                return status;
        if ((r = pipeline_sync(sink, now_ms() + sink->conf.timeout_ms)) !=
            1) {
                pg->pipeline = 0;
                conn_failed(sink, "sending a batch", r, &status, errstr,
                            errstr_size);
        }
        return status;
}

static vcdc_sink_status_t pgvector_record_offsets(
        vcdc_sink_t *sink, const char *topic, const vcdc_sink_offset_t *offsets,
        size_t cnt, char *errstr, size_t errstr_size) {
        vcdc_sink_batch_t batch = {
                .topic = topic, .offsets = offsets, .offset_cnt = cnt};

        return pgvector_apply(sink, &batch, errstr, errstr_size);
}

/*
 * Reads
 */

static vcdc_sink_status_t pgvector_read_offsets(vcdc_sink_t *sink,
                                                const char *topic,
                                                vcdc_sink_offset_t **offsetsp,
                                                size_t *cntp, char *errstr,
                                                size_t errstr_size) {
        pgvector_t *pg = sink->state;
        vcdc_sink_status_t status = VCDC_SINK_OK;
        const char *params[2] = {pg->table, topic};
        vcdc_sink_offset_t *offsets = NULL;
        PGresult *res = NULL;
        int row, rows;

        *offsetsp = NULL;
        *cntp = 0;
        if ((status = conn_ensure(sink, errstr, errstr_size)))
                return status;
        if (!(res = run(sink, "reading offsets",
                        vcdc_pgvector_read_offsets_sql(), 2, params, &status,
                        errstr, errstr_size)))
                return status;
        rows = PQntuples(res);
        if (!(offsets = calloc(rows ? (size_t)rows : 1, sizeof(*offsets)))) {
                snprintf(errstr, errstr_size, "%s: out of memory", sink->name);
                status = VCDC_SINK_RETRIABLE;
                goto done;
        }
        for (row = 0; row < rows; row++) {
                int64_t partition, offset;
                if (parse_i64(PQgetvalue(res, row, 0), &partition) == -1 ||
                    parse_i64(PQgetvalue(res, row, 1), &offset) == -1 ||
                    partition < 0 || partition > INT32_MAX) {
                        snprintf(errstr, errstr_size,
                                 "%s: vcdc_offsets: bad row \"%.24s\", "
                                 "\"%.24s\"",
                                 sink->name, PQgetvalue(res, row, 0),
                                 PQgetvalue(res, row, 1));
                        status = VCDC_SINK_FATAL;
                        goto done;
                }
                offsets[row].partition = (int32_t)partition;
                offsets[row].offset = offset;
        }
        *offsetsp = offsets;
        *cntp = (size_t)rows;
        offsets = NULL;
done:
        free(offsets);
        PQclear(res);
        return status;
}

static vcdc_sink_status_t pgvector_count(vcdc_sink_t *sink, uint64_t *countp,
                                         char *errstr, size_t errstr_size) {
        pgvector_t *pg = sink->state;
        vcdc_sink_status_t status = VCDC_SINK_OK;
        PGresult *res;
        char sql[128];

        *countp = 0;
        if ((status = conn_ensure(sink, errstr, errstr_size)) ||
            (status = refresh_target(sink, errstr, errstr_size)))
                return status;
        if (!pg->exists)
                return VCDC_SINK_OK;
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", pg->qtable);
        if (!(res = run(sink, "counting", sql, 0, NULL, &status, errstr,
                        errstr_size)))
                return status;
        if (PQntuples(res) != 1 ||
            parse_u64(PQgetvalue(res, 0, 0), countp) == -1) {
                snprintf(errstr, errstr_size, "%s: counting: bad answer",
                         sink->name);
                status = VCDC_SINK_FATAL;
        }
        PQclear(res);
        return status;
}

/* Fills rec from row of res: id, [embedding,] metadata, document. */
static int fill_record(vcdc_record_t *rec, PGresult *res, int row,
                       int with_vectors) {
        int col = 1;

        vcdc_record_clear(rec);
        rec->op = VCDC_OP_UPSERT;
        if (!(rec->id = strdup(PQgetvalue(res, row, 0))))
                return -1;
        if (with_vectors) {
                if (vcdc_pgvector_vector_parse(PQgetvalue(res, row, col),
                                               &rec->vector, &rec->dim) == -1)
                        return -1;
                col++;
        }
        if (!PQgetisnull(res, row, col) &&
            !(rec->metadata =
                      vcdc_pgvector_json_compact(PQgetvalue(res, row, col))))
                return -1;
        col++;
        if (!PQgetisnull(res, row, col) &&
            !(rec->document = strdup(PQgetvalue(res, row, col))))
                return -1;
        return 0;
}

typedef struct id_index_s {
        const char *id;
        size_t i;
} id_index_t;

static int id_index_cmp(const void *a, const void *b) {
        const id_index_t *x = a, *y = b;
        int r = strcmp(x->id, y->id);

        return r ? r : (x->i > y->i) - (x->i < y->i);
}

static vcdc_sink_status_t pgvector_get(vcdc_sink_t *sink,
                                       const char *const *ids, size_t cnt,
                                       vcdc_record_t *out, char *errstr,
                                       size_t errstr_size) {
        pgvector_t *pg = sink->state;
        vcdc_sink_status_t status = VCDC_SINK_OK;
        id_index_t *index = NULL;
        const char *params[1];
        PGresult *res = NULL;
        char *array = NULL, sql[192];
        size_t i;
        int row;

        if (!cnt)
                return VCDC_SINK_OK;
        if ((status = conn_ensure(sink, errstr, errstr_size)) ||
            (status = refresh_target(sink, errstr, errstr_size)))
                return status;
        if (!pg->exists)
                return VCDC_SINK_OK;
        if (!(index = malloc(cnt * sizeof(*index))) ||
            !(array = vcdc_pgvector_text_array(ids, cnt))) {
                snprintf(errstr, errstr_size, "%s: out of memory", sink->name);
                status = VCDC_SINK_RETRIABLE;
                goto done;
        }
        for (i = 0; i < cnt; i++) {
                index[i].id = ids[i];
                index[i].i = i;
        }
        qsort(index, cnt, sizeof(*index), id_index_cmp);
        params[0] = array;
        snprintf(sql, sizeof(sql),
                 "SELECT id, embedding::text, metadata::text, document "
                 "FROM %s WHERE id = ANY($1::text[])",
                 pg->qtable);
        if (!(res = run(sink, "getting by ids", sql, 1, params, &status,
                        errstr, errstr_size)))
                goto done;
        for (row = 0; row < PQntuples(res); row++) {
                const char *id = PQgetvalue(res, row, 0);
                size_t lo = 0, hi = cnt;
                /* The first index entry with this id, then its repeats. */
                while (lo < hi) {
                        size_t mid = lo + (hi - lo) / 2;
                        if (strcmp(index[mid].id, id) < 0)
                                lo = mid + 1;
                        else
                                hi = mid;
                }
                for (; lo < cnt && !strcmp(index[lo].id, id); lo++) {
                        if (fill_record(&out[index[lo].i], res, row, 1) == -1) {
                                snprintf(errstr, errstr_size,
                                         "%s: getting \"%.100s\": cannot "
                                         "read the row (bad vector text or "
                                         "out of memory)",
                                         sink->name, id);
                                status = VCDC_SINK_FATAL;
                                goto done;
                        }
                }
        }
done:
        PQclear(res);
        free(array);
        free(index);
        return status;
}

static vcdc_sink_status_t pgvector_scan(vcdc_sink_t *sink, char **cursorp,
                                        size_t max, int with_vectors,
                                        vcdc_record_t *out, size_t *cntp,
                                        char *errstr, size_t errstr_size) {
        pgvector_t *pg = sink->state;
        vcdc_sink_status_t status = VCDC_SINK_OK;
        const char *params[2];
        char sql[256], limit[24], *cursor;
        PGresult *res;
        int row, rows;

        *cntp = 0;
        if (!max)
                return VCDC_SINK_OK;
        if ((status = conn_ensure(sink, errstr, errstr_size)) ||
            (status = refresh_target(sink, errstr, errstr_size)))
                return status;
        if (!pg->exists) {
                free(*cursorp);
                *cursorp = NULL;
                return VCDC_SINK_OK;
        }
        /* Keyset pagination: the cursor is the last id seen. */
        snprintf(limit, sizeof(limit), "%zu", max);
        params[0] = limit;
        params[1] = *cursorp;
        snprintf(sql, sizeof(sql),
                 "SELECT id, %smetadata::text, document FROM %s %s "
                 "ORDER BY id LIMIT $1::bigint",
                 with_vectors ? "embedding::text, " : "", pg->qtable,
                 *cursorp ? "WHERE id > $2" : "");
        if (!(res = run(sink, "scanning", sql, *cursorp ? 2 : 1, params,
                        &status, errstr, errstr_size)))
                return status;
        rows = PQntuples(res);
        for (row = 0; row < rows && (size_t)row < max; row++) {
                if (fill_record(&out[row], res, row, with_vectors) == -1) {
                        vcdc_record_clear(&out[row]);
                        snprintf(errstr, errstr_size,
                                 "%s: scanning \"%.100s\": cannot read the "
                                 "row (bad vector text or out of memory)",
                                 sink->name, PQgetvalue(res, row, 0));
                        status = VCDC_SINK_FATAL;
                        goto done;
                }
        }
        cursor = NULL;
        if ((size_t)rows == max &&
            !(cursor = strdup(PQgetvalue(res, rows - 1, 0)))) {
                snprintf(errstr, errstr_size, "%s: out of memory", sink->name);
                status = VCDC_SINK_RETRIABLE;
                goto done;
        }
        free(*cursorp);
        *cursorp = cursor;
        *cntp = (size_t)row;
done:
        if (status)
                while (row-- > 0)
                        vcdc_record_clear(&out[row]);
        PQclear(res);
        return status;
}

static vcdc_sink_status_t pgvector_query(vcdc_sink_t *sink,
                                         const float *vector, size_t dim,
                                         size_t k, vcdc_hit_t *hits,
                                         size_t *cntp, char *errstr,
                                         size_t errstr_size) {
        static const char *const ops[] = {
                [VCDC_METRIC_UNSET] = "<=>",
                [VCDC_METRIC_COSINE] = "<=>",
                [VCDC_METRIC_L2] = "<->",
                [VCDC_METRIC_IP] = "<#>",
        };
        pgvector_t *pg = sink->state;
        vcdc_sink_status_t status = VCDC_SINK_OK;
        const char *params[2];
        char *text = NULL, sql[256], limit[24];
        size_t size;
        PGresult *res = NULL;
        int row;

        *cntp = 0;
        if (!k)
                return VCDC_SINK_OK;
        if (!dim || dim > VCDC_PGVECTOR_DIM_MAX) {
                snprintf(errstr, errstr_size,
                         "%s: query vector of dimension %zu", sink->name, dim);
                return VCDC_SINK_INVALID;
        }
        if ((status = conn_ensure(sink, errstr, errstr_size)) ||
            (status = refresh_target(sink, errstr, errstr_size)))
                return status;
        if (!pg->exists)
                return VCDC_SINK_OK;
        if (pg->dim && dim != pg->dim) {
                snprintf(errstr, errstr_size,
                         "%s: query vector of dimension %zu, the table has %zu",
                         sink->name, dim, pg->dim);
                return VCDC_SINK_INVALID;
        }
        size = vcdc_pgvector_vector_text_max(dim);
        if (!(text = malloc(size))) {
                snprintf(errstr, errstr_size, "%s: out of memory", sink->name);
                return VCDC_SINK_RETRIABLE;
        }
        if (!vcdc_pgvector_vector_format(vector, dim, text, size)) {
                snprintf(errstr, errstr_size,
                         "%s: query vector holds NaN or infinity", sink->name);
                status = VCDC_SINK_INVALID;
                goto done;
        }
        snprintf(limit, sizeof(limit), "%zu", k);
        params[0] = text;
        params[1] = limit;
        snprintf(sql, sizeof(sql),
                 "SELECT id, embedding %s $1::vector AS distance FROM %s "
                 "ORDER BY 2 LIMIT $2::bigint",
                 ops[sink->conf.metric], pg->qtable);
        if (!(res = run(sink, "querying", sql, 2, params, &status, errstr,
                        errstr_size)))
                goto done;
        for (row = 0; row < PQntuples(res) && (size_t)row < k; row++) {
                char *end;
                if (!(hits[row].id = strdup(PQgetvalue(res, row, 0)))) {
                        snprintf(errstr, errstr_size, "%s: out of memory",
                                 sink->name);
                        status = VCDC_SINK_RETRIABLE;
                        goto done;
                }
                hits[row].distance = strtod(PQgetvalue(res, row, 1), &end);
                *cntp = (size_t)row + 1;
        }
done:
        if (status) {
                while (*cntp > 0) {
                        (*cntp)--;
                        free(hits[*cntp].id);
                        hits[*cntp].id = NULL;
                }
        }
        PQclear(res);
        free(text);
        return status;
}

const struct vcdc_sink_ops vcdc_sink_pgvector_ops = {
        .scheme = "pgvector",
        .open = pgvector_open,
        .close = pgvector_close,
        .target = pgvector_target,
        .max_batch = pgvector_max_batch,
        .dim = pgvector_dim,
        .check = pgvector_check,
        .apply = pgvector_apply,
        .apply_send = pgvector_apply_send,
        .apply_wait = pgvector_apply_wait,
        .record_offsets = pgvector_record_offsets,
        .read_offsets = pgvector_read_offsets,
        .count = pgvector_count,
        .get = pgvector_get,
        .scan = pgvector_scan,
        .query = pgvector_query,
};
