/*
 * vcdc - model test: running one history.
 *
 * A mock cluster of its own, a database file, one consumer group per
 * collection (its committed offsets set to the start of the topic), the
 * log written segment by segment while consumers start, are killed
 * (SIGKILL), stopped (SIGTERM) and restarted as the schedule says; a
 * consumer that exits by itself is a failure, restarted as a supervisor
 * would (a few times). Then the faults stop, every group gets a consumer,
 * and once every group's committed offsets reach the log end the
 * consumers are stopped and the outcome is checked against the model.
 * Every wait is bounded: a consumer that hangs fails the history with a
 * message, never the test run.
 */
#include "model.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kit.h"
#include "memdb.h"
#include "producer.h"

#define FAULTY_MS 15000   /* faults after the schedule, at most */
#define CATCH_UP_MS 60000 /* after the faults stop */
#define STOP_WAIT_MS 30000 /* for a consumer to end after SIGTERM */
#define MAX_CRASHES 3      /* restarts of a consumer that exited itself */

typedef struct slot_s {
        pid_t pid; /* 0: not running */
        int spawns, crashes;
        char log[512];
} slot_t;

typedef struct run_s {
        hist_t *h;
        hresult_t *res;
        char topic[64];
        kit_mock_t mock;
        memdb_t *db;
        char db_path[512];
        rd_kafka_t *clients[HIST_MAX_GROUPS]; /* read committed offsets */
        char group_ids[HIST_MAX_GROUPS][64];
        vcdc_producer_t *producer;
        slot_t slots[HIST_MAX_GROUPS][HIST_MAX_MEMBERS];
        int64_t ends[MEMDB_PARTS];
        int broken; /* the test's own machinery failed: no checks */
} run_t;

/* s with '%' and '/' escaped, for a URL's path. */
static void url_escape(const char *s, char *buf, size_t size) {
        size_t n = 0;

        for (; *s && n + 4 < size; s++) {
                if (*s == '%' || *s == '/' || *s == '?' || *s == '&')
                        n += (size_t)snprintf(buf + n, size - n, "%%%02X",
                                              (unsigned char)*s);
                else
                        buf[n++] = *s;
        }
        buf[n] = '\0';
}

static int spawn_slot(run_t *rn, int g, int m) {
        const hgroup_t *gr = &rn->h->groups[g];
        slot_t *sl = &rn->slots[g][m];
        char url[1024], target[96], errstr[512];
        char br[16], bms[16], cms[16], dim[16];
        const char *kv[16];
        kit_spec_t spec;
        size_t n = 0;

        url_escape(gr->target, target, sizeof(target));
        snprintf(url, sizeof(url),
                 "%s://memdb/%s?db=%s&seed=%" PRIu64
                 "&inst=%d&fail=%d&lost=%d&big=%d&bigmin=%d&lat=%d&rfail=%d",
                 sink_scheme(gr->sink), target, rn->db_path, rn->h->seed,
                 g * 1000 + m * 100 + sl->spawns, gr->fail, gr->lost,
                 gr->big, gr->bigmin, gr->lat, gr->rfail);
        snprintf(br, sizeof(br), "%d", gr->batch_records);
        snprintf(bms, sizeof(bms), "%d", gr->batch_ms);
        snprintf(cms, sizeof(cms), "%d", gr->commit_ms);
        snprintf(dim, sizeof(dim), "%" PRIu32, rn->h->pinned);
        kv[n++] = "vcdc.batch.records";
        kv[n++] = br;
        kv[n++] = "vcdc.batch.ms";
        kv[n++] = bms;
        kv[n++] = "vcdc.commit.interval.ms";
        kv[n++] = cms;
        if (rn->h->pinned) {
                kv[n++] = "vcdc.sink.dim";
                kv[n++] = dim;
        }
        kv[n] = NULL;
        memset(&spec, 0, sizeof(spec));
        spec.bootstraps = rn->mock.bootstraps;
        spec.topic = rn->topic;
        spec.group = rn->group_ids[g];
        spec.sink_url = url;
        spec.collection = gr->opt_coll ? rn->h->colls[gr->coll] : NULL;
        spec.kv = kv;
        spec.log_path = sl->log;
        if ((sl->pid = kit_spawn(&spec, errstr, sizeof(errstr))) == -1) {
                sl->pid = 0;
                hres_add(rn->res, "cannot start consumer g%d.%d: %s", g, m,
                         errstr);
                rn->broken = 1;
                return -1;
        }
        sl->spawns++;
        rn->res->starts++;
        return 0;
}

