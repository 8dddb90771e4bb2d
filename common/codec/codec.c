/*
 * vcdc - Avro codec for change records: a direct encoder for the current
 * schema, avro-c's generic values for decoding any known writer schema (and
 * for the reference encoder the direct one is checked against).
 */
#include "codec.h"

#include <avro.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

/* Kept equal to schemas/change.avsc (tests/test_codec.c checks). */
const char vcdc_change_schema_json[] =
        "{\n"
        "  \"type\": \"record\",\n"
        "  \"name\": \"Change\",\n"
        "  \"namespace\": \"io.vcdc\",\n"
        "  \"doc\": \"One change of one vector: an upsert or a delete. Version 1.\",\n"
        "  \"fields\": [\n"
        "    {\"name\": \"collection\", \"type\": \"string\",\n"
        "     \"doc\": \"The collection (or table) the vector belongs to.\"},\n"
        "    {\"name\": \"id\", \"type\": \"string\",\n"
        "     \"doc\": \"The vector's id within its collection.\"},\n"
        "    {\"name\": \"op\",\n"
        "     \"type\": {\"type\": \"enum\", \"name\": \"Op\", \"symbols\": [\"UPSERT\", \"DELETE\"]},\n"
        "     \"doc\": \"UPSERT replaces the whole vector record; DELETE removes it.\"},\n"
        "    {\"name\": \"vector\", \"type\": {\"type\": \"array\", \"items\": \"float\"},\n"
        "     \"default\": [], \"doc\": \"The dense vector, float32; empty for deletes.\"},\n"
        "    {\"name\": \"sparse\",\n"
        "     \"type\": [\"null\", {\"type\": \"record\", \"name\": \"SparseVector\", \"fields\": [\n"
        "       {\"name\": \"indices\", \"type\": {\"type\": \"array\", \"items\": \"long\"}},\n"
        "       {\"name\": \"values\", \"type\": {\"type\": \"array\", \"items\": \"float\"}}]}],\n"
        "     \"default\": null,\n"
        "     \"doc\": \"An optional sparse vector: ascending indices and their values.\"},\n"
        "    {\"name\": \"metadata\", \"type\": [\"null\", \"string\"], \"default\": null,\n"
        "     \"doc\": \"A JSON object, as text.\"},\n"
        "    {\"name\": \"document\", \"type\": [\"null\", \"string\"], \"default\": null,\n"
        "     \"doc\": \"The source text of the vector, if any.\"},\n"
        "    {\"name\": \"source_ts_ms\", \"type\": [\"null\", \"long\"], \"default\": null,\n"
        "     \"doc\": \"When the change happened at the source, ms since the epoch.\"}\n"
        "  ]\n"
        "}\n";

#define MAGIC_CONFLUENT 0x00
#define MAGIC_SOE0 0xC3
#define MAGIC_SOE1 0x01
#define HDR_CONFLUENT 5
#define HDR_SOE 10

/* Field positions in the current schema, for encoding. */
enum { F_COLLECTION, F_ID, F_OP, F_VECTOR, F_SPARSE, F_METADATA, F_DOCUMENT,
       F_SOURCE_TS };

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

/*
 * CRC-64-AVRO, as the Avro specification defines it.
 */
#define CRC64_EMPTY 0xc15d213aa4d7a795ULL

uint64_t vcdc_crc64_avro(const void *buf, size_t len) {
        static uint64_t table[256];
        static int ready;
        const unsigned char *p = buf;
        uint64_t fp = CRC64_EMPTY;
        size_t i;

        if (!ready) {
                /* Idempotent: racing threads write the same values. */
                for (i = 0; i < 256; i++) {
                        uint64_t f = i;
                        int j;
                        for (j = 0; j < 8; j++)
                                f = (f >> 1) ^ (CRC64_EMPTY & -(f & 1));
                        table[i] = f;
                }
                ready = 1;
        }
        for (i = 0; i < len; i++)
                fp = (fp >> 8) ^ table[(fp ^ p[i]) & 0xff];
        return fp;
}

/*
 * Parsing Canonical Form.
 */
/* A JSON string literal, UTF-8 kept as is. */
static void sb_json_string(vcdc_buf_t *sb, const char *s) {
        json_t *js = json_string(s);
        char *enc = js ? json_dumps(js, JSON_ENCODE_ANY) : NULL;

        if (enc)
                vcdc_buf_puts(sb, enc);
        else
                sb->failed = 1;
        free(enc);
        json_decref(js);
}

static int is_primitive(const char *t) {
        static const char *const prims[] = {"null",  "boolean", "int",
                                            "long",  "float",   "double",
                                            "bytes", "string",  NULL};
        const char *const *p;

        for (p = prims; *p; p++)
                if (!strcmp(*p, t))
                        return 1;
        return 0;
}

