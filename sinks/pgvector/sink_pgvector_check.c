/*
 * vcdc - what PostgreSQL 16 with pgvector 0.8 refuses in a row of vcdc's
 * table, predicted without a server (issue 14: the consumer dead-letters
 * what check() refuses before batching, so the database should refuse
 * nothing that check() passed, and check() should refuse nothing the
 * database takes).
 *
 * The metadata column is jsonb. Its input is JSON (RFC 8259: no comments,
 * no trailing commas, no NaN, no leading zeros, control characters
 * escaped) with three limits of its own, found against the server:
 *   - \u0000 anywhere (value or key) is refused (22P05: jsonb text cannot
 *     hold NUL), as is a lone or reversed surrogate escape (22P02);
 *   - numbers become numeric: the display scale (digits after the point,
 *     minus the exponent, at least 0) must be at most 16,383, and the
 *     weight of the leading digit in base 10,000 at most 32,767 (the
 *     value below 10^131072), and an exponent beyond +-1,073,741,823 is
 *     refused outright, even on 0 (0e-99999 has scale 99,999: refused;
 *     1e-16383 is taken, 1e-16384 and 10e-16384 are not; integers of any
 *     length are taken, unlike jansson's, which stop at 64 bits);
 *   - nesting is limited by the server's stack (max_stack_depth): about
 *     15,000 levels at its default of 2 MB. Refused here beyond
 *     VCDC_PGVECTOR_JSON_DEPTH_MAX (2,048, which jansson also keeps), a
 *     depth that holds with any max_stack_depth of 1 MB or more.
 * Strings must be valid UTF-8 (the whole text is, for the database's
 * UTF8 encoding).
 */
#include "sink_pgvector_int.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "utf8.h"

/* numeric's limits (PostgreSQL's NUMERIC_DSCALE_MAX, the int16 weight in
 * base NBASE = 10,000 digits, and numeric_in's exponent bound). */
#define NUMERIC_DSCALE_MAX 16383
#define NUMERIC_WEIGHT_MAX 32767
#define NUMERIC_EXP_MAX    1073741823 /* PG_INT32_MAX / 2 */

typedef struct jscan_s {
        const unsigned char *start, *p;
        int depth;
        char *err;
        size_t err_size;
} jscan_t;

static int fail_at(jscan_t *j, const char *what) {
        snprintf(j->err, j->err_size, "%s at byte %zu", what,
                 (size_t)(j->p - j->start));
        return -1;
}

