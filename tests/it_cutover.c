/*
 * vcdc - integration test: `vcdc cutover`, `rollback` and `route`, and the
 * route follower, against a real broker (VCDC_BROKERS), Chroma
 * (VCDC_CHROMA_HOST, VCDC_CHROMA_PORT: OLD) and pgvector (VCDC_PGVECTOR_URL:
 * NEW). Both targets are filled identically through the sink API, with
 * their applied offsets recorded; two consumer groups (one member each, in
 * threads) have committed the whole topic. Then, with a route follower
 * created before any switch:
 *   - the gate refuses when one check fails, each on its own: the NEW
 *     group lags (stops committing), NEW's recorded offsets are behind
 *     OLD's, a metadata difference is planted in NEW (verify), NEW's
 *     vectors are perturbed within the verify tolerance (shadow overlap
 *     below the threshold); the route stays old;
 *   - the gate passes when all hold, and the follower sees NEW within a
 *     second; rollback brings OLD back and the follower sees it; a second
 *     rollback is refused;
 *   - --force switches despite a failing gate and the record says forced;
 *   - `vcdc route --history --json` lists every switch.
 * The topic, the members and running bin/vcdc come from it_vcdc.h; this
 * file holds the scenario, asserted on the commands' JSON and the control
 * topic, never on log lines. Names are itcut_<pid>_<time>*; the targets
 * are removed at the end. Skipped, saying so, when the stack's variables
 * are unset.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <librdkafka/rdkafka.h>

#include "clock.h"
#include "conf.h"
#include "it_vcdc.h"
#include "record.h"
#include "route.h"
#include "sink.h"

#define PARTS 2
#define N     300 /* records in each target */
#define DIM   16
#define MSGS  40  /* messages in the topic */
#define TOLERANCE "0.005"
#define NOISE 0.004f /* perturbation per component, under TOLERANCE */

static struct {
        const char *brokers, *chroma_host, *pg_url;
        int chroma_port;
        char prefix[64], vcdc_bin[512];
        char topic[128], control[128], collection[128];
        char old_group[128], new_group[128];
        char old_url[512], new_url[512], table[64];
        vcdc_conf_t *conf;
        vcdc_route_follower_t *follower;
        vcdc_sink_offset_t recorded[PARTS]; /* what both targets recorded */
        itv_member_t *old_member, *new_member;
        itv_proc_t *reader; /* `vcdc route --follow` */
        int ready;
} it;

#define NEED_STACK()                                                           \
        do {                                                                   \
                if (!it.ready) {                                               \
                        fprintf(stderr, "it_cutover: skipped: VCDC_BROKERS, "  \
                                        "VCDC_CHROMA_HOST/PORT or "            \
                                        "VCDC_PGVECTOR_URL unset\n");          \
                        skip();                                                \
                }                                                              \
        } while (0)

static void log_end(int64_t *ends) {
        rd_kafka_conf_t *rkc = itv_conf(it.brokers);
        char err[256];
        rd_kafka_t *rk;
        int64_t lo;
        int p;

        rk = rd_kafka_new(RD_KAFKA_PRODUCER, rkc, err, sizeof(err));
        assert_non_null(rk);
        for (p = 0; p < PARTS; p++)
                assert_int_equal(rd_kafka_query_watermark_offsets(
                                         rk, it.topic, p, &lo, &ends[p],
                                         10000),
                                 0);
        rd_kafka_destroy(rk);
}

/* Waits until the member's group has committed the whole topic. */
static void member_caught_up(itv_member_t *m) {
        rd_kafka_topic_partition_list_t *parts;
        int64_t ends[PARTS], deadline = vcdc_clock_ms() + 30000;
        int p, done = 0;

        log_end(ends);
        parts = rd_kafka_topic_partition_list_new(PARTS);
        for (p = 0; p < PARTS; p++)
                rd_kafka_topic_partition_list_add(parts, it.topic, p);
        while (!done && vcdc_clock_ms() < deadline) {
                done = !rd_kafka_committed(m->rk, parts, 5000);
                for (p = 0; done && p < PARTS; p++)
                        done = parts->elems[p].offset == ends[p];
                if (!done)
                        itv_sleep_ms(100);
        }
        rd_kafka_topic_partition_list_destroy(parts);
        assert_true(done);
}

