/*
 * vcdc - the sink conformance suite: what every sink must do, run against
 * real databases through the sink interface (sink.h) alone. A new sink
 * (Weaviate, Milvus, ...) is done when it passes this unchanged.
 *
 * Each sink is named by a URL template holding "{target}" where the name
 * of a collection or table goes; every case makes targets of its own
 * (vcdc_cf_<pid>_<n>, letters, digits and '_', which every sink takes).
 *   VCDC_CONFORMANCE_URLS  templates separated by blanks, e.g.
 *       "chroma://127.0.0.1:8000/{target}
 *        pgvector://postgres@127.0.0.1:5432/postgres?table={target}"
 *   otherwise the stack's Chroma (VCDC_CHROMA_HOST, VCDC_CHROMA_PORT) and
 *   pgvector (VCDC_PGVECTOR_URL, twice: ?copy=never and ?copy=always, its
 *   two apply paths), those that are set; with none, the
 *   suite skips, saying so. Secrets come as the sinks read them
 *   (VCDC_CHROMA_TOKEN, VCDC_PG_PASSWORD).
 * Targets of the sinks it knows (chroma, pgvector) are dropped at the
 * end; another sink's are left, and listed.
 *
 * The cases (each for every sink):
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
 *   offsets      recorded and read back per topic and partition; where
 *                the sink records them with the data, fenced: a batch at
 *                or behind them is STALE and applies nothing
 *   reads        count, get by ids (repeated, missing), scan in pages of
 *                1, 7 and 100 with and without vectors, top-k query order
 *   scan_churn   a scan whose pages are interleaved with upserts, updates
 *                and deletes: every id present throughout comes back once,
 *                no id comes back twice
 *   errors       each status on purpose: ok; invalid (check() of a wrong
 *                dimension, NaN, metadata that is not an object; apply()
 *                of the first two, nothing of the batch applied); retriable
 *                (the server
 *                unreachable at open, and cut off mid-use through a proxy,
 *                then back); fatal (an unknown URL parameter, an
 *                incompatible target, offsets in a batch of a sink that
 *                keeps them apart); stale (see offsets)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "http.h"
#include "it_proxy.h"
#include "it_sink.h"
#include "sink.h"
#include "url.h"

#define DIM     8
#define TOPIC   "it.conformance"
#define TARGETS 64
#define ERR     1024

/* The sink under test: its template and the targets made for it. */
static struct {
        char tmpl[1024];
        char scheme[32];
        char targets[TARGETS][64];
        int target_cnt;
        int seq;
} sut;

/* ------------------------------------------------------------- targets */

/* A new target name of this run, remembered for the end. */
static const char *target_new(char *name, size_t size) {
        snprintf(name, size, "vcdc_cf_%d_%d", (int)getpid(), ++sut.seq);
        if (sut.target_cnt < TARGETS)
                snprintf(sut.targets[sut.target_cnt++], sizeof(*sut.targets),
                         "%s", name);
        return name;
}

/* The template with target put in and extra ("k=v") appended as a
 * parameter. */
static void url_of(char *out, size_t size, const char *tmpl, const char *target,
                   const char *extra) {
        const char *mark = strstr(tmpl, "{target}");
        int n;

        assert_non_null(mark);
        n = snprintf(out, size, "%.*s%s%s", (int)(mark - tmpl), tmpl, target,
                     mark + strlen("{target}"));
        assert_true(n > 0 && (size_t)n < size);
        if (extra) {
                size_t len = strlen(out);
                snprintf(out + len, size - len, "%c%s",
                         strchr(out, '?') ? '&' : '?', extra);
        }
}

static vcdc_sink_t *sink_open_as(const char *tmpl, const char *target,
                                 const char *extra, vcdc_metric_t metric,
                                 size_t dim, int timeout_ms,
                                 vcdc_sink_status_t *statusp, char *errstr) {
        vcdc_sink_conf_t conf = {
                .metric = metric, .dim = dim, .timeout_ms = timeout_ms};
        char url[1200];

        url_of(url, sizeof(url), tmpl, target, extra);
        return vcdc_sink_open(url, &conf, statusp, errstr, ERR);
}

static vcdc_sink_t *must_open(const char *target, vcdc_metric_t metric,
                              size_t dim) {
        vcdc_sink_status_t status;
        char errstr[ERR];
        vcdc_sink_t *sink = sink_open_as(sut.tmpl, target, NULL, metric, dim,
                                         30000, &status, errstr);

        if (!sink)
                fail_msg("open %s: %s: %s", target,
                         vcdc_sink_status_name(status), errstr);
        return sink;
}

