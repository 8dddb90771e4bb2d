/*
 * vcdc - the reference the JSON fast path is checked against: the parser
 * producer/input.c had before issue 20 (jansson's json_loadb() into a tree,
 * then the fields read from it), with one change: each number of a vector
 * or sparse.values is converted by strtof() of its text rather than by a
 * double, which is what the fast path promises. The text of each number is
 * found by a small splitter of its own (jansson keeps no number text).
 *
 * For the tests and the fuzzer only; must not be linked into the programs.
 */
#include "jsonref.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

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

typedef struct parse_ctx_s {
        const vcdc_jsonrec_opts_t *opts;
        size_t dim;      /* required dimension, 0: any */
        size_t dim_line; /* where dim came from, 0: unknown */
        int dim_from_opts;
} parse_ctx_t;


/*
 * The splitter: the texts of a container's values in a valid JSON text
 */

typedef struct span_s {
        const char *p;
        size_t len;
} span_t;

static const char *ws(const char *p, const char *end) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
                p++;
        return p;
}

static const char *str_end(const char *p) {
        for (p++; *p != '"'; p++)
                if (*p == '\\')
                        p++;
        return p + 1;
}

static const char *value_end(const char *p, const char *end) {
        int depth = 0;

        do {
                if (*p == '"') {
                        p = str_end(p);
                        continue;
                }
                if (*p == '[' || *p == '{')
                        depth++;
                else if (*p == ']' || *p == '}')
                        depth--;
                else if (!depth)
                        while (p + 1 < end && !strchr(",]} \t\r\n", p[1]))
                                p++;
                p++;
        } while (depth > 0);
        return p;
}

/* The values (after their keys, for an object) of the container c, at
 * most max of them. Returns how many there are. */
static size_t split(const span_t *c, span_t *out, size_t max) {
        const char *p = c->p + 1, *end = c->p + c->len - 1;
        size_t n = 0;

        for (;;) {
                const char *e;

                p = ws(p, end);
                if (p >= end)
                        return n;
                if (*p == ',')
                        p = ws(p + 1, end);
                if (*c->p == '{') {
                        p = ws(str_end(p), end);
                        p = ws(p + 1, end); /* the colon */
                }
                e = value_end(p, end);
                if (n < max) {
                        out[n].p = p;
                        out[n].len = (size_t)(e - p);
                }
                n++;
                p = e;
        }
}


/*
 * Messages
 */

static int fail(char *errstr, size_t errstr_size, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* Writes the message and returns -1. */
static int fail(char *errstr, size_t errstr_size, const char *fmt, ...) {
        va_list ap;

        if (!errstr_size)
                return -1;
        va_start(ap, fmt);
        vsnprintf(errstr, errstr_size, fmt, ap);
        va_end(ap);
        return -1;
}

/* Replaces control bytes so that input quoted in a message cannot drive a
 * terminal or split a log line. */
static void sanitize(char *s) {
        for (; *s; s++)
                if ((unsigned char)*s < 0x20 || *s == 0x7f)
                        *s = '?';
}

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
        sanitize(buf);
        return buf;
}

static const char *type_name(const json_t *j) {
        switch (json_typeof(j)) {
        case JSON_OBJECT:
                return "an object";
        case JSON_ARRAY:
                return "an array";
        case JSON_STRING:
                return "a string";
        case JSON_INTEGER:
                return "an integer";
        case JSON_REAL:
                return "a real number";
        case JSON_TRUE:
                return "true";
        case JSON_FALSE:
                return "false";
        case JSON_NULL:
                return "null";
        }
        return "an unknown type";
}

/* Turns a jansson load error into a message, with a word about the usual
 * causes (NaN, Infinity, huge numbers, bad UTF-8). skipped: bytes dropped
 * before line (a byte order mark), so positions match the file. */