/*
 * The targets.
 */

/* Deterministic values in [-1, 1). */
static float rnd(uint32_t seed) {
        uint32_t x = seed * 2654435761u + 0x9e3779b9u;

        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        return (float)((double)x / 2147483648.0 - 1.0);
}

static void make_rec(vcdc_record_t *rec, int i, float noise,
                     const char *meta_extra) {
        char buf[128];
        int j;

        vcdc_record_init(rec);
        snprintf(buf, sizeof(buf), "id%d", i);
        rec->id = strdup(buf);
        snprintf(buf, sizeof(buf), "%s", it.collection);
        rec->collection = strdup(buf);
        rec->op = VCDC_OP_UPSERT;
        rec->dim = DIM;
        rec->vector = malloc(DIM * sizeof(float));
        assert_non_null(rec->vector);
        for (j = 0; j < DIM; j++)
                rec->vector[j] = 0.01f * rnd((uint32_t)(i * 131 + j)) +
                                 noise * rnd((uint32_t)(i * 7 + j * 977 +
                                                        12345));
        snprintf(buf, sizeof(buf), "{\"i\":%d%s}", i,
                 meta_extra ? meta_extra : "");
        rec->metadata = strdup(buf);
        snprintf(buf, sizeof(buf), "document %d", i);
        rec->document = strdup(buf);
        rec->source_ts_ms = -1;
}

static vcdc_sink_t *open_sink(const char *url) {
        char errstr[512];
        vcdc_sink_t *sink = vcdc_sink_new(url, NULL, errstr, sizeof(errstr));

        if (!sink)
                fail_msg("%s: %s", url, errstr);
        return sink;
}

/* Upserts records [from, to) (noise and metadata as given) into url, and
 * records offsets when given. */
static void fill(const char *url, int from, int to, float noise,
                 const char *meta_extra, const vcdc_sink_offset_t *offsets) {
        static vcdc_record_t recs[N];
        const vcdc_record_t *ptrs[N];
        vcdc_sink_batch_t batch = {0};
        vcdc_sink_t *sink = open_sink(url);
        char errstr[512];
        int i;

        for (i = from; i < to; i++) {
                make_rec(&recs[i - from], i, noise, meta_extra);
                ptrs[i - from] = &recs[i - from];
        }
        batch.upserts = ptrs;
        batch.upsert_cnt = (size_t)(to - from);
        if (vcdc_sink_apply(sink, &batch, errstr, sizeof(errstr)) !=
                    VCDC_SINK_OK ||
            (offsets && vcdc_sink_record_offsets(sink, it.topic, offsets,
                                                 PARTS, errstr,
                                                 sizeof(errstr)) !=
                                VCDC_SINK_OK))
                fail_msg("%s: %s", url, errstr);
        for (i = 0; i < to - from; i++)
                vcdc_record_clear(&recs[i]);
        vcdc_sink_destroy(sink);
}

/* Records offs in url's target. The fenced target (pgvector, NEW) only
 * moves forward; Chroma (OLD) takes any value. */
static void record_offsets(const char *url, const vcdc_sink_offset_t *offs) {
        vcdc_sink_t *sink = open_sink(url);
        char errstr[512];

        if (vcdc_sink_record_offsets(sink, it.topic, offs, PARTS, errstr,
                                     sizeof(errstr)) != VCDC_SINK_OK)
                fail_msg("%s: %s", url, errstr);
        vcdc_sink_destroy(sink);
}

/* `vcdc cutover --to new --json` with the test's targets and groups plus
 * extra arguments; the report parsed into *reportp. */
static int cutover(json_t **reportp, const char *const *extra) {
        const char *args[64];
        json_error_t jerr;
        char *out;
        int n = 0, rc;

        args[n++] = "cutover";
        args[n++] = "-q";
        args[n++] = "--json";
        args[n++] = "-t";
        args[n++] = it.topic;
        args[n++] = "--collection";
        args[n++] = it.collection;
        args[n++] = "--to";
        args[n++] = "new";
        args[n++] = "--old";
        args[n++] = it.old_url;
        args[n++] = "--new";
        args[n++] = it.new_url;
        args[n++] = "--old-group";
        args[n++] = it.old_group;
        args[n++] = "--new-group";
        args[n++] = it.new_group;
        args[n++] = "--control-topic";
        args[n++] = it.control;
        args[n++] = "--window";
        args[n++] = "2";
        args[n++] = "--interval";
        args[n++] = "0.5";
        args[n++] = "--shadow-sample";
        args[n++] = "40";
        args[n++] = "--seed";
        args[n++] = "7";
        for (; extra && *extra; extra++)
                args[n++] = *extra;
        args[n] = NULL;
        rc = itv_run(it.vcdc_bin, &out, args);
        if (!(*reportp = json_loads(out, 0, &jerr)))
                fail_msg("cutover printed no JSON (%s): %s", jerr.text, out);
        free(out);
        return rc;
}

