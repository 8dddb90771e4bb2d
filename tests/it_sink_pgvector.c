/*
 * vcdc - integration test: the pgvector sink against a real server
 * (PostgreSQL with pgvector): bulk writes and reads, a batch applied
 * whole or not at all, the two halves of apply, the prepared upsert, and
 * the tables it refuses. The server going away is it_sink_pg_outage.c's.
 *
 * Environment (it_pg.h): VCDC_PG_CONNINFO or VCDC_PGVECTOR_URL,
 * VCDC_PG_PASSWORD; VCDC_IT_PG_VECTORS, the vectors of the bulk test
 * (2500). Skips (exit 0, saying so) without a server.
 *
 * Checks the database's end state: through the sink and, independently,
 * through plain libpq queries. Tables are named it_pgv_<pid>_* and dropped
 * at both ends.
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

#include <jansson.h>
#include <libpq-fe.h>

#include "it_pg.h"
#include "sink.h"
#include "sink_pgvector_int.h"

#define DIM   128
#define BATCH 500

/*
 * Fixture
 */
static struct {
        size_t n;          /* vectors in the bulk test */
        int *variant;      /* per id: the version stored, -1 deleted */
        double apply_rate; /* vectors/s */
} it;

/* a bulk, b atomicity, d never created, e refusals, f and g made by
 * hand, h applied in two halves, i prepared upserts. */
static char table_a[64], table_b[64], table_d[64], table_e[64], table_f[64],
        table_g[64], table_h[64], table_i[64];

/* The sink URL for table, with extra ("&k=v") appended. */
static void sink_url(char *buf, size_t size, const char *table,
                     const char *extra) {
        size_t len;

        itpg_url(buf, size, table, NULL, 0);
        len = strlen(buf);
        if (extra)
                snprintf(buf + len, size - len, "%s", extra);
}

static int setup(void **state) {
        const char *n = getenv("VCDC_IT_PG_VECTORS");

        (void)state;
        itpg_table(table_a, sizeof(table_a), "pgv", "a");
        itpg_table(table_b, sizeof(table_b), "pgv", "b");
        itpg_table(table_d, sizeof(table_d), "pgv", "d");
        itpg_table(table_e, sizeof(table_e), "pgv", "e");
        itpg_table(table_f, sizeof(table_f), "pgv", "f");
        itpg_table(table_g, sizeof(table_g), "pgv", "g");
        itpg_table(table_h, sizeof(table_h), "pgv", "h");
        itpg_table(table_i, sizeof(table_i), "pgv", "i");
        it.n = n ? (size_t)strtoul(n, NULL, 10) : 2500;
        if (it.n < 1100)
                it.n = 1100;
        it.variant = calloc(it.n, sizeof(*it.variant));
        return itpg_setup();
}

static int teardown(void **state) {
        (void)state;
        itpg_teardown();
        free(it.variant);
        if (it.apply_rate > 0)
                printf("pgvector apply rate: %.0f vectors/s (%zu-d, batches "
                       "of %d)\n",
                       it.apply_rate, (size_t)DIM, BATCH);
        return 0;
}

/*
 * Records
 */

static uint32_t mix(uint32_t x) {
        x ^= x >> 16;
        x *= 0x7feb352du;
        x ^= x >> 15;
        x *= 0x846ca68bu;
        x ^= x >> 16;
        return x;
}

/* The record for id number i in version variant. Every 97th holds extreme
 * floats; some have no metadata or no document. */
static void make_record(vcdc_record_t *rec, size_t i, int variant) {
        static const float extremes[] = {
                1.40129846e-45f,  -0.0f, 3.40282347e38f,
                -1.17549435e-38f, 0.1f,  1e-10f};
        char buf[256];
        size_t d;

        vcdc_record_init(rec);
        snprintf(buf, sizeof(buf), "id-%06zu", i);
        rec->id = strdup(buf);
        rec->op = VCDC_OP_UPSERT;
        rec->dim = DIM;
        rec->vector = malloc(DIM * sizeof(float));
        for (d = 0; d < DIM; d++) {
                uint32_t r = mix((uint32_t)(i * 7919 + d * 31 +
                                            (size_t)variant * 1000003));
                rec->vector[d] = (float)((double)r / 4294967296.0 * 2 - 1);
        }
        if (i % 97 == 0)
                for (d = 0; d < sizeof(extremes) / sizeof(*extremes); d++)
                        rec->vector[d] = extremes[d];
        if ((i + (size_t)variant) % 7) {
                snprintf(buf, sizeof(buf),
                         "{\"variant\": %d, \"i\": %zu, \"tags\": [\"a\", "
                         "\"b\"], \"score\": %zu.5, \"nested\": {\"z\": "
                         "null, \"a\": true}, \"text\": \"x \\\"q\\\" "
                         "\\u00e9\"}",
                         variant, i, i % 10);
                rec->metadata = strdup(buf);
        }
        if ((i + (size_t)variant) % 5) {
                snprintf(buf, sizeof(buf),
                         "document %zu, version %d: caf\xc3\xa9", i, variant);
                rec->document = strdup(buf);
        }
}

