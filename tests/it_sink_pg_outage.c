/*
 * vcdc - integration test: the pgvector sink when its server goes away.
 * A stopped server (or connections cut in a proxy) gives RETRIABLE and the
 * sink reconnects once it is back; connections cut while a large batch is
 * in flight leave the batch applied whole or not at all, its offset with
 * it, and the retry applies it or finds it applied (STALE).
 *
 * Environment (it_pg.h): VCDC_PG_CONNINFO or VCDC_PGVECTOR_URL,
 * VCDC_PG_PASSWORD, and for the outage
 *   VCDC_PG_STOP_CMD, VCDC_PG_START_CMD  shell commands that stop and
 *                      start the server (START returns once it answers), or
 *   VCDC_STACK_SH      scripts/stack.sh (set by scripts/with-stack.sh): its
 *                      stop-one / start-one pgvector.
 * With either, the outage test stops the real server; without, it cuts
 * connections in a TCP proxy (it_proxy.h). The mid-batch cuts always go
 * through the proxy. Skips (exit 0, saying so) without a server.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "it_pg.h"
#include "sink.h"

#define DIM   128
#define BATCH 500

static struct {
        it_proxy_t proxy;
        int have_proxy;
        const char *stop_cmd, *start_cmd;
        char stop_buf[1100], start_buf[1100];
} it;

static char table_c[64];

static int setup(void **state) {
        const char *sh;

        (void)state;
        itpg_table(table_c, sizeof(table_c), "pgv", "c");
        it.stop_cmd = getenv("VCDC_PG_STOP_CMD");
        it.start_cmd = getenv("VCDC_PG_START_CMD");
        if ((!it.stop_cmd || !it.start_cmd) && (sh = getenv("VCDC_STACK_SH")) &&
            *sh) {
                snprintf(it.stop_buf, sizeof(it.stop_buf),
                         "'%s' stop-one pgvector", sh);
                snprintf(it.start_buf, sizeof(it.start_buf),
                         "'%s' start-one pgvector", sh);
                it.stop_cmd = it.stop_buf;
                it.start_cmd = it.start_buf;
        }
        if (it_proxy_start(&it.proxy, itpg.host, itpg.port) == -1) {
                fprintf(stderr, "cannot start the proxy to %s:%d\n", itpg.host,
                        itpg.port);
                return -1;
        }
        it.have_proxy = 1;
        return itpg_setup();
}

static int teardown(void **state) {
        (void)state;
        itpg_teardown();
        if (it.have_proxy)
                it_proxy_stop(&it.proxy);
        return 0;
}

/* Retries apply until it succeeds or max_s pass; returns the status. */
static vcdc_sink_status_t apply_until_ok(vcdc_sink_t *sink, vcdc_record_t *recs,
                                         size_t cnt, int64_t offset, int max_s,
                                         int *triesp) {
        char errstr[512];
        vcdc_sink_status_t st = VCDC_SINK_RETRIABLE;
        double t0 = it_now();

        *triesp = 0;
        while (it_now() - t0 < max_s) {
                (*triesp)++;
                st = itpg_apply_at(sink, recs, cnt, NULL, 0, offset, errstr,
                                   sizeof(errstr));
                if (st != VCDC_SINK_RETRIABLE)
                        break;
                usleep(500 * 1000);
        }
        if (st != VCDC_SINK_OK)
                fprintf(stderr, "apply: %s\n", errstr);
        return st;
}

static void server_stop(int real) {
        if (real) {
                if (system(it.stop_cmd) != 0)
                        fail_msg("VCDC_PG_STOP_CMD failed");
        } else {
                it_proxy_cmd(&it.proxy, 'd');
        }
}

static void server_start(int real) {
        if (real) {
                if (system(it.start_cmd) != 0)
                        fail_msg("VCDC_PG_START_CMD failed");
        } else {
                it_proxy_cmd(&it.proxy, 'u');
        }
}

/* A stopped server gives RETRIABLE; the sink reconnects once it is back. */
static void test_outage(void **state) {
        int real = it.stop_cmd && *it.stop_cmd && it.start_cmd && *it.start_cmd;
        vcdc_record_t recs[BATCH];
        vcdc_sink_status_t st;
        vcdc_sink_t *sink;
        char errstr[512];
        uint64_t n;
        int tries;

        (void)state;
        fprintf(stderr, "outage: %s\n",
                real ? it.stop_cmd : "cutting connections in a proxy");
        sink = itpg_open_conf(table_c, real ? 0 : it.proxy.port,
                              VCDC_METRIC_COSINE, DIM, 5000);
        itpg_recs(recs, 0, BATCH, DIM, 0);
        assert_int_equal(itpg_apply_at(sink, recs, BATCH, NULL, 0, 1, errstr,
                                       sizeof(errstr)),
                         VCDC_SINK_OK);
        itpg_clear(recs, BATCH);

        server_stop(real);
        itpg_recs(recs, BATCH, BATCH, DIM, 0);
        st = itpg_apply_at(sink, recs, BATCH, NULL, 0, 2, errstr,
                           sizeof(errstr));
        fprintf(stderr, "  while down: %s: %s\n", vcdc_sink_status_name(st),
                errstr);
        assert_int_equal(st, VCDC_SINK_RETRIABLE);
        /* The next call reconnects, and is refused the same way. */
        st = vcdc_sink_count(sink, &n, errstr, sizeof(errstr));
        fprintf(stderr, "  while down: %s: %s\n", vcdc_sink_status_name(st),
                errstr);
        assert_int_equal(st, VCDC_SINK_RETRIABLE);

        server_start(real);
        st = apply_until_ok(sink, recs, BATCH, 2, 120, &tries);
        assert_int_equal(st, VCDC_SINK_OK);
        fprintf(stderr, "  back after %d tries\n", tries);
        itpg_clear(recs, BATCH);
        assert_int_equal(its_count(sink), 2 * BATCH);
        assert_int_equal(its_offset(sink, ITPG_TOPIC, 0, NULL), 2);
        vcdc_sink_destroy(sink);
        if (real) {
                /* Our checking connection went down with the server. */
                PQreset(itpg.conn);
                assert_int_equal(PQstatus(itpg.conn), CONNECTION_OK);
        }
}

