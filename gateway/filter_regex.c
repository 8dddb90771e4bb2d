/*
 * vcdc - a client's $regex checked before regcomp() sees it. glibc builds
 * a repetition by copying what it repeats (x+ as x x*, x{n,m} as m
 * copies), so repetitions of repetitions multiply: a pattern of a few
 * hundred bytes ("c+++++...", or groups repeated inside groups) can take
 * gigabytes to compile, which a gateway must not let a request do. This
 * estimates the compiled size, counting those copies, and refuses what
 * Chroma's own regex engine refuses too: a repetition of a repetition
 * (but a lazy "?" after one) and a compiled size past a limit.
 */
#include "filter_int.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define MAX_DEPTH 64

/* One group being read: its size so far and the size of its last piece
 * (what a repetition that follows would copy). */
typedef struct frame_s {
        uint64_t total, last;
        int after_rep; /* 0, 1 after a repetition, 2 after its lazy "?" */
} frame_t;

static uint64_t sat_add(uint64_t a, uint64_t b) {
        return a + b < a || a + b > VCDC_FILTER_REGEX_MAX
                       ? VCDC_FILTER_REGEX_MAX + 1
                       : a + b;
}

static uint64_t sat_mul(uint64_t a, uint64_t b) {
        if (a && b > (VCDC_FILTER_REGEX_MAX + 1) / a)
                return VCDC_FILTER_REGEX_MAX + 1;
        return a * b;
}

static void piece(frame_t *f, uint64_t size) {
        f->total = sat_add(f->total, size);
        f->last = size;
        f->after_rep = 0;
}

/* A repetition making count copies of f's last piece in all. 0, or -1
 * for a repetition of a repetition. */
static int repeat(frame_t *f, char c, uint64_t count) {
        if (f->after_rep == 1 && c == '?') {
                f->after_rep = 2; /* lazy: nothing copied */
                return 0;
        }
        if (f->after_rep)
                return -1;
        f->total = sat_add(f->total, sat_mul(f->last, count - 1));
        f->last = sat_mul(f->last, count);
        f->after_rep = 1;
        return 0;
}

/* "{n}", "{n,}" or "{n,m}" at p: the copies it makes (m, or n + 1 for
 * "{n,}"), and its length in *lenp; 0 when p holds no bound (a literal
 * "{" to glibc), VCDC_FILTER_REGEX_MAX + 1 past the largest count. */
static uint64_t bound(const char *p, size_t *lenp) {
        uint64_t n = 0, m = 0;
        const char *q = p + 1;
        int digits = 0, comma = 0, mdigits = 0;

        for (; *q >= '0' && *q <= '9'; q++, digits++)
                n = n > 100000 ? n : n * 10 + (uint64_t)(*q - '0');
        if (*q == ',') {
                comma = 1;
                for (q++; *q >= '0' && *q <= '9'; q++, mdigits++)
                        m = m > 100000 ? m : m * 10 + (uint64_t)(*q - '0');
        }
        if (!digits || *q != '}')
                return 0;
        *lenp = (size_t)(q - p) + 1;
        if (n > VCDC_FILTER_REGEX_REPEAT || m > VCDC_FILTER_REGEX_REPEAT)
                return VCDC_FILTER_REGEX_MAX + 1;
        if (!comma)
                return n ? n : 1;
        return mdigits ? (m ? m : 1) : n + 1;
}

int vcdc_filter_regex_check(const char *p, char *why, size_t why_size) {
        frame_t st[MAX_DEPTH + 1];
        int depth = 0;
        size_t len;
        uint64_t c;

        memset(st, 0, sizeof(st));
        for (; *p; p++) {
                frame_t *f = &st[depth];

                switch (*p) {
                case '\\':
                        if (p[1])
                                p++;
                        piece(f, 1);
                        break;
                case '[':
                        /* A bracket expression is one piece: "]" first
                         * (or after "^") is a member, "[:alpha:]" too. */
                        p++;
                        if (*p == '^')
                                p++;
                        if (*p == ']')
                                p++;
                        while (*p && *p != ']') {
                                if (*p == '[' && (p[1] == ':' || p[1] == '.' ||
                                                  p[1] == '=')) {
                                        const char *e = strchr(p + 2, p[1]);
                                        if (e && e[1] == ']')
                                                p = e + 1;
                                }
                                p++;
                        }
                        if (!*p)
                                return 0; /* unclosed: regcomp says so */
                        piece(f, 1);
                        break;
                case '(':
                        if (depth == MAX_DEPTH) {
                                snprintf(why, why_size,
                                         "groups nested deeper than %d",
                                         MAX_DEPTH);
                                return -1;
                        }
                        memset(&st[++depth], 0, sizeof(*st));
                        break;
                case ')':
                        if (!depth) {
                                piece(f, 1);
                                break;
                        }
                        c = sat_add(st[depth].total, 1);
                        depth--;
                        piece(&st[depth], c);
                        break;
                case '|':
                        f->last = 0;
                        f->after_rep = 0;
                        break;
                case '*':
                case '+':
                case '?':
                        if (repeat(f, *p, 2) == -1)
                                goto twice;
                        break;
                case '{':
                        if (!(c = bound(p, &len))) {
                                piece(f, 1);
                                break;
                        }
                        if (c > VCDC_FILTER_REGEX_MAX) {
                                snprintf(why, why_size,
                                         "a repetition count past %d",
                                         VCDC_FILTER_REGEX_REPEAT);
                                return -1;
                        }
                        if (repeat(f, '{', c) == -1)
                                goto twice;
                        p += len - 1;
                        break;
                default:
                        piece(f, 1);
                }
        }
        for (c = 0; depth >= 0; depth--)
                c = sat_add(c, st[depth].total);
        if (c > VCDC_FILTER_REGEX_MAX) {
                snprintf(why, why_size,
                         "the pattern, its repetitions expanded, is larger "
                         "than %d pieces",
                         VCDC_FILTER_REGEX_MAX);
                return -1;
        }
        return 0;
twice:
        snprintf(why, why_size,
                 "repetition operator missing expression (a "
                 "repetition of a repetition)");
        return -1;
}
