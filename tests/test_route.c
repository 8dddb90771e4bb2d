/*
 * vcdc - unit tests: the control topic's route record, valid and malformed
 * values side by side.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "route.h"

static void test_roundtrip(void **state) {
        vcdc_route_record_t rec, back;
        char errstr[256], *text;

        (void)state;
        vcdc_route_record_init(&rec);
        rec.collection = strdup("docs \xc3\xa9t\xc3\xa9 #1");
        rec.route = VCDC_ROUTE_NEW;
        rec.previous = VCDC_ROUTE_OLD;
        rec.action = strdup("cutover");
        rec.ts_ms = 1767225600123;
        rec.user = strdup("ops");
        rec.host = strdup("ops1");
        rec.forced = 1;
        rec.gate = strdup("{\"readiness\": {\"pass\": true, \"lag\": 0}, "
                          "\"shadow\": {\"overlap_mean\": 0.97}}");
        text = vcdc_route_record_encode(&rec, errstr, sizeof(errstr));
        assert_non_null(text);
        /* Fields in the documented order, compact. */
        assert_non_null(strstr(text, "{\"collection\":\"docs "));
        assert_non_null(strstr(text, ",\"kind\":\"route\"}"));
        assert_non_null(strstr(text, "\"route\":\"new\",\"previous\":\"old\","
                                     "\"action\":\"cutover\",\"ts_ms\":"
                                     "1767225600123,\"user\":\"ops\","
                                     "\"host\":\"ops1\",\"forced\":true,"
                                     "\"gate\":{\"readiness\":"));
        assert_int_equal(vcdc_route_record_decode(text, strlen(text), &back,
                                                  errstr, sizeof(errstr)),
                         0);
        assert_string_equal(back.collection, rec.collection);
        assert_int_equal(back.route, VCDC_ROUTE_NEW);
        assert_int_equal(back.previous, VCDC_ROUTE_OLD);
        assert_string_equal(back.action, "cutover");
        assert_int_equal(back.ts_ms, 1767225600123);
        assert_string_equal(back.user, "ops");
        assert_string_equal(back.host, "ops1");
        assert_int_equal(back.forced, 1);
        assert_string_equal(back.gate,
                            "{\"readiness\":{\"pass\":true,\"lag\":0},"
                            "\"shadow\":{\"overlap_mean\":0.97}}");
        free(text);
        vcdc_route_record_clear(&back);

        /* A rollback: no gate, no user or host known. */
        free(rec.gate);
        free(rec.user);
        free(rec.host);
        rec.gate = rec.user = rec.host = NULL;
        rec.forced = 0;
        rec.route = VCDC_ROUTE_OLD;
        rec.previous = VCDC_ROUTE_NEW;
        text = vcdc_route_record_encode(&rec, errstr, sizeof(errstr));
        assert_non_null(text);
        assert_non_null(strstr(text, "\"forced\":false,\"gate\":{}"));
        assert_null(strstr(text, "\"user\""));
        assert_int_equal(vcdc_route_record_decode(text, strlen(text), &back,
                                                  errstr, sizeof(errstr)),
                         0);
        assert_int_equal(back.route, VCDC_ROUTE_OLD);
        assert_int_equal(back.previous, VCDC_ROUTE_NEW);
        assert_null(back.user);
        assert_int_equal(back.forced, 0);
        assert_string_equal(back.gate, "{}");
        free(text);
        vcdc_route_record_clear(&back);
        vcdc_route_record_clear(&rec);
        vcdc_route_record_clear(NULL);
}

static void test_encode_invalid(void **state) {
        static const struct {
                const char *collection, *gate, *expect;
        } cases[] = {
                {NULL, NULL, "without a collection"},
                {"", NULL, "without a collection"},
                {"c", "[1,2]", "not a JSON object"},
                {"c", "{\"a\":", "not JSON"},
                {"c", "{\"a\":1,\"a\":2}", "not JSON"},
        };
        vcdc_route_record_t rec;
        char errstr[256];
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                vcdc_route_record_init(&rec);
                rec.collection = (char *)cases[i].collection;
                rec.gate = (char *)cases[i].gate;
                errstr[0] = '\0';
                assert_null(vcdc_route_record_encode(&rec, errstr,
                                                     sizeof(errstr)));
                if (!strstr(errstr, cases[i].expect))
                        fail_msg("case %zu: \"%s\" lacks \"%s\"", i, errstr,
                                 cases[i].expect);
        }
}

