/*
 * vcdc - the Chroma sink: Chroma's HTTP API v2 through libcurl and jansson.
 *
 *   chroma://HOST:PORT/COLLECTION?tenant=..&database=..&metric=cosine|l2|ip
 *
 * The collection is created (get_or_create, the metric as hnsw space) by the
 * first apply with upserts; until then it counts as empty. Applied offsets
 * live in a companion collection, COLLECTION_vcdc_offsets, one record per
 * (topic, partition), written by record_offsets() after the data they
 * cover (apply() takes none), which never creates the user's collection.
 * Each record is stamped with the id (a UUID) of the user's collection as
 * it was when written, "" while there was none: read_offsets() returns
 * only those of the collection that exists now, so offsets of one since
 * deleted or re-created do not count (a new group replays it whole), and
 * those stamped "" only while it is missing. Records from before the
 * stamp count for no collection.
 * sink_chroma_int.h lists what Chroma does that shapes this file.
 */
#include "sink_chroma_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "log.h"
#include "sink_int.h"

#define CHROMA_DEFAULT_PORT 8000
#define CHROMA_ID_SIZE      64   /* a collection id is a UUID */
#define CHROMA_BASE_MAX     600  /* the longest tenant/database prefix */
#define CHROMA_PATH_SIZE    2048 /* base + a name of at most 512 + verb */
#define CHROMA_TOKEN_HEADER "x-chroma-token"

typedef struct chroma_s {
        vcdc_http_t *http;
        char *offsets_name;             /* COLLECTION_vcdc_offsets */
        char *base;                     /* /api/v2/tenants/T/databases/D */
        char id[CHROMA_ID_SIZE];        /* "" while the collection is absent */
        char offsets_id[CHROMA_ID_SIZE];
        size_t dim;                     /* 0 while unknown */
        size_t max_batch;               /* pre-flight-checks max_batch_size */
        int base64_ok;                  /* the server takes base64 */
        int base64;                     /* and we send it */
        int token;                      /* a token goes with each request */
        uint64_t inexact;               /* metadata floats Chroma altered
                                         * (vcdc_chroma_stored_real) */
} chroma_t;

/*
 * A growable string. A failed allocation sticks in oom, so a builder checks
 * once at the end rather than after every append.
 */
typedef struct buf_s {
        char *p;
        size_t len;
        size_t size;
        int oom;
} buf_t;

static int buf_reserve(buf_t *b, size_t n) {
        size_t size;
        char *p;

        if (b->oom)
                return -1;
        if (b->len + n + 1 <= b->size)
                return 0;
        size = b->size ? b->size : 256;
        while (size < b->len + n + 1)
                size *= 2;
        if (!(p = realloc(b->p, size))) {
                b->oom = 1;
                return -1;
        }
        b->p = p;
        b->size = size;
        return 0;
}

static void buf_put(buf_t *b, const char *s, size_t n) {
        if (buf_reserve(b, n) == -1)
                return;
        memcpy(b->p + b->len, s, n);
        b->len += n;
        b->p[b->len] = '\0';
}

static void buf_puts(buf_t *b, const char *s) {
        buf_put(b, s, strlen(s));
}

static void buf_printf(buf_t *b, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

static void buf_printf(buf_t *b, const char *fmt, ...) {
        char tmp[64];
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
        va_end(ap);
        if (n < 0 || (size_t)n >= sizeof(tmp)) {
                b->oom = 1; /* only numbers are printed through here */
                return;
        }
        buf_put(b, tmp, (size_t)n);
}

/* Drops everything after len (a rollback to an earlier length). */
static void buf_truncate(buf_t *b, size_t len) {
        if (b->p && len <= b->len) {
                b->len = len;
                b->p[len] = '\0';
        }
}

/* Hands over the string (never NULL unless oom) and empties b. */
static char *buf_detach(buf_t *b, size_t *lenp) {
        char *p;

        if (!b->oom && !b->p)
                buf_reserve(b, 0);
        if (b->oom) {
                free(b->p);
                memset(b, 0, sizeof(*b));
                return NULL;
        }
        p = b->p;
        if (lenp)
                *lenp = b->len;
        memset(b, 0, sizeof(*b));
        return p;
}

static void buf_free(buf_t *b) {
        free(b->p);
        memset(b, 0, sizeof(*b));
}

static void buf_json(buf_t *b, const json_t *v) {
        const size_t flags = JSON_ENCODE_ANY | JSON_COMPACT;
        size_t n = json_dumpb(v, NULL, 0, flags);

        if (!n) {
                b->oom = 1;
                return;
        }
        if (buf_reserve(b, n) == -1)
                return;
        json_dumpb(v, b->p + b->len, n, flags);
        b->len += n;
        b->p[b->len] = '\0';
}

/* A JSON string. Returns -1 when s is not UTF-8. */
static int buf_jstr(buf_t *b, const char *s) {
        json_t *j = json_string(s);

        if (!j)
                return -1;
        buf_json(b, j);
        json_decref(j);
        return 0;
}

/* s for a message: at most 100 bytes, printable ASCII as it is, any
 * other byte as \xNN. */
static const char *escaped(char *buf, size_t size, const char *s) {
        static const char hex[] = "0123456789abcdef";
        size_t n = 0, i;

        for (i = 0; s[i] && i < 100 && n + 5 < size; i++) {
                unsigned char c = (unsigned char)s[i];

                if (c >= 0x20 && c < 0x7f && c != '\\' && c != '"') {
                        buf[n++] = (char)c;
                } else {
                        buf[n++] = '\\';
                        buf[n++] = 'x';
                        buf[n++] = hex[c >> 4];
                        buf[n++] = hex[c & 15];
                }
        }
        buf[n] = '\0';
        return buf;
}

static int is_utf8(const char *s) {
        json_t *j = json_string(s);

        json_decref(j);
        return j != NULL;
}

/* The shortest %.Ng text that reads back to d, with a '.' or an exponent
 * so it stays a float in JSON. */
static void real_shortest(double d, char *out, size_t size) {
        int prec;

        for (prec = 1; prec <= 17; prec++) {
                snprintf(out, size, "%.*g", prec, d);
                if (strtod(out, NULL) == d)
                        break;
        }
        if (!strpbrk(out, ".eEni") && strlen(out) + 3 <= size)
                memcpy(out + strlen(out), ".0", 3);
}

/* 10^k as the nearest double, as in serde_json's POW10 table. */
static double pow10_nearest(int k) {
        char s[16];

        snprintf(s, sizeof(s), "1e%d", k);
        return strtod(s, NULL);
}

/*
 * What serde_json without float_roundtrip (Chroma's JSON parser) makes of
 * significand * 10^exponent: the significand rounded to a double, then one
 * multiplication or division by a power of ten. Two roundings: up to an
 * ulp away from the correctly rounded value.
 */
static double serde_f64(uint64_t significand, int exponent) {
        double f = (double)significand;

        while (exponent < -308) {
                if (f == 0)
                        return f;
                f /= 1e308;
                exponent += 308;
        }
        if (exponent > 308)
                return f == 0 ? f : INFINITY;
        return exponent >= 0 ? f * pow10_nearest(exponent)
                             : f / pow10_nearest(-exponent);
}

double vcdc_chroma_serde_read(const char *text) {
        uint64_t sig = 0;
        int exp = 0, neg = 0, eneg = 0, e = 0, digits = 0;
        const char *t = text;
        double f;

        if (*t == '-') {
                neg = 1;
                t++;
        }
        for (; *t >= '0' && *t <= '9'; t++, digits++) {
                if (sig > (UINT64_MAX - 9) / 10)
                        return NAN; /* not modelled: never produced here */
                sig = sig * 10 + (uint64_t)(*t - '0');
        }
        if (*t == '.')
                for (t++; *t >= '0' && *t <= '9'; t++, digits++, exp--) {
                        if (sig > (UINT64_MAX - 9) / 10)
                                return NAN;
                        sig = sig * 10 + (uint64_t)(*t - '0');
                }
        if (*t == 'e' || *t == 'E') {
                t++;
                if (*t == '+' || *t == '-')
                        eneg = *t++ == '-';
                for (; *t >= '0' && *t <= '9' && e < 100000; t++)
                        e = e * 10 + (*t - '0');
                exp += eneg ? -e : e;
        }
        if (*t || !digits)
                return NAN;
        f = serde_f64(sig, exp);
        return neg ? -f : f;
}

/*
 * The text serde_json writes for d (ryu's format): the shortest digits,
 * as 1234.0, 12.34, 0.001234, 1e30 or 1.234e30 depending on where the
 * decimal point falls.
 */
static void ryu_text(double d, char *out, size_t size) {
        char tmp[40], digits[24];
        const char *sign = signbit(d) ? "-" : "";
        int prec, len = 0, k, kk;
        const char *p;

        if (d == 0) {
                snprintf(out, size, "%s0.0", sign);
                return;
        }
        for (prec = 1; prec <= 17; prec++) {
                snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, fabs(d));
                if (strtod(tmp, NULL) == fabs(d))
                        break;
        }
        for (p = tmp; *p && *p != 'e'; p++)
                if (*p != '.')
                        digits[len++] = *p;
        digits[len] = '\0';
        k = (int)strtol(p + 1, NULL, 10) - (len - 1); /* d = digits e k */
        kk = len + k;                                 /* where '.' falls */
        if (k >= 0 && kk <= 16)
                snprintf(out, size, "%s%s%.*s.0", sign, digits, k,
                         "0000000000000000");
        else if (kk > 0 && kk <= 16)
                snprintf(out, size, "%s%.*s.%s", sign, kk, digits,
                         digits + kk);
        else if (kk > -5 && kk <= 0)
                snprintf(out, size, "%s0.%.*s%s", sign, -kk, "00000",
                         digits);
        else if (len == 1)
                snprintf(out, size, "%s%se%d", sign, digits, kk - 1);
        else
                snprintf(out, size, "%s%c.%se%d", sign, digits[0],
                         digits + 1, kk - 1);
}

double vcdc_chroma_stored_real(double d) {
        char text[64];

        if (!isfinite(d))
                return d;
        /* The request as we write it... */
        real_shortest(d, text, sizeof(text));
        d = vcdc_chroma_serde_read(text);
        /* ...then Chroma's log, which writes what it parsed with
         * serde_json and parses that again. */
        ryu_text(d, text, sizeof(text));
        return vcdc_chroma_serde_read(text);
}

/* A metadata value, floats as their shortest text. *inexactp (may be
 * NULL) counts floats Chroma will store altered. */
