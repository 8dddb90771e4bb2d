/*
 * vcdc - Chroma's filters for the gateway: `where` (metadata: $eq $ne $gt
 * $gte $lt $lte $in $nin, $and $or, and {"key": value} for $eq) and
 * `where_document` ($contains $not_contains $regex $not_regex, $and $or)
 * parsed into a small tree, validated as the Chroma 1.0 server validates
 * them (same status and words), then either evaluated against a record
 * (filter_eval.c) or translated into a parameterised SQL condition on the
 * pgvector sink's table (filter_sql.c).
 *
 * The semantics are those of Chroma 1.0's local server (its SQLite
 * metadata segment), checked against a running one:
 * - a number operand (i, f) matches an integer value v when v OP i, a
 *   float value v when v OP f; an integer operand gives f = (double)i, a
 *   float one i = f truncated toward zero (saturated to int64): so
 *   {"$lt": 1.5} does not match the integer 1, {"$in": [1.5]} does;
 * - a string or bool operand matches only values of its type;
 * - $ne and $nin match records without the key (and with a value of
 *   another type); $eq $gt $gte $lt $lte $in never do;
 * - $contains is case-sensitive substring, "" is in every document;
 *   $not_contains, $not_regex match records without a document;
 * - {"$and": []} matches everything, {"$or": []} nothing;
 * - where and where_document together: both must match;
 * - the key "chroma:document" is the document (Chroma keeps it among the
 *   metadata under that key): {"chroma:document": "hello"} matches the
 *   records whose document is "hello" (the gateway refuses metadata keys
 *   starting with "chroma:", so none other has it).
 * Regular expressions: Chroma uses Rust's regex crate; the evaluator
 * POSIX extended expressions (regcomp), the SQL PostgreSQL's ~ (ARE). They
 * agree on literals, . [] [^] ^ $ * + ? | () {m,n} and [[:class:]]; they
 * differ on \d \w \s \b (PostgreSQL: \b is a backspace), (?i) and other
 * inline flags, named groups, \p{..}, and on . and ^ $ around newlines.
 * A pattern regcomp refuses is refused with Chroma's 400.
 *
 * Must not: splice a value into SQL text (every value is a $n parameter),
 * or accept a filter Chroma refuses.
 */
#ifndef VCDC_FILTER_H
#define VCDC_FILTER_H

#include <jansson.h>
#include <stddef.h>

#include "api_error.h"

typedef struct vcdc_filter_s vcdc_filter_t;

/* The metadata key under which Chroma keeps the document. */
#define VCDC_FILTER_DOCUMENT_KEY "chroma:document"

/**
 * Parses where and where_document (either may be NULL or JSON null:
 * none). Returns a new filter (one that matches everything when both are
 * none), or NULL with err: 400 InvalidArgumentError "Invalid where
 * clause", "Invalid where document clause" or "Regex syntax errror: ..."
 * (Chroma's spelling), or 500 when out of memory. Nesting is limited to
 * VCDC_FILTER_MAX_DEPTH levels (400 beyond).
 */
vcdc_filter_t *vcdc_filter_parse(const json_t *where,
                                 const json_t *where_document,
                                 vcdc_api_error_t *err);

#define VCDC_FILTER_MAX_DEPTH 128 /* serde_json's own limit */

/** Frees the filter. Accepts NULL. */
void vcdc_filter_destroy(vcdc_filter_t *f);

/** 1 when the filter matches nothing but everything (no where, no
 *  where_document). */
int vcdc_filter_is_empty(const vcdc_filter_t *f);

/**
 * 1 when the record matches, 0 when not. metadata: the record's metadata
 * object (NULL or not an object: none); document: NULL for none.
 */
int vcdc_filter_match(const vcdc_filter_t *f, const json_t *metadata,
                      const char *document);

/**
 * As vcdc_filter_match(), metadata given as JSON object text (NULL: none).
 * Returns 1, 0, or -1 when metadata_text is not JSON.
 */
int vcdc_filter_match_text(const vcdc_filter_t *f, const char *metadata_text,
                           const char *document);

/* A SQL condition and its parameters, all as text. */
typedef struct vcdc_filter_sql_s {
        char *sql;     /* a boolean expression; "TRUE" for an empty filter */
        char **params; /* nparams values, for $first .. $first+nparams-1 */
        size_t nparams;
} vcdc_filter_sql_t;

/**
 * Translates f into a condition on the columns metadata (jsonb) and
 * document (text) of the pgvector sink's table, qualified by prefix
 * (e.g. "t." or ""; an identifier the caller trusts, never user input),
 * with parameters numbered from first ($first, $first+1, ...). Returns 0
 * with *out filled (vcdc_filter_sql_clear() it), or -1 when out of memory.
 */
int vcdc_filter_sql(const vcdc_filter_t *f, const char *prefix, int first,
                    vcdc_filter_sql_t *out);

/** Frees what out holds and empties it. Accepts NULL. */
void vcdc_filter_sql_clear(vcdc_filter_sql_t *out);

#endif