static json_t *check_of(json_t *report, const char *name) {
        json_t *c;
        size_t i;

        json_array_foreach(json_object_get(report, "checks"), i, c) {
                if (!strcmp(json_string_value(json_object_get(c, "name")),
                            name))
                        return c;
        }
        fail_msg("no check %s in the report", name);
        return NULL;
}

static const char *result_of(json_t *report, const char *name) {
        return json_string_value(json_object_get(check_of(report, name),
                                                 "result"));
}

/* Every check passes but failing, which fails. */
static void expect_only_failure(json_t *report, const char *failing) {
        static const char *const names[] = {"readiness", "offsets", "verify",
                                            "shadow", "index"};
        size_t i;

        for (i = 0; i < sizeof(names) / sizeof(*names); i++) {
                const char *want = strcmp(names[i], failing) ? "PASS" : "FAIL";
                const char *got = result_of(report, names[i]);
                if (strcmp(got, want))
                        fail_msg("check %s: %s, want %s: %s", names[i], got,
                                 want,
                                 json_string_value(json_object_get(
                                         check_of(report, names[i]),
                                         "summary")));
        }
}

/* The route as the control topic says now. */
static vcdc_route_side_t route_now(vcdc_route_state_t *state) {
        char errstr[512];

        if (vcdc_route_read(it.conf, it.control, it.collection, state, errstr,
                            sizeof(errstr)) == -1)
                fail_msg("%s", errstr);
        return state->has_current ? state->current.route : VCDC_ROUTE_OLD;
}

/* Polls the follower until it reports a change; returns ms taken, -1 if
 * none within limit_ms. */
static int64_t follower_change(int64_t limit_ms) {
        int64_t t0 = vcdc_clock_ms();

        while (vcdc_clock_ms() - t0 < limit_ms)
                if (vcdc_route_follower_poll(it.follower, 50) == 1)
                        return vcdc_clock_ms() - t0;
        return -1;
}

static void expect_refused(json_t *report, int rc, const char *failing) {
        vcdc_route_state_t state;

        expect_only_failure(report, failing);
        assert_int_equal(rc, 1);
        assert_false(json_is_true(json_object_get(report, "switched")));
        assert_false(json_is_true(json_object_get(report, "passed")));
        assert_int_equal(route_now(&state), VCDC_ROUTE_OLD);
        assert_false(state.has_current);
        vcdc_route_state_clear(&state);
        /* Nothing happened, so the follower has nothing to report. */
        assert_int_equal(vcdc_route_follower_poll(it.follower, 200), 0);
        assert_int_equal(vcdc_route_follower_side(it.follower),
                         VCDC_ROUTE_OLD);
}

/*
 * The tests, in order: each refusal on its own, then the switch, the
 * rollback, --force, the history.
 */

static void test_refuse_lagging(void **state) {
        json_t *report, *c;
        int rc;

        (void)state;
        NEED_STACK();
        /* NEW's consumer stops committing while records arrive. */
        atomic_store(&it.new_member->commit, 0);
        itv_produce(it.brokers, it.topic, PARTS, 10);
        itv_sleep_ms(500);
        rc = cutover(&report, NULL);
        c = check_of(report, "readiness");
        expect_refused(report, rc, "readiness");
        assert_int_equal(json_integer_value(json_object_get(c, "lag")), 10);
        assert_string_equal(json_string_value(json_object_get(c, "state")),
                            "STALLED");
        json_decref(report);
        /* It commits again and catches up. */
        atomic_store(&it.new_member->commit, 1);
        member_caught_up(it.new_member);
        member_caught_up(it.old_member);
}