static void json_same(const char *got, const char *want, const char *id) {
        json_t *g, *w;

        if (!got || !want) {
                if (got || want)
                        fail_msg("%s: metadata %s, expected %s", id,
                                 got ? got : "NULL", want ? want : "NULL");
                return;
        }
        g = json_loads(got, 0, NULL);
        w = json_loads(want, 0, NULL);
        if (!g || !w || !json_equal(g, w))
                fail_msg("%s: metadata %s, expected %s", id, got, want);
        json_decref(g);
        json_decref(w);
}

static void record_same(const vcdc_record_t *got, const vcdc_record_t *want) {
        assert_non_null(got->id);
        assert_string_equal(got->id, want->id);
        assert_int_equal(got->dim, want->dim);
        if (memcmp(got->vector, want->vector, want->dim * sizeof(float)))
                fail_msg("%s: vector differs", want->id);
        json_same(got->metadata, want->metadata, want->id);
        if (want->document)
                assert_string_equal(got->document, want->document);
        else
                assert_null(got->document);
}

/* Applies upserts of ids [from, to) in version variant plus deletes of
 * del[0..del_cnt), in batches of BATCH, recording offsets for
 * partitions 0 and 1 as (*offset)++ per record. */
static void apply_range(vcdc_sink_t *sink, size_t from, size_t to, int variant,
                        int64_t *offset) {
        vcdc_record_t *recs = calloc(BATCH, sizeof(*recs));
        const vcdc_record_t **ptrs = calloc(BATCH, sizeof(*ptrs));
        char errstr[512];
        size_t i, cnt;

        for (i = from; i < to; i += cnt) {
                vcdc_sink_offset_t offs[2];
                vcdc_sink_batch_t batch = {0};
                vcdc_sink_status_t st;
                size_t j;

                cnt = to - i < BATCH ? to - i : BATCH;
                for (j = 0; j < cnt; j++) {
                        make_record(&recs[j], i + j, variant);
                        ptrs[j] = &recs[j];
                        it.variant[i + j] = variant;
                }
                *offset += (int64_t)cnt;
                offs[0].partition = 0;
                offs[0].offset = *offset;
                offs[1].partition = 1;
                offs[1].offset = *offset / 2;
                batch.upserts = ptrs;
                batch.upsert_cnt = cnt;
                batch.topic = ITPG_TOPIC;
                batch.offsets = offs;
                batch.offset_cnt = 2;
                st = vcdc_sink_apply(sink, &batch, errstr, sizeof(errstr));
                if (st != VCDC_SINK_OK)
                        fail_msg("apply: %s: %s", vcdc_sink_status_name(st),
                                 errstr);
                for (j = 0; j < cnt; j++)
                        vcdc_record_clear(&recs[j]);
        }
        free(ptrs);
        free(recs);
}

static void apply_deletes(vcdc_sink_t *sink, size_t from, size_t to,
                          int64_t *offset) {
        char **ids = calloc(to - from, sizeof(*ids)), buf[32], errstr[512];
        vcdc_sink_offset_t offs = {.partition = 0};
        vcdc_sink_batch_t batch = {0};
        vcdc_sink_status_t st;
        size_t i;

        for (i = from; i < to; i++) {
                snprintf(buf, sizeof(buf), "id-%06zu", i);
                ids[i - from] = strdup(buf);
                it.variant[i] = -1;
        }
        *offset += (int64_t)(to - from);
        offs.offset = *offset;
        batch.delete_ids = (const char *const *)ids;
        batch.delete_cnt = to - from;
        batch.topic = ITPG_TOPIC;
        batch.offsets = &offs;
        batch.offset_cnt = 1;
        st = vcdc_sink_apply(sink, &batch, errstr, sizeof(errstr));
        if (st != VCDC_SINK_OK)
                fail_msg("delete: %s: %s", vcdc_sink_status_name(st), errstr);
        for (i = 0; i < to - from; i++)
                free(ids[i]);
        free(ids);
}

/* Every id 0..n through get(): present ones equal their version, deleted
 * ones missing. Returns how many are present. */
