/*
 * vcdc - `vcdc verify`: options, the run, the report.
 *
 * cli/commands.h (this command) and control/verify.h (the library) share a
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

#include "verify.h"
#include "log.h"
#include "sink.h"

enum {
        EXIT_MATCH = 0,
        EXIT_DIFFER = 1,
        EXIT_FAILED = 2,
        EXIT_USAGE = 64,
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
        const char *old_url, *new_url;
        vcdc_verify_opts_t opts;
        int have_seed;
        int timeout_ms;
        int json;
        int help;
} args_t;

static int usage_error(const char *fmt, const char *what) {
        fprintf(stderr, "vcdc verify: ");
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

/* "64M", "512K", "1G", "1048576". */
static int parse_bytes(const char *s, uint64_t *vp) {
        unsigned long long v;
        uint64_t mult = 1;
        char *end;

        if (!s || !*s || *s == '-' || *s == '+')
                return -1;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno || end == s)
                return -1;
        if (*end == 'K' || *end == 'k')
                mult = (uint64_t)1 << 10;
        else if (*end == 'M' || *end == 'm')
                mult = (uint64_t)1 << 20;
        else if (*end == 'G' || *end == 'g')
                mult = (uint64_t)1 << 30;
        else if (*end)
                return -1;
        if (*end && end[1] && strcmp(end + 1, "B") && strcmp(end + 1, "iB"))
                return -1;
        if (v > SIZE_MAX / mult)
                return -1;
        *vp = v * mult;
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
                } else if (take(argc, argv, &i, "--sample", &v)) {
                        if (parse_u64(v, 1, SIZE_MAX / 16, &n))
                                return usage_error("--sample \"%s\" is not a "
                                                   "positive count",
                                                   v ? v : "");
                        a->opts.sample = (size_t)n;
                } else if (take(argc, argv, &i, "--seed", &v)) {
                        if (parse_u64(v, 0, UINT32_MAX, &n))
                                return usage_error("--seed \"%s\" is not "
                                                   "0..4294967295",
                                                   v ? v : "");
                        a->opts.seed = (uint32_t)n;
                        a->have_seed = 1;
                } else if (take(argc, argv, &i, "--tolerance", &v)) {
                        if (parse_double(v, &d) || d < 0)
                                return usage_error("--tolerance \"%s\" is not "
                                                   "a number >= 0",
                                                   v ? v : "");
                        /* The library reads 0 as "default"; exact is < 0. */
                        a->opts.tolerance = d == 0 ? -1 : d;
                } else if (take(argc, argv, &i, "--memory", &v)) {
                        if (parse_bytes(v, &n) || n < VCDC_VERIFY_MEMORY_MIN)
                                return usage_error("--memory \"%s\" is not a "
                                                   "size of at least 64K",
                                                   v ? v : "");
                        a->opts.memory = (size_t)n;
                } else if (take(argc, argv, &i, "--page", &v)) {
                        if (parse_u64(v, 1, PAGE_MAX, &n))
                                return usage_error("--page \"%s\" is not "
                                                   "1..100000",
                                                   v ? v : "");
                        a->opts.page = (size_t)n;
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
        if (!a->have_seed)
                a->opts.seed = (uint32_t)time(NULL) ^ (uint32_t)getpid() << 16;
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
        printf("  OLD         %s\n", a->old_url);
        printf("  NEW         %s\n", a->new_url);
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
        json_object_set_new(obj, "old", json_string(a->old_url));
        json_object_set_new(obj, "new", json_string(a->new_url));
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
        json_dumpf(obj, stdout, JSON_COMPACT | JSON_REAL_PRECISION(9));
        printf("\n");
        json_decref(obj);
}

int vcdc_cmd_verify(int argc, char **argv) {
        vcdc_sink_t *old_sink = NULL, *new_sink = NULL;
        vcdc_verify_result_t res;
        char errstr[640];
        int rc, ok;
        args_t a;

        if ((rc = parse_args(argc, argv, &a)))
                return rc;
        if (a.help) {
                fputs(usage_text, stdout);
                return EXIT_MATCH;
        }
        if (vcdc_cli_open_pair("verify", a.json, a.old_url, a.new_url,
                               a.timeout_ms, &old_sink, &new_sink) == -1)
                return EXIT_FAILED;
        if (vcdc_verify(old_sink, new_sink, &a.opts, &res, errstr,
                        sizeof(errstr)) == -1) {
                vcdc_cli_error("verify", a.json, errstr);
                rc = EXIT_FAILED;
                goto done;
        }
        ok = vcdc_verify_ok(&res);
        if (a.json)
                print_json(&a, &res, ok);
        else
                print_table(&a, &res, ok);
        fflush(stdout);
        VCDC_NOTICE("verify", "%s: %llu OLD and %llu NEW records in %.1f s",
                    ok ? "match" : "different",
                    (unsigned long long)res.old_count,
                    (unsigned long long)res.new_count, res.seconds);
        rc = ok ? EXIT_MATCH : EXIT_DIFFER;
done:
        vcdc_sink_destroy(new_sink);
        vcdc_sink_destroy(old_sink);
        return rc;
}
