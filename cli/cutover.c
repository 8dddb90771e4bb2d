/*
 * vcdc - `vcdc cutover`, `vcdc rollback` and `vcdc route`: their options
 * and what they print. The gate, the switch and the rollback are the
 * library's (control/cutover.h), the route's records control/route.h's;
 * nothing here decides whether to switch.
 */
#include "commands.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <librdkafka/rdkafka.h>

#include "conf.h"
#include "cutover.h"
#include "lag.h"
#include "log.h"
#include "options.h"
#include "output.h"
#include "pair.h"
#include "route.h"
#include "shadow.h"
#include "sink.h"

enum {
        EXIT_OK = 0,
        EXIT_REFUSED = 1,
        EXIT_ERROR = 2,
        EXIT_USAGE = VCDC_CLI_USAGE
};

#define JSON_PRECISION 10 /* significant digits of reals */
#define VCDC_XSTR(x)   #x
#define VCDC_STR(x)    VCDC_XSTR(x)

/* Which options a command takes. */
enum {
        A_GATE = 1,    /* cutover's */
        A_HISTORY = 2, /* route's */
};

typedef struct args_s {
        const char *cmd;
        const char *brokers, *collection, *control_topic;
        const char *old_url, *new_url;
        vcdc_gate_opts_t gate; /* cutover's options but for the metric */
        int to_set;
        int seed_set, force, json, history, follow;
        vcdc_metric_t metric;
        vcdc_conf_t *conf;
} args_t;

/* The long options, in the order the gate's come (see is_gate_opt). */
enum {
        O_COLLECTION = 256,
        O_TO,
        O_OLD,
        O_NEW,
        O_OLD_GROUP,
        O_NEW_GROUP,
        O_MAX_LAG,
        O_WINDOW,
        O_INTERVAL,
        O_MIN_OVERLAP,
        O_VERIFY_SAMPLE,
        O_TOLERANCE,
        O_SHADOW_SAMPLE,
        O_SEED,
        O_REQUIRE_INDEX,
        O_FORCE,
        O_CONTROL,
        O_METRIC,
        O_JSON,
        O_HISTORY,
        O_FOLLOW
};

static void usage_cutover(FILE *fp) {
        fprintf(fp,
                "Usage: vcdc cutover -t TOPIC --collection C --to new|old "
                "--old URL --new URL\n"
                "                    --old-group G --new-group G [options]\n"
                "Evaluates the cut-over gate for the side reads move to and "
                "switches the\nroute in the control topic only when every "
                "check passes:\n"
                "  readiness  the target side's group is OK over a window of "
                "samples\n"
                "  offsets    its recorded offsets are at or past the other "
                "side's\n"
                "  verify     no missing, extra or different records (full "
                "or sampled)\n"
                "  shadow     top-k overlap of the same queries at least "
                "--min-overlap\n"
                "  index      vcdc's index on the target is valid, when one "
                "was requested\n"
                "             (one is building or invalid) or "
                "--require-index is given\n\n"
                "  -b BROKERS            bootstrap servers (default: "
                "$VCDC_BROKERS)\n"
                "  -t TOPIC              the change topic\n"
                "  --collection C        the collection whose reads move\n"
                "  --to new|old          the side reads move to\n"
                "  --old URL, --new URL  the two targets (chroma://, "
                "pgvector://)\n"
                "  --old-group G, --new-group G  their consumer groups\n"
                "  --max-lag N           the most lag the target's group may "
                "have now (default\n"
                "                        " VCDC_STR(VCDC_LAG_MAX_DEFAULT) ")\n"
                "  --window N            readiness samples (default 3)\n"
                "  --interval SECONDS    between them (default 1)\n"
                "  --verify-sample N     verify N sampled ids (default 0: "
                "every record)\n"
                "  --tolerance X         per vector component (default: "
                "verify's, 1e-6; 0: exact)\n"
                "  --min-overlap X       least mean overlap@k (default "
                "0.95)\n"
                "  --shadow-sample N     shadow queries sampled from the "
                "other side (default 100)\n"
                "  -k K                  neighbours per shadow query "
                "(default 10)\n"
                "  --seed N              for the samples (default: from the "
                "clock)\n"
                "  --require-index       the target must have a valid vcdc "
                "index (pgvector;\n"
                "                        Chroma always has its own)\n"
                "  --force               switch even when the gate fails "
                "(recorded as forced)\n"
                "  --control-topic T     default " VCDC_ROUTE_CONTROL_TOPIC
                "\n"
                "  --metric cosine|l2|ip  the targets' metric (default: the "
                "URL's ?metric=,\n"
                "                        else cosine)\n"
                "  --json                the gate as one JSON object\n"
                "  -X key=value, -F FILE librdkafka or vcdc.* settings\n"
                "  -v, -q                more, less logging\n\n"
                "Exit status: 0 switched (or already there), 1 the gate "
                "refused, 2 error,\n64 bad usage.\n");
}