/* An exit nobody asked for: a failure; restarted a few times. */
static void supervise(run_t *rn) {
        char how[128], last[2100];
        int g, m, status;

        for (g = 0; g < rn->h->group_cnt; g++)
                for (m = 0; m < HIST_MAX_MEMBERS; m++) {
                        slot_t *sl = &rn->slots[g][m];
                        if (!sl->pid || !kit_reap(sl->pid, 0, &status))
                                continue;
                        sl->pid = 0;
                        sl->crashes++;
                        rn->res->crashes++;
                        kit_describe_exit(status, how, sizeof(how));
                        kit_log_last(sl->log, " error ", last, sizeof(last));
                        hres_add(rn->res,
                                 "consumer g%d.%d %s by itself%s; its last "
                                 "error: %s (log %s)",
                                 g, m, how,
                                 sl->crashes > MAX_CRASHES
                                         ? ", not restarted again"
                                         : ", restarted",
                                 *last ? last : "none", sl->log);
                        if (sl->crashes <= MAX_CRASHES)
                                spawn_slot(rn, g, m);
                }
}

static void kill_slot(run_t *rn, int g, int m, int in_apply) {
        slot_t *sl = &rn->slots[g][m];
        int64_t until = kit_now_ms() + 3000;
        int status;

        if (!sl->pid)
                return;
        while (in_apply && memdb_busy(rn->db) != sl->pid &&
               kit_now_ms() < until)
                usleep(200);
        kill(sl->pid, SIGKILL);
        kit_reap(sl->pid, STOP_WAIT_MS, &status);
        sl->pid = 0;
        rn->res->kills++;
}

/* SIGTERM, and a clean exit within STOP_WAIT_MS. */
static void stop_slots(run_t *rn, int only_g, int only_m) {
        char how[128], last[2100];
        int64_t until = kit_now_ms() + STOP_WAIT_MS;
        int g, m, status;

        for (g = 0; g < rn->h->group_cnt; g++)
                for (m = 0; m < HIST_MAX_MEMBERS; m++)
                        if (rn->slots[g][m].pid &&
                            (only_g < 0 || (g == only_g && m == only_m)))
                                kill(rn->slots[g][m].pid, SIGTERM);
        for (g = 0; g < rn->h->group_cnt; g++)
                for (m = 0; m < HIST_MAX_MEMBERS; m++) {
                        slot_t *sl = &rn->slots[g][m];
                        int64_t left = until - kit_now_ms();
                        if (!sl->pid ||
                            (only_g >= 0 && (g != only_g || m != only_m)))
                                continue;
                        rn->res->stops++;
                        if (!kit_reap(sl->pid, left > 0 ? (int)left : 0,
                                      &status)) {
                                kill(sl->pid, SIGKILL);
                                kit_reap(sl->pid, STOP_WAIT_MS, &status);
                                hres_add(rn->res,
                                         "consumer g%d.%d did not stop "
                                         "within %d s of SIGTERM (killed; "
                                         "log %s)",
                                         g, m, STOP_WAIT_MS / 1000, sl->log);
                        } else if (!WIFEXITED(status) ||
                                   WEXITSTATUS(status) != KIT_EXIT_OK) {
                                kit_describe_exit(status, how, sizeof(how));
                                kit_log_last(sl->log, " error ", last,
                                             sizeof(last));
                                hres_add(rn->res,
                                         "consumer g%d.%d stopped by SIGTERM "
                                         "%s; its last error: %s (log %s)",
                                         g, m, how, *last ? last : "none",
                                         sl->log);
                        }
                        sl->pid = 0;
                }
}