static size_t verify_all(vcdc_sink_t *sink) {
        enum { CHUNK = 300 };
        vcdc_record_t out[CHUNK], want;
        char *ids[CHUNK], buf[32], errstr[512];
        size_t i, j, cnt, present = 0;
        vcdc_sink_status_t st;

        for (i = 0; i < it.n; i += cnt) {
                cnt = it.n - i < CHUNK ? it.n - i : CHUNK;
                for (j = 0; j < cnt; j++) {
                        snprintf(buf, sizeof(buf), "id-%06zu", i + j);
                        ids[j] = strdup(buf);
                        vcdc_record_init(&out[j]);
                }
                st = vcdc_sink_get(sink, (const char *const *)ids, cnt, out,
                                   errstr, sizeof(errstr));
                if (st != VCDC_SINK_OK)
                        fail_msg("get: %s", errstr);
                for (j = 0; j < cnt; j++) {
                        if (it.variant[i + j] < 0) {
                                if (out[j].id)
                                        fail_msg("%s: deleted, yet found",
                                                 ids[j]);
                        } else {
                                make_record(&want, i + j, it.variant[i + j]);
                                record_same(&out[j], &want);
                                vcdc_record_clear(&want);
                                present++;
                        }
                        vcdc_record_clear(&out[j]);
                        free(ids[j]);
                }
        }
        return present;
}

/*
 * Tests
 */

/* Bulk upserts, deletes, re-upserts; count, get, scan, query, offsets. */
static void test_bulk(void **state) {
        vcdc_sink_t *sink;
        int64_t offset = 0;
        uint64_t expect;
        char q[256], *v;
        double t0;
        size_t i;

        (void)state;
        sink = itpg_open_conf(table_a, 0, VCDC_METRIC_COSINE, 0, 30000);
        assert_int_equal(vcdc_sink_dim(sink), 0); /* no table yet */
        assert_int_equal(its_count(sink), 0);
        assert_int_equal(vcdc_sink_max_batch(sink) >= BATCH, 1);

        t0 = it_now();
        apply_range(sink, 0, it.n, 0, &offset);
        it.apply_rate = (double)it.n / (it_now() - t0);
        assert_int_equal(vcdc_sink_dim(sink), DIM);
        assert_int_equal(its_count(sink), it.n);
        assert_int_equal(its_offset(sink, ITPG_TOPIC, 0, NULL), offset);
        assert_int_equal(its_offset(sink, ITPG_TOPIC, 1, NULL), offset / 2);
        assert_int_equal(verify_all(sink), it.n);

        /* Delete the first 500, re-upsert 0..99 and change 1000..1099. */
        apply_deletes(sink, 0, 500, &offset);
        assert_int_equal(its_count(sink), it.n - 500);
        assert_int_equal(its_offset(sink, ITPG_TOPIC, 0, NULL), offset);
        apply_range(sink, 0, 100, 1, &offset);
        apply_range(sink, 1000, 1100, 2, &offset);
        expect = it.n - 400;
        assert_int_equal(its_count(sink), expect);
        assert_int_equal(verify_all(sink), expect);
        assert_int_equal(its_offset(sink, ITPG_TOPIC, 0, NULL), offset);

        /* The same, seen without the sink. */
        snprintf(q, sizeof(q), "SELECT count(*) FROM \"%s\"", table_a);
        v = itpg_value("%s", q);
        assert_int_equal(strtoull(v, NULL, 10), expect);
        free(v);
        snprintf(q, sizeof(q),
                 "SELECT dim || ' ' || metric FROM vcdc_targets "
                 "WHERE table_name = '%s'",
                 table_a);
        v = itpg_value("%s", q);
        assert_string_equal(v, "128 cosine");
        free(v);
        snprintf(q, sizeof(q),
                 "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
                 "WHERE attrelid = '\"%s\"'::regclass AND attname = "
                 "'embedding'",
                 table_a);
        v = itpg_value("%s", q);
        assert_string_equal(v, "vector(128)");
        free(v);
        snprintf(q, sizeof(q),
                 "SELECT \"offset\" FROM vcdc_offsets WHERE table_name = '%s' "
                 "AND topic = 'it.topic' AND partition = 0",
                 table_a);
        v = itpg_value("%s", q);
        assert_int_equal(strtoll(v, NULL, 10), offset);
        free(v);
        /* The floats as the server holds them, read as real[] and parsed
         * here: extreme values (denormal, -0, FLT_MAX) kept bit for bit. */
        snprintf(q, sizeof(q),
                 "SELECT embedding::real[]::text FROM \"%s\" "
                 "WHERE id = 'id-000097'",
                 table_a);
        v = itpg_value("%s", q);
        {
                vcdc_record_t want;
                const char *p = v + 1;
                char *end;
                size_t d = 0;

                make_record(&want, 97, it.variant[97]);
                assert_int_equal(v[0], '{');
                for (d = 0; d < DIM; d++) {
                        float f = strtof(p, &end);
                        assert_true(end != p);
                        if (memcmp(&f, &want.vector[d], sizeof(f)))
                                fail_msg("component %zu: server has %.9g, "
                                         "sent %.9g",
                                         d, (double)f, (double)want.vector[d]);
                        p = end + 1;
                }
                assert_string_equal(end, "}");
                vcdc_record_clear(&want);
        }
        free(v);

        /* A full scan in pages, in id order, with and without vectors. */
        {
                vcdc_record_t out[333], want;
                char *cursor = NULL, last[32] = "", errstr[512];
                size_t cnt, seen = 0, pages = 0;
                int with_vectors;

                for (with_vectors = 1; with_vectors >= 0; with_vectors--) {
                        seen = pages = 0;
                        last[0] = '\0';
                        do {
                                for (i = 0; i < 333; i++)
                                        vcdc_record_init(&out[i]);
                                if (vcdc_sink_scan(sink, &cursor, 333,
                                                   with_vectors, out, &cnt,
                                                   errstr, sizeof(errstr)))
                                        fail_msg("scan: %s", errstr);
                                pages++;
                                for (i = 0; i < cnt; i++) {
                                        size_t n = strtoul(out[i].id + 3, NULL,
                                                           10);
                                        assert_true(strcmp(out[i].id, last) >
                                                    0);
                                        snprintf(last, sizeof(last), "%s",
                                                 out[i].id);
                                        assert_true(it.variant[n] >= 0);
                                        make_record(&want, n, it.variant[n]);
                                        if (with_vectors) {
                                                record_same(&out[i], &want);
                                        } else {
                                                assert_null(out[i].vector);
                                                json_same(out[i].metadata,
                                                          want.metadata,
                                                          want.id);
                                        }
                                        vcdc_record_clear(&want);
                                        vcdc_record_clear(&out[i]);
                                }
                                seen += cnt;
                        } while (cursor);
                        assert_int_equal(seen, expect);
                        assert_true(pages >= expect / 333);
                }
        }

        /* Each vector is its own nearest neighbour. */
        for (i = 501; i < it.n; i += 211) {
                vcdc_record_t want;
                vcdc_hit_t hits[5];
                char errstr[512];
                size_t cnt, h;

                if (i % 97 == 0)
                        continue; /* extreme floats overflow the distance */
                make_record(&want, i, it.variant[i]);
                if (vcdc_sink_query(sink, want.vector, DIM, 5, hits, &cnt,
                                    errstr, sizeof(errstr)))
                        fail_msg("query: %s", errstr);
                assert_int_equal(cnt, 5);
                assert_string_equal(hits[0].id, want.id);
                assert_true(fabs(hits[0].distance) < 1e-6);
                for (h = 0; h < cnt; h++) {
                        if (h > 0)
                                assert_true(hits[h].distance >=
                                            hits[h - 1].distance);
                        free(hits[h].id);
                }
                vcdc_record_clear(&want);
        }
        vcdc_sink_destroy(sink);
}

