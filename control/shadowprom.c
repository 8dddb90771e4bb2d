/*
 * vcdc - reading the gateway's shadow-read metrics out of a Prometheus
 * text exposition (format 0.0.4): each line a comment, blank, or
 * "name{label="value",...} value [timestamp]". Only the shadow metrics
 * (shadowprom.h) are kept; every line is still checked, so a truncated
 * or foreign answer is an error, not a silent zero.
 */
#include "shadowprom.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME_MAX_LEN  128
#define LABEL_VAL_MAX 32

/* One sample line, its labels of interest. */
typedef struct sample_s {
        char name[NAME_MAX_LEN];
        char side[LABEL_VAL_MAX], quantile[LABEL_VAL_MAX];
        double value;
} sample_t;

static int name_start(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
               c == ':';
}

static int name_char(char c) {
        return name_start(c) || (c >= '0' && c <= '9');
}

static const char *skip_blanks(const char *p, const char *end) {
        while (p < end && (*p == ' ' || *p == '\t'))
                p++;
        return p;
}

/* A name at *pp into out (cut at its size: such a name is none of
 * ours). Returns 0, or -1 when there is none. */
static int read_name(const char **pp, const char *end, char *out, size_t size) {
        const char *p = *pp;
        size_t n = 0;

        if (p >= end || !name_start(*p))
                return -1;
        for (; p < end && name_char(*p); p++)
                if (n + 1 < size)
                        out[n++] = *p;
        out[n] = '\0';
        if ((size_t)(p - *pp) >= size)
                out[0] = '\0';
        *pp = p;
        return 0;
}

/* A quoted label value at *pp (the opening quote) into out; a value too
 * long for out is read but left empty. Returns 0 or -1 with why. */
static int read_label_value(const char **pp, const char *end, char *out,
                            size_t size, const char **why) {
        const char *p = *pp;
        size_t n = 0;
        int too_long = 0;
        char c;

        if (p >= end || *p != '"') {
                *why = "a label value must be quoted";
                return -1;
        }
        for (p++; p < end && *p != '"'; p++) {
                c = *p;
                if (c == '\\') {
                        if (++p >= end)
                                break;
                        if (*p == 'n')
                                c = '\n';
                        else if (*p == '\\' || *p == '"')
                                c = *p;
                        else {
                                *why = "bad escape in a label value";
                                return -1;
                        }
                }
                if (n + 1 < size)
                        out[n++] = c;
                else
                        too_long = 1;
        }
        if (p >= end) {
                *why = "unterminated label value";
                return -1;
        }
        out[too_long ? 0 : n] = '\0';
        *pp = p + 1;
        return 0;
}

/* The value: a float as Go's ParseFloat takes it, or NaN, +Inf, -Inf. */
static int read_value(const char **pp, const char *end, double *vp) {
        char tok[64], *e;
        const char *p = *pp;
        size_t n = 0;

        while (p < end && *p != ' ' && *p != '\t') {
                if (n + 1 >= sizeof(tok))
                        return -1;
                tok[n++] = *p++;
        }
        tok[n] = '\0';
        if (!n)
                return -1;
        if (!strcmp(tok, "NaN"))
                *vp = NAN;
        else if (!strcmp(tok, "+Inf") || !strcmp(tok, "Inf"))
                *vp = INFINITY;
        else if (!strcmp(tok, "-Inf"))
                *vp = -INFINITY;
        else {
                /* strtod takes hex and "inf"/"nan" words the format does
                 * not: only digits, sign, point and exponent here. */
                if (strspn(tok, "0123456789+-.eE") != n)
                        return -1;
                errno = 0;
                *vp = strtod(tok, &e);
                if (e != tok + n || errno == ERANGE)
                        return -1;
        }
        *pp = p;
        return 0;
}

/* One non-comment line into *s. Returns 0 or -1 with why. */
static int parse_sample(const char *p, const char *end, sample_t *s,
                        const char **why) {
        char lname[NAME_MAX_LEN], lval[LABEL_VAL_MAX];

        memset(s, 0, sizeof(*s));
        if (read_name(&p, end, s->name, sizeof(s->name)) == -1) {
                *why = "expected a metric name";
                return -1;
        }
        if (p < end && *p == '{') {
                p = skip_blanks(p + 1, end);
                while (p < end && *p != '}') {
                        if (read_name(&p, end, lname, sizeof(lname)) == -1) {
                                *why = "expected a label name";
                                return -1;
                        }
                        p = skip_blanks(p, end);
                        if (p >= end || *p != '=') {
                                *why = "expected '=' after a label name";
                                return -1;
                        }
                        p = skip_blanks(p + 1, end);
                        if (read_label_value(&p, end, lval, sizeof(lval),
                                             why) == -1)
                                return -1;
                        if (!strcmp(lname, "side"))
                                memcpy(s->side, lval, sizeof(lval));
                        else if (!strcmp(lname, "quantile"))
                                memcpy(s->quantile, lval, sizeof(lval));
                        p = skip_blanks(p, end);
                        if (p < end && *p == ',')
                                p = skip_blanks(p + 1, end);
                        else if (p < end && *p != '}') {
                                *why = "expected ',' or '}' after a label";
                                return -1;
                        }
                }
                if (p >= end) {
                        *why = "unterminated label set";
                        return -1;
                }
                p++;
        }
        if (p >= end || (*p != ' ' && *p != '\t')) {
                *why = "expected a blank and a value after the name";
                return -1;
        }
        p = skip_blanks(p, end);
        if (read_value(&p, end, &s->value) == -1) {
                *why = "the value is not a number";
                return -1;
        }
        p = skip_blanks(p, end);
        if (p < end) { /* a timestamp: an integer of milliseconds */
                const char *t = p;

                if (*p == '-' || *p == '+')
                        p++;
                while (p < end && *p >= '0' && *p <= '9')
                        p++;
                if (p == t || (p == t + 1 && (*t == '-' || *t == '+')) ||
                    skip_blanks(p, end) != end) {
                        *why = "unexpected text after the value";
                        return -1;
                }
        }
        return 0;
}

