/*
 * vcdc - producer input: JSON Lines and fvecs readers that turn a file
 * (or stdin) into change records, one at a time, with file:line context on
 * every error.
 *
 * JSON Lines, one change per line:
 *   {"collection": "docs", "id": "a1", "op": "upsert",
 *    "vector": [0.1, 0.2], "sparse": {"indices": [3, 9], "values": [1, 2]},
 *    "metadata": {"k": "v"}, "document": "text", "source_ts_ms": 1700000000000}
 * collection may come from the options; op defaults to upsert; a delete
 * needs only collection and id. Blank lines are skipped.
 *
 * fvecs (ANN benchmarks): each vector is a little-endian int32 dimension
 * followed by that many float32. Ids are the 0-based row numbers, or the
 * lines of a sidecar ids file. Every record is an upsert into the
 * collection from the options.
 */
#ifndef VCDC_INPUT_H
#define VCDC_INPUT_H

#include <stddef.h>

#include "record.h"

typedef struct vcdc_input_s vcdc_input_t;

typedef enum vcdc_input_format_e {
        VCDC_INPUT_JSONL = 0,
        VCDC_INPUT_FVECS,
} vcdc_input_format_t;

typedef struct vcdc_input_opts_s {
        vcdc_input_format_t format;
        const char *collection; /* default collection; required for fvecs */
        const char *ids_path;   /* fvecs: sidecar file of ids, one a line */
        size_t dim;             /* required dimension; 0: the first vector's */
        size_t max_dim;         /* 0: VCDC_DIM_MAX_DEFAULT */
        size_t max_line;        /* longest JSONL line in bytes; 0: 64 MiB */
        size_t max_document;    /* longest document in bytes; 0: 1 MiB */
        size_t max_metadata;    /* longest metadata JSON in bytes; 0: 256 KiB */
        int max_depth;          /* deepest metadata nesting; 0: 16 */
} vcdc_input_opts_t;

/**
 * Opens path ("-" is stdin). Returns NULL with errstr on failure.
 * opts is copied (its strings are not: they must outlive the input).
 */
vcdc_input_t *vcdc_input_open(const char *path, const vcdc_input_opts_t *opts,
                              char *errstr, size_t errstr_size);

/** Statuses of vcdc_input_next(). */
#define VCDC_INPUT_RECORD 1  /* *rec holds the next record */
#define VCDC_INPUT_EOF 0     /* no more input */
#define VCDC_INPUT_BAD -1    /* this line/record is bad (errstr: path:line:
                              * what); the next call goes on after it */
#define VCDC_INPUT_IOERR -2  /* cannot go on (read error, truncated fvecs
                              * file, ids file shorter than the vectors) */

/**
 * Reads the next record into rec (cleared first; the caller clears it after
 * use). On VCDC_INPUT_BAD and VCDC_INPUT_IOERR errstr reads
 * "path:line: what is wrong" (fvecs: "path:record N: ...").
 */
int vcdc_input_next(vcdc_input_t *in, vcdc_record_t *rec, char *errstr,
                    size_t errstr_size);

/** The line (JSONL) or record (fvecs) number last read, 1-based. */
size_t vcdc_input_line(const vcdc_input_t *in);

/** The dimension fixed so far (0 until the first vector). */
size_t vcdc_input_dim(const vcdc_input_t *in);

/** The path messages name ("<stdin>" for "-"). */
const char *vcdc_input_path(const vcdc_input_t *in);

/**
 * 1 if vcdc_input_next() would return without waiting for its input (a
 * record, an error or the end is at hand): a caller batching records can
 * hand over what it has before a read that may wait for a pipe.
 */
int vcdc_input_ready(const vcdc_input_t *in);

/**
 * Ends a vcdc_input_next() that another thread waits in for a read (on a
 * pipe or a terminal) with VCDC_INPUT_IOERR, and every call after it.
 * Thread-safe and async-signal-safe.
 */
void vcdc_input_interrupt(vcdc_input_t *in);

/** Closes and frees. Accepts NULL. */
void vcdc_input_close(vcdc_input_t *in);

/**
 * Parses one JSON line (len bytes, need not be NUL-terminated) into rec,
 * with the same checks as vcdc_input_next() but no file context.
 * *dimp is the dimension required (0: any, then set to this vector's).
 * Returns 0, or -1 with errstr saying what is wrong.
 */
int vcdc_input_parse_json(const char *line, size_t len,
                          const vcdc_input_opts_t *opts, size_t *dimp,
                          vcdc_record_t *rec, char *errstr,
                          size_t errstr_size);

#endif
