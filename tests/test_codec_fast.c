/*
 * vcdc - unit tests: the direct encoder (vcdc_codec_encode) writes exactly
 * the bytes of avro-c's generic encoder (vcdc_codec_encode_generic), for
 * random records covering every field kind, every union branch and the
 * varint boundaries, in both framings; and what it writes decodes back.
 * The direct decoder (vcdc_codec_decode) reads what avro-c's generic one
 * (vcdc_codec_decode_generic) reads, and refuses what it refuses with the
 * same message: for those records, for them with bytes changed or cut,
 * and for arrays in several blocks, which neither encoder writes.
 * vcdc_codec_encode_into, which reuses one buffer, writes the same bytes.
 * Also vcdc_key_write, the allocation-free key builder the producer uses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"

static char errstr[512];

/* xorshift64*: a fixed sequence, so a failure can be replayed. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void) {
        rng_state ^= rng_state >> 12;
        rng_state ^= rng_state << 25;
        rng_state ^= rng_state >> 27;
        return rng_state * 0x2545f4914f6cdd1dULL;
}

static size_t rnd_below(size_t n) {
        return (size_t)(rnd() % n);
}

/* Lengths around the varint boundaries (a length of 64 is the first that
 * takes two bytes zig-zagged, 8192 the first that takes three). */
static size_t rnd_len(size_t max) {
        static const size_t edges[] = {0, 1, 2, 63, 64, 65, 127, 128,
                                       8191, 8192, 8193, 70000};
        size_t n;

        if (rnd_below(3) == 0)
                n = edges[rnd_below(sizeof(edges) / sizeof(*edges))];
        else
                n = rnd_below(200);
        return n > max ? max : n;
}

/* A NUL-terminated UTF-8 string of about len bytes (at least min): ASCII,
 * 2-, 3- and 4-byte sequences mixed. */
static char *rnd_string(size_t len, size_t min) {
        static const char *const pieces[] = {"a", "Z", "/", "%", "\"", "\\",
                                             "\n", "\xc3\xa9", "\xe2\x9c\x93",
                                             "\xf0\x9f\x98\x80", "\x7f"};
        char *s;
        size_t n = 0;

        if (len < min)
                len = min;
        s = malloc(len + 4 + 1);
        assert_non_null(s);
        while (n < len) {
                const char *p = pieces[rnd_below(sizeof(pieces) /
                                                 sizeof(*pieces))];
                size_t pl = strlen(p);
                memcpy(s + n, p, pl);
                n += pl;
        }
        s[n] = '\0';
        return s;
}

/* Any float bit pattern when finite_only is 0 (NaNs, infinities, -0,
 * subnormals: the encoders copy bits), else a finite one. */
static float rnd_float(int finite_only) {
        static const uint32_t specials[] = {0x00000000u, 0x80000000u,
                                            0x00000001u, 0x7f7fffffu,
                                            0x3f800000u, 0xbf800000u,
                                            0x7f800000u, 0xff800000u,
                                            0x7fc00000u, 0xffc00001u};
        uint32_t u;
        float f;

        do {
                if (rnd_below(4) == 0)
                        u = specials[rnd_below(sizeof(specials) /
                                               sizeof(*specials))];
                else
                        u = (uint32_t)rnd();
                memcpy(&f, &u, sizeof(f));
        } while (finite_only && !isfinite(f));
        return f;
}

static int64_t rnd_ts(void) {
        static const int64_t edges[] = {-1, 0, 1, 63, 64, 8191, 8192,
                                        1700000000123LL, INT64_MAX,
                                        INT64_MAX - 1, (int64_t)1 << 62};

        switch (rnd_below(3)) {
        case 0:
                return edges[rnd_below(sizeof(edges) / sizeof(*edges))];
        case 1:
                return (int64_t)(rnd() >> 1); /* any non-negative */
        default:
                return (int64_t)(rnd() >> rnd_below(64));
        }
}

static uint32_t rnd_index(void) {
        static const uint32_t edges[] = {0, 1, 63, 64, 65, 8191, 8192,
                                         INT32_MAX, UINT32_MAX - 1,
                                         UINT32_MAX};

        if (rnd_below(2) == 0)
                return edges[rnd_below(sizeof(edges) / sizeof(*edges))];
        return (uint32_t)rnd();
}

