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

/**
 * Fills rec (initialised by the caller; cleared on any failure) with an
 * upsert of row into collection at ts_ms (-1: unknown), the vector of
 * kind. Returns VCDC_ROWMAP_OK, VCDC_ROWMAP_BAD with errstr, or
 * VCDC_ROWMAP_NOMEM.
 */
int vcdc_rowmap_upsert(const vcdc_rowmap_row_t *row, vcdc_pgvec_kind_t kind,
                       const char *collection, int64_t ts_ms,
                       vcdc_record_t *rec, char *errstr, size_t errstr_size);

/** Fills rec with a delete of id. Returns as vcdc_rowmap_upsert(). */
int vcdc_rowmap_delete(const vcdc_rowmap_value_t *id, const char *collection,
                       int64_t ts_ms, vcdc_record_t *rec, char *errstr,
                       size_t errstr_size);

/** 1 when two ids are present and equal byte for byte. */
int vcdc_rowmap_id_equal(const vcdc_rowmap_value_t *a,
                         const vcdc_rowmap_value_t *b);

/** Writes a printable excerpt of an id (at most 64 bytes, control bytes
 *  as '?') into out, for messages. */
void vcdc_rowmap_id_excerpt(const vcdc_rowmap_value_t *id, char *out,
                            size_t size);

#endif
