/*
 * vcdc - issue 14's scenarios 4, 5, 6 and 11 as focused tests, each asserting
 * the outcome the specification asks for (tests/test_model.c holds the
 * consumer to the whole of it):
 *
 *   4  a topic with docs/1 and img/1: a consumer without opts.collection,
 *      whose target is docs, stops with an error at img/1 and applies
 *      nothing of img (no coalescing by bare id, no delete of docs/1);
 *      consumers with opts.collection apply their own collection exactly;
 *   5  16-d upserts of 300 ids, then 8-d upserts of the same ids, in one
 *      batch (vcdc.batch.records=5000): the target is created at 16-d by
 *      the first upsert, keeps every 16-d version, and the 300 8-d records
 *      are dead letters; and in one batch, a DELETE then an upsert the
 *      database refuses leaves the id deleted, an upsert then a refused
 *      one keeps the first;
 *   6  the dead-letter topic has no leader for a while: the batch limit
 *      holds (vcdc.batch.records=10), no offset covering the dead letter is
 *      committed or recorded while it is not acknowledged, and the dead
 *      letter arrives once the topic is back;
 *  11  the dead-letter producer's queue holds 2 messages and 60 records
 *      are refused while the topic has no leader: the consumer never
 *      blocks on the full queue (it keeps its group, max.poll.interval.ms
 *      is 6 s and the outage 8 s), and every dead letter arrives;
 *  snapshot (issue 18) records with a vcdc.snapshot.group header (an
 *      upsert, a delete and its tombstone, a repair): the group the header
 *      names applies none of them and commits past them, another group
 *      applies them like any record.
 *
 * Same machinery as the model test (tests/model/): the mock cluster, the
 * shared-file test database, consumers as processes of their own.
 * VCDC_TEST_FILTER=pattern runs only the matching tests;
 * VCDC_MODEL_REFERENCE=1 runs them against the test's reference consumer
 * (tests/model/refcons.c).
 * A failing scenario's files (database, consumer logs) stay in the
 * directory it prints.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "codec.h"
#include "log.h"
#include "model/kit.h"
#include "model/memdb.h"
#include "model/model.h"
#include "producer.h"

#define WAIT_MS 60000 /* a hang guard: the test fails, it does not hang */
#define MAX_CONSUMERS 4

/* One scenario's world; failures collect in res and are asserted at the
 * end, after everything is torn down. */
typedef struct scen_s {
        kit_mock_t mock;
        char dir[64], db_path[128];
        const char *topic;
        memdb_t *db;
        vcdc_producer_t *producer;
        int64_t written; /* messages in the (one-partition) topic */
        struct {
                pid_t pid;
                char group[64], log[160];
                rd_kafka_t *client; /* the group's committed offsets */
        } c[MAX_CONSUMERS];
        int cnt;
        hresult_t res;
} scen_t;

static void scen_start(scen_t *s, const char *topic) {
        char errstr[512];
        vcdc_conf_t *conf;

        memset(s, 0, sizeof(*s));
        s->topic = topic;
        snprintf(s->dir, sizeof(s->dir), "/tmp/vcdc-scenario-XXXXXX");
        if (!mkdtemp(s->dir))
                fail_msg("mkdtemp: %s", strerror(errno));
        snprintf(s->db_path, sizeof(s->db_path), "%s/db", s->dir);
        if (kit_mock_start(&s->mock, 1, topic, 1, errstr, sizeof(errstr)))
                fail_msg("%s", errstr);
        if (!(s->db = memdb_create(s->db_path, topic, errstr,
                                   sizeof(errstr))))
                fail_msg("%s", errstr);
        assert_non_null(conf = vcdc_conf_new());
        if (vcdc_conf_set(conf, "bootstrap.servers", s->mock.bootstraps,
                          errstr, sizeof(errstr)) ||
            vcdc_conf_set(conf, "max.in.flight.requests.per.connection", "1",
                          errstr, sizeof(errstr)) ||
            !(s->producer = vcdc_producer_new(conf, topic, errstr,
                                              sizeof(errstr))))
                fail_msg("producer: %s", errstr);
        vcdc_conf_destroy(conf);
}

/* The record of tag: a vector of dim floats from tag, metadata (nested or
 * not) and document "s<tag><suffix>". */
static void make_rec(vcdc_record_t *rec, const char *coll, const char *id,
                     vcdc_op_t op, uint32_t dim, int tag, const char *suffix,
                     int nested) {
        char buf[96];
        uint32_t i;

        vcdc_record_init(rec);
        assert_non_null(rec->collection = strdup(coll));
        assert_non_null(rec->id = strdup(id));
        rec->op = op;
        rec->source_ts_ms = tag;
        if (op == VCDC_OP_DELETE)
                return;
        rec->dim = dim;
        assert_non_null(rec->vector = malloc(dim * sizeof(float)));
        for (i = 0; i < dim; i++)
                rec->vector[i] = (float)tag + 0.5f * (float)i;
        if (nested)
                snprintf(buf, sizeof(buf), "{\"tag\":%d,\"x\":{\"y\":1}}",
                         tag);
        else
                snprintf(buf, sizeof(buf), "{\"tag\":%d}", tag);
        assert_non_null(rec->metadata = strdup(buf));
        snprintf(buf, sizeof(buf), "s%d%s", tag, suffix ? suffix : "");
        assert_non_null(rec->document = strdup(buf));
}