/* The full name of name in namespace ns, into out. */
static void full_name(const char *name, const char *ns, char *out,
                      size_t out_size) {
        if (strchr(name, '.') || !ns || !*ns)
                snprintf(out, out_size, "%s", name);
        else
                snprintf(out, out_size, "%s.%s", ns, name);
}

static int canon(vcdc_buf_t *sb, json_t *js, const char *ns, char *errstr,
                 size_t errstr_size, int depth);

static int canon_fields(vcdc_buf_t *sb, json_t *fields, const char *ns,
                        char *errstr, size_t errstr_size, int depth) {
        size_t i;
        json_t *f;

        if (!json_is_array(fields)) {
                snprintf(errstr, errstr_size, "record fields must be an array");
                return -1;
        }
        vcdc_buf_puts(sb, ",\"fields\":[");
        json_array_foreach(fields, i, f) {
                json_t *name = json_object_get(f, "name");
                if (!json_is_string(name)) {
                        snprintf(errstr, errstr_size,
                                 "field %zu has no name", i);
                        return -1;
                }
                vcdc_buf_puts(sb, i ? ",{\"name\":" : "{\"name\":");
                sb_json_string(sb, json_string_value(name));
                vcdc_buf_puts(sb, ",\"type\":");
                if (canon(sb, json_object_get(f, "type"), ns, errstr,
                          errstr_size, depth + 1) == -1)
                        return -1;
                vcdc_buf_puts(sb, "}");
        }
        vcdc_buf_puts(sb, "]");
        return 0;
}

static int canon(vcdc_buf_t *sb, json_t *js, const char *ns, char *errstr,
                 size_t errstr_size, int depth) {
        char fname[512];
        const char *type;
        json_t *name, *jns;
        size_t i;
        json_t *el;

        if (depth > 64) {
                snprintf(errstr, errstr_size, "schema nested too deeply");
                return -1;
        }
        if (json_is_string(js)) {
                type = json_string_value(js);
                if (is_primitive(type)) {
                        sb_json_string(sb, type);
                } else {
                        full_name(type, ns, fname, sizeof(fname));
                        sb_json_string(sb, fname);
                }
                return 0;
        }
        if (json_is_array(js)) {
                vcdc_buf_puts(sb, "[");
                json_array_foreach(js, i, el) {
                        if (i)
                                vcdc_buf_puts(sb, ",");
                        if (canon(sb, el, ns, errstr, errstr_size,
                                  depth + 1) == -1)
                                return -1;
                }
                vcdc_buf_puts(sb, "]");
                return 0;
        }
        if (!json_is_object(js) || !json_object_get(js, "type")) {
                snprintf(errstr, errstr_size, "schema without a type");
                return -1;
        }
        if (!json_is_string(json_object_get(js, "type")))
                return canon(sb, json_object_get(js, "type"), ns, errstr,
                             errstr_size, depth + 1);
        type = json_string_value(json_object_get(js, "type"));
        if (is_primitive(type)) {
                sb_json_string(sb, type);
                return 0;
        }
        if (!strcmp(type, "array") || !strcmp(type, "map")) {
                const char *key = type[0] == 'a' ? "items" : "values";
                vcdc_buf_puts(sb, "{\"type\":");
                sb_json_string(sb, type);
                vcdc_buf_puts(sb, ",\"");
                vcdc_buf_puts(sb, key);
                vcdc_buf_puts(sb, "\":");
                if (canon(sb, json_object_get(js, key), ns, errstr,
                          errstr_size, depth + 1) == -1)
                        return -1;
                vcdc_buf_puts(sb, "}");
                return 0;
        }
        if (strcmp(type, "record") && strcmp(type, "error") &&
            strcmp(type, "enum") && strcmp(type, "fixed")) {
                /* A named type used through {"type": "Name"}. */
                full_name(type, ns, fname, sizeof(fname));
                sb_json_string(sb, fname);
                return 0;
        }
        name = json_object_get(js, "name");
        if (!json_is_string(name)) {
                snprintf(errstr, errstr_size, "%s without a name", type);
                return -1;
        }
        jns = json_object_get(js, "namespace");
        if (json_is_string(jns))
                ns = json_string_value(jns);
        full_name(json_string_value(name), ns, fname, sizeof(fname));
        vcdc_buf_puts(sb, "{\"name\":");
        sb_json_string(sb, fname);
        vcdc_buf_puts(sb, ",\"type\":");
        sb_json_string(sb, !strcmp(type, "error") ? "record" : type);
        if (!strcmp(type, "record") || !strcmp(type, "error")) {
                /* Names inside take the record's namespace. */
                char *dot = strrchr(fname, '.');
                char inner[512] = "";
                if (dot)
                        snprintf(inner, sizeof(inner), "%.*s",
                                 (int)(dot - fname), fname);
                if (canon_fields(sb, json_object_get(js, "fields"), inner,
                                 errstr, errstr_size, depth) == -1)
                        return -1;
        } else if (!strcmp(type, "enum")) {
                json_t *syms = json_object_get(js, "symbols");
                if (!json_is_array(syms)) {
                        snprintf(errstr, errstr_size, "enum %s without symbols",
                                 fname);
                        return -1;
                }
                vcdc_buf_puts(sb, ",\"symbols\":[");
                json_array_foreach(syms, i, el) {
                        if (i)
                                vcdc_buf_puts(sb, ",");
                        sb_json_string(sb, json_string_value(el) ?
                                                   json_string_value(el) : "");
                }
                vcdc_buf_puts(sb, "]");
        } else {
                json_t *size = json_object_get(js, "size");
                char num[32];
                if (!json_is_integer(size)) {
                        snprintf(errstr, errstr_size, "fixed %s without size",
                                 fname);
                        return -1;
                }
                snprintf(num, sizeof(num), ",\"size\":%lld",
                         (long long)json_integer_value(size));
                vcdc_buf_puts(sb, num);
        }
        vcdc_buf_puts(sb, "}");
        return 0;
}

