/*
 * vcdc - integration test: verification and shadow reads against a real
 * Chroma server (VCDC_CHROMA_HOST, VCDC_CHROMA_PORT) and real pgvector
 * (VCDC_PGVECTOR_URL). When they are unset every test is skipped, saying
 * so.
 *
 * The same 3,000 records (128 dimensions) go into a Chroma collection and
 * a pgvector table through the sink API; verification must find them
 * equal, in both directions and in several partitions. Then each kind of
 * difference is planted in NEW on purpose, one at a time, and verification
 * must report exactly that kind, with the planted id as its example.
 * Shadow reads run on a smaller pair (300 records; see test_shadow_same).
 * Collections and tables are named vit_<pid>_<time>_* and dropped at the
 * end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "commands.h"
#include "http.h"
#include "log.h"
#include "shadow.h"
#include "sink.h"
#include "url.h"
#include "verify.h"

#define DIM     128
#define N       3000
#define N_SMALL 300
#define BATCH   500

typedef enum side_e { CHROMA = 0, PG = 1 } side_t;

static struct {
        const char *chroma_host, *pg_url;
        int chroma_port;
        char prefix[64];
        char url[2][2][512];     /* [big/small][side] */
        vcdc_sink_t *sink[2][2]; /* [big/small][side] */
} it;

/* The collections' and tables' names: big, small; a pgvector table of
 * ids of two lengths. */
static char names[2][128], split_name[128];

enum { BIG = 0, SMALL = 1 };

static int have_servers(void) {
        if (it.chroma_host && it.chroma_port && it.pg_url)
                return 1;
        fprintf(stderr, "it_verify: skipped: VCDC_CHROMA_HOST, "
                        "VCDC_CHROMA_PORT or VCDC_PGVECTOR_URL is unset\n");
        return 0;
}

#define NEED_SERVERS()                                                         \
        do {                                                                   \
                if (!have_servers())                                           \
                        skip();                                                \
        } while (0)

/* ---- Records ------------------------------------------------------------ */

static uint64_t splitmix(uint64_t *x) {
        uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
}

static void rec_id(char *buf, size_t size, int i) {
        snprintf(buf, size, "rec-%05d", i);
}

/*
 * Record i as one side holds it: the same vector, metadata and document
 * on both, but the metadata's keys in another order on each side. Every
 * 10th record has no document, every 13th no metadata. "r" is i * 0.1,
 * which Chroma stores an ulp away for some i (sink_chroma_int.h).
 */
static void make_rec(vcdc_record_t *rec, int i, side_t side) {
        char id[32], meta[200], doc[64];
        uint64_t x = (uint64_t)i * 7919 + 1;
        size_t k;

        vcdc_record_init(rec);
        rec_id(id, sizeof(id), i);
        rec->id = strdup(id);
        rec->dim = DIM;
        rec->vector = malloc(DIM * sizeof(float));
        for (k = 0; k < DIM; k++)
                rec->vector[k] = (float)((double)(splitmix(&x) >> 11) /
                                                 9007199254740992.0 * 2 -
                                         1);
        if (i % 13) {
                if (side == CHROMA)
                        snprintf(meta, sizeof(meta),
                                 "{\"i\":%d,\"tag\":\"t%d\",\"score\":%d.5,"
                                 "\"r\":%.17g}",
                                 i, i % 7, i, i * 0.1);
                else
                        snprintf(meta, sizeof(meta),
                                 "{\"r\":%.17g,\"score\":%d.5,\"tag\":\"t%d\","
                                 "\"i\":%d}",
                                 i * 0.1, i, i % 7, i);
                rec->metadata = strdup(meta);
        }
        if (i % 10) {
                snprintf(doc, sizeof(doc), "document number %d", i);
                rec->document = strdup(doc);
        }
}

static void upsert(vcdc_sink_t *sink, vcdc_record_t *recs, size_t cnt) {
        const vcdc_record_t *ptrs[BATCH];
        vcdc_sink_batch_t batch;
        char errstr[512];
        size_t i, n;

        for (i = 0; i < cnt; i += n) {
                n = cnt - i < BATCH ? cnt - i : BATCH;
                memset(&batch, 0, sizeof(batch));
                for (size_t j = 0; j < n; j++)
                        ptrs[j] = &recs[i + j];
                batch.upserts = ptrs;
                batch.upsert_cnt = n;
                if (vcdc_sink_apply(sink, &batch, errstr, sizeof(errstr)))
                        fail_msg("apply to %s: %s", vcdc_sink_name(sink),
                                 errstr);
        }
}

