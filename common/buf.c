/*
 * vcdc - the growable byte buffer.
 * Holds bytes only.
 */
#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void vcdc_buf_init(vcdc_buf_t *b, size_t max) {
        memset(b, 0, sizeof(*b));
        b->max = max;
}

int vcdc_buf_reserve(vcdc_buf_t *b, size_t n) {
        size_t size;
        char *p;

        if (b->failed)
                return -1;
        if (n > (size_t)-1 / 2 - b->len - 1 ||
            (b->max && b->len + n > b->max)) {
                b->failed = 1;
                return -1;
        }
        if (b->len + n + 1 <= b->size)
                return 0;
        size = b->size ? b->size : 256;
        while (size < b->len + n + 1)
                size *= 2;
        if (b->max && size > b->max + 1)
                size = b->max + 1;
        if (!(p = realloc(b->p, size))) {
                b->failed = 1;
                return -1;
        }
        b->p = p;
        b->size = size;
        return 0;
}

void vcdc_buf_put(vcdc_buf_t *b, const void *s, size_t n) {
        if (vcdc_buf_reserve(b, n) == -1)
                return;
        if (n)
                memcpy(b->p + b->len, s, n);
        b->len += n;
        b->p[b->len] = '\0';
}

void vcdc_buf_puts(vcdc_buf_t *b, const char *s) {
        vcdc_buf_put(b, s, strlen(s));
}

void vcdc_buf_putc(vcdc_buf_t *b, char c) {
        vcdc_buf_put(b, &c, 1);
}

void vcdc_buf_printf(vcdc_buf_t *b, const char *fmt, ...) {
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vsnprintf(NULL, 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
                b->failed = 1;
                return;
        }
        if (vcdc_buf_reserve(b, (size_t)n) == -1)
                return;
        va_start(ap, fmt);
        vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
        va_end(ap);
        b->len += (size_t)n;
}

void vcdc_buf_truncate(vcdc_buf_t *b, size_t len) {
        if (b->p && len <= b->len) {
                b->len = len;
                b->p[len] = '\0';
        }
}

char *vcdc_buf_detach(vcdc_buf_t *b, size_t *lenp) {
        size_t max = b->max;
        char *p;

        if (!b->failed && !b->p && vcdc_buf_reserve(b, 0) == 0)
                b->p[0] = '\0';
        if (b->failed) {
                vcdc_buf_free(b);
                return NULL;
        }
        p = b->p;
        if (lenp)
                *lenp = b->len;
        vcdc_buf_init(b, max);
        return p;
}

void vcdc_buf_free(vcdc_buf_t *b) {
        size_t max = b->max;

        free(b->p);
        vcdc_buf_init(b, max);
}