static void usage_rollback(FILE *fp) {
        fprintf(fp,
                "Usage: vcdc rollback --collection C [options]\n"
                "Routes C's reads back to the side before its last cut-over, "
                "at once and\nwithout a gate (both consumers keep running, "
                "so that side is current).\n\n"
                "  -b BROKERS          bootstrap servers (default: "
                "$VCDC_BROKERS)\n"
                "  --collection C      the collection\n"
                "  --control-topic T   default " VCDC_ROUTE_CONTROL_TOPIC "\n"
                "  --json              the record written, as JSON\n"
                "  -X key=value, -F FILE  librdkafka settings\n"
                "  -v, -q              more, less logging\n\n"
                "Exit status: 0 rolled back, 1 nothing to roll back, 2 "
                "error, 64 bad usage.\n");
}

static void usage_route(FILE *fp) {
        fprintf(fp,
                "Usage: vcdc route --collection C [--history | --follow] "
                "[--json] [options]\n"
                "Shows where C's reads go (old until a first cut-over) and, "
                "with --history,\nevery switch.\n\n"
                "  -b BROKERS          bootstrap servers (default: "
                "$VCDC_BROKERS)\n"
                "  --collection C      the collection\n"
                "  --history           every switch, oldest first\n"
                "  --follow            print the side, then a line at each "
                "switch, until\n"
                "                      interrupted (what a reader following "
                "the route sees)\n"
                "  --control-topic T   default " VCDC_ROUTE_CONTROL_TOPIC "\n"
                "  --json              one JSON object\n"
                "  -X key=value, -F FILE  librdkafka settings\n"
                "  -v, -q              more, less logging\n\n"
                "Exit status: 0, 2 error, 64 bad usage.\n");
}

static void usage(const args_t *a, FILE *fp) {
        if (!strcmp(a->cmd, "cutover"))
                usage_cutover(fp);
        else if (!strcmp(a->cmd, "rollback"))
                usage_rollback(fp);
        else
                usage_route(fp);
}


/* Reads the argument of a numeric option of the gate into a->gate.
 * Returns 0, or -1 after saying what was expected. */
