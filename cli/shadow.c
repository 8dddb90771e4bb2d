/*
 * vcdc - `vcdc shadow`: its options and its report (a table, or JSON).
 * The queries run in the library (control/shadow.h); nothing here queries
 * a database.
 */
#include "commands.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "conf.h"
#include "log.h"
#include "options.h"
#include "output.h"
#include "paircmd.h"
#include "recall.h"
#include "shadow.h"
#include "sink.h"

enum {
        EXIT_RAN = 0,
        EXIT_BELOW = 1,
        EXIT_FAILED = 2,
        EXIT_USAGE = VCDC_CLI_USAGE,
};

static const char usage_text[] =
        "usage: vcdc shadow --old URL --new URL (--queries FILE | --sample N)"
        " [options]\n"
        "       vcdc shadow --gateway URL [options]   (vcdc shadow --gateway "
        "--help)\n"
        "\n"
        "Runs the same k-NN queries on OLD and NEW and compares the answers:\n"
        "overlap@k, rank agreement, latency p50/p99 of each side.\n"
        "\n"
        "  --old URL          the target reads come from now\n"
        "  --new URL          the target to compare with it\n"
        "  --queries FILE     query vectors, JSON Lines of {\"vector\": "
        "[...]}\n"
        "  --sample N         or N query vectors sampled from OLD\n"
        "  --seed N           the sample's seed (default: from the clock)\n"
        "  -k, --k N          neighbours per query (default 10, at most "
        "1000)\n"
        "  --min-overlap X    exit 1 when the mean overlap is below X (0..1)\n"
        "  --recall           also the exact top-k by brute force (one scan\n"
        "                     of a whole side) and each side's recall@k\n"
        "  --truth old|new    the side whose records are the truth "
        "(default old)\n"
        "  --recall-queries N measure only the first N queries (default "
        "all)\n"
        "  --min-recall X     exit 1 when either side's mean recall is below "
        "X\n"
        "  --per-query        with --json: each query's exact ids and "
        "distances\n"
        "                     and both answers\n"
        "  --timeout-ms N     per database request (default 30000)\n"
        "  --json             one JSON object on stdout instead of a table\n"
        "\n"
        "Exit status: 0 it ran (and met --min-overlap, --min-recall), 1 "
        "below one,\n"
        "2 error, 64 bad usage.\n";

typedef struct args_s {
        vcdc_cli_pair_t pair; /* --old, --new, --seed, --timeout-ms, ... */
        vcdc_shadow_opts_t opts;
        double min_overlap; /* < 0: none */
        int recall;
        vcdc_recall_opts_t ropts;
        double min_recall; /* < 0: none */
        int recall_only;   /* an option that needs --recall was given */
} args_t;

/* What the run fills. */
typedef struct run_s {
        const args_t *a;
        vcdc_shadow_result_t *res;
        vcdc_recall_result_t *rres;
} run_t;

