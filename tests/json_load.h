/*
 * vcdc - for unit tests: JSON text that must parse, parsed (any value),
 * or the test fails saying where. Tests only; include after cmocka.h.
 */
#ifndef VCDC_JSON_LOAD_H
#define VCDC_JSON_LOAD_H

#include <jansson.h>

static inline json_t *json_load_or_fail(const char *text) {
        json_error_t jerr;
        json_t *j = json_loads(text, JSON_DECODE_ANY, &jerr);

        if (!j)
                fail_msg("not JSON: %s: %s", jerr.text, text);
        return j;
}

#endif
