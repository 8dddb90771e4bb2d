/*
 * vcdc - one change record from one JSON text (jsonrec.h).
 *
 * The checks run in the order they did when jansson parsed the line into a
 * tree first (so a line with several problems is refused for the same
 * one): any JSON error first, then the fields in the order collection,
 * id, op, source_ts_ms, and for an upsert vector, sparse, metadata,
 * document. The vector's numbers arrive converted by the scanner (a
 * top-level member's array of numbers); the rest is read from the spans.
 * It reads one line's record; it does not know files, lines or partitions.
 */
#include "jsonrec.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "decfloat.h"
#include "errstr.h"
#include "jsonspan.h"

#define KNOWN_FIELDS                                                           \
        "collection, id, op, vector, sparse, metadata, document, source_ts_ms"

typedef enum field_e {
        F_COLLECTION = 0,
        F_ID,
        F_OP,
        F_VECTOR,
        F_SPARSE,
        F_METADATA,
        F_DOCUMENT,
        F_SOURCE_TS_MS,
        F_CNT
} field_t;

/* Copies at most about 40 bytes of the UTF-8 string s (len bytes) into buf
 * for a message, cut on a character boundary, "..." marking a cut. */
static const char *excerpt(char *buf, size_t size, const char *s,
                           size_t len) {
        size_t n = len;

        if (n > 40 && size > 44) {
                n = 40;
                while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
                        n--;
                snprintf(buf, size, "%.*s...", (int)n, s);
        } else {
                snprintf(buf, size, "%.*s", (int)n, s);
        }
        vcdc_sanitize(buf);
        return buf;
}

/* A scanner error as the message jansson's used to give, with a word
 * about the usual causes (NaN, Infinity, huge numbers, bad UTF-8).
 * skipped: bytes dropped before line (a byte order mark). */
static void scan_error(const vcdc_json_error_t *jerr, const char *line,
                       size_t len, size_t skipped, char *errstr,
                       size_t errstr_size) {
        size_t pos = jerr->position, b, e;

        switch (jerr->code) {
        case VCDC_JSON_ERR_UTF8:
                vcdc_fail(errstr, errstr_size,
                     "invalid UTF-8 at byte %zu of the line (%s)",
                     pos + skipped + 1, jerr->text);
                break;
        case VCDC_JSON_ERR_NUMBER_RANGE:
                vcdc_fail(errstr, errstr_size,
                     "huge number at column %zu: %s (out of range)",
                     jerr->column, jerr->text);
                break;
        case VCDC_JSON_ERR_NUL_CHARACTER:
                vcdc_fail(errstr, errstr_size,
                     "string with \\u0000 at column %zu: NUL characters are "
                     "not allowed",
                     jerr->column);
                break;
        case VCDC_JSON_ERR_DUPLICATE_KEY:
                vcdc_fail(errstr, errstr_size, "duplicate field at column %zu: %s",
                     jerr->column, jerr->text);
                break;
        case VCDC_JSON_ERR_OUT_OF_MEMORY:
                vcdc_fail(errstr, errstr_size, "out of memory");
                break;
        case VCDC_JSON_ERR_SYNTAX:
                /* The word around the error: NaN, Infinity, -Infinity? */
                b = pos > len ? len : pos;
                while (b > 0 && isalpha((unsigned char)line[b - 1]))
                        b--;
                e = b;
                while (e < len && isalpha((unsigned char)line[e]))
                        e++;
                if ((e - b == 3 && !strncasecmp(line + b, "nan", 3)) ||
                    (e - b == 3 && !strncasecmp(line + b, "inf", 3)) ||
                    (e - b == 8 && !strncasecmp(line + b, "infinity", 8))) {
                        vcdc_fail(errstr, errstr_size,
                             "%.*s at column %zu is not a JSON number "
                             "(NaN and Infinity cannot be written in JSON, "
                             "and vectors must be finite)",
                             (int)(e - b), line + b, b + skipped + 1);
                        break;
                }
                /* fall through */
        default:
                vcdc_fail(errstr, errstr_size, "invalid JSON at column %zu: %s",
                     jerr->column, jerr->text);
                break;
        }
        vcdc_sanitize(errstr);
}

