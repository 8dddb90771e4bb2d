/*
 * vcdc - model test: mock cluster, read-back clients, consumer processes.
 */
#define _GNU_SOURCE /* posix_spawn_file_actions_addclosefrom_np */
#include "kit.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "consumer.h"
#include "log.h"
#include "memdb.h"
#include "refcons.h"

#define READ_WAIT_MS 30000 /* a hang guard for reading a topic back */

extern char **environ;

static char exe_path[4096];

int64_t kit_now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void kit_sleep_ms(int ms) {
        struct timespec ts = {.tv_sec = ms / 1000,
                              .tv_nsec = (long)(ms % 1000) * 1000000L};

        while (ms > 0 && nanosleep(&ts, &ts) == -1 && errno == EINTR)
                ;
}

int kit_small(void) {
        const char *v = getenv("VCDC_TEST_SMALL");

        return v && *v && strcmp(v, "0");
}

uint64_t kit_env_u64(const char *name, uint64_t def) {
        const char *v = getenv(name);
        char *end;
        unsigned long long n;

        if (!v || !*v)
                return def;
        errno = 0;
        n = strtoull(v, &end, 10);
        if (errno || *end) {
                fprintf(stderr, "%s=%s: not a number\n", name, v);
                exit(2);
        }
        return n;
}

void kit_print_lines(const char *text) {
        const char *nl;

        while (text && *text) {
                nl = strchr(text, '\n');
                printf("%.*s\n",
                       (int)(nl ? (size_t)(nl - text) : strlen(text)), text);
                text = nl ? nl + 1 : "";
        }
        fflush(stdout);
}

static int conf_set(rd_kafka_conf_t *rkc, const char *name, const char *value,
                    char *errstr, size_t errstr_size) {
        char err[256];

        if (rd_kafka_conf_set(rkc, name, value, err, sizeof(err)) ==
            RD_KAFKA_CONF_OK)
                return 0;
        snprintf(errstr, errstr_size, "%s=%s: %s", name, value, err);
        return -1;
}

int kit_mock_start(kit_mock_t *m, int brokers, const char *topic,
                   int partitions, char *errstr, size_t errstr_size) {
        rd_kafka_conf_t *rkc = rd_kafka_conf_new();
        char dlq[300];
        int32_t p;

        memset(m, 0, sizeof(*m));
        rd_kafka_conf_set_log_cb(rkc, vcdc_log_rdkafka_cb);
        if (!(m->rk = rd_kafka_new(RD_KAFKA_PRODUCER, rkc, errstr,
                                   errstr_size))) {
                rd_kafka_conf_destroy(rkc);
                return -1;
        }
        if (!(m->mc = rd_kafka_mock_cluster_new(m->rk, brokers))) {
                snprintf(errstr, errstr_size, "cannot start a mock cluster");
                goto err;
        }
        snprintf(m->bootstraps, sizeof(m->bootstraps), "%s",
                 rd_kafka_mock_cluster_bootstraps(m->mc));
        snprintf(dlq, sizeof(dlq), "%s.dlq", topic);
        if (rd_kafka_mock_topic_create(m->mc, topic, partitions, brokers) ||
            rd_kafka_mock_topic_create(m->mc, dlq, 1, brokers)) {
                snprintf(errstr, errstr_size, "cannot create the topics");
                goto err;
        }
        for (p = 0; p < partitions; p++)
                if (rd_kafka_mock_partition_set_leader(m->mc, topic, p,
                                                       1 + p % brokers)) {
                        snprintf(errstr, errstr_size,
                                 "cannot set partition leaders");
                        goto err;
                }
        return 0;
err:
        kit_mock_stop(m);
        return -1;
}

void kit_mock_stop(kit_mock_t *m) {
        if (m->mc)
                rd_kafka_mock_cluster_destroy(m->mc);
        if (m->rk)
                rd_kafka_destroy(m->rk);
        memset(m, 0, sizeof(*m));
}

