/*
 * vcdc - integration test: `vcdc status` against a real broker (VCDC_BROKERS)
 * and, for the recorded offsets, pgvector (VCDC_PGVECTOR_URL). Every state is
 * produced on purpose with real consumer groups and asserted from the
 * --json report of bin/vcdc (VCDC_BIN, else ../bin/vcdc from tests/):
 *   OK       a member that consumed and committed everything, and one
 *            that keeps up with writes still flowing
 *   LAGGING  a member committing one record at a time, slowly, behind a
 *            backlog
 *   STALLED  a member present that committed 10 records and no more
 *   STOPPED  a group whose last member left, and a group that never was
 *   REWOUND  offsets reset to 0 through the admin API
 *            (AlterConsumerGroupOffsets, what kafka-consumer-groups
 *            --reset-offsets does) while status samples
 * The topic, the members and running bin/vcdc come from it_vcdc.h; this
 * file holds the scenarios, asserted on the reports, never on log lines.
 * Topics and groups are named it_status_<pid>_<time>_*; skipped, saying so,
 * when VCDC_BROKERS is unset.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <librdkafka/rdkafka.h>

#include "clock.h"
#include "it_vcdc.h"
#include "sink.h"

#define PARTS 3

static const char *brokers;
static char prefix[64];
static char vcdc_bin[512];
static char topic[128];

static int have_broker(void) {
        if (brokers && *brokers)
                return 1;
        fprintf(stderr, "it_status: skipped: VCDC_BROKERS is unset\n");
        return 0;
}

#define NEED_BROKER()                                                          \
        do {                                                                   \
                if (!have_broker())                                            \
                        skip();                                                \
        } while (0)

static void name(char *buf, size_t size, const char *what) {
        snprintf(buf, size, "%s_%s", prefix, what);
}

/* kafka-consumer-groups --reset-offsets --to-offset: through the admin API
 * (the group must have no member). */
static void reset_offsets(const char *group, const char *t, int64_t offset) {
        rd_kafka_topic_partition_list_t *parts;
        rd_kafka_AlterConsumerGroupOffsets_t *req;
        const rd_kafka_group_result_t **groups;
        const rd_kafka_topic_partition_list_t *res;
        rd_kafka_queue_t *q;
        rd_kafka_event_t *ev;
        rd_kafka_t *rk;
        char err[256];
        size_t cnt;
        int p;

        rk = rd_kafka_new(RD_KAFKA_PRODUCER, itv_conf(brokers), err,
                          sizeof(err));
        assert_non_null(rk);
        parts = rd_kafka_topic_partition_list_new(PARTS);
        for (p = 0; p < PARTS; p++)
                rd_kafka_topic_partition_list_add(parts, t, p)->offset =
                        offset;
        req = rd_kafka_AlterConsumerGroupOffsets_new(group, parts);
        rd_kafka_topic_partition_list_destroy(parts);
        q = rd_kafka_queue_new(rk);
        rd_kafka_AlterConsumerGroupOffsets(rk, &req, 1, NULL, q);
        rd_kafka_AlterConsumerGroupOffsets_destroy(req);
        ev = rd_kafka_queue_poll(q, 20000);
        assert_non_null(ev);
        if (rd_kafka_event_error(ev))
                fail_msg("reset offsets of %s: %s", group,
                         rd_kafka_event_error_string(ev));
        groups = rd_kafka_AlterConsumerGroupOffsets_result_groups(
                rd_kafka_event_AlterConsumerGroupOffsets_result(ev), &cnt);
        assert_int_equal(cnt, 1);
        assert_null(rd_kafka_group_result_error(groups[0]));
        res = rd_kafka_group_result_partitions(groups[0]);
        for (p = 0; p < res->cnt; p++)
                if (res->elems[p].err)
                        fail_msg("reset offsets of %s [%d]: %s", group,
                                 res->elems[p].partition,
                                 rd_kafka_err2str(res->elems[p].err));
        rd_kafka_event_destroy(ev);
        rd_kafka_queue_destroy(q);
        rd_kafka_destroy(rk);
}

/* The arguments of a command line, NULL-terminated. */
#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

