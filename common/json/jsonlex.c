/*
 * vcdc - the JSON scanner's lexer (jsonlex.h).
 *
 * Shaped after jansson 2.14's (load.c) so that the same texts are refused
 * at the same positions with the same words:
 *   - jansson reads the text one character at a time and checks each
 *     UTF-8 sequence when it reads its first byte, wherever it is; a token
 *     that needs to see the character after it (a number, a word) reads
 *     it, so a bad sequence there is reported with the token so far.
 *   - a lexer error (bad UTF-8, control character, bad escape, end of input
 *     in a string, a number out of range) comes before whatever the parser
 *     would have said about that token. Surrogate errors are found only
 *     once the whole string is read; \u0000 is refused by the parser, when
 *     the string becomes a value or a key.
 *   - an error message is jansson's words, followed by "near '<the token
 *     so far>'" when that is 1 to 20 bytes, or "near end of file" when
 *     there is no token (the error then counts as premature end of input).
 *   - the column counts characters on the error's line, the position bytes.
 * Raw NUL bytes are refused as invalid tokens or control characters;
 * jansson drops a NUL it reads ahead, which nothing here copies (vcdc
 * refuses NUL bytes in its input before scanning anyway).
 */
#include "jsonlex.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "decfloat.h"

/*
 * Errors
 */

int vcdc_jsonlex_error(vcdc_jsonlex_t *lx, vcdc_json_err_t code,
                       const char *saved, const char *pos, int utf8,
                       const char *fmt, ...) {
        vcdc_json_error_t *err = lx->err;
        char msg[VCDC_JSON_ERROR_TEXT];
        char text[VCDC_JSON_ERROR_TEXT + 64]; /* cut to size, as jansson */
        size_t slen = (size_t)(pos - saved), col = 0, n;
        const char *ls = pos, *c;
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        /* jansson keeps the token in a C string: a NUL ends it */
        if (slen && memchr(saved, '\0', slen))
                slen = (size_t)((const char *)memchr(saved, '\0', slen) -
                                saved);
        if (slen) {
                if (slen <= 20)
                        snprintf(text, sizeof(text), "%s near '%.*s'", msg,
                                 (int)slen, saved);
                else
                        snprintf(text, sizeof(text), "%s", msg);
        } else {
                if (code == VCDC_JSON_ERR_SYNTAX)
                        code = VCDC_JSON_ERR_PREMATURE_END;
                snprintf(text, sizeof(text),
                         utf8 ? "%s" : "%s near end of file", msg);
        }
        n = strlen(text);
        if (n > sizeof(err->text) - 1)
                n = sizeof(err->text) - 1;
        memcpy(err->text, text, n);
        err->text[n] = '\0';
        err->code = code;
        err->position = (size_t)(pos - lx->text);
        while (ls > lx->text && ls[-1] != '\n')
                ls--;
        for (c = ls; c < pos; c++)
                if (((unsigned char)*c & 0xc0) != 0x80)
                        col++;
        err->column = col;
        return -1;
}

/*
 * The lexer
 */

static int is_digit(int c) {
        return c >= '0' && c <= '9';
}

static int is_alpha(int c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int hex_value(int c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* The length of the UTF-8 character at p (its first byte >= 0x80), or 0
 * when the sequence is not valid: jansson's utf8_check_first and
 * utf8_check_full (no overlong forms, no surrogates, at most U+10FFFF). */
static size_t utf8_len(const char *s, const char *end) {
        const unsigned char *p = (const unsigned char *)s;
        size_t n, i, avail = (size_t)(end - s);
        uint32_t cp;

        if (p[0] >= 0xc2 && p[0] <= 0xdf) {
                n = 2;
                cp = p[0] & 0x1f;
        } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
                n = 3;
                cp = p[0] & 0x0f;
        } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
                n = 4;
                cp = p[0] & 0x07;
        } else {
                return 0;
        }
        if (avail < n)
                return 0;
        for (i = 1; i < n; i++) {
                if ((p[i] & 0xc0) != 0x80)
                        return 0;
                cp = cp << 6 | (p[i] & 0x3f);
        }
        if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ||
            (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000))
                return 0;
        return n;
}

