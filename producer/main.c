/*
 * vcdc-producer - publish vector changes (JSON Lines or fvecs) into Kafka.
 * Parses, starts, runs, stops: the work is the library's.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "clock.h"
#include "conf.h"
#include "inpipe.h"
#include "input.h"
#include "log.h"
#include "producer.h"

static volatile sig_atomic_t run = 1;

static void on_signal(int sig) {
        (void)sig;
        run = 0;
}

/* The bad lines an --on-error skip run reports again at its end. */
#define SKIPPED_KEPT 1000

typedef struct cli_s {
        const char *brokers, *topic, *collection, *ids_path;
        vcdc_input_format_t format;
        int format_set;
        size_t dim;
        int create_topic, allow_retention, skip;
        char **files;
        int file_cnt;
        char *skipped[SKIPPED_KEPT];
        size_t skipped_cnt;
} cli_t;

static void usage(FILE *fp) {
        fprintf(fp,
                "Usage: vcdc-producer -b BROKERS -t TOPIC [options] "
                "[FILE...]\n"
                "Publishes vector changes into a Kafka topic as Avro "
                "records.\n"
                "FILE is JSON Lines (default) or fvecs; none or - reads "
                "stdin.\n\n"
                "  -b BROKERS          bootstrap servers (default: "
                "$VCDC_BROKERS)\n"
                "  -t TOPIC            topic to write\n"
                "  -f jsonl|fvecs      input format (default: by file name, "
                "else jsonl)\n"
                "  -c COLLECTION       collection of records that name none "
                "(required for fvecs)\n"
                "  --ids FILE          fvecs: ids, one a line (default: row "
                "numbers)\n"
                "  --dim N             require this dimension\n"
                "  --on-error stop|skip  a bad line stops the run (default) "
                "or is skipped\n"
                "  --create-topic      create the topic, compacted, when "
                "missing\n"
                "  --partitions N      partitions of a created topic "
                "(default 6)\n"
                "  --replication N     replication of a created topic "
                "(default: broker's)\n"
                "  --allow-retention   write into a topic that is not "
                "compacted\n"
                "  --schema-id N       Confluent framing with this schema "
                "id\n"
                "  -X key=value        librdkafka or vcdc.* setting\n"
                "  -F FILE             properties file of such settings\n"
                "  -v, -q              more, less logging\n"
                "  --help-conf         list the vcdc.* settings\n\n"
                "Exit status: 0 when every accepted record was acknowledged "
                "by Kafka,\n1 otherwise (bad input with --on-error stop, "
                "delivery failures),\n64 on a usage or configuration "
                "error.\n");
}