static int parse_args(int argc, char **argv, args_t *a) {
        vcdc_cli_pair_t *p = &a->pair;
        const char *v;
        int64_t n;
        double d;
        int i, r;

        memset(a, 0, sizeof(*a));
        p->cmd = "shadow";
        p->usage = usage_text;
        a->min_overlap = -1;
        a->min_recall = -1;
        for (i = 1; i < argc; i++) {
                const char *arg = argv[i];

                if ((r = vcdc_cli_pair_opt(p, argc, argv, &i))) {
                        if (r != 1 || p->help)
                                return r == 1 ? 0 : r;
                } else if (vcdc_cli_take(argc, argv, &i, "--queries", &v)) {
                        if (!v || !*v)
                                return vcdc_cli_usage_error(
                                        p, "%s needs a file", arg);
                        a->opts.queries_path = v;
                } else if (vcdc_cli_take(argc, argv, &i, "--sample", &v)) {
                        if (vcdc_conf_parse_int(v, 1, 10 * 1000 * 1000, &n))
                                return vcdc_cli_usage_error(
                                        p, "--sample \"%s\" is not 1..10000000",
                                        v ? v : "");
                        a->opts.sample = (size_t)n;
                } else if (vcdc_cli_take(argc, argv, &i, "-k", &v) ||
                           vcdc_cli_take(argc, argv, &i, "--k", &v)) {
                        if (vcdc_conf_parse_int(v, 1, VCDC_SHADOW_K_MAX, &n))
                                return vcdc_cli_usage_error(
                                        p, "-k \"%s\" is not 1..1000",
                                        v ? v : "");
                        a->opts.k = (size_t)n;
                } else if (vcdc_cli_take(argc, argv, &i, "--min-overlap", &v)) {
                        if (vcdc_conf_parse_double(v, 0, 1, &d))
                                return vcdc_cli_usage_error(
                                        p, "--min-overlap \"%s\" is not 0..1",
                                        v ? v : "");
                        a->min_overlap = d;
                } else if (!strcmp(arg, "--recall")) {
                        a->recall = 1;
                } else if (!strcmp(arg, "--per-query")) {
                        a->ropts.keep_answers = 1;
                        a->recall_only = 1;
                } else if (vcdc_cli_take(argc, argv, &i, "--truth", &v)) {
                        if (!v || (strcmp(v, "old") && strcmp(v, "new")))
                                return vcdc_cli_usage_error(
                                        p, "--truth \"%s\" is not old or new",
                                        v ? v : "");
                        a->ropts.truth_new = !strcmp(v, "new");
                        a->recall_only = 1;
                } else if (vcdc_cli_take(argc, argv, &i, "--recall-queries",
                                         &v)) {
                        if (vcdc_conf_parse_int(v, 1, 10 * 1000 * 1000, &n))
                                return vcdc_cli_usage_error(
                                        p,
                                        "--recall-queries \"%s\" is not "
                                        "1..10000000",
                                        v ? v : "");
                        a->ropts.max_queries = (size_t)n;
                        a->recall_only = 1;
                } else if (vcdc_cli_take(argc, argv, &i, "--min-recall", &v)) {
                        if (vcdc_conf_parse_double(v, 0, 1, &d))
                                return vcdc_cli_usage_error(
                                        p, "--min-recall \"%s\" is not 0..1",
                                        v ? v : "");
                        a->min_recall = d;
                        a->recall_only = 1;
                } else {
                        return vcdc_cli_usage_error(
                                p, "unknown argument \"%s\"", arg);
                }
        }
        if ((r = vcdc_cli_pair_done(p)))
                return r;
        if (!a->opts.queries_path == !a->opts.sample)
                return vcdc_cli_usage_error(p, "%s",
                                            "give either --queries FILE or "
                                            "--sample N");
        if (a->recall_only && !a->recall)
                return vcdc_cli_usage_error(
                        p, "%s",
                        "--truth, --recall-queries, --min-recall and "
                        "--per-query need --recall");
        if (a->ropts.keep_answers && !p->json)
                return vcdc_cli_usage_error(p, "%s",
                                            "--per-query needs --json");
        if (!a->opts.k)
                a->opts.k = 10;
        a->opts.seed = p->seed;
        return 0;
}

/* ---- The report -------------------------------------------------------- */

static const char *const role_key[2] = {"old", "new"};

static void print_recall_table(const args_t *a, const vcdc_recall_result_t *rr,
                               size_t k) {
        size_t s;

        printf("\n  recall@%zu against the exact top-%zu of %s's %zu records "
               "(%s), %zu queries\n",
               k, k, rr->truth_role, rr->records, vcdc_metric_name(rr->metric),
               rr->queries);
        printf("  %-14s %10s %10s %10s\n", "recall", "mean", "p50", "min");
        for (s = 0; s < 2; s++)
                printf("  %-14s %10.4f %10.4f %10.4f\n", s ? "NEW" : "OLD",
                       rr->mean[s], rr->p50[s], rr->min[s]);
        printf("  exact scan      %.2f s (%.2f s computing, %.3g query x "
               "record pairs/s)\n",
               rr->scan_seconds, rr->compute_seconds, rr->pairs_per_second);
        (void)a;
}

