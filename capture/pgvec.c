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

int vcdc_pgvec_parse_float(const char *s, size_t len, float *out) {
        uint64_t mant = 0;
        int digits = 0, any = 0, dropped = 0, neg = 0, exp_neg = 0;
        long exp10 = 0, e = 0;
        size_t i = 0;
        double d;
        float f;

        if (len == 0 || len > VCDC_PGVEC_NUMBER_MAX)
                return -1;
        if (s[0] == '+' || s[0] == '-') {
                neg = s[0] == '-';
                i++;
        }
        for (; i < len && is_digit(s[i]); i++) {
                int dg = s[i] - '0';
                any = 1;
                if (!mant && !dg)
                        continue;
                if (digits < 19) {
                        mant = mant * 10 + (uint64_t)dg;
                        digits++;
                } else {
                        exp10++;
                        dropped |= dg != 0;
                }
        }
        if (i < len && s[i] == '.') {
                for (i++; i < len && is_digit(s[i]); i++) {
                        int dg = s[i] - '0';
                        any = 1;
                        if (!mant && !dg) {
                                exp10--;
                        } else if (digits < 19) {
                                mant = mant * 10 + (uint64_t)dg;
                                digits++;
                                exp10--;
                        } else {
                                dropped |= dg != 0;
                        }
                }
        }
        if (!any)
                return -1;
        if (i < len && (s[i] == 'e' || s[i] == 'E')) {
                i++;
                if (i < len && (s[i] == '+' || s[i] == '-')) {
                        exp_neg = s[i] == '-';
                        i++;
                }
                if (i >= len || !is_digit(s[i]))
                        return -1;
                for (; i < len && is_digit(s[i]); i++)
                        if (e < 100000)
                                e = e * 10 + (s[i] - '0');
                exp10 += exp_neg ? -e : e;
        }
        if (i != len)
                return -1;
        if (!mant) {
                *out = neg ? -0.0f : 0.0f;
                return 0;
        }
        if (dropped || mant > MANT_EXACT_MAX || exp10 < -22 || exp10 > 22)
                return slow_float(s, len, out);
        d = (double)mant;
        d = exp10 < 0 ? d / pow10_exact[-exp10] : d * pow10_exact[exp10];
        if (!rounds_like_decimal(d))
                return slow_float(s, len, out);
        f = (float)d;
        if (!isfinite(f))
                return -1;
        *out = neg ? -f : f;
        return 0;
}

int vcdc_pgvec_parse_text(const char *text, size_t len, float **vecp,
                          size_t *dimp, char *errstr, size_t errstr_size) {
        size_t i = 0, cap = 1, dim = 0, start, k;
        float *vec = NULL;

        *vecp = NULL;
        *dimp = 0;
        while (i < len && is_blank(text[i]))
                i++;
        if (i >= len || text[i] != '[') {
                snprintf(errstr, errstr_size,
                         "vector text does not start with '['");
                return -1;
        }
        /* One allocation: at most one element more than commas. */
        for (k = i; k < len; k++)
                if (text[k] == ',')
                        cap++;
        if (cap > VCDC_PGVEC_DIM_MAX) {
                snprintf(errstr, errstr_size,
                         "vector has more than %d dimensions",
                         VCDC_PGVEC_DIM_MAX);
                return -1;
        }
        if (!(vec = malloc(cap * sizeof(*vec)))) {
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        for (i++;;) {
                while (i < len && is_blank(text[i]))
                        i++;
                if (i < len && text[i] == ']' && dim == 0) {
                        snprintf(errstr, errstr_size, "vector is empty");
                        goto err;
                }
                start = i;
                while (i < len && text[i] != ',' && text[i] != ']' &&
                       !is_blank(text[i]))
                        i++;
                if (dim >= cap ||
                    vcdc_pgvec_parse_float(text + start, i - start,
                                           &vec[dim]) == -1) {
                        snprintf(errstr, errstr_size,
                                 "vector element %zu (\"%.*s\") is not a "
                                 "finite float32",
                                 dim + 1,
                                 (int)(i - start > 32 ? 32 : i - start),
                                 text + start);
                        goto err;
                }
                dim++;
                while (i < len && is_blank(text[i]))
                        i++;
                if (i < len && text[i] == ',') {
                        i++;
                        continue;
                }
                if (i < len && text[i] == ']')
                        break;
                snprintf(errstr, errstr_size,
                         "vector text: expected ',' or ']' after element "
                         "%zu",
                         dim);
                goto err;
        }
        for (i++; i < len && is_blank(text[i]); i++)
                ;
        if (i != len) {
                snprintf(errstr, errstr_size,
                         "vector text: unexpected text after ']'");
                goto err;
        }
        *vecp = vec;
        *dimp = dim;
        return 0;
err:
        free(vec);
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

int vcdc_pgvec_parse_binary(vcdc_pgvec_kind_t kind, const unsigned char *buf,
                            size_t len, float **vecp, size_t *dimp,
                            char *errstr, size_t errstr_size) {
        size_t dim, width = kind == VCDC_PGVEC_HALFVEC ? 2 : 4, i;
        float *vec;

        *vecp = NULL;
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
        if (!(vec = malloc(dim * sizeof(*vec)))) {
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        for (i = 0; i < dim; i++) {
                const unsigned char *p = buf + 4 + i * width;
                if (kind == VCDC_PGVEC_HALFVEC) {
                        vec[i] = vcdc_pgvec_half_to_float(
                                (uint16_t)(p[0] << 8 | p[1]));
                } else {
                        uint32_t bits = be32(p);
                        memcpy(&vec[i], &bits, sizeof(bits));
                }
                if (!isfinite(vec[i])) {
                        snprintf(errstr, errstr_size,
                                 "vector element %zu is not finite", i + 1);
                        free(vec);
                        return -1;
                }
        }
        *vecp = vec;
        *dimp = dim;
        return 0;
}