/*
 * Running bin/vcdc.
 */

/* The next line of *sp (NUL-terminated in place), or NULL at the end. */
static char *next_line(char **sp) {
        char *line = *sp, *nl;

        if (!*line)
                return NULL;
        if ((nl = strchr(line, '\n'))) {
                *nl = '\0';
                *sp = nl + 1;
        } else
                *sp = line + strlen(line);
        return line;
}

/* The last JSON report in a command's stdout (one report a line). */
static json_t *last_report(char *out) {
        json_t *report = NULL;
        char *cur = out, *line;

        while ((line = next_line(&cur)))
                if (*line == '{') {
                        json_decref(report);
                        if (!(report = json_loads(line, 0, NULL)))
                                fail_msg("not JSON: %s", line);
                }
        if (!report)
                fail_msg("no JSON report on stdout");
        return report;
}

/* Starts `vcdc status --json -q -t TOPIC` with more arguments. */
static void status_start(itv_proc_t *p, const char *const *args) {
        const char *argv[64];
        int argc = 0;

        argv[argc++] = "status";
        argv[argc++] = "--json";
        argv[argc++] = "-q";
        argv[argc++] = "-t";
        argv[argc++] = topic;
        for (; *args && argc < 63; args++)
                argv[argc++] = *args;
        argv[argc] = NULL;
        itv_proc_start(p, vcdc_bin, argv);
}

/* `vcdc status --json` with more arguments to its end: its exit status,
 * its last report parsed into *reportp. */
static int status(json_t **reportp, const char *const *args) {
        itv_proc_t p;
        char *out;
        int rc;

        status_start(&p, args);
        rc = itv_proc_finish(&p, &out);
        *reportp = last_report(out);
        free(out);
        return rc;
}

static json_t *group_of(json_t *report, const char *group) {
        json_t *groups = json_object_get(report, "groups"), *g;
        size_t i;

        json_array_foreach(groups, i, g) {
                if (!strcmp(json_string_value(json_object_get(g, "group")),
                            group))
                        return g;
        }
        fail_msg("group %s not in the report", group);
        return NULL;
}

static const char *state_of(json_t *g) {
        return json_string_value(json_object_get(g, "state"));
}

static json_int_t int_of(json_t *obj, const char *key) {
        json_t *v = json_object_get(obj, key);

        if (!json_is_integer(v))
                fail_msg("\"%s\" is not an integer", key);
        return json_integer_value(v);
}

static void expect_state(json_t *g, const char *state) {
        if (strcmp(state_of(g), state))
                fail_msg("group %s is %s, want %s: %s",
                         json_string_value(json_object_get(g, "group")),
                         state_of(g), state,
                         json_string_value(json_object_get(g, "reason")));
}

/*
 * The tests.
 */

static void test_ok(void **state) {
        char group[160];
        json_t *report, *g, *p;
        itv_member_t *m;
        size_t i;
        int rc;

        (void)state;
        NEED_BROKER();
        name(group, sizeof(group), "ok");
        m = itv_member_start(brokers, group, topic, ITV_COMMIT_ALL, 0, 0);
        itv_member_wait_committed(m, 30);
        rc = status(&report, ARGS("--group", group));
        g = group_of(report, group);
        expect_state(g, "OK");
        assert_int_equal(rc, 0);
        assert_true(json_is_true(json_object_get(report, "ok")));
        assert_int_equal(int_of(g, "lag"), 0);
        assert_int_equal(int_of(g, "time_lag_ms"), 0);
        assert_int_equal(int_of(g, "members"), 1);
        assert_int_equal(int_of(g, "committed"), 30);
        assert_int_equal(int_of(g, "end"), 30);
        assert_int_equal(int_of(g, "samples"), 3);
        assert_true(json_real_value(json_object_get(g, "span_s")) >= 1.9);
        json_array_foreach(json_object_get(g, "partitions"), i, p) {
                assert_int_equal(int_of(p, "committed"), 10);
                assert_int_equal(int_of(p, "lag"), 0);
                /* the record before the committed offset was read */
                assert_true(int_of(p, "applied_ts_ms") > 0);
        }
        json_decref(report);
        itv_member_stop(m);
}

