/*
 * vcdc - unit tests of vcdc snapshot's checkpoint codec
 * (snapshot/checkpoint.c): what is written reads back the same, records
 * of other kinds, topics and collections are passed over, and malformed
 * values are refused whole.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "snap_int.h"

static void test_roundtrip(void **state) {
        int64_t lw[3] = {0, 17, 4096}, hw[3] = {5, 20, 5000};
        ckpt_t ck = {.state = CKPT_APPENDING,
                     .run = "5f0c9e2a11d07b44",
                     .chunk = 12,
                     .cursor = "120,3:a/b,4:x,yz",
                     .cursor_lw = lw,
                     .hw = hw,
                     .parts = 3,
                     .records = 12000,
                     .repairs = 3,
                     .superseded = 41},
               back;
        char *text;

        (void)state;
        assert_non_null(text = snap_ckpt_encode("vectors", "docs", &ck));
        assert_non_null(strstr(text, "\"kind\":\"snapshot\""));
        assert_int_equal(snap_ckpt_decode("vectors", "docs", 3, text,
                                          strlen(text), &back),
                         1);
        assert_int_equal(back.state, CKPT_APPENDING);
        assert_string_equal(back.run, ck.run);
        assert_int_equal(back.chunk, 12);
        assert_string_equal(back.cursor, ck.cursor);
        assert_memory_equal(back.cursor_lw, lw, sizeof(lw));
        assert_memory_equal(back.hw, hw, sizeof(hw));
        assert_int_equal(back.records, 12000);
        assert_int_equal(back.repairs, 3);
        assert_int_equal(back.superseded, 41);
        snap_ckpt_clear(&back);
        /* Another topic, another collection, another partition count. */
        assert_int_equal(snap_ckpt_decode("other", "docs", 3, text,
                                          strlen(text), &back),
                         0);
        assert_int_equal(snap_ckpt_decode("vectors", "doc", 3, text,
                                          strlen(text), &back),
                         0);
        assert_int_equal(snap_ckpt_decode("vectors", "docs", 4, text,
                                          strlen(text), &back),
                         -1);
        assert_null(back.cursor);
        free(text);
}

static void test_done_and_finished(void **state) {
        int64_t lw[1] = {9};
        ckpt_t ck = {.state = CKPT_DONE, .run = "r", .chunk = 0,
                     .cursor_lw = lw, .parts = 1},
               back;
        char *text;

        (void)state;
        /* The start of a scan: no cursor; done: no high watermark. */
        assert_non_null(text = snap_ckpt_encode("t", "c", &ck));
        assert_int_equal(snap_ckpt_decode("t", "c", 1, text, strlen(text),
                                          &back),
                         1);
        assert_int_equal(back.state, CKPT_DONE);
        assert_null(back.cursor);
        assert_null(back.hw);
        assert_int_equal(back.cursor_lw[0], 9);
        snap_ckpt_clear(&back);
        free(text);
        ck.state = CKPT_FINISHED;
        ck.cursor_lw = NULL;
        assert_non_null(text = snap_ckpt_encode("t", "c", &ck));
        assert_int_equal(snap_ckpt_decode("t", "c", 1, text, strlen(text),
                                          &back),
                         1);
        assert_int_equal(back.state, CKPT_FINISHED);
        snap_ckpt_clear(&back);
        free(text);
}

static void test_other_kinds(void **state) {
        static const char *const others[] = {
                "{\"collection\":\"c\",\"route\":\"new\"}",
                "{\"kind\":\"route\",\"collection\":\"c\"}",
                "{\"kind\":\"collection\",\"collection\":\"c\"}",
                "[1,2]",
        };
        ckpt_t back;
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(others) / sizeof(*others); i++)
                assert_int_equal(snap_ckpt_decode("t", "c", 1, others[i],
                                                  strlen(others[i]), &back),
                                 0);
}

static void test_malformed(void **state) {
        static const char *const bad[] = {
                "",
                "{",
                "{\"kind\":\"snapshot\"}",
                /* an unknown state */
                "{\"kind\":\"snapshot\",\"topic\":\"t\",\"collection\":\"c\","
                "\"run\":\"r\",\"chunk\":1,\"state\":\"copying\"}",
                /* appending without its high watermark */
                "{\"kind\":\"snapshot\",\"topic\":\"t\",\"collection\":\"c\","
                "\"run\":\"r\",\"chunk\":1,\"state\":\"appending\","
                "\"cursor_lw\":[1]}",
                /* a negative chunk, a negative offset, a string offset */
                "{\"kind\":\"snapshot\",\"topic\":\"t\",\"collection\":\"c\","
                "\"run\":\"r\",\"chunk\":-1,\"state\":\"done\"}",
                "{\"kind\":\"snapshot\",\"topic\":\"t\",\"collection\":\"c\","
                "\"run\":\"r\",\"chunk\":1,\"state\":\"done\","
                "\"cursor_lw\":[-4]}",
                "{\"kind\":\"snapshot\",\"topic\":\"t\",\"collection\":\"c\","
                "\"run\":\"r\",\"chunk\":1,\"state\":\"done\","
                "\"cursor_lw\":[\"4\"]}",
                /* a run id longer than any the tool writes */
                "{\"kind\":\"snapshot\",\"topic\":\"t\",\"collection\":\"c\","
                "\"run\":\"0123456789012345678901234567890123456789x\","
                "\"chunk\":1,\"state\":\"done\"}",
        };
        ckpt_t back;
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
                assert_int_equal(snap_ckpt_decode("t", "c", 1, bad[i],
                                                  strlen(bad[i]), &back),
                                 -1);
                assert_null(back.cursor);
                assert_null(back.cursor_lw);
                assert_null(back.hw);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_roundtrip),
                cmocka_unit_test(test_done_and_finished),
                cmocka_unit_test(test_other_kinds),
                cmocka_unit_test(test_malformed),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
