/*
 * vcdc - `vcdc status`: its options and its report, per group and
 * partition the committed offset, the log end, the lag, the offset
 * recorded in the target and the time lag, judged over a window of
 * samples; for a sink that builds one, the state of the index on the
 * target (none, building with its phase and percent, valid, invalid).
 * The windows and the judgement are the library's (control/status.h,
 * control/lag.h); nothing here reads Kafka or a sink.
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

#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <librdkafka/rdkafka.h>

#include "conf.h"
#include "lag.h"
#include "log.h"
#include "options.h"
#include "output.h"
#include "sink.h"
#include "slotlag.h"
#include "status.h"

enum {
        EXIT_OK = 0,
        EXIT_NOT_OK = 1,
        EXIT_ERROR = 2,
        EXIT_USAGE = VCDC_CLI_USAGE
};

#define GROUPS_MAX 32
#define CAPTURES_MAX 8
#define WINDOW_MAX 100
#define VCDC_XSTR(x) #x
#define VCDC_STR(x)  VCDC_XSTR(x)

static volatile sig_atomic_t run = 1;

static void on_signal(int sig) {
        (void)sig;
        run = 0;
}

/* What the report shows besides the groups. */
typedef struct report_s {
        const char *topic;
        size_t window;
        int64_t max_lag;
        int json;
        const char *captures[CAPTURES_MAX]; /* --capture URLs */
        vcdc_slotlag_t capture_lag[CAPTURES_MAX];
        size_t capture_cnt;
} report_t;

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

/* Seconds the group's window spans. */
static double span_s(const vcdc_status_group_t *g) {
        return (double)(g->samples[g->cnt - 1].t_ms - g->samples[0].t_ms) /
               1000.0;
}

static void report_text(const vcdc_status_t *st) {
        char a[32], b[32], c[32], d[32];
        size_t i, k;

        for (i = 0; i < vcdc_status_group_cnt(st); i++) {
                const vcdc_status_group_t *g = vcdc_status_group(st, i);
                const vcdc_lag_sample_t *s;
                int64_t committed, end;

                if (i > 0)
                        printf("\n");
                if (!g->cnt) {
                        printf("%s  ERROR  %s\n", g->name, g->error);
                        continue;
                }
                s = &g->samples[g->cnt - 1];
                fmt_ms(a, sizeof(a), s->time_lag_ms);
                fmt_eta(b, sizeof(b), g->ready.eta_s);
                printf("%s  %s  lag %" PRId64 "  time lag %s  rate %.1f/s  "
                       "ETA %s  members %d (%s)\n",
                       g->name, vcdc_group_state_name(g->ready.state),
                       g->ready.lag, a, g->ready.rate, b, s->members,
                       s->group_state[0] ? s->group_state : "?");
                printf("  %s (%zu sample%s over %.1f s)\n", g->ready.reason,
                       g->cnt, g->cnt == 1 ? "" : "s", span_s(g));
                if (g->error[0])
                        printf("  last sample failed: %s\n", g->error);
                if (s->has_index) {
                        char ix[256];
                        vcdc_index_info_format(&s->index, ix, sizeof(ix));
                        printf("  index: %s\n", ix);
                }
                printf("  %9s %12s %12s %10s %12s %10s\n", "partition",
                       "committed", "end", "lag", "recorded", "time lag");
                for (k = 0; k < s->part_cnt; k++) {
                        const vcdc_part_lag_t *p = &s->parts[k];
                        fmt_offset(a, sizeof(a), p->committed);
                        fmt_offset(b, sizeof(b), p->recorded);
                        fmt_ms(c, sizeof(c), vcdc_lag_part_time_lag(s, p));
                        printf("  %9" PRId32 " %12s %12" PRId64 " %10" PRId64
                               " %12s %10s\n",
                               p->partition, a, p->end, p->lag,
                               g->sink ? b : "", c);
                }
                vcdc_lag_totals(s, &committed, &end);
                fmt_ms(d, sizeof(d), s->time_lag_ms);
                printf("  %9s %12" PRId64 " %12" PRId64 " %10" PRId64
                       " %12s %10s\n",
                       "total", committed, end, s->total_lag, "", d);
        }
        fflush(stdout);
}

/* The index's state: {"state": "building", "kind": "hnsw", "name": ...,
 * "opclass": ..., "phase": ..., "percent": 45.0}; phase and percent only
 * while building, percent null when unknown. */
static json_t *index_json(const vcdc_index_info_t *ix) {
        json_t *obj = json_pack("{s:s, s:s, s:s?, s:s?}", "state",
                                vcdc_index_state_name(ix->state), "kind",
                                vcdc_index_kind_name(ix->kind), "name",
                                ix->name[0] ? ix->name : NULL, "opclass",
                                ix->opclass[0] ? ix->opclass : NULL);

        if (obj && ix->state == VCDC_INDEX_BUILDING) {
                json_object_set_new(obj, "phase", json_string(ix->phase));
                json_object_set_new(obj, "percent",
                                    ix->percent >= 0 ? json_real(ix->percent)
                                                     : json_null());
        }
        return obj;
}