/* Writes one change; returns its offset (a delete's tombstone follows). */
static int64_t scen_send(scen_t *s, const char *coll, const char *id,
                         vcdc_op_t op, uint32_t dim, int tag,
                         const char *suffix, int nested) {
        vcdc_record_t rec;
        char errstr[512];
        int64_t offset = s->written;

        make_rec(&rec, coll, id, op, dim, tag, suffix, nested);
        if (vcdc_producer_send(s->producer, &rec, errstr, sizeof(errstr)))
                fail_msg("send: %s", errstr);
        vcdc_record_clear(&rec);
        s->written += op == VCDC_OP_DELETE ? 2 : 1;
        return offset;
}

static void scen_flush(scen_t *s) {
        char errstr[512];

        if (vcdc_producer_flush(s->producer, WAIT_MS, errstr, sizeof(errstr)))
                fail_msg("flush: %s", errstr);
}

/* The hash of the record scen_send() wrote for these arguments. */
static uint64_t rec_hash(const char *coll, const char *id, uint32_t dim,
                         int tag, const char *suffix) {
        vcdc_record_t rec;
        uint64_t h;

        make_rec(&rec, coll, id, VCDC_OP_UPSERT, dim, tag, suffix, 0);
        h = memdb_record_hash(&rec);
        vcdc_record_clear(&rec);
        return h;
}

/* Starts a consumer of a new group (at the start of the topic) applying
 * collection (NULL: none given) to target. Returns its index. */
static int scen_consumer(scen_t *s, const char *group, const char *target,
                         const char *collection, const char *const *kv) {
        char url[512], errstr[512];
        kit_spec_t spec = {0};
        int i = s->cnt++;

        assert_true(i < MAX_CONSUMERS);
        snprintf(s->c[i].group, sizeof(s->c[i].group), "%s", group);
        snprintf(s->c[i].log, sizeof(s->c[i].log), "%s/%s.log", s->dir,
                 group);
        snprintf(url, sizeof(url), "mfence://memdb/%s?db=%s", target,
                 s->db_path);
        if (!(s->c[i].client = kit_client(s->mock.bootstraps, group, errstr,
                                          sizeof(errstr))) ||
            kit_commit_zero(s->c[i].client, s->topic, 1, errstr,
                            sizeof(errstr)))
                fail_msg("group %s: %s", group, errstr);
        spec.bootstraps = s->mock.bootstraps;
        spec.topic = s->topic;
        spec.group = group;
        spec.sink_url = url;
        spec.collection = collection;
        spec.kv = kv;
        spec.log_path = s->c[i].log;
        if ((s->c[i].pid = kit_spawn(&spec, errstr, sizeof(errstr))) == -1)
                fail_msg("%s", errstr);
        return i;
}

static int64_t committed(scen_t *s, int i) {
        char errstr[512];
        int64_t off = -1;

        if (kit_committed(s->c[i].client, s->topic, 1, &off, errstr,
                          sizeof(errstr)))
                return -1;
        return off;
}

/* Waits until consumer i's group committed offset reaches want. */
static int wait_committed(scen_t *s, int i, int64_t want) {
        int64_t until = kit_now_ms() + WAIT_MS, at = -1;

        while ((at = committed(s, i)) < want) {
                if (kit_now_ms() > until) {
                        hres_add(&s->res,
                                 "group %s did not reach offset %" PRId64
                                 " within %d s (committed %" PRId64
                                 "; log %s)",
                                 s->c[i].group, want, WAIT_MS / 1000, at,
                                 s->c[i].log);
                        return -1;
                }
                kit_sleep_ms(100);
        }
        return 0;
}

/* Stops consumer i with SIGTERM; its exit status, or -1 when it had to be
 * killed. */
static int scen_stop(scen_t *s, int i) {
        int status;

        if (!s->c[i].pid)
                return -1;
        kill(s->c[i].pid, SIGTERM);
        if (!kit_reap(s->c[i].pid, 30000, &status)) {
                kill(s->c[i].pid, SIGKILL);
                kit_reap(s->c[i].pid, 30000, &status);
                hres_add(&s->res,
                         "consumer of %s did not stop within 30 s of "
                         "SIGTERM (log %s)",
                         s->c[i].group, s->c[i].log);
                s->c[i].pid = 0;
                return -1;
        }
        s->c[i].pid = 0;
        return status;
}

