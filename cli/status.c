/*
 * vcdc - `vcdc status`: per group and partition the committed offset, the
 * log end, the lag, the offset recorded in the target and the time lag,
 * judged over a window of samples (control/lag.h).
 *
 * Without --watch: N samples of every group, --interval apart, then one
 * report. With --watch S: the same first report, then a new sample of every
 * group each S seconds and a report over the last N samples (a sliding
 * window spanning (N-1)*S seconds), until SIGINT or SIGTERM.
 *
 * --capture URL adds a vcdc-capture's lag as its database sees it, read
 * at each report (capture/slotlag.h).
 */
#include "commands.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <librdkafka/rdkafka.h>

#include "conf.h"
#include "lag.h"
#include "log.h"
#include "sink.h"
#include "slotlag.h"

enum { EXIT_OK = 0, EXIT_NOT_OK = 1, EXIT_ERROR = 2, EXIT_USAGE = 64 };

#define GROUPS_MAX 32
#define CAPTURES_MAX 8
#define WINDOW_MAX 100

static volatile sig_atomic_t run = 1;

static void on_signal(int sig) {
        (void)sig;
        run = 0;
}

typedef struct group_s {
        char *name;           /* owned: split from "G=URL" */
        const char *sink_url; /* into the same allocation, or NULL */
        vcdc_sink_t *sink;
        vcdc_lag_sample_t *samples; /* oldest first */
        size_t cnt;
        vcdc_readiness_t ready;
        char error[512];      /* the last sample failed: why */
} group_t;

typedef struct status_s {
        const char *topic;
        group_t groups[GROUPS_MAX];
        size_t group_cnt;
        size_t window;
        int interval_ms, watch_s, json;
        int64_t max_lag;
        rd_kafka_t *rk;
        const char *captures[CAPTURES_MAX]; /* --capture URLs */
        vcdc_slotlag_t capture_lag[CAPTURES_MAX];
        size_t capture_cnt;
} status_t;

static void usage(FILE *fp) {
        fprintf(fp,
                "Usage: vcdc status -t TOPIC --group G[=SINK_URL] "
                "[--group G2[=URL]]... [options]\n"
                "Lag and readiness of each consumer group on TOPIC, judged "
                "over a window of\nsamples: OK, LAGGING, STALLED, REWOUND or "
                "STOPPED.\n\n"
                "  -b BROKERS          bootstrap servers (default: "
                "$VCDC_BROKERS)\n"
                "  -t TOPIC            the change topic\n"
                "  --group G[=URL]     a consumer group, and the sink it "
                "applies to (for the\n"
                "                      offsets recorded in the target); "
                "repeatable\n"
                "  --window N          samples per window (default 3)\n"
                "  --interval SECONDS  between the window's samples "
                "(default 1)\n"
                "  --max-lag N         the most lag (records) a ready group "
                "may have now\n"
                "                      (default %d: written a moment ago, "
                "not applied yet)\n"
                "  --watch SECONDS     report again every SECONDS over a "
                "sliding window of\n"
                "                      the last N samples, until "
                "interrupted\n"
                "  --json              one JSON object per report (one a "
                "line)\n"
                "  --metric cosine|l2|ip  the sinks' metric (default: the "
                "URL's ?metric=,\n"
                "                      else cosine)\n"
                "  --capture URL       a vcdc-capture's slot, pgvector://USER@"
                "HOST:PORT/DB?slot=S:\n"
                "                      its lag behind the database's WAL "
                "(OK while streamed);\n"
                "                      repeatable, or alone without -t and "
                "--group\n"
                "  -X key=value        librdkafka or vcdc.* setting\n"
                "  -F FILE             properties file of such settings\n"
                "  -v, -q              more, less logging\n\n"
                "A group is OK when it has a member, its lag reached zero "
                "within the window\n"
                "(in each partition: 0 in a sample, or a later sample's "
                "committed offset\n"
                "reached an earlier sample's log end) and is within "
                "--max-lag now;\n"
                "STALLED when it has a member, lag in every sample and no "
                "committed offset\n"
                "moved; REWOUND when a committed offset went backwards; "
                "STOPPED when it has\n"
                "no member; LAGGING otherwise.\n"
                "Time lag: how long the oldest record not applied has "
                "waited (its Kafka\ntimestamp to now), 0 when caught up.\n"
                "Exit status: 0 every group OK, 1 otherwise, 2 error, 64 "
                "bad usage.\n",
                VCDC_LAG_MAX_DEFAULT);
}