/* A random record; decodable ones (finite floats, a non-empty collection
 * and id, a vector for an upsert) when valid is set. */
static void rnd_record(vcdc_record_t *rec, int valid) {
        static const size_t dims[] = {0, 1, 2, 63, 64, 65, 128, 768, 1536,
                                      8192};
        size_t i;

        vcdc_record_init(rec);
        /* A valid record's collection and id are non-empty and within
         * their limits in bytes (the decoder refuses others). */
        do {
                free(rec->collection);
                free(rec->id);
                rec->collection = rnd_string(
                        rnd_len(VCDC_COLLECTION_MAX_BYTES), valid ? 1 : 0);
                rec->id = rnd_string(rnd_len(VCDC_ID_MAX_BYTES),
                                     valid ? 1 : 0);
        } while (valid && (!*rec->collection || !*rec->id ||
                           strlen(rec->collection) >
                                   VCDC_COLLECTION_MAX_BYTES ||
                           strlen(rec->id) > VCDC_ID_MAX_BYTES));
        rec->op = rnd_below(4) == 0 ? VCDC_OP_DELETE : VCDC_OP_UPSERT;
        rec->dim = dims[rnd_below(sizeof(dims) / sizeof(*dims))];
        if (rec->op == VCDC_OP_UPSERT && valid && !rec->dim)
                rec->dim = 3;
        if (rec->op == VCDC_OP_DELETE && rnd_below(2))
                rec->dim = 0; /* deletes usually carry none */
        if (rec->dim) {
                rec->vector = malloc(rec->dim * sizeof(float));
                assert_non_null(rec->vector);
                for (i = 0; i < rec->dim; i++)
                        rec->vector[i] = rnd_float(valid);
        }
        if (rnd_below(3) == 0) {
                rec->has_sparse = 1;
                rec->sparse_nnz = rnd_len(3000);
                if (rec->sparse_nnz) {
                        rec->sparse_indices =
                                malloc(rec->sparse_nnz * sizeof(uint32_t));
                        rec->sparse_values =
                                malloc(rec->sparse_nnz * sizeof(float));
                        assert_non_null(rec->sparse_indices);
                        assert_non_null(rec->sparse_values);
                }
                for (i = 0; i < rec->sparse_nnz; i++) {
                        rec->sparse_indices[i] = rnd_index();
                        rec->sparse_values[i] = rnd_float(valid);
                }
        }
        if (rnd_below(3))
                rec->metadata = rnd_string(rnd_len(100000), 0);
        if (rnd_below(3))
                rec->document = rnd_string(rnd_len(100000), 0);
        rec->source_ts_ms = rnd_below(3) == 0 ? -1 : rnd_ts();
        if (rec->source_ts_ms < 0)
                rec->source_ts_ms = -1; /* the record's one "unknown" */
}

/* Both encoders on rec; asserts equal bytes, returns the direct one's. */
static void encode_both(vcdc_codec_t *codec, const vcdc_record_t *rec,
                        unsigned char **bufp, size_t *lenp) {
        void *fast = NULL, *ref = NULL;
        size_t fast_len = 0, ref_len = 0;

        assert_int_equal(vcdc_codec_encode(codec, rec, &fast, &fast_len,
                                           errstr, sizeof(errstr)),
                         0);
        assert_int_equal(vcdc_codec_encode_generic(codec, rec, &ref, &ref_len,
                                                   errstr, sizeof(errstr)),
                         0);
        assert_int_equal(fast_len, ref_len);
        assert_memory_equal(fast, ref, ref_len);
        free(ref);
        *bufp = fast;
        *lenp = fast_len;
}

static void assert_same_record(const vcdc_record_t *a,
                               const vcdc_record_t *b) {
        assert_string_equal(a->collection, b->collection);
        assert_string_equal(a->id, b->id);
        assert_int_equal(a->op, b->op);
        assert_int_equal(a->dim, b->dim);
        if (a->dim)
                assert_memory_equal(a->vector, b->vector,
                                    a->dim * sizeof(float));
        assert_int_equal(a->has_sparse, b->has_sparse);
        assert_int_equal(a->sparse_nnz, b->sparse_nnz);
        if (a->sparse_nnz) {
                assert_memory_equal(a->sparse_indices, b->sparse_indices,
                                    a->sparse_nnz * sizeof(uint32_t));
                assert_memory_equal(a->sparse_values, b->sparse_values,
                                    a->sparse_nnz * sizeof(float));
        }
        assert_int_equal(!a->metadata, !b->metadata);
        if (a->metadata)
                assert_string_equal(a->metadata, b->metadata);
        assert_int_equal(!a->document, !b->document);
        if (a->document)
                assert_string_equal(a->document, b->document);
        assert_true(a->source_ts_ms == b->source_ts_ms);
}

