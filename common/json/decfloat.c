/*
 * vcdc - decimal text to float32, correctly rounded (decfloat.h).
 *
 * The fast path. The number is w * 10^q with w the first 19 significant
 * digits (w < 10^19 < 2^64). 10^q is kept as T * 2^e2 with T a 64-bit
 * integer in [2^63, 2^64), truncated: T <= 10^q / 2^e2 < T + 1, equal for
 * q in 0..27. With w shifted left until its top bit is set (wn), the
 * product P = wn * T (128 bits) is at most wn, so less than 2^64, below the
 * true wn * 10^q / 2^e2, and never above it. A float32 keeps the top 24
 * bits (fewer for a subnormal); rounding to nearest looks at the bits
 * below, r, against half their range, H. If [r, r + wn) lies on one side
 * of H the rounding is decided; if the product is exact, r against H
 * decides with ties to even; otherwise the true value may sit on either
 * side, or exactly on a halfway point, and strtof() decides.
 *
 * More than 19 significant digits: the value lies strictly between w and
 * w + 1 (times 10^q); when both round to the same float, that is the
 * answer. Otherwise, and for the ambiguous products above, strtof() gets
 * at most 120 significant digits, a 1 standing for any nonzero digits
 * after them, and a small exponent: every float32 rounding boundary (a
 * halfway point between two floats, the smallest of which is 2^-150) has
 * at most 113 significant digits, so this copy rounds as the whole text
 * does. It has no decimal point, so the locale does not matter.
 *
 * The table of 10^q, q in -64..38 (beyond it every w rounds to 0 or to
 * infinity), is computed at first use with exact integer arithmetic:
 * 10^q for q >= 0, and floor(2^k / 10^-q) for q < 0.
 */
#include "decfloat.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define POW_MIN  (-64)
#define POW_MAX  38
#define SIG_MAX  19  /* significant digits that fit in w */
#define SLOW_SIG 120 /* significant digits the strtof() copy keeps */
#define DOUBLE_SIG 800 /* ... and the strtod() one */

#define FLOAT_INF_BITS 0x7f800000u

typedef struct pow10_s {
        uint64_t t;  /* 10^q ~ t * 2^e2, t in [2^63, 2^64), truncated */
        int e2;
        int exact;   /* t * 2^e2 == 10^q */
} pow10_t;

static pow10_t pow_tab[POW_MAX - POW_MIN + 1];
static pthread_once_t pow_once = PTHREAD_ONCE_INIT;
static atomic_int pow_ready; /* pow_tab is filled: no pthread_once() call */


/*
 * The table: a few exact operations on 256-bit integers (32-bit limbs,
 * least significant first).
 */

#define BIG_LIMBS 8

typedef struct big_s {
        uint32_t l[BIG_LIMBS];
} big_t;

static void big_mul_small(big_t *b, uint32_t m) {
        uint64_t carry = 0;
        int i;

        for (i = 0; i < BIG_LIMBS; i++) {
                uint64_t x = (uint64_t)b->l[i] * m + carry;

                b->l[i] = (uint32_t)x;
                carry = x >> 32;
        }
}

static int big_bitlen(const big_t *b) {
        int i, n;

        for (i = BIG_LIMBS - 1; i >= 0; i--) {
                if (!b->l[i])
                        continue;
                for (n = 32; !(b->l[i] >> (n - 1)); n--)
                        ;
                return i * 32 + n;
        }
        return 0;
}

static int big_bit(const big_t *b, int i) {
        return (b->l[i / 32] >> (i % 32)) & 1;
}

/* a >= b */
static int big_ge(const big_t *a, const big_t *b) {
        int i;

        for (i = BIG_LIMBS - 1; i >= 0; i--)
                if (a->l[i] != b->l[i])
                        return a->l[i] > b->l[i];
        return 1;
}

/* a -= b, for a >= b */
static void big_sub(big_t *a, const big_t *b) {
        int64_t borrow = 0;
        int i;

        for (i = 0; i < BIG_LIMBS; i++) {
                int64_t x = (int64_t)a->l[i] - b->l[i] - borrow;

                borrow = x < 0;
                a->l[i] = (uint32_t)(x + (borrow ? (int64_t)1 << 32 : 0));
        }
}

/* a = 2a + bit */
static void big_shl1(big_t *a, int bit) {
        int i;

        for (i = BIG_LIMBS - 1; i > 0; i--)
                a->l[i] = a->l[i] << 1 | a->l[i - 1] >> 31;
        a->l[0] = a->l[0] << 1 | (uint32_t)bit;
}