static int gate_number(args_t *a, int opt, const char *arg) {
        vcdc_gate_opts_t *g = &a->gate;
        const char *cmd = a->cmd;
        int64_t v;
        double d;

        switch (opt) {
        case 'k':
                if (vcdc_cli_int(cmd, "-k", arg, 1, VCDC_SHADOW_K_MAX,
                                 "expected 1.." VCDC_STR(VCDC_SHADOW_K_MAX),
                                 &v))
                        return -1;
                g->k = (size_t)v;
                return 0;
        case O_MAX_LAG:
                return vcdc_cli_int(cmd, "--max-lag", arg, 0, INT64_MAX,
                                    "expected a count >= 0", &g->max_lag);
        case O_WINDOW:
                if (vcdc_cli_int(cmd, "--window", arg, 1, 100,
                                 "expected 1..100 samples", &v))
                        return -1;
                g->window = (size_t)v;
                return 0;
        case O_INTERVAL:
                if (vcdc_cli_double(cmd, "--interval", arg, 0.05, 3600,
                                    "expected seconds, 0.05..3600", &d))
                        return -1;
                g->interval_ms = (int)(d * 1000);
                return 0;
        case O_MIN_OVERLAP:
                return vcdc_cli_double(cmd, "--min-overlap", arg, 0, 1,
                                       "expected 0..1", &g->min_overlap);
        case O_VERIFY_SAMPLE:
                if (vcdc_cli_int(cmd, "--verify-sample", arg, 0, 100000000,
                                 "expected 0 (all) or a count", &v))
                        return -1;
                g->verify_sample = (size_t)v;
                return 0;
        case O_TOLERANCE:
                if (vcdc_cli_double(cmd, "--tolerance", arg, 0, 1e30,
                                    "expected a number >= 0", &d))
                        return -1;
                /* As vcdc verify: 0 means exact (the library reads 0 as
                 * its default and a negative as exact). */
                g->tolerance = d == 0 ? -1 : d;
                return 0;
        case O_SHADOW_SAMPLE:
                if (vcdc_cli_int(cmd, "--shadow-sample", arg, 1, 1000000,
                                 "expected 1..1000000", &v))
                        return -1;
                g->shadow_sample = (size_t)v;
                return 0;
        case O_SEED:
                if (vcdc_cli_int(cmd, "--seed", arg, 0, UINT32_MAX,
                                 "expected 0..4294967295", &v))
                        return -1;
                g->seed = (uint32_t)v;
                a->seed_set = 1;
                return 0;
        }
        return -1;
}

/*
 * Parses argv for command a->cmd taking the option groups in allowed.
 * Returns 0, 1 when --help was printed, -1 on bad usage (said on stderr).
 */
