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
#include "log.h"

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
                {"no.such.kafka.key=1", "unknown configuration key "
                                        "\"no.such.kafka.key\""},
                {"linger.ms=abc", "linger.ms=abc: "},
                {"linger.ms=-1", "linger.ms=-1: "},
                {"socket.timeout.ms=-5", "socket.timeout.ms=-5: "},
                {"message.timeout.ms=x", "message.timeout.ms=x: "},
                {"security.protocol=bogus", "security.protocol=bogus: "},
                {"vcdc.on.error=", "vcdc.on.error: \"\" is not one of"},
                {"vcdc.flush.timeout.ms=-5", "vcdc.flush.timeout.ms: \"-5\" "
                                             "is not an integer in "
                                             "1..86400000"},
                {"vcdc.sink.timeout.ms=99", "vcdc.sink.timeout.ms: \"99\""},
                {"vcdc.batch.ms=1e3", "vcdc.batch.ms: \"1e3\""},
                {"vcdc.sink.metric=dot", "vcdc.sink.metric: \"dot\" is not "
                                         "one of cosine|l2|ip (or empty)"},
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
        /* No message ends in librdkafka's newline. */
        errstr[0] = '\0';
        assert_int_equal(
                vcdc_conf_set_kv(conf, "linger.ms=-1", errstr, sizeof(errstr)),
                -1);
        assert_true(*errstr && errstr[strlen(errstr) - 1] != '\n');
        /* Failed sets leave the defaults. */
        assert_string_equal(vcdc_conf_str(conf, "vcdc.on.error"), "stop");
        vcdc_conf_destroy(conf);
}

/* A secret never appears in an error: not when its key is misspelt (the
 * value of an unknown key is never shown) and not when librdkafka refuses
 * the value of a key that holds one. */
static void test_secret_not_echoed(void **state) {
        static const char *const cases[] = {
                "sasl.pasword=S3CRET-value", /* typo: unknown key */
                "ssl.keystore.pasword=S3CRET-value",
                "ssl_key=S3CRET-value", /* known, refused by librdkafka */
        };
        vcdc_conf_t *conf = vcdc_conf_new();
        char errstr[512], v[64];
        size_t i, vsize = sizeof(v);

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                errstr[0] = '\0';
                assert_int_equal(vcdc_conf_set_kv(conf, cases[i], errstr,
                                                  sizeof(errstr)),
                                 -1);
                /* The error still names the key. */
                snprintf(v, sizeof(v), "%.*s",
                         (int)strcspn(cases[i], "="), cases[i]);
                if (!strstr(errstr, v))
                        fail_msg("%s: the error does not name the key: %s",
                                 cases[i], errstr);
                if (strstr(errstr, "S3CRET"))
                        fail_msg("%s: the error shows the secret: %s", cases[i],
                                 errstr);
        }
        /* The real keys are accepted and go to librdkafka as given. */
        assert_int_equal(vcdc_conf_set_kv(conf, "sasl.password=S3CRET-value",
                                          errstr, sizeof(errstr)),
                         0);
        assert_int_equal(vcdc_conf_set_kv(conf, "sasl.username=vcdc", errstr,
                                          sizeof(errstr)),
                         0);
        assert_int_equal(rd_kafka_conf_get(vcdc_conf_kafka(conf),
                                           "sasl.username", v, &vsize),
                         RD_KAFKA_CONF_OK);
        assert_string_equal(v, "vcdc");
        vcdc_conf_destroy(conf);
}

/* Writes text into a new temporary file; its name replaces path's
 * XXXXXX. */
static void write_temp(char *path, const char *text) {
        int fd = mkstemp(path);
        FILE *fp;

        assert_true(fd >= 0);
        assert_non_null(fp = fdopen(fd, "w"));
        fputs(text, fp);
        assert_int_equal(fclose(fp), 0);
}