/* A consumer handle for assign() and offset queries, never subscribed. */
static rd_kafka_t *plain_consumer(const char *bootstraps, const char *group,
                                  char *errstr, size_t errstr_size) {
        rd_kafka_conf_t *rkc = rd_kafka_conf_new();
        rd_kafka_t *rk;

        rd_kafka_conf_set_log_cb(rkc, vcdc_log_rdkafka_cb);
        if (conf_set(rkc, "bootstrap.servers", bootstraps, errstr,
                     errstr_size) ||
            conf_set(rkc, "group.id", group, errstr, errstr_size) ||
            conf_set(rkc, "enable.auto.commit", "false", errstr,
                     errstr_size) ||
            conf_set(rkc, "log.connection.close", "false", errstr,
                     errstr_size) ||
            conf_set(rkc, "fetch.wait.max.ms", "50", errstr, errstr_size) ||
            !(rk = rd_kafka_new(RD_KAFKA_CONSUMER, rkc, errstr,
                                errstr_size))) {
                rd_kafka_conf_destroy(rkc);
                return NULL;
        }
        rd_kafka_poll_set_consumer(rk);
        return rk;
}

rd_kafka_t *kit_client(const char *bootstraps, const char *group,
                       char *errstr, size_t errstr_size) {
        return plain_consumer(bootstraps, group, errstr, errstr_size);
}

int kit_commit_zero(rd_kafka_t *rk, const char *topic, int partitions,
                    char *errstr, size_t errstr_size) {
        rd_kafka_topic_partition_list_t *offsets =
                rd_kafka_topic_partition_list_new(partitions);
        rd_kafka_resp_err_t err;
        int32_t p;

        for (p = 0; p < partitions; p++)
                rd_kafka_topic_partition_list_add(offsets, topic, p)->offset =
                        0;
        err = rd_kafka_commit(rk, offsets, 0 /*sync*/);
        rd_kafka_topic_partition_list_destroy(offsets);
        if (err) {
                snprintf(errstr, errstr_size, "commit: %s",
                         rd_kafka_err2str(err));
                return -1;
        }
        return 0;
}

int kit_committed(rd_kafka_t *rk, const char *topic, int partitions,
                  int64_t *committed, char *errstr, size_t errstr_size) {
        rd_kafka_topic_partition_list_t *offsets =
                rd_kafka_topic_partition_list_new(partitions);
        rd_kafka_resp_err_t err;
        int32_t p;
        int i;

        for (p = 0; p < partitions; p++) {
                rd_kafka_topic_partition_list_add(offsets, topic, p);
                committed[p] = -1;
        }
        err = rd_kafka_committed(rk, offsets, 5000);
        for (i = 0; !err && i < offsets->cnt; i++)
                if (!offsets->elems[i].err && offsets->elems[i].offset >= 0)
                        committed[offsets->elems[i].partition] =
                                offsets->elems[i].offset;
        rd_kafka_topic_partition_list_destroy(offsets);
        if (err) {
                snprintf(errstr, errstr_size, "committed offsets: %s",
                         rd_kafka_err2str(err));
                return -1;
        }
        return 0;
}

int kit_log_ends(rd_kafka_t *rk, const char *topic, int partitions,
                 int64_t *ends, char *errstr, size_t errstr_size) {
        rd_kafka_resp_err_t err;
        int64_t lo;
        int32_t p;

        for (p = 0; p < partitions; p++)
                if ((err = rd_kafka_query_watermark_offsets(
                             rk, topic, p, &lo, &ends[p], 5000))) {
                        snprintf(errstr, errstr_size,
                                 "%s [%" PRId32 "]: watermarks: %s", topic, p,
                                 rd_kafka_err2str(err));
                        return -1;
                }
        return 0;
}

static void *dup_bytes(const void *buf, size_t len) {
        void *p;

        if (!buf)
                return NULL;
        if ((p = malloc(len ? len : 1)))
                memcpy(p, buf, len);
        return p;
}

/* A header's value as a number, or -1. */
static int64_t header_num(rd_kafka_headers_t *hdrs, const char *name) {
        const void *v;
        size_t size;
        char buf[32], *end;
        long long n;

        if (!hdrs || rd_kafka_header_get_last(hdrs, name, &v, &size) ||
            !v || size == 0 || size >= sizeof(buf))
                return -1;
        memcpy(buf, v, size);
        buf[size] = '\0';
        n = strtoll(buf, &end, 10);
        return *end || n < 0 ? -1 : (int64_t)n;
}

