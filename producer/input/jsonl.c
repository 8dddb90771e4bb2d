/*
 * vcdc - JSON Lines input: one change record per line, through the JSON
 * fast path (common/json/jsonrec.h), with "path:line: what" on every
 * error. Reads lines; knows nothing of fvecs.
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
#include "jsonrec.h"

/*
 * JSON Lines: one record
 */

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

int vcdc_input_parse_json(const char *line, size_t len,
                          const vcdc_input_opts_t *opts, size_t *dimp,
                          vcdc_record_t *rec, char *errstr,
                          size_t errstr_size) {
        vcdc_input_opts_t o;
        vcdc_jsonscan_t *js;
        int r;

        vcdc_record_clear(rec);
        if (vcdc_input_opts_resolve(&o, opts, errstr, errstr_size))
                return -1;
        if (!(js = vcdc_jsonscan_new())) {
                vcdc_fail(errstr, errstr_size, "out of memory");
                return -1;
        }
        r = parse_line(js, line, len, 0, &o, dimp && *dimp ? *dimp : o.dim, 0,
                       !(dimp && *dimp) && o.dim, rec, errstr, errstr_size);
        vcdc_jsonscan_destroy(js);
        if (r)
                return -1;
        if (dimp && rec->dim)
                *dimp = rec->dim;
        return 0;
}

int vcdc_input_next_jsonl(vcdc_input_t *in, vcdc_record_t *rec, char *errstr,
                          size_t errstr_size) {
        char what[512];

        for (;;) {
                const char *line = NULL;
                size_t len = 0, skipped = 0, i;
                uint64_t long_len = 0;
                int r;

                r = vcdc_reader_line(&in->rd, in->opts.max_line, &line, &len,
                                     &long_len);
                if (r == VCDC_LINE_EOF)
                        return VCDC_INPUT_EOF;
                if (r == VCDC_LINE_IOERR)
                        return vcdc_input_read_error(in, &in->rd, in->path,
                                                     errstr, errstr_size);
                in->line++;
                if (r == VCDC_LINE_TOO_LONG) {
                        vcdc_fail(errstr, errstr_size,
                                  "%s:%zu: line is %" PRIu64
                                  " bytes, longer than "
                                  "the maximum %zu",
                                  in->path, in->line, long_len,
                                  in->opts.max_line);
                        return VCDC_INPUT_BAD;
                }
                if (len >= 3 && !memcmp(line, "\xef\xbb\xbf", 3)) {
                        if (in->line > 1) {
                                /* e.g. files joined with cat */
                                vcdc_fail(
                                        errstr, errstr_size,
                                        "%s:%zu: byte order mark at the start "
                                        "of line %zu (allowed only at the "
                                        "start "
                                        "of the input)",
                                        in->path, in->line, in->line);
                                return VCDC_INPUT_BAD;
                        }
                        line += 3;
                        len -= 3;
                        skipped = 3;
                }
                for (i = 0; i < len && (line[i] == ' ' || line[i] == '\t'); i++)
                        ;
                if (i == len)
                        continue; /* blank */

                if (parse_line(in->js, line, len, skipped, &in->opts, in->dim,
                               in->dim_line, in->opts.dim && !in->dim_line, rec,
                               what, sizeof(what))) {
                        vcdc_fail(errstr, errstr_size, "%s:%zu: %s", in->path,
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
