/*
 * vcdc - the model-based test of vcdc snapshot (issue 18; DESIGN.md, The
 * snapshot of a live OLD): generated histories in which a live writer
 * keeps changing OLD through the log while the snapshot copies OLD into
 * the same log, compared with a sequential model.
 *
 * One history (a seed decides all but the timing):
 *   - OLD (the test database's target "docs", tests/model/memdb.c) is
 *     prefilled directly with ids the log never held, in an insertion
 *     order unlike their key order;
 *   - a mock cluster (librdkafka's) holds the topic (P partitions) and
 *     the control topic; OLD's consumer (the consumer library, a process
 *     of its own, group G_old) applies the topic to OLD;
 *   - a writer thread sends live upserts and deletes (vcdc_producer_send:
 *     a delete with its tombstone), mostly of the prefilled ids, at random
 *     moments, while vcdc_snapshot_run() copies OLD with chunks of 1 to 5
 *     rows (this binary run again, --snapshot-child), paging as Chroma
 *     (insertion order, offset and anchors) or as pgvector (keyset);
 *   - the snapshot may be stopped (SIGTERM: after the current chunk) or
 *     killed (SIGKILL: anywhere) and run again, up to twice: the rerun
 *     resumes from its checkpoint;
 *   - then a fresh consumer replays the topic from offset 0 into an empty
 *     target NEW.
 * The model: the prefill, then every live change in the order the writer
 * sent it (one producer, keyed: the log's order per id), the last one of
 * an id winning. Checked: NEW equals the model exactly (ids, record hash,
 * tag); OLD equals it too once its consumer caught up; OLD never went
 * back (sampled all along: no update rolled back, no deleted id back);
 * OLD's consumer skipped exactly the snapshot's records (its
 * snapshot_skipped equals the tagged messages of the log); the live
 * messages in the log are the writer's.
 *
 * What a seed decides, the model and the comparison are in
 * tests/model/snaphist.c; running a history is here, the seeds and the
 * verdict in tests/model/seeds.c (shared with tests/test_model.c).
 *
 * The mock cluster answers neither DescribeConfigs nor
 * DescribeConsumerGroups: the snapshot runs with opts.skip_topic_checks
 * (snap.h), which skips only the topic's configuration checks and the
 * OLD group's membership check.
 *
 * VCDC_SNAPMODEL_SEED=N       replay that history, described in full
 * VCDC_SNAPMODEL_HISTORIES=N  how many (default 4; 2 under VCDC_TEST_SMALL)
 * VCDC_SNAPMODEL_BASE_SEED=N  the first seed (default 1)
 * VCDC_SNAPMODEL_JOBS=N       histories at once (default 4: they mostly
 *                             wait for the mock cluster)
 * VCDC_SNAPMODEL_KEEP=1       keeps every history's files, not only a
 *                             failing one's
 * VCDC_TEST_LOG=level         the test's logs; the children's go to their
 *                             files, kept with a failing history's
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "model/kit.h"
#include "model/memdb.h"
#include "model/seeds.h"
#include "model/snaphist.h"
#include "producer.h"
#include "snap.h"

/* ---- OLD, watched while the history runs ------------------------------ */

typedef struct watch_s {
        memdb_t *db;
        const hist_t *h;
        volatile int stop;
        int seen[MAX_IDS];   /* the highest seq seen present; -1: never */
        int gone[MAX_IDS];   /* seen absent after seen[] */
        char problem[512];   /* the first going back seen */
        uint64_t samples;
} watch_t;

static void *watcher(void *arg) {
        watch_t *wt = arg;
        memdb_state_t *st = malloc(sizeof(*st));
        const memdb_target_t *t;
        const memdb_row_t *row;
        int i, seq;

        for (i = 0; i < MAX_IDS; i++)
                wt->seen[i] = -1;
        while (st && !wt->stop) {
                memdb_snapshot(wt->db, st, NULL);
                wt->samples++;
                if (!(t = memdb_target(st, COLL)))
                        break;
                for (i = 0; i < wt->h->id_cnt && !wt->problem[0]; i++) {
                        if (!(row = memdb_row(t, wt->h->ids[i]))) {
                                wt->gone[i] = wt->seen[i] >= 0;
                                continue;
                        }
                        seq = snaphist_seq_of(row->tag);
                        if (seq < 0 || seq < wt->seen[i] ||
                            (wt->gone[i] && seq <= wt->seen[i]))
                                snprintf(wt->problem, sizeof(wt->problem),
                                         "OLD went back: id %s held %s%s, "
                                         "then L%d (or P for 0): %s",
                                         wt->h->ids[i], row->tag,
                                         wt->gone[i] ? " again after it was "
                                                       "deleted"
                                                     : "",
                                         wt->seen[i],
                                         wt->gone[i] ? "a deleted id came "
                                                       "back"
                                                     : "an update rolled "
                                                       "back");
                        if (seq > wt->seen[i]) {
                                wt->seen[i] = seq;
                                wt->gone[i] = 0;
                        }
                }
                kit_sleep_ms(1);
        }
        free(st);
        return NULL;
}