/* A clean stop: SIGTERM, exit 0. */
static void scen_stop_ok(scen_t *s, int i) {
        char how[128], last[2100];
        int status = scen_stop(s, i);

        if (status == -1 || (WIFEXITED(status) && !WEXITSTATUS(status)))
                return;
        kit_describe_exit(status, how, sizeof(how));
        kit_log_last(s->c[i].log, " error ", last, sizeof(last));
        hres_add(&s->res, "consumer of %s %s after SIGTERM; last error: %s",
                 s->c[i].group, how, *last ? last : "none");
}

/* The origins the dead-letter topic names: has[offset] for offsets up to
 * s->written. */
static char *dlq_origins(scen_t *s) {
        char dlq_topic[128], errstr[512];
        char *has = calloc((size_t)s->written + 1, 1);
        kit_msg_t *msgs;
        size_t cnt, k;

        assert_non_null(has);
        snprintf(dlq_topic, sizeof(dlq_topic), "%s.dlq", s->topic);
        if (kit_read_topic(s->mock.bootstraps, dlq_topic, 1, &msgs, &cnt,
                           errstr, sizeof(errstr))) {
                hres_add(&s->res, "reading the DLQ: %s", errstr);
                return has;
        }
        for (k = 0; k < cnt; k++) {
                if (strcmp(msgs[k].origin_topic, s->topic) ||
                    msgs[k].origin_partition != 0 ||
                    msgs[k].origin_offset < 0 ||
                    msgs[k].origin_offset >= s->written)
                        hres_add(&s->res,
                                 "a dead letter names origin %s [%" PRId32
                                 "] @%" PRId64 ", not a message of %s",
                                 msgs[k].origin_topic,
                                 msgs[k].origin_partition,
                                 msgs[k].origin_offset, s->topic);
                else
                        has[msgs[k].origin_offset] = 1;
        }
        kit_msgs_free(msgs, cnt);
        return has;
}

static void snapshot(scen_t *s, memdb_state_t **statep,
                     memdb_stats_t *stats) {
        assert_non_null(*statep = malloc(sizeof(**statep)));
        memdb_snapshot(s->db, *statep, stats);
}

/* The offset target records for partition 0, -1. */
static int64_t recorded(scen_t *s, const char *target) {
        const memdb_target_t *t;
        memdb_state_t *st;
        int64_t off;

        snapshot(s, &st, NULL);
        t = memdb_target(st, target);
        off = t ? t->offsets[0] : -1;
        free(st);
        return off;
}

/* Tears down, then fails with everything that differed. */
static void scen_finish(scen_t *s, const char *name) {
        char path[256];
        int i, failed = s->res.failed;

        for (i = 0; i < s->cnt; i++) {
                if (s->c[i].pid) {
                        kill(s->c[i].pid, SIGKILL);
                        kit_reap(s->c[i].pid, 30000, &(int){0});
                }
                if (s->c[i].client) {
                        rd_kafka_consumer_close(s->c[i].client);
                        rd_kafka_destroy(s->c[i].client);
                }
                if (!failed)
                        unlink(s->c[i].log);
        }
        vcdc_producer_destroy(s->producer);
        kit_mock_stop(&s->mock);
        memdb_unmap(s->db);
        if (!failed) {
                unlink(s->db_path);
                rmdir(s->dir);
        }
        if (!failed) {
                hres_free(&s->res);
                return;
        }
        print_message("[ scenario ] %s: %zu differences (files in %s):\n",
                      name, s->res.diffs, s->dir);
        {
                const char *t = s->res.text, *nl;
                while (t && *t) {
                        nl = strchr(t, '\n');
                        print_message("  %.*s\n",
                                      (int)(nl ? (size_t)(nl - t)
                                               : strlen(t)),
                                      t);
                        t = nl ? nl + 1 : "";
                }
        }
        snprintf(path, sizeof(path), "%s", s->dir);
        hres_free(&s->res);
        fail_msg("%s: the outcome differs from the specification (files in "
                 "%s)",
                 name, path);
}

/*
 * Scenario 4: two collections in one topic, the same id in both.
 */
