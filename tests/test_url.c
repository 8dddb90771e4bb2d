/*
 * vcdc - unit tests: sink URL parser.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "url.h"

static void test_valid(void **state) {
        static const struct {
                const char *url, *scheme, *user, *host;
                int port;
                const char *path, *key, *value;
        } cases[] = {
                {"chroma://127.0.0.1:8000/docs", "chroma", NULL, "127.0.0.1",
                 8000, "docs", NULL, NULL},
                {"CHROMA://h/c?tenant=t1&database=d%201", "chroma", NULL, "h",
                 0, "c", "database", "d 1"},
                {"pgvector://postgres@127.0.0.1:5432/postgres?table=items",
                 "pgvector", "postgres", "127.0.0.1", 5432, "postgres",
                 "table", "items"},
                {"pgvector://u%40x@h:1/db%2Fx?a=1&&b=2", "pgvector", "u@x",
                 "h", 1, "db/x", "b", "2"},
                {"chroma://h:65535", "chroma", NULL, "h", 65535, "", NULL,
                 NULL},
                {"chroma://h/c?metric=l2&metric=ip", "chroma", NULL, "h", 0,
                 "c", "metric", "ip"},
        };
        char errstr[256];
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                vcdc_url_t *u = vcdc_url_parse(cases[i].url, errstr,
                                               sizeof(errstr));
                assert_non_null(u);
                assert_string_equal(u->scheme, cases[i].scheme);
                if (cases[i].user)
                        assert_string_equal(u->user, cases[i].user);
                else
                        assert_null(u->user);
                assert_string_equal(u->host, cases[i].host);
                assert_int_equal(u->port, cases[i].port);
                assert_string_equal(u->path, cases[i].path);
                if (cases[i].key)
                        assert_string_equal(vcdc_url_param(u, cases[i].key),
                                            cases[i].value);
                else
                        assert_int_equal(u->param_cnt, 0);
                vcdc_url_destroy(u);
        }
}

static void test_invalid(void **state) {
        static const struct {
                const char *url, *expect;
        } cases[] = {
                {"", "empty URL"},
                {"localhost:8000", "expected scheme://"},
                {"://h/c", "expected scheme://"},
                {"ch roma://h/c", "invalid scheme"},
                {"chroma:///c", "missing host"},
                {"chroma://h:0/c", "port \"0\" is not 1..65535"},
                {"chroma://h:99999/c", "is not 1..65535"},
                {"chroma://h:80x/c", "port \"80x\""},
                {"chroma://h:/c", "port \"\""},
                {"pgvector://u:secret@h/db", "password in the URL is refused"},
                /* No message echoes a password ("secret" below). */
                {"pgvector://u:secret@h:99999/db", "password in the URL"},
                {"pgvector://u:secret@h/db#f", "\"pgvector://u:***@h/db#f\""},
                {"u:secret@h/db", "\"u:***@h/db\": expected scheme://"},
                {"u:secret@h/x://h/c", "\"u:***@h/x://h/c\": invalid scheme"},
                {"pgvector://u:secret@h/db?k", "\"pgvector://u:***@h/db?k\""},
                {"chroma://h/c%zz", "bad percent-escape in path"},
                {"chroma://h/c%2", "bad percent-escape in path"},
                {"chroma://h/c%00", "bad percent-escape in path"},
                {"chroma://h/c?novalue", "expected key=value"},
                {"chroma://h/c?=v", "expected key=value"},
                {"chroma://h/c?k=%g0", "bad percent-escape"},
                {"chroma://h/c#frag", "fragments"},
                {"chroma://@h/c", "bad user name"},
        };
        char errstr[256];
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                vcdc_url_t *u;
                errstr[0] = '\0';
                if ((u = vcdc_url_parse(cases[i].url, errstr,
                                        sizeof(errstr)))) {
                        vcdc_url_destroy(u);
                        fail_msg("%s: parsed, want an error", cases[i].url);
                }
                if (!strstr(errstr, cases[i].expect))
                        fail_msg("%s: got \"%s\", want \"%s\"", cases[i].url,
                                 errstr, cases[i].expect);
                if (strstr(errstr, "secret"))
                        fail_msg("%s: \"%s\" shows the password",
                                 cases[i].url, errstr);
        }
}

static void test_check_params(void **state) {
        static const char *const allowed[] = {"table", "metric", NULL};
        char errstr[256];
        vcdc_url_t *u;

        (void)state;
        u = vcdc_url_parse("pgvector://h/db?table=t&metric=l2", errstr,
                           sizeof(errstr));
        assert_int_equal(vcdc_url_check_params(u, allowed, errstr,
                                               sizeof(errstr)),
                         0);
        vcdc_url_destroy(u);
        u = vcdc_url_parse("pgvector://h/db?tabel=t", errstr, sizeof(errstr));
        assert_int_equal(vcdc_url_check_params(u, allowed, errstr,
                                               sizeof(errstr)),
                         -1);
        assert_non_null(strstr(errstr, "unknown pgvector:// parameter "
                                       "\"tabel\" (known: table metric)"));
        vcdc_url_destroy(u);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_valid),
                cmocka_unit_test(test_invalid),
                cmocka_unit_test(test_check_params),
        };
        return cmocka_run_group_tests_name("url", tests, NULL, NULL);
}
