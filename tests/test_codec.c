/*
 * vcdc - unit tests: Avro codec, framings, fingerprints, keys.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <avro.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"

static char errstr[512];

static char *read_file(const char *path) {
        FILE *fp = fopen(path, "rb");
        char *buf;
        long n;

        assert_non_null(fp);
        assert_int_equal(fseek(fp, 0, SEEK_END), 0);
        n = ftell(fp);
        rewind(fp);
        buf = malloc((size_t)n + 1);
        assert_non_null(buf);
        assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
        buf[n] = '\0';
        fclose(fp);
        return buf;
}

/* Values from the Avro specification's test data, and from fastavro. */
static void test_crc64_vectors(void **state) {
        static const struct {
                const char *canonical;
                uint64_t fp;
        } cases[] = {
                {"\"null\"", 7195948357588979594ULL},
                {"{\"name\":\"foo\",\"type\":\"fixed\",\"size\":15}",
                 1756455273707447556ULL},
        };
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(*cases); i++)
                assert_true(vcdc_crc64_avro(cases[i].canonical,
                                            strlen(cases[i].canonical)) ==
                            cases[i].fp);
}

static void test_canonical_forms(void **state) {
        static const struct {
                const char *schema, *canonical;
        } cases[] = {
                {"\"int\"", "\"int\""},
                {"{\"type\": \"long\"}", "\"long\""},
                {"{\"type\":\"fixed\",\"name\":\"foo\",\"size\":15,"
                 "\"doc\":\"x\"}",
                 "{\"name\":\"foo\",\"type\":\"fixed\",\"size\":15}"},
                {"{\"type\":\"enum\",\"name\":\"E\",\"namespace\":\"a.b\","
                 "\"symbols\":[\"X\",\"Y\"],\"default\":\"X\"}",
                 "{\"name\":\"a.b.E\",\"type\":\"enum\",\"symbols\":[\"X\","
                 "\"Y\"]}"},
                {"{\"type\":\"record\",\"name\":\"R\",\"namespace\":\"n\","
                 "\"fields\":[{\"name\":\"a\",\"type\":{\"type\":\"map\","
                 "\"values\":\"R\"},\"default\":{}}]}",
                 "{\"name\":\"n.R\",\"type\":\"record\",\"fields\":[{\"name\":"
                 "\"a\",\"type\":{\"type\":\"map\",\"values\":\"n.R\"}}]}"},
        };
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                char *c = vcdc_schema_canonical(cases[i].schema, errstr,
                                                sizeof(errstr));
                assert_non_null(c);
                assert_string_equal(c, cases[i].canonical);
                free(c);
        }
        assert_null(vcdc_schema_canonical("{", errstr, sizeof(errstr)));
        assert_null(vcdc_schema_canonical("{\"name\":\"x\"}", errstr,
                                          sizeof(errstr)));
        assert_null(vcdc_schema_canonical(
                "{\"type\":\"record\",\"fields\":[]}", errstr, sizeof(errstr)));
}

/* The embedded schema is the one in schemas/, and its fingerprint is the
 * one fastavro computes for it. */
static void test_schema_file_matches(void **state) {
        char *file = read_file("../schemas/change.avsc");
        char *c1 = vcdc_schema_canonical(file, errstr, sizeof(errstr));
        char *c2 = vcdc_schema_canonical(vcdc_change_schema_json, errstr,
                                         sizeof(errstr));
        vcdc_codec_t *codec = vcdc_codec_new(errstr, sizeof(errstr));

        (void)state;
        assert_non_null(c1);
        assert_non_null(c2);
        assert_string_equal(c1, c2);
        assert_non_null(codec);
        assert_true(vcdc_codec_fingerprint(codec) == 1375954068400489350ULL);
        vcdc_codec_destroy(codec);
        free(c1);
        free(c2);
        free(file);
}

