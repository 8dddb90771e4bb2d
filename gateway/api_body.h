/*
 * vcdc - the gateway's request bodies: what the official Chroma clients
 * (PyPI chromadb-client 1.0.20, npm chromadb 3.0.6) send to Chroma's HTTP
 * API v2 for add, upsert, update, delete, get, query and the collection
 * calls, parsed into C structs and validated as the Chroma 1.0 server does
 * (same status, error name and, as far as practical, message: the
 * server's own words were recorded from a running one).
 *
 * Embeddings: JSON arrays of numbers, each converted straight to float32
 * (common/json: what strtof() gives), or base64 strings of little-endian
 * float32, which the clients send when pre-flight-checks advertises
 * supports_base64_encoding (the Chroma 1.0 server advertises true; this
 * layer decodes them, with the server's checks and words).
 *
 * The order of the checks is the server's, as it decides which error a
 * body with several faults gets: the shape (422) member by member in the
 * body's order, fields missing at the end; then base64; each embedding
 * non-empty (not for update), of one dimension, of the collection's; the
 * counts; empty ids. where/where_document after the shape. Messages are
 * the server's words, without serde's "at line L column C" where the
 * position is not known, and jansson's for text that is not JSON.
 *
 * Where vcdc refuses what Chroma 1.0 takes (each a 400
 * InvalidArgumentError naming the reason):
 * - an embedding component beyond float32's range (Chroma stores an
 *   infinity and later answers null for it): the change record carries
 *   finite vectors only;
 * - a metadata key starting with "chroma:" (Chroma answers 500 and stops
 *   applying writes to the collection until restarted);
 * - uris (the change record has no field for them; clients send null);
 * - an id longer than VCDC_ID_MAX_BYTES;
 * - an integer beyond int64 anywhere in the body (JSON validation is
 *   jansson's; Chroma keeps it as a float).
 * Duplicate ids in one request are accepted, as Chroma does: in an add the
 * first of them counts (a later add of an id is ignored), in an upsert or
 * update the last.
 *
 * Must not: keep pointers into the body, or allocate without bound for
 * what the body does not hold.
 */
#ifndef VCDC_API_BODY_H
#define VCDC_API_BODY_H

#include <stddef.h>

#include "api_error.h"
#include "filter.h"
#include "record.h"

typedef enum vcdc_api_write_op_e {
        VCDC_API_ADD = 0,
        VCDC_API_UPSERT,
        VCDC_API_UPDATE,
} vcdc_api_write_op_t;

/* What a record of a write gave (vcdc_api_write_t.has). */
#define VCDC_API_HAS_EMBEDDING 1
#define VCDC_API_HAS_METADATA  2
#define VCDC_API_HAS_DOCUMENT  4

typedef struct vcdc_api_write_s {
        vcdc_api_write_op_t op;
        /* n records, in request order: collection (the name given), id,
         * op VCDC_OP_UPSERT; vector when an embedding was given; metadata
         * (compact JSON object text) when given: for upsert and update
         * a null value removes its key, as Chroma merges them; document
         * when given. */
        vcdc_record_t *recs;
        unsigned char *has; /* VCDC_API_HAS_* per record */
        size_t n;
        size_t dim; /* of the embeddings given; 0: none */
} vcdc_api_write_t;

/**
 * Parses the body (len bytes) of an add, upsert or update of collection
 * (its name: the records' collection). dim: the collection's dimension,
 * 0 when it has none yet (then the first embedding sets it for the rest).
 * Returns 0 with *out filled (vcdc_api_write_clear() it), or -1 with err.
 */
int vcdc_api_parse_write(vcdc_api_write_op_t op, const char *collection,
                         const char *body, size_t len, size_t dim,
                         vcdc_api_write_t *out, vcdc_api_error_t *err);

/** Frees what w holds and empties it. Accepts NULL. */
void vcdc_api_write_clear(vcdc_api_write_t *w);

/* Include flags, in Chroma's names. */
#define VCDC_API_INC_DISTANCES  1
#define VCDC_API_INC_DOCUMENTS  2
#define VCDC_API_INC_EMBEDDINGS 4
#define VCDC_API_INC_METADATAS  8
#define VCDC_API_INC_URIS       16

#define VCDC_API_INCLUDE_MAX 16 /* entries of an include list kept */

typedef struct vcdc_api_include_s {
        int flags;
        int order[VCDC_API_INCLUDE_MAX]; /* the flags as listed, for the
                                          * answer's "include" */
        size_t n;
} vcdc_api_include_t;

/** Chroma's name of one include flag ("documents"), or NULL. */
const char *vcdc_api_include_name(int flag);

/* A delete, a get or a query's common part. */
typedef struct vcdc_api_read_s {
        char **ids; /* nids; has_ids: the body named ids (maybe none) */
        size_t nids;
        int has_ids;
        vcdc_filter_t *filter; /* never NULL once parsed */
        int has_filter;        /* where or where_document given */
        /* get: */
        long long limit;  /* -1: none */
        long long offset; /* 0 when not given */
        /* query: */
        float *queries; /* nqueries * dim */
        size_t nqueries;
        size_t dim;
        long long n_results; /* 10 when not given */
        vcdc_api_include_t include;
} vcdc_api_read_t;

/** A delete: ids and/or where/where_document. {} deletes nothing, as in
 *  Chroma; "ids": [] with no filter is Chroma's 400. */
int vcdc_api_parse_delete(const char *body, size_t len, vcdc_api_read_t *out,
                          vcdc_api_error_t *err);

/** A get: ids, where, where_document, limit, offset, include (default
 *  documents and metadatas). */
int vcdc_api_parse_get(const char *body, size_t len, vcdc_api_read_t *out,
                       vcdc_api_error_t *err);

/** A query: query_embeddings (each of dim components when dim > 0, else
 *  of the first's), n_results, ids, where, where_document, include
 *  (default documents, metadatas and distances). */
int vcdc_api_parse_query(const char *body, size_t len, size_t dim,
                         vcdc_api_read_t *out, vcdc_api_error_t *err);

/** Frees what r holds and empties it. Accepts NULL. */
void vcdc_api_read_clear(vcdc_api_read_t *r);

/* A collection's create (or get-or-create) and modify. */
typedef struct vcdc_api_collection_req_s {
        char *name;          /* create: the name; modify: new_name or NULL */
        char *metadata;      /* JSON object text, or NULL */
        char *configuration; /* JSON object text as given, or NULL */
        int get_or_create;
} vcdc_api_collection_req_t;

int vcdc_api_parse_create_collection(const char *body, size_t len,
                                     vcdc_api_collection_req_t *out,
                                     vcdc_api_error_t *err);

int vcdc_api_parse_modify_collection(const char *body, size_t len,
                                     vcdc_api_collection_req_t *out,
                                     vcdc_api_error_t *err);

void vcdc_api_collection_req_clear(vcdc_api_collection_req_t *c);

/** Checks a collection name as Chroma does; field is "name" or
 *  "new_name" for the message. Returns 0, or -1 with err (400). */
int vcdc_api_check_collection_name(const char *name, const char *field,
                                   vcdc_api_error_t *err);

/** Decodes base64 (RFC 4648, padded) of little-endian float32 into a new
 *  array (*vp, *dimp; free()). Returns 0, or -1 with err in Chroma's
 *  words ("Base64 decoding error: ..."). */
int vcdc_api_base64_floats(const char *s, size_t len, float **vp, size_t *dimp,
                           vcdc_api_error_t *err);

#endif