static int parse_args(cli_t *cli, vcdc_conf_t *conf, int argc, char **argv) {
        enum { O_IDS = 256, O_DIM, O_ON_ERROR, O_CREATE, O_PARTITIONS,
               O_REPLICATION, O_ALLOW_RETENTION, O_SCHEMA_ID, O_HELP_CONF };
        static const struct option longopts[] = {
                {"ids", required_argument, NULL, O_IDS},
                {"dim", required_argument, NULL, O_DIM},
                {"on-error", required_argument, NULL, O_ON_ERROR},
                {"create-topic", no_argument, NULL, O_CREATE},
                {"partitions", required_argument, NULL, O_PARTITIONS},
                {"replication", required_argument, NULL, O_REPLICATION},
                {"allow-retention", no_argument, NULL, O_ALLOW_RETENTION},
                {"schema-id", required_argument, NULL, O_SCHEMA_ID},
                {"help-conf", no_argument, NULL, O_HELP_CONF},
                {"help", no_argument, NULL, 'h'},
                {NULL, 0, NULL, 0},
        };
        char errstr[512];
        const char *key;
        char *end;
        int opt;

        cli->brokers = getenv("VCDC_BROKERS");
        while ((opt = getopt_long(argc, argv, "b:t:f:c:X:F:vqh", longopts,
                                  NULL)) != -1) {
                key = NULL;
                switch (opt) {
                case 'b':
                        cli->brokers = optarg;
                        break;
                case 't':
                        cli->topic = optarg;
                        break;
                case 'f':
                        if (!strcmp(optarg, "jsonl"))
                                cli->format = VCDC_INPUT_JSONL;
                        else if (!strcmp(optarg, "fvecs"))
                                cli->format = VCDC_INPUT_FVECS;
                        else {
                                fprintf(stderr,
                                        "vcdc-producer: -f %s: expected jsonl "
                                        "or fvecs\n",
                                        optarg);
                                return -1;
                        }
                        cli->format_set = 1;
                        break;
                case 'c':
                        cli->collection = optarg;
                        break;
                case O_IDS:
                        cli->ids_path = optarg;
                        break;
                case O_DIM: {
                        long v;
                        errno = 0;
                        v = strtol(optarg, &end, 10);
                        if (end == optarg || *end || errno || v < 1 ||
                            v > VCDC_DIM_MAX_DEFAULT * 16) {
                                fprintf(stderr,
                                        "vcdc-producer: --dim %s: expected a "
                                        "positive integer\n",
                                        optarg);
                                return -1;
                        }
                        cli->dim = (size_t)v;
                        break;
                }
                case O_ON_ERROR:
                        key = "vcdc.on.error";
                        break;
                case O_CREATE:
                        cli->create_topic = 1;
                        break;
                case O_PARTITIONS:
                        key = "vcdc.topic.partitions";
                        break;
                case O_REPLICATION:
                        key = "vcdc.topic.replication";
                        break;
                case O_ALLOW_RETENTION:
                        cli->allow_retention = 1;
                        break;
                case O_SCHEMA_ID:
                        key = "vcdc.schema.id";
                        break;
                case 'X':
                case 'F':
                case 'v':
                case 'q':
                        if (vcdc_conf_common_opt(conf, opt, optarg, errstr,
                                                 sizeof(errstr))) {
                                fprintf(stderr, "vcdc-producer: %s\n",
                                        errstr);
                                return -1;
                        }
                        break;
                case O_HELP_CONF:
                        vcdc_conf_print_help(stdout);
                        exit(0);
                case 'h':
                        usage(stdout);
                        exit(0);
                default:
                        usage(stderr);
                        return -1;
                }
                if (key && vcdc_conf_set(conf, key, optarg, errstr,
                                         sizeof(errstr)) == -1) {
                        fprintf(stderr, "vcdc-producer: %s\n", errstr);
                        return -1;
                }
        }
        if (!cli->brokers || !*cli->brokers) {
                fprintf(stderr, "vcdc-producer: no brokers: pass -b or set "
                                "VCDC_BROKERS\n");
                return -1;
        }
        if (!cli->topic) {
                fprintf(stderr, "vcdc-producer: no topic: pass -t TOPIC\n");
                return -1;
        }
        if (vcdc_conf_set(conf, "bootstrap.servers", cli->brokers, errstr,
                          sizeof(errstr)) == -1) {
                fprintf(stderr, "vcdc-producer: -b %s: %s\n", cli->brokers,
                        errstr);
                return -1;
        }
        if (cli->dim > (size_t)vcdc_conf_int(conf, "vcdc.max.dim")) {
                fprintf(stderr,
                        "vcdc-producer: --dim %zu is more than vcdc.max.dim "
                        "(%lld)\n",
                        cli->dim,
                        (long long)vcdc_conf_int(conf, "vcdc.max.dim"));
                return -1;
        }
        cli->skip = !strcmp(vcdc_conf_str(conf, "vcdc.on.error"), "skip");
        cli->files = argv + optind;
        cli->file_cnt = argc - optind;
        return 0;
}

static vcdc_input_format_t format_of(const cli_t *cli, const char *path) {
        size_t len = strlen(path);

        if (cli->format_set)
                return cli->format;
        if (len > 6 && !strcmp(path + len - 6, ".fvecs"))
                return VCDC_INPUT_FVECS;
        return VCDC_INPUT_JSONL;
}

static void progress(vcdc_producer_t *p, double start, int final) {
        vcdc_producer_stats_t st;
        double el = (double)vcdc_clock_ms() / 1000.0 - start;

        vcdc_producer_stats(p, &st);
        VCDC_NOTICE("producer",
                    "%s%llu records sent, %llu acked, %llu failed, "
                    "%.0f records/s, %.1f MB, %.1f s",
                    final ? "done: " : "", (unsigned long long)st.sent,
                    (unsigned long long)st.acked,
                    (unsigned long long)st.failed,
                    el > 0 ? (double)st.sent / el : 0.0,
                    (double)st.bytes / 1e6, el);
}