static void fill_full(vcdc_record_t *rec, size_t dim) {
        size_t i;

        vcdc_record_init(rec);
        rec->collection = strdup("docs/en%");
        rec->id = strdup("id-\xc3\xa9-1");
        rec->op = VCDC_OP_UPSERT;
        rec->dim = dim;
        rec->vector = malloc(dim * sizeof(float));
        for (i = 0; i < dim; i++)
                rec->vector[i] = (float)i * 0.25f - 3.0f + 1e-7f * (float)i;
        rec->has_sparse = 1;
        rec->sparse_nnz = 3;
        rec->sparse_indices = malloc(3 * sizeof(uint32_t));
        rec->sparse_values = malloc(3 * sizeof(float));
        rec->sparse_indices[0] = 1;
        rec->sparse_indices[1] = 70000;
        rec->sparse_indices[2] = UINT32_MAX;
        rec->sparse_values[0] = 0.5f;
        rec->sparse_values[1] = -1.5f;
        rec->sparse_values[2] = 3e38f;
        rec->metadata = strdup("{\"lang\":\"en\",\"n\":3}");
        rec->document = strdup("hello \xe2\x9c\x93");
        rec->source_ts_ms = 1700000000123LL;
}

static void assert_records_equal(const vcdc_record_t *a,
                                 const vcdc_record_t *b) {
        size_t i;

        assert_string_equal(a->collection, b->collection);
        assert_string_equal(a->id, b->id);
        assert_int_equal(a->op, b->op);
        assert_int_equal(a->dim, b->dim);
        for (i = 0; i < a->dim; i++)
                assert_memory_equal(&a->vector[i], &b->vector[i],
                                    sizeof(float));
        assert_int_equal(a->has_sparse, b->has_sparse);
        assert_int_equal(a->sparse_nnz, b->sparse_nnz);
        for (i = 0; i < a->sparse_nnz; i++) {
                assert_int_equal(a->sparse_indices[i], b->sparse_indices[i]);
                assert_true(a->sparse_values[i] == b->sparse_values[i]);
        }
        if (a->metadata || b->metadata)
                assert_string_equal(a->metadata, b->metadata);
        if (a->document || b->document)
                assert_string_equal(a->document, b->document);
        assert_true(a->source_ts_ms == b->source_ts_ms);
}

static void roundtrip(int32_t schema_id, const vcdc_record_t *rec) {
        vcdc_codec_t *codec = vcdc_codec_new(errstr, sizeof(errstr));
        vcdc_record_t out;
        unsigned char *buf;
        size_t len;

        assert_non_null(codec);
        vcdc_codec_set_schema_id(codec, schema_id);
        assert_int_equal(vcdc_codec_encode(codec, rec, (void **)&buf, &len,
                                           errstr, sizeof(errstr)),
                         0);
        if (schema_id >= 0) {
                assert_int_equal(buf[0], 0);
                assert_int_equal(buf[4], schema_id & 0xff);
        } else {
                uint64_t fp = 0;
                int i;
                assert_int_equal(buf[0], 0xC3);
                assert_int_equal(buf[1], 0x01);
                for (i = 0; i < 8; i++)
                        fp |= (uint64_t)buf[2 + i] << (8 * i);
                assert_true(fp == vcdc_codec_fingerprint(codec));
        }
        vcdc_record_init(&out);
        assert_int_equal(vcdc_codec_decode(codec, buf, len, &out, errstr,
                                           sizeof(errstr)),
                         0);
        assert_records_equal(rec, &out);
        vcdc_record_clear(&out);
        free(buf);
        vcdc_codec_destroy(codec);
}

static void test_roundtrip(void **state) {
        vcdc_record_t rec;

        (void)state;
        fill_full(&rec, 768);
        roundtrip(-1, &rec);
        roundtrip(42, &rec);
        vcdc_record_clear(&rec);

        /* A delete: no vector, nothing optional. */
        rec.collection = strdup("c");
        rec.id = strdup("x");
        rec.op = VCDC_OP_DELETE;
        roundtrip(-1, &rec);
        roundtrip(7, &rec);
        vcdc_record_clear(&rec);
}

static void encode_one(vcdc_codec_t *codec, unsigned char **bufp,
                       size_t *lenp) {
        vcdc_record_t rec;

        fill_full(&rec, 4);
        assert_int_equal(vcdc_codec_encode(codec, &rec, (void **)bufp, lenp,
                                           errstr, sizeof(errstr)),
                         0);
        vcdc_record_clear(&rec);
}