static void test_scenario4_collections(void **state) {
        memdb_state_t *st;
        const memdb_target_t *t;
        const memdb_row_t *row;
        int64_t img_at, end;
        int a, d, i, status;
        uint32_t r;
        scen_t s;

        (void)state;
        scen_start(&s, "s4");
        /* Without opts.collection: the target's name, docs, is the
         * collection it applies. */
        a = scen_consumer(&s, "s4.bare", "docs", NULL, NULL);
        d = scen_consumer(&s, "s4.docs", "tdocs", "docs", NULL);
        i = scen_consumer(&s, "s4.img", "timg", "img", NULL);
        scen_send(&s, "docs", "1", VCDC_OP_UPSERT, 4, 1, NULL, 0);
        scen_send(&s, "docs", "2", VCDC_OP_UPSERT, 4, 2, NULL, 0);
        scen_flush(&s);
        wait_committed(&s, a, s.written); /* docs/1 applied first */
        img_at = scen_send(&s, "img", "1", VCDC_OP_UPSERT, 4, 3, NULL, 0);
        scen_send(&s, "img", "1", VCDC_OP_DELETE, 0, 4, NULL, 0);
        scen_send(&s, "docs", "2", VCDC_OP_UPSERT, 4, 5, NULL, 0);
        scen_flush(&s);
        end = s.written;
        wait_committed(&s, d, end);
        wait_committed(&s, i, end);
        scen_stop_ok(&s, d);
        scen_stop_ok(&s, i);

        /* The bare consumer must stop by itself at img/1. */
        if (!kit_reap(s.c[a].pid, 20000, &status)) {
                hres_add(&s.res,
                         "the consumer without opts.collection (target "
                         "docs) still runs 20 s after img/1 (offset %" PRId64
                         ") was written: a record of another collection "
                         "must stop it (vcdc_consumer_run() returns -1)",
                         img_at);
                status = scen_stop(&s, a);
        } else {
                s.c[a].pid = 0;
                if (!WIFEXITED(status) ||
                    WEXITSTATUS(status) != KIT_EXIT_RUN_FAILED) {
                        char how[128];
                        kit_describe_exit(status, how, sizeof(how));
                        hres_add(&s.res,
                                 "the consumer without opts.collection %s; "
                                 "expected vcdc_consumer_run() to return -1",
                                 how);
                }
        }

        snapshot(&s, &st, NULL);
        if ((t = memdb_target(st, "docs"))) {
                if (!(row = memdb_row(t, "1")))
                        hres_add(&s.res,
                                 "target docs lost docs/1: a change of img/1 "
                                 "(the delete at offset %" PRId64
                                 ") removed it",
                                 img_at + 1);
                else if (row->hash != rec_hash("docs", "1", 4, 1, NULL))
                        hres_add(&s.res,
                                 "target docs: id 1 holds %s's record %s, "
                                 "not docs/1's",
                                 row->collection, row->tag);
                for (r = 0; r < t->row_cnt; r++)
                        if (strcmp(t->rows[r].collection, "docs"))
                                hres_add(&s.res,
                                         "target docs holds %s's record %s "
                                         "(id %s)",
                                         t->rows[r].collection,
                                         t->rows[r].tag, t->rows[r].id);
        } else {
                hres_add(&s.res, "target docs was never written");
        }
        /* With opts.collection, each its own, exactly. */
        t = memdb_target(st, "tdocs");
        if (!t || t->row_cnt != 2 || !(row = memdb_row(t, "1")) ||
            row->hash != rec_hash("docs", "1", 4, 1, NULL) ||
            !(row = memdb_row(t, "2")) ||
            row->hash != rec_hash("docs", "2", 4, 5, NULL))
                hres_add(&s.res,
                         "target tdocs (opts.collection docs) does not hold "
                         "exactly docs/1 (s1) and docs/2 (s5)");
        t = memdb_target(st, "timg");
        if (t && (t->row_cnt || (t->exists && t->dim != 4)))
                hres_add(&s.res,
                         "target timg (opts.collection img) is not left "
                         "empty (and 4-d, if created) by img/1's upsert and "
                         "delete");
        free(st);
        {
                char *has = dlq_origins(&s);
                int64_t k;
                for (k = 0; k < end; k++)
                        if (has[k])
                                hres_add(&s.res,
                                         "a dead letter for offset %" PRId64
                                         ": nothing here can never apply",
                                         k);
                free(has);
        }
        scen_finish(&s, "scenario 4");
}

/*
 * Scenario 5: what is refused must not depend on batch boundaries.
 */
#define S5_IDS 300

