/*
 * vcdc - libFuzzer target: the Chroma sink's answer parsers. The input is
 * an HTTP body; when it is JSON it goes through every parser of
 * sink_chroma_int.h that reads an answer (collection model, get by ids,
 * get by page, query, offsets), and its text through the model of
 * Chroma's number parser.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sink_chroma_int.h"

#define OUT_CNT 4

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void clear_records(vcdc_record_t *out, size_t cnt) {
        size_t i;

        for (i = 0; i < cnt; i++)
                vcdc_record_clear(&out[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const char *const ids[] = {"a", "b", "a"};
        vcdc_record_t out[OUT_CNT];
        vcdc_hit_t hits[OUT_CNT];
        vcdc_sink_offset_t *offsets = NULL;
        vcdc_metric_t metric;
        char errstr[512], id[64], *text;
        size_t i, n, dim;
        json_t *resp;

        if ((text = malloc(size + 1))) {
                memcpy(text, data, size);
                text[size] = '\0';
                (void)vcdc_chroma_serde_read(text);
                free(text);
        }
        resp = json_loadb((const char *)data, size,
                          JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
        if (!resp)
                return 0;

        (void)vcdc_chroma_parse_collection(resp, id, sizeof(id), &dim, &metric,
                                           errstr, sizeof(errstr));

        for (i = 0; i < OUT_CNT; i++)
                vcdc_record_init(&out[i]);
        if (vcdc_chroma_parse_get(resp, ids, 3, out, &n, errstr,
                                  sizeof(errstr)) == 0)
                clear_records(out, 3);
        if (vcdc_chroma_parse_get(resp, NULL, OUT_CNT, out, &n, errstr,
                                  sizeof(errstr)) == 0)
                clear_records(out, OUT_CNT);

        memset(hits, 0, sizeof(hits));
        if (vcdc_chroma_parse_query(resp, hits, OUT_CNT, &n, errstr,
                                    sizeof(errstr)) == 0)
                for (i = 0; i < n; i++)
                        free(hits[i].id);

        if (vcdc_chroma_parse_offsets(resp, "t", "c0ffee", &offsets, &n,
                                      errstr, sizeof(errstr)) == 0)
                free(offsets);

        json_decref(resp);
        return 0;
}
