/*
 * vcdc gateway - JSON strings out (jsonstr.h). Holds no state.
 */
#include "jsonstr.h"

#include <string.h>

#include "utf8.h"

/* The length of the valid UTF-8 sequence at s (at most 4 bytes, within
 * len), or 0 when the bytes there are not one. */
static size_t utf8_seq(const unsigned char *s, size_t len) {
        size_t n;

        if (s[0] < 0xc2)
                return 0; /* continuation byte or overlong lead */
        n = s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : s[0] < 0xf5 ? 4 : 0;
        if (!n || n > len)
                return 0;
        return vcdc_utf8_valid((const char *)s, n) ? n : 0;
}

void vcdc_gw_json_string(vcdc_buf_t *b, const char *s, size_t len) {
        static const char hex[] = "0123456789abcdef";
        const unsigned char *p = (const unsigned char *)s;
        size_t i = 0, n;

        vcdc_buf_putc(b, '"');
        while (i < len) {
                unsigned char c = p[i];

                if (c == '"' || c == '\\') {
                        vcdc_buf_putc(b, '\\');
                        vcdc_buf_putc(b, (char)c);
                        i++;
                } else if (c == '\n') {
                        vcdc_buf_puts(b, "\\n");
                        i++;
                } else if (c == '\t') {
                        vcdc_buf_puts(b, "\\t");
                        i++;
                } else if (c < 0x20 || c == 0x7f) {
                        char esc[6] = {'\\', 'u',         '0',
                                       '0',  hex[c >> 4], hex[c & 15]};
                        vcdc_buf_put(b, esc, sizeof(esc));
                        i++;
                } else if (c < 0x80) {
                        /* A run of plain bytes in one append. */
                        n = i + 1;
                        while (n < len && p[n] >= 0x20 && p[n] < 0x7f &&
                               p[n] != '"' && p[n] != '\\')
                                n++;
                        vcdc_buf_put(b, s + i, n - i);
                        i = n;
                } else if ((n = utf8_seq(p + i, len - i))) {
                        vcdc_buf_put(b, s + i, n);
                        i += n;
                } else {
                        vcdc_buf_puts(b, "\\ufffd");
                        i++;
                }
        }
        vcdc_buf_putc(b, '"');
}

void vcdc_gw_json_cstr(vcdc_buf_t *b, const char *s) {
        if (!s)
                vcdc_buf_puts(b, "null");
        else
                vcdc_gw_json_string(b, s, strlen(s));
}
