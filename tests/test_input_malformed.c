/*
 * vcdc - unit tests: the producer's JSON Lines reader on malformed input.
 * The checked-in sample of tests/integration/bad_input_gen.py (every one
 * of its classes of bad line, between valid ones), and a sweep: every
 * prefix of valid lines and seeded random mutations of them, each through
 * vcdc_input_parse_json, then all of them as one file through the reader.
 * test_input_lines.c holds the tables of valid and invalid lines,
 * test_input_files.c whole files.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "input.h"
#include "input/inputkit.h"

/*
 * Malformed input sweep
 */

static const char *sweep_lines[] = {
        "{\"collection\":\"docs\",\"id\":\"a1\",\"op\":\"upsert\","
        "\"vector\":[0.1,-2e-3,3],\"sparse\":{\"indices\":[3,9],"
        "\"values\":[1,2]},\"metadata\":{\"k\":\"v\",\"n\":[1,{\"x\":null}]},"
        "\"document\":\"t\xc3\xa9xt \\u00e9\\n\","
        "\"source_ts_ms\":1700000000000}",
        "{\"id\":42,\"op\":\"DELETE\",\"source_ts_ms\":0}",
        " { \"id\" : \"b\" , \"vector\" : [ 1 , 2 , 3 ] } ",
};

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint32_t rng(void) {
        /* xorshift64*: a fixed seed, the same sweep every run */
        rng_state ^= rng_state >> 12;
        rng_state ^= rng_state << 25;
        rng_state ^= rng_state >> 27;
        return (uint32_t)((rng_state * 0x2545f4914f6cdd1dULL) >> 32);
}

static void check_parse(const char *line, size_t len, size_t *okp) {
        vcdc_input_opts_t opts = {.collection = "c"};
        vcdc_record_t rec;
        size_t dim = 0;
        int r;

        vcdc_record_init(&rec);
        errstr[0] = '\0';
        r = vcdc_input_parse_json(line, len, &opts, &dim, &rec, errstr,
                                  sizeof(errstr));
        if (r == 0) {
                assert_non_null(rec.collection);
                assert_non_null(rec.id);
                assert_true(rec.op == VCDC_OP_DELETE || rec.dim > 0);
                (*okp)++;
        } else {
                assert_int_equal(r, -1);
                assert_true(errstr[0] != '\0');
                assert_record_clear(&rec);
        }
        vcdc_record_clear(&rec);
}

/* The committed sample of tests/integration/bad_input_gen.py (--sample):
 * odd lines valid, even lines one malformed line of each of its 43 small
 * classes (truncated, wrong types, bad UTF-8, NaN, 1e999, duplicate keys,
 * metadata too deep, ...). No default collection; max_dim 64. */
static void test_bad_sample(void **state) {
        static const char *path = "data/input/bad-sample.jsonl";
        vcdc_input_opts_t opts = {.format = VCDC_INPUT_JSONL, .max_dim = 64};
        vcdc_input_t *in;
        vcdc_record_t rec;
        char id[32];
        size_t line;

        (void)state;
        if (!(in = vcdc_input_open(path, &opts, errstr, sizeof(errstr))))
                fail_msg("open %s: %s", path, errstr);
        vcdc_record_init(&rec);
        for (line = 1; line <= 2 * 43 + 1; line++) {
                if (line % 2) {
                        snprintf(id, sizeof(id), "ok-%zu", line);
                        expect_record(in, &rec, line, id);
                } else {
                        expect_bad(in, &rec, path, line, ": ");
                }
        }
        expect_eof(in, &rec);
        vcdc_input_close(in);
}

static void test_malformed_sweep(void **state) {
        const size_t mutations = 20000;
        size_t i, k, ok = 0, bad = 0, cap = 0, len_all = 0;
        char *all = NULL, *path;
        vcdc_input_t *in;
        vcdc_record_t rec;
        int r;

        (void)state;
        /* every prefix of every valid line */
        for (i = 0; i < sizeof(sweep_lines) / sizeof(*sweep_lines); i++) {
                size_t len = strlen(sweep_lines[i]), before = ok;

                for (k = 0; k <= len; k++) {
                        /* a copy of exactly k bytes, so that ASan sees any
                         * read past the end */
                        char *p = malloc(k ? k : 1);

                        assert_non_null(p);
                        memcpy(p, sweep_lines[i], k);
                        check_parse(p, k, &ok);
                        free(p);
                }
                /* the whole line, and the line plus trailing spaces */
                assert_true(ok - before >= 1);
        }

        /* seeded random mutations; all of them also go into one file */
        for (i = 0; i < mutations; i++) {
                const char *src = sweep_lines[rng() % 3];
                size_t len = strlen(src), n = 1 + rng() % 4, m;
                char *p = malloc(len + 16);

                assert_non_null(p);
                memcpy(p, src, len);
                for (m = 0; m < n; m++) {
                        size_t at = len ? rng() % len : 0;

                        switch (rng() % 4) {
                        case 0: /* any byte */
                                p[at] = (char)(rng() & 0xff);
                                break;
                        case 1: /* a structural byte, or NUL */
                                p[at] = "{}[]\",:\\0-e.\x80\xc3"[rng() % 15];
                                break;
                        case 2: /* delete a byte */
                                if (len > 1) {
                                        memmove(p + at, p + at + 1,
                                                len - at - 1);
                                        len--;
                                }
                                break;
                        default: /* insert a byte (at most 4: room for 16) */
                                memmove(p + at + 1, p + at, len - at);
                                p[at] = (char)(rng() & 0xff);
                                len++;
                                break;
                        }
                }
                check_parse(p, len, &ok);
                if (len_all + len + 1 > cap) {
                        cap = (len_all + len + 1) * 2;
                        all = realloc(all, cap);
                        assert_non_null(all);
                }
                memcpy(all + len_all, p, len);
                len_all += len;
                all[len_all++] = '\n';
                free(p);
        }
        assert_true(ok > 0);

        /* the same bytes through the file reader, with a small max_line:
         * only records and bad lines, never an I/O error */
        path = write_temp(all, len_all);
        in = open_jsonl(path, "c", 200);
        vcdc_record_init(&rec);
        ok = 0;
        while ((r = vcdc_input_next(in, &rec, errstr, sizeof(errstr))) !=
               VCDC_INPUT_EOF) {
                if (r == VCDC_INPUT_RECORD) {
                        ok++;
                } else {
                        assert_int_equal(r, VCDC_INPUT_BAD);
                        assert_record_clear(&rec);
                        bad++;
                }
        }
        assert_true(ok > 0 && bad > 0);
        assert_true(vcdc_input_line(in) >= mutations);
        vcdc_record_clear(&rec);
        vcdc_input_close(in);
        remove_temp(path);
        free(all);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_bad_sample),
                cmocka_unit_test(test_malformed_sweep),
        };

        return cmocka_run_group_tests_name("input_malformed", tests, NULL,
                                           NULL);
}
