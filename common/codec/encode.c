/*
 * vcdc - encoding change records: the direct encoder of the current schema
 * (Avro binary written by hand) and the generic one through avro-c (the
 * reference it is tested and fuzzed against), with either framing.
 * Encodes only what the current schema holds; never decides what a record
 * means.
 */
#include "codec_int.h"

#include <avro.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Sets an optional ["null", string] field. */
static int set_opt_string(avro_value_t *rec, int idx, const char *s) {
        avro_value_t field, branch;

        if (avro_value_get_by_index(rec, (size_t)idx, &field, NULL))
                return -1;
        if (!s)
                return avro_value_set_branch(&field, 0, &branch) ||
                       avro_value_set_null(&branch);
        return avro_value_set_branch(&field, 1, &branch) ||
               avro_value_set_string_len(&branch, s, strlen(s) + 1);
}

static int set_float_array(avro_value_t *arr, const float *v, size_t n) {
        avro_value_t el;
        size_t i;

        for (i = 0; i < n; i++)
                if (avro_value_append(arr, &el, NULL) ||
                    avro_value_set_float(&el, v[i]))
                        return -1;
        return 0;
}

static int fill_value(avro_value_t *val, const vcdc_record_t *rec) {
        avro_value_t field, branch, sub;
        size_t i;

        if (avro_value_get_by_index(val, F_COLLECTION, &field, NULL) ||
            avro_value_set_string_len(&field, rec->collection,
                                      strlen(rec->collection) + 1) ||
            avro_value_get_by_index(val, F_ID, &field, NULL) ||
            avro_value_set_string_len(&field, rec->id, strlen(rec->id) + 1) ||
            avro_value_get_by_index(val, F_OP, &field, NULL) ||
            avro_value_set_enum(&field, rec->op == VCDC_OP_DELETE ? 1 : 0) ||
            avro_value_get_by_index(val, F_VECTOR, &field, NULL) ||
            set_float_array(&field, rec->vector, rec->vector ? rec->dim : 0))
                return -1;

        if (avro_value_get_by_index(val, F_SPARSE, &field, NULL))
                return -1;
        if (!rec->has_sparse) {
                if (avro_value_set_branch(&field, 0, &branch) ||
                    avro_value_set_null(&branch))
                        return -1;
        } else {
                if (avro_value_set_branch(&field, 1, &branch) ||
                    avro_value_get_by_index(&branch, 0, &sub, NULL))
                        return -1;
                for (i = 0; i < rec->sparse_nnz; i++) {
                        avro_value_t el;
                        if (avro_value_append(&sub, &el, NULL) ||
                            avro_value_set_long(&el, rec->sparse_indices[i]))
                                return -1;
                }
                if (avro_value_get_by_index(&branch, 1, &sub, NULL) ||
                    set_float_array(&sub, rec->sparse_values, rec->sparse_nnz))
                        return -1;
        }
        if (set_opt_string(val, F_METADATA, rec->metadata) ||
            set_opt_string(val, F_DOCUMENT, rec->document))
                return -1;
        if (avro_value_get_by_index(val, F_SOURCE_TS, &field, NULL))
                return -1;
        if (rec->source_ts_ms < 0)
                return avro_value_set_branch(&field, 0, &branch) ||
                       avro_value_set_null(&branch);
        return avro_value_set_branch(&field, 1, &branch) ||
               avro_value_set_long(&branch, rec->source_ts_ms);
}

/* The framing header: hdr_size(codec) bytes at buf. */
static size_t hdr_size(const vcdc_codec_t *codec) {
        return codec->schema_id >= 0 ? HDR_CONFLUENT : HDR_SOE;
}