/* Both decoders on buf; asserts they agree (result, message, record).
 * Returns the result, the record in *out (clear it). */
static int decode_both(vcdc_codec_t *codec, const unsigned char *buf,
                       size_t len, vcdc_record_t *out) {
        char ref_err[sizeof(errstr)];
        vcdc_record_t ref;
        int r, ref_r;

        vcdc_record_init(out);
        vcdc_record_init(&ref);
        errstr[0] = ref_err[0] = '\0';
        r = vcdc_codec_decode(codec, buf, len, out, errstr, sizeof(errstr));
        ref_r = vcdc_codec_decode_generic(codec, buf, len, &ref, ref_err,
                                          sizeof(ref_err));
        assert_int_equal(r, ref_r);
        if (r == 0)
                assert_same_record(out, &ref);
        else
                assert_string_equal(errstr, ref_err);
        vcdc_record_clear(&ref);
        return r;
}

static void cross_check(int32_t schema_id, int rounds, int valid) {
        vcdc_codec_t *codec = vcdc_codec_new(errstr, sizeof(errstr));
        void *reused = NULL; /* vcdc_codec_encode_into()'s, across rounds */
        size_t reused_cap = 0, reused_len;
        int r;

        assert_non_null(codec);
        vcdc_codec_set_schema_id(codec, schema_id);
        for (r = 0; r < rounds; r++) {
                vcdc_record_t rec, out;
                unsigned char *buf;
                size_t len;

                rnd_record(&rec, valid);
                encode_both(codec, &rec, &buf, &len);
                assert_int_equal(vcdc_codec_encode_into(codec, &rec, &reused,
                                                        &reused_cap,
                                                        &reused_len, errstr,
                                                        sizeof(errstr)),
                                 0);
                assert_int_equal(reused_len, len);
                assert_true(reused_cap >= len);
                assert_memory_equal(reused, buf, len);
                if (decode_both(codec, buf, len, &out) == 0)
                        assert_same_record(&rec, &out);
                else if (valid)
                        fail_msg("round %d: %s", r, errstr);
                vcdc_record_clear(&out);
                free(buf);
                vcdc_record_clear(&rec);
        }
        free(reused);
        vcdc_codec_destroy(codec);
}

/* Decodable records, both framings, then decoded back. */
static void test_random_valid(void **state) {
        (void)state;
        cross_check(-1, 300, 1);
        cross_check(0, 100, 1);
        cross_check(INT32_MAX, 100, 1);
}

/* Anything the encoder accepts, decodable or not: NaN and infinite floats,
 * empty strings, upserts without a vector, deletes with one. */
static void test_random_any(void **state) {
        (void)state;
        cross_check(-1, 300, 0);
        cross_check(123456, 100, 0);
}

