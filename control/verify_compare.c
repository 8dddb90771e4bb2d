/*
 * vcdc - verification, comparing records: the 64-bit digest of a record
 * (vector bits, metadata as a JSON value, document), metadata equality by
 * value, and what differs between two records of the same id. Pure: no
 * sink, no I/O, no result bookkeeping (verify_judge.c).
 */
#include "verify_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

/* ---- Hashing ---------------------------------------------------------- */

/* MurmurHash64A's block step and finalizer (public domain, Austin
 * Appleby): fast on 8-byte words, good enough to partition ids and to
 * tell changed records apart (a false "equal" needs a 64-bit collision
 * between an id's old and new contents). */
#define MURMUR_M 0xc6a4a7935bd1e995ULL

typedef struct hasher_s {
        uint64_t h;
} hasher_t;

static void hasher_init(hasher_t *hs, uint64_t seed) {
        hs->h = seed * MURMUR_M;
}

static void hasher_u64(hasher_t *hs, uint64_t k) {
        k *= MURMUR_M;
        k ^= k >> 47;
        k *= MURMUR_M;
        hs->h ^= k;
        hs->h *= MURMUR_M;
}

static void hasher_bytes(hasher_t *hs, const void *data, size_t len) {
        const unsigned char *p = data;
        uint64_t k;
        size_t i;

        hasher_u64(hs, (uint64_t)len);
        for (; len >= 8; p += 8, len -= 8) {
                memcpy(&k, p, 8);
                hasher_u64(hs, k);
        }
        if (len) {
                k = 0;
                for (i = 0; i < len; i++)
                        k |= (uint64_t)p[i] << (8 * i);
                hasher_u64(hs, k);
        }
}

static uint64_t hasher_final(const hasher_t *hs) {
        uint64_t h = hs->h;

        h ^= h >> 47;
        h *= MURMUR_M;
        h ^= h >> 47;
        return h;
}

static uint64_t hash_bytes(const void *data, size_t len, uint64_t seed) {
        hasher_t hs;

        hasher_init(&hs, seed);
        hasher_bytes(&hs, data, len);
        return hasher_final(&hs);
}

uint64_t vcdc_verify_hash_id(const char *id) {
        return hash_bytes(id, strlen(id), 0x1d /*ids*/);
}

/* Seeds that keep values of different JSON types apart. */
enum {
        TAG_NONE = 1,
        TAG_OBJECT,
        TAG_ARRAY,
        TAG_STRING,
        TAG_INTEGER,
        TAG_REAL,
        TAG_TRUE,
        TAG_FALSE,
        TAG_NULL,
        TAG_KEY,
        TAG_RAW,
        TAG_VECTOR,
        TAG_DOCUMENT,
        TAG_NO_DOCUMENT,
};

/* A real that holds an integer value within int64_t: *ip is set, 1. */
static int real_as_int(double r, json_int_t *ip) {
        if (r != floor(r) || r < -9223372036854775808.0 ||
            r >= 9223372036854775808.0)
                return 0;
        *ip = (json_int_t)r;
        return 1;
}

static uint64_t hash_int(json_int_t i) {
        hasher_t hs;

        hasher_init(&hs, TAG_INTEGER);
        hasher_u64(&hs, (uint64_t)i);
        return hasher_final(&hs);
}

/* A hash of a JSON value: object members are summed (order-free), numbers
 * hash by value (1 and 1.0 alike). Values with equal hashes are the same
 * under json_same(); the converse fails only for reals an ulp or so apart,
 * which then cost a read by id. */
