/*
 * vcdc gateway - the OLD and NEW consumer groups, sampled in the
 * background for the metrics endpoint (gwgroups.h).
 */
#include "gwgroups.h"

#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lag.h"
#include "log.h"

/* What the newest sample of one group said. */
typedef struct side_s {
        const char *side; /* "old", "new" */
        char *group;
        char label[512];  /* the group, escaped */
        int sampled;      /* a sample succeeded, ever */
        int ok;           /* the newest one did */
        int64_t lag, time_lag_ms;
        int members;
        uint64_t errors;
        char error[256];  /* the newest failure, logged once per change */
} side_t;

struct vcdc_gw_groups_s {
        rd_kafka_t *rk;
        char *topic;
        int interval_ms;
        side_t sides[2];
        pthread_mutex_t lock;
        pthread_cond_t cond;
        int stop;      /* asked to stop */
        int exited;    /* the sampler returned */
        int abandoned; /* left to the sampler to free (see stop) */
        pthread_t thread;
};

void vcdc_gw_prom_label(const char *value, char *out, size_t size) {
        size_t o = 0;

        if (!size)
                return;
        for (; *value && o + 3 < size; value++) {
                if (*value == '\\' || *value == '"') {
                        out[o++] = '\\';
                        out[o++] = *value;
                } else if (*value == '\n') {
                        out[o++] = '\\';
                        out[o++] = 'n';
                } else {
                        out[o++] = *value;
                }
        }
        out[o] = '\0';
}

static void sample_side(vcdc_gw_groups_t *g, side_t *s) {
        vcdc_lag_sample_t smp;
        char errstr[256];
        int r;

        r = vcdc_lag_sample(g->rk, g->topic, s->group, NULL, &smp, errstr,
                            sizeof(errstr));
        pthread_mutex_lock(&g->lock);
        if (r == 0) {
                s->sampled = s->ok = 1;
                s->lag = smp.total_lag;
                s->members = smp.members;
                s->time_lag_ms = smp.time_lag_ms;
                s->error[0] = '\0';
        } else {
                s->ok = 0;
                s->errors++;
                if (strcmp(s->error, errstr)) {
                        VCDC_WARN("gateway", "group %s (%s): %s", s->group,
                                  s->side, errstr);
                        snprintf(s->error, sizeof(s->error), "%s", errstr);
                }
        }
        pthread_mutex_unlock(&g->lock);
        if (r == 0)
                vcdc_lag_sample_clear(&smp);
}

static void groups_free(vcdc_gw_groups_t *g);

/* The sampler's last act: say so, or free g when stop() no longer waits. */
static void *sampler_exit(vcdc_gw_groups_t *g) {
        int abandoned;

        pthread_mutex_lock(&g->lock);
        g->exited = 1;
        abandoned = g->abandoned;
        pthread_cond_broadcast(&g->cond);
        pthread_mutex_unlock(&g->lock);
        if (abandoned)
                groups_free(g);
        return NULL;
}

static int stopping(vcdc_gw_groups_t *g) {
        int stop;

        pthread_mutex_lock(&g->lock);
        stop = g->stop;
        pthread_mutex_unlock(&g->lock);
        return stop;
}

static void *sampler(void *arg) {
        vcdc_gw_groups_t *g = arg;
        struct timespec until;
        int i;

        for (;;) {
                for (i = 0; i < 2 && !stopping(g); i++)
                        sample_side(g, &g->sides[i]);
                clock_gettime(CLOCK_REALTIME, &until);
                until.tv_sec += g->interval_ms / 1000;
                until.tv_nsec += (long)(g->interval_ms % 1000) * 1000000L;
                if (until.tv_nsec >= 1000000000L) {
                        until.tv_sec++;
                        until.tv_nsec -= 1000000000L;
                }
                pthread_mutex_lock(&g->lock);
                while (!g->stop &&
                       pthread_cond_timedwait(&g->cond, &g->lock, &until) !=
                               ETIMEDOUT)
                        ;
                if (g->stop) {
                        pthread_mutex_unlock(&g->lock);
                        return sampler_exit(g);
                }
                pthread_mutex_unlock(&g->lock);
        }
}

static void groups_free(vcdc_gw_groups_t *g) {
        if (g->rk)
                rd_kafka_destroy(g->rk);
        free(g->topic);
        free(g->sides[0].group);
        free(g->sides[1].group);
        pthread_mutex_destroy(&g->lock);
        pthread_cond_destroy(&g->cond);
        free(g);
}