static void write_header(const vcdc_codec_t *codec, unsigned char *buf) {
        int i;

        if (codec->schema_id >= 0) {
                uint32_t id = (uint32_t)codec->schema_id;
                buf[0] = MAGIC_CONFLUENT;
                buf[1] = (unsigned char)(id >> 24);
                buf[2] = (unsigned char)(id >> 16);
                buf[3] = (unsigned char)(id >> 8);
                buf[4] = (unsigned char)id;
                return;
        }
        buf[0] = MAGIC_SOE0;
        buf[1] = MAGIC_SOE1;
        for (i = 0; i < 8; i++)
                buf[2 + i] = (unsigned char)(codec->entries[0].fingerprint >>
                                             (8 * i));
}

/*
 * The direct encoder: Avro binary for the current schema (the only one the
 * producer writes), straight into one buffer of the exact size. It writes
 * what avro-c's generic writer writes, byte for byte (tests/test_codec.c
 * compares them): longs zig-zag varints, strings a length then the bytes,
 * enums and union branches their index as a long, an array one block (its
 * count, then the items) and the terminating 0 (a lone 0 when empty), a
 * float its 4 IEEE-754 bytes little-endian. Its field order is the
 * schema's; change both together.
 */
static size_t long_size(int64_t v) {
        uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
        size_t n = 1;

        while (z >= 0x80) {
                z >>= 7;
                n++;
        }
        return n;
}

static unsigned char *put_long(unsigned char *p, int64_t v) {
        uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);

        while (z >= 0x80) {
                *p++ = (unsigned char)(z | 0x80);
                z >>= 7;
        }
        *p++ = (unsigned char)z;
        return p;
}

static unsigned char *put_bytes(unsigned char *p, const void *s, size_t len) {
        p = put_long(p, (int64_t)len);
        memcpy(p, s, len);
        return p + len;
}

static size_t floats_size(size_t n) {
        return n ? long_size((int64_t)n) + 4 * n + 1 : 1;
}

static unsigned char *put_floats(unsigned char *p, const float *v, size_t n) {
        size_t i;

        if (n) {
                p = put_long(p, (int64_t)n);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
                (void)i;
                memcpy(p, v, 4 * n);
                p += 4 * n;
#else
                for (i = 0; i < n; i++) {
                        uint32_t u;
                        memcpy(&u, &v[i], 4);
                        *p++ = (unsigned char)u;
                        *p++ = (unsigned char)(u >> 8);
                        *p++ = (unsigned char)(u >> 16);
                        *p++ = (unsigned char)(u >> 24);
                }
#endif
        }
        *p++ = 0; /* end of the array */
        return p;
}

/* What both encoders need of a record. Returns 0, or -1 with errstr. */
static int check_encodable(const vcdc_record_t *rec, char *errstr,
                           size_t errstr_size) {
        if (!rec->collection || !rec->id) {
                snprintf(errstr, errstr_size,
                         "record without collection or id");
                return -1;
        }
        if (rec->has_sparse && rec->sparse_nnz &&
            (!rec->sparse_indices || !rec->sparse_values)) {
                snprintf(errstr, errstr_size,
                         "encode %s/%s: sparse vector of %zu entries "
                         "without its indices or values",
                         rec->collection, rec->id, rec->sparse_nnz);
                return -1;
        }
        return 0;
}

int vcdc_codec_encode(vcdc_codec_t *codec, const vcdc_record_t *rec,
                      void **bufp, size_t *lenp, char *errstr,
                      size_t errstr_size) {
        size_t cap = 0;

        *bufp = NULL;
        return vcdc_codec_encode_into(codec, rec, bufp, &cap, lenp, errstr,
                                      errstr_size);
}