static void make_records(vcdc_record_t *recs, size_t from, size_t cnt,
                         int variant) {
        size_t i;

        for (i = 0; i < cnt; i++)
                make_record(&recs[i], from + i, variant);
}

/* A failed batch applies nothing, offsets included: one transaction. */
/* Applies records 0-9 with offset 10, then has records 10-29 with dels
 * refused by the database for one record's JSON: none of them, the
 * deletes or the offset 999 land. Leaves recs[0..20) made. */
static void ten_then_refused(vcdc_sink_t *sink, vcdc_record_t *recs,
                             const char *const *dels, size_t del_cnt) {
        char errstr[512];
        vcdc_sink_status_t st;

        make_records(recs, 0, 10, 0);
        st = itpg_apply_at(sink, recs, 10, NULL, 0, 10, errstr, sizeof(errstr));
        assert_int_equal(st, VCDC_SINK_OK);
        itpg_clear(recs, 10);

        make_records(recs, 10, 20, 0);
        free(recs[13].metadata);
        recs[13].metadata = strdup("{bad json");
        st = itpg_apply_at(sink, recs, 20, dels, del_cnt, 999, errstr,
                           sizeof(errstr));
        assert_int_equal(st, VCDC_SINK_INVALID);
        assert_non_null(strstr(errstr, "SQLSTATE 22P02"));
        assert_int_equal(its_count(sink), 10);
        assert_int_equal(its_offset(sink, ITPG_TOPIC, 0, NULL), 10);
}