/* SASL and TLS settings pass through -F to librdkafka untouched. */
static void test_file_security(void **state) {
        char path[] = "/tmp/vcdc-test-conf-XXXXXX", errstr[512], v[256];
        vcdc_conf_t *conf = vcdc_conf_new();
        size_t vsize;

        (void)state;
        write_temp(path, "security.protocol=SASL_SSL\nsasl.mechanism=PLAIN\n"
                         "sasl.username = vcdc\nsasl.password=pw with = sign\n"
                         "ssl.ca.location=/nonexistent/ca.pem\n");
        assert_int_equal(
                vcdc_conf_load_file(conf, path, errstr, sizeof(errstr)), 0);
        vsize = sizeof(v);
        assert_int_equal(rd_kafka_conf_get(vcdc_conf_kafka(conf),
                                           "security.protocol", v, &vsize),
                         RD_KAFKA_CONF_OK);
        assert_string_equal(v, "sasl_ssl");
        vsize = sizeof(v);
        assert_int_equal(rd_kafka_conf_get(vcdc_conf_kafka(conf),
                                           "sasl.mechanisms", v, &vsize),
                         RD_KAFKA_CONF_OK);
        assert_string_equal(v, "PLAIN");
        vsize = sizeof(v);
        assert_int_equal(rd_kafka_conf_get(vcdc_conf_kafka(conf),
                                           "ssl.ca.location", v, &vsize),
                         RD_KAFKA_CONF_OK);
        assert_string_equal(v, "/nonexistent/ca.pem");
        unlink(path);
        vcdc_conf_destroy(conf);
}