char *vcdc_schema_canonical(const char *schema_json, char *errstr,
                            size_t errstr_size) {
        vcdc_buf_t sb = VCDC_BUF_INIT;
        json_error_t jerr;
        json_t *js;

        if (!(js = json_loads(schema_json, JSON_DECODE_ANY, &jerr))) {
                snprintf(errstr, errstr_size, "schema: line %d: %s", jerr.line,
                         jerr.text);
                return NULL;
        }
        if (canon(&sb, js, NULL, errstr, errstr_size, 0) == -1) {
                json_decref(js);
                vcdc_buf_free(&sb);
                return NULL;
        }
        json_decref(js);
        if (sb.failed) {
                snprintf(errstr, errstr_size, "out of memory");
                vcdc_buf_free(&sb);
                return NULL;
        }
        return vcdc_buf_detach(&sb, NULL);
}

/*
 * The codec.
 */
static void entry_clear(schema_entry_t *e) {
        if (e->iface) {
                avro_value_decref(&e->value);
                avro_value_iface_decref(e->iface);
        }
        if (e->schema)
                avro_schema_decref(e->schema);
        memset(e, 0, sizeof(*e));
}

int vcdc_codec_add_schema(vcdc_codec_t *codec, const char *schema_json,
                          int32_t schema_id, char *errstr, size_t errstr_size) {
        schema_entry_t e = {0}, *entries;
        char *canonical;

        if (!(canonical = vcdc_schema_canonical(schema_json, errstr,
                                                errstr_size)))
                return -1;
        e.fingerprint = vcdc_crc64_avro(canonical, strlen(canonical));
        free(canonical);
        e.schema_id = schema_id;
        if (avro_schema_from_json_length(schema_json, strlen(schema_json),
                                         &e.schema)) {
                snprintf(errstr, errstr_size, "schema: %s", avro_strerror());
                return -1;
        }
        if (!is_avro_record(e.schema)) {
                snprintf(errstr, errstr_size, "schema: not a record");
                goto err;
        }
        if (!(e.iface = avro_generic_class_from_schema(e.schema)) ||
            avro_generic_value_new(e.iface, &e.value)) {
                snprintf(errstr, errstr_size, "schema: %s", avro_strerror());
                if (e.iface)
                        avro_value_iface_decref(e.iface);
                e.iface = NULL;
                goto err;
        }
        entries = realloc(codec->entries,
                          (codec->entry_cnt + 1) * sizeof(*entries));
        if (!entries) {
                snprintf(errstr, errstr_size, "out of memory");
                goto err;
        }
        codec->entries = entries;
        codec->entries[codec->entry_cnt++] = e;
        return 0;
err:
        entry_clear(&e);
        return -1;
}

vcdc_codec_t *vcdc_codec_new(char *errstr, size_t errstr_size) {
        vcdc_codec_t *codec = calloc(1, sizeof(*codec));

        if (!codec) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        codec->schema_id = -1;
        if (vcdc_codec_add_schema(codec, vcdc_change_schema_json, -1, errstr,
                                  errstr_size) == -1) {
                vcdc_codec_destroy(codec);
                return NULL;
        }
        return codec;
}

void vcdc_codec_destroy(vcdc_codec_t *codec) {
        size_t i;

        if (!codec)
                return;
        for (i = 0; i < codec->entry_cnt; i++)
                entry_clear(&codec->entries[i]);
        free(codec->entries);
        free(codec);
}