static int produce_segment(run_t *rn, int seg) {
        rd_kafka_t *rk = vcdc_producer_handle(rn->producer);
        rd_kafka_resp_err_t err;
        vcdc_record_t rec;
        char errstr[512];
        size_t i;

        for (i = 0; i < rn->h->msg_cnt; i++) {
                const hmsg_t *m = &rn->h->msgs[i];
                if (m->segment != seg ||
                    (m->kind == M_TOMBSTONE && !m->lone))
                        continue; /* written with its DELETE */
                if (m->kind == M_UPSERT || m->kind == M_DELETE) {
                        if (hist_record(rn->h, m, &rec) == -1)
                                goto oom;
                        if (vcdc_producer_send(rn->producer, &rec, errstr,
                                               sizeof(errstr))) {
                                vcdc_record_clear(&rec);
                                goto fail;
                        }
                        vcdc_record_clear(&rec);
                        continue;
                }
                /* Exact control: a lone tombstone, an undecodable value, a
                 * bad key, through the same producer (same partitioner,
                 * same order). */
                while ((err = rd_kafka_producev(
                                rk, RD_KAFKA_V_TOPIC(rn->topic),
                                RD_KAFKA_V_KEY(m->key, m->key_len),
                                RD_KAFKA_V_VALUE(m->value, m->len),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                RD_KAFKA_V_END)) ==
                       RD_KAFKA_RESP_ERR__QUEUE_FULL)
                        rd_kafka_poll(rk, 50 /*ms*/);
                if (err) {
                        snprintf(errstr, sizeof(errstr), "produce: %s",
                                 rd_kafka_err2str(err));
                        goto fail;
                }
        }
        if (vcdc_producer_flush(rn->producer, 30000, errstr, sizeof(errstr)))
                goto fail;
        return 0;
oom:
        snprintf(errstr, sizeof(errstr), "out of memory");
fail:
        hres_add(rn->res, "writing segment %d of the log: %s", seg, errstr);
        rn->broken = 1;
        return -1;
}

static int setup(run_t *rn, const char *dir) {
        hist_t *h = rn->h;
        vcdc_conf_t *conf = NULL;
        char errstr[512];
        int g, m;

        snprintf(rn->topic, sizeof(rn->topic), "model.%" PRIu64, h->seed);
        snprintf(rn->db_path, sizeof(rn->db_path), "%s/h%" PRIu64 ".db",
                 dir, h->seed);
        for (g = 0; g < h->group_cnt; g++) {
                snprintf(rn->group_ids[g], sizeof(rn->group_ids[g]),
                         "model.%" PRIu64 ".g%d", h->seed, g);
                for (m = 0; m < HIST_MAX_MEMBERS; m++)
                        snprintf(rn->slots[g][m].log,
                                 sizeof(rn->slots[g][m].log),
                                 "%s/h%" PRIu64 ".g%d.%d.log", dir, h->seed,
                                 g, m);
        }
        if (kit_mock_start(&rn->mock, h->brokers, rn->topic, h->partitions,
                           errstr, sizeof(errstr)) ||
            !(rn->db = memdb_create(rn->db_path, rn->topic, errstr,
                                    sizeof(errstr))))
                goto fail;
        for (g = 0; g < h->group_cnt; g++)
                if (!(rn->clients[g] = kit_client(rn->mock.bootstraps,
                                                  rn->group_ids[g], errstr,
                                                  sizeof(errstr))) ||
                    kit_commit_zero(rn->clients[g], rn->topic, h->partitions,
                                    errstr, sizeof(errstr)))
                        goto fail;
        if (!(conf = vcdc_conf_new()) ||
            vcdc_conf_set(conf, "bootstrap.servers", rn->mock.bootstraps,
                          errstr, sizeof(errstr)) ||
            /* One request in flight, as the mock needs (test_mock_faults,
             * the top); no faults are injected while writing. */
            vcdc_conf_set(conf, "max.in.flight.requests.per.connection", "1",
                          errstr, sizeof(errstr)) ||
            vcdc_conf_set(conf, "linger.ms", "2", errstr, sizeof(errstr)) ||
            !(rn->producer = vcdc_producer_new(conf, rn->topic, errstr,
                                               sizeof(errstr))))
                goto fail;
        vcdc_conf_destroy(conf);
        return 0;
fail:
        vcdc_conf_destroy(conf);
        hres_add(rn->res, "set-up: %s", errstr);
        rn->broken = 1;
        return -1;
}

static void teardown(run_t *rn) {
        int g, m;

        for (g = 0; g < HIST_MAX_GROUPS; g++)
                for (m = 0; m < HIST_MAX_MEMBERS; m++)
                        kill_slot(rn, g, m, 0);
        vcdc_producer_destroy(rn->producer);
        for (g = 0; g < HIST_MAX_GROUPS; g++)
                if (rn->clients[g]) {
                        rd_kafka_consumer_close(rn->clients[g]);
                        rd_kafka_destroy(rn->clients[g]);
                }
        if (rn->mock.mc)
                kit_mock_stop(&rn->mock);
        memdb_unmap(rn->db);
        if (!rn->res->failed) {
                unlink(rn->db_path);
                for (g = 0; g < HIST_MAX_GROUPS; g++)
                        for (m = 0; m < HIST_MAX_MEMBERS; m++)
                                unlink(rn->slots[g][m].log);
        }
}