/* Valid values: what each decodes to. */
static void test_decode_valid(void **state) {
        static const struct {
                const char *json;
                const char *collection;
                vcdc_route_side_t route, previous;
                int64_t ts_ms;
                int forced;
                const char *user, *gate;
        } cases[] = {
                {"{\"collection\":\"c\",\"route\":\"new\",\"previous\":\"old\","
                 "\"ts_ms\":1}",
                 "c", VCDC_ROUTE_NEW, VCDC_ROUTE_OLD, 1, 0, NULL, NULL},
                {" { \"ts_ms\" : 0 , \"previous\" : \"new\" , \"route\" : "
                 "\"old\" , \"collection\" : \"a#1\" } ",
                 "a#1", VCDC_ROUTE_OLD, VCDC_ROUTE_NEW, 0, 0, NULL, NULL},
                {"{\"collection\":\"c\",\"route\":\"new\",\"previous\":\"old\","
                 "\"ts_ms\":9007199254740993,\"forced\":true,\"user\":null,"
                 "\"gate\":null,\"future\":[1,{\"x\":2}]}",
                 "c", VCDC_ROUTE_NEW, VCDC_ROUTE_OLD, 9007199254740993LL, 1,
                 NULL, NULL},
                {"{\"collection\":\"\\u00e9\",\"route\":\"new\","
                 "\"previous\":\"new\",\"ts_ms\":5,\"user\":\"deployer\","
                 "\"gate\":{\"k\":[1,2]}}",
                 "\xc3\xa9", VCDC_ROUTE_NEW, VCDC_ROUTE_NEW, 5, 0, "deployer",
                 "{\"k\":[1,2]}"},
        };
        vcdc_route_record_t rec;
        char errstr[256];
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                if (vcdc_route_record_decode(cases[i].json,
                                             strlen(cases[i].json), &rec,
                                             errstr, sizeof(errstr)) == -1)
                        fail_msg("case %zu: %s", i, errstr);
                assert_string_equal(rec.collection, cases[i].collection);
                assert_int_equal(rec.route, cases[i].route);
                assert_int_equal(rec.previous, cases[i].previous);
                assert_int_equal(rec.ts_ms, cases[i].ts_ms);
                assert_int_equal(rec.forced, cases[i].forced);
                if (cases[i].user)
                        assert_string_equal(rec.user, cases[i].user);
                else
                        assert_null(rec.user);
                if (cases[i].gate)
                        assert_string_equal(rec.gate, cases[i].gate);
                else
                        assert_null(rec.gate);
                vcdc_route_record_clear(&rec);
        }
}