void vcdc_codec_set_schema_id(vcdc_codec_t *codec, int32_t schema_id) {
        codec->schema_id = schema_id < 0 ? -1 : schema_id;
        codec->entries[0].schema_id = codec->schema_id;
}

uint64_t vcdc_codec_fingerprint(const vcdc_codec_t *codec) {
        return codec->entries[0].fingerprint;
}

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
                            avro_value_set_long(&el,
                                                rec->sparse_indices[i]))
                                return -1;
                }
                if (avro_value_get_by_index(&branch, 1, &sub, NULL) ||
                    set_float_array(&sub, rec->sparse_values,
                                    rec->sparse_nnz))
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
                buf[2 + i] =
                        (unsigned char)(codec->entries[0].fingerprint >> (8 * i));
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

/*
 * Decoding: read with the writer's schema, then take the fields by name.
 */
static schema_entry_t *find_entry(vcdc_codec_t *codec, const unsigned char *p,
                                  size_t len, size_t *hdrp, char *errstr,
                                  size_t errstr_size) {
        size_t i;

        if (len >= HDR_SOE && p[0] == MAGIC_SOE0 && p[1] == MAGIC_SOE1) {
                uint64_t fp = 0;
                for (i = 0; i < 8; i++)
                        fp |= (uint64_t)p[2 + i] << (8 * i);
                *hdrp = HDR_SOE;
                for (i = 0; i < codec->entry_cnt; i++)
                        if (codec->entries[i].fingerprint == fp)
                                return &codec->entries[i];
                snprintf(errstr, errstr_size,
                         "unknown schema fingerprint 0x%016llx",
                         (unsigned long long)fp);
                return NULL;
        }
        if (len >= HDR_CONFLUENT && p[0] == MAGIC_CONFLUENT) {
                int32_t id = (int32_t)(((uint32_t)p[1] << 24) |
                                       ((uint32_t)p[2] << 16) |
                                       ((uint32_t)p[3] << 8) | p[4]);
                *hdrp = HDR_CONFLUENT;
                for (i = 0; i < codec->entry_cnt; i++)
                        if (codec->entries[i].schema_id >= 0 &&
                            codec->entries[i].schema_id == id)
                                return &codec->entries[i];
                snprintf(errstr, errstr_size, "unknown schema id %d", id);
                return NULL;
        }
        snprintf(errstr, errstr_size,
                 "not an Avro single-object or Confluent-framed message "
                 "(%zu bytes, first 0x%02x)",
                 len, len ? p[0] : 0);
        return NULL;
}

/* The string of an optional field (NULL for null or a missing field).
 * On failure *whyp may say what is wrong beyond "invalid". */
static int get_opt_string(avro_value_t *val, const char *name, char **outp,
                          const char **whyp) {
        avro_value_t field, branch;
        const char *s;
        size_t size;

        *outp = NULL;
        if (avro_value_get_by_name(val, name, &field, NULL))
                return 0; /* not in the writer's schema: the default */
        if (avro_value_get_type(&field) == AVRO_UNION) {
                if (avro_value_get_current_branch(&field, &branch))
                        return -1;
                field = branch;
        }
        if (avro_value_get_type(&field) == AVRO_NULL)
                return 0;
        if (avro_value_get_type(&field) != AVRO_STRING ||
            avro_value_get_string(&field, &s, &size))
                return -1;
        if (size == 0)
                return -1;
        if (memchr(s, '\0', size - 1)) {
                /* an embedded NUL cannot be a C string, nor PostgreSQL
                 * text */
                *whyp = "holds a NUL byte";
                return -1;
        }
        return (*outp = strdup(s)) ? 0 : -1;
}

static int get_floats(avro_value_t *arr, float **outp, size_t *cntp) {
        avro_value_t el;
        size_t n, i;
        float *v;

        *outp = NULL;
        *cntp = 0;
        if (avro_value_get_type(arr) != AVRO_ARRAY ||
            avro_value_get_size(arr, &n))
                return -1;
        if (!n)
                return 0;
        if (!(v = malloc(n * sizeof(*v))))
                return -1;
        for (i = 0; i < n; i++) {
                if (avro_value_get_by_index(arr, i, &el, NULL) ||
                    avro_value_get_float(&el, &v[i])) {
                        free(v);
                        return -1;
                }
        }
        *outp = v;
        *cntp = n;
        return 0;
}

/* A decoder's refusal of a field: the record's collection and id as far as
 * known, the field, and why when there is more to say. Returns -1. */