static void test_scenario5_dimension(void **state) {
        static const char *const kv[] = {"vcdc.batch.records", "5000",
                                         "vcdc.batch.ms", "2000", NULL};
        int64_t x_del, x_bad, y_bad, end, k;
        size_t wrong8 = 0, wrong_other = 0, dlq_missing = 0, dlq_extra = 0;
        const memdb_target_t *t;
        const memdb_row_t *row;
        memdb_state_t *st;
        char id[16], *has;
        int c, cxy, i;
        scen_t s;

        (void)state;
        scen_start(&s, "s5");
        /* 16-d upserts of every id, then (a second producer run) 8-d ones;
         * and x, applied before what follows. */
        for (i = 0; i < S5_IDS; i++) {
                snprintf(id, sizeof(id), "s%03d", i);
                scen_send(&s, "docs", id, VCDC_OP_UPSERT, 16, i, NULL, 0);
        }
        for (i = 0; i < S5_IDS; i++) {
                snprintf(id, sizeof(id), "s%03d", i);
                scen_send(&s, "docs", id, VCDC_OP_UPSERT, 8, S5_IDS + i, NULL,
                          0);
        }
        scen_send(&s, "xy", "x", VCDC_OP_UPSERT, 4, 1000, NULL, 0);
        scen_flush(&s);
        /* Everything is in the log before the consumers start: one batch
         * each (the other collection's records are skipped). */
        c = scen_consumer(&s, "s5", "t5", "docs", kv);
        cxy = scen_consumer(&s, "s5.xy", "t5xy", "xy", kv);
        wait_committed(&s, cxy, s.written);
        /* Then in one batch: x deleted, then an upsert of x the database
         * refuses; y upserted, then a refused upsert of y. */
        x_del = scen_send(&s, "xy", "x", VCDC_OP_DELETE, 0, 1001, NULL, 0);
        x_bad = scen_send(&s, "xy", "x", VCDC_OP_UPSERT, 4, 1002,
                          MEMDB_REFUSE_MARK, 0);
        scen_send(&s, "xy", "y", VCDC_OP_UPSERT, 4, 1003, NULL, 0);
        y_bad = scen_send(&s, "xy", "y", VCDC_OP_UPSERT, 4, 1004,
                          MEMDB_REFUSE_MARK, 0);
        scen_flush(&s);
        end = s.written;
        wait_committed(&s, c, end);
        wait_committed(&s, cxy, end);
        scen_stop_ok(&s, c);
        scen_stop_ok(&s, cxy);

        snapshot(&s, &st, NULL);
        t = memdb_target(st, "t5");
        if (!t || !t->exists)
                hres_add(&s.res, "target t5 was never created");
        else if (t->dim != 16)
                hres_add(&s.res,
                         "target t5 has dimension %" PRIu32
                         "; the first upsert in offset order (s000, 16-d) "
                         "creates it at 16",
                         t->dim);
        for (i = 0; t && i < S5_IDS; i++) {
                snprintf(id, sizeof(id), "s%03d", i);
                row = memdb_row(t, id);
                if (row && row->hash == rec_hash("docs", id, 16, i, NULL))
                        continue;
                if (row && row->dim == 8)
                        wrong8++;
                else
                        wrong_other++;
                if (wrong8 + wrong_other <= 3)
                        hres_add(&s.res,
                                 "id docs/%s holds %s (%" PRIu32
                                 "-d), the model its 16-d version s%d",
                                 id, row ? row->tag : "nothing",
                                 row ? row->dim : 0, i);
        }
        if (wrong8 + wrong_other)
                hres_add(&s.res,
                         "%zu of %d ids hold their 8-d version and %zu "
                         "something else; every one must keep its 16-d "
                         "version",
                         wrong8, S5_IDS, wrong_other);
        t = memdb_target(st, "t5xy");
        if (t && (row = memdb_row(t, "x")))
                hres_add(&s.res,
                         "id xy/x holds %s: its DELETE (offset %" PRId64
                         ") must stand when the upsert after it (offset "
                         "%" PRId64 ") is refused",
                         row->tag, x_del, x_bad);
        if (!t || !(row = memdb_row(t, "y")) ||
            row->hash != rec_hash("xy", "y", 4, 1003, NULL))
                hres_add(&s.res,
                         "id xy/y holds %s: its upsert s1003 must stand "
                         "when the upsert after it in the same batch "
                         "(offset %" PRId64 ") is refused",
                         t && row ? row->tag : "nothing", y_bad);
        free(st);

        /* The dead letters: exactly the 8-d upserts and the two refused. */
        has = dlq_origins(&s);
        for (k = 0; k < end; k++) {
                int refused = (k >= S5_IDS && k < 2 * S5_IDS) || k == x_bad ||
                              k == y_bad;
                if (refused && !has[k] && dlq_missing++ < 3)
                        hres_add(&s.res,
                                 "the DLQ misses offset %" PRId64 " (%s)", k,
                                 k < 2 * S5_IDS ? "an 8-d upsert"
                                                : "a refused upsert");
                if (!refused && has[k] && dlq_extra++ < 3)
                        hres_add(&s.res,
                                 "the DLQ holds offset %" PRId64
                                 ", which applies",
                                 k);
        }
        if (dlq_missing || dlq_extra)
                hres_add(&s.res,
                         "the DLQ misses %zu of the %d refused records and "
                         "holds %zu records that apply",
                         dlq_missing, S5_IDS + 2, dlq_extra);
        free(has);
        scen_finish(&s, "scenario 5");
}

/*
 * Scenario 6: the dead-letter topic unavailable for a while.
 */
#define S6_IDS 300
#define S6_BATCH 10
#define S6_OUTAGE_MS 9000