static int parse_args(int argc, char **argv, int allowed, args_t *a) {
        static const struct option longopts[] = {
                {"collection", required_argument, NULL, O_COLLECTION},
                {"to", required_argument, NULL, O_TO},
                {"old", required_argument, NULL, O_OLD},
                {"new", required_argument, NULL, O_NEW},
                {"old-group", required_argument, NULL, O_OLD_GROUP},
                {"new-group", required_argument, NULL, O_NEW_GROUP},
                {"max-lag", required_argument, NULL, O_MAX_LAG},
                {"window", required_argument, NULL, O_WINDOW},
                {"interval", required_argument, NULL, O_INTERVAL},
                {"min-overlap", required_argument, NULL, O_MIN_OVERLAP},
                {"verify-sample", required_argument, NULL, O_VERIFY_SAMPLE},
                {"tolerance", required_argument, NULL, O_TOLERANCE},
                {"shadow-sample", required_argument, NULL, O_SHADOW_SAMPLE},
                {"seed", required_argument, NULL, O_SEED},
                {"require-index", no_argument, NULL, O_REQUIRE_INDEX},
                {"force", no_argument, NULL, O_FORCE},
                {"control-topic", required_argument, NULL, O_CONTROL},
                {"metric", required_argument, NULL, O_METRIC},
                {"json", no_argument, NULL, O_JSON},
                {"history", no_argument, NULL, O_HISTORY},
                {"follow", no_argument, NULL, O_FOLLOW},
                {"help", no_argument, NULL, 'h'},
                {NULL, 0, NULL, 0},
        };
        vcdc_gate_opts_t *g = &a->gate;
        char errstr[1024];
        int opt, gate = allowed & A_GATE;

        a->brokers = getenv("VCDC_BROKERS");
        a->control_topic = VCDC_ROUTE_CONTROL_TOPIC;
        g->window = 3;
        g->max_lag = VCDC_LAG_MAX_DEFAULT;
        g->interval_ms = 1000;
        g->min_overlap = 0.95;
        g->shadow_sample = 100;
        g->k = 10;
        optind = 0; /* a fresh parse, also when called twice */
        while ((opt = getopt_long(argc, argv,
                                  gate ? "b:t:k:X:F:vqh" : "b:X:F:vqh",
                                  longopts, NULL)) != -1) {
                int is_gate_opt = opt == 't' || opt == 'k' ||
                                  (opt >= O_TO && opt <= O_FORCE) ||
                                  opt == O_METRIC;
                if ((is_gate_opt && !gate) ||
                    ((opt == O_HISTORY || opt == O_FOLLOW) &&
                     !(allowed & A_HISTORY))) {
                        fprintf(stderr,
                                "vcdc %s: %s takes no such option "
                                "(--help)\n",
                                a->cmd, a->cmd);
                        return -1;
                }
                switch (opt) {
                case 'b':
                        a->brokers = optarg;
                        break;
                case 't':
                        g->topic = optarg;
                        break;
                case O_COLLECTION:
                        a->collection = optarg;
                        break;
                case O_TO:
                        if (vcdc_route_side_parse(optarg, &g->to) == -1) {
                                fprintf(stderr,
                                        "vcdc %s: --to %s: expected "
                                        "new or old\n",
                                        a->cmd, optarg);
                                return -1;
                        }
                        a->to_set = 1;
                        break;
                case O_OLD:
                        a->old_url = optarg;
                        break;
                case O_NEW:
                        a->new_url = optarg;
                        break;
                case O_OLD_GROUP:
                        g->old_group = optarg;
                        break;
                case O_NEW_GROUP:
                        g->new_group = optarg;
                        break;
                case 'k':
                case O_MAX_LAG:
                case O_WINDOW:
                case O_INTERVAL:
                case O_MIN_OVERLAP:
                case O_VERIFY_SAMPLE:
                case O_TOLERANCE:
                case O_SHADOW_SAMPLE:
                case O_SEED:
                        if (gate_number(a, opt, optarg) == -1)
                                return -1;
                        break;
                case O_REQUIRE_INDEX:
                        g->require_index = 1;
                        break;
                case O_FORCE:
                        a->force = 1;
                        break;
                case O_CONTROL:
                        a->control_topic = optarg;
                        break;
                case O_METRIC:
                        if ((a->metric = vcdc_metric_parse(optarg)) ==
                            VCDC_METRIC_UNSET) {
                                fprintf(stderr,
                                        "vcdc %s: --metric %s: "
                                        "expected cosine, l2 or ip\n",
                                        a->cmd, optarg);
                                return -1;
                        }
                        break;
                case O_JSON:
                        a->json = 1;
                        break;
                case O_HISTORY:
                        a->history = 1;
                        break;
                case O_FOLLOW:
                        a->follow = 1;
                        break;
                case 'X':
                case 'F':
                case 'v':
                case 'q':
                        if (vcdc_conf_common_opt(a->conf, opt, optarg, errstr,
                                                 sizeof(errstr))) {
                                fprintf(stderr, "vcdc %s: %s\n", a->cmd,
                                        errstr);
                                return -1;
                        }
                        break;
                case 'h':
                        usage(a, stdout);
                        return 1;
                default:
                        usage(a, stderr);
                        return -1;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "vcdc %s: unexpected argument \"%s\"\n",
                        a->cmd, argv[optind]);
                return -1;
        }
        if (!a->brokers || !*a->brokers || !a->collection ||
            !*a->collection || !*a->control_topic) {
                fprintf(stderr,
                        "vcdc %s: -b (or VCDC_BROKERS) and "
                        "--collection are required (--help)\n",
                        a->cmd);
                return -1;
        }
        if (gate && (!g->topic || !a->to_set || !a->old_url || !a->new_url ||
                     !g->old_group || !g->new_group)) {
                fprintf(stderr,
                        "vcdc %s: -t, --to, --old, --new, "
                        "--old-group and --new-group are required "
                        "(--help)\n",
                        a->cmd);
                return -1;
        }
        if (vcdc_conf_set(a->conf, "bootstrap.servers", a->brokers, errstr,
                          sizeof(errstr)) == -1) {
                fprintf(stderr, "vcdc %s: %s\n", a->cmd, errstr);
                return -1;
        }
        rd_kafka_conf_set_log_cb(vcdc_conf_kafka(a->conf), vcdc_log_rdkafka_cb);
        g->collection = a->collection;
        if (!a->seed_set)
                g->seed = vcdc_cli_seed();
        return 0;
}