/* ---- The live writer --------------------------------------------------- */

typedef struct writer_s {
        hist_t *h;
        memdb_t *db;
        vcdc_producer_t *prod;
        int from, to; /* live[from..to) */
        char err[512];
} writer_t;

static int send_one(const hist_t *h, vcdc_producer_t *prod, int i,
                    char *errstr, size_t errstr_size) {
        const live_t *l = &h->live[i];
        vcdc_record_t rec;
        int r;

        vcdc_record_init(&rec);
        if (snaphist_make(&rec, h->ids[l->id], i + 1)) {
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        if (l->del) {
                free(rec.vector);
                rec.vector = NULL;
                rec.dim = 0;
                free(rec.metadata);
                rec.metadata = NULL;
                free(rec.document);
                rec.document = NULL;
                rec.op = VCDC_OP_DELETE;
        }
        r = vcdc_producer_send(prod, &rec, errstr, errstr_size);
        vcdc_record_clear(&rec);
        return r ? -1 : 0;
}

/* A reactive change: waits (up to 150 ms) for the snapshot to read a
 * page after the one seen last, and aims at one of its ids. */
static void react(writer_t *w, live_t *l, uint64_t *seenp) {
        char page[MEMDB_PAGE_IDS][MEMDB_NAME];
        int64_t until = kit_now_ms() + 150;
        uint64_t n;
        size_t cnt;
        int k;

        while ((n = memdb_last_page(w->db, page, MEMDB_PAGE_IDS, &cnt)) ==
                       *seenp &&
               kit_now_ms() < until)
                kit_sleep_ms(1);
        *seenp = n;
        if (!cnt)
                return;
        for (k = 0; k < w->h->id_cnt; k++)
                if (!strcmp(w->h->ids[k],
                            page[(size_t)l->react_pick % cnt]))
                        l->id = k;
        kit_sleep_ms(l->delay_ms);
}

static void *writer(void *arg) {
        writer_t *w = arg;
        uint64_t seen = 0;
        int i;

        for (i = w->from; i < w->to && !w->err[0]; i++) {
                if (w->db && w->h->live[i].react)
                        react(w, &w->h->live[i], &seen);
                else
                        kit_sleep_ms(w->h->live[i].pause_ms);
                if (send_one(w->h, w->prod, i, w->err, sizeof(w->err)) == 0)
                        vcdc_producer_poll(w->prod, 0);
        }
        if (!w->err[0])
                vcdc_producer_flush(w->prod, 30000, w->err, sizeof(w->err));
        return NULL;
}

/* ---- The snapshot, as a process of its own ----------------------------- */

static volatile sig_atomic_t snap_stop;

static void on_term(int sig) {
        (void)sig;
        snap_stop = 1;
}

/* argv as kit_spawn() builds it with mode --snapshot-child; -k snap.chunk
 * N gives the chunk, other -k pairs go to the configuration. */
static int snapshot_child(int argc, char **argv) {
        vcdc_snapshot_opts_t o = {.stop = &snap_stop,
                                  .skip_topic_checks = 1,
                                  .control_topic = CONTROL,
                                  .wait_ms = 30000};
        vcdc_snapshot_result_t res;
        vcdc_conf_t *conf = vcdc_conf_new();
        struct sigaction sa;
        sigset_t mask;
        char errstr[512];
        int i, rc;

        vcdc_log_level = VCDC_LOG_INFO;
        if (!conf || memdb_register_sinks())
                return 5;
        for (i = 2; i + 1 < argc; i += 2) {
                const char *a = argv[i], *v = argv[i + 1];
                if (!strcmp(a, "-p")) {
                        prctl(PR_SET_PDEATHSIG, SIGKILL);
                        if (getppid() != (pid_t)strtol(v, NULL, 10))
                                return 5;
                } else if (!strcmp(a, "-b")) {
                        if (vcdc_conf_set(conf, "bootstrap.servers", v,
                                          errstr, sizeof(errstr)))
                                goto bad;
                } else if (!strcmp(a, "-t")) {
                        o.topic = v;
                } else if (!strcmp(a, "-g")) {
                        o.old_group = v;
                } else if (!strcmp(a, "-u")) {
                        o.from_url = v;
                } else if (!strcmp(a, "-k") && i + 2 < argc) {
                        if (!strcmp(v, "snap.chunk"))
                                o.chunk = (size_t)atoi(argv[i + 2]);
                        else if (vcdc_conf_set(conf, v, argv[i + 2], errstr,
                                               sizeof(errstr)))
                                goto bad;
                        i++;
                } else {
                        return 5;
                }
        }
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_term;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGTERM, &sa, NULL);
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigprocmask(SIG_UNBLOCK, &mask, NULL);
        rc = vcdc_snapshot_run(conf, &o, &res, errstr, sizeof(errstr));
        fprintf(stderr,
                "snapshot child: rc %d%s%s: run %s, %" PRIu64
                " records, %" PRIu64 " chunks, %" PRIu64 " superseded, %" PRIu64
                " repairs, %" PRIu64 " resolved, resumed at %" PRId64
                ", finished %d\n",
                rc, rc ? ": " : "", rc ? errstr : "", res.run, res.records,
                res.chunks, res.superseded, res.repairs, res.resolved,
                res.resumed_chunk, res.finished);
        vcdc_conf_destroy(conf);
        return rc;
bad:
        fprintf(stderr, "snapshot child: %s\n", errstr);
        vcdc_conf_destroy(conf);
        return 5;
}

