/*
 * vcdc - libFuzzer target: the control topic's values as their readers see
 * them: vcdc_collconf_decode (a collection's configuration) and
 * vcdc_route_record_decode (a route), which must agree on what is of
 * which kind. A decoded configuration must encode, and decode back to the
 * same fields.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collconf.h"
#include "route.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same(const char *a, const char *b) {
        return (!a && !b) || (a && b && !strcmp(a, b));
}

static void roundtrip(const vcdc_collconf_t *cc) {
        vcdc_collconf_t back;
        char errstr[256], *text;

        if (!(text = vcdc_collconf_encode(cc, errstr, sizeof(errstr))))
                abort(); /* decode accepted what encode refuses */
        if (vcdc_collconf_decode(text, strlen(text), &back, errstr,
                                 sizeof(errstr)) != 0 ||
            !same(back.collection, cc->collection) ||
            back.metric != cc->metric || back.dim != cc->dim ||
            !same(back.index, cc->index) || !same(back.source, cc->source) ||
            back.ts_ms != cc->ts_ms)
                abort();
        vcdc_collconf_clear(&back);
        free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        vcdc_collconf_t cc;
        vcdc_route_record_t rec;
        char errstr[512], tiny[8];
        int c, r;

        c = vcdc_collconf_decode(data, size, &cc, errstr, sizeof(errstr));
        if (c == 0)
                roundtrip(&cc);
        else if (cc.collection || cc.index || cc.source)
                abort(); /* left behind on failure */
        vcdc_collconf_clear(&cc);
        r = vcdc_route_record_decode(data, size, &rec, errstr,
                                     sizeof(errstr));
        /* A configuration is never a route, nor a route a configuration. */
        if (c == 0 && r != 1)
                abort();
        if (r == 0 && c != 1)
                abort();
        vcdc_route_record_clear(&rec);
        /* A short error buffer must truncate, not overflow. */
        if (vcdc_collconf_decode(data, size, &cc, tiny, sizeof(tiny)) == 0)
                vcdc_collconf_clear(&cc);
        return 0;
}
