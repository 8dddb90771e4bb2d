/*
 * vcdc - reading values of a validated JSON text in place (jsonspan.h).
 *
 * Everything here trusts the scanner: a string ends at the first quote not
 * escaped, a \u has four hex digits and a high surrogate its low one, a
 * container's brackets match. So it walks the text without checks.
 */
#include "jsonspan.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "decfloat.h"

const char *vcdc_json_type_name(vcdc_json_type_t type) {
        switch (type) {
        case VCDC_JSON_OBJECT:
                return "an object";
        case VCDC_JSON_ARRAY:
                return "an array";
        case VCDC_JSON_STRING:
                return "a string";
        case VCDC_JSON_INTEGER:
                return "an integer";
        case VCDC_JSON_REAL:
                return "a real number";
        case VCDC_JSON_TRUE:
                return "true";
        case VCDC_JSON_FALSE:
                return "false";
        case VCDC_JSON_NULL:
                return "null";
        }
        return "an unknown type";
}

static int is_ws(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static const char *skip_ws(const char *p, const char *end) {
        while (p < end && is_ws(*p))
                p++;
        return p;
}

/* p at a string's opening quote, its closing one before end: returns the
 * byte after that; *escaped tells whether it had a backslash. */
static const char *skip_string(const char *p, const char *end,
                               int *escaped) {
        const uint64_t ones = 0x0101010101010101ull;
        const uint64_t high = 0x8080808080808080ull;

        *escaped = 0;
        p++;
        for (;;) {
                uint64_t v, q, b;

                /* 8 at a time while none is '"' or '\\' */
                while (end - p >= 8) {
                        memcpy(&v, p, sizeof(v));
                        q = v ^ (ones * '"');
                        b = v ^ (ones * '\\');
                        if (((q - ones) & ~q & high) | ((b - ones) & ~b & high))
                                break;
                        p += 8;
                }
                while (*p != '"' && *p != '\\')
                        p++;
                if (*p == '"')
                        return p + 1;
                *escaped = 1;
                p += 2; /* \x; a \u's hex digits are plain */
        }
}

static vcdc_json_type_t type_at(const char *p, const char *end) {
        switch (*p) {
        case '{':
                return VCDC_JSON_OBJECT;
        case '[':
                return VCDC_JSON_ARRAY;
        case '"':
                return VCDC_JSON_STRING;
        case 't':
                return VCDC_JSON_TRUE;
        case 'f':
                return VCDC_JSON_FALSE;
        case 'n':
                return VCDC_JSON_NULL;
        }
        for (; p < end && (*p == '-' || (*p >= '0' && *p <= '9')); p++)
                ;
        return p < end && (*p == '.' || *p == 'e' || *p == 'E')
                       ? VCDC_JSON_REAL
                       : VCDC_JSON_INTEGER;
}

/* The end of the value at p. */
static const char *skip_value(const char *p, const char *end, int *escaped) {
        int depth = 0;

        *escaped = 0;
        if (*p == '"')
                return skip_string(p, end, escaped);
        if (*p != '{' && *p != '[') {
                while (p < end && *p != ',' && *p != ']' && *p != '}' &&
                       !is_ws(*p))
                        p++;
                return p;
        }
        for (;;) {
                int esc;

                switch (*p) {
                case '"':
                        p = skip_string(p, end, &esc);
                        continue;
                case '{':
                case '[':
                        depth++;
                        break;
                case '}':
                case ']':
                        if (--depth == 0)
                                return p + 1;
                        break;
                }
                p++;
        }
}

static unsigned hex4(const char *p) {
        unsigned v = 0;
        int i;

        for (i = 0; i < 4; i++) {
                char c = p[i];

                v = v << 4 | (unsigned)(c <= '9'   ? c - '0'
                                        : c <= 'F' ? c - 'A' + 10
                                                   : c - 'a' + 10);
        }
        return v;
}

/* The code point of the escape at p (after the backslash); *len is the
 * escape's length after the backslash. */
static unsigned escape_value(const char *p, size_t *len) {
        unsigned v, lo;

        *len = 1;
        switch (*p) {
        case 'b':
                return '\b';
        case 'f':
                return '\f';
        case 'n':
                return '\n';
        case 'r':
                return '\r';
        case 't':
                return '\t';
        case 'u':
                break;
        default:
                return (unsigned char)*p; /* " \ / */
        }
        v = hex4(p + 1);
        *len = 5;
        if (v >= 0xd800 && v <= 0xdbff) {
                lo = hex4(p + 7);
                *len = 11;
                v = 0x10000 + ((v - 0xd800) << 10) + (lo - 0xdc00);
        }
        return v;
}

static size_t utf8_put(char *out, unsigned cp) {
        if (cp < 0x80) {
                out[0] = (char)cp;
                return 1;
        }
        if (cp < 0x800) {
                out[0] = (char)(0xc0 | cp >> 6);
                out[1] = (char)(0x80 | (cp & 0x3f));
                return 2;
        }
        if (cp < 0x10000) {
                out[0] = (char)(0xe0 | cp >> 12);
                out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
                out[2] = (char)(0x80 | (cp & 0x3f));
                return 3;
        }
        out[0] = (char)(0xf0 | cp >> 18);
        out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[3] = (char)(0x80 | (cp & 0x3f));
        return 4;
}

size_t vcdc_json_unescape(const vcdc_json_span_t *s, char *out) {
        const char *p = s->p + 1, *end = s->p + s->len - 1;
        char *o = out;

        if (!s->escaped) {
                memcpy(out, p, (size_t)(end - p));
                return (size_t)(end - p);
        }
        while (p < end) {
                const char *bs = memchr(p, '\\', (size_t)(end - p));
                size_t n;

                if (!bs)
                        bs = end;
                memcpy(o, p, (size_t)(bs - p));
                o += bs - p;
                if (bs == end)
                        break;
                o += utf8_put(o, escape_value(bs + 1, &n));
                p = bs + 1 + n;
        }
        return (size_t)(o - out);
}

long long vcdc_json_integer(const vcdc_json_span_t *v) {
        const char *p = v->p, *end = v->p + v->len;
        uint64_t u = 0;
        int neg = 0;

        if (p < end && *p == '-') {
                neg = 1;
                p++;
        }
        for (; p < end; p++)
                u = u * 10 + (uint64_t)(*p - '0');
        if (!neg)
                return (long long)u;
        return u ? -(long long)(u - 1) - 1 : 0;
}

double vcdc_json_double(const vcdc_json_span_t *v) {
        return vcdc_decfloat_double(v->p, v->len);
}

void vcdc_json_iter_init(vcdc_json_iter_t *it,
                         const vcdc_json_span_t *container) {
        it->p = container->p + 1;
        it->end = container->p + container->len - 1; /* the bracket */
        it->object = container->type == VCDC_JSON_OBJECT;
}

int vcdc_json_iter_next(vcdc_json_iter_t *it, vcdc_json_span_t *key,
                        vcdc_json_span_t *value) {
        const char *p = skip_ws(it->p, it->end), *e;
        int esc;

        if (p >= it->end)
                return 0;
        if (*p == ',')
                p = skip_ws(p + 1, it->end);
        if (it->object) {
                e = skip_string(p, it->end, &esc);
                if (key) {
                        memset(key, 0, sizeof(*key));
                        key->p = p;
                        key->len = (size_t)(e - p);
                        key->type = VCDC_JSON_STRING;
                        key->escaped = esc;
                }
                p = skip_ws(e, it->end);
                p = skip_ws(p + 1, it->end); /* the colon */
        }
        e = skip_value(p, it->end, &esc);
        memset(value, 0, sizeof(*value));
        value->p = p;
        value->len = (size_t)(e - p);
        value->type = type_at(p, e);
        value->escaped = esc;
        it->p = e;
        return 1;
}

int vcdc_json_floats(const vcdc_json_span_t *array, float *out, size_t cap,
                     size_t *n) {
        const char *p = array->p + 1, *end = array->p + array->len - 1;
        size_t i = 0;

        for (;;) {
                while (p < end && is_ws(*p))
                        p++;
                if (p < end && *p == ',')
                        for (p++; p < end && is_ws(*p); p++)
                                ;
                if (p >= end)
                        break;
                if (*p != '-' && (*p < '0' || *p > '9')) {
                        *n = i;
                        return -1;
                }
                if (i == cap) {
                        *n = i;
                        return -2;
                }
                p = vcdc_decfloat_scan(p, end, &out[i]);
                if (isinf(out[i])) {
                        *n = i;
                        return -1;
                }
                i++;
        }
        *n = i;
        return 0;
}


/*
 * Compact JSON, as jansson's dump.c writes it
 */

typedef struct out_s {
        char *buf;
        size_t size, len;
} out_t;

static void put(out_t *o, const char *s, size_t n) {
        if (o->len < o->size)
                memcpy(o->buf + o->len, s,
                       n < o->size - o->len ? n : o->size - o->len);
        o->len += n;
}

/* A string with escapes: decoded, then escaped again where jansson
 * escapes (quote, backslash, control characters), raw UTF-8 elsewhere. */
static void put_escaped(out_t *o, const char *p, const char *end) {
        put(o, "\"", 1);
        for (p++, end--; p < end;) {
                const char *bs = memchr(p, '\\', (size_t)(end - p));
                char tmp[8];
                unsigned cp;
                size_t n;

                if (!bs)
                        bs = end;
                put(o, p, (size_t)(bs - p));
                if (bs == end)
                        break;
                cp = escape_value(bs + 1, &n);
                p = bs + 1 + n;
                switch (cp) {
                case '"':
                        put(o, "\\\"", 2);
                        break;
                case '\\':
                        put(o, "\\\\", 2);
                        break;
                case '\b':
                        put(o, "\\b", 2);
                        break;
                case '\f':
                        put(o, "\\f", 2);
                        break;
                case '\n':
                        put(o, "\\n", 2);
                        break;
                case '\r':
                        put(o, "\\r", 2);
                        break;
                case '\t':
                        put(o, "\\t", 2);
                        break;
                default:
                        if (cp < 0x20) {
                                snprintf(tmp, sizeof(tmp), "\\u%04X", cp);
                                put(o, tmp, 6);
                        } else {
                                put(o, tmp, utf8_put(tmp, cp));
                        }
                }
        }
        put(o, "\"", 1);
}

/* A real as jansson's jsonp_dtostr() writes it: %.17g, then ".0" if it
 * would read back as an integer, and an exponent without '+' or leading
 * zeros. */
static void put_real(out_t *o, double d) {
        char buf[48], *e;
        int n = snprintf(buf, sizeof(buf) - 3, "%.17g", d);
        size_t i, k;

        if (n < 0)
                n = 0;
        for (i = 0; i < (size_t)n; i++)
                if (buf[i] == ',')
                        buf[i] = '.'; /* a locale's decimal point */
        if (!memchr(buf, '.', (size_t)n) && !memchr(buf, 'e', (size_t)n)) {
                buf[n++] = '.';
                buf[n++] = '0';
        }
        if ((e = memchr(buf, 'e', (size_t)n))) {
                i = (size_t)(e - buf) + 1;
                if (buf[i] == '-')
                        i++;
                for (k = i; buf[k] == '+' || buf[k] == '0'; k++)
                        ;
                memmove(buf + i, buf + k, (size_t)n - k);
                n -= (int)(k - i);
        }
        put(o, buf, (size_t)n);
}

size_t vcdc_json_compact(const vcdc_json_span_t *v, char *out, size_t size) {
        const char *p = v->p, *end = v->p + v->len, *e;
        out_t o = {out, size, 0};
        vcdc_json_span_t num;
        int esc;

        while (p < end) {
                switch (*p) {
                case ' ':
                case '\t':
                case '\n':
                case '\r':
                        p++;
                        continue;
                case '"':
                        e = skip_string(p, end, &esc);
                        if (esc)
                                put_escaped(&o, p, e);
                        else
                                put(&o, p, (size_t)(e - p));
                        p = e;
                        continue;
                case '{':
                case '}':
                case '[':
                case ']':
                case ':':
                case ',':
                        put(&o, p, 1);
                        p++;
                        continue;
                case 't':
                case 'n':
                        put(&o, p, 4);
                        p += 4;
                        continue;
                case 'f':
                        put(&o, p, 5);
                        p += 5;
                        continue;
                }
                e = skip_value(p, end, &esc);
                memset(&num, 0, sizeof(num));
                num.p = p;
                num.len = (size_t)(e - p);
                num.type = type_at(p, e);
                if (num.type == VCDC_JSON_REAL)
                        put_real(&o, vcdc_json_double(&num));
                else if (num.len == 2 && !memcmp(p, "-0", 2))
                        put(&o, "0", 1);
                else /* JSON's integers are %lld's text but for -0 */
                        put(&o, p, num.len);
                p = e;
        }
        return o.len;
}
