/*
 * vcdc - unit tests: readiness over windows of made-up lag samples.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lag.h"

#define MAXP 4
#define MAXN 6

/* One sample of a window, as a test writes it: per partition committed
 * (-1: none) and log end; the log starts at 0. */
typedef struct {
        int64_t t_ms;
        int members;
        int64_t committed[MAXP];
        int64_t end[MAXP];
} spec_t;

typedef struct {
        const char *name;
        int64_t max_lag;
        size_t parts, n;
        spec_t samples[MAXN];
        vcdc_group_state_t state;
        int64_t lag;
        int reached_zero;
        double rate;  /* -1: not checked */
        double eta_s; /* -2: not checked */
        const char *reason; /* a substring of the reason */
} case_t;

static void build(const case_t *c, vcdc_lag_sample_t *out) {
        size_t i, p;

        for (i = 0; i < c->n; i++) {
                vcdc_lag_sample_t *s = &out[i];
                const spec_t *sp = &c->samples[i];

                memset(s, 0, sizeof(*s));
                s->t_ms = sp->t_ms;
                s->members = sp->members;
                s->last_applied_ts_ms = s->time_lag_ms = -1;
                snprintf(s->group_state, sizeof(s->group_state), "%s",
                         sp->members ? "Stable" : "Empty");
                s->part_cnt = c->parts;
                s->parts = calloc(c->parts, sizeof(*s->parts));
                assert_non_null(s->parts);
                for (p = 0; p < c->parts; p++) {
                        vcdc_part_lag_t *pl = &s->parts[p];
                        pl->partition = (int32_t)p;
                        pl->committed = sp->committed[p];
                        pl->end = sp->end[p];
                        pl->start = 0;
                        pl->recorded = -1;
                        pl->applied_ts_ms = pl->pending_ts_ms = -1;
                        pl->lag = pl->committed >= 0
                                          ? (pl->end > pl->committed
                                                     ? pl->end - pl->committed
                                                     : 0)
                                          : pl->end;
                        s->total_lag += pl->lag;
                }
        }
}