static void run_schedule(run_t *rn) {
        int64_t t0 = kit_now_ms();
        int e;

        for (e = 0; e < rn->h->event_cnt && !rn->broken; e++) {
                const hevent_t *ev = &rn->h->events[e];
                while (kit_now_ms() < t0 + ev->t_ms) {
                        supervise(rn);
                        kit_sleep_ms(20);
                }
                supervise(rn);
                switch (ev->type) {
                case EV_PRODUCE:
                        produce_segment(rn, ev->segment);
                        break;
                case EV_START:
                        if (!rn->slots[ev->group][ev->member].pid)
                                spawn_slot(rn, ev->group, ev->member);
                        break;
                case EV_KILL:
                        kill_slot(rn, ev->group, ev->member, ev->in_apply);
                        break;
                case EV_STOP:
                        stop_slots(rn, ev->group, ev->member);
                        break;
                }
        }
}

/* Every group's committed offsets at the log end: 1; 0 not yet; -1 when
 * a group fell behind for good (reported, when report is set). */
static int caught_up(run_t *rn, int *gave_up, int report) {
        const hist_t *h = rn->h;
        int64_t committed[MEMDB_PARTS];
        char errstr[512], where[600];
        int g, m, p, alive, done = 1;
        size_t n;

        for (g = 0; g < h->group_cnt; g++) {
                int behind = 0;
                if (gave_up[g])
                        continue;
                for (m = alive = 0; m < HIST_MAX_MEMBERS; m++)
                        alive |= rn->slots[g][m].pid != 0;
                if (kit_committed(rn->clients[g], rn->topic, h->partitions,
                                  committed, errstr, sizeof(errstr))) {
                        snprintf(where, sizeof(where), ": %s", errstr);
                        behind = 1;
                } else {
                        for (p = 0, n = 0; p < h->partitions; p++) {
                                behind |= committed[p] != rn->ends[p];
                                n += (size_t)snprintf(
                                        where + n, sizeof(where) - n,
                                        " p%d %" PRId64 "/%" PRId64, p,
                                        committed[p], rn->ends[p]);
                                if (n >= sizeof(where))
                                        n = sizeof(where) - 1;
                        }
                }
                if (!behind)
                        continue;
                if (!alive || report) {
                        hres_add(rn->res, "group g%d %s (committed%s)", g,
                                 !alive ? "has no consumer left and is "
                                          "behind"
                                        : "did not reach the log end in "
                                          "time after the faults stopped",
                                 where);
                        gave_up[g] = 1;
                        continue;
                }
                done = 0;
        }
        return done;
}

/* The faults go on until every group caught up once (or FAULTY_MS
 * passed), then stop; every group gets a consumer and runs until its
 * committed offsets reach the log end. */
static void catch_up(run_t *rn) {
        const hist_t *h = rn->h;
        int gave_up[HIST_MAX_GROUPS] = {0};
        int64_t deadline, next_look = 0;
        char errstr[512];
        int g, m, alive, faults = 1;

        if (kit_log_ends(rn->clients[0], rn->topic, h->partitions, rn->ends,
                         errstr, sizeof(errstr))) {
                hres_add(rn->res, "the log end: %s", errstr);
                rn->broken = 1;
                return;
        }
        deadline = kit_now_ms() + FAULTY_MS;
        for (;;) {
                supervise(rn);
                kit_sleep_ms(20);
                if (kit_now_ms() < next_look)
                        continue;
                next_look = kit_now_ms() + 250;
                if (faults && (kit_now_ms() > deadline ||
                               caught_up(rn, gave_up, 0))) {
                        memdb_set_faults(rn->db, 0);
                        faults = 0;
                        for (g = 0; g < h->group_cnt; g++) {
                                for (m = alive = 0; m < HIST_MAX_MEMBERS; m++)
                                        alive |= rn->slots[g][m].pid != 0;
                                if (!alive)
                                        spawn_slot(rn, g, 0);
                        }
                        deadline = kit_now_ms() +
                                   CATCH_UP_MS * (kit_small() ? 2 : 1);
                        continue;
                }
                if (!faults &&
                    caught_up(rn, gave_up, kit_now_ms() > deadline))
                        return;
        }
}

