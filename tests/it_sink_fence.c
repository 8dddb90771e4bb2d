/*
 * vcdc - integration test: the pgvector sink's offsets against a real
 * PostgreSQL with pgvector (issue 14).
 *
 *   scenario 7  a fresh connection's first batch of 5,000 upserts and a
 *               delete fits one pipeline;
 *   scenario 8  a batch commits only while the recorded offset of each of
 *               its partitions is below its own (STALE otherwise), decided
 *               by the server inside the transaction: a batch whose client
 *               has gone rolls back by itself when it is stale by the time
 *               it runs; two writers serialise on the offsets rows;
 *               fence_only parts check and lock without recording; a
 *               timed-out statement is cancelled, not left to commit;
 *   scenario 3  recorded offsets belong to the table instance: a dropped,
 *               re-created or truncated table has none; an older
 *               vcdc_offsets gets the instance column at open.
 *
 * Environment: see tests/it_pg.h. Tables are named it_fence_<pid>_* and
 * dropped at the end. Needs real PostgreSQL (concurrent sessions, cancel).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>

#include "it_pg.h"
#include "log.h"
#include "sink.h"

#define DIM 4

static char t_pipe[64], t_stale[64], t_gone[64], t_conc[64], t_first[64],
        t_only[64], t_inst[64], t_cancel[64];

static char *const tables[] = {t_pipe, t_only,  t_stale, t_gone,
                               t_conc, t_first, t_inst,  t_cancel};

static int setup(void **state) {
        static const char *const suffix[] = {"pipe", "only",  "stale",
                                             "gone", "conc",  "first",
                                             "inst", "cancel"};
        vcdc_sink_t *sink;
        size_t i;

        (void)state;
        signal(SIGPIPE, SIG_IGN); /* the proxy writes to clients that left */
        for (i = 0; i < sizeof(tables) / sizeof(*tables); i++)
                itpg_table(tables[i], 64, "fence", suffix[i]);
        if (!(itpg.conn = itpg_connect()))
                return -1;
        /* The bookkeeping tables exist once a sink has opened. */
        sink = itpg_open(t_pipe);
        vcdc_sink_destroy(sink);
        for (i = 0; i < sizeof(tables) / sizeof(*tables); i++)
                itpg_drop(tables[i]);
        return 0;
}

static int teardown(void **state) {
        size_t i;

        (void)state;
        if (itpg.conn && PQstatus(itpg.conn) == CONNECTION_OK)
                for (i = 0; i < sizeof(tables) / sizeof(*tables); i++)
                        itpg_drop(tables[i]);
        PQfinish(itpg.conn);
        return 0;
}

/* A connection that holds ACCESS EXCLUSIVE on table until released:
 * the sinks' statements on it wait. */
static PGconn *lock_table(const char *table) {
        PGconn *blocker = itpg_connect();

        assert_non_null(blocker);
        PQclear(itpg_sql(blocker, "BEGIN"));
        PQclear(itpg_sql(blocker, "LOCK TABLE \"%s\" IN ACCESS EXCLUSIVE MODE",
                         table));
        return blocker;
}

static void unlock_table(PGconn *blocker) {
        PQclear(itpg_sql(blocker, "COMMIT"));
        PQfinish(blocker);
}

/* apply_send() of one upsert (id-n, variant) with one offset of
 * partition 0; the caller apply_wait()s. */
static vcdc_sink_status_t send_one(vcdc_sink_t *sink, int n, int variant,
                                   int64_t offset, int fence_only, char *errstr,
                                   size_t errstr_size) {
        vcdc_sink_offset_t off = {0, offset};
        const vcdc_record_t *ptr;
        vcdc_sink_batch_t batch;
        vcdc_record_t rec;
        vcdc_sink_status_t st;

        itpg_rec(&rec, n, DIM, variant);
        batch = itpg_batch(&ptr, &rec, 1, NULL, 0, &off, 1, fence_only);
        st = vcdc_sink_apply_send(sink, &batch, errstr, errstr_size);
        vcdc_record_clear(&rec);
        return st;
}

