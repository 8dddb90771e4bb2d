/*
 * vcdc - UTF-8 validation.
 */
#include "utf8.h"

#include <stdint.h>

int vcdc_utf8_valid(const char *str, size_t len) {
        const unsigned char *s = (const unsigned char *)str;
        size_t i = 0, n, k;
        uint32_t cp;

        while (i < len) {
                unsigned char c = s[i];

                if (c < 0x80) {
                        i++;
                        continue;
                }
                if (c >= 0xc2 && c <= 0xdf) {
                        n = 1;
                        cp = c & 0x1f;
                } else if (c >= 0xe0 && c <= 0xef) {
                        n = 2;
                        cp = c & 0x0f;
                } else if (c >= 0xf0 && c <= 0xf4) {
                        n = 3;
                        cp = c & 0x07;
                } else {
                        return 0; /* a continuation byte, C0, C1 or F5+ */
                }
                if (len - i <= n)
                        return 0;
                for (k = 1; k <= n; k++) {
                        if ((s[i + k] & 0xc0) != 0x80)
                                return 0;
                        cp = (cp << 6) | (s[i + k] & 0x3f);
                }
                /* Overlong, a surrogate, or past the last code point. */
                if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
                    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
                        return 0;
                i += n + 1;
        }
        return 1;
}