static void print_table(const args_t *a, const vcdc_shadow_result_t *res,
                        const vcdc_recall_result_t *rr, int ok_overlap,
                        int ok_recall) {
        printf("vcdc shadow\n");
        printf("  OLD             %s\n", a->pair.old_url);
        printf("  NEW             %s\n", a->pair.new_url);
        if (a->opts.queries_path)
                printf("  queries         %zu from %s, dimension %zu, k %zu\n",
                       res->queries, a->opts.queries_path, res->dim, res->k);
        else
                printf("  queries         %zu sampled from OLD (seed %u), "
                       "dimension %zu, k %zu\n",
                       res->queries, (unsigned)a->opts.seed, res->dim, res->k);
        printf("  overlap@%-7zu mean %.4f, min %.4f\n", res->k,
               res->overlap_mean, res->overlap_min);
        printf("  rank agreement  %.4f\n", res->rank_agreement);
        printf("\n  %-14s %10s %10s %10s\n", "latency (ms)", "p50", "p99",
               "mean");
        printf("  %-14s %10.2f %10.2f %10.2f\n", "OLD", res->old_p50_ms,
               res->old_p99_ms, res->old_mean_ms);
        printf("  %-14s %10.2f %10.2f %10.2f\n", "NEW", res->new_p50_ms,
               res->new_p99_ms, res->new_mean_ms);
        if (a->recall)
                print_recall_table(a, rr, res->k);
        printf("\n  time            %.2f s\n", res->seconds);
        if (a->min_overlap >= 0)
                printf("  result          %s (mean overlap %s %g)\n",
                       ok_overlap ? "OK" : "BELOW THRESHOLD",
                       ok_overlap ? ">=" : "<", a->min_overlap);
        if (a->min_recall >= 0)
                printf("  result          %s (mean recall OLD %.4f, NEW "
                       "%.4f; each must be >= %g)\n",
                       ok_recall ? "OK" : "BELOW THRESHOLD", rr->mean[0],
                       rr->mean[1], a->min_recall);
}

static json_t *str_array(char *const *ids, size_t n) {
        json_t *arr = json_array();
        size_t i;

        for (i = 0; i < n; i++)
                json_array_append_new(arr, json_string(ids[i]));
        return arr;
}

static json_t *per_query_json(const vcdc_recall_result_t *rr) {
        json_t *arr = json_array();
        size_t q, i, s;

        for (q = 0; q < rr->per_query_cnt; q++) {
                const vcdc_recall_query_t *pq = &rr->per_query[q];
                json_t *o = json_object(), *d = json_array();

                json_object_set_new(o, "query", json_integer((json_int_t)q));
                json_object_set_new(o, "truth",
                                    str_array(pq->truth, pq->truth_cnt));
                for (i = 0; i < pq->truth_cnt; i++)
                        json_array_append_new(d, json_real(pq->truth_dist[i]));
                json_object_set_new(o, "truth_distances", d);
                for (s = 0; s < 2; s++) {
                        char key[32];
                        json_object_set_new(o, role_key[s],
                                            str_array(pq->ids[s], pq->cnt[s]));
                        snprintf(key, sizeof(key), "%s_recall", role_key[s]);
                        json_object_set_new(o, key, json_real(pq->recall[s]));
                }
                json_array_append_new(arr, o);
        }
        return arr;
}

static json_t *recall_json(const args_t *a, const vcdc_recall_result_t *rr) {
        json_t *o = json_object();
        size_t s;

        json_object_set_new(o, "truth",
                            json_string(a->ropts.truth_new ? "new" : "old"));
        json_object_set_new(o, "metric",
                            json_string(vcdc_metric_name(rr->metric)));
        json_object_set_new(o, "queries",
                            json_integer((json_int_t)rr->queries));
        json_object_set_new(o, "records",
                            json_integer((json_int_t)rr->records));
        for (s = 0; s < 2; s++) {
                json_t *side = json_object();
                json_object_set_new(side, "mean", json_real(rr->mean[s]));
                json_object_set_new(side, "p50", json_real(rr->p50[s]));
                json_object_set_new(side, "min", json_real(rr->min[s]));
                json_object_set_new(o, role_key[s], side);
        }
        json_object_set_new(o, "scan_seconds", json_real(rr->scan_seconds));
        json_object_set_new(o, "compute_seconds",
                            json_real(rr->compute_seconds));
        json_object_set_new(o, "pairs_per_second",
                            json_real(rr->pairs_per_second));
        json_object_set_new(o, "min_recall",
                            a->min_recall >= 0 ? json_real(a->min_recall)
                                               : json_null());
        if (rr->per_query)
                json_object_set_new(o, "per_query", per_query_json(rr));
        return o;
}

