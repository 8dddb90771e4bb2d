/*
 * vcdc - unit tests: the producer's input readers over whole files: JSON
 * Lines (line ends, bad bytes, long lines, many lines, open errors), fvecs
 * and its ids file, and the checked-in samples under data/input/.
 * test_input_lines.c checks single records.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "input.h"
#include "input/inputkit.h"

static void test_jsonl_file(void **state) {
        char *path = write_temp_str(
                "{\"id\":\"a\",\"vector\":[1,2,3,4]}\n"     /* 1 */
                "\n"                                        /* 2 */
                "{\"id\":\"b\",\"vector\":[1,2,3]}\n"       /* 3 */
                "   \t \n"                                  /* 4 */
                "{\"id\":\"c\",\"vectors\":[1,2,3,4]}\n"    /* 5 */
                "not json\n"                                /* 6 */
                "{\"id\":\"d\",\"op\":\"delete\"}\n"        /* 7 */
                "{\"id\":\"e\",\"vector\":[5,6,7,8]}\n"     /* 8 */
                "{\"id\":\"f\",\"vector\":[1,2,3,4,5]}\n"); /* 9 */
        vcdc_input_t *in = open_jsonl(path, "c", 0);
        vcdc_record_t rec;

        (void)state;
        vcdc_record_init(&rec);
        assert_int_equal(vcdc_input_dim(in), 0);
        expect_record(in, &rec, 1, "a");
        assert_int_equal(rec.dim, 4);
        assert_string_equal(rec.collection, "c");
        assert_int_equal(vcdc_input_dim(in), 4);
        /* rec is cleared by the next call */
        expect_bad(in, &rec, path, 3,
                   "vector has 3 dimensions, expected 4 (from line 1)");
        expect_bad(in, &rec, path, 5, "unknown field \"vectors\"");
        expect_bad(in, &rec, path, 6,
                   "invalid JSON at column 3: invalid token near 'not'");
        expect_record(in, &rec, 7, "d");
        assert_int_equal(rec.op, VCDC_OP_DELETE);
        expect_record(in, &rec, 8, "e");
        assert_true(rec.vector[3] == 8.0f);
        expect_bad(in, &rec, path, 9, "expected 4 (from line 1)");
        expect_eof(in, &rec);
        vcdc_input_close(in);
        remove_temp(path);
}

/* A bad first line does not fix the dimension; the first good one does. */
static void test_jsonl_dim_from_first_good(void **state) {
        char *path = write_temp_str("{\"id\":\"a\",\"vector\":[1,2],\"x\":1}\n"
                                    "{\"id\":\"b\",\"vector\":[1,2,3]}\n"
                                    "{\"id\":\"c\",\"vector\":[1,2]}\n");
        vcdc_input_opts_t opts = {.collection = "c", .dim = 0};
        vcdc_input_t *in;
        vcdc_record_t rec;

        (void)state;
        vcdc_record_init(&rec);
        in = open_jsonl(path, "c", 0);
        expect_bad(in, &rec, path, 1, "unknown field \"x\"");
        expect_record(in, &rec, 2, "b");
        expect_bad(in, &rec, path, 3, "expected 3 (from line 2)");
        expect_eof(in, &rec);
        vcdc_input_close(in);

        /* with a required dimension */
        opts.dim = 2;
        in = vcdc_input_open(path, &opts, errstr, sizeof(errstr));
        assert_non_null(in);
        assert_int_equal(vcdc_input_dim(in), 2);
        expect_bad(in, &rec, path, 1, "unknown field");
        expect_bad(in, &rec, path, 2, "expected 2 (the required dimension)");
        expect_record(in, &rec, 3, "c");
        expect_eof(in, &rec);
        vcdc_input_close(in);
        remove_temp(path);
}