static void test_refuse_offsets_behind(void **state) {
        vcdc_sink_offset_t behind[PARTS];
        json_t *report, *c;
        int rc;

        (void)state;
        NEED_STACK();
        /* NEW behind OLD: OLD records 5 more on partition 1 (NEW's
         * offsets are fenced and only move forward). */
        memcpy(behind, it.recorded, sizeof(behind));
        behind[1].offset += 5;
        record_offsets(it.old_url, behind);
        rc = cutover(&report, NULL);
        c = check_of(report, "offsets");
        expect_refused(report, rc, "offsets");
        assert_int_equal(json_integer_value(json_object_get(c, "behind")), 1);
        assert_int_equal(json_integer_value(json_object_get(c, "max_behind")),
                         5);
        json_decref(report);
        record_offsets(it.old_url, it.recorded);
}

static void test_refuse_verify(void **state) {
        json_t *report, *c;
        int rc;

        (void)state;
        NEED_STACK();
        /* One record of NEW has other metadata. */
        fill(it.new_url, 17, 18, 0, ",\"planted\":true", NULL);
        rc = cutover(&report, NULL);
        c = check_of(report, "verify");
        expect_refused(report, rc, "verify");
        assert_int_equal(json_integer_value(
                                 json_object_get(c, "metadata_diff")),
                         1);
        assert_int_equal(json_integer_value(json_object_get(c, "missing")),
                         0);
        json_decref(report);
        fill(it.new_url, 17, 18, 0, NULL, NULL);
}

static void test_refuse_overlap(void **state) {
        const char *extra[] = {"--tolerance", TOLERANCE, NULL};
        json_t *report, *c;
        double overlap;
        int rc;

        (void)state;
        NEED_STACK();
        /* Every vector of NEW moved by less than the verify tolerance, but
         * enough to reorder the neighbours. */
        fill(it.new_url, 0, N, NOISE, NULL, NULL);
        rc = cutover(&report, extra);
        c = check_of(report, "shadow");
        expect_refused(report, rc, "shadow");
        overlap = json_real_value(json_object_get(c, "overlap_mean"));
        fprintf(stderr, "it_cutover: perturbed NEW: overlap %.3f\n", overlap);
        assert_true(overlap < 0.95);
        /* verify saw the differences, within the tolerance */
        assert_string_equal(result_of(report, "verify"), "PASS");
        assert_int_equal(json_integer_value(json_object_get(c, "queries")),
                         40);
        json_decref(report);
        fill(it.new_url, 0, N, 0, NULL, NULL);
}

static void test_switch(void **state) {
        vcdc_route_state_t st;
        json_t *report, *rec;
        int64_t ms;
        int rc;

        (void)state;
        NEED_STACK();
        rc = cutover(&report, NULL);
        expect_only_failure(report, "none");
        assert_int_equal(rc, 0);
        assert_true(json_is_true(json_object_get(report, "switched")));
        assert_true(json_is_true(json_object_get(report, "passed")));
        fprintf(stderr, "it_cutover: %s\n",
                json_string_value(json_object_get(check_of(report, "shadow"),
                                                  "summary")));
        assert_true(json_real_value(json_object_get(
                            check_of(report, "shadow"), "overlap_mean")) >=
                    0.95);
        rec = json_object_get(report, "record");
        assert_string_equal(json_string_value(json_object_get(rec, "route")),
                            "new");
        assert_false(json_is_true(json_object_get(rec, "forced")));
        json_decref(report);

        /* The follower made before the switch sees it within a second. */
        ms = follower_change(1000);
        if (ms < 0)
                fail_msg("the follower did not see the switch within 1 s");
        fprintf(stderr, "it_cutover: follower saw the cut-over %lld ms "
                        "after the command ended, %lld ms after the record's "
                        "ts_ms\n",
                (long long)ms,
                (long long)(vcdc_wall_ms() -
                            vcdc_route_follower_record(it.follower)->ts_ms));
        assert_int_equal(vcdc_route_follower_side(it.follower),
                         VCDC_ROUTE_NEW);
        assert_string_equal(vcdc_route_follower_record(it.follower)->action,
                            "cutover");

        /* The control topic holds it, with the gate's figures. */
        assert_int_equal(route_now(&st), VCDC_ROUTE_NEW);
        assert_int_equal(st.current.previous, VCDC_ROUTE_OLD);
        assert_false(st.current.forced);
        assert_non_null(st.current.user);
        assert_non_null(strstr(st.current.gate, "\"readiness\""));
        assert_non_null(strstr(st.current.gate, "\"overlap_mean\""));
        assert_non_null(strstr(st.current.gate, "\"passed\":true"));
        assert_int_equal(st.history_cnt, 1);
        vcdc_route_state_clear(&st);

        /* Already there: nothing to do, nothing written. */
        rc = cutover(&report, NULL);
        assert_int_equal(rc, 0);
        assert_false(json_is_true(json_object_get(report, "switched")));
        json_decref(report);
        assert_int_equal(vcdc_route_follower_poll(it.follower, 300), 0);
}