static int cmp_msg(const void *a, const void *b) {
        const kit_msg_t *x = a, *y = b;

        if (x->partition != y->partition)
                return x->partition < y->partition ? -1 : 1;
        return x->offset < y->offset ? -1 : x->offset > y->offset;
}

int kit_read_topic(const char *bootstraps, const char *topic, int partitions,
                   kit_msg_t **msgsp, size_t *cntp, char *errstr,
                   size_t errstr_size) {
        rd_kafka_topic_partition_list_t *parts;
        int64_t *ends = calloc((size_t)partitions, sizeof(*ends));
        int64_t *next = calloc((size_t)partitions, sizeof(*next));
        int64_t until = kit_now_ms() + READ_WAIT_MS;
        rd_kafka_message_t *rkm;
        rd_kafka_headers_t *hdrs;
        kit_msg_t *msgs = NULL, *m;
        size_t cnt = 0, cap = 0;
        rd_kafka_t *rk;
        int32_t p;
        int done, r = -1;
        const void *v;
        size_t size;

        *msgsp = NULL;
        *cntp = 0;
        if (!ends || !next ||
            !(rk = plain_consumer(bootstraps, "kit.readback", errstr,
                                  errstr_size))) {
                free(ends);
                free(next);
                return -1;
        }
        if (kit_log_ends(rk, topic, partitions, ends, errstr, errstr_size))
                goto done;
        parts = rd_kafka_topic_partition_list_new(partitions);
        for (p = 0; p < partitions; p++)
                rd_kafka_topic_partition_list_add(parts, topic, p)->offset =
                        RD_KAFKA_OFFSET_BEGINNING;
        rd_kafka_assign(rk, parts);
        rd_kafka_topic_partition_list_destroy(parts);
        for (;;) {
                for (p = 0, done = 1; p < partitions; p++)
                        done &= next[p] >= ends[p];
                if (done)
                        break;
                if (kit_now_ms() > until) {
                        snprintf(errstr, errstr_size,
                                 "reading %s back: the log end not reached "
                                 "in %d ms",
                                 topic, READ_WAIT_MS);
                        goto done;
                }
                if (!(rkm = rd_kafka_consumer_poll(rk, 100 /*ms*/)))
                        continue;
                if (rkm->err || rkm->partition < 0 ||
                    rkm->partition >= partitions ||
                    rkm->offset < next[rkm->partition]) {
                        rd_kafka_message_destroy(rkm);
                        continue;
                }
                if (cnt == cap) {
                        kit_msg_t *n;
                        cap = cap ? cap * 2 : 256;
                        if (!(n = realloc(msgs, cap * sizeof(*n)))) {
                                rd_kafka_message_destroy(rkm);
                                snprintf(errstr, errstr_size,
                                         "out of memory");
                                goto done;
                        }
                        msgs = n;
                }
                m = &msgs[cnt++];
                memset(m, 0, sizeof(*m));
                m->partition = rkm->partition;
                m->offset = rkm->offset;
                m->key = dup_bytes(rkm->key, rkm->key_len);
                m->key_len = rkm->key ? rkm->key_len : 0;
                m->value = dup_bytes(rkm->payload, rkm->len);
                m->len = rkm->payload ? rkm->len : 0;
                hdrs = NULL;
                rd_kafka_message_headers(rkm, &hdrs);
                m->origin_partition =
                        (int32_t)header_num(hdrs, "vcdc.partition");
                m->origin_offset = header_num(hdrs, "vcdc.offset");
                m->snapshot = hdrs && !rd_kafka_header_get_last(
                                              hdrs, "vcdc.snapshot", &v, &size);
                m->repair = hdrs && !rd_kafka_header_get_last(
                                            hdrs, "vcdc.repair", &v, &size);
                if (hdrs &&
                    !rd_kafka_header_get_last(hdrs, "vcdc.topic", &v, &size) &&
                    v && size < sizeof(m->origin_topic)) {
                        memcpy(m->origin_topic, v, size);
                        m->origin_topic[size] = '\0';
                }
                next[rkm->partition] = rkm->offset + 1;
                rd_kafka_message_destroy(rkm);
        }
        if (cnt)
                qsort(msgs, cnt, sizeof(*msgs), cmp_msg);
        *msgsp = msgs;
        *cntp = cnt;
        msgs = NULL;
        r = 0;
done:
        kit_msgs_free(msgs, cnt);
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
        free(ends);
        free(next);
        return r;
}