static int64_t mono_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sleeps until the monotonic deadline, or until interrupted. */
static void sleep_until(int64_t deadline) {
        int64_t left;

        while (run && (left = deadline - mono_ms()) > 0) {
                if (left > 100)
                        left = 100;
                nanosleep(&(struct timespec){.tv_nsec = left * 1000000L},
                          NULL);
        }
}

static int parse_int(const char *s, int64_t min, int64_t max, int64_t *vp) {
        long long v;
        char *end;

        errno = 0;
        v = strtoll(s, &end, 10);
        if (end == s || *end || errno || v < min || v > max)
                return -1;
        *vp = v;
        return 0;
}

static int parse_seconds(const char *s, double min, double max, double *vp) {
        double v;
        char *end;

        errno = 0;
        v = strtod(s, &end);
        if (end == s || *end || errno || !isfinite(v) || v < min || v > max)
                return -1;
        *vp = v;
        return 0;
}

/* Takes one sample of every group, each at least interval_ms after the
 * group's previous one, and slides the windows. Returns the number of
 * groups whose sample failed. */
static int sample_round(status_t *st, int interval_ms) {
        int failed = 0;
        size_t i;

        for (i = 0; i < st->group_cnt && run; i++) {
                group_t *g = &st->groups[i];
                vcdc_lag_sample_t s;

                if (g->cnt)
                        sleep_until(mono_ms() + g->samples[g->cnt - 1].t_ms +
                                    interval_ms - wall_ms());
                if (!run)
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

static void fmt_ms(char *buf, size_t size, int64_t ms) {
        if (ms < 0)
                snprintf(buf, size, "?");
        else if (ms < 10000)
                snprintf(buf, size, "%" PRId64 " ms", ms);
        else if (ms < 3600 * 1000)
                snprintf(buf, size, "%.1f s", (double)ms / 1000.0);
        else
                snprintf(buf, size, "%.1f h", (double)ms / 3600000.0);
}

static void fmt_eta(char *buf, size_t size, double eta_s) {
        if (eta_s < 0)
                snprintf(buf, size, "-");
        else if (eta_s < 120)
                snprintf(buf, size, "%.0f s", eta_s);
        else if (eta_s < 7200)
                snprintf(buf, size, "%.0f min", eta_s / 60);
        else
                snprintf(buf, size, "%.1f h", eta_s / 3600);
}

static void fmt_offset(char *buf, size_t size, int64_t offset) {
        if (offset < 0)
                snprintf(buf, size, "-");
        else
                snprintf(buf, size, "%" PRId64, offset);
}

static int64_t part_time_lag(const vcdc_lag_sample_t *s,
                             const vcdc_part_lag_t *p) {
        if (p->lag == 0)
                return 0;
        if (p->pending_ts_ms < 0)
                return -1;
        return s->t_ms > p->pending_ts_ms ? s->t_ms - p->pending_ts_ms : 0;
}

static void report_text(status_t *st) {
        char a[32], b[32], c[32], d[32];
        size_t i, k;

        for (i = 0; i < st->group_cnt; i++) {
                group_t *g = &st->groups[i];
                const vcdc_lag_sample_t *s;
                int64_t committed = 0, end = 0;
                double span;

                if (i > 0)
                        printf("\n");
                if (!g->cnt) {
                        printf("%s  ERROR  %s\n", g->name, g->error);
                        continue;
                }
                s = &g->samples[g->cnt - 1];
                span = (double)(s->t_ms - g->samples[0].t_ms) / 1000.0;
                fmt_ms(a, sizeof(a), s->time_lag_ms);
                fmt_eta(b, sizeof(b), g->ready.eta_s);
                printf("%s  %s  lag %" PRId64 "  time lag %s  rate %.1f/s  "
                       "ETA %s  members %d (%s)\n",
                       g->name, vcdc_group_state_name(g->ready.state),
                       g->ready.lag, a, g->ready.rate, b, s->members,
                       s->group_state[0] ? s->group_state : "?");
                printf("  %s (%zu sample%s over %.1f s)\n", g->ready.reason,
                       g->cnt, g->cnt == 1 ? "" : "s", span);
                if (g->error[0])
                        printf("  last sample failed: %s\n", g->error);
                printf("  %9s %12s %12s %10s %12s %10s\n", "partition",
                       "committed", "end", "lag", "recorded", "time lag");
                for (k = 0; k < s->part_cnt; k++) {
                        const vcdc_part_lag_t *p = &s->parts[k];
                        fmt_offset(a, sizeof(a), p->committed);
                        fmt_offset(b, sizeof(b), p->recorded);
                        fmt_ms(c, sizeof(c), part_time_lag(s, p));
                        printf("  %9" PRId32 " %12s %12" PRId64
                               " %10" PRId64 " %12s %10s\n",
                               p->partition, a, p->end, p->lag,
                               g->sink ? b : "", c);
                        if (p->committed > 0)
                                committed += p->committed;
                        end += p->end;
                }
                fmt_ms(d, sizeof(d), s->time_lag_ms);
                printf("  %9s %12" PRId64 " %12" PRId64 " %10" PRId64
                       " %12s %10s\n",
                       "total", committed, end, s->total_lag, "", d);
        }
        fflush(stdout);
}

static int report_json(status_t *st, int all_ok) {
        json_t *root, *groups, *g_obj, *parts;
        size_t i, k;
        int r = -1;

        root = json_pack("{s:s?, s:I, s:I, s:b}", "topic", st->topic,
                         "window", (json_int_t)st->window, "max_lag",
                         (json_int_t)st->max_lag, "ok", all_ok);
        groups = json_array();
        if (!root || !groups || json_object_set_new(root, "groups", groups)) {
                if (!root)
                        json_decref(groups);
                goto done;
        }
        if (st->capture_cnt &&
            json_object_set_new(root, "captures",
                                vcdc_slotlag_json(st->capture_lag,
                                                  st->capture_cnt)))
                goto done;
        for (i = 0; i < st->group_cnt; i++) {
                group_t *g = &st->groups[i];
                const vcdc_lag_sample_t *s;
                int64_t committed = 0, end = 0;

                if (!g->cnt) {
                        if (json_array_append_new(
                                    groups,
                                    json_pack("{s:s, s:s?, s:s}", "group",
                                              g->name, "sink", g->sink_url,
                                              "error", g->error)))
                                goto done;
                        continue;
                }
                s = &g->samples[g->cnt - 1];
                g_obj = json_pack(
                        "{s:s, s:s?, s:s, s:s, s:i, s:s, s:I, s:I, s:b, "
                        "s:f, s:f, s:I, s:I, s:f}",
                        "group", g->name, "sink", g->sink_url, "state",
                        vcdc_group_state_name(g->ready.state), "reason",
                        g->ready.reason, "members", s->members, "group_state",
                        s->group_state, "lag", (json_int_t)g->ready.lag,
                        "time_lag_ms", (json_int_t)s->time_lag_ms,
                        "reached_zero", g->ready.reached_zero, "rate",
                        g->ready.rate, "eta_s", g->ready.eta_s, "samples",
                        (json_int_t)g->cnt, "ts_ms", (json_int_t)s->t_ms,
                        "span_s",
                        (double)(s->t_ms - g->samples[0].t_ms) / 1000.0);
                if (!g_obj || json_array_append_new(groups, g_obj))
                        goto done;
                if (g->error[0] &&
                    json_object_set_new(g_obj, "error",
                                        json_string(g->error)))
                        goto done;
                if (!(parts = json_array()) ||
                    json_object_set_new(g_obj, "partitions", parts))
                        goto done;
                for (k = 0; k < s->part_cnt; k++) {
                        const vcdc_part_lag_t *p = &s->parts[k];
                        if (json_array_append_new(
                                    parts,
                                    json_pack("{s:i, s:I, s:I, s:I, s:I, "
                                              "s:I, s:I, s:I}",
                                              "partition", (int)p->partition,
                                              "committed",
                                              (json_int_t)p->committed,
                                              "start", (json_int_t)p->start,
                                              "end", (json_int_t)p->end,
                                              "lag", (json_int_t)p->lag,
                                              "recorded",
                                              (json_int_t)p->recorded,
                                              "time_lag_ms",
                                              (json_int_t)part_time_lag(s, p),
                                              "applied_ts_ms",
                                              (json_int_t)p->applied_ts_ms)))
                                goto done;
                        if (p->committed > 0)
                                committed += p->committed;
                        end += p->end;
                }
                if (json_object_set_new(g_obj, "committed",
                                        json_integer(committed)) ||
                    json_object_set_new(g_obj, "end", json_integer(end)))
                        goto done;
        }
        if (json_dumpf(root, stdout, JSON_COMPACT | JSON_REAL_PRECISION(6)) ==
            -1)
                goto done;
        printf("\n");
        fflush(stdout);
        r = 0;
done:
        json_decref(root);
        if (r == -1)
                VCDC_ERR("status", "cannot write the JSON report");
        return r;
}

/* Evaluates every group and reports. Returns the exit status. */
static int report(status_t *st) {
        int all_ok = 1, errors = 0;
        size_t i;

        for (i = 0; i < st->capture_cnt; i++) {
                vcdc_slotlag_t *c = &st->capture_lag[i];
                if (vcdc_slotlag_read(st->captures[i], c) == -1)
                        errors++;
                else if (!c->active)
                        all_ok = 0;
        }

        for (i = 0; i < st->group_cnt; i++) {
                group_t *g = &st->groups[i];
                if (g->error[0])
                        errors++;
                if (!g->cnt) {
                        all_ok = 0;
                        continue;
                }
                if (vcdc_lag_evaluate(g->samples, g->cnt, st->max_lag,
                                      &g->ready) != VCDC_STATE_OK)
                        all_ok = 0;
        }
        if (st->json) {
                if (report_json(st, all_ok && !errors) == -1)
                        return EXIT_ERROR;
        } else {
                for (i = 0; i < st->capture_cnt; i++)
                        vcdc_slotlag_print(stdout, &st->capture_lag[i]);
                if (st->capture_cnt && st->group_cnt)
                        printf("\n");
                report_text(st);
        }
        if (errors)
                return EXIT_ERROR;
        return all_ok ? EXIT_OK : EXIT_NOT_OK;
}

static rd_kafka_t *client_new(vcdc_conf_t *conf, char *errstr,
                              size_t errstr_size) {
        rd_kafka_conf_t *rkc = vcdc_conf_kafka_dup(conf);
        rd_kafka_t *rk;

        if (!rkc) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        if (!(rk = rd_kafka_new(RD_KAFKA_CONSUMER, rkc, errstr, errstr_size)))
                rd_kafka_conf_destroy(rkc);
        return rk;
}

int vcdc_cmd_status(int argc, char **argv) {
        enum { O_GROUP = 256, O_JSON, O_WATCH, O_WINDOW, O_INTERVAL,
               O_MAX_LAG, O_METRIC, O_CAPTURE };
        static const struct option longopts[] = {
                {"group", required_argument, NULL, O_GROUP},
                {"json", no_argument, NULL, O_JSON},
                {"watch", required_argument, NULL, O_WATCH},
                {"window", required_argument, NULL, O_WINDOW},
                {"interval", required_argument, NULL, O_INTERVAL},
                {"max-lag", required_argument, NULL, O_MAX_LAG},
                {"metric", required_argument, NULL, O_METRIC},
                {"capture", required_argument, NULL, O_CAPTURE},
                {"help", no_argument, NULL, 'h'},
                {NULL, 0, NULL, 0},
        };
        status_t st = {.window = 3,
                       .interval_ms = 1000,
                       .max_lag = VCDC_LAG_MAX_DEFAULT};
        const char *brokers = getenv("VCDC_BROKERS");
        vcdc_sink_conf_t sink_conf = {0};
        vcdc_conf_t *conf;
        struct sigaction sa;
        char errstr[1024], *eq;
        int opt, r = EXIT_ERROR;
        int64_t v;
        double secs;
        size_t i;

        if (!(conf = vcdc_conf_new())) {
                fprintf(stderr, "vcdc status: out of memory\n");
                return EXIT_ERROR;
        }
        optind = 0; /* a fresh parse, also when called twice */
        while ((opt = getopt_long(argc, argv, "b:t:X:F:vqh", longopts,
                                  NULL)) != -1) {
                switch (opt) {
                case 'b':
                        brokers = optarg;
                        break;
                case 't':
                        st.topic = optarg;
                        break;
                case O_GROUP: {
                        group_t *g;
                        if (st.group_cnt == GROUPS_MAX) {
                                fprintf(stderr,
                                        "vcdc status: at most %d groups\n",
                                        GROUPS_MAX);
                                goto usage_err;
                        }
                        g = &st.groups[st.group_cnt];
                        if (!(g->name = strdup(optarg))) {
                                fprintf(stderr, "vcdc status: out of "
                                                "memory\n");
                                goto done;
                        }
                        st.group_cnt++;
                        if ((eq = strchr(g->name, '='))) {
                                *eq = '\0';
                                g->sink_url = eq + 1;
                        }
                        if (!*g->name || (g->sink_url && !*g->sink_url)) {
                                fprintf(stderr,
                                        "vcdc status: --group %s: expected "
                                        "GROUP or GROUP=SINK_URL\n",
                                        optarg);
                                goto usage_err;
                        }
                        break;
                }
                case O_JSON:
                        st.json = 1;
                        break;
                case O_WATCH:
                        if (parse_int(optarg, 1, 86400, &v) == -1) {
                                fprintf(stderr,
                                        "vcdc status: --watch %s: expected "
                                        "seconds, 1..86400\n",
                                        optarg);
                                goto usage_err;
                        }
                        st.watch_s = (int)v;
                        break;
                case O_WINDOW:
                        if (parse_int(optarg, 1, WINDOW_MAX, &v) == -1) {
                                fprintf(stderr,
                                        "vcdc status: --window %s: expected "
                                        "1..%d samples\n",
                                        optarg, WINDOW_MAX);
                                goto usage_err;
                        }
                        st.window = (size_t)v;
                        break;
                case O_INTERVAL:
                        if (parse_seconds(optarg, 0.05, 3600, &secs) == -1) {
                                fprintf(stderr,
                                        "vcdc status: --interval %s: "
                                        "expected seconds, 0.05..3600\n",
                                        optarg);
                                goto usage_err;
                        }
                        st.interval_ms = (int)(secs * 1000);
                        break;
                case O_MAX_LAG:
                        if (parse_int(optarg, 0, INT64_MAX, &st.max_lag) ==
                            -1) {
                                fprintf(stderr,
                                        "vcdc status: --max-lag %s: "
                                        "expected a count >= 0\n",
                                        optarg);
                                goto usage_err;
                        }
                        break;
                case O_METRIC:
                        if ((sink_conf.metric = vcdc_metric_parse(optarg)) ==
                            VCDC_METRIC_UNSET) {
                                fprintf(stderr,
                                        "vcdc status: --metric %s: expected "
                                        "cosine, l2 or ip\n",
                                        optarg);
                                goto usage_err;
                        }
                        break;
                case O_CAPTURE:
                        if (st.capture_cnt == CAPTURES_MAX) {
                                fprintf(stderr,
                                        "vcdc status: at most %d captures\n",
                                        CAPTURES_MAX);
                                goto usage_err;
                        }
                        st.captures[st.capture_cnt++] = optarg;
                        break;
                case 'X':
                case 'F':
                case 'v':
                case 'q':
                        if (vcdc_conf_common_opt(conf, opt, optarg, errstr,
                                                 sizeof(errstr))) {
                                fprintf(stderr, "vcdc status: %s\n",
                                        errstr);
                                goto usage_err;
                        }
                        break;
                case 'h':
                        usage(stdout);
                        r = EXIT_OK;
                        goto done;
                default:
                        usage(stderr);
                        goto usage_err;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "vcdc status: unexpected argument \"%s\"\n",
                        argv[optind]);
                goto usage_err;
        }
        if ((st.group_cnt || !st.capture_cnt) &&
            (!brokers || !*brokers || !st.topic || !st.group_cnt)) {
                fprintf(stderr, "vcdc status: -b (or VCDC_BROKERS), -t and "
                                "at least one --group are required, or "
                                "--capture alone (--help)\n");
                goto usage_err;
        }
        if (brokers && *brokers && vcdc_conf_set(conf, "bootstrap.servers", brokers, errstr,
                          sizeof(errstr)) == -1) {
                fprintf(stderr, "vcdc status: %s\n", errstr);
                goto usage_err;
        }
        rd_kafka_conf_set_log_cb(vcdc_conf_kafka(conf), vcdc_log_rdkafka_cb);

        sink_conf.timeout_ms = (int)vcdc_conf_int(conf, "vcdc.sink.timeout.ms");
        for (i = 0; i < st.group_cnt; i++) {
                group_t *g = &st.groups[i];
                if (!(g->samples = calloc(st.window, sizeof(*g->samples)))) {
                        fprintf(stderr, "vcdc status: out of memory\n");
                        goto done;
                }
                if (g->sink_url &&
                    !(g->sink = vcdc_sink_new(g->sink_url, &sink_conf, errstr,
                                              sizeof(errstr)))) {
                        fprintf(stderr, "vcdc status: group %s: %s\n",
                                g->name, errstr);
                        goto done;
                }
        }
        if (st.group_cnt && !(st.rk = client_new(conf, errstr,
                                                 sizeof(errstr)))) {
                fprintf(stderr, "vcdc status: %s\n", errstr);
                goto done;
        }

        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_signal;
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        run = 1;

        /* The first window: samples of a group --interval apart. */
        for (i = 0; i < st.window && run; i++)
                if (sample_round(&st, st.interval_ms) && !st.watch_s) {
                        r = EXIT_ERROR;
                        goto done;
                }
        if (!run)
                goto done;
        r = report(&st);
        /* Then one sample a round, --watch apart, the window sliding. */
        while (st.watch_s && run) {
                sample_round(&st, st.watch_s * 1000);
                if (!run)
                        break;
                if (!st.json)
                        printf("\n");
                r = report(&st);
        }
done:
        if (st.rk)
                rd_kafka_destroy(st.rk);
        for (i = 0; i < st.group_cnt; i++) {
                group_t *g = &st.groups[i];
                size_t j;
                for (j = 0; j < g->cnt; j++)
                        vcdc_lag_sample_clear(&g->samples[j]);
                free(g->samples);
                vcdc_sink_destroy(g->sink);
                free(g->name);
        }
        vcdc_conf_destroy(conf);
        return r;

usage_err:
        r = EXIT_USAGE;
        goto done;
}