static void load_error(const json_error_t *jerr, const char *line, size_t len,
                       size_t skipped, char *errstr, size_t errstr_size) {
        size_t pos = jerr->position < 0 ? 0 : (size_t)jerr->position;
        size_t b, e;

        switch (json_error_code(jerr)) {
        case json_error_invalid_utf8:
                fail(errstr, errstr_size,
                     "invalid UTF-8 at byte %zu of the line (%s)",
                     pos + skipped + 1, jerr->text);
                break;
        case json_error_numeric_overflow:
                fail(errstr, errstr_size,
                     "huge number at column %d: %s (out of range)",
                     jerr->column, jerr->text);
                break;
        case json_error_null_character:
                fail(errstr, errstr_size,
                     "string with \\u0000 at column %d: NUL characters are "
                     "not allowed",
                     jerr->column);
                break;
        case json_error_duplicate_key:
                fail(errstr, errstr_size, "duplicate field at column %d: %s",
                     jerr->column, jerr->text);
                break;
        case json_error_invalid_syntax:
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
                        fail(errstr, errstr_size,
                             "%.*s at column %zu is not a JSON number "
                             "(NaN and Infinity cannot be written in JSON, "
                             "and vectors must be finite)",
                             (int)(e - b), line + b, b + skipped + 1);
                        break;
                }
                /* fall through */
        default:
                fail(errstr, errstr_size, "invalid JSON at column %d: %s",
                     jerr->column, jerr->text);
                break;
        }
        sanitize(errstr);
}


static field_t field_lookup(const char *key) {
        switch (key[0]) {
        case 'c':
                if (!strcmp(key, "collection"))
                        return F_COLLECTION;
                break;
        case 'd':
                if (!strcmp(key, "document"))
                        return F_DOCUMENT;
                break;
        case 'i':
                if (!strcmp(key, "id"))
                        return F_ID;
                break;
        case 'm':
                if (!strcmp(key, "metadata"))
                        return F_METADATA;
                break;
        case 'o':
                if (!strcmp(key, "op"))
                        return F_OP;
                break;
        case 's':
                if (!strcmp(key, "sparse"))
                        return F_SPARSE;
                if (!strcmp(key, "source_ts_ms"))
                        return F_SOURCE_TS_MS;
                break;
        case 'v':
                if (!strcmp(key, "vector"))
                        return F_VECTOR;
                break;
        }
        return F_CNT;
}

static char *dup_mem_str(const char *s, size_t len) {
        char *d = malloc(len + 1);

        if (!d)
                return NULL;
        memcpy(d, s, len);
        d[len] = '\0';
        return d;
}

/* Converts a JSON number to float32: strtof() of its text t (the only
 * change from the parser this reference was). Returns 0, or -1 with errstr
 * naming what (e.g. "vector[3]"). */
static int number_to_float(const json_t *j, const span_t *t, const char *what,
                           size_t idx, float *f, char *errstr,
                           size_t errstr_size) {
        char buf[4096], *num = buf;
        int r = 0;

        if (!json_is_real(j) && !json_is_integer(j))
                return fail(errstr, errstr_size,
                            "%s[%zu] must be a number, not %s", what, idx,
                            type_name(j));
        if (t->len >= sizeof(buf) && !(num = malloc(t->len + 1)))
                return fail(errstr, errstr_size, "out of memory");
        memcpy(num, t->p, t->len);
        num[t->len] = '\0';
        *f = strtof(num, NULL);
        if (isinf(*f))
                r = fail(errstr, errstr_size,
                         "%s[%zu] is a huge number (%.9g does not fit in "
                         "float32)",
                         what, idx, strtod(num, NULL));
        if (num != buf)
                free(num);
        return r;
}