static field_t field_lookup(const char *key, size_t len) {
        static const struct {
                const char *name;
                size_t len;
        } names[F_CNT] = {
                [F_COLLECTION] = {"collection", 10},
                [F_ID] = {"id", 2},
                [F_OP] = {"op", 2},
                [F_VECTOR] = {"vector", 6},
                [F_SPARSE] = {"sparse", 6},
                [F_METADATA] = {"metadata", 8},
                [F_DOCUMENT] = {"document", 8},
                [F_SOURCE_TS_MS] = {"source_ts_ms", 12},
        };
        int i;

        for (i = 0; i < F_CNT; i++)
                if (len == names[i].len && !memcmp(key, names[i].name, len))
                        return (field_t)i;
        return F_CNT;
}

/* A string value, unescaped and NUL-terminated (no NUL inside: the
 * scanner refuses \u0000). NULL if out of memory. */
static char *string_dup(const vcdc_json_span_t *s, size_t *lenp) {
        char *d = malloc(s->len - 1);
        size_t n;

        if (!d)
                return NULL;
        n = vcdc_json_unescape(s, d);
        d[n] = '\0';
        if (lenp)
                *lenp = n;
        return d;
}

/* The float32 of a number span (its text, as strtof() reads it): 0, or
 * -1 with errstr naming what[idx] when it is no number or beyond float32.
 */
static int span_float(const vcdc_json_span_t *v, const char *what,
                      size_t idx, float *f, char *errstr,
                      size_t errstr_size) {
        if (v->type != VCDC_JSON_INTEGER && v->type != VCDC_JSON_REAL)
                return vcdc_fail(errstr, errstr_size,
                            "%s[%zu] must be a number, not %s", what, idx,
                            vcdc_json_type_name(v->type));
        vcdc_decfloat_parse(v->p, v->len, f);
        if (isinf(*f))
                return vcdc_fail(errstr, errstr_size,
                            "%s[%zu] is a huge number (%.9g does not fit in "
                            "float32)",
                            what, idx, vcdc_json_double(v));
        return 0;
}

static int parse_vector(const vcdc_json_span_t *jv,
                        const vcdc_jsonrec_opts_t *o, vcdc_record_t *rec,
                        char *errstr, size_t errstr_size) {
        size_t n = jv->count, i, k;
        vcdc_json_iter_t it;
        vcdc_json_span_t el;
        float f;

        if (jv->type != VCDC_JSON_ARRAY)
                return vcdc_fail(errstr, errstr_size,
                            "\"vector\" must be an array of numbers, not %s",
                            vcdc_json_type_name(jv->type));
        if (n == 0)
                return vcdc_fail(errstr, errstr_size, "\"vector\" is empty");
        if (n > o->max_dim)
                return vcdc_fail(errstr, errstr_size,
                            "vector has %zu dimensions, more than the "
                            "maximum %zu",
                            n, o->max_dim);
        if (o->dim && n != o->dim) {
                if (o->dim_required)
                        return vcdc_fail(errstr, errstr_size,
                                    "vector has %zu dimensions, expected %zu "
                                    "(the required dimension)",
                                    n, o->dim);
                if (o->dim_line)
                        return vcdc_fail(errstr, errstr_size,
                                    "vector has %zu dimensions, expected %zu "
                                    "(from line %zu)",
                                    n, o->dim, o->dim_line);
                return vcdc_fail(errstr, errstr_size,
                            "vector has %zu dimensions, expected %zu", n,
                            o->dim);
        }
        if (!(rec->vector = malloc(n * sizeof(*rec->vector))))
                return vcdc_fail(errstr, errstr_size, "out of memory");
        if (jv->floats) {
                memcpy(rec->vector, jv->floats, n * sizeof(*rec->vector));
                for (i = 0; i < n && !isinf(rec->vector[i]); i++)
                        ;
        } else if (vcdc_json_floats(jv, rec->vector, n, &i) == 0) {
                i = n;
        }
        if (i < n) {
                /* element i is the first that is no float32: say why */
                vcdc_json_iter_init(&it, jv);
                for (k = 0; vcdc_json_iter_next(&it, NULL, &el) && k < i; k++)
                        ;
                return span_float(&el, "vector", i, &f, errstr,
                                  errstr_size);
        }
        rec->dim = n;
        return 0;
}

/* The number of elements of an array span from an iterator (no count). */
static size_t array_count(const vcdc_json_span_t *a) {
        vcdc_json_iter_t it;
        vcdc_json_span_t el;
        size_t n = 0;

        vcdc_json_iter_init(&it, a);
        while (vcdc_json_iter_next(&it, NULL, &el))
                n++;
        return n;
}