/* One record by hand, so that both encoders cannot be wrong together. */
static void test_known_bytes(void **state) {
        static const unsigned char body[] = {
                0x02, 'c',              /* collection "c" */
                0x04, 'i', 'd',         /* id "id" */
                0x00,                   /* op UPSERT */
                0x04, 0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0,
                0x00,                   /* vector [1.0, -2.0] */
                0x02, 0x02, 0x80, 0x01, /* sparse: indices [64] */
                0x00, 0x02, 0x00, 0x00, 0x00, 0x3f, 0x00, /* values [0.5] */
                0x00,                   /* metadata null */
                0x02, 0x00,             /* document "" */
                0x02, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                0xff, 0x01,             /* source_ts_ms INT64_MAX */
        };
        vcdc_codec_t *codec = vcdc_codec_new(errstr, sizeof(errstr));
        float vector[] = {1.0f, -2.0f}, values[] = {0.5f};
        uint32_t indices[] = {64};
        vcdc_record_t rec;
        unsigned char *buf;
        size_t len;
        uint64_t fp;
        int i;

        (void)state;
        assert_non_null(codec);
        vcdc_record_init(&rec);
        rec.collection = "c";
        rec.id = "id";
        rec.op = VCDC_OP_UPSERT;
        rec.vector = vector;
        rec.dim = 2;
        rec.has_sparse = 1;
        rec.sparse_indices = indices;
        rec.sparse_values = values;
        rec.sparse_nnz = 1;
        rec.document = "";
        rec.source_ts_ms = INT64_MAX;

        encode_both(codec, &rec, &buf, &len);
        assert_int_equal(len, 10 + sizeof(body));
        assert_int_equal(buf[0], 0xc3);
        assert_int_equal(buf[1], 0x01);
        fp = vcdc_codec_fingerprint(codec);
        for (i = 0; i < 8; i++)
                assert_int_equal(buf[2 + i], (unsigned char)(fp >> (8 * i)));
        assert_memory_equal(buf + 10, body, sizeof(body));
        free(buf);

        vcdc_codec_set_schema_id(codec, 0x01020304);
        encode_both(codec, &rec, &buf, &len);
        assert_int_equal(len, 5 + sizeof(body));
        assert_memory_equal(buf, "\x00\x01\x02\x03\x04", 5);
        assert_memory_equal(buf + 5, body, sizeof(body));
        free(buf);
        vcdc_codec_destroy(codec);
}

/* Valid records with bytes changed, NULs put in, or cut short: both
 * decoders agree on each, refusals and messages included. */
static void test_decode_damaged(void **state) {
        vcdc_codec_t *codec = vcdc_codec_new(errstr, sizeof(errstr));
        int r, k, decoded = 0, refused = 0;

        (void)state;
        assert_non_null(codec);
        for (r = 0; r < 3000; r++) {
                vcdc_record_t rec, out;
                unsigned char *buf;
                size_t len, at;

                rnd_record(&rec, 1);
                encode_both(codec, &rec, &buf, &len);
                vcdc_record_clear(&rec);
                for (k = 0; k <= (int)rnd_below(4) && len > 10; k++) {
                        at = 10 + rnd_below(len - 10); /* keep the header */
                        switch (rnd_below(4)) {
                        case 0: buf[at] = 0; break;
                        case 1: buf[at] ^= (unsigned char)(1u << rnd_below(8));
                                break;
                        case 2: buf[at] = (unsigned char)rnd(); break;
                        default: len = at; break;
                        }
                }
                if (decode_both(codec, buf, len, &out) == 0)
                        decoded++;
                else
                        refused++;
                vcdc_record_clear(&out);
                free(buf);
        }
        print_message("damaged records: %d decoded alike, %d refused alike\n",
                      decoded, refused);
        assert_true(decoded > 0 && refused > 0);
        vcdc_codec_destroy(codec);
}

/* Arrays in several blocks, some with a negative count and a byte size, as
 * other Avro writers may send them. */
static void test_decode_blocks(void **state) {
        static const unsigned char msg[] = {
                0, 0, 0, 0, 7,          /* Confluent framing, schema id 7 */
                0x02, 'c', 0x02, 'i', 0x00,
                0x03, 0x10,             /* vector: -2 items, 16 bytes */
                0, 0, 0x80, 0x3f, 0, 0, 0, 0x40,
                0x02, 0, 0, 0x40, 0x40, /* 1 item */
                0x00,                   /* vector [1, 2, 3] */
                0x02,                   /* sparse */
                0x02, 0x02,             /* indices: 1 item [1] */
                0x03, 0x04, 0x04, 0x06, /* -2 items, 2 bytes [2, 3] */
                0x00,
                0x02, 0, 0, 0x80, 0x3f, 0x04, 0, 0, 0, 0x40, 0, 0, 0x40,
                0x40, 0x00,             /* values [1] [2, 3] */
                0x02, 0x04, '{', '}',   /* metadata "{}" */
                0x00, 0x00,             /* no document, no source_ts_ms */
        };
        static const unsigned char no_size[] = {0x03, 0x04, 0x04, 0x06};
        vcdc_codec_t *codec = vcdc_codec_new(errstr, sizeof(errstr));
        unsigned char bad[sizeof(msg)];
        vcdc_record_t out;
        size_t at;

        (void)state;
        assert_non_null(codec);
        assert_int_equal(vcdc_codec_add_schema(codec, vcdc_change_schema_json,
                                               7, errstr, sizeof(errstr)),
                         0);
        assert_int_equal(decode_both(codec, msg, sizeof(msg), &out), 0);
        assert_int_equal(out.dim, 3);
        assert_true(out.vector[0] == 1.0f && out.vector[1] == 2.0f &&
                    out.vector[2] == 3.0f);
        assert_int_equal(out.sparse_nnz, 3);
        assert_int_equal(out.sparse_indices[2], 3);
        assert_true(out.sparse_values[2] == 3.0f);
        assert_string_equal(out.metadata, "{}");
        assert_null(out.document);
        vcdc_record_clear(&out);

        /* Without the byte size of the negative block: refused alike. */
        for (at = 0; memcmp(msg + at, no_size, sizeof(no_size)); at++)
                ;
        memcpy(bad, msg, at + 1);
        memcpy(bad + at + 1, msg + at + 2, sizeof(msg) - at - 2);
        assert_int_equal(decode_both(codec, bad, sizeof(msg) - 1, &out), -1);
        vcdc_record_clear(&out);
        vcdc_codec_destroy(codec);
}