static void upsert_one(vcdc_sink_t *sink, vcdc_record_t *rec) {
        upsert(sink, rec, 1);
        vcdc_record_clear(rec);
}

/* Puts record i back as it was. */
static void restore(vcdc_sink_t *sink, side_t side, int i) {
        vcdc_record_t rec;

        make_rec(&rec, i, side);
        upsert_one(sink, &rec);
}

static void delete_id(vcdc_sink_t *sink, const char *id) {
        vcdc_sink_batch_t batch;
        char errstr[512];

        memset(&batch, 0, sizeof(batch));
        batch.delete_ids = &id;
        batch.delete_cnt = 1;
        if (vcdc_sink_apply(sink, &batch, errstr, sizeof(errstr)))
                fail_msg("delete from %s: %s", vcdc_sink_name(sink), errstr);
}

static void fill(vcdc_sink_t *sink, side_t side, int cnt) {
        vcdc_record_t *recs = calloc((size_t)cnt, sizeof(*recs));
        int i;

        assert_non_null(recs);
        for (i = 0; i < cnt; i++)
                make_rec(&recs[i], i, side);
        upsert(sink, recs, (size_t)cnt);
        for (i = 0; i < cnt; i++)
                vcdc_record_clear(&recs[i]);
        free(recs);
}

/* ---- Setup and teardown ------------------------------------------------- */

static void build_urls(int which, const char *name) {
        snprintf(it.url[which][CHROMA], sizeof(it.url[which][CHROMA]),
                 "chroma://%s:%d/%s", it.chroma_host, it.chroma_port, name);
        snprintf(it.url[which][PG], sizeof(it.url[which][PG]), "%s%ctable=%s",
                 it.pg_url, strchr(it.pg_url, '?') ? '&' : '?', name);
}

static int setup(void **state) {
        const char *port = getenv("VCDC_CHROMA_PORT");
        const char *level = getenv("VCDC_LOG_LEVEL");
        char errstr[512];
        int w, s;

        (void)state;
        if (level && vcdc_log_level_parse(level) > 0)
                vcdc_log_level = vcdc_log_level_parse(level);
        it.chroma_host = getenv("VCDC_CHROMA_HOST");
        it.chroma_port = port ? (int)strtol(port, NULL, 10) : 0;
        it.pg_url = getenv("VCDC_PGVECTOR_URL");
        if (it.chroma_host && !*it.chroma_host)
                it.chroma_host = NULL;
        if (it.pg_url && !*it.pg_url)
                it.pg_url = NULL;
        if (!it.chroma_host || !it.chroma_port || !it.pg_url)
                return 0;
        snprintf(it.prefix, sizeof(it.prefix), "vit_%d_%ld", (int)getpid(),
                 (long)(time(NULL) % 100000000));
        snprintf(names[BIG], sizeof(names[BIG]), "%s_big", it.prefix);
        snprintf(names[SMALL], sizeof(names[SMALL]), "%s_small", it.prefix);
        snprintf(split_name, sizeof(split_name), "%s_split", it.prefix);
        for (w = BIG; w <= SMALL; w++) {
                build_urls(w, names[w]);
                for (s = CHROMA; s <= PG; s++) {
                        it.sink[w][s] = vcdc_sink_new(it.url[w][s], NULL,
                                                      errstr, sizeof(errstr));
                        if (!it.sink[w][s]) {
                                fprintf(stderr, "it_verify: %s: %s\n",
                                        it.url[w][s], errstr);
                                return -1;
                        }
                }
        }
        for (s = CHROMA; s <= PG; s++) {
                fill(it.sink[BIG][s], (side_t)s, N);
                fill(it.sink[SMALL][s], (side_t)s, N_SMALL);
        }
        return 0;
}