static void test_atomic(void **state) {
        vcdc_record_t recs[20];
        const char *dels[] = {"id-000001", "id-000002"};
        char errstr[512];
        vcdc_sink_t *sink;
        vcdc_hit_t hits[3];
        size_t cnt;
        vcdc_sink_status_t st;

        (void)state;
        sink = itpg_open_conf(table_b, 0, VCDC_METRIC_L2, 0, 30000);
        /* The database refuses one record's JSON: 20 upserts, 2 deletes and
         * the offset all stay out. */
        ten_then_refused(sink, recs, dels, 2);

        /* Wrong dimension and NaN are refused before the database. */
        recs[13].dim = 64;
        st = itpg_apply_at(sink, recs, 20, NULL, 0, 999, errstr,
                           sizeof(errstr));
        assert_int_equal(st, VCDC_SINK_INVALID);
        assert_non_null(strstr(errstr, "dimension 64"));
        assert_int_equal(
                vcdc_sink_check(sink, &recs[13], errstr, sizeof(errstr)),
                VCDC_SINK_INVALID);
        recs[13].dim = DIM;
        recs[13].vector[5] = NAN;
        st = itpg_apply_at(sink, recs, 20, NULL, 0, 999, errstr,
                           sizeof(errstr));
        assert_int_equal(st, VCDC_SINK_INVALID);
        assert_non_null(strstr(errstr, "NaN"));
        assert_int_equal(
                vcdc_sink_check(sink, &recs[13], errstr, sizeof(errstr)),
                VCDC_SINK_INVALID);

        /* jsonb takes an array; check() refuses it as metadata. */
        recs[13].vector[5] = 0.5f;
        free(recs[13].metadata);
        recs[13].metadata = strdup("[1,2]");
        assert_int_equal(
                vcdc_sink_check(sink, &recs[13], errstr, sizeof(errstr)),
                VCDC_SINK_INVALID);
        assert_int_equal(
                vcdc_sink_check(sink, &recs[12], errstr, sizeof(errstr)),
                VCDC_SINK_OK);
        st = itpg_apply_at(sink, recs, 20, dels, 2, 30, errstr, sizeof(errstr));
        assert_int_equal(st, VCDC_SINK_OK);
        assert_int_equal(its_count(sink), 28);
        assert_int_equal(its_offset(sink, ITPG_TOPIC, 0, NULL), 30);

        /* l2: the nearest is the vector itself at distance 0. */
        st = vcdc_sink_query(sink, recs[5].vector, DIM, 3, hits, &cnt, errstr,
                             sizeof(errstr));
        assert_int_equal(st, VCDC_SINK_OK);
        assert_int_equal(cnt, 3);
        assert_string_equal(hits[0].id, recs[5].id);
        assert_true(hits[0].distance == 0);
        while (cnt-- > 0)
                free(hits[cnt].id);
        st = vcdc_sink_query(sink, recs[5].vector, 64, 3, hits, &cnt, errstr,
                             sizeof(errstr));
        assert_int_equal(st, VCDC_SINK_INVALID);
        itpg_clear(recs, 20);
        vcdc_sink_destroy(sink);

        /* Deletes and offsets on a table that does not exist yet: no table
         * is created, and the offsets, which belong to a table instance,
         * read back as none while there is none. */
        sink = itpg_open_conf(table_d, 0, VCDC_METRIC_COSINE, 0, 30000);
        st = itpg_apply_at(sink, NULL, 0, dels, 2, 5, errstr, sizeof(errstr));
        assert_int_equal(st, VCDC_SINK_OK);
        assert_int_equal(its_offset(sink, ITPG_TOPIC, 0, NULL), -1);
        assert_int_equal(its_count(sink), 0);
        assert_false(itpg_exists(table_d));
        vcdc_sink_destroy(sink);

        /* A missing table is created with the batch's dimension: a batch of
         * mixed dimensions is refused, and creates nothing. */
        sink = itpg_open_conf(table_d, 0, VCDC_METRIC_COSINE, 0, 30000);
        make_records(recs, 0, 2, 0);
        recs[1].dim = 64;
        st = itpg_apply_at(sink, recs, 2, NULL, 0, -1, errstr, sizeof(errstr));
        assert_int_equal(st, VCDC_SINK_INVALID);
        assert_false(itpg_exists(table_d));
        itpg_clear(recs, 2);
        vcdc_sink_destroy(sink);
}

/*
 * A batch in two halves: apply_send() returns before the answer, which
 * apply_wait() reads; the database's refusal comes from the wait and rolls
 * the batch back; the batch that creates the table is applied by the send.
 */
static void test_apart(void **state) {
        vcdc_record_t recs[20];
        const char *dels[] = {"id-000001"};
        char errstr[512];
        vcdc_sink_t *sink;
        vcdc_sink_status_t st;

        (void)state;
        itpg.apply_apart = 1;
        sink = itpg_open_conf(table_h, 0, VCDC_METRIC_COSINE, 0, 30000);
        assert_true(vcdc_sink_can_send(sink));
        ten_then_refused(sink, recs, dels, 1);
        assert_true(itpg_exists(table_h));

        free(recs[13].metadata);
        recs[13].metadata = strdup("{\"ok\":true}");
        st = itpg_apply_at(sink, recs, 20, dels, 1, 30, errstr, sizeof(errstr));
        assert_int_equal(st, VCDC_SINK_OK);
        assert_int_equal(its_count(sink), 29);
        assert_int_equal(its_offset(sink, ITPG_TOPIC, 0, NULL), 30);
        itpg_clear(recs, 20);
        vcdc_sink_destroy(sink);
        itpg.apply_apart = 0;
}

