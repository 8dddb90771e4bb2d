/*
 * vcdc-capture - publish a PostgreSQL table's committed changes (initial
 * snapshot, then logical decoding) as vcdc change records. Parses the
 * command line and runs the capture (capture.h); nothing else.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture.h"
#include "conf.h"
#include "log.h"

static volatile sig_atomic_t run = 1;

static void on_signal(int sig) {
        (void)sig;
        run = 0;
}

static void usage(FILE *fp) {
        fprintf(fp,
                "Usage: vcdc-capture --from 'pgvector://USER@HOST:PORT/DB?"
                "table=NAME' -t TOPIC [options]\n"
                "       vcdc-capture --from URL --drop-slot [--slot NAME]\n"
                "Publishes a table's rows (an initial snapshot) and then its "
                "committed changes\n(logical decoding) as vcdc change "
                "records, until stopped.\n\n"
                "  -b BROKERS          bootstrap servers (default: "
                "$VCDC_BROKERS)\n"
                "  -t TOPIC            topic to write\n"
                "  --from URL          the source table; ?sslmode= passes "
                "to libpq\n"
                "  --slot NAME         replication slot (default: "
                "vcdc_TABLE, lower case)\n"
                "  --publication NAME  publication, created FOR TABLE when "
                "missing\n"
                "                      (default: vcdc_TABLE)\n"
                "  --collection C      the records' collection (default: "
                "the table's name)\n"
                "  --id-column C       default id (text, varchar, integers, "
                "uuid)\n"
                "  --vector-column C   default embedding (vector or "
                "halfvec)\n"
                "  --metadata-column C default metadata (jsonb objects), if "
                "the table has it\n"
                "  --document-column C default document (text), if the "
                "table has it\n"
                "  --create-topic      create the topic, compacted, when "
                "missing\n"
                "  --partitions N      partitions of a created topic "
                "(default 6)\n"
                "  --on-bad-row stop|delete  a row no record can hold (NULL "
                "vector, metadata\n"
                "                      not an object...) stops the capture "
                "(default) or is\n"
                "                      published as a delete of its id\n"
                "  --on-truncate stop|skip  TRUNCATE of the table stops the "
                "capture (default),\n"
                "                      or is skipped (you empty the targets "
                "yourself)\n"
                "  --exit-at-end       stop once everything written before "
                "streaming began is\n"
                "                      published and confirmed\n"
                "  --drop-slot         drop the replication slot and exit "
                "(the end of a\n"
                "                      migration: an abandoned slot makes "
                "PostgreSQL keep WAL)\n"
                "  --metrics-port N    serve Prometheus metrics on "
                "127.0.0.1:N\n"
                "  -X key=value        librdkafka or vcdc.* setting\n"
                "  -F FILE             properties file of such settings\n"
                "  -v, -q              more, less logging\n"
                "  --help-conf         list the vcdc.* settings\n\n"
                "The password: VCDC_PG_PASSWORD, or the file "
                "VCDC_PG_PASSWORD_FILE names (or\nlibpq's PGPASSWORD, "
                ".pgpass). The role needs REPLICATION and SELECT on the "
                "table;\nthe server wal_level = logical.\n"
                "Exit status: 0 on a clean stop (SIGTERM, SIGINT, "
                "--exit-at-end, --drop-slot),\n1 on a fatal error, 64 on a "
                "usage or configuration error, 75 when the\ndatabase or "
                "Kafka cannot be reached at start-up (try again later).\n");
}

static int parse_port(const char *s, int *port) {
        char *end;
        long v;

        errno = 0;
        v = strtol(s, &end, 10);
        if (end == s || *end || errno || v < 0 || v > 65535)
                return -1;
        *port = (int)v;
        return 0;
}

int main(int argc, char **argv) {
        enum {
                O_FROM = 256,
                O_SLOT,
                O_PUBLICATION,
                O_COLLECTION,
                O_ID_COL,
                O_VEC_COL,
                O_MD_COL,
                O_DOC_COL,
                O_CREATE,
                O_PARTITIONS,
                O_BAD_ROW,
                O_TRUNCATE,
                O_EXIT_AT_END,
                O_DROP_SLOT,
                O_METRICS_PORT,
                O_HELP_CONF
        };
        static const struct option longopts[] = {
                {"from", required_argument, NULL, O_FROM},
                {"slot", required_argument, NULL, O_SLOT},
                {"publication", required_argument, NULL, O_PUBLICATION},
                {"collection", required_argument, NULL, O_COLLECTION},
                {"id-column", required_argument, NULL, O_ID_COL},
                {"vector-column", required_argument, NULL, O_VEC_COL},
                {"metadata-column", required_argument, NULL, O_MD_COL},
                {"document-column", required_argument, NULL, O_DOC_COL},
                {"create-topic", no_argument, NULL, O_CREATE},
                {"partitions", required_argument, NULL, O_PARTITIONS},
                {"on-bad-row", required_argument, NULL, O_BAD_ROW},
                {"on-truncate", required_argument, NULL, O_TRUNCATE},
                {"exit-at-end", no_argument, NULL, O_EXIT_AT_END},
                {"drop-slot", no_argument, NULL, O_DROP_SLOT},
                {"metrics-port", required_argument, NULL, O_METRICS_PORT},
                {"help-conf", no_argument, NULL, O_HELP_CONF},
                {"help", no_argument, NULL, 'h'},
                {NULL, 0, NULL, 0},
        };
        vcdc_capture_opts_t opts = {.metrics_port = -1};
        const char *brokers = getenv("VCDC_BROKERS");
        vcdc_capture_t *cap;
        vcdc_conf_t *conf;
        struct sigaction sa;
        char errstr[1024];
        int opt, code;

        if (!(conf = vcdc_conf_new())) {
                fprintf(stderr, "vcdc-capture: out of memory\n");
                return 1;
        }
        while ((opt = getopt_long(argc, argv, "b:t:X:F:vqh", longopts, NULL)) !=
               -1) {
                switch (opt) {
                case 'b':
                        brokers = optarg;
                        break;
                case 't':
                        opts.topic = optarg;
                        break;
                case O_FROM:
                        opts.source_url = optarg;
                        break;
                case O_SLOT:
                        opts.slot = optarg;
                        break;
                case O_PUBLICATION:
                        opts.publication = optarg;
                        break;
                case O_COLLECTION:
                        opts.collection = optarg;
                        break;
                case O_ID_COL:
                        opts.id_column = optarg;
                        break;
                case O_VEC_COL:
                        opts.vector_column = optarg;
                        break;
                case O_MD_COL:
                        opts.metadata_column = optarg;
                        break;
                case O_DOC_COL:
                        opts.document_column = optarg;
                        break;
                case O_CREATE:
                        opts.create_topic = 1;
                        break;
                case O_PARTITIONS:
                        if (vcdc_conf_set(conf, "vcdc.topic.partitions", optarg,
                                          errstr, sizeof(errstr)) == -1) {
                                fprintf(stderr, "vcdc-capture: %s\n", errstr);
                                goto usage_err;
                        }
                        break;
                case O_BAD_ROW:
                        if (!strcmp(optarg, "stop"))
                                opts.on_bad_row = VCDC_BAD_ROW_STOP;
                        else if (!strcmp(optarg, "delete"))
                                opts.on_bad_row = VCDC_BAD_ROW_DELETE;
                        else {
                                fprintf(stderr,
                                        "vcdc-capture: --on-bad-row %s: "
                                        "expected stop or delete\n",
                                        optarg);
                                goto usage_err;
                        }
                        break;
                case O_TRUNCATE:
                        if (!strcmp(optarg, "stop"))
                                opts.on_truncate = VCDC_TRUNCATE_STOP;
                        else if (!strcmp(optarg, "skip"))
                                opts.on_truncate = VCDC_TRUNCATE_SKIP;
                        else {
                                fprintf(stderr,
                                        "vcdc-capture: --on-truncate %s: "
                                        "expected stop or skip\n",
                                        optarg);
                                goto usage_err;
                        }
                        break;
                case O_EXIT_AT_END:
                        opts.exit_at_end = 1;
                        break;
                case O_DROP_SLOT:
                        opts.drop_slot = 1;
                        break;
                case O_METRICS_PORT:
                        if (parse_port(optarg, &opts.metrics_port) == -1) {
                                fprintf(stderr,
                                        "vcdc-capture: --metrics-port %s: "
                                        "expected 0..65535\n",
                                        optarg);
                                goto usage_err;
                        }
                        break;
                case 'X':
                case 'F':
                case 'v':
                case 'q':
                        if (vcdc_conf_common_opt(conf, opt, optarg, errstr,
                                                 sizeof(errstr))) {
                                fprintf(stderr, "vcdc-capture: %s\n", errstr);
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
        }
        if (optind < argc) {
                fprintf(stderr, "vcdc-capture: unexpected argument \"%s\"\n",
                        argv[optind]);
                goto usage_err;
        }
        if (!opts.source_url ||
            (!opts.drop_slot && (!brokers || !*brokers || !opts.topic))) {
                fprintf(stderr,
                        "vcdc-capture: --from, -t and -b (or VCDC_BROKERS) "
                        "are required (--help)\n");
                goto usage_err;
        }
        if (brokers && *brokers &&
            vcdc_conf_set(conf, "bootstrap.servers", brokers, errstr,
                          sizeof(errstr)) == -1) {
                fprintf(stderr, "vcdc-capture: %s\n", errstr);
                goto usage_err;
        }

        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_signal;
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);

        if (!(cap = vcdc_capture_new(conf, &opts, &code, errstr,
                                     sizeof(errstr)))) {
                fprintf(stderr, "vcdc-capture: %s\n", errstr);
                vcdc_conf_destroy(conf);
                return code;
        }
        code = vcdc_capture_run(cap, &run);
        vcdc_capture_destroy(cap);
        vcdc_conf_destroy(conf);
        return code;

usage_err:
        vcdc_conf_destroy(conf);
        return 64;
}