static void put_value(buf_t *b, const json_t *v, size_t *inexactp) {
        char tmp[64];
        double d;

        switch (json_typeof(v)) {
        case JSON_INTEGER:
                buf_printf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
                break;
        case JSON_REAL:
                d = json_real_value(v);
                real_shortest(d, tmp, sizeof(tmp));
                buf_puts(b, tmp);
                if (inexactp && vcdc_chroma_stored_real(d) != d)
                        (*inexactp)++;
                break;
        default:
                buf_json(b, v);
                break;
        }
}

/* float32 as text that reads back to the same float32 ("-0" would read
 * back as the integer 0). */
static void put_float(buf_t *b, float f) {
        if (f == 0.0f && signbit(f))
                buf_puts(b, "-0.0");
        else
                buf_printf(b, "%.9g", (double)f);
}

static void put_floats(buf_t *b, const float *vector, size_t dim) {
        size_t i;

        buf_puts(b, "[");
        for (i = 0; i < dim; i++) {
                if (i)
                        buf_puts(b, ",");
                put_float(b, vector[i]);
        }
        buf_puts(b, "]");
}

/*
 * Writes obj (NULL: none) with, after its keys, each key of old (NULL:
 * none) that obj lacks as null, or "null" when that leaves no key at all.
 */
static void put_metadata(buf_t *b, const json_t *obj, const json_t *old,
                         size_t *inexactp) {
        const char *key;
        json_t *v;
        size_t n = 0;

        json_object_foreach((json_t *)obj, key, v) {
                buf_puts(b, n++ ? "," : "{");
                buf_jstr(b, key);
                buf_puts(b, ":");
                put_value(b, v, inexactp);
        }
        json_object_foreach((json_t *)old, key, v) {
                if (json_object_get(obj, key))
                        continue;
                buf_puts(b, n++ ? "," : "{");
                buf_jstr(b, key);
                buf_puts(b, ":null");
        }
        buf_puts(b, n ? "}" : "null");
}

char *vcdc_chroma_metadata_dump(const json_t *obj) {
        buf_t b = {0};

        if (!json_object_size(obj))
                buf_puts(&b, "{}");
        else
                put_metadata(&b, obj, NULL, NULL);
        return buf_detach(&b, NULL);
}

char *vcdc_chroma_base64_floats(const float *vector, size_t dim) {
        static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                  "abcdefghijklmnopqrstuvwxyz0123456789+/";
        size_t nbytes = dim * 4, i, o = 0;
        unsigned char *bytes;
        char *out;

        if (!(bytes = malloc(nbytes + 1)))
                return NULL;
        if (!(out = malloc((nbytes + 2) / 3 * 4 + 1))) {
                free(bytes);
                return NULL;
        }
        for (i = 0; i < dim; i++) {
                uint32_t u;
                memcpy(&u, &vector[i], 4);
                bytes[i * 4] = (unsigned char)(u & 0xff);
                bytes[i * 4 + 1] = (unsigned char)((u >> 8) & 0xff);
                bytes[i * 4 + 2] = (unsigned char)((u >> 16) & 0xff);
                bytes[i * 4 + 3] = (unsigned char)(u >> 24);
        }
        for (i = 0; i + 2 < nbytes; i += 3) {
                uint32_t v = (uint32_t)bytes[i] << 16 |
                             (uint32_t)bytes[i + 1] << 8 | bytes[i + 2];
                out[o++] = tbl[v >> 18];
                out[o++] = tbl[(v >> 12) & 63];
                out[o++] = tbl[(v >> 6) & 63];
                out[o++] = tbl[v & 63];
        }
        if (i < nbytes) {
                uint32_t v = (uint32_t)bytes[i] << 16;
                if (i + 1 < nbytes)
                        v |= (uint32_t)bytes[i + 1] << 8;
                out[o++] = tbl[v >> 18];
                out[o++] = tbl[(v >> 12) & 63];
                out[o++] = i + 1 < nbytes ? tbl[(v >> 6) & 63] : '=';
                out[o++] = '=';
        }
        out[o] = '\0';
        free(bytes);
        return out;
}

int vcdc_chroma_name_check(const char *name, char *errstr,
                           size_t errstr_size) {
        size_t len = strlen(name), i;
        unsigned char addr[4];

        if (len < 3 || len > VCDC_CHROMA_NAME_MAX) {
                snprintf(errstr, errstr_size,
                         "collection name \"%.64s\" has %zu characters, Chroma "
                         "takes 3 to %d",
                         name, len, VCDC_CHROMA_NAME_MAX);
                return -1;
        }
        for (i = 0; i < len; i++) {
                char c = name[i];
                int alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                            (c >= '0' && c <= '9');
                if (!alnum && c != '.' && c != '_' && c != '-') {
                        snprintf(errstr, errstr_size,
                                 "collection name \"%.64s\": Chroma takes only "
                                 "[a-zA-Z0-9._-]",
                                 name);
                        return -1;
                }
                if (!alnum && (i == 0 || i == len - 1)) {
                        snprintf(errstr, errstr_size,
                                 "collection name \"%.64s\" must start and end "
                                 "with a letter or digit",
                                 name);
                        return -1;
                }
        }
        if (strstr(name, "..")) {
                snprintf(errstr, errstr_size,
                         "collection name \"%.64s\" contains \"..\"", name);
                return -1;
        }
        if (inet_pton(AF_INET, name, addr) == 1) {
                snprintf(errstr, errstr_size,
                         "collection name \"%s\" is an IP address", name);
                return -1;
        }
        return 0;
}

/* Parses and checks metadata text; returns the object (NULL with errstr
 * on failure). */
static json_t *metadata_parse(const char *text, char *errstr,
                              size_t errstr_size) {
        json_error_t jerr;
        const char *key;
        json_t *obj, *v;

        if (!(obj = json_loads(text, JSON_REJECT_DUPLICATES, &jerr))) {
                snprintf(errstr, errstr_size,
                         "metadata is not valid JSON: %s (at byte %d)",
                         jerr.text, jerr.position);
                return NULL;
        }
        if (!json_is_object(obj)) {
                snprintf(errstr, errstr_size, "metadata is not a JSON object");
                goto err;
        }
        json_object_foreach(obj, key, v) {
                const char *what = NULL;
                if (!strncmp(key, "chroma:", 7)) {
                        snprintf(errstr, errstr_size,
                                 "metadata key \"%.100s\": keys \"chroma:*\" "
                                 "are reserved by Chroma (chroma:document "
                                 "holds the document)",
                                 key);
                        goto err;
                }
                switch (json_typeof(v)) {
                case JSON_NULL:
                        snprintf(errstr, errstr_size,
                                 "metadata key \"%.100s\" is null, which "
                                 "Chroma takes as \"remove the key\"",
                                 key);
                        goto err;
                case JSON_ARRAY:
                        what = "an array";
                        break;
                case JSON_OBJECT:
                        what = "a nested object";
                        break;
                default:
                        break;
                }
                if (what) {
                        snprintf(errstr, errstr_size,
                                 "metadata key \"%.100s\" is %s: Chroma holds "
                                 "only strings, numbers and booleans",
                                 key, what);
                        goto err;
                }
        }
        return obj;
err:
        json_decref(obj);
        return NULL;
}

int vcdc_chroma_metadata_check(const char *metadata, char *errstr,
                               size_t errstr_size) {
        json_t *obj;

        if (!metadata)
                return 0;
        if (!(obj = metadata_parse(metadata, errstr, errstr_size)))
                return -1;
        json_decref(obj);
        return 0;
}

/* Bytes jansson writes for s as a JSON string (quotes included): '"',
 * '\\' and control characters escaped, the rest as it is. */
static size_t json_string_len(const char *s) {
        size_t n = 2;

        for (; *s; s++) {
                unsigned char c = (unsigned char)*s;
                if (c == '"' || c == '\\' || c == '\b' || c == '\f' ||
                    c == '\n' || c == '\r' || c == '\t')
                        n += 2;
                else if (c < 0x20)
                        n += 6;
                else
                        n++;
        }
        return n;
}

/* vcdc_chroma_record_check(), handing back the parsed metadata (NULL for
 * none) when metap is not NULL. */
static int record_check(const vcdc_record_t *rec, vcdc_metric_t metric,
                        size_t *dimp, json_t **metap, char *errstr,
                        size_t errstr_size) {
        char err[400];
        json_t *meta = NULL;
        double sumsq = 0, sq;
        size_t i, body;
        int all_underflow = 1, nonzero = 0;

        if (metap)
                *metap = NULL;
        if (!rec->id || !*rec->id) {
                snprintf(errstr, errstr_size, "empty id (Chroma needs one)");
                return -1;
        }
        if (!is_utf8(rec->id)) {
                snprintf(errstr, errstr_size, "id is not UTF-8");
                return -1;
        }
        if (!rec->vector || !rec->dim) {
                snprintf(errstr, errstr_size, "id \"%.100s\": no vector",
                         rec->id);
                return -1;
        }
        if (*dimp && rec->dim != *dimp) {
                snprintf(errstr, errstr_size,
                         "id \"%.100s\": vector of dimension %zu, expected %zu",
                         rec->id, rec->dim, *dimp);
                return -1;
        }
        for (i = 0; i < rec->dim; i++) {
                if (!isfinite(rec->vector[i])) {
                        snprintf(errstr, errstr_size,
                                 "id \"%.100s\": vector[%zu] is not a finite "
                                 "number",
                                 rec->id, i);
                        return -1;
                }
                sq = (double)rec->vector[i] * rec->vector[i]; /* exact */
                sumsq += sq;
                nonzero |= rec->vector[i] != 0;
                /* float32 rounds a square of 2^-150 or less to 0 */
                all_underflow &= sq <= 0x1p-150;
        }
        /* Half of FLT_MAX leaves room for float32 rounding in the sum. */
        if (metric == VCDC_METRIC_COSINE && sumsq > FLT_MAX / 2) {
                snprintf(errstr, errstr_size,
                         "id \"%.100s\": the vector's squared norm %g "
                         "overflows float32; Chroma's cosine space would "
                         "store NaN",
                         rec->id, sumsq);
                return -1;
        }
        /* Chroma normalises in float32: when every square rounds to 0 the
         * norm is 0 and it stores zeros. */
        if (metric == VCDC_METRIC_COSINE && nonzero && all_underflow) {
                snprintf(errstr, errstr_size,
                         "id \"%.100s\": every component's square "
                         "underflows float32 (all below 2^-75); Chroma's "
                         "cosine space would store the vector as zeros",
                         rec->id);
                return -1;
        }
        if (rec->metadata &&
            !(meta = metadata_parse(rec->metadata, err, sizeof(err)))) {
                snprintf(errstr, errstr_size, "id \"%.100s\": %s", rec->id,
                         err);
                return -1;
        }
        if (rec->document && !is_utf8(rec->document)) {
                snprintf(errstr, errstr_size,
                         "id \"%.100s\": document is not UTF-8", rec->id);
                json_decref(meta);
                return -1;
        }
        /* The record alone in an upsert, embedding as numbers (the longer
         * form), metadata about as long as its text. */
        body = 64 + json_string_len(rec->id) + rec->dim * 16 +
               (rec->metadata ? strlen(rec->metadata) : 4) +
               (rec->document ? json_string_len(rec->document) : 4);
        if (body > VCDC_CHROMA_SERVER_BODY_MAX) {
                snprintf(errstr, errstr_size,
                         "id \"%.100s\": an upsert of this record alone "
                         "takes about %zu bytes; Chroma refuses request "
                         "bodies over %zu (HTTP 413)",
                         rec->id, body, VCDC_CHROMA_SERVER_BODY_MAX);
                json_decref(meta);
                return -1;
        }
        *dimp = rec->dim;
        if (metap)
                *metap = meta;
        else
                json_decref(meta);
        return 0;
}

