/*
 * vcdc - JSON writing shared by the gateway's request parser and response
 * writer: numbers in a form that reads back to the same value (float32 as
 * the shortest of %.1g..%.9g that strtof() returns to it, doubles the
 * shortest of %.1g..%.17g for strtod(), ".0" added to integral ones, as
 * Chroma's serde writes 1.0), strings escaped, and a metadata object in
 * that form.
 *
 * Must not: allocate except through the buffer it is given.
 */
#ifndef VCDC_API_JSON_H
#define VCDC_API_JSON_H

#include <jansson.h>

#include "buf.h"

/** A float32; non-finite as null (Chroma writes an infinity as null). */
void vcdc_api_put_float(vcdc_buf_t *b, float f);

/** A double; non-finite as null. */
void vcdc_api_put_double(vcdc_buf_t *b, double d);

/** s (len bytes, UTF-8) as a JSON string, or null when s is NULL. */
void vcdc_api_put_string(vcdc_buf_t *b, const char *s, size_t len);

/** An array of dim float32. */
void vcdc_api_put_vector(vcdc_buf_t *b, const float *v, size_t dim);

/** Any JSON value, objects' keys in their order, reals shortest. */
void vcdc_api_put_json(vcdc_buf_t *b, const json_t *j);

/** Metadata text (a JSON object) written again in this form; NULL or text
 *  that is not JSON as null. */
void vcdc_api_put_metadata_text(vcdc_buf_t *b, const char *text);

/** The object as compact text in this form: a new string (free()), or
 *  NULL when out of memory. */
char *vcdc_api_json_text(const json_t *j);

#endif
