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

typedef struct job_s {
        pthread_mutex_t lock;
        uint64_t base, next, end;
        int records, describe;
        const char *dir;
        hresult_t *results; /* one per seed */
        char **descriptions;
        hresult_t total;
} job_t;

static void *worker(void *arg) {
        job_t *job = arg;
        char errstr[512], *desc;
        uint64_t seed;
        hresult_t *res;
        hist_t h;

        for (;;) {
                pthread_mutex_lock(&job->lock);
                seed = job->next < job->end ? job->next++ : 0;
                pthread_mutex_unlock(&job->lock);
                if (!seed)
                        break;
                res = &job->results[seed - job->base];
                desc = job->descriptions[seed - job->base] = malloc(4096);
                if (hist_generate(&h, seed, job->records, errstr,
                                  sizeof(errstr))) {
                        hres_add(res, "generating the history: %s", errstr);
                        continue;
                }
                if (desc)
                        hist_describe(&h, desc, 4096);
                if (job->describe && desc)
                        kit_print_lines(desc);
                hist_run(&h, job->dir, res);
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
        return NULL;
}

static void test_model_histories(void **state) {
        uint64_t count, one = kit_env_u64("VCDC_MODEL_SEED", 0), i, failed = 0;
        int jobs = (int)kit_env_u64("VCDC_MODEL_JOBS", kit_small() ? 3 : 6), t;
        char dir[] = "/tmp/vcdc-model-XXXXXX", seeds[1024] = "";
        pthread_t *thr;
        job_t job;
        size_t n = 0;

        (void)state;
        memset(&job, 0, sizeof(job));
        pthread_mutex_init(&job.lock, NULL);
        count = kit_env_u64("VCDC_MODEL_HISTORIES", kit_small() ? 4 : 12);
        job.base = one ? one : kit_env_u64("VCDC_MODEL_BASE_SEED", 1);
        if (one)
                count = 1;
        if (!job.base)
                fail_msg("seeds start at 1");
        job.next = job.base;
        job.end = job.base + count;
        job.records = (int)kit_env_u64("VCDC_MODEL_RECORDS",
                                   kit_small() ? 120 : 300);
        job.describe = one != 0;
        if (!mkdtemp(dir))
                fail_msg("mkdtemp: %s", strerror(errno));
        job.dir = dir;
        assert_non_null(job.results = calloc(count, sizeof(*job.results)));
        assert_non_null(job.descriptions =
                                calloc(count, sizeof(*job.descriptions)));
        print_message("[ model    ] %" PRIu64 " histories, seeds %" PRIu64
                      "..%" PRIu64 ", %d at once, files in %s\n",
                      count, job.base, job.end - 1, jobs, dir);
        if (jobs < 1)
                jobs = 1;
        assert_non_null(thr = calloc((size_t)jobs, sizeof(*thr)));
        for (t = 0; t < jobs; t++)
                assert_int_equal(pthread_create(&thr[t], NULL, worker, &job),
                                 0);
        for (t = 0; t < jobs; t++)
                pthread_join(thr[t], NULL);

        for (i = 0; i < count; i++) {
                hresult_t *r = &job.results[i];
                job.total.messages += r->messages;
                job.total.refused += r->refused;
                job.total.sink_faults += r->sink_faults;
                job.total.kills += r->kills;
                job.total.stops += r->stops;
                job.total.starts += r->starts;
                job.total.recovered += r->recovered;
                job.total.applies += r->applies;
                if (!r->failed)
                        continue;
                failed++;
                print_message("\n[ model    ] seed %" PRIu64
                              " differs from the model:\n",
                              job.base + i);
                kit_print_lines(job.descriptions[i]);
                kit_print_lines(r->text);
                if (n < sizeof(seeds))
                        n += (size_t)snprintf(seeds + n, sizeof(seeds) - n,
                                              "%s%" PRIu64, n ? " " : "",
                                              job.base + i);
        }
        print_message("[ model    ] %" PRIu64 " histories ran: %" PRIu64
                      " messages, %" PRIu64 " refused records, %" PRIu64
                      " sink commits, %" PRIu64 " sink faults injected, "
                      "%" PRIu64 " consumers killed, %" PRIu64
                      " stopped, %" PRIu64 " started, %" PRIu64
                      " database locks taken over from killed consumers; "
                      "%" PRIu64 " differ from the model\n",
                      count, job.total.messages, job.total.refused,
                      job.total.applies, job.total.sink_faults,
                      job.total.kills, job.total.stops, job.total.starts,
                      job.total.recovered, failed);
        for (i = 0; i < count; i++) {
                hres_free(&job.results[i]);
                free(job.descriptions[i]);
        }
        free(job.results);
        free(job.descriptions);
        free(thr);
        pthread_mutex_destroy(&job.lock);
        if (failed)
                fail_msg("%" PRIu64 " of %" PRIu64
                         " histories differ from the model (seeds %s; replay "
                         "one with VCDC_MODEL_SEED=N; files in %s)",
                         failed, count, seeds, dir);
        rmdir(dir);
}

int main(int argc, char **argv) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_model_histories),
        };
        char exe[4096];
        ssize_t len;
        const char *v;

        if (argc > 1 && !strcmp(argv[1], "--model-consumer"))
                return kit_child_main(argc, argv);
        /* Under valgrind /proc/self/exe is the tool; readlink() is
         * answered with the program itself. */
        if ((len = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) <= 0) {
                fprintf(stderr, "readlink /proc/self/exe: %s\n",
                        strerror(errno));
                return 1;
        }
        exe[len] = '\0';
        kit_set_exe(exe);
        vcdc_log_level = 0; /* silent: the faults make expected noise */
        if ((v = getenv("VCDC_TEST_LOG")) && *v &&
            (vcdc_log_level = vcdc_log_level_parse(v)) < 0)
                vcdc_log_level = VCDC_LOG_WARN;
        if ((v = getenv("VCDC_TEST_FILTER")) && *v)
                cmocka_set_test_filter(v);
        return cmocka_run_group_tests_name("model", tests, NULL, NULL);
}
