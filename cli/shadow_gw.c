/*
 * vcdc - `vcdc shadow --gateway URL`: the shadow reads a running
 * vcdc-gateway made (--shadow-rate), read from its metrics endpoint and
 * reported as `vcdc shadow` reports its own queries (a table, or JSON),
 * with the same exit statuses. Nothing here queries a database.
 */
#include "commands.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "conf.h"
#include "http.h"
#include "log.h"
#include "options.h"
#include "output.h"
#include "paircmd.h"
#include "shadowprom.h"

enum {
        EXIT_RAN = 0,
        EXIT_BELOW = 1,
        EXIT_FAILED = 2,
};

/* The metrics endpoint's answer is small (tens of lines); a cap keeps a
 * wrong URL from filling memory. */
#define METRICS_MAX_BODY ((size_t)4 << 20)

static const char usage_text[] =
        "usage: vcdc shadow --gateway URL [options]\n"
        "\n"
        "Reports the shadow reads of a running vcdc-gateway (--shadow-rate):\n"
        "overlap@k and rank agreement of the serving side's answers with "
        "the\n"
        "other side's, latency p50/p99 of each side, errors, samples "
        "dropped.\n"
        "\n"
        "  --gateway URL      the gateway's metrics endpoint "
        "(http://HOST:PORT,\n"
        "                     its --metrics-port; /metrics is added)\n"
        "  --min-overlap X    exit 1 when the mean overlap is below X (0..1)\n"
        "  --min-rank X       exit 1 when the rank agreement is below X "
        "(0..1)\n"
        "  --min-queries N    exit 1 when fewer than N queries were "
        "compared\n"
        "                     (default 1 with --min-overlap or --min-rank)\n"
        "  --timeout-ms N     for the request (default 10000)\n"
        "  --json             one JSON object on stdout instead of a table\n"
        "\n"
        "Exit status: 0 read (and met the thresholds), 1 below one, 2 "
        "error (the\n"
        "endpoint unreachable, or without shadow metrics), 64 bad usage.\n";

typedef struct gw_args_s {
        vcdc_cli_pair_t p; /* cmd, usage, --json, --help */
        const char *url;
        double min_overlap, min_rank; /* < 0: none */
        int64_t min_queries;          /* < 0: the default */
        int timeout_ms;
} gw_args_t;

static int parse_args(int argc, char **argv, gw_args_t *a) {
        vcdc_cli_pair_t *p = &a->p;
        const char *v;
        int64_t n;
        double d;
        int i;

        memset(a, 0, sizeof(*a));
        p->cmd = "shadow";
        p->usage = usage_text;
        a->min_overlap = a->min_rank = -1;
        a->min_queries = -1;
        a->timeout_ms = 10000;
        /* Help wins wherever it stands ("--gateway --help" too). */
        for (i = 1; i < argc; i++)
                if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
                        p->help = 1;
                        return 0;
                }
        for (i = 1; i < argc; i++) {
                const char *arg = argv[i];

                if (!strcmp(arg, "--json")) {
                        p->json = 1;
                } else if (vcdc_cli_take(argc, argv, &i, "--gateway", &v)) {
                        if (!v || (strncmp(v, "http://", 7) &&
                                   strncmp(v, "https://", 8)))
                                return vcdc_cli_usage_error(
                                        p,
                                        "--gateway \"%s\" is not an http:// "
                                        "URL",
                                        v ? v : "");
                        a->url = v;
                } else if (vcdc_cli_take(argc, argv, &i, "--min-overlap", &v) ||
                           vcdc_cli_take(argc, argv, &i, "--min-rank", &v)) {
                        int rank = !strncmp(arg, "--min-rank", 10);

                        if (vcdc_conf_parse_double(v, 0, 1, &d))
                                return vcdc_cli_usage_error(
                                        p,
                                        rank ? "--min-rank \"%s\" is not 0..1"
                                             : "--min-overlap \"%s\" is not "
                                               "0..1",
                                        v ? v : "");
                        *(rank ? &a->min_rank : &a->min_overlap) = d;
                } else if (vcdc_cli_take(argc, argv, &i, "--min-queries", &v)) {
                        if (vcdc_conf_parse_int(v, 0, INT64_MAX, &n))
                                return vcdc_cli_usage_error(
                                        p,
                                        "--min-queries \"%s\" is not a "
                                        "count",
                                        v ? v : "");
                        a->min_queries = n;
                } else if (vcdc_cli_take(argc, argv, &i, "--timeout-ms", &v)) {
                        if (vcdc_conf_parse_int(v, 1, 3600000, &n))
                                return vcdc_cli_usage_error(
                                        p,
                                        "--timeout-ms \"%s\" is not "
                                        "1..3600000",
                                        v ? v : "");
                        a->timeout_ms = (int)n;
                } else {
                        return vcdc_cli_usage_error(
                                p, "unknown argument \"%s\" (with --gateway)",
                                arg);
                }
        }
        if (!a->url)
                return vcdc_cli_usage_error(p, "%s", "--gateway URL is needed");
        if (a->min_queries < 0)
                a->min_queries = a->min_overlap >= 0 || a->min_rank >= 0;
        return 0;
}

