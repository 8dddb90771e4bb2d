/*
 * vcdc - one change record from one JSON text: a line of the producer's
 * JSON Lines input (and, later, a gateway request body).
 *
 * The text is validated whole by the scanner (jsonscan.h: jansson's rules
 * and messages), then its fields are read in place: strings unescaped,
 * the vector converted straight to float32 (exactly what strtof() gives
 * for each number), metadata kept as compact JSON text written as
 * json_dumpb(JSON_COMPACT) writes it. The fields, their checks and their
 * messages are those of producer/input/input.h.
 *
 * Must not: build a JSON tree, keep a pointer into the text (the record
 * owns its copies), or word an error without what and where.
 */
#ifndef VCDC_JSONREC_H
#define VCDC_JSONREC_H

#include <stddef.h>

#include "jsonscan.h"
#include "record.h"

/* Every limit must be set (the caller resolves defaults). */
typedef struct vcdc_jsonrec_opts_s {
        const char *collection; /* of texts that name none; NULL: none */
        size_t dim;             /* the dimension required, 0: any */
        size_t dim_line;        /* the line that fixed dim, for messages */
        int dim_required;       /* dim is the user's, not a line's */
        size_t max_dim;
        size_t max_document;    /* bytes */
        size_t max_metadata;    /* bytes of compact JSON */
        int max_depth;          /* metadata nesting, the object being 1 */
} vcdc_jsonrec_opts_t;

/**
 * Reads the change in the len bytes at text (not NUL-terminated) into
 * rec, which must be clear. skipped: bytes of the line before text (a byte
 * order mark), so that positions in messages count from the line's start.
 * js is the calling thread's scanner. Returns 0, or -1 with errstr saying
 * what is wrong ("invalid JSON at column 3: ...", "vector has 3
 * dimensions, expected 4 (from line 1)") and rec clear.
 */
int vcdc_jsonrec_parse(vcdc_jsonscan_t *js, const char *text, size_t len,
                       size_t skipped, const vcdc_jsonrec_opts_t *opts,
                       vcdc_record_t *rec, char *errstr, size_t errstr_size);

#endif
