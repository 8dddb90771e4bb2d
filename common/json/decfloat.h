/*
 * vcdc - decimal text to float32, correctly rounded.
 *
 * The value strtof() gives (glibc: round to nearest, ties to even) for a
 * plain decimal number, without going through a double: subnormals,
 * underflow to a signed zero, overflow to a signed infinity, any number of
 * digits and any exponent. Most numbers (up to 19 significant digits, an
 * exponent within float32's range) take a fast path: the digits as a 64-bit
 * integer times a 64-bit power of ten, kept only when the 128-bit product
 * decides the rounding beyond doubt. The rest, and the rare product that
 * lies too near a halfway point, go to strtof() on a short normalised copy
 * of the digits, so the result is strtof()'s by construction.
 *
 * Must not: allocate, depend on the locale, or accept anything but a plain
 * decimal (no hexadecimal, inf, nan, or surrounding spaces). Thread-safe.
 */
#ifndef VCDC_DECFLOAT_H
#define VCDC_DECFLOAT_H

#include <stddef.h>

/**
 * Converts the number at s (at most end - s bytes are read) and returns
 * the end of its text, or NULL when s does not start with one. The
 * grammar is strtof()'s decimal one: [+-] digits [. digits] [(e|E) [+-]
 * digits], with at least one digit before or after the point; an exponent
 * without digits is not part of the number ("1e" converts "1"). JSON
 * numbers are a subset. *out is what strtof() gives for that text.
 */
const char *vcdc_decfloat_scan(const char *s, const char *end, float *out);

/* What vcdc_decfloat_json() saw of a number, for range checks. */
typedef struct vcdc_decfloat_json_s {
        int real;          /* it has a fraction or an exponent */
        size_t int_digits; /* digits before the point */
        long long exp10;   /* its exponent (0 if none); from 10^12 on it
                            * stops growing */
} vcdc_decfloat_json_t;

/**
 * As vcdc_decfloat_scan(), for JSON's stricter grammar (RFC 8259): no
 * '+', no digit after a leading 0 (the number is then that 0), at least one
 * digit after a point and in an exponent (else NULL).
 */
const char *vcdc_decfloat_json(const char *s, const char *end, float *out,
                               vcdc_decfloat_json_t *info);

/**
 * Converts exactly the len bytes at s. Returns 0, or -1 (and *out
 * untouched) when they are not one whole decimal number.
 */
int vcdc_decfloat_parse(const char *s, size_t len, float *out);

/**
 * strtod() of the len bytes at s, which must be a decimal number as above
 * (the whole span; not checked): for texts that are not NUL-terminated.
 */
double vcdc_decfloat_double(const char *s, size_t len);

#endif
