/*
 * vcdc - pgvector sink internals: the pure helpers (text formats, SQL
 * building, error mapping: sink_pgvector_sql.c, _fence.c, _check.c,
 * _conn.c), exposed for its tests; none keeps sink state (connecting and
 * cancelling are the only ones that talk to a server). Only the sink's files, its tests,
 * fuzz/fuzz_pgvector.c and bench/direct_loader.c include this.
 */
#ifndef VCDC_SINK_PGVECTOR_INT_H
#define VCDC_SINK_PGVECTOR_INT_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "sink.h"

/* Rows per multi-row INSERT: 4 parameters a row keeps a statement at 2,000
 * parameters (PostgreSQL allows 65,535) and about 1 MB at 128 dimensions. */
#define VCDC_PGVECTOR_CHUNK_ROWS 500
/* Parameters per upserted row: id, embedding, metadata, document. */
#define VCDC_PGVECTOR_UPSERT_PARAMS 4
/* What max_batch() answers: one transaction of 10 chunks. */
#define VCDC_PGVECTOR_MAX_BATCH 5000
/* apply()'s most statements in one pipeline: BEGIN, the offsets (fenced
 * write or check), the PREPARE of the full chunk on a fresh connection,
 * a chunk per VCDC_PGVECTOR_CHUNK_ROWS of a batch of
 * VCDC_PGVECTOR_MAX_BATCH upserts, DELETE, COMMIT. A batch that needs more
 * goes statement by statement. */
#define VCDC_PGVECTOR_PIPELINE_MAX                                             \
        (5 + (VCDC_PGVECTOR_MAX_BATCH + VCDC_PGVECTOR_CHUNK_ROWS - 1) /         \
                     VCDC_PGVECTOR_CHUNK_ROWS)
/* pgvector's vector type holds at most this many dimensions. */
#define VCDC_PGVECTOR_DIM_MAX 16000
/* The longest id the table's primary key takes whatever its bytes: a
 * btree entry holds at most 2,704 bytes on 8 kB pages (8 of header, 4 of
 * length, aligned to 8); a longer id fits only if PostgreSQL compresses
 * it enough. vcdc's own ids stay within VCDC_ID_MAX_BYTES (512). */
#define VCDC_PGVECTOR_ID_BYTES_MAX 2692
/* The deepest metadata check() passes (sink_pgvector_check.c). */
#define VCDC_PGVECTOR_JSON_DEPTH_MAX 2048
/* PostgreSQL truncates identifiers beyond NAMEDATALEN - 1 bytes. */
#define VCDC_PGVECTOR_IDENT_MAX 63
/* The session's staging table of the COPY path (a temporary table). */
#define VCDC_PGVECTOR_STAGE "vcdc_stage"
/* What the URL's ?copy=auto takes COPY for: batches of at least this many
 * upserts (README, the pgvector sink: measured in bench/pg_apply.c). */
#define VCDC_PGVECTOR_COPY_MIN_ROWS 5000
/* Bytes of COPY data handed to libpq at a time. */
#define VCDC_PGVECTOR_COPY_PIECE (256 * 1024)
/* The binary COPY stream's header (signature, flags, extension length)
 * and trailer (a field count of -1). */
#define VCDC_PGVECTOR_COPY_HEADER_SIZE  19
#define VCDC_PGVECTOR_COPY_TRAILER_SIZE 2
/* The table used when the URL has no ?table=. */
#define VCDC_PGVECTOR_DEFAULT_TABLE "vectors"

/**
 * 1 when name can be a table name: 1..63 bytes of ASCII letters, digits and
 * '_', not starting with a digit, and not one of vcdc's bookkeeping tables.
 * The name is always double-quoted in SQL, so case is kept as given.
 */
int vcdc_pgvector_ident_valid(const char *name);

/** name in double quotes, inner quotes doubled. Returns a new string
 *  (free() it), NULL on allocation failure. */
char *vcdc_pgvector_quote_ident(const char *name);

/** The most bytes vcdc_pgvector_vector_format() writes for dim floats,
 *  terminating NUL included. */
size_t vcdc_pgvector_vector_text_max(size_t dim);

/**
 * Writes v[0..dim) as pgvector text, "[1,-0.5,3.25e-07]", each float with
 * 9 significant digits ("%.9g") so that strtof() gives back the same float.
 * Needs the C locale for LC_NUMERIC (vcdc never calls setlocale()).
 * Returns the length written (without the NUL), or 0 when a value is NaN
 * or infinite (pgvector refuses both) or out_size is too small.
 */
size_t vcdc_pgvector_vector_format(const float *v, size_t dim, char *out,
                                   size_t out_size);

