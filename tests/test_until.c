/*
 * vcdc - unit tests: the bound of a restore to a point in time
 * (consumer/until.c): --until-timestamp and --until-offsets parsed,
 * valid and invalid side by side; the partitions check; the compaction
 * refusal; which records lie past the bound. Pure: no cluster.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "until.h"

#define T0 1765000000000LL /* an epoch-milliseconds time in 2025 */

static void test_parse(void **state) {
        static const struct {
                const char *ts, *offsets;
                int allow, ok;
                const char *err; /* in the message when !ok */
        } cases[] = {
                {NULL, NULL, 0, 1, NULL},
                {"1765000000000", NULL, 0, 1, NULL},
                {"1765000000000", NULL, 1, 1, NULL},
                {NULL, "0:5", 0, 1, NULL},
                {NULL, "0:5,1:0,2:9223372036854775807", 0, 1, NULL},
                {NULL, "3:1,0:2", 1, 1, NULL},
                /* invalid */
                {"", NULL, 0, 0, "--until-timestamp : expected epoch"},
                {"-1", NULL, 0, 0, "--until-timestamp -1: expected"},
                {"+1765000000000", NULL, 0, 0, "--until-timestamp +17"},
                {" 1765000000000", NULL, 0, 0, "expected epoch"},
                {"1765000000000x", NULL, 0, 0, "--until-timestamp 1765"},
                {"99999999999999999999", NULL, 0, 0, "expected epoch"},
                {"1765000000", NULL, 0, 0, "seconds given?"},
                {"1765000000000", "0:1", 0, 0, "not both"},
                {NULL, NULL, 1, 0, "--allow-compacted-history: only with"},
                {NULL, "", 0, 0, "--until-offsets : \"\": expected"},
                {NULL, "0", 0, 0, "\"0\": expected PARTITION:OFFSET"},
                {NULL, "0:", 0, 0, "\"0:\": expected"},
                {NULL, ":5", 0, 0, "\":5\": expected"},
                {NULL, "0:5,", 0, 0, "\"\": expected"},
                {NULL, "0:5,,1:2", 0, 0, "\"\": expected"},
                {NULL, "a:5", 0, 0, "\"a:5\""},
                {NULL, "0:-1", 0, 0, "\"0:-1\""},
                {NULL, "-1:3", 0, 0, "\"-1:3\""},
                {NULL, "0:5x", 0, 0, "\"0:5x\""},
                {NULL, "100000:1", 0, 0, "partition 0..99999"},
                {NULL, "0:1:2", 0, 0, "\"0:1:2\""},
                {NULL, "1:5,1:6", 0, 0, "partition 1 is named twice"},
        };
        char errstr[512];
        vcdc_until_t u;
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                errstr[0] = '\0';
                int r = vcdc_until_parse(cases[i].ts, cases[i].offsets,
                                         cases[i].allow, &u, errstr,
                                         sizeof(errstr));
                if (cases[i].ok && r)
                        fail_msg("case %zu: refused: %s", i, errstr);
                if (!cases[i].ok) {
                        if (!r)
                                fail_msg("case %zu: accepted", i);
                        if (!strstr(errstr, cases[i].err))
                                fail_msg("case %zu: \"%s\" lacks \"%s\"", i,
                                         errstr, cases[i].err);
                        assert_int_equal(u.kind, VCDC_UNTIL_NONE);
                        assert_null(u.offsets);
                }
                vcdc_until_clear(&u);
        }
}

static void test_values(void **state) {
        char errstr[256];
        vcdc_until_t u, copy;

        (void)state;
        assert_int_equal(vcdc_until_parse("1765000000123", NULL, 1, &u, errstr,
                                          sizeof(errstr)),
                         0);
        assert_int_equal(u.kind, VCDC_UNTIL_TIMESTAMP);
        assert_true(u.ts_ms == 1765000000123LL);
        assert_int_equal(u.allow_compacted, 1);
        /* inclusive: a record at the time is applied, one after is not */
        assert_int_equal(vcdc_until_past(&u, 0, 7, 1765000000123LL), 0);
        assert_int_equal(vcdc_until_past(&u, 3, 0, 1765000000124LL), 1);
        assert_int_equal(vcdc_until_past(&u, 3, 0, 0), 0);
        vcdc_until_clear(&u);

        assert_int_equal(vcdc_until_parse(NULL, "2:10,0:3", 0, &u, errstr,
                                          sizeof(errstr)),
                         0);
        assert_int_equal(u.kind, VCDC_UNTIL_OFFSETS);
        assert_int_equal(u.offset_cnt, 3);
        assert_true(u.offsets[0] == 3 && u.offsets[1] == -1 &&
                    u.offsets[2] == 10);
        /* exclusive: offsets below the bound are applied */
        assert_int_equal(vcdc_until_past(&u, 0, 2, T0), 0);
        assert_int_equal(vcdc_until_past(&u, 0, 3, 0), 1);
        assert_int_equal(vcdc_until_past(&u, 2, 9, T0), 0);
        assert_int_equal(vcdc_until_past(&u, 2, 10, T0), 1);
        assert_int_equal(vcdc_until_copy(&copy, &u), 0);
        vcdc_until_clear(&u);
        assert_true(copy.offsets[2] == 10 && copy.offset_cnt == 3);
        vcdc_until_clear(&copy);
        vcdc_until_clear(&copy); /* empty: fine */

        /* no bound: nothing is past it */
        assert_int_equal(
                vcdc_until_parse(NULL, NULL, 0, &u, errstr, sizeof(errstr)), 0);
        assert_int_equal(vcdc_until_past(&u, 0, 1000000, INT64_MAX), 0);
}