static void test_file(void **state) {
        char path[] = "/tmp/vcdc-test-conf-XXXXXX", errstr[512];
        vcdc_conf_t *conf = vcdc_conf_new();

        (void)state;
        write_temp(path, "# comment\n! also a comment\n\n  vcdc.batch.ms = 25 \r\n"
                         "client.id=t\nvcdc.batch.records=-5\n");
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

/* -X, -F, -v and -q, as every program takes them. */
static void test_common_opt(void **state) {
        char path[] = "/tmp/vcdc-test-conf-XXXXXX", errstr[512];
        vcdc_conf_t *conf = vcdc_conf_new();
        int level = vcdc_log_level;

        (void)state;
        assert_int_equal(vcdc_conf_common_opt(conf, 'X', "vcdc.batch.ms=30",
                                              errstr, sizeof(errstr)),
                         0);
        assert_int_equal(vcdc_conf_int(conf, "vcdc.batch.ms"), 30);
        assert_int_equal(vcdc_conf_common_opt(conf, 'X', "vcdc.batch.ms",
                                              errstr, sizeof(errstr)),
                         -1);
        assert_string_equal(errstr, "-X \"vcdc.batch.ms\": expected "
                                    "key=value");
        assert_int_equal(vcdc_conf_common_opt(conf, 'X', "vcdc.batch.ms=x",
                                              errstr, sizeof(errstr)),
                         -1);
        assert_non_null(strstr(errstr, "-X vcdc.batch.ms: "));
        assert_int_equal(vcdc_conf_int(conf, "vcdc.batch.ms"), 30);

        write_temp(path, "vcdc.batch.ms=40\n");
        assert_int_equal(vcdc_conf_common_opt(conf, 'F', path, errstr,
                                              sizeof(errstr)),
                         0);
        assert_int_equal(vcdc_conf_int(conf, "vcdc.batch.ms"), 40);
        unlink(path);
        assert_int_equal(vcdc_conf_common_opt(conf, 'F', path, errstr,
                                              sizeof(errstr)),
                         -1);
        assert_non_null(strstr(errstr, path));

        assert_int_equal(vcdc_conf_common_opt(conf, 'v', NULL, errstr,
                                              sizeof(errstr)),
                         0);
        assert_int_equal(vcdc_log_level, level + 1);
        assert_int_equal(vcdc_conf_common_opt(conf, 'q', NULL, errstr,
                                              sizeof(errstr)),
                         0);
        assert_int_equal(vcdc_log_level, VCDC_LOG_ERR);
        vcdc_log_level = level;

        assert_int_equal(vcdc_conf_common_opt(conf, 'b', "x", errstr,
                                              sizeof(errstr)),
                         -1);
        assert_string_equal(errstr, "-b is not a common option");
        vcdc_conf_destroy(conf);
}

/* The option parsers, valid and invalid inputs side by side. */
static void test_parse_numbers(void **state) {
        static const struct {
                const char *s;
                int64_t min, max;
                int rc;
                int64_t v;
        } ints[] = {
                {"0", 0, 10, 0, 0},         {"10", 0, 10, 0, 10},
                {"-3", -5, 5, 0, -3},       {"+7", 0, 10, 0, 7},
                {" 4", 0, 10, 0, 4},        {"9223372036854775807", 0,
                                             INT64_MAX, 0, INT64_MAX},
                {"11", 0, 10, -1, 0},       {"-1", 0, 10, -1, 0},
                {"", 0, 10, -1, 0},         {"x", 0, 10, -1, 0},
                {"5x", 0, 10, -1, 0},       {"5 ", 0, 10, -1, 0},
                {"1.5", 0, 10, -1, 0},      {NULL, 0, 10, -1, 0},
                {"99999999999999999999", 0, INT64_MAX, -1, 0},
        };
        static const struct {
                const char *s;
                double min, max;
                int rc;
                double v;
        } doubles[] = {
                {"0.05", 0.05, 3600, 0, 0.05}, {"1e3", 0, 3600, 0, 1000},
                {"0", 0, 1, 0, 0},             {"-0.5", -1, 1, 0, -0.5},
                {"0.01", 0.05, 3600, -1, 0},   {"2", 0, 1, -1, 0},
                {"inf", 0, 1e300, -1, 0},      {"nan", 0, 1, -1, 0},
                {"1e999", 0, 1e300, -1, 0},    {"", 0, 1, -1, 0},
                {"1,5", 0, 9, -1, 0},          {NULL, 0, 1, -1, 0},
        };
        static const struct {
                const char *s;
                int rc;
                size_t v;
        } sizes[] = {
                {"1048576", 0, 1048576},     {"64K", 0, 65536},
                {"64k", 0, 65536},           {"2M", 0, 2 << 20},
                {"1G", 0, (size_t)1 << 30},  {"1GiB", 0, (size_t)1 << 30},
                {"3MB", 0, 3 << 20},         {"0", 0, 0},
                {"", -1, 0},                 {"-1K", -1, 0},
                {"+1K", -1, 0},              {"64Q", -1, 0},
                {"64KX", -1, 0},             {"64Kib", -1, 0},
                {"K", -1, 0},                {"lots", -1, 0},
                {"99999999999999999999G", -1, 0},
                {"17179869184G", -1, 0},     {NULL, -1, 0},
        };
        size_t i, sz;
        int64_t v;
        double d;

        (void)state;
        for (i = 0; i < sizeof(ints) / sizeof(*ints); i++) {
                v = -42;
                if (vcdc_conf_parse_int(ints[i].s, ints[i].min, ints[i].max,
                                        &v) != ints[i].rc)
                        fail_msg("int \"%s\": want %d", ints[i].s,
                                 ints[i].rc);
                assert_true(v == (ints[i].rc ? -42 : ints[i].v));
        }
        for (i = 0; i < sizeof(doubles) / sizeof(*doubles); i++) {
                d = -42;
                if (vcdc_conf_parse_double(doubles[i].s, doubles[i].min,
                                           doubles[i].max,
                                           &d) != doubles[i].rc)
                        fail_msg("double \"%s\": want %d", doubles[i].s,
                                 doubles[i].rc);
                assert_true(d == (doubles[i].rc ? -42 : doubles[i].v));
        }
        for (i = 0; i < sizeof(sizes) / sizeof(*sizes); i++) {
                sz = 42;
                if (vcdc_conf_parse_size(sizes[i].s, &sz) != sizes[i].rc)
                        fail_msg("size \"%s\": want %d", sizes[i].s,
                                 sizes[i].rc);
                assert_true(sz == (sizes[i].rc ? 42 : sizes[i].v));
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_numbers),
                cmocka_unit_test(test_defaults_and_set),
                cmocka_unit_test(test_invalid),
                cmocka_unit_test(test_file),
                cmocka_unit_test(test_secret_not_echoed),
                cmocka_unit_test(test_file_security),
                cmocka_unit_test(test_common_opt),
        };
        return cmocka_run_group_tests_name("conf", tests, NULL, NULL);
}
