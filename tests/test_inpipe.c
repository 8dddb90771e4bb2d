/*
 * vcdc - unit tests: producer input on a worker thread (inpipe.h).
 *
 * The same files read with vcdc_input_next() and through the worker give
 * the same results in the same order (records field by field, bad lines
 * with their messages and line numbers, the dimension, the end); a pipe
 * that stays open gets its records through without the pipe closing, and
 * the worker still stops when the pipe does not; a signal ends the
 * caller's wait as it ends a read; stopping early frees what was read
 * ahead (ASan and valgrind check that).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "inpipe.h"
#include "input.h"
#include "input/inputkit.h"

static vcdc_input_t *open_input(const char *path,
                                const vcdc_input_opts_t *opts) {
        char errstr[512];
        vcdc_input_t *in = vcdc_input_open(path, opts, errstr,
                                           sizeof(errstr));

        if (!in)
                fail_msg("open %s: %s", path, errstr);
        return in;
}

static int same_str(const char *a, const char *b) {
        return (!a && !b) || (a && b && !strcmp(a, b));
}

/* Reads path both ways and compares every result. Returns the results. */
static size_t compare_ways(const char *path, const vcdc_input_opts_t *opts) {
        vcdc_input_t *in = open_input(path, opts);
        vcdc_inpipe_t *ip;
        vcdc_record_t a, b;
        char ea[1024], eb[1024];
        size_t n = 0;
        int ra, rb;

        ip = vcdc_inpipe_new(open_input(path, opts), ea, sizeof(ea));
        if (!ip)
                fail_msg("%s", ea);
        vcdc_record_init(&a);
        vcdc_record_init(&b);
        do {
                ea[0] = eb[0] = '\0';
                ra = vcdc_input_next(in, &a, ea, sizeof(ea));
                rb = vcdc_inpipe_next(ip, &b, eb, sizeof(eb));
                n++;
                assert_int_equal(ra, rb);
                assert_string_equal(ea, eb);
                assert_int_equal(vcdc_input_line(in), vcdc_inpipe_line(ip));
                assert_int_equal(vcdc_input_dim(in), vcdc_inpipe_dim(ip));
                assert_true(same_str(a.collection, b.collection));
                assert_true(same_str(a.id, b.id));
                assert_true(same_str(a.metadata, b.metadata));
                assert_true(same_str(a.document, b.document));
                assert_int_equal(a.op, b.op);
                assert_int_equal(a.dim, b.dim);
                if (a.dim)
                        assert_memory_equal(a.vector, b.vector,
                                            a.dim * sizeof(float));
                assert_int_equal(a.sparse_nnz, b.sparse_nnz);
                assert_true(a.source_ts_ms == b.source_ts_ms);
        } while (ra != VCDC_INPUT_EOF && ra != VCDC_INPUT_IOERR);
        /* and after the end, the end again */
        assert_int_equal(vcdc_inpipe_next(ip, &b, eb, sizeof(eb)), ra);
        vcdc_record_clear(&a);
        vcdc_record_clear(&b);
        vcdc_inpipe_destroy(ip);
        vcdc_input_close(in);
        return n;
}

static void test_same_results(void **state) {
        const size_t lines = getenv("VCDC_TEST_SMALL") ? 3000 : 30000;
        size_t cap = lines * 200, len = 0, i, blank = 0;
        char *content = malloc(cap), *path;
        vcdc_input_opts_t jopts = {.format = VCDC_INPUT_JSONL,
                                   .collection = "c",
                                   .max_dim = 64};
        vcdc_input_opts_t sample = {.format = VCDC_INPUT_JSONL,
                                    .max_dim = 64};
        vcdc_input_opts_t fopts = {.format = VCDC_INPUT_FVECS,
                                   .collection = "small",
                                   .ids_path = "data/input/small.ids"};

        (void)state;
        assert_non_null(content);
        /* records, bad lines of several kinds, blank lines, CRLF, a
         * dimension change: more than a batch's worth of each */
        for (i = 0; i < lines; i++) {
                static const char *bad[] = {
                        "{\"id\":\"x\",\"vector\":[1,2,3]}", /* dimension */
                        "{\"id\":\"x\",\"vectors\":[1]}",
                        "not json",
                        "{\"id\":\"x\",\"vector\":[NaN]}",
                        "",
                        "   ",
                };
                if (i % 7 == 3) {
                        len += (size_t)snprintf(content + len, cap - len,
                                                "%s\n", bad[(i / 7) % 6]);
                        blank += (i / 7) % 6 >= 4;
                } else
                        len += (size_t)snprintf(
                                content + len, cap - len,
                                "{\"id\":%zu,\"vector\":[%zu.25,-1e-3],"
                                "\"metadata\":{\"i\":%zu,\"r\":0.1},"
                                "\"document\":\"d%zu\"}%s",
                                i, i, i, i, i % 5 ? "\n" : "\r\n");
        }
        path = write_temp(content, len);
        /* a result for each line but the blank ones, then the end */
        assert_int_equal(compare_ways(path, &jopts), lines - blank + 1);
        remove_temp(path);
        free(content);
        /* the checked-in samples (the tests run from tests/) */
        assert_int_equal(compare_ways("data/input/bad-sample.jsonl", &sample),
                         2 * 43 + 2);
        assert_int_equal(compare_ways("data/input/mixed.jsonl", &jopts), 9);
        assert_int_equal(compare_ways("data/input/small.fvecs", &fopts), 4);
}