static void pow_init(void) {
        big_t p;
        int q, i;

        /* q >= 0: the top 64 bits of 10^q. */
        memset(&p, 0, sizeof(p));
        p.l[0] = 1;
        for (q = 0; q <= POW_MAX; q++) {
                pow10_t *e = &pow_tab[q - POW_MIN];
                int bl = big_bitlen(&p);

                e->t = 0;
                e->exact = 1;
                for (i = bl - 1; i >= 0; i--) {
                        if (i >= bl - 64)
                                e->t = e->t << 1 | (uint64_t)big_bit(&p, i);
                        else if (big_bit(&p, i))
                                e->exact = 0;
                }
                if (bl < 64)
                        e->t <<= 64 - bl;
                e->e2 = bl - 64;
                big_mul_small(&p, 10);
        }

        /* q < 0: floor(2^k / 10^-q), k = 63 + bitlen(10^-q), which lies in
         * (2^63, 2^64) since 10^-q is not a power of two; long division,
         * one bit at a time. */
        memset(&p, 0, sizeof(p));
        p.l[0] = 1;
        for (q = -1; q >= POW_MIN; q--) {
                pow10_t *e = &pow_tab[q - POW_MIN];
                big_t rem;
                uint64_t t = 0;
                int k;

                big_mul_small(&p, 10);
                k = 63 + big_bitlen(&p);
                memset(&rem, 0, sizeof(rem));
                for (i = k; i >= 0; i--) {
                        big_shl1(&rem, i == k);
                        t <<= 1;
                        if (big_ge(&rem, &p)) {
                                big_sub(&rem, &p);
                                t |= 1;
                        }
                }
                e->t = t;
                e->e2 = -k;
                e->exact = 0;
        }
        atomic_store_explicit(&pow_ready, 1, memory_order_release);
}


/*
 * The fast path
 */

static int clz64(uint64_t x) {
        return __builtin_clzll(x); /* x != 0 */
}

static void mul64(uint64_t a, uint64_t b, uint64_t *hi, uint64_t *lo) {
#ifdef __SIZEOF_INT128__
        unsigned __int128 p = (unsigned __int128)a * b;

        *hi = (uint64_t)(p >> 64);
        *lo = (uint64_t)p;
#else
        uint64_t a0 = (uint32_t)a, a1 = a >> 32;
        uint64_t b0 = (uint32_t)b, b1 = b >> 32;
        uint64_t p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
        uint64_t mid = (p00 >> 32) + (uint32_t)p01 + (uint32_t)p10;

        *hi = p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
        *lo = (mid << 32) | (uint32_t)p00;
#endif
}

/* The float32 bits (sign clear) of w * 10^q, w > 0. Returns 1, or 0 when
 * the product cannot decide the rounding. */
static inline __attribute__((always_inline)) int
fast_bits(uint64_t w, int64_t q, uint32_t *bits) {
        const pow10_t *e;
        uint64_t wn, hi, lo, m, r_hi, h_hi, s_lo, s_hi;
        int lz, hb, sh, ex, up;

        if (q < POW_MIN) {
                /* w * 10^q < 10^19 * 10^-65 = 10^-46 < 2^-150 */
                *bits = 0;
                return 1;
        }
        if (q > POW_MAX) {
                /* >= 10^39, above FLT_MAX and half an ulp */
                *bits = FLOAT_INF_BITS;
                return 1;
        }
        e = &pow_tab[q - POW_MIN];
        lz = clz64(w);
        wn = w << lz;
        mul64(wn, e->t, &hi, &lo);
        /* P = hi:lo >= 2^126; the value is P * 2^(e2 - lz) */
        hb = 127 - clz64(hi);
        sh = hb - 23;              /* P's bits below a 24-bit mantissa */
        ex = sh + e->e2 - lz;      /* the mantissa's unit is 2^ex */
        if (ex < -149) {           /* subnormal: fewer bits */
                sh += -149 - ex;
                ex = -149;
                if (sh >= 130) {   /* P * 2^ex < 2^129 < H */
                        *bits = 0;
                        return 1;
                }
                if (sh >= 128)
                        return 0;
        }
        /* 103 <= sh < 128: M = P >> sh, r = P mod 2^sh, H = 2^(sh-1) */
        m = hi >> (sh - 64);
        r_hi = hi & (((uint64_t)1 << (sh - 64)) - 1);
        h_hi = (uint64_t)1 << (sh - 65);
        if (e->exact) {
                up = r_hi > h_hi || (r_hi == h_hi && lo > 0) ||
                     (r_hi == h_hi && lo == 0 && (m & 1));
        } else if (r_hi >= h_hi) {
                up = 1; /* the true r is above r >= H */
        } else {
                /* the true r is below r + wn: down if that is <= H */
                s_lo = lo + wn;
                s_hi = r_hi + (s_lo < lo);
                if (s_hi < h_hi || (s_hi == h_hi && s_lo == 0))
                        up = 0;
                else
                        return 0;
        }
        m += (uint64_t)up;
        if (m == (uint64_t)1 << 24) { /* rounded up into the next binade */
                m >>= 1;
                ex++;
        }
        if (m >= (uint64_t)1 << 23) {
                if (ex + 150 >= 255) {
                        *bits = FLOAT_INF_BITS;
                        return 1;
                }
                *bits = (uint32_t)(ex + 150) << 23 | (uint32_t)(m & 0x7fffff);
        } else {
                *bits = (uint32_t)m; /* subnormal or zero: ex == -149 */
        }
        return 1;
}


