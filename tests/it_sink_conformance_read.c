/*
 * vcdc - the sink conformance suite (tests/conformance/confkit.c says
 * what it is and how a sink is named), its cases of what a sink reads:
 *   reads        count, get by ids (repeated, missing), scan in pages of
 *                1, 7 and 100 with and without vectors, top-k query order
 *   scan_churn   a scan whose pages are interleaved with upserts, updates
 *                and deletes: every id present throughout comes back once,
 *                no id comes back twice
 * each for every sink.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "conformance/confkit.h"
#include "it_sink.h"
#include "sink.h"

static void test_reads(void **state) {
        enum { N = 150 };
        static const size_t pages[] = {1, 7, 100, 1000};
        const char *ask[5];
        vcdc_record_t recs[N], out[5];
        char name[64], ids[N][16], errstr[ERR];
        vcdc_hit_t hits[N + 5];
        float q[DIM];
        vcdc_sink_t *sink;
        size_t i, p, n;

        (void)state;
        sink = must_open(target_new(name, sizeof(name)), VCDC_METRIC_L2, 0);
        for (i = 0; i < N; i++) {
                snprintf(ids[i], sizeof(ids[i]), "r%03zu", i);
                rec_nth(&recs[i], ids[i], (int)i, 0);
        }
        apply_ok(sink, recs, N, NULL, 0);
        assert_int_equal(its_count(sink), N);

        /* Get: any order, a repeated id in two slots, a missing one. */
        ask[0] = ids[42];
        ask[1] = "missing";
        ask[2] = ids[7];
        ask[3] = ids[42];
        ask[4] = ids[N - 1];
        get_ids(sink, ask, 5, out);
        assert_same(&out[0], &recs[42]);
        assert_null(out[1].id);
        assert_same(&out[2], &recs[7]);
        assert_same(&out[3], &recs[42]);
        assert_same(&out[4], &recs[N - 1]);
        recs_clear(out, 5);

        for (p = 0; p < sizeof(pages) / sizeof(*pages); p++) {
                idlist_t seen = {0};
                scan_all(sink, pages[p], (int)(p % 2), &seen);
                assert_no_doubles(&seen);
                if (seen.cnt != N)
                        fail_msg("scan in pages of %zu: %zu ids of %d",
                                 pages[p], seen.cnt, N);
                idlist_free(&seen);
        }

        /* Top-k: each record's own vector finds it first, distances
         * grow, and k past the count gives the count. */
        memcpy(q, recs[77].vector, sizeof(q));
        its_want(vcdc_sink_query(sink, q, DIM, 10, hits, &n, errstr, ERR),
                 VCDC_SINK_OK, "query", errstr);
        assert_int_equal(n, 10);
        assert_string_equal(hits[0].id, ids[77]);
        assert_true(fabs(hits[0].distance) < 1e-4);
        for (i = 1; i < n; i++)
                assert_true(hits[i].distance >= hits[i - 1].distance);
        for (i = 0; i < n; i++)
                free(hits[i].id);
        its_want(vcdc_sink_query(sink, q, DIM, N + 5, hits, &n, errstr, ERR),
                 VCDC_SINK_OK, "query past the count", errstr);
        assert_int_equal(n, N);
        for (i = 0; i < n; i++)
                free(hits[i].id);
        vcdc_sink_destroy(sink);
        recs_clear(recs, N);
}

/*
 * A scan whose pages alternate with writes through another handle: each
 * round deletes two "churn" records (spread through the target, front to
 * back), updates two "stable" ones, and inserts two new ones; one round
 * deletes BURST churn records at once, most of them behind the scan.
 * Every stable record is present throughout, so each must come back
 * exactly once; no record may come back twice.
 */
static void test_scan_churn(void **state) {
        enum { N = 400, PAGE = 10, BURST = 80, BURST_ROUND = 18 };
        vcdc_record_t recs[N], upd[2], add[2];
        char name[64], id[32], *cursor = NULL;
        const char *dels[BURST];
        size_t del_cnt;
        vcdc_sink_t *sink, *writer;
        idlist_t seen = {0};
        size_t i, del_next = 0;
        int round = 0, missed = 0;

        (void)state;
        target_new(name, sizeof(name));
        sink = must_open(name, VCDC_METRIC_L2, 0);
        /* Even: stable; odd: churn, deleted front to back. */
        for (i = 0; i < N; i++) {
                snprintf(id, sizeof(id), "%s%03zu", i % 2 ? "c" : "s", i);
                rec_nth(&recs[i], id, (int)i, 0);
        }
        apply_ok(sink, recs, N, NULL, 0);
        writer = must_open(name, VCDC_METRIC_L2, 0);
        do {
                scan_page(sink, &cursor, PAGE, round % 2, &seen);
                del_cnt = round == BURST_ROUND ? BURST : 2;
                for (i = 0; i < del_cnt; i++) {
                        while (del_next < N && del_next % 2 == 0)
                                del_next++;
                        dels[i] = del_next < N ? recs[del_next].id : "gone";
                        del_next++;
                }
                for (i = 0; i < 2; i++) {
                        rec_nth(&upd[i], recs[(round * 4 + i * 2) % N].id,
                                round, 1);
                        snprintf(id, sizeof(id), "n%03d_%zu", round, i);
                        rec_nth(&add[i], id, round + 1000, 0);
                }
                apply_ok(writer, upd, 2, dels, del_cnt);
                apply_ok(writer, add, 2, NULL, 0);
                recs_clear(upd, 2);
                recs_clear(add, 2);
                assert_true(++round < 10000);
        } while (cursor);
        idlist_sort(&seen);
        assert_no_doubles(&seen);
        for (i = 0; i < N; i += 2)
                if (idlist_count(&seen, recs[i].id) != 1) {
                        fprintf(stderr,
                                "  \"%s\", present throughout, "
                                "seen %zu times\n",
                                recs[i].id, idlist_count(&seen, recs[i].id));
                        missed++;
                }
        if (missed)
                fail_msg("%d of %d records present throughout missed by a "
                         "scan under writes",
                         missed, N / 2);
        idlist_free(&seen);
        vcdc_sink_destroy(writer);
        vcdc_sink_destroy(sink);
        recs_clear(recs, N);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_reads),
                cmocka_unit_test(test_scan_churn),
        };

        return conformance_run("it_sink_conformance_read", tests,
                               sizeof(tests) / sizeof(*tests));
}
