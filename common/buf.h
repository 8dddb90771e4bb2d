/*
 * vcdc - a growable byte buffer, kept NUL-terminated, with a bound (as
 * curl's dynbuf has: a database's answer never grows memory without limit)
 * and a sticky failure flag, so a builder checks once at the end rather
 * than after every append. Holds bytes; knows nothing of what they mean.
 */
#ifndef VCDC_BUF_H
#define VCDC_BUF_H

#include <stddef.h>

typedef struct vcdc_buf_s {
        char *p;     /* the bytes, NUL-terminated; NULL while empty */
        size_t len;  /* bytes held, without the NUL */
        size_t size; /* bytes allocated */
        size_t max;  /* most bytes it may hold; 0: no bound */
        int failed;  /* an allocation failed or max was passed: every later
                      * append is ignored */
} vcdc_buf_t;

/* An empty, unbounded buffer: vcdc_buf_t b = VCDC_BUF_INIT; */
#define VCDC_BUF_INIT                                                          \
        { NULL, 0, 0, 0, 0 }

/** Empties b and sets its bound (0: none), without allocating. */
void vcdc_buf_init(vcdc_buf_t *b, size_t max);

/** Room for n more bytes (and the NUL). Returns 0, or -1 (b failed). */
int vcdc_buf_reserve(vcdc_buf_t *b, size_t n);

void vcdc_buf_put(vcdc_buf_t *b, const void *s, size_t n);
void vcdc_buf_puts(vcdc_buf_t *b, const char *s);
void vcdc_buf_putc(vcdc_buf_t *b, char c);
void vcdc_buf_printf(vcdc_buf_t *b, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

/** Drops everything after len (a rollback to an earlier length). */
void vcdc_buf_truncate(vcdc_buf_t *b, size_t len);

/** Hands over the string (a NUL-terminated "" when nothing was put, NULL
 *  when b failed) and empties b. *lenp, if given, gets its length. */
char *vcdc_buf_detach(vcdc_buf_t *b, size_t *lenp);

/** Frees and empties (the bound stays). */
void vcdc_buf_free(vcdc_buf_t *b);

#endif
