/*
 * vcdc - libFuzzer target: the Chroma sink's answer parsers. The input is
 * an HTTP body; when it is JSON it goes through every parser of
 * sink_chroma_int.h that reads an answer (collection model, get by ids,
 * get by page and from a row on, the state before an upsert, a scan's
 * anchors, query, offsets), and its text through the model of Chroma's
 * number parser and the scan cursor's reader (a cursor read back from
 * its own text must be the same cursor).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sink_chroma_int.h"

#define OUT_CNT 4

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A cursor that parses must format to text that parses to the same. */
static void cursor_roundtrip(const char *text) {
        vcdc_chroma_cursor_t cur, back;
        char *out;
        size_t i;

        if (vcdc_chroma_cursor_parse(text, &cur) == -1)
                return;
        if (!(out = vcdc_chroma_cursor_format(&cur)))
                goto done;
        if (vcdc_chroma_cursor_parse(out, &back) == -1 ||
            back.offset != cur.offset || back.anchor_cnt != cur.anchor_cnt)
                abort();
        for (i = 0; i < cur.anchor_cnt; i++)
                if (strcmp(back.anchors[i], cur.anchors[i]))
                        abort();
        vcdc_chroma_cursor_clear(&back);
        free(out);
done:
        vcdc_chroma_cursor_clear(&cur);
}

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
        const json_t *olds[3];
        vcdc_chroma_cursor_t cur;
        vcdc_metric_t metric;
        char errstr[512], id[64], *text, has_doc[3];
        size_t i, n, dim, k;
        json_t *resp;

        if ((text = malloc(size + 1))) {
                memcpy(text, data, size);
                text[size] = '\0';
                (void)vcdc_chroma_serde_read(text);
                cursor_roundtrip(text);
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
        if (vcdc_chroma_parse_rows(resp, 1, OUT_CNT, out, &n, errstr,
                                   sizeof(errstr)) == 0)
                clear_records(out, n);
        (void)vcdc_chroma_parse_stored(resp, ids, 3, olds, has_doc, errstr,
                                       sizeof(errstr));
        if (vcdc_chroma_cursor_parse("9,1:a,1:b", &cur) == 0) {
                (void)vcdc_chroma_find_anchor(resp, 2, 9, &cur, &k);
                vcdc_chroma_cursor_clear(&cur);
        }

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
