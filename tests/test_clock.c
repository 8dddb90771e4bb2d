/*
 * vcdc - unit tests: the clock and the retry schedule.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "clock.h"

static void test_backoff(void **state) {
        static const struct {
                int attempt;
                int64_t lo, hi;
        } cases[] = {
                {0, 50, 100},     {1, 100, 200},     {2, 200, 400},
                {5, 1600, 3200},  {7, 5000, 10000},  {30, 5000, 10000},
        };
        size_t i;
        uint32_t r;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                int64_t min = INT64_MAX, max = 0;
                for (r = 0; r < 100000; r += 7) {
                        int64_t ms = vcdc_backoff_ms(cases[i].attempt, 100,
                                                     10000, r * 2654435761u);
                        if (ms < min)
                                min = ms;
                        if (ms > max)
                                max = ms;
                }
                /* Within the window, and spread over it (jitter). */
                assert_true(min >= cases[i].lo);
                assert_true(max <= cases[i].hi);
                assert_true(max - min > (cases[i].hi - cases[i].lo) / 2);
        }
}

/* The monotonic clock never goes back; the wall clock is near the epoch's
 * present (after 2020). */
static void test_clocks(void **state) {
        int64_t a = vcdc_clock_ms(), b = vcdc_clock_ms();
        int64_t us = vcdc_clock_us(), ms = vcdc_clock_ms();

        (void)state;
        assert_true(b >= a);
        /* The same clock in finer units. */
        assert_true(vcdc_clock_us() >= us);
        assert_true(us / 1000 <= ms && ms - us / 1000 < 1000);
        assert_true(vcdc_wall_ms() > INT64_C(1577836800000));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_backoff),
                cmocka_unit_test(test_clocks),
        };
        return cmocka_run_group_tests_name("clock", tests, NULL, NULL);
}