/* ---- One history ------------------------------------------------------- */

#define TOPIC "snap.topic"

/* The mock cluster has no controller: a consumer's advisory reads of the
 * topic's configuration (and of the control topic's, which exists here)
 * would wait 10 s each for one. */
static const char *const consumer_kv[] = {"vcdc.config.check.ms", "0",
                                          NULL};

typedef struct run_s {
        const hist_t *h;
        const char *dir;
        res_t *r;
        char db_path[512], old_log[512], snap_log[512], new_log[512];
        char old_url[700], new_url[700];
        kit_mock_t mock;
        memdb_t *db;
        rd_kafka_t *client; /* group G_old's offsets, the watermarks */
        pid_t old_pid;
} run_t;

/* Waits until G_old has committed every partition up to its log end. */
static int old_caught_up(run_t *x, int timeout_ms, char *errstr,
                         size_t errstr_size) {
        int64_t ends[8], committed[8], until = kit_now_ms() + timeout_ms;
        int p, behind = -1;

        for (;;) {
                if (kit_log_ends(x->client, TOPIC, x->h->parts, ends, errstr,
                                 errstr_size) ||
                    kit_committed(x->client, TOPIC, x->h->parts, committed,
                                  errstr, errstr_size))
                        return -1;
                for (p = 0, behind = -1; p < x->h->parts && behind < 0; p++)
                        if (committed[p] < ends[p])
                                behind = p;
                if (behind < 0)
                        return 0;
                if (kit_now_ms() > until) {
                        snprintf(errstr, errstr_size,
                                 "OLD's consumer has not committed [%d] up "
                                 "to its end %" PRId64 " (at %" PRId64
                                 ") in %d ms",
                                 behind, ends[behind], committed[behind],
                                 timeout_ms);
                        return -1;
                }
                kit_sleep_ms(20);
        }
}

static pid_t spawn_snapshot(run_t *x, char *errstr, size_t errstr_size) {
        char chunk[16];
        const char *kv[] = {"snap.chunk", chunk,
                            "vcdc.config.check.ms", "0",
                            "fetch.wait.max.ms", "20",
                            "reconnect.backoff.ms", "20",
                            "retry.backoff.ms", "20",
                            "log.connection.close", "false",
                            NULL};
        kit_spec_t spec = {.bootstraps = x->mock.bootstraps,
                           .topic = TOPIC,
                           .group = "g_old",
                           .sink_url = x->old_url,
                           .kv = kv,
                           .log_path = x->snap_log,
                           .mode = "--snapshot-child"};

        snprintf(chunk, sizeof(chunk), "%d", x->h->chunk);
        return kit_spawn(&spec, errstr, errstr_size);
}

