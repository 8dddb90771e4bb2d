/*
 * vcdc - `vcdc shadow`: options, the run, the report.
 *
 * cli/commands.h (this command) and control/shadow.h (the library) share a
 * base name: the library's is included by its path.
 */
#include "commands.h"
#include "pair.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "shadow.h"
#include "log.h"
#include "sink.h"

enum {
        EXIT_RAN = 0,
        EXIT_BELOW = 1,
        EXIT_FAILED = 2,
        EXIT_USAGE = 64,
};

static const char usage_text[] =
        "usage: vcdc shadow --old URL --new URL (--queries FILE | --sample N)"
        " [options]\n"
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
        "  --timeout-ms N     per database request (default 30000)\n"
        "  --json             one JSON object on stdout instead of a table\n"
        "\n"
        "Exit status: 0 it ran (and met --min-overlap), 1 below "
        "--min-overlap,\n"
        "2 error, 64 bad usage.\n";

typedef struct args_s {
        const char *old_url, *new_url;
        vcdc_shadow_opts_t opts;
        double min_overlap; /* < 0: none */
        int have_seed;
        int timeout_ms;
        int json;
        int help;
} args_t;

static int usage_error(const char *fmt, const char *what) {
        fprintf(stderr, "vcdc shadow: ");
        fprintf(stderr, fmt, what);
        fprintf(stderr, "\n%s", usage_text);
        return EXIT_USAGE;
}

/* When argv[*ip] is option name, as "name VALUE" or "name=VALUE": returns
 * 1 with *valp the value (NULL when it is missing), else 0. */
static int take(int argc, char **argv, int *ip, const char *name,
                const char **valp) {
        const char *arg = argv[*ip];
        size_t len = strlen(name);

        if (strncmp(arg, name, len))
                return 0;
        if (arg[len] == '=') {
                *valp = arg + len + 1;
                return 1;
        }
        if (arg[len])
                return 0;
        *valp = *ip + 1 < argc ? argv[++*ip] : NULL;
        return 1;
}

static int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *vp) {
        unsigned long long v;
        char *end;

        if (!s || !*s || *s == '-' || *s == '+')
                return -1;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno || *end || v < min || v > max)
                return -1;
        *vp = v;
        return 0;
}

static int parse_double(const char *s, double *vp) {
        char *end;
        double v;

        if (!s || !*s)
                return -1;
        errno = 0;
        v = strtod(s, &end);
        if (errno || *end || !isfinite(v))
                return -1;
        *vp = v;
        return 0;
}

static int parse_args(int argc, char **argv, args_t *a) {
        const char *v;
        uint64_t n;
        double d;
        int i;

        memset(a, 0, sizeof(*a));
        a->min_overlap = -1;
        for (i = 1; i < argc; i++) {
                const char *arg = argv[i];

                if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
                        a->help = 1;
                        return 0;
                } else if (!strcmp(arg, "--json")) {
                        a->json = 1;
                } else if (take(argc, argv, &i, "--old", &v)) {
                        if (!v || !*v)
                                return usage_error("%s needs a URL", arg);
                        a->old_url = v;
                } else if (take(argc, argv, &i, "--new", &v)) {
                        if (!v || !*v)
                                return usage_error("%s needs a URL", arg);
                        a->new_url = v;
                } else if (take(argc, argv, &i, "--queries", &v)) {
                        if (!v || !*v)
                                return usage_error("%s needs a file", arg);
                        a->opts.queries_path = v;
                } else if (take(argc, argv, &i, "--sample", &v)) {
                        if (parse_u64(v, 1, 10 * 1000 * 1000, &n))
                                return usage_error("--sample \"%s\" is not "
                                                   "1..10000000",
                                                   v ? v : "");
                        a->opts.sample = (size_t)n;
                } else if (take(argc, argv, &i, "--seed", &v)) {
                        if (parse_u64(v, 0, UINT32_MAX, &n))
                                return usage_error("--seed \"%s\" is not "
                                                   "0..4294967295",
                                                   v ? v : "");
                        a->opts.seed = (uint32_t)n;
                        a->have_seed = 1;
                } else if (take(argc, argv, &i, "-k", &v) ||
                           take(argc, argv, &i, "--k", &v)) {
                        if (parse_u64(v, 1, VCDC_SHADOW_K_MAX, &n))
                                return usage_error("-k \"%s\" is not 1..1000",
                                                   v ? v : "");
                        a->opts.k = (size_t)n;
                } else if (take(argc, argv, &i, "--min-overlap", &v)) {
                        if (parse_double(v, &d) || d < 0 || d > 1)
                                return usage_error("--min-overlap \"%s\" is "
                                                   "not 0..1",
                                                   v ? v : "");
                        a->min_overlap = d;
                } else if (take(argc, argv, &i, "--timeout-ms", &v)) {
                        if (parse_u64(v, 1, 3600 * 1000, &n))
                                return usage_error("--timeout-ms \"%s\" is "
                                                   "not 1..3600000",
                                                   v ? v : "");
                        a->timeout_ms = (int)n;
                } else {
                        return usage_error("unknown argument \"%s\"", arg);
                }
        }
        if (!a->old_url || !a->new_url)
                return usage_error("%s", "--old and --new are required");
        if (!a->opts.queries_path == !a->opts.sample)
                return usage_error("%s", "give either --queries FILE or "
                                         "--sample N");
        if (!a->opts.k)
                a->opts.k = 10;
        if (!a->have_seed)
                a->opts.seed = (uint32_t)time(NULL) ^ (uint32_t)getpid() << 16;
        return 0;
}

