/*
 * vcdc - `vcdc snapshot`: its options, its signals and its summary. The
 * snapshot itself is the library's (snapshot/snap.h).
 */
#include "commands.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "conf.h"
#include "log.h"
#include "options.h"
#include "ctltopic.h"
#include "snap.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig) {
        (void)sig;
        stop = 1;
}

static void usage(FILE *fp) {
        fprintf(fp,
                "Usage: vcdc snapshot --from URL -t TOPIC --old-group GROUP "
                "[options]\n"
                "Copies every record of OLD into TOPIC while writers go on "
                "through the log,\nso that a replay of TOPIC from offset 0 "
                "yields exactly OLD's state. OLD's\nconsumer (group GROUP) "
                "must be applying TOPIC to OLD meanwhile. Killed, a rerun\n"
                "with the same arguments resumes after the last finished "
                "chunk.\n\n"
                "  --from URL          OLD (chroma://HOST:PORT/COLLECTION, "
                "pgvector://...?table=T)\n"
                "  -t TOPIC            the change topic (compacted)\n"
                "  --old-group GROUP   OLD's consumer group\n"
                "  -b BROKERS          bootstrap servers (default: "
                "$VCDC_BROKERS)\n"
                "  --collection C      the records' collection (default: "
                "OLD's name)\n"
                "  --chunk N           records per chunk (default 1000)\n"
                "  --max-rate R        at most R records/s read from OLD\n"
                "  --wait SECONDS      for OLD's consumer to catch up, per "
                "chunk (default 600)\n"
                "  --set-compaction-lag  raise the topic's "
                "min.compaction.lag.ms to 15 min if lower\n"
                "  --control-topic T   checkpoints (default "
                VCDC_CONTROL_TOPIC ")\n"
                "  --timeout-ms N      per OLD request (default 30000)\n"
                "  --json              the summary as one JSON object\n"
                "  -X key=value, -F FILE  librdkafka settings\n"
                "  -v, -q              more, less logging\n\n"
                "Progress goes to stderr, the summary to stdout.\n"
                "Exit status: 0 done, 1 failed or stopped midway (a rerun "
                "resumes), 64 bad\nusage or input (nothing written), 75 OLD "
                "or the cluster unreachable.\n");
}

enum {
        O_FROM = 256,
        O_OLD_GROUP,
        O_COLLECTION,
        O_CHUNK,
        O_MAX_RATE,
        O_WAIT,
        O_SET_LAG,
        O_CONTROL,
        O_TIMEOUT,
        O_JSON,
};

static int parse(int argc, char **argv, vcdc_conf_t *conf,
                 vcdc_snapshot_opts_t *o, const char **brokersp, int *jsonp) {
        static const struct option longopts[] = {
                {"from", required_argument, NULL, O_FROM},
                {"old-group", required_argument, NULL, O_OLD_GROUP},
                {"collection", required_argument, NULL, O_COLLECTION},
                {"chunk", required_argument, NULL, O_CHUNK},
                {"max-rate", required_argument, NULL, O_MAX_RATE},
                {"wait", required_argument, NULL, O_WAIT},
                {"set-compaction-lag", no_argument, NULL, O_SET_LAG},
                {"control-topic", required_argument, NULL, O_CONTROL},
                {"timeout-ms", required_argument, NULL, O_TIMEOUT},
                {"json", no_argument, NULL, O_JSON},
                {"help", no_argument, NULL, 'h'},
                {NULL, 0, NULL, 0},
        };
        char errstr[1024];
        int64_t n;
        int opt;

        optind = 0;
        while ((opt = getopt_long(argc, argv, "b:t:X:F:vqh", longopts,
                                  NULL)) != -1) {
                switch (opt) {
                case 'b':
                        *brokersp = optarg;
                        break;
                case 't':
                        o->topic = optarg;
                        break;
                case O_FROM:
                        o->from_url = optarg;
                        break;
                case O_OLD_GROUP:
                        o->old_group = optarg;
                        break;
                case O_COLLECTION:
                        o->collection = optarg;
                        break;
                case O_CHUNK:
                        if (vcdc_cli_int("snapshot", "--chunk", optarg, 1,
                                         100000, "expected 1..100000",
                                         &n) == -1)
                                return VCDC_CLI_USAGE;
                        o->chunk = (size_t)n;
                        break;
                case O_MAX_RATE:
                        if (vcdc_cli_double("snapshot", "--max-rate", optarg,
                                            0.001, 1e12,
                                            "expected records per second "
                                            "> 0",
                                            &o->max_rate) == -1)
                                return VCDC_CLI_USAGE;
                        break;
                case O_WAIT:
                        if (vcdc_cli_int("snapshot", "--wait", optarg, 1,
                                         86400, "expected seconds 1..86400",
                                         &n) == -1)
                                return VCDC_CLI_USAGE;
                        o->wait_ms = n * 1000;
                        break;
                case O_SET_LAG:
                        o->set_compaction_lag = 1;
                        break;
                case O_CONTROL:
                        o->control_topic = optarg;
                        break;
                case O_TIMEOUT:
                        if (vcdc_cli_int("snapshot", "--timeout-ms", optarg, 1,
                                         3600000, "expected 1..3600000",
                                         &n) == -1)
                                return VCDC_CLI_USAGE;
                        o->timeout_ms = (int)n;
                        break;
                case O_JSON:
                        *jsonp = 1;
                        break;
                case 'X':
                case 'F':
                case 'v':
                case 'q':
                        if (vcdc_conf_common_opt(conf, opt, optarg, errstr,
                                                 sizeof(errstr))) {
                                fprintf(stderr, "vcdc snapshot: %s\n", errstr);
                                return VCDC_CLI_USAGE;
                        }
                        break;
                case 'h':
                        usage(stdout);
                        return -1;
                default:
                        usage(stderr);
                        return VCDC_CLI_USAGE;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "vcdc snapshot: unexpected argument \"%s\"\n",
                        argv[optind]);
                return VCDC_CLI_USAGE;
        }
        if (!o->from_url || !o->topic || !o->old_group || !*brokersp ||
            !**brokersp) {
                fprintf(stderr, "vcdc snapshot: --from, -t, --old-group and "
                                "-b (or VCDC_BROKERS) are required (--help)\n");
                return VCDC_CLI_USAGE;
        }
        if (vcdc_conf_set(conf, "bootstrap.servers", *brokersp, errstr,
                          sizeof(errstr)) == -1) {
                fprintf(stderr, "vcdc snapshot: %s\n", errstr);
                return VCDC_CLI_USAGE;
        }
        rd_kafka_conf_set_log_cb(vcdc_conf_kafka(conf), vcdc_log_rdkafka_cb);
        return 0;
}