static void test_scenario6_dlq_outage(void **state) {
        static const char *const kv[] = {
                "vcdc.batch.records", "10", "vcdc.batch.ms", "20",
                "vcdc.commit.interval.ms", "0",
                /* the dead-letter producer gives up after 2 s */
                "message.timeout.ms", "2000", NULL};
        memdb_stats_t stats[MEMDB_TARGETS];
        const memdb_target_t *t;
        const memdb_row_t *row;
        memdb_state_t *st;
        int64_t bad, end, until, at, rec_at;
        size_t wrong = 0, ti;
        char id[16], *has;
        int c, i, reported = 0;
        scen_t s;

        (void)state;
        scen_start(&s, "s6");
        bad = scen_send(&s, "docs", "bad", VCDC_OP_UPSERT, 4, 0, NULL,
                        1 /*nested: check() refuses it*/);
        for (i = 1; i <= S6_IDS; i++) {
                snprintf(id, sizeof(id), "s%03d", i);
                scen_send(&s, "docs", id, VCDC_OP_UPSERT, 4, i, NULL, 0);
        }
        scen_flush(&s);
        end = s.written;
        if (rd_kafka_mock_partition_set_leader(s.mock.mc, "s6.dlq", 0, -1))
                fail_msg("cannot take the DLQ's leader away");
        c = scen_consumer(&s, "s6", "t6", "docs", kv);

        /* While the DLQ is down, no offset may cover the dead letter. */
        until = kit_now_ms() + S6_OUTAGE_MS;
        while (kit_now_ms() < until) {
                at = committed(&s, c);
                rec_at = recorded(&s, "t6");
                if (!reported && (at > bad || rec_at >= bad)) {
                        hres_add(&s.res,
                                 "with the DLQ down, the dead letter of "
                                 "offset %" PRId64
                                 " is not acknowledged, yet the group "
                                 "committed %" PRId64
                                 " and the target recorded %" PRId64
                                 ": a crash now loses it",
                                 bad, at, rec_at);
                        reported = 1;
                }
                kit_sleep_ms(100);
        }
        if (rd_kafka_mock_partition_set_leader(s.mock.mc, "s6.dlq", 0, 1))
                fail_msg("cannot give the DLQ its leader back");
        wait_committed(&s, c, end);
        scen_stop_ok(&s, c);

        snapshot(&s, &st, stats);
        t = memdb_target(st, "t6");
        for (ti = 0; ti < MEMDB_TARGETS; ti++)
                if (!strcmp(st->targets[ti].name, "t6") &&
                    stats[ti].max_changes > S6_BATCH)
                        hres_add(&s.res,
                                 "an apply carried %" PRIu64
                                 " changes; vcdc.batch.records is %d (the "
                                 "messages polled while waiting for the "
                                 "DLQ went into one batch)",
                                 stats[ti].max_changes, S6_BATCH);
        for (i = 1; i <= S6_IDS; i++) {
                snprintf(id, sizeof(id), "s%03d", i);
                row = t ? memdb_row(t, id) : NULL;
                if (!row || row->hash != rec_hash("docs", id, 4, i, NULL))
                        wrong++;
        }
        if (wrong)
                hres_add(&s.res, "%zu of %d ids do not hold their record",
                         wrong, S6_IDS);
        if (t && memdb_row(t, "bad"))
                hres_add(&s.res, "target t6 holds the refused record");
        free(st);
        has = dlq_origins(&s);
        if (!has[bad])
                hres_add(&s.res,
                         "the DLQ misses the refused record (offset %" PRId64
                         "): its delivery failed during the outage and it "
                         "was never sent again",
                         bad);
        for (at = 0; at < end; at++)
                if (at != bad && has[at])
                        hres_add(&s.res,
                                 "the DLQ holds offset %" PRId64
                                 ", which applies",
                                 at);
        free(has);
        scen_finish(&s, "scenario 6");
}

#define S11_BAD 60
#define S11_OUTAGE_MS 8000

static void test_scenario11_dlq_queue_full(void **state) {
        static const char *const kv[] = {
                "vcdc.batch.records", "20", "vcdc.batch.ms", "20",
                /* the dead-letter producer's queue: 2 messages */
                "queue.buffering.max.messages", "2",
                "session.timeout.ms", "6000", "max.poll.interval.ms", "6000",
                NULL};
        int64_t bad[S11_BAD], end;
        char id[16], *has, last[2100];
        int c, i;
        scen_t s;

        (void)state;
        scen_start(&s, "s11");
        for (i = 0; i < S11_BAD; i++) {
                snprintf(id, sizeof(id), "b%03d", i);
                bad[i] = scen_send(&s, "docs", id, VCDC_OP_UPSERT, 4, i, NULL,
                                   1 /*nested: check() refuses it*/);
                snprintf(id, sizeof(id), "g%03d", i);
                scen_send(&s, "docs", id, VCDC_OP_UPSERT, 4, i, NULL, 0);
        }
        scen_flush(&s);
        end = s.written;
        if (rd_kafka_mock_partition_set_leader(s.mock.mc, "s11.dlq", 0, -1))
                fail_msg("cannot take the DLQ's leader away");
        c = scen_consumer(&s, "s11", "t11", "docs", kv);
        kit_sleep_ms(S11_OUTAGE_MS);
        if (rd_kafka_mock_partition_set_leader(s.mock.mc, "s11.dlq", 0, 1))
                fail_msg("cannot give the DLQ its leader back");
        wait_committed(&s, c, end);
        kit_log_last(s.c[c].log, "assignment was lost", last, sizeof(last));
        if (*last)
                hres_add(&s.res,
                         "the consumer lost its group while the dead-letter "
                         "queue was full: %s",
                         last);
        scen_stop_ok(&s, c);
        has = dlq_origins(&s);
        for (i = 0; i < S11_BAD; i++)
                if (!has[bad[i]])
                        hres_add(&s.res, "the DLQ misses offset %" PRId64,
                                 bad[i]);
        free(has);
        scen_finish(&s, "scenario 11");
}