static void test_rollback(void **state) {
        const char *args[] = {"rollback", "-q", "--collection",
                              it.collection, "--control-topic", it.control,
                              "--json", NULL};
        vcdc_route_state_t st;
        json_t *report;
        int64_t ms;
        char *out;
        int rc;

        (void)state;
        NEED_STACK();
        rc = itv_run(it.vcdc_bin, &out, args);
        assert_int_equal(rc, 0);
        report = json_loads(out, 0, NULL);
        assert_non_null(report);
        assert_string_equal(json_string_value(json_object_get(report,
                                                              "route")),
                            "old");
        json_decref(report);
        free(out);
        ms = follower_change(1000);
        if (ms < 0)
                fail_msg("the follower did not see the rollback within 1 s");
        fprintf(stderr, "it_cutover: follower saw the rollback after %lld "
                        "ms\n",
                (long long)ms);
        assert_int_equal(vcdc_route_follower_side(it.follower),
                         VCDC_ROUTE_OLD);
        assert_int_equal(route_now(&st), VCDC_ROUTE_OLD);
        assert_int_equal(st.current.previous, VCDC_ROUTE_NEW);
        assert_string_equal(st.current.action, "rollback");
        vcdc_route_state_clear(&st);

        /* A rollback of a rollback would redo the cut-over without its
         * gate: refused. */
        rc = itv_run(it.vcdc_bin, &out, args);
        assert_int_equal(rc, 1);
        free(out);
        assert_int_equal(route_now(&st), VCDC_ROUTE_OLD);
        vcdc_route_state_clear(&st);
}

static void test_force(void **state) {
        const char *extra[] = {"--force", NULL};
        vcdc_route_state_t st;
        json_t *report, *rec;
        int rc;

        (void)state;
        NEED_STACK();
        fill(it.new_url, 5, 6, 0, ",\"planted\":true", NULL);
        rc = cutover(&report, extra);
        expect_only_failure(report, "verify");
        assert_int_equal(rc, 0);
        assert_true(json_is_true(json_object_get(report, "switched")));
        assert_false(json_is_true(json_object_get(report, "passed")));
        assert_true(json_is_true(json_object_get(report, "forced")));
        rec = json_object_get(report, "record");
        assert_true(json_is_true(json_object_get(rec, "forced")));
        json_decref(report);
        if (follower_change(1000) < 0)
                fail_msg("the follower did not see the forced switch");
        assert_int_equal(vcdc_route_follower_side(it.follower),
                         VCDC_ROUTE_NEW);
        assert_true(vcdc_route_follower_record(it.follower)->forced);
        assert_int_equal(route_now(&st), VCDC_ROUTE_NEW);
        assert_true(st.current.forced);
        assert_non_null(strstr(st.current.gate, "\"passed\":false"));
        vcdc_route_state_clear(&st);
        fill(it.new_url, 5, 6, 0, NULL, NULL);
}