/*
 * The slow path: strtof() on a normalised copy
 */

static int is_digit(char c) {
        return c >= '0' && c <= '9';
}

/* Writes to buf (room for max_sig + 32 bytes) the digits of the mantissa
 * text [s, end) (digits and at most one '.'), at most max_sig significant
 * ones and a 1 for any nonzero digit after them, then "e" and the exponent
 * that makes the value that text times 10^exp10. Returns 0, or 1 when the
 * value is below 10^lo (or zero), 2 when it is at least 10^hi. */
static int normalise(const char *s, const char *end, int64_t exp10,
                     size_t max_sig, int lo, int hi, char *buf) {
        size_t n = 0;
        int64_t dexp = 0; /* value = 0.D1D2... * 10^(dexp + exp10) */
        int seen = 0, point = 0, sticky = 0, k;
        int64_t x;
        char num[24];

        for (; s < end; s++) {
                if (*s == '.') {
                        point = 1;
                        continue;
                }
                if (!seen && *s == '0') {
                        if (point)
                                dexp--;
                        continue;
                }
                seen = 1;
                if (!point)
                        dexp++;
                if (n < max_sig)
                        buf[n++] = *s;
                else if (*s != '0')
                        sticky = 1;
        }
        if (!seen)
                return 1;
        if (sticky)
                buf[n++] = '1';
        /* the value lies in [10^(x-1), 10^x) */
        x = dexp + exp10;
        if (x - 1 >= hi)
                return 2;
        if (x <= lo)
                return 1;
        /* D1...Dn e (x - n): a short exponent */
        x -= (int64_t)n;
        buf[n++] = 'e';
        if (x < 0) {
                buf[n++] = '-';
                x = -x;
        }
        k = 0;
        do {
                num[k++] = (char)('0' + x % 10);
                x /= 10;
        } while (x);
        while (k)
                buf[n++] = num[--k];
        buf[n] = '\0';
        return 0;
}

/* The float32 bits (sign clear) of the mantissa text [s, end) times
 * 10^exp10, by strtof(). Every float32 rounding boundary has at most 113
 * significant digits, the smallest is 2^-150 > 10^-46, and 10^39 is beyond
 * the largest. */
static uint32_t slow_bits(const char *s, const char *end, int64_t exp10) {
        char buf[SLOW_SIG + 32];
        uint32_t u;
        float f;

        switch (normalise(s, end, exp10, SLOW_SIG, -46, 39, buf)) {
        case 1:
                return 0;
        case 2:
                return FLOAT_INF_BITS;
        }
        f = strtof(buf, NULL);
        memcpy(&u, &f, sizeof(u));
        return u;
}


/*
 * Parsing
 */

/* 1 if the 8 bytes at p are all digits. A byte below '0' sets the top bit
 * of its lane in v - 0x30..., a byte above '9' in v + 0x46... or, from 0xba
 * up, in the first; carries and borrows start only at a failing byte, so
 * the lowest one always shows. */
static int eight_digits(const char *p) {
        uint64_t v;

        memcpy(&v, p, sizeof(v));
        return !(((v - 0x3030303030303030ull) | (v + 0x4646464646464646ull)) &
                 0x8080808080808080ull);
}

/* The value of the 8 digits at p (first the most significant): pairs in
 * 16-bit lanes, then quads in 32-bit lanes, then the whole. Each step's
 * lanes stay below their width (99, 9999), so nothing carries across. */
static uint64_t eight_value(const char *p) {
        uint64_t v;

        memcpy(&v, p, sizeof(v));
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        v = __builtin_bswap64(v);
#endif
        v -= 0x3030303030303030ull;                      /* d0 in byte 0 */
        v = (v * 10 + (v >> 8)) & 0x00ff00ff00ff00ffull;  /* 10*d0 + d1 */
        v = (v * 100 + (v >> 16)) & 0x0000ffff0000ffffull;
        return (v & 0xffffffffull) * 10000 + (v >> 32);
}