/* Stopping after a few records, with the worker far ahead or waiting. */
static void test_stop_early(void **state) {
        size_t cap = 4000 * 64, len = 0, i, k;
        char *content = malloc(cap), *path, errstr[512];
        vcdc_input_opts_t opts = {.format = VCDC_INPUT_JSONL,
                                  .collection = "c"};
        vcdc_record_t rec;

        (void)state;
        assert_non_null(content);
        for (i = 0; i < 4000; i++)
                len += (size_t)snprintf(content + len, cap - len,
                                        "{\"id\":%zu,\"vector\":[1,2]}\n", i);
        path = write_temp(content, len);
        vcdc_record_init(&rec);
        for (k = 0; k < 3; k++) {
                vcdc_inpipe_t *ip = vcdc_inpipe_new(open_input(path, &opts),
                                                    errstr, sizeof(errstr));

                assert_non_null(ip);
                for (i = 0; i < k * 600; i++)
                        assert_int_equal(vcdc_inpipe_next(ip, &rec, errstr,
                                                          sizeof(errstr)),
                                         VCDC_INPUT_RECORD);
                assert_int_equal(vcdc_inpipe_line(ip), k * 600);
                vcdc_inpipe_destroy(ip);
        }
        vcdc_record_clear(&rec);
        vcdc_inpipe_destroy(NULL);
        remove_temp(path);
        free(content);
}

static void write_all(int fd, const char *s) {
        assert_int_equal(write(fd, s, strlen(s)), (ssize_t)strlen(s));
}

/* A pipe whose writer stays: each record comes through as soon as its
 * line is there, and the worker, waiting for more, still stops. */
static void test_open_pipe(void **state) {
        vcdc_input_opts_t opts = {.format = VCDC_INPUT_JSONL,
                                  .collection = "c"};
        char path[64], errstr[512];
        vcdc_inpipe_t *ip;
        vcdc_record_t rec;
        int fds[2], i;

        (void)state;
        assert_int_equal(pipe(fds), 0);
        snprintf(path, sizeof(path), "/dev/fd/%d", fds[0]);
        ip = vcdc_inpipe_new(open_input(path, &opts), errstr, sizeof(errstr));
        assert_non_null(ip);
        vcdc_record_init(&rec);
        alarm(30); /* a hang below is a failure, not a stuck test */
        for (i = 0; i < 3; i++) {
                char line[64], id[16];

                snprintf(line, sizeof(line), "{\"id\":%d,\"vector\":[1]}\n",
                         i);
                write_all(fds[1], line);
                assert_int_equal(vcdc_inpipe_next(ip, &rec, errstr,
                                                  sizeof(errstr)),
                                 VCDC_INPUT_RECORD);
                snprintf(id, sizeof(id), "%d", i);
                assert_string_equal(rec.id, id);
                assert_int_equal(vcdc_inpipe_line(ip), i + 1);
        }
        /* half a line: the worker waits in its read */
        write_all(fds[1], "{\"id\":");
        vcdc_inpipe_destroy(ip);
        alarm(0);
        vcdc_record_clear(&rec);
        close(fds[0]);
        close(fds[1]);
}

static void on_alarm(int sig) {
        (void)sig;
}

/* A signal ends the caller's wait: an I/O error, then again. */
static void test_signal(void **state) {
        vcdc_input_opts_t opts = {.format = VCDC_INPUT_JSONL,
                                  .collection = "c"};
        struct itimerval every = {{0, 20000}, {0, 20000}}, off = {{0, 0},
                                                                  {0, 0}};
        struct sigaction sa, old;
        char path[64], errstr[512];
        vcdc_inpipe_t *ip;
        vcdc_record_t rec;
        int fds[2];

        (void)state;
        assert_int_equal(pipe(fds), 0);
        snprintf(path, sizeof(path), "/dev/fd/%d", fds[0]);
        ip = vcdc_inpipe_new(open_input(path, &opts), errstr, sizeof(errstr));
        assert_non_null(ip);
        vcdc_record_init(&rec);
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_alarm; /* no SA_RESTART, as vcdc-producer */
        sigaction(SIGALRM, &sa, &old);
        /* SIGALRM every 20 ms until the wait ends: the first one after
         * the caller blocks ends it */
        setitimer(ITIMER_REAL, &every, NULL);
        assert_int_equal(vcdc_inpipe_next(ip, &rec, errstr, sizeof(errstr)),
                         VCDC_INPUT_IOERR);
        setitimer(ITIMER_REAL, &off, NULL);
        sigaction(SIGALRM, &old, NULL);
        assert_non_null(strstr(errstr, "read error after line 0: "));
        assert_non_null(strstr(errstr, strerror(EINTR)));
        assert_int_equal(vcdc_inpipe_next(ip, &rec, errstr, sizeof(errstr)),
                         VCDC_INPUT_IOERR);
        vcdc_inpipe_destroy(ip);
        close(fds[0]);
        close(fds[1]);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_same_results),
                cmocka_unit_test(test_stop_early),
                cmocka_unit_test(test_open_pipe),
                cmocka_unit_test(test_signal),
        };

        return cmocka_run_group_tests_name("inpipe", tests, NULL, NULL);
}
