/*
 * vcdc - libFuzzer target: what `vcdc shadow --gateway` reads from a
 * gateway's metrics endpoint (vcdc_shadow_prom_parse), and the gateway's
 * comparison of two query answers (vcdc_gw_shadow_compare) on the input
 * split at its first NUL byte. A refused input must say which line; a
 * comparison must give overlaps in [0, 1] and no more matching positions
 * than positions.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "shadowprom.h"
#include "shadowstat.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const char *text = (const char *)data;
        const char *nul = memchr(text, '\0', size);
        vcdc_shadow_prom_t m;
        vcdc_gw_shadow_cmp_t cmp;
        char errstr[256], tiny[4];
        size_t i;

        if (vcdc_shadow_prom_parse(text, size, &m, errstr, sizeof(errstr)) ==
                    -1 &&
            strncmp(errstr, "line ", 5))
                abort();
        (void)vcdc_shadow_prom_parse(text, size, &m, tiny, sizeof(tiny));
        if (nul && vcdc_gw_shadow_compare(text, (size_t)(nul - text), nul + 1,
                                          size - (size_t)(nul - text) - 1, &cmp,
                                          errstr, sizeof(errstr)) == 0) {
                for (i = 0; i < cmp.n; i++)
                        if (!(cmp.overlap[i] >= 0 && cmp.overlap[i] <= 1))
                                abort();
                if (cmp.matches > cmp.positions)
                        abort();
                vcdc_gw_shadow_cmp_clear(&cmp);
        }
        return 0;
}
