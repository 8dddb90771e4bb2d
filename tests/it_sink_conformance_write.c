/*
 * vcdc - the sink conformance suite (tests/conformance/confkit.c says
 * what it is and how a sink is named), its cases of what a sink stores:
 *   create       the first upsert creates the target with the configured
 *                metric and that record's dimension; reopened without a
 *                metric the sink takes the target's (seen in query order)
 *   refuse       an existing target whose dimension or metric differ from
 *                the configured ones is refused, FATAL
 *   write        upsert, overwrite (a whole state: metadata and document
 *                left out are gone), delete, delete of a missing id
 *   content      metadata and documents round-trip: unicode, empty
 *                strings, an empty object, numbers, booleans, 1 MiB
 *   ids          awkward ids: slashes, quotes, backslash, blanks, '%', '?',
 *                '#', 200 characters, unicode; each read, scanned, deleted
 * each for every sink.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conformance/confkit.h"
#include "it_sink.h"
#include "sink.h"

/* Three vectors the metric tells apart: for the query (1, 0, ...), a is
 * nearest in l2, b (long) in ip, c (short, the query's direction) in
 * cosine. */
static void metric_probe(vcdc_record_t recs[3]) {
        float a[DIM] = {1, 0.05f}, b[DIM] = {8, 4}, c[DIM] = {0.2f};

        rec_set(&recs[0], "a", a, DIM, NULL, NULL);
        rec_set(&recs[1], "b", b, DIM, NULL, NULL);
        rec_set(&recs[2], "c", c, DIM, NULL, NULL);
}

static const char *nearest(vcdc_sink_t *sink, char *buf, size_t size) {
        float q[DIM] = {1, 0};
        vcdc_hit_t hits[3];
        char errstr[ERR];
        size_t n = 0, i;

        its_want(vcdc_sink_query(sink, q, DIM, 3, hits, &n, errstr, ERR),
                 VCDC_SINK_OK, "query", errstr);
        assert_int_equal(n, 3);
        snprintf(buf, size, "%s", hits[0].id);
        for (i = 0; i < n; i++)
                free(hits[i].id);
        return buf;
}

static void test_create(void **state) {
        static const struct {
                vcdc_metric_t metric;
                const char *nearest;
        } cases[] = {
                {VCDC_METRIC_L2, "a"},
                {VCDC_METRIC_COSINE, "c"},
                {VCDC_METRIC_IP, "b"},
        };
        char name[64], buf[16];
        vcdc_record_t recs[3];
        vcdc_sink_t *sink;
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                target_new(name, sizeof(name));
                sink = must_open(name, cases[i].metric, 0);
                /* Nothing exists before the first upsert. */
                assert_int_equal(vcdc_sink_dim(sink), 0);
                assert_int_equal(its_count(sink), 0);
                metric_probe(recs);
                apply_ok(sink, recs, 3, NULL, 0);
                assert_int_equal(vcdc_sink_dim(sink), DIM);
                assert_int_equal(its_count(sink), 3);
                vcdc_sink_destroy(sink);
                /* Reopened with no metric: the target's own. */
                sink = must_open(name, VCDC_METRIC_UNSET, 0);
                assert_int_equal(vcdc_sink_dim(sink), DIM);
                assert_string_equal(nearest(sink, buf, sizeof(buf)),
                                    cases[i].nearest);
                vcdc_sink_destroy(sink);
                recs_clear(recs, 3);
        }
}

static void test_refuse(void **state) {
        static const struct {
                vcdc_metric_t metric;
                size_t dim;
                vcdc_sink_status_t status;
        } cases[] = {
                {VCDC_METRIC_L2, DIM, VCDC_SINK_OK},
                {VCDC_METRIC_L2, 0, VCDC_SINK_OK},
                {VCDC_METRIC_UNSET, DIM, VCDC_SINK_OK},
                {VCDC_METRIC_L2, DIM * 2, VCDC_SINK_FATAL},
                {VCDC_METRIC_COSINE, DIM, VCDC_SINK_FATAL},
                {VCDC_METRIC_IP, 0, VCDC_SINK_FATAL},
        };
        vcdc_sink_status_t status;
        char name[64], errstr[ERR];
        vcdc_record_t recs[3];
        vcdc_sink_t *sink;
        size_t i;

        (void)state;
        target_new(name, sizeof(name));
        sink = must_open(name, VCDC_METRIC_L2, DIM);
        metric_probe(recs);
        apply_ok(sink, recs, 3, NULL, 0);
        vcdc_sink_destroy(sink);
        recs_clear(recs, 3);
        for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                status = VCDC_SINK_OK;
                sink = sink_open_as(sut_tmpl(), name, NULL, cases[i].metric,
                                    cases[i].dim, 30000, &status, errstr);
                if (cases[i].status == VCDC_SINK_OK && !sink)
                        fail_msg("case %zu: refused: %s", i, errstr);
                if (cases[i].status != VCDC_SINK_OK) {
                        if (sink)
                                fail_msg("case %zu: metric %s dim %zu "
                                         "accepted",
                                         i, vcdc_metric_name(cases[i].metric),
                                         cases[i].dim);
                        its_want(status, cases[i].status, "open", errstr);
                }
                vcdc_sink_destroy(sink);
        }
}