/* One group of the JSON report: appended to groups. Returns 0 or -1. */
static int group_json(const vcdc_status_group_t *g, json_t *groups) {
        const vcdc_lag_sample_t *s;
        json_t *g_obj, *parts;
        int64_t committed, end;
        size_t k;

        if (!g->cnt)
                return json_array_append_new(
                        groups, json_pack("{s:s, s:s?, s:s}", "group", g->name,
                                          "sink", g->sink_url, "error",
                                          g->error));
        s = &g->samples[g->cnt - 1];
        g_obj = json_pack("{s:s, s:s?, s:s, s:s, s:i, s:s, s:I, s:I, s:b, "
                          "s:f, s:f, s:I, s:I, s:f}",
                          "group", g->name, "sink", g->sink_url, "state",
                          vcdc_group_state_name(g->ready.state), "reason",
                          g->ready.reason, "members", s->members,
                          "group_state", s->group_state, "lag",
                          (json_int_t)g->ready.lag, "time_lag_ms",
                          (json_int_t)s->time_lag_ms, "reached_zero",
                          g->ready.reached_zero, "rate", g->ready.rate,
                          "eta_s", g->ready.eta_s, "samples",
                          (json_int_t)g->cnt, "ts_ms", (json_int_t)s->t_ms,
                          "span_s", span_s(g));
        if (!g_obj || json_array_append_new(groups, g_obj))
                return -1;
        if (g->error[0] &&
            json_object_set_new(g_obj, "error", json_string(g->error)))
                return -1;
        if (s->has_index && json_object_set_new(g_obj, "index",
                                                index_json(&s->index)))
                return -1;
        if (!(parts = json_array()) ||
            json_object_set_new(g_obj, "partitions", parts))
                return -1;
        for (k = 0; k < s->part_cnt; k++) {
                const vcdc_part_lag_t *p = &s->parts[k];
                if (json_array_append_new(
                            parts,
                            json_pack("{s:i, s:I, s:I, s:I, s:I, s:I, s:I, "
                                      "s:I}",
                                      "partition", (int)p->partition,
                                      "committed", (json_int_t)p->committed,
                                      "start", (json_int_t)p->start, "end",
                                      (json_int_t)p->end, "lag",
                                      (json_int_t)p->lag, "recorded",
                                      (json_int_t)p->recorded, "time_lag_ms",
                                      (json_int_t)vcdc_lag_part_time_lag(s, p),
                                      "applied_ts_ms",
                                      (json_int_t)p->applied_ts_ms)))
                        return -1;
        }
        vcdc_lag_totals(s, &committed, &end);
        if (json_object_set_new(g_obj, "committed", json_integer(committed)) ||
            json_object_set_new(g_obj, "end", json_integer(end)))
                return -1;
        return 0;
}

static int report_json(const vcdc_status_t *st, const report_t *rp,
                       int all_ok) {
        json_t *root, *groups;
        size_t i;
        int r = -1;

        root = json_pack("{s:s?, s:I, s:I, s:b}", "topic", rp->topic,
                         "window", (json_int_t)rp->window, "max_lag",
                         (json_int_t)rp->max_lag, "ok", all_ok);
        groups = json_array();
        if (!root || !groups || json_object_set_new(root, "groups", groups)) {
                if (!root)
                        json_decref(groups);
                goto done;
        }
        if (rp->capture_cnt &&
            json_object_set_new(root, "captures",
                                vcdc_slotlag_json(rp->capture_lag,
                                                  rp->capture_cnt)))
                goto done;
        for (i = 0; st && i < vcdc_status_group_cnt(st); i++)
                if (group_json(vcdc_status_group(st, i), groups) == -1)
                        goto done;
        r = vcdc_cli_print_json(root, 6);
        root = NULL;
done:
        json_decref(root);
        if (r == -1)
                VCDC_ERR("status", "cannot write the JSON report");
        return r;
}

/* Reads every capture's lag, judges every group (st may be NULL: captures
 * alone) and reports. Returns the exit status. */