static int parse_sparse(const vcdc_json_span_t *js, vcdc_record_t *rec,
                        char *errstr, size_t errstr_size) {
        vcdc_json_span_t ji = {0}, jvals = {0}, key, v;
        vcdc_json_iter_t it, iti, itv;
        int has_i = 0, has_v = 0;
        long long prev = -1;
        size_t n, nv, i;
        char buf[64];

        if (js->type != VCDC_JSON_OBJECT)
                return vcdc_fail(errstr, errstr_size,
                            "\"sparse\" must be an object {\"indices\": [...], "
                            "\"values\": [...]}, not %s",
                            vcdc_json_type_name(js->type));
        vcdc_json_iter_init(&it, js);
        while (vcdc_json_iter_next(&it, &key, &v)) {
                size_t klen;
                char *name = string_dup(&key, &klen);

                if (!name)
                        return vcdc_fail(errstr, errstr_size, "out of memory");
                if (!strcmp(name, "indices")) {
                        ji = v;
                        has_i = 1;
                } else if (!strcmp(name, "values")) {
                        jvals = v;
                        has_v = 1;
                } else {
                        vcdc_fail(errstr, errstr_size,
                             "unknown field \"sparse.%s\" (known fields: "
                             "indices, values)",
                             excerpt(buf, sizeof(buf), name, klen));
                        free(name);
                        return -1;
                }
                free(name);
        }
        if (!has_i)
                return vcdc_fail(errstr, errstr_size,
                            "\"sparse.indices\" is missing");
        if (!has_v)
                return vcdc_fail(errstr, errstr_size,
                            "\"sparse.values\" is missing");
        if (ji.type != VCDC_JSON_ARRAY)
                return vcdc_fail(errstr, errstr_size,
                            "\"sparse.indices\" must be an array of "
                            "integers, not %s",
                            vcdc_json_type_name(ji.type));
        if (jvals.type != VCDC_JSON_ARRAY)
                return vcdc_fail(errstr, errstr_size,
                            "\"sparse.values\" must be an array of numbers, "
                            "not %s",
                            vcdc_json_type_name(jvals.type));
        n = array_count(&ji);
        if ((nv = array_count(&jvals)) != n)
                return vcdc_fail(errstr, errstr_size,
                            "\"sparse.indices\" has %zu entries but "
                            "\"sparse.values\" has %zu",
                            n, nv);
        rec->has_sparse = 1;
        if (n == 0)
                return 0;
        rec->sparse_indices = malloc(n * sizeof(*rec->sparse_indices));
        rec->sparse_values = malloc(n * sizeof(*rec->sparse_values));
        if (!rec->sparse_indices || !rec->sparse_values)
                return vcdc_fail(errstr, errstr_size, "out of memory");
        vcdc_json_iter_init(&iti, &ji);
        vcdc_json_iter_init(&itv, &jvals);
        for (i = 0; i < n; i++) {
                long long x;

                vcdc_json_iter_next(&iti, NULL, &v);
                if (v.type != VCDC_JSON_INTEGER)
                        return vcdc_fail(errstr, errstr_size,
                                    "sparse.indices[%zu] must be an integer, "
                                    "not %s",
                                    i, vcdc_json_type_name(v.type));
                x = vcdc_json_integer(&v);
                if (x < 0 || x > (long long)UINT32_MAX)
                        return vcdc_fail(errstr, errstr_size,
                                    "sparse.indices[%zu] is %lld, out of "
                                    "range (0 to 4294967295)",
                                    i, x);
                if (x <= prev)
                        return vcdc_fail(errstr, errstr_size,
                                    "sparse.indices[%zu] is %lld, not above "
                                    "the previous index %lld (indices must "
                                    "be strictly ascending)",
                                    i, x, prev);
                prev = x;
                rec->sparse_indices[i] = (uint32_t)x;
                vcdc_json_iter_next(&itv, NULL, &v);
                if (span_float(&v, "sparse.values", i, &rec->sparse_values[i],
                               errstr, errstr_size))
                        return -1;
        }
        rec->sparse_nnz = n;
        return 0;
}