/** Bytes vcdc_pgvector_vector_binary() writes for dim floats. */
size_t vcdc_pgvector_vector_binary_size(size_t dim);

/**
 * Writes v[0..dim) in pgvector's binary input format (vector_recv): the
 * dimension and an unused 16-bit word, then each float, all in network
 * byte order. dim must be at most pgvector's 16,000; values are not
 * checked (pgvector refuses NaN and infinity). Returns the bytes written.
 */
size_t vcdc_pgvector_vector_binary(const float *v, size_t dim, char *out);

/**
 * Parses pgvector text ("[1,2.5,-3]", blanks allowed around numbers) into
 * *vecp, a new array of *dimp floats (free() it). Returns 0, or -1 when the
 * text is malformed, empty, or holds a value that is not a finite float.
 */
int vcdc_pgvector_vector_parse(const char *text, float **vecp, size_t *dimp);

/**
 * A PostgreSQL text[] literal of items[0..cnt): {"a","b\"c"}. Returns a new
 * string (free() it), NULL on allocation failure.
 */
char *vcdc_pgvector_text_array(const char *const *items, size_t cnt);

/*
 * The COPY path's pure half (sink_pgvector_copyfmt.c): PostgreSQL's binary
 * COPY format for the staging table (id, embedding, metadata, document).
 */

/** Writes the stream's header, VCDC_PGVECTOR_COPY_HEADER_SIZE bytes:
 *  "PGCOPY\n\377\r\n\0", flags 0, extension length 0. Returns them. */
size_t vcdc_pgvector_copy_header(char *out);

/** Writes the stream's trailer, VCDC_PGVECTOR_COPY_TRAILER_SIZE bytes (a
 *  field count of -1). Returns them. */
size_t vcdc_pgvector_copy_trailer(char *out);

/** The bytes vcdc_pgvector_copy_row() writes for rec (an upsert with id
 *  and vector), or 0 when a field is too long for the format (2 GiB) or
 *  the dimension too large for pgvector. */
size_t vcdc_pgvector_copy_row_size(const vcdc_record_t *rec);

/**
 * Writes rec as one row of binary COPY: 4 fields, each a big-endian int32
 * length (-1: NULL) and its bytes: id as text bytes; the vector as
 * vcdc_pgvector_vector_binary(); metadata as jsonb's binary format (the
 * version byte 1, then the JSON text), NULL when absent; the document as
 * text bytes, NULL when absent. out must hold
 * vcdc_pgvector_copy_row_size(rec) bytes (not 0). Returns the bytes
 * written.
 */
size_t vcdc_pgvector_copy_row(const vcdc_record_t *rec, char *out);

/** CREATE TEMP TABLE IF NOT EXISTS of the staging table, emptied at each
 *  commit. */
const char *vcdc_pgvector_stage_sql(void);

/** COPY into the staging table FROM STDIN (FORMAT binary). */
const char *vcdc_pgvector_copy_sql(void);

/** The merge of the staging table into qtable (already quoted): INSERT
 *  ... SELECT ... ON CONFLICT (id) DO UPDATE of every column. Returns a new
 *  string (free() it), NULL on allocation failure. */
char *vcdc_pgvector_merge_sql(const char *qtable);

/**
 * The multi-row upsert of rows rows into qtable (already quoted), with
 * VCDC_PGVECTOR_UPSERT_PARAMS parameters a row ($1..$rows*4: id, embedding
 * as pgvector text, metadata as JSON text, document). Returns a new string
 * (free() it), NULL on allocation failure or rows == 0.
 */
char *vcdc_pgvector_upsert_sql(const char *qtable, size_t rows);

/**
 * How many statements apply() sends for a batch of upsert_cnt upserts and
 * delete_cnt deletes: BEGIN, the offsets statement (with_offsets), the
 * PREPARE of the full chunk (prepare: none prepared on the connection
 * yet), one INSERT per VCDC_PGVECTOR_CHUNK_ROWS upserts, DELETE, COMMIT.
 */
size_t vcdc_pgvector_statement_cnt(size_t upsert_cnt, size_t delete_cnt,
                                   int with_offsets, int prepare);

/**
 * The fenced offsets statement for rows vcdc_offsets rows
 * (sink_pgvector_fence.c): $1 table name, $2 topic, then partition and
 * offset for each row ($3, $4, $5, $6, ...), each partition once.
 * record: write each offset where the row is behind it, of another table
 * instance, or the table is missing, and raise the fence's refusal (see
 * vcdc_pgvector_fence_refused()) when a row is at or past it; otherwise
 * (fence_only) lock the rows, inserting placeholders (offset -1) for
 * missing ones, and raise the refusal the same way, writing nothing.
 * Returns a new string (free() it), NULL on allocation failure or
 * rows == 0.
 */
