/*
 * vcdc - unit tests: configuration table, -X and -F.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"

static void test_defaults_and_set(void **state) {
        vcdc_conf_t *conf = vcdc_conf_new();
        char errstr[512], v[64];
        size_t vsize = sizeof(v);

        (void)state;
        assert_non_null(conf);
        assert_string_equal(vcdc_conf_str(conf, "vcdc.on.error"), "stop");
        assert_int_equal(vcdc_conf_int(conf, "vcdc.batch.records"), 1000);
        assert_int_equal(vcdc_conf_set(conf, "vcdc.on.error", "skip", errstr,
                                       sizeof(errstr)),
                         0);
        assert_string_equal(vcdc_conf_str(conf, "vcdc.on.error"), "skip");
        assert_int_equal(vcdc_conf_set_kv(conf, "vcdc.batch.records=50",
                                          errstr, sizeof(errstr)),
                         0);
        assert_int_equal(vcdc_conf_int(conf, "vcdc.batch.records"), 50);
        /* librdkafka keys pass straight through. */
        assert_int_equal(vcdc_conf_set_kv(conf, "linger.ms=7", errstr,
                                          sizeof(errstr)),
                         0);
        assert_int_equal(rd_kafka_conf_get(vcdc_conf_kafka(conf), "linger.ms",
                                           v, &vsize),
                         RD_KAFKA_CONF_OK);
        assert_string_equal(v, "7");
        vcdc_conf_destroy(conf);
}

static void test_invalid(void **state) {
        static const struct {
                const char *kv, *expect;
        } cases[] = {
                {"vcdc.on.error=maybe", "vcdc.on.error: \"maybe\" is not one "
                                        "of stop|skip"},
                {"vcdc.batch.records=0", "is not an integer in 1..1000000"},
                {"vcdc.batch.records=12x", "\"12x\" is not an integer"},
                {"vcdc.batch.records=", "\"\" is not an integer"},
                {"vcdc.batch.records=99999999999999999999", "not an integer"},
                {"vcdc.no.such.key=1", "unknown configuration key "
                                       "\"vcdc.no.such.key\""},
                {"no.such.kafka.key=1", "No such configuration property"},
                {"linger.ms=abc", "linger.ms"},
                {"=x", "expected key=value"},
                {"novalue", "expected key=value"},
        };
        vcdc_conf_t *conf = vcdc_conf_new();
        char errstr[512];
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                errstr[0] = '\0';
                assert_int_equal(vcdc_conf_set_kv(conf, cases[i].kv, errstr,
                                                  sizeof(errstr)),
                                 -1);
                if (!strstr(errstr, cases[i].expect))
                        fail_msg("%s: got \"%s\", want \"%s\"", cases[i].kv,
                                 errstr, cases[i].expect);
        }
        /* Failed sets leave the defaults. */
        assert_string_equal(vcdc_conf_str(conf, "vcdc.on.error"), "stop");
        vcdc_conf_destroy(conf);
}

static void test_file(void **state) {
        char path[] = "/tmp/vcdc-test-conf-XXXXXX", errstr[512];
        vcdc_conf_t *conf = vcdc_conf_new();
        FILE *fp;
        int fd;

        (void)state;
        fd = mkstemp(path);
        assert_true(fd >= 0);
        fp = fdopen(fd, "w");
        fputs("# comment\n! also a comment\n\n  vcdc.batch.ms = 25 \r\n"
              "client.id=t\nvcdc.batch.records=-5\n",
              fp);
        fclose(fp);
        assert_int_equal(vcdc_conf_load_file(conf, path, errstr,
                                             sizeof(errstr)),
                         -1);
        /* The error names the file and the line. */
        assert_non_null(strstr(errstr, ":6: vcdc.batch.records"));
        assert_non_null(strstr(errstr, path));
        assert_int_equal(vcdc_conf_int(conf, "vcdc.batch.ms"), 25);
        unlink(path);
        assert_int_equal(vcdc_conf_load_file(conf, path, errstr,
                                             sizeof(errstr)),
                         -1);
        assert_non_null(strstr(errstr, "No such file"));
        vcdc_conf_destroy(conf);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_defaults_and_set),
                cmocka_unit_test(test_invalid),
                cmocka_unit_test(test_file),
        };
        return cmocka_run_group_tests_name("conf", tests, NULL, NULL);
}