/* ------------------------------------------------------------- records */

static void rec_set(vcdc_record_t *rec, const char *id, const float *vec,
                    size_t dim, const char *metadata, const char *document) {
        vcdc_record_init(rec);
        rec->op = VCDC_OP_UPSERT;
        rec->id = strdup(id);
        rec->dim = dim;
        if (dim) {
                rec->vector = malloc(dim * sizeof(float));
                memcpy(rec->vector, vec, dim * sizeof(float));
        }
        rec->metadata = metadata ? strdup(metadata) : NULL;
        rec->document = document ? strdup(document) : NULL;
}

/* Record i of a family: a vector of exactly representable components,
 * the first i / 4 (no two records alike), metadata {"i": i, "v": v},
 * document "doc i/v". */
static void rec_nth(vcdc_record_t *rec, const char *id, int i, int v) {
        char meta[64], doc[64];
        float vec[DIM];
        int j;

        vec[0] = (float)i / 4.0f;
        for (j = 1; j < DIM; j++)
                vec[j] = (float)((i * 7 + j * 3 + v) % 64) / 8.0f - 3.0f;
        snprintf(meta, sizeof(meta), "{\"i\":%d,\"v\":%d}", i, v);
        snprintf(doc, sizeof(doc), "doc %d/%d", i, v);
        rec_set(rec, id, vec, DIM, meta, doc);
}

static void recs_clear(vcdc_record_t *recs, size_t cnt) {
        size_t i;

        for (i = 0; i < cnt; i++)
                vcdc_record_clear(&recs[i]);
}

/* Applies upserts recs[0..cnt) and deletes dels[0..del_cnt) with offsets
 * offs[0..off_cnt) of TOPIC (fence_only as given). */
static vcdc_sink_status_t apply_full(vcdc_sink_t *sink,
                                     const vcdc_record_t *recs, size_t cnt,
                                     const char *const *dels, size_t del_cnt,
                                     const vcdc_sink_offset_t *offs,
                                     size_t off_cnt, int fence_only,
                                     char *errstr) {
        const vcdc_record_t **ptrs = calloc(cnt ? cnt : 1, sizeof(*ptrs));
        vcdc_sink_batch_t batch = {.upserts = ptrs,
                                   .upsert_cnt = cnt,
                                   .delete_ids = dels,
                                   .delete_cnt = del_cnt,
                                   .topic = TOPIC,
                                   .offsets = offs,
                                   .offset_cnt = off_cnt,
                                   .fence_only = fence_only};
        vcdc_sink_status_t status;
        size_t i;

        for (i = 0; i < cnt; i++)
                ptrs[i] = &recs[i];
        errstr[0] = '\0';
        status = vcdc_sink_apply(sink, &batch, errstr, ERR);
        free(ptrs);
        return status;
}

static void apply_ok(vcdc_sink_t *sink, const vcdc_record_t *recs, size_t cnt,
                     const char *const *dels, size_t del_cnt) {
        char errstr[ERR];

        its_want(apply_full(sink, recs, cnt, dels, del_cnt, NULL, 0, 0, errstr),
                 VCDC_SINK_OK, "apply", errstr);
}

/* Gets ids[0..cnt) into out (initialised here; clear it after). */
static void get_ids(vcdc_sink_t *sink, const char *const *ids, size_t cnt,
                    vcdc_record_t *out) {
        char errstr[ERR];
        size_t i;

        for (i = 0; i < cnt; i++)
                vcdc_record_init(&out[i]);
        its_want(vcdc_sink_get(sink, ids, cnt, out, errstr, ERR), VCDC_SINK_OK,
                 "get", errstr);
}

/* Metadata equal as JSON values; NULL and {} are the same (a sink may
 * store an empty object as none). */
static int meta_equal(const char *got, const char *wanted) {
        json_t *g = got ? json_loads(got, 0, NULL) : json_object();
        json_t *w = wanted ? json_loads(wanted, 0, NULL) : json_object();
        int eq = g && w && json_equal(g, w);

        json_decref(g);
        json_decref(w);
        return eq;
}

/* got holds what wanted says: vector bit for bit (targets are l2 or ip,
 * which store vectors as given), metadata as JSON, document as text. */
