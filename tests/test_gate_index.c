/*
 * vcdc - unit tests: the cut-over gate's index check
 * (vcdc_gate_index_judge(), control/cutover.c), table-driven over the
 * index's states with and without --require-index. Pure: no sink, no
 * cluster.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "cutover.h"

static void test_judge(void **state) {
        static const struct {
                vcdc_index_state_t state;
                int required;
                vcdc_check_result_t want;
                const char *why;
        } cases[] = {
                /* --index none and no requirement: never blocked. */
                {VCDC_INDEX_ABSENT, 0, VCDC_CHECK_PASS, "none is required"},
                {VCDC_INDEX_ABSENT, 1, VCDC_CHECK_FAIL,
                 "--require-index wants a valid one"},
                {VCDC_INDEX_VALID, 0, VCDC_CHECK_PASS, "valid"},
                {VCDC_INDEX_VALID, 1, VCDC_CHECK_PASS, "valid"},
                /* An index exists, so one was requested: it must be
                 * ready, required or not. */
                {VCDC_INDEX_BUILDING, 0, VCDC_CHECK_FAIL, "wait for the build"},
                {VCDC_INDEX_BUILDING, 1, VCDC_CHECK_FAIL, "45%"},
                {VCDC_INDEX_INVALID, 0, VCDC_CHECK_FAIL,
                 "DROP INDEX docs_vcdc_hnsw_idx if none is wanted"},
                {VCDC_INDEX_INVALID, 1, VCDC_CHECK_FAIL,
                 "a build stopped midway"},
        };
        vcdc_index_info_t ix;
        char summary[512];
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                memset(&ix, 0, sizeof(ix));
                ix.state = cases[i].state;
                ix.percent = 45;
                if (ix.state != VCDC_INDEX_ABSENT) {
                        ix.kind = VCDC_INDEX_HNSW;
                        snprintf(ix.name, sizeof(ix.name), "%s",
                                 "docs_vcdc_hnsw_idx");
                        snprintf(ix.phase, sizeof(ix.phase), "%s",
                                 "building index: loading tuples");
                }
                assert_int_equal(vcdc_gate_index_judge(&ix, cases[i].required,
                                                       "new", summary,
                                                       sizeof(summary)),
                                 cases[i].want);
                if (!strstr(summary, cases[i].why))
                        fail_msg("case %zu: \"%s\" lacks \"%s\"", i, summary,
                                 cases[i].why);
                assert_non_null(strstr(summary, "new"));
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_judge),
        };
        return cmocka_run_group_tests_name("gate_index", tests, NULL, NULL);
}
