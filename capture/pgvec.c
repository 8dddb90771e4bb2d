/*
 * vcdc - pgvector values in text and binary form (pgvec.h).
 *
 * Numbers take a fast path when it is provably exact: at most 19
 * significant digits and a decimal exponent within +-22 make one
 * correctly rounded double operation (mantissa and power of ten are both
 * exact doubles), and rounding that double to float gives strtof()'s
 * answer unless the double landed exactly on a midpoint between two
 * floats (then, and outside float's normal range, strtof() decides).
 */
#include "pgvec.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const double pow10_exact[23] = {
        1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
        1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

#define MANT_EXACT_MAX (UINT64_C(1) << 53)

static int is_digit(char c) {
        return c >= '0' && c <= '9';
}

static int is_blank(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
               c == '\v';
}

/* strtof() on a copy of s[0..len), which the caller has already checked
 * to be a plain decimal number. */
static int slow_float(const char *s, size_t len, float *out) {
        char buf[VCDC_PGVEC_NUMBER_MAX + 1];
        char *end;
        float f;

        memcpy(buf, s, len);
        buf[len] = '\0';
        errno = 0;
        f = strtof(buf, &end);
        /* ERANGE with a finite answer is an underflow to a subnormal or
         * zero, correctly rounded: keep it. */
        if (end != buf + len || !isfinite(f))
                return -1;
        *out = f;
        return 0;
}

/* 1 when the double d lies in float's normal range and is not a midpoint
 * between two adjacent floats: then (float)d rounds as the exact decimal
 * would. */
static int rounds_like_decimal(double d) {
        uint64_t bits;
        int exp;

        memcpy(&bits, &d, sizeof(bits));
        exp = (int)((bits >> 52) & 0x7ff) - 1023;
        if (exp < -126 || exp > 127)
                return 0;
        /* A double has 29 more fraction bits than a float. */
        return (bits & ((UINT64_C(1) << 29) - 1)) != (UINT64_C(1) << 28);
}

/* Reads the number at p (before end): *out and *okp 1 when it is a finite
 * float32, *okp 0 when it is malformed or not finite. Returns where the
 * number's text ends (p itself when there are no digits). One pass, no
 * copy, no allocation: the fast path of a stream of vectors. */
static const char *scan_number(const char *p, const char *end, float *out,
                               int *okp) {
        const char *start = p, *q;
        uint64_t mant = 0;
        int neg = 0, digits = 0, any, dropped = 0;
        long exp10 = 0;
        double d;
        float f;

        *okp = 0;
        if (p < end && (*p == '-' || *p == '+')) {
                neg = *p == '-';
                p++;
        }
        q = p;
        while (p < end && *p == '0')
                p++;
        for (; p < end && is_digit(*p); p++) {
                if (digits < 19) {
                        mant = mant * 10 + (uint64_t)(*p - '0');
                        digits++;
                } else {
                        exp10++;
                        dropped |= *p != '0';
                }
        }
        any = p > q;
        if (p < end && *p == '.') {
                q = ++p;
                if (!mant)
                        for (; p < end && *p == '0'; p++)
                                exp10--;
                for (; p < end && is_digit(*p); p++) {
                        if (digits < 19) {
                                mant = mant * 10 + (uint64_t)(*p - '0');
                                digits++;
                                exp10--;
                        } else {
                                dropped |= *p != '0';
                        }
                }
                any |= p > q;
        }
        if (!any)
                return start;
        if (p < end && (*p == 'e' || *p == 'E')) {
                long e = 0;
                int exp_neg = 0;
                p++;
                if (p < end && (*p == '+' || *p == '-')) {
                        exp_neg = *p == '-';
                        p++;
                }
                if (p >= end || !is_digit(*p))
                        return p;
                for (; p < end && is_digit(*p); p++)
                        if (e < 100000)
                                e = e * 10 + (*p - '0');
                exp10 += exp_neg ? -e : e;
        }
        if (p - start > VCDC_PGVEC_NUMBER_MAX)
                return p;
        if (!mant) {
                *out = neg ? -0.0f : 0.0f;
                *okp = 1;
                return p;
        }
        if (dropped || mant > MANT_EXACT_MAX || exp10 < -22 || exp10 > 22) {
                *okp = slow_float(start, (size_t)(p - start), out) == 0;
                return p;
        }
        d = (double)mant;
        d = exp10 < 0 ? d / pow10_exact[-exp10] : d * pow10_exact[exp10];
        if (!rounds_like_decimal(d)) {
                *okp = slow_float(start, (size_t)(p - start), out) == 0;
                return p;
        }
        f = (float)d;
        if (!isfinite(f))
                return p;
        *out = neg ? -f : f;
        *okp = 1;
        return p;
}

int vcdc_pgvec_parse_float(const char *s, size_t len, float *out) {
        int ok;

        if (len == 0 || len > VCDC_PGVEC_NUMBER_MAX)
                return -1;
        return scan_number(s, s + len, out, &ok) == s + len && ok ? 0 : -1;
}

/* Makes *vecp hold n floats. Returns 0 or -1. */
static int reserve(float **vecp, size_t *capp, size_t n) {
        float *v;

        if (*vecp && *capp >= n)
                return 0;
        if (!(v = realloc(*vecp, n * sizeof(*v))))
                return -1;
        *vecp = v;
        *capp = n;
        return 0;
}

