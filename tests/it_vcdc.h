/*
 * vcdc - what the integration tests of the operator's tool share
 * (it_status.c, it_cutover.c): a topic with records, consumer-group members
 * in threads that commit as told, and bin/vcdc run as a child with its
 * stdout read back. It holds no test and asserts nothing about vcdc.
 *
 * bin/vcdc is VCDC_BIN, else ../bin/vcdc (tests run from tests/), else
 * bin/vcdc. Everything here is static inline: each program uses a part of
 * it. Include after cmocka.h.
 */
#ifndef VCDC_IT_VCDC_H
#define VCDC_IT_VCDC_H

#include <errno.h>
#include <pthread.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "admin.h"
#include "clock.h"

extern char **environ;

static inline void itv_sleep_ms(int ms) {
        struct timespec ts = {.tv_sec = ms / 1000,
                              .tv_nsec = (ms % 1000) * 1000000L};

        nanosleep(&ts, NULL);
}

/* Where bin/vcdc is (see above), into buf. */
static inline void itv_vcdc_bin(char *buf, size_t size) {
        const char *bin = getenv("VCDC_BIN");

        if (bin && *bin)
                snprintf(buf, size, "%s", bin);
        else if (access("../bin/vcdc", X_OK) == 0)
                snprintf(buf, size, "../bin/vcdc");
        else
                snprintf(buf, size, "bin/vcdc");
}

/* A client configuration for brokers. */
static inline rd_kafka_conf_t *itv_conf(const char *brokers) {
        rd_kafka_conf_t *rkc = rd_kafka_conf_new();
        char err[256];

        if (rd_kafka_conf_set(rkc, "bootstrap.servers", brokers, err,
                              sizeof(err)) != RD_KAFKA_CONF_OK)
                fail_msg("%s", err);
        return rkc;
}

/* Creates topic with parts partitions and waits until all are there. */
static inline void itv_create_topic(const char *brokers, const char *topic,
                                    int parts) {
        char err[512];
        rd_kafka_t *rk;
        int cnt = 0, tries;

        rk = rd_kafka_new(RD_KAFKA_PRODUCER, itv_conf(brokers), err,
                          sizeof(err));
        assert_non_null(rk);
        if (vcdc_admin_create_topic(rk, topic, parts, -1, NULL, 15000, err,
                                    sizeof(err)) == -1)
                fail_msg("%s", err);
        for (tries = 0; tries < 100 && cnt != parts; tries++) {
                assert_int_equal(vcdc_admin_partition_count(rk, topic, &cnt,
                                                            5000, err,
                                                            sizeof(err)),
                                 0);
                if (cnt != parts)
                        itv_sleep_ms(100);
        }
        assert_int_equal(cnt, parts);
        rd_kafka_destroy(rk);
}

/* Writes n records ("k<i>": "value <i>") round-robin over parts
 * partitions, and waits for every delivery. */
static inline void itv_produce(const char *brokers, const char *topic,
                               int parts, int n) {
        char err[256], key[32], value[64];
        rd_kafka_t *rk;
        int i;

        rk = rd_kafka_new(RD_KAFKA_PRODUCER, itv_conf(brokers), err,
                          sizeof(err));
        assert_non_null(rk);
        for (i = 0; i < n; i++) {
                snprintf(key, sizeof(key), "k%d", i);
                snprintf(value, sizeof(value), "value %d", i);
                while (rd_kafka_producev(
                               rk, RD_KAFKA_V_TOPIC(topic),
                               RD_KAFKA_V_PARTITION(i % parts),
                               RD_KAFKA_V_KEY(key, strlen(key)),
                               RD_KAFKA_V_VALUE(value, strlen(value)),
                               RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                               RD_KAFKA_V_END) ==
                       RD_KAFKA_RESP_ERR__QUEUE_FULL)
                        rd_kafka_poll(rk, 100);
        }
        assert_int_equal(rd_kafka_flush(rk, 30000), 0);
        assert_int_equal(rd_kafka_outq_len(rk), 0);
        rd_kafka_destroy(rk);
}

/*
 * A group member in a thread of its own: subscribes, polls, and commits as
 * its mode says.
 */
typedef enum {
        ITV_COMMIT_ALL,   /* what it consumed, after each poll, while
                           * commit is set */
        ITV_COMMIT_FIRST, /* the first `limit` records, then nothing */
        ITV_COMMIT_SLOW,  /* each record, then a pause of delay_ms */
} itv_commit_mode_t;

typedef struct itv_member_s {
        rd_kafka_t *rk;
        pthread_t th;
        itv_commit_mode_t mode;
        int limit, delay_ms;
        atomic_int run, assigned, commit;
        atomic_long consumed, committed; /* records */
} itv_member_t;

static inline void *itv_member_main(void *arg) {
        itv_member_t *m = arg;
        rd_kafka_topic_partition_list_t *assignment;
        rd_kafka_message_t *rkm;
        long consumed;
        int got;

        while (atomic_load(&m->run)) {
                rkm = rd_kafka_consumer_poll(m->rk, 50);
                if (!atomic_load(&m->assigned) &&
                    !rd_kafka_assignment(m->rk, &assignment)) {
                        if (assignment->cnt > 0)
                                atomic_store(&m->assigned, 1);
                        rd_kafka_topic_partition_list_destroy(assignment);
                }
                if ((got = rkm && !rkm->err)) {
                        atomic_fetch_add(&m->consumed, 1);
                        if ((m->mode == ITV_COMMIT_SLOW ||
                             (m->mode == ITV_COMMIT_FIRST &&
                              atomic_load(&m->committed) < m->limit)) &&
                            !rd_kafka_commit_message(m->rk, rkm, 0 /*sync*/))
                                atomic_fetch_add(&m->committed, 1);
                }
                if (rkm)
                        rd_kafka_message_destroy(rkm);
                if (got && m->mode == ITV_COMMIT_SLOW)
                        itv_sleep_ms(m->delay_ms);
                /* The offsets stored as records were handed out. */
                consumed = atomic_load(&m->consumed);
                if (m->mode == ITV_COMMIT_ALL && atomic_load(&m->commit) &&
                    atomic_load(&m->committed) < consumed &&
                    !rd_kafka_commit(m->rk, NULL, 0 /*sync*/))
                        atomic_store(&m->committed, consumed);
        }
        return NULL;
}

