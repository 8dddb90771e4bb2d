/*
 * vcdc - unit tests: decimal text to float32 (decfloat.h) against glibc's
 * strtof(), bit for bit (the sign of zero included), over millions of
 * strings: fixed edge cases, random decimals, floats printed at every
 * precision, halfway points between neighbouring floats (exact, then cut
 * short, nudged up and down, padded with zeros and a far 1), the subnormal
 * and FLT_MAX boundaries, long mantissas and huge exponents.
 *
 * VCDC_DECFLOAT_COUNT=N scales the random parts (default 1: about three
 * million strings in a few seconds; VCDC_TEST_SMALL, set by make
 * valgrind, divides them by 30).
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

#include "decfloat.h"

static size_t checked, checked_json;

static float from_bits(uint32_t u);
static double scale = 1.0;

static uint64_t rng_state = 0x2545f4914f6cdd1dULL;

static uint64_t rng(void) {
        /* xorshift64: a fixed seed, the same strings every run */
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        return rng_state;
}

static size_t count(size_t n) {
        size_t c = (size_t)((double)n * scale);

        return c ? c : 1;
}

/* 1 if s is a number in JSON's grammar. */
static int is_json(const char *s) {
        if (*s == '-')
                s++;
        if (*s == '0')
                s++;
        else if (*s >= '1' && *s <= '9')
                while (*s >= '0' && *s <= '9')
                        s++;
        else
                return 0;
        if (*s == '.') {
                if (*++s < '0' || *s > '9')
                        return 0;
                while (*s >= '0' && *s <= '9')
                        s++;
        }
        if (*s == 'e' || *s == 'E') {
                if (*++s == '+' || *s == '-')
                        s++;
                if (*s < '0' || *s > '9')
                        return 0;
                while (*s >= '0' && *s <= '9')
                        s++;
        }
        return !*s;
}

/* vcdc_decfloat_json() on s as in an array: alone, and followed by ", 1]"
 * and 40 more bytes (its fast path wants 32 at hand). */
static void check_json(const char *s, size_t len, uint32_t want) {
        static const char tail[] = ", 1]                                    "
                                   "    ";
        char *buf = malloc(len + sizeof(tail));
        vcdc_decfloat_json_t info;
        size_t pad;
        float got;

        assert_non_null(buf);
        for (pad = 0; pad <= 1; pad++) {
                size_t n = len + (pad ? sizeof(tail) - 1 : 0);
                uint32_t b;

                memcpy(buf, s, len);
                if (pad)
                        memcpy(buf + len, tail, sizeof(tail) - 1);
                if (vcdc_decfloat_json(buf, buf + n, &got, &info) !=
                    buf + len)
                        fail_msg("\"%s\": vcdc_decfloat_json stops early", s);
                memcpy(&b, &got, 4);
                if (b != want)
                        fail_msg("\"%s\": vcdc_decfloat_json gives %a, "
                                 "strtof %a", s, (double)got,
                                 (double)from_bits(want));
        }
        free(buf);
        checked_json++;
}

/* Compares vcdc_decfloat_parse() and vcdc_decfloat_scan() with strtof()
 * on the whole string s, and vcdc_decfloat_json() when s is JSON. */
static void check(const char *s) {
        size_t len = strlen(s);
        char *copy = malloc(len ? len : 1), *end;
        float want, got, got2;
        const char *e;
        uint32_t a, b;

        assert_non_null(copy);
        memcpy(copy, s, len); /* not NUL-terminated: nothing read past */
        want = strtof(s, &end);
        if (*end)
                fail_msg("test bug: strtof stops early in \"%s\"", s);
        if (vcdc_decfloat_parse(copy, len, &got))
                fail_msg("\"%s\" refused", s);
        memcpy(&a, &want, 4);
        memcpy(&b, &got, 4);
        if (a != b)
                fail_msg("\"%s\": %a (0x%08x), strtof gives %a (0x%08x)", s,
                         (double)got, b, (double)want, a);
        e = vcdc_decfloat_scan(copy, copy + len, &got2);
        assert_ptr_equal(e, copy + len);
        assert_memory_equal(&got, &got2, 4);
        free(copy);
        if (is_json(s))
                check_json(s, len, a);
        checked++;
}

