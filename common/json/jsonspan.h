/*
 * vcdc - reading values of a JSON text that vcdc_jsonscan_run() accepted,
 * in place: strings unescaped, integers and reals converted, arrays of
 * numbers straight to float32 (correctly rounded, decfloat.h), containers
 * walked member by member, a value written again as jansson's compact JSON.
 *
 * Must not: be given text the scanner did not accept (nothing is checked
 * again: a span from anywhere else may be read past its end), allocate, or
 * read outside the span it is given.
 */
#ifndef VCDC_JSONSPAN_H
#define VCDC_JSONSPAN_H

#include <stddef.h>

#include "jsonscan.h"

/** "an object", "an array", "a string", "an integer", "a real number",
 *  "true", "false" or "null": how vcdc's messages name a JSON type. */
const char *vcdc_json_type_name(vcdc_json_type_t type);

/**
 * Writes the UTF-8 bytes of the string s (escapes decoded, no quotes, no
 * NUL added) to out, which has room for s->len bytes. Returns their count.
 */
size_t vcdc_json_unescape(const vcdc_json_span_t *s, char *out);

/** The value of an INTEGER span (the scanner checked it fits). */
long long vcdc_json_integer(const vcdc_json_span_t *v);

/** strtod() of an INTEGER or REAL span. */
double vcdc_json_double(const vcdc_json_span_t *v);

/* Walks the members of an object or the elements of an array. */
typedef struct vcdc_json_iter_s {
        const char *p, *end;
        int object;
} vcdc_json_iter_t;

void vcdc_json_iter_init(vcdc_json_iter_t *it,
                         const vcdc_json_span_t *container);

/**
 * The next member (key: its string span, with quotes; NULL for an array)
 * or element. Returns 1, or 0 at the end. A value's count and depth are
 * not filled in (0).
 */
int vcdc_json_iter_next(vcdc_json_iter_t *it, vcdc_json_span_t *key,
                        vcdc_json_span_t *value);

/**
 * Converts the elements of an array of numbers to float32 into out (room
 * for cap). Returns 0 with *n the count; -1 when element *n is not a
 * number, or is one beyond float32's range (*n elements were converted);
 * -2 when there are more than cap elements.
 */
int vcdc_json_floats(const vcdc_json_span_t *array, float *out, size_t cap,
                     size_t *n);

/**
 * The value v written as json_dumpb(v, JSON_COMPACT) writes it: no
 * whitespace, keys in text order, strings escaped as jansson does,
 * integers as %lld, reals as %.17g with ".0" or an exponent. Writes at
 * most size bytes (no NUL) to out and returns the whole length, like
 * snprintf(): call with size 0 to measure.
 */
size_t vcdc_json_compact(const vcdc_json_span_t *v, char *out, size_t size);

#endif