static int parse_vector(const json_t *jv, const span_t *text,
                        const parse_ctx_t *ctx, vcdc_record_t *rec,
                        char *errstr, size_t errstr_size) {
        size_t n, i;
        span_t *el;
        int r = 0;

        if (!json_is_array(jv))
                return fail(errstr, errstr_size,
                            "\"vector\" must be an array of numbers, not %s",
                            type_name(jv));
        n = json_array_size(jv);
        if (n == 0)
                return fail(errstr, errstr_size, "\"vector\" is empty");
        if (n > ctx->opts->max_dim)
                return fail(errstr, errstr_size,
                            "vector has %zu dimensions, more than the "
                            "maximum %zu",
                            n, ctx->opts->max_dim);
        if (ctx->dim && n != ctx->dim) {
                if (ctx->dim_from_opts)
                        return fail(errstr, errstr_size,
                                    "vector has %zu dimensions, expected %zu "
                                    "(the required dimension)",
                                    n, ctx->dim);
                if (ctx->dim_line)
                        return fail(errstr, errstr_size,
                                    "vector has %zu dimensions, expected %zu "
                                    "(from line %zu)",
                                    n, ctx->dim, ctx->dim_line);
                return fail(errstr, errstr_size,
                            "vector has %zu dimensions, expected %zu", n,
                            ctx->dim);
        }
        if (!(rec->vector = malloc(n * sizeof(*rec->vector))))
                return fail(errstr, errstr_size, "out of memory");
        if (!(el = malloc(n * sizeof(*el))))
                return fail(errstr, errstr_size, "out of memory");
        if (split(text, el, n) != n)
                abort(); /* jansson and the splitter disagree */
        for (i = 0; i < n && !r; i++)
                r = number_to_float(json_array_get(jv, i), &el[i], "vector", i,
                                    &rec->vector[i], errstr, errstr_size);
        free(el);
        if (r)
                return -1;
        rec->dim = n;
        return 0;
}

static int parse_sparse(const json_t *js, const span_t *text,
                        vcdc_record_t *rec, char *errstr,
                        size_t errstr_size) {
        const json_t *ji = NULL, *jvals = NULL, *v;
        const char *key;
        json_int_t prev = -1;
        size_t n, i, k = 0, vals_at = 0;
        span_t *el = NULL, mem[2];
        char buf[64];
        int r = 0;

        if (!json_is_object(js))
                return fail(errstr, errstr_size,
                            "\"sparse\" must be an object {\"indices\": [...], "
                            "\"values\": [...]}, not %s",
                            type_name(js));
        json_object_foreach((json_t *)js, key, v) {
                if (!strcmp(key, "indices"))
                        ji = v;
                else if (!strcmp(key, "values"))
                        jvals = v, vals_at = k;
                else
                        return fail(errstr, errstr_size,
                                    "unknown field \"sparse.%s\" (known "
                                    "fields: indices, values)",
                                    excerpt(buf, sizeof(buf), key,
                                            strlen(key)));
                k++;
        }
        if (!ji)
                return fail(errstr, errstr_size,
                            "\"sparse.indices\" is missing");
        if (!jvals)
                return fail(errstr, errstr_size,
                            "\"sparse.values\" is missing");
        if (!json_is_array(ji))
                return fail(errstr, errstr_size,
                            "\"sparse.indices\" must be an array of "
                            "integers, not %s",
                            type_name(ji));
        if (!json_is_array(jvals))
                return fail(errstr, errstr_size,
                            "\"sparse.values\" must be an array of numbers, "
                            "not %s",
                            type_name(jvals));
        n = json_array_size(ji);
        if (json_array_size(jvals) != n)
                return fail(errstr, errstr_size,
                            "\"sparse.indices\" has %zu entries but "
                            "\"sparse.values\" has %zu",
                            n, json_array_size(jvals));
        rec->has_sparse = 1;
        if (n == 0)
                return 0;
        rec->sparse_indices = malloc(n * sizeof(*rec->sparse_indices));
        rec->sparse_values = malloc(n * sizeof(*rec->sparse_values));
        if (!rec->sparse_indices || !rec->sparse_values ||
            !(el = malloc(n * sizeof(*el))))
                return fail(errstr, errstr_size, "out of memory");
        /* the text of "values" (the object has just the two members) */
        if (split(text, mem, 2) != 2 || split(&mem[vals_at], el, n) != n)
                abort();
        for (i = 0; i < n && !r; i++) {
                const json_t *jx = json_array_get(ji, i);
                json_int_t x;

                if (!json_is_integer(jx)) {
                        free(el);
                        return fail(errstr, errstr_size,
                                    "sparse.indices[%zu] must be an integer, "
                                    "not %s",
                                    i, type_name(jx));
                }
                x = json_integer_value(jx);
                if (x < 0 || x > (json_int_t)UINT32_MAX) {
                        free(el);
                        return fail(errstr, errstr_size,
                                    "sparse.indices[%zu] is %"
                                    JSON_INTEGER_FORMAT
                                    ", out of range (0 to 4294967295)",
                                    i, x);
                }
                if (x <= prev) {
                        free(el);
                        return fail(errstr, errstr_size,
                                    "sparse.indices[%zu] is %"
                                    JSON_INTEGER_FORMAT
                                    ", not above the previous index %"
                                    JSON_INTEGER_FORMAT
                                    " (indices must be strictly ascending)",
                                    i, x, prev);
                }
                prev = x;
                rec->sparse_indices[i] = (uint32_t)x;
                r = number_to_float(json_array_get(jvals, i), &el[i],
                                    "sparse.values", i,
                                    &rec->sparse_values[i], errstr,
                                    errstr_size);
        }
        free(el);
        if (r)
                return -1;
        rec->sparse_nnz = n;
        return 0;
}

