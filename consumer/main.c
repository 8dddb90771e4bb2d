/*
 * vcdc-consumer - apply a vcdc topic to one target database.
 * Parses, starts, runs, stops: no logic of its own.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "consumer.h"
#include "ctltopic.h"
#include "log.h"
#include "sink.h"

static volatile sig_atomic_t run = 1;

static void on_signal(int sig) {
        (void)sig;
        run = 0;
}

static void usage(FILE *fp) {
        fprintf(fp,
                "Usage: vcdc-consumer -b BROKERS -t TOPIC -G GROUP --sink URL "
                "[options]\n"
                "Applies the topic to one database, at least once and "
                "idempotently.\n\n"
                "  -b BROKERS          bootstrap servers (default: "
                "$VCDC_BROKERS)\n"
                "  -t TOPIC            topic to apply\n"
                "  -G GROUP            consumer group (one per target "
                "database)\n"
                "  --sink URL          chroma://HOST:PORT/COLLECTION"
                "[?tenant=&database=]\n"
                "                      pgvector://USER@HOST:PORT/DB?table="
                "NAME\n"
                "  --from-beginning    a new group starts at offset zero "
                "(replay/backfill)\n"
                "  --exit-at-end       stop once the log end seen at start "
                "is applied\n"
                "  --until-timestamp MS  restore to a point in time: apply "
                "the records of\n"
                "                      timestamp <= MS (epoch ms) and stop\n"
                "  --until-offsets P:O[,P:O]  apply offsets < O of each "
                "partition P (all\n"
                "                      named) and stop; the group's "
                "position ends at O\n"
                "  --allow-compacted-history  apply a bound older than "
                "the topic's\n"
                "                      min.compaction.lag.ms anyway (may "
                "not be exact)\n"
                "  --collection NAME   the collection to apply (default: the "
                "target's name);\n"
                "                      other collections' records are "
                "skipped\n"
                "  --metric cosine|l2|ip  metric of a new target; an existing "
                "one must have it\n"
                "                      (default: the collection's recorded "
                "one, else cosine)\n"
                "  --dim N             dimension the target must have "
                "(default: the target's,\n"
                "                      else the first upsert's)\n"
                "  --index hnsw|ivfflat|none  build the target's approximate "
                "index once the\n"
                "                      log end seen at start is applied "
                "(pgvector; default none)\n"
                "  --index-param K=V[,K=V]  hnsw: m (16), ef_construction "
                "(64); ivfflat: lists\n"
                "                      (100); either: maintenance_work_mem "
                "(the build's memory)\n"
                "  --dlq-topic TOPIC   dead-letter topic (default: "
                "TOPIC.dlq)\n"
                "  --control-topic T   where the collection's recorded "
                "configuration (metric,\n"
                "                      dimension) is read (default: "
                VCDC_CONTROL_TOPIC ")\n"
                "  --metrics-port N    serve Prometheus metrics on "
                "127.0.0.1:N\n"
                "  -X key=value        librdkafka or vcdc.* setting\n"
                "  -F FILE             properties file of such settings\n"
                "  -v, -q              more, less logging\n"
                "  --help-conf         list the vcdc.* settings\n\n"
                "Secrets: VCDC_CHROMA_TOKEN[_FILE], VCDC_PG_PASSWORD[_FILE].\n"
                "Exit status: 0 on a clean stop (SIGTERM, SIGINT, "
                "--exit-at-end, --until-*),\n1 on a fatal error, 64 on a usage "
                "or "
                "configuration error, 75 when\nthe broker or the database "
                "does not answer at start-up (try again later).\n");
}

int main(int argc, char **argv) {
        enum {
                O_SINK = 256,
                O_FROM_BEGINNING,
                O_EXIT_AT_END,
                O_COLLECTION,
                O_METRIC,
                O_DIM,
                O_DLQ,
                O_METRICS_PORT,
                O_HELP_CONF,
                O_INDEX,
                O_INDEX_PARAM,
                O_UNTIL_TS,
                O_UNTIL_OFFSETS,
                O_ALLOW_COMPACTED,
                O_CONTROL_TOPIC
        };
        static const struct option longopts[] = {
                {"sink", required_argument, NULL, O_SINK},
                {"from-beginning", no_argument, NULL, O_FROM_BEGINNING},
                {"exit-at-end", no_argument, NULL, O_EXIT_AT_END},
                {"collection", required_argument, NULL, O_COLLECTION},
                {"metric", required_argument, NULL, O_METRIC},
                {"dim", required_argument, NULL, O_DIM},
                {"dlq-topic", required_argument, NULL, O_DLQ},
                {"metrics-port", required_argument, NULL, O_METRICS_PORT},
                {"index", required_argument, NULL, O_INDEX},
                {"index-param", required_argument, NULL, O_INDEX_PARAM},
                {"until-timestamp", required_argument, NULL, O_UNTIL_TS},
                {"until-offsets", required_argument, NULL, O_UNTIL_OFFSETS},
                {"allow-compacted-history", no_argument, NULL,
                 O_ALLOW_COMPACTED},
                {"control-topic", required_argument, NULL, O_CONTROL_TOPIC},
                {"help-conf", no_argument, NULL, O_HELP_CONF},
                {"help", no_argument, NULL, 'h'},
                {NULL, 0, NULL, 0},
        };
        vcdc_consumer_opts_t opts = {.metrics_port = -1,
                                     .control_topic = VCDC_CONTROL_TOPIC};
        const char *brokers = getenv("VCDC_BROKERS"), *key;
        const char *index = NULL, *index_param = NULL;
        const char *until_ts = NULL, *until_offsets = NULL;
        int allow_compacted = 0;
        vcdc_consumer_t *c;
        vcdc_conf_t *conf;
        struct sigaction sa;
        char errstr[1024], *end;
        int opt, r, transient = 0;

        if (!(conf = vcdc_conf_new())) {
                fprintf(stderr, "vcdc-consumer: out of memory\n");
                return 1;
        }
        while ((opt = getopt_long(argc, argv, "b:t:G:X:F:vqh", longopts,
                                  NULL)) != -1) {
                key = NULL;
                switch (opt) {
                case 'b':
                        brokers = optarg;
                        break;
                case 't':
                        opts.topic = optarg;
                        break;
                case 'G':
                        opts.group = optarg;
                        break;
                case O_SINK:
                        opts.sink_url = optarg;
                        break;
                case O_FROM_BEGINNING:
                        opts.from_beginning = 1;
                        break;
                case O_EXIT_AT_END:
                        opts.exit_at_end = 1;
                        break;
                case O_COLLECTION:
                        opts.collection = optarg;
                        break;
                case O_METRIC:
                        key = "vcdc.sink.metric";
                        break;
                case O_DIM:
                        key = "vcdc.sink.dim";
                        break;
                case O_INDEX:
                        index = optarg;
                        break;
                case O_INDEX_PARAM:
                        index_param = optarg;
                        break;
                case O_UNTIL_TS:
                        until_ts = optarg;
                        break;
                case O_UNTIL_OFFSETS:
                        until_offsets = optarg;
                        break;
                case O_ALLOW_COMPACTED:
                        allow_compacted = 1;
                        break;
                case O_CONTROL_TOPIC:
                        if (!*optarg) {
                                fprintf(stderr, "vcdc-consumer: "
                                                "--control-topic: empty\n");
                                goto usage_err;
                        }
                        opts.control_topic = optarg;
                        break;
                case O_DLQ:
                        key = "vcdc.dlq.topic";
                        break;
                case O_METRICS_PORT: {
                        long v;
                        errno = 0;
                        v = strtol(optarg, &end, 10);
                        if (end == optarg || *end || errno || v < 0 ||
                            v > 65535) {
                                fprintf(stderr,
                                        "vcdc-consumer: --metrics-port %s: "
                                        "expected 0..65535\n",
                                        optarg);
                                goto usage_err;
                        }
                        opts.metrics_port = (int)v;
                        break;
                }
                case 'X':
                case 'F':
                case 'v':
                case 'q':
                        if (vcdc_conf_common_opt(conf, opt, optarg, errstr,
                                                 sizeof(errstr))) {
                                fprintf(stderr, "vcdc-consumer: %s\n", errstr);
                                goto usage_err;
                        }
                        break;
                case O_HELP_CONF:
                        vcdc_conf_print_help(stdout);
                        vcdc_conf_destroy(conf);
                        return 0;
                case 'h':
                        usage(stdout);
                        vcdc_conf_destroy(conf);
                        return 0;
                default:
                        usage(stderr);
                        goto usage_err;
                }
                if (key && vcdc_conf_set(conf, key, optarg, errstr,
                                         sizeof(errstr)) == -1) {
                        fprintf(stderr, "vcdc-consumer: %s\n", errstr);
                        goto usage_err;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "vcdc-consumer: unexpected argument \"%s\"\n",
                        argv[optind]);
                goto usage_err;
        }
        if (!brokers || !*brokers || !opts.topic || !opts.group ||
            !opts.sink_url) {
                fprintf(stderr,
                        "vcdc-consumer: -b (or VCDC_BROKERS), -t, -G and "
                        "--sink are required (--help)\n");
                goto usage_err;
        }
        if (vcdc_index_spec_parse(index, index_param, &opts.index, errstr,
                                  sizeof(errstr)) == -1) {
                fprintf(stderr, "vcdc-consumer: %s\n", errstr);
                goto usage_err;
        }
        if (opts.index.kind != VCDC_INDEX_NONE &&
            vcdc_sink_url_can_index(opts.sink_url) == 0) {
                fprintf(stderr,
                        "vcdc-consumer: --index %s: %s keeps its own HNSW "
                        "index; --index is for pgvector:// sinks only\n",
                        index, opts.sink_url);
                goto usage_err;
        }
        if (vcdc_until_parse(until_ts, until_offsets, allow_compacted,
                             &opts.until, errstr, sizeof(errstr)) == -1) {
                fprintf(stderr, "vcdc-consumer: %s\n", errstr);
                goto usage_err;
        }
        if (vcdc_conf_set(conf, "bootstrap.servers", brokers, errstr,
                          sizeof(errstr)) == -1) {
                fprintf(stderr, "vcdc-consumer: %s\n", errstr);
                goto usage_err;
        }

        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_signal;
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);

        if (!(c = vcdc_consumer_new(conf, &opts, &transient, errstr,
                                    sizeof(errstr)))) {
                fprintf(stderr, "vcdc-consumer: %s\n", errstr);
                vcdc_until_clear(&opts.until);
                vcdc_conf_destroy(conf);
                return transient ? 75 : 64;
        }
        r = vcdc_consumer_run(c, &run);
        vcdc_consumer_destroy(c);
        vcdc_until_clear(&opts.until);
        vcdc_conf_destroy(conf);
        VCDC_NOTICE("consumer", "stopped%s", r ? " on a fatal error" : "");
        return r ? 1 : 0;

usage_err:
        vcdc_until_clear(&opts.until);
        vcdc_conf_destroy(conf);
        return 64;
}
