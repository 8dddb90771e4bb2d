/*
 * vcdc - `vcdc cutover`, `vcdc rollback` and `vcdc route`.
 *
 * cutover evaluates the gate of DESIGN.md for the side reads move to (the
 * target) against the side they leave (the reference):
 *   readiness  the target's group is OK over a window of samples
 *   offsets    the target's recorded offsets are at or past the
 *              reference's, partition by partition
 *   verify     the target holds exactly what the reference holds (full, or
 *              --verify-sample N ids)
 *   shadow     top-k overlap of the same queries at least --min-overlap
 * prints each check with its figures, and writes the route (control/route.h)
 * only when all pass, or with --force (recorded as forced). Every check
 * runs even after one failed, so the operator sees the whole picture.
 */
#include "commands.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <librdkafka/rdkafka.h>

#include "shadow.h"
#include "verify.h"
#include "conf.h"
#include "lag.h"
#include "log.h"
#include "route.h"
#include "sink.h"

enum { EXIT_OK = 0, EXIT_REFUSED = 1, EXIT_ERROR = 2, EXIT_USAGE = 64 };

#define K_MAX 1000 /* neighbours per shadow query */
#define VCDC_XSTR(x) #x
#define VCDC_STR(x) VCDC_XSTR(x)

/* Which options a command takes. */
enum {
        A_GATE = 1,     /* cutover's */
        A_HISTORY = 2,  /* route's */
};

typedef struct args_s {
        const char *cmd;
        const char *brokers, *topic, *collection, *control_topic;
        const char *old_url, *new_url, *old_group, *new_group;
        vcdc_route_side_t to;
        int to_set;
        int64_t max_lag;
        size_t window;
        int interval_ms;
        double min_overlap, tolerance;
        size_t verify_sample, shadow_sample, k;
        uint32_t seed;
        int seed_set, force, json, history, follow;
        vcdc_metric_t metric;
        vcdc_conf_t *conf;
} args_t;

typedef enum { CHECK_PASS, CHECK_FAIL, CHECK_ERROR } check_result_t;

static const char *check_result_name(check_result_t r) {
        return r == CHECK_PASS ? "PASS" : r == CHECK_FAIL ? "FAIL" : "ERROR";
}

typedef struct check_s {
        const char *name;
        check_result_t result;
        char summary[2048];
        json_t *figures; /* an object, owned */
} check_t;

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
                "--min-overlap\n\n"
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

static int parse_double(const char *s, double min, double max, double *vp) {
        double v;
        char *end;

        errno = 0;
        v = strtod(s, &end);
        if (end == s || *end || errno || !isfinite(v) || v < min || v > max)
                return -1;
        *vp = v;
        return 0;
}

/*
 * Parses argv for command a->cmd taking the option groups in allowed.
 * Returns 0, 1 when --help was printed, -1 on bad usage (said on stderr).
 */
