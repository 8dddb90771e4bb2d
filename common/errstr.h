/*
 * vcdc - the error buffer every fallible call fills (char *errstr, size_t
 * errstr_size, as librdkafka does): writing it, and making text quoted
 * from input safe to print. Holds no state.
 */
#ifndef VCDC_ERRSTR_H
#define VCDC_ERRSTR_H

#include <stddef.h>

/** Writes the message into errstr (when errstr_size > 0) and returns -1,
 *  so a check reads `return vcdc_fail(errstr, size, "...", ...);`. */
int vcdc_fail(char *errstr, size_t errstr_size, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/** Replaces control bytes in s with '?', so that input quoted in a message
 *  cannot drive a terminal or split a log line. */
void vcdc_sanitize(char *s);

#endif