/* ---- The report -------------------------------------------------------- */

static void print_table(const args_t *a, const vcdc_shadow_result_t *res,
                        int ok) {
        printf("vcdc shadow\n");
        printf("  OLD             %s\n", a->old_url);
        printf("  NEW             %s\n", a->new_url);
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
        printf("\n  time            %.2f s\n", res->seconds);
        if (a->min_overlap >= 0)
                printf("  result          %s (mean overlap %s %g)\n",
                       ok ? "OK" : "BELOW THRESHOLD", ok ? ">=" : "<",
                       a->min_overlap);
}

static void print_json(const args_t *a, const vcdc_shadow_result_t *res,
                       int ok) {
        json_t *obj = json_object();

        json_object_set_new(obj, "old", json_string(a->old_url));
        json_object_set_new(obj, "new", json_string(a->new_url));
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
        json_object_set_new(obj, "ok", json_boolean(ok));
        json_dumpf(obj, stdout, JSON_COMPACT | JSON_REAL_PRECISION(9));
        printf("\n");
        json_decref(obj);
}

int vcdc_cmd_shadow(int argc, char **argv) {
        vcdc_sink_t *old_sink = NULL, *new_sink = NULL;
        vcdc_shadow_result_t res;
        char errstr[640];
        int rc, ok;
        args_t a;

        if ((rc = parse_args(argc, argv, &a)))
                return rc;
        if (a.help) {
                fputs(usage_text, stdout);
                return EXIT_RAN;
        }
        if (vcdc_cli_open_pair("shadow", a.json, a.old_url, a.new_url,
                               a.timeout_ms, &old_sink, &new_sink) == -1)
                return EXIT_FAILED;
        if (vcdc_shadow(old_sink, new_sink, &a.opts, &res, errstr,
                        sizeof(errstr)) == -1) {
                vcdc_cli_error("shadow", a.json, errstr);
                rc = EXIT_FAILED;
                goto done;
        }
        ok = a.min_overlap < 0 || res.overlap_mean >= a.min_overlap;
        if (a.json)
                print_json(&a, &res, ok);
        else
                print_table(&a, &res, ok);
        fflush(stdout);
        VCDC_NOTICE("shadow",
                    "%zu queries: overlap@%zu mean %.4f, min %.4f; rank "
                    "agreement %.4f",
                    res.queries, res.k, res.overlap_mean, res.overlap_min,
                    res.rank_agreement);
        rc = ok ? EXIT_RAN : EXIT_BELOW;
done:
        vcdc_sink_destroy(new_sink);
        vcdc_sink_destroy(old_sink);
        return rc;
}
