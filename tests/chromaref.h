/*
 * vcdc - the jansson reader of Chroma's get answers (tests/chromaref.c),
 * the reference the fast path (vcdc_chroma_scan_get() and the like,
 * sink_chroma_int.h) is compared with. Same contracts as those, on a
 * jansson tree of the answer.
 *
 * For the tests, the fuzzer and the parse benchmark only; must not be
 * linked into the programs.
 */
#ifndef VCDC_CHROMAREF_H
#define VCDC_CHROMAREF_H

#include <stddef.h>

#include <jansson.h>

#include "sink_chroma_int.h"

int vcdc_chromaref_get(const json_t *resp, const char *const *ids, size_t cnt,
                       vcdc_record_t *out, size_t *cntp, char *errstr,
                       size_t errstr_size);
int vcdc_chromaref_rows(const json_t *resp, size_t first, size_t cnt,
                        vcdc_record_t *out, size_t *cntp, char *errstr,
                        size_t errstr_size);
long vcdc_chromaref_anchor(const json_t *resp, size_t start, size_t end,
                           const vcdc_chroma_cursor_t *cur, size_t *kp);

/**
 * Reads the answer text[0..len) both ways and compares, as each read of
 * the sink would: a get of ids[0..cnt), a get of at most cnt without ids,
 * the rows from 1 on (at most cnt), and the anchors of cursor "9,1:a,1:b"
 * from offset 2. Both must accept or refuse the text alike (jansson with
 * JSON_REJECT_DUPLICATES: same words, same position; a text holding a NUL
 * byte, which jansson may drop, counts as refused), then each read must
 * give the same status, message and records. Floats must be
 * the same bits, but for two cases where strtof() of the text is right
 * and jansson's double rounded to float32 is not: the double lies exactly
 * halfway between two float32 (the fast path takes the one strtof()
 * takes), and "-0" read by jansson as the integer 0. js: a scanner to
 * use. Returns 0 when they agree, 1 when both refused the text as JSON
 * (or it holds a NUL byte), -1 with why otherwise.
 */
int vcdc_chromaref_compare(vcdc_jsonscan_t *js, const char *text, size_t len,
                           const char *const *ids, size_t cnt, char *why,
                           size_t why_size);

#endif