/* A line or record that can never be published (errstr: path:line: what):
 * stops the run (returns -1) or, with --on-error skip, is reported now and
 * again at the end (returns 0). */
static int bad_input(cli_t *cli, const char *errstr) {
        if (!cli->skip) {
                VCDC_ERR("producer", "%s (stopping: --on-error stop)", errstr);
                return -1;
        }
        VCDC_WARN("producer", "skipped %s", errstr);
        if (cli->skipped_cnt < SKIPPED_KEPT)
                cli->skipped[cli->skipped_cnt] = strdup(errstr);
        cli->skipped_cnt++;
        return 0;
}

/* An input read on this thread, or on a worker (ip). */
typedef struct source_s {
        vcdc_input_t *in;
        vcdc_inpipe_t *ip;
} source_t;

static int source_next(source_t *src, vcdc_record_t *rec, char *errstr,
                       size_t errstr_size) {
        return src->ip ? vcdc_inpipe_next(src->ip, rec, errstr, errstr_size)
                       : vcdc_input_next(src->in, rec, errstr, errstr_size);
}

static size_t source_line(const source_t *src) {
        return src->ip ? vcdc_inpipe_line(src->ip) : vcdc_input_line(src->in);
}

static size_t source_dim(const source_t *src) {
        return src->ip ? vcdc_inpipe_dim(src->ip) : vcdc_input_dim(src->in);
}

static void source_close(source_t *src) {
        if (src->ip)
                vcdc_inpipe_destroy(src->ip); /* closes src->in */
        else
                vcdc_input_close(src->in);
}

/* Publishes one input file. JSON Lines are read and parsed by a worker
 * thread while this one produces (inpipe.h), so that parsing overlaps
 * with producing where a core is free. fvecs records cost a copy to read,
 * and handing them over between threads cost more than it saved (0.82 to
 * 0.89 of the rate on one thread, in alternated runs on a 2-core machine
 * shared with the broker), so they are read here. Returns 0 to go on, -1
 * to stop the run. */
static int publish_file(cli_t *cli, const vcdc_conf_t *conf,
                        vcdc_producer_t *p, const char *path, size_t *dimp,
                        double start, double *last_progress) {
        vcdc_input_opts_t opts = {0};
        source_t src = {NULL, NULL};
        vcdc_record_t rec;
        char errstr[1024];
        double progress_s = (double)vcdc_conf_int(conf, "vcdc.progress.ms") /
                            1000.0;
        int r, ret = 0;

        opts.format = format_of(cli, path);
        opts.collection = cli->collection;
        opts.ids_path = cli->ids_path;
        opts.dim = *dimp;
        opts.max_dim = (size_t)vcdc_conf_int(conf, "vcdc.max.dim");
        if (!(src.in = vcdc_input_open(path, &opts, errstr,
                                       sizeof(errstr)))) {
                VCDC_ERR("producer", "%s", errstr);
                return -1;
        }
        if (opts.format == VCDC_INPUT_JSONL &&
            !(src.ip = vcdc_inpipe_new(src.in, errstr, sizeof(errstr)))) {
                VCDC_ERR("producer", "%s", errstr);
                vcdc_input_close(src.in);
                return -1;
        }
        vcdc_record_init(&rec);
        while (run) {
                r = source_next(&src, &rec, errstr, sizeof(errstr));
                if (r == VCDC_INPUT_EOF)
                        break;
                if (r == VCDC_INPUT_IOERR) {
                        if (!run)
                                break; /* a signal interrupted the read */
                        VCDC_ERR("producer", "%s", errstr);
                        ret = -1;
                        break;
                }
                if (r == VCDC_INPUT_BAD) {
                        if ((ret = bad_input(cli, errstr)) == -1)
                                break;
                        continue;
                }
                r = vcdc_producer_send(p, &rec, errstr, sizeof(errstr));
                if (r) {
                        char where[sizeof(errstr) + 64];

                        snprintf(where, sizeof(where), "%s:%zu: %s",
                                 strcmp(path, "-") ? path : "<stdin>",
                                 source_line(&src), errstr);
                        if (r == VCDC_PRODUCER_ERR_RECORD) {
                                if ((ret = bad_input(cli, where)) == -1)
                                        break;
                                continue;
                        }
                        VCDC_ERR("producer", "%s", where);
                        ret = -1;
                        break;
                }
                if (progress_s > 0 && (double)vcdc_clock_ms() / 1000.0 - *last_progress >= progress_s) {
                        *last_progress = (double)vcdc_clock_ms() / 1000.0;
                        progress(p, start, 0);
                }
        }
        *dimp = source_dim(&src);
        vcdc_record_clear(&rec);
        source_close(&src);
        return ret;
}