static void print_json(json_t *root) {
        vcdc_cli_print_json(root, JSON_PRECISION);
}

/*
 * vcdc cutover.
 */

/* Already routed to a->gate.to: says so, nothing to do. */
static void print_already(const args_t *a, const vcdc_route_state_t *state) {
        const char *tname = vcdc_route_side_name(a->gate.to);
        char when[64];

        vcdc_route_time_str(when, sizeof(when), state->current.ts_ms);
        if (a->json)
                print_json(json_pack("{s:s, s:s, s:s, s:b, s:o}", "collection",
                                     a->collection, "to", tname, "route",
                                     tname, "switched", 0, "current",
                                     vcdc_cli_record_json(&state->current)));
        else
                printf("%s already routes to %s (since %s): nothing "
                       "to do\n",
                       a->collection, tname, when);
}

/* The gate refused (or could not run): its checks, the route unchanged. */
static void print_refused(const args_t *a, const vcdc_gate_t *gate) {
        const char *rname = vcdc_route_side_name(!a->gate.to);

        if (a->json)
                print_json(json_pack("{s:s, s:s, s:s, s:b, s:b, s:O, s:O}",
                                     "collection", a->collection, "to",
                                     vcdc_route_side_name(a->gate.to),
                                     "route", rname, "passed", 0, "switched",
                                     0, "checks", gate->checks_json, "gate",
                                     gate->json));
        else
                printf("gate %s: %d of %d checks failed%s; %s stays "
                       "routed to %s (--force overrides)\n",
                       gate->errors ? "not evaluated" : "refused",
                       gate->failed + gate->errors, VCDC_GATE_CHECKS,
                       gate->errors ? " or could not run" : "",
                       a->collection, rname);
}

static void print_switched(const args_t *a, const vcdc_gate_t *gate,
                           const vcdc_route_record_t *rec) {
        const char *tname = vcdc_route_side_name(a->gate.to);
        char when[64];

        vcdc_route_time_str(when, sizeof(when), rec->ts_ms);
        if (a->json)
                print_json(json_pack(
                        "{s:s, s:s, s:s, s:b, s:b, s:b, s:O, s:o}",
                        "collection", a->collection, "to", tname, "route",
                        tname, "passed", vcdc_gate_passed(gate), "switched",
                        1, "forced", rec->forced, "checks", gate->checks_json,
                        "record", vcdc_cli_record_json(rec)));
        else
                printf("%s: %s now routes to %s (was %s), %s by %s@%s\n",
                       rec->forced ? "FORCED despite the gate" : "gate passed",
                       a->collection, tname,
                       vcdc_route_side_name(!a->gate.to), when, rec->user,
                       rec->host);
}

static int cutover(args_t *a) {
        vcdc_sink_conf_t sink_conf = {.metric = a->metric};
        vcdc_sink_t *old_sink = NULL, *new_sink = NULL;
        vcdc_route_state_t state;
        vcdc_route_record_t rec;
        vcdc_gate_t gate;
        char errstr[1024];
        int r = EXIT_ERROR, bad;
        size_t i;

        memset(&gate, 0, sizeof(gate));
        memset(&state, 0, sizeof(state));
        vcdc_route_record_init(&rec);
        if (vcdc_route_read(a->conf, a->control_topic, a->collection, &state,
                            errstr, sizeof(errstr)) == -1)
                goto err;
        if (state.has_current && state.current.route == a->gate.to) {
                print_already(a, &state);
                r = EXIT_OK;
                goto done;
        }
        sink_conf.timeout_ms =
                (int)vcdc_conf_int(a->conf, "vcdc.sink.timeout.ms");
        if (vcdc_pair_open(a->old_url, a->new_url, &sink_conf, &old_sink,
                           &new_sink, errstr, sizeof(errstr)) == -1 ||
            vcdc_gate_evaluate(a->conf, &a->gate, old_sink, new_sink, &gate,
                               errstr, sizeof(errstr)) == -1)
                goto err;
        if (!a->json)
                for (i = 0; i < VCDC_GATE_CHECKS; i++)
                        printf("[%s] %-9s %s\n",
                               vcdc_check_result_name(gate.checks[i].result),
                               gate.checks[i].name, gate.checks[i].summary);
        bad = gate.failed + gate.errors;
        if (bad && !a->force) {
                r = gate.errors ? EXIT_ERROR : EXIT_REFUSED;
                print_refused(a, &gate);
                goto done;
        }
        if (vcdc_cutover_switch(a->conf, a->control_topic, a->collection,
                                a->gate.to, &gate, &rec, errstr,
                                sizeof(errstr)) == -1)
                goto err;
        print_switched(a, &gate, &rec);
        if (rec.forced)
                VCDC_WARN("cutover",
                          "%s switched to %s by --force with %d failed "
                          "check%s",
                          a->collection, vcdc_route_side_name(a->gate.to),
                          bad, bad == 1 ? "" : "s");
        r = EXIT_OK;
        goto done;
err:
        fprintf(stderr, "vcdc cutover: %s\n", errstr);
done:
        vcdc_gate_clear(&gate);
        vcdc_route_record_clear(&rec);
        vcdc_route_state_clear(&state);
        vcdc_sink_destroy(old_sink);
        vcdc_sink_destroy(new_sink);
        return r;
}