static void test_jsonl_line_ends(void **state) {
        static const struct {
                const char *content;
                size_t len; /* 0: strlen */
                const char *ids[4];
        } cases[] = {
                /* CRLF */
                {"{\"id\":\"a\",\"vector\":[1]}\r\n\r\n"
                 "{\"id\":\"b\",\"vector\":[2]}\r\n",
                 0,
                 {"a", "b"}},
                /* no newline at the end */
                {"{\"id\":\"a\",\"vector\":[1]}\n"
                 "{\"id\":\"b\",\"vector\":[2]}",
                 0,
                 {"a", "b"}},
                /* no newline, CR at the end */
                {"{\"id\":\"a\",\"vector\":[1]}\r", 0, {"a"}},
                /* a byte order mark */
                {"\xef\xbb\xbf{\"id\":\"a\",\"vector\":[1]}\n", 0, {"a"}},
                /* only blank lines */
                {"\n\n  \n\r\n", 0, {NULL}},
                /* empty file */
                {"", 0, {NULL}},
        };
        vcdc_record_t rec;
        size_t i, k;

        (void)state;
        vcdc_record_init(&rec);
        for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                char *path = write_temp_str(cases[i].content);
                vcdc_input_t *in = open_jsonl(path, "c", 0);

                for (k = 0; k < 4 && cases[i].ids[k]; k++) {
                        assert_int_equal(vcdc_input_next(in, &rec, errstr,
                                                         sizeof(errstr)),
                                         VCDC_INPUT_RECORD);
                        assert_string_equal(rec.id, cases[i].ids[k]);
                }
                expect_eof(in, &rec);
                vcdc_input_close(in);
                remove_temp(path);
        }
}

/* NUL bytes and invalid UTF-8 in a file: BAD, and the stream goes on. */
static void test_jsonl_bad_bytes(void **state) {
        static const char content[] =
                "{\"id\":\"a\",\"vector\":[1]}\n"
                "{\"id\":\"b\0\",\"vector\":[1]}\n"
                "{\"id\":\"\xff\",\"vector\":[1]}\n"
                /* a byte order mark belongs at the start of line 1 only */
                "\xef\xbb\xbf{\"id\":\"x\",\"vector\":[1]}\n"
                "{\"id\":\"e\",\"vector\":[1]}\n";
        char *path = write_temp(content, sizeof(content) - 1);
        vcdc_input_t *in = open_jsonl(path, "c", 0);
        vcdc_record_t rec;

        (void)state;
        vcdc_record_init(&rec);
        expect_record(in, &rec, 1, "a");
        expect_bad(in, &rec, path, 2, "NUL byte at column 9");
        expect_bad(in, &rec, path, 3, "invalid UTF-8 at byte 8");
        expect_bad(in, &rec, path, 4, "byte order mark at the start of line 4");
        expect_record(in, &rec, 5, "e");
        expect_eof(in, &rec);
        vcdc_input_close(in);
        remove_temp(path);
}

/* A line of content_len bytes (its document filled up) plus end. */
static char *make_line(const char *id, size_t content_len, const char *end) {
        size_t overhead = strlen("{\"id\":\"\",\"vector\":[1],"
                                 "\"document\":\"\"}") +
                          strlen(id);
        size_t doc_len = content_len - overhead;
        size_t size = content_len + 128;
        char *s = malloc(size);
        int n;

        assert_non_null(s);
        n = snprintf(s, size, "{\"id\":\"%s\",\"vector\":[1],\"document\":\"",
                     id);
        memset(s + n, 'd', doc_len);
        snprintf(s + n + doc_len, size - (size_t)n - doc_len, "\"}%s", end);
        return s;
}

