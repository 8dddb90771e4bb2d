/*
 * vcdc - the Chroma sink: what Chroma 3.0.6's JSON parser and log make of
 * a metadata float (vcdc_chroma_stored_real()), and the shortest text that
 * reads back to a double. Pure arithmetic on text: no I/O, no JSON values.
 */
#include "sink_chroma_int.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The shortest %.Ng text that reads back to d, with a '.' or an exponent
 * so it stays a float in JSON. */
void vcdc_chroma_real_text(double d, char *out, size_t size) {
        int prec;

        for (prec = 1; prec <= 17; prec++) {
                snprintf(out, size, "%.*g", prec, d);
                if (strtod(out, NULL) == d)
                        break;
        }
        if (!strpbrk(out, ".eEni") && strlen(out) + 3 <= size)
                memcpy(out + strlen(out), ".0", 3);
}

/* 10^k as the nearest double, as in serde_json's POW10 table. */
static double pow10_nearest(int k) {
        char s[16];

        snprintf(s, sizeof(s), "1e%d", k);
        return strtod(s, NULL);
}

/*
 * What serde_json without float_roundtrip (Chroma's JSON parser) makes of
 * significand * 10^exponent: the significand rounded to a double, then one
 * multiplication or division by a power of ten. Two roundings: up to an
 * ulp away from the correctly rounded value.
 */
static double serde_f64(uint64_t significand, int exponent) {
        double f = (double)significand;

        while (exponent < -308) {
                if (f == 0)
                        return f;
                f /= 1e308;
                exponent += 308;
        }
        if (exponent > 308)
                return f == 0 ? f : INFINITY;
        return exponent >= 0 ? f * pow10_nearest(exponent)
                             : f / pow10_nearest(-exponent);
}

double vcdc_chroma_serde_read(const char *text) {
        uint64_t sig = 0;
        int exp = 0, neg = 0, eneg = 0, e = 0, digits = 0;
        const char *t = text;
        double f;

        if (*t == '-') {
                neg = 1;
                t++;
        }
        for (; *t >= '0' && *t <= '9'; t++, digits++) {
                if (sig > (UINT64_MAX - 9) / 10)
                        return NAN; /* not modelled: never produced here */
                sig = sig * 10 + (uint64_t)(*t - '0');
        }
        if (*t == '.')
                for (t++; *t >= '0' && *t <= '9'; t++, digits++, exp--) {
                        if (sig > (UINT64_MAX - 9) / 10)
                                return NAN;
                        sig = sig * 10 + (uint64_t)(*t - '0');
                }
        if (*t == 'e' || *t == 'E') {
                t++;
                if (*t == '+' || *t == '-')
                        eneg = *t++ == '-';
                for (; *t >= '0' && *t <= '9' && e < 100000; t++)
                        e = e * 10 + (*t - '0');
                exp += eneg ? -e : e;
        }
        if (*t || !digits)
                return NAN;
        f = serde_f64(sig, exp);
        return neg ? -f : f;
}

/*
 * The text serde_json writes for d (ryu's format): the shortest digits,
 * as 1234.0, 12.34, 0.001234, 1e30 or 1.234e30 depending on where the
 * decimal point falls.
 */
static void ryu_text(double d, char *out, size_t size) {
        char tmp[40], digits[24];
        const char *sign = signbit(d) ? "-" : "";
        int prec, len = 0, k, kk;
        const char *p;

        if (d == 0) {
                snprintf(out, size, "%s0.0", sign);
                return;
        }
        for (prec = 1; prec <= 17; prec++) {
                snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, fabs(d));
                if (strtod(tmp, NULL) == fabs(d))
                        break;
        }
        for (p = tmp; *p && *p != 'e'; p++)
                if (*p != '.')
                        digits[len++] = *p;
        digits[len] = '\0';
        k = (int)strtol(p + 1, NULL, 10) - (len - 1); /* d = digits e k */
        kk = len + k;                                 /* where '.' falls */
        if (k >= 0 && kk <= 16)
                snprintf(out, size, "%s%s%.*s.0", sign, digits, k,
                         "0000000000000000");
        else if (kk > 0 && kk <= 16)
                snprintf(out, size, "%s%.*s.%s", sign, kk, digits, digits + kk);
        else if (kk > -5 && kk <= 0)
                snprintf(out, size, "%s0.%.*s%s", sign, -kk, "00000", digits);
        else if (len == 1)
                snprintf(out, size, "%s%se%d", sign, digits, kk - 1);
        else
                snprintf(out, size, "%s%c.%se%d", sign, digits[0], digits + 1,
                         kk - 1);
}

double vcdc_chroma_stored_real(double d) {
        char text[64];

        if (!isfinite(d))
                return d;
        /* The request as we write it... */
        vcdc_chroma_real_text(d, text, sizeof(text));
        d = vcdc_chroma_serde_read(text);
        /* ...then Chroma's log, which writes what it parsed with
         * serde_json and parses that again. */
        ryu_text(d, text, sizeof(text));
        return vcdc_chroma_serde_read(text);
}