int vcdc_chroma_record_check(const vcdc_record_t *rec, vcdc_metric_t metric,
                             size_t *dimp, char *errstr, size_t errstr_size) {
        return record_check(rec, metric, dimp, NULL, errstr, errstr_size);
}

size_t vcdc_chroma_upsert_body(const vcdc_record_t *const *recs, size_t cnt,
                               const json_t *const *old_metadatas, int base64,
                               size_t max_bytes, char **bodyp, size_t *lenp,
                               size_t *inexactp, char *errstr,
                               size_t errstr_size) {
        static const char *const head[4] = {
                "{\"ids\":[",
                "],\"embeddings\":[",
                "],\"metadatas\":[",
                "],\"documents\":[",
        };
        buf_t part[4] = {{0}}, body = {0};
        size_t n, i, mark[4], total, dim = 0, inexact = 0, rec_inexact;

        *bodyp = NULL;
        *lenp = 0;
        if (inexactp)
                *inexactp = 0;
        if (!cnt) {
                snprintf(errstr, errstr_size, "no record to upsert");
                return 0;
        }
        for (n = 0; n < cnt; n++) {
                const vcdc_record_t *rec = recs[n];
                json_t *meta;

                if (record_check(rec, VCDC_METRIC_UNSET, &dim, &meta, errstr,
                                 errstr_size) == -1)
                        goto err;
                for (i = 0; i < 4; i++) {
                        mark[i] = part[i].len;
                        if (n)
                                buf_puts(&part[i], ",");
                }
                buf_jstr(&part[0], rec->id);
                if (base64) {
                        char *s = vcdc_chroma_base64_floats(rec->vector,
                                                            rec->dim);
                        if (!s)
                                part[1].oom = 1;
                        buf_puts(&part[1], "\"");
                        if (s)
                                buf_puts(&part[1], s);
                        buf_puts(&part[1], "\"");
                        free(s);
                } else {
                        put_floats(&part[1], rec->vector, rec->dim);
                }
                rec_inexact = 0;
                put_metadata(&part[2], meta,
                             old_metadatas ? old_metadatas[n] : NULL,
                             &rec_inexact);
                json_decref(meta);
                if (rec->document)
                        buf_jstr(&part[3], rec->document);
                else
                        buf_puts(&part[3], "null");
                for (i = 0, total = 64; i < 4; i++) {
                        if (part[i].oom)
                                goto oom;
                        total += part[i].len;
                }
                if (n > 0 && total > max_bytes) {
                        for (i = 0; i < 4; i++)
                                buf_truncate(&part[i], mark[i]);
                        break;
                }
                inexact += rec_inexact;
        }
        if (inexactp)
                *inexactp = inexact;
        for (i = 0; i < 4; i++) {
                buf_puts(&body, head[i]);
                if (part[i].p)
                        buf_put(&body, part[i].p, part[i].len);
                buf_free(&part[i]);
        }
        buf_puts(&body, "]}");
        if (!(*bodyp = buf_detach(&body, lenp)))
                goto oom;
        return n;

oom:
        snprintf(errstr, errstr_size, "out of memory");
err:
        for (i = 0; i < 4; i++)
                buf_free(&part[i]);
        buf_free(&body);
        return 0;
}

static json_t *ids_array(const char *const *ids, size_t cnt) {
        json_t *arr = json_array();
        size_t i;

        for (i = 0; arr && i < cnt; i++) {
                json_t *s = json_string(ids[i]);
                if (!s || json_array_append_new(arr, s) == -1) {
                        json_decref(arr);
                        return NULL;
                }
        }
        return arr;
}

/* Dumps and drops obj (NULL in, NULL out). */
static char *dump_decref(json_t *obj) {
        char *s = obj ? json_dumps(obj, JSON_COMPACT) : NULL;

        json_decref(obj);
        return s;
}

char *vcdc_chroma_delete_body(const char *const *ids, size_t cnt) {
        json_t *arr = ids_array(ids, cnt);

        if (!arr)
                return NULL;
        return dump_decref(json_pack("{s:o}", "ids", arr));
}

char *vcdc_chroma_get_body(const char *const *ids, size_t cnt, size_t limit,
                           size_t offset, int include) {
        json_t *obj = json_object(), *inc = json_array();
        int fail = !obj || !inc;

        if (include & VCDC_CHROMA_INC_EMBEDDINGS)
                fail |= json_array_append_new(inc, json_string("embeddings"));
        if (include & VCDC_CHROMA_INC_METADATAS)
                fail |= json_array_append_new(inc, json_string("metadatas"));
        if (include & VCDC_CHROMA_INC_DOCUMENTS)
                fail |= json_array_append_new(inc, json_string("documents"));
        fail |= json_object_set_new(obj, "include", inc);
        if (ids) {
                fail |= json_object_set_new(obj, "ids", ids_array(ids, cnt));
        } else {
                fail |= json_object_set_new(obj, "limit",
                                            json_integer((json_int_t)limit));
                fail |= json_object_set_new(obj, "offset",
                                            json_integer((json_int_t)offset));
        }
        if (fail) {
                json_decref(obj);
                return NULL;
        }
        return dump_decref(obj);
}

char *vcdc_chroma_query_body(const float *vector, size_t dim, size_t k) {
        buf_t b = {0};

        buf_puts(&b, "{\"query_embeddings\":[");
        put_floats(&b, vector, dim);
        buf_printf(&b, "],\"n_results\":%zu", k);
        buf_puts(&b, ",\"include\":[\"distances\"]}");
        return buf_detach(&b, NULL);
}

char *vcdc_chroma_offsets_body(const char *topic, const char *collection_id,
                               const vcdc_sink_offset_t *offsets, size_t cnt) {
        json_t *ids = json_array(), *embs = json_array(), *metas = json_array();
        int fail = !ids || !embs || !metas;
        size_t i;

        for (i = 0; !fail && i < cnt; i++) {
                char id[512];
                int n = snprintf(id, sizeof(id), "%s/%" PRId32, topic,
                                 offsets[i].partition);
                if (n < 0 || (size_t)n >= sizeof(id)) {
                        fail = 1;
                        break;
                }
                fail |= json_array_append_new(ids, json_string(id));
                fail |= json_array_append_new(embs, json_pack("[f]", 0.0));
                fail |= json_array_append_new(
                        metas, json_pack("{s:s,s:I,s:I,s:s}", "topic", topic,
                                         "partition",
                                         (json_int_t)offsets[i].partition,
                                         "offset",
                                         (json_int_t)offsets[i].offset,
                                         "collection_id", collection_id));
        }
        if (fail) {
                json_decref(ids);
                json_decref(embs);
                json_decref(metas);
                return NULL;
        }
        return dump_decref(json_pack("{s:o,s:o,s:o}", "ids", ids, "embeddings",
                                     embs, "metadatas", metas));
}

char *vcdc_chroma_create_body(const char *name, vcdc_metric_t metric) {
        return dump_decref(json_pack("{s:s,s:{s:{s:s}},s:b}", "name", name,
                                     "configuration", "hnsw", "space",
                                     vcdc_metric_name(metric), "get_or_create",
                                     1));
}

int vcdc_chroma_parse_collection(const json_t *resp, char *id, size_t id_size,
                                 size_t *dimp, vcdc_metric_t *metricp,
                                 char *errstr, size_t errstr_size) {
        const json_t *cfg, *dim;
        const char *s, *space = NULL;
        static const char *const indexes[] = {"hnsw", "spann"};
        size_t i;

        if (!json_is_object(resp) ||
            !(s = json_string_value(json_object_get(resp, "id"))) || !*s ||
            strlen(s) >= id_size) {
                snprintf(errstr, errstr_size,
                         "collection answer without a valid \"id\"");
                return -1;
        }
        snprintf(id, id_size, "%s", s);
        dim = json_object_get(resp, "dimension");
        if (!dim || json_is_null(dim)) {
                *dimp = 0;
        } else if (json_is_integer(dim) && json_integer_value(dim) >= 0) {
                *dimp = (size_t)json_integer_value(dim);
        } else {
                snprintf(errstr, errstr_size,
                         "collection answer: \"dimension\" is not a count");
                return -1;
        }
        if (!(cfg = json_object_get(resp, "configuration_json")))
                cfg = json_object_get(resp, "configuration");
        for (i = 0; !space && i < sizeof(indexes) / sizeof(*indexes); i++)
                space = json_string_value(json_object_get(
                        json_object_get(cfg, indexes[i]), "space"));
        if (!space)
                space = json_string_value(json_object_get(
                        json_object_get(resp, "metadata"), "hnsw:space"));
        if (!space)
                space = "l2"; /* Chroma's default */
        if ((*metricp = vcdc_metric_parse(space)) == VCDC_METRIC_UNSET) {
                snprintf(errstr, errstr_size,
                         "collection has an unknown distance space \"%.64s\"",
                         space);
                return -1;
        }
        return 0;
}

/* Requested ids sorted for lookup: an answer lists records in its own
 * order. */
typedef struct id_ent_s {
        const char *id;
        size_t idx;
} id_ent_t;

static int id_ent_cmp(const void *a, const void *b) {
        const id_ent_t *x = a, *y = b;
        int c = strcmp(x->id, y->id);

        return c ? c : (x->idx > y->idx) - (x->idx < y->idx);
}