static void test_history(void **state) {
        const char *args[] = {"route", "-q", "--collection", it.collection,
                              "--control-topic", it.control, "--history",
                              "--json", NULL};
        static const char *const want[][3] = {
                {"old", "new", "cutover"},
                {"new", "old", "rollback"},
                {"old", "new", "cutover"},
        };
        json_t *report, *hist, *h;
        json_int_t last_ts = 0;
        char *out;
        size_t i;

        (void)state;
        NEED_STACK();
        assert_int_equal(itv_run(it.vcdc_bin, &out, args), 0);
        report = json_loads(out, 0, NULL);
        assert_non_null(report);
        assert_string_equal(json_string_value(json_object_get(report,
                                                              "route")),
                            "new");
        hist = json_object_get(report, "history");
        assert_int_equal(json_array_size(hist), 3);
        json_array_foreach(hist, i, h) {
                assert_string_equal(json_string_value(json_object_get(
                                            h, "previous")),
                                    want[i][0]);
                assert_string_equal(json_string_value(json_object_get(
                                            h, "route")),
                                    want[i][1]);
                assert_string_equal(json_string_value(json_object_get(
                                            h, "action")),
                                    want[i][2]);
                assert_true(json_integer_value(json_object_get(h, "ts_ms")) >
                            last_ts);
                last_ts = json_integer_value(json_object_get(h, "ts_ms"));
                assert_int_equal(json_is_true(json_object_get(h, "forced")),
                                 i == 2);
        }
        json_decref(report);
        free(out);
}

/* `vcdc route --follow`, started before any switch, printed each. */
static void test_follow_cli(void **state) {
        static const char *const want[] = {"old (never switched)",
                                           "new (cutover by ",
                                           "old (rollback by ",
                                           "new (cutover by "};
        char *out, *line, *nl, *last = NULL;
        size_t i;

        (void)state;
        NEED_STACK();
        kill(it.reader->pid, SIGTERM);
        assert_int_equal(itv_proc_finish(it.reader, &out), 0);
        it.reader = NULL;
        line = out;
        for (i = 0; i < 4; i++) {
                if (!(nl = strchr(line, '\n')))
                        fail_msg("line %zu missing; output: %s", i, out);
                *nl = '\0';
                if (strncmp(line, want[i], strlen(want[i])))
                        fail_msg("line %zu: \"%s\", want \"%s...\"", i,
                                 line, want[i]);
                last = line;
                line = nl + 1;
        }
        assert_string_equal(line, "");
        assert_non_null(strstr(last, ", FORCED)"));
        free(out);
}

/*
 * Set-up and clean-up.
 */

static int setup(void **state) {
        const char *port = getenv("VCDC_CHROMA_PORT");
        char errstr[512], *end;
        int64_t ends[PARTS];
        int p;
        long v;

        (void)state;
        it.brokers = getenv("VCDC_BROKERS");
        it.chroma_host = getenv("VCDC_CHROMA_HOST");
        it.pg_url = getenv("VCDC_PGVECTOR_URL");
        if (!it.brokers || !*it.brokers || !it.chroma_host ||
            !*it.chroma_host || !port || !it.pg_url || !*it.pg_url)
                return 0;
        errno = 0;
        v = strtol(port, &end, 10);
        if (end == port || *end || errno || v < 1 || v > 65535) {
                fprintf(stderr, "it_cutover: VCDC_CHROMA_PORT=%s\n", port);
                return -1;
        }
        it.chroma_port = (int)v;
        itv_vcdc_bin(it.vcdc_bin, sizeof(it.vcdc_bin));
        if (access(it.vcdc_bin, X_OK) != 0) {
                fprintf(stderr, "it_cutover: %s is not built (make all)\n",
                        it.vcdc_bin);
                return -1;
        }
        snprintf(it.prefix, sizeof(it.prefix), "itcut_%d_%ld", (int)getpid(),
                 (long)time(NULL));
        snprintf(it.topic, sizeof(it.topic), "%s.changes", it.prefix);
        snprintf(it.control, sizeof(it.control), "%s.control", it.prefix);
        snprintf(it.collection, sizeof(it.collection), "%s_docs", it.prefix);
        snprintf(it.old_group, sizeof(it.old_group), "%s.old", it.prefix);
        snprintf(it.new_group, sizeof(it.new_group), "%s.new", it.prefix);
        snprintf(it.table, sizeof(it.table), "%s", it.prefix);
        snprintf(it.old_url, sizeof(it.old_url), "chroma://%s:%d/%s",
                 it.chroma_host, it.chroma_port, it.prefix);
        snprintf(it.new_url, sizeof(it.new_url),
                 "%s?table=%s&sslmode=disable", it.pg_url, it.table);

        if (!(it.conf = vcdc_conf_new()) ||
            vcdc_conf_set(it.conf, "bootstrap.servers", it.brokers, errstr,
                          sizeof(errstr)) == -1)
                return -1;

        /* The topic, its records, both groups caught up. */
        itv_create_topic(it.brokers, it.topic, PARTS);
        itv_produce(it.brokers, it.topic, PARTS, MSGS);
        it.old_member = itv_member_start(it.brokers, it.old_group, it.topic,
                                         ITV_COMMIT_ALL, 0, 0);
        it.new_member = itv_member_start(it.brokers, it.new_group, it.topic,
                                         ITV_COMMIT_ALL, 0, 0);
        member_caught_up(it.old_member);
        member_caught_up(it.new_member);

        /* Both targets: the same records, the same recorded offsets. */
        log_end(ends);
        for (p = 0; p < PARTS; p++) {
                it.recorded[p].partition = p;
                it.recorded[p].offset = ends[p] - 1;
        }
        fill(it.old_url, 0, N, 0, NULL, it.recorded);
        fill(it.new_url, 0, N, 0, NULL, it.recorded);

        /* The reader, before any switch. */
        if (!(it.follower = vcdc_route_follower_new(it.conf, it.control,
                                                    it.collection, errstr,
                                                    sizeof(errstr)))) {
                fprintf(stderr, "it_cutover: follower: %s\n", errstr);
                return -1;
        }
        if (vcdc_route_follower_side(it.follower) != VCDC_ROUTE_OLD)
                return -1;
        /* And a reader on the command line. */
        {
                static itv_proc_t reader;
                const char *args[] = {"route", "-q", "--collection",
                                      it.collection, "--control-topic",
                                      it.control, "--follow", NULL};
                itv_proc_start(&reader, it.vcdc_bin, args);
                it.reader = &reader;
        }
        it.ready = 1;
        return 0;
}

