/*
 * vcdc - unit tests: the index of ids asked for (sinks/idindex.h), which
 * both sinks use to match a database's answer to the slots it fills.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "idindex.h"

/* The slots of id, in order, as a string of positions ("0,3"). */
static void slots(const vcdc_idindex_t *ix, const char *id, char *out,
                  size_t size) {
        size_t pos, idx, n = 0;

        out[0] = '\0';
        for (pos = vcdc_idindex_find(ix, id);
             vcdc_idindex_match(ix, pos, id, &idx); pos++) {
                int r = snprintf(out + n, size - n, "%s%zu", n ? "," : "", idx);
                n += (size_t)r;
        }
}

static void test_find(void **state) {
        static const char *const ids[] = {"b", "a",    "c/d", "b",
                                          "",  "a\"q", "b"};
        static const struct {
                const char *id, *want;
        } cases[] = {
                {"a", "1"},    {"b", "0,3,6"}, {"c/d", "2"}, {"", "4"},
                {"a\"q", "5"}, {"z", ""},      {"ab", ""},   {"B", ""},
        };
        vcdc_idindex_t ix;
        char got[64];
        size_t i;

        (void)state;
        assert_int_equal(vcdc_idindex_init(&ix, ids, 7), 0);
        for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                slots(&ix, cases[i].id, got, sizeof(got));
                assert_string_equal(got, cases[i].want);
        }
        assert_int_equal(vcdc_idindex_find(&ix, "zz"), ix.cnt);
        vcdc_idindex_free(&ix);
        vcdc_idindex_free(&ix); /* twice: harmless */
}

static void test_empty(void **state) {
        vcdc_idindex_t ix;

        (void)state;
        assert_int_equal(vcdc_idindex_init(&ix, NULL, 0), 0);
        assert_int_equal(vcdc_idindex_find(&ix, "a"), 0);
        assert_false(vcdc_idindex_match(&ix, 0, "a", NULL));
        vcdc_idindex_free(&ix);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_find),
                cmocka_unit_test(test_empty),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
