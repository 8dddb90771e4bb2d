/*
 * vcdc - `vcdc verify`: its options and its report (a table, or JSON). The
 * comparison is the library's (control/verify.h); nothing here compares
 * records.
 */
#include "commands.h"

#include <float.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "conf.h"
#include "log.h"
#include "options.h"
#include "output.h"
#include "paircmd.h"
#include "sink.h"
#include "verify.h"

enum {
        EXIT_MATCH = 0,
        EXIT_DIFFER = 1,
        EXIT_FAILED = 2,
        EXIT_USAGE = VCDC_CLI_USAGE,
};

#define PAGE_MAX (100 * 1000)

static const char usage_text[] =
        "usage: vcdc verify --old URL --new URL [options]\n"
        "\n"
        "Compares every record of OLD and NEW (ids, vectors, metadata,\n"
        "documents) in bounded memory, or N ids sampled from OLD.\n"
        "\n"
        "  --old URL          the target reads come from now (chroma://,\n"
        "                     pgvector://)\n"
        "  --new URL          the target to compare with it\n"
        "  --sample N         compare N ids drawn from OLD instead of all\n"
        "  --seed N           the sample's seed (default: from the clock)\n"
        "  --tolerance X      per vector component (default 1e-6; 0: exact)\n"
        "  --memory SIZE      for ids and digests per pass (default 64M;\n"
        "                     K, M, G suffixes; at least 64K)\n"
        "  --page N           records per request (default 1000)\n"
        "  --timeout-ms N     per database request (default 30000)\n"
        "  --json             one JSON object on stdout instead of a table\n"
        "\n"
        "Exit status: 0 they match, 1 they differ, 2 error, 64 bad usage.\n";

typedef struct args_s {
        vcdc_cli_pair_t pair; /* --old, --new, --seed, --timeout-ms, ... */
        vcdc_verify_opts_t opts;
} args_t;

/* What the run fills. */
typedef struct run_s {
        const args_t *a;
        vcdc_verify_result_t *res;
} run_t;

static int parse_args(int argc, char **argv, args_t *a) {
        vcdc_cli_pair_t *p = &a->pair;
        const char *v;
        int64_t n;
        double d;
        size_t size;
        int i, r;

        memset(a, 0, sizeof(*a));
        p->cmd = "verify";
        p->usage = usage_text;
        for (i = 1; i < argc; i++) {
                const char *arg = argv[i];

                if ((r = vcdc_cli_pair_opt(p, argc, argv, &i))) {
                        if (r != 1 || p->help)
                                return r == 1 ? 0 : r;
                } else if (vcdc_cli_take(argc, argv, &i, "--sample", &v)) {
                        if (vcdc_conf_parse_int(v, 1, SIZE_MAX / 16, &n))
                                return vcdc_cli_usage_error(
                                        p,
                                        "--sample \"%s\" is not a positive "
                                        "count",
                                        v ? v : "");
                        a->opts.sample = (size_t)n;
                } else if (vcdc_cli_take(argc, argv, &i, "--tolerance", &v)) {
                        if (vcdc_conf_parse_double(v, 0, DBL_MAX, &d))
                                return vcdc_cli_usage_error(
                                        p,
                                        "--tolerance \"%s\" is not a number "
                                        ">= 0",
                                        v ? v : "");
                        /* The library reads 0 as "default"; exact is < 0. */
                        a->opts.tolerance = d == 0 ? -1 : d;
                } else if (vcdc_cli_take(argc, argv, &i, "--memory", &v)) {
                        if (vcdc_conf_parse_size(v, &size) ||
                            size < VCDC_VERIFY_MEMORY_MIN)
                                return vcdc_cli_usage_error(
                                        p,
                                        "--memory \"%s\" is not a size of at "
                                        "least 64K",
                                        v ? v : "");
                        a->opts.memory = size;
                } else if (vcdc_cli_take(argc, argv, &i, "--page", &v)) {
                        if (vcdc_conf_parse_int(v, 1, PAGE_MAX, &n))
                                return vcdc_cli_usage_error(
                                        p, "--page \"%s\" is not 1..100000",
                                        v ? v : "");
                        a->opts.page = (size_t)n;
                } else {
                        return vcdc_cli_usage_error(
                                p, "unknown argument \"%s\"", arg);
                }
        }
        if ((r = vcdc_cli_pair_done(p)))
                return r;
        a->opts.seed = p->seed;
        return 0;
}

/* ---- The report -------------------------------------------------------- */

typedef struct kind_s {
        const char *name;
        uint64_t count;
        char (*examples)[128];
} kind_t;

static void kinds_of(const vcdc_verify_result_t *res, kind_t kinds[5]) {
        vcdc_verify_result_t *r = (vcdc_verify_result_t *)res;

        kinds[0] = (kind_t){"missing", r->missing, r->missing_ex};
        kinds[1] = (kind_t){"extra", r->extra, r->extra_ex};
        kinds[2] = (kind_t){"vector", r->vector_diff, r->vector_ex};
        kinds[3] = (kind_t){"metadata", r->metadata_diff, r->metadata_ex};
        kinds[4] = (kind_t){"document", r->document_diff, r->document_ex};
}

/* The tolerance the comparison used. */
static double tolerance_of(const args_t *a) {
        if (a->opts.tolerance < 0)
                return 0;
        return a->opts.tolerance ? a->opts.tolerance : 1e-6;
}

static double rate(const vcdc_verify_result_t *res) {
        uint64_t n = res->sampled ? res->sampled : res->old_count;

        return res->seconds > 0 ? (double)n / res->seconds : 0;
}

