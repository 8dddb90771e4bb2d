/*
 * vcdc - the pgvector sink's own state and the calls its files share: the
 * statements on the connection (sink_pgvector_exec.c), the schema
 * (sink_pgvector_setup.c), the checks (sink_pgvector_check.c) and the
 * slots of the ops table each file fills (sink_pgvector.c puts them
 * together). Only the files of sinks/pgvector/ include this; tests and
 * fuzzers use sink_pgvector_int.h.
 */
#ifndef VCDC_SINK_PGVECTOR_STATE_H
#define VCDC_SINK_PGVECTOR_STATE_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "sink_int.h"
#include "sink_pgvector_int.h"

#define LOG_COMP "pgvector"

/* What the fenced offsets statement is called in errors; a failure of a
 * statement so called may be the fence's refusal (STALE). */
#define FENCE_WHAT      "recording offsets"
#define FENCE_ONLY_WHAT "checking offsets"

/* The index build and its monitoring (sink_pgvector_index.c). */
typedef struct pgindex_s pgindex_t;

typedef struct pgvector_s {
        PGconn *conn;     /* NULL after a lost connection: the next call
                           * reconnects */
        char *table;      /* the table's name as given */
        char *qtable;     /* the same, quoted for SQL */
        char *password;   /* or NULL; never logged */
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
         * for the error message, until vcdc_pgvector_pipeline_finish() reads
         * them. */
        int pipeline;
        int synced; /* the pipeline's sync is sent (apply_send) */
        int pending_cnt;
        char pending[VCDC_PGVECTOR_PIPELINE_MAX][64];
        /* The COPY path (sink_pgvector_copy.c): batches of at least
         * copy_min upserts (SIZE_MAX: none) go through the staging table,
         * made on this connection when stage_ready, forgotten with it. */
        size_t copy_min;
        char *merge_sql;
        int stage_ready;
        int exists; /* the table exists */
        size_t dim; /* its dimension, 0 while unknown */
        int connected_once;
        pgindex_t *index; /* NULL until the index is first asked about */
} pgvector_t;

/* What vcdc_pgvector_load_target() finds. */
typedef struct target_s {
        int exists;
        size_t dim;           /* 0: unknown */
        vcdc_metric_t metric; /* UNSET: not recorded */
} target_t;

/*
 * Statements (sink_pgvector_exec.c). A failed one sets errstr with the
 * sink's name and what it was doing, and pg->sqlstate.
 */

/** Connects (sink_pgvector_conn.c): RETRIABLE or, for a refusal that will
 *  recur (authentication), FATAL. */
vcdc_sink_status_t vcdc_pgvector_conn_open(vcdc_sink_t *sink, char *errstr,
                                           size_t errstr_size);

/** A usable connection, idle outside any transaction: reconnects after a
 *  lost one. */
vcdc_sink_status_t vcdc_pgvector_conn_ensure(vcdc_sink_t *sink, char *errstr,
                                             size_t errstr_size);

/** Sets *statusp (RETRIABLE) and errstr for a connection lost (r -1) or
 *  silent (r 0, after which the statement is cancelled) during what, and
 *  closes it: the next call reconnects. */
void vcdc_pgvector_conn_failed(vcdc_sink_t *sink, const char *what, int r,
                               vcdc_sink_status_t *statusp, char *errstr,
                               size_t errstr_size);

/**
 * Runs one statement with text parameters (a NULL value is SQL NULL) and
 * waits at most conf.timeout_ms for its answer. Returns the result (the
 * caller PQclear()s it), or NULL with *statusp and errstr set: the SQL
 * error mapped by its SQLSTATE, or RETRIABLE for a lost or silent
 * connection, which is then closed so that the next call reconnects.
 */
PGresult *vcdc_pgvector_run(vcdc_sink_t *sink, const char *what,
                            const char *sql, int nparams,
                            const char *const *params,
                            vcdc_sink_status_t *statusp, char *errstr,
                            size_t errstr_size);

/**
 * A statement whose rows are not read: run at once, or, while a pipeline
 * is open, only sent (vcdc_pgvector_pipeline_finish() reads its answer).
 * sql unnamed (name NULL), the statement prepared as name (sql NULL), or
 * sql prepared as name (both). formats[i] 1: params[i] is lengths[i]
 * bytes of the type's binary input (formats NULL: all text).
 */
vcdc_sink_status_t
vcdc_pgvector_exec_bin(vcdc_sink_t *sink, const char *what, const char *name,
                       const char *sql, int nparams, const char *const *params,
                       const int *lengths, const int *formats, char *errstr,
                       size_t errstr_size);