/* Applies recs[0..cnt) with offset; asserts the status wanted. */
static void apply_want(vcdc_sink_t *sink, vcdc_record_t *recs, size_t cnt,
                       int64_t offset, vcdc_sink_status_t want) {
        char errstr[512];
        vcdc_sink_status_t st;

        st = itpg_apply_at(sink, recs, cnt, NULL, 0, offset, errstr,
                           sizeof(errstr));
        if (st != want)
                fail_msg("apply: %s, want %s: %s", vcdc_sink_status_name(st),
                         vcdc_sink_status_name(want), errstr);
}

/*
 * A full chunk goes as a statement prepared once per connection, kept
 * through a rolled-back batch. The statement lives in the sink's own
 * session, which no other connection can look into (pg_prepared_statements
 * shows a session its own), so the sink's answers are the evidence: had
 * the rollback lost the statement, the fixed batch would fail as
 * retriable (SQLSTATE 26000) instead of applying.
 */
static void test_prepared(void **state) {
        enum { N = VCDC_PGVECTOR_CHUNK_ROWS };
        vcdc_record_t *recs = calloc(N, sizeof(*recs));
        vcdc_sink_t *sink;

        (void)state;
        itpg.apply_apart = 1;
        sink = itpg_open_conf(table_i, 0, VCDC_METRIC_COSINE, 0, 30000);
        /* The batch that creates the table, statement by statement, then
         * one pipelined: the same statement serves both. */
        make_records(recs, 0, N, 0);
        apply_want(sink, recs, N, N, VCDC_SINK_OK);
        itpg_clear(recs, N);
        make_records(recs, N, N, 0);
        apply_want(sink, recs, N, 2 * N, VCDC_SINK_OK);
        itpg_clear(recs, N);

        /* The database refuses one record of a full chunk: the batch rolls
         * back, the statement stays and serves the batch fixed. */
        make_records(recs, 2 * N, N, 0);
        free(recs[7].metadata);
        recs[7].metadata = strdup("{bad json");
        apply_want(sink, recs, N, 3 * N, VCDC_SINK_INVALID);
        assert_int_equal(its_count(sink), 2 * N);
        free(recs[7].metadata);
        recs[7].metadata = strdup("{\"fixed\":1}");
        apply_want(sink, recs, N, 3 * N, VCDC_SINK_OK);
        assert_int_equal(its_count(sink), 3 * N);
        itpg_clear(recs, N);
        make_records(recs, 3 * N, N, 1);
        apply_want(sink, recs, N, 4 * N, VCDC_SINK_OK);
        assert_int_equal(its_count(sink), 4 * N);
        assert_int_equal(its_offset(sink, ITPG_TOPIC, 0, NULL), 4 * N);
        itpg_clear(recs, N);
        vcdc_sink_destroy(sink);

        /* A new connection prepares its own. */
        sink = itpg_open_conf(table_i, 0, VCDC_METRIC_COSINE, 0, 30000);
        make_records(recs, 0, N, 2);
        apply_want(sink, recs, N, 5 * N, VCDC_SINK_OK);
        itpg_clear(recs, N);
        assert_int_equal(its_count(sink), 4 * N);
        assert_int_equal(its_offset(sink, ITPG_TOPIC, 0, NULL), 5 * N);
        vcdc_sink_destroy(sink);
        free(recs);
        itpg.apply_apart = 0;
}

