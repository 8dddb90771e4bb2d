/*
 * vcdc - codec internals: the framing constants, the current schema's field
 * positions, and the codec's table of known writer schemas, shared by
 * schema.c, encode.c and decode.c. Only those files include this.
 */
#ifndef VCDC_CODEC_INT_H
#define VCDC_CODEC_INT_H

#include <stdint.h>

#include <avro.h>

#include "codec.h"

#define MAGIC_CONFLUENT 0x00
#define MAGIC_SOE0      0xC3
#define MAGIC_SOE1      0x01
#define HDR_CONFLUENT   5
#define HDR_SOE         10

/* Field positions in the current schema, for encoding. */
enum {
        F_COLLECTION,
        F_ID,
        F_OP,
        F_VECTOR,
        F_SPARSE,
        F_METADATA,
        F_DOCUMENT,
        F_SOURCE_TS
};

/* One known writer schema. */
typedef struct schema_entry_s {
        avro_schema_t schema;
        avro_value_iface_t *iface;
        avro_value_t value; /* reused for every record of this schema */
        uint64_t fingerprint;
        int32_t schema_id; /* -1: none */
} schema_entry_t;

struct vcdc_codec_s {
        schema_entry_t *entries; /* entries[0] is the current schema */
        size_t entry_cnt;
        int32_t schema_id; /* for encoding; -1: single-object */
};

#endif
