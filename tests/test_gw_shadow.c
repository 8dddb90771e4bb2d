/*
 * vcdc - unit tests: the gateway's shadow reads without a server: two
 * query answers compared (gateway/shadowstat.c), the running figures and
 * their Prometheus text, and that text read back by `vcdc shadow
 * --gateway`'s parser (control/shadowprom.c), valid and invalid lines.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shadowprom.h"
#include "shadowstat.h"

#define EPS 1e-9

static void cmp_ok(const char *a, const char *b, vcdc_gw_shadow_cmp_t *out) {
        char errstr[256];

        errstr[0] = '\0';
        if (vcdc_gw_shadow_compare(a, strlen(a), b, strlen(b), out, errstr,
                                   sizeof(errstr)) != 0)
                fail_msg("compare failed: %s", errstr);
}

static void test_compare(void **state) {
        vcdc_gw_shadow_cmp_t c;

        (void)state;
        /* Same ids, same order; then same set, two swapped; then half. */
        cmp_ok("{\"ids\":[[\"a\",\"b\",\"c\",\"d\"],[\"a\",\"b\",\"c\",\"d\"],"
               "[\"a\",\"b\",\"c\",\"d\"]],\"distances\":null}",
               "{\"ids\":[[\"a\",\"b\",\"c\",\"d\"],[\"b\",\"a\",\"c\",\"d\"],"
               "[\"a\",\"x\",\"c\",\"y\"]]}",
               &c);
        assert_int_equal(c.n, 3);
        assert_true(fabs(c.overlap[0] - 1.0) < EPS);
        assert_true(fabs(c.overlap[1] - 1.0) < EPS);
        assert_true(fabs(c.overlap[2] - 0.5) < EPS);
        /* positions 4 + 4 + 4; same: 4 + 2 + 2 */
        assert_int_equal(c.positions, 12);
        assert_int_equal(c.matches, 8);
        vcdc_gw_shadow_cmp_clear(&c);

        /* Shorter answers (a filter): k is the longer one; both empty
         * agree fully and count no position. */
        cmp_ok("{\"ids\":[[\"a\",\"b\"],[]]}",
               "{\"ids\":[[\"a\",\"b\",\"c\"],[]]}", &c);
        assert_int_equal(c.n, 2);
        assert_true(fabs(c.overlap[0] - 2.0 / 3.0) < EPS);
        assert_true(fabs(c.overlap[1] - 1.0) < EPS);
        assert_int_equal(c.positions, 3);
        assert_int_equal(c.matches, 2);
        vcdc_gw_shadow_cmp_clear(&c);

        /* Nothing in common. */
        cmp_ok("{\"ids\":[[\"a\",\"b\"]]}", "{\"ids\":[[\"c\",\"d\"]]}", &c);
        assert_true(fabs(c.overlap[0]) < EPS);
        assert_int_equal(c.matches, 0);
        vcdc_gw_shadow_cmp_clear(&c);
}

static void test_compare_invalid(void **state) {
        static const struct {
                const char *a, *b, *want;
        } cases[] = {
                {"nope", "{\"ids\":[]}", "serving side's answer: not JSON"},
                {"{\"ids\":[]}", "{\"x\":1}", "other side's answer: no"},
                {"{\"ids\":[[\"a\"]]}", "{\"ids\":[]}",
                 "the answers hold 1 and 0 queries"},
                {"{\"ids\":[[\"a\",1]]}", "{\"ids\":[[\"a\"]]}",
                 "ids[0][1] is not a string"},
                {"{\"ids\":[\"a\"]}", "{\"ids\":[[\"a\"]]}",
                 "ids[0] is not an array"},
        };
        vcdc_gw_shadow_cmp_t c;
        char errstr[256];
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                errstr[0] = '\0';
                assert_int_equal(
                        vcdc_gw_shadow_compare(cases[i].a, strlen(cases[i].a),
                                               cases[i].b, strlen(cases[i].b),
                                               &c, errstr, sizeof(errstr)),
                        -1);
                if (!strstr(errstr, cases[i].want))
                        fail_msg("case %zu: \"%s\" lacks \"%s\"", i, errstr,
                                 cases[i].want);
                assert_null(c.overlap);
        }
}

static void parse_ok(const char *text, vcdc_shadow_prom_t *m) {
        char errstr[256];

        errstr[0] = '\0';
        if (vcdc_shadow_prom_parse(text, strlen(text), m, errstr,
                                   sizeof(errstr)) != 0)
                fail_msg("parse failed: %s\n%s", errstr, text);
}