/* Finds each written message in the log read back: partition, offset. */
static int locate(hist_t *h, const kit_msg_t *rb, size_t rb_cnt,
                  hresult_t *res) {
        size_t start[MEMDB_PARTS] = {0}, cnt[MEMDB_PARTS] = {0},
               at[MEMDB_PARTS] = {0}, i;
        int32_t p;

        for (i = 0; i < rb_cnt; i++)
                cnt[rb[i].partition]++;
        for (p = 1; p < h->partitions; p++)
                start[p] = start[p - 1] + cnt[p - 1];
        for (i = 0; i < h->msg_cnt; i++) {
                hmsg_t *m = &h->msgs[i];
                for (p = 0; p < h->partitions; p++) {
                        const kit_msg_t *r = &rb[start[p] + at[p]];
                        if (at[p] < cnt[p] && r->key_len == m->key_len &&
                            !memcmp(r->key, m->key, m->key_len) &&
                            !r->value == !m->value && r->len == m->len &&
                            (!m->value || !memcmp(r->value, m->value, m->len)))
                                break;
                }
                if (p == h->partitions) {
                        hres_add(res,
                                 "the log read back differs from what was "
                                 "written: message %zu (tag r%d) is not next "
                                 "in any partition",
                                 i, m->tag);
                        return -1;
                }
                m->partition = p;
                m->offset = rb[start[p] + at[p]].offset;
                at[p]++;
        }
        for (p = 0; p < h->partitions; p++)
                if (at[p] != cnt[p]) {
                        hres_add(res,
                                 "the log read back holds %zu messages more "
                                 "than written in partition %d",
                                 cnt[p] - at[p], p);
                        return -1;
                }
        return 0;
}

static void check(run_t *rn) {
        hist_t *h = rn->h;
        memdb_stats_t stats[MEMDB_TARGETS];
        memdb_state_t *state = malloc(sizeof(*state));
        kit_msg_t *rb = NULL, *dlq = NULL;
        size_t rb_cnt = 0, dlq_cnt = 0, t;
        char errstr[512], dlq_topic[128];
        model_t mo;
        int g;

        if (!state) {
                hres_add(rn->res, "out of memory");
                return;
        }
        memdb_snapshot(rn->db, state, stats);
        rn->res->recovered = memdb_recovered(rn->db);
        for (t = 0; t < MEMDB_TARGETS; t++) {
                rn->res->sink_faults += stats[t].retriable + stats[t].lost;
                rn->res->applies += stats[t].commits;
                rn->res->calls += stats[t].calls;
                for (g = 0; g < h->group_cnt; g++)
                        if (stats[t].violations &&
                            !strcmp(state->targets[t].name,
                                    h->groups[g].target))
                                hres_add(rn->res,
                                         "group g%d broke the sink contract "
                                         "%" PRIu64 " times; the first: %s",
                                         g, stats[t].violations,
                                         stats[t].violation);
        }
        snprintf(dlq_topic, sizeof(dlq_topic), "%s.dlq", rn->topic);
        if (kit_read_topic(rn->mock.bootstraps, rn->topic, h->partitions, &rb,
                           &rb_cnt, errstr, sizeof(errstr)) ||
            kit_read_topic(rn->mock.bootstraps, dlq_topic, 1, &dlq, &dlq_cnt,
                           errstr, sizeof(errstr))) {
                hres_add(rn->res, "%s", errstr);
                goto done;
        }
        if (locate(h, rb, rb_cnt, rn->res))
                goto done;
        if (model_build(h, &mo)) {
                hres_add(rn->res, "out of memory");
                goto done;
        }
        rn->res->messages = h->msg_cnt;
        rn->res->refused = mo.refused[F_DECODE] + mo.refused[F_CHECK] +
                           mo.refused[F_DIM] + mo.refused[F_DB];
        model_check(h, &mo, state, dlq, dlq_cnt, rn->topic, rn->ends,
                    rn->res);
        model_free(&mo);
done:
        kit_msgs_free(rb, rb_cnt);
        kit_msgs_free(dlq, dlq_cnt);
        free(state);
}

void hist_run(hist_t *h, const char *dir, hresult_t *res) {
        int64_t t0 = kit_now_ms();
        run_t rn;

        memset(&rn, 0, sizeof(rn));
        rn.h = h;
        rn.res = res;
        if (setup(&rn, dir) == 0) {
                run_schedule(&rn);
                if (!rn.broken)
                        catch_up(&rn);
                stop_slots(&rn, -1, -1);
                if (!rn.broken)
                        check(&rn);
        }
        res->ms = kit_now_ms() - t0;
        teardown(&rn);
}