static void test_jsonl_long_lines(void **state) {
        /* line lengths around max_line = 100, with LF and CRLF */
        char *exact = make_line("exact", 100, "\n");
        char *exact_crlf = make_line("crlf", 100, "\r\n");
        char *over = make_line("over", 101, "\n");
        /* far longer than the reader's first buffer: skipped in chunks */
        char *huge = make_line("huge", 3 * 1024 * 1024 + 50, "\r\n");
        char *last = make_line("last", 60, "");
        size_t size = strlen(exact) + strlen(exact_crlf) + strlen(over) +
                      strlen(huge) + strlen(last) + 1;
        char *content = malloc(size), *path;
        vcdc_input_t *in;
        vcdc_record_t rec;
        char expect[128];

        (void)state;
        vcdc_record_init(&rec);
        assert_int_equal(strlen(exact), 101);
        assert_int_equal(strlen(exact_crlf), 102);
        assert_non_null(content);
        snprintf(content, size, "%s%s%s%s%s", exact, exact_crlf, over, huge,
                 last);
        path = write_temp_str(content);

        in = open_jsonl(path, "c", 100);
        expect_record(in, &rec, 1, "exact");
        expect_record(in, &rec, 2, "crlf");
        expect_bad(in, &rec, path, 3,
                   "line is 101 bytes, longer than the maximum 100");
        snprintf(expect, sizeof(expect),
                 "line is %zu bytes, longer than the "
                 "maximum 100",
                 strlen(huge) - 2);
        expect_bad(in, &rec, path, 4, expect);
        expect_record(in, &rec, 5, "last");
        expect_eof(in, &rec);
        vcdc_input_close(in);

        /* an over-long last line without a newline */
        in = open_jsonl(path, "c", strlen(huge) - 3);
        expect_record(in, &rec, 1, "exact");
        expect_record(in, &rec, 2, "crlf");
        expect_record(in, &rec, 3, "over");
        expect_bad(in, &rec, path, 4, "longer than the maximum");
        expect_record(in, &rec, 5, "last");
        expect_eof(in, &rec);
        vcdc_input_close(in);

        /* the default limit takes a 3 MiB line (the buffer grows) */
        in = open_jsonl(path, "c", 0);
        expect_record(in, &rec, 1, "exact");
        expect_record(in, &rec, 2, "crlf");
        expect_record(in, &rec, 3, "over");
        snprintf(expect, sizeof(expect),
                 "\"document\" is %zu bytes, more "
                 "than the maximum 1048576",
                 (size_t)3 * 1024 * 1024 + 50 -
                         strlen("{\"id\":\"huge\",\"vector\":[1],\"document\":"
                                "\"\"}"));
        expect_bad(in, &rec, path, 4, expect);
        expect_record(in, &rec, 5, "last");
        expect_eof(in, &rec);
        vcdc_input_close(in);

        remove_temp(path);
        free(content);
        free(exact);
        free(exact_crlf);
        free(over);
        free(huge);
        free(last);
}

/* Many lines: several buffer refills, lines across buffer boundaries. */
static void test_jsonl_many_lines(void **state) {
        const size_t n = 20000;
        size_t size = n * 160, len = 0, i;
        char *content = malloc(size), *path;
        vcdc_input_t *in;
        vcdc_record_t rec;

        (void)state;
        assert_non_null(content);
        for (i = 0; i < n; i++)
                len += (size_t)snprintf(
                        content + len, size - len,
                        "{\"id\":%zu,\"vector\":[%zu.5,-1e-3,2],"
                        "\"metadata\":{\"i\":%zu}}%s",
                        i, i, i, i % 3 ? "\n" : "\r\n");
        path = write_temp(content, len);
        in = open_jsonl(path, "c", 0);
        vcdc_record_init(&rec);
        for (i = 0; i < n; i++) {
                char id[32];

                snprintf(id, sizeof(id), "%zu", i);
                expect_record(in, &rec, i + 1, id);
                assert_true(rec.vector[0] == (float)((double)i + 0.5));
        }
        expect_eof(in, &rec);
        vcdc_input_close(in);
        remove_temp(path);
        free(content);
}

static void test_open_errors(void **state) {
        vcdc_input_opts_t opts = {.format = VCDC_INPUT_FVECS};
        vcdc_input_opts_t jopts = {
                .format = VCDC_INPUT_JSONL, .dim = 10, .max_dim = 5};
        char *path = write_temp_str("");

        (void)state;
        assert_null(vcdc_input_open("/nonexistent/x.jsonl", NULL, errstr,
                                    sizeof(errstr)));
        assert_contains(errstr, "/nonexistent/x.jsonl: No such file");
        assert_null(vcdc_input_open(path, &opts, errstr, sizeof(errstr)));
        assert_contains(errstr, "fvecs input needs a collection");
        assert_null(vcdc_input_open(path, &jopts, errstr, sizeof(errstr)));
        assert_contains(errstr, "dimension 10 is more than the maximum 5");
        opts.collection = "c";
        opts.ids_path = "/nonexistent/ids.txt";
        assert_null(vcdc_input_open(path, &opts, errstr, sizeof(errstr)));
        assert_contains(errstr, "/nonexistent/ids.txt");
        jopts.dim = 0;
        jopts.ids_path = "ids.txt";
        assert_null(vcdc_input_open(path, &jopts, errstr, sizeof(errstr)));
        assert_contains(errstr, "for fvecs input only");
        vcdc_input_close(NULL);
        remove_temp(path);
}