static int parse_args(int argc, char **argv, int allowed, args_t *a) {
        enum { O_COLLECTION = 256, O_TO, O_OLD, O_NEW, O_OLD_GROUP,
               O_NEW_GROUP, O_MAX_LAG, O_WINDOW, O_INTERVAL, O_MIN_OVERLAP,
               O_VERIFY_SAMPLE, O_TOLERANCE, O_SHADOW_SAMPLE, O_SEED,
               O_FORCE, O_CONTROL, O_METRIC, O_JSON, O_HISTORY, O_FOLLOW };
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
                {"force", no_argument, NULL, O_FORCE},
                {"control-topic", required_argument, NULL, O_CONTROL},
                {"metric", required_argument, NULL, O_METRIC},
                {"json", no_argument, NULL, O_JSON},
                {"history", no_argument, NULL, O_HISTORY},
                {"follow", no_argument, NULL, O_FOLLOW},
                {"help", no_argument, NULL, 'h'},
                {NULL, 0, NULL, 0},
        };
        char errstr[1024];
        int opt, gate = allowed & A_GATE;
        int64_t v;
        double d;

        a->brokers = getenv("VCDC_BROKERS");
        a->control_topic = VCDC_ROUTE_CONTROL_TOPIC;
        a->window = 3;
        a->max_lag = VCDC_LAG_MAX_DEFAULT;
        a->interval_ms = 1000;
        a->min_overlap = 0.95;
        a->shadow_sample = 100;
        a->k = 10;
        optind = 0; /* a fresh parse, also when called twice */
        while ((opt = getopt_long(argc, argv, gate ? "b:t:k:X:F:vqh"
                                                   : "b:X:F:vqh",
                                  longopts, NULL)) != -1) {
                int is_gate_opt = opt == 't' || opt == 'k' ||
                                  (opt >= O_TO && opt <= O_FORCE) ||
                                  opt == O_METRIC;
                if ((is_gate_opt && !gate) ||
                    ((opt == O_HISTORY || opt == O_FOLLOW) &&
                     !(allowed & A_HISTORY))) {
                        fprintf(stderr, "vcdc %s: %s takes no such option "
                                        "(--help)\n",
                                a->cmd, a->cmd);
                        return -1;
                }
                switch (opt) {
                case 'b':
                        a->brokers = optarg;
                        break;
                case 't':
                        a->topic = optarg;
                        break;
                case O_COLLECTION:
                        a->collection = optarg;
                        break;
                case O_TO:
                        if (vcdc_route_side_parse(optarg, &a->to) == -1) {
                                fprintf(stderr, "vcdc %s: --to %s: expected "
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
                        a->old_group = optarg;
                        break;
                case O_NEW_GROUP:
                        a->new_group = optarg;
                        break;
                case O_MAX_LAG:
                        if (parse_int(optarg, 0, INT64_MAX, &a->max_lag) ==
                            -1) {
                                fprintf(stderr, "vcdc %s: --max-lag %s: "
                                                "expected a count >= 0\n",
                                        a->cmd, optarg);
                                return -1;
                        }
                        break;
                case O_WINDOW:
                        if (parse_int(optarg, 1, 100, &v) == -1) {
                                fprintf(stderr, "vcdc %s: --window %s: "
                                                "expected 1..100 samples\n",
                                        a->cmd, optarg);
                                return -1;
                        }
                        a->window = (size_t)v;
                        break;
                case O_INTERVAL:
                        if (parse_double(optarg, 0.05, 3600, &d) == -1) {
                                fprintf(stderr, "vcdc %s: --interval %s: "
                                                "expected seconds, "
                                                "0.05..3600\n",
                                        a->cmd, optarg);
                                return -1;
                        }
                        a->interval_ms = (int)(d * 1000);
                        break;
                case O_MIN_OVERLAP:
                        if (parse_double(optarg, 0, 1, &a->min_overlap) ==
                            -1) {
                                fprintf(stderr, "vcdc %s: --min-overlap %s: "
                                                "expected 0..1\n",
                                        a->cmd, optarg);
                                return -1;
                        }
                        break;
                case O_VERIFY_SAMPLE:
                        if (parse_int(optarg, 0, 100000000, &v) == -1) {
                                fprintf(stderr, "vcdc %s: --verify-sample "
                                                "%s: expected 0 (all) or a "
                                                "count\n",
                                        a->cmd, optarg);
                                return -1;
                        }
                        a->verify_sample = (size_t)v;
                        break;
                case O_TOLERANCE:
                        if (parse_double(optarg, 0, 1e30, &a->tolerance) ==
                            -1) {
                                fprintf(stderr, "vcdc %s: --tolerance %s: "
                                                "expected a number >= 0\n",
                                        a->cmd, optarg);
                                return -1;
                        }
                        /* As vcdc verify: 0 means exact (the library reads
                         * 0 as its default and a negative as exact). */
                        if (a->tolerance == 0)
                                a->tolerance = -1;
                        break;
                case O_SHADOW_SAMPLE:
                        if (parse_int(optarg, 1, 1000000, &v) == -1) {
                                fprintf(stderr, "vcdc %s: --shadow-sample "
                                                "%s: expected 1..1000000\n",
                                        a->cmd, optarg);
                                return -1;
                        }
                        a->shadow_sample = (size_t)v;
                        break;
                case 'k':
                        if (parse_int(optarg, 1, K_MAX, &v) ==
                            -1) {
                                fprintf(stderr, "vcdc %s: -k %s: expected "
                                                "1..%d\n",
                                        a->cmd, optarg, K_MAX);
                                return -1;
                        }
                        a->k = (size_t)v;
                        break;
                case O_SEED:
                        if (parse_int(optarg, 0, UINT32_MAX, &v) == -1) {
                                fprintf(stderr, "vcdc %s: --seed %s: "
                                                "expected 0..%u\n",
                                        a->cmd, optarg, UINT32_MAX);
                                return -1;
                        }
                        a->seed = (uint32_t)v;
                        a->seed_set = 1;
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
                                fprintf(stderr, "vcdc %s: --metric %s: "
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
                fprintf(stderr, "vcdc %s: -b (or VCDC_BROKERS) and "
                                "--collection are required (--help)\n",
                        a->cmd);
                return -1;
        }
        if (gate && (!a->topic || !a->to_set || !a->old_url || !a->new_url ||
                     !a->old_group || !a->new_group)) {
                fprintf(stderr, "vcdc %s: -t, --to, --old, --new, "
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
        if (!a->seed_set)
                a->seed = (uint32_t)time(NULL) ^ (uint32_t)getpid();
        return 0;
}

/*
 * Who and when.
 */

static char *current_user(void) {
        const char *name = getenv("USER");
        struct passwd *pw;

        if (!name || !*name)
                name = getenv("LOGNAME");
        if ((!name || !*name) && (pw = getpwuid(geteuid())))
                name = pw->pw_name;
        return strdup(name && *name ? name : "unknown");
}

static char *current_host(void) {
        char host[256];

        if (gethostname(host, sizeof(host)) == -1)
                return strdup("unknown");
        host[sizeof(host) - 1] = '\0';
        return strdup(host);
}

static int64_t wall_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void fmt_time(char *buf, size_t size, int64_t ts_ms) {
        time_t secs = (time_t)(ts_ms / 1000);
        struct tm tm;

        gmtime_r(&secs, &tm);
        snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec, (int)(ts_ms % 1000));
}

/*
 * Writes the switch of a->collection to side to, after the record of
 * state (the route read just before; its ts_ms keeps ours increasing).
 * gate (may be NULL) is stolen. Fills *rec with what was written.
 */
static int write_switch(const args_t *a, const vcdc_route_state_t *state,
                        vcdc_route_side_t to, const char *action, int forced,
                        json_t *gate, vcdc_route_record_t *rec, char *errstr,
                        size_t errstr_size) {
        int64_t now = wall_ms();
        int r = -1;

        vcdc_route_record_init(rec);
        rec->route = to;
        rec->previous = state->has_current ? state->current.route
                                           : VCDC_ROUTE_OLD;
        rec->ts_ms = state->has_current && state->current.ts_ms >= now
                             ? state->current.ts_ms + 1
                             : now;
        rec->forced = forced;
        if (!(rec->collection = strdup(a->collection)) ||
            !(rec->action = strdup(action)) ||
            !(rec->user = current_user()) || !(rec->host = current_host()) ||
            (gate && !(rec->gate = json_dumps(gate, JSON_COMPACT |
                                                            JSON_REAL_PRECISION(
                                                                    10))))) {
                snprintf(errstr, errstr_size, "out of memory");
                goto done;
        }
        r = vcdc_route_write(a->conf, a->control_topic, rec, errstr,
                             errstr_size);
done:
        json_decref(gate);
        return r;
}

/* The record as a JSON value (for --json output). */
static json_t *record_json(const vcdc_route_record_t *rec) {
        char errstr[256], *text;
        json_t *v;

        if (!(text = vcdc_route_record_encode(rec, errstr, sizeof(errstr))))
                return json_null();
        v = json_loads(text, 0, NULL);
        free(text);
        return v ? v : json_null();
}

static void print_json(json_t *root) {
        if (root) {
                json_dumpf(root, stdout,
                           JSON_COMPACT | JSON_REAL_PRECISION(10));
                printf("\n");
        }
        fflush(stdout);
        json_decref(root);
}

/*
 * The gate's checks.
 */

static void check_readiness(const args_t *a, const char *group,
                            vcdc_sink_t *sink, check_t *c) {
        vcdc_lag_sample_t *samples = NULL;
        vcdc_readiness_t ready;
        rd_kafka_conf_t *rkc;
        rd_kafka_t *rk = NULL;
        char errstr[1024], tl[64];
        const vcdc_lag_sample_t *s;
        size_t i;

        c->name = "readiness";
        c->result = CHECK_ERROR;
        if (!(rkc = vcdc_conf_kafka_dup(a->conf)) ||
            !(samples = calloc(a->window, sizeof(*samples)))) {
                if (rkc)
                        rd_kafka_conf_destroy(rkc);
                snprintf(c->summary, sizeof(c->summary), "out of memory");
                goto done;
        }
        if (!(rk = rd_kafka_new(RD_KAFKA_CONSUMER, rkc, errstr,
                                sizeof(errstr)))) {
                rd_kafka_conf_destroy(rkc);
                snprintf(c->summary, sizeof(c->summary), "%s", errstr);
                goto done;
        }
        if (vcdc_lag_window(rk, a->topic, group, sink, a->window,
                            a->interval_ms, samples, errstr,
                            sizeof(errstr)) == -1) {
                snprintf(c->summary, sizeof(c->summary), "group %s: %s",
                         group, errstr);
                free(samples);
                samples = NULL;
                goto done;
        }
        vcdc_lag_evaluate(samples, a->window, a->max_lag, &ready);
        s = &samples[a->window - 1];
        c->result = ready.state == VCDC_STATE_OK ? CHECK_PASS : CHECK_FAIL;
        if (s->time_lag_ms >= 0)
                snprintf(tl, sizeof(tl), "%" PRId64 " ms", s->time_lag_ms);
        else
                snprintf(tl, sizeof(tl), "unknown");
        snprintf(c->summary, sizeof(c->summary),
                 "group %s is %s: lag %" PRId64 ", time lag %s, %d "
                 "member%s; %s",
                 group, vcdc_group_state_name(ready.state), ready.lag, tl,
                 s->members, s->members == 1 ? "" : "s", ready.reason);
        c->figures = json_pack(
                "{s:s, s:s, s:I, s:I, s:I, s:i, s:b, s:f, s:f, s:I, s:s}",
                "group", group, "state", vcdc_group_state_name(ready.state),
                "lag", (json_int_t)ready.lag, "max_lag",
                (json_int_t)a->max_lag, "time_lag_ms",
                (json_int_t)s->time_lag_ms, "members", s->members,
                "reached_zero", ready.reached_zero, "rate", ready.rate,
                "eta_s", ready.eta_s, "samples", (json_int_t)a->window,
                "reason", ready.reason);
done:
        if (samples) {
                for (i = 0; i < a->window; i++)
                        vcdc_lag_sample_clear(&samples[i]);
                free(samples);
        }
        if (rk)
                rd_kafka_destroy(rk);
}

static int64_t offset_of(const vcdc_sink_offset_t *offs, size_t cnt,
                         int32_t partition) {
        size_t i;

        for (i = 0; i < cnt; i++)
                if (offs[i].partition == partition)
                        return offs[i].offset;
        return -1;
}

static void check_offsets(const args_t *a, vcdc_sink_t *target,
                          vcdc_sink_t *reference, const char *tname,
                          const char *rname, check_t *c) {
        vcdc_sink_offset_t *toffs = NULL, *roffs = NULL;
        size_t tcnt = 0, rcnt = 0, i, behind = 0, seen = 0;
        int64_t max_behind = 0;
        int32_t first = -1, pmax = -1;
        char errstr[1024], first_str[128] = "";
        json_t *parts;

        c->name = "offsets";
        c->result = CHECK_ERROR;
        if (vcdc_sink_read_offsets(target, a->topic, &toffs, &tcnt, errstr,
                                   sizeof(errstr)) != VCDC_SINK_OK) {
                snprintf(c->summary, sizeof(c->summary), "%s (%s): %s", tname,
                         vcdc_sink_name(target), errstr);
                goto done;
        }
        if (vcdc_sink_read_offsets(reference, a->topic, &roffs, &rcnt, errstr,
                                   sizeof(errstr)) != VCDC_SINK_OK) {
                snprintf(c->summary, sizeof(c->summary), "%s (%s): %s", rname,
                         vcdc_sink_name(reference), errstr);
                goto done;
        }
        if (!(c->figures = json_object()) || !(parts = json_array()) ||
            json_object_set_new(c->figures, "partitions", parts)) {
                snprintf(c->summary, sizeof(c->summary), "out of memory");
                goto done;
        }
        /* Every partition either side recorded: the target's offset must
         * be at or past the reference's (none counts as -1). */
        for (pmax = 0, i = 0; i < tcnt; i++)
                if (toffs[i].partition > pmax)
                        pmax = toffs[i].partition;
        for (i = 0; i < rcnt; i++)
                if (roffs[i].partition > pmax)
                        pmax = roffs[i].partition;
        if (!tcnt && !rcnt)
                pmax = -1;
        for (int32_t p = 0; p <= pmax; p++) {
                int64_t t = offset_of(toffs, tcnt, p);
                int64_t r = offset_of(roffs, rcnt, p);
                if (t < 0 && r < 0)
                        continue;
                seen++;
                json_array_append_new(parts,
                                      json_pack("{s:i, s:I, s:I}", "partition",
                                                (int)p, tname, (json_int_t)t,
                                                rname, (json_int_t)r));
                if (t >= r)
                        continue;
                if (!behind++) {
                        first = p;
                        if (t >= 0)
                                snprintf(first_str, sizeof(first_str),
                                         "%" PRId64 " < %" PRId64, t, r);
                        else
                                snprintf(first_str, sizeof(first_str),
                                         "none < %" PRId64, r);
                }
                if (r - t > max_behind)
                        max_behind = r - t;
        }
        json_object_set_new(c->figures, "behind", json_integer((json_int_t)behind));
        json_object_set_new(c->figures, "max_behind",
                            json_integer(max_behind));
        if (behind) {
                c->result = CHECK_FAIL;
                snprintf(c->summary, sizeof(c->summary),
                         "%s's recorded offsets are behind %s's in %zu of "
                         "%zu partitions (partition %" PRId32 ": %s), by "
                         "%" PRId64 " at most",
                         tname, rname, behind, seen, first, first_str,
                         max_behind);
        } else {
                c->result = CHECK_PASS;
                if (seen)
                        snprintf(c->summary, sizeof(c->summary),
                                 "%s's recorded offsets are at or past "
                                 "%s's in all %zu partitions",
                                 tname, rname, seen);
                else
                        snprintf(c->summary, sizeof(c->summary),
                                 "neither side recorded offsets for %s",
                                 a->topic);
        }
done:
        free(toffs);
        free(roffs);
}

static void check_verify(const args_t *a, vcdc_sink_t *target,
                         vcdc_sink_t *reference, const char *tname,
                         const char *rname, check_t *c) {
        vcdc_verify_opts_t opts = {0};
        vcdc_verify_result_t res;
        char errstr[1024], ex[256] = "";

        c->name = "verify";
        opts.sample = a->verify_sample;
        opts.tolerance = a->tolerance;
        opts.seed = a->seed;
        memset(&res, 0, sizeof(res));
        /* verify's "old" is the reference, its "new" the target. */
        if (vcdc_verify(reference, target, &opts, &res, errstr,
                        sizeof(errstr)) == -1) {
                c->result = CHECK_ERROR;
                snprintf(c->summary, sizeof(c->summary), "%s", errstr);
                return;
        }
        c->result = vcdc_verify_ok(&res) ? CHECK_PASS : CHECK_FAIL;
        if (res.missing_ex[0][0])
                snprintf(ex, sizeof(ex), "; missing e.g. %s",
                         res.missing_ex[0]);
        else if (res.vector_ex[0][0])
                snprintf(ex, sizeof(ex), "; vector differs e.g. %s",
                         res.vector_ex[0]);
        else if (res.metadata_ex[0][0])
                snprintf(ex, sizeof(ex), "; metadata differs e.g. %s",
                         res.metadata_ex[0]);
        else if (res.document_ex[0][0])
                snprintf(ex, sizeof(ex), "; document differs e.g. %s",
                         res.document_ex[0]);
        else if (res.extra_ex[0][0])
                snprintf(ex, sizeof(ex), "; extra e.g. %s", res.extra_ex[0]);
        snprintf(c->summary, sizeof(c->summary),
                 "%s comparison, %s %" PRIu64 " records, %s %" PRIu64
                 ": %" PRIu64 " compared, %" PRIu64 " missing in %s, %" PRIu64
                 " extra, %" PRIu64 " vector, %" PRIu64 " metadata, %" PRIu64
                 " document differences%s",
                 a->verify_sample ? "sampled" : "full", rname, res.old_count,
                 tname, res.new_count, res.compared, res.missing, tname,
                 res.extra, res.vector_diff, res.metadata_diff,
                 res.document_diff, ex);
        c->figures = json_pack(
                "{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f}",
                "mode", a->verify_sample ? "sample" : "full", "sample",
                (json_int_t)a->verify_sample, "reference_count",
                (json_int_t)res.old_count, "target_count",
                (json_int_t)res.new_count, "compared",
                (json_int_t)res.compared, "missing", (json_int_t)res.missing,
                "extra", (json_int_t)res.extra, "vector_diff",
                (json_int_t)res.vector_diff, "metadata_diff",
                (json_int_t)res.metadata_diff, "document_diff",
                (json_int_t)res.document_diff, "seconds", res.seconds);
}

static void check_shadow(const args_t *a, vcdc_sink_t *target,
                         vcdc_sink_t *reference, const char *tname,
                         const char *rname, check_t *c) {
        vcdc_shadow_opts_t opts = {0};
        vcdc_shadow_result_t res;
        char errstr[1024];

        c->name = "shadow";
        opts.k = a->k;
        opts.sample = a->shadow_sample;
        opts.seed = a->seed;
        memset(&res, 0, sizeof(res));
        if (vcdc_shadow(reference, target, &opts, &res, errstr,
                        sizeof(errstr)) == -1) {
                c->result = CHECK_ERROR;
                snprintf(c->summary, sizeof(c->summary), "%s", errstr);
                return;
        }
        c->result = res.overlap_mean >= a->min_overlap ? CHECK_PASS
                                                       : CHECK_FAIL;
        snprintf(c->summary, sizeof(c->summary),
                 "%zu queries, overlap@%zu mean %.3f min %.3f (at least "
                 "%.3f), rank agreement %.3f, p50/p99 %s %.1f/%.1f ms, %s "
                 "%.1f/%.1f ms",
                 res.queries, a->k, res.overlap_mean, res.overlap_min,
                 a->min_overlap, res.rank_agreement, tname, res.new_p50_ms,
                 res.new_p99_ms, rname, res.old_p50_ms, res.old_p99_ms);
        c->figures = json_pack(
                "{s:I, s:I, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f}",
                "queries", (json_int_t)res.queries, "k", (json_int_t)a->k,
                "overlap_mean", res.overlap_mean, "overlap_min",
                res.overlap_min, "min_overlap", a->min_overlap,
                "rank_agreement", res.rank_agreement, "target_p50_ms",
                res.new_p50_ms, "target_p99_ms", res.new_p99_ms,
                "reference_p50_ms", res.old_p50_ms, "reference_p99_ms",
                res.old_p99_ms);
}

static vcdc_sink_t *open_sink(const args_t *a, const char *url,
                              const char *side, char *errstr,
                              size_t errstr_size) {
        vcdc_sink_conf_t sink_conf = {.metric = a->metric};
        char err[768];
        vcdc_sink_t *sink;

        sink_conf.timeout_ms =
                (int)vcdc_conf_int(a->conf, "vcdc.sink.timeout.ms");
        if (!(sink = vcdc_sink_new(url, &sink_conf, err, sizeof(err))))
                snprintf(errstr, errstr_size, "%s: %s", side, err);
        return sink;
}

static int cutover(args_t *a) {
        check_t checks[4];
        vcdc_route_state_t state;
        vcdc_route_record_t rec;
        vcdc_sink_t *old_sink = NULL, *new_sink = NULL, *target, *reference;
        const char *tname = vcdc_route_side_name(a->to);
        const char *rname = vcdc_route_side_name(!a->to);
        const char *group = a->to == VCDC_ROUTE_NEW ? a->new_group
                                                    : a->old_group;
        char errstr[1024], when[64];
        json_t *gate = NULL, *out = NULL, *jchecks = NULL;
        int failed = 0, errors = 0, r = EXIT_ERROR;
        size_t i, n = sizeof(checks) / sizeof(*checks);

        memset(checks, 0, sizeof(checks));
        memset(&state, 0, sizeof(state));
        vcdc_route_record_init(&rec);
        if (vcdc_route_read(a->conf, a->control_topic, a->collection, &state,
                            errstr, sizeof(errstr)) == -1) {
                fprintf(stderr, "vcdc cutover: %s\n", errstr);
                goto done;
        }
        if (state.has_current && state.current.route == a->to) {
                fmt_time(when, sizeof(when), state.current.ts_ms);
                if (a->json)
                        print_json(json_pack("{s:s, s:s, s:s, s:b, s:o}",
                                             "collection", a->collection,
                                             "to", tname, "route", tname,
                                             "switched", 0, "current",
                                             record_json(&state.current)));
                else
                        printf("%s already routes to %s (since %s): nothing "
                               "to do\n",
                               a->collection, tname, when);
                r = EXIT_OK;
                goto done;
        }

        if (!(old_sink = open_sink(a, a->old_url, "old", errstr,
                                   sizeof(errstr))) ||
            !(new_sink = open_sink(a, a->new_url, "new", errstr,
                                   sizeof(errstr)))) {
                fprintf(stderr, "vcdc cutover: %s\n", errstr);
                goto done;
        }
        target = a->to == VCDC_ROUTE_NEW ? new_sink : old_sink;
        reference = a->to == VCDC_ROUTE_NEW ? old_sink : new_sink;
        VCDC_NOTICE("cutover", "gate of %s: %s -> %s", a->collection, rname,
                    tname);

        check_readiness(a, group, target, &checks[0]);
        check_offsets(a, target, reference, tname, rname, &checks[1]);
        check_verify(a, target, reference, tname, rname, &checks[2]);
        check_shadow(a, target, reference, tname, rname, &checks[3]);

        if (!(gate = json_object()) || !(jchecks = json_array())) {
                fprintf(stderr, "vcdc cutover: out of memory\n");
                goto done;
        }
        for (i = 0; i < n; i++) {
                check_t *c = &checks[i];
                json_t *obj = c->figures ? json_deep_copy(c->figures)
                                         : json_object();
                if (c->result == CHECK_FAIL)
                        failed++;
                else if (c->result == CHECK_ERROR)
                        errors++;
                if (!obj) {
                        fprintf(stderr, "vcdc cutover: out of memory\n");
                        goto done;
                }
                json_object_set_new(obj, "result",
                                    json_string(check_result_name(c->result)));
                json_object_set_new(obj, "summary", json_string(c->summary));
                json_object_set(gate, c->name, obj);
                json_object_set_new(obj, "name", json_string(c->name));
                json_array_append_new(jchecks, obj);
                if (!a->json)
                        printf("[%s] %-9s %s\n", check_result_name(c->result),
                               c->name, c->summary);
        }
        json_object_set_new(gate, "passed", json_boolean(!failed && !errors));
        json_object_set_new(gate, "from", json_string(rname));
        json_object_set_new(gate, "to", json_string(tname));
        json_object_set_new(gate, "topic", json_string(a->topic));
        json_object_set_new(gate, "old", json_string(vcdc_sink_name(old_sink)));
        json_object_set_new(gate, "new", json_string(vcdc_sink_name(new_sink)));
        json_object_set_new(gate, "old_group", json_string(a->old_group));
        json_object_set_new(gate, "new_group", json_string(a->new_group));

        if ((failed || errors) && !a->force) {
                r = errors ? EXIT_ERROR : EXIT_REFUSED;
                if (a->json) {
                        out = json_pack("{s:s, s:s, s:s, s:b, s:b, s:O, s:O}",
                                        "collection", a->collection, "to",
                                        tname, "route", rname, "passed", 0,
                                        "switched", 0, "checks", jchecks,
                                        "gate", gate);
                        print_json(out);
                } else
                        printf("gate %s: %d of %zu checks failed%s; %s stays "
                               "routed to %s (--force overrides)\n",
                               errors ? "not evaluated" : "refused",
                               failed + errors, n,
                               errors ? " or could not run" : "",
                               a->collection, rname);
                goto done;
        }
        /* Read again just before writing: previous and ts_ms must follow
         * the newest switch. */
        vcdc_route_state_clear(&state);
        if (vcdc_route_read(a->conf, a->control_topic, a->collection, &state,
                            errstr, sizeof(errstr)) == -1) {
                fprintf(stderr, "vcdc cutover: %s\n", errstr);
                goto done;
        }
        if (write_switch(a, &state, a->to, "cutover",
                         (failed || errors) ? 1 : 0, json_incref(gate), &rec,
                         errstr, sizeof(errstr)) == -1) {
                fprintf(stderr, "vcdc cutover: %s\n", errstr);
                goto done;
        }
        fmt_time(when, sizeof(when), rec.ts_ms);
        if (a->json) {
                out = json_pack("{s:s, s:s, s:s, s:b, s:b, s:b, s:O, s:o}",
                                "collection", a->collection, "to", tname,
                                "route", tname, "passed", !failed && !errors,
                                "switched", 1, "forced", rec.forced,
                                "checks", jchecks, "record",
                                record_json(&rec));
                print_json(out);
        } else
                printf("%s: %s now routes to %s (was %s), %s by %s@%s\n",
                       rec.forced ? "FORCED despite the gate" : "gate passed",
                       a->collection, tname, rname, when, rec.user,
                       rec.host);
        if (rec.forced)
                VCDC_WARN("cutover",
                          "%s switched to %s by --force with %d failed "
                          "check%s",
                          a->collection, tname, failed + errors,
                          failed + errors == 1 ? "" : "s");
        r = EXIT_OK;
done:
        for (i = 0; i < n; i++)
                json_decref(checks[i].figures);
        json_decref(jchecks);
        json_decref(gate);
        vcdc_route_record_clear(&rec);
        vcdc_route_state_clear(&state);
        vcdc_sink_destroy(old_sink);
        vcdc_sink_destroy(new_sink);
        return r;
}

static int rollback(args_t *a) {
        vcdc_route_state_t state;
        vcdc_route_record_t rec;
        vcdc_route_side_t to;
        json_t *gate;
        char errstr[1024], when[64], was[64];
        int r = EXIT_ERROR;

        vcdc_route_record_init(&rec);
        if (vcdc_route_read(a->conf, a->control_topic, a->collection, &state,
                            errstr, sizeof(errstr)) == -1) {
                fprintf(stderr, "vcdc rollback: %s\n", errstr);
                goto done;
        }
        if (!state.has_current) {
                fprintf(stderr, "vcdc rollback: %s was never switched (it "
                                "routes to old): nothing to roll back\n",
                        a->collection);
                r = EXIT_REFUSED;
                goto done;
        }
        fmt_time(was, sizeof(was), state.current.ts_ms);
        if (state.current.action && !strcmp(state.current.action, "rollback")) {
                /* Rolling a rollback back would redo a cut-over without
                 * its gate. */
                fprintf(stderr, "vcdc rollback: the last switch of %s was "
                                "already a rollback (to %s, %s): use vcdc "
                                "cutover to switch again\n",
                        a->collection,
                        vcdc_route_side_name(state.current.route), was);
                r = EXIT_REFUSED;
                goto done;
        }
        to = state.current.previous;
        if (to == state.current.route)
                to = !to;
        gate = json_pack("{s:I, s:s}", "rolled_back_ts_ms",
                         (json_int_t)state.current.ts_ms, "rolled_back_from",
                         vcdc_route_side_name(state.current.route));
        if (write_switch(a, &state, to, "rollback", 0, gate, &rec, errstr,
                         sizeof(errstr)) == -1) {
                fprintf(stderr, "vcdc rollback: %s\n", errstr);
                goto done;
        }
        fmt_time(when, sizeof(when), rec.ts_ms);
        if (a->json)
                print_json(json_pack("{s:s, s:s, s:s, s:b, s:o}",
                                     "collection", a->collection, "route",
                                     vcdc_route_side_name(to), "previous",
                                     vcdc_route_side_name(rec.previous),
                                     "switched", 1, "record",
                                     record_json(&rec)));
        else
                printf("rolled back: %s routes to %s again (was %s since "
                       "%s), %s by %s@%s\n",
                       a->collection, vcdc_route_side_name(to),
                       vcdc_route_side_name(rec.previous), was, when,
                       rec.user, rec.host);
        r = EXIT_OK;
done:
        vcdc_route_record_clear(&rec);
        vcdc_route_state_clear(&state);
        return r;
}

static void print_record_line(const vcdc_route_record_t *rec) {
        char when[64];

        fmt_time(when, sizeof(when), rec->ts_ms);
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
                                     rec ? record_json(rec) : json_null()));
                return;
        }
        if (rec) {
                fmt_time(when, sizeof(when), rec->ts_ms);
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
                                        ? record_json(&state.current)
                                        : json_null());
                if (out && a->history && (hist = json_array()) &&
                    !json_object_set_new(out, "history", hist))
                        for (i = 0; i < state.history_cnt; i++)
                                json_array_append_new(
                                        hist, record_json(&state.history[i]));
                print_json(out);
        } else {
                if (state.has_current) {
                        fmt_time(when, sizeof(when), state.current.ts_ms);
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