static void checkf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void checkf(const char *fmt, ...) {
        char buf[2048];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        check(buf);
}

static float from_bits(uint32_t u) {
        float f;

        memcpy(&f, &u, 4);
        return f;
}

/* Appends n random digits to buf at *k. */
static void digits(char *buf, size_t *k, size_t n) {
        while (n--)
                buf[(*k)++] = (char)('0' + rng() % 10);
}


static void test_fixed(void **state) {
        static const char *cases[] = {
                "0", "-0", "0.0", "-0.0", "0e0", "0e99999", "-0e-99999",
                "00000", "0.000000000000000000000000000000000000000000000",
                "1e-999999999", "-1e-999999999", "1e400000", "-1e400000",
                "1e999999999999999999999", "123e-400000",
                "0.0000000000000000000000000000000000000001e400000",
                "1", "-1", "0.1", "0.5", "1.5", "16777216", "16777217",
                "16777218", "16777219", "8388608.5", "8388609.5",
                "3.4028235e38", "-3.4028235e+38", "3.40282347e38",
                "3.40282356e38", "3.4028235677973366e38",
                "3.40282357e38", "3.4028236e38", "1e38", "1e39",
                "340282356779733661637539395458142568447",
                "340282356779733661637539395458142568448",
                "340282356779733661637539395458142568449",
                "340282366920938463463374607431768211455",
                "1.17549435e-38", "1.1754942e-38", "1.17549421e-38",
                "1.4e-45", "1e-45", "1.401298464324817e-45",
                "7.006492321624085e-46", "7.0064923216240854e-46",
                "7.0064923216240862e-46", "7e-46", "1e-46", "2.1e-45",
                "2.10194769648e-45", "2.802596928649634e-45",
                "0.00000000000000000000000000000000000000000000140129846",
                "1.0e-50", "123456789", "1234567890123456789",
                "12345678901234567890", "123456789012345678901234567890",
                "9999999999999999999", "10000000000000000000",
                "18446744073709551615", "18446744073709551616",
                "0.30000001192092896", "0.1000000000000000055511151231257827",
                "1.00000005960464477539062499999999999999999999999",
                "1.000000059604644775390625",
                "1.00000005960464477539062500000000000000000000001",
                "+1.5", ".5", "5.", "-.5e1", "00012.50", "1E5", "1e+05",
        };
        size_t i;
        float f;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(*cases); i++)
                check(cases[i]);
        /* what the brief of the conversion promises, spelled out */
        assert_int_equal(vcdc_decfloat_parse("-0", 2, &f), 0);
        assert_true(f == 0.0f && signbit(f));
        assert_int_equal(vcdc_decfloat_parse("3.4028235e38", 12, &f), 0);
        assert_true(f == FLT_MAX);
        assert_int_equal(vcdc_decfloat_parse("1e400000", 8, &f), 0);
        assert_true(isinf(f) && f > 0);
        assert_int_equal(vcdc_decfloat_parse("1e-999999999", 12, &f), 0);
        assert_true(f == 0.0f && !signbit(f));
        /* not numbers */
        assert_int_equal(vcdc_decfloat_parse("", 0, &f), -1);
        assert_int_equal(vcdc_decfloat_parse("-", 1, &f), -1);
        assert_int_equal(vcdc_decfloat_parse(".", 1, &f), -1);
        assert_int_equal(vcdc_decfloat_parse("1e", 2, &f), -1);
        assert_int_equal(vcdc_decfloat_parse("1x", 2, &f), -1);
        assert_int_equal(vcdc_decfloat_parse("nan", 3, &f), -1);
        assert_int_equal(vcdc_decfloat_parse("inf", 3, &f), -1);
        assert_int_equal(vcdc_decfloat_parse("0x1p3", 5, &f), -1);
        assert_int_equal(vcdc_decfloat_parse(" 1", 2, &f), -1);
        /* the scan stops where the number does */
        assert_ptr_equal(vcdc_decfloat_scan("1e+", "1e+" + 3, &f), "1e+" + 1);
        assert_true(f == 1.0f);
}