static void skip_ws(jscan_t *j) {
        while (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')
                j->p++;
}

static int hex4(const unsigned char *p, uint32_t *cpp) {
        uint32_t v = 0;
        int i;

        for (i = 0; i < 4; i++) {
                unsigned char c = p[i];
                v <<= 4;
                if (c >= '0' && c <= '9')
                        v |= (uint32_t)(c - '0');
                else if (c >= 'a' && c <= 'f')
                        v |= (uint32_t)(c - 'a' + 10);
                else if (c >= 'A' && c <= 'F')
                        v |= (uint32_t)(c - 'A' + 10);
                else
                        return -1;
        }
        *cpp = v;
        return 0;
}

static int scan_string(jscan_t *j) {
        j->p++; /* the opening quote */
        for (;;) {
                unsigned char c = *j->p;
                uint32_t cp, lo;

                if (c == '"') {
                        j->p++;
                        return 0;
                }
                if (c == '\0')
                        return fail_at(j, "unterminated string");
                if (c < 0x20)
                        return fail_at(j, "unescaped control character in "
                                          "a string");
                j->p++;
                if (c != '\\')
                        continue;
                c = *j->p;
                if (c && strchr("\"\\/bfnrt", c)) {
                        j->p++;
                        continue;
                }
                if (c != 'u' || hex4(j->p + 1, &cp) == -1)
                        return fail_at(j, "invalid escape");
                if (cp == 0)
                        return fail_at(j, "\\u0000, which jsonb cannot hold");
                if (cp >= 0xdc00 && cp <= 0xdfff)
                        return fail_at(j, "a low surrogate escape without a "
                                          "high one before it");
                j->p += 5;
                if (cp >= 0xd800 && cp <= 0xdbff) {
                        if (j->p[0] != '\\' || j->p[1] != 'u' ||
                            hex4(j->p + 2, &lo) == -1 || lo < 0xdc00 ||
                            lo > 0xdfff)
                                return fail_at(j, "a high surrogate escape "
                                                  "without a low one after "
                                                  "it");
                        j->p += 6;
                }
        }
}

/* A JSON number, then numeric's limits. */
static int scan_number(jscan_t *j) {
        int64_t int_digits = 0, frac_digits = 0, exp = 0, lead = 0;
        int nonzero = 0, exp_neg = 0;

        if (*j->p == '-')
                j->p++;
        if (*j->p == '0') {
                j->p++;
                if (*j->p >= '0' && *j->p <= '9')
                        return fail_at(j, "a number with a leading zero");
                int_digits = 1;
        } else if (*j->p >= '1' && *j->p <= '9') {
                while (*j->p >= '0' && *j->p <= '9') {
                        /* lead: the leading nonzero digit's power of 10,
                         * before the exponent, counted from the left */
                        if (!nonzero && *j->p != '0') {
                                nonzero = 1;
                                lead = int_digits;
                        }
                        int_digits++;
                        j->p++;
                }
        } else {
                return fail_at(j, "invalid number");
        }
        if (*j->p == '.') {
                j->p++;
                if (*j->p < '0' || *j->p > '9')
                        return fail_at(j, "no digit after a decimal point");
                while (*j->p >= '0' && *j->p <= '9') {
                        if (!nonzero && *j->p != '0') {
                                nonzero = 1;
                                lead = int_digits + frac_digits;
                        }
                        frac_digits++;
                        j->p++;
                }
        }
        if (*j->p == 'e' || *j->p == 'E') {
                j->p++;
                if (*j->p == '+' || *j->p == '-')
                        exp_neg = *j->p++ == '-';
                if (*j->p < '0' || *j->p > '9')
                        return fail_at(j, "no digit in an exponent");
                while (*j->p >= '0' && *j->p <= '9') {
                        exp = exp * 10 + (*j->p++ - '0');
                        if (exp > NUMERIC_EXP_MAX)
                                return fail_at(j, "a number whose exponent "
                                                  "numeric cannot hold");
                }
                if (exp_neg)
                        exp = -exp;
        }
        if (frac_digits - exp > NUMERIC_DSCALE_MAX)
                return fail_at(j, "a number with more than 16383 digits "
                                  "after the decimal point (numeric's "
                                  "limit)");
        if (nonzero) {
                /* The leading digit's decimal exponent, then its weight
                 * in base 10,000 (rounded down). */
                int64_t p10 = int_digits - 1 - lead + exp;
                int64_t weight = p10 >= 0 ? p10 / 4 : -((-p10 - 1) / 4 + 1);
                if (weight > NUMERIC_WEIGHT_MAX)
                        return fail_at(j, "a number of 10^131072 or more "
                                          "(numeric's limit)");
        }
        return 0;
}

static int scan_literal(jscan_t *j, const char *word) {
        size_t n = strlen(word);

        if (strncmp((const char *)j->p, word, n))
                return fail_at(j, "invalid value");
        j->p += n;
        return 0;
}

static int scan_value(jscan_t *j);

/* An object or an array; close is '}' or ']'. */
static int scan_container(jscan_t *j, unsigned char close) {
        int first = 1;

        if (++j->depth > VCDC_PGVECTOR_JSON_DEPTH_MAX)
                return fail_at(j, "nesting deeper than 2048 levels");
        j->p++;
        skip_ws(j);
        if (*j->p == close) {
                j->p++;
                j->depth--;
                return 0;
        }
        for (;;) {
                if (!first) {
                        skip_ws(j);
                        if (*j->p == close) {
                                j->p++;
                                j->depth--;
                                return 0;
                        }
                        if (*j->p != ',')
                                return fail_at(j, close == '}'
                                                          ? "expected , or }"
                                                          : "expected , or ]");
                        j->p++;
                        skip_ws(j);
                }
                first = 0;
                if (close == '}') {
                        if (*j->p != '"')
                                return fail_at(j, "expected a key");
                        if (scan_string(j) == -1)
                                return -1;
                        skip_ws(j);
                        if (*j->p != ':')
                                return fail_at(j, "expected :");
                        j->p++;
                        skip_ws(j);
                }
                if (scan_value(j) == -1)
                        return -1;
        }
}

static int scan_value(jscan_t *j) {
        switch (*j->p) {
        case '{':
                return scan_container(j, '}');
        case '[':
                return scan_container(j, ']');
        case '"':
                return scan_string(j);
        case 't':
                return scan_literal(j, "true");
        case 'f':
                return scan_literal(j, "false");
        case 'n':
                return scan_literal(j, "null");
        default:
                return scan_number(j);
        }
}

int vcdc_pgvector_jsonb_check(const char *json, int want_object, char *err,
                              size_t err_size) {
        jscan_t j = {.start = (const unsigned char *)json,
                     .p = (const unsigned char *)json,
                     .err = err,
                     .err_size = err_size};

        /* The whole text first, as the database's text input does. */
        if (!vcdc_utf8_valid(json, strlen(json))) {
                snprintf(err, err_size, "invalid UTF-8");
                return -1;
        }
        skip_ws(&j);
        if (want_object && *j.p != '{')
                return fail_at(&j, "not a JSON object");
        if (scan_value(&j) == -1)
                return -1;
        skip_ws(&j);
        if (*j.p)
                return fail_at(&j, "text after the JSON value");
        return 0;
}