/* Returns 1 if j nests deeper than depth_left levels (a scalar is level 0,
 * a container one more than its deepest member). */
static int nests_deeper(const json_t *j, int depth_left) {
        const char *key;
        json_t *v;
        size_t i;

        if (!json_is_object(j) && !json_is_array(j))
                return 0;
        if (depth_left <= 0)
                return 1;
        if (json_is_object(j)) {
                json_object_foreach((json_t *)j, key, v)
                        if (nests_deeper(v, depth_left - 1))
                                return 1;
        } else {
                json_array_foreach(j, i, v)
                        if (nests_deeper(v, depth_left - 1))
                                return 1;
        }
        return 0;
}

static int parse_metadata(const json_t *jm, const parse_ctx_t *ctx,
                          vcdc_record_t *rec, char *errstr,
                          size_t errstr_size) {
        size_t len;

        if (json_is_null(jm))
                return 0;
        if (!json_is_object(jm))
                return fail(errstr, errstr_size,
                            "\"metadata\" must be an object or null, not %s",
                            type_name(jm));
        if (nests_deeper(jm, ctx->opts->max_depth))
                return fail(errstr, errstr_size,
                            "\"metadata\" nests deeper than %d levels",
                            ctx->opts->max_depth);
        /* Measure first, so that an over-long one is never allocated. */
        len = json_dumpb(jm, NULL, 0, JSON_COMPACT);
        if (len == 0)
                return fail(errstr, errstr_size,
                            "\"metadata\" cannot be serialized");
        if (len > ctx->opts->max_metadata)
                return fail(errstr, errstr_size,
                            "\"metadata\" is %zu bytes as compact JSON, more "
                            "than the maximum %zu",
                            len, ctx->opts->max_metadata);
        if (!(rec->metadata = malloc(len + 1)))
                return fail(errstr, errstr_size, "out of memory");
        if (json_dumpb(jm, rec->metadata, len, JSON_COMPACT) != len)
                return fail(errstr, errstr_size,
                            "\"metadata\" cannot be serialized");
        rec->metadata[len] = '\0';
        return 0;
}

