/*
 * vcdc - the change record: one upsert or delete of one vector.
 *
 * A record is plain data (like rd_kafka_message_t): its fields are public.
 * Strings are NUL-terminated UTF-8; the record owns every pointer in it and
 * vcdc_record_clear() frees them all.
 */
#ifndef VCDC_RECORD_H
#define VCDC_RECORD_H

#include <stddef.h>
#include <stdint.h>

typedef enum vcdc_op_e {
        VCDC_OP_UPSERT = 0,
        VCDC_OP_DELETE = 1,
} vcdc_op_t;

typedef struct vcdc_record_s {
        char *collection;
        char *id;
        vcdc_op_t op;
        float *vector;           /* dense vector, dim floats; NULL for deletes */
        size_t dim;
        uint32_t *sparse_indices; /* optional sparse vector, nnz entries */
        float *sparse_values;
        size_t sparse_nnz;
        int has_sparse;
        char *metadata;          /* a JSON object as text, or NULL */
        char *document;          /* or NULL */
        int64_t source_ts_ms;    /* -1 when unknown */
} vcdc_record_t;

/* Limits: the JSONL parser enforces all three (the dimension up to
 * vcdc.max.dim, VCDC_DIM_MAX_DEFAULT unless set); the decoder enforces the
 * id and collection limits and VCDC_DIM_MAX, the most vcdc.max.dim allows
 * (vcdc_record_check_limits()). */
#define VCDC_ID_MAX_BYTES         512
#define VCDC_COLLECTION_MAX_BYTES 256
#define VCDC_DIM_MAX_DEFAULT      65536
#define VCDC_DIM_MAX              1048576

/** Sets every field to its empty value (no allocation). */
void vcdc_record_init(vcdc_record_t *rec);

/** Frees what the record owns and re-initialises it. Accepts NULL. */
void vcdc_record_clear(vcdc_record_t *rec);

/** Deep copy of src into dst (dst must be initialised or cleared).
 *  Returns 0, or -1 on allocation failure (dst is then cleared). */
int vcdc_record_copy(vcdc_record_t *dst, const vcdc_record_t *src);

const char *vcdc_op_name(vcdc_op_t op);

/** Checks that the collection and the id are present, non-empty, UTF-8
 *  and within their limits. Returns 0, or -1 with errstr saying which is
 *  wrong. */
int vcdc_record_check_ids(const vcdc_record_t *rec, char *errstr,
                          size_t errstr_size);

/** Checks a vector: present (dim > 0) and every component finite. Returns
 *  0, or -1 with errstr ("vector[3] is NaN", "no vector"). The one vector
 *  check: the decoders, the input readers and the sinks all use it. */
int vcdc_vector_check(const float *v, size_t dim, char *errstr,
                      size_t errstr_size);

/** vcdc_record_check_ids(), and an upsert's dimension within 1..
 *  VCDC_DIM_MAX. Returns 0, or -1 with errstr. */
int vcdc_record_check_limits(const vcdc_record_t *rec, char *errstr,
                             size_t errstr_size);

#endif
