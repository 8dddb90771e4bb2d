/*
 * vcdc - the change record's schema: its text, the CRC-64-AVRO fingerprint
 * of its Parsing Canonical Form, and the codec's table of writer schemas
 * (new, destroy, add_schema). Encoding and decoding are encode.c's and
 * decode.c's.
 * Never encodes or decodes a record itself.
 */
#include "codec_int.h"

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
        "  \"doc\": \"One change of one vector: an upsert or a delete. Version "
        "1.\",\n"
        "  \"fields\": [\n"
        "    {\"name\": \"collection\", \"type\": \"string\",\n"
        "     \"doc\": \"The collection (or table) the vector belongs to.\"},\n"
        "    {\"name\": \"id\", \"type\": \"string\",\n"
        "     \"doc\": \"The vector's id within its collection.\"},\n"
        "    {\"name\": \"op\",\n"
        "     \"type\": {\"type\": \"enum\", \"name\": \"Op\", \"symbols\": "
        "[\"UPSERT\", \"DELETE\"]},\n"
        "     \"doc\": \"UPSERT replaces the whole vector record; DELETE "
        "removes it.\"},\n"
        "    {\"name\": \"vector\", \"type\": {\"type\": \"array\", \"items\": "
        "\"float\"},\n"
        "     \"default\": [], \"doc\": \"The dense vector, float32; empty for "
        "deletes.\"},\n"
        "    {\"name\": \"sparse\",\n"
        "     \"type\": [\"null\", {\"type\": \"record\", \"name\": "
        "\"SparseVector\", \"fields\": [\n"
        "       {\"name\": \"indices\", \"type\": {\"type\": \"array\", "
        "\"items\": \"long\"}},\n"
        "       {\"name\": \"values\", \"type\": {\"type\": \"array\", "
        "\"items\": \"float\"}}]}],\n"
        "     \"default\": null,\n"
        "     \"doc\": \"An optional sparse vector: ascending indices and "
        "their values.\"},\n"
        "    {\"name\": \"metadata\", \"type\": [\"null\", \"string\"], "
        "\"default\": null,\n"
        "     \"doc\": \"A JSON object, as text.\"},\n"
        "    {\"name\": \"document\", \"type\": [\"null\", \"string\"], "
        "\"default\": null,\n"
        "     \"doc\": \"The source text of the vector, if any.\"},\n"
        "    {\"name\": \"source_ts_ms\", \"type\": [\"null\", \"long\"], "
        "\"default\": null,\n"
        "     \"doc\": \"When the change happened at the source, ms since the "
        "epoch.\"}\n"
        "  ]\n"
        "}\n";

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
                        snprintf(errstr, errstr_size, "field %zu has no name",
                                 i);
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
                        if (canon(sb, el, ns, errstr, errstr_size, depth + 1) ==
                            -1)
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
                if (canon(sb, json_object_get(js, key), ns, errstr, errstr_size,
                          depth + 1) == -1)
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
                        sb_json_string(sb, json_string_value(el)
                                                   ? json_string_value(el)
                                                   : "");
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

        if (!(canonical =
                      vcdc_schema_canonical(schema_json, errstr, errstr_size)))
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
