/*
 * vcdc - pgvector values as PostgreSQL sends them: the text form of
 * `vector` and `halfvec` ("[1,-0.5,3.25e-07]", what pgoutput streams) and
 * their binary form (vector_send/halfvec_send, what COPY ... (FORMAT
 * binary) gives). Pure: no I/O, no libpq.
 *
 * It must not accept anything that is not a finite float32, nor round a
 * value differently from strtof(): the text pgvector prints is the shortest
 * that reads back to the same float, so parsing it gives back that float
 * exactly. Inputs are length-delimited (network buffers), never assumed
 * NUL-terminated.
 */
#ifndef VCDC_PGVEC_H
#define VCDC_PGVEC_H

#include <stddef.h>
#include <stdint.h>

/* The most dimensions accepted (pgvector itself stops at 16,000 for vector
 * and halfvec; VCDC_DIM_MAX in record.h is the record's own limit). */
#define VCDC_PGVEC_DIM_MAX 65536

/* The longest number text accepted, sign and exponent included. */
#define VCDC_PGVEC_NUMBER_MAX 63

typedef enum vcdc_pgvec_kind_e {
        VCDC_PGVEC_VECTOR = 0, /* float4 elements */
        VCDC_PGVEC_HALFVEC,    /* float2 elements, widened exactly */
} vcdc_pgvec_kind_t;

/**
 * Parses one decimal number s[0..len) ("1", "-0.5", "3.25e-07", "1e+20")
 * into *out, rounded to nearest float32 as strtof() rounds it. No blanks,
 * no "NaN" or "Infinity", no hexadecimal. Returns 0, or -1 when the text is
 * not such a number or its value is not a finite float32.
 */
int vcdc_pgvec_parse_float(const char *s, size_t len, float *out);

/**
 * Parses pgvector text text[0..len) ("[1,2.5,-3]"; blanks around numbers
 * allowed) into *vecp, *dimp floats. *vecp is the caller's buffer of *capp
 * floats, grown with realloc() when too small (NULL and 0 at first; the
 * caller frees it): a loop reuses one buffer. Returns 0, or -1 with errstr
 * saying what is wrong and where (malformed, empty, more than
 * VCDC_PGVEC_DIM_MAX elements, a value that is not a finite float32, out
 * of memory); the buffer stays the caller's either way.
 */
int vcdc_pgvec_parse_text(const char *text, size_t len, float **vecp,
                          size_t *capp, size_t *dimp, char *errstr,
                          size_t errstr_size);

/**
 * Parses the binary send form of kind, buf[0..len) (int16 dimension,
 * int16 unused, then the elements, all big-endian), into *vecp, *dimp
 * floats, the buffer handled as by vcdc_pgvec_parse_text(). Returns 0, or
 * -1 with errstr (length disagreeing with the dimension, empty, NaN or
 * infinite elements, out of memory).
 */
int vcdc_pgvec_parse_binary(vcdc_pgvec_kind_t kind, const unsigned char *buf,
                            size_t len, float **vecp, size_t *capp,
                            size_t *dimp, char *errstr, size_t errstr_size);

/** An IEEE 754 binary16 value, widened to float (exact). */
float vcdc_pgvec_half_to_float(uint16_t h);

#endif
