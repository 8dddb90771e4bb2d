/*
 * vcdc - libFuzzer target: the change-record decoder and the Kafka key
 * decoder on arbitrary bytes. The codec knows the current schema both by
 * fingerprint (single-object framing) and as Confluent schema id 1, so
 * both framings reach the decoders. The direct decoder and avro-c's
 * generic one must agree: the same result, message and record. Whatever
 * decodes is encoded again by both encoders, which must agree too.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"

static vcdc_codec_t *codec;

/* The codec keeps the last decoded value's strings; free them before
 * LeakSanitizer looks at exit. */
static void destroy_codec(void) {
        vcdc_codec_destroy(codec);
        codec = NULL;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        char errstr[512];

        (void)argc;
        (void)argv;
        if (!(codec = vcdc_codec_new(errstr, sizeof(errstr))) ||
            vcdc_codec_add_schema(codec, vcdc_change_schema_json, 1, errstr,
                                  sizeof(errstr)) == -1) {
                fprintf(stderr, "fuzz_codec: %s\n", errstr);
                abort();
        }
        atexit(destroy_codec);
        return 0;
}

/* Strings equal, NULL only with NULL. */
static int same_str(const char *a, const char *b) {
        return (!a && !b) || (a && b && !strcmp(a, b));
}

/* avro-c's generic decoder must say what the direct one said. */
static void check_generic(const uint8_t *data, size_t size, int r,
                          const vcdc_record_t *rec, const char *errstr) {
        char ref_err[512];
        vcdc_record_t ref;
        int ref_r, same;

        vcdc_record_init(&ref);
        ref_r = vcdc_codec_decode_generic(codec, data, size, &ref, ref_err,
                                          sizeof(ref_err));
        if (r != ref_r)
                same = 0;
        else if (r)
                same = !strcmp(errstr, ref_err);
        else
                same = same_str(rec->collection, ref.collection) &&
                       same_str(rec->id, ref.id) && rec->op == ref.op &&
                       rec->dim == ref.dim &&
                       (!rec->dim || !memcmp(rec->vector, ref.vector,
                                             rec->dim * sizeof(float))) &&
                       rec->has_sparse == ref.has_sparse &&
                       rec->sparse_nnz == ref.sparse_nnz &&
                       (!rec->sparse_nnz ||
                        (!memcmp(rec->sparse_indices, ref.sparse_indices,
                                 rec->sparse_nnz * sizeof(uint32_t)) &&
                         !memcmp(rec->sparse_values, ref.sparse_values,
                                 rec->sparse_nnz * sizeof(float)))) &&
                       same_str(rec->metadata, ref.metadata) &&
                       same_str(rec->document, ref.document) &&
                       rec->source_ts_ms == ref.source_ts_ms;
        if (!same) {
                fprintf(stderr,
                        "fuzz_codec: the decoders disagree: direct %d (%s), "
                        "avro-c %d (%s)\n",
                        r, r ? errstr : "decoded", ref_r,
                        ref_r ? ref_err : "decoded");
                abort();
        }
        vcdc_record_clear(&ref);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        vcdc_record_t rec;
        char errstr[512];
        int r;
        char *collection = NULL, *id = NULL;

        vcdc_record_init(&rec);
        r = vcdc_codec_decode(codec, data, size, &rec, errstr, sizeof(errstr));
        check_generic(data, size, r, &rec, errstr);
        if (r == 0) {
                void *buf = NULL, *ref = NULL;
                size_t len = 0, ref_len = 0;
                /* What decodes must encode again, and the direct encoder
                 * must write what avro-c's generic one writes. */
                if (vcdc_codec_encode(codec, &rec, &buf, &len, errstr,
                                      sizeof(errstr)) ||
                    vcdc_codec_encode_generic(codec, &rec, &ref, &ref_len,
                                              errstr, sizeof(errstr))) {
                        fprintf(stderr, "fuzz_codec: re-encode: %s\n",
                                errstr);
                        abort();
                }
                if (len != ref_len || memcmp(buf, ref, len)) {
                        fprintf(stderr,
                                "fuzz_codec: direct encoder wrote %zu bytes, "
                                "avro-c %zu, not the same\n",
                                len, ref_len);
                        abort();
                }
                free(buf);
                free(ref);
        }
        vcdc_record_clear(&rec);

        if (vcdc_key_decode(data, size, &collection, &id) == 0) {
                free(collection);
                free(id);
        }
        return 0;
}