/* A writer in a thread: n records a second into t until stopped. */
typedef struct writer_s {
        pthread_t th;
        const char *topic;
        int rate;
        atomic_int run;
        atomic_long written;
} writer_t;

static void *writer_main(void *arg) {
        writer_t *w = arg;
                char err[256], key[32];
        rd_kafka_t *rk;
        long i = 0;

        if (!(rk = rd_kafka_new(RD_KAFKA_PRODUCER, itv_conf(brokers), err,
                                sizeof(err))))
                return NULL;
        while (atomic_load(&w->run)) {
                snprintf(key, sizeof(key), "live%ld", i);
                if (!rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(w->topic),
                                       RD_KAFKA_V_PARTITION((int)(i % PARTS)),
                                       RD_KAFKA_V_KEY(key, strlen(key)),
                                       RD_KAFKA_V_VALUE(key, strlen(key)),
                                       RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                       RD_KAFKA_V_END)) {
                        i++;
                        atomic_store(&w->written, i);
                }
                rd_kafka_poll(rk, 0);
                itv_sleep_ms(1000 / w->rate);
        }
        rd_kafka_flush(rk, 10000);
        rd_kafka_destroy(rk);
        return NULL;
}

/* Writes keep flowing: lag is seldom 0 when a sample is taken, yet a
 * consumer that keeps up is OK (it passes every log end it was shown). */
static void test_ok_live_writes(void **state) {
        writer_t w = {.rate = 200};
        char group[160], t[160];
        json_t *report, *g;
        itv_member_t *m;
        int rc;

        (void)state;
        NEED_BROKER();
        name(t, sizeof(t), "live");
        itv_create_topic(brokers, t, PARTS);
        w.topic = t;
        atomic_store(&w.run, 1);
        assert_int_equal(pthread_create(&w.th, NULL, writer_main, &w), 0);
        name(group, sizeof(group), "live");
        m = itv_member_start(brokers, group, t, ITV_COMMIT_ALL, 0, 0);
        itv_sleep_ms(1000);
        rc = status(&report, ARGS("--group", group, "-t", t));
        g = group_of(report, group);
        expect_state(g, "OK");
        assert_int_equal(rc, 0);
        assert_true(json_is_true(json_object_get(g, "reached_zero")));
        assert_true(json_real_value(json_object_get(g, "rate")) > 50);
        json_decref(report);
        atomic_store(&w.run, 0);
        pthread_join(w.th, NULL);
        assert_true(atomic_load(&w.written) > 200);
        itv_member_stop(m);
}

static void test_lagging(void **state) {
        char group[160], t[160];
        json_t *report, *g;
        itv_member_t *m;
        int rc;

        (void)state;
        NEED_BROKER();
        /* A topic of its own with a backlog of 600. */
        name(t, sizeof(t), "lagging");
        itv_create_topic(brokers, t, PARTS);
        itv_produce(brokers, t, PARTS, 600);
        name(group, sizeof(group), "lag");
        m = itv_member_start(brokers, group, t, ITV_COMMIT_SLOW, 0, 40 /*ms: ~25/s*/);
        itv_member_wait_committed(m, 5);
        rc = status(&report, ARGS("--group", group, "-t", t));
        g = group_of(report, group);
        expect_state(g, "LAGGING");
        assert_int_equal(rc, 1);
        assert_true(int_of(g, "lag") > 0);
        assert_true(int_of(g, "time_lag_ms") > 0);
        assert_true(json_real_value(json_object_get(g, "rate")) > 5);
        /* catching up: lag shrinks, so there is an ETA */
        assert_true(json_real_value(json_object_get(g, "eta_s")) > 0);
        assert_false(json_is_true(json_object_get(g, "reached_zero")));
        json_decref(report);

        /* With a limit above the lag it is still LAGGING: the group never
         * caught up with the log end in the window. */
        rc = status(&report, ARGS("--group", group, "-t", t, "--max-lag",
                                  "1000000"));
        g = group_of(report, group);
        expect_state(g, "LAGGING");
        assert_int_equal(rc, 1);
        json_decref(report);
        itv_member_stop(m);
}