/* The snapshot's runs: stopped or killed as the history says, then run
 * to its end. */
static void run_snapshots(run_t *x) {
        const hist_t *h = x->h;
        char errstr[512], how[128], last[600];
        int i, status = 0;
        pid_t pid;

        for (i = 0; i <= h->stop_cnt; i++) {
                if ((pid = spawn_snapshot(x, errstr, sizeof(errstr))) == -1) {
                        snaphist_fail(x->r, "snapshot: %s", errstr);
                        return;
                }
                x->r->runs++;
                if (i < h->stop_cnt &&
                    !kit_reap(pid, h->stops[i].after_ms, &status)) {
                        kill(pid, h->stops[i].sig);
                        if (h->stops[i].sig == SIGKILL)
                                x->r->kills++;
                        else
                                x->r->stops++;
                        if (!kit_reap(pid, 60000, &status)) {
                                kill(pid, SIGKILL);
                                kit_reap(pid, 10000, &status);
                                snaphist_fail(x->r,
                                              "snapshot run %d: no exit "
                                              "60 s after SIGTERM",
                                              i + 1);
                                return;
                        }
                        /* Stopped: 1 (resumable), or 0 when it was at its
                         * end anyway. */
                        if (h->stops[i].sig == SIGKILL ||
                            (WIFEXITED(status) &&
                             (WEXITSTATUS(status) == VCDC_SNAPSHOT_FAILED ||
                              WEXITSTATUS(status) == VCDC_SNAPSHOT_DONE)))
                                continue;
                } else if (i < h->stop_cnt && WIFEXITED(status) &&
                           WEXITSTATUS(status) == 0) {
                        return; /* done before its stop */
                } else if (i == h->stop_cnt && !kit_reap(pid, 120000,
                                                         &status)) {
                        kill(pid, SIGKILL);
                        kit_reap(pid, 10000, &status);
                        snaphist_fail(x->r, "snapshot: still running after "
                                            "120 s");
                        return;
                }
                if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                        return;
                kit_describe_exit(status, how, sizeof(how));
                kit_log_last(x->snap_log, "snapshot child", last,
                             sizeof(last));
                snaphist_fail(x->r, "snapshot run %d %s: %s", i + 1, how, last);
                return;
        }
}

/* The number before " own snapshot records skipped" in the consumer's
 * last report; -1 when there is none. */
static int64_t skipped_of(const char *log_path) {
        char buf[2048], *at, *p;

        kit_log_last(log_path, "own snapshot records skipped", buf,
                     sizeof(buf));
        if (!(at = strstr(buf, " own snapshot records skipped")))
                return -1;
        /* The last report, when there are two. */
        while ((p = strstr(at + 1, " own snapshot records skipped")))
                at = p;
        for (p = at; p > buf && p[-1] >= '0' && p[-1] <= '9'; p--)
                ;
        return p == at ? -1 : strtoll(p, NULL, 10);
}

/* The log read back: the live messages must be the writer's, and the
 * tagged ones are what OLD's consumer must have skipped. */
static void check_log(run_t *x, int64_t skipped) {
        const hist_t *h = x->h;
        kit_msg_t *msgs;
        size_t cnt, i;
        uint64_t live = 0, want_live = 0;
        char errstr[512];
        int k;

        if (kit_read_topic(x->mock.bootstraps, TOPIC, h->parts, &msgs, &cnt,
                           errstr, sizeof(errstr))) {
                snaphist_fail(x->r, "reading the topic back: %s", errstr);
                return;
        }
        for (i = 0; i < cnt; i++) {
                if (msgs[i].snapshot)
                        x->r->snap_msgs++;
                else
                        live++;
                x->r->repairs += (uint64_t)msgs[i].repair;
        }
        for (k = 0; k < h->live_cnt; k++)
                want_live += h->live[k].del ? 2 : 1; /* and its tombstone */
        if (live != want_live)
                snaphist_fail(x->r,
                              "the log holds %" PRIu64 " untagged messages, "
                              "the writer sent %" PRIu64,
                              live, want_live);
        x->r->skipped = skipped < 0 ? 0 : (uint64_t)skipped;
        if (skipped != (int64_t)x->r->snap_msgs)
                snaphist_fail(x->r,
                              "OLD's consumer skipped %" PRId64 " of its own "
                              "snapshot records; the log holds %" PRIu64,
                              skipped, x->r->snap_msgs);
        kit_msgs_free(msgs, cnt);
}