static void test_decode_invalid(void **state) {
        vcdc_codec_t *codec = vcdc_codec_new(errstr, sizeof(errstr));
        vcdc_record_t rec;
        unsigned char *buf, bad[256];
        size_t len, i;
        static const struct {
                const char *bytes;
                size_t len;
                const char *expect;
        } cases[] = {
                {"", 0, "not an Avro"},
                {"garbage!garbage!", 16, "not an Avro"},
                {"\xc3\x01\x01\x02\x03\x04\x05\x06\x07\x08\x00", 11,
                 "unknown schema fingerprint 0x0807060504030201"},
                {"\x00\x00\x00\x00\x09\x02", 6, "unknown schema id 9"},
                {"\xc3\x01\x01", 3, "not an Avro"},
        };

        (void)state;
        vcdc_record_init(&rec);
        assert_int_equal(vcdc_codec_decode(codec, NULL, 0, &rec, errstr,
                                           sizeof(errstr)),
                         -1);
        assert_non_null(strstr(errstr, "tombstone"));
        for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                assert_int_equal(vcdc_codec_decode(codec, cases[i].bytes,
                                                   cases[i].len, &rec, errstr,
                                                   sizeof(errstr)),
                                 -1);
                assert_non_null(strstr(errstr, cases[i].expect));
        }

        /* Every truncation of a valid message fails cleanly. */
        encode_one(codec, &buf, &len);
        for (i = 0; i < len; i++)
                assert_int_equal(vcdc_codec_decode(codec, buf, i, &rec, errstr,
                                                   sizeof(errstr)),
                                 -1);
        /* Trailing bytes. */
        assert_true(len + 1 <= sizeof(bad));
        memcpy(bad, buf, len);
        bad[len] = 0;
        assert_int_equal(vcdc_codec_decode(codec, bad, len + 1, &rec, errstr,
                                           sizeof(errstr)),
                         -1);
        assert_non_null(strstr(errstr, "trailing"));
        free(buf);
        vcdc_codec_destroy(codec);
}

/* Values the encoder would never write: NaN, an upsert without a vector. */
static void test_decode_bad_values(void **state) {
        vcdc_codec_t *codec = vcdc_codec_new(errstr, sizeof(errstr));
        vcdc_record_t rec, out;
        void *buf;
        char *nul;
        size_t len;

        (void)state;
        fill_full(&rec, 4);
        rec.vector[2] = NAN;
        assert_int_equal(vcdc_codec_encode(codec, &rec, &buf, &len, errstr,
                                           sizeof(errstr)),
                         0);
        vcdc_record_init(&out);
        assert_int_equal(vcdc_codec_decode(codec, buf, len, &out, errstr,
                                           sizeof(errstr)),
                         -1);
        assert_non_null(strstr(errstr, "invalid field \"vector\""));
        assert_non_null(strstr(errstr, "docs/en%/id-"));
        free(buf);
        vcdc_record_clear(&rec);

        rec.collection = strdup("c");
        rec.id = strdup("x");
        assert_int_equal(vcdc_codec_encode(codec, &rec, &buf, &len, errstr,
                                           sizeof(errstr)),
                         0);
        assert_int_equal(vcdc_codec_decode(codec, buf, len, &out, errstr,
                                           sizeof(errstr)),
                         -1);
        assert_non_null(strstr(errstr, "upsert without a vector"));
        free(buf);
        vcdc_record_clear(&rec);

        /* A NUL byte inside a string (Avro allows it, C strings and
         * PostgreSQL text do not): refused, saying so. */
        fill_full(&rec, 4);
        assert_int_equal(vcdc_codec_encode(codec, &rec, &buf, &len, errstr,
                                           sizeof(errstr)),
                         0);
        for (nul = buf; nul + 5 <= (char *)buf + len && memcmp(nul, "hello", 5);
             nul++)
                ;
        assert_true(nul + 5 <= (char *)buf + len);
        nul[2] = '\0';
        assert_int_equal(vcdc_codec_decode(codec, buf, len, &out, errstr,
                                           sizeof(errstr)),
                         -1);
        assert_non_null(strstr(errstr, "invalid field \"document\": it "
                                       "holds a NUL byte"));
        free(buf);
        vcdc_record_clear(&rec);
        vcdc_codec_destroy(codec);
}

/* Random byte flips of a valid message: decode succeeds or fails, never
 * crashes or leaks (run under valgrind and ASan by make valgrind/sanitize). */