/*
 * vcdc rollback.
 */

static int rollback(args_t *a) {
        vcdc_route_state_t state;
        vcdc_route_record_t rec;
        char errstr[1024], when[64], was[64];
        int r;

        r = vcdc_cutover_rollback(a->conf, a->control_topic, a->collection,
                                  &state, &rec, errstr, sizeof(errstr));
        if (r) {
                fprintf(stderr, "vcdc rollback: %s\n", errstr);
                r = r == 1 ? EXIT_REFUSED : EXIT_ERROR;
                goto done;
        }
        vcdc_route_time_str(was, sizeof(was), state.current.ts_ms);
        vcdc_route_time_str(when, sizeof(when), rec.ts_ms);
        if (a->json)
                print_json(json_pack("{s:s, s:s, s:s, s:b, s:o}",
                                     "collection", a->collection, "route",
                                     vcdc_route_side_name(rec.route),
                                     "previous",
                                     vcdc_route_side_name(rec.previous),
                                     "switched", 1, "record",
                                     vcdc_cli_record_json(&rec)));
        else
                printf("rolled back: %s routes to %s again (was %s since "
                       "%s), %s by %s@%s\n",
                       a->collection, vcdc_route_side_name(rec.route),
                       vcdc_route_side_name(rec.previous), was, when,
                       rec.user, rec.host);
        r = EXIT_OK;
done:
        vcdc_route_record_clear(&rec);
        vcdc_route_state_clear(&state);
        return r;
}

/*
 * vcdc route.
 */

static void print_record_line(const vcdc_route_record_t *rec) {
        char when[64];

        vcdc_route_time_str(when, sizeof(when), rec->ts_ms);
        printf("%s  %s -> %s  %-8s  %s@%s%s\n", when,
               vcdc_route_side_name(rec->previous),
               vcdc_route_side_name(rec->route),
               rec->action ? rec->action : "?",
               rec->user ? rec->user : "?", rec->host ? rec->host : "?",
               rec->forced ? "  FORCED" : "");
}

static volatile sig_atomic_t following = 1;

static void on_signal(int sig) {
        (void)sig;
        following = 0;
}

/* One line: the side, and the switch that set it. */
static void print_side(const args_t *a, vcdc_route_side_t side,
                       const vcdc_route_record_t *rec) {
        char when[64];

        if (a->json) {
                print_json(json_pack("{s:s, s:s, s:o}", "collection",
                                     a->collection, "route",
                                     vcdc_route_side_name(side), "record",
                                     rec ? vcdc_cli_record_json(rec)
                                         : json_null()));
                return;
        }
        if (rec) {
                vcdc_route_time_str(when, sizeof(when), rec->ts_ms);
                printf("%s (%s by %s@%s at %s%s)\n", vcdc_route_side_name(side),
                       rec->action ? rec->action : "switch",
                       rec->user ? rec->user : "?",
                       rec->host ? rec->host : "?", when,
                       rec->forced ? ", FORCED" : "");
        } else
                printf("%s (never switched)\n", vcdc_route_side_name(side));
        fflush(stdout);
}