/* A second writer in a thread: one upsert with one offset, or (n < 0)
 * record_offsets() alone. */
typedef struct writer_s {
        vcdc_sink_t *sink;
        int n, variant;
        int64_t offset;
        vcdc_sink_status_t st;
        char errstr[512];
        volatile int done;
        pthread_t thread;
} writer_t;

static void *writer_main(void *arg) {
        writer_t *w = arg;

        if (w->n >= 0) {
                w->st = itpg_apply_one(w->sink, w->n, w->variant, w->offset,
                                       w->errstr, sizeof(w->errstr));
        } else {
                vcdc_sink_offset_t off = {0, w->offset};
                w->st = vcdc_sink_record_offsets(w->sink, ITPG_TOPIC, &off, 1,
                                                 w->errstr, sizeof(w->errstr));
        }
        w->done = 1;
        return NULL;
}

static void writer_start(writer_t *w) {
        assert_int_equal(pthread_create(&w->thread, NULL, writer_main, w), 0);
}

/*
 * Scenario 7: on a fresh connection to an existing table, 5,000 upserts
 * and a delete need BEGIN, the offsets, the PREPARE of the full chunk, 10
 * chunks, the DELETE and COMMIT: all of them fit, through apply() and
 * through apply_send()/apply_wait().
 */
static void test_pipeline_full(void **state) {
        enum { BIG = 5000 };
        vcdc_record_t *recs = calloc(BIG, sizeof(*recs));
        const vcdc_record_t **ptrs = calloc(BIG, sizeof(*ptrs));
        char errstr[512], del[32];
        const char *dels[1] = {del};
        vcdc_sink_status_t st;
        vcdc_sink_t *sink;
        int round;

        (void)state;
        sink = itpg_open(t_pipe);
        itpg_recs(recs, 0, 10, DIM, 0);
        {
                vcdc_sink_offset_t off = {0, 1};
                st = itpg_apply(sink, recs, 10, NULL, 0, &off, 1, 0, errstr,
                                sizeof(errstr));
                itpg_want(st, VCDC_SINK_OK, "creating the table", errstr);
        }
        itpg_clear(recs, 10);
        vcdc_sink_destroy(sink);

        for (round = 0; round < 2; round++) {
                vcdc_sink_offset_t off = {0, 10 + round};
                vcdc_sink_batch_t batch;

                sink = itpg_open(t_pipe); /* nothing prepared yet */
                itpg_recs(recs, 1000 + round * BIG, BIG, DIM, round);
                snprintf(del, sizeof(del), "id-%d", round);
                batch = itpg_batch(ptrs, recs, BIG, dels, 1, &off, 1, 0);
                if (round == 0) {
                        st = vcdc_sink_apply(sink, &batch, errstr,
                                             sizeof(errstr));
                } else {
                        st = vcdc_sink_apply_send(sink, &batch, errstr,
                                                  sizeof(errstr));
                        if (st == VCDC_SINK_OK)
                                st = vcdc_sink_apply_wait(sink, errstr,
                                                          sizeof(errstr));
                }
                itpg_want(st, VCDC_SINK_OK,
                          round ? "5,000 upserts and a delete, sent"
                                : "5,000 upserts and a delete",
                          errstr);
                assert_int_equal(itpg_int(itpg.conn,
                                          "SELECT count(*) FROM \"%s\"",
                                          t_pipe),
                                 10 - (round + 1) + (round + 1) * BIG);
                assert_int_equal(itpg_offset(sink, 0), 10 + round);
                itpg_clear(recs, BIG);
                vcdc_sink_destroy(sink);
        }
        free(ptrs);
        free(recs);
}

/*
 * Scenario 8: a batch whose offset is at or below the recorded one is
 * STALE and applies nothing; one stale partition among several fences the
 * whole batch; record_offsets() is fenced the same way.
 */