static void check_violations(run_t *x) {
        memdb_state_t *st = malloc(sizeof(*st));
        memdb_stats_t stats[MEMDB_TARGETS];
        int t;

        if (!st) {
                snaphist_fail(x->r, "out of memory");
                return;
        }
        memdb_snapshot(x->db, st, stats);
        for (t = 0; t < MEMDB_TARGETS; t++)
                if (stats[t].violations)
                        snaphist_fail(x->r,
                                      "%s: %" PRIu64 " calls against the "
                                      "sink contract, the first: %s",
                                      st->targets[t].name, stats[t].violations,
                                      stats[t].violation);
        free(st);
}

static int start_old(run_t *x, char *errstr, size_t errstr_size) {
        kit_spec_t spec = {.bootstraps = x->mock.bootstraps,
                           .topic = TOPIC,
                           .group = "g_old",
                           .sink_url = x->old_url,
                           .kv = consumer_kv,
                           .log_path = x->old_log};

        if (!(x->client = kit_client(x->mock.bootstraps, "g_old", errstr,
                                     errstr_size)) ||
            kit_commit_zero(x->client, TOPIC, x->h->parts, errstr,
                            errstr_size))
                return -1;
        return (x->old_pid = kit_spawn(&spec, errstr, errstr_size)) == -1
                       ? -1
                       : 0;
}

/* NEW: a fresh consumer replays the topic from offset 0, then exits. */
static void replay_new(run_t *x) {
        kit_spec_t spec = {.bootstraps = x->mock.bootstraps,
                           .topic = TOPIC,
                           .group = "g_new",
                           .sink_url = x->new_url,
                           .collection = COLL,
                           .kv = consumer_kv,
                           .exit_at_end = 1,
                           .log_path = x->new_log};
        char errstr[512], how[128], last[600];
        rd_kafka_t *c;
        int status;
        pid_t pid;

        if (!(c = kit_client(x->mock.bootstraps, "g_new", errstr,
                             sizeof(errstr))) ||
            kit_commit_zero(c, TOPIC, x->h->parts, errstr, sizeof(errstr)) ||
            (pid = kit_spawn(&spec, errstr, sizeof(errstr))) == -1) {
                snaphist_fail(x->r, "NEW's consumer: %s", errstr);
                if (c)
                        rd_kafka_destroy(c);
                return;
        }
        rd_kafka_destroy(c);
        if (!kit_reap(pid, 60000, &status)) {
                kill(pid, SIGKILL);
                kit_reap(pid, 10000, &status);
                snaphist_fail(x->r,
                              "NEW's consumer: not at the log end in 60 s");
                return;
        }
        if (!WIFEXITED(status) || WEXITSTATUS(status) != KIT_EXIT_OK) {
                kit_describe_exit(status, how, sizeof(how));
                kit_log_last(x->new_log, "model consumer", last,
                             sizeof(last));
                snaphist_fail(x->r, "NEW's consumer %s: %s", how, last);
        }
}