static void test_stalled(void **state) {
        char group[160];
        json_t *report, *g, *p;
        itv_member_t *m;
        json_int_t committed = 0;
        size_t i;
        int rc;

        (void)state;
        NEED_BROKER();
        name(group, sizeof(group), "stall");
        m = itv_member_start(brokers, group, topic, ITV_COMMIT_FIRST, 10, 0);
        /* It consumes all 30 and committed 10: a member, no progress. */
        while (atomic_load(&m->consumed) < 30)
                itv_sleep_ms(50);
        itv_member_wait_committed(m, 10);
        rc = status(&report, ARGS("--group", group));
        g = group_of(report, group);
        expect_state(g, "STALLED");
        assert_int_equal(rc, 1);
        assert_int_equal(int_of(g, "lag"), 20);
        assert_int_equal(int_of(g, "members"), 1);
        assert_true(int_of(g, "time_lag_ms") > 0);
        assert_true(json_real_value(json_object_get(g, "eta_s")) < 0);
        json_array_foreach(json_object_get(g, "partitions"), i, p)
                committed += int_of(p, "committed") > 0
                                     ? int_of(p, "committed")
                                     : 0;
        assert_int_equal(committed, 10);
        json_decref(report);
        itv_member_stop(m);
}

static void test_stopped(void **state) {
        char group[160], never[160];
        json_t *report, *g, *p;
        itv_member_t *m;
        size_t i;
        int rc;

        (void)state;
        NEED_BROKER();
        name(group, sizeof(group), "stop");
        name(never, sizeof(never), "never");
        m = itv_member_start(brokers, group, topic, ITV_COMMIT_ALL, 0, 0);
        itv_member_wait_committed(m, 30);
        itv_member_stop(m);
        rc = status(&report, ARGS("--group", group, "--group", never));
        assert_int_equal(rc, 1);
        assert_false(json_is_true(json_object_get(report, "ok")));
        /* Caught up, but nobody applies what comes next. */
        g = group_of(report, group);
        expect_state(g, "STOPPED");
        assert_int_equal(int_of(g, "members"), 0);
        assert_int_equal(int_of(g, "lag"), 0);
        assert_int_equal(int_of(g, "committed"), 30);
        /* A group that never existed: no member, nothing committed. */
        g = group_of(report, never);
        expect_state(g, "STOPPED");
        assert_int_equal(int_of(g, "lag"), 30);
        json_array_foreach(json_object_get(g, "partitions"), i, p)
                assert_int_equal(int_of(p, "committed"), -1);
        json_decref(report);
}

/* One line of a running command's stdout (without the newline), waiting
 * up to 60 s; NULL at its end. The returned line is valid until the next
 * call. */
typedef struct lines_s {
        char buf[1 << 16];
        size_t len, consumed;
} lines_t;

static char *read_line(itv_proc_t *p, lines_t *l) {
        int64_t deadline = vcdc_clock_ms() + 60000;
        char *nl;
        ssize_t n;

        if (l->consumed) {
                memmove(l->buf, l->buf + l->consumed, l->len - l->consumed);
                l->len -= l->consumed;
                l->consumed = 0;
        }
        for (;;) {
                l->buf[l->len] = '\0';
                if ((nl = strchr(l->buf, '\n'))) {
                        *nl = '\0';
                        l->consumed = (size_t)(nl - l->buf) + 1;
                        return l->buf;
                }
                if (vcdc_clock_ms() > deadline || l->len + 1 >= sizeof(l->buf))
                        return NULL;
                n = read(p->fd, l->buf + l->len, sizeof(l->buf) - l->len - 1);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return NULL;
                l->len += (size_t)n;
        }
}