static id_ent_t *id_index_new(const char *const *ids, size_t cnt) {
        id_ent_t *ents = malloc((cnt ? cnt : 1) * sizeof(*ents));
        size_t i;

        if (!ents)
                return NULL;
        for (i = 0; i < cnt; i++) {
                ents[i].id = ids[i];
                ents[i].idx = i;
        }
        qsort(ents, cnt, sizeof(*ents), id_ent_cmp);
        return ents;
}

/* The position in ents of the first entry for id, or cnt. */
static size_t id_index_find(const id_ent_t *ents, size_t cnt, const char *id) {
        size_t lo = 0, hi = cnt;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (strcmp(ents[mid].id, id) < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo < cnt && !strcmp(ents[lo].id, id) ? lo : cnt;
}

/* The i-th element of an optional parallel array (absent or null: NULL). */
static const json_t *column_at(const json_t *col, size_t i) {
        return json_is_array(col) ? json_array_get(col, i) : NULL;
}

/* Checks that an optional column of the answer is null or an array of n. */
static int column_check(const json_t *resp, const char *name, size_t n,
                        char *errstr, size_t errstr_size) {
        const json_t *col = json_object_get(resp, name);

        if (!col || json_is_null(col) ||
            (json_is_array(col) && json_array_size(col) == n))
                return 0;
        snprintf(errstr, errstr_size,
                 "get answer: \"%s\" is not an array of %zu entries", name, n);
        return -1;
}

static int fill_record(vcdc_record_t *rec, const json_t *id, const json_t *emb,
                       const json_t *meta, const json_t *doc, char *errstr,
                       size_t errstr_size) {
        size_t i;

        vcdc_record_init(rec);
        rec->op = VCDC_OP_UPSERT;
        if (!(rec->id = strdup(json_string_value(id))))
                goto oom;
        if (emb && !json_is_null(emb)) {
                if (!json_is_array(emb) || !json_array_size(emb)) {
                        snprintf(errstr, errstr_size,
                                 "get answer: embedding of \"%.100s\" is not "
                                 "an array of numbers",
                                 rec->id);
                        goto err;
                }
                rec->dim = json_array_size(emb);
                if (!(rec->vector = malloc(rec->dim * sizeof(float))))
                        goto oom;
                for (i = 0; i < rec->dim; i++) {
                        const json_t *x = json_array_get(emb, i);
                        float f = (float)json_number_value(x);
                        if (!json_is_number(x) || !isfinite(f)) {
                                snprintf(errstr, errstr_size,
                                         "get answer: embedding of \"%.100s\" "
                                         "[%zu] is %s, not a float32",
                                         rec->id, i,
                                         json_is_null(x)
                                                 ? "null (NaN in Chroma)"
                                                 : "out of range");
                                goto err;
                        }
                        rec->vector[i] = f;
                }
        }
        if (meta && !json_is_null(meta)) {
                if (!json_is_object(meta)) {
                        snprintf(errstr, errstr_size,
                                 "get answer: metadata of \"%.100s\" is not "
                                 "an object",
                                 rec->id);
                        goto err;
                }
                if (json_object_size(meta) &&
                    !(rec->metadata = vcdc_chroma_metadata_dump(meta)))
                        goto oom;
        }
        if (doc && !json_is_null(doc)) {
                if (!json_is_string(doc)) {
                        snprintf(errstr, errstr_size,
                                 "get answer: document of \"%.100s\" is not "
                                 "a string",
                                 rec->id);
                        goto err;
                }
                if (!(rec->document = strdup(json_string_value(doc))))
                        goto oom;
        }
        return 0;

oom:
        snprintf(errstr, errstr_size, "out of memory");
err:
        vcdc_record_clear(rec);
        return -1;
}

int vcdc_chroma_parse_get(const json_t *resp, const char *const *ids,
                          size_t cnt, vcdc_record_t *out, size_t *cntp,
                          char *errstr, size_t errstr_size) {
        const json_t *jids, *emb, *meta, *doc;
        id_ent_t *ents = NULL;
        char *filled = NULL;
        size_t n, j, found = 0;

        *cntp = 0;
        if (!json_is_object(resp) ||
            !json_is_array(jids = json_object_get(resp, "ids"))) {
                snprintf(errstr, errstr_size, "get answer without \"ids\"");
                return -1;
        }
        n = json_array_size(jids);
        if (column_check(resp, "embeddings", n, errstr, errstr_size) ||
            column_check(resp, "metadatas", n, errstr, errstr_size) ||
            column_check(resp, "documents", n, errstr, errstr_size))
                return -1;
        emb = json_object_get(resp, "embeddings");
        meta = json_object_get(resp, "metadatas");
        doc = json_object_get(resp, "documents");
        if (ids && (!(ents = id_index_new(ids, cnt)) ||
                    !(filled = calloc(cnt ? cnt : 1, 1)))) {
                snprintf(errstr, errstr_size, "out of memory");
                goto err;
        }
        for (j = 0; j < n; j++) {
                const json_t *id = json_array_get(jids, j);
                vcdc_record_t rec;
                size_t pos;

                if (!json_is_string(id)) {
                        snprintf(errstr, errstr_size,
                                 "get answer: ids[%zu] is not a string", j);
                        goto err;
                }
                if (!ids) {
                        if (found == cnt) {
                                snprintf(errstr, errstr_size,
                                         "get answer: more than the %zu "
                                         "records asked for",
                                         cnt);
                                goto err;
                        }
                        if (fill_record(&out[found], id, column_at(emb, j),
                                        column_at(meta, j), column_at(doc, j),
                                        errstr, errstr_size) == -1)
                                goto err;
                        found++;
                        continue;
                }
                pos = id_index_find(ents, cnt, json_string_value(id));
                if (pos == cnt) {
                        snprintf(errstr, errstr_size,
                                 "get answer: id \"%.100s\" was not asked for",
                                 json_string_value(id));
                        goto err;
                }
                if (filled[ents[pos].idx]) {
                        snprintf(errstr, errstr_size,
                                 "get answer: id \"%.100s\" appears twice",
                                 json_string_value(id));
                        goto err;
                }
                if (fill_record(&rec, id, column_at(emb, j), column_at(meta, j),
                                column_at(doc, j), errstr, errstr_size) == -1)
                        goto err;
                /* The same id asked for twice: each slot gets a copy. */
                for (; pos < cnt && !strcmp(ents[pos].id, rec.id); pos++) {
                        size_t idx = ents[pos].idx;
                        filled[idx] = 1;
                        found++;
                        if (pos + 1 < cnt &&
                            !strcmp(ents[pos + 1].id, rec.id)) {
                                if (vcdc_record_copy(&out[idx], &rec) == -1) {
                                        vcdc_record_clear(&rec);
                                        filled[idx] = 0;
                                        snprintf(errstr, errstr_size,
                                                 "out of memory");
                                        goto err;
                                }
                        } else {
                                out[idx] = rec;
                        }
                }
        }
        free(ents);
        free(filled);
        *cntp = found;
        return 0;

err:
        for (j = 0; j < (ids ? cnt : found); j++)
                if (!ids || (filled && filled[j]))
                        vcdc_record_clear(&out[j]);
        free(ents);
        free(filled);
        return -1;
}

int vcdc_chroma_parse_query(const json_t *resp, vcdc_hit_t *hits, size_t k,
                            size_t *cntp, char *errstr, size_t errstr_size) {
        const json_t *ids, *dists;
        size_t n, j;

        *cntp = 0;
        ids = json_array_get(json_object_get(resp, "ids"), 0);
        dists = json_array_get(json_object_get(resp, "distances"), 0);
        if (!json_is_array(ids) || !json_is_array(dists) ||
            json_array_size(ids) != json_array_size(dists)) {
                snprintf(errstr, errstr_size,
                         "query answer without \"ids\" and \"distances\" of "
                         "one query");
                return -1;
        }
        n = json_array_size(ids);
        if (n > k)
                n = k;
        for (j = 0; j < n; j++) {
                const json_t *id = json_array_get(ids, j);
                const json_t *d = json_array_get(dists, j);
                if (!json_is_string(id) || !json_is_number(d)) {
                        snprintf(errstr, errstr_size,
                                 "query answer: hit %zu is not an id and a "
                                 "distance",
                                 j);
                        goto err;
                }
                if (!(hits[j].id = strdup(json_string_value(id)))) {
                        snprintf(errstr, errstr_size, "out of memory");
                        goto err;
                }
                hits[j].distance = json_number_value(d);
        }
        *cntp = n;
        return 0;

err:
        while (j-- > 0) {
                free(hits[j].id);
                hits[j].id = NULL;
        }
        return -1;
}

static int offset_cmp(const void *a, const void *b) {
        const vcdc_sink_offset_t *x = a, *y = b;

        return (x->partition > y->partition) - (x->partition < y->partition);
}

int vcdc_chroma_parse_offsets(const json_t *resp, const char *topic,
                              const char *collection_id,
                              vcdc_sink_offset_t **offsetsp, size_t *cntp,
                              char *errstr, size_t errstr_size) {
        const json_t *metas;
        vcdc_sink_offset_t *offs;
        size_t n, j, cnt = 0;

        *offsetsp = NULL;
        *cntp = 0;
        metas = json_object_get(resp, "metadatas");
        if (!json_is_object(resp) || !json_is_array(metas)) {
                snprintf(errstr, errstr_size,
                         "offsets answer without \"metadatas\"");
                return -1;
        }
        n = json_array_size(metas);
        if (!(offs = calloc(n ? n : 1, sizeof(*offs)))) {
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        for (j = 0; j < n; j++) {
                const json_t *m = json_array_get(metas, j);
                const json_t *p = json_object_get(m, "partition");
                const json_t *o = json_object_get(m, "offset");
                const char *t = json_string_value(json_object_get(m, "topic"));
                const char *c = json_string_value(
                        json_object_get(m, "collection_id"));

                if (!t || !json_is_integer(p) || !json_is_integer(o) ||
                    json_integer_value(p) < 0 ||
                    json_integer_value(p) > INT32_MAX) {
                        snprintf(errstr, errstr_size,
                                 "offsets answer: entry %zu is not {topic, "
                                 "partition, offset}",
                                 j);
                        free(offs);
                        return -1;
                }
                /* Of another topic, of another collection than the one
                 * that exists now, or from before records were stamped. */
                if (strcmp(t, topic) || !c || strcmp(c, collection_id))
                        continue;
                offs[cnt].partition = (int32_t)json_integer_value(p);
                offs[cnt].offset = (int64_t)json_integer_value(o);
                cnt++;
        }
        qsort(offs, cnt, sizeof(*offs), offset_cmp);
        *offsetsp = offs;
        *cntp = cnt;
        return 0;
}

/*
 * The sink.
 */

static vcdc_sink_status_t fail(vcdc_sink_t *sink, vcdc_sink_status_t status,
                               char *errstr, size_t errstr_size,
                               const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));

/* Fills errstr with "sink name: message" and returns status. */
static vcdc_sink_status_t fail(vcdc_sink_t *sink, vcdc_sink_status_t status,
                               char *errstr, size_t errstr_size,
                               const char *fmt, ...) {
        char msg[1024];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        snprintf(errstr, errstr_size, "%s: %s", sink->name, msg);
        sink->open_status = status; /* read when open fails */
        return status;
}

/*
 * One request; respp NULL: the answer is not read. *codep (may be NULL):
 * HTTP status. A refused token (401, 403) is FATAL with a message that
 * says what to set, in every path. A RETRIABLE failure sets
 * retry_smaller: a server error (5xx) or a timeout may pass with less,
 * a refused or reset connection says nothing about the batch.
 */
static vcdc_sink_status_t call(vcdc_sink_t *sink, const char *method,
                               const char *path, const char *body,
                               json_t **respp, long *codep, char *errstr,
                               size_t errstr_size) {
        chroma_t *st = sink->state;
        vcdc_sink_status_t status;
        size_t len = body ? strlen(body) : 0;
        char err[768];
        long code = 0;

        if (respp)
                status = vcdc_http_json(st->http, method, path, body, len,
                                        respp, &code, err, sizeof(err));
        else
                status = vcdc_http_request(st->http, method, path, body, len,
                                           &code, err, sizeof(err));
        if (codep)
                *codep = code;
        if (status == VCDC_SINK_OK)
                return VCDC_SINK_OK;
        sink->retry_smaller = status == VCDC_SINK_RETRIABLE &&
                              (code >= 500 || vcdc_http_timed_out(st->http));
        /* The answer's body is left out: the token must never show, and
         * a proxy on the way might echo it. */
        if (code == 401 || code == 403)
                return fail(sink, VCDC_SINK_FATAL, errstr, errstr_size,
                            "%s %.200s: HTTP %ld: authentication refused: %s",
                            method, path, code,
                            st->token ? "the server does not accept the "
                                        "token in VCDC_CHROMA_TOKEN (or "
                                        "VCDC_CHROMA_TOKEN_FILE) for this "
                                        "tenant and database"
                                      : "no token was sent: set "
                                        "VCDC_CHROMA_TOKEN (or "
                                        "VCDC_CHROMA_TOKEN_FILE)");
        return fail(sink, status, errstr, errstr_size, "%s", err);
}

/* base/collections[/id][/verb] into path. */
static int coll_path(const chroma_t *st, const char *id, const char *verb,
                     char *path, size_t size) {
        int n = snprintf(path, size, "%s/collections%s%s%s%s", st->base,
                         id ? "/" : "", id ? id : "", verb ? "/" : "",
                         verb ? verb : "");

        return n < 0 || (size_t)n >= size ? -1 : 0;
}

/*
 * Looks collection name up: *foundp 1 with id, dimension and space filled,
 * or 0 when it does not exist.
 */
static vcdc_sink_status_t lookup(vcdc_sink_t *sink, const char *name,
                                 char *id, size_t *dimp,
                                 vcdc_metric_t *metricp, int *foundp,
                                 char *errstr, size_t errstr_size) {
        chroma_t *st = sink->state;
        char path[CHROMA_PATH_SIZE], err[400];
        vcdc_sink_status_t status;
        json_t *resp = NULL;
        long code;

        *foundp = 0;
        if (coll_path(st, name, NULL, path, sizeof(path)) == -1)
                return fail(sink, VCDC_SINK_FATAL, errstr, errstr_size,
                            "collection path too long");
        status = call(sink, "GET", path, NULL, &resp, &code, errstr,
                      errstr_size);
        if (status != VCDC_SINK_OK)
                return code == 404 ? VCDC_SINK_OK : status;
        if (vcdc_chroma_parse_collection(resp, id, CHROMA_ID_SIZE, dimp,
                                         metricp, err, sizeof(err)) == -1) {
                json_decref(resp);
                return fail(sink, VCDC_SINK_RETRIABLE, errstr, errstr_size,
                            "GET %s: %s", path, err);
        }
        json_decref(resp);
        *foundp = 1;
        return VCDC_SINK_OK;
}

/* Refuses a collection whose dimension or space differ from the
 * configuration. */
static vcdc_sink_status_t check_existing(vcdc_sink_t *sink, size_t dim,
                                         vcdc_metric_t metric, char *errstr,
                                         size_t errstr_size) {
        if (sink->conf.dim && dim && dim != sink->conf.dim)
                return fail(sink, VCDC_SINK_FATAL, errstr, errstr_size,
                            "collection %s has dimension %zu, configured %zu",
                            sink->url->path, dim, sink->conf.dim);
        if (sink->metric_explicit && metric != sink->conf.metric)
                return fail(sink, VCDC_SINK_FATAL, errstr, errstr_size,
                            "collection %s has space %s, configured %s",
                            sink->url->path, vcdc_metric_name(metric),
                            vcdc_metric_name(sink->conf.metric));
        /* Not configured: the collection's own metric is the one. */
        sink->conf.metric = metric;
        return VCDC_SINK_OK;
}

/* Takes the collection's id, dimension and space when it exists. */
static vcdc_sink_status_t adopt(vcdc_sink_t *sink, const char *id, size_t dim,
                                vcdc_metric_t metric, char *errstr,
                                size_t errstr_size) {
        chroma_t *st = sink->state;
        vcdc_sink_status_t status;

        if ((status = check_existing(sink, dim, metric, errstr,
                                     errstr_size)) != VCDC_SINK_OK)
                return status;
        snprintf(st->id, sizeof(st->id), "%s", id);
        if (dim)
                st->dim = dim;
        return VCDC_SINK_OK;
}

/* For reads: looks the collection up again while it is not known, since
 * another process may have created it. */
static vcdc_sink_status_t refresh(vcdc_sink_t *sink, char *errstr,
                                  size_t errstr_size) {
        chroma_t *st = sink->state;
        vcdc_sink_status_t status;
        vcdc_metric_t metric;
        char id[CHROMA_ID_SIZE];
        size_t dim;
        int found;

        if (st->id[0])
                return VCDC_SINK_OK;
        status = lookup(sink, sink->url->path, id, &dim, &metric, &found,
                        errstr, errstr_size);
        if (status != VCDC_SINK_OK || !found)
                return status;
        return adopt(sink, id, dim, metric, errstr, errstr_size);
}

/* Creates (or gets) a collection, *id filled. */
static vcdc_sink_status_t create(vcdc_sink_t *sink, const char *name,
                                 vcdc_metric_t metric, char *id, size_t *dimp,
                                 vcdc_metric_t *metricp, char *errstr,
                                 size_t errstr_size) {
        chroma_t *st = sink->state;
        char path[CHROMA_PATH_SIZE], err[400], *body;
        vcdc_sink_status_t status;
        json_t *resp = NULL;

        if (coll_path(st, NULL, NULL, path, sizeof(path)) == -1 ||
            !(body = vcdc_chroma_create_body(name, metric)))
                return fail(sink, VCDC_SINK_RETRIABLE, errstr, errstr_size,
                            "out of memory");
        status = call(sink, "POST", path, body, &resp, NULL, errstr,
                      errstr_size);
        free(body);
        if (status != VCDC_SINK_OK)
                return status;
        if (vcdc_chroma_parse_collection(resp, id, CHROMA_ID_SIZE, dimp,
                                         metricp, err, sizeof(err)) == -1) {
                json_decref(resp);
                return fail(sink, VCDC_SINK_RETRIABLE, errstr, errstr_size,
                            "POST %s: %s", path, err);
        }
        json_decref(resp);
        VCDC_INFO("chroma", "%s: collection %s ready (space %s)", sink->name,
                  name, vcdc_metric_name(*metricp));
        return VCDC_SINK_OK;
}

static vcdc_sink_status_t ensure_collection(vcdc_sink_t *sink, char *errstr,
                                            size_t errstr_size) {
        chroma_t *st = sink->state;
        vcdc_sink_status_t status;
        vcdc_metric_t metric;
        char id[CHROMA_ID_SIZE];
        size_t dim;

        if (st->id[0])
                return VCDC_SINK_OK;
        status = create(sink, sink->url->path, sink->conf.metric, id, &dim,
                        &metric, errstr, errstr_size);
        if (status != VCDC_SINK_OK)
                return status;
        return adopt(sink, id, dim, metric, errstr, errstr_size);
}

/* A 404 on the collection's own id: it was deleted under us. Writing on
 * into a re-created one would leave the offsets claiming data it lacks. */
static vcdc_sink_status_t gone(vcdc_sink_t *sink, char *errstr,
                               size_t errstr_size) {
        chroma_t *st = sink->state;
        char id[CHROMA_ID_SIZE];

        snprintf(id, sizeof(id), "%s", st->id);
        st->id[0] = '\0';
        return fail(sink, VCDC_SINK_FATAL, errstr, errstr_size,
                    "collection %s (id %s) was deleted while in use; delete "
                    "%s too before replaying into a new one",
                    sink->url->path, id, st->offsets_name);
}

static vcdc_sink_status_t post_ids(vcdc_sink_t *sink, const char *verb,
                                   const char *body, json_t **respp,
                                   char *errstr, size_t errstr_size) {
        chroma_t *st = sink->state;
        char path[CHROMA_PATH_SIZE];
        vcdc_sink_status_t status;
        long code = 0;

        if (!body)
                return fail(sink, VCDC_SINK_RETRIABLE, errstr, errstr_size,
                            "out of memory");
        if (coll_path(st, st->id, verb, path, sizeof(path)) == -1)
                return fail(sink, VCDC_SINK_FATAL, errstr, errstr_size,
                            "collection path too long");
        status = call(sink, "POST", path, body, respp, &code, errstr,
                      errstr_size);
        if (status != VCDC_SINK_OK && code == 404)
                return gone(sink, errstr, errstr_size);
        return status;
}

static vcdc_sink_status_t delete_ids(vcdc_sink_t *sink, const char *const *ids,
                                     size_t cnt, char *errstr,
                                     size_t errstr_size) {
        chroma_t *st = sink->state;
        vcdc_sink_status_t status = VCDC_SINK_OK;
        size_t i, n;

        /* Never an empty list: Chroma refuses it (and "delete where" with
         * nothing would be a different request altogether). */
        for (i = 0; i < cnt && status == VCDC_SINK_OK; i += n) {
                char *body;
                n = cnt - i < st->max_batch ? cnt - i : st->max_batch;
                body = vcdc_chroma_delete_body(ids + i, n);
                status = post_ids(sink, "delete", body, NULL, errstr,
                                  errstr_size);
                free(body);
        }
        return status;
}

/*
 * Upserts recs[0..cnt) (at most max_batch) as whole states: reads what
 * Chroma stores for them, removes stale keys through nulls and records
 * whose document must go, then sends bodies that fit the request limit.
 */
static vcdc_sink_status_t upsert_chunk(vcdc_sink_t *sink,
                                       const vcdc_record_t *const *recs,
                                       size_t cnt, char *errstr,
                                       size_t errstr_size) {
        chroma_t *st = sink->state;
        const char **ids = NULL, **clear = NULL;
        const json_t **olds = NULL;
        vcdc_sink_status_t status;
        const json_t *jids, *metas, *docs;
        id_ent_t *ents = NULL;
        json_t *resp = NULL;
        size_t i, n, clear_cnt = 0;
        char *body = NULL;

        if (!(ids = malloc(cnt * sizeof(*ids))) ||
            !(clear = malloc(cnt * sizeof(*clear))) ||
            !(olds = calloc(cnt, sizeof(*olds)))) {
                status = fail(sink, VCDC_SINK_RETRIABLE, errstr, errstr_size,
                              "out of memory");
                goto done;
        }
        for (i = 0; i < cnt; i++)
                ids[i] = recs[i]->id;
        body = vcdc_chroma_get_body(ids, cnt, 0, 0,
                                    VCDC_CHROMA_INC_METADATAS |
                                            VCDC_CHROMA_INC_DOCUMENTS);
        status = post_ids(sink, "get", body, &resp, errstr, errstr_size);
        free(body);
        body = NULL;
        if (status != VCDC_SINK_OK)
                goto done;
        jids = json_object_get(resp, "ids");
        metas = json_object_get(resp, "metadatas");
        docs = json_object_get(resp, "documents");
        if (!json_is_array(jids) || !json_is_array(metas) ||
            !json_is_array(docs) ||
            json_array_size(metas) != json_array_size(jids) ||
            json_array_size(docs) != json_array_size(jids)) {
                /* Without it, stale keys would survive the upsert. */
                status = fail(sink, VCDC_SINK_RETRIABLE, errstr, errstr_size,
                              "reading the stored state before the upsert: "
                              "the get answer lacks ids, metadatas or "
                              "documents");
                goto done;
        }
        if (!(ents = id_index_new(ids, cnt))) {
                status = fail(sink, VCDC_SINK_RETRIABLE, errstr, errstr_size,
                              "out of memory");
                goto done;
        }
        for (i = 0; i < json_array_size(jids); i++) {
                const char *id = json_string_value(json_array_get(jids, i));
                const json_t *meta = column_at(metas, i);
                const json_t *doc = column_at(docs, i);
                size_t pos, idx;

                if (!id || (pos = id_index_find(ents, cnt, id)) == cnt)
                        continue; /* not ours: nothing to clean up for it */
                idx = ents[pos].idx;
                if (json_is_object(meta))
                        olds[idx] = meta;
                if (json_is_string(doc) && !recs[idx]->document)
                        clear[clear_cnt++] = recs[idx]->id;
        }
        if (clear_cnt) {
                /* Chroma cannot unset a document: delete those first. A
                 * crash before the upsert below leaves them missing until
                 * the batch is replayed, which the uncommitted offsets
                 * guarantee. */
                status = delete_ids(sink, clear, clear_cnt, errstr,
                                    errstr_size);
                if (status != VCDC_SINK_OK)
                        goto done;
                for (i = 0; i < clear_cnt; i++) {
                        size_t pos = id_index_find(ents, cnt, clear[i]);
                        olds[ents[pos].idx] = NULL;
                }
        }
        for (i = 0; i < cnt; i += n) {
                char err[512];
                size_t len, inexact;
                n = vcdc_chroma_upsert_body(recs + i, cnt - i, olds + i,
                                            st->base64,
                                            VCDC_CHROMA_MAX_REQUEST_BYTES,
                                            &body, &len, &inexact, err,
                                            sizeof(err));
                if (inexact && !st->inexact)
                        VCDC_WARN("chroma",
                                  "%s: Chroma's JSON parser alters some "
                                  "metadata floats by a few ulps "
                                  "(counted, told again at close)",
                                  sink->name);
                st->inexact += inexact;
                if (!n) {
                        status = fail(sink,
                                      strcmp(err, "out of memory")
                                              ? VCDC_SINK_INVALID
                                              : VCDC_SINK_RETRIABLE,
                                      errstr, errstr_size, "%s", err);
                        goto done;
                }
                status = post_ids(sink, "upsert", body, NULL, errstr,
                                  errstr_size);
                free(body);
                body = NULL;
                if (status != VCDC_SINK_OK)
                        goto done;
        }

done:
        json_decref(resp);
        free(ents);
        free(olds);
        free(clear);
        free(ids);
        return status;
}

/*
 * Records offsets[0..cnt) of topic in the companion collection (created
 * if missing), stamped with the id of the user's collection as it is now
 * ("" while it does not exist): offsets belong to that collection, and
 * read_offsets() leaves out those of another. Never creates the user's
 * collection.
 */
static vcdc_sink_status_t write_offsets(vcdc_sink_t *sink, const char *topic,
                                        const vcdc_sink_offset_t *offsets,
                                        size_t cnt, char *errstr,
                                        size_t errstr_size) {
        chroma_t *st = sink->state;
        char path[CHROMA_PATH_SIZE];
        vcdc_sink_status_t status = VCDC_SINK_OK;
        size_t i, n;
        long code = 0;

        if (!topic || !*topic || strchr(topic, '/'))
                return fail(sink, VCDC_SINK_INVALID, errstr, errstr_size,
                            "offsets need a topic name without '/'");
        /* Another process may have created the collection since. */
        if ((status = refresh(sink, errstr, errstr_size)) != VCDC_SINK_OK)
                return status;
        if (!st->offsets_id[0]) {
                vcdc_metric_t metric;
                size_t dim;
                status = create(sink, st->offsets_name, VCDC_METRIC_L2,
                                st->offsets_id, &dim, &metric, errstr,
                                errstr_size);
                if (status != VCDC_SINK_OK)
                        return status;
        }
        if (coll_path(st, st->offsets_id, "upsert", path, sizeof(path)) == -1)
                return fail(sink, VCDC_SINK_FATAL, errstr, errstr_size,
                            "collection path too long");
        for (i = 0; i < cnt && status == VCDC_SINK_OK; i += n) {
                char *body;
                n = cnt - i;
                if (n > st->max_batch)
                        n = st->max_batch;
                if (!(body = vcdc_chroma_offsets_body(topic, st->id,
                                                      offsets + i, n)))
                        return fail(sink, VCDC_SINK_RETRIABLE, errstr,
                                    errstr_size, "out of memory");
                status = call(sink, "POST", path, body, NULL, &code, errstr,
                              errstr_size);
                free(body);
        }
        if (status != VCDC_SINK_OK && code == 404) {
                st->offsets_id[0] = '\0'; /* re-created on the next try */
                status = VCDC_SINK_RETRIABLE;
        }
        return status;
}

static vcdc_sink_status_t chroma_apply(vcdc_sink_t *sink,
                                       const vcdc_sink_batch_t *batch,
                                       char *errstr, size_t errstr_size) {
        chroma_t *st = sink->state;
        size_t dim = st->dim ? st->dim : sink->conf.dim, i, n, del_cnt = 0;
        vcdc_sink_status_t status = VCDC_SINK_OK;
        const char **dels = NULL;
        char err[512];

        /* Everything is checked before anything is sent. */
        for (i = 0; i < batch->upsert_cnt; i++)
                if (vcdc_chroma_record_check(batch->upserts[i],
                                             sink->conf.metric, &dim, err,
                                             sizeof(err)) == -1)
                        return fail(sink, VCDC_SINK_INVALID, errstr,
                                    errstr_size, "%s", err);
        if (batch->delete_cnt &&
            !(dels = malloc(batch->delete_cnt * sizeof(*dels))))
                return fail(sink, VCDC_SINK_RETRIABLE, errstr, errstr_size,
                            "out of memory");
        for (i = 0; i < batch->delete_cnt; i++) {
                const char *id = batch->delete_ids[i];

                /* No record has an empty id (Chroma refuses one in an
                 * upsert): deleting it changes nothing. */
                if (!id || !*id)
                        continue;
                if (!is_utf8(id)) {
                        status = fail(sink, VCDC_SINK_INVALID, errstr,
                                      errstr_size,
                                      "delete of id \"%s\": not UTF-8",
                                      escaped(err, sizeof(err), id));
                        goto done;
                }
                dels[del_cnt++] = id;
        }

        if (batch->upsert_cnt) {
                if ((status = ensure_collection(sink, errstr, errstr_size)) !=
                    VCDC_SINK_OK)
                        goto done;
        } else if (!del_cnt) {
                goto done;
        }
        if (st->id[0] && del_cnt &&
            (status = delete_ids(sink, dels, del_cnt, errstr, errstr_size)) !=
                    VCDC_SINK_OK)
                goto done;
        for (i = 0; i < batch->upsert_cnt; i += n) {
                n = batch->upsert_cnt - i;
                if (n > st->max_batch)
                        n = st->max_batch;
                if ((status = upsert_chunk(sink, batch->upserts + i, n, errstr,
                                           errstr_size)) != VCDC_SINK_OK)
                        goto done;
        }
        if (batch->upsert_cnt && !st->dim)
                st->dim = dim;
done:
        free(dels);
        return status;
}

static vcdc_sink_status_t chroma_record_offsets(
        vcdc_sink_t *sink, const char *topic, const vcdc_sink_offset_t *offsets,
        size_t cnt, char *errstr, size_t errstr_size) {
        return write_offsets(sink, topic, offsets, cnt, errstr, errstr_size);
}

static vcdc_sink_status_t chroma_read_offsets(vcdc_sink_t *sink,
                                              const char *topic,
                                              vcdc_sink_offset_t **offsetsp,
                                              size_t *cntp, char *errstr,
                                              size_t errstr_size) {
        chroma_t *st = sink->state;
        char path[CHROMA_PATH_SIZE], err[400], *body, current[CHROMA_ID_SIZE];
        vcdc_sink_status_t status;
        vcdc_metric_t current_metric;
        size_t current_dim;
        json_t *resp = NULL;
        long code = 0;
        int found;

        *offsetsp = NULL;
        *cntp = 0;
        /* The collection as it is now, not as we last saw it: offsets of
         * one since deleted or re-created do not count. */
        status = lookup(sink, sink->url->path, current, &current_dim,
                        &current_metric, &found, errstr, errstr_size);
        if (status != VCDC_SINK_OK)
                return status;
        if (!found)
                current[0] = '\0';
        if (!st->offsets_id[0]) {
                vcdc_metric_t metric;
                size_t dim;
                status = lookup(sink, st->offsets_name, st->offsets_id, &dim,
                                &metric, &found, errstr, errstr_size);
                if (status != VCDC_SINK_OK)
                        return status;
                if (!found)
                        goto none;
        }
        if (coll_path(st, st->offsets_id, "get", path, sizeof(path)) == -1 ||
            !(body = dump_decref(json_pack(
                      "{s:{s:{s:s}},s:[s]}", "where", "topic", "$eq", topic,
                      "include", "metadatas"))))
                return fail(sink, VCDC_SINK_RETRIABLE, errstr, errstr_size,
                            "out of memory or path too long");
        status = call(sink, "POST", path, body, &resp, &code, errstr,
                      errstr_size);
        free(body);
        if (status != VCDC_SINK_OK) {
                if (code != 404)
                        return status;
                st->offsets_id[0] = '\0';
                goto none;
        }
        if (vcdc_chroma_parse_offsets(resp, topic, current, offsetsp, cntp,
                                      err, sizeof(err)) == -1) {
                json_decref(resp);
                return fail(sink, VCDC_SINK_RETRIABLE, errstr, errstr_size,
                            "POST %s: %s", path, err);
        }
        json_decref(resp);
        return VCDC_SINK_OK;

none:
        if (!(*offsetsp = calloc(1, sizeof(**offsetsp))))
                return fail(sink, VCDC_SINK_RETRIABLE, errstr, errstr_size,
                            "out of memory");
        return VCDC_SINK_OK;
}

static vcdc_sink_status_t chroma_count(vcdc_sink_t *sink, uint64_t *countp,
                                       char *errstr, size_t errstr_size) {
        chroma_t *st = sink->state;
        char path[CHROMA_PATH_SIZE];
        vcdc_sink_status_t status;
        json_t *resp = NULL;
        long code = 0;

        *countp = 0;
        if ((status = refresh(sink, errstr, errstr_size)) != VCDC_SINK_OK)
                return status;
        if (!st->id[0])
                return VCDC_SINK_OK;
        if (coll_path(st, st->id, "count", path, sizeof(path)) == -1)
                return fail(sink, VCDC_SINK_FATAL, errstr, errstr_size,
                            "collection path too long");
        status = call(sink, "GET", path, NULL, &resp, &code, errstr,
                      errstr_size);
        if (status != VCDC_SINK_OK) {
                if (code != 404)
                        return status;
                st->id[0] = '\0';
                return VCDC_SINK_OK;
        }
        if (!json_is_integer(resp) || json_integer_value(resp) < 0) {
                json_decref(resp);
                return fail(sink, VCDC_SINK_RETRIABLE, errstr, errstr_size,
                            "GET %s: the answer is not a count", path);
        }
        *countp = (uint64_t)json_integer_value(resp);
        json_decref(resp);
        return VCDC_SINK_OK;
}

/* How many records with vectors one get may ask for, so the answer stays
 * well within the cap. */
static size_t get_limit(const chroma_t *st, int with_vectors) {
        size_t per = 4096 + (with_vectors ? st->dim * 16 : 0);
        size_t n = VCDC_CHROMA_MAX_RESPONSE_BYTES / 2 / per;

        if (n > st->max_batch)
                n = st->max_batch;
        return n ? n : 1;
}

/* One get request; 404 (the collection went away) counts as empty. */
static vcdc_sink_status_t get_call(vcdc_sink_t *sink, const char *body,
                                   json_t **respp, char *errstr,
                                   size_t errstr_size) {
        chroma_t *st = sink->state;
        char path[CHROMA_PATH_SIZE];
        vcdc_sink_status_t status;
        long code = 0;

        *respp = NULL;
        if (!body)
                return fail(sink, VCDC_SINK_RETRIABLE, errstr, errstr_size,
                            "out of memory");
        if (coll_path(st, st->id, "get", path, sizeof(path)) == -1)
                return fail(sink, VCDC_SINK_FATAL, errstr, errstr_size,
                            "collection path too long");
        status = call(sink, "POST", path, body, respp, &code, errstr,
                      errstr_size);
        if (status != VCDC_SINK_OK && code == 404) {
                st->id[0] = '\0';
                return VCDC_SINK_OK;
        }
        return status;
}

static vcdc_sink_status_t chroma_get(vcdc_sink_t *sink, const char *const *ids,
                                     size_t cnt, vcdc_record_t *out,
                                     char *errstr, size_t errstr_size) {
        chroma_t *st = sink->state;
        vcdc_sink_status_t status;
        size_t i, n, found;
        char err[512];

        if ((status = refresh(sink, errstr, errstr_size)) != VCDC_SINK_OK)
                return status;
        for (i = 0; i < cnt && st->id[0]; i += n) {
                json_t *resp;
                char *body;
                n = get_limit(st, 1);
                if (n > cnt - i)
                        n = cnt - i;
                body = vcdc_chroma_get_body(ids + i, n, 0, 0,
                                            VCDC_CHROMA_INC_EMBEDDINGS |
                                                    VCDC_CHROMA_INC_METADATAS |
                                                    VCDC_CHROMA_INC_DOCUMENTS);
                status = get_call(sink, body, &resp, errstr, errstr_size);
                free(body);
                if (status != VCDC_SINK_OK)
                        return status;
                if (!resp)
                        break;
                if (vcdc_chroma_parse_get(resp, ids + i, n, out + i, &found,
                                          err, sizeof(err)) == -1) {
                        json_decref(resp);
                        return fail(sink, VCDC_SINK_RETRIABLE, errstr,
                                    errstr_size, "%s", err);
                }
                json_decref(resp);
        }
        return VCDC_SINK_OK;
}

static vcdc_sink_status_t chroma_scan(vcdc_sink_t *sink, char **cursorp,
                                      size_t max, int with_vectors,
                                      vcdc_record_t *out, size_t *cntp,
                                      char *errstr, size_t errstr_size) {
        chroma_t *st = sink->state;
        unsigned long long offset = 0;
        vcdc_sink_status_t status;
        json_t *resp = NULL;
        size_t limit, n = 0;
        char err[512], *body;

        *cntp = 0;
        if (*cursorp) {
                char *end;
                errno = 0;
                offset = strtoull(*cursorp, &end, 10);
                if (errno || end == *cursorp || *end || **cursorp == '-')
                        return fail(sink, VCDC_SINK_INVALID, errstr,
                                    errstr_size, "bad scan cursor \"%.32s\"",
                                    *cursorp);
        }
        if ((status = refresh(sink, errstr, errstr_size)) != VCDC_SINK_OK)
                return status;
        if (!st->id[0] || !max)
                goto done;
        limit = get_limit(st, with_vectors);
        if (limit > max)
                limit = max;
        body = vcdc_chroma_get_body(
                NULL, 0, limit, (size_t)offset,
                (with_vectors ? VCDC_CHROMA_INC_EMBEDDINGS : 0) |
                        VCDC_CHROMA_INC_METADATAS | VCDC_CHROMA_INC_DOCUMENTS);
        status = get_call(sink, body, &resp, errstr, errstr_size);
        free(body);
        if (status != VCDC_SINK_OK)
                return status;
        if (resp && vcdc_chroma_parse_get(resp, NULL, limit, out, &n, err,
                                          sizeof(err)) == -1) {
                json_decref(resp);
                return fail(sink, VCDC_SINK_RETRIABLE, errstr, errstr_size,
                            "%s", err);
        }
        json_decref(resp);
        *cntp = n;
        if (n == limit) {
                char next[32];
                snprintf(next, sizeof(next), "%llu", offset + n);
                free(*cursorp);
                if (!(*cursorp = strdup(next))) {
                        while (n-- > 0)
                                vcdc_record_clear(&out[n]);
                        *cntp = 0;
                        return fail(sink, VCDC_SINK_RETRIABLE, errstr,
                                    errstr_size, "out of memory");
                }
                return VCDC_SINK_OK;
        }
done:
        free(*cursorp);
        *cursorp = NULL;
        return VCDC_SINK_OK;
}

static vcdc_sink_status_t chroma_query(vcdc_sink_t *sink, const float *vector,
                                       size_t dim, size_t k, vcdc_hit_t *hits,
                                       size_t *cntp, char *errstr,
                                       size_t errstr_size) {
        chroma_t *st = sink->state;
        char path[CHROMA_PATH_SIZE], err[512], *body;
        vcdc_sink_status_t status;
        json_t *resp = NULL;
        long code = 0;
        size_t i;

        *cntp = 0;
        for (i = 0; i < dim; i++)
                if (!isfinite(vector[i]))
                        return fail(sink, VCDC_SINK_INVALID, errstr,
                                    errstr_size,
                                    "query vector[%zu] is not finite", i);
        if ((status = refresh(sink, errstr, errstr_size)) != VCDC_SINK_OK)
                return status;
        if (!st->id[0] || !k)
                return VCDC_SINK_OK;
        if (st->dim && dim != st->dim)
                return fail(sink, VCDC_SINK_INVALID, errstr, errstr_size,
                            "query vector of dimension %zu, the collection "
                            "has %zu",
                            dim, st->dim);
        if (coll_path(st, st->id, "query", path, sizeof(path)) == -1 ||
            !(body = vcdc_chroma_query_body(vector, dim, k)))
                return fail(sink, VCDC_SINK_RETRIABLE, errstr, errstr_size,
                            "out of memory or path too long");
        status = call(sink, "POST", path, body, &resp, &code, errstr,
                      errstr_size);
        free(body);
        if (status != VCDC_SINK_OK) {
                if (code != 404)
                        return status;
                st->id[0] = '\0';
                return VCDC_SINK_OK;
        }
        if (vcdc_chroma_parse_query(resp, hits, k, cntp, err, sizeof(err)) ==
            -1) {
                json_decref(resp);
                return fail(sink, VCDC_SINK_RETRIABLE, errstr, errstr_size,
                            "POST %s: %s", path, err);
        }
        json_decref(resp);
        return VCDC_SINK_OK;
}

static const char *chroma_target(vcdc_sink_t *sink) {
        return sink->url->path;
}

static size_t chroma_max_batch(vcdc_sink_t *sink) {
        return ((chroma_t *)sink->state)->max_batch;
}

static size_t chroma_dim(vcdc_sink_t *sink) {
        chroma_t *st = sink->state;

        return st->dim ? st->dim : sink->conf.dim;
}

static vcdc_sink_status_t chroma_check(vcdc_sink_t *sink,
                                       const vcdc_record_t *rec, char *errstr,
                                       size_t errstr_size) {
        size_t dim = chroma_dim(sink);
        char err[512];

        /* A delete's id goes into JSON: UTF-8. An empty one is a no-op
         * (no record has it), which apply() skips. */
        if (rec->op != VCDC_OP_UPSERT)
                return !rec->id || is_utf8(rec->id)
                               ? VCDC_SINK_OK
                               : fail(sink, VCDC_SINK_INVALID, errstr,
                                      errstr_size,
                                      "delete of id \"%s\": not UTF-8",
                                      escaped(err, sizeof(err), rec->id));
        if (vcdc_chroma_record_check(rec, sink->conf.metric, &dim, err,
                                     sizeof(err)) == -1)
                return fail(sink, VCDC_SINK_INVALID, errstr, errstr_size, "%s",
                            err);
        return VCDC_SINK_OK;
}

void vcdc_sink_chroma_set_base64(vcdc_sink_t *sink, int on) {
        chroma_t *st = sink->state;

        st->base64 = on && st->base64_ok;
}

static void state_destroy(chroma_t *st) {
        if (!st)
                return;
        vcdc_http_destroy(st->http);
        free(st->offsets_name);
        free(st->base);
        free(st);
}

static void chroma_close(vcdc_sink_t *sink) {
        chroma_t *st = sink->state;

        if (st && st->inexact)
                VCDC_WARN("chroma",
                          "%s: Chroma altered %" PRIu64 " metadata floats by "
                          "a few ulps",
                          sink->name, st->inexact);
        state_destroy(sink->state);
        sink->state = NULL;
}

/* Percent-encodes a path segment. */
static void put_segment(buf_t *b, const char *s) {
        static const char hex[] = "0123456789ABCDEF";

        for (; *s; s++) {
                unsigned char c = (unsigned char)*s;
                if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9') || c == '-' || c == '.' ||
                    c == '_' || c == '~') {
                        buf_put(b, (const char *)&c, 1);
                } else {
                        char e[3] = {'%', hex[c >> 4], hex[c & 15]};
                        buf_put(b, e, 3);
                }
        }
}