static int parse_object(const json_t *root, const span_t *text,
                        const parse_ctx_t *ctx, vcdc_record_t *rec,
                        char *errstr, size_t errstr_size) {
        const vcdc_jsonrec_opts_t *opts = ctx->opts;
        const json_t *f[F_CNT] = {0};
        span_t t[F_CNT], *members = NULL;
        const char *key;
        json_t *v;
        char buf[64];
        size_t k = 0, n;

        if (!json_is_object(root))
                return fail(errstr, errstr_size,
                            "the line is %s, expected a JSON object",
                            type_name(root));

        /* the members' texts, in the order jansson keeps them */
        n = json_object_size(root);
        if (n && !(members = malloc(n * sizeof(*members))))
                return fail(errstr, errstr_size, "out of memory");
        if (split(text, members, n) != n)
                abort();
        json_object_foreach((json_t *)root, key, v) {
                field_t fi = field_lookup(key);

                if (fi == F_CNT) {
                        free(members);
                        return fail(errstr, errstr_size,
                                    "unknown field \"%s\" (known fields: "
                                    KNOWN_FIELDS ")",
                                    excerpt(buf, sizeof(buf), key,
                                            strlen(key)));
                }
                f[fi] = v;
                t[fi] = members[k++];
        }
        free(members);

        /* collection */
        if (f[F_COLLECTION]) {
                const json_t *jc = f[F_COLLECTION];
                size_t len;

                if (!json_is_string(jc))
                        return fail(errstr, errstr_size,
                                    "\"collection\" must be a string, not %s",
                                    type_name(jc));
                len = json_string_length(jc);
                if (len == 0)
                        return fail(errstr, errstr_size,
                                    "\"collection\" is empty");
                if (len > VCDC_COLLECTION_MAX_BYTES)
                        return fail(errstr, errstr_size,
                                    "\"collection\" is %zu bytes, more than "
                                    "the maximum %d",
                                    len, VCDC_COLLECTION_MAX_BYTES);
                rec->collection = dup_mem_str(json_string_value(jc), len);
        } else if (opts->collection && *opts->collection) {
                /* its length was checked by opts_resolve() */
                rec->collection = strdup(opts->collection);
        } else {
                return fail(errstr, errstr_size,
                            "\"collection\" is missing and there is no "
                            "default collection");
        }
        if (!rec->collection)
                return fail(errstr, errstr_size, "out of memory");

        /* id */
        if (!f[F_ID]) {
                return fail(errstr, errstr_size, "\"id\" is missing");
        } else if (json_is_string(f[F_ID])) {
                size_t len = json_string_length(f[F_ID]);

                if (len == 0)
                        return fail(errstr, errstr_size, "\"id\" is empty");
                if (len > VCDC_ID_MAX_BYTES)
                        return fail(errstr, errstr_size,
                                    "\"id\" is %zu bytes, more than the "
                                    "maximum %d",
                                    len, VCDC_ID_MAX_BYTES);
                rec->id = dup_mem_str(json_string_value(f[F_ID]), len);
        } else if (json_is_integer(f[F_ID])) {
                char num[32];
                int len = snprintf(num, sizeof(num),
                                   "%" JSON_INTEGER_FORMAT,
                                   json_integer_value(f[F_ID]));

                rec->id = dup_mem_str(num, (size_t)len);
        } else {
                return fail(errstr, errstr_size,
                            "\"id\" must be a string or an integer, not %s",
                            type_name(f[F_ID]));
        }
        if (!rec->id)
                return fail(errstr, errstr_size, "out of memory");

        /* op */
        rec->op = VCDC_OP_UPSERT;
        if (f[F_OP]) {
                const char *op;

                if (!json_is_string(f[F_OP]))
                        return fail(errstr, errstr_size,
                                    "\"op\" must be a string, \"upsert\" or "
                                    "\"delete\", not %s",
                                    type_name(f[F_OP]));
                op = json_string_value(f[F_OP]);
                if (!strcasecmp(op, "delete"))
                        rec->op = VCDC_OP_DELETE;
                else if (strcasecmp(op, "upsert"))
                        return fail(errstr, errstr_size,
                                    "\"op\" must be \"upsert\" or \"delete\", "
                                    "not \"%s\"",
                                    excerpt(buf, sizeof(buf), op,
                                            json_string_length(f[F_OP])));
        }

        /* source_ts_ms */
        if (f[F_SOURCE_TS_MS] && !json_is_null(f[F_SOURCE_TS_MS])) {
                json_int_t ts;

                if (!json_is_integer(f[F_SOURCE_TS_MS]))
                        return fail(errstr, errstr_size,
                                    "\"source_ts_ms\" must be an integer, "
                                    "not %s",
                                    type_name(f[F_SOURCE_TS_MS]));
                ts = json_integer_value(f[F_SOURCE_TS_MS]);
                if (ts < 0)
                        return fail(errstr, errstr_size,
                                    "\"source_ts_ms\" is negative (%"
                                    JSON_INTEGER_FORMAT ")",
                                    ts);
                rec->source_ts_ms = (int64_t)ts;
        }

        if (rec->op == VCDC_OP_DELETE)
                return 0; /* the payload of a delete is ignored */

        /* vector */
        if (!f[F_VECTOR])
                return fail(errstr, errstr_size,
                            "\"vector\" is missing (an upsert needs one)");
        if (parse_vector(f[F_VECTOR], &t[F_VECTOR], ctx, rec, errstr,
                         errstr_size))
                return -1;

        /* sparse */
        if (f[F_SPARSE] && !json_is_null(f[F_SPARSE]) &&
            parse_sparse(f[F_SPARSE], &t[F_SPARSE], rec, errstr,
                         errstr_size))
                return -1;

        /* metadata */
        if (f[F_METADATA] &&
            parse_metadata(f[F_METADATA], ctx, rec, errstr, errstr_size))
                return -1;

        /* document */
        if (f[F_DOCUMENT] && !json_is_null(f[F_DOCUMENT])) {
                const json_t *jd = f[F_DOCUMENT];
                size_t len;

                if (!json_is_string(jd))
                        return fail(errstr, errstr_size,
                                    "\"document\" must be a string or null, "
                                    "not %s",
                                    type_name(jd));
                len = json_string_length(jd);
                if (len > opts->max_document)
                        return fail(errstr, errstr_size,
                                    "\"document\" is %zu bytes, more than the "
                                    "maximum %zu",
                                    len, opts->max_document);
                if (!(rec->document = dup_mem_str(json_string_value(jd),
                                                  len)))
                        return fail(errstr, errstr_size, "out of memory");
        }
        return 0;
}

