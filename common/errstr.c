/*
 * vcdc - the error buffer.
 */
#include "errstr.h"

#include <stdarg.h>
#include <stdio.h>

int vcdc_fail(char *errstr, size_t errstr_size, const char *fmt, ...) {
        va_list ap;

        if (!errstr_size)
                return -1;
        va_start(ap, fmt);
        vsnprintf(errstr, errstr_size, fmt, ap);
        va_end(ap);
        return -1;
}

void vcdc_sanitize(char *s) {
        for (; *s; s++)
                if ((unsigned char)*s < 0x20 || *s == 0x7f)
                        *s = '?';
}