static void drop_chroma(const char *name) {
        char base[300], path[512], errstr[512];
        vcdc_http_t *http;
        long code = 0;

        snprintf(base, sizeof(base), "http://%s:%d", it.chroma_host,
                 it.chroma_port);
        snprintf(path, sizeof(path),
                 "/api/v2/tenants/default_tenant/databases/default_database/"
                 "collections/%s",
                 name);
        if (!(http = vcdc_http_new(base, 30000, 0, errstr, sizeof(errstr))))
                return;
        if (vcdc_http_request(http, "DELETE", path, NULL, 0, &code, errstr,
                              sizeof(errstr)) != VCDC_SINK_OK)
                fprintf(stderr, "it_verify: cleanup: %s\n", errstr);
        vcdc_http_destroy(http);
}

static void drop_tables(void) {
        const char *keys[] = {"host",   "port",     "user",
                              "dbname", "password", NULL};
        const char *tables[] = {names[BIG], names[SMALL], split_name};
        const char *values[6];
        char port[16], errstr[256], sql[256];
        vcdc_url_t *u;
        PGconn *conn;
        int w;

        if (!(u = vcdc_url_parse(it.pg_url, errstr, sizeof(errstr))))
                return;
        snprintf(port, sizeof(port), "%d", u->port ? u->port : 5432);
        values[0] = u->host;
        values[1] = port;
        values[2] = u->user ? u->user : "postgres";
        values[3] = *u->path ? u->path : "postgres";
        values[4] = getenv("VCDC_PG_PASSWORD");
        values[5] = NULL;
        if (!values[4])
                keys[4] = NULL;
        conn = PQconnectdbParams(keys, values, 0);
        if (PQstatus(conn) == CONNECTION_OK) {
                for (w = 0; w < 3; w++) {
                        snprintf(sql, sizeof(sql),
                                 "DROP TABLE IF EXISTS \"%s\"", tables[w]);
                        PQclear(PQexec(conn, sql));
                }
        } else {
                fprintf(stderr, "it_verify: cleanup: %s", PQerrorMessage(conn));
        }
        PQfinish(conn);
        vcdc_url_destroy(u);
}

static int teardown(void **state) {
        int w, s;

        (void)state;
        for (w = BIG; w <= SMALL; w++)
                for (s = CHROMA; s <= PG; s++)
                        vcdc_sink_destroy(it.sink[w][s]);
        if (!it.chroma_host || !it.chroma_port || !it.pg_url)
                return 0;
        for (w = BIG; w <= SMALL; w++)
                drop_chroma(names[w]);
        drop_tables();
        return 0;
}

/* ---- Verification ------------------------------------------------------- */

static void verify(side_t old_side, size_t sample, size_t memory,
                   vcdc_verify_result_t *res) {
        vcdc_verify_opts_t opts = {
                .sample = sample, .memory = memory, .seed = 7};
        char errstr[1024];

        if (vcdc_verify(it.sink[BIG][old_side], it.sink[BIG][!old_side], &opts,
                        res, errstr, sizeof(errstr)) == -1)
                fail_msg("verify: %s", errstr);
}

/* Exactly these counts of each kind of difference. */
static void expect(const vcdc_verify_result_t *res, const char *what,
                   uint64_t missing, uint64_t extra, uint64_t vector,
                   uint64_t metadata, uint64_t document) {
        if (res->missing != missing || res->extra != extra ||
            res->vector_diff != vector || res->metadata_diff != metadata ||
            res->document_diff != document)
                fail_msg("%s: missing %llu, extra %llu, vector %llu, "
                         "metadata %llu, document %llu; expected %llu %llu "
                         "%llu %llu %llu",
                         what, (unsigned long long)res->missing,
                         (unsigned long long)res->extra,
                         (unsigned long long)res->vector_diff,
                         (unsigned long long)res->metadata_diff,
                         (unsigned long long)res->document_diff,
                         (unsigned long long)missing, (unsigned long long)extra,
                         (unsigned long long)vector,
                         (unsigned long long)metadata,
                         (unsigned long long)document);
}

static const char *side_name(side_t side) {
        return side == CHROMA ? "chroma" : "pgvector";
}