static void print_summary(const vcdc_snapshot_result_t *res, int json) {
        json_t *root;
        char *text;

        if (!json) {
                printf("run         %s\n", res->run);
                printf("records     %llu\n", (unsigned long long)res->records);
                printf("chunks      %llu\n", (unsigned long long)res->chunks);
                printf("superseded  %llu\n",
                       (unsigned long long)res->superseded);
                printf("repairs     %llu\n", (unsigned long long)res->repairs);
                if (res->resumed_chunk >= 0)
                        printf("resumed     at chunk %lld (%llu ids read "
                               "again)\n",
                               (long long)res->resumed_chunk,
                               (unsigned long long)res->resolved);
                printf("seconds     %.2f\n", res->seconds);
                printf("finished    %s\n", res->finished ? "yes" : "no");
                return;
        }
        root = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:f, s:b}", "run",
                         res->run, "records", (json_int_t)res->records,
                         "chunks", (json_int_t)res->chunks, "superseded",
                         (json_int_t)res->superseded, "repairs",
                         (json_int_t)res->repairs, "resolved",
                         (json_int_t)res->resolved, "seconds", res->seconds,
                         "finished", res->finished);
        if (root)
                json_object_set_new(root, "resumed_chunk",
                                    res->resumed_chunk >= 0
                                            ? json_integer(res->resumed_chunk)
                                            : json_null());
        if (root && (text = json_dumps(root, JSON_COMPACT))) {
                printf("%s\n", text);
                free(text);
        }
        json_decref(root);
}

int vcdc_cmd_snapshot(int argc, char **argv) {
        vcdc_snapshot_opts_t o = {.stop = &stop};
        vcdc_snapshot_result_t res;
        const char *brokers = getenv("VCDC_BROKERS");
        struct sigaction sa;
        vcdc_conf_t *conf;
        char errstr[1024];
        int json = 0, rc;

        if (!(conf = vcdc_conf_new())) {
                fprintf(stderr, "vcdc snapshot: out of memory\n");
                return VCDC_SNAPSHOT_FAILED;
        }
        if ((rc = parse(argc, argv, conf, &o, &brokers, &json))) {
                vcdc_conf_destroy(conf);
                return rc == -1 ? 0 : rc;
        }
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_signal;
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        rc = vcdc_snapshot_run(conf, &o, &res, errstr, sizeof(errstr));
        if (rc != VCDC_SNAPSHOT_DONE)
                VCDC_ERR("snapshot", "%s", errstr);
        if (rc == VCDC_SNAPSHOT_DONE || rc == VCDC_SNAPSHOT_FAILED)
                print_summary(&res, json);
        vcdc_conf_destroy(conf);
        return rc;
}