/* JSON's grammar: what vcdc_decfloat_json() refuses or cuts short. */
static void test_json_grammar(void **state) {
        static const struct {
                const char *s;
                int end; /* where it stops; -1: NULL */
                int real;
                size_t int_digits;
                long long exp10;
        } cases[] = {
                {"0", 1, 0, 1, 0},      {"-0", 2, 0, 1, 0},
                {"01", 1, 0, 1, 0},     {"-12.5e-3,", 8, 1, 2, -3},
                {"1E+7]", 4, 1, 1, 7},  {"+1", -1, 0, 0, 0},
                {"1.", -1, 0, 0, 0},    {".5", -1, 0, 0, 0},
                {"1e", -1, 0, 0, 0},    {"1e+", -1, 0, 0, 0},
                {"-", -1, 0, 0, 0},     {"-a", -1, 0, 0, 0},
                {"123456789012345678901", 21, 0, 21, 0},
                {"1e99999999999999999999", 22, 1, 1, 1000000000000LL},
        };
        vcdc_decfloat_json_t info;
        size_t i;
        float f;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                const char *s = cases[i].s;
                const char *e = vcdc_decfloat_json(s, s + strlen(s), &f,
                                                   &info);

                if (cases[i].end < 0) {
                        if (e)
                                fail_msg("\"%s\" accepted", s);
                        continue;
                }
                if (e != s + cases[i].end)
                        fail_msg("\"%s\" stops at %d", s,
                                 e ? (int)(e - s) : -1);
                assert_int_equal(info.real, cases[i].real);
                assert_int_equal(info.int_digits, cases[i].int_digits);
                if (cases[i].exp10 >= 1000000000000LL) /* saturated */
                        assert_true(info.exp10 >= cases[i].exp10);
                else
                        assert_true(info.exp10 == cases[i].exp10);
        }
}

static void test_random_decimals(void **state) {
        size_t n = count(1200000), i, k;
        char buf[256];

        (void)state;
        for (i = 0; i < n; i++) {
                size_t id = rng() % 22, fd = rng() % 22, zeros = rng() % 4;

                k = 0;
                if (rng() % 2)
                        buf[k++] = '-';
                if (id == 0 && fd == 0)
                        id = 1;
                while (zeros-- && id)
                        buf[k++] = '0'; /* leading zeros */
                digits(buf, &k, id);
                if (fd) {
                        buf[k++] = '.';
                        if (rng() % 4 == 0)
                                for (zeros = rng() % 40; zeros; zeros--)
                                        buf[k++] = '0';
                        digits(buf, &k, fd);
                }
                if (rng() % 3)
                        k += (size_t)snprintf(buf + k, sizeof(buf) - k,
                                              "e%d", (int)(rng() % 120) - 60);
                buf[k] = '\0';
                check(buf);
        }
}

/* Every float, printed at 6 to 17 digits (the common case: 9 reads back
 * exactly, 17 is the double it widens to). */
static void test_printed_floats(void **state) {
        size_t n = count(500000), i;

        (void)state;
        for (i = 0; i < n; i++) {
                float f = from_bits((uint32_t)rng());

                if (!isfinite(f))
                        continue;
                checkf("%.*g", 6 + (int)(rng() % 12), (double)f);
                checkf("%.17g", (double)f);
                checkf("%.9e", (double)f);
        }
}

/* Halfway points between two neighbouring floats u and u+1 (exact in a
 * double, and printed exactly with enough digits), then cut short (below
 * it), its last kept digit raised (above it), padded with zeros and a 1
 * far away (just above), and the same on a random float's neighbours. */
