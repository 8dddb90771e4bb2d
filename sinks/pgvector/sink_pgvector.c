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
 *   copy     which batches go through COPY (sink_pgvector_copy.c): auto
 *            (the default: those of at least VCDC_PGVECTOR_COPY_MIN_ROWS
 *            upserts), always, never (every batch as multi-row INSERTs).
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
 * record_offsets() is the same transaction with the offsets alone. The full
 * chunk's INSERT is prepared once per connection (prepare_upsert()). Any
 * failure rolls it all back. apply_send() sends that pipeline and apply_wait()
 * reads its answers, so the consumer can build its next batch meanwhile;
 * a batch that creates the table is applied whole by apply_send(). Errors
 * map by SQLSTATE (vcdc_pgvector_sqlstate_status()); a lost or silent
 * connection is RETRIABLE and the next call reconnects.
 *
 * No index is created with the table: query() orders by <=> (cosine),
 * <-> (l2) or <#> (ip, the negated inner product: smaller is nearer). The
 * HNSW or IVFFlat index with the metric's operator class is built on
 * request, concurrently, once the consumer has caught up
 * (sink_pgvector_index.c).
 *
 * Reads: metadata comes back as PostgreSQL prints jsonb, made compact: jsonb
 * keeps one copy of each key, orders keys (shorter first, then bytewise) and
 * prints numbers as numeric does, so {"b":1,"a":2.50} reads back as
 * {"a":2.50,"b":1}. Compare metadata as JSON values, not as text.
 *
 * A large batch (?copy=) goes another way in the same transaction: its
 * upserts are streamed with COPY ... FROM STDIN (FORMAT binary) into a
 * temporary staging table of the session, then merged with one INSERT ...
 * SELECT ... ON CONFLICT (id) DO UPDATE after the fence
 * (sink_pgvector_copy.c); the answer is the same, and so is every status.
 *
 * The sink's files, one concern each: sink_pgvector_conn.c (connecting,
 * cancelling), sink_pgvector_exec.c (statements and pipelines on the
 * connection, errors by SQLSTATE), sink_pgvector_sql.c (SQL text and pure
 * formatters), sink_pgvector_setup.c (bookkeeping tables, the target),
 * sink_pgvector_check.c (what the database would refuse),
 * sink_pgvector_fence.c (the fenced offsets), sink_pgvector_apply.c,
 * sink_pgvector_copyfmt.c and sink_pgvector_copy.c (the COPY path's rows
 * and its statements), sink_pgvector_read.c, sink_pgvector_index.c and
 * _idxsql.c (the index). This file opens and closes the sink and fills the
 * ops table; it runs no statement of its own.
 */
#include "secret.h"
#include "sink_pgvector_state.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static void pgvector_free(pgvector_t *pg) {
        if (!pg)
                return;
        vcdc_pgvector_index_free(pg->index);
        PQfinish(pg->conn);
        if (pg->password) {
                explicit_bzero(pg->password, strlen(pg->password));
                free(pg->password);
        }
        free(pg->merge_sql);
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
                                              "copy", NULL};
        const vcdc_url_t *url = sink->url;
        const char *table, *metric, *copy;
        vcdc_sink_status_t status;
        pgvector_t *pg;
        target_t t;
        size_t n = 0, copy_min;
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
        if (!(copy = vcdc_url_param(url, "copy")) || !strcmp(copy, "auto"))
                copy_min = VCDC_PGVECTOR_COPY_MIN_ROWS;
        else if (!strcmp(copy, "always"))
                copy_min = 1;
        else if (!strcmp(copy, "never"))
                copy_min = SIZE_MAX;
        else {
                snprintf(errstr, errstr_size,
                         "%s: ?copy=%.32s: not auto, always or never",
                         sink->name, copy);
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
                      pg->qtable, VCDC_PGVECTOR_CHUNK_ROWS)) ||
            !(pg->merge_sql = vcdc_pgvector_merge_sql(pg->qtable))) {
                snprintf(errstr, errstr_size, "%s: out of memory", sink->name);
                goto err;
        }
        sink->state = pg;
        pg->copy_min = copy_min;
        pg->password = vcdc_secret("VCDC_PG_PASSWORD", &failed, errstr,
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
        if ((status = vcdc_pgvector_conn_open(sink, errstr, errstr_size)) !=
            VCDC_SINK_OK)
                goto db_err;
        /* Two processes starting at once may race to create the bookkeeping
         * tables: the loser sees a duplicate and succeeds on a second try. */
        for (attempt = 0; attempt < 2; attempt++)
                if ((status = vcdc_pgvector_setup(sink, errstr, errstr_size)) ==
                            VCDC_SINK_OK ||
                    !vcdc_pgvector_lost_create_race(pg))
                        break;
        if (status != VCDC_SINK_OK ||
            (status = vcdc_pgvector_load_target(sink, &t, errstr,
                                                errstr_size)) != VCDC_SINK_OK ||
            (status = vcdc_pgvector_adopt_target(sink, &t, errstr,
                                                 errstr_size)) != VCDC_SINK_OK)
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
                vcdc_pgvector_deallocate(sink);
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

const struct vcdc_sink_ops vcdc_sink_pgvector_ops = {
        .scheme = "pgvector",
        .open = pgvector_open,
        .close = pgvector_close,
        .target = pgvector_target,
        .max_batch = pgvector_max_batch,
        .dim = pgvector_dim,
        .check = vcdc_pgvector_op_check,
        .apply = vcdc_pgvector_op_apply,
        .apply_send = vcdc_pgvector_op_apply_send,
        .apply_wait = vcdc_pgvector_op_apply_wait,
        .record_offsets = vcdc_pgvector_op_record_offsets,
        .read_offsets = vcdc_pgvector_op_read_offsets,
        .count = vcdc_pgvector_op_count,
        .get = vcdc_pgvector_op_get,
        .exists = vcdc_pgvector_op_exists,
        .scan = vcdc_pgvector_op_scan,
        .query = vcdc_pgvector_op_query,
        .index_start = vcdc_pgvector_op_index_start,
        .index_poll = vcdc_pgvector_op_index_poll,
        .index_state = vcdc_pgvector_op_index_state,
};