static void test_stale(void **state) {
        vcdc_sink_offset_t offs[2];
        char errstr[512];
        vcdc_record_t rec;
        vcdc_sink_status_t st;
        vcdc_sink_t *sink;

        (void)state;
        sink = itpg_open(t_stale);
        st = itpg_apply_one(sink, 1, 1, 10, errstr, sizeof(errstr));
        itpg_want(st, VCDC_SINK_OK, "offset 10", errstr);

        st = itpg_apply_one(sink, 2, 1, 5, errstr, sizeof(errstr));
        itpg_want(st, VCDC_SINK_STALE, "offset 5 after 10", errstr);
        assert_non_null(strstr(errstr, "stale"));
        fprintf(stderr, "  stale: %s\n", errstr);
        assert_int_equal(itpg_variant(t_stale, 2), -1);
        assert_int_equal(itpg_offset(sink, 0), 10);
        st = itpg_apply_one(sink, 2, 1, 10, errstr, sizeof(errstr));
        itpg_want(st, VCDC_SINK_STALE, "offset 10 again", errstr);
        assert_int_equal(itpg_variant(t_stale, 2), -1);
        st = itpg_apply_one(sink, 2, 1, 11, errstr, sizeof(errstr));
        itpg_want(st, VCDC_SINK_OK, "offset 11", errstr);
        assert_int_equal(itpg_variant(t_stale, 2), 1);

        /* Two partitions: one behind fences the batch. */
        offs[0] = (vcdc_sink_offset_t){0, 20};
        offs[1] = (vcdc_sink_offset_t){1, 3};
        itpg_rec(&rec, 3, DIM, 1);
        st = itpg_apply(sink, &rec, 1, NULL, 0, offs, 2, 0, errstr,
                        sizeof(errstr));
        itpg_want(st, VCDC_SINK_OK, "partitions 0 and 1", errstr);
        vcdc_record_clear(&rec);
        offs[0].offset = 21;
        itpg_rec(&rec, 4, DIM, 1);
        st = itpg_apply(sink, &rec, 1, NULL, 0, offs, 2, 0, errstr,
                        sizeof(errstr));
        itpg_want(st, VCDC_SINK_STALE, "partition 1 not advanced", errstr);
        vcdc_record_clear(&rec);
        assert_int_equal(itpg_variant(t_stale, 4), -1);
        assert_int_equal(itpg_offset(sink, 0), 20);
        assert_int_equal(itpg_offset(sink, 1), 3);

        /* Pipelined: apply_wait() answers STALE. */
        st = send_one(sink, 5, 1, 20, 0, errstr, sizeof(errstr));
        itpg_want(st, VCDC_SINK_OK, "sending offset 20 again", errstr);
        st = vcdc_sink_apply_wait(sink, errstr, sizeof(errstr));
        itpg_want(st, VCDC_SINK_STALE, "waiting for offset 20 again", errstr);
        assert_int_equal(itpg_variant(t_stale, 5), -1);

        /* record_offsets() alone. */
        offs[0].offset = 19;
        st = vcdc_sink_record_offsets(sink, ITPG_TOPIC, offs, 1, errstr,
                                      sizeof(errstr));
        itpg_want(st, VCDC_SINK_STALE, "record_offsets 19", errstr);
        offs[0].offset = 25;
        st = vcdc_sink_record_offsets(sink, ITPG_TOPIC, offs, 1, errstr,
                                      sizeof(errstr));
        itpg_want(st, VCDC_SINK_OK, "record_offsets 25", errstr);
        assert_int_equal(itpg_offset(sink, 0), 25);
        vcdc_sink_destroy(sink);
}

/*
 * Scenario 8, enforced by the server: a batch whose client gave up (its
 * bytes held in a proxy meanwhile) reaches the server after a newer
 * writer committed; it must roll back by itself.
 */