static void test_decode_mutations(void **state) {
        vcdc_codec_t *codec = vcdc_codec_new(errstr, sizeof(errstr));
        vcdc_record_t rec;
        unsigned char *buf, *m;
        size_t len, i;
        unsigned seed = 12345;

        (void)state;
        encode_one(codec, &buf, &len);
        m = malloc(len);
        vcdc_record_init(&rec);
        for (i = 0; i < 5000; i++) {
                int flips = 1 + (int)(i % 3), f;
                memcpy(m, buf, len);
                for (f = 0; f < flips; f++) {
                        seed = seed * 1103515245u + 12345u;
                        /* Keep the header so the body gets exercised. */
                        m[10 + (seed >> 8) % (len - 10)] ^=
                                (unsigned char)(1u << ((seed >> 4) % 8));
                }
                (void)vcdc_codec_decode(codec, m, len, &rec, errstr,
                                        sizeof(errstr));
                vcdc_record_clear(&rec);
        }
        free(m);
        free(buf);
        vcdc_codec_destroy(codec);
}

/* Schema evolution: a record written by a newer writer (one added field with
 * a default) reads with the current schema, the new field ignored; and a
 * record of the current schema reads where a newer schema is known too. */
static const char schema_v2[] =
        "{\"type\":\"record\",\"name\":\"Change\",\"namespace\":\"io.vcdc\","
        "\"fields\":[{\"name\":\"collection\",\"type\":\"string\"},"
        "{\"name\":\"id\",\"type\":\"string\"},"
        "{\"name\":\"op\",\"type\":{\"type\":\"enum\",\"name\":\"Op\","
        "\"symbols\":[\"UPSERT\",\"DELETE\"]}},"
        "{\"name\":\"vector\",\"type\":{\"type\":\"array\",\"items\":"
        "\"float\"},\"default\":[]},"
        "{\"name\":\"sparse\",\"type\":[\"null\",{\"type\":\"record\","
        "\"name\":\"SparseVector\",\"fields\":[{\"name\":\"indices\","
        "\"type\":{\"type\":\"array\",\"items\":\"long\"}},{\"name\":"
        "\"values\",\"type\":{\"type\":\"array\",\"items\":\"float\"}}]}],"
        "\"default\":null},"
        "{\"name\":\"metadata\",\"type\":[\"null\",\"string\"],\"default\":"
        "null},"
        "{\"name\":\"document\",\"type\":[\"null\",\"string\"],\"default\":"
        "null},"
        "{\"name\":\"source_ts_ms\",\"type\":[\"null\",\"long\"],"
        "\"default\":null},"
        "{\"name\":\"tenant\",\"type\":[\"null\",\"string\"],\"default\":"
        "null}]}";

static void test_schema_evolution(void **state) {
        vcdc_codec_t *codec = vcdc_codec_new(errstr, sizeof(errstr));
        avro_schema_t schema;
        avro_value_iface_t *iface;
        avro_value_t val, field, branch, el;
        avro_writer_t writer;
        vcdc_record_t rec;
        unsigned char buf[256];
        char *canonical;
        uint64_t fp;
        size_t size;
        int i;

        (void)state;
        assert_int_equal(avro_schema_from_json_length(
                                 schema_v2, strlen(schema_v2), &schema),
                         0);
        iface = avro_generic_class_from_schema(schema);
        assert_int_equal(avro_generic_value_new(iface, &val), 0);
        avro_value_get_by_name(&val, "collection", &field, NULL);
        avro_value_set_string(&field, "c");
        avro_value_get_by_name(&val, "id", &field, NULL);
        avro_value_set_string(&field, "v2");
        avro_value_get_by_name(&val, "op", &field, NULL);
        avro_value_set_enum(&field, 0);
        avro_value_get_by_name(&val, "vector", &field, NULL);
        avro_value_append(&field, &el, NULL);
        avro_value_set_float(&el, 1.5f);
        avro_value_get_by_name(&val, "sparse", &field, NULL);
        avro_value_set_branch(&field, 0, &branch);
        avro_value_get_by_name(&val, "metadata", &field, NULL);
        avro_value_set_branch(&field, 0, &branch);
        avro_value_get_by_name(&val, "document", &field, NULL);
        avro_value_set_branch(&field, 1, &branch);
        avro_value_set_string(&branch, "doc");
        avro_value_get_by_name(&val, "source_ts_ms", &field, NULL);
        avro_value_set_branch(&field, 0, &branch);
        avro_value_get_by_name(&val, "tenant", &field, NULL);
        avro_value_set_branch(&field, 1, &branch);
        avro_value_set_string(&branch, "acme");

        canonical = vcdc_schema_canonical(schema_v2, errstr, sizeof(errstr));
        assert_non_null(canonical);
        fp = vcdc_crc64_avro(canonical, strlen(canonical));
        free(canonical);
        buf[0] = 0xC3;
        buf[1] = 0x01;
        for (i = 0; i < 8; i++)
                buf[2 + i] = (unsigned char)(fp >> (8 * i));
        assert_int_equal(avro_value_sizeof(&val, &size), 0);
        writer = avro_writer_memory((char *)buf + 10, (int64_t)size);
        assert_int_equal(avro_value_write(writer, &val), 0);
        avro_writer_free(writer);

        /* Unknown until taught. */
        vcdc_record_init(&rec);
        assert_int_equal(vcdc_codec_decode(codec, buf, 10 + size, &rec, errstr,
                                           sizeof(errstr)),
                         -1);
        assert_non_null(strstr(errstr, "unknown schema fingerprint"));
        assert_int_equal(vcdc_codec_add_schema(codec, schema_v2, 2, errstr,
                                               sizeof(errstr)),
                         0);
        assert_int_equal(vcdc_codec_decode(codec, buf, 10 + size, &rec, errstr,
                                           sizeof(errstr)),
                         0);
        assert_string_equal(rec.id, "v2");
        assert_int_equal(rec.dim, 1);
        assert_true(rec.vector[0] == 1.5f);
        assert_string_equal(rec.document, "doc");
        assert_null(rec.metadata);
        assert_int_equal(rec.source_ts_ms, -1);
        vcdc_record_clear(&rec);

        /* And the same message in the Confluent framing, by schema id. */
        memmove(buf + 5, buf + 10, size);
        buf[0] = 0;
        buf[1] = buf[2] = buf[3] = 0;
        buf[4] = 2;
        assert_int_equal(vcdc_codec_decode(codec, buf, 5 + size, &rec, errstr,
                                           sizeof(errstr)),
                         0);
        assert_string_equal(rec.id, "v2");
        vcdc_record_clear(&rec);

        avro_value_decref(&val);
        avro_value_iface_decref(iface);
        avro_schema_decref(schema);
        vcdc_codec_destroy(codec);
}