int vcdc_pgvec_parse_text(const char *text, size_t len, float **vecp,
                          size_t *capp, size_t *dimp, char *errstr,
                          size_t errstr_size) {
        const char *p = text, *end = text + len, *start, *tok;
        size_t dim = 0;
        int ok;

        *dimp = 0;
        while (p < end && is_blank(*p))
                p++;
        if (p >= end || *p != '[') {
                snprintf(errstr, errstr_size,
                         "vector text does not start with '['");
                return -1;
        }
        if (reserve(vecp, capp, *capp > 64 ? *capp : 64) == -1)
                goto nomem;
        for (p++;;) {
                while (p < end && is_blank(*p))
                        p++;
                if (p < end && *p == ']' && dim == 0) {
                        snprintf(errstr, errstr_size, "vector is empty");
                        return -1;
                }
                if (dim == *capp) {
                        if (dim >= VCDC_PGVEC_DIM_MAX) {
                                snprintf(errstr, errstr_size,
                                         "vector has more than %d dimensions",
                                         VCDC_PGVEC_DIM_MAX);
                                return -1;
                        }
                        if (reserve(vecp, capp,
                                    dim * 2 > VCDC_PGVEC_DIM_MAX
                                            ? VCDC_PGVEC_DIM_MAX
                                            : dim * 2) == -1)
                                goto nomem;
                }
                start = p;
                p = scan_number(p, end, &(*vecp)[dim], &ok);
                if (!ok || p == start) {
                        for (tok = start; tok < end && *tok != ',' &&
                                          *tok != ']' && !is_blank(*tok);
                             tok++)
                                ;
                        snprintf(errstr, errstr_size,
                                 "vector element %zu (\"%.*s\") is not a "
                                 "finite float32",
                                 dim + 1,
                                 (int)(tok - start > 32 ? 32 : tok - start),
                                 start);
                        return -1;
                }
                dim++;
                while (p < end && is_blank(*p))
                        p++;
                if (p < end && *p == ',') {
                        p++;
                        continue;
                }
                if (p < end && *p == ']')
                        break;
                snprintf(errstr, errstr_size,
                         "vector text: expected ',' or ']' after element "
                         "%zu",
                         dim);
                return -1;
        }
        for (p++; p < end && is_blank(*p); p++)
                ;
        if (p != end) {
                snprintf(errstr, errstr_size,
                         "vector text: unexpected text after ']'");
                return -1;
        }
        *dimp = dim;
        return 0;
nomem:
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
}

float vcdc_pgvec_half_to_float(uint16_t h) {
        uint32_t sign = (uint32_t)(h & 0x8000) << 16;
        uint32_t exp = (h >> 10) & 0x1f, frac = h & 0x3ff, bits;
        float f;

        if (exp == 0) {
                /* Zero or subnormal: frac * 2^-24, exact in float. */
                f = ldexpf((float)frac, -24);
                return sign ? -f : f;
        }
        if (exp == 31)
                bits = sign | 0x7f800000u | (frac << 13);
        else
                bits = sign | ((exp - 15 + 127) << 23) | (frac << 13);
        memcpy(&f, &bits, sizeof(f));
        return f;
}

static uint32_t be32(const unsigned char *p) {
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
               (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* vector's float32 elements, big-endian: converted in one branch-free
 * pass (one per element cost as much as the row's encoding), with the
 * exponent bits of every element OR-ed; only when some element has them
 * all set (an infinity or a NaN) is the first such one looked for. */
static int parse_float32(const unsigned char *p, size_t dim, float *vec,
                         size_t *dimp, char *errstr, size_t errstr_size) {
        uint32_t nonfinite = 0, bits;
        size_t i;

        for (i = 0; i < dim; i++) {
                bits = be32(p + 4 * i);
                nonfinite |= (bits & 0x7f800000u) == 0x7f800000u;
                memcpy(&vec[i], &bits, sizeof(bits));
        }
        if (nonfinite) {
                for (i = 0; isfinite(vec[i]); i++)
                        ;
                snprintf(errstr, errstr_size,
                         "vector element %zu is not finite", i + 1);
                return -1;
        }
        *dimp = dim;
        return 0;
}

int vcdc_pgvec_parse_binary(vcdc_pgvec_kind_t kind, const unsigned char *buf,
                            size_t len, float **vecp, size_t *capp,
                            size_t *dimp, char *errstr, size_t errstr_size) {
        size_t dim, width = kind == VCDC_PGVEC_HALFVEC ? 2 : 4, i;
        float *vec;

        *dimp = 0;
        if (len < 4) {
                snprintf(errstr, errstr_size,
                         "binary vector of %zu bytes: too short", len);
                return -1;
        }
        dim = (size_t)buf[0] << 8 | buf[1];
        if (dim == 0 || len != 4 + dim * width) {
                snprintf(errstr, errstr_size,
                         "binary vector of %zu bytes does not hold %zu "
                         "dimensions",
                         len, dim);
                return -1;
        }
        if (reserve(vecp, capp, dim) == -1) {
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        vec = *vecp;
        if (kind != VCDC_PGVEC_HALFVEC)
                return parse_float32(buf + 4, dim, vec, dimp, errstr,
                                     errstr_size);
        for (i = 0; i < dim; i++) {
                const unsigned char *p = buf + 4 + i * width;
                vec[i] = vcdc_pgvec_half_to_float(
                        (uint16_t)(p[0] << 8 | p[1]));
                if (!isfinite(vec[i])) {
                        snprintf(errstr, errstr_size,
                                 "vector element %zu is not finite", i + 1);
                        return -1;
                }
        }
        *dimp = dim;
        return 0;
}