static void test_client_gone(void **state) {
        vcdc_sink_t *old_writer, *new_writer;
        itpg_proxy_t px;
        char errstr[512];
        vcdc_sink_status_t st;
        double t0;

        (void)state;
        assert_int_equal(itpg_proxy_start(&px), 0);
        old_writer = itpg_open_at(t_gone, px.port, 1000 /*timeout_ms*/);
        st = itpg_apply_one(old_writer, 1, 1, 10, errstr, sizeof(errstr));
        itpg_want(st, VCDC_SINK_OK, "offset 10", errstr);
        new_writer = itpg_open(t_gone);

        itpg_proxy_cmd(&px, 'h');
        t0 = itpg_now();
        st = itpg_apply_one(old_writer, 5, 2, 20, errstr, sizeof(errstr));
        itpg_want(st, VCDC_SINK_RETRIABLE, "offset 20, held", errstr);
        fprintf(stderr, "  held for %.1f s: %s\n", itpg_now() - t0, errstr);
        vcdc_sink_destroy(old_writer); /* its client is gone for good */

        st = itpg_apply_one(new_writer, 5, 3, 30, errstr, sizeof(errstr));
        itpg_want(st, VCDC_SINK_OK, "offset 30 by the newer writer", errstr);

        /* The old batch now reaches the server, and must not apply. */
        itpg_proxy_cmd(&px, 'r');
        assert_true(itpg_proxy_drained(&px, 10));
        assert_int_equal(itpg_variant(t_gone, 5), 3);
        assert_int_equal(itpg_offset(new_writer, 0), 30);
        vcdc_sink_destroy(new_writer);
        itpg_proxy_stop(&px);
}

/* Two writers at once on one partition: the later offset wins whatever
 * the order in which their statements ran; the lower one is STALE. */
static void race(const char *table, int with_row) {
        vcdc_sink_t *a, *b;
        writer_t w = {0};
        char errstr[512];
        vcdc_sink_status_t st;
        PGconn *blocker;

        a = itpg_open(table);
        b = itpg_open(table);
        if (with_row) {
                st = itpg_apply_one(a, 1, 1, 10, errstr, sizeof(errstr));
        } else {
                /* The table, without any offsets row. */
                vcdc_record_t rec;
                itpg_rec(&rec, 1, DIM, 1);
                st = itpg_apply(a, &rec, 1, NULL, 0, NULL, 0, 0, errstr,
                                sizeof(errstr));
                vcdc_record_clear(&rec);
        }
        itpg_want(st, VCDC_SINK_OK, "the table", errstr);

        blocker = lock_table(table);
        st = send_one(a, 7, 1, 100, 0, errstr, sizeof(errstr));
        itpg_want(st, VCDC_SINK_OK, "sending offset 100", errstr);
        itpg_sleep_ms(200); /* a's statements reach the server first */
        w.sink = b;
        w.n = 7;
        w.variant = 2;
        w.offset = 50;
        writer_start(&w);
        itpg_sleep_ms(500);
        unlock_table(blocker);
        st = vcdc_sink_apply_wait(a, errstr, sizeof(errstr));
        itpg_want(st, VCDC_SINK_OK, "offset 100", errstr);
        pthread_join(w.thread, NULL);
        itpg_want(w.st, VCDC_SINK_STALE, "offset 50 after 100", w.errstr);
        assert_int_equal(itpg_variant(table, 7), 1);
        assert_int_equal(itpg_offset(a, 0), 100);
        vcdc_sink_destroy(a);
        vcdc_sink_destroy(b);
}

static void test_concurrent(void **state) {
        (void)state;
        race(t_conc, 1);
}

/* The same when neither has a row yet: the second waits on the first's
 * insert. */
static void test_concurrent_first(void **state) {
        (void)state;
        race(t_first, 0);
}

/*
 * fence_only: a part of a batch applies under the fence without recording
 * the offsets; it locks the offsets rows (inserting missing ones, which
 * read_offsets() does not show) until it commits.
 */