static void print_json(const args_t *a, const vcdc_shadow_result_t *res,
                       const vcdc_recall_result_t *rr, int ok) {
        json_t *obj = json_object();

        json_object_set_new(obj, "old", json_string(a->pair.old_url));
        json_object_set_new(obj, "new", json_string(a->pair.new_url));
        json_object_set_new(
                obj, "source",
                json_string(a->opts.queries_path ? "file" : "sample"));
        if (a->opts.queries_path)
                json_object_set_new(obj, "queries_file",
                                    json_string(a->opts.queries_path));
        else
                json_object_set_new(obj, "seed",
                                    json_integer((json_int_t)a->opts.seed));
        json_object_set_new(obj, "queries",
                            json_integer((json_int_t)res->queries));
        json_object_set_new(obj, "k", json_integer((json_int_t)res->k));
        json_object_set_new(obj, "dim", json_integer((json_int_t)res->dim));
        json_object_set_new(obj, "overlap_mean", json_real(res->overlap_mean));
        json_object_set_new(obj, "overlap_min", json_real(res->overlap_min));
        json_object_set_new(obj, "rank_agreement",
                            json_real(res->rank_agreement));
        json_object_set_new(obj, "old_p50_ms", json_real(res->old_p50_ms));
        json_object_set_new(obj, "old_p99_ms", json_real(res->old_p99_ms));
        json_object_set_new(obj, "old_mean_ms", json_real(res->old_mean_ms));
        json_object_set_new(obj, "new_p50_ms", json_real(res->new_p50_ms));
        json_object_set_new(obj, "new_p99_ms", json_real(res->new_p99_ms));
        json_object_set_new(obj, "new_mean_ms", json_real(res->new_mean_ms));
        json_object_set_new(obj, "seconds", json_real(res->seconds));
        json_object_set_new(obj, "min_overlap",
                            a->min_overlap >= 0 ? json_real(a->min_overlap)
                                                : json_null());
        if (a->recall)
                json_object_set_new(obj, "recall", recall_json(a, rr));
        json_object_set_new(obj, "ok", json_boolean(ok));
        /* 17 digits: the truth's distances compare exactly. */
        vcdc_cli_print_json(obj, rr && rr->per_query ? 17 : 9);
}

/* The run: the library's comparison into the result. */
static int run(vcdc_sink_t *old_sink, vcdc_sink_t *new_sink, void *ctx,
               char *errstr, size_t errstr_size) {
        run_t *r = ctx;

        if (r->a->recall)
                return vcdc_shadow_recall(old_sink, new_sink, &r->a->opts,
                                          &r->a->ropts, r->res, r->rres, errstr,
                                          errstr_size);
        return vcdc_shadow(old_sink, new_sink, &r->a->opts, r->res, errstr,
                           errstr_size);
}

int vcdc_cmd_shadow(int argc, char **argv) {
        vcdc_shadow_result_t res;
        vcdc_recall_result_t rres;
        run_t r = {NULL, &res, &rres};
        int rc, ok_overlap, ok_recall;
        args_t a;

        memset(&rres, 0, sizeof(rres));
        for (rc = 1; rc < argc; rc++)
                if (!strncmp(argv[rc], "--gateway", 9) &&
                    (!argv[rc][9] || argv[rc][9] == '='))
                        return vcdc_cmd_shadow_gateway(argc, argv);
        if ((rc = parse_args(argc, argv, &a)))
                return rc;
        if (a.pair.help) {
                fputs(usage_text, stdout);
                return EXIT_RAN;
        }
        r.a = &a;
        if (vcdc_cli_pair_run(&a.pair, run, &r) == -1) {
                vcdc_recall_result_clear(&rres);
                return EXIT_FAILED;
        }
        ok_overlap = a.min_overlap < 0 || res.overlap_mean >= a.min_overlap;
        ok_recall = a.min_recall < 0 || (rres.mean[0] >= a.min_recall &&
                                         rres.mean[1] >= a.min_recall);
        if (a.pair.json)
                print_json(&a, &res, &rres, ok_overlap && ok_recall);
        else
                print_table(&a, &res, &rres, ok_overlap, ok_recall);
        fflush(stdout);
        VCDC_NOTICE("shadow",
                    "%zu queries: overlap@%zu mean %.4f, min %.4f; rank "
                    "agreement %.4f",
                    res.queries, res.k, res.overlap_mean, res.overlap_min,
                    res.rank_agreement);
        vcdc_recall_result_clear(&rres);
        return ok_overlap && ok_recall ? EXIT_RAN : EXIT_BELOW;
}
