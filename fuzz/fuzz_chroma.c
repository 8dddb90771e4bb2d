/*
 * vcdc - libFuzzer target: the Chroma sink's answer parsers. The input is
 * an HTTP body. The get answers' fast path (a get by ids, by page and
 * from a row on, a scan's anchors, read from the scanner) must agree with
 * the jansson reader (tests/chromaref.h): same acceptance, same messages,
 * same records and floats. When the body is JSON it also goes through the
 * other parsers of sink_chroma_int.h (collection model, the state before
 * an upsert, query, offsets), and its text through the model of Chroma's
 * number parser and the scan cursor's reader (a cursor read back from its
 * own text must be the same cursor).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "chromaref.h"
#include "jsonscan.h"
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

/* The fast path against the reference; a difference is a crash. */
static void compare(const uint8_t *data, size_t size) {
        static const char *const ids[] = {"a", "b", "a"};
        static vcdc_jsonscan_t *js; /* kept, as the sink keeps its own */
        char why[1024];

        if (!js && !(js = vcdc_jsonscan_new()))
                return;
        if (vcdc_chromaref_compare(js, (const char *)data, size, ids, 3, why,
                                   sizeof(why)) == -1) {
                fprintf(stderr, "fast path and jansson differ: %s\n", why);
                abort();
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const char *const ids[] = {"a", "b", "a"};
        vcdc_hit_t hits[OUT_CNT];
        vcdc_sink_offset_t *offsets = NULL;
        const json_t *olds[3];
        vcdc_metric_t metric;
        char errstr[512], id[64], *text, has_doc[3];
        size_t i, n, dim;
        json_t *resp;

        if ((text = malloc(size + 1))) {
                memcpy(text, data, size);
                text[size] = '\0';
                (void)vcdc_chroma_serde_read(text);
                cursor_roundtrip(text);
                free(text);
        }
        compare(data, size);
        resp = json_loadb((const char *)data, size,
                          JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
        if (!resp)
                return 0;

        (void)vcdc_chroma_parse_collection(resp, id, sizeof(id), &dim, &metric,
                                           errstr, sizeof(errstr));

        (void)vcdc_chroma_parse_stored(resp, ids, 3, olds, has_doc, errstr,
                                       sizeof(errstr));

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