void kit_msgs_free(kit_msg_t *msgs, size_t cnt) {
        size_t i;

        for (i = 0; msgs && i < cnt; i++) {
                free(msgs[i].key);
                free(msgs[i].value);
        }
        free(msgs);
}

/*
 * Consumer processes.
 */
void kit_set_exe(const char *path) {
        snprintf(exe_path, sizeof(exe_path), "%s", path);
}

int kit_main_init(int argc, char **argv, int *rcp) {
        char exe[4096];
        ssize_t len;
        const char *v;

        if (argc > 1 && !strcmp(argv[1], "--model-consumer")) {
                *rcp = kit_child_main(argc, argv);
                return 1;
        }
        if ((len = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) <= 0) {
                fprintf(stderr, "readlink /proc/self/exe: %s\n",
                        strerror(errno));
                *rcp = 1;
                return 1;
        }
        exe[len] = '\0';
        kit_set_exe(exe);
        vcdc_log_level = 0; /* silent: the faults make expected noise */
        if ((v = getenv("VCDC_TEST_LOG")) && *v &&
            (vcdc_log_level = vcdc_log_level_parse(v)) < 0)
                vcdc_log_level = VCDC_LOG_WARN;
        return 0;
}

pid_t kit_spawn(const kit_spec_t *spec, char *errstr, size_t errstr_size) {
        const char *argv[64];
        char ppid[24];
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t attr;
        sigset_t mask, deflt;
        size_t n = 0, i;
        pid_t pid = -1;
        int rc;

        snprintf(ppid, sizeof(ppid), "%ld", (long)getpid());
        argv[n++] = exe_path;
        argv[n++] = spec->mode ? spec->mode : "--model-consumer";
        argv[n++] = "-p";
        argv[n++] = ppid;
        argv[n++] = "-b";
        argv[n++] = spec->bootstraps;
        argv[n++] = "-t";
        argv[n++] = spec->topic;
        argv[n++] = "-g";
        argv[n++] = spec->group;
        argv[n++] = "-u";
        argv[n++] = spec->sink_url;
        if (spec->collection) {
                argv[n++] = "-c";
                argv[n++] = spec->collection;
        }
        if (spec->exit_at_end)
                argv[n++] = "-e";
        for (i = 0; spec->kv && spec->kv[i] && spec->kv[i + 1]; i += 2) {
                if (n + 4 > sizeof(argv) / sizeof(*argv)) {
                        snprintf(errstr, errstr_size, "too many settings");
                        return -1;
                }
                argv[n++] = "-k";
                argv[n++] = spec->kv[i];
                argv[n++] = spec->kv[i + 1];
        }
        argv[n] = NULL;

        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 2, spec->log_path,
                                         O_WRONLY | O_CREAT | O_APPEND, 0644);
        posix_spawn_file_actions_adddup2(&fa, 2, 1);
        /* Not the test's sockets (the mock brokers') nor its files. */
        posix_spawn_file_actions_addclosefrom_np(&fa, 3);
        posix_spawnattr_init(&attr);
        /* Blocked until the consumer's handler is in place: a SIGTERM
         * right after the start is a stop, not a death. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigemptyset(&deflt);
        sigaddset(&deflt, SIGTERM);
        sigaddset(&deflt, SIGINT);
        sigaddset(&deflt, SIGPIPE);
        posix_spawnattr_setsigmask(&attr, &mask);
        posix_spawnattr_setsigdefault(&attr, &deflt);
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK |
                                                POSIX_SPAWN_SETSIGDEF);
        rc = posix_spawn(&pid, exe_path, &fa, &attr, (char *const *)argv,
                         environ);
        posix_spawnattr_destroy(&attr);
        posix_spawn_file_actions_destroy(&fa);
        if (rc) {
                snprintf(errstr, errstr_size, "spawn %s: %s", exe_path,
                         strerror(rc));
                return -1;
        }
        return pid;
}

int kit_reap(pid_t pid, int timeout_ms, int *statusp) {
        int64_t until = kit_now_ms() + timeout_ms;
        pid_t r;

        for (;;) {
                r = waitpid(pid, statusp, WNOHANG);
                if (r == pid)
                        return 1;
                if (r == -1 && errno != EINTR) {
                        *statusp = 0;
                        return 1; /* not ours, or gone */
                }
                if (kit_now_ms() >= until)
                        return 0;
                kit_sleep_ms(10);
        }
}