/* Adds the digits at *pp to w (up to SIG_MAX significant ones in all,
 * counted in *nd); *dropped counts the integer-part digits beyond them,
 * *sticky says whether one of any beyond was nonzero. Leading zeros are
 * the caller's. Returns the digits read. */
static inline __attribute__((always_inline)) size_t
add_digits(const char **pp, const char *end, uint64_t *w, int *nd,
           int64_t *dropped, int *sticky) {
        const char *p = *pp, *start = p;

        while (*nd <= SIG_MAX - 8 && end - p >= 8 && eight_digits(p)) {
                *w = *w * 100000000u + eight_value(p);
                *nd += 8;
                p += 8;
        }
        for (; p < end && is_digit(*p); p++) {
                if (*nd < SIG_MAX) {
                        *w = *w * 10 + (unsigned)(*p - '0');
                        ++*nd;
                } else {
                        ++*dropped;
                        *sticky |= *p != '0';
                }
        }
        *pp = p;
        return (size_t)(p - start);
}

/* A number as read: value = w * 10^(q + exp10), w its first SIG_MAX
 * significant digits (sticky: a nonzero digit came after them). */
typedef struct num_s {
        uint64_t w;
        int64_t q, exp10;
        int sticky, neg, real;
        size_t int_digits;
        const char *mant, *mant_end; /* the digits and the point */
} num_t;

/* Reads a number at s: strtof()'s decimal grammar, or with strict JSON's
 * (no '+', no leading zero before a digit: the number is that "0", digits
 * after a point and in an exponent). Returns its end, or NULL. */
static inline __attribute__((always_inline)) const char *
parse(const char *s, const char *end, int strict, num_t *n) {
        const char *p = s;
        int64_t dropped = 0;
        size_t digits = 0, k;
        int nd = 0;

        n->w = 0;
        n->exp10 = 0;
        n->sticky = n->neg = n->real = 0;
        n->mant_end = NULL;
        if (p < end && (*p == '-' || (!strict && *p == '+')))
                n->neg = *p++ == '-';
        n->mant = p;
        /* integer part: w gets its digits, q counts those dropped */
        if (strict && p < end && *p == '0') {
                p++;
                digits = 1;
        } else {
                for (; p < end && *p == '0'; p++)
                        digits++;
                digits += add_digits(&p, end, &n->w, &nd, &dropped,
                                     &n->sticky);
        }
        if (strict && !digits)
                return NULL;
        n->int_digits = digits;
        n->q = dropped;
        if (p < end && *p == '.') {
                /* fraction: each digit kept makes q one smaller */
                p++;
                if (strict && (p == end || !is_digit(*p)))
                        return NULL;
                n->real = 1;
                if (!n->w)
                        for (; p < end && *p == '0'; p++, n->q--)
                                digits++;
                dropped = 0;
                k = add_digits(&p, end, &n->w, &nd, &dropped, &n->sticky);
                digits += k;
                n->q -= (int64_t)k - dropped;
        }
        if (!digits)
                return NULL;
        n->mant_end = p;
        if (p < end && (*p == 'e' || *p == 'E')) {
                const char *t = p + 1;
                int eneg = 0;

                if (t < end && (*t == '-' || *t == '+'))
                        eneg = *t++ == '-';
                if (t < end && is_digit(*t)) {
                        for (; t < end && is_digit(*t); t++)
                                if (n->exp10 < 1000000000000LL) /* saturate */
                                        n->exp10 = n->exp10 * 10 + (*t - '0');
                        if (eneg)
                                n->exp10 = -n->exp10;
                        n->real = 1;
                        p = t;
                } else if (strict) {
                        return NULL;
                }
        }
        return p;
}

static inline __attribute__((always_inline)) float
convert(const num_t *n) {
        int64_t q = n->q + n->exp10;
        uint32_t bits, b2;
        float f;

        if (!atomic_load_explicit(&pow_ready, memory_order_acquire))
                pthread_once(&pow_once, pow_init);
        if (!n->w) {
                bits = 0;
        } else if (!n->sticky) {
                if (!fast_bits(n->w, q, &bits))
                        bits = slow_bits(n->mant, n->mant_end, n->exp10);
        } else if (!fast_bits(n->w, q, &bits) ||
                   !fast_bits(n->w + 1, q, &b2) || bits != b2) {
                bits = slow_bits(n->mant, n->mant_end, n->exp10);
        }
        bits |= (uint32_t)n->neg << 31;
        memcpy(&f, &bits, sizeof(f));
        return f;
}