static void test_fence_only(void **state) {
        vcdc_sink_offset_t off;
        vcdc_sink_t *a, *b;
        writer_t w = {0};
        char errstr[512];
        vcdc_record_t rec;
        vcdc_sink_status_t st;
        PGconn *blocker;

        (void)state;
        a = itpg_open(t_only);
        st = itpg_apply_one(a, 1, 1, 30, errstr, sizeof(errstr));
        itpg_want(st, VCDC_SINK_OK, "offset 30", errstr);

        off = (vcdc_sink_offset_t){0, 40};
        itpg_rec(&rec, 2, DIM, 1);
        st = itpg_apply(a, &rec, 1, NULL, 0, &off, 1, 1, errstr,
                        sizeof(errstr));
        itpg_want(st, VCDC_SINK_OK, "a part at 40", errstr);
        vcdc_record_clear(&rec);
        assert_int_equal(itpg_variant(t_only, 2), 1);
        assert_int_equal(itpg_offset(a, 0), 30);
        st = vcdc_sink_record_offsets(a, ITPG_TOPIC, &off, 1, errstr,
                                      sizeof(errstr));
        itpg_want(st, VCDC_SINK_OK, "recording 40", errstr);
        assert_int_equal(itpg_offset(a, 0), 40);

        itpg_rec(&rec, 3, DIM, 1);
        st = itpg_apply(a, &rec, 1, NULL, 0, &off, 1, 1, errstr,
                        sizeof(errstr));
        itpg_want(st, VCDC_SINK_STALE, "a part at 40 again", errstr);
        off.offset = 35;
        st = itpg_apply(a, &rec, 1, NULL, 0, &off, 1, 1, errstr,
                        sizeof(errstr));
        itpg_want(st, VCDC_SINK_STALE, "a part at 35", errstr);
        assert_int_equal(itpg_variant(t_only, 3), -1);
        /* A partition with nothing recorded: applied, still nothing. */
        off = (vcdc_sink_offset_t){5, 7};
        st = itpg_apply(a, &rec, 1, NULL, 0, &off, 1, 1, errstr,
                        sizeof(errstr));
        itpg_want(st, VCDC_SINK_OK, "a part of partition 5", errstr);
        vcdc_record_clear(&rec);
        assert_int_equal(itpg_variant(t_only, 3), 1);
        assert_int_equal(itpg_offset(a, 5), -1);

        /* A part in flight holds the row: record_offsets() waits. */
        b = itpg_open(t_only);
        blocker = lock_table(t_only);
        st = send_one(a, 4, 1, 50, 1, errstr, sizeof(errstr));
        itpg_want(st, VCDC_SINK_OK, "sending a part at 50", errstr);
        itpg_sleep_ms(200);
        w.sink = b;
        w.n = -1;
        w.offset = 60;
        writer_start(&w);
        itpg_sleep_ms(500);
        assert_false(w.done);
        unlock_table(blocker);
        st = vcdc_sink_apply_wait(a, errstr, sizeof(errstr));
        itpg_want(st, VCDC_SINK_OK, "a part at 50", errstr);
        pthread_join(w.thread, NULL);
        itpg_want(w.st, VCDC_SINK_OK, "recording 60", w.errstr);
        assert_int_equal(itpg_variant(t_only, 4), 1);
        assert_int_equal(itpg_offset(a, 0), 60);
        vcdc_sink_destroy(a);
        vcdc_sink_destroy(b);
}

/*
 * Scenario 3: offsets belong to the table instance. After DROP TABLE,
 * TRUNCATE (and VACUUM FULL, which costs only a replay) none are read
 * back, and the old row does not fence the new table's writer.
 * record_offsets() never creates the table.
 */