void kit_describe_exit(int status, char *buf, size_t size) {
        if (WIFSIGNALED(status)) {
                snprintf(buf, size, "killed by signal %d", WTERMSIG(status));
                return;
        }
        switch (WEXITSTATUS(status)) {
        case KIT_EXIT_OK:
                snprintf(buf, size, "exited 0");
                break;
        case KIT_EXIT_RUN_FAILED:
                snprintf(buf, size,
                         "exited %d: vcdc_consumer_run() returned -1",
                         KIT_EXIT_RUN_FAILED);
                break;
        case KIT_EXIT_NEW_FAILED:
                snprintf(buf, size, "exited %d: vcdc_consumer_new() failed",
                         KIT_EXIT_NEW_FAILED);
                break;
        default:
                snprintf(buf, size, "exited %d", WEXITSTATUS(status));
        }
}

void kit_log_last(const char *path, const char *needle, char *buf,
                  size_t size) {
        char line[1024], last[2][1024];
        int n = 0;
        FILE *fp = fopen(path, "r");

        buf[0] = '\0';
        if (!fp)
                return;
        /* The last two: a consumer's final error often follows its cause. */
        while (fgets(line, sizeof(line), fp))
                if (strstr(line, needle)) {
                        line[strcspn(line, "\n")] = '\0';
                        memcpy(last[n++ % 2], line, sizeof(line));
                }
        fclose(fp);
        if (n >= 2)
                snprintf(buf, size, "%s | %s", last[n % 2],
                         last[(n + 1) % 2]);
        else if (n == 1)
                snprintf(buf, size, "%s", last[0]);
}

static volatile sig_atomic_t child_run = 1;

static void on_signal(int sig) {
        (void)sig;
        child_run = 0;
}

/* The settings every consumer of the tests starts from: quick retries and
 * rebalances; the session outlasts the mock's 3 s wait before it answers
 * the first JoinGroup of an empty group (a member whose session ends in
 * that wait is dropped), and is otherwise as short as that allows. */
static int child_conf(vcdc_conf_t *conf, char *errstr, size_t errstr_size) {
        static const char *const kv[] = {
                "heartbeat.interval.ms", "300",
                "fetch.wait.max.ms", "50",
                "reconnect.backoff.ms", "20",
                "reconnect.backoff.max.ms", "200",
                "retry.backoff.ms", "20",
                "log.connection.close", "false",
                "vcdc.progress.ms", "0",
                "vcdc.retry.backoff.ms", "5",
                "vcdc.retry.backoff.max.ms", "50",
                NULL};
        const char *v;
        size_t i;

        for (i = 0; kv[i]; i += 2)
                if (vcdc_conf_set(conf, kv[i], kv[i + 1], errstr,
                                  errstr_size))
                        return -1;
        if ((v = getenv("VCDC_TEST_DEBUG")) && *v &&
            vcdc_conf_set(conf, "debug", v, errstr, errstr_size))
                return -1;
        return vcdc_conf_set(conf, "session.timeout.ms",
                             kit_small() ? "6000" : "4000", errstr,
                             errstr_size);
}