static void test_fvecs_roundtrip(void **state) {
        const size_t n = 1000, dim = 16;
        unsigned char *data = malloc(n * (4 + 4 * dim));
        size_t len = 0, i, k;
        float v[16];
        char *path;
        vcdc_input_t *in;
        vcdc_record_t rec;

        (void)state;
        assert_non_null(data);
        for (i = 0; i < n; i++) {
                for (k = 0; k < dim; k++)
                        v[k] = (float)i + (float)k / 16.0f - 3.0f;
                v[0] = i == 7 ? FLT_MAX : v[0];
                v[1] = i == 7 ? -FLT_MIN : v[1];
                len += put_fvec(data + len, (int32_t)dim, v);
        }
        path = write_temp(data, len);
        in = open_fvecs(path, NULL, 0);
        vcdc_record_init(&rec);
        for (i = 0; i < n; i++) {
                char id[32];

                assert_int_equal(
                        vcdc_input_next(in, &rec, errstr, sizeof(errstr)),
                        VCDC_INPUT_RECORD);
                snprintf(id, sizeof(id), "%zu", i);
                assert_string_equal(rec.id, id);
                assert_string_equal(rec.collection, "vecs");
                assert_int_equal(rec.op, VCDC_OP_UPSERT);
                assert_int_equal(rec.dim, dim);
                assert_int_equal(vcdc_input_line(in), i + 1);
                assert_int_equal(vcdc_input_dim(in), dim);
                for (k = 2; k < dim; k++)
                        assert_true(rec.vector[k] ==
                                    (float)i + (float)k / 16.0f - 3.0f);
                if (i == 7) {
                        assert_true(rec.vector[0] == FLT_MAX);
                        assert_true(rec.vector[1] == -FLT_MIN);
                }
                assert_null(rec.metadata);
                assert_int_equal(rec.source_ts_ms, -1);
        }
        expect_eof(in, &rec);
        vcdc_input_close(in);
        remove_temp(path);
        free(data);
}