static void test_instance(void **state) {
        vcdc_sink_offset_t off = {0, 5};
        char errstr[512];
        vcdc_sink_status_t st;
        vcdc_sink_t *sink;

        (void)state;
        sink = itpg_open(t_inst);
        st = itpg_apply_one(sink, 1, 1, 10, errstr, sizeof(errstr));
        itpg_want(st, VCDC_SINK_OK, "offset 10", errstr);
        assert_int_equal(itpg_offset(sink, 0), 10);
        vcdc_sink_destroy(sink);

        PQclear(itpg_sql(itpg.conn, "DROP TABLE \"%s\"", t_inst));
        sink = itpg_open(t_inst);
        assert_int_equal(itpg_offset(sink, 0), -1);
        st = itpg_apply_one(sink, 2, 1, 3, errstr, sizeof(errstr));
        itpg_want(st, VCDC_SINK_OK, "offset 3 into the new table", errstr);
        assert_int_equal(itpg_offset(sink, 0), 3);

        PQclear(itpg_sql(itpg.conn, "TRUNCATE \"%s\"", t_inst));
        assert_int_equal(itpg_offset(sink, 0), -1);
        st = itpg_apply_one(sink, 3, 1, 1, errstr, sizeof(errstr));
        itpg_want(st, VCDC_SINK_OK, "offset 1 after TRUNCATE", errstr);
        assert_int_equal(itpg_offset(sink, 0), 1);

        PQclear(itpg_sql(itpg.conn, "VACUUM FULL \"%s\"", t_inst));
        assert_int_equal(itpg_offset(sink, 0), -1);
        vcdc_sink_destroy(sink);

        /* Without the table: recorded, read back as none, no table. */
        PQclear(itpg_sql(itpg.conn, "DROP TABLE \"%s\"", t_inst));
        sink = itpg_open(t_inst);
        st = vcdc_sink_record_offsets(sink, ITPG_TOPIC, &off, 1, errstr,
                                      sizeof(errstr));
        itpg_want(st, VCDC_SINK_OK, "record_offsets without the table", errstr);
        assert_int_equal(itpg_int(itpg.conn,
                                  "SELECT count(*) FROM pg_class "
                                  "WHERE relname = '%s'",
                                  t_inst),
                         0);
        assert_int_equal(itpg_offset(sink, 0), -1);
        vcdc_sink_destroy(sink);
}

/*
 * A vcdc_offsets from before the stamp (no table_instance) gets the
 * column when a sink opens; its rows count for no table instance: they
 * read back as none and fence nothing. Done in a schema of the test's
 * own (search_path through PGOPTIONS) to leave the shared table alone.
 */
static void test_migration(void **state) {
        char schema[64], errstr[512], opts[160];
        vcdc_sink_status_t st;
        vcdc_sink_t *sink;

        (void)state;
        itpg_table(schema, sizeof(schema), "fence", "old");
        PQclear(itpg_sql(itpg.conn, "DROP SCHEMA IF EXISTS %s CASCADE",
                         schema));
        PQclear(itpg_sql(itpg.conn, "CREATE SCHEMA %s", schema));
        PQclear(itpg_sql(itpg.conn,
                         "CREATE TABLE %s.vcdc_targets (table_name text "
                         "PRIMARY KEY, dim int, metric text)",
                         schema));
        PQclear(itpg_sql(itpg.conn,
                         "CREATE TABLE %s.vcdc_offsets (table_name text, "
                         "topic text, partition int, \"offset\" bigint, "
                         "updated_at timestamptz, PRIMARY KEY (table_name, "
                         "topic, partition))",
                         schema));
        PQclear(itpg_sql(itpg.conn,
                         "INSERT INTO %s.vcdc_offsets VALUES ('mig', '%s', 0, "
                         "100, now())",
                         schema, ITPG_TOPIC));

        snprintf(opts, sizeof(opts), "-c search_path=%s,public", schema);
        setenv("PGOPTIONS", opts, 1);
        sink = itpg_open("mig");
        unsetenv("PGOPTIONS");
        assert_int_equal(itpg_int(itpg.conn,
                                  "SELECT count(*) FROM pg_attribute WHERE "
                                  "attrelid = '%s.vcdc_offsets'::regclass "
                                  "AND attname = 'table_instance'",
                                  schema),
                         1);
        assert_int_equal(itpg_offset(sink, 0), -1);
        st = itpg_apply_one(sink, 1, 1, 5, errstr, sizeof(errstr));
        itpg_want(st, VCDC_SINK_OK, "offset 5 below the old row's 100", errstr);
        assert_int_equal(itpg_offset(sink, 0), 5);
        vcdc_sink_destroy(sink);
        PQclear(itpg_sql(itpg.conn, "DROP SCHEMA %s CASCADE", schema));
}

