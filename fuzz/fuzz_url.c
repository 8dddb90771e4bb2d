/*
 * vcdc - libFuzzer target: the sink URL parser and the parameter check.
 * The input is the URL (NUL-terminated copy); a parsed URL is also looked
 * up and checked against the sinks' parameter lists.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const char *const allowed[] = {"table", "metric", "tenant",
                                              "database", NULL};
        static const char *const none[] = {NULL};
        char errstr[512], tiny[8];
        char *s = malloc(size + 1);
        vcdc_url_t *url;

        if (!s)
                return 0;
        memcpy(s, data, size);
        s[size] = '\0';
        if ((url = vcdc_url_parse(s, errstr, sizeof(errstr)))) {
                (void)vcdc_url_param(url, "table");
                (void)vcdc_url_check_params(url, allowed, errstr,
                                            sizeof(errstr));
                (void)vcdc_url_check_params(url, none, errstr, sizeof(errstr));
                /* A short error buffer must truncate, not overflow. */
                (void)vcdc_url_check_params(url, allowed, tiny, sizeof(tiny));
                vcdc_url_destroy(url);
        }
        vcdc_url_destroy(vcdc_url_parse(s, tiny, sizeof(tiny)));
        free(s);
        return 0;
}