/* jansson reading the character at p as part of the token that started at
 * saved: a bad UTF-8 sequence there is an error. Returns 0 if so. */
static int read_ok(vcdc_jsonlex_t *lx, const char *saved, const char *p) {
        if (p < lx->end && (unsigned char)*p >= 0x80 && !utf8_len(p, lx->end)) {
                vcdc_jsonlex_error(lx, VCDC_JSON_ERR_UTF8, saved, p, 1,
                                   "unable to decode byte 0x%x",
                                   (unsigned char)*p);
                return 0;
        }
        return 1;
}

/* 1 if one of the 8 bytes at p ends a plain run of a string: below 0x20,
 * '"', '\\' or from 0x80 up. Each test finds the lowest such byte for
 * sure (borrows start only there), which is all a yes/no needs. */
static int string_special8(const char *p) {
        const uint64_t ones = 0x0101010101010101ull;
        const uint64_t high = 0x8080808080808080ull;
        uint64_t v, q, b;

        memcpy(&v, p, sizeof(v));
        q = v ^ (ones * '"');
        b = v ^ (ones * '\\');
        return (((v - ones * 0x20) | (q - ones) | (b - ones)) & ~v & high) !=
                       0 ||
               (v & high) != 0;
}

/* An escape that is not one, in the string that starts at p: the
 * character at q (if any) was read, its first byte kept in the token. */
static vcdc_jsonlex_tok_t bad_escape(vcdc_jsonlex_t *lx, const char *p,
                                     const char *q) {
        vcdc_jsonlex_error(lx, VCDC_JSON_ERR_SYNTAX, p,
                           q == lx->end ? q : q + 1, 0, "invalid escape");
        return VCDC_T_ERROR;
}

static vcdc_jsonlex_tok_t lex_string(vcdc_jsonlex_t *lx, const char *p) {
        const char *q = p + 1, *end = lx->end;
        unsigned hi = 0;  /* a high surrogate \u followed by another \u */
        int uerr = 0;     /* the first surrogate error: 1 lone, 2 pair */
        unsigned u1 = 0, u2 = 0;

        lx->str_escaped = 0;
        lx->str_nul = 0;
        for (;;) {
                unsigned c;

                while (end - q >= 8 && !string_special8(q))
                        q += 8;
                while (q < end && (unsigned char)*q >= 0x20 &&
                       (unsigned char)*q < 0x80 && *q != '"' && *q != '\\')
                        q++;
                if (q == end) {
                        vcdc_jsonlex_error(lx, VCDC_JSON_ERR_PREMATURE_END, p,
                                           q, 0, "premature end of input");
                        return VCDC_T_ERROR;
                }
                c = (unsigned char)*q;
                if (c == '"')
                        break;
                if (c < 0x20) {
                        if (c == '\n')
                                vcdc_jsonlex_error(lx, VCDC_JSON_ERR_SYNTAX, p,
                                                   q, 0, "unexpected newline");
                        else
                                vcdc_jsonlex_error(lx, VCDC_JSON_ERR_SYNTAX, p,
                                                   q, 0,
                                                   "control character 0x%x", c);
                        return VCDC_T_ERROR;
                }
                if (c >= 0x80) {
                        size_t n = utf8_len(q, end);

                        if (!n) {
                                read_ok(lx, p, q);
                                return VCDC_T_ERROR;
                        }
                        q += n;
                        continue;
                }
                /* a backslash */
                lx->str_escaped = 1;
                q++;
                if (!read_ok(lx, p, q))
                        return VCDC_T_ERROR;
                if (q < end && *q == 'u') {
                        unsigned v = 0;
                        int i;

                        q++;
                        for (i = 0; i < 4; i++, q++) {
                                int h;

                                if (!read_ok(lx, p, q))
                                        return VCDC_T_ERROR;
                                if (q == end || (h = hex_value(*q)) < 0)
                                        return bad_escape(lx, p, q);
                                v = v << 4 | (unsigned)h;
                        }
                        if (uerr) {
                                hi = 0;
                                continue;
                        }
                        if (hi) {
                                if (v < 0xdc00 || v > 0xdfff) {
                                        uerr = 2;
                                        u1 = hi;
                                        u2 = v;
                                }
                                hi = 0;
                        } else if (v >= 0xd800 && v <= 0xdbff) {
                                /* its pair must be the very next escape */
                                if (end - q >= 2 && q[0] == '\\' &&
                                    q[1] == 'u') {
                                        hi = v;
                                } else {
                                        uerr = 1;
                                        u1 = v;
                                }
                        } else if (v >= 0xdc00 && v <= 0xdfff) {
                                uerr = 1;
                                u1 = v;
                        } else if (v == 0) {
                                lx->str_nul = 1;
                        }
                        continue;
                }
                if (q < end && strchr("\"\\/bfnrt", *q) && *q) {
                        q++;
                        continue;
                }
                return bad_escape(lx, p, q);
        }
        q++; /* the closing quote */
        lx->pos = q;
        if (uerr == 1) {
                vcdc_jsonlex_error(lx, VCDC_JSON_ERR_SYNTAX, p, q, 0,
                                   "invalid Unicode '\\u%04X'", u1);
                return VCDC_T_ERROR;
        }
        if (uerr == 2) {
                vcdc_jsonlex_error(lx, VCDC_JSON_ERR_SYNTAX, p, q, 0,
                                   "invalid Unicode '\\u%04X\\u%04X'", u1, u2);
                return VCDC_T_ERROR;
        }
        return VCDC_T_STRING;
}