char *vcdc_pgvector_fence_sql(size_t rows, int record);

/**
 * 1 when an error (its SQLSTATE and primary message) is the fence's
 * refusal: then why (may be NULL) gets its text ("partition 0,3 records an
 * offset at or past the batch's"). 0 for any other error.
 */
int vcdc_pgvector_fence_refused(const char *sqlstate, const char *message,
                                char *why, size_t why_size);

/** SELECT partition, "offset" of $1 table name, $2 topic: the offsets of
 *  the table instance that exists now, none when it does not. */
const char *vcdc_pgvector_read_offsets_sql(void);

/**
 * The retry decision for a PostgreSQL error code (SQLSTATE, 5 characters):
 * connection trouble, serialization failure, deadlock, shutdown, too many
 * connections, read-only standby: RETRIABLE; data exceptions (class 22),
 * integrity violations (23), program limits (54): INVALID; the rest (auth
 * 28, syntax and undefined objects 42, ...): FATAL. NULL or "" (an error
 * raised by libpq itself, no SQLSTATE): RETRIABLE.
 */
vcdc_sink_status_t vcdc_pgvector_sqlstate_status(const char *sqlstate);

/**
 * Checks json as PostgreSQL 16's jsonb input would take it
 * (sink_pgvector_check.c): JSON syntax, UTF-8, no \u0000, paired
 * surrogate escapes, numbers numeric can hold, at most
 * VCDC_PGVECTOR_JSON_DEPTH_MAX levels; with want_object, an object at the
 * top. Returns 0, or -1 with err saying what and at which byte.
 */
int vcdc_pgvector_jsonb_check(const char *json, int want_object, char *err,
                              size_t err_size);

/**
 * 1 when a statement refused with sqlstate (RETRIABLE) may succeed as a
 * smaller batch: 57014 (statement_timeout), 53000, 53100 (disk full),
 * 53200 (out of memory). 0 otherwise.
 */
int vcdc_pgvector_sqlstate_smaller(const char *sqlstate);

/**
 * The retry decision for a connection the server or libpq refused
 * (sink_pgvector_conn.c), from PQerrorMessage() written with
 * PQERRORS_VERBOSE ("FATAL:  28P01: password authentication failed ...")
 * and PQconnectionNeedsPassword(): FATAL for SQLSTATE class 28, 42501,
 * 3D000, or a password wanted and not given; RETRIABLE otherwise (a code
 * such as 57P03 or 53300, or none: refused, timed out). code (6 bytes,
 * may be NULL) gets the deciding SQLSTATE ("" for none) and *textp (may
 * be NULL) its message, inside message (NULL for none).
 */
vcdc_sink_status_t vcdc_pgvector_connect_status(const char *message,
                                                int needs_password,
                                                char *code,
                                                const char **textp);

/**
 * Connects (keys and values as PQconnectdbParams(), no expand_dbname)
 * within timeout_ms, reading a refusal as vcdc_pgvector_connect_status()
 * does. Returns the connection, or NULL with *statusp (FATAL or
 * RETRIABLE) and errstr saying why (never the password).
 */
PGconn *vcdc_pgvector_connect(const char *const *keys,
                              const char *const *values, int timeout_ms,
                              vcdc_sink_status_t *statusp, char *errstr,
                              size_t errstr_size);

/**
 * Asks the server to cancel conn's running statement (PQcancel()) and
 * waits at most wait_ms for the request to be through. Returns 1 sent, 0
 * still going after wait_ms (it finishes in the background), -1 failed
 * (errstr says why; conn must still hold its socket).
 */
int vcdc_pgvector_cancel(PGconn *conn, int wait_ms, char *errstr,
                         size_t errstr_size);

/** Parses a result cell holding a non-negative decimal. Returns 0, or
 *  -1 when it is not one. */
int vcdc_pgvector_parse_u64(const char *s, uint64_t *vp);

/** Parses a result cell holding a decimal. Returns 0 or -1. */
int vcdc_pgvector_parse_i64(const char *s, int64_t *vp);

/**
 * Copies JSON text as PostgreSQL prints jsonb ({"a": 1, "b": [1, 2]}) into
 * a new string without the blanks between tokens ({"a":1,"b":[1,2]}).
 * Strings are kept byte for byte. Returns NULL on allocation failure.
 */
char *vcdc_pgvector_json_compact(const char *json);

#endif
