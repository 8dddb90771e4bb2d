/*
 * vcdc - JSON writing for the gateway (api_json.h).
 */
#include "api_json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* d printed with prec significant digits into tmp; 1 when it reads back
 * as the same float (is_float) or double. */
static int fmt_real(char *tmp, size_t size, int prec, double d, int is_float) {
        snprintf(tmp, size, "%.*g", prec, d);
        return is_float ? strtof(tmp, NULL) == (float)d
                        : strtod(tmp, NULL) == d;
}

/* The shortest text that reads back as d. Most values need many digits
 * (a distance: 7 to 9 of a float), so the search starts at the digits
 * every shorter text also fits in (6, 15): if they do not read back, no
 * fewer will; if they do, the shortest is looked for below. */
static void put_real(vcdc_buf_t *b, double d, int is_float) {
        char tmp[40];
        int prec, pivot = is_float ? 6 : 15, max = is_float ? 9 : 17;

        if (!isfinite(d)) {
                vcdc_buf_puts(b, "null");
                return;
        }
        if (fmt_real(tmp, sizeof(tmp), pivot, d, is_float)) {
                for (prec = 1; prec < pivot; prec++)
                        if (fmt_real(tmp, sizeof(tmp), prec, d, is_float))
                                break;
                if (prec == pivot) /* tmp was overwritten by prec - 1 */
                        fmt_real(tmp, sizeof(tmp), pivot, d, is_float);
        } else {
                for (prec = pivot + 1; prec < max; prec++)
                        if (fmt_real(tmp, sizeof(tmp), prec, d, is_float))
                                break;
                if (prec == max)
                        fmt_real(tmp, sizeof(tmp), max, d, is_float);
        }
        vcdc_buf_puts(b, tmp);
        if (!strpbrk(tmp, ".e"))
                vcdc_buf_puts(b, ".0");
}

void vcdc_api_put_float(vcdc_buf_t *b, float f) {
        put_real(b, (double)f, 1);
}

void vcdc_api_put_double(vcdc_buf_t *b, double d) {
        put_real(b, d, 0);
}

void vcdc_api_put_string(vcdc_buf_t *b, const char *s, size_t len) {
        static const char hex[] = "0123456789abcdef";
        size_t i;

        if (!s) {
                vcdc_buf_puts(b, "null");
                return;
        }
        vcdc_buf_putc(b, '"');
        for (i = 0; i < len; i++) {
                unsigned char c = (unsigned char)s[i];
                if (c == '"' || c == '\\') {
                        vcdc_buf_putc(b, '\\');
                        vcdc_buf_putc(b, (char)c);
                } else if (c == '\n') {
                        vcdc_buf_puts(b, "\\n");
                } else if (c == '\t') {
                        vcdc_buf_puts(b, "\\t");
                } else if (c == '\r') {
                        vcdc_buf_puts(b, "\\r");
                } else if (c < 0x20) {
                        vcdc_buf_puts(b, "\\u00");
                        vcdc_buf_putc(b, hex[c >> 4]);
                        vcdc_buf_putc(b, hex[c & 15]);
                } else {
                        vcdc_buf_putc(b, (char)c);
                }
        }
        vcdc_buf_putc(b, '"');
}

void vcdc_api_put_vector(vcdc_buf_t *b, const float *v, size_t dim) {
        size_t i;

        vcdc_buf_putc(b, '[');
        for (i = 0; i < dim; i++) {
                if (i)
                        vcdc_buf_putc(b, ',');
                vcdc_api_put_float(b, v[i]);
        }
        vcdc_buf_putc(b, ']');
}

void vcdc_api_put_json(vcdc_buf_t *b, const json_t *j) {
        const char *key;
        json_t *v;
        size_t i;
        int first = 1;

        switch (json_typeof(j)) {
        case JSON_OBJECT:
                vcdc_buf_putc(b, '{');
                json_object_foreach((json_t *)j, key, v) {
                        if (!first)
                                vcdc_buf_putc(b, ',');
                        first = 0;
                        vcdc_api_put_string(b, key, strlen(key));
                        vcdc_buf_putc(b, ':');
                        vcdc_api_put_json(b, v);
                }
                vcdc_buf_putc(b, '}');
                break;
        case JSON_ARRAY:
                vcdc_buf_putc(b, '[');
                json_array_foreach(j, i, v) {
                        if (i)
                                vcdc_buf_putc(b, ',');
                        vcdc_api_put_json(b, v);
                }
                vcdc_buf_putc(b, ']');
                break;
        case JSON_STRING:
                vcdc_api_put_string(b, json_string_value(j),
                                    json_string_length(j));
                break;
        case JSON_INTEGER:
                vcdc_buf_printf(b, "%lld", (long long)json_integer_value(j));
                break;
        case JSON_REAL:
                vcdc_api_put_double(b, json_real_value(j));
                break;
        case JSON_TRUE:
                vcdc_buf_puts(b, "true");
                break;
        case JSON_FALSE:
                vcdc_buf_puts(b, "false");
                break;
        default:
                vcdc_buf_puts(b, "null");
        }
}

void vcdc_api_put_metadata_text(vcdc_buf_t *b, const char *text) {
        json_t *j = text ? json_loads(text, 0, NULL) : NULL;

        if (json_is_object(j))
                vcdc_api_put_json(b, j);
        else
                vcdc_buf_puts(b, "null");
        json_decref(j);
}

char *vcdc_api_json_text(const json_t *j) {
        vcdc_buf_t b = VCDC_BUF_INIT;

        vcdc_api_put_json(&b, j);
        return vcdc_buf_detach(&b, NULL);
}