static void assert_same(const vcdc_record_t *got, const vcdc_record_t *wanted) {
        if (!got->id)
                fail_msg("\"%s\": missing", wanted->id);
        assert_string_equal(got->id, wanted->id);
        if (got->dim != wanted->dim ||
            memcmp(got->vector, wanted->vector, wanted->dim * sizeof(float)))
                fail_msg("\"%.60s\": vector differs (dimension %zu, wrote "
                         "%zu)",
                         wanted->id, got->dim, wanted->dim);
        if (!meta_equal(got->metadata, wanted->metadata))
                fail_msg("\"%.60s\": metadata %.200s, wrote %.200s", wanted->id,
                         got->metadata ? got->metadata : "(none)",
                         wanted->metadata ? wanted->metadata : "(none)");
        if ((got->document == NULL) != (wanted->document == NULL) ||
            (got->document && strcmp(got->document, wanted->document)))
                fail_msg("\"%.60s\": document %.80s, wrote %.80s", wanted->id,
                         got->document ? got->document : "(none)",
                         wanted->document ? wanted->document : "(none)");
}

/* Reads recs back by id and checks each. */
static void assert_stored(vcdc_sink_t *sink, const vcdc_record_t *recs,
                          size_t cnt) {
        const char **ids = calloc(cnt, sizeof(*ids));
        vcdc_record_t *out = calloc(cnt, sizeof(*out));
        size_t i;

        for (i = 0; i < cnt; i++)
                ids[i] = recs[i].id;
        get_ids(sink, ids, cnt, out);
        for (i = 0; i < cnt; i++)
                assert_same(&out[i], &recs[i]);
        recs_clear(out, cnt);
        free(out);
        free(ids);
}

/* ------------------------------------------------------ scanning helpers */

/* The ids a full scan returns, in pages of page: a new array of *cntp
 * strings (ids_free()). */
typedef struct idlist_s {
        char **ids;
        size_t cnt, size;
} idlist_t;

static void idlist_add(idlist_t *l, const char *id) {
        if (l->cnt == l->size) {
                l->size = l->size ? 2 * l->size : 64;
                l->ids = realloc(l->ids, l->size * sizeof(*l->ids));
        }
        l->ids[l->cnt++] = strdup(id);
}

static void idlist_free(idlist_t *l) {
        size_t i;

        for (i = 0; i < l->cnt; i++)
                free(l->ids[i]);
        free(l->ids);
        memset(l, 0, sizeof(*l));
}