int kit_child_main(int argc, char **argv) {
        vcdc_consumer_opts_t opts = {.metrics_port = -1};
        vcdc_consumer_stats_t st;
        struct sigaction sa;
        sigset_t mask;
        vcdc_consumer_t *c;
        vcdc_conf_t *conf;
        char errstr[512];
        const char *v;
        int i, r;

        vcdc_log_level = VCDC_LOG_WARN;
        if ((v = getenv("VCDC_TEST_LOG")) && *v &&
            (vcdc_log_level = vcdc_log_level_parse(v)) < 0)
                vcdc_log_level = VCDC_LOG_WARN;
        if (!(conf = vcdc_conf_new()) || memdb_register_sinks() ||
            child_conf(conf, errstr, sizeof(errstr))) {
                fprintf(stderr, "model consumer: set-up failed\n");
                return KIT_EXIT_USAGE;
        }
        for (i = 2; i < argc; i++) {
                const char *o = argv[i], *a = i + 1 < argc ? argv[i + 1] : NULL;
                if (!strcmp(o, "-e")) {
                        opts.exit_at_end = 1;
                        continue;
                }
                if (!a)
                        goto usage;
                i++;
                if (!strcmp(o, "-p")) {
                        /* Dies with the test: a consumer left behind would
                         * retry the mock's brokers for ever. */
                        prctl(PR_SET_PDEATHSIG, SIGKILL);
                        if (getppid() != (pid_t)strtol(a, NULL, 10))
                                return KIT_EXIT_USAGE;
                } else if (!strcmp(o, "-b")) {
                        if (vcdc_conf_set(conf, "bootstrap.servers", a,
                                          errstr, sizeof(errstr)))
                                goto bad;
                } else if (!strcmp(o, "-t")) {
                        opts.topic = a;
                } else if (!strcmp(o, "-g")) {
                        opts.group = a;
                } else if (!strcmp(o, "-u")) {
                        opts.sink_url = a;
                } else if (!strcmp(o, "-c")) {
                        opts.collection = a;
                } else if (!strcmp(o, "-k") && i + 1 < argc) {
                        if (vcdc_conf_set(conf, a, argv[++i], errstr,
                                          sizeof(errstr)))
                                goto bad;
                } else {
                        goto usage;
                }
        }
        if (!opts.topic || !opts.group || !opts.sink_url)
                goto usage;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigprocmask(SIG_UNBLOCK, &mask, NULL);

        if ((v = getenv("VCDC_MODEL_REFERENCE")) && *v && strcmp(v, "0")) {
                r = refcons_run(conf, &opts, &child_run);
                fprintf(stderr, "model consumer: the reference returned %d\n",
                        r);
                vcdc_conf_destroy(conf);
                return r == 0 ? KIT_EXIT_OK : KIT_EXIT_RUN_FAILED;
        }
        if (!(c = vcdc_consumer_new(conf, &opts, NULL, errstr,
                                    sizeof(errstr)))) {
                fprintf(stderr, "model consumer: vcdc_consumer_new: %s\n",
                        errstr);
                vcdc_conf_destroy(conf);
                return KIT_EXIT_NEW_FAILED;
        }
        r = vcdc_consumer_run(c, &child_run);
        vcdc_consumer_stats(c, &st);
        fprintf(stderr,
                "model consumer: run returned %d: %" PRIu64
                " messages, %" PRIu64 " applied, %" PRIu64
                " dead letters, %" PRIu64 " filtered, %" PRIu64
                " own snapshot records skipped, %" PRIu64 " retries\n",
                r, st.messages, st.applied, st.dead_letters, st.filtered,
                st.snapshot_skipped, st.retries);
        vcdc_consumer_destroy(c);
        vcdc_conf_destroy(conf);
        return r == 0 ? KIT_EXIT_OK : KIT_EXIT_RUN_FAILED;
bad:
        fprintf(stderr, "model consumer: %s\n", errstr);
        vcdc_conf_destroy(conf);
        return KIT_EXIT_USAGE;
usage:
        fprintf(stderr, "model consumer: bad arguments\n");
        vcdc_conf_destroy(conf);
        return KIT_EXIT_USAGE;
}