/* Malformed values: the error each gives. */
static void test_decode_invalid(void **state) {
        static const struct {
                const char *json, *expect;
        } cases[] = {
                {"", "not JSON"},
                {"{", "not JSON"},
                {"old", "not JSON"},
                {"[]", "not a JSON object"},
                {"\"new\"", "not a JSON object"},
                {"{}", "without \"collection\""},
                {"{\"collection\":7,\"route\":\"new\"}", "not a string"},
                {"{\"collection\":\"\",\"route\":\"new\"}", "is empty"},
                {"{\"collection\":\"c\",\"previous\":\"old\",\"ts_ms\":1}",
                 "\"route\" must be"},
                {"{\"collection\":\"c\",\"route\":\"NEW\",\"previous\":\"old\","
                 "\"ts_ms\":1}",
                 "\"route\" must be"},
                {"{\"collection\":\"c\",\"route\":\"new\",\"ts_ms\":1}",
                 "\"previous\" must be"},
                {"{\"collection\":\"c\",\"route\":\"new\",\"previous\":1,"
                 "\"ts_ms\":1}",
                 "\"previous\" must be"},
                {"{\"collection\":\"c\",\"route\":\"new\",\"previous\":\"old\"}",
                 "\"ts_ms\" must be"},
                {"{\"collection\":\"c\",\"route\":\"new\",\"previous\":\"old\","
                 "\"ts_ms\":\"1\"}",
                 "\"ts_ms\" must be"},
                {"{\"collection\":\"c\",\"route\":\"new\",\"previous\":\"old\","
                 "\"ts_ms\":-1}",
                 "\"ts_ms\" must be"},
                {"{\"collection\":\"c\",\"route\":\"new\",\"previous\":\"old\","
                 "\"ts_ms\":1.5}",
                 "\"ts_ms\" must be"},
                {"{\"collection\":\"c\",\"route\":\"new\",\"previous\":\"old\","
                 "\"ts_ms\":1,\"forced\":\"yes\"}",
                 "\"forced\" is not a boolean"},
                {"{\"collection\":\"c\",\"route\":\"new\",\"previous\":\"old\","
                 "\"ts_ms\":1,\"user\":[]}",
                 "\"user\" is not a string"},
                {"{\"collection\":\"c\",\"route\":\"new\",\"previous\":\"old\","
                 "\"ts_ms\":1,\"gate\":\"ok\"}",
                 "\"gate\" is not an object"},
                {"{\"collection\":\"c\",\"collection\":\"d\",\"route\":\"new\","
                 "\"previous\":\"old\",\"ts_ms\":1}",
                 "not JSON"},
                {"{\"collection\":\"\xff\",\"route\":\"new\",\"previous\":"
                 "\"old\",\"ts_ms\":1}",
                 "not JSON"},
        };
        vcdc_route_record_t rec;
        char errstr[256];
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                errstr[0] = '\0';
                if (vcdc_route_record_decode(cases[i].json,
                                             strlen(cases[i].json), &rec,
                                             errstr, sizeof(errstr)) != -1)
                        fail_msg("case %zu accepted: %s", i, cases[i].json);
                if (!strstr(errstr, cases[i].expect))
                        fail_msg("case %zu: \"%s\" lacks \"%s\"", i, errstr,
                                 cases[i].expect);
                /* Nothing left behind on failure. */
                assert_null(rec.collection);
                assert_null(rec.user);
        }
        /* A tombstone has no value at all. */
        assert_int_equal(vcdc_route_record_decode(NULL, 0, &rec, errstr,
                                                  sizeof(errstr)),
                         -1);
        assert_non_null(strstr(errstr, "tombstone"));
}

/* The control topic holds other kinds of records: a reader of routes
 * skips them (1, nothing kept, no error), whatever else they hold; a value
 * of kind "route", or with no kind (written before kinds), is a route. */
static void test_decode_kinds(void **state) {
        static const struct {
                const char *json;
                int want;
        } cases[] = {
                {"{\"kind\":\"route\",\"collection\":\"c\",\"route\":"
                 "\"new\",\"previous\":\"old\",\"ts_ms\":1}",
                 0},
                {"{\"collection\":\"c\",\"route\":\"new\",\"previous\":"
                 "\"old\",\"ts_ms\":1,\"kind\":\"route\"}",
                 0},
                {"{\"kind\":\"collection\",\"collection\":\"c\",\"metric\":"
                 "\"cosine\",\"dim\":3,\"ts_ms\":1}",
                 1},
                {"{\"kind\":\"snapshot\",\"run\":\"r1\",\"chunk\":4}", 1},
                {"{\"kind\":\"snapshot\",\"collection\":\"c\",\"route\":"
                 "\"new\",\"previous\":\"old\",\"ts_ms\":1}",
                 1},
                {"{\"kind\":7}", 1},
                {"{\"kind\":null,\"collection\":\"c\"}", 1},
                {"{\"kind\":\"Route\"}", 1},
                /* A route record is still checked. */
                {"{\"kind\":\"route\",\"collection\":\"c\"}", -1},
                {"{\"kind\":\"route\"}", -1},
        };
        vcdc_route_record_t rec;
        char errstr[256];
        size_t i;
        int r;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                snprintf(errstr, sizeof(errstr), "untouched");
                r = vcdc_route_record_decode(cases[i].json,
                                             strlen(cases[i].json), &rec,
                                             errstr, sizeof(errstr));
                if (r != cases[i].want)
                        fail_msg("case %zu: %d, want %d (%s): %s", i, r,
                                 cases[i].want, errstr, cases[i].json);
                if (r == 1) {
                        assert_string_equal(errstr, "untouched");
                        assert_null(rec.collection);
                }
                vcdc_route_record_clear(&rec);
        }
}

