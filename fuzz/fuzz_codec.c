/*
 * vcdc - libFuzzer target: the change-record decoder and the Kafka key
 * decoder on arbitrary bytes. The codec knows the current schema both by
 * fingerprint (single-object framing) and as Confluent schema id 1, so
 * both framings reach avro-c's reader. Whatever decodes is encoded again
 * by both encoders (direct and avro-c's generic), which must agree.
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        vcdc_record_t rec;
        char errstr[512];
        char *collection = NULL, *id = NULL;

        vcdc_record_init(&rec);
        if (vcdc_codec_decode(codec, data, size, &rec, errstr,
                              sizeof(errstr)) == 0) {
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