/* Sends the token header; the token never reaches a log or errstr. */
static int add_token(vcdc_sink_t *sink, chroma_t *st, char *errstr,
                     size_t errstr_size) {
        char err[512], *token;
        int failed, r = 0;
        buf_t h = {0};

        token = vcdc_sink_secret("VCDC_CHROMA_TOKEN", &failed, err,
                                 sizeof(err));
        if (failed) {
                fail(sink, VCDC_SINK_FATAL, errstr, errstr_size, "%s", err);
                return -1;
        }
        if (!token)
                return 0;
        if (strpbrk(token, "\r\n")) {
                fail(sink, VCDC_SINK_FATAL, errstr, errstr_size,
                     "VCDC_CHROMA_TOKEN holds a line break");
                r = -1;
        } else {
                buf_puts(&h, CHROMA_TOKEN_HEADER ": ");
                buf_puts(&h, token);
                if (h.oom || vcdc_http_add_header(st->http, h.p) == -1) {
                        fail(sink, VCDC_SINK_FATAL, errstr, errstr_size,
                             "out of memory");
                        r = -1;
                }
                st->token = 1;
        }
        if (h.p)
                memset(h.p, 0, h.size);
        memset(token, 0, strlen(token));
        buf_free(&h);
        free(token);
        return r;
}