static const case_t cases[] = {
        {"caught up throughout", 0, 2, 3,
         {{0, 1, {10, 5}, {10, 5}},
          {1000, 1, {10, 5}, {10, 5}},
          {2000, 1, {10, 5}, {10, 5}}},
         VCDC_STATE_OK, 0, 1, 0, 0, "caught up within the window"},
        {"catching up to zero", 0, 1, 3,
         {{0, 1, {0}, {100}}, {1000, 1, {50}, {100}}, {2000, 1, {100}, {100}}},
         VCDC_STATE_OK, 0, 1, 50, 0, NULL},
        {"zero earlier, within the limit now", 5, 1, 3,
         {{0, 1, {10}, {10}}, {1000, 1, {12}, {14}}, {2000, 1, {13}, {16}}},
         VCDC_STATE_OK, 3, 1, 1.5, -2, "limit 5"},
        {"lagging and catching up", 0, 2, 3,
         {{0, 1, {0, 0}, {60, 40}},
          {1000, 1, {10, 10}, {60, 40}},
          {2000, 1, {20, 20}, {60, 40}}},
         VCDC_STATE_LAGGING, 60, 0, 20, 3, "above the limit 0"},
        {"zero earlier, over the limit now", 10, 1, 3,
         {{0, 1, {50}, {50}}, {1000, 1, {50}, {50}}, {2000, 1, {52}, {80}}},
         VCDC_STATE_LAGGING, 28, 1, 1, -1, "caught up earlier in the window"},
        {"live writes: never 0 at a sample, but keeps up", 5, 1, 3,
         {{0, 1, {10}, {13}}, {1000, 1, {12}, {15}}, {2000, 1, {14}, {17}}},
         VCDC_STATE_OK, 3, 1, 2, -1, "caught up within the window"},
        {"live writes, keeps up, per partition at other samples", 10, 2, 3,
         {{0, 1, {10, 20}, {13, 22}},
          {1000, 1, {13, 21}, {16, 24}},
          {2000, 1, {15, 24}, {18, 26}}},
         VCDC_STATE_OK, 5, 1, 4.5, -2, NULL},
        {"within the limit but never caught up", 100, 1, 3,
         {{0, 1, {10}, {20}}, {1000, 1, {12}, {22}}, {2000, 1, {14}, {24}}},
         VCDC_STATE_LAGGING, 10, 0, 2, -1, "never caught up"},
        {"one partition never caught up", 100, 2, 3,
         {{0, 1, {10, 5}, {10, 50}},
          {1000, 1, {10, 6}, {10, 51}},
          {2000, 1, {10, 7}, {10, 52}}},
         VCDC_STATE_LAGGING, 45, 0, 1, -1, "never caught up"},
        {"falling behind: no ETA", 0, 1, 3,
         {{0, 1, {0}, {10}}, {1000, 1, {5}, {30}}, {2000, 1, {10}, {50}}},
         VCDC_STATE_LAGGING, 40, 1, 5, -1, "above the limit"},
        {"stalled: lag and nothing moves", 0, 2, 3,
         {{0, 1, {5, 7}, {10, 7}},
          {1000, 1, {5, 7}, {12, 7}},
          {2000, 1, {5, 7}, {14, 7}}},
         VCDC_STATE_STALLED, 9, 0, 0, -1, "no committed offset moved"},
        {"stalled: nothing ever committed", 0, 2, 2,
         {{0, 2, {-1, -1}, {3, 4}}, {1000, 2, {-1, -1}, {3, 4}}},
         VCDC_STATE_STALLED, 7, 0, 0, -1, "2 members are"},
        {"stopped, caught up", 0, 1, 3,
         {{0, 0, {10}, {10}}, {1000, 0, {10}, {10}}, {2000, 0, {10}, {10}}},
         VCDC_STATE_STOPPED, 0, 1, 0, 0, "no member"},
        {"stopped with lag, nothing committed", 0, 1, 2,
         {{0, 0, {-1}, {10}}, {1000, 0, {-1}, {10}}},
         VCDC_STATE_STOPPED, 10, 0, 0, -1, "lag 10"},
        {"stopped during the window", 0, 1, 3,
         {{0, 1, {10}, {10}}, {1000, 1, {10}, {10}}, {2000, 0, {10}, {10}}},
         VCDC_STATE_STOPPED, 0, 1, 0, 0, NULL},
        {"rewound, no member (offset reset)", 0, 2, 3,
         {{0, 0, {100, 50}, {100, 50}},
          {1000, 0, {0, 50}, {100, 50}},
          {2000, 0, {0, 50}, {100, 50}}},
         VCDC_STATE_REWOUND, 100, 1, 0, -1, "from 100 to 0"},
        {"rewound while running", 0, 1, 3,
         {{0, 1, {40}, {100}}, {1000, 1, {60}, {100}}, {2000, 1, {20}, {100}}},
         VCDC_STATE_REWOUND, 80, 0, 0, -1, "partition 0"},
        {"rewound: offsets deleted", 0, 1, 2,
         {{0, 0, {30}, {30}}, {1000, 0, {-1}, {30}}},
         VCDC_STATE_REWOUND, 30, 1, 0, -1, "was deleted"},
        {"empty topic, nothing committed", 0, 3, 3,
         {{0, 1, {-1, -1, -1}, {0, 0, 0}},
          {1000, 1, {-1, -1, -1}, {0, 0, 0}},
          {2000, 1, {-1, -1, -1}, {0, 0, 0}}},
         VCDC_STATE_OK, 0, 1, 0, 0, NULL},
        {"one sample, caught up", 0, 1, 1, {{0, 1, {7}, {7}}},
         VCDC_STATE_OK, 0, 1, 0, 0, NULL},
        {"one sample, lag: never stalled", 0, 1, 1, {{0, 1, {7}, {9}}},
         VCDC_STATE_LAGGING, 2, 0, 0, -1, NULL},
        {"idle topic, caught up, nothing moves", 0, 1, 4,
         {{0, 1, {9}, {9}},
          {1000, 1, {9}, {9}},
          {2000, 1, {9}, {9}},
          {3000, 1, {9}, {9}}},
         VCDC_STATE_OK, 0, 1, 0, 0, NULL},
};

static void test_evaluate(void **state) {
        vcdc_lag_sample_t samples[MAXN];
        vcdc_readiness_t r;
        size_t i, j;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                const case_t *c = &cases[i];
                vcdc_group_state_t st;

                build(c, samples);
                st = vcdc_lag_evaluate(samples, c->n, c->max_lag, &r);
                if (st != c->state || r.lag != c->lag ||
                    r.reached_zero != c->reached_zero)
                        fail_msg("%s: got %s lag %lld zero %d (%s), want %s "
                                 "lag %lld zero %d",
                                 c->name, vcdc_group_state_name(st),
                                 (long long)r.lag, r.reached_zero, r.reason,
                                 vcdc_group_state_name(c->state),
                                 (long long)c->lag, c->reached_zero);
                assert_int_equal(r.state, st);
                if (c->rate >= 0 && (r.rate < c->rate - 1e-9 ||
                                     r.rate > c->rate + 1e-9))
                        fail_msg("%s: rate %g, want %g", c->name, r.rate,
                                 c->rate);
                if (c->eta_s > -2 && (r.eta_s < c->eta_s - 1e-9 ||
                                      r.eta_s > c->eta_s + 1e-9))
                        fail_msg("%s: eta %g, want %g", c->name, r.eta_s,
                                 c->eta_s);
                if (c->reason && !strstr(r.reason, c->reason))
                        fail_msg("%s: reason \"%s\" lacks \"%s\"", c->name,
                                 r.reason, c->reason);
                assert_true(strlen(r.reason) > 0);
                for (j = 0; j < c->n; j++)
                        vcdc_lag_sample_clear(&samples[j]);
        }
}

/* Partitions missing from some samples (added meanwhile) are compared only
 * where both samples have them. */