static void test_fvecs_errors(void **state) {
        float v[4] = {1, 2, 3, 4}, nan4[4] = {1, NAN, 3, 4},
              inf4[4] = {1, 2, 3, -INFINITY};
        unsigned char data[256];
        size_t len = 0, len2;
        char *path;
        vcdc_input_t *in;
        vcdc_record_t rec;

        (void)state;
        vcdc_record_init(&rec);

        /* NaN and infinity: BAD for that record, the stream goes on */
        len = put_fvec(data, 4, v);
        len += put_fvec(data + len, 4, nan4);
        len += put_fvec(data + len, 4, inf4);
        len += put_fvec(data + len, 4, v);
        path = write_temp(data, len);
        in = open_fvecs(path, NULL, 0);
        assert_int_equal(vcdc_input_next(in, &rec, errstr, sizeof(errstr)),
                         VCDC_INPUT_RECORD);
        expect_bad_record(in, &rec, path, 2, "vector[1] is NaN");
        expect_bad_record(in, &rec, path, 3, "vector[3] is infinite");
        assert_int_equal(vcdc_input_next(in, &rec, errstr, sizeof(errstr)),
                         VCDC_INPUT_RECORD);
        assert_string_equal(rec.id, "3");
        expect_eof(in, &rec);
        vcdc_input_close(in);
        remove_temp(path);

        /* a truncated last record */
        len = put_fvec(data, 4, v);
        len += put_fvec(data + len, 4, v);
        len2 = len + put_fvec(data + len, 4, v);
        path = write_temp(data, len2 - 3);
        in = open_fvecs(path, NULL, 0);
        assert_int_equal(vcdc_input_next(in, &rec, errstr, sizeof(errstr)),
                         VCDC_INPUT_RECORD);
        assert_int_equal(vcdc_input_next(in, &rec, errstr, sizeof(errstr)),
                         VCDC_INPUT_RECORD);
        expect_ioerr(in, &rec, path, 3,
                     "truncated record at byte offset 40: 17 bytes left, "
                     "dimension 4 needs 20");
        vcdc_input_close(in);
        remove_temp(path);

        /* a truncated header */
        path = write_temp(data, 20 + 2);
        in = open_fvecs(path, NULL, 0);
        assert_int_equal(vcdc_input_next(in, &rec, errstr, sizeof(errstr)),
                         VCDC_INPUT_RECORD);
        expect_ioerr(in, &rec, path, 2,
                     "truncated record at byte offset 20: 2 bytes left");
        vcdc_input_close(in);
        remove_temp(path);

        /* a dimension that changes */
        len = put_fvec(data, 4, v);
        len += put_fvec(data + len, 3, v);
        path = write_temp(data, len);
        in = open_fvecs(path, NULL, 0);
        assert_int_equal(vcdc_input_next(in, &rec, errstr, sizeof(errstr)),
                         VCDC_INPUT_RECORD);
        expect_ioerr(in, &rec, path, 2,
                     "dimension 3 at byte offset 20 differs from 4 (from "
                     "record 1)");
        vcdc_input_close(in);
        /* ... or differs from the required one */
        in = open_fvecs(path, NULL, 3);
        expect_ioerr(in, &rec, path, 1,
                     "dimension 4 at byte offset 0 differs from the "
                     "required 3");
        vcdc_input_close(in);
        remove_temp(path);

        /* dimensions that are not */
        len = put_fvec(data, 0, v);
        path = write_temp(data, len);
        in = open_fvecs(path, NULL, 0);
        expect_ioerr(in, &rec, path, 1,
                     "dimension 0 at byte offset 0 is not positive (not an "
                     "fvecs file?)");
        vcdc_input_close(in);
        remove_temp(path);
        path = write_temp("{\"id\":1}\n", 9); /* JSON read as fvecs */
        in = open_fvecs(path, NULL, 0);
        expect_ioerr(in, &rec, path, 1, "is above the maximum");
        vcdc_input_close(in);
        remove_temp(path);
        len = put_fvec(data, -4, v);
        path = write_temp(data, len);
        in = open_fvecs(path, NULL, 0);
        expect_ioerr(in, &rec, path, 1, "dimension -4 at byte offset 0");
        vcdc_input_close(in);
        remove_temp(path);

        /* an empty file has no records */
        path = write_temp("", 0);
        in = open_fvecs(path, NULL, 0);
        expect_eof(in, &rec);
        vcdc_input_close(in);
        remove_temp(path);
}

static void test_fvecs_ids(void **state) {
        float v[2] = {0.5f, -0.5f};
        unsigned char data[5 * 12];
        size_t len = 0, i;
        char *path, *ids;
        vcdc_input_t *in;
        vcdc_record_t rec;

        (void)state;
        vcdc_record_init(&rec);
        for (i = 0; i < 5; i++)
                len += put_fvec(data + len, 2, v);
        path = write_temp(data, len);

        /* CRLF, an empty id, invalid UTF-8, no newline at the end */
        ids = write_temp_str("doc-a\r\nb\n\n\xff\xfe\ne");
        in = open_fvecs(path, ids, 0);
        expect_record(in, &rec, 1, "doc-a");
        assert_string_equal(rec.collection, "vecs");
        assert_true(rec.vector[1] == -0.5f);
        expect_record(in, &rec, 2, "b");
        expect_bad_record(in, &rec, path, 3, "empty id on line 3 of ");
        expect_bad_record(in, &rec, path, 4,
                          "invalid UTF-8 in the id on line 4");
        expect_record(in, &rec, 5, "e");
        expect_eof(in, &rec);
        vcdc_input_close(in);
        remove_temp(ids);

        /* fewer ids than vectors */
        ids = write_temp_str("a\nb\n");
        in = open_fvecs(path, ids, 0);
        expect_record(in, &rec, 1, "a");
        expect_record(in, &rec, 2, "b");
        expect_ioerr(in, &rec, path, 3,
                     "has only 2 lines, fewer than the "
                     "vectors");
        vcdc_input_close(in);
        remove_temp(ids);

        /* more ids than vectors; trailing blank lines are fine */
        ids = write_temp_str("a\nb\nc\nd\ne\n\n\n");
        in = open_fvecs(path, ids, 0);
        for (i = 0; i < 5; i++)
                assert_int_equal(
                        vcdc_input_next(in, &rec, errstr, sizeof(errstr)),
                        VCDC_INPUT_RECORD);
        expect_eof(in, &rec);
        vcdc_input_close(in);
        remove_temp(ids);
        ids = write_temp_str("a\nb\nc\nd\ne\nf\n");
        in = open_fvecs(path, ids, 0);
        for (i = 0; i < 5; i++)
                assert_int_equal(
                        vcdc_input_next(in, &rec, errstr, sizeof(errstr)),
                        VCDC_INPUT_RECORD);
        expect_ioerr(in, &rec, NULL, 0,
                     "has more lines than the 5 vectors "
                     "(line 6)");
        vcdc_input_close(in);
        remove_temp(ids);

        /* an over-long id */
        {
                static const char rest[] = "\nb\nc\nd\ne\n";
                char long_ids[700];

                memset(long_ids, 'i', 600);
                memcpy(long_ids + 600, rest, sizeof(rest));
                ids = write_temp_str(long_ids);
                in = open_fvecs(path, ids, 0);
                expect_bad_record(in, &rec, path, 1,
                                  "is 600 bytes, more than the maximum 512");
                expect_record(in, &rec, 2, "b");
                vcdc_record_clear(&rec);
                vcdc_input_close(in);
                remove_temp(ids);
        }
        remove_temp(path);
}