static void test_partitions(void **state) {
        char errstr[256];
        vcdc_until_t u;

        (void)state;
        assert_int_equal(vcdc_until_parse(NULL, "0:1,1:0", 0, &u, errstr,
                                          sizeof(errstr)),
                         0);
        assert_int_equal(vcdc_until_check_partitions(&u, "vectors", 2, errstr,
                                                     sizeof(errstr)),
                         0);
        assert_int_equal(vcdc_until_check_partitions(&u, "vectors", 3, errstr,
                                                     sizeof(errstr)),
                         -1);
        assert_non_null(strstr(errstr, "partition 2 of vectors is not named"));
        assert_int_equal(vcdc_until_check_partitions(&u, "vectors", 1, errstr,
                                                     sizeof(errstr)),
                         -1);
        assert_non_null(strstr(errstr, "partition 1: vectors has partitions "
                                       "0..0 only"));
        vcdc_until_clear(&u);
        /* a timestamp bound covers every partition */
        assert_int_equal(vcdc_until_parse("1765000000000", NULL, 0, &u, errstr,
                                          sizeof(errstr)),
                         0);
        assert_int_equal(vcdc_until_check_partitions(&u, "vectors", 8, errstr,
                                                     sizeof(errstr)),
                         0);
}

static void test_history(void **state) {
        static const struct {
                const char *policy;
                int64_t lag_ms, age_ms;
                int allow, refused;
        } cases[] = {
                {"compact", 0, 1, 0, 1}, /* the default lag: anything goes */
                {"compact", 0, 0, 0, 0},
                {"compact", 0, -5000, 0, 0}, /* a time still to come */
                {"compact", 3600000, 3600000, 0, 0},
                {"compact", 3600000, 3600001, 0, 1},
                {"compact", 3600000, 3600001, 1, 0},
                {"compact,delete", 1000, 5000, 0, 1},
                {"delete", 0, 86400000, 0, 0}, /* never compacted */
        };
        char errstr[512];
        vcdc_until_t u;
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                assert_int_equal(vcdc_until_parse("1765000000000", NULL,
                                                  cases[i].allow, &u, errstr,
                                                  sizeof(errstr)),
                                 0);
                errstr[0] = '\0';
                int r = vcdc_until_check_history(
                        &u, "vectors", cases[i].policy, cases[i].lag_ms,
                        u.ts_ms + cases[i].age_ms, errstr, sizeof(errstr));
                if (r != (cases[i].refused ? -1 : 0))
                        fail_msg("case %zu: %d (%s)", i, r, errstr);
                if (r) {
                        char want[128];
                        snprintf(want, sizeof(want),
                                 "min.compaction.lag.ms=%lld",
                                 (long long)cases[i].lag_ms);
                        assert_non_null(strstr(errstr, want));
                        assert_non_null(strstr(errstr, "vectors"));
                        assert_non_null(strstr(errstr, "1765000000000"));
                        assert_non_null(strstr(errstr, "cleanup.policy="));
                }
        }
        /* offsets: checked when the records are reached, not here */
        assert_int_equal(
                vcdc_until_parse(NULL, "0:1", 0, &u, errstr, sizeof(errstr)),
                0);
        assert_int_equal(vcdc_until_check_history(&u, "vectors", "compact", 0,
                                                  T0, errstr, sizeof(errstr)),
                         0);
        vcdc_until_clear(&u);
        assert_int_equal(vcdc_until_may_be_compacted(NULL, 0, T0, 0), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse),
                cmocka_unit_test(test_values),
                cmocka_unit_test(test_partitions),
                cmocka_unit_test(test_history),
        };
        return cmocka_run_group_tests_name("until", tests, NULL, NULL);
}