/* --follow: the route follower of control/route.h, on the command line. */
static int follow(args_t *a) {
        vcdc_route_follower_t *f;
        struct sigaction sa;
        char errstr[1024];

        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_signal;
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        following = 1;
        if (!(f = vcdc_route_follower_new(a->conf, a->control_topic,
                                          a->collection, errstr,
                                          sizeof(errstr)))) {
                fprintf(stderr, "vcdc route: %s\n", errstr);
                return EXIT_ERROR;
        }
        print_side(a, vcdc_route_follower_side(f),
                   vcdc_route_follower_record(f));
        while (following)
                if (vcdc_route_follower_poll(f, 100 /*ms*/) == 1)
                        print_side(a, vcdc_route_follower_side(f),
                                   vcdc_route_follower_record(f));
        vcdc_route_follower_destroy(f);
        return EXIT_OK;
}

static int route(args_t *a) {
        vcdc_route_state_t state;
        char errstr[1024], when[64];
        json_t *out, *hist;
        size_t i;

        if (a->follow)
                return follow(a);
        if (vcdc_route_read(a->conf, a->control_topic, a->collection, &state,
                            errstr, sizeof(errstr)) == -1) {
                fprintf(stderr, "vcdc route: %s\n", errstr);
                vcdc_route_state_clear(&state);
                return EXIT_ERROR;
        }
        if (a->json) {
                out = json_pack("{s:s, s:s, s:o}", "collection",
                                a->collection, "route",
                                vcdc_route_side_name(
                                        state.has_current
                                                ? state.current.route
                                                : VCDC_ROUTE_OLD),
                                "current",
                                state.has_current
                                        ? vcdc_cli_record_json(&state.current)
                                        : json_null());
                if (out && a->history && (hist = json_array()) &&
                    !json_object_set_new(out, "history", hist))
                        for (i = 0; i < state.history_cnt; i++)
                                json_array_append_new(
                                        hist, vcdc_cli_record_json(
                                                      &state.history[i]));
                print_json(out);
        } else {
                if (state.has_current) {
                        vcdc_route_time_str(when, sizeof(when),
                                            state.current.ts_ms);
                        printf("%s: %s (since %s, %s by %s@%s%s)\n",
                               a->collection,
                               vcdc_route_side_name(state.current.route),
                               when,
                               state.current.action ? state.current.action
                                                    : "switch",
                               state.current.user ? state.current.user : "?",
                               state.current.host ? state.current.host : "?",
                               state.current.forced ? ", FORCED" : "");
                } else
                        printf("%s: old (never switched)\n", a->collection);
                if (a->history)
                        for (i = 0; i < state.history_cnt; i++)
                                print_record_line(&state.history[i]);
                fflush(stdout);
        }
        vcdc_route_state_clear(&state);
        return EXIT_OK;
}

static int run_cmd(int argc, char **argv, const char *cmd, int allowed,
                   int (*fn)(args_t *)) {
        args_t a;
        int r;

        memset(&a, 0, sizeof(a));
        a.cmd = cmd;
        if (!(a.conf = vcdc_conf_new())) {
                fprintf(stderr, "vcdc %s: out of memory\n", cmd);
                return EXIT_ERROR;
        }
        r = parse_args(argc, argv, allowed, &a);
        if (r == 0)
                r = fn(&a);
        else
                r = r == 1 ? EXIT_OK : EXIT_USAGE;
        vcdc_conf_destroy(a.conf);
        return r;
}

int vcdc_cmd_cutover(int argc, char **argv) {
        return run_cmd(argc, argv, "cutover", A_GATE, cutover);
}

int vcdc_cmd_rollback(int argc, char **argv) {
        return run_cmd(argc, argv, "rollback", 0, rollback);
}

int vcdc_cmd_route(int argc, char **argv) {
        return run_cmd(argc, argv, "route", A_HISTORY, route);
}
