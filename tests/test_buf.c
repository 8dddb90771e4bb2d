/*
 * vcdc - unit tests: the growable buffer (appends, the bound, a failure
 * that sticks, detach and truncate).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "buf.h"

static void test_appends(void **state) {
        vcdc_buf_t b = VCDC_BUF_INIT;
        char *s;
        size_t len;
        int i;

        (void)state;
        vcdc_buf_puts(&b, "id=");
        vcdc_buf_printf(&b, "%d,%s", 42, "x");
        vcdc_buf_putc(&b, ';');
        vcdc_buf_put(&b, "\0z", 2); /* bytes, NULs included */
        assert_int_equal(b.len, 10);
        assert_memory_equal(b.p, "id=42,x;\0z", 10);
        assert_int_equal(b.p[b.len], '\0');
        vcdc_buf_truncate(&b, 7);
        assert_string_equal(b.p, "id=42,x");
        vcdc_buf_truncate(&b, 100); /* past the end: nothing */
        assert_int_equal(b.len, 7);
        for (i = 0; i < 10000; i++) /* growth */
                vcdc_buf_printf(&b, "%05d", i);
        assert_int_equal(b.len, 7 + 50000);
        assert_memory_equal(b.p + b.len - 5, "09999", 5);
        s = vcdc_buf_detach(&b, &len);
        assert_non_null(s);
        assert_int_equal(len, 50007);
        assert_null(b.p);
        assert_int_equal(b.len, 0);
        free(s);
        /* Nothing put: an empty string, not NULL. */
        s = vcdc_buf_detach(&b, &len);
        assert_string_equal(s, "");
        assert_int_equal(len, 0);
        free(s);
}

static void test_bound(void **state) {
        vcdc_buf_t b;

        (void)state;
        vcdc_buf_init(&b, 10);
        vcdc_buf_puts(&b, "0123456789"); /* exactly the bound */
        assert_false(b.failed);
        assert_int_equal(b.len, 10);
        vcdc_buf_putc(&b, 'x'); /* one past: fails, and stays failed */
        assert_true(b.failed);
        assert_int_equal(b.len, 10);
        vcdc_buf_truncate(&b, 0);
        vcdc_buf_puts(&b, "a");
        assert_int_equal(b.len, 0);
        assert_null(vcdc_buf_detach(&b, NULL));
        /* Emptied, it works again, with the same bound. */
        assert_false(b.failed);
        assert_int_equal(b.max, 10);
        vcdc_buf_printf(&b, "%s", "01234567890");
        assert_true(b.failed);
        vcdc_buf_free(&b);
        assert_false(b.failed);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_appends),
                cmocka_unit_test(test_bound),
        };
        return cmocka_run_group_tests_name("buf", tests, NULL, NULL);
}
