/*
 * vcdc - producer input: JSON Lines and fvecs readers.
 *
 * JSON Lines
 *   Lines are read into one reusable buffer and parsed in place with
 *   jansson (JSON_REJECT_DUPLICATES, JSON_DECODE_ANY so that a line that is
 *   a string or a number gets a clear "not an object" message; the EOF check
 *   stays on, so "{...} x" is an error). A line ends at "\n"; a "\r" before
 *   it is dropped; the last line needs no "\n". Lines of only spaces and tabs
 *   are skipped (they still count for line numbers). A UTF-8 byte order mark
 *   at the start of the input is skipped. A line longer than max_line bytes
 *   (not counting its end) is reported BAD and skipped to the next newline;
 *   memory stays bounded by max_line. A NUL byte in a line is BAD.
 *
 *   Fields (anything else is an error that lists these):
 *     collection    non-empty string of at most VCDC_COLLECTION_MAX_BYTES;
 *                   when absent, opts->collection
 *     id            non-empty string of at most VCDC_ID_MAX_BYTES, or an
 *                   integer (stored as its decimal text)
 *     op            "upsert" (default) or "delete", any case
 *     vector        upserts: non-empty array of numbers, each finite and
 *                   within float32 range (a value that rounds to +-FLT_MAX,
 *                   such as the 3.4028235e38 numpy prints, is FLT_MAX),
 *                   of the dimension fixed by opts->dim or by the first
 *                   record read, and at most max_dim
 *     sparse        {"indices": [...], "values": [...]}: indices integers in
 *                   0..2^32-1, strictly ascending; values as in vector; same
 *                   length; null is the same as absent
 *     metadata      an object (null: absent), kept as compact JSON text with
 *                   keys in input order; reals are written with 17
 *                   significant digits so they read back to the same double
 *                   (0.1 becomes 0.10000000000000001); at most max_metadata
 *                   bytes in that form and max_depth levels deep (the
 *                   metadata object itself is level 1)
 *     document      a string (null: absent) of at most max_document bytes
 *     source_ts_ms  an integer >= 0 (null: absent, -1 in the record)
 *   A delete keeps only collection, id and source_ts_ms: vector, sparse,
 *   metadata and document are ignored if present, and not checked.
 *   Strings must be valid UTF-8 and may not contain \u0000.
 *   The dimension is fixed by the first record accepted (a BAD line does
 *   not fix it).
 *
 * fvecs
 *   Each record is a little-endian int32 dimension and that many float32.
 *   A dimension that is not positive, above max_dim or different from the
 *   first record's (or opts->dim) is VCDC_INPUT_IOERR: a reader cannot find
 *   the next record after it. So is a truncated record. A NaN or infinite
 *   value makes that record BAD; the stream goes on. Ids are the 0-based
 *   record numbers, or the lines of opts->ids_path (same line rules as
 *   JSONL; an empty, over-long or non-UTF-8 id is BAD for that record; an
 *   ids file shorter than the vectors is IOERR, and so is one with
 *   non-empty lines left over at the end). Errors name the 1-based record:
 *   "path:record N: what".
 *
 * After VCDC_INPUT_IOERR every further call returns VCDC_INPUT_IOERR.
 */
#include "input.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <jansson.h>

#define MAX_LINE_DEFAULT     ((size_t)64 * 1024 * 1024)
#define MAX_DOCUMENT_DEFAULT ((size_t)1024 * 1024)
#define MAX_METADATA_DEFAULT ((size_t)256 * 1024)
#define MAX_DEPTH_DEFAULT    16

/* First size of a read buffer; it grows only for a longer line/record. */
#define READ_BUF_SIZE ((size_t)256 * 1024)

/* The smallest magnitude that rounds to infinity as a float32: FLT_MAX plus
 * half a unit in its last place (exact in a double). Anything below rounds to
 * at most FLT_MAX. */
#define FLOAT32_OVERFLOW ((double)FLT_MAX + 0x1p103)

#define KNOWN_FIELDS                                                           \
        "collection, id, op, vector, sparse, metadata, document, source_ts_ms"

/* A buffered reader of a file descriptor: lines (JSONL, ids) or byte
 * counts (fvecs). buf[start..end) is unread data. */
typedef struct reader_s {
        int fd;
        int owns_fd;
        char *buf;
        size_t cap;
        size_t max_cap;
        size_t start;
        size_t end;
        size_t scan;     /* buf[start..scan) holds no '\n' */
        uint64_t offset; /* file offset of buf[0] */
        int eof;
        int err; /* errno of a failed read, else 0 */
} reader_t;