/*
 * Snapshot records: skipped by the group their vcdc.snapshot.group header
 * names, applied by every other.
 */

/* Writes rec (a delete: its DELETE record, then its tombstone) with the
 * snapshot tool's headers, as that tool does; repair: a vcdc.repair
 * header too. Returns the offset of its first message. */
static int64_t scen_send_snapshot(scen_t *s, rd_kafka_t *rk,
                                  const vcdc_record_t *rec, const char *group,
                                  int repair) {
        vcdc_codec_t *codec;
        char errstr[512], *key;
        void *value = NULL;
        size_t key_len, len = 0;
        int64_t offset = s->written;
        int i, n = rec->op == VCDC_OP_DELETE ? 2 : 1;

        if (!(codec = vcdc_codec_new(errstr, sizeof(errstr))) ||
            vcdc_codec_encode(codec, rec, &value, &len, errstr,
                              sizeof(errstr)) ||
            vcdc_key_encode(rec->collection, rec->id, &key, &key_len))
                fail_msg("encode: %s", errstr);
        for (i = 0; i < n; i++) {
                rd_kafka_headers_t *hdrs = rd_kafka_headers_new(4);

                rd_kafka_header_add(hdrs, "vcdc.partitions", -1, "1", -1);
                rd_kafka_header_add(hdrs, "vcdc.snapshot", -1, "run1:0", -1);
                rd_kafka_header_add(hdrs, "vcdc.snapshot.group", -1, group,
                                    -1);
                if (repair)
                        rd_kafka_header_add(hdrs, "vcdc.repair", -1, "0:1",
                                            -1);
                /* The tombstone, i == 1, has no value. */
                if (rd_kafka_producev(
                            rk, RD_KAFKA_V_TOPIC(s->topic),
                            RD_KAFKA_V_PARTITION(0),
                            RD_KAFKA_V_KEY(key, key_len),
                            RD_KAFKA_V_VALUE(i ? NULL : value, i ? 0 : len),
                            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                            RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_END)) {
                        rd_kafka_headers_destroy(hdrs);
                        fail_msg("produce a snapshot record");
                }
        }
        if (rd_kafka_flush(rk, WAIT_MS) || rd_kafka_outq_len(rk))
                fail_msg("snapshot records not delivered");
        s->written += n;
        free(key);
        free(value);
        vcdc_codec_destroy(codec);
        return offset;
}

/* 1 when the consumers are the test's reference (VCDC_MODEL_REFERENCE). */
static int reference(void) {
        const char *v = getenv("VCDC_MODEL_REFERENCE");

        return v && *v && strcmp(v, "0");
}

static void check_row(scen_t *s, const memdb_target_t *t, const char *name,
                      const char *id, int tag) {
        const memdb_row_t *row = t ? memdb_row(t, id) : NULL;

        if (tag < 0 && row)
                hres_add(&s->res, "target %s holds docs/%s (%s): expected "
                         "it deleted or never written", name, id, row->tag);
        else if (tag >= 0 && (!row || row->hash != rec_hash("docs", id, 4,
                                                            tag, NULL)))
                hres_add(&s->res, "target %s: docs/%s is %s, expected "
                         "record s%d", name, id, row ? row->tag : "missing",
                         tag);
}