/* GETs url's metrics into *out. Returns 0, or -1 with errstr. */
static int fetch(const gw_args_t *a, vcdc_shadow_prom_t *out, char *errstr,
                 size_t errstr_size) {
        const char *host = strstr(a->url, "://") + 3;
        const char *slash = strchr(host, '/');
        char base[512], path[512], perr[256];
        vcdc_http_t *http;
        const char *body;
        size_t blen;
        int rc = -1;

        snprintf(base, sizeof(base), "%.*s",
                 (int)(slash ? (size_t)(slash - a->url) : strlen(a->url)),
                 a->url);
        snprintf(path, sizeof(path), "%s",
                 slash && strcmp(slash, "/") ? slash : "/metrics");
        if (!(http = vcdc_http_new(base, a->timeout_ms, METRICS_MAX_BODY,
                                   errstr, errstr_size)))
                return -1;
        if (vcdc_http_request(http, "GET", path, NULL, 0, NULL, errstr,
                              errstr_size) != VCDC_SINK_OK)
                goto done;
        body = vcdc_http_body(http, &blen);
        if (vcdc_shadow_prom_parse(body, blen, out, perr, sizeof(perr)) == -1) {
                snprintf(errstr, errstr_size, "%.200s%.200s: %.100s", base,
                         path, perr);
                goto done;
        }
        if (!out->present) {
                snprintf(
                        errstr, errstr_size,
                        "%.200s%.200s: no shadow metrics (not a vcdc-gateway's "
                        "metrics endpoint, or one older than shadow reads)",
                        base, path);
                goto done;
        }
        rc = 0;
done:
        vcdc_http_destroy(http);
        return rc;
}

/* A figure that may be undefined (NaN: nothing compared yet). */
static json_t *num(double v) {
        return isnan(v) || isinf(v) ? json_null() : json_real(v);
}

static double mean_ms(const vcdc_shadow_prom_t *m, int s) {
        return m->lat_count[s] > 0 ? m->lat_sum_s[s] / m->lat_count[s] * 1000.0
                                   : NAN;
}

static void print_table(const gw_args_t *a, const vcdc_shadow_prom_t *m, int ok,
                        const char *why) {
        int s;

        printf("vcdc shadow (through the gateway)\n");
        printf("  gateway         %s\n", a->url);
        printf("  shadow rate     %g\n", m->rate);
        printf("  queries         %.0f compared (%.0f query embeddings), "
               "%.0f sampled, %.0f dropped, %.0f queued\n",
               m->queries, m->compared, m->sampled, m->dropped, m->queue);
        printf("  errors          OLD %.0f, NEW %.0f\n", m->errors[0],
               m->errors[1]);
        printf("  overlap@k       mean %.4f, min %.4f\n", m->overlap_mean,
               m->overlap_min);
        printf("  rank agreement  %.4f\n", m->rank_agreement);
        printf("\n  %-14s %10s %10s %10s\n", "latency (ms)", "p50", "p99",
               "mean");
        for (s = 0; s < 2; s++)
                printf("  %-14s %10.2f %10.2f %10.2f\n", s ? "NEW" : "OLD",
                       m->p50_s[s] * 1000.0, m->p99_s[s] * 1000.0,
                       mean_ms(m, s));
        if (a->min_overlap >= 0 || a->min_rank >= 0 || a->min_queries > 0)
                printf("\n  result          %s%s%s%s\n",
                       ok ? "OK" : "BELOW THRESHOLD", why ? " (" : "",
                       why ? why : "", why ? ")" : "");
}