static int report(vcdc_status_t *st, report_t *rp) {
        int errors = 0, all_ok = 1;
        size_t i;

        if (st)
                all_ok = vcdc_status_evaluate(st, rp->max_lag, &errors);
        for (i = 0; i < rp->capture_cnt; i++) {
                vcdc_slotlag_t *c = &rp->capture_lag[i];
                if (vcdc_slotlag_read(rp->captures[i], c) == -1)
                        errors++;
                else if (!c->active)
                        all_ok = 0;
        }
        if (rp->json) {
                if (report_json(st, rp, all_ok && !errors) == -1)
                        return EXIT_ERROR;
        } else {
                for (i = 0; i < rp->capture_cnt; i++)
                        vcdc_slotlag_print(stdout, &rp->capture_lag[i]);
                if (rp->capture_cnt && st)
                        printf("\n");
                if (st)
                        report_text(st);
                fflush(stdout);
        }
        if (errors)
                return EXIT_ERROR;
        return all_ok ? EXIT_OK : EXIT_NOT_OK;
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
        report_t rp = {.window = 3, .max_lag = VCDC_LAG_MAX_DEFAULT};
        const char *brokers = getenv("VCDC_BROKERS");
        /* --group G[=URL]: the arguments split in place (argv is ours). */
        const char *names[GROUPS_MAX], *urls[GROUPS_MAX];
        size_t group_cnt = 0, i;
        vcdc_sink_conf_t sink_conf = {0};
        vcdc_status_t *st = NULL;
        vcdc_conf_t *conf;
        struct sigaction sa;
        char errstr[1024], *spec[GROUPS_MAX], *eq;
        int opt, r = EXIT_ERROR, interval_ms = 1000, watch_s = 0;
        int64_t v;
        double secs;

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
                        rp.topic = optarg;
                        break;
                case O_GROUP:
                        if (group_cnt == GROUPS_MAX) {
                                fprintf(stderr,
                                        "vcdc status: at most %d groups\n",
                                        GROUPS_MAX);
                                goto usage_err;
                        }
                        if (!(spec[group_cnt] = strdup(optarg))) {
                                fprintf(stderr, "vcdc status: out of "
                                                "memory\n");
                                goto done;
                        }
                        names[group_cnt] = spec[group_cnt];
                        urls[group_cnt] = NULL;
                        if ((eq = strchr(spec[group_cnt], '='))) {
                                *eq = '\0';
                                urls[group_cnt] = eq + 1;
                        }
                        if (!*names[group_cnt++] ||
                            (eq && !*urls[group_cnt - 1])) {
                                fprintf(stderr,
                                        "vcdc status: --group %s: expected "
                                        "GROUP or GROUP=SINK_URL\n",
                                        optarg);
                                goto usage_err;
                        }
                        break;
                case O_JSON:
                        rp.json = 1;
                        break;
                case O_WATCH:
                        if (vcdc_cli_int("status", "--watch", optarg, 1,
                                         86400, "expected seconds, 1..86400",
                                         &v))
                                goto usage_err;
                        watch_s = (int)v;
                        break;
                case O_WINDOW:
                        if (vcdc_cli_int("status", "--window", optarg, 1,
                                         WINDOW_MAX,
                                         "expected 1.." VCDC_STR(
                                                 WINDOW_MAX) " samples",
                                         &v))
                                goto usage_err;
                        rp.window = (size_t)v;
                        break;
                case O_INTERVAL:
                        if (vcdc_cli_double("status", "--interval", optarg,
                                            0.05, 3600,
                                            "expected seconds, 0.05..3600",
                                            &secs))
                                goto usage_err;
                        interval_ms = (int)(secs * 1000);
                        break;
                case O_MAX_LAG:
                        if (vcdc_cli_int("status", "--max-lag", optarg, 0,
                                         INT64_MAX, "expected a count >= 0",
                                         &rp.max_lag))
                                goto usage_err;
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
                        if (rp.capture_cnt == CAPTURES_MAX) {
                                fprintf(stderr,
                                        "vcdc status: at most %d captures\n",
                                        CAPTURES_MAX);
                                goto usage_err;
                        }
                        rp.captures[rp.capture_cnt++] = optarg;
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
        if ((group_cnt || !rp.capture_cnt) &&
            (!brokers || !*brokers || !rp.topic || !group_cnt)) {
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
        if (group_cnt && !(st = vcdc_status_new(conf, rp.topic, names, urls, group_cnt,
                                   rp.window, &sink_conf, errstr,
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
        for (i = 0; st && i < rp.window && run; i++)
                if (vcdc_status_sample(st, interval_ms, &run) && !watch_s) {
                        r = EXIT_ERROR;
                        goto done;
                }
        if (!run)
                goto done;
        r = report(st, &rp);
        /* Then one sample a round, --watch apart, the window sliding. */
        while (watch_s && run) {
                if (st)
                        vcdc_status_sample(st, watch_s * 1000, &run);
                else /* captures alone: nothing to sample in between */
                        for (i = 0; i < (size_t)watch_s * 10 && run; i++)
                                usleep(100 * 1000);
                if (!run)
                        break;
                if (!rp.json)
                        printf("\n");
                r = report(st, &rp);
        }
done:
        vcdc_status_destroy(st);
        for (i = 0; i < group_cnt; i++)
                free(spec[i]);
        vcdc_conf_destroy(conf);
        return r;

usage_err:
        r = EXIT_USAGE;
        goto done;
}
