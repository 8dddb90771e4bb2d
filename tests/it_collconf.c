/*
 * vcdc - integration test: a collection's configuration on a real broker
 * (VCDC_BROKERS) through vcdc_collconf_write and vcdc_collconf_read
 * (control/collconf.h): what is written reads back, the newest ts_ms
 * wins whatever the order, other collections and the route's records on
 * the same topic are passed over, the route's reader passes over the
 * configuration, and reading a control topic that does not exist finds
 * nothing and does not create it. Topics are named it_collconf_<pid>_*;
 * skipped, saying so, when VCDC_BROKERS is unset.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "admin.h"
#include "clock.h"
#include "collconf.h"
#include "conf.h"
#include "log.h"
#include "route.h"

static const char *brokers;
static vcdc_conf_t *conf;

#define NEED_BROKER()                                                          \
        do {                                                                   \
                if (!brokers || !*brokers) {                                   \
                        fprintf(stderr, "it_collconf: skipped: "               \
                                        "VCDC_BROKERS is unset\n");            \
                        skip();                                                \
                }                                                              \
        } while (0)

static void topic_name(char *buf, size_t size, const char *what) {
        snprintf(buf, size, "it_collconf_%d_%lld_%s", (int)getpid(),
                 (long long)vcdc_wall_ms(), what);
}

static void write_cc(const char *topic, const char *collection,
                     vcdc_metric_t metric, size_t dim, int64_t ts_ms,
                     const char *source) {
        vcdc_collconf_t cc;
        char errstr[512];

        vcdc_collconf_init(&cc);
        cc.collection = (char *)collection;
        cc.metric = metric;
        cc.dim = dim;
        cc.index = (char *)"{\"kind\":\"hnsw\",\"m\":16}";
        cc.source = (char *)source;
        cc.ts_ms = ts_ms;
        if (vcdc_collconf_write(conf, topic, &cc, errstr, sizeof(errstr)))
                fail_msg("write: %s", errstr);
}

static void test_write_read(void **state) {
        vcdc_route_record_t rec;
        vcdc_route_state_t rs;
        vcdc_collconf_t cc;
        char topic[160], errstr[512];
        int64_t now = vcdc_wall_ms();
        int found;

        (void)state;
        NEED_BROKER();
        topic_name(topic, sizeof(topic), "ctl");
        write_cc(topic, "docs", VCDC_METRIC_L2, 128, now, "chroma://h:1/docs");
        /* Older, written after: the newest ts_ms still wins. */
        write_cc(topic, "docs", VCDC_METRIC_IP, 64, now - 10, "chroma://x:1/y");
        write_cc(topic, "other", VCDC_METRIC_COSINE, 3, now + 10,
                 "pgvector://u@h:1/db?table=other");
        /* A route on the same topic. */
        vcdc_route_record_init(&rec);
        rec.collection = "docs";
        rec.route = VCDC_ROUTE_NEW;
        rec.previous = VCDC_ROUTE_OLD;
        rec.ts_ms = now;
        if (vcdc_route_write(conf, topic, &rec, errstr, sizeof(errstr)))
                fail_msg("route write: %s", errstr);

        if (vcdc_collconf_read(conf, topic, "docs", &cc, &found, errstr,
                               sizeof(errstr)))
                fail_msg("read: %s", errstr);
        assert_int_equal(found, 1);
        assert_string_equal(cc.collection, "docs");
        assert_int_equal(cc.metric, VCDC_METRIC_L2);
        assert_int_equal(cc.dim, 128);
        assert_string_equal(cc.index, "{\"kind\":\"hnsw\",\"m\":16}");
        assert_string_equal(cc.source, "chroma://h:1/docs");
        assert_int_equal(cc.ts_ms, now);
        vcdc_collconf_clear(&cc);

        if (vcdc_collconf_read(conf, topic, "none", &cc, &found, errstr,
                               sizeof(errstr)))
                fail_msg("read: %s", errstr);
        assert_int_equal(found, 0);
        assert_null(cc.collection);

        /* The route reads as it was written, the configuration aside. */
        if (vcdc_route_read(conf, topic, "docs", &rs, errstr,
                            sizeof(errstr)))
                fail_msg("route read: %s", errstr);
        assert_true(rs.has_current);
        assert_int_equal(rs.current.route, VCDC_ROUTE_NEW);
        assert_int_equal(rs.history_cnt, 1);
        vcdc_route_state_clear(&rs);
}

static void test_missing_topic(void **state) {
        vcdc_collconf_t cc;
        rd_kafka_conf_t *rkc;
        rd_kafka_t *rk;
        char topic[160], errstr[512];
        int found = -1, cnt = -1;

        (void)state;
        NEED_BROKER();
        topic_name(topic, sizeof(topic), "missing");
        if (vcdc_collconf_read(conf, topic, "docs", &cc, &found, errstr,
                               sizeof(errstr)))
                fail_msg("read: %s", errstr);
        assert_int_equal(found, 0);
        vcdc_collconf_clear(&cc);
        /* Still missing. */
        assert_non_null(rkc = vcdc_conf_kafka_dup(conf));
        rd_kafka_conf_set(rkc, "allow.auto.create.topics", "false", errstr,
                          sizeof(errstr));
        if (!(rk = rd_kafka_new(RD_KAFKA_CONSUMER, rkc, errstr,
                                sizeof(errstr))))
                fail_msg("%s", errstr);
        if (vcdc_admin_partition_count(rk, topic, &cnt, 10000, errstr,
                                       sizeof(errstr)))
                fail_msg("%s", errstr);
        rd_kafka_destroy(rk);
        assert_int_equal(cnt, 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_write_read),
                cmocka_unit_test(test_missing_topic),
        };
        char errstr[512];
        int r;

        vcdc_log_level = VCDC_LOG_WARN;
        brokers = getenv("VCDC_BROKERS");
        if (!(conf = vcdc_conf_new()) ||
            (brokers && *brokers &&
             vcdc_conf_set(conf, "bootstrap.servers", brokers, errstr,
                           sizeof(errstr)))) {
                fprintf(stderr, "it_collconf: set-up failed\n");
                return 1;
        }
        r = cmocka_run_group_tests_name("it_collconf", tests, NULL, NULL);
        vcdc_conf_destroy(conf);
        return r;
}