static void run_history(hist_t *h, const char *dir, res_t *r) {
        run_t x = {.h = h, .dir = dir, .r = r, .old_pid = -1};
        watch_t wt = {.h = h};
        writer_t w = {.h = h};
        pthread_t wthr, wtthr;
        int writing = 0, watching = 0, status, i;
        vcdc_record_t recs[MAX_IDS];
        want_t want[MAX_IDS];
        memdb_state_t *st = NULL;
        vcdc_conf_t *conf = NULL;
        char errstr[512];
        int64_t t0 = kit_now_ms(), skipped;

        snprintf(x.db_path, sizeof(x.db_path), "%s/%" PRIu64 ".db", dir,
                 h->seed);
        snprintf(x.old_log, sizeof(x.old_log), "%s/%" PRIu64 "-old.log", dir,
                 h->seed);
        snprintf(x.snap_log, sizeof(x.snap_log), "%s/%" PRIu64 "-snap.log",
                 dir, h->seed);
        snprintf(x.new_log, sizeof(x.new_log), "%s/%" PRIu64 "-new.log", dir,
                 h->seed);
        snprintf(x.old_url, sizeof(x.old_url), "%s://memdb/" COLL "?db=%s&%s",
                 h->key_scan ? "mfence" : "mapart", x.db_path,
                 h->key_scan ? "scan=key" : "scan=insert");
        snprintf(x.new_url, sizeof(x.new_url),
                 "mfence://memdb/" NEW_TARGET "?db=%s", x.db_path);
        for (i = 0; i < MAX_IDS; i++)
                vcdc_record_init(&recs[i]);

        /* OLD, with data the log never held. */
        if (!(x.db = memdb_create(x.db_path, TOPIC, errstr,
                                  sizeof(errstr)))) {
                snaphist_fail(r, "%s", errstr);
                return;
        }
        for (i = 0; i < h->prefill; i++)
                if (snaphist_make(&recs[i], h->ids[i], 0)) {
                        snaphist_fail(r, "out of memory");
                        goto out;
                }
        if (memdb_load(x.db, COLL, recs, (size_t)h->prefill, errstr,
                       sizeof(errstr))) {
                snaphist_fail(r, "prefill: %s", errstr);
                goto out;
        }
        if (kit_mock_start(&x.mock, 2, TOPIC, h->parts, errstr,
                           sizeof(errstr)) ||
            rd_kafka_mock_topic_create(x.mock.mc, CONTROL, 1, 1)) {
                snaphist_fail(r, "mock cluster: %s", errstr);
                goto out;
        }
        if (start_old(&x, errstr, sizeof(errstr))) {
                snaphist_fail(r, "OLD's consumer: %s", errstr);
                goto out;
        }
        if (!(conf = vcdc_conf_new()) ||
            vcdc_conf_set(conf, "bootstrap.servers", x.mock.bootstraps,
                          errstr, sizeof(errstr)) ||
            !(w.prod = vcdc_producer_new(conf, TOPIC, errstr,
                                         sizeof(errstr)))) {
                snaphist_fail(r, "producer: %s",
                              conf ? errstr : "out of memory");
                goto out;
        }

        /* The writers went to the log first: OLD's consumer applies what
         * they wrote before the snapshot starts. */
        w.from = 0;
        w.to = h->before;
        writer(&w);
        if (w.err[0]) {
                snaphist_fail(r, "writer: %s", w.err);
                goto out;
        }
        if (old_caught_up(&x, 30000, errstr, sizeof(errstr))) {
                snaphist_fail(r, "before the snapshot: %s", errstr);
                goto out;
        }
        r->phase_ms[0] = kit_now_ms() - t0;
        wt.db = x.db;
        w.db = x.db; /* from now on, reactive changes */
        if (!(watching = !pthread_create(&wtthr, NULL, watcher, &wt))) {
                snaphist_fail(r, "pthread_create failed");
                goto out;
        }
        w.from = h->before;
        w.to = h->live_cnt;
        if (!(writing = !pthread_create(&wthr, NULL, writer, &w))) {
                snaphist_fail(r, "pthread_create failed");
                goto out;
        }
        run_snapshots(&x);
        r->phase_ms[1] = kit_now_ms() - t0;
        pthread_join(wthr, NULL);
        writing = 0;
        if (w.err[0])
                snaphist_fail(r, "writer: %s", w.err);
        if (r->failed)
                goto out;

        if (old_caught_up(&x, 30000, errstr, sizeof(errstr)))
                snaphist_fail(r, "after the snapshot: %s", errstr);
        wt.stop = 1;
        pthread_join(wtthr, NULL);
        watching = 0;
        if (wt.problem[0])
                snaphist_fail(r, "%s", wt.problem);
        kill(x.old_pid, SIGTERM);
        if (!kit_reap(x.old_pid, 30000, &status))
                snaphist_fail(r, "OLD's consumer: no exit 30 s after SIGTERM");
        else
                x.old_pid = -1;
        r->phase_ms[2] = kit_now_ms() - t0;
        skipped = skipped_of(x.old_log);
        check_log(&x, skipped);
        replay_new(&x);
        r->phase_ms[3] = kit_now_ms() - t0;
        /* The reactive changes' ids are known now. */
        if (snaphist_model(h, want) == -1 || !(st = malloc(sizeof(*st)))) {
                snaphist_fail(r, "out of memory");
                goto out;
        }
        memdb_snapshot(x.db, st, NULL);
        snaphist_compare(h, want, st, COLL, r);
        snaphist_compare(h, want, st, NEW_TARGET, r);
        check_violations(&x);
out:
        if (writing)
                pthread_join(wthr, NULL);
        if (watching) {
                wt.stop = 1;
                pthread_join(wtthr, NULL);
        }
        if (x.old_pid > 0) {
                kill(x.old_pid, SIGKILL);
                kit_reap(x.old_pid, 10000, &status);
        }
        free(st);
        vcdc_producer_destroy(w.prod);
        vcdc_conf_destroy(conf);
        if (x.client)
                rd_kafka_destroy(x.client);
        kit_mock_stop(&x.mock);
        memdb_unmap(x.db);
        for (i = 0; i < MAX_IDS; i++)
                vcdc_record_clear(&recs[i]);
        r->ms = kit_now_ms() - t0;
        if (!r->failed && !getenv("VCDC_SNAPMODEL_KEEP")) {
                unlink(x.db_path);
                unlink(x.old_log);
                unlink(x.snap_log);
                unlink(x.new_log);
        }
}

