/*
 * vcdc - producer input: JSON Lines and fvecs readers.
 *
 * JSON Lines
 *   Lines are read into one reusable buffer and parsed in place by
 *   jsonrec.h, without a tree: strict JSON as jansson checks it with
 *   JSON_REJECT_DUPLICATES (the same errors, at the same columns), any value
 *   at the top so that a line that is a string or a number gets a clear "not
 *   an object" message, nothing after it ("{...} x" is an error). Each
 *   input has its own scanner (jsonscan.h). A line ends at "\n"; a "\r" before
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
 *     vector        upserts: non-empty array of numbers, each converted to
 *                   the float32 strtof() gives for its text (so the
 *                   3.4028235e38 numpy prints is FLT_MAX, -0 is -0.0f) and
 *                   refused if that is infinite, of the dimension fixed by
 *                   opts->dim or by the first record read, at most max_dim
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

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jsonrec.h"
#include "reader.h"

#define MAX_LINE_DEFAULT     ((size_t)64 * 1024 * 1024)
#define MAX_DOCUMENT_DEFAULT ((size_t)1024 * 1024)
#define MAX_METADATA_DEFAULT ((size_t)256 * 1024)
#define MAX_DEPTH_DEFAULT    16


struct vcdc_input_s {
        vcdc_input_opts_t opts; /* defaults resolved */
        char *path;             /* for messages: the path or "<stdin>" */
        char *ids_path;
        vcdc_reader_t rd;
        vcdc_reader_t ids;
        int has_ids;
        size_t line;     /* last line (JSONL) or record (fvecs) read */
        size_t ids_line; /* last line read from the ids file */
        size_t dim;      /* fixed dimension, 0 until known */
        size_t dim_line; /* the line/record that fixed it; 0: opts->dim */
        int failed;      /* an IOERR was returned */
        vcdc_jsonscan_t *js; /* JSONL: the scanner of its lines */
};


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
 * JSON Lines: one record
 */

static char *dup_mem_str(const char *s, size_t len) {
        char *d = malloc(len + 1);

        if (!d)
                return NULL;
        memcpy(d, s, len);
        d[len] = '\0';
        return d;
}

/* Parses one line (no "\n") into rec, which must be clear, against the
 * dimension dim (0: any) that line dim_line fixed (0: unknown), or that is
 * the user's (dim_required). skipped: bytes before line in the file's line
 * (for positions). Returns 0 or -1 with errstr; rec is clear on failure. */
static int parse_line(vcdc_jsonscan_t *js, const char *line, size_t len,
                      size_t skipped, const vcdc_input_opts_t *o, size_t dim,
                      size_t dim_line, int dim_required, vcdc_record_t *rec,
                      char *errstr, size_t errstr_size) {
        vcdc_jsonrec_opts_t ro;

        ro.collection = o->collection;
        ro.dim = dim;
        ro.dim_line = dim_line;
        ro.dim_required = dim_required;
        ro.max_dim = o->max_dim;
        ro.max_document = o->max_document;
        ro.max_metadata = o->max_metadata;
        ro.max_depth = o->max_depth;
        return vcdc_jsonrec_parse(js, line, len, skipped, &ro, rec, errstr,
                                  errstr_size);
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
        vcdc_jsonscan_t *js;
        int r;

        vcdc_record_clear(rec);
        if (opts_resolve(&o, opts, errstr, errstr_size))
                return -1;
        if (!(js = vcdc_jsonscan_new())) {
                fail(errstr, errstr_size, "out of memory");
                return -1;
        }
        r = parse_line(js, line, len, 0, &o, dimp && *dimp ? *dimp : o.dim,
                       0, !(dimp && *dimp) && o.dim, rec, errstr, errstr_size);
        vcdc_jsonscan_destroy(js);
        if (r)
                return -1;
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
        in->rd.wake[0] = in->rd.wake[1] = -1;
        in->ids.wake[0] = in->ids.wake[1] = -1;
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
                if (!(in->js = vcdc_jsonscan_new())) {
                        fail(errstr, errstr_size, "out of memory");
                        goto err;
                }
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
        if (vcdc_reader_init(&in->rd, fd, !is_stdin, max_cap)) {
                int e = errno;

                if (!is_stdin)
                        close(fd);
                fail(errstr, errstr_size, "%s: %s", in->path, strerror(e));
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
                if (vcdc_reader_init(&in->ids, fd, !is_stdin,
                                     VCDC_ID_MAX_BYTES + 2)) {
                        int e = errno;

                        if (!is_stdin)
                                close(fd);
                        fail(errstr, errstr_size, "%s: %s", in->ids_path,
                             strerror(e));
                        goto err;
                }
                in->has_ids = 1;
        }
        return in;

err:
        vcdc_input_close(in);
        return NULL;
}