static void print_table(const args_t *a, const vcdc_verify_result_t *res,
                        int ok) {
        kind_t kinds[5];
        size_t i, j;

        kinds_of(res, kinds);
        printf("vcdc verify\n");
        printf("  OLD         %s\n", a->pair.old_url);
        printf("  NEW         %s\n", a->pair.new_url);
        if (res->sampled)
                printf("  mode        sample of %llu ids (seed %u), "
                       "tolerance %g\n",
                       (unsigned long long)res->sampled, (unsigned)a->opts.seed,
                       tolerance_of(a));
        else
                printf("  mode        full, %u pass%s, tolerance %g\n",
                       res->passes, res->passes == 1 ? "" : "es",
                       tolerance_of(a));
        printf("  records     OLD %llu, NEW %llu%s\n",
               (unsigned long long)res->old_count,
               (unsigned long long)res->new_count,
               res->sampled ? " (the targets' counts)" : "");
        printf("  compared    %llu on both sides (%llu fetched to "
               "classify)\n",
               (unsigned long long)res->compared,
               (unsigned long long)res->fetched);
        printf("\n  %-10s %10s  %s\n", "difference", "count", "examples");
        for (i = 0; i < 5; i++) {
                printf("  %-10s %10llu ", kinds[i].name,
                       (unsigned long long)kinds[i].count);
                for (j = 0; j < kinds[i].count && j < VCDC_VERIFY_EXAMPLES; j++)
                        printf("%s%s", j ? ", " : " ", kinds[i].examples[j]);
                if (kinds[i].count > VCDC_VERIFY_EXAMPLES)
                        printf(", ...");
                printf("\n");
        }
        if (res->sampled && res->old_count != res->new_count)
                printf("  %-10s %10s  OLD %llu, NEW %llu\n", "count", "differ",
                       (unsigned long long)res->old_count,
                       (unsigned long long)res->new_count);
        printf("\n  time        %.2f s (%.0f records/s)\n", res->seconds,
               rate(res));
        printf("  result      %s\n", ok ? "MATCH" : "DIFFERENT");
}

static void print_json(const args_t *a, const vcdc_verify_result_t *res,
                       int ok) {
        kind_t kinds[5];
        json_t *obj, *kind, *ex;
        size_t i, j;

        kinds_of(res, kinds);
        obj = json_object();
        json_object_set_new(obj, "old", json_string(a->pair.old_url));
        json_object_set_new(obj, "new", json_string(a->pair.new_url));
        json_object_set_new(obj, "mode",
                            json_string(res->sampled ? "sample" : "full"));
        json_object_set_new(obj, "sampled",
                            json_integer((json_int_t)res->sampled));
        if (res->sampled)
                json_object_set_new(obj, "seed",
                                    json_integer((json_int_t)a->opts.seed));
        json_object_set_new(obj, "tolerance", json_real(tolerance_of(a)));
        json_object_set_new(obj, "passes", json_integer(res->passes));
        json_object_set_new(obj, "old_count",
                            json_integer((json_int_t)res->old_count));
        json_object_set_new(obj, "new_count",
                            json_integer((json_int_t)res->new_count));
        json_object_set_new(obj, "compared",
                            json_integer((json_int_t)res->compared));
        json_object_set_new(obj, "fetched",
                            json_integer((json_int_t)res->fetched));
        for (i = 0; i < 5; i++) {
                kind = json_object();
                ex = json_array();
                json_object_set_new(kind, "count",
                                    json_integer((json_int_t)kinds[i].count));
                for (j = 0; j < kinds[i].count && j < VCDC_VERIFY_EXAMPLES; j++)
                        json_array_append_new(
                                ex, json_string(kinds[i].examples[j]));
                json_object_set_new(kind, "examples", ex);
                json_object_set_new(obj, kinds[i].name, kind);
        }
        json_object_set_new(obj, "seconds", json_real(res->seconds));
        json_object_set_new(obj, "records_per_s", json_real(rate(res)));
        json_object_set_new(obj, "ok", json_boolean(ok));
        vcdc_cli_print_json(obj, 9);
}

/* The run: the library's comparison into the result. */
static int run(vcdc_sink_t *old_sink, vcdc_sink_t *new_sink, void *ctx,
               char *errstr, size_t errstr_size) {
        run_t *r = ctx;

        return vcdc_verify(old_sink, new_sink, &r->a->opts, r->res, errstr,
                           errstr_size);
}

int vcdc_cmd_verify(int argc, char **argv) {
        vcdc_verify_result_t res;
        run_t r = {NULL, &res};
        int rc, ok;
        args_t a;

        if ((rc = parse_args(argc, argv, &a)))
                return rc;
        if (a.pair.help) {
                fputs(usage_text, stdout);
                return EXIT_MATCH;
        }
        r.a = &a;
        if (vcdc_cli_pair_run(&a.pair, run, &r) == -1)
                return EXIT_FAILED;
        ok = vcdc_verify_ok(&res);
        if (a.pair.json)
                print_json(&a, &res, ok);
        else
                print_table(&a, &res, ok);
        fflush(stdout);
        VCDC_NOTICE("verify", "%s: %llu OLD and %llu NEW records in %.1f s",
                    ok ? "match" : "different",
                    (unsigned long long)res.old_count,
                    (unsigned long long)res.new_count, res.seconds);
        return ok ? EXIT_MATCH : EXIT_DIFFER;
}