/* An existing table with another metric or dimension is refused. */
static void test_refuse(void **state) {
        vcdc_sink_conf_t conf = {.metric = VCDC_METRIC_COSINE};
        char url[1024], errstr[512], q[256];
        vcdc_sink_t *sink, *other, *wrong;
        vcdc_record_t rec;

        (void)state;
        /* Two more sinks open before the table exists; the first apply
         * creates it (ip, 128). */
        other = itpg_open_conf(table_e, 0, VCDC_METRIC_IP, 0, 30000);
        wrong = itpg_open_conf(table_e, 0, VCDC_METRIC_COSINE, 0, 30000);
        sink = itpg_open_conf(table_e, 0, VCDC_METRIC_IP, 0, 30000);
        make_record(&rec, 1, 0);
        assert_int_equal(itpg_apply_at(sink, &rec, 1, NULL, 0, -1, errstr,
                                       sizeof(errstr)),
                         VCDC_SINK_OK);
        vcdc_record_clear(&rec);
        vcdc_sink_destroy(sink);
        /* They find it at their next call: the same metric goes on, the
         * other one is refused. */
        make_record(&rec, 2, 0);
        assert_int_equal(itpg_apply_at(other, &rec, 1, NULL, 0, -1, errstr,
                                       sizeof(errstr)),
                         VCDC_SINK_OK);
        assert_int_equal(vcdc_sink_dim(other), DIM);
        assert_int_equal(its_count(other), 2);
        assert_int_equal(itpg_apply_at(wrong, &rec, 1, NULL, 0, -1, errstr,
                                       sizeof(errstr)),
                         VCDC_SINK_FATAL);
        assert_non_null(strstr(errstr, "has metric ip"));
        vcdc_record_clear(&rec);
        vcdc_sink_destroy(other);
        vcdc_sink_destroy(wrong);

        sink_url(url, sizeof(url), table_e, NULL);
        assert_null(vcdc_sink_new(url, &conf, errstr, sizeof(errstr)));
        assert_non_null(strstr(errstr, "has metric ip"));
        assert_non_null(strstr(errstr, "configured for cosine"));
        conf.metric = VCDC_METRIC_IP;
        conf.dim = 64;
        assert_null(vcdc_sink_new(url, &conf, errstr, sizeof(errstr)));
        assert_non_null(strstr(errstr, "has dimension 128"));
        conf.dim = 128;
        sink = vcdc_sink_new(url, &conf, errstr, sizeof(errstr));
        assert_non_null(sink);
        assert_int_equal(vcdc_sink_dim(sink), 128);
        vcdc_sink_destroy(sink);
        /* The metric from the URL alone. */
        sink_url(url, sizeof(url), table_e, "&metric=ip");
        sink = vcdc_sink_new(url, NULL, errstr, sizeof(errstr));
        assert_non_null(sink);
        vcdc_sink_destroy(sink);
        sink_url(url, sizeof(url), table_e, "&metric=l2");
        assert_null(vcdc_sink_new(url, NULL, errstr, sizeof(errstr)));
        assert_non_null(strstr(errstr, "metric ip"));

        /* A table vcdc cannot write. */
        snprintf(q, sizeof(q),
                 "CREATE TABLE \"%s\" (id int PRIMARY KEY, "
                 "embedding vector(3))",
                 table_f);
        PQclear(itpg_sql(itpg.conn, "%s", q));
        sink_url(url, sizeof(url), table_f, NULL);
        assert_null(vcdc_sink_new(url, NULL, errstr, sizeof(errstr)));
        assert_non_null(strstr(errstr, "column id is of type int4"));

        /* A table made by hand with the right columns: its dimension comes
         * from the column type, the metric is taken as configured. */
        snprintf(q, sizeof(q),
                 "CREATE TABLE \"%s\" (id text PRIMARY KEY, embedding "
                 "vector(16) NOT NULL, metadata jsonb, document text)",
                 table_g);
        PQclear(itpg_sql(itpg.conn, "%s", q));
        sink_url(url, sizeof(url), table_g, NULL);
        conf.metric = VCDC_METRIC_L2;
        conf.dim = 8;
        assert_null(vcdc_sink_new(url, &conf, errstr, sizeof(errstr)));
        assert_non_null(strstr(errstr, "has dimension 16"));
        conf.dim = 0;
        sink = vcdc_sink_new(url, &conf, errstr, sizeof(errstr));
        assert_non_null(sink);
        assert_int_equal(vcdc_sink_dim(sink), 16);
        make_record(&rec, 1, 0);
        rec.dim = 16;
        assert_int_equal(itpg_apply_at(sink, &rec, 1, NULL, 0, -1, errstr,
                                       sizeof(errstr)),
                         VCDC_SINK_OK);
        rec.dim = 8;
        assert_int_equal(vcdc_sink_check(sink, &rec, errstr, sizeof(errstr)),
                         VCDC_SINK_INVALID);
        assert_int_equal(itpg_apply_at(sink, &rec, 1, NULL, 0, -1, errstr,
                                       sizeof(errstr)),
                         VCDC_SINK_INVALID);
        vcdc_record_clear(&rec);
        assert_int_equal(its_count(sink), 1);
        vcdc_sink_destroy(sink);
}

/* Ends, from outside, the backend of sink, whose last statement read
 * table (count()): a name of this run, so no other test's sink is hit. */
static void end_sink_backend(vcdc_sink_t *sink, const char *table) {
        assert_true(its_count(sink) > 0);
        assert_int_equal(itpg_int(itpg.conn,
                                  "SELECT count(pg_terminate_backend(pid)) "
                                  "FROM pg_stat_activity WHERE "
                                  "application_name = 'vcdc' AND "
                                  "strpos(query, '%s') > 0",
                                  table),
                         1);
}