static void test_rewound(void **state) {
        static lines_t lines;
        char group[160], *out, *line;
        json_t *report, *g, *p;
        itv_member_t *m;
        itv_proc_t proc;
        size_t i;
        int rc;

        (void)state;
        NEED_BROKER();
        name(group, sizeof(group), "rewind");
        m = itv_member_start(brokers, group, topic, ITV_COMMIT_ALL, 0, 0);
        itv_member_wait_committed(m, 30);
        itv_member_stop(m);

        /* A first report over 3 samples, then the offsets are reset (what
         * kafka-consumer-groups --reset-offsets --to-offset 0 does), then
         * the sliding window holds samples from before and after. */
        memset(&lines, 0, sizeof(lines));
        status_start(&proc, ARGS("--group", group, "--window", "3",
                                 "--interval", "0.2", "--watch", "1"));
        assert_non_null(line = read_line(&proc, &lines));
        report = last_report(line);
        g = group_of(report, group);
        expect_state(g, "STOPPED");
        assert_int_equal(int_of(g, "committed"), 30);
        json_decref(report);

        reset_offsets(group, topic, 0);
        /* The next report shows it, unless its sample was taken while the
         * reset was on its way: then the one after. */
        for (i = 0, report = NULL; i < 3; i++) {
                json_decref(report);
                assert_non_null(line = read_line(&proc, &lines));
                report = last_report(line);
                if (strcmp(state_of(group_of(report, group)), "STOPPED"))
                        break;
        }
        kill(proc.pid, SIGTERM);
        rc = itv_proc_finish(&proc, &out);
        free(out);
        g = group_of(report, group);
        expect_state(g, "REWOUND");
        /* the exit status is the last report's */
        assert_int_equal(rc, 1);
        assert_non_null(strstr(json_string_value(json_object_get(g, "reason")),
                               "went back from 10 to 0"));
        assert_int_equal(int_of(g, "lag"), 30);
        json_array_foreach(json_object_get(g, "partitions"), i, p)
                assert_int_equal(int_of(p, "committed"), 0);
        json_decref(report);
}

/* The offset recorded in the target comes from the group's sink. */
static void test_recorded(void **state) {
        const char *pg = getenv("VCDC_PGVECTOR_URL");
        vcdc_sink_offset_t offs[PARTS];
        vcdc_sink_t *sink;
        char group[160], url[512], spec[700], errstr[512];
        json_t *report, *g, *p;
        itv_member_t *m;
        size_t i;
        int rc;

        (void)state;
        NEED_BROKER();
        if (!pg || !*pg) {
                fprintf(stderr, "it_status: test_recorded skipped: "
                                "VCDC_PGVECTOR_URL is unset\n");
                skip();
        }
        name(group, sizeof(group), "recorded");
        snprintf(url, sizeof(url), "%s?table=it_status_%d&sslmode=disable",
                 pg, (int)getpid());
        sink = vcdc_sink_new(url, NULL, errstr, sizeof(errstr));
        if (!sink)
                fail_msg("%s: %s", url, errstr);
        /* Offsets belong to the table they describe: none read back
         * while it does not exist. */
        {
                float v[2] = {1, 2};
                vcdc_record_t rec = {.id = "x", .op = VCDC_OP_UPSERT,
                                     .vector = v, .dim = 2};
                const vcdc_record_t *ptr = &rec;
                vcdc_sink_batch_t batch = {.upserts = &ptr, .upsert_cnt = 1};
                if (vcdc_sink_apply(sink, &batch, errstr, sizeof(errstr)) !=
                    VCDC_SINK_OK)
                        fail_msg("creating the table: %s", errstr);
        }
        for (i = 0; i < PARTS; i++) {
                offs[i].partition = (int32_t)i;
                offs[i].offset = (int64_t)(i + 4);
        }
        if (vcdc_sink_record_offsets(sink, topic, offs, PARTS, errstr,
                                     sizeof(errstr)) != VCDC_SINK_OK)
                fail_msg("recording offsets: %s", errstr);
        vcdc_sink_destroy(sink);

        m = itv_member_start(brokers, group, topic, ITV_COMMIT_ALL, 0, 0);
        itv_member_wait_committed(m, 30);
        snprintf(spec, sizeof(spec), "%s=%s", group, url);
        rc = status(&report, ARGS("--group", spec, "--window", "2"));
        assert_int_equal(rc, 0);
        g = group_of(report, group);
        expect_state(g, "OK");
        assert_string_equal(json_string_value(json_object_get(g, "sink")),
                            url);
        json_array_foreach(json_object_get(g, "partitions"), i, p)
                assert_int_equal(int_of(p, "recorded"),
                                 int_of(p, "partition") + 4);
        json_decref(report);
        itv_member_stop(m);
}

