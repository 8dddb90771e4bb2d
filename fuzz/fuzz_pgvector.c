/*
 * vcdc - libFuzzer target: what the pgvector sink reads back from
 * PostgreSQL: vector text ("[1,2.5,-3]"), jsonb text, result cells as
 * numbers, a refused connection's verbose message, the fence's refusal,
 * plus SQLSTATE codes and identifiers. A parsed vector must format and
 * parse back to the same floats.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sink_pgvector_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void vector_roundtrip(const char *text) {
        float *vec = NULL, *back = NULL;
        size_t dim = 0, back_dim = 0, max;
        char *out = NULL;

        if (vcdc_pgvector_vector_parse(text, &vec, &dim) == -1)
                return;
        max = vcdc_pgvector_vector_text_max(dim);
        if (!(out = malloc(max)))
                goto done;
        if (vcdc_pgvector_vector_format(vec, dim, out, max) == 0)
                abort(); /* parse accepted a value format refuses */
        if (vcdc_pgvector_vector_parse(out, &back, &back_dim) == -1 ||
            back_dim != dim || memcmp(back, vec, dim * sizeof(*vec)) != 0)
                abort(); /* not the same floats after a round trip */
done:
        free(back);
        free(out);
        free(vec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *text = malloc(size + 1), code[6], why[128];
        const char *items[2], *line;
        uint64_t u;
        int64_t i;

        if (!text)
                return 0;
        memcpy(text, data, size);
        text[size] = '\0';

        vector_roundtrip(text);
        free(vcdc_pgvector_json_compact(text));
        (void)vcdc_pgvector_sqlstate_status(text);
        (void)vcdc_pgvector_ident_valid(text);
        free(vcdc_pgvector_quote_ident(text));
        items[0] = text;
        items[1] = "";
        free(vcdc_pgvector_text_array(items, 2));
        (void)vcdc_pgvector_parse_u64(text, &u);
        (void)vcdc_pgvector_parse_i64(text, &i);
        (void)vcdc_pgvector_connect_status(text, size % 2, code, &line);
        (void)vcdc_pgvector_fence_refused("22P02", text, why, sizeof(why));
        (void)vcdc_pgvector_jsonb_check(text, 1, why, sizeof(why));

        free(text);
        return 0;
}
