/*
 * vcdc - the model-based test of the consumer (issue 14): generated
 * histories run against real consumers, each compared with a sequential
 * reference model that applies the topic one record at a time, in offset
 * order per partition, refusing (and dead-lettering) exactly the records
 * that can never apply. Batching, coalescing, pipelining, retries, kills,
 * restarts and rebalances must not show.
 *
 * No stack: the brokers are librdkafka's mock cluster (one per history),
 * the target is the test's shared-file database (tests/model/memdb.c),
 * and each consumer is this binary run again as a process of its own
 * (--model-consumer), so that it can be SIGKILLed.
 *
 *   tests/model/history.c  what a seed decides: log, groups, schedule
 *   tests/model/check.c    the model, and the comparison with a run
 *   tests/model/runner.c   running one history
 *   tests/model/memdb.c    the database (msink.c: the test sinks over it)
 *   tests/model/kit.c      mock cluster, read-back, consumer processes
 *   tests/model/seeds.c    the seeds on a pool of threads, the verdict
 *
 * VCDC_MODEL_HISTORIES=N   how many histories (default 12; 4 under
 *                          VCDC_TEST_SMALL); seeds BASE .. BASE+N-1
 * VCDC_MODEL_BASE_SEED=N   the first seed (default 1)
 * VCDC_MODEL_SEED=N        replay that one history, described in full
 * VCDC_MODEL_RECORDS=N     records per history at most (default 300)
 * VCDC_MODEL_JOBS=N        histories run at once (default 6)
 * VCDC_MODEL_REFERENCE=1   runs the test's own one-record-at-a-time
 *                          consumer (tests/model/refcons.c) instead of
 *                          vcdc's: a check of the test itself
 * VCDC_TEST_LOG=level      vcdc's and librdkafka's logs (the consumers'
 *                          go to their log files, warn by default)
 * VCDC_TEST_DEBUG=cgrp,..  librdkafka's debug in the consumers (with
 *                          VCDC_TEST_LOG=debug)
 * A failing history's files (database, consumer logs) stay in the
 * directory printed at the start.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "model/kit.h"
#include "model/model.h"
#include "model/seeds.h"

typedef struct params_s {
        int records; /* per history at most */
} params_t;

static void run_one(kit_seeds_t *s, uint64_t seed, void *result,
                    char **descp) {
        const params_t *p = s->opaque;
        hresult_t *res = result;
        char errstr[512], *desc;
        hist_t h;

        desc = *descp = malloc(4096);
        if (hist_generate(&h, seed, p->records, errstr, sizeof(errstr))) {
                hres_add(res, "generating the history: %s", errstr);
                return;
        }
        if (desc)
                hist_describe(&h, desc, 4096);
        if (s->describe && desc)
                kit_print_lines(desc);
        hist_run(&h, s->dir, res);
        print_message("[ model    ] seed %" PRIu64 ": %s, %zu "
                      "messages (%" PRIu64 " refused), %" PRIu64
                      " sink calls, %" PRIu64
                      " sink faults, %" PRIu64 " kills, %" PRIu64
                      " stops, %" PRIu64 " consumer starts, %.1f s"
                      "%s\n",
                      seed,
                      res->failed ? "DIFFERS FROM THE MODEL" : "ok",
                      h.msg_cnt, res->refused, res->calls,
                      res->sink_faults,
                      res->kills, res->stops, res->starts,
                      (double)res->ms / 1000.0,
                      res->crashes ? ", consumers exited by "
                                     "themselves"
                                   : "");
        hist_free(&h);
}

static const char *failure(const void *result) {
        const hresult_t *res = result;

        return res->failed ? (res->text ? res->text : "") : NULL;
}

static void clear(void *result) {
        hres_free(result);
}

static void test_model_histories(void **state) {
        params_t p = {
                .records = (int)kit_env_u64("VCDC_MODEL_RECORDS",
                                            kit_small() ? 120 : 300)};
        kit_seeds_t s = {.tag = "model",
                         .env = "VCDC_MODEL",
                         .histories = kit_small() ? 4 : 12,
                         .jobs = kit_small() ? 3 : 6,
                         .result_size = sizeof(hresult_t),
                         .run = run_one,
                         .failure = failure,
                         .clear = clear,
                         .opaque = &p};
        hresult_t total = {0};
        uint64_t i, failed = 0;

        (void)state;
        kit_seeds_run(&s);
        for (i = 0; i < s.count; i++) {
                const hresult_t *r = kit_seeds_result(&s, i);

                total.messages += r->messages;
                total.refused += r->refused;
                total.sink_faults += r->sink_faults;
                total.kills += r->kills;
                total.stops += r->stops;
                total.starts += r->starts;
                total.recovered += r->recovered;
                total.applies += r->applies;
                failed += r->failed != 0;
        }
        print_message("[ model    ] %" PRIu64 " histories ran: %" PRIu64
                      " messages, %" PRIu64 " refused records, %" PRIu64
                      " sink commits, %" PRIu64 " sink faults injected, "
                      "%" PRIu64 " consumers killed, %" PRIu64
                      " stopped, %" PRIu64 " started, %" PRIu64
                      " database locks taken over from killed consumers; "
                      "%" PRIu64 " differ from the model\n",
                      s.count, total.messages, total.refused, total.applies,
                      total.sink_faults, total.kills, total.stops,
                      total.starts, total.recovered, failed);
        kit_seeds_finish(&s);
}

int main(int argc, char **argv) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_model_histories),
        };
        const char *v;
        int rc;

        if (kit_main_init(argc, argv, &rc))
                return rc;
        if ((v = getenv("VCDC_TEST_FILTER")) && *v)
                cmocka_set_test_filter(v);
        return cmocka_run_group_tests_name("model", tests, NULL, NULL);
}