/* pre-flight-checks: the batch limit and whether base64 embeddings go. */
static int preflight(vcdc_sink_t *sink, chroma_t *st, char *errstr,
                     size_t errstr_size) {
        static const char path[] = "/api/v2/pre-flight-checks";
        const json_t *mbs;
        json_t *resp = NULL;

        if (call(sink, "GET", path, NULL, &resp, NULL, errstr, errstr_size) !=
            VCDC_SINK_OK)
                return -1;
        mbs = json_object_get(resp, "max_batch_size");
        if (!json_is_integer(mbs) || json_integer_value(mbs) < 1) {
                json_decref(resp);
                fail(sink, VCDC_SINK_FATAL, errstr, errstr_size,
                     "GET %s: no max_batch_size in the answer", path);
                return -1;
        }
        st->max_batch = (size_t)json_integer_value(mbs);
        st->base64_ok = st->base64 = json_is_true(
                json_object_get(resp, "supports_base64_encoding"));
        json_decref(resp);
        return 0;
}

static int chroma_open(vcdc_sink_t *sink, char *errstr, size_t errstr_size) {
        static const char *const allowed[] = {"tenant", "database", "metric",
                                              NULL};
        const vcdc_url_t *url = sink->url;
        const char *tenant, *database;
        char err[512], base_url[512], id[CHROMA_ID_SIZE];
        chroma_t *st;
        buf_t b = {0};
        vcdc_metric_t metric;
        size_t dim;
        int found, offsets_found, n;

        if (vcdc_url_check_params(url, allowed, err, sizeof(err)) == -1) {
                fail(sink, VCDC_SINK_FATAL, errstr, errstr_size, "%s", err);
                return -1;
        }
        if (url->user) {
                fail(sink, VCDC_SINK_FATAL, errstr, errstr_size,
                     "chroma:// takes no user name; the token comes from "
                     "VCDC_CHROMA_TOKEN or VCDC_CHROMA_TOKEN_FILE");
                return -1;
        }
        if (!*url->path) {
                fail(sink, VCDC_SINK_FATAL, errstr, errstr_size,
                     "no collection: chroma://HOST:PORT/COLLECTION");
                return -1;
        }
        if (vcdc_chroma_name_check(url->path, err, sizeof(err)) == -1) {
                fail(sink, VCDC_SINK_FATAL, errstr, errstr_size, "%s", err);
                return -1;
        }
        if (strlen(url->path) + strlen(VCDC_CHROMA_OFFSETS_SUFFIX) >
            VCDC_CHROMA_NAME_MAX) {
                fail(sink, VCDC_SINK_FATAL, errstr, errstr_size,
                     "collection name too long for its offsets collection "
                     "(name%s, at most %d characters)",
                     VCDC_CHROMA_OFFSETS_SUFFIX, VCDC_CHROMA_NAME_MAX);
                return -1;
        }
        if (!(st = calloc(1, sizeof(*st)))) {
                fail(sink, VCDC_SINK_FATAL, errstr, errstr_size,
                     "out of memory");
                return -1;
        }
        sink->state = st;

        buf_puts(&b, url->path);
        buf_puts(&b, VCDC_CHROMA_OFFSETS_SUFFIX);
        st->offsets_name = buf_detach(&b, NULL);
        tenant = vcdc_url_param(url, "tenant");
        database = vcdc_url_param(url, "database");
        buf_puts(&b, "/api/v2/tenants/");
        put_segment(&b, tenant && *tenant ? tenant : "default_tenant");
        buf_puts(&b, "/databases/");
        put_segment(&b, database && *database ? database : "default_database");
        st->base = buf_detach(&b, NULL);
        if (!st->offsets_name || !st->base) {
                fail(sink, VCDC_SINK_FATAL, errstr, errstr_size,
                     "out of memory");
                goto err;
        }
        if (strlen(st->base) > CHROMA_BASE_MAX) {
                fail(sink, VCDC_SINK_FATAL, errstr, errstr_size,
                     "tenant and database names too long");
                goto err;
        }
        n = snprintf(base_url, sizeof(base_url), "http://%s:%d", url->host,
                     url->port ? url->port : CHROMA_DEFAULT_PORT);
        if (n < 0 || (size_t)n >= sizeof(base_url)) {
                fail(sink, VCDC_SINK_FATAL, errstr, errstr_size,
                     "host name too long");
                goto err;
        }
        if (!(st->http = vcdc_http_new(base_url, sink->conf.timeout_ms,
                                       VCDC_CHROMA_MAX_RESPONSE_BYTES, err,
                                       sizeof(err)))) {
                fail(sink, VCDC_SINK_FATAL, errstr, errstr_size, "%s", err);
                goto err;
        }
        if (add_token(sink, st, errstr, errstr_size) == -1 ||
            preflight(sink, st, errstr, errstr_size) == -1)
                goto err;
        /* The database must exist (this also proves the token). */
        if (call(sink, "GET", st->base, NULL, NULL, NULL, errstr,
                 errstr_size) != VCDC_SINK_OK)
                goto err;

        if (lookup(sink, url->path, id, &dim, &metric, &found, errstr,
                   errstr_size) != VCDC_SINK_OK)
                goto err;
        if (found &&
            adopt(sink, id, dim, metric, errstr, errstr_size) != VCDC_SINK_OK)
                goto err;
        if (lookup(sink, st->offsets_name, st->offsets_id, &dim, &metric,
                   &offsets_found, errstr, errstr_size) != VCDC_SINK_OK)
                goto err;
        VCDC_INFO("chroma",
                  "%s: %s, dimension %zu, max batch %zu, base64 %s",
                  sink->name, found ? "collection exists" : "no collection yet",
                  st->dim, st->max_batch, st->base64_ok ? "yes" : "no");
        return 0;

err:
        state_destroy(st);
        sink->state = NULL;
        return -1;
}

const struct vcdc_sink_ops vcdc_sink_chroma_ops = {
        .scheme = "chroma",
        .offsets_apart = 1,
        .open = chroma_open,
        .close = chroma_close,
        .target = chroma_target,
        .max_batch = chroma_max_batch,
        .dim = chroma_dim,
        .check = chroma_check,
        .apply = chroma_apply,
        .record_offsets = chroma_record_offsets,
        .read_offsets = chroma_read_offsets,
        .count = chroma_count,
        .get = chroma_get,
        .scan = chroma_scan,
        .query = chroma_query,
};