/* A real number's text [p, end) that rounds beyond DBL_MAX: jansson's
 * strtod() overflow. Its first significant digit and exponent settle
 * nearly all; numbers from 10^308 to 10^309 are converted. */
static int real_overflows(const char *p, const char *end) {
        const char *q = p, *exp_at;
        long long mag = 0, e = 0;
        int eneg = 0;

        if (*q == '-')
                q++;
        for (exp_at = q; exp_at < end && *exp_at != 'e' && *exp_at != 'E';
             exp_at++)
                ;
        if (*q != '0') {
                while (q < exp_at && is_digit(*q)) {
                        q++;
                        mag++;
                }
        } else {
                q++;
                if (q < exp_at && *q == '.')
                        q++;
                while (q < exp_at && *q == '0') {
                        q++;
                        mag--;
                }
                if (q == exp_at)
                        return 0; /* zero */
        }
        if (exp_at < end) {
                q = exp_at + 1;
                if (*q == '-' || *q == '+')
                        eneg = *q++ == '-';
                for (; q < end; q++)
                        if (e < 1000000000000LL)
                                e = e * 10 + (*q - '0');
        }
        /* the value lies in [10^(mag+e-1), 10^(mag+e)) */
        mag += eneg ? -e : e;
        if (mag <= 308)
                return 0;
        if (mag >= 310)
                return 1;
        return isinf(vcdc_decfloat_double(p, (size_t)(end - p)));
}

