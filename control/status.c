/*
 * vcdc - the status of consumer groups: sliding windows of lag samples,
 * sampled in rounds and judged. The sampling and the judgement are
 * control/lag.c's; this file keeps the windows and paces the rounds.
 */
#include "status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "log.h"

struct vcdc_status_s {
        char *topic;
        vcdc_status_group_t *groups;
        size_t group_cnt, window;
        rd_kafka_t *rk;
};

static int is_running(const volatile sig_atomic_t *running) {
        return !running || *running;
}

/* Sleeps until the monotonic deadline, or until *running turns 0. */
static void sleep_until(int64_t deadline,
                        const volatile sig_atomic_t *running) {
        int64_t left;

        while (is_running(running) && (left = deadline - vcdc_clock_ms()) > 0) {
                if (left > 100)
                        left = 100;
                nanosleep(&(struct timespec){.tv_nsec = left * 1000000L}, NULL);
        }
}

vcdc_status_t *vcdc_status_new(const vcdc_conf_t *conf, const char *topic,
                               const char *const *groups,
                               const char *const *sink_urls, size_t group_cnt,
                               size_t window, const vcdc_sink_conf_t *sink_conf,
                               char *errstr, size_t errstr_size) {
        vcdc_status_t *st = calloc(1, sizeof(*st));
        char err[512];
        size_t i;

        if (!st || !(st->topic = strdup(topic)) ||
            !(st->groups =
                      calloc(group_cnt ? group_cnt : 1, sizeof(*st->groups))))
                goto oom;
        st->window = window;
        for (i = 0; i < group_cnt; i++) {
                vcdc_status_group_t *g = &st->groups[i];

                st->group_cnt++;
                if (!(g->name = strdup(groups[i])) ||
                    (sink_urls[i] && !(g->sink_url = strdup(sink_urls[i]))) ||
                    !(g->samples = calloc(window, sizeof(*g->samples))))
                        goto oom;
                if (g->sink_url &&
                    !(g->sink = vcdc_sink_new(g->sink_url, sink_conf, err,
                                              sizeof(err)))) {
                        snprintf(errstr, errstr_size, "group %s: %s", g->name,
                                 err);
                        goto err;
                }
        }
        if (!(st->rk = vcdc_lag_client_new(conf, errstr, errstr_size)))
                goto err;
        return st;
oom:
        snprintf(errstr, errstr_size, "out of memory");
err:
        vcdc_status_destroy(st);
        return NULL;
}

void vcdc_status_destroy(vcdc_status_t *st) {
        size_t i, j;

        if (!st)
                return;
        if (st->rk)
                rd_kafka_destroy(st->rk);
        for (i = 0; i < st->group_cnt; i++) {
                vcdc_status_group_t *g = &st->groups[i];
                for (j = 0; j < g->cnt; j++)
                        vcdc_lag_sample_clear(&g->samples[j]);
                free(g->samples);
                vcdc_sink_destroy(g->sink);
                free(g->sink_url);
                free(g->name);
        }
        free(st->groups);
        free(st->topic);
        free(st);
}

int vcdc_status_sample(vcdc_status_t *st, int interval_ms,
                       const volatile sig_atomic_t *running) {
        int failed = 0;
        size_t i;

        for (i = 0; i < st->group_cnt && is_running(running); i++) {
                vcdc_status_group_t *g = &st->groups[i];
                vcdc_lag_sample_t s;

                /* The previous sample's wall time, as a monotonic
                 * deadline. */
                if (g->cnt)
                        sleep_until(vcdc_clock_ms() +
                                            g->samples[g->cnt - 1].t_ms +
                                            interval_ms - vcdc_wall_ms(),
                                    running);
                if (!is_running(running))
                        break;
                if (vcdc_lag_sample(st->rk, st->topic, g->name, g->sink, &s,
                                    g->error, sizeof(g->error)) == -1) {
                        VCDC_ERR("status", "group %s: %s", g->name, g->error);
                        failed++;
                        continue;
                }
                g->error[0] = '\0';
                if (g->cnt == st->window) {
                        vcdc_lag_sample_clear(&g->samples[0]);
                        memmove(g->samples, g->samples + 1,
                                (g->cnt - 1) * sizeof(*g->samples));
                        g->cnt--;
                }
                g->samples[g->cnt++] = s;
        }
        return failed;
}

int vcdc_status_evaluate(vcdc_status_t *st, int64_t max_lag, int *errorsp) {
        int all_ok = 1, errors = 0;
        size_t i;

        for (i = 0; i < st->group_cnt; i++) {
                vcdc_status_group_t *g = &st->groups[i];
                if (g->error[0])
                        errors++;
                if (!g->cnt) {
                        all_ok = 0;
                        continue;
                }
                if (vcdc_lag_evaluate(g->samples, g->cnt, max_lag, &g->ready) !=
                    VCDC_STATE_OK)
                        all_ok = 0;
        }
        if (errorsp)
                *errorsp = errors;
        return all_ok;
}

size_t vcdc_status_group_cnt(const vcdc_status_t *st) {
        return st->group_cnt;
}

const vcdc_status_group_t *vcdc_status_group(const vcdc_status_t *st,
                                             size_t i) {
        return &st->groups[i];
}