vcdc_gw_groups_t *vcdc_gw_groups_start(const vcdc_conf_t *conf,
                                       const char *topic,
                                       const char *old_group,
                                       const char *new_group, int interval_ms,
                                       char *errstr, size_t errstr_size) {
        vcdc_gw_groups_t *g = calloc(1, sizeof(*g));
        int i;

        if (!g) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        pthread_mutex_init(&g->lock, NULL);
        pthread_cond_init(&g->cond, NULL);
        g->interval_ms = interval_ms > 0 ? interval_ms : 1000;
        g->sides[0].side = "old";
        g->sides[1].side = "new";
        if (!(g->topic = strdup(topic)) ||
            !(g->sides[0].group = strdup(old_group)) ||
            !(g->sides[1].group = strdup(new_group))) {
                snprintf(errstr, errstr_size, "out of memory");
                groups_free(g);
                return NULL;
        }
        for (i = 0; i < 2; i++)
                vcdc_gw_prom_label(g->sides[i].group, g->sides[i].label,
                                   sizeof(g->sides[i].label));
        if (!(g->rk = vcdc_lag_client_new(conf, errstr, errstr_size))) {
                groups_free(g);
                return NULL;
        }
        if (pthread_create(&g->thread, NULL, sampler, g)) {
                snprintf(errstr, errstr_size, "pthread_create failed");
                groups_free(g);
                return NULL;
        }
        return g;
}

/* Appends to buf at *np what fmt says, as long as it fits. */
static void put(char *buf, size_t size, size_t *np, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

static void put(char *buf, size_t size, size_t *np, const char *fmt, ...) {
        va_list ap;
        int n;

        if (*np >= size)
                return;
        va_start(ap, fmt);
        n = vsnprintf(buf + *np, size - *np, fmt, ap);
        va_end(ap);
        if (n > 0)
                *np = *np + (size_t)n < size ? *np + (size_t)n : size - 1;
}

size_t vcdc_gw_groups_render(vcdc_gw_groups_t *g, char *buf, size_t size) {
        static const char *const names[] = {
                "vcdc_gateway_group_up",
                "vcdc_gateway_group_lag",
                "vcdc_gateway_group_members",
                "vcdc_gateway_group_time_lag_seconds",
                "vcdc_gateway_group_sample_errors_total",
        };
        size_t n = 0, m;
        int i;

        if (!g || !size)
                return 0;
        buf[0] = '\0';
        pthread_mutex_lock(&g->lock);
        for (m = 0; m < sizeof(names) / sizeof(*names); m++) {
                put(buf, size, &n, "# TYPE %s %s\n", names[m],
                    m == 4 ? "counter" : "gauge");
                for (i = 0; i < 2; i++) {
                        const side_t *s = &g->sides[i];
                        double v;

                        if (m == 0)
                                v = s->ok;
                        else if (m == 4)
                                v = (double)s->errors;
                        else if (!s->sampled)
                                continue; /* nothing known yet */
                        else if (m == 1)
                                v = (double)s->lag;
                        else if (m == 2)
                                v = s->members;
                        else if (s->time_lag_ms < 0)
                                continue; /* unknown */
                        else
                                v = (double)s->time_lag_ms / 1000.0;
                        put(buf, size, &n,
                            "%s{side=\"%s\",group=\"%s\"} %.15g\n", names[m],
                            s->side, s->label, v);
                }
        }
        pthread_mutex_unlock(&g->lock);
        return n;
}

void vcdc_gw_groups_stop(vcdc_gw_groups_t *g) {
        struct timespec until;
        int exited;

        if (!g)
                return;
        /* A sample against a cluster that does not answer takes the admin
         * timeouts (seconds): stopping waits a second at most, then leaves
         * the sampler to finish and free g by itself. */
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 1;
        pthread_mutex_lock(&g->lock);
        g->stop = 1;
        pthread_cond_broadcast(&g->cond);
        while (!g->exited &&
               pthread_cond_timedwait(&g->cond, &g->lock, &until) != ETIMEDOUT)
                ;
        exited = g->exited;
        g->abandoned = !exited;
        pthread_mutex_unlock(&g->lock);
        if (!exited) {
                pthread_detach(g->thread);
                return;
        }
        pthread_join(g->thread, NULL);
        groups_free(g);
}
