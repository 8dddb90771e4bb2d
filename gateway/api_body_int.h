/*
 * vcdc - what the gateway's request parsers share (api_body.c,
 * api_write.c): a body loaded once (validated by the scanner, with the
 * spans of its top-level members, and as a jansson tree), and serde's
 * words for a value of the wrong shape. Internal.
 */
#ifndef VCDC_API_BODY_INT_H
#define VCDC_API_BODY_INT_H

#include <jansson.h>

#include "api_body.h"
#include "jsonscan.h"

typedef struct body_s {
        vcdc_jsonscan_t *js;
        json_t *root; /* an object */
        const char *text;
        size_t len;
} vcdc_api_body_t;

/** Validates the text (400 for JSON Chroma would not parse) and loads it;
 *  payload names the struct for a root that is not an object (422). */
int vcdc_api_body_load(vcdc_api_body_t *b, const char *text, size_t len,
                       const char *payload, vcdc_api_error_t *err);

void vcdc_api_body_free(vcdc_api_body_t *b);

/** The span of top-level member key, or NULL. */
const vcdc_json_span_t *vcdc_api_body_span(const vcdc_api_body_t *b,
                                           const char *key);

/** Member key of the root when present and not null, else NULL. */
json_t *vcdc_api_body_get(const vcdc_api_body_t *b, const char *key);

/** 422 "missing field `KEY`" at the end of the body. */
int vcdc_api_body_missing(const vcdc_api_body_t *b, const char *key,
                          vcdc_api_error_t *err);

/** 422 "PATH: invalid type: DESC, expected EXPECTED". */
int vcdc_api_shape_type(vcdc_api_error_t *err, const char *path,
                        const json_t *got, const char *expected);

/** Reads member key (an array of strings, or null/absent when optional)
 *  into *idsp and *np. Returns 1 when present, 0 when absent, -1 on error. */
int vcdc_api_body_ids(const vcdc_api_body_t *b, const char *key, char ***idsp,
                      size_t *np, vcdc_api_error_t *err);

void vcdc_api_free_ids(char **ids, size_t n);

char *vcdc_api_dup(const char *s, size_t n);

/** Checks a metadata object at path (metadatas[3], metadata): scalar
 *  values, nulls only when nulls, no "chroma:" keys; enum_name for
 *  serde's message. Returns 0 or -1 with err. */
int vcdc_api_check_metadata(const json_t *m, const char *path, int nulls,
                            const char *enum_name, vcdc_api_error_t *err);

#endif
