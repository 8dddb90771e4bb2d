/*
 * vcdc - libFuzzer target: the JSON fast path against jansson and strtof().
 *
 * The input is tried three ways, and each must agree with its reference:
 *   - as a JSON text: vcdc_jsonscan_run() against json_loadb
 *     (JSON_REJECT_DUPLICATES | JSON_DECODE_ANY): the same accept or
 *     refuse, the same error (code, position, column, words), the same
 *     compact text (json_dumps JSON_COMPACT), and each float the scanner
 *     converted equal to strtof() of its element's text;
 *   - as a JSON Lines record: vcdc_jsonrec_parse() against the jansson +
 *     strtof reference (tests/jsonref.c): the same result, the same
 *     message, the same record field by field, floats bit for bit;
 *   - as a number: vcdc_decfloat_parse() against strtof().
 * The first byte picks the record options (dimension, limits), the rest is
 * the text. Texts with NUL bytes skip the jansson comparison (jansson drops
 * a NUL it reads ahead; vcdc refuses them first).
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../tests/jsonref.h"
#include "decfloat.h"
#include "jsonrec.h"
#include "jsonscan.h"
#include "jsonspan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static vcdc_jsonscan_t *js;

static int jansson_code(int code) {
        switch (code) {
        case json_error_invalid_syntax:
                return VCDC_JSON_ERR_SYNTAX;
        case json_error_premature_end_of_input:
                return VCDC_JSON_ERR_PREMATURE_END;
        case json_error_end_of_input_expected:
                return VCDC_JSON_ERR_END_EXPECTED;
        case json_error_invalid_utf8:
                return VCDC_JSON_ERR_UTF8;
        case json_error_numeric_overflow:
                return VCDC_JSON_ERR_NUMBER_RANGE;
        case json_error_null_character:
                return VCDC_JSON_ERR_NUL_CHARACTER;
        case json_error_null_byte_in_key:
                return VCDC_JSON_ERR_NUL_IN_KEY;
        case json_error_duplicate_key:
                return VCDC_JSON_ERR_DUPLICATE_KEY;
        case json_error_stack_overflow:
                return VCDC_JSON_ERR_DEPTH;
        }
        return -1;
}

static void same_floats(float a, float b) {
        if (memcmp(&a, &b, sizeof(a)))
                abort();
}

static void scan_vs_jansson(const char *text, size_t len) {
        vcdc_json_span_t root;
        vcdc_json_error_t err;
        const vcdc_json_member_t *m;
        json_error_t jerr;
        json_t *j;
        size_t nm, i, k;
        int r = vcdc_jsonscan_run(js, text, len, &root, &err);

        j = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
                       &jerr);
        if (!j != !!r)
                abort(); /* one accepts what the other refuses */
        if (r) {
                if (jansson_code(json_error_code(&jerr)) != (int)err.code ||
                    (size_t)jerr.position != err.position ||
                    (size_t)jerr.column != err.column ||
                    strcmp(jerr.text, err.text))
                        abort();
                return;
        }
        {
                char *want = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
                size_t clen = vcdc_json_compact(&root, NULL, 0);
                char *got = malloc(clen + 1);

                if (!want || !got)
                        abort();
                vcdc_json_compact(&root, got, clen);
                got[clen] = '\0';
                if (strcmp(want, got))
                        abort();
                free(want);
                free(got);
        }
        json_decref(j);
        nm = vcdc_jsonscan_members(js, &m);
        for (i = 0; i < nm; i++) {
                vcdc_json_iter_t it;
                vcdc_json_span_t el;

                if (!m[i].value.floats)
                        continue;
                vcdc_json_iter_init(&it, &m[i].value);
                for (k = 0; vcdc_json_iter_next(&it, NULL, &el); k++) {
                        char *num = malloc(el.len + 1);

                        if (!num)
                                abort();
                        memcpy(num, el.p, el.len);
                        num[el.len] = '\0';
                        same_floats(strtof(num, NULL), m[i].value.floats[k]);
                        free(num);
                }
                if (k != m[i].value.count)
                        abort();
        }
}

static int same_str(const char *a, const char *b) {
        return (!a && !b) || (a && b && !strcmp(a, b));
}

static void record_vs_reference(const char *text, size_t len,
                                const vcdc_jsonrec_opts_t *o) {
        vcdc_record_t a, b;
        char ea[512] = "", eb[512] = "";
        int ra, rb;

        vcdc_record_init(&a);
        ra = vcdc_jsonrec_parse(js, text, len, 0, o, &a, ea, sizeof(ea));
        rb = vcdc_jsonref_parse(text, len, 0, o, &b, eb, sizeof(eb));
        if (ra != rb)
                abort();
        if (ra) {
                if (strcmp(ea, eb))
                        abort();
                return;
        }
        if (!same_str(a.collection, b.collection) || !same_str(a.id, b.id) ||
            !same_str(a.metadata, b.metadata) ||
            !same_str(a.document, b.document) || a.op != b.op ||
            a.dim != b.dim || a.has_sparse != b.has_sparse ||
            a.sparse_nnz != b.sparse_nnz ||
            a.source_ts_ms != b.source_ts_ms ||
            (a.dim && memcmp(a.vector, b.vector, a.dim * sizeof(float))) ||
            (a.sparse_nnz &&
             (memcmp(a.sparse_indices, b.sparse_indices,
                     a.sparse_nnz * sizeof(uint32_t)) ||
              memcmp(a.sparse_values, b.sparse_values,
                     a.sparse_nnz * sizeof(float)))))
                abort();
        vcdc_record_clear(&a);
        vcdc_record_clear(&b);
}

static void number_vs_strtof(const char *text, size_t len) {
        char buf[2048], *end;
        float got, want;

        if (len >= sizeof(buf) || vcdc_decfloat_parse(text, len, &got))
                return;
        memcpy(buf, text, len);
        buf[len] = '\0';
        want = strtof(buf, &end);
        if (end != buf + len)
                abort(); /* a number strtof() does not read whole */
        same_floats(got, want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        vcdc_jsonrec_opts_t o = {.collection = "docs",
                                 .max_dim = 65536,
                                 .max_document = 1024 * 1024,
                                 .max_metadata = 256 * 1024,
                                 .max_depth = 16};
        const char *text;
        char *copy;
        size_t len;

        if (!js && !(js = vcdc_jsonscan_new()))
                abort();
        if (size < 1)
                return 0;
        /* the first byte: a required dimension, small limits */
        if (data[0] & 1)
                o.dim = 1 + (data[0] >> 5);
        if (data[0] & 2)
                o.dim_line = 3;
        o.dim_required = o.dim && !o.dim_line;
        if (data[0] & 4) {
                o.max_dim = 4;
                o.max_document = 8;
                o.max_metadata = 24;
                o.max_depth = 2;
        }
        if (data[0] & 8)
                o.collection = NULL;
        /* a copy of exactly the text, so that ASan sees a read past it */
        len = size - 1;
        if (!(copy = malloc(len ? len : 1)))
                abort();
        memcpy(copy, data + 1, len);
        text = copy;
        if (!memchr(text, '\0', len))
                scan_vs_jansson(text, len);
        record_vs_reference(text, len, &o);
        number_vs_strtof(text, len);
        free(copy);
        return 0;
}
