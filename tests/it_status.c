/*
 * vcdc - integration test: `vcdc status` against a real broker (VCDC_BROKERS)
 * and, for the recorded offsets, pgvector (VCDC_PGVECTOR_URL). Every state is
 * produced on purpose with real consumer groups and asserted from the
 * --json report of bin/vcdc (VCDC_BIN, else ../bin/vcdc from tests/):
 *   OK       a member that consumed and committed everything, and one
 *            that keeps up with writes still flowing
 *   LAGGING  a member committing one record at a time, slowly, behind a
 *            backlog
 *   STALLED  a member present that committed 10 records and no more
 *   STOPPED  a group whose last member left, and a group that never was
 *   REWOUND  offsets reset to 0 through the admin API
 *            (AlterConsumerGroupOffsets, what kafka-consumer-groups
 *            --reset-offsets does) while status samples
 * Topics and groups are named it_status_<pid>_<time>_*; skipped, saying so,
 * when VCDC_BROKERS is unset.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <librdkafka/rdkafka.h>

#include "admin.h"
#include "sink.h"

extern char **environ;

#define PARTS 3

static const char *brokers;
static char prefix[64];
static char vcdc_bin[512];
static char topic[128];

static int64_t mono_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms) {
        struct timespec ts = {.tv_sec = ms / 1000,
                              .tv_nsec = (ms % 1000) * 1000000L};

        nanosleep(&ts, NULL);
}

static int have_broker(void) {
        if (brokers && *brokers)
                return 1;
        fprintf(stderr, "it_status: skipped: VCDC_BROKERS is unset\n");
        return 0;
}

#define NEED_BROKER()                                                          \
        do {                                                                   \
                if (!have_broker())                                            \
                        skip();                                                \
        } while (0)

static void name(char *buf, size_t size, const char *what) {
        snprintf(buf, size, "%s_%s", prefix, what);
}

static rd_kafka_conf_t *base_conf(void) {
        rd_kafka_conf_t *rkc = rd_kafka_conf_new();
        char err[256];

        assert_int_equal(rd_kafka_conf_set(rkc, "bootstrap.servers", brokers,
                                           err, sizeof(err)),
                         RD_KAFKA_CONF_OK);
        return rkc;
}

/* A plain producer writes n records round-robin over the partitions. */
static void produce(const char *t, int n) {
        rd_kafka_conf_t *rkc = base_conf();
        char err[256], key[32], value[64];
        rd_kafka_t *rk;
        int i;

        rk = rd_kafka_new(RD_KAFKA_PRODUCER, rkc, err, sizeof(err));
        assert_non_null(rk);
        for (i = 0; i < n; i++) {
                snprintf(key, sizeof(key), "k%d", i);
                snprintf(value, sizeof(value), "value %d", i);
                while (rd_kafka_producev(
                               rk, RD_KAFKA_V_TOPIC(t),
                               RD_KAFKA_V_PARTITION(i % PARTS),
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

static void create_topic(const char *t) {
        rd_kafka_conf_t *rkc = base_conf();
        char err[512];
        rd_kafka_t *rk;
        int cnt = 0, tries;

        rk = rd_kafka_new(RD_KAFKA_PRODUCER, rkc, err, sizeof(err));
        assert_non_null(rk);
        if (vcdc_admin_create_topic(rk, t, PARTS, -1, NULL, 15000, err,
                                    sizeof(err)) == -1)
                fail_msg("%s", err);
        for (tries = 0; tries < 100 && cnt != PARTS; tries++) {
                assert_int_equal(vcdc_admin_partition_count(rk, t, &cnt, 5000,
                                                            err, sizeof(err)),
                                 0);
                if (cnt != PARTS)
                        sleep_ms(100);
        }
        assert_int_equal(cnt, PARTS);
        rd_kafka_destroy(rk);
}

/*
 * A group member in a thread of its own: subscribes, polls, and commits as
 * its mode says.
 */
typedef enum {
        COMMIT_ALL,   /* each record, at once */
        COMMIT_FIRST, /* the first `limit` records, then nothing */
        COMMIT_SLOW,  /* each record, then a pause of delay_ms */
} commit_mode_t;

typedef struct member_s {
        rd_kafka_t *rk;
        pthread_t th;
        commit_mode_t mode;
        int limit, delay_ms;
        atomic_int run, assigned;
        atomic_long consumed, committed;
} member_t;

static void *member_main(void *arg) {
        member_t *m = arg;
        rd_kafka_topic_partition_list_t *assignment;
        rd_kafka_message_t *rkm;

        while (atomic_load(&m->run)) {
                rkm = rd_kafka_consumer_poll(m->rk, 100);
                if (!atomic_load(&m->assigned) &&
                    !rd_kafka_assignment(m->rk, &assignment)) {
                        if (assignment->cnt > 0)
                                atomic_store(&m->assigned, 1);
                        rd_kafka_topic_partition_list_destroy(assignment);
                }
                if (!rkm)
                        continue;
                if (rkm->err) {
                        rd_kafka_message_destroy(rkm);
                        continue;
                }
                atomic_fetch_add(&m->consumed, 1);
                if (m->mode != COMMIT_FIRST ||
                    atomic_load(&m->committed) < m->limit) {
                        if (!rd_kafka_commit_message(m->rk, rkm, 0 /*sync*/))
                                atomic_fetch_add(&m->committed, 1);
                }
                rd_kafka_message_destroy(rkm);
                if (m->mode == COMMIT_SLOW)
                        sleep_ms(m->delay_ms);
        }
        return NULL;
}

static member_t *member_start(const char *group, const char *t,
                              commit_mode_t mode, int limit, int delay_ms) {
        rd_kafka_topic_partition_list_t *sub;
        rd_kafka_conf_t *rkc = base_conf();
        member_t *m = calloc(1, sizeof(*m));
        int64_t deadline;
        char err[256];

        assert_non_null(m);
        assert_int_equal(rd_kafka_conf_set(rkc, "group.id", group, err,
                                           sizeof(err)),
                         RD_KAFKA_CONF_OK);
        assert_int_equal(rd_kafka_conf_set(rkc, "enable.auto.commit", "false",
                                           err, sizeof(err)),
                         RD_KAFKA_CONF_OK);
        assert_int_equal(rd_kafka_conf_set(rkc, "auto.offset.reset",
                                           "earliest", err, sizeof(err)),
                         RD_KAFKA_CONF_OK);
        /* Small fetches: the slow member must not have everything in hand
         * at once (it commits what it was handed, one at a time anyway). */
        assert_int_equal(rd_kafka_conf_set(rkc, "queued.max.messages.kbytes",
                                           "1", err, sizeof(err)),
                         RD_KAFKA_CONF_OK);
        m->rk = rd_kafka_new(RD_KAFKA_CONSUMER, rkc, err, sizeof(err));
        assert_non_null(m->rk);
        rd_kafka_poll_set_consumer(m->rk);
        sub = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(sub, t, RD_KAFKA_PARTITION_UA);
        assert_int_equal(rd_kafka_subscribe(m->rk, sub), 0);
        rd_kafka_topic_partition_list_destroy(sub);
        m->mode = mode;
        m->limit = limit;
        m->delay_ms = delay_ms;
        atomic_store(&m->run, 1);
        assert_int_equal(pthread_create(&m->th, NULL, member_main, m), 0);
        for (deadline = mono_ms() + 30000;
             !atomic_load(&m->assigned) && mono_ms() < deadline;)
                sleep_ms(50);
        assert_true(atomic_load(&m->assigned));
        return m;
}

/* Leaves the group (close sends LeaveGroup: no member at once). */
static void member_stop(member_t *m) {
        if (!m)
                return;
        atomic_store(&m->run, 0);
        pthread_join(m->th, NULL);
        rd_kafka_consumer_close(m->rk);
        rd_kafka_destroy(m->rk);
        free(m);
}

static void wait_committed(member_t *m, long n) {
        int64_t deadline = mono_ms() + 30000;

        while (atomic_load(&m->committed) < n && mono_ms() < deadline)
                sleep_ms(50);
        assert_int_equal(atomic_load(&m->committed), n);
}

/* kafka-consumer-groups --reset-offsets --to-offset: through the admin API
 * (the group must have no member). */
static void reset_offsets(const char *group, const char *t, int64_t offset) {
        rd_kafka_topic_partition_list_t *parts;
        rd_kafka_AlterConsumerGroupOffsets_t *req;
        const rd_kafka_group_result_t **groups;
        const rd_kafka_topic_partition_list_t *res;
        rd_kafka_conf_t *rkc = base_conf();
        rd_kafka_queue_t *q;
        rd_kafka_event_t *ev;
        rd_kafka_t *rk;
        char err[256];
        size_t cnt;
        int p;

        rk = rd_kafka_new(RD_KAFKA_PRODUCER, rkc, err, sizeof(err));
        assert_non_null(rk);
        parts = rd_kafka_topic_partition_list_new(PARTS);
        for (p = 0; p < PARTS; p++)
                rd_kafka_topic_partition_list_add(parts, t, p)->offset =
                        offset;
        req = rd_kafka_AlterConsumerGroupOffsets_new(group, parts);
        rd_kafka_topic_partition_list_destroy(parts);
        q = rd_kafka_queue_new(rk);
        rd_kafka_AlterConsumerGroupOffsets(rk, &req, 1, NULL, q);
        rd_kafka_AlterConsumerGroupOffsets_destroy(req);
        ev = rd_kafka_queue_poll(q, 20000);
        assert_non_null(ev);
        if (rd_kafka_event_error(ev))
                fail_msg("reset offsets of %s: %s", group,
                         rd_kafka_event_error_string(ev));
        groups = rd_kafka_AlterConsumerGroupOffsets_result_groups(
                rd_kafka_event_AlterConsumerGroupOffsets_result(ev), &cnt);
        assert_int_equal(cnt, 1);
        assert_null(rd_kafka_group_result_error(groups[0]));
        res = rd_kafka_group_result_partitions(groups[0]);
        for (p = 0; p < res->cnt; p++)
                if (res->elems[p].err)
                        fail_msg("reset offsets of %s [%d]: %s", group,
                                 res->elems[p].partition,
                                 rd_kafka_err2str(res->elems[p].err));
        rd_kafka_event_destroy(ev);
        rd_kafka_queue_destroy(q);
        rd_kafka_destroy(rk);
}

/*
 * Running bin/vcdc.
 */

typedef struct proc_s {
        pid_t pid;
        int fd; /* its stdout */
} proc_t;

static void proc_start(proc_t *p, char *const argv[]) {
        posix_spawn_file_actions_t fa;
        int pipefd[2];

        assert_int_equal(pipe(pipefd), 0);
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
        posix_spawn_file_actions_addclose(&fa, pipefd[0]);
        posix_spawn_file_actions_addclose(&fa, pipefd[1]);
        if (posix_spawn(&p->pid, vcdc_bin, &fa, NULL, argv, environ))
                fail_msg("cannot run %s: %s", vcdc_bin, strerror(errno));
        posix_spawn_file_actions_destroy(&fa);
        close(pipefd[1]);
        p->fd = pipefd[0];
}

/* Reads everything it writes, waits for it; returns its exit status and
 * its stdout in *outp (free() it). */
static int proc_finish(proc_t *p, char **outp) {
        size_t len = 0, cap = 4096;
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
        *outp = out;
        assert_true(WIFEXITED(status));
        return WEXITSTATUS(status);
}

/* The next line of *sp (NUL-terminated in place), or NULL at the end. */
static char *next_line(char **sp) {
        char *line = *sp, *nl;

        if (!*line)
                return NULL;
        if ((nl = strchr(line, '\n'))) {
                *nl = '\0';
                *sp = nl + 1;
        } else
                *sp = line + strlen(line);
        return line;
}

/* The last JSON report in a command's stdout (one report a line). */
static json_t *last_report(char *out) {
        json_t *report = NULL;
        char *cur = out, *line;

        while ((line = next_line(&cur)))
                if (*line == '{') {
                        json_decref(report);
                        if (!(report = json_loads(line, 0, NULL)))
                                fail_msg("not JSON: %s", line);
                }
        if (!report)
                fail_msg("no JSON report on stdout");
        return report;
}

/* `vcdc status --json` with extra arguments; the last report parsed. */
static int status(json_t **reportp, const char *const *args) {
        char *argv[64], *out;
        proc_t p;
        int argc = 0, rc;

        argv[argc++] = "vcdc";
        argv[argc++] = "status";
        argv[argc++] = "--json";
        argv[argc++] = "-q";
        argv[argc++] = "-t";
        argv[argc++] = topic;
        for (; *args; args++)
                argv[argc++] = (char *)*args;
        argv[argc] = NULL;
        proc_start(&p, argv);
        rc = proc_finish(&p, &out);
        *reportp = last_report(out);
        free(out);
        return rc;
}

static json_t *group_of(json_t *report, const char *group) {
        json_t *groups = json_object_get(report, "groups"), *g;
        size_t i;

        json_array_foreach(groups, i, g) {
                if (!strcmp(json_string_value(json_object_get(g, "group")),
                            group))
                        return g;
        }
        fail_msg("group %s not in the report", group);
        return NULL;
}

static const char *state_of(json_t *g) {
        return json_string_value(json_object_get(g, "state"));
}

static json_int_t int_of(json_t *obj, const char *key) {
        json_t *v = json_object_get(obj, key);

        if (!json_is_integer(v))
                fail_msg("\"%s\" is not an integer", key);
        return json_integer_value(v);
}

static void expect_state(json_t *g, const char *state) {
        if (strcmp(state_of(g), state))
                fail_msg("group %s is %s, want %s: %s",
                         json_string_value(json_object_get(g, "group")),
                         state_of(g), state,
                         json_string_value(json_object_get(g, "reason")));
}

/*
 * The tests.
 */

static void test_ok(void **state) {
        const char *args[8];
        char group[160];
        json_t *report, *g, *p;
        member_t *m;
        size_t i;
        int rc;

        (void)state;
        NEED_BROKER();
        name(group, sizeof(group), "ok");
        m = member_start(group, topic, COMMIT_ALL, 0, 0);
        wait_committed(m, 30);
        args[0] = "--group";
        args[1] = group;
        args[2] = NULL;
        rc = status(&report, args);
        g = group_of(report, group);
        expect_state(g, "OK");
        assert_int_equal(rc, 0);
        assert_true(json_is_true(json_object_get(report, "ok")));
        assert_int_equal(int_of(g, "lag"), 0);
        assert_int_equal(int_of(g, "time_lag_ms"), 0);
        assert_int_equal(int_of(g, "members"), 1);
        assert_int_equal(int_of(g, "committed"), 30);
        assert_int_equal(int_of(g, "end"), 30);
        assert_int_equal(int_of(g, "samples"), 3);
        assert_true(json_real_value(json_object_get(g, "span_s")) >= 1.9);
        json_array_foreach(json_object_get(g, "partitions"), i, p) {
                assert_int_equal(int_of(p, "committed"), 10);
                assert_int_equal(int_of(p, "lag"), 0);
                /* the record before the committed offset was read */
                assert_true(int_of(p, "applied_ts_ms") > 0);
        }
        json_decref(report);
        member_stop(m);
}

/* A writer in a thread: n records a second into t until stopped. */
typedef struct writer_s {
        pthread_t th;
        const char *topic;
        int rate;
        atomic_int run;
        atomic_long written;
} writer_t;

static void *writer_main(void *arg) {
        writer_t *w = arg;
        rd_kafka_conf_t *rkc = base_conf();
        char err[256], key[32];
        rd_kafka_t *rk;
        long i = 0;

        if (!(rk = rd_kafka_new(RD_KAFKA_PRODUCER, rkc, err, sizeof(err))))
                return NULL;
        while (atomic_load(&w->run)) {
                snprintf(key, sizeof(key), "live%ld", i);
                if (!rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(w->topic),
                                       RD_KAFKA_V_PARTITION((int)(i % PARTS)),
                                       RD_KAFKA_V_KEY(key, strlen(key)),
                                       RD_KAFKA_V_VALUE(key, strlen(key)),
                                       RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                       RD_KAFKA_V_END)) {
                        i++;
                        atomic_store(&w->written, i);
                }
                rd_kafka_poll(rk, 0);
                sleep_ms(1000 / w->rate);
        }
        rd_kafka_flush(rk, 10000);
        rd_kafka_destroy(rk);
        return NULL;
}

/* Writes keep flowing: lag is seldom 0 when a sample is taken, yet a
 * consumer that keeps up is OK (it passes every log end it was shown). */
static void test_ok_live_writes(void **state) {
        writer_t w = {.rate = 200};
        char group[160], t[160];
        const char *args[8];
        json_t *report, *g;
        member_t *m;
        int rc;

        (void)state;
        NEED_BROKER();
        name(t, sizeof(t), "live");
        create_topic(t);
        w.topic = t;
        atomic_store(&w.run, 1);
        assert_int_equal(pthread_create(&w.th, NULL, writer_main, &w), 0);
        name(group, sizeof(group), "live");
        m = member_start(group, t, COMMIT_ALL, 0, 0);
        sleep_ms(1000);
        args[0] = "--group";
        args[1] = group;
        args[2] = "-t";
        args[3] = t;
        args[4] = NULL;
        rc = status(&report, args);
        g = group_of(report, group);
        expect_state(g, "OK");
        assert_int_equal(rc, 0);
        assert_true(json_is_true(json_object_get(g, "reached_zero")));
        assert_true(json_real_value(json_object_get(g, "rate")) > 50);
        json_decref(report);
        atomic_store(&w.run, 0);
        pthread_join(w.th, NULL);
        assert_true(atomic_load(&w.written) > 200);
        member_stop(m);
}

static void test_lagging(void **state) {
        char group[160], t[160];
        const char *args[8];
        json_t *report, *g;
        member_t *m;
        int rc;

        (void)state;
        NEED_BROKER();
        /* A topic of its own with a backlog of 600. */
        name(t, sizeof(t), "lagging");
        create_topic(t);
        produce(t, 600);
        name(group, sizeof(group), "lag");
        m = member_start(group, t, COMMIT_SLOW, 0, 40 /*ms: ~25/s*/);
        wait_committed(m, 5);
        args[0] = "--group";
        args[1] = group;
        args[2] = "-t";
        args[3] = t;
        args[4] = NULL;
        rc = status(&report, args);
        g = group_of(report, group);
        expect_state(g, "LAGGING");
        assert_int_equal(rc, 1);
        assert_true(int_of(g, "lag") > 0);
        assert_true(int_of(g, "time_lag_ms") > 0);
        assert_true(json_real_value(json_object_get(g, "rate")) > 5);
        /* catching up: lag shrinks, so there is an ETA */
        assert_true(json_real_value(json_object_get(g, "eta_s")) > 0);
        assert_false(json_is_true(json_object_get(g, "reached_zero")));
        json_decref(report);

        /* With a limit above the lag it is still LAGGING: the group never
         * caught up with the log end in the window. */
        args[4] = "--max-lag";
        args[5] = "1000000";
        args[6] = NULL;
        rc = status(&report, args);
        g = group_of(report, group);
        expect_state(g, "LAGGING");
        assert_int_equal(rc, 1);
        json_decref(report);
        member_stop(m);
}

static void test_stalled(void **state) {
        char group[160];
        const char *args[8];
        json_t *report, *g, *p;
        member_t *m;
        json_int_t committed = 0;
        size_t i;
        int rc;

        (void)state;
        NEED_BROKER();
        name(group, sizeof(group), "stall");
        m = member_start(group, topic, COMMIT_FIRST, 10, 0);
        /* It consumes all 30 and committed 10: a member, no progress. */
        while (atomic_load(&m->consumed) < 30)
                sleep_ms(50);
        wait_committed(m, 10);
        args[0] = "--group";
        args[1] = group;
        args[2] = NULL;
        rc = status(&report, args);
        g = group_of(report, group);
        expect_state(g, "STALLED");
        assert_int_equal(rc, 1);
        assert_int_equal(int_of(g, "lag"), 20);
        assert_int_equal(int_of(g, "members"), 1);
        assert_true(int_of(g, "time_lag_ms") > 0);
        assert_true(json_real_value(json_object_get(g, "eta_s")) < 0);
        json_array_foreach(json_object_get(g, "partitions"), i, p)
                committed += int_of(p, "committed") > 0
                                     ? int_of(p, "committed")
                                     : 0;
        assert_int_equal(committed, 10);
        json_decref(report);
        member_stop(m);
}

static void test_stopped(void **state) {
        char group[160], never[160];
        const char *args[8];
        json_t *report, *g, *p;
        member_t *m;
        size_t i;
        int rc;

        (void)state;
        NEED_BROKER();
        name(group, sizeof(group), "stop");
        name(never, sizeof(never), "never");
        m = member_start(group, topic, COMMIT_ALL, 0, 0);
        wait_committed(m, 30);
        member_stop(m);
        args[0] = "--group";
        args[1] = group;
        args[2] = "--group";
        args[3] = never;
        args[4] = NULL;
        rc = status(&report, args);
        assert_int_equal(rc, 1);
        assert_false(json_is_true(json_object_get(report, "ok")));
        /* Caught up, but nobody applies what comes next. */
        g = group_of(report, group);
        expect_state(g, "STOPPED");
        assert_int_equal(int_of(g, "members"), 0);
        assert_int_equal(int_of(g, "lag"), 0);
        assert_int_equal(int_of(g, "committed"), 30);
        /* A group that never existed: no member, nothing committed. */
        g = group_of(report, never);
        expect_state(g, "STOPPED");
        assert_int_equal(int_of(g, "lag"), 30);
        json_array_foreach(json_object_get(g, "partitions"), i, p)
                assert_int_equal(int_of(p, "committed"), -1);
        json_decref(report);
}

/* One line of a running command's stdout (without the newline), waiting
 * up to 60 s; NULL at its end. The returned line is valid until the next
 * call. */
typedef struct lines_s {
        char buf[1 << 16];
        size_t len, consumed;
} lines_t;

static char *read_line(proc_t *p, lines_t *l) {
        int64_t deadline = mono_ms() + 60000;
        char *nl;
        ssize_t n;

        if (l->consumed) {
                memmove(l->buf, l->buf + l->consumed, l->len - l->consumed);
                l->len -= l->consumed;
                l->consumed = 0;
        }
        for (;;) {
                l->buf[l->len] = '\0';
                if ((nl = strchr(l->buf, '\n'))) {
                        *nl = '\0';
                        l->consumed = (size_t)(nl - l->buf) + 1;
                        return l->buf;
                }
                if (mono_ms() > deadline || l->len + 1 >= sizeof(l->buf))
                        return NULL;
                n = read(p->fd, l->buf + l->len, sizeof(l->buf) - l->len - 1);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return NULL;
                l->len += (size_t)n;
        }
}

static void test_rewound(void **state) {
        static lines_t lines;
        char group[160], *out, *line;
        char *argv[20];
        json_t *report, *g, *p;
        member_t *m;
        proc_t proc;
        size_t i;
        int rc, argc = 0;

        (void)state;
        NEED_BROKER();
        name(group, sizeof(group), "rewind");
        m = member_start(group, topic, COMMIT_ALL, 0, 0);
        wait_committed(m, 30);
        member_stop(m);

        /* A first report over 3 samples, then the offsets are reset (what
         * kafka-consumer-groups --reset-offsets --to-offset 0 does), then
         * the sliding window holds samples from before and after. */
        argv[argc++] = "vcdc";
        argv[argc++] = "status";
        argv[argc++] = "--json";
        argv[argc++] = "-q";
        argv[argc++] = "-t";
        argv[argc++] = topic;
        argv[argc++] = "--group";
        argv[argc++] = group;
        argv[argc++] = "--window";
        argv[argc++] = "3";
        argv[argc++] = "--interval";
        argv[argc++] = "0.2";
        argv[argc++] = "--watch";
        argv[argc++] = "1";
        argv[argc] = NULL;
        memset(&lines, 0, sizeof(lines));
        proc_start(&proc, argv);
        assert_non_null(line = read_line(&proc, &lines));
        report = last_report(line);
        g = group_of(report, group);
        expect_state(g, "STOPPED");
        assert_int_equal(int_of(g, "committed"), 30);
        json_decref(report);

        reset_offsets(group, topic, 0);
        /* The next report shows it, unless its sample was taken while the
         * reset was on its way: then the one after. */
        for (i = 0, report = NULL; i < 3; i++) {
                json_decref(report);
                assert_non_null(line = read_line(&proc, &lines));
                report = last_report(line);
                if (strcmp(state_of(group_of(report, group)), "STOPPED"))
                        break;
        }
        kill(proc.pid, SIGTERM);
        rc = proc_finish(&proc, &out);
        free(out);
        g = group_of(report, group);
        expect_state(g, "REWOUND");
        /* the exit status is the last report's */
        assert_int_equal(rc, 1);
        assert_non_null(strstr(json_string_value(json_object_get(g, "reason")),
                               "went back from 10 to 0"));
        assert_int_equal(int_of(g, "lag"), 30);
        json_array_foreach(json_object_get(g, "partitions"), i, p)
                assert_int_equal(int_of(p, "committed"), 0);
        json_decref(report);
}

/* The offset recorded in the target comes from the group's sink. */
static void test_recorded(void **state) {
        const char *pg = getenv("VCDC_PGVECTOR_URL");
        vcdc_sink_offset_t offs[PARTS];
        vcdc_sink_t *sink;
        char group[160], url[512], spec[700], errstr[512];
        const char *args[8];
        json_t *report, *g, *p;
        member_t *m;
        size_t i;
        int rc;

        (void)state;
        NEED_BROKER();
        if (!pg || !*pg) {
                fprintf(stderr, "it_status: test_recorded skipped: "
                                "VCDC_PGVECTOR_URL is unset\n");
                skip();
        }
        name(group, sizeof(group), "recorded");
        snprintf(url, sizeof(url), "%s?table=it_status_%d&sslmode=disable",
                 pg, (int)getpid());
        sink = vcdc_sink_new(url, NULL, errstr, sizeof(errstr));
        if (!sink)
                fail_msg("%s: %s", url, errstr);
        /* Offsets belong to the table they describe: none read back
         * while it does not exist. */
        {
                float v[2] = {1, 2};
                vcdc_record_t rec = {.id = "x", .op = VCDC_OP_UPSERT,
                                     .vector = v, .dim = 2};
                const vcdc_record_t *ptr = &rec;
                vcdc_sink_batch_t batch = {.upserts = &ptr, .upsert_cnt = 1};
                if (vcdc_sink_apply(sink, &batch, errstr, sizeof(errstr)) !=
                    VCDC_SINK_OK)
                        fail_msg("creating the table: %s", errstr);
        }
        for (i = 0; i < PARTS; i++) {
                offs[i].partition = (int32_t)i;
                offs[i].offset = (int64_t)(i + 4);
        }
        if (vcdc_sink_record_offsets(sink, topic, offs, PARTS, errstr,
                                     sizeof(errstr)) != VCDC_SINK_OK)
                fail_msg("recording offsets: %s", errstr);
        vcdc_sink_destroy(sink);

        m = member_start(group, topic, COMMIT_ALL, 0, 0);
        wait_committed(m, 30);
        snprintf(spec, sizeof(spec), "%s=%s", group, url);
        args[0] = "--group";
        args[1] = spec;
        args[2] = "--window";
        args[3] = "2";
        args[4] = NULL;
        rc = status(&report, args);
        assert_int_equal(rc, 0);
        g = group_of(report, group);
        expect_state(g, "OK");
        assert_string_equal(json_string_value(json_object_get(g, "sink")),
                            url);
        json_array_foreach(json_object_get(g, "partitions"), i, p)
                assert_int_equal(int_of(p, "recorded"),
                                 int_of(p, "partition") + 4);
        json_decref(report);
        member_stop(m);
}

/* --watch reports again over a sliding window until SIGTERM. */
static void test_watch(void **state) {
        char group[160], *out, *line, *cur, buf[4096];
        static char head[1 << 16];
        char *argv[20];
        json_t *report;
        member_t *m;
        proc_t proc;
        int64_t deadline;
        size_t i, head_len = 0;
        int rc, argc = 0, reports = 0, lines = 0;

        (void)state;
        NEED_BROKER();
        name(group, sizeof(group), "watch");
        m = member_start(group, topic, COMMIT_ALL, 0, 0);
        wait_committed(m, 30);
        argv[argc++] = "vcdc";
        argv[argc++] = "status";
        argv[argc++] = "--json";
        argv[argc++] = "-q";
        argv[argc++] = "-t";
        argv[argc++] = topic;
        argv[argc++] = "--group";
        argv[argc++] = group;
        argv[argc++] = "--window";
        argv[argc++] = "2";
        argv[argc++] = "--watch";
        argv[argc++] = "1";
        argv[argc] = NULL;
        proc_start(&proc, argv);
        /* Two reports (the first window, then one a second), then stop. */
        for (deadline = mono_ms() + 60000; lines < 2 && mono_ms() < deadline;) {
                ssize_t n = read(proc.fd, buf, sizeof(buf));
                if (n <= 0)
                        break;
                for (i = 0; i < (size_t)n; i++)
                        lines += buf[i] == '\n';
                assert_true(head_len + (size_t)n < sizeof(head));
                memcpy(head + head_len, buf, (size_t)n);
                head_len += (size_t)n;
        }
        head[head_len] = '\0';
        kill(proc.pid, SIGTERM);
        rc = proc_finish(&proc, &out);
        assert_true(head_len + strlen(out) < sizeof(head));
        memcpy(head + head_len, out, strlen(out) + 1);
        free(out);
        out = strdup(head);
        assert_int_equal(rc, 0);
        for (cur = out; (line = next_line(&cur));) {
                report = json_loads(line, 0, NULL);
                assert_non_null(report);
                expect_state(group_of(report, group), "OK");
                assert_int_equal(int_of(group_of(report, group), "samples"),
                                 2);
                json_decref(report);
                reports++;
        }
        assert_true(reports >= 2);
        free(out);
        member_stop(m);
}

static void test_errors(void **state) {
        char *argv[12], *out;
        proc_t proc;
        int argc = 0;

        (void)state;
        NEED_BROKER();
        /* A topic that does not exist: an error, 2. */
        argv[argc++] = "vcdc";
        argv[argc++] = "status";
        argv[argc++] = "-q";
        argv[argc++] = "-t";
        argv[argc++] = "it_status_no_such_topic";
        argv[argc++] = "--group";
        argv[argc++] = "g";
        argv[argc] = NULL;
        proc_start(&proc, argv);
        assert_int_equal(proc_finish(&proc, &out), 2);
        free(out);
        /* Bad usage: 64. */
        argv[3] = "--window";
        argv[4] = "0";
        proc_start(&proc, argv);
        assert_int_equal(proc_finish(&proc, &out), 64);
        free(out);
}

static int setup(void **state) {
        const char *bin = getenv("VCDC_BIN");

        (void)state;
        brokers = getenv("VCDC_BROKERS");
        snprintf(prefix, sizeof(prefix), "it_status_%d_%ld", (int)getpid(),
                 (long)time(NULL));
        if (bin && *bin)
                snprintf(vcdc_bin, sizeof(vcdc_bin), "%s", bin);
        else if (access("../bin/vcdc", X_OK) == 0)
                snprintf(vcdc_bin, sizeof(vcdc_bin), "../bin/vcdc");
        else
                snprintf(vcdc_bin, sizeof(vcdc_bin), "bin/vcdc");
        if (!brokers || !*brokers)
                return 0;
        if (access(vcdc_bin, X_OK) != 0) {
                fprintf(stderr, "it_status: %s is not built (make all)\n",
                        vcdc_bin);
                return -1;
        }
        /* The shared topic: 30 records, 10 a partition. */
        name(topic, sizeof(topic), "t");
        create_topic(topic);
        produce(topic, 30);
        return 0;
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_ok),
                cmocka_unit_test(test_ok_live_writes),
                cmocka_unit_test(test_lagging),
                cmocka_unit_test(test_stalled),
                cmocka_unit_test(test_stopped),
                cmocka_unit_test(test_rewound),
                cmocka_unit_test(test_recorded),
                cmocka_unit_test(test_watch),
                cmocka_unit_test(test_errors),
        };

        return cmocka_run_group_tests(tests, setup, NULL);
}