int main(int argc, char **argv) {
        cli_t cli = {0};
        vcdc_conf_t *conf;
        vcdc_producer_t *p = NULL;
        vcdc_producer_stats_t st;
        struct sigaction sa;
        char errstr[1024];
        static char *stdin_only[] = {"-"};
        double start, last_progress;
        size_t dim, i;
        int f, stopped = 0, exit_code = 1;

#ifdef __GLIBC__
        /* Every message is allocated here and freed once Kafka acks it, up
         * to librdkafka's queue of them in flight. By default glibc gives
         * the freed top of the heap back to the kernel as soon as 128 KiB
         * are free, then faults it in again, zeroed page by page, for the
         * next messages. Keep what was freed (setting the trim threshold
         * fixes the mmap threshold too: keep librdkafka's large request
         * buffers on the heap as well). */
        mallopt(M_TRIM_THRESHOLD, 256 << 20);
        mallopt(M_MMAP_THRESHOLD, 16 << 20);
#endif
        if (!(conf = vcdc_conf_new())) {
                fprintf(stderr, "vcdc-producer: out of memory\n");
                return 1;
        }
        if (parse_args(&cli, conf, argc, argv) == -1) {
                vcdc_conf_destroy(conf);
                return 64;
        }
        if (!(p = vcdc_producer_new(conf, cli.topic, errstr, sizeof(errstr)))) {
                fprintf(stderr, "vcdc-producer: %s\n", errstr);
                vcdc_conf_destroy(conf);
                return 64;
        }
        if (vcdc_producer_ensure_topic(p, cli.create_topic,
                                       cli.allow_retention, errstr,
                                       sizeof(errstr)) == -1) {
                VCDC_ERR("producer", "%s", errstr);
                goto done;
        }

        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_signal;
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);

        if (!cli.file_cnt) {
                cli.files = stdin_only;
                cli.file_cnt = 1;
        }
        start = last_progress = (double)vcdc_clock_ms() / 1000.0;
        dim = cli.dim;
        for (f = 0; f < cli.file_cnt && run && !stopped; f++)
                if (publish_file(&cli, conf, p, cli.files[f], &dim, start,
                                 &last_progress) == -1)
                        stopped = 1;
        if (!run) {
                VCDC_WARN("producer", "interrupted: flushing what was sent");
                stopped = 1;
        }

        /* Whatever happened, what was accepted is delivered before exit. */
        if (vcdc_producer_flush(p, (int)vcdc_conf_int(conf,
                                                      "vcdc.flush.timeout.ms"),
                                errstr, sizeof(errstr)) == -1) {
                VCDC_ERR("producer", "%s", errstr);
                stopped = 1;
        }
        progress(p, start, 1);
        vcdc_producer_stats(p, &st);
        if (cli.skipped_cnt) {
                VCDC_WARN("producer", "%zu bad line(s) skipped:",
                          cli.skipped_cnt);
                for (i = 0; i < cli.skipped_cnt && i < SKIPPED_KEPT; i++)
                        VCDC_WARN("producer", "  %s", cli.skipped[i]);
                if (cli.skipped_cnt > SKIPPED_KEPT)
                        VCDC_WARN("producer", "  ... and %zu more",
                                  cli.skipped_cnt - SKIPPED_KEPT);
        }
        fprintf(stderr,
                "vcdc-producer: published %llu, skipped %zu, failed %llu\n",
                (unsigned long long)st.acked, cli.skipped_cnt,
                (unsigned long long)(st.sent - st.acked));
        exit_code = stopped ? 1 : 0;
done:
        for (i = 0; i < cli.skipped_cnt && i < SKIPPED_KEPT; i++)
                free(cli.skipped[i]);
        vcdc_producer_destroy(p);
        vcdc_conf_destroy(conf);
        return exit_code;
}