static int str_cmp(const void *a, const void *b) {
        return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* How many times id is in l (sorted). */
static size_t idlist_count(const idlist_t *l, const char *id) {
        size_t n = 0, i;

        for (i = 0; i < l->cnt; i++)
                n += !strcmp(l->ids[i], id);
        return n;
}

/* Fails when a sorted list holds an id twice. */
static void assert_no_doubles(const idlist_t *l) {
        size_t i;

        for (i = 1; i < l->cnt; i++)
                if (!strcmp(l->ids[i - 1], l->ids[i]))
                        fail_msg("scan returned \"%s\" twice", l->ids[i]);
}

/* One page of a scan into l; returns the records' count. Records are
 * checked for what with_vectors asked. */
static size_t scan_page(vcdc_sink_t *sink, char **cursorp, size_t page,
                        int with_vectors, idlist_t *l) {
        vcdc_record_t *out = calloc(page, sizeof(*out));
        char errstr[ERR];
        size_t n = 0, i;

        for (i = 0; i < page; i++)
                vcdc_record_init(&out[i]);
        its_want(vcdc_sink_scan(sink, cursorp, page, with_vectors, out, &n,
                                errstr, ERR),
                 VCDC_SINK_OK, "scan", errstr);
        assert_true(n <= page);
        for (i = 0; i < n; i++) {
                assert_non_null(out[i].id);
                if (with_vectors)
                        assert_int_equal(out[i].dim, DIM);
                idlist_add(l, out[i].id);
        }
        recs_clear(out, page);
        free(out);
        return n;
}

static void scan_all(vcdc_sink_t *sink, size_t page, int with_vectors,
                     idlist_t *l) {
        char *cursor = NULL;
        int pages = 0;

        do {
                scan_page(sink, &cursor, page, with_vectors, l);
                assert_true(++pages < 100000);
        } while (cursor);
        qsort(l->ids, l->cnt, sizeof(*l->ids), str_cmp);
}

/* ----------------------------------------------------------------- cases */

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
                sink = sink_open_as(sut.tmpl, name, NULL, cases[i].metric,
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

/* The partitions read back for topic: want_cnt of them, each once. */
static void partitions_once(vcdc_sink_t *sink, const char *topic,
                            size_t want_cnt) {
        vcdc_sink_offset_t *offs = NULL;
        char errstr[ERR];
        size_t cnt = 0, i, j;

        its_want(vcdc_sink_read_offsets(sink, topic, &offs, &cnt, errstr, ERR),
                 VCDC_SINK_OK, "read_offsets", errstr);
        assert_int_equal(cnt, want_cnt);
        for (i = 0; i < cnt; i++)
                for (j = i + 1; j < cnt; j++)
                        assert_true(offs[i].partition != offs[j].partition);
        free(offs);
}

static void record(vcdc_sink_t *sink, const char *topic,
                   const vcdc_sink_offset_t *offs, size_t cnt,
                   vcdc_sink_status_t wanted) {
        char errstr[ERR];

        its_want(vcdc_sink_record_offsets(sink, topic, offs, cnt, errstr, ERR),
                 wanted, "record_offsets", errstr);
}

static void test_offsets(void **state) {
        const vcdc_sink_offset_t first[] = {{3, 7}, {0, 10}};
        const vcdc_sink_offset_t later[] = {{0, 20}};
        const vcdc_sink_offset_t other[] = {{0, 99}};
        vcdc_record_t rec, old;
        char name[64], errstr[ERR];
        const char *id = "o1";
        vcdc_sink_t *sink;

        (void)state;
        sink = must_open(target_new(name, sizeof(name)), VCDC_METRIC_L2, 0);
        rec_nth(&old, id, 1, 0);
        apply_ok(sink, &old, 1, NULL, 0);
        assert_int_equal(its_offset(sink, TOPIC, 0, NULL), -1);
        record(sink, TOPIC, first, 2, VCDC_SINK_OK);
        record(sink, "it.other", other, 1, VCDC_SINK_OK);
        assert_int_equal(its_offset(sink, TOPIC, 0, NULL), 10);
        assert_int_equal(its_offset(sink, TOPIC, 3, NULL), 7);
        record(sink, TOPIC, later, 1, VCDC_SINK_OK);
        assert_int_equal(its_offset(sink, TOPIC, 0, NULL), 20);
        assert_int_equal(its_offset(sink, TOPIC, 3, NULL), 7);
        partitions_once(sink, TOPIC, 2);
        assert_int_equal(its_offset(sink, "it.other", 0, NULL), 99);
        assert_int_equal(its_offset(sink, "it.none", 0, NULL), -1);

        rec_nth(&rec, id, 1, 5);
        if (vcdc_sink_offsets_apart(sink)) {
                /* Offsets go apart from the data: none in a batch. */
                its_want(
                        apply_full(sink, &rec, 1, NULL, 0, later, 1, 0, errstr),
                        VCDC_SINK_FATAL, "offsets in a batch", errstr);
                assert_stored(sink, &old, 1);
        } else {
                const vcdc_sink_offset_t next[] = {{0, 30}};
                const vcdc_sink_offset_t behind[] = {{0, 25}};
                const vcdc_sink_offset_t ahead[] = {{0, 40}};

                /* Recorded with the data, and fenced on them. */
                its_want(apply_full(sink, &rec, 1, NULL, 0, next, 1, 0, errstr),
                         VCDC_SINK_OK, "apply with offsets", errstr);
                assert_int_equal(its_offset(sink, TOPIC, 0, NULL), 30);
                assert_stored(sink, &rec, 1);
                its_want(apply_full(sink, &old, 1, NULL, 0, behind, 1, 0,
                                    errstr),
                         VCDC_SINK_STALE, "a batch behind", errstr);
                its_want(apply_full(sink, &old, 1, NULL, 0, next, 1, 0, errstr),
                         VCDC_SINK_STALE, "the same batch again", errstr);
                its_want(apply_full(sink, &old, 1, NULL, 0, behind, 1, 1,
                                    errstr),
                         VCDC_SINK_STALE, "a part behind", errstr);
                record(sink, TOPIC, behind, 1, VCDC_SINK_STALE);
                assert_stored(sink, &rec, 1); /* nothing applied */
                assert_int_equal(its_offset(sink, TOPIC, 0, NULL), 30);
                /* A part ahead applies and records nothing. */
                its_want(
                        apply_full(sink, &rec, 1, NULL, 0, ahead, 1, 1, errstr),
                        VCDC_SINK_OK, "a part ahead", errstr);
                assert_int_equal(its_offset(sink, TOPIC, 0, NULL), 30);
        }
        vcdc_sink_destroy(sink);
        vcdc_record_clear(&rec);
        vcdc_record_clear(&old);
}

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
        qsort(seen.ids, seen.cnt, sizeof(*seen.ids), str_cmp);
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

/* host:port of the template replaced by 127.0.0.1:port. */
static void tmpl_at(char *out, size_t size, int port) {
        const char *p = strstr(sut.tmpl, "://"), *host, *end;

        assert_non_null(p);
        host = p + 3;
        end = host + strcspn(host, "/?");
        if (memchr(host, '@', (size_t)(end - host)))
                host = (const char *)memchr(host, '@', (size_t)(end - host)) +
                       1;
        snprintf(out, size, "%.*s127.0.0.1:%d%s", (int)(host - sut.tmpl),
                 sut.tmpl, port, end);
}

/* A port on 127.0.0.1 where nothing listens (bound, never listening:
 * connections are refused). Returns the socket holding it. */
static int dead_port(int *portp) {
        struct sockaddr_in addr = {.sin_family = AF_INET};
        socklen_t len = sizeof(addr);
        int fd = socket(AF_INET, SOCK_STREAM, 0);

        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        assert_true(fd >= 0);
        assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
        assert_int_equal(getsockname(fd, (struct sockaddr *)&addr, &len), 0);
        *portp = ntohs(addr.sin_port);
        return fd;
}

/* The server's host (an IPv4 literal) and port, from the template. */
static int server_of(char *host, size_t size, int *portp) {
        char url[1200], errstr[ERR];
        vcdc_url_t *u;

        url_of(url, sizeof(url), sut.tmpl, "x", NULL);
        if (!(u = vcdc_url_parse(url, errstr, sizeof(errstr))))
                return -1;
        snprintf(host, size, "%s", u->host);
        *portp = u->port;
        if (!*portp)
                *portp = !strcmp(sut.scheme, "chroma")     ? 8000
                         : !strcmp(sut.scheme, "pgvector") ? 5432
                                                           : 0;
        vcdc_url_destroy(u);
        return *portp ? 0 : -1;
}

static void test_errors(void **state) {
        float nan_vec[DIM] = {1, NAN}, short_vec[DIM / 2] = {1};
        vcdc_record_t good[2], bad[3];
        vcdc_sink_status_t status;
        char name[64], errstr[ERR], tmpl[1100], host[256];
        vcdc_sink_t *sink, *via;
        it_proxy_t px;
        int fd, port, server_port;
        size_t i;

        (void)state;
        target_new(name, sizeof(name));
        sink = must_open(name, VCDC_METRIC_L2, 0);
        rec_nth(&good[0], "e1", 1, 0);
        rec_nth(&good[1], "e2", 2, 0);
        apply_ok(sink, good, 1, NULL, 0); /* ok */

        /* invalid: check() refuses each; apply() refuses a record the
         * database cannot hold (dimension, NaN) and applies nothing of
         * its batch. check() alone speaks for what the target could
         * store but vcdc's records do not allow (metadata that is not an
         * object). */
        rec_set(&bad[0], "dim", short_vec, DIM / 2, NULL, NULL);
        rec_set(&bad[1], "nan", nan_vec, DIM, NULL, NULL);
        rec_nth(&bad[2], "array", 3, 0);
        free(bad[2].metadata);
        bad[2].metadata = strdup("[1,2]");
        for (i = 0; i < 3; i++) {
                vcdc_record_t batch[2];
                batch[0] = good[1];
                batch[1] = bad[i];
                its_want(vcdc_sink_check(sink, &bad[i], errstr, ERR),
                         VCDC_SINK_INVALID, bad[i].id, errstr);
                if (i == 2)
                        continue;
                its_want(
                        apply_full(sink, batch, 2, NULL, 0, NULL, 0, 0, errstr),
                        VCDC_SINK_INVALID, bad[i].id, errstr);
                assert_int_equal(its_count(sink), 1);
        }
        its_want(vcdc_sink_check(sink, &good[1], errstr, ERR), VCDC_SINK_OK,
                 "check", errstr);

        /* fatal: a parameter the sink does not know; an incompatible
         * target (test_refuse has more). */
        assert_null(sink_open_as(sut.tmpl, name, "vcdc_no_such_param=1",
                                 VCDC_METRIC_L2, 0, 30000, &status, errstr));
        its_want(status, VCDC_SINK_FATAL, "unknown parameter", errstr);
        assert_null(sink_open_as(sut.tmpl, name, NULL, VCDC_METRIC_L2, DIM + 1,
                                 30000, &status, errstr));
        its_want(status, VCDC_SINK_FATAL, "other dimension", errstr);

        /* retriable: nothing answers at open... */
        fd = dead_port(&port);
        tmpl_at(tmpl, sizeof(tmpl), port);
        assert_null(sink_open_as(tmpl, name, NULL, VCDC_METRIC_L2, 0, 5000,
                                 &status, errstr));
        its_want(status, VCDC_SINK_RETRIABLE, "no server", errstr);
        close(fd);

        /* ...or the server goes away while in use, and comes back. */
        if (server_of(host, sizeof(host), &server_port) == -1 ||
            it_proxy_start(&px, host, server_port) == -1) {
                fprintf(stderr, "  (the server is not an IPv4 address and "
                                "port: no proxy test)\n");
        } else {
                tmpl_at(tmpl, sizeof(tmpl), px.port);
                via = sink_open_as(tmpl, name, NULL, VCDC_METRIC_L2, 0, 5000,
                                   &status, errstr);
                if (!via)
                        fail_msg("open through the proxy: %s", errstr);
                it_proxy_cmd(&px, 'd');
                its_want(apply_full(via, good + 1, 1, NULL, 0, NULL, 0, 0,
                                    errstr),
                         VCDC_SINK_RETRIABLE, "server gone", errstr);
                it_proxy_cmd(&px, 'u');
                its_want(apply_full(via, good + 1, 1, NULL, 0, NULL, 0, 0,
                                    errstr),
                         VCDC_SINK_OK, "server back", errstr);
                vcdc_sink_destroy(via);
                it_proxy_stop(&px);
                assert_stored(sink, good, 2);
        }
        vcdc_sink_destroy(sink);
        recs_clear(good, 2);
        recs_clear(bad, 3);
}

/* ------------------------------------------------------------- clean-up */

static void drop_chroma(const vcdc_url_t *u, const char *target) {
        const char *tenant = vcdc_url_param(u, "tenant");
        const char *db = vcdc_url_param(u, "database");
        const char *token = getenv("VCDC_CHROMA_TOKEN");
        char base[300], path[1024], errstr[ERR];
        vcdc_http_t *http;
        int i;

        snprintf(base, sizeof(base), "http://%s:%d", u->host,
                 u->port ? u->port : 8000);
        if (!(http = vcdc_http_new(base, 10000, 0, errstr, sizeof(errstr))))
                return;
        if (token && *token) {
                char h[512];
                snprintf(h, sizeof(h), "x-chroma-token: %s", token);
                vcdc_http_add_header(http, h);
        }
        for (i = 0; i < 2; i++) {
                snprintf(path, sizeof(path),
                         "/api/v2/tenants/%s/databases/%s/collections/%s%s",
                         tenant ? tenant : "default_tenant",
                         db ? db : "default_database", target,
                         i ? "_vcdc_offsets" : "");
                vcdc_http_request(http, "DELETE", path, NULL, 0, NULL, errstr,
                                  sizeof(errstr));
        }
        vcdc_http_destroy(http);
}

static void drop_pgvector(const vcdc_url_t *u, const char *target) {
        const char *keys[8], *values[8], *sslmode;
        char port[16], q[512];
        PGconn *conn;
        int n = 0;

        snprintf(port, sizeof(port), "%d", u->port ? u->port : 5432);
        keys[n] = "host", values[n++] = u->host;
        keys[n] = "port", values[n++] = port;
        if (u->user)
                keys[n] = "user", values[n++] = u->user;
        keys[n] = "dbname", values[n++] = u->path;
        if ((sslmode = vcdc_url_param(u, "sslmode")))
                keys[n] = "sslmode", values[n++] = sslmode;
        if (getenv("VCDC_PG_PASSWORD"))
                keys[n] = "password", values[n++] = getenv("VCDC_PG_PASSWORD");
        keys[n] = values[n] = NULL;
        conn = PQconnectdbParams(keys, values, 0);
        if (PQstatus(conn) == CONNECTION_OK) {
                snprintf(q, sizeof(q),
                         "DROP TABLE IF EXISTS \"%s\"; "
                         "DELETE FROM vcdc_targets WHERE table_name = '%s'; "
                         "DELETE FROM vcdc_offsets WHERE table_name = '%s'",
                         target, target, target);
                PQclear(PQexec(conn, q));
        }
        PQfinish(conn);
}

static int group_setup(void **state) {
        (void)state;
        sut.target_cnt = 0;
        return 0;
}

static int group_teardown(void **state) {
        char url[1200], errstr[ERR];
        vcdc_url_t *u;
        int i;

        (void)state;
        for (i = 0; i < sut.target_cnt; i++) {
                url_of(url, sizeof(url), sut.tmpl, sut.targets[i], NULL);
                if (!(u = vcdc_url_parse(url, errstr, sizeof(errstr))))
                        continue;
                if (!strcmp(u->scheme, "chroma"))
                        drop_chroma(u, sut.targets[i]);
                else if (!strcmp(u->scheme, "pgvector"))
                        drop_pgvector(u, sut.targets[i]);
                else
                        fprintf(stderr, "it_sink_conformance: left %s\n", url);
                vcdc_url_destroy(u);
        }
        return 0;
}

/* ------------------------------------------------------------------ main */

/* The templates to run: VCDC_CONFORMANCE_URLS, else the stack's. */
static size_t templates(char (*out)[1024], size_t max) {
        const char *list = getenv("VCDC_CONFORMANCE_URLS");
        const char *host = getenv("VCDC_CHROMA_HOST");
        const char *port = getenv("VCDC_CHROMA_PORT");
        const char *pg = getenv("VCDC_PGVECTOR_URL");
        size_t n = 0;

        if (list && *list) {
                while (*list && n < max) {
                        size_t len;
                        list += strspn(list, " \t\n");
                        if (!(len = strcspn(list, " \t\n")))
                                break;
                        snprintf(out[n++], sizeof(*out), "%.*s", (int)len,
                                 list);
                        list += len;
                }
                return n;
        }
        if (host && *host && port && *port)
                snprintf(out[n++], sizeof(*out), "chroma://%s:%s/{target}",
                         host, port);
        /* pgvector's two apply paths: multi-row INSERT and COPY. */
        if (pg && *pg && n + 1 < max) {
                snprintf(out[n++], sizeof(*out), "%s%ccopy=never&table={target}",
                         pg, strchr(pg, '?') ? '&' : '?');
                snprintf(out[n++], sizeof(*out),
                         "%s%ccopy=always&table={target}", pg,
                         strchr(pg, '?') ? '&' : '?');
        }
        return n;
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_create),
                cmocka_unit_test(test_refuse),
                cmocka_unit_test(test_write),
                cmocka_unit_test(test_content),
                cmocka_unit_test(test_ids),
                cmocka_unit_test(test_offsets),
                cmocka_unit_test(test_reads),
                cmocka_unit_test(test_scan_churn),
                cmocka_unit_test(test_errors),
        };
        char tmpls[8][1024];
        size_t n = templates(tmpls, 8), i;
        int rc = 0;

        if (!n) {
                fprintf(stderr, "it_sink_conformance: skipped: no sink (set "
                                "VCDC_CONFORMANCE_URLS, or run under "
                                "scripts/with-stack.sh)\n");
                return 0;
        }
        for (i = 0; i < n; i++) {
                const char *colon = strstr(tmpls[i], "://");
                if (!strstr(tmpls[i], "{target}") || !colon) {
                        fprintf(stderr,
                                "it_sink_conformance: %s: a URL template "
                                "needs a scheme and {target}\n",
                                tmpls[i]);
                        rc = 1;
                        continue;
                }
                snprintf(sut.tmpl, sizeof(sut.tmpl), "%.1000s", tmpls[i]);
                snprintf(sut.scheme, sizeof(sut.scheme), "%.*s",
                         (int)(colon - tmpls[i]), tmpls[i]);
                fprintf(stderr, "==== conformance of %s\n", sut.tmpl);
                rc |= cmocka_run_group_tests_name(sut.scheme, tests,
                                                  group_setup, group_teardown);
        }
        return rc ? 1 : 0;
}