/* reader_line() results */
#define LINE_OK       1
#define LINE_EOF      0
#define LINE_IOERR    -1
#define LINE_TOO_LONG -2

struct vcdc_input_s {
        vcdc_input_opts_t opts; /* defaults resolved */
        char *path;             /* for messages: the path or "<stdin>" */
        char *ids_path;
        reader_t rd;
        reader_t ids;
        int has_ids;
        size_t line;     /* last line (JSONL) or record (fvecs) read */
        size_t ids_line; /* last line read from the ids file */
        size_t dim;      /* fixed dimension, 0 until known */
        size_t dim_line; /* the line/record that fixed it; 0: opts->dim */
        int failed;      /* an IOERR was returned */
};

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


/*
 * UTF-8
 */

/* Returns 1 if s[0..len) is well-formed UTF-8 (no overlong forms, no
 * surrogates, nothing above U+10FFFF), else 0. */
static int utf8_valid(const char *str, size_t len) {
        const unsigned char *s = (const unsigned char *)str;
        size_t i = 0;

        while (i < len) {
                unsigned char c = s[i];
                uint32_t cp;
                size_t n, k;

                if (c < 0x80) {
                        i++;
                        continue;
                } else if (c >= 0xc2 && c <= 0xdf) {
                        n = 1;
                        cp = c & 0x1f;
                } else if (c >= 0xe0 && c <= 0xef) {
                        n = 2;
                        cp = c & 0x0f;
                } else if (c >= 0xf0 && c <= 0xf4) {
                        n = 3;
                        cp = c & 0x07;
                } else {
                        return 0;
                }
                if (len - i <= n)
                        return 0;
                for (k = 1; k <= n; k++) {
                        if ((s[i + k] & 0xc0) != 0x80)
                                return 0;
                        cp = (cp << 6) | (s[i + k] & 0x3f);
                }
                if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
                    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
                        return 0;
                i += n + 1;
        }
        return 1;
}


/*
 * Buffered reading
 */

static int reader_init(reader_t *rd, int fd, int owns_fd, size_t max_cap) {
        memset(rd, 0, sizeof(*rd));
        rd->fd = fd;
        rd->owns_fd = owns_fd;
        rd->cap = READ_BUF_SIZE;
        rd->max_cap = max_cap > READ_BUF_SIZE ? max_cap : READ_BUF_SIZE;
        if (!(rd->buf = malloc(rd->cap))) {
                rd->fd = -1; /* the caller still owns fd */
                rd->owns_fd = 0;
                return -1;
        }
        return 0;
}

static void reader_destroy(reader_t *rd) {
        if (rd->owns_fd && rd->fd >= 0)
                close(rd->fd);
        rd->fd = -1;
        free(rd->buf);
        rd->buf = NULL;
}

/* Makes room at the end of the buffer (moving unread data to the front,
 * growing up to max_cap) and reads once. Returns the bytes read, 0 at end
 * of file or when there is no room, -1 on a read error (rd->err). */
static ssize_t reader_fill(reader_t *rd) {
        ssize_t r;

        if (rd->start > 0 &&
            (rd->start == rd->end || rd->cap - rd->end < rd->cap / 2)) {
                memmove(rd->buf, rd->buf + rd->start, rd->end - rd->start);
                rd->end -= rd->start;
                rd->scan -= rd->start;
                rd->offset += rd->start;
                rd->start = 0;
        }
        if (rd->end == rd->cap) {
                size_t cap = rd->cap * 2;
                char *buf;

                if (cap > rd->max_cap)
                        cap = rd->max_cap;
                if (cap <= rd->cap)
                        return 0;
                if (!(buf = realloc(rd->buf, cap))) {
                        rd->err = ENOMEM;
                        return -1;
                }
                rd->buf = buf;
                rd->cap = cap;
        }
        /* EINTR is not retried: a signal (SIGTERM, SIGINT) must be able to
         * stop a reader blocked on a pipe that stays open. */
        r = read(rd->fd, rd->buf + rd->end, rd->cap - rd->end);
        if (r < 0) {
                rd->err = errno;
                return -1;
        }
        if (r == 0)
                rd->eof = 1;
        rd->end += (size_t)r;
        return r;
}

/* Discards the rest of an over-long line, up to and including its "\n".
 * *lenp counts the line's bytes (without "\r\n"). */