/* Starts a member of group on topic and waits for its assignment. */
static inline itv_member_t *itv_member_start(const char *brokers,
                                             const char *group,
                                             const char *topic,
                                             itv_commit_mode_t mode,
                                             int limit, int delay_ms) {
        static const char *const props[][2] = {
                {"enable.auto.commit", "false"},
                {"auto.offset.reset", "earliest"},
                /* Small fetches: a slow member must not have everything in
                 * hand at once. */
                {"queued.max.messages.kbytes", "1"},
        };
        rd_kafka_topic_partition_list_t *sub;
        rd_kafka_conf_t *rkc = itv_conf(brokers);
        itv_member_t *m = calloc(1, sizeof(*m));
        int64_t deadline;
        char err[256];
        size_t i;

        assert_non_null(m);
        assert_int_equal(rd_kafka_conf_set(rkc, "group.id", group, err,
                                           sizeof(err)),
                         RD_KAFKA_CONF_OK);
        for (i = 0; i < sizeof(props) / sizeof(*props); i++)
                assert_int_equal(rd_kafka_conf_set(rkc, props[i][0],
                                                   props[i][1], err,
                                                   sizeof(err)),
                                 RD_KAFKA_CONF_OK);
        m->rk = rd_kafka_new(RD_KAFKA_CONSUMER, rkc, err, sizeof(err));
        assert_non_null(m->rk);
        rd_kafka_poll_set_consumer(m->rk);
        sub = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(sub, topic, RD_KAFKA_PARTITION_UA);
        assert_int_equal(rd_kafka_subscribe(m->rk, sub), 0);
        rd_kafka_topic_partition_list_destroy(sub);
        m->mode = mode;
        m->limit = limit;
        m->delay_ms = delay_ms;
        atomic_store(&m->run, 1);
        atomic_store(&m->commit, 1);
        assert_int_equal(pthread_create(&m->th, NULL, itv_member_main, m), 0);
        for (deadline = vcdc_clock_ms() + 30000;
             !atomic_load(&m->assigned) && vcdc_clock_ms() < deadline;)
                itv_sleep_ms(50);
        assert_true(atomic_load(&m->assigned));
        return m;
}

/* Leaves the group (close sends LeaveGroup: no member at once). Accepts
 * NULL. */
static inline void itv_member_stop(itv_member_t *m) {
        if (!m)
                return;
        atomic_store(&m->run, 0);
        pthread_join(m->th, NULL);
        rd_kafka_consumer_close(m->rk);
        rd_kafka_destroy(m->rk);
        free(m);
}

/* Waits up to 30 s until m committed n records. */
static inline void itv_member_wait_committed(itv_member_t *m, long n) {
        int64_t deadline = vcdc_clock_ms() + 30000;

        while (atomic_load(&m->committed) < n && vcdc_clock_ms() < deadline)
                itv_sleep_ms(50);
        assert_int_equal(atomic_load(&m->committed), n);
}

/*
 * Running bin/vcdc.
 */

typedef struct itv_proc_s {
        pid_t pid;
        int fd; /* its stdout */
} itv_proc_t;

/* Starts bin with args (NULL-terminated, without argv[0]), its stdout a
 * pipe. */
static inline void itv_proc_start(itv_proc_t *p, const char *bin,
                                  const char *const *args) {
        posix_spawn_file_actions_t fa;
        char *argv[64];
        int pipefd[2], argc = 0;

        argv[argc++] = "vcdc";
        for (; *args && argc < 63; args++)
                argv[argc++] = (char *)*args;
        argv[argc] = NULL;
        assert_int_equal(pipe(pipefd), 0);
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
        posix_spawn_file_actions_addclose(&fa, pipefd[0]);
        posix_spawn_file_actions_addclose(&fa, pipefd[1]);
        if (posix_spawn(&p->pid, bin, &fa, NULL, argv, environ))
                fail_msg("cannot run %s: %s", bin, strerror(errno));
        posix_spawn_file_actions_destroy(&fa);
        close(pipefd[1]);
        p->fd = pipefd[0];
}

/* Reads all it writes, waits for it: its exit status, its stdout in *outp
 * (free() it). */
static inline int itv_proc_finish(itv_proc_t *p, char **outp) {
        size_t len = 0, cap = 65536;
        char *out = malloc(cap);
        ssize_t n;
        int status;

        assert_non_null(out);
        for (;;) {
                if (len + 1 >= cap) {
                        cap *= 2;
                        out = realloc(out, cap);
                        assert_non_null(out);
                }
                n = read(p->fd, out + len, cap - len - 1);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                len += (size_t)n;
        }
        out[len] = '\0';
        close(p->fd);
        assert_int_equal(waitpid(p->pid, &status, 0), p->pid);
        assert_true(WIFEXITED(status));
        *outp = out;
        return WEXITSTATUS(status);
}

/* Runs bin with args to its end: its exit status, its stdout in *outp. */
static inline int itv_run(const char *bin, char **outp,
                          const char *const *args) {
        itv_proc_t p;

        itv_proc_start(&p, bin, args);
        return itv_proc_finish(&p, outp);
}

#endif