struct bg_apply {
        vcdc_sink_t *sink;
        vcdc_record_t *recs;
        size_t cnt;
        int64_t offset;
        vcdc_sink_status_t st;
        char errstr[512];
};

static void *bg_apply_main(void *arg) {
        struct bg_apply *bg = arg;

        bg->st = itpg_apply_at(bg->sink, bg->recs, bg->cnt, NULL, 0, bg->offset,
                               bg->errstr, sizeof(bg->errstr));
        return NULL;
}

/* Connections cut while a large batch is in flight: the batch is applied
 * whole or not at all, its offset with it. */
static void test_cut_mid_batch(void **state) {
        enum { BIG = 5000 };
        static const int delays_ms[] = {30, 120, 250, 400};
        vcdc_record_t *recs = calloc(BIG, sizeof(*recs));
        vcdc_sink_t *sink;
        uint64_t before, after;
        vcdc_sink_status_t st;
        size_t round;
        int cut_mid = 0, cut_after_commit = 0, tries;
        double t0;

        (void)state;
        sink = itpg_open_conf(table_c, it.proxy.port, VCDC_METRIC_COSINE, DIM,
                              10000);
        for (round = 0; round < sizeof(delays_ms) / sizeof(*delays_ms);
             round++) {
                struct bg_apply bg = {.sink = sink,
                                      .recs = recs,
                                      .cnt = BIG,
                                      .offset = 100 + (int64_t)round};
                pthread_t thread;
                int64_t off_before, off_after;

                before = its_count(sink);
                off_before = its_offset(sink, ITPG_TOPIC, 0, NULL);
                itpg_recs(recs, (int)(10000 + round * BIG), BIG, DIM, 0);
                assert_int_equal(
                        pthread_create(&thread, NULL, bg_apply_main, &bg), 0);
                usleep((useconds_t)delays_ms[round] * 1000);
                it_proxy_cmd(&it.proxy, 'd');
                pthread_join(thread, NULL);
                it_proxy_cmd(&it.proxy, 'u');
                fprintf(stderr, "  cut after %d ms: %s %s\n", delays_ms[round],
                        vcdc_sink_status_name(bg.st), bg.st ? bg.errstr : "");
                assert_true(bg.st == VCDC_SINK_OK ||
                            bg.st == VCDC_SINK_RETRIABLE);
                /* The server may take a moment to see the cut. */
                t0 = it_now();
                after = before;
                for (tries = 0; tries < 20; tries++) {
                        char errstr[512];
                        if (vcdc_sink_count(sink, &after, errstr,
                                            sizeof(errstr)) == VCDC_SINK_OK)
                                break;
                        fprintf(stderr, "    %.1f s: %s\n", it_now() - t0,
                                errstr);
                        usleep(250 * 1000);
                }
                fprintf(stderr, "    served again after %.1f s\n",
                        it_now() - t0);
                off_after = its_offset(sink, ITPG_TOPIC, 0, NULL);
                if (bg.st == VCDC_SINK_OK) {
                        assert_int_equal(after, before + BIG);
                        assert_int_equal(off_after, bg.offset);
                } else {
                        /* All or nothing. All: the cut came after the
                         * server committed, before its answer arrived; the
                         * client cannot tell, and applying again is
                         * harmless. */
                        if (after == before) {
                                cut_mid++;
                                assert_int_equal(off_after, off_before);
                        } else {
                                cut_after_commit++;
                                assert_int_equal(after, before + BIG);
                                assert_int_equal(off_after, bg.offset);
                        }
                        /* And the retry applies it, or finds it applied
                         * (its offset recorded: the fence answers STALE
                         * and applies nothing again). Even a batch cut
                         * mid-transaction may be found applied: the server
                         * had all of it and committed after our count. */
                        st = apply_until_ok(sink, recs, BIG, bg.offset, 60,
                                            &tries);
                        assert_true(st == VCDC_SINK_OK ||
                                    st == VCDC_SINK_STALE);
                        if (after != before)
                                assert_int_equal(st, VCDC_SINK_STALE);
                        assert_int_equal(its_count(sink), before + BIG);
                }
                itpg_clear(recs, BIG);
        }
        fprintf(stderr,
                "  %d of %zu cuts landed inside the transaction, %d after "
                "its commit\n",
                cut_mid, sizeof(delays_ms) / sizeof(*delays_ms),
                cut_after_commit);
        free(recs);
        vcdc_sink_destroy(sink);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_outage),
                cmocka_unit_test(test_cut_mid_batch),
        };

        if (itpg_start("it_sink_pg_outage") == -1)
                return 0;
        return cmocka_run_group_tests(tests, setup, teardown);
}