/* Every prefix of a valid value is malformed, and never crashes. */
static void test_decode_truncated(void **state) {
        static const char json[] =
                "{\"collection\":\"c\",\"route\":\"new\",\"previous\":\"old\","
                "\"ts_ms\":12,\"user\":\"u\",\"forced\":false,\"gate\":{}}";
        vcdc_route_record_t rec;
        char errstr[256];
        size_t len;

        (void)state;
        for (len = 0; len < sizeof(json) - 1; len++)
                assert_int_equal(vcdc_route_record_decode(json, len, &rec,
                                                          errstr,
                                                          sizeof(errstr)),
                                 -1);
        assert_int_equal(vcdc_route_record_decode(json, sizeof(json) - 1, &rec,
                                                  errstr, sizeof(errstr)),
                         0);
        vcdc_route_record_clear(&rec);
}

static void test_sides_and_keys(void **state) {
        vcdc_route_record_t rec;
        vcdc_route_side_t side = VCDC_ROUTE_NEW;
        char key[16];

        (void)state;
        assert_string_equal(vcdc_route_side_name(VCDC_ROUTE_OLD), "old");
        assert_string_equal(vcdc_route_side_name(VCDC_ROUTE_NEW), "new");
        assert_int_equal(vcdc_route_side_parse("old", &side), 0);
        assert_int_equal(side, VCDC_ROUTE_OLD);
        assert_int_equal(vcdc_route_side_parse("new", &side), 0);
        assert_int_equal(side, VCDC_ROUTE_NEW);
        assert_int_equal(vcdc_route_side_parse("New", &side), -1);
        assert_int_equal(vcdc_route_side_parse("", &side), -1);
        assert_int_equal(vcdc_route_side_parse("old ", &side), -1);

        vcdc_route_record_init(&rec);
        rec.collection = "docs";
        rec.ts_ms = 1234567;
        assert_int_equal(vcdc_route_history_key(&rec, key, sizeof(key)), 0);
        assert_string_equal(key, "docs#1234567");
        rec.ts_ms = 1767225600123;
        assert_int_equal(vcdc_route_history_key(&rec, key, sizeof(key)), -1);
}

/* The time of a switch as the commands print it: UTC, milliseconds. */
static void test_time_str(void **state) {
        static const struct {
                int64_t ts_ms;
                const char *want;
        } cases[] = {
                {0, "1970-01-01T00:00:00.000Z"},
                {1767225600000, "2026-01-01T00:00:00.000Z"},
                {1767225600001, "2026-01-01T00:00:00.001Z"},
                {1709210096789, "2024-02-29T12:34:56.789Z"},
        };
        char buf[64], small[11];
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                vcdc_route_time_str(buf, sizeof(buf), cases[i].ts_ms);
                assert_string_equal(buf, cases[i].want);
        }
        /* A short buffer is cut, never overrun. */
        vcdc_route_time_str(small, sizeof(small), 1767225600000);
        assert_string_equal(small, "2026-01-01");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_time_str),
                cmocka_unit_test(test_roundtrip),
                cmocka_unit_test(test_encode_invalid),
                cmocka_unit_test(test_decode_valid),
                cmocka_unit_test(test_decode_invalid),
                cmocka_unit_test(test_decode_kinds),
                cmocka_unit_test(test_decode_truncated),
                cmocka_unit_test(test_sides_and_keys),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