static void print_json(const gw_args_t *a, const vcdc_shadow_prom_t *m,
                       int ok) {
        json_t *o = json_object(), *err = json_object();
        static const char *const key[2][4] = {
                {"old_p50_ms", "old_p99_ms", "old_mean_ms", "old"},
                {"new_p50_ms", "new_p99_ms", "new_mean_ms", "new"}};
        int s;

        json_object_set_new(o, "source", json_string("gateway"));
        json_object_set_new(o, "gateway", json_string(a->url));
        json_object_set_new(o, "rate", num(m->rate));
        json_object_set_new(o, "queries", json_integer((json_int_t)m->queries));
        json_object_set_new(o, "compared",
                            json_integer((json_int_t)m->compared));
        json_object_set_new(o, "sampled", json_integer((json_int_t)m->sampled));
        json_object_set_new(o, "dropped", json_integer((json_int_t)m->dropped));
        json_object_set_new(o, "queued", json_integer((json_int_t)m->queue));
        for (s = 0; s < 2; s++)
                json_object_set_new(err, key[s][3],
                                    json_integer((json_int_t)m->errors[s]));
        json_object_set_new(o, "errors", err);
        json_object_set_new(o, "overlap_mean", num(m->overlap_mean));
        json_object_set_new(o, "overlap_min", num(m->overlap_min));
        json_object_set_new(o, "rank_agreement", num(m->rank_agreement));
        for (s = 0; s < 2; s++) {
                json_object_set_new(o, key[s][0], num(m->p50_s[s] * 1000.0));
                json_object_set_new(o, key[s][1], num(m->p99_s[s] * 1000.0));
                json_object_set_new(o, key[s][2], num(mean_ms(m, s)));
        }
        json_object_set_new(o, "min_overlap",
                            a->min_overlap >= 0 ? json_real(a->min_overlap)
                                                : json_null());
        json_object_set_new(o, "min_rank_agreement",
                            a->min_rank >= 0 ? json_real(a->min_rank)
                                             : json_null());
        json_object_set_new(o, "min_queries",
                            json_integer((json_int_t)a->min_queries));
        json_object_set_new(o, "ok", json_boolean(ok));
        vcdc_cli_print_json(o, 9);
}

int vcdc_cmd_shadow_gateway(int argc, char **argv) {
        vcdc_shadow_prom_t m;
        gw_args_t a;
        char errstr[512], why[160];
        int rc, ok = 1;

        if ((rc = parse_args(argc, argv, &a)))
                return rc;
        if (a.p.help) {
                fputs(usage_text, stdout);
                return EXIT_RAN;
        }
        if (fetch(&a, &m, errstr, sizeof(errstr)) == -1) {
                vcdc_cli_error("shadow", a.p.json, errstr);
                return EXIT_FAILED;
        }
        why[0] = '\0';
        /* NaN (nothing compared) meets no threshold. */
        if (m.queries < (double)a.min_queries) {
                ok = 0;
                snprintf(why, sizeof(why), "%.0f queries compared, < %lld",
                         m.queries, (long long)a.min_queries);
        } else if (a.min_overlap >= 0 && !(m.overlap_mean >= a.min_overlap)) {
                ok = 0;
                snprintf(why, sizeof(why), "mean overlap %.4f < %g",
                         m.overlap_mean, a.min_overlap);
        } else if (a.min_rank >= 0 && !(m.rank_agreement >= a.min_rank)) {
                ok = 0;
                snprintf(why, sizeof(why), "rank agreement %.4f < %g",
                         m.rank_agreement, a.min_rank);
        } else if (a.min_overlap >= 0 || a.min_rank >= 0) {
                snprintf(why, sizeof(why),
                         "mean overlap %.4f, rank "
                         "agreement %.4f",
                         m.overlap_mean, m.rank_agreement);
        }
        if (a.p.json)
                print_json(&a, &m, ok);
        else
                print_table(&a, &m, ok, why[0] ? why : NULL);
        fflush(stdout);
        VCDC_NOTICE("shadow",
                    "gateway %s: %.0f queries compared: overlap mean %.4f, "
                    "min %.4f; rank agreement %.4f",
                    a.url, m.queries, m.overlap_mean, m.overlap_min,
                    m.rank_agreement);
        return ok ? EXIT_RAN : EXIT_BELOW;
}