/* ---- The histories ----------------------------------------------------- */

static void run_one(kit_seeds_t *s, uint64_t seed, void *result,
                    char **descp) {
        res_t *r = result;
        hist_t *h = malloc(sizeof(*h));
        char *desc = *descp = malloc(8192);

        if (!h) {
                snaphist_fail(r, "out of memory");
                return;
        }
        snaphist_generate(h, seed);
        run_history(h, s->dir, r);
        /* After the run: reactive changes have their ids. */
        if (desc)
                snaphist_describe(h, desc, 8192);
        if (s->describe && desc)
                kit_print_lines(desc);
        print_message("[ snapmodel ] seed %" PRIu64 ": %s, %" PRIu64
                      " snapshot runs (%" PRIu64 " stopped, %" PRIu64
                      " killed), %" PRIu64 " snapshot messages (%" PRIu64
                      " repairs), %" PRIu64 " skipped by OLD, %.1f s"
                      " (OLD up %.1f, snapshot %.1f, OLD done %.1f, "
                      "NEW %.1f)\n",
                      seed, r->failed ? "DIFFERS FROM THE MODEL" : "ok",
                      r->runs, r->stops, r->kills, r->snap_msgs, r->repairs,
                      r->skipped, (double)r->ms / 1000.0,
                      (double)r->phase_ms[0] / 1000.0,
                      (double)r->phase_ms[1] / 1000.0,
                      (double)r->phase_ms[2] / 1000.0,
                      (double)r->phase_ms[3] / 1000.0);
        free(h);
}

static const char *failure(const void *result) {
        const res_t *r = result;

        return r->failed ? r->text : NULL;
}

static void test_snapshot_histories(void **state) {
        kit_seeds_t s = {.tag = "snapmodel",
                         .env = "VCDC_SNAPMODEL",
                         .histories = kit_small() ? 2 : 4,
                         .jobs = 4,
                         .result_size = sizeof(res_t),
                         .run = run_one,
                         .failure = failure};
        uint64_t runs = 0, kills = 0, stops = 0, msgs = 0, repairs = 0;
        uint64_t i, failed = 0;

        (void)state;
        kit_seeds_run(&s);
        for (i = 0; i < s.count; i++) {
                const res_t *r = kit_seeds_result(&s, i);

                runs += r->runs;
                kills += r->kills;
                stops += r->stops;
                msgs += r->snap_msgs;
                repairs += r->repairs;
                failed += r->failed != 0;
        }
        print_message("[ snapmodel ] %" PRIu64 " histories ran: %" PRIu64
                      " snapshot runs, %" PRIu64 " stopped, %" PRIu64
                      " killed, %" PRIu64 " snapshot messages, %" PRIu64
                      " repairs; %" PRIu64 " differ from the model\n",
                      s.count, runs, stops, kills, msgs, repairs, failed);
        kit_seeds_finish(&s);
}

int main(int argc, char **argv) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_snapshot_histories),
        };
        int rc;

        if (argc > 1 && !strcmp(argv[1], "--snapshot-child"))
                return snapshot_child(argc, argv);
        if (kit_main_init(argc, argv, &rc))
                return rc;
        if (memdb_register_sinks()) {
                fprintf(stderr, "cannot register the test sinks\n");
                return 1;
        }
        return cmocka_run_group_tests_name("snapshot model", tests, NULL,
                                           NULL);
}