/* What neither encoder can write is refused by both, with a message. */
static void test_refused(void **state) {
        vcdc_codec_t *codec = vcdc_codec_new(errstr, sizeof(errstr));
        float values[] = {1.0f};
        vcdc_record_t rec;
        void *buf = NULL;
        size_t len = 0;

        (void)state;
        assert_non_null(codec);
        vcdc_record_init(&rec);
        rec.id = "x";
        assert_int_equal(vcdc_codec_encode(codec, &rec, &buf, &len, errstr,
                                           sizeof(errstr)),
                         -1);
        assert_non_null(strstr(errstr, "without collection or id"));
        assert_int_equal(vcdc_codec_encode_generic(codec, &rec, &buf, &len,
                                                   errstr, sizeof(errstr)),
                         -1);

        rec.collection = "c";
        rec.has_sparse = 1;
        rec.sparse_nnz = 1;
        rec.sparse_values = values; /* but no indices */
        errstr[0] = '\0';
        assert_int_equal(vcdc_codec_encode(codec, &rec, &buf, &len, errstr,
                                           sizeof(errstr)),
                         -1);
        assert_non_null(strstr(errstr, "c/x: sparse vector of 1 entries"));
        assert_int_equal(vcdc_codec_encode_generic(codec, &rec, &buf, &len,
                                                   errstr, sizeof(errstr)),
                         -1);
        assert_null(buf);
        vcdc_codec_destroy(codec);
}

/* vcdc_key_write writes what vcdc_key_encode returns, and nothing when the
 * buffer is too small for the key and its NUL. */
static void test_key_write(void **state) {
        static const char *const pairs[][2] = {
                {"docs", "a1"}, {"a/b%c", "x/y"}, {"%", ""}, {"", "id"},
                {"\xc3\xa9t\xc3\xa9", "\xe2\x9c\x93"}};
        size_t i, n, len;
        char buf[64], *key;

        (void)state;
        for (i = 0; i < sizeof(pairs) / sizeof(*pairs); i++) {
                assert_int_equal(vcdc_key_encode(pairs[i][0], pairs[i][1],
                                                 &key, &len),
                                 0);
                memset(buf, 'Z', sizeof(buf));
                n = vcdc_key_write(pairs[i][0], pairs[i][1], buf, len);
                assert_int_equal(n, len);
                assert_int_equal(buf[0], 'Z'); /* no room for the NUL */
                assert_int_equal(vcdc_key_write(pairs[i][0], pairs[i][1],
                                                NULL, 0),
                                 len);
                n = vcdc_key_write(pairs[i][0], pairs[i][1], buf, len + 1);
                assert_int_equal(n, len);
                assert_memory_equal(buf, key, len);
                assert_int_equal(buf[len], '\0');
                assert_int_equal(buf[len + 1], 'Z');
                free(key);
        }
        n = vcdc_key_write("a/b", "c", buf, sizeof(buf));
        assert_string_equal(buf, "a%2Fb/c");
        assert_int_equal(n, 7);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_known_bytes),
                cmocka_unit_test(test_random_valid),
                cmocka_unit_test(test_random_any),
                cmocka_unit_test(test_decode_damaged),
                cmocka_unit_test(test_decode_blocks),
                cmocka_unit_test(test_refused),
                cmocka_unit_test(test_key_write),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