/* --watch reports again over a sliding window until SIGTERM. */
static void test_watch(void **state) {
        char group[160], *out, *line, *cur, buf[4096];
        static char head[1 << 16];
        json_t *report;
        itv_member_t *m;
        itv_proc_t proc;
        int64_t deadline;
        size_t i, head_len = 0;
        int rc, reports = 0, lines = 0;

        (void)state;
        NEED_BROKER();
        name(group, sizeof(group), "watch");
        m = itv_member_start(brokers, group, topic, ITV_COMMIT_ALL, 0, 0);
        itv_member_wait_committed(m, 30);
        status_start(&proc, ARGS("--group", group, "--window", "2",
                                 "--watch", "1"));
        /* Two reports (the first window, then one a second), then stop. */
        for (deadline = vcdc_clock_ms() + 60000;
             lines < 2 && vcdc_clock_ms() < deadline;) {
                ssize_t n = read(proc.fd, buf, sizeof(buf));
                if (n <= 0)
                        break;
                for (i = 0; i < (size_t)n; i++)
                        lines += buf[i] == '\n';
                assert_true(head_len + (size_t)n < sizeof(head));
                memcpy(head + head_len, buf, (size_t)n);
                head_len += (size_t)n;
        }
        head[head_len] = '\0';
        kill(proc.pid, SIGTERM);
        rc = itv_proc_finish(&proc, &out);
        assert_true(head_len + strlen(out) < sizeof(head));
        memcpy(head + head_len, out, strlen(out) + 1);
        free(out);
        out = strdup(head);
        assert_int_equal(rc, 0);
        for (cur = out; (line = next_line(&cur));) {
                report = json_loads(line, 0, NULL);
                assert_non_null(report);
                expect_state(group_of(report, group), "OK");
                assert_int_equal(int_of(group_of(report, group), "samples"),
                                 2);
                json_decref(report);
                reports++;
        }
        assert_true(reports >= 2);
        free(out);
        itv_member_stop(m);
}

static void test_errors(void **state) {
        char *out;

        (void)state;
        NEED_BROKER();
        /* A topic that does not exist: an error, 2. */
        assert_int_equal(itv_run(vcdc_bin, &out,
                                 ARGS("status", "-q", "-t",
                                      "it_status_no_such_topic", "--group",
                                      "g")),
                         2);
        free(out);
        /* Bad usage: 64. */
        assert_int_equal(itv_run(vcdc_bin, &out,
                                 ARGS("status", "-q", "--window", "0", "--group",
                                      "g")),
                         64);
        free(out);
}

static int setup(void **state) {
        (void)state;
        brokers = getenv("VCDC_BROKERS");
        snprintf(prefix, sizeof(prefix), "it_status_%d_%ld", (int)getpid(),
                 (long)time(NULL));
        itv_vcdc_bin(vcdc_bin, sizeof(vcdc_bin));
        if (!brokers || !*brokers)
                return 0;
        if (access(vcdc_bin, X_OK) != 0) {
                fprintf(stderr, "it_status: %s is not built (make all)\n",
                        vcdc_bin);
                return -1;
        }
        /* The shared topic: 30 records, 10 a partition. */
        name(topic, sizeof(topic), "t");
        itv_create_topic(brokers, topic, PARTS);
        itv_produce(brokers, topic, PARTS, 30);
        return 0;
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_ok),
                cmocka_unit_test(test_ok_live_writes),
                cmocka_unit_test(test_lagging),
                cmocka_unit_test(test_stalled),
                cmocka_unit_test(test_stopped),
                cmocka_unit_test(test_rewound),
                cmocka_unit_test(test_recorded),
                cmocka_unit_test(test_watch),
                cmocka_unit_test(test_errors),
        };

        return cmocka_run_group_tests(tests, setup, NULL);
}
