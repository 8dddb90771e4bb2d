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
#include "input_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "errstr.h"
#include "jsonscan.h"

/* Fills in the defaults. Returns 0, or -1 with errstr. */
int vcdc_input_opts_resolve(vcdc_input_opts_t *o, const vcdc_input_opts_t *src,
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
                return vcdc_fail(errstr, errstr_size,
                                 "max_depth must not be negative (%d)",
                                 o->max_depth);
        if (o->max_dim > (size_t)INT32_MAX ||
            o->max_dim > (SIZE_MAX - 4) / sizeof(float))
                return vcdc_fail(errstr, errstr_size,
                                 "max_dim %zu is too large", o->max_dim);
        if (o->max_line > SIZE_MAX / 2)
                return vcdc_fail(errstr, errstr_size,
                                 "max_line %zu is too large", o->max_line);
        if (o->dim > o->max_dim)
                return vcdc_fail(errstr, errstr_size,
                                 "dimension %zu is more than the maximum %zu",
                                 o->dim, o->max_dim);
        if (o->collection && strlen(o->collection) > VCDC_COLLECTION_MAX_BYTES)
                return vcdc_fail(errstr, errstr_size,
                                 "collection name is %zu bytes, more than the "
                                 "maximum %d",
                                 strlen(o->collection),
                                 VCDC_COLLECTION_MAX_BYTES);
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
                vcdc_fail(errstr, errstr_size, "%s: %s", path, strerror(errno));
        return fd;
}

vcdc_input_t *vcdc_input_open(const char *path, const vcdc_input_opts_t *opts,
                              char *errstr, size_t errstr_size) {
        vcdc_input_t *in;
        int fd = -1;
        int is_stdin;
        size_t max_cap;

        if (!path || !*path) {
                vcdc_fail(errstr, errstr_size, "no input path");
                return NULL;
        }
        is_stdin = !strcmp(path, "-");
        if (!(in = calloc(1, sizeof(*in)))) {
                vcdc_fail(errstr, errstr_size, "out of memory");
                return NULL;
        }
        in->rd.fd = in->ids.fd = -1;
        in->rd.wake[0] = in->rd.wake[1] = -1;
        in->ids.wake[0] = in->ids.wake[1] = -1;
        if (vcdc_input_opts_resolve(&in->opts, opts, errstr, errstr_size))
                goto err;
        /* opts is copied; its strings are the caller's. */
        if (in->opts.format == VCDC_INPUT_FVECS) {
                if (!in->opts.collection || !*in->opts.collection) {
                        vcdc_fail(errstr, errstr_size,
                                  "fvecs input needs a collection");
                        goto err;
                }
                /* A record: dimension and max_dim float32. */
                max_cap = 4 + in->opts.max_dim * 4;
        } else if (in->opts.format == VCDC_INPUT_JSONL) {
                if (in->opts.ids_path) {
                        vcdc_fail(errstr, errstr_size,
                                  "an ids file is for fvecs input only");
                        goto err;
                }
                /* A line and its "\r\n". */
                max_cap = in->opts.max_line + 2;
                if (!(in->js = vcdc_jsonscan_new())) {
                        vcdc_fail(errstr, errstr_size, "out of memory");
                        goto err;
                }
        } else {
                vcdc_fail(errstr, errstr_size, "unknown input format %d",
                          (int)in->opts.format);
                goto err;
        }
        in->dim = in->opts.dim;
        if (!(in->path = strdup(is_stdin ? "<stdin>" : path))) {
                vcdc_fail(errstr, errstr_size, "out of memory");
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
                vcdc_fail(errstr, errstr_size, "%s: %s", in->path, strerror(e));
                goto err;
        }
        if (in->opts.format == VCDC_INPUT_FVECS && in->opts.ids_path) {
                if (is_stdin && !strcmp(in->opts.ids_path, "-")) {
                        vcdc_fail(
                                errstr, errstr_size,
                                "vectors and ids cannot both come from stdin");
                        goto err;
                }
                is_stdin = !strcmp(in->opts.ids_path, "-");
                if (!(in->ids_path = strdup(is_stdin ? "<stdin>"
                                                     : in->opts.ids_path))) {
                        vcdc_fail(errstr, errstr_size, "out of memory");
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
                        vcdc_fail(errstr, errstr_size, "%s: %s", in->ids_path,
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

int vcdc_input_read_error(vcdc_input_t *in, const vcdc_reader_t *rd,
                          const char *path, char *errstr, size_t errstr_size) {
        in->failed = 1;
        vcdc_fail(errstr, errstr_size, "%s: read error after %s %zu: %s", path,
                  in->opts.format == VCDC_INPUT_FVECS ? "record" : "line",
                  in->line, strerror(rd->err));
        return VCDC_INPUT_IOERR;
}

int vcdc_input_next(vcdc_input_t *in, vcdc_record_t *rec, char *errstr,
                    size_t errstr_size) {
        int r;

        vcdc_record_clear(rec);
        if (in->failed) {
                vcdc_fail(errstr, errstr_size,
                          "%s: input stopped after an earlier error", in->path);
                return VCDC_INPUT_IOERR;
        }
        if (in->opts.format == VCDC_INPUT_FVECS)
                r = vcdc_input_next_fvecs(in, rec, errstr, errstr_size);
        else
                r = vcdc_input_next_jsonl(in, rec, errstr, errstr_size);
        if (r == VCDC_INPUT_IOERR) {
                in->failed = 1;
                vcdc_sanitize(errstr);
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
        d = vcdc_input_le32((const unsigned char *)rd->buf + rd->start);
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