/** vcdc_pgvector_exec_bin() of unnamed sql with text parameters. */
vcdc_sink_status_t vcdc_pgvector_run_cmd(vcdc_sink_t *sink, const char *what,
                                         const char *sql, int nparams,
                                         const char *const *params,
                                         char *errstr, size_t errstr_size);

/**
 * COPY sql FROM STDIN on a connection outside any pipeline, in three
 * steps: copy_begin() sends sql and waits for the server to take data,
 * copy_put() hands it len bytes (any split of the stream will do),
 * copy_end() ends the stream and reads the statement's answer. Each waits
 * at most conf.timeout_ms and fails as vcdc_pgvector_run() does; after a
 * failed step there is nothing to end (the connection is closed, or the
 * statement answered with its error).
 */
vcdc_sink_status_t vcdc_pgvector_copy_begin(vcdc_sink_t *sink,
                                            const char *what, const char *sql,
                                            char *errstr, size_t errstr_size);
vcdc_sink_status_t vcdc_pgvector_copy_put(vcdc_sink_t *sink, const char *what,
                                          const char *data, size_t len,
                                          char *errstr, size_t errstr_size);
vcdc_sink_status_t vcdc_pgvector_copy_end(vcdc_sink_t *sink, const char *what,
                                          char *errstr, size_t errstr_size);

/** Starts a pipeline on a connection known good (pg->pipeline is 0 when
 *  libpq cannot: statements then run one by one). */
void vcdc_pgvector_pipeline_start(pgvector_t *pg);

/** Sends the pipeline's sync and everything queued before it. Returns 1
 *  done, 0 timed out, -1 connection lost. */
int vcdc_pgvector_pipeline_sync(vcdc_sink_t *sink, int64_t deadline);

/**
 * Ends the pipeline: syncs (unless done), reads every statement's answer
 * within conf.timeout_ms, and reports the first failure as
 * vcdc_pgvector_run() would; abandon: only closes the connection.
 */
vcdc_sink_status_t vcdc_pgvector_pipeline_finish(vcdc_sink_t *sink, int abandon,
                                                 char *errstr,
                                                 size_t errstr_size);

/** Ends a failed transaction, keeping the caller's errstr and SQLSTATE. */
void vcdc_pgvector_rollback(vcdc_sink_t *sink);

/** Deallocates the prepared upsert, if any, keeping the SQLSTATE. */
void vcdc_pgvector_deallocate(vcdc_sink_t *sink);

/*
 * The COPY path (sink_pgvector_copy.c).
 */

/** 1 when a batch of upsert_cnt upserts goes through COPY. */
int vcdc_pgvector_use_copy(const pgvector_t *pg, size_t upsert_cnt);

/** Makes the staging table on this connection, outside any transaction,
 *  unless it is there. */
vcdc_sink_status_t vcdc_pgvector_stage_ensure(vcdc_sink_t *sink, char *errstr,
                                              size_t errstr_size);

/** Streams recs[0..cnt) (each passed by check_vector) into the staging
 *  table with COPY, in the open transaction, and waits for the answer. */
vcdc_sink_status_t vcdc_pgvector_copy_stream(vcdc_sink_t *sink,
                                             const vcdc_record_t *const *recs,
                                             size_t cnt, char *errstr,
                                             size_t errstr_size);

/** The merge of the cnt staged rows into the table: run at once, or only
 *  sent while a pipeline is open. */
vcdc_sink_status_t vcdc_pgvector_copy_merge(vcdc_sink_t *sink, size_t cnt,
                                            char *errstr, size_t errstr_size);

/*
 * The schema (sink_pgvector_setup.c).
 */

/** Creates the extension and vcdc's bookkeeping tables when missing. */
vcdc_sink_status_t vcdc_pgvector_setup(vcdc_sink_t *sink, char *errstr,
                                       size_t errstr_size);

/** Reads whether the table exists, its dimension and recorded metric. */
vcdc_sink_status_t vcdc_pgvector_load_target(vcdc_sink_t *sink, target_t *t,
                                             char *errstr, size_t errstr_size);

/** Refuses (FATAL) a target whose dimension or metric differ from the
 *  configured ones; takes its dimension otherwise. */
vcdc_sink_status_t vcdc_pgvector_adopt_target(vcdc_sink_t *sink,
                                              const target_t *t, char *errstr,
                                              size_t errstr_size);