static void test_write(void **state) {
        static const char *const ids[] = {"w1", "w2", "w3", "never"};
        static const char *const dels[] = {"w3", "never"};
        vcdc_record_t recs[3], over[2], out[4];
        char name[64];
        vcdc_sink_t *sink;
        int i;

        (void)state;
        sink = must_open(target_new(name, sizeof(name)), VCDC_METRIC_L2, 0);
        for (i = 0; i < 3; i++)
                rec_nth(&recs[i], ids[i], i, 0);
        apply_ok(sink, recs, 3, NULL, 0);
        assert_stored(sink, recs, 3);
        /* Overwrites are whole states: w1 loses its metadata and its
         * document, w2 gets new ones. */
        rec_nth(&over[0], "w1", 10, 1);
        free(over[0].metadata);
        free(over[0].document);
        over[0].metadata = over[0].document = NULL;
        rec_nth(&over[1], "w2", 11, 1);
        apply_ok(sink, over, 2, dels, 2); /* "never" was never there */
        apply_ok(sink, NULL, 0, dels + 1, 1);
        get_ids(sink, ids, 4, out);
        assert_same(&out[0], &over[0]);
        assert_same(&out[1], &over[1]);
        assert_null(out[2].id);
        assert_null(out[3].id);
        recs_clear(out, 4);
        assert_int_equal(its_count(sink), 2);
        /* Applied again (a replay), the end state is the same. */
        apply_ok(sink, over, 2, dels, 2);
        assert_stored(sink, over, 2);
        assert_int_equal(its_count(sink), 2);
        vcdc_sink_destroy(sink);
        recs_clear(recs, 3);
        recs_clear(over, 2);
}

static void test_content(void **state) {
        static const struct {
                const char *id, *metadata, *document;
        } cases[] = {
                {"unicode",
                 "{\"name\":\"n\\u00e9e \\u00fcber \\u4e2d\\u6587 "
                 "\\ud83d\\ude00\",\"\\u00e9t\\u00e9\":\"\\u2713\"}",
                 "caf\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87 \xf0\x9f\x98\x80"},
                {"empties", "{\"empty\":\"\",\"s\":\" \"}", ""},
                {"empty-object", "{}", "d"},
                {"none", NULL, NULL},
                {"numbers",
                 "{\"int\":42,\"neg\":-7,\"big\":9007199254740993,"
                 "\"half\":0.5,\"quarter\":-2.25,\"t\":true,\"f\":false}",
                 "n"},
                {"escapes",
                 "{\"q\":\"a\\\"b\",\"bs\":\"c\\\\d\",\"nl\":\"x\\ny\","
                 "\"tab\":\"\\t\"}",
                 "line 1\nline 2\t\"quoted\" \\ back"},
        };
        size_t n = sizeof(cases) / sizeof(*cases), i;
        vcdc_record_t recs[sizeof(cases) / sizeof(*cases) + 1];
        float vec[DIM] = {1, 2, 3, 4, 5, 6, 7, 8};
        size_t big_len = (size_t)1 << 20;
        char name[64], *big;
        vcdc_sink_t *sink;

        (void)state;
        sink = must_open(target_new(name, sizeof(name)), VCDC_METRIC_L2, 0);
        for (i = 0; i < n; i++)
                rec_set(&recs[i], cases[i].id, vec, DIM, cases[i].metadata,
                        cases[i].document);
        /* A 1 MiB document of two-byte characters. */
        big = malloc(big_len + 1);
        for (i = 0; i < big_len; i += 2)
                memcpy(big + i, "\xc3\xa9", 2);
        big[big_len] = '\0';
        rec_set(&recs[n], "large", vec, DIM, "{\"k\":\"v\"}", big);
        free(big);
        apply_ok(sink, recs, n + 1, NULL, 0);
        assert_stored(sink, recs, n + 1);
        vcdc_sink_destroy(sink);
        recs_clear(recs, n + 1);
}

static void test_ids(void **state) {
        char long_id[201], name[64];
        const char *ids[] = {
                "a/b/c",
                "/leading",
                "trailing/",
                "quote\"d",
                "it's",
                "back\\slash",
                "with blank",
                " lead",
                "per%2Fcent",
                "q?x=1&y=2",
                "hash#frag",
                "comma,semi;colon:",
                "{brace}[sq]",
                "\xd0\xba\xd0\xbb\xd1\x8e\xd1\x87",
                "emoji-\xf0\x9f\x94\x91",
                long_id,
        };
        size_t n = sizeof(ids) / sizeof(*ids), i;
        vcdc_record_t recs[sizeof(ids) / sizeof(*ids)];
        vcdc_sink_t *sink;
        idlist_t seen = {0};

        (void)state;
        memset(long_id, 'x', 200);
        memcpy(long_id, "long-", 5);
        long_id[200] = '\0';
        sink = must_open(target_new(name, sizeof(name)), VCDC_METRIC_L2, 0);
        for (i = 0; i < n; i++)
                rec_nth(&recs[i], ids[i], (int)i, 0);
        apply_ok(sink, recs, n, NULL, 0);
        assert_stored(sink, recs, n);
        scan_all(sink, 5, 1, &seen);
        assert_int_equal(seen.cnt, n);
        for (i = 0; i < n; i++)
                if (idlist_count(&seen, ids[i]) != 1)
                        fail_msg("scan: \"%s\" seen %zu times", ids[i],
                                 idlist_count(&seen, ids[i]));
        idlist_free(&seen);
        /* Deleted by those same ids. */
        apply_ok(sink, NULL, 0, ids, n);
        assert_int_equal(its_count(sink), 0);
        vcdc_sink_destroy(sink);
        recs_clear(recs, n);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_create), cmocka_unit_test(test_refuse),
                cmocka_unit_test(test_write),  cmocka_unit_test(test_content),
                cmocka_unit_test(test_ids),
        };

        return conformance_run("it_sink_conformance_write", tests,
                               sizeof(tests) / sizeof(*tests));
}