static void test_match(void **state) {
        vcdc_verify_result_t res;
        int old_side;

        (void)state;
        NEED_SERVERS();
        for (old_side = CHROMA; old_side <= PG; old_side++) {
                verify((side_t)old_side, 0, 0, &res);
                expect(&res, "identical", 0, 0, 0, 0, 0);
                assert_true(vcdc_verify_ok(&res));
                assert_int_equal(res.old_count, N);
                assert_int_equal(res.new_count, N);
                assert_int_equal(res.compared, N);
                assert_int_equal(res.passes, 1);
                fprintf(stderr,
                        "it_verify: OLD %s, NEW %s: %d records in %.2f s "
                        "(%.0f/s), %llu read again by id\n",
                        side_name((side_t)old_side),
                        side_name((side_t)!old_side), N, res.seconds,
                        N / res.seconds, (unsigned long long)res.fetched);
        }
        /* The smallest budget: several partitions, the same verdict. */
        verify(PG, 0, VCDC_VERIFY_MEMORY_MIN, &res);
        expect(&res, "identical, 64K", 0, 0, 0, 0, 0);
        assert_int_equal(res.compared, N);
        assert_int_equal(res.old_count, N);
        assert_true(res.passes >= 2);
        fprintf(stderr, "it_verify: 64K budget: %u passes\n", res.passes);
}

/* Each difference planted in NEW (each side in turn), then removed. */
static void test_planted(void **state) {
        vcdc_verify_result_t res;
        vcdc_record_t rec;
        char id[32];
        int new_side;

        (void)state;
        NEED_SERVERS();
        for (new_side = CHROMA; new_side <= PG; new_side++) {
                vcdc_sink_t *sink = it.sink[BIG][new_side];
                side_t old_side = (side_t)!new_side;

                fprintf(stderr, "it_verify: planting in %s\n",
                        side_name((side_t)new_side));
                /* Missing. */
                rec_id(id, sizeof(id), 42);
                delete_id(sink, id);
                verify(old_side, 0, 0, &res);
                expect(&res, "missing", 1, 0, 0, 0, 0);
                assert_string_equal(res.missing_ex[0], id);
                assert_int_equal(res.new_count, N - 1);
                assert_false(vcdc_verify_ok(&res));
                restore(sink, (side_t)new_side, 42);

                /* Extra. */
                make_rec(&rec, 42, (side_t)new_side);
                free(rec.id);
                rec.id = strdup("zz-extra");
                upsert_one(sink, &rec);
                verify(old_side, 0, 0, &res);
                expect(&res, "extra", 0, 1, 0, 0, 0);
                assert_string_equal(res.extra_ex[0], "zz-extra");
                assert_int_equal(res.new_count, N + 1);
                delete_id(sink, "zz-extra");

                /* A vector changed: 0.01 in one component. */
                make_rec(&rec, 100, (side_t)new_side);
                rec.vector[5] += 0.01f;
                upsert_one(sink, &rec);
                verify(old_side, 0, 0, &res);
                expect(&res, "vector", 0, 0, 1, 0, 0);
                rec_id(id, sizeof(id), 100);
                assert_string_equal(res.vector_ex[0], id);
                /* Float noise within the tolerance is no difference. */
                make_rec(&rec, 100, (side_t)new_side);
                rec.vector[5] = nextafterf(rec.vector[5], 2.0f);
                rec.vector[6] += 2e-7f;
                upsert_one(sink, &rec);
                verify(old_side, 0, 0, &res);
                expect(&res, "vector within tolerance", 0, 0, 0, 0, 0);
                restore(sink, (side_t)new_side, 100);

                /* Metadata changed. */
                make_rec(&rec, 200, (side_t)new_side);
                free(rec.metadata);
                rec.metadata = strdup("{\"i\":200,\"tag\":\"changed\","
                                      "\"score\":200.5,\"r\":7.5}");
                upsert_one(sink, &rec);
                verify(old_side, 0, 0, &res);
                expect(&res, "metadata", 0, 0, 0, 1, 0);
                rec_id(id, sizeof(id), 200);
                assert_string_equal(res.metadata_ex[0], id);
                restore(sink, (side_t)new_side, 200);

                /* Document changed. */
                make_rec(&rec, 300, (side_t)new_side);
                free(rec.document);
                rec.document = strdup("document number 300, edited");
                upsert_one(sink, &rec);
                verify(old_side, 0, 0, &res);
                expect(&res, "document", 0, 0, 0, 0, 1);
                rec_id(id, sizeof(id), 300);
                assert_string_equal(res.document_ex[0], id);
                restore(sink, (side_t)new_side, 300);

                verify(old_side, 0, 0, &res);
                expect(&res, "restored", 0, 0, 0, 0, 0);
        }
}

