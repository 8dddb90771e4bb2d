/*
 * vcdc - fvecs input (ANN benchmarks): little-endian int32 dimension then
 * that many float32, ids from the row numbers or a sidecar file, with
 * "path:record N: what" on every error. Knows nothing of JSON.
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
#include "utf8.h"

static char *dup_mem_str(const char *s, size_t len) {
        char *d = malloc(len + 1);

        if (!d)
                return NULL;
        memcpy(d, s, len);
        d[len] = '\0';
        return d;
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
                vcdc_fail(errstr, errstr_size,
                          "%s: read error after line %zu: %s", in->ids_path,
                          in->ids_line, strerror(in->ids.err));
                return VCDC_INPUT_IOERR;
        }
        if (r == VCDC_LINE_EOF) {
                in->failed = 1;
                vcdc_fail(errstr, errstr_size,
                          "%s:record %zu: the ids file %s has only %zu lines, "
                          "fewer than the vectors",
                          in->path, in->line, in->ids_path, in->ids_line);
                return VCDC_INPUT_IOERR;
        }
        in->ids_line++;
        if (r == VCDC_LINE_TOO_LONG) {
                vcdc_fail(errstr, errstr_size,
                          "id on line %zu of %s is %" PRIu64
                          " bytes, more than "
                          "the maximum %d",
                          in->ids_line, in->ids_path, long_len,
                          VCDC_ID_MAX_BYTES);
                return VCDC_INPUT_BAD;
        }
        if (len == 0) {
                vcdc_fail(errstr, errstr_size, "empty id on line %zu of %s",
                          in->ids_line, in->ids_path);
                return VCDC_INPUT_BAD;
        }
        if (memchr(line, '\0', len)) {
                vcdc_fail(errstr, errstr_size,
                          "NUL byte in the id on line %zu of %s", in->ids_line,
                          in->ids_path);
                return VCDC_INPUT_BAD;
        }
        if (!vcdc_utf8_valid(line, len)) {
                vcdc_fail(errstr, errstr_size,
                          "invalid UTF-8 in the id on line %zu of %s",
                          in->ids_line, in->ids_path);
                return VCDC_INPUT_BAD;
        }
        if (!(rec->id = dup_mem_str(line, len))) {
                in->failed = 1;
                vcdc_fail(errstr, errstr_size, "%s:record %zu: out of memory",
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
                        vcdc_fail(errstr, errstr_size,
                                  "%s: read error after line %zu: %s",
                                  in->ids_path, in->ids_line,
                                  strerror(in->ids.err));
                        return -1;
                }
                in->ids_line++;
                if (r == VCDC_LINE_TOO_LONG || len > 0) {
                        vcdc_fail(errstr, errstr_size,
                                  "%s: the ids file %s has more lines than the "
                                  "%zu vectors (line %zu)",
                                  in->path, in->ids_path, in->line,
                                  in->ids_line);
                        return -1;
                }
        }
}

int vcdc_input_next_fvecs(vcdc_input_t *in, vcdc_record_t *rec, char *errstr,
                          size_t errstr_size) {
        vcdc_reader_t *rd = &in->rd;
        const unsigned char *p;
        uint64_t offset;
        size_t avail, need, rec_no;
        int32_t d;
        int r;
        char what[256];

        if (vcdc_reader_need(rd, 4))
                return vcdc_input_read_error(in, rd, in->path, errstr,
                                             errstr_size);
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
                vcdc_fail(errstr, errstr_size,
                          "%s:record %zu: truncated record at byte offset "
                          "%" PRIu64 ": %zu bytes left, a record starts with 4",
                          in->path, rec_no, offset, avail);
                return VCDC_INPUT_IOERR;
        }
        d = (int32_t)vcdc_input_le32((const unsigned char *)rd->buf +
                                     rd->start);
        if (d <= 0 || (size_t)d > in->opts.max_dim) {
                in->failed = 1;
                vcdc_fail(errstr, errstr_size,
                          "%s:record %zu: dimension %" PRId32
                          " at byte offset %" PRIu64
                          " is %s (not an fvecs file?)",
                          in->path, rec_no, d, offset,
                          d <= 0 ? "not positive" : "above the maximum");
                return VCDC_INPUT_IOERR;
        }
        if (in->dim && (size_t)d != in->dim) {
                in->failed = 1;
                if (in->dim_line)
                        vcdc_fail(errstr, errstr_size,
                                  "%s:record %zu: dimension %" PRId32
                                  " at byte "
                                  "offset %" PRIu64 " differs from %zu (from "
                                  "record %zu)",
                                  in->path, rec_no, d, offset, in->dim,
                                  in->dim_line);
                else
                        vcdc_fail(
                                errstr, errstr_size,
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
                return vcdc_input_read_error(in, rd, in->path, errstr,
                                             errstr_size);
        avail = rd->end - rd->start;
        if (avail < need) {
                in->failed = 1;
                vcdc_fail(errstr, errstr_size,
                          "%s:record %zu: truncated record at byte offset "
                          "%" PRIu64 ": %zu bytes left, dimension %" PRId32
                          " needs %zu",
                          in->path, rec_no, offset, avail, d, need);
                return VCDC_INPUT_IOERR;
        }
        p = (const unsigned char *)rd->buf + rd->start + 4;
        rd->start += need;
        rd->scan = rd->start;

        if (in->has_ids) {
                r = next_id(in, rec, what, sizeof(what));
                if (r == VCDC_INPUT_IOERR) {
                        vcdc_fail(errstr, errstr_size, "%s", what);
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
        for (size_t i = 0; i < (size_t)d; i++) {
                uint32_t u = vcdc_input_le32(p + i * 4);

                memcpy(&rec->vector[i], &u, sizeof(u));
        }
#endif
        if (vcdc_vector_check(rec->vector, (size_t)d, what, sizeof(what)))
                goto bad;
        rec->dim = (size_t)d;
        rec->op = VCDC_OP_UPSERT;
        if (!(rec->collection = strdup(in->opts.collection)))
                goto oom;
        return VCDC_INPUT_RECORD;

bad:
        vcdc_record_clear(rec);
        vcdc_fail(errstr, errstr_size, "%s:record %zu: %s", in->path, rec_no,
                  what);
        vcdc_sanitize(errstr);
        return VCDC_INPUT_BAD;
oom:
        vcdc_record_clear(rec);
        in->failed = 1;
        vcdc_fail(errstr, errstr_size, "%s:record %zu: out of memory", in->path,
                  rec_no);
        return VCDC_INPUT_IOERR;
}
