/*
 * vcdc - test kit for the producer's input readers (inputkit.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "inputkit.h"

char errstr[512];

void assert_contains(const char *s, const char *sub) {
        if (!strstr(s, sub))
                fail_msg("\"%s\" does not contain \"%s\"", s, sub);
}

void assert_record_clear(const vcdc_record_t *rec) {
        assert_null(rec->collection);
        assert_null(rec->id);
        assert_null(rec->vector);
        assert_null(rec->sparse_indices);
        assert_null(rec->sparse_values);
        assert_null(rec->metadata);
        assert_null(rec->document);
        assert_int_equal(rec->dim, 0);
        assert_int_equal(rec->has_sparse, 0);
}

char *write_temp(const void *data, size_t len) {
        const char *dir = getenv("TMPDIR");
        char *path;
        size_t size;
        int fd;

        if (!dir || !*dir)
                dir = "/tmp";
        size = strlen(dir) + 32;
        path = malloc(size);
        assert_non_null(path);
        snprintf(path, size, "%s/vcdc_test_input_XXXXXX", dir);
        fd = mkstemp(path);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, data, len), (ssize_t)len);
        assert_int_equal(close(fd), 0);
        return path;
}

char *write_temp_str(const char *s) {
        return write_temp(s, strlen(s));
}

void remove_temp(char *path) {
        unlink(path);
        free(path);
}

vcdc_input_t *open_jsonl(const char *path, const char *collection,
                         size_t max_line) {
        vcdc_input_opts_t opts = {.format = VCDC_INPUT_JSONL,
                                  .collection = collection,
                                  .max_line = max_line};
        vcdc_input_t *in = vcdc_input_open(path, &opts, errstr, sizeof(errstr));

        if (!in)
                fail_msg("open %s: %s", path, errstr);
        return in;
}

/* Expects a BAD whose message is "path:line: ..." (fvecs: "path:record
 * N: ...") containing what. */
void expect_bad_at(vcdc_input_t *in, vcdc_record_t *rec, const char *path,
                   int fvecs, size_t line, const char *what) {
        char prefix[600];
        int r = vcdc_input_next(in, rec, errstr, sizeof(errstr));

        if (r != VCDC_INPUT_BAD)
                fail_msg("line %zu: expected BAD, got %d (%s)", line, r,
                         r == VCDC_INPUT_RECORD ? rec->id : errstr);
        snprintf(prefix, sizeof(prefix), "%s:%s%zu: ", path,
                 fvecs ? "record " : "", line);
        if (strncmp(errstr, prefix, strlen(prefix)))
                fail_msg("\"%s\" does not start with \"%s\"", errstr, prefix);
        assert_contains(errstr, what);
        assert_int_equal(vcdc_input_line(in), line);
        assert_record_clear(rec);
}

void expect_bad(vcdc_input_t *in, vcdc_record_t *rec, const char *path,
                size_t line, const char *what) {
        expect_bad_at(in, rec, path, 0, line, what);
}

void expect_bad_record(vcdc_input_t *in, vcdc_record_t *rec, const char *path,
                       size_t record, const char *what) {
        expect_bad_at(in, rec, path, 1, record, what);
}

void expect_record(vcdc_input_t *in, vcdc_record_t *rec, size_t line,
                   const char *id) {
        int r = vcdc_input_next(in, rec, errstr, sizeof(errstr));

        if (r != VCDC_INPUT_RECORD)
                fail_msg("line %zu: expected a record, got %d (%s)", line, r,
                         errstr);
        assert_string_equal(rec->id, id);
        assert_int_equal(vcdc_input_line(in), line);
}

void expect_eof(vcdc_input_t *in, vcdc_record_t *rec) {
        int r = vcdc_input_next(in, rec, errstr, sizeof(errstr));

        if (r != VCDC_INPUT_EOF)
                fail_msg("expected EOF, got %d (%s)", r, errstr);
        assert_record_clear(rec);
        /* and EOF again */
        assert_int_equal(vcdc_input_next(in, rec, errstr, sizeof(errstr)),
                         VCDC_INPUT_EOF);
}

size_t put_fvec(unsigned char *p, int32_t dim, const float *v) {
        uint32_t u = (uint32_t)dim;
        size_t i, k, n = 0;

        for (k = 0; k < 4; k++)
                p[n++] = (unsigned char)(u >> (8 * k));
        for (i = 0; i < (size_t)(dim > 0 ? dim : 0); i++) {
                memcpy(&u, &v[i], 4);
                for (k = 0; k < 4; k++)
                        p[n++] = (unsigned char)(u >> (8 * k));
        }
        return n;
}

vcdc_input_t *open_fvecs(const char *path, const char *ids_path, size_t dim) {
        vcdc_input_opts_t opts = {.format = VCDC_INPUT_FVECS,
                                  .collection = "vecs",
                                  .ids_path = ids_path,
                                  .dim = dim};
        vcdc_input_t *in = vcdc_input_open(path, &opts, errstr, sizeof(errstr));

        if (!in)
                fail_msg("open %s: %s", path, errstr);
        return in;
}

/* Expects an IOERR naming the record and containing what, then IOERR on. */
void expect_ioerr(vcdc_input_t *in, vcdc_record_t *rec, const char *path,
                  size_t record, const char *what) {
        char prefix[600];

        assert_int_equal(vcdc_input_next(in, rec, errstr, sizeof(errstr)),
                         VCDC_INPUT_IOERR);
        if (record) {
                snprintf(prefix, sizeof(prefix), "%s:record %zu: ", path,
                         record);
                if (strncmp(errstr, prefix, strlen(prefix)))
                        fail_msg("\"%s\" does not start with \"%s\"", errstr,
                                 prefix);
        }
        assert_contains(errstr, what);
        assert_record_clear(rec);
        assert_int_equal(vcdc_input_next(in, rec, errstr, sizeof(errstr)),
                         VCDC_INPUT_IOERR);
}