static int reader_skip_line(reader_t *rd, uint64_t *lenp) {
        uint64_t len = rd->end - rd->start;
        int last = len ? (unsigned char)rd->buf[rd->end - 1] : -1;

        for (;;) {
                const char *nl;
                ssize_t r;

                rd->offset += rd->end;
                rd->start = rd->scan = rd->end = 0;
                r = reader_fill(rd);
                if (r < 0)
                        return LINE_IOERR;
                if (r == 0)
                        break;
                nl = memchr(rd->buf, '\n', rd->end);
                if (nl) {
                        size_t n = (size_t)(nl - rd->buf);

                        len += n;
                        if (n > 0)
                                last = (unsigned char)nl[-1];
                        rd->start = rd->scan = n + 1;
                        break;
                }
                len += rd->end;
                last = (unsigned char)rd->buf[rd->end - 1];
        }
        if (last == '\r')
                len--;
        *lenp = len;
        return LINE_TOO_LONG;
}

/* Reads the next line (without its "\n" or "\r\n") into *linep, *lenp;
 * valid until the next call. A line longer than max_line is skipped and
 * LINE_TOO_LONG returned with its length in *longp. */
static int reader_line(reader_t *rd, size_t max_line, const char **linep,
                       size_t *lenp, uint64_t *longp) {
        for (;;) {
                const char *nl = memchr(rd->buf + rd->scan, '\n',
                                        rd->end - rd->scan);
                const char *line = rd->buf + rd->start;
                size_t len;
                ssize_t r;

                if (nl || (rd->eof && rd->start < rd->end)) {
                        len = nl ? (size_t)(nl - line) : rd->end - rd->start;
                        rd->start = rd->scan = nl ? rd->start + len + 1
                                                  : rd->end;
                        if (len > 0 && line[len - 1] == '\r')
                                len--;
                        if (len > max_line) {
                                *longp = len;
                                return LINE_TOO_LONG;
                        }
                        *linep = line;
                        *lenp = len;
                        return LINE_OK;
                }
                rd->scan = rd->end;
                if (rd->eof)
                        return LINE_EOF;
                /* No end in sight: content plus a "\r" is over the limit. */
                if (rd->end - rd->start > max_line + 1)
                        return reader_skip_line(rd, longp);
                r = reader_fill(rd);
                if (r < 0)
                        return LINE_IOERR;
                if (r == 0 && !rd->eof) {
                        rd->err = EFBIG; /* no room: cannot happen */
                        return LINE_IOERR;
                }
        }
}

/* Makes at least n unread bytes available, if the file has them. Returns
 * 0, or -1 on a read error; rd->end - rd->start < n means end of file. */
static int reader_need(reader_t *rd, size_t n) {
        while (rd->end - rd->start < n && !rd->eof) {
                ssize_t r = reader_fill(rd);

                if (r < 0)
                        return -1;
                if (r == 0 && !rd->eof) {
                        rd->err = EFBIG; /* n above max_cap: cannot happen */
                        return -1;
                }
        }
        return 0;
}


/*
 * JSON Lines: one record
 */

typedef struct parse_ctx_s {
        const vcdc_input_opts_t *opts; /* defaults resolved */
        size_t dim;                    /* required dimension, 0: any */
        size_t dim_line;               /* where dim came from, 0: unknown */
        int dim_from_opts;
} parse_ctx_t;

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

/* Converts a JSON number to float32. Returns 0, or -1 with errstr naming
 * what (e.g. "vector[3]"). */
static int number_to_float(const json_t *j, const char *what, size_t idx,
                           float *f, char *errstr, size_t errstr_size) {
        double d;

        if (json_is_real(j))
                d = json_real_value(j);
        else if (json_is_integer(j))
                d = (double)json_integer_value(j);
        else
                return fail(errstr, errstr_size,
                            "%s[%zu] must be a number, not %s", what, idx,
                            type_name(j));
        if (!isfinite(d))
                return fail(errstr, errstr_size, "%s[%zu] is not finite",
                            what, idx);
        if (fabs(d) > FLT_MAX) {
                if (fabs(d) >= FLOAT32_OVERFLOW)
                        return fail(errstr, errstr_size,
                                    "%s[%zu] is a huge number (%.9g does not "
                                    "fit in float32)",
                                    what, idx, d);
                *f = d < 0 ? -FLT_MAX : FLT_MAX;
                return 0;
        }
        *f = (float)d;
        return 0;
}

static int parse_vector(const json_t *jv, const parse_ctx_t *ctx,
                        vcdc_record_t *rec, char *errstr,
                        size_t errstr_size) {
        size_t n, i;

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
        for (i = 0; i < n; i++)
                if (number_to_float(json_array_get(jv, i), "vector", i,
                                    &rec->vector[i], errstr, errstr_size))
                        return -1;
        rec->dim = n;
        return 0;
}