static void test_keys(void **state) {
        static const struct {
                const char *collection, *id, *key;
        } cases[] = {
                {"docs", "a1", "docs/a1"},
                {"a/b", "c", "a%2Fb/c"},
                {"a", "b/c", "a/b/c"},
                {"50%", "%2F", "50%25/%2F"},
                {"", "", "/"},
                {"\xc3\xa9", "\xff\xfe", "\xc3\xa9/\xff\xfe"},
        };
        static const char *const bad[] = {"noslash", "a%2/b", "%zz/x",
                                          "a%/b"};
        size_t i, len;
        char *key, *c, *id;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                assert_int_equal(vcdc_key_encode(cases[i].collection,
                                                 cases[i].id, &key, &len),
                                 0);
                assert_int_equal(len, strlen(cases[i].key));
                assert_memory_equal(key, cases[i].key, len);
                assert_int_equal(vcdc_key_decode(key, len, &c, &id), 0);
                assert_string_equal(c, cases[i].collection);
                assert_string_equal(id, cases[i].id);
                free(c);
                free(id);
                free(key);
        }
        /* Different pairs never share a key. */
        {
                char *k1, *k2;
                size_t l1, l2;
                vcdc_key_encode("a/b", "c", &k1, &l1);
                vcdc_key_encode("a", "b/c", &k2, &l2);
                assert_false(l1 == l2 && !memcmp(k1, k2, l1));
                free(k1);
                free(k2);
        }
        for (i = 0; i < sizeof(bad) / sizeof(*bad); i++)
                assert_int_equal(vcdc_key_decode(bad[i], strlen(bad[i]), &c,
                                                 &id),
                                 -1);
        assert_int_equal(vcdc_key_decode("a\0b/c", 5, &c, &id), -1);
        assert_int_equal(vcdc_key_decode(NULL, 0, &c, &id), -1);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_crc64_vectors),
                cmocka_unit_test(test_canonical_forms),
                cmocka_unit_test(test_schema_file_matches),
                cmocka_unit_test(test_roundtrip),
                cmocka_unit_test(test_decode_invalid),
                cmocka_unit_test(test_decode_bad_values),
                cmocka_unit_test(test_decode_mutations),
                cmocka_unit_test(test_schema_evolution),
                cmocka_unit_test(test_keys),
        };
        return cmocka_run_group_tests_name("codec", tests, NULL, NULL);
}
