/*
 * vcdc - a row of the captured table as a vcdc change record: the id as
 * text, the vector parsed (text as pgoutput sends it, binary as COPY
 * BINARY gives it), the jsonb metadata checked to be an object, the
 * document as text.
 *
 * Pure: it knows which value is which (the caller picked the columns out
 * of a tuple or a COPY row) but nothing of connections or Kafka. A row it
 * cannot map (NULL id or vector, a vector that does not parse, metadata
 * that is not an object, an id that is empty, not UTF-8 or too long) is
 * refused with a reason; the caller decides what happens to it.
 *
 * A mapper reuses its buffers from row to row (no allocation per row once
 * they are large enough): the record it gives points into them and is
 * valid until its next call.
 */
#ifndef VCDC_ROWMAP_H
#define VCDC_ROWMAP_H

#include <stddef.h>
#include <stdint.h>

#include "pgvec.h"
#include "record.h"

typedef struct vcdc_rowmap_value_s {
        int present;      /* 0: SQL NULL, or the table has no such column */
        int binary;       /* data is the type's binary send form (vectors
                           * only) */
        const char *data; /* len bytes, not NUL-terminated */
        size_t len;
} vcdc_rowmap_value_t;

typedef struct vcdc_rowmap_row_s {
        vcdc_rowmap_value_t id, vector, metadata, document;
} vcdc_rowmap_row_t;

/* Results of the mapping calls. */
#define VCDC_ROWMAP_OK    0
#define VCDC_ROWMAP_BAD   -1 /* the row cannot be a record (errstr) */
#define VCDC_ROWMAP_NOMEM -2 /* out of memory */

typedef struct vcdc_rowmap_s vcdc_rowmap_t;

/** A mapper of rows into records of collection (copied), vectors of
 *  kind. NULL on allocation failure. */
vcdc_rowmap_t *vcdc_rowmap_new(const char *collection, vcdc_pgvec_kind_t kind);

/** Accepts NULL. */
void vcdc_rowmap_destroy(vcdc_rowmap_t *rm);

/**
 * An upsert of row at ts_ms (-1: unknown) into *recp (the mapper's, valid
 * until its next call; never vcdc_record_clear() it). Returns
 * VCDC_ROWMAP_OK, VCDC_ROWMAP_BAD with errstr, or VCDC_ROWMAP_NOMEM.
 */
int vcdc_rowmap_upsert(vcdc_rowmap_t *rm, const vcdc_rowmap_row_t *row,
                       int64_t ts_ms, const vcdc_record_t **recp, char *errstr,
                       size_t errstr_size);

/** A delete of id into *recp. Returns as vcdc_rowmap_upsert(). */
int vcdc_rowmap_delete(vcdc_rowmap_t *rm, const vcdc_rowmap_value_t *id,
                       int64_t ts_ms, const vcdc_record_t **recp, char *errstr,
                       size_t errstr_size);

/** 1 when two ids are present and equal byte for byte. */
int vcdc_rowmap_id_equal(const vcdc_rowmap_value_t *a,
                         const vcdc_rowmap_value_t *b);

/* Bytes vcdc_rowmap_int_text() and vcdc_rowmap_uuid_text() may write. */
#define VCDC_ROWMAP_ID_TEXT_MAX 40

/**
 * The decimal text (as int2out/int4out/int8out print it) of a big-endian
 * two's complement integer of len 2, 4 or 8 bytes, the send form of
 * smallint, integer and bigint, into out (VCDC_ROWMAP_ID_TEXT_MAX bytes).
 * Returns the length written, 0 when len is none of those.
 */
size_t vcdc_rowmap_int_text(const char *data, size_t len, char *out);

/**
 * The text uuid_out prints (lower-case 8-4-4-4-12) of a uuid's 16-byte
 * send form, into out (VCDC_ROWMAP_ID_TEXT_MAX bytes). Returns 36, or 0
 * when len is not 16.
 */
size_t vcdc_rowmap_uuid_text(const char *data, size_t len, char *out);

/** Writes a printable excerpt of an id (at most 64 bytes, control bytes
 *  as '?') into out, for messages. */
void vcdc_rowmap_id_excerpt(const vcdc_rowmap_value_t *id, char *out,
                            size_t size);

#endif