static void halfway(uint32_t u) {
        float a = from_bits(u), b = from_bits(u + 1);
        double mid;
        char exact[200], buf[1100], *e;
        size_t cut, k, m;

        if (!isfinite(a))
                return;
        mid = isfinite(b) ? ((double)a + (double)b) / 2
                          : (double)a + ((double)a - (double)from_bits(u - 1)) /
                                                2;
        snprintf(exact, sizeof(exact), "%.120e", mid);
        check(exact);
        e = strchr(exact, 'e');
        /* digits before the 'e': "d." then 120 */
        cut = 3 + (size_t)(rng() % 30);
        snprintf(buf, sizeof(buf), "%.*s%s", (int)cut, exact, e);
        check(buf);
        if (buf[cut - 1] >= '0' && buf[cut - 1] < '9') {
                buf[cut - 1]++;
                check(buf);
        }
        /* the exact digits, trailing zeros dropped, then zeros and a 1 */
        for (k = (size_t)(e - exact); k > 2 && exact[k - 1] == '0'; k--)
                ;
        m = 20 + (size_t)(rng() % 700);
        if (k + m + 40 < sizeof(buf)) {
                memcpy(buf, exact, k);
                memset(buf + k, '0', m);
                buf[k + m] = '1';
                snprintf(buf + k + m + 1, sizeof(buf) - k - m - 1, "%s", e);
                check(buf);
                /* and just below: ...d - 1 then nines */
                memcpy(buf, exact, k);
                if (buf[k - 1] > '0' && buf[k - 1] <= '9') {
                        buf[k - 1]--;
                        memset(buf + k, '9', m);
                        snprintf(buf + k + m, sizeof(buf) - k - m, "%s", e);
                        check(buf);
                }
        }
}

static void test_halfway_points(void **state) {
        size_t n = count(120000), i;
        uint32_t u;

        (void)state;
        for (i = 0; i < n; i++)
                halfway((uint32_t)rng() & 0x7fffffffu);
        /* the subnormals, their top and the smallest */
        for (u = 0; u < 64; u++) {
                halfway(u);
                halfway(0x00800000u - 32 + u);
                halfway(0x00800000u + u);
        }
        for (i = 0; i < count(20000); i++)
                halfway((uint32_t)(rng() % 0x00800000u));
        /* the largest: FLT_MAX's halfway point to infinity */
        for (u = 0; u < 64; u++)
                halfway(0x7f7fffffu - u);
}

/* Mantissas of 17 to 800 digits, and exponents that cancel them. */
static void test_long_mantissas(void **state) {
        static const size_t lens[] = {17, 18, 19, 20, 21, 40, 100, 800};
        size_t n = count(30000), i, k;
        char d[801];

        (void)state;
        for (i = 0; i < n; i++) {
                size_t len = lens[rng() % (sizeof(lens) / sizeof(*lens))];
                const char *sign = rng() % 2 ? "-" : "";
                int ex = (int)(rng() % 100) - 50 - (rng() % 2 ? (int)len : 0);

                k = 0;
                d[k++] = (char)('1' + rng() % 9);
                digits(d, &k, len - 1);
                d[k] = '\0';
                switch (rng() % 3) {
                case 0: /* an integer of len digits */
                        checkf("%s%se%d", sign, d, ex);
                        break;
                case 1:
                        checkf("%s0.%se%d", sign, d, ex);
                        break;
                default:
                        checkf("%s%c.%se%d", sign, d[0], d + 1, ex);
                        break;
                }
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_fixed),
                cmocka_unit_test(test_json_grammar),
                cmocka_unit_test(test_random_decimals),
                cmocka_unit_test(test_printed_floats),
                cmocka_unit_test(test_halfway_points),
                cmocka_unit_test(test_long_mantissas),
        };
        const char *env = getenv("VCDC_DECFLOAT_COUNT");
        char *end;
        int r;

        if (env && strtod(env, &end) > 0 && !*end)
                scale = strtod(env, NULL);
        if (getenv("VCDC_TEST_SMALL"))
                scale /= 30;
        r = cmocka_run_group_tests_name("decfloat", tests, NULL, NULL);
        printf("decfloat: %zu strings checked against strtof (%zu of them "
               "JSON numbers, through the JSON path too)\n",
               checked, checked_json);
        return r;
}