static int read_error(vcdc_input_t *in, const vcdc_reader_t *rd,
                      const char *path, char *errstr, size_t errstr_size) {
        in->failed = 1;
        fail(errstr, errstr_size, "%s: read error after %s %zu: %s", path,
             in->opts.format == VCDC_INPUT_FVECS ? "record" : "line",
             in->line, strerror(rd->err));
        return VCDC_INPUT_IOERR;
}

static int next_jsonl(vcdc_input_t *in, vcdc_record_t *rec, char *errstr,
                      size_t errstr_size) {
        char what[512];

        for (;;) {
                const char *line = NULL;
                size_t len = 0, skipped = 0, i;
                uint64_t long_len = 0;
                int r;

                r = vcdc_reader_line(&in->rd, in->opts.max_line, &line,
                                     &len, &long_len);
                if (r == VCDC_LINE_EOF)
                        return VCDC_INPUT_EOF;
                if (r == VCDC_LINE_IOERR)
                        return read_error(in, &in->rd, in->path, errstr,
                                          errstr_size);
                in->line++;
                if (r == VCDC_LINE_TOO_LONG) {
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

                if (parse_line(in->js, line, len, skipped, &in->opts, in->dim,
                               in->dim_line, in->opts.dim && !in->dim_line,
                               rec, what, sizeof(what))) {
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

        r = vcdc_reader_line(&in->ids, VCDC_ID_MAX_BYTES, &line, &len,
                             &long_len);
        if (r == VCDC_LINE_IOERR) {
                in->failed = 1;
                fail(errstr, errstr_size, "%s: read error after line %zu: %s",
                     in->ids_path, in->ids_line, strerror(in->ids.err));
                return VCDC_INPUT_IOERR;
        }
        if (r == VCDC_LINE_EOF) {
                in->failed = 1;
                fail(errstr, errstr_size,
                     "%s:record %zu: the ids file %s has only %zu lines, "
                     "fewer than the vectors",
                     in->path, in->line, in->ids_path, in->ids_line);
                return VCDC_INPUT_IOERR;
        }
        in->ids_line++;
        if (r == VCDC_LINE_TOO_LONG) {
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
                int r = vcdc_reader_line(&in->ids, VCDC_ID_MAX_BYTES, &line,
                                         &len, &long_len);

                if (r == VCDC_LINE_EOF)
                        return 0;
                if (r == VCDC_LINE_IOERR) {
                        fail(errstr, errstr_size,
                             "%s: read error after line %zu: %s",
                             in->ids_path, in->ids_line,
                             strerror(in->ids.err));
                        return -1;
                }
                in->ids_line++;
                if (r == VCDC_LINE_TOO_LONG || len > 0) {
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
        vcdc_reader_t *rd = &in->rd;
        const unsigned char *p;
        uint64_t offset;
        size_t avail, need, i, rec_no;
        int32_t d;
        int r;
        char what[256];

        if (vcdc_reader_need(rd, 4))
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
        if (vcdc_reader_need(rd, need))
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

const char *vcdc_input_path(const vcdc_input_t *in) {
        return in->path;
}

int vcdc_input_ready(const vcdc_input_t *in) {
        const vcdc_reader_t *rd = &in->rd;
        uint32_t d;

        if (in->failed)
                return 1;
        if (in->opts.format != VCDC_INPUT_FVECS)
                return vcdc_reader_line_ready(rd, 1 /*blank lines skipped*/);
        if (!vcdc_reader_bytes_ready(rd, 4))
                return 0;
        if (rd->end - rd->start < 4)
                return 1; /* the end, or a truncated header */
        d = le32((const unsigned char *)rd->buf + rd->start);
        if (d == 0 || d > in->opts.max_dim)
                return 1; /* an error, found without reading */
        return vcdc_reader_bytes_ready(rd, 4 + (size_t)d * 4) &&
               (!in->has_ids || vcdc_reader_line_ready(&in->ids, 0));
}

void vcdc_input_interrupt(vcdc_input_t *in) {
        vcdc_reader_interrupt(&in->rd);
        if (in->has_ids)
                vcdc_reader_interrupt(&in->ids);
}

void vcdc_input_close(vcdc_input_t *in) {
        if (!in)
                return;
        vcdc_reader_destroy(&in->rd);
        vcdc_reader_destroy(&in->ids);
        vcdc_jsonscan_destroy(in->js);
        free(in->path);
        free(in->ids_path);
        free(in);
}