int vcdc_codec_encode_into(vcdc_codec_t *codec, const vcdc_record_t *rec,
                           void **bufp, size_t *capp, size_t *lenp,
                           char *errstr, size_t errstr_size) {
        size_t clen, ilen, mlen = 0, dlen = 0, dim, nnz = 0, size, hdr, i;
        unsigned char *buf, *p;

        if (check_encodable(rec, errstr, errstr_size) == -1)
                return -1;
        clen = strlen(rec->collection);
        ilen = strlen(rec->id);
        dim = rec->vector ? rec->dim : 0;
        hdr = hdr_size(codec);
        size = hdr + long_size((int64_t)clen) + clen +
               long_size((int64_t)ilen) + ilen + 1 /*op*/ + floats_size(dim) +
               1 /*sparse branch*/;
        if (rec->has_sparse) {
                nnz = rec->sparse_nnz;
                size += floats_size(nnz); /* values */
                if (nnz) {
                        size += long_size((int64_t)nnz) + 1;
                        for (i = 0; i < nnz; i++)
                                size += long_size(rec->sparse_indices[i]);
                } else {
                        size += 1;
                }
        }
        size += 1; /* metadata branch */
        if (rec->metadata) {
                mlen = strlen(rec->metadata);
                size += long_size((int64_t)mlen) + mlen;
        }
        size += 1; /* document branch */
        if (rec->document) {
                dlen = strlen(rec->document);
                size += long_size((int64_t)dlen) + dlen;
        }
        size += 1; /* source_ts_ms branch */
        if (rec->source_ts_ms >= 0)
                size += long_size(rec->source_ts_ms);

        if (size > *capp || !*bufp) {
                if (!(buf = realloc(*bufp, size))) {
                        snprintf(errstr, errstr_size, "out of memory");
                        return -1;
                }
                *bufp = buf;
                *capp = size;
        }
        buf = *bufp;
        write_header(codec, buf);
        p = buf + hdr;
        p = put_bytes(p, rec->collection, clen);
        p = put_bytes(p, rec->id, ilen);
        p = put_long(p, rec->op == VCDC_OP_DELETE ? 1 : 0);
        p = put_floats(p, rec->vector, dim);
        if (!rec->has_sparse) {
                p = put_long(p, 0);
        } else {
                p = put_long(p, 1);
                if (nnz) {
                        p = put_long(p, (int64_t)nnz);
                        for (i = 0; i < nnz; i++)
                                p = put_long(p, rec->sparse_indices[i]);
                }
                *p++ = 0; /* end of the indices */
                p = put_floats(p, rec->sparse_values, nnz);
        }
        if (rec->metadata) {
                p = put_long(p, 1);
                p = put_bytes(p, rec->metadata, mlen);
        } else {
                p = put_long(p, 0);
        }
        if (rec->document) {
                p = put_long(p, 1);
                p = put_bytes(p, rec->document, dlen);
        } else {
                p = put_long(p, 0);
        }
        if (rec->source_ts_ms >= 0) {
                p = put_long(p, 1);
                p = put_long(p, rec->source_ts_ms);
        } else {
                p = put_long(p, 0);
        }
        *lenp = size;
        return 0;
}

int vcdc_codec_encode_generic(vcdc_codec_t *codec, const vcdc_record_t *rec,
                              void **bufp, size_t *lenp, char *errstr,
                              size_t errstr_size) {
        schema_entry_t *e = &codec->entries[0];
        avro_writer_t writer;
        unsigned char *buf;
        size_t size, hdr;
        int r;

        if (check_encodable(rec, errstr, errstr_size) == -1)
                return -1;
        avro_value_reset(&e->value);
        if (fill_value(&e->value, rec) || avro_value_sizeof(&e->value, &size)) {
                snprintf(errstr, errstr_size, "encode %s/%s: %s",
                         rec->collection, rec->id, avro_strerror());
                return -1;
        }
        hdr = hdr_size(codec);
        if (!(buf = malloc(hdr + size))) {
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        write_header(codec, buf);
        writer = avro_writer_memory((char *)buf + hdr, (int64_t)size);
        r = avro_value_write(writer, &e->value);
        avro_writer_free(writer);
        if (r) {
                snprintf(errstr, errstr_size, "encode %s/%s: %s",
                         rec->collection, rec->id, avro_strerror());
                free(buf);
                return -1;
        }
        *bufp = buf;
        *lenp = hdr + size;
        return 0;
}