static int parse_sparse(const json_t *js, vcdc_record_t *rec, char *errstr,
                        size_t errstr_size) {
        const json_t *ji = NULL, *jvals = NULL, *v;
        const char *key;
        json_int_t prev = -1;
        size_t n, i;
        char buf[64];

        if (!json_is_object(js))
                return fail(errstr, errstr_size,
                            "\"sparse\" must be an object {\"indices\": [...], "
                            "\"values\": [...]}, not %s",
                            type_name(js));
        json_object_foreach((json_t *)js, key, v) {
                if (!strcmp(key, "indices"))
                        ji = v;
                else if (!strcmp(key, "values"))
                        jvals = v;
                else
                        return fail(errstr, errstr_size,
                                    "unknown field \"sparse.%s\" (known "
                                    "fields: indices, values)",
                                    excerpt(buf, sizeof(buf), key,
                                            strlen(key)));
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
        if (!rec->sparse_indices || !rec->sparse_values)
                return fail(errstr, errstr_size, "out of memory");
        for (i = 0; i < n; i++) {
                const json_t *jx = json_array_get(ji, i);
                json_int_t x;

                if (!json_is_integer(jx))
                        return fail(errstr, errstr_size,
                                    "sparse.indices[%zu] must be an integer, "
                                    "not %s",
                                    i, type_name(jx));
                x = json_integer_value(jx);
                if (x < 0 || x > (json_int_t)UINT32_MAX)
                        return fail(errstr, errstr_size,
                                    "sparse.indices[%zu] is %"
                                    JSON_INTEGER_FORMAT
                                    ", out of range (0 to 4294967295)",
                                    i, x);
                if (x <= prev)
                        return fail(errstr, errstr_size,
                                    "sparse.indices[%zu] is %"
                                    JSON_INTEGER_FORMAT
                                    ", not above the previous index %"
                                    JSON_INTEGER_FORMAT
                                    " (indices must be strictly ascending)",
                                    i, x, prev);
                prev = x;
                rec->sparse_indices[i] = (uint32_t)x;
                if (number_to_float(json_array_get(jvals, i), "sparse.values",
                                    i, &rec->sparse_values[i], errstr,
                                    errstr_size))
                        return -1;
        }
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

static int parse_object(const json_t *root, const parse_ctx_t *ctx,
                        vcdc_record_t *rec, char *errstr,
                        size_t errstr_size) {
        const vcdc_input_opts_t *opts = ctx->opts;
        const json_t *f[F_CNT] = {0};
        const char *key;
        json_t *v;
        char buf[64];

        if (!json_is_object(root))
                return fail(errstr, errstr_size,
                            "the line is %s, expected a JSON object",
                            type_name(root));

        json_object_foreach((json_t *)root, key, v) {
                field_t fi = field_lookup(key);

                if (fi == F_CNT)
                        return fail(errstr, errstr_size,
                                    "unknown field \"%s\" (known fields: "
                                    KNOWN_FIELDS ")",
                                    excerpt(buf, sizeof(buf), key,
                                            strlen(key)));
                f[fi] = v;
        }

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
        if (parse_vector(f[F_VECTOR], ctx, rec, errstr, errstr_size))
                return -1;

        /* sparse */
        if (f[F_SPARSE] && !json_is_null(f[F_SPARSE]) &&
            parse_sparse(f[F_SPARSE], rec, errstr, errstr_size))
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
static int parse_line(const char *line, size_t len, size_t skipped,
                      const parse_ctx_t *ctx, vcdc_record_t *rec,
                      char *errstr, size_t errstr_size) {
        json_error_t jerr;
        json_t *root;
        const char *nul;
        int r;

        if ((nul = memchr(line, '\0', len)))
                return fail(errstr, errstr_size,
                            "NUL byte at column %zu",
                            (size_t)(nul - line) + skipped + 1);
        root = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
                          &jerr);
        if (!root) {
                load_error(&jerr, line, len, skipped, errstr, errstr_size);
                return -1;
        }
        r = parse_object(root, ctx, rec, errstr, errstr_size);
        json_decref(root);
        if (r)
                vcdc_record_clear(rec);
        return r;
}

/* Fills in the defaults. Returns 0, or -1 with errstr. */
static int opts_resolve(vcdc_input_opts_t *o, const vcdc_input_opts_t *src,
                        char *errstr, size_t errstr_size) {
        if (src)
                *o = *src;
        else
                memset(o, 0, sizeof(*o));
        if (!o->max_dim)
                o->max_dim = VCDC_DIM_MAX_DEFAULT;
        if (!o->max_line)
                o->max_line = MAX_LINE_DEFAULT;
        if (!o->max_document)
                o->max_document = MAX_DOCUMENT_DEFAULT;
        if (!o->max_metadata)
                o->max_metadata = MAX_METADATA_DEFAULT;
        if (o->max_depth == 0)
                o->max_depth = MAX_DEPTH_DEFAULT;
        if (o->max_depth < 0)
                return fail(errstr, errstr_size,
                            "max_depth must not be negative (%d)",
                            o->max_depth);
        if (o->max_dim > (size_t)INT32_MAX ||
            o->max_dim > (SIZE_MAX - 4) / sizeof(float))
                return fail(errstr, errstr_size,
                            "max_dim %zu is too large", o->max_dim);
        if (o->max_line > SIZE_MAX / 2)
                return fail(errstr, errstr_size,
                            "max_line %zu is too large", o->max_line);
        if (o->dim > o->max_dim)
                return fail(errstr, errstr_size,
                            "dimension %zu is more than the maximum %zu",
                            o->dim, o->max_dim);
        if (o->collection && strlen(o->collection) > VCDC_COLLECTION_MAX_BYTES)
                return fail(errstr, errstr_size,
                            "collection name is %zu bytes, more than the "
                            "maximum %d",
                            strlen(o->collection), VCDC_COLLECTION_MAX_BYTES);
        return 0;
}

int vcdc_input_parse_json(const char *line, size_t len,
                          const vcdc_input_opts_t *opts, size_t *dimp,
                          vcdc_record_t *rec, char *errstr,
                          size_t errstr_size) {
        vcdc_input_opts_t o;
        parse_ctx_t ctx;

        vcdc_record_clear(rec);
        if (opts_resolve(&o, opts, errstr, errstr_size))
                return -1;
        ctx.opts = &o;
        ctx.dim = dimp && *dimp ? *dimp : o.dim;
        ctx.dim_line = 0;
        ctx.dim_from_opts = !(dimp && *dimp) && o.dim;
        if (parse_line(line, len, 0, &ctx, rec, errstr, errstr_size)) {
                sanitize(errstr);
                return -1;
        }
        if (dimp && rec->dim)
                *dimp = rec->dim;
        return 0;
}


/*
 * Readers
 */

static int open_fd(const char *path, char *errstr, size_t errstr_size) {
        int fd;

        do
                fd = open(path, O_RDONLY | O_CLOEXEC);
        while (fd < 0 && errno == EINTR);
        if (fd < 0)
                fail(errstr, errstr_size, "%s: %s", path, strerror(errno));
        return fd;
}

vcdc_input_t *vcdc_input_open(const char *path, const vcdc_input_opts_t *opts,
                              char *errstr, size_t errstr_size) {
        vcdc_input_t *in;
        int fd = -1;
        int is_stdin;
        size_t max_cap;

        if (!path || !*path) {
                fail(errstr, errstr_size, "no input path");
                return NULL;
        }
        is_stdin = !strcmp(path, "-");
        if (!(in = calloc(1, sizeof(*in)))) {
                fail(errstr, errstr_size, "out of memory");
                return NULL;
        }
        in->rd.fd = in->ids.fd = -1;
        if (opts_resolve(&in->opts, opts, errstr, errstr_size))
                goto err;
        /* opts is copied; its strings are the caller's. */
        if (in->opts.format == VCDC_INPUT_FVECS) {
                if (!in->opts.collection || !*in->opts.collection) {
                        fail(errstr, errstr_size,
                             "fvecs input needs a collection");
                        goto err;
                }
                /* A record: dimension and max_dim float32. */
                max_cap = 4 + in->opts.max_dim * 4;
        } else if (in->opts.format == VCDC_INPUT_JSONL) {
                if (in->opts.ids_path) {
                        fail(errstr, errstr_size,
                             "an ids file is for fvecs input only");
                        goto err;
                }
                /* A line and its "\r\n". */
                max_cap = in->opts.max_line + 2;
        } else {
                fail(errstr, errstr_size, "unknown input format %d",
                     (int)in->opts.format);
                goto err;
        }
        in->dim = in->opts.dim;
        if (!(in->path = strdup(is_stdin ? "<stdin>" : path))) {
                fail(errstr, errstr_size, "out of memory");
                goto err;
        }
        if (is_stdin)
                fd = STDIN_FILENO;
        else if ((fd = open_fd(path, errstr, errstr_size)) < 0)
                goto err;
        if (reader_init(&in->rd, fd, !is_stdin, max_cap)) {
                if (!is_stdin)
                        close(fd);
                fail(errstr, errstr_size, "out of memory");
                goto err;
        }
        if (in->opts.format == VCDC_INPUT_FVECS && in->opts.ids_path) {
                if (is_stdin && !strcmp(in->opts.ids_path, "-")) {
                        fail(errstr, errstr_size,
                             "vectors and ids cannot both come from stdin");
                        goto err;
                }
                is_stdin = !strcmp(in->opts.ids_path, "-");
                if (!(in->ids_path = strdup(is_stdin ? "<stdin>"
                                                     : in->opts.ids_path))) {
                        fail(errstr, errstr_size, "out of memory");
                        goto err;
                }
                if (is_stdin)
                        fd = STDIN_FILENO;
                else if ((fd = open_fd(in->opts.ids_path, errstr,
                                       errstr_size)) < 0)
                        goto err;
                if (reader_init(&in->ids, fd, !is_stdin,
                                VCDC_ID_MAX_BYTES + 2)) {
                        if (!is_stdin)
                                close(fd);
                        fail(errstr, errstr_size, "out of memory");
                        goto err;
                }
                in->has_ids = 1;
        }
        return in;

err:
        vcdc_input_close(in);
        return NULL;
}

static int read_error(vcdc_input_t *in, const reader_t *rd, const char *path,
                      char *errstr, size_t errstr_size) {
        in->failed = 1;
        fail(errstr, errstr_size, "%s: read error after %s %zu: %s", path,
             in->opts.format == VCDC_INPUT_FVECS ? "record" : "line",
             in->line, strerror(rd->err));
        return VCDC_INPUT_IOERR;
}

static int next_jsonl(vcdc_input_t *in, vcdc_record_t *rec, char *errstr,
                      size_t errstr_size) {
        char what[512];
        parse_ctx_t ctx;

        ctx.opts = &in->opts;
        for (;;) {
                const char *line = NULL;
                size_t len = 0, skipped = 0, i;
                uint64_t long_len = 0;
                int r;

                r = reader_line(&in->rd, in->opts.max_line, &line, &len,
                                &long_len);
                if (r == LINE_EOF)
                        return VCDC_INPUT_EOF;
                if (r == LINE_IOERR)
                        return read_error(in, &in->rd, in->path, errstr,
                                          errstr_size);
                in->line++;
                if (r == LINE_TOO_LONG) {
                        fail(errstr, errstr_size,
                             "%s:%zu: line is %" PRIu64 " bytes, longer than "
                             "the maximum %zu",
                             in->path, in->line, long_len, in->opts.max_line);
                        return VCDC_INPUT_BAD;
                }
                if (len >= 3 && !memcmp(line, "\xef\xbb\xbf", 3)) {
                        if (in->line > 1) {
                                /* e.g. files joined with cat */
                                fail(errstr, errstr_size,
                                     "%s:%zu: byte order mark at the start "
                                     "of line %zu (allowed only at the start "
                                     "of the input)",
                                     in->path, in->line, in->line);
                                return VCDC_INPUT_BAD;
                        }
                        line += 3;
                        len -= 3;
                        skipped = 3;
                }
                for (i = 0; i < len && (line[i] == ' ' || line[i] == '\t');
                     i++)
                        ;
                if (i == len)
                        continue; /* blank */

                ctx.dim = in->dim;
                ctx.dim_line = in->dim_line;
                ctx.dim_from_opts = in->opts.dim && !in->dim_line;
                if (parse_line(line, len, skipped, &ctx, rec, what,
                               sizeof(what))) {
                        sanitize(what);
                        fail(errstr, errstr_size, "%s:%zu: %s", in->path,
                             in->line, what);
                        return VCDC_INPUT_BAD;
                }
                if (!in->dim && rec->dim) {
                        in->dim = rec->dim;
                        in->dim_line = in->line;
                }
                return VCDC_INPUT_RECORD;
        }
}

static uint32_t le32(const unsigned char *p) {
        return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
               (uint32_t)p[3] << 24;
}

/* Reads the next id line into rec->id. Returns VCDC_INPUT_RECORD,
 * VCDC_INPUT_BAD (what in errstr) or VCDC_INPUT_IOERR (full errstr). */
static int next_id(vcdc_input_t *in, vcdc_record_t *rec, char *errstr,
                   size_t errstr_size) {
        const char *line = NULL;
        size_t len = 0;
        uint64_t long_len = 0;
        int r;

        r = reader_line(&in->ids, VCDC_ID_MAX_BYTES, &line, &len, &long_len);
        if (r == LINE_IOERR) {
                in->failed = 1;
                fail(errstr, errstr_size, "%s: read error after line %zu: %s",
                     in->ids_path, in->ids_line, strerror(in->ids.err));
                return VCDC_INPUT_IOERR;
        }
        if (r == LINE_EOF) {
                in->failed = 1;
                fail(errstr, errstr_size,
                     "%s:record %zu: the ids file %s has only %zu lines, "
                     "fewer than the vectors",
                     in->path, in->line, in->ids_path, in->ids_line);
                return VCDC_INPUT_IOERR;
        }
        in->ids_line++;
        if (r == LINE_TOO_LONG) {
                fail(errstr, errstr_size,
                     "id on line %zu of %s is %" PRIu64 " bytes, more than "
                     "the maximum %d",
                     in->ids_line, in->ids_path, long_len, VCDC_ID_MAX_BYTES);
                return VCDC_INPUT_BAD;
        }
        if (len == 0) {
                fail(errstr, errstr_size, "empty id on line %zu of %s",
                     in->ids_line, in->ids_path);
                return VCDC_INPUT_BAD;
        }
        if (memchr(line, '\0', len)) {
                fail(errstr, errstr_size,
                     "NUL byte in the id on line %zu of %s", in->ids_line,
                     in->ids_path);
                return VCDC_INPUT_BAD;
        }
        if (!utf8_valid(line, len)) {
                fail(errstr, errstr_size,
                     "invalid UTF-8 in the id on line %zu of %s",
                     in->ids_line, in->ids_path);
                return VCDC_INPUT_BAD;
        }
        if (!(rec->id = dup_mem_str(line, len))) {
                in->failed = 1;
                fail(errstr, errstr_size, "%s:record %zu: out of memory",
                     in->path, in->line);
                return VCDC_INPUT_IOERR;
        }
        return VCDC_INPUT_RECORD;
}

/* At the end of the vectors: anything but empty lines left in the ids file
 * means the two files do not belong together. */
static int ids_leftover(vcdc_input_t *in, char *errstr, size_t errstr_size) {
        for (;;) {
                const char *line = NULL;
                size_t len = 0;
                uint64_t long_len = 0;
                int r = reader_line(&in->ids, VCDC_ID_MAX_BYTES, &line, &len,
                                    &long_len);

                if (r == LINE_EOF)
                        return 0;
                if (r == LINE_IOERR) {
                        fail(errstr, errstr_size,
                             "%s: read error after line %zu: %s",
                             in->ids_path, in->ids_line,
                             strerror(in->ids.err));
                        return -1;
                }
                in->ids_line++;
                if (r == LINE_TOO_LONG || len > 0) {
                        fail(errstr, errstr_size,
                             "%s: the ids file %s has more lines than the "
                             "%zu vectors (line %zu)",
                             in->path, in->ids_path, in->line, in->ids_line);
                        return -1;
                }
        }
}

static int next_fvecs(vcdc_input_t *in, vcdc_record_t *rec, char *errstr,
                      size_t errstr_size) {
        reader_t *rd = &in->rd;
        const unsigned char *p;
        uint64_t offset;
        size_t avail, need, i, rec_no;
        int32_t d;
        int r;
        char what[256];

        if (reader_need(rd, 4))
                return read_error(in, rd, in->path, errstr, errstr_size);
        avail = rd->end - rd->start;
        offset = rd->offset + rd->start;
        rec_no = in->line + 1;
        if (avail == 0) {
                if (in->has_ids && ids_leftover(in, errstr, errstr_size)) {
                        in->failed = 1;
                        return VCDC_INPUT_IOERR;
                }
                return VCDC_INPUT_EOF;
        }
        in->line = rec_no;
        if (avail < 4) {
                in->failed = 1;
                fail(errstr, errstr_size,
                     "%s:record %zu: truncated record at byte offset %" PRIu64
                     ": %zu bytes left, a record starts with 4",
                     in->path, rec_no, offset, avail);
                return VCDC_INPUT_IOERR;
        }
        d = (int32_t)le32((const unsigned char *)rd->buf + rd->start);
        if (d <= 0 || (size_t)d > in->opts.max_dim) {
                in->failed = 1;
                fail(errstr, errstr_size,
                     "%s:record %zu: dimension %" PRId32 " at byte offset %"
                     PRIu64 " is %s (not an fvecs file?)",
                     in->path, rec_no, d, offset,
                     d <= 0 ? "not positive" : "above the maximum");
                return VCDC_INPUT_IOERR;
        }
        if (in->dim && (size_t)d != in->dim) {
                in->failed = 1;
                if (in->dim_line)
                        fail(errstr, errstr_size,
                             "%s:record %zu: dimension %" PRId32 " at byte "
                             "offset %" PRIu64 " differs from %zu (from "
                             "record %zu)",
                             in->path, rec_no, d, offset, in->dim,
                             in->dim_line);
                else
                        fail(errstr, errstr_size,
                             "%s:record %zu: dimension %" PRId32 " at byte "
                             "offset %" PRIu64 " differs from the required "
                             "%zu",
                             in->path, rec_no, d, offset, in->dim);
                return VCDC_INPUT_IOERR;
        }
        if (!in->dim) {
                in->dim = (size_t)d;
                in->dim_line = rec_no;
        }
        need = 4 + (size_t)d * 4;
        if (reader_need(rd, need))
                return read_error(in, rd, in->path, errstr, errstr_size);
        avail = rd->end - rd->start;
        if (avail < need) {
                in->failed = 1;
                fail(errstr, errstr_size,
                     "%s:record %zu: truncated record at byte offset %" PRIu64
                     ": %zu bytes left, dimension %" PRId32 " needs %zu",
                     in->path, rec_no, offset, avail, d, need);
                return VCDC_INPUT_IOERR;
        }
        p = (const unsigned char *)rd->buf + rd->start + 4;
        rd->start += need;
        rd->scan = rd->start;

        if (in->has_ids) {
                r = next_id(in, rec, what, sizeof(what));
                if (r == VCDC_INPUT_IOERR) {
                        fail(errstr, errstr_size, "%s", what);
                        vcdc_record_clear(rec);
                        return r;
                }
                if (r == VCDC_INPUT_BAD)
                        goto bad;
        } else {
                /* The row number, 0-based: snprintf is too slow for
                 * once per row. */
                char num[24], *digits = num + sizeof(num) - 1;
                size_t row = rec_no - 1;

                *digits = '\0';
                do {
                        *--digits = (char)('0' + row % 10);
                        row /= 10;
                } while (row);
                if (!(rec->id = strdup(digits)))
                        goto oom;
        }

        if (!(rec->vector = malloc((size_t)d * sizeof(float))))
                goto oom;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        memcpy(rec->vector, p, (size_t)d * sizeof(float));
#else
        for (i = 0; i < (size_t)d; i++) {
                uint32_t u = le32(p + i * 4);

                memcpy(&rec->vector[i], &u, sizeof(u));
        }
#endif
        for (i = 0; i < (size_t)d; i++) {
                if (!isfinite(rec->vector[i])) {
                        snprintf(what, sizeof(what), "vector[%zu] is %s", i,
                                 isnan(rec->vector[i]) ? "NaN" : "infinite");
                        goto bad;
                }
        }
        rec->dim = (size_t)d;
        rec->op = VCDC_OP_UPSERT;
        if (!(rec->collection = strdup(in->opts.collection)))
                goto oom;
        return VCDC_INPUT_RECORD;

bad:
        vcdc_record_clear(rec);
        fail(errstr, errstr_size, "%s:record %zu: %s", in->path, rec_no,
             what);
        sanitize(errstr);
        return VCDC_INPUT_BAD;
oom:
        vcdc_record_clear(rec);
        in->failed = 1;
        fail(errstr, errstr_size, "%s:record %zu: out of memory", in->path,
             rec_no);
        return VCDC_INPUT_IOERR;
}

int vcdc_input_next(vcdc_input_t *in, vcdc_record_t *rec, char *errstr,
                    size_t errstr_size) {
        int r;

        vcdc_record_clear(rec);
        if (in->failed) {
                fail(errstr, errstr_size,
                     "%s: input stopped after an earlier error", in->path);
                return VCDC_INPUT_IOERR;
        }
        if (in->opts.format == VCDC_INPUT_FVECS)
                r = next_fvecs(in, rec, errstr, errstr_size);
        else
                r = next_jsonl(in, rec, errstr, errstr_size);
        if (r == VCDC_INPUT_IOERR) {
                in->failed = 1;
                sanitize(errstr);
        }
        return r;
}

size_t vcdc_input_line(const vcdc_input_t *in) {
        return in->line;
}

size_t vcdc_input_dim(const vcdc_input_t *in) {
        return in->dim;
}

void vcdc_input_close(vcdc_input_t *in) {
        if (!in)
                return;
        reader_destroy(&in->rd);
        reader_destroy(&in->ids);
        free(in->path);
        free(in->ids_path);
        free(in);
}