/*
 * The COPY path's staging table belongs to the connection: a batch after
 * a reconnect makes it again, a batch the database refuses leaves it for
 * the next one, and one on a connection that lost it mid-way is
 * RETRIABLE, applies nothing, and the retry goes through.
 */
static void test_copy_stage(void **state) {
        enum { N = 40 };
        vcdc_record_t recs[N];
        char url[1024], errstr[512], saved[sizeof(itpg.copy)];
        vcdc_sink_t *sink;
        vcdc_sink_status_t st;

        (void)state;
        snprintf(saved, sizeof(saved), "%s", itpg.copy);
        snprintf(itpg.copy, sizeof(itpg.copy), "always");
        sink_url(url, sizeof(url), table_i, NULL);
        snprintf(itpg.copy, sizeof(itpg.copy), "%s", saved);
        PQclear(itpg_sql(itpg.conn, "DROP TABLE IF EXISTS \"%s\"", table_i));
        sink = vcdc_sink_new(url, NULL, errstr, sizeof(errstr));
        assert_non_null(sink);
        make_records(recs, 0, N, 0);
        apply_want(sink, recs, N, 1, VCDC_SINK_OK);
        itpg_clear(recs, N);

        end_sink_backend(sink, table_i);
        make_records(recs, N, N, 0);
        st = itpg_apply_at(sink, recs, N, NULL, 0, 2, errstr, sizeof(errstr));
        assert_int_equal(st, VCDC_SINK_RETRIABLE);
        assert_int_equal(its_count(sink), N);
        apply_want(sink, recs, N, 2, VCDC_SINK_OK);
        assert_int_equal(its_count(sink), 2 * N);
        itpg_clear(recs, N);

        /* Refused by the database inside the COPY stream (the JSON):
         * nothing lands, and the next batch goes through on the same
         * staging table. */
        make_records(recs, 2 * N, N, 0);
        free(recs[3].metadata);
        recs[3].metadata = strdup("{bad json");
        apply_want(sink, recs, N, 3, VCDC_SINK_INVALID);
        free(recs[3].metadata);
        recs[3].metadata = NULL;
        free(recs[3].document);
        recs[3].document = NULL;
        apply_want(sink, recs, N, 3, VCDC_SINK_OK);
        assert_int_equal(its_count(sink), 3 * N);
        assert_int_equal(its_offset(sink, ITPG_TOPIC, 0, NULL), 3);
        /* Left out: NULL in the table, as on the INSERT path. */
        assert_int_equal(itpg_int(itpg.conn,
                                  "SELECT count(*) FROM \"%s\" WHERE id = "
                                  "'%s' AND metadata IS NULL AND document IS "
                                  "NULL",
                                  table_i, recs[3].id),
                         1);
        itpg_clear(recs, N);
        vcdc_sink_destroy(sink);

        /* A table made by hand: the staging table's unconstrained vector
         * goes into its vector(128). */
        PQclear(itpg_sql(itpg.conn, "DROP TABLE \"%s\"", table_i));
        PQclear(itpg_sql(itpg.conn,
                         "CREATE TABLE \"%s\" (id text PRIMARY KEY, "
                         "embedding vector(%d) NOT NULL, metadata jsonb, "
                         "document text)",
                         table_i, DIM));
        sink = vcdc_sink_new(url, NULL, errstr, sizeof(errstr));
        assert_non_null(sink);
        make_records(recs, 0, N, 0);
        apply_want(sink, recs, N, 10, VCDC_SINK_OK);
        assert_int_equal(its_count(sink), N);
        itpg_clear(recs, N);
        vcdc_sink_destroy(sink);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_bulk),   cmocka_unit_test(test_atomic),
                cmocka_unit_test(test_apart),  cmocka_unit_test(test_prepared),
                cmocka_unit_test(test_refuse), cmocka_unit_test(test_copy_stage),
        };
        /* Both apply paths, each through every test, unless
         * VCDC_IT_PG_COPY names one. */
        static const char *const paths[] = {"never", "always"};
        size_t i;
        int rc = 0;

        if (itpg_start("it_sink_pgvector") == -1)
                return 0;
        if (itpg.copy[0])
                return cmocka_run_group_tests(tests, setup, teardown);
        for (i = 0; i < sizeof(paths) / sizeof(*paths); i++) {
                snprintf(itpg.copy, sizeof(itpg.copy), "%s", paths[i]);
                fprintf(stderr, "==== it_sink_pgvector, ?copy=%s\n", paths[i]);
                rc |= cmocka_run_group_tests_name(paths[i], tests, setup,
                                                  teardown);
        }
        return rc;
}