static size_t discard(char *ptr, size_t size, size_t nmemb, void *opaque) {
        (void)ptr;
        (void)opaque;
        return size * nmemb;
}

static void drop_chroma(const char *name) {
        char url[512];
        CURL *curl = curl_easy_init();

        if (!curl)
                return;
        snprintf(url, sizeof(url),
                 "http://%s:%d/api/v2/tenants/default_tenant/databases/"
                 "default_database/collections/%s",
                 it.chroma_host, it.chroma_port, name);
        curl_easy_setopt(curl, CURLOPT_URL, url);
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, "DELETE");
        curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
        curl_easy_perform(curl);
        curl_easy_cleanup(curl);
}

static void drop_pg(void) {
        const char *conninfo = getenv("VCDC_PG_CONNINFO");
        char sql[512];
        PGconn *conn;

        if (!conninfo)
                return;
        if (PQstatus(conn = PQconnectdb(conninfo)) != CONNECTION_OK) {
                PQfinish(conn);
                return;
        }
        snprintf(sql, sizeof(sql), "DROP TABLE IF EXISTS \"%s\"", it.table);
        PQclear(PQexec(conn, sql));
        snprintf(sql, sizeof(sql),
                 "DELETE FROM vcdc_offsets WHERE table_name = '%s'", it.table);
        PQclear(PQexec(conn, sql));
        snprintf(sql, sizeof(sql),
                 "DELETE FROM vcdc_targets WHERE table_name = '%s'", it.table);
        PQclear(PQexec(conn, sql));
        PQfinish(conn);
}

static int teardown(void **state) {
        char name[160];

        (void)state;
        vcdc_route_follower_destroy(it.follower);
        if (it.reader) {
                char *out;
                kill(it.reader->pid, SIGTERM);
                itv_proc_finish(it.reader, &out);
                free(out);
        }
        itv_member_stop(it.old_member);
        itv_member_stop(it.new_member);
        if (it.ready) {
                drop_chroma(it.prefix);
                snprintf(name, sizeof(name), "%s_vcdc_offsets", it.prefix);
                drop_chroma(name);
                drop_pg();
        }
        vcdc_conf_destroy(it.conf);
        return 0;
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_refuse_lagging),
                cmocka_unit_test(test_refuse_offsets_behind),
                cmocka_unit_test(test_refuse_verify),
                cmocka_unit_test(test_refuse_overlap),
                cmocka_unit_test(test_switch),
                cmocka_unit_test(test_rollback),
                cmocka_unit_test(test_force),
                cmocka_unit_test(test_history),
                cmocka_unit_test(test_follow_cli),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
