/*
 * vcdc - model test: the building blocks the model test and the scenario
 * tests share. A mock cluster (librdkafka's rdkafka_mock.h), plain clients
 * to read a topic back and a group's committed offsets, and vcdc
 * consumers run as processes of their own (the test binary executed again
 * with --model-consumer), so that a test can SIGKILL them.
 *
 * Nothing here calls cmocka: histories run in threads of their own, and a
 * failure comes back as -1 with errstr.
 */
#ifndef VCDC_MODEL_KIT_H
#define VCDC_MODEL_KIT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

int64_t kit_now_ms(void);
void kit_sleep_ms(int ms);

/* 1 under VCDC_TEST_SMALL (make valgrind): fewer and smaller runs. */
int kit_small(void);

/** The environment variable name as a count, def when unset or empty;
 *  exits 2 naming it when it is not a number. */
uint64_t kit_env_u64(const char *name, uint64_t def);

/** text on stdout line by line (a failure's description, a history). */
void kit_print_lines(const char *text);

typedef struct kit_mock_s {
        rd_kafka_t *rk; /* hosts the mock brokers */
        rd_kafka_mock_cluster_t *mc;
        char bootstraps[256];
} kit_mock_t;

/** A mock cluster of brokers with topic (partitions, led by the brokers in
 *  turn) and its dead-letter topic topic.dlq (one partition). */
int kit_mock_start(kit_mock_t *m, int brokers, const char *topic,
                   int partitions, char *errstr, size_t errstr_size);

void kit_mock_stop(kit_mock_t *m);

/** A plain consumer of group that never joins it: for its committed
 *  offsets and the watermarks. NULL with errstr. */
rd_kafka_t *kit_client(const char *bootstraps, const char *group,
                       char *errstr, size_t errstr_size);

/** Commits offset 0 of every partition for the client's group, as an
 *  existing group at the start of the topic (the mock has no
 *  DescribeConfigs, so a consumer cannot check a replay from the start). */
int kit_commit_zero(rd_kafka_t *rk, const char *topic, int partitions,
                    char *errstr, size_t errstr_size);

/** The group's committed offsets (-1 when none). */
int kit_committed(rd_kafka_t *rk, const char *topic, int partitions,
                  int64_t *committed, char *errstr, size_t errstr_size);

/** The log-end offsets (high watermarks). */
int kit_log_ends(rd_kafka_t *rk, const char *topic, int partitions,
                 int64_t *ends, char *errstr, size_t errstr_size);

/* A message read back; for a dead letter, the origin its headers name. */
typedef struct kit_msg_s {
        int32_t partition;
        int64_t offset;
        void *key;
        size_t key_len;
        void *value; /* NULL: a tombstone */
        size_t len;
        char origin_topic[128];
        int32_t origin_partition; /* vcdc.partition, -1 */
        int64_t origin_offset;    /* vcdc.offset, -1 */
        int snapshot; /* has vcdc.snapshot: written by vcdc snapshot */
        int repair;   /* has vcdc.repair: one of its repairs */
} kit_msg_t;

/** Reads topic from offset 0 to the log end: *msgsp (kit_msgs_free()),
 *  in partition order, then offset order. */
int kit_read_topic(const char *bootstraps, const char *topic, int partitions,
                   kit_msg_t **msgsp, size_t *cntp, char *errstr,
                   size_t errstr_size);

void kit_msgs_free(kit_msg_t *msgs, size_t cnt);

/* One consumer process. */
typedef struct kit_spec_s {
        const char *bootstraps, *topic, *group, *sink_url;
        const char *collection; /* opts.collection, NULL: none */
        int exit_at_end;
        const char *const *kv; /* NULL-terminated pairs for vcdc_conf_set */
        const char *log_path;  /* its stderr, appended */
        const char *mode; /* argv[1]: NULL, --model-consumer; another
                           * mode of the test binary gets the same
                           * options (-p -b -t -g -u -c -e -k) */
} kit_spec_t;

/** The program the consumers run: this test binary (its main calls
 *  kit_child_main() on --model-consumer). */
void kit_set_exe(const char *path);

/** The start of a test's main(): on --model-consumer runs the child
 *  (kit_child_main()) and returns 1 with *rcp its exit code; otherwise
 *  sets the consumers' program to this binary (under valgrind
 *  /proc/self/exe is the tool; readlink() answers with the program) and
 *  the log level (silent but for VCDC_TEST_LOG=level) and returns 0, or
 *  1 with *rcp 1 when it cannot. */
int kit_main_init(int argc, char **argv, int *rcp);

/** Starts a consumer. Returns its pid, or -1 with errstr. */
pid_t kit_spawn(const kit_spec_t *spec, char *errstr, size_t errstr_size);

/** Waits up to timeout_ms (0: a look) for pid to end. Returns 1 with
 *  *statusp when it did, 0 when it still runs. */
int kit_reap(pid_t pid, int timeout_ms, int *statusp);

/** "exited 0", "killed by signal 9", ... and what a consumer's exit code
 *  means. */
void kit_describe_exit(int status, char *buf, size_t size);

/* Exit codes of a consumer process. */
#define KIT_EXIT_OK 0
#define KIT_EXIT_RUN_FAILED 3 /* vcdc_consumer_run() returned -1 */
#define KIT_EXIT_NEW_FAILED 4 /* vcdc_consumer_new() failed */
#define KIT_EXIT_USAGE 5

/** The last two lines of the file at path that hold needle, joined by
 *  " | " ("" if none). */
void kit_log_last(const char *path, const char *needle, char *buf,
                  size_t size);

/** The consumer process: argv as kit_spawn() builds it. */
int kit_child_main(int argc, char **argv);

#endif