static uint64_t json_hash(const json_t *v) {
        hasher_t hs;
        const char *key;
        json_t *val;
        json_int_t i;
        uint64_t sum = 0;
        double r;
        size_t n;

        switch (json_typeof(v)) {
        case JSON_OBJECT:
                json_object_foreach((json_t *)v, key, val) {
                        hasher_init(&hs, TAG_KEY);
                        hasher_bytes(&hs, key, strlen(key));
                        hasher_u64(&hs, json_hash(val));
                        sum += hasher_final(&hs);
                }
                hasher_init(&hs, TAG_OBJECT);
                hasher_u64(&hs, sum);
                hasher_u64(&hs, json_object_size(v));
                return hasher_final(&hs);
        case JSON_ARRAY:
                hasher_init(&hs, TAG_ARRAY);
                for (n = 0; n < json_array_size(v); n++)
                        hasher_u64(&hs, json_hash(json_array_get(v, n)));
                hasher_u64(&hs, json_array_size(v));
                return hasher_final(&hs);
        case JSON_STRING:
                return hash_bytes(json_string_value(v), json_string_length(v),
                                  TAG_STRING);
        case JSON_INTEGER:
                return hash_int(json_integer_value(v));
        case JSON_REAL:
                r = json_real_value(v);
                if (real_as_int(r, &i))
                        return hash_int(i);
                return hash_bytes(&r, sizeof(r), TAG_REAL);
        case JSON_TRUE:
                return hash_bytes(NULL, 0, TAG_TRUE);
        case JSON_FALSE:
                return hash_bytes(NULL, 0, TAG_FALSE);
        case JSON_NULL:
                break;
        }
        return hash_bytes(NULL, 0, TAG_NULL);
}

/* Doubles as integers that count ulps: adjacent doubles differ by 1. */
static int64_t ulp_order(double d) {
        int64_t i;

        memcpy(&i, &d, sizeof(i));
        return i < 0 ? INT64_MIN - i : i;
}

/*
 * 1 when two reals are equal within REAL_ULPS ulps. Chroma's JSON parser
 * rounds some numbers twice and stores them an ulp away from what was
 * sent (see sink_chroma_int.h); a change anyone makes on purpose is far
 * larger.
 */
#define REAL_ULPS 4
static int real_same(double a, double b) {
        int64_t x, y;

        if (a == b)
                return 1;
        if (!isfinite(a) || !isfinite(b))
                return 0;
        x = ulp_order(a);
        y = ulp_order(b);
        /* Both in [-2^63, 2^63): the difference cannot overflow when the
         * signs agree, and a sign change is far apart anyway. */
        if ((x < 0) != (y < 0))
                return 0;
        return (x > y ? x - y : y - x) <= REAL_ULPS;
}

/* 1 when two numbers have the same value. */
static int number_same(const json_t *a, const json_t *b) {
        json_int_t i;

        if (json_is_integer(a) && json_is_integer(b))
                return json_integer_value(a) == json_integer_value(b);
        if (json_is_real(a) && json_is_real(b))
                return real_same(json_real_value(a), json_real_value(b));
        if (json_is_real(a)) {
                const json_t *t = a;
                a = b;
                b = t;
        }
        /* a integer, b real */
        return real_as_int(json_real_value(b), &i) &&
               i == json_integer_value(a);
}

/* json_equal() with numbers compared by value, reals within a few ulps. */
static int json_same(const json_t *a, const json_t *b) {
        const char *key;
        json_t *val;
        size_t n;

        if (json_is_number(a) && json_is_number(b))
                return number_same(a, b);
        if (json_typeof(a) != json_typeof(b))
                return 0;
        switch (json_typeof(a)) {
        case JSON_OBJECT:
                if (json_object_size(a) != json_object_size(b))
                        return 0;
                json_object_foreach((json_t *)a, key, val) {
                        const json_t *other = json_object_get(b, key);
                        if (!other || !json_same(val, other))
                                return 0;
                }
                return 1;
        case JSON_ARRAY:
                if (json_array_size(a) != json_array_size(b))
                        return 0;
                for (n = 0; n < json_array_size(a); n++)
                        if (!json_same(json_array_get(a, n),
                                       json_array_get(b, n)))
                                return 0;
                return 1;
        case JSON_STRING:
                return json_string_length(a) == json_string_length(b) &&
                       !memcmp(json_string_value(a), json_string_value(b),
                               json_string_length(a));
        default:
                return 1; /* true, false, null */
        }
}