/** Before using a target missing at open: another process may have
 *  created it since. */
vcdc_sink_status_t vcdc_pgvector_refresh_target(vcdc_sink_t *sink, char *errstr,
                                                size_t errstr_size);

/** 1 when the last statement failed because a concurrent transaction
 *  created the same table, type or extension first. */
int vcdc_pgvector_lost_create_race(const pgvector_t *pg);

/** Creates the missing table in the open transaction, and records it in
 *  vcdc_targets. */
vcdc_sink_status_t vcdc_pgvector_create_table(vcdc_sink_t *sink, size_t dim,
                                              char *errstr, size_t errstr_size);

/*
 * Checks (sink_pgvector_check.c).
 */

/** What no upsert may lack, checked before any statement: an id, a
 *  vector of finite floats (vcdc_vector_check()) pgvector can hold. */
vcdc_sink_status_t vcdc_pgvector_check_vector(vcdc_sink_t *sink,
                                              const vcdc_record_t *rec,
                                              char *errstr, size_t errstr_size);

/*
 * The ops table's slots, filled by the file named (sink.h says what each
 * does).
 */

/* sink_pgvector_check.c */
vcdc_sink_status_t vcdc_pgvector_op_check(vcdc_sink_t *sink,
                                          const vcdc_record_t *rec,
                                          char *errstr, size_t errstr_size);
/* sink_pgvector_apply.c */
vcdc_sink_status_t vcdc_pgvector_op_apply(vcdc_sink_t *sink,
                                          const vcdc_sink_batch_t *batch,
                                          char *errstr, size_t errstr_size);
vcdc_sink_status_t vcdc_pgvector_op_apply_send(vcdc_sink_t *sink,
                                               const vcdc_sink_batch_t *batch,
                                               char *errstr,
                                               size_t errstr_size);
vcdc_sink_status_t vcdc_pgvector_op_apply_wait(vcdc_sink_t *sink, char *errstr,
                                               size_t errstr_size);
vcdc_sink_status_t
vcdc_pgvector_op_record_offsets(vcdc_sink_t *sink, const char *topic,
                                const vcdc_sink_offset_t *offsets, size_t cnt,
                                char *errstr, size_t errstr_size);
/* sink_pgvector_read.c */
vcdc_sink_status_t vcdc_pgvector_op_read_offsets(vcdc_sink_t *sink,
                                                 const char *topic,
                                                 vcdc_sink_offset_t **offsetsp,
                                                 size_t *cntp, char *errstr,
                                                 size_t errstr_size);
vcdc_sink_status_t vcdc_pgvector_op_count(vcdc_sink_t *sink, uint64_t *countp,
                                          char *errstr, size_t errstr_size);
vcdc_sink_status_t vcdc_pgvector_op_get(vcdc_sink_t *sink,
                                        const char *const *ids, size_t cnt,
                                        vcdc_record_t *out, char *errstr,
                                        size_t errstr_size);
vcdc_sink_status_t vcdc_pgvector_op_exists(vcdc_sink_t *sink, int *existsp,
                                           char *errstr,
                                           size_t errstr_size);
vcdc_sink_status_t vcdc_pgvector_op_scan(vcdc_sink_t *sink, char **cursorp,
                                         size_t max, int with_vectors,
                                         vcdc_sink_shift_t *sh,
                                         vcdc_record_t *out, size_t *cntp,
                                         char *errstr, size_t errstr_size);
vcdc_sink_status_t vcdc_pgvector_op_query(vcdc_sink_t *sink,
                                          const float *vector, size_t dim,
                                          size_t k, vcdc_hit_t *hits,
                                          size_t *cntp, char *errstr,
                                          size_t errstr_size);
/* sink_pgvector_index.c */
vcdc_sink_status_t vcdc_pgvector_op_index_start(vcdc_sink_t *sink,
                                                const vcdc_index_spec_t *spec,
                                                int *startedp, char *errstr,
                                                size_t errstr_size);
vcdc_sink_status_t vcdc_pgvector_op_index_poll(vcdc_sink_t *sink, int *donep,
                                               char *errstr,
                                               size_t errstr_size);
vcdc_sink_status_t vcdc_pgvector_op_index_state(vcdc_sink_t *sink,
                                                vcdc_index_kind_t kind,
                                                vcdc_index_info_t *info,
                                                char *errstr,
                                                size_t errstr_size);
/** Cancels a build under way and closes the index's connections. Accepts
 *  NULL. */
void vcdc_pgvector_index_free(pgindex_t *ix);

#endif