static void test_partition_added(void **state) {
        vcdc_lag_sample_t s[2];
        vcdc_part_lag_t p0[1] = {{0, 10, 10, 0, -1, 0, -1, -1}};
        vcdc_part_lag_t p1[2] = {{0, 10, 10, 0, -1, 0, -1, -1},
                                 {1, 0, 4, 4, -1, 0, -1, -1}};
        vcdc_readiness_t r;

        (void)state;
        memset(s, 0, sizeof(s));
        s[0].t_ms = 0;
        s[0].members = 1;
        s[0].parts = p0;
        s[0].part_cnt = 1;
        s[1].t_ms = 1000;
        s[1].members = 1;
        s[1].parts = p1;
        s[1].part_cnt = 2;
        s[1].total_lag = 4;
        assert_int_equal(vcdc_lag_evaluate(s, 2, 100, &r),
                         VCDC_STATE_LAGGING);
        assert_int_equal(r.lag, 4);
        /* the new partition has not caught up yet */
        assert_false(r.reached_zero);
        assert_true(r.eta_s == -1);
}

static void test_eta(void **state) {
        /* 1000 behind, 250 fewer per second over 4 s: 4 s to go. */
        static const case_t c = {
                "eta", 0, 1, 5,
                {{0, 1, {0}, {2000}},
                 {1000, 1, {500}, {2250}},
                 {2000, 1, {1000}, {2500}},
                 {3000, 1, {1500}, {2750}},
                 {4000, 1, {2000}, {3000}}},
                VCDC_STATE_LAGGING, 1000, 0, 500, 4, NULL};
        vcdc_lag_sample_t samples[MAXN];
        vcdc_readiness_t r;
        size_t j;

        (void)state;
        build(&c, samples);
        assert_int_equal(vcdc_lag_evaluate(samples, c.n, 0, &r),
                         VCDC_STATE_LAGGING);
        assert_true(r.rate > 499.999 && r.rate < 500.001);
        assert_true(r.eta_s > 3.999 && r.eta_s < 4.001);
        for (j = 0; j < c.n; j++)
                vcdc_lag_sample_clear(&samples[j]);
}

static void test_names(void **state) {
        (void)state;
        assert_string_equal(vcdc_group_state_name(VCDC_STATE_OK), "OK");
        assert_string_equal(vcdc_group_state_name(VCDC_STATE_LAGGING),
                            "LAGGING");
        assert_string_equal(vcdc_group_state_name(VCDC_STATE_STALLED),
                            "STALLED");
        assert_string_equal(vcdc_group_state_name(VCDC_STATE_REWOUND),
                            "REWOUND");
        assert_string_equal(vcdc_group_state_name(VCDC_STATE_STOPPED),
                            "STOPPED");
}

static void test_clear(void **state) {
        vcdc_lag_sample_t s;

        (void)state;
        memset(&s, 0, sizeof(s));
        s.parts = calloc(3, sizeof(*s.parts));
        s.part_cnt = 3;
        vcdc_lag_sample_clear(&s);
        assert_null(s.parts);
        assert_int_equal(s.part_cnt, 0);
        assert_int_equal(s.time_lag_ms, -1);
        vcdc_lag_sample_clear(&s);
        vcdc_lag_sample_clear(NULL);
}

/* A partition's time lag and a sample's totals, as both reports show
 * them. */
static void test_part_time_lag_and_totals(void **state) {
        vcdc_part_lag_t parts[] = {
                /* caught up: 0, whatever the timestamps */
                {.partition = 0, .committed = 10, .end = 10, .lag = 0,
                 .pending_ts_ms = -1},
                /* waiting since 400 ms before the sample */
                {.partition = 1, .committed = 5, .end = 9, .lag = 4,
                 .pending_ts_ms = 600},
                /* behind, the pending record unknown: -1 */
                {.partition = 2, .committed = -1, .end = 7, .lag = 7,
                 .pending_ts_ms = -1},
                /* a record stamped after the sample: 0, not negative */
                {.partition = 3, .committed = 0, .end = 2, .lag = 2,
                 .pending_ts_ms = 1500},
        };
        vcdc_lag_sample_t s = {.t_ms = 1000, .parts = parts, .part_cnt = 4};
        int64_t committed, end;

        (void)state;
        assert_int_equal(vcdc_lag_part_time_lag(&s, &parts[0]), 0);
        assert_int_equal(vcdc_lag_part_time_lag(&s, &parts[1]), 400);
        assert_int_equal(vcdc_lag_part_time_lag(&s, &parts[2]), -1);
        assert_int_equal(vcdc_lag_part_time_lag(&s, &parts[3]), 0);
        /* Committed offsets that are set (-1: none), and every log end. */
        vcdc_lag_totals(&s, &committed, &end);
        assert_int_equal(committed, 15);
        assert_int_equal(end, 28);
        s.part_cnt = 0;
        vcdc_lag_totals(&s, &committed, &end);
        assert_int_equal(committed, 0);
        assert_int_equal(end, 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_part_time_lag_and_totals),
                cmocka_unit_test(test_evaluate),
                cmocka_unit_test(test_partition_added),
                cmocka_unit_test(test_eta),
                cmocka_unit_test(test_names),
                cmocka_unit_test(test_clear),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