/*
 * Parses metadata text. Returns 0 with *jp NULL for "none" (NULL text,
 * null, {}), 0 with *jp a new reference otherwise, -1 when the text is not
 * JSON (then it compares as raw text).
 */
static int metadata_load(const char *text, json_t **jp) {
        json_t *j;

        *jp = NULL;
        if (!text)
                return 0;
        if (!(j = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL)))
                return -1;
        if (json_is_null(j) || (json_is_object(j) && !json_object_size(j))) {
                json_decref(j);
                return 0;
        }
        *jp = j;
        return 0;
}

static uint64_t metadata_hash(const char *text) {
        json_t *j;
        uint64_t h;

        if (metadata_load(text, &j) == -1)
                return hash_bytes(text, strlen(text), TAG_RAW);
        if (!j)
                return hash_bytes(NULL, 0, TAG_NONE);
        h = json_hash(j);
        json_decref(j);
        return h;
}

int vcdc_verify_metadata_equal(const char *a, const char *b) {
        json_t *ja = NULL, *jb = NULL;
        int ra, rb, same;

        ra = metadata_load(a, &ja);
        rb = metadata_load(b, &jb);
        if (ra == -1 || rb == -1)
                same = ra == -1 && rb == -1 && !strcmp(a, b);
        else if (!ja || !jb)
                same = !ja && !jb;
        else
                same = json_same(ja, jb);
        json_decref(ja);
        json_decref(jb);
        return same;
}

uint64_t vcdc_verify_digest(const vcdc_record_t *rec) {
        hasher_t hs;
        uint32_t bits[2];
        uint64_t k;
        size_t i;

        hasher_init(&hs, TAG_VECTOR);
        hasher_u64(&hs, rec->vector ? rec->dim : 0);
        for (i = 0; rec->vector && i < rec->dim; i += 2) {
                bits[1] = 0;
                memcpy(&bits[0], &rec->vector[i], sizeof(float));
                if (i + 1 < rec->dim)
                        memcpy(&bits[1], &rec->vector[i + 1], sizeof(float));
                /* -0.0 compares equal to 0.0: hash it alike. */
                if (bits[0] == 0x80000000u)
                        bits[0] = 0;
                if (bits[1] == 0x80000000u)
                        bits[1] = 0;
                k = (uint64_t)bits[0] | (uint64_t)bits[1] << 32;
                hasher_u64(&hs, k);
        }
        hasher_u64(&hs, metadata_hash(rec->metadata));
        hasher_u64(&hs, rec->document ? hash_bytes(rec->document,
                                                   strlen(rec->document),
                                                   TAG_DOCUMENT)
                                      : hash_bytes(NULL, 0, TAG_NO_DOCUMENT));
        return hasher_final(&hs);
}

/* ---- Comparing -------------------------------------------------------- */

static int vector_same(const vcdc_record_t *a, const vcdc_record_t *b,
                       double tolerance) {
        size_t da = a->vector ? a->dim : 0, db = b->vector ? b->dim : 0;
        size_t i;

        if (da != db)
                return 0;
        if (tolerance < 0)
                tolerance = 0;
        for (i = 0; i < da; i++)
                if (!(fabs((double)a->vector[i] - (double)b->vector[i]) <=
                      tolerance))
                        return 0;
        return 1;
}

int vcdc_verify_compare(const vcdc_record_t *old_rec,
                        const vcdc_record_t *new_rec, double tolerance) {
        int mask = 0;

        if (!vector_same(old_rec, new_rec, tolerance))
                mask |= VCDC_VERIFY_VECTOR;
        if (!vcdc_verify_metadata_equal(old_rec->metadata, new_rec->metadata))
                mask |= VCDC_VERIFY_METADATA;
        if ((old_rec->document == NULL) != (new_rec->document == NULL) ||
            (old_rec->document && strcmp(old_rec->document, new_rec->document)))
                mask |= VCDC_VERIFY_DOCUMENT;
        return mask;
}