/* Parses one line (no "\n") into rec, which must be clear. skipped: bytes
 * before line in the file's line (for positions). Returns 0 or -1 with
 * errstr; rec is clear on failure. */
int vcdc_jsonref_parse(const char *line, size_t len, size_t skipped,
                       const vcdc_jsonrec_opts_t *opts, vcdc_record_t *rec,
                       char *errstr, size_t errstr_size) {
        parse_ctx_t ctx = {opts, opts->dim, opts->dim_line,
                           opts->dim_required};
        json_error_t jerr;
        json_t *root;
        const char *nul;
        span_t text;
        int r;

        vcdc_record_init(rec);
        if ((nul = memchr(line, '\0', len))) {
                fail(errstr, errstr_size, "NUL byte at column %zu",
                     (size_t)(nul - line) + skipped + 1);
                return -1;
        }
        root = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
                          &jerr);
        if (!root) {
                load_error(&jerr, line, len, skipped, errstr, errstr_size);
                return -1;
        }
        /* the root's own text, without the whitespace around it */
        text.p = ws(line, line + len);
        for (text.len = (size_t)(line + len - text.p);
             text.len && strchr(" \t\r\n", text.p[text.len - 1]); text.len--)
                ;
        r = parse_object(root, &text, &ctx, rec, errstr, errstr_size);
        json_decref(root);
        if (r) {
                vcdc_record_clear(rec);
                sanitize(errstr);
        }
        return r;
}