static int invalid_field(const vcdc_record_t *rec, const char *what,
                         const char *why, char *errstr, size_t errstr_size) {
        snprintf(errstr, errstr_size,
                 "record %s%s%s: invalid field \"%s\"%s%s",
                 rec->collection ? rec->collection : "?",
                 rec->id ? "/" : "", rec->id ? rec->id : "", what,
                 why ? ": it " : "", why ? why : "");
        return -1;
}

/* What both decoders require of the vector: finite, and there for an
 * upsert. Returns 0, or -1 with errstr. */
static int check_vector(const vcdc_record_t *rec, char *errstr,
                        size_t errstr_size) {
        size_t i;

        for (i = 0; i < rec->dim; i++)
                if (!isfinite(rec->vector[i]))
                        return invalid_field(rec, "vector", NULL, errstr,
                                             errstr_size);
        if (rec->op == VCDC_OP_UPSERT && !rec->dim) {
                snprintf(errstr, errstr_size,
                         "record %s/%s: upsert without a vector",
                         rec->collection, rec->id);
                return -1;
        }
        return 0;
}

static int extract(avro_value_t *val, vcdc_record_t *rec, char *errstr,
                   size_t errstr_size) {
        avro_value_t field, branch, sub;
        const char *what, *why = NULL;
        int sym;
        size_t i, n;

        what = "collection";
        if (get_opt_string(val, "collection", &rec->collection, &why) ||
            !rec->collection || !*rec->collection)
                goto bad;
        what = "id";
        if (get_opt_string(val, "id", &rec->id, &why) || !rec->id || !*rec->id)
                goto bad;
        what = "op";
        if (avro_value_get_by_name(val, "op", &field, NULL) ||
            avro_value_get_enum(&field, &sym) || sym < 0 || sym > 1)
                goto bad;
        rec->op = sym ? VCDC_OP_DELETE : VCDC_OP_UPSERT;
        what = "vector";
        if (!avro_value_get_by_name(val, "vector", &field, NULL) &&
            get_floats(&field, &rec->vector, &rec->dim))
                goto bad;
        if (check_vector(rec, errstr, errstr_size))
                return -1;
        what = "sparse";
        if (!avro_value_get_by_name(val, "sparse", &field, NULL)) {
                if (avro_value_get_current_branch(&field, &branch))
                        goto bad;
                if (avro_value_get_type(&branch) == AVRO_RECORD) {
                        rec->has_sparse = 1;
                        if (avro_value_get_by_name(&branch, "indices", &sub,
                                                   NULL) ||
                            avro_value_get_size(&sub, &n))
                                goto bad;
                        if (n && !(rec->sparse_indices =
                                           malloc(n * sizeof(uint32_t))))
                                goto bad;
                        for (i = 0; i < n; i++) {
                                avro_value_t el;
                                int64_t ix;
                                if (avro_value_get_by_index(&sub, i, &el,
                                                            NULL) ||
                                    avro_value_get_long(&el, &ix) || ix < 0 ||
                                    ix > UINT32_MAX)
                                        goto bad;
                                rec->sparse_indices[i] = (uint32_t)ix;
                        }
                        rec->sparse_nnz = n;
                        if (avro_value_get_by_name(&branch, "values", &sub,
                                                   NULL) ||
                            get_floats(&sub, &rec->sparse_values, &n) ||
                            n != rec->sparse_nnz)
                                goto bad;
                }
        }
        what = "metadata";
        if (get_opt_string(val, "metadata", &rec->metadata, &why))
                goto bad;
        what = "document";
        if (get_opt_string(val, "document", &rec->document, &why))
                goto bad;
        what = "source_ts_ms";
        if (!avro_value_get_by_name(val, "source_ts_ms", &field, NULL)) {
                if (avro_value_get_current_branch(&field, &branch))
                        goto bad;
                if (avro_value_get_type(&branch) == AVRO_INT64 &&
                    avro_value_get_long(&branch, &rec->source_ts_ms))
                        goto bad;
        }
        return 0;
bad:
        return invalid_field(rec, what, why, errstr, errstr_size);
}

/*
 * Before avro-c reads a body, walk it against the writer's schema: every
 * length and count must fit in the bytes that remain, and the record must
 * end exactly at the end of the message. avro-c allocates a string's length
 * before reading it, so this keeps a corrupt length from asking for
 * gigabytes, and it finds trailing bytes, which avro-c's memory reader does
 * not report.
 */