/* The side a label names: 0 OLD, 1 NEW, -1 none of them. */
static int side_index(const char *side) {
        if (!strcmp(side, "old"))
                return 0;
        if (!strcmp(side, "new"))
                return 1;
        return -1;
}

/* Takes s into out when it is one of ours. Returns 0 or -1 with why. */
static int take(const sample_t *s, vcdc_shadow_prom_t *out, const char **why) {
        static const struct {
                const char *name;
                size_t off;
        } plain[] = {
                {VCDC_SHADOW_M_SAMPLED, offsetof(vcdc_shadow_prom_t, sampled)},
                {VCDC_SHADOW_M_QUERIES, offsetof(vcdc_shadow_prom_t, queries)},
                {VCDC_SHADOW_M_COMPARED,
                 offsetof(vcdc_shadow_prom_t, compared)},
                {VCDC_SHADOW_M_DROPPED, offsetof(vcdc_shadow_prom_t, dropped)},
                {VCDC_SHADOW_M_MATCHES, offsetof(vcdc_shadow_prom_t, matches)},
                {VCDC_SHADOW_M_POSITIONS,
                 offsetof(vcdc_shadow_prom_t, positions)},
                {VCDC_SHADOW_M_RATE, offsetof(vcdc_shadow_prom_t, rate)},
                {VCDC_SHADOW_M_QUEUE, offsetof(vcdc_shadow_prom_t, queue)},
                {VCDC_SHADOW_M_OV_MEAN,
                 offsetof(vcdc_shadow_prom_t, overlap_mean)},
                {VCDC_SHADOW_M_OV_MIN,
                 offsetof(vcdc_shadow_prom_t, overlap_min)},
                {VCDC_SHADOW_M_RANK,
                 offsetof(vcdc_shadow_prom_t, rank_agreement)},
        };
        const char *lat = VCDC_SHADOW_M_LATENCY;
        size_t i, latlen = strlen(lat);
        int side;

        for (i = 0; i < sizeof(plain) / sizeof(*plain); i++)
                if (!strcmp(s->name, plain[i].name)) {
                        *(double *)((char *)out + plain[i].off) = s->value;
                        out->present = 1;
                        return 0;
                }
        if (!strncmp(s->name, VCDC_SHADOW_M_OVERLAP "_",
                     strlen(VCDC_SHADOW_M_OVERLAP) + 1)) {
                out->present = 1; /* the histogram: the mean says enough */
                return 0;
        }
        if (strcmp(s->name, VCDC_SHADOW_M_ERRORS) &&
            strncmp(s->name, lat, latlen))
                return 0;
        if ((side = side_index(s->side)) == -1) {
                *why = "a shadow metric without side=\"old\" or \"new\"";
                return -1;
        }
        out->present = 1;
        if (!strcmp(s->name, VCDC_SHADOW_M_ERRORS))
                out->errors[side] = s->value;
        else if (!strcmp(s->name + latlen, "_sum"))
                out->lat_sum_s[side] = s->value;
        else if (!strcmp(s->name + latlen, "_count"))
                out->lat_count[side] = s->value;
        else if (!s->name[latlen] && !strcmp(s->quantile, "0.5"))
                out->p50_s[side] = s->value;
        else if (!s->name[latlen] && !strcmp(s->quantile, "0.99"))
                out->p99_s[side] = s->value;
        return 0;
}

int vcdc_shadow_prom_parse(const char *text, size_t len,
                           vcdc_shadow_prom_t *out, char *errstr,
                           size_t errstr_size) {
        const char *p = text, *end = text + len, *nl, *le, *why = NULL;
        sample_t s;
        size_t line = 0;

        memset(out, 0, sizeof(*out));
        while (p < end) {
                line++;
                nl = memchr(p, '\n', (size_t)(end - p));
                le = nl ? nl : end;
                if (le > p && le[-1] == '\r')
                        le--;
                p = skip_blanks(p, le);
                if (p < le && *p != '#') {
                        if (memchr(p, '\0', (size_t)(le - p))) {
                                why = "a NUL byte in the line";
                                goto bad;
                        }
                        if (parse_sample(p, le, &s, &why) == -1 ||
                            take(&s, out, &why) == -1)
                                goto bad;
                }
                p = nl ? nl + 1 : end;
        }
        return 0;
bad:
        snprintf(errstr, errstr_size, "line %zu: %s", line, why);
        return -1;
}