static int parse_metadata(const vcdc_json_span_t *jm,
                          const vcdc_jsonrec_opts_t *o, vcdc_record_t *rec,
                          char *errstr, size_t errstr_size) {
        size_t len;

        if (jm->type == VCDC_JSON_NULL)
                return 0;
        if (jm->type != VCDC_JSON_OBJECT)
                return vcdc_fail(errstr, errstr_size,
                            "\"metadata\" must be an object or null, not %s",
                            vcdc_json_type_name(jm->type));
        if (jm->depth > o->max_depth)
                return vcdc_fail(errstr, errstr_size,
                            "\"metadata\" nests deeper than %d levels",
                            o->max_depth);
        /* Measure first, so that an over-long one is never allocated. */
        len = vcdc_json_compact(jm, NULL, 0);
        if (len > o->max_metadata)
                return vcdc_fail(errstr, errstr_size,
                            "\"metadata\" is %zu bytes as compact JSON, more "
                            "than the maximum %zu",
                            len, o->max_metadata);
        if (!(rec->metadata = malloc(len + 1)))
                return vcdc_fail(errstr, errstr_size, "out of memory");
        vcdc_json_compact(jm, rec->metadata, len);
        rec->metadata[len] = '\0';
        return 0;
}

static int parse_fields(const vcdc_json_span_t *f[F_CNT],
                        const vcdc_jsonrec_opts_t *o, vcdc_record_t *rec,
                        char *errstr, size_t errstr_size) {
        char buf[64];
        size_t len;

        /* collection */
        if (f[F_COLLECTION]) {
                if (f[F_COLLECTION]->type != VCDC_JSON_STRING)
                        return vcdc_fail(errstr, errstr_size,
                                    "\"collection\" must be a string, not %s",
                                    vcdc_json_type_name(
                                            f[F_COLLECTION]->type));
                if (!(rec->collection = string_dup(f[F_COLLECTION], &len)))
                        return vcdc_fail(errstr, errstr_size, "out of memory");
                if (len == 0)
                        return vcdc_fail(errstr, errstr_size,
                                    "\"collection\" is empty");
                if (len > VCDC_COLLECTION_MAX_BYTES)
                        return vcdc_fail(errstr, errstr_size,
                                    "\"collection\" is %zu bytes, more than "
                                    "the maximum %d",
                                    len, VCDC_COLLECTION_MAX_BYTES);
        } else if (o->collection && *o->collection) {
                if (!(rec->collection = strdup(o->collection)))
                        return vcdc_fail(errstr, errstr_size, "out of memory");
        } else {
                return vcdc_fail(errstr, errstr_size,
                            "\"collection\" is missing and there is no "
                            "default collection");
        }

        /* id */
        if (!f[F_ID]) {
                return vcdc_fail(errstr, errstr_size, "\"id\" is missing");
        } else if (f[F_ID]->type == VCDC_JSON_STRING) {
                if (!(rec->id = string_dup(f[F_ID], &len)))
                        return vcdc_fail(errstr, errstr_size, "out of memory");
                if (len == 0)
                        return vcdc_fail(errstr, errstr_size, "\"id\" is empty");
                if (len > VCDC_ID_MAX_BYTES)
                        return vcdc_fail(errstr, errstr_size,
                                    "\"id\" is %zu bytes, more than the "
                                    "maximum %d",
                                    len, VCDC_ID_MAX_BYTES);
        } else if (f[F_ID]->type == VCDC_JSON_INTEGER) {
                char num[32];

                snprintf(num, sizeof(num), "%lld",
                         vcdc_json_integer(f[F_ID]));
                if (!(rec->id = strdup(num)))
                        return vcdc_fail(errstr, errstr_size, "out of memory");
        } else {
                return vcdc_fail(errstr, errstr_size,
                            "\"id\" must be a string or an integer, not %s",
                            vcdc_json_type_name(f[F_ID]->type));
        }

        /* op */
        rec->op = VCDC_OP_UPSERT;
        if (f[F_OP]) {
                char *op;

                if (f[F_OP]->type != VCDC_JSON_STRING)
                        return vcdc_fail(errstr, errstr_size,
                                    "\"op\" must be a string, \"upsert\" or "
                                    "\"delete\", not %s",
                                    vcdc_json_type_name(f[F_OP]->type));
                if (!(op = string_dup(f[F_OP], &len)))
                        return vcdc_fail(errstr, errstr_size, "out of memory");
                if (!strcasecmp(op, "delete")) {
                        rec->op = VCDC_OP_DELETE;
                } else if (strcasecmp(op, "upsert")) {
                        vcdc_fail(errstr, errstr_size,
                             "\"op\" must be \"upsert\" or \"delete\", not "
                             "\"%s\"",
                             excerpt(buf, sizeof(buf), op, len));
                        free(op);
                        return -1;
                }
                free(op);
        }

        /* source_ts_ms */
        if (f[F_SOURCE_TS_MS] && f[F_SOURCE_TS_MS]->type != VCDC_JSON_NULL) {
                long long ts;

                if (f[F_SOURCE_TS_MS]->type != VCDC_JSON_INTEGER)
                        return vcdc_fail(errstr, errstr_size,
                                    "\"source_ts_ms\" must be an integer, "
                                    "not %s",
                                    vcdc_json_type_name(
                                            f[F_SOURCE_TS_MS]->type));
                ts = vcdc_json_integer(f[F_SOURCE_TS_MS]);
                if (ts < 0)
                        return vcdc_fail(errstr, errstr_size,
                                    "\"source_ts_ms\" is negative (%lld)",
                                    ts);
                rec->source_ts_ms = (int64_t)ts;
        }

        if (rec->op == VCDC_OP_DELETE)
                return 0; /* the payload of a delete is ignored */

        /* vector */
        if (!f[F_VECTOR])
                return vcdc_fail(errstr, errstr_size,
                            "\"vector\" is missing (an upsert needs one)");
        if (parse_vector(f[F_VECTOR], o, rec, errstr, errstr_size))
                return -1;

        /* sparse */
        if (f[F_SPARSE] && f[F_SPARSE]->type != VCDC_JSON_NULL &&
            parse_sparse(f[F_SPARSE], rec, errstr, errstr_size))
                return -1;

        /* metadata */
        if (f[F_METADATA] &&
            parse_metadata(f[F_METADATA], o, rec, errstr, errstr_size))
                return -1;

        /* document */
        if (f[F_DOCUMENT] && f[F_DOCUMENT]->type != VCDC_JSON_NULL) {
                if (f[F_DOCUMENT]->type != VCDC_JSON_STRING)
                        return vcdc_fail(errstr, errstr_size,
                                    "\"document\" must be a string or null, "
                                    "not %s",
                                    vcdc_json_type_name(f[F_DOCUMENT]->type));
                if (!(rec->document = string_dup(f[F_DOCUMENT], &len)))
                        return vcdc_fail(errstr, errstr_size, "out of memory");
                if (len > o->max_document)
                        return vcdc_fail(errstr, errstr_size,
                                    "\"document\" is %zu bytes, more than the "
                                    "maximum %zu",
                                    len, o->max_document);
        }
        return 0;
}