static int walk_long(const unsigned char **pp, const unsigned char *end,
                     int64_t *out) {
        const unsigned char *p = *pp;
        uint64_t v = 0;
        int shift = 0;

        do {
                if (p >= end || shift > 63)
                        return -1;
                v |= (uint64_t)(*p & 0x7f) << shift;
                shift += 7;
        } while (*p++ & 0x80);
        *out = (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
        *pp = p;
        return 0;
}

static int walk(avro_schema_t schema, const unsigned char **pp,
                const unsigned char *end, int depth);

/* Array and map blocks: a count, or a negative count and a byte size. */
static int walk_blocks(avro_schema_t items, int is_map,
                       const unsigned char **pp, const unsigned char *end,
                       int depth) {
        int64_t cnt, size;

        for (;;) {
                if (walk_long(pp, end, &cnt))
                        return -1;
                if (cnt == 0)
                        return 0;
                if (cnt < 0) {
                        if (cnt == INT64_MIN || walk_long(pp, end, &size) ||
                            size < 0)
                                return -1;
                        cnt = -cnt;
                }
                /* Every item takes at least one byte in our schemas. */
                if (cnt > end - *pp)
                        return -1;
                if (!is_map && avro_typeof(items) == AVRO_FLOAT) {
                        if (cnt > (end - *pp) / 4)
                                return -1;
                        *pp += 4 * cnt;
                        continue;
                }
                while (cnt-- > 0) {
                        if (is_map) {
                                int64_t len;
                                if (walk_long(pp, end, &len) || len < 0 ||
                                    len > end - *pp)
                                        return -1;
                                *pp += len;
                        }
                        if (walk(items, pp, end, depth + 1))
                                return -1;
                }
        }
}

static int walk(avro_schema_t schema, const unsigned char **pp,
                const unsigned char *end, int depth) {
        int64_t v;
        size_t i, n;

        if (depth > 32)
                return -1;
        switch (avro_typeof(schema)) {
        case AVRO_NULL:
                return 0;
        case AVRO_BOOLEAN:
                if (*pp >= end || **pp > 1)
                        return -1;
                (*pp)++;
                return 0;
        case AVRO_INT32:
        case AVRO_INT64:
                return walk_long(pp, end, &v);
        case AVRO_FLOAT:
        case AVRO_DOUBLE:
                n = avro_typeof(schema) == AVRO_FLOAT ? 4 : 8;
                if ((size_t)(end - *pp) < n)
                        return -1;
                *pp += n;
                return 0;
        case AVRO_STRING:
        case AVRO_BYTES:
                if (walk_long(pp, end, &v) || v < 0 || v > end - *pp)
                        return -1;
                *pp += v;
                return 0;
        case AVRO_FIXED:
                v = avro_schema_fixed_size(schema);
                if (v < 0 || v > end - *pp)
                        return -1;
                *pp += v;
                return 0;
        case AVRO_ENUM:
                return walk_long(pp, end, &v) || v < 0 ||
                       v >= avro_schema_enum_number_of_symbols(schema);
        case AVRO_RECORD:
                n = avro_schema_record_size(schema);
                for (i = 0; i < n; i++)
                        if (walk(avro_schema_record_field_get_by_index(
                                         schema, (int)i),
                                 pp, end, depth + 1))
                                return -1;
                return 0;
        case AVRO_UNION:
                if (walk_long(pp, end, &v) || v < 0 ||
                    (size_t)v >= avro_schema_union_size(schema))
                        return -1;
                return walk(avro_schema_union_branch(schema, (int)v), pp, end,
                            depth + 1);
        case AVRO_ARRAY:
                return walk_blocks(avro_schema_array_items(schema), 0, pp, end,
                                   depth);
        case AVRO_MAP:
                return walk_blocks(avro_schema_map_values(schema), 1, pp, end,
                                   depth);
        case AVRO_LINK:
                return walk(avro_schema_link_target(schema), pp, end,
                            depth + 1);
        }
        return -1;
}

/*
 * The direct decoder of the current schema (entries[0], or an entry of the
 * same canonical form under a schema id), for bodies walk() accepted, so
 * every length, count and long is known to fit: the fields in schema order
 * straight into rec, with extract()'s checks and messages.
 * vcdc_codec_decode_generic() reads the same through avro-c;
 * tests/test_codec_fast.c and fuzz_codec hold the two equal.
 */
static int64_t take_long(const unsigned char **pp) {
        const unsigned char *p = *pp;
        uint64_t v = 0;
        int shift = 0;

        do {
                v |= (uint64_t)(*p & 0x7f) << shift;
                shift += 7;
        } while (*p++ & 0x80);
        *pp = p;
        return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

/* A string; -1 (*whyp set) if it holds a NUL, or no memory. */
static int take_string(const unsigned char **pp, char **outp,
                       const char **whyp) {
        size_t len = (size_t)take_long(pp);

        if (memchr(*pp, '\0', len)) {
                *whyp = "holds a NUL byte";
                return -1;
        }
        if (!(*outp = malloc(len + 1)))
                return -1;
        memcpy(*outp, *pp, len);
        (*outp)[len] = '\0';
        *pp += len;
        return 0;
}

/* The items of an array, block by block: 4-byte floats (is_float) or
 * longs, into a new array of *cntp floats or int64s. */
static int take_items(const unsigned char **pp, int is_float, void **outp,
                      size_t *cntp) {
        size_t n = 0, i, width = is_float ? sizeof(float) : sizeof(int64_t);
        unsigned char *v = NULL, *nv;
        int64_t cnt;

        *outp = NULL;
        *cntp = 0;
        while ((cnt = take_long(pp)) != 0) {
                if (cnt < 0) {
                        cnt = -cnt;
                        (void)take_long(pp); /* the block's byte size */
                }
                if (!(nv = realloc(v, (n + (size_t)cnt) * width))) {
                        free(v);
                        return -1;
                }
                v = nv;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
                if (is_float) {
                        memcpy(v + n * width, *pp, 4 * (size_t)cnt);
                        *pp += 4 * cnt;
                        n += (size_t)cnt;
                        continue;
                }
#endif
                for (i = 0; i < (size_t)cnt; i++, n++) {
                        if (is_float) {
                                const unsigned char *b = *pp;
                                uint32_t u = (uint32_t)b[0] |
                                             (uint32_t)b[1] << 8 |
                                             (uint32_t)b[2] << 16 |
                                             (uint32_t)b[3] << 24;
                                memcpy(v + n * width, &u, 4);
                                *pp += 4;
                        } else {
                                int64_t l = take_long(pp);
                                memcpy(v + n * width, &l, width);
                        }
                }
        }
        *outp = v;
        *cntp = n;
        return 0;
}

static int decode_current(const unsigned char *p, vcdc_record_t *rec,
                          char *errstr, size_t errstr_size) {
        const char *what, *why = NULL;
        int64_t *ix = NULL;
        size_t i, n;
        void *items;

        what = "collection";
        if (take_string(&p, &rec->collection, &why) || !*rec->collection)
                goto bad;
        what = "id";
        if (take_string(&p, &rec->id, &why) || !*rec->id)
                goto bad;
        rec->op = take_long(&p) ? VCDC_OP_DELETE : VCDC_OP_UPSERT;
        what = "vector";
        if (take_items(&p, 1, &items, &rec->dim))
                goto bad;
        rec->vector = items;
        if (check_vector(rec, errstr, errstr_size))
                return -1;
        what = "sparse";
        if (take_long(&p)) {
                rec->has_sparse = 1;
                if (take_items(&p, 0, &items, &n))
                        goto bad;
                ix = items;
                if (n && !(rec->sparse_indices =
                                   malloc(n * sizeof(uint32_t))))
                        goto bad;
                for (i = 0; i < n; i++) {
                        if (ix[i] < 0 || ix[i] > UINT32_MAX)
                                goto bad;
                        rec->sparse_indices[i] = (uint32_t)ix[i];
                }
                free(ix);
                ix = NULL;
                rec->sparse_nnz = n;
                if (take_items(&p, 1, &items, &n))
                        goto bad;
                rec->sparse_values = items;
                if (n != rec->sparse_nnz)
                        goto bad;
        }
        what = "metadata";
        if (take_long(&p) && take_string(&p, &rec->metadata, &why))
                goto bad;
        what = "document";
        if (take_long(&p) && take_string(&p, &rec->document, &why))
                goto bad;
        if (take_long(&p))
                rec->source_ts_ms = take_long(&p);
        return 0;
bad:
        free(ix);
        return invalid_field(rec, what, why, errstr, errstr_size);
}

static int decode(vcdc_codec_t *codec, const void *buf, size_t len,
                  vcdc_record_t *rec, int generic, char *errstr,
                  size_t errstr_size) {
        schema_entry_t *e;
        avro_reader_t reader;
        const unsigned char *body, *end;
        size_t hdr;
        int r;

        vcdc_record_clear(rec);
        if (!buf) {
                snprintf(errstr, errstr_size, "empty message (tombstone)");
                return -1;
        }
        if (!(e = find_entry(codec, buf, len, &hdr, errstr, errstr_size)))
                return -1;
        body = (const unsigned char *)buf + hdr;
        end = (const unsigned char *)buf + len;
        if (walk(e->schema, &body, end, 0)) {
                snprintf(errstr, errstr_size,
                         "undecodable Avro body (%zu bytes): truncated or "
                         "corrupt",
                         len - hdr);
                return -1;
        }
        if (body != end) {
                snprintf(errstr, errstr_size,
                         "%zu trailing bytes after the Avro record",
                         (size_t)(end - body));
                return -1;
        }
        if (!generic && e->fingerprint == codec->entries[0].fingerprint) {
                r = decode_current((const unsigned char *)buf + hdr, rec,
                                   errstr, errstr_size);
        } else {
                avro_value_reset(&e->value);
                reader = avro_reader_memory((const char *)buf + hdr,
                                            (int64_t)(len - hdr));
                r = avro_value_read(reader, &e->value);
                avro_reader_free(reader);
                if (r) {
                        snprintf(errstr, errstr_size,
                                 "undecodable Avro body: %s",
                                 avro_strerror());
                        return -1;
                }
                r = extract(&e->value, rec, errstr, errstr_size);
        }
        if (r == 0)
                r = vcdc_record_check_limits(rec, errstr, errstr_size);
        if (r == -1)
                vcdc_record_clear(rec);
        return r;
}

int vcdc_codec_decode(vcdc_codec_t *codec, const void *buf, size_t len,
                      vcdc_record_t *rec, char *errstr, size_t errstr_size) {
        return decode(codec, buf, len, rec, 0, errstr, errstr_size);
}

int vcdc_codec_decode_generic(vcdc_codec_t *codec, const void *buf,
                              size_t len, vcdc_record_t *rec, char *errstr,
                              size_t errstr_size) {
        return decode(codec, buf, len, rec, 1, errstr, errstr_size);
}

/*
 * Keys.
 */
size_t vcdc_key_write(const char *collection, const char *id, char *buf,
                      size_t size) {
        size_t clen = strlen(collection), ilen = strlen(id), n = 0, i;

        for (i = 0; i < clen; i++)
                if (collection[i] == '%' || collection[i] == '/')
                        n += 2;
        n += clen + 1 + ilen;
        if (n >= size)
                return n;
        for (i = 0; i < clen; i++) {
                char c = collection[i];
                if (c == '%' || c == '/') {
                        *buf++ = '%';
                        *buf++ = '2';
                        *buf++ = c == '%' ? '5' : 'F';
                } else {
                        *buf++ = c;
                }
        }
        *buf++ = '/';
        memcpy(buf, id, ilen);
        buf[ilen] = '\0';
        return n;
}

int vcdc_key_encode(const char *collection, const char *id, char **keyp,
                    size_t *lenp) {
        size_t n = vcdc_key_write(collection, id, NULL, 0);
        char *key = malloc(n + 1);

        if (!key)
                return -1;
        vcdc_key_write(collection, id, key, n + 1);
        *keyp = key;
        *lenp = n;
        return 0;
}

int vcdc_key_check(const void *key, size_t len, const vcdc_record_t *rec,
                   char *errstr, size_t errstr_size) {
        char buf[VCDC_COLLECTION_MAX_BYTES * 3 + VCDC_ID_MAX_BYTES + 2];
        size_t need = vcdc_key_write(rec->collection, rec->id, buf,
                                     sizeof(buf));

        if (need >= sizeof(buf))
                need = 0, buf[0] = '\0'; /* beyond the limits: not written */
        else if (key && len == need && !memcmp(key, buf, len))
                return 0;
        snprintf(errstr, errstr_size,
                 "the message key \"%.*s\" is not the record's "
                 "collection/id \"%.*s\" (keys decide the partition, and so "
                 "the order of one id's changes)",
                 key ? (int)(len < 80 ? len : 80) : 0,
                 key ? (const char *)key : "",
                 (int)(need < 80 ? need : 80), buf);
        return -1;
}

int vcdc_key_decode(const void *key, size_t len, char **collectionp,
                    char **idp) {
        const char *k = key, *slash;
        char *coll, *id;
        size_t i, n = 0, clen;

        *collectionp = *idp = NULL;
        if (!k || !(slash = memchr(k, '/', len)))
                return -1;
        clen = (size_t)(slash - k);
        if (!(coll = malloc(clen + 1)))
                return -1;
        for (i = 0; i < clen; i++) {
                if (k[i] == '%') {
                        if (i + 2 < clen &&
                            k[i + 1] == '2' &&
                            (k[i + 2] == '5' || k[i + 2] == 'F')) {
                                coll[n++] = k[i + 2] == '5' ? '%' : '/';
                                i += 2;
                                continue;
                        }
                        free(coll);
                        return -1;
                }
                if (k[i] == '\0') {
                        free(coll);
                        return -1;
                }
                coll[n++] = k[i];
        }
        coll[n] = '\0';
        len -= clen + 1;
        if (memchr(slash + 1, '\0', len) || !(id = malloc(len + 1))) {
                free(coll);
                return -1;
        }
        memcpy(id, slash + 1, len);
        id[len] = '\0';
        *collectionp = coll;
        *idp = id;
        return 0;
}
