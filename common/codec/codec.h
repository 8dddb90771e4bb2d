/*
 * vcdc - the change record on the wire (DESIGN.md, The change record).
 *
 * A codec encodes records with the current schema (schemas/change.avsc)
 * and decodes records written with any schema it knows, resolving fields
 * by name: a field the writer did not have takes its default, a field the
 * reader does not know is ignored. That is Avro's resolution for the only
 * evolution we allow (fields added with defaults).
 *
 * Framing:
 *   Confluent wire format:   0x00, schema id (4 bytes, big-endian), body
 *   Avro single-object:      0xC3 0x01, CRC-64-AVRO fingerprint of the
 *                            schema's Parsing Canonical Form (8 bytes,
 *                            little-endian), body
 * The encoder uses the Confluent format when a schema id is set, the
 * single-object encoding otherwise. The decoder accepts both and refuses a
 * message whose fingerprint or schema id it does not know.
 */
#ifndef VCDC_CODEC_H
#define VCDC_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "record.h"

typedef struct vcdc_codec_s vcdc_codec_t;

/* The current schema, as in schemas/change.avsc. */
extern const char vcdc_change_schema_json[];

/** A new codec that knows the current schema. NULL with errstr on error. */
vcdc_codec_t *vcdc_codec_new(char *errstr, size_t errstr_size);

void vcdc_codec_destroy(vcdc_codec_t *codec);

/**
 * Teaches the decoder another writer schema (JSON text), found by its
 * fingerprint and, when schema_id >= 0, by that Confluent schema id.
 * Returns 0, or -1 with errstr (unparsable schema, not a record).
 */
int vcdc_codec_add_schema(vcdc_codec_t *codec, const char *schema_json,
                          int32_t schema_id, char *errstr, size_t errstr_size);

/**
 * Encodes with the Confluent wire format and schema_id (>= 0) for the
 * current schema; -1 (the default) selects the single-object encoding.
 */
void vcdc_codec_set_schema_id(vcdc_codec_t *codec, int32_t schema_id);

/** The CRC-64-AVRO fingerprint of the current schema. */
uint64_t vcdc_codec_fingerprint(const vcdc_codec_t *codec);

/**
 * Encodes rec into a new buffer (*bufp, *lenp; free() it, or hand it to
 * librdkafka with RD_KAFKA_MSG_F_FREE). Returns 0, or -1 with errstr.
 */
int vcdc_codec_encode(vcdc_codec_t *codec, const vcdc_record_t *rec,
                      void **bufp, size_t *lenp, char *errstr,
                      size_t errstr_size);

/**
 * vcdc_codec_encode() into a buffer the caller keeps: *bufp (NULL at first)
 * of *capp bytes, grown when the record needs more. On failure *bufp and
 * *capp still describe a valid buffer (or NULL and 0) to free().
 */
int vcdc_codec_encode_into(vcdc_codec_t *codec, const vcdc_record_t *rec,
                           void **bufp, size_t *capp, size_t *lenp,
                           char *errstr, size_t errstr_size);

/**
 * The same encoding through avro-c's generic value API: the same bytes,
 * two orders of magnitude slower. The reference the direct encoder is tested and
 * fuzzed against; vcdc_codec_encode() is the one to use.
 */
int vcdc_codec_encode_generic(vcdc_codec_t *codec, const vcdc_record_t *rec,
                              void **bufp, size_t *lenp, char *errstr,
                              size_t errstr_size);

/**
 * Decodes a message value into rec (cleared first). Returns 0, or -1 with
 * errstr saying what is wrong (unknown framing, unknown fingerprint or
 * schema id, truncated or trailing bytes, invalid field values); such a
 * message can never apply.
 */
int vcdc_codec_decode(vcdc_codec_t *codec, const void *buf, size_t len,
                      vcdc_record_t *rec, char *errstr, size_t errstr_size);

/**
 * The same decoding through avro-c's generic value API, for every schema:
 * the reference the direct decoder of the current schema is tested and
 * fuzzed against; vcdc_codec_decode() is the one to use.
 */
int vcdc_codec_decode_generic(vcdc_codec_t *codec, const void *buf,
                              size_t len, vcdc_record_t *rec, char *errstr,
                              size_t errstr_size);

/**
 * The Parsing Canonical Form of an Avro schema (JSON text): a new string
 * (free() it), or NULL with errstr.
 */
char *vcdc_schema_canonical(const char *schema_json, char *errstr,
                            size_t errstr_size);

/** CRC-64-AVRO (Rabin) fingerprint of len bytes. */
uint64_t vcdc_crc64_avro(const void *buf, size_t len);

/*
 * Kafka keys: the collection with '%' and '/' percent-escaped, a '/', then
 * the id as it is: "docs/a1". Unambiguous for any bytes in either part, and
 * readable in kcat.
 */

/**
 * Writes the key and a NUL into buf when it has room for both (like
 * snprintf); returns the key's length without the NUL either way.
 */
size_t vcdc_key_write(const char *collection, const char *id, char *buf,
                      size_t size);

/** A new key (*keyp, *lenp; free() it). Returns 0, or -1 (no memory). */
int vcdc_key_encode(const char *collection, const char *id, char **keyp,
                    size_t *lenp);

/** Checks that the message key (len bytes) is rec's collection and id.
 *  Returns 0, or -1 with errstr. */
int vcdc_key_check(const void *key, size_t len, const vcdc_record_t *rec,
                   char *errstr, size_t errstr_size);

/** Splits a key into new strings. Returns 0, or -1 when it is malformed. */
int vcdc_key_decode(const void *key, size_t len, char **collectionp,
                    char **idp);

#endif