/* Figures in, text out, figures back: what the gateway renders is what
 * `vcdc shadow --gateway` reads. */
static void test_render_parse(void **state) {
        vcdc_gw_shadow_stats_t st;
        vcdc_gw_shadow_cmp_t c;
        vcdc_shadow_prom_t m;
        char buf[8192];
        int i;

        (void)state;
        vcdc_gw_shadow_stats_init(&st);
        /* Nothing compared yet: the means are NaN, the counts 0. */
        vcdc_gw_shadow_stats_render(&st, 0.25, 0, buf, sizeof(buf));
        parse_ok(buf, &m);
        assert_true(m.present);
        assert_true(fabs(m.rate - 0.25) < EPS);
        assert_true(m.queries == 0);
        assert_true(isnan(m.overlap_mean));
        assert_true(isnan(m.p50_s[0]));

        cmp_ok("{\"ids\":[[\"a\",\"b\",\"c\",\"d\"],[\"a\",\"b\",\"c\",\"d\"]]"
               "}",
               "{\"ids\":[[\"a\",\"b\",\"c\",\"d\"],[\"a\",\"x\",\"c\",\"y\"]]"
               "}",
               &c);
        /* 100 requests served by OLD in 1..100 ms, NEW took twice as long */
        for (i = 1; i <= 100; i++)
                vcdc_gw_shadow_stats_add(&st, 0, (double)i, 2.0 * i, &c);
        vcdc_gw_shadow_cmp_clear(&c);
        vcdc_gw_shadow_stats_error(&st, 1);
        vcdc_gw_shadow_stats_error(&st, 1);
        __atomic_fetch_add(&st.sampled, 105, __ATOMIC_RELAXED);
        __atomic_fetch_add(&st.dropped, 3, __ATOMIC_RELAXED);
        vcdc_gw_shadow_stats_render(&st, 1, 7, buf, sizeof(buf));
        parse_ok(buf, &m);
        assert_true(m.queries == 100);
        assert_true(m.compared == 200);
        assert_true(m.sampled == 105);
        assert_true(m.dropped == 3);
        assert_true(m.queue == 7);
        assert_true(m.errors[0] == 0 && m.errors[1] == 2);
        assert_true(fabs(m.overlap_mean - 0.75) < 1e-6);
        assert_true(fabs(m.overlap_min - 0.5) < 1e-6);
        /* 8 positions per request, 6 the same */
        assert_true(fabs(m.rank_agreement - 0.75) < 1e-6);
        assert_true(m.matches == 600 && m.positions == 800);
        /* nearest rank over 1..100 ms */
        assert_true(fabs(m.p50_s[0] - 0.050) < 1e-9);
        assert_true(fabs(m.p99_s[0] - 0.099) < 1e-9);
        assert_true(fabs(m.p50_s[1] - 0.100) < 1e-9);
        assert_true(fabs(m.p99_s[1] - 0.198) < 1e-9);
        assert_true(m.lat_count[0] == 100 && m.lat_count[1] == 100);
        assert_true(fabs(m.lat_sum_s[0] - 5.050) < 1e-6);
        /* The histogram: 100 at 0.5, 100 at 1.0; cumulative. */
        assert_non_null(strstr(buf, "vcdc_gateway_shadow_overlap_bucket{le="
                                    "\"0.5\"} 100\n"));
        assert_non_null(strstr(buf, "vcdc_gateway_shadow_overlap_bucket{le="
                                    "\"0.99\"} 100\n"));
        assert_non_null(strstr(buf, "vcdc_gateway_shadow_overlap_bucket{le="
                                    "\"+Inf\"} 200\n"));

        /* The ring keeps the last VCDC_GW_SHADOW_LAT_RING samples. */
        cmp_ok("{\"ids\":[[]]}", "{\"ids\":[[]]}", &c);
        for (i = 0; i < VCDC_GW_SHADOW_LAT_RING; i++)
                vcdc_gw_shadow_stats_add(&st, 1, 1000.0, 3.0, &c);
        vcdc_gw_shadow_cmp_clear(&c);
        vcdc_gw_shadow_stats_render(&st, 1, 0, buf, sizeof(buf));
        parse_ok(buf, &m);
        assert_true(fabs(m.p99_s[0] - 0.003) < 1e-9);
        assert_true(fabs(m.p50_s[1] - 1.0) < 1e-9);

        /* A short buffer cuts the text, never overflows. */
        assert_int_equal(vcdc_gw_shadow_stats_render(&st, 1, 0, buf, 16), 15);
        assert_int_equal(strlen(buf), 15);
        vcdc_gw_shadow_stats_destroy(&st);
}