static void test_sample(void **state) {
        vcdc_verify_result_t res;
        vcdc_record_t rec;
        char id[32];

        (void)state;
        NEED_SERVERS();
        verify(CHROMA, 200, 0, &res);
        expect(&res, "sample, identical", 0, 0, 0, 0, 0);
        assert_int_equal(res.sampled, 200);
        assert_int_equal(res.compared, 200);
        assert_true(vcdc_verify_ok(&res));

        /* A sample that covers every id finds a missing record. */
        rec_id(id, sizeof(id), 1234);
        delete_id(it.sink[BIG][PG], id);
        verify(CHROMA, N + 100, 0, &res);
        assert_int_equal(res.sampled, N);
        expect(&res, "sample, missing", 1, 0, 0, 0, 0);
        assert_string_equal(res.missing_ex[0], id);
        assert_false(vcdc_verify_ok(&res));
        restore(it.sink[BIG][PG], PG, 1234);

        /* A sample cannot see an extra record, but the counts differ. */
        make_rec(&rec, 7, PG);
        free(rec.id);
        rec.id = strdup("zz-sample-extra");
        upsert_one(it.sink[BIG][PG], &rec);
        verify(CHROMA, 100, 0, &res);
        expect(&res, "sample, extra", 0, 0, 0, 0, 0);
        assert_int_equal(res.new_count, res.old_count + 1);
        assert_false(vcdc_verify_ok(&res));
        delete_id(it.sink[BIG][PG], "zz-sample-extra");
}

/* Runs a command with stdout in a file; returns the exit status and the
 * JSON it printed (or NULL). */
static int run_json(int (*cmd)(int, char **), const char *const *args,
                    json_t **jsonp) {
        char path[] = "/tmp/it_verify_out_XXXXXX", *argv[32];
        int fd, saved, rc, argc = 0;
        json_error_t jerr;

        while (args[argc] && argc < 31) {
                argv[argc] = (char *)args[argc];
                argc++;
        }
        argv[argc] = NULL;
        fd = mkstemp(path);
        assert_true(fd >= 0);
        fflush(stdout);
        saved = dup(1);
        dup2(fd, 1);
        rc = cmd(argc, argv);
        fflush(stdout);
        dup2(saved, 1);
        close(saved);
        close(fd);
        *jsonp = json_load_file(path, 0, &jerr);
        unlink(path);
        return rc;
}

static void test_cli(void **state) {
        const char *v[] = {"verify", "--old",         it.url[BIG][CHROMA],
                           "--new",  it.url[BIG][PG], "--json",
                           NULL};
        const char *vs[] = {"verify",
                            "--old",
                            it.url[BIG][PG],
                            "--new",
                            it.url[BIG][CHROMA],
                            "--sample",
                            "500",
                            "--seed",
                            "3",
                            "--json",
                            NULL};
        json_t *out;
        char id[32];

        (void)state;
        NEED_SERVERS();
        assert_int_equal(run_json(vcdc_cmd_verify, v, &out), 0);
        assert_non_null(out);
        assert_true(json_is_true(json_object_get(out, "ok")));
        assert_int_equal(json_integer_value(json_object_get(out, "old_count")),
                         N);
        assert_int_equal(json_integer_value(json_object_get(out, "compared")),
                         N);
        json_decref(out);

        rec_id(id, sizeof(id), 2999);
        delete_id(it.sink[BIG][PG], id);
        assert_int_equal(run_json(vcdc_cmd_verify, v, &out), 1);
        assert_non_null(out);
        assert_true(json_is_false(json_object_get(out, "ok")));
        assert_int_equal(json_integer_value(json_object_get(
                                 json_object_get(out, "missing"), "count")),
                         1);
        assert_string_equal(
                json_string_value(json_array_get(
                        json_object_get(json_object_get(out, "missing"),
                                        "examples"),
                        0)),
                id);
        json_decref(out);
        restore(it.sink[BIG][PG], PG, 2999);

        assert_int_equal(run_json(vcdc_cmd_verify, vs, &out), 0);
        assert_non_null(out);
        assert_string_equal(json_string_value(json_object_get(out, "mode")),
                            "sample");
        assert_int_equal(json_integer_value(json_object_get(out, "sampled")),
                         500);
        json_decref(out);
}