int vcdc_jsonrec_parse(vcdc_jsonscan_t *js, const char *text, size_t len,
                       size_t skipped, const vcdc_jsonrec_opts_t *opts,
                       vcdc_record_t *rec, char *errstr, size_t errstr_size) {
        const vcdc_json_span_t *f[F_CNT] = {0};
        const vcdc_json_member_t *m;
        vcdc_json_error_t jerr;
        vcdc_json_span_t root;
        const char *nul;
        char buf[64];
        size_t nm, i;

        if ((nul = memchr(text, '\0', len)))
                return vcdc_fail(errstr, errstr_size, "NUL byte at column %zu",
                            (size_t)(nul - text) + skipped + 1);
        if (vcdc_jsonscan_run(js, text, len, &root, &jerr)) {
                scan_error(&jerr, text, len, skipped, errstr, errstr_size);
                return -1;
        }
        if (root.type != VCDC_JSON_OBJECT)
                return vcdc_fail(errstr, errstr_size,
                            "the line is %s, expected a JSON object",
                            vcdc_json_type_name(root.type));
        nm = vcdc_jsonscan_members(js, &m);
        for (i = 0; i < nm; i++) {
                field_t fi = field_lookup(m[i].key, m[i].key_len);

                if (fi == F_CNT) {
                        vcdc_fail(errstr, errstr_size,
                             "unknown field \"%s\" (known fields: "
                             KNOWN_FIELDS ")",
                             excerpt(buf, sizeof(buf), m[i].key,
                                     m[i].key_len));
                        vcdc_sanitize(errstr);
                        return -1;
                }
                f[fi] = &m[i].value;
        }
        if (parse_fields(f, opts, rec, errstr, errstr_size)) {
                vcdc_record_clear(rec);
                vcdc_sanitize(errstr);
                return -1;
        }
        return 0;
}