static void test_parse_valid(void **state) {
        vcdc_shadow_prom_t m;

        (void)state;
        /* Other metrics, comments, blanks, CRLF, timestamps, label order
         * and escapes, +Inf and exponents. */
        parse_ok("# HELP x y\n"
                 "vcdc_gateway_requests_total{class=\"2xx\"} 5\n"
                 "\n"
                 "vcdc_gateway_shadow_queries_total 12 1700000000000\r\n"
                 "vcdc_gateway_shadow_errors_total{ side = \"new\" , } 3\n"
                 "vcdc_gateway_query_latency_seconds{quantile=\"0.99\","
                 "side=\"old\"} 1.5e-3\n"
                 "vcdc_gateway_query_latency_seconds{x=\"a\\\"b\\\\c\\n\","
                 "side=\"new\",quantile=\"0.5\"} +Inf\n"
                 "vcdc_gateway_query_latency_seconds{side=\"new\","
                 "quantile=\"0.9\"} 7\n"
                 "  vcdc_gateway_shadow_overlap_mean\t0.5",
                 &m);
        assert_true(m.present);
        assert_true(m.queries == 12);
        assert_true(m.errors[1] == 3);
        assert_true(fabs(m.p99_s[0] - 0.0015) < EPS);
        assert_true(isinf(m.p50_s[1]));
        assert_true(fabs(m.overlap_mean - 0.5) < EPS);

        /* Not a gateway with shadow reads: parsed, nothing present. */
        parse_ok("vcdc_gateway_inflight 0\n", &m);
        assert_false(m.present);
        parse_ok("", &m);
        assert_false(m.present);
}

static void test_parse_invalid(void **state) {
        static const struct {
                const char *text, *want;
        } cases[] = {
                {"vcdc_gateway_shadow_queries_total\n",
                 "line 1: expected a blank and a value"},
                {"a 1\n{x=\"1\"} 2\n", "line 2: expected a metric name"},
                {"m{x=1} 1", "line 1: a label value must be quoted"},
                {"m{x=\"1} 1", "line 1: unterminated label value"},
                {"m{x=\"\\q\"} 1", "line 1: bad escape"},
                {"m{x \"1\"} 1", "line 1: expected '=' after a label name"},
                {"m{x=\"1\" y=\"2\"} 1", "line 1: expected ',' or '}'"},
                {"m{x=\"1\"", "line 1: unterminated label set"},
                {"m{=\"1\"} 1", "line 1: expected a label name"},
                {"m 0x10", "line 1: the value is not a number"},
                {"m inf", "line 1: the value is not a number"},
                {"m 1e999", "line 1: the value is not a number"},
                {"m 1 2 3", "line 1: unexpected text after the value"},
                {"m 1 -", "line 1: unexpected text after the value"},
                {"vcdc_gateway_shadow_errors_total 1",
                 "line 1: a shadow metric without side"},
                {"vcdc_gateway_query_latency_seconds{side=\"mid\","
                 "quantile=\"0.5\"} 1",
                 "line 1: a shadow metric without side"},
        };
        vcdc_shadow_prom_t m;
        char errstr[256], tiny[6];
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                errstr[0] = '\0';
                assert_int_equal(vcdc_shadow_prom_parse(
                                         cases[i].text, strlen(cases[i].text),
                                         &m, errstr, sizeof(errstr)),
                                 -1);
                if (strncmp(errstr, cases[i].want, strlen(cases[i].want)))
                        fail_msg("case %zu: \"%s\", want \"%s\"", i, errstr,
                                 cases[i].want);
        }
        /* A NUL inside a line; a short error buffer. */
        assert_int_equal(vcdc_shadow_prom_parse("m 1\nn\0 1\n", 8, &m, errstr,
                                                sizeof(errstr)),
                         -1);
        assert_string_equal(errstr, "line 2: a NUL byte in the line");
        assert_int_equal(vcdc_shadow_prom_parse("m", 1, &m, tiny, sizeof(tiny)),
                         -1);
        assert_string_equal(tiny, "line ");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_compare),
                cmocka_unit_test(test_compare_invalid),
                cmocka_unit_test(test_render_parse),
                cmocka_unit_test(test_parse_valid),
                cmocka_unit_test(test_parse_invalid),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