/* Backends of this test waiting on a lock with a statement on table. */
static long long waiting_on(const char *table) {
        return itpg_int(itpg.conn,
                        "SELECT count(*) FROM pg_stat_activity "
                        "WHERE wait_event_type = 'Lock' "
                        "AND application_name = 'vcdc' "
                        "AND query LIKE '%%%s%%'",
                        table);
}

/*
 * Scenario 8: a statement that outlasts the timeout is cancelled before
 * the connection is dropped, so it cannot commit later; the answer says a
 * smaller batch may do.
 */
static void test_cancel(void **state) {
        char errstr[512];
        vcdc_sink_status_t st;
        vcdc_sink_t *sink;
        PGconn *blocker;
        double t0;
        int waited;

        (void)state;
        sink = itpg_open_at(t_cancel, 0, 1000 /*timeout_ms*/);
        st = itpg_apply_one(sink, 1, 1, 10, errstr, sizeof(errstr));
        itpg_want(st, VCDC_SINK_OK, "offset 10", errstr);

        blocker = lock_table(t_cancel);
        t0 = itpg_now();
        st = itpg_apply_one(sink, 5, 1, 20, errstr, sizeof(errstr));
        itpg_want(st, VCDC_SINK_RETRIABLE, "offset 20, table locked", errstr);
        fprintf(stderr, "  after %.1f s: %s\n", itpg_now() - t0, errstr);
        assert_true(itpg_now() - t0 < 8);
        /* The server no longer runs it. */
        for (waited = 0; waited < 30 && waiting_on(t_cancel) > 0; waited++)
                itpg_sleep_ms(100);
        assert_int_equal(waiting_on(t_cancel), 0);
        assert_int_equal(vcdc_sink_retry_smaller(sink), 1);
        unlock_table(blocker);
        itpg_sleep_ms(300);
        assert_int_equal(itpg_variant(t_cancel, 5), -1);
        assert_int_equal(itpg_offset(sink, 0), 10);

        st = itpg_apply_one(sink, 5, 1, 20, errstr, sizeof(errstr));
        itpg_want(st, VCDC_SINK_OK, "offset 20 again", errstr);
        assert_int_equal(itpg_variant(t_cancel, 5), 1);
        vcdc_sink_destroy(sink);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_pipeline_full),
                cmocka_unit_test(test_stale),
                cmocka_unit_test(test_client_gone),
                cmocka_unit_test(test_concurrent),
                cmocka_unit_test(test_concurrent_first),
                cmocka_unit_test(test_fence_only),
                cmocka_unit_test(test_instance),
                cmocka_unit_test(test_migration),
                cmocka_unit_test(test_cancel),
        };
        const char *level = getenv("VCDC_LOG_LEVEL");

        if (itpg_env() == -1) {
                fprintf(stderr, "it_sink_fence: skipped: set "
                                "VCDC_PG_CONNINFO or VCDC_PGVECTOR_URL to a "
                                "PostgreSQL server with pgvector\n");
                return 0;
        }
        if (level)
                vcdc_log_level = vcdc_log_level_parse(level);
        return cmocka_run_group_tests(tests, setup, teardown);
}