/*
 * A partition that outgrows the memory budget is split, and the verdict
 * stays the same. pgvector scans by id: the first page (which the plan
 * measures) holds short ids, the rest 300-byte ones, so the plan is too
 * small by far.
 */
static void test_split(void **state) {
        enum { SHORT = 1000, LONG = 1000 };
        vcdc_verify_opts_t opts = {.memory = VCDC_VERIFY_MEMORY_MIN};
        vcdc_record_t *recs;
        vcdc_verify_result_t res;
        char url[600], errstr[1024], id[400];
        vcdc_sink_t *sink;
        int i;

        (void)state;
        NEED_SERVERS();
        snprintf(url, sizeof(url), "%s%ctable=%s", it.pg_url,
                 strchr(it.pg_url, '?') ? '&' : '?', split_name);
        sink = vcdc_sink_new(url, NULL, errstr, sizeof(errstr));
        if (!sink)
                fail_msg("%s: %s", url, errstr);
        recs = calloc(SHORT + LONG, sizeof(*recs));
        assert_non_null(recs);
        for (i = 0; i < SHORT + LONG; i++) {
                make_rec(&recs[i], i, PG);
                if (i < SHORT)
                        snprintf(id, sizeof(id), "a%04d", i);
                else
                        snprintf(id, sizeof(id), "b%0300d", i);
                free(recs[i].id);
                recs[i].id = strdup(id);
        }
        upsert(sink, recs, SHORT + LONG);
        for (i = 0; i < SHORT + LONG; i++)
                vcdc_record_clear(&recs[i]);
        free(recs);
        if (vcdc_verify(sink, sink, &opts, &res, errstr, sizeof(errstr)) == -1)
                fail_msg("verify: %s", errstr);
        expect(&res, "split", 0, 0, 0, 0, 0);
        assert_int_equal(res.old_count, SHORT + LONG);
        assert_int_equal(res.new_count, SHORT + LONG);
        assert_int_equal(res.compared, SHORT + LONG);
        assert_int_equal(res.fetched, 0);
        /* Planned: 2 partitions; 300-byte ids need 8 or more. */
        assert_true(res.passes >= 8);
        fprintf(stderr, "it_verify: split: %u passes\n", res.passes);
        vcdc_sink_destroy(sink);
}

/* ---- Shadow reads ------------------------------------------------------- */

static void shadow(side_t old_side, side_t new_side, size_t sample,
                   const char *queries, vcdc_shadow_result_t *res) {
        vcdc_shadow_opts_t opts = {
                .k = 10, .sample = sample, .queries_path = queries, .seed = 11};
        char errstr[1024];

        if (vcdc_shadow(it.sink[SMALL][old_side], it.sink[SMALL][new_side],
                        &opts, res, errstr, sizeof(errstr)) == -1)
                fail_msg("shadow: %s", errstr);
        fprintf(stderr,
                "it_verify: shadow %s -> %s: %zu queries, overlap@10 mean "
                "%.4f min %.2f, rank agreement %.4f, p50 %.2f / %.2f ms, "
                "p99 %.2f / %.2f ms\n",
                side_name(old_side), side_name(new_side), res->queries,
                res->overlap_mean, res->overlap_min, res->rank_agreement,
                res->old_p50_ms, res->new_p50_ms, res->old_p99_ms,
                res->new_p99_ms);
}

/*
 * pgvector without an index answers exactly; Chroma's HNSW approximately.
 * With 300 records HNSW (ef 100) finds the true neighbours in practice
 * (at 3,000 random 128-d vectors it misses some: mean overlap ~0.98), so
 * the Chroma comparison asks for >= 0.99, and the exact pair for 1.
 */