static vcdc_jsonlex_tok_t lex_number(vcdc_jsonlex_t *lx, const char *p) {
        const char *q = p, *int_start, *end = lx->end;
        int neg = 0, real = 0;
        size_t ndig;

        if (*q == '-') {
                neg = 1;
                q++;
        }
        int_start = q;
        if (q < end && *q == '0') {
                q++;
                if (!read_ok(lx, p, q))
                        return VCDC_T_ERROR;
                if (q < end && is_digit(*q)) {
                        lx->pos = q;
                        return VCDC_T_INVALID;
                }
        } else if (q < end && is_digit(*q)) {
                while (q < end && is_digit(*q))
                        q++;
                if (!read_ok(lx, p, q))
                        return VCDC_T_ERROR;
        } else {
                if (!read_ok(lx, p, q))
                        return VCDC_T_ERROR;
                lx->pos = q;
                return VCDC_T_INVALID;
        }
        ndig = (size_t)(q - int_start);
        if (q < end && *q == '.') {
                real = 1;
                q++;
                if (!read_ok(lx, p, q))
                        return VCDC_T_ERROR;
                if (q == end || !is_digit(*q)) {
                        lx->pos = q;
                        return VCDC_T_INVALID;
                }
                while (q < end && is_digit(*q))
                        q++;
                if (!read_ok(lx, p, q))
                        return VCDC_T_ERROR;
        }
        if (q < end && (*q == 'e' || *q == 'E')) {
                real = 1;
                q++;
                if (!read_ok(lx, p, q))
                        return VCDC_T_ERROR;
                if (q < end && (*q == '+' || *q == '-')) {
                        q++;
                        if (!read_ok(lx, p, q))
                                return VCDC_T_ERROR;
                }
                if (q == end || !is_digit(*q)) {
                        lx->pos = q;
                        return VCDC_T_INVALID;
                }
                while (q < end && is_digit(*q))
                        q++;
                if (!read_ok(lx, p, q))
                        return VCDC_T_ERROR;
        }
        lx->pos = q;
        if (!real) {
                /* strtoll: int64 */
                if (ndig > 19 ||
                    (ndig == 19 &&
                     memcmp(int_start,
                            neg ? "9223372036854775808" : "9223372036854775807",
                            19) > 0)) {
                        vcdc_jsonlex_error(lx, VCDC_JSON_ERR_NUMBER_RANGE, p, q,
                                           0, "too big %sinteger",
                                           neg ? "negative " : "");
                        return VCDC_T_ERROR;
                }
                return VCDC_T_INTEGER;
        }
        if (real_overflows(p, q)) {
                vcdc_jsonlex_error(lx, VCDC_JSON_ERR_NUMBER_RANGE, p, q, 0,
                                   "real number overflow");
                return VCDC_T_ERROR;
        }
        return VCDC_T_REAL;
}

/* A word: true, false, null, or an invalid token (NaN, Infinity, ...). */
static vcdc_jsonlex_tok_t lex_word(vcdc_jsonlex_t *lx, const char *p) {
        const char *q = p;
        size_t n;

        while (q < lx->end && is_alpha(*q))
                q++;
        if (!read_ok(lx, p, q))
                return VCDC_T_ERROR;
        lx->pos = q;
        n = (size_t)(q - p);
        if (n == 4 && !memcmp(p, "true", 4))
                return VCDC_T_TRUE;
        if (n == 5 && !memcmp(p, "false", 5))
                return VCDC_T_FALSE;
        if (n == 4 && !memcmp(p, "null", 4))
                return VCDC_T_NULL;
        return VCDC_T_INVALID;
}

vcdc_jsonlex_tok_t vcdc_jsonlex_next(vcdc_jsonlex_t *lx) {
        const char *p = lx->pos, *end = lx->end;
        size_t n;

        while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
                p++;
        lx->tok = lx->pos = p;
        if (p == end)
                return VCDC_T_EOF;
        lx->pos = p + 1;
        switch (*p) {
        case '{':
                return VCDC_T_LBRACE;
        case '}':
                return VCDC_T_RBRACE;
        case '[':
                return VCDC_T_LBRACKET;
        case ']':
                return VCDC_T_RBRACKET;
        case ':':
                return VCDC_T_COLON;
        case ',':
                return VCDC_T_COMMA;
        case '"':
                return lex_string(lx, p);
        case '-':
        case '0': case '1': case '2': case '3': case '4':
        case '5': case '6': case '7': case '8': case '9':
                return lex_number(lx, p);
        default:
                break;
        }
        if (is_alpha(*p))
                return lex_word(lx, p);
        if ((unsigned char)*p >= 0x80) {
                if (!(n = utf8_len(p, end))) {
                        read_ok(lx, p, p);
                        return VCDC_T_ERROR;
                }
                lx->pos = p + n; /* the whole character is the token */
        }
        return VCDC_T_INVALID;
}