const char *vcdc_decfloat_scan(const char *s, const char *end, float *out) {
        num_t n;
        const char *p = parse(s, end, 0, &n);

        if (p)
                *out = convert(&n);
        return p;
}

/* The common JSON number, with few branches: an optional '-', an integer
 * part, a fraction, no exponent, at most 19 significant digits, 32 bytes
 * of text at hand (so the 8-byte reads need no bounds), a product that
 * decides. Returns its end, or NULL for parse() and convert() to decide. */
static const char *json_fast(const char *s, const char *end, float *out,
                             vcdc_decfloat_json_t *info) {
        const char *p = s, *f;
        uint64_t w = 0;
        uint32_t bits;
        int neg, nd = 0;
        size_t ni;

        if (end - s < 32)
                return NULL;
        neg = *p == '-';
        p += neg;
        if (*p == '0') {
                p++;
        } else {
                while (is_digit(*p) && nd < 8) {
                        w = w * 10 + (unsigned)(*p++ - '0');
                        nd++;
                }
                if (!nd || is_digit(*p))
                        return NULL; /* none, or a long integer part */
        }
        ni = (size_t)(p - s) - (size_t)neg;
        if (*p != '.' || !is_digit(p[1]))
                return NULL; /* an integer, an exponent, or an error */
        f = ++p;
        if (!w)
                while (*p == '0' && p - f <= 8)
                        p++;
        if (p - f > 8)
                return NULL; /* many leading zeros */
        if (eight_digits(p)) {
                w = w * 100000000u + eight_value(p);
                nd += 8;
                p += 8;
                if (nd <= SIG_MAX - 8 && eight_digits(p)) {
                        w = w * 100000000u + eight_value(p);
                        nd += 8;
                        p += 8;
                }
        }
        while (is_digit(*p) && nd < SIG_MAX) {
                w = w * 10 + (unsigned)(*p++ - '0');
                nd++;
        }
        if (is_digit(*p) || *p == 'e' || *p == 'E')
                return NULL; /* more digits, or an exponent */
        if (!atomic_load_explicit(&pow_ready, memory_order_acquire))
                pthread_once(&pow_once, pow_init);
        if (!w)
                bits = 0;
        else if (!fast_bits(w, -(int64_t)(p - f), &bits))
                return NULL;
        bits |= (uint32_t)neg << 31;
        memcpy(out, &bits, sizeof(*out));
        info->real = 1;
        info->int_digits = ni;
        info->exp10 = 0;
        return p;
}

const char *vcdc_decfloat_json(const char *s, const char *end, float *out,
                               vcdc_decfloat_json_t *info) {
        num_t n;
        const char *p = json_fast(s, end, out, info);

        if (p)
                return p;
        if (!(p = parse(s, end, 1, &n)))
                return NULL;
        *out = convert(&n);
        info->real = n.real;
        info->int_digits = n.int_digits;
        info->exp10 = n.exp10;
        return p;
}

int vcdc_decfloat_parse(const char *s, size_t len, float *out) {
        num_t n;

        if (parse(s, s + len, 0, &n) != s + len)
                return -1;
        *out = convert(&n);
        return 0;
}

double vcdc_decfloat_double(const char *s, size_t len) {
        /* Every double rounding boundary has at most 767 significant
         * digits, the smallest is 2^-1075 > 10^-324, and 10^309 is beyond
         * the largest. */
        char buf[DOUBLE_SIG + 32];
        const char *p = s, *end = s + len, *mant, *mant_end;
        int64_t exp10 = 0;
        int neg = 0;
        double d;

        if (p < end && (*p == '-' || *p == '+'))
                neg = *p++ == '-';
        mant = p;
        while (p < end && (is_digit(*p) || *p == '.'))
                p++;
        mant_end = p;
        if (p < end && (*p == 'e' || *p == 'E')) {
                int eneg = 0;

                p++;
                if (p < end && (*p == '-' || *p == '+'))
                        eneg = *p++ == '-';
                for (; p < end && is_digit(*p); p++)
                        if (exp10 < 1000000000000LL)
                                exp10 = exp10 * 10 + (*p - '0');
                if (eneg)
                        exp10 = -exp10;
        }
        switch (normalise(mant, mant_end, exp10, DOUBLE_SIG, -324, 309,
                          buf)) {
        case 1:
                d = 0.0;
                break;
        case 2:
                d = HUGE_VAL;
                break;
        default:
                d = strtod(buf, NULL);
                break;
        }
        return neg ? -d : d;
}