static void test_snapshot_own_group(void **state) {
        rd_kafka_conf_t *rkc = rd_kafka_conf_new();
        memdb_state_t *st;
        const memdb_target_t *t;
        vcdc_record_t rec;
        rd_kafka_t *rk;
        char errstr[512], last[2100];
        int64_t end;
        int old, new;
        scen_t s;

        (void)state;
        scen_start(&s, "ssn");
        if (rd_kafka_conf_set(rkc, "bootstrap.servers", s.mock.bootstraps,
                              errstr, sizeof(errstr)) ||
            !(rk = rd_kafka_new(RD_KAFKA_PRODUCER, rkc, errstr,
                                sizeof(errstr))))
                fail_msg("snapshot producer: %s", errstr);
        /* The live changes, OLD's own. */
        scen_send(&s, "docs", "1", VCDC_OP_UPSERT, 4, 1, NULL, 0);
        scen_send(&s, "docs", "2", VCDC_OP_UPSERT, 4, 2, NULL, 0);
        scen_send(&s, "docs", "3", VCDC_OP_UPSERT, 4, 3, NULL, 0);
        scen_flush(&s);
        /* What the snapshot tool wrote for group ssn.old: an upsert of a
         * live id, one of an id only OLD held, a delete with its
         * tombstone, a repair; the last message of the topic is one of
         * them, so the offsets must go past it. */
        make_rec(&rec, "docs", "1", VCDC_OP_UPSERT, 4, 11, NULL, 0);
        scen_send_snapshot(&s, rk, &rec, "ssn.old", 0);
        vcdc_record_clear(&rec);
        make_rec(&rec, "docs", "4", VCDC_OP_UPSERT, 4, 14, NULL, 0);
        scen_send_snapshot(&s, rk, &rec, "ssn.old", 0);
        vcdc_record_clear(&rec);
        make_rec(&rec, "docs", "5", VCDC_OP_UPSERT, 4, 15, NULL, 0);
        scen_send_snapshot(&s, rk, &rec, "ssn.old", 1 /*repair*/);
        vcdc_record_clear(&rec);
        make_rec(&rec, "docs", "2", VCDC_OP_DELETE, 0, 0, NULL, 0);
        scen_send_snapshot(&s, rk, &rec, "ssn.old", 0);
        vcdc_record_clear(&rec);
        /* Another group's snapshot record: OLD applies it. */
        make_rec(&rec, "docs", "6", VCDC_OP_UPSERT, 4, 16, NULL, 0);
        scen_send_snapshot(&s, rk, &rec, "ssn.other", 0);
        vcdc_record_clear(&rec);
        make_rec(&rec, "docs", "3", VCDC_OP_DELETE, 0, 0, NULL, 0);
        scen_send_snapshot(&s, rk, &rec, "ssn.old", 0);
        vcdc_record_clear(&rec);
        rd_kafka_destroy(rk);
        end = s.written;

        old = scen_consumer(&s, "ssn.old", "told", "docs", NULL);
        new = scen_consumer(&s, "ssn.new", "tnew", "docs", NULL);
        wait_committed(&s, old, end);
        wait_committed(&s, new, end);
        scen_stop_ok(&s, old);
        scen_stop_ok(&s, new);
        /* The counters (the reference consumer has none). */
        kit_log_last(s.c[old].log, "run returned", last, sizeof(last));
        if (!reference() && !strstr(last, " 7 own snapshot records skipped"))
                hres_add(&s.res,
                         "group ssn.old should count 7 own snapshot "
                         "messages skipped; it says: %s",
                         *last ? last : "nothing");
        kit_log_last(s.c[new].log, "run returned", last, sizeof(last));
        if (!reference() && !strstr(last, " 0 own snapshot records skipped"))
                hres_add(&s.res,
                         "group ssn.new skipped snapshot records of "
                         "another group: %s",
                         *last ? last : "nothing");

        snapshot(&s, &st, NULL);
        t = memdb_target(st, "told");
        check_row(&s, t, "told", "1", 1);
        check_row(&s, t, "told", "2", 2);
        check_row(&s, t, "told", "3", 3);
        check_row(&s, t, "told", "4", -1);
        check_row(&s, t, "told", "5", -1);
        check_row(&s, t, "told", "6", 16);
        t = memdb_target(st, "tnew");
        check_row(&s, t, "tnew", "1", 11);
        check_row(&s, t, "tnew", "2", -1);
        check_row(&s, t, "tnew", "3", -1);
        check_row(&s, t, "tnew", "4", 14);
        check_row(&s, t, "tnew", "5", 15);
        check_row(&s, t, "tnew", "6", 16);
        free(st);
        scen_finish(&s, "snapshot records");
}

int main(int argc, char **argv) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_scenario4_collections),
                cmocka_unit_test(test_scenario5_dimension),
                cmocka_unit_test(test_scenario6_dlq_outage),
                cmocka_unit_test(test_scenario11_dlq_queue_full),
                cmocka_unit_test(test_snapshot_own_group),
        };
        char exe[4096];
        ssize_t len;
        const char *v;

        if (argc > 1 && !strcmp(argv[1], "--model-consumer"))
                return kit_child_main(argc, argv);
        if ((len = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) <= 0) {
                fprintf(stderr, "readlink /proc/self/exe: %s\n",
                        strerror(errno));
                return 1;
        }
        exe[len] = '\0';
        kit_set_exe(exe);
        vcdc_log_level = 0;
        if ((v = getenv("VCDC_TEST_LOG")) && *v &&
            (vcdc_log_level = vcdc_log_level_parse(v)) < 0)
                vcdc_log_level = VCDC_LOG_WARN;
        if ((v = getenv("VCDC_TEST_FILTER")) && *v)
                cmocka_set_test_filter(v);
        return cmocka_run_group_tests_name("consumer_scenarios", tests, NULL,
                                           NULL);
}