static void test_shadow_same(void **state) {
        char path[] = "/tmp/it_verify_queries_XXXXXX";
        vcdc_shadow_result_t res;
        vcdc_record_t rec;
        FILE *fp;
        size_t k;
        int fd, i;

        (void)state;
        NEED_SERVERS();
        shadow(PG, PG, 100, NULL, &res);
        assert_int_equal(res.queries, 100);
        assert_true(res.overlap_mean == 1.0);
        assert_true(res.overlap_min == 1.0);
        assert_true(res.rank_agreement == 1.0);

        shadow(PG, CHROMA, 100, NULL, &res);
        assert_int_equal(res.queries, 100);
        assert_int_equal(res.k, 10);
        assert_true(res.overlap_mean >= 0.99);
        assert_true(res.rank_agreement >= 0.95);
        assert_true(res.old_p50_ms > 0 && res.new_p50_ms > 0);
        assert_true(res.old_p99_ms >= res.old_p50_ms);
        assert_true(res.new_p99_ms >= res.new_p50_ms);

        /* The same from a queries file: 20 of the records' vectors. */
        fd = mkstemp(path);
        assert_true(fd >= 0);
        fp = fdopen(fd, "w");
        assert_non_null(fp);
        for (i = 0; i < 20; i++) {
                make_rec(&rec, i * 15, PG);
                fprintf(fp, "{\"vector\": [");
                for (k = 0; k < DIM; k++)
                        fprintf(fp, "%s%.9g", k ? "," : "",
                                (double)rec.vector[k]);
                fprintf(fp, "]}\n");
                vcdc_record_clear(&rec);
        }
        fclose(fp);
        shadow(CHROMA, PG, 0, path, &res);
        unlink(path);
        assert_int_equal(res.queries, 20);
        assert_true(res.overlap_mean >= 0.99);
}

static void test_shadow_perturbed(void **state) {
        const char *cmd[] = {"shadow",
                             "--old",
                             it.url[SMALL][PG],
                             "--new",
                             it.url[SMALL][CHROMA],
                             "--sample",
                             "50",
                             "--min-overlap",
                             "0.9",
                             "--json",
                             NULL};
        vcdc_shadow_result_t same, res;
        vcdc_verify_result_t vres;
        vcdc_verify_opts_t vopts = {0};
        vcdc_record_t *recs;
        char errstr[512];
        uint64_t x = 99;
        json_t *out;
        size_t k;
        int i;

        (void)state;
        NEED_SERVERS();
        shadow(PG, CHROMA, 100, NULL, &same);
        /* NEW's vectors moved by noise as large as the values. */
        recs = calloc(N_SMALL, sizeof(*recs));
        assert_non_null(recs);
        for (i = 0; i < N_SMALL; i++) {
                make_rec(&recs[i], i, CHROMA);
                for (k = 0; k < DIM; k++)
                        recs[i].vector[k] +=
                                (float)((double)(splitmix(&x) >> 11) /
                                                9007199254740992.0 * 1.6 -
                                        0.8);
        }
        upsert(it.sink[SMALL][CHROMA], recs, N_SMALL);
        for (i = 0; i < N_SMALL; i++)
                vcdc_record_clear(&recs[i]);
        free(recs);
        shadow(PG, CHROMA, 100, NULL, &res);
        assert_true(res.overlap_mean < 0.7);
        assert_true(res.overlap_mean < same.overlap_mean - 0.3);
        assert_true(res.rank_agreement < same.rank_agreement);

        /* The command exits 1 below --min-overlap. */
        assert_int_equal(run_json(vcdc_cmd_shadow, cmd, &out), 1);
        assert_non_null(out);
        assert_true(json_is_false(json_object_get(out, "ok")));
        assert_true(json_real_value(json_object_get(out, "overlap_mean")) <
                    0.9);
        json_decref(out);

        /* And verification sees every vector changed, nothing else. */
        if (vcdc_verify(it.sink[SMALL][PG], it.sink[SMALL][CHROMA], &vopts,
                        &vres, errstr, sizeof(errstr)) == -1)
                fail_msg("verify: %s", errstr);
        expect(&vres, "perturbed", 0, 0, N_SMALL, 0, 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_match),
                cmocka_unit_test(test_planted),
                cmocka_unit_test(test_sample),
                cmocka_unit_test(test_cli),
                cmocka_unit_test(test_split),
                cmocka_unit_test(test_shadow_same),
                cmocka_unit_test(test_shadow_perturbed),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