/* The checked-in samples (the tests run from tests/). */
static void test_data_files(void **state) {
        static const char *jsonl = "data/input/mixed.jsonl";
        static const char *fvecs = "data/input/small.fvecs";
        vcdc_input_opts_t opts = {.format = VCDC_INPUT_FVECS,
                                  .collection = "small",
                                  .ids_path = "data/input/small.ids"};
        vcdc_input_t *in = open_jsonl(jsonl, "docs", 0);
        vcdc_record_t rec;

        (void)state;
        vcdc_record_init(&rec);
        expect_record(in, &rec, 1, "a1");
        assert_string_equal(rec.metadata, "{\"k\":\"v\",\"n\":3}");
        expect_record(in, &rec, 2, "a2");
        assert_int_equal(rec.has_sparse, 1);
        expect_record(in, &rec, 4, "a1");
        assert_int_equal(rec.op, VCDC_OP_DELETE);
        expect_bad(in, &rec, jsonl, 5, "unknown field \"vectors\"");
        expect_bad(in, &rec, jsonl, 6,
                   "vector has 3 dimensions, expected 4 (from line 1)");
        expect_bad(in, &rec, jsonl, 7, "is not a JSON number");
        expect_bad(in, &rec, jsonl, 8, "\"id\" is missing");
        expect_record(in, &rec, 9, "7");
        assert_string_equal(rec.collection, "other");
        assert_string_equal(rec.document, "caf\xc3\xa9");
        assert_true(rec.source_ts_ms == 1700000000000LL);
        expect_eof(in, &rec);
        vcdc_input_close(in);

        in = vcdc_input_open(fvecs, &opts, errstr, sizeof(errstr));
        if (!in)
                fail_msg("%s", errstr);
        expect_record(in, &rec, 1, "first");
        assert_int_equal(rec.dim, 4);
        assert_true(rec.vector[0] == 1.0f && rec.vector[3] == 4.0f);
        expect_record(in, &rec, 2, "second");
        assert_true(rec.vector[0] == -0.5f && rec.vector[3] == 0.25f);
        expect_record(in, &rec, 3, "third");
        assert_true(rec.vector[1] == 1e-3f);
        expect_eof(in, &rec);
        vcdc_input_close(in);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_jsonl_file),
                cmocka_unit_test(test_jsonl_dim_from_first_good),
                cmocka_unit_test(test_jsonl_line_ends),
                cmocka_unit_test(test_jsonl_bad_bytes),
                cmocka_unit_test(test_jsonl_long_lines),
                cmocka_unit_test(test_jsonl_many_lines),
                cmocka_unit_test(test_open_errors),
                cmocka_unit_test(test_fvecs_roundtrip),
                cmocka_unit_test(test_fvecs_errors),
                cmocka_unit_test(test_fvecs_ids),
                cmocka_unit_test(test_data_files),
        };

        return cmocka_run_group_tests_name("input_files", tests, NULL, NULL);
}
