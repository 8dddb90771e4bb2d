/*
 * vcdc - libFuzzer target: one JSON Lines line through the producer's
 * parser (vcdc_input_parse_json), with the default limits, a default
 * collection and any dimension.
 */
#include <stddef.h>
#include <stdint.h>

#include "input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        vcdc_input_opts_t opts = {.format = VCDC_INPUT_JSONL,
                                  .collection = "docs"};
        vcdc_record_t rec;
        char errstr[512];
        size_t dim = 0 /*any*/;

        vcdc_record_init(&rec);
        (void)vcdc_input_parse_json((const char *)data, size, &opts, &dim, &rec,
                                    errstr, sizeof(errstr));
        vcdc_record_clear(&rec);
        return 0;
}
