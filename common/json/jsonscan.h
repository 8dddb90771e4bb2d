/*
 * vcdc - a strict JSON scanner that builds no tree.
 *
 * vcdc_jsonscan_run() validates one JSON text (RFC 8259: one value with
 * optional whitespace around it) in one pass and, when the value is an
 * object, lists its members as spans of the text. What it accepts, and the
 * position and wording of what it refuses, are those of jansson's
 * json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY): valid
 * UTF-8 everywhere, no control characters in strings, escapes with
 * surrogate pairs (lone surrogates refused), no \u0000, integers within
 * int64 and reals within double, duplicate keys refused in every object,
 * at most 2048 levels of values. The gateway and the Chroma answers can
 * then read the spans they need (jsonspan.h) without a node per number,
 * and a member's numbers, converted once while they are checked, from
 * floats or row_floats.
 *
 * Must not: build a tree, allocate per value (buffers live in the scanner
 * and are reused from one text to the next), recurse, or read outside the
 * text. A scanner is used by one thread at a time.
 */
#ifndef VCDC_JSONSCAN_H
#define VCDC_JSONSCAN_H

#include <stddef.h>

typedef enum vcdc_json_type_e {
        VCDC_JSON_OBJECT = 0,
        VCDC_JSON_ARRAY,
        VCDC_JSON_STRING,
        VCDC_JSON_INTEGER, /* a number without '.', 'e' or 'E' */
        VCDC_JSON_REAL,
        VCDC_JSON_TRUE,
        VCDC_JSON_FALSE,
        VCDC_JSON_NULL,
} vcdc_json_type_t;

/* A value in a validated text. A string's span includes its quotes. */
typedef struct vcdc_json_span_s {
        const char *p;
        size_t len;
        vcdc_json_type_t type;
        size_t count; /* containers from the scanner: members or elements */
        int depth;    /* ... and their levels: a scalar 0, [] 1, [[1]] 2 */
        int escaped;  /* strings: the text holds a backslash escape */
        const float *floats; /* an array that is the value of a top-level
                              * member and holds only numbers: them as
                              * float32 (beyond its range: +-inf), count of
                              * them; else NULL */
        const float *row_floats; /* an array that is the value of a
                                  * top-level member and holds only
                                  * non-empty arrays of only numbers (the
                                  * embeddings of a Chroma answer): all
                                  * their numbers as float32, in order,
                                  * row_counts[i] of them for element i;
                                  * else both NULL */
        const size_t *row_counts;
} vcdc_json_span_t;

/* A member of the top-level object. */
typedef struct vcdc_json_member_s {
        const char *key; /* unescaped, key_len bytes, not NUL-terminated:
                          * in the text or in the scanner's buffer */
        size_t key_len;
        vcdc_json_span_t value;
} vcdc_json_member_t;

/* What was wrong, as jansson's json_error_code would say. */
typedef enum vcdc_json_err_e {
        VCDC_JSON_ERR_SYNTAX = 0,     /* json_error_invalid_syntax */
        VCDC_JSON_ERR_PREMATURE_END,  /* json_error_premature_end_of_input */
        VCDC_JSON_ERR_END_EXPECTED,   /* json_error_end_of_input_expected */
        VCDC_JSON_ERR_UTF8,           /* json_error_invalid_utf8 */
        VCDC_JSON_ERR_NUMBER_RANGE,   /* json_error_numeric_overflow */
        VCDC_JSON_ERR_NUL_CHARACTER,  /* json_error_null_character */
        VCDC_JSON_ERR_NUL_IN_KEY,     /* json_error_null_byte_in_key */
        VCDC_JSON_ERR_DUPLICATE_KEY,  /* json_error_duplicate_key */
        VCDC_JSON_ERR_DEPTH,          /* json_error_stack_overflow */
        VCDC_JSON_ERR_OUT_OF_MEMORY,  /* json_error_out_of_memory */
} vcdc_json_err_t;

#define VCDC_JSON_ERROR_TEXT 160 /* jansson's JSON_ERROR_TEXT_LENGTH */

typedef struct vcdc_json_error_s {
        vcdc_json_err_t code;
        size_t position; /* bytes read when the error was found */
        size_t column;   /* characters read on its line (jansson's column) */
        char text[VCDC_JSON_ERROR_TEXT]; /* jansson's words, e.g. "invalid
                                          * token near 'NaN'" */
} vcdc_json_error_t;

#define VCDC_JSON_MAX_DEPTH 2048 /* jansson's JSON_PARSER_MAX_DEPTH */

typedef struct vcdc_jsonscan_s vcdc_jsonscan_t;

/** A scanner (its buffers grow with the texts). NULL if out of memory. */
vcdc_jsonscan_t *vcdc_jsonscan_new(void);

/** Frees the scanner. Accepts NULL. */
void vcdc_jsonscan_destroy(vcdc_jsonscan_t *js);

/**
 * Validates the len bytes at text (not NUL-terminated). Returns 0 with
 * *root the value (count and depth filled for a container), or -1 with
 * *err. The spans point into text, which must outlive their use.
 */
int vcdc_jsonscan_run(vcdc_jsonscan_t *js, const char *text, size_t len,
                      vcdc_json_span_t *root, vcdc_json_error_t *err);

/**
 * The members of the object the last successful run found, in text order
 * (*members is valid until the next run, with the floats of their
 * arrays). 0 when the root was not an object.
 */
size_t vcdc_jsonscan_members(const vcdc_jsonscan_t *js,
                             const vcdc_json_member_t **members);

#endif
