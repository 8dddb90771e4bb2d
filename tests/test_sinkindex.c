/*
 * vcdc - unit tests: the index on a target as the operator gives it
 * (sinks/sinkindex.c: --index, --index-param, states in words) and the
 * pgvector index's names and SQL (sinks/pgvector/sink_pgvector_idxsql.c).
 * Pure functions only: nothing here talks to a database.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sink_pgvector_index.h"
#include "sinkindex.h"

static void test_parse_valid(void **state) {
        static const struct {
                const char *kind, *params;
                vcdc_index_kind_t want;
                int m, ef, lists;
                const char *formatted;
                long long mem_kb;
        } cases[] = {
                {NULL, NULL, VCDC_INDEX_NONE, 0, 0, 0, "", 0},
                {"none", "", VCDC_INDEX_NONE, 0, 0, 0, "", 0},
                {"hnsw", NULL, VCDC_INDEX_HNSW, 16, 64, 0,
                 "m=16,ef_construction=64", 0},
                {"hnsw", "m=8", VCDC_INDEX_HNSW, 8, 64, 0,
                 "m=8,ef_construction=64", 0},
                {"hnsw", "ef_construction=200,m=32", VCDC_INDEX_HNSW, 32, 200,
                 0, "m=32,ef_construction=200", 0},
                {"hnsw", "m=2,ef_construction=4", VCDC_INDEX_HNSW, 2, 4, 0,
                 "m=2,ef_construction=4", 0},
                {"hnsw", "m=100,ef_construction=1000", VCDC_INDEX_HNSW, 100,
                 1000, 0, "m=100,ef_construction=1000", 0},
                {"ivfflat", NULL, VCDC_INDEX_IVFFLAT, 0, 0, 100, "lists=100",
                 0},
                {"ivfflat", "lists=1", VCDC_INDEX_IVFFLAT, 0, 0, 1, "lists=1",
                 0},
                {"ivfflat", "lists=32768", VCDC_INDEX_IVFFLAT, 0, 0, 32768,
                 "lists=32768", 0},
                {"hnsw", "maintenance_work_mem=1GB,m=8", VCDC_INDEX_HNSW, 8, 64,
                 0,
                 "m=8,ef_construction=64,maintenance_work_mem="
                 "1048576kB",
                 1048576},
                {"ivfflat", "maintenance_work_mem=1024", VCDC_INDEX_IVFFLAT, 0,
                 0, 100, "lists=100,maintenance_work_mem=1024kB", 1024},
                {"ivfflat", "maintenance_work_mem=256MB", VCDC_INDEX_IVFFLAT, 0,
                 0, 100, "lists=100,maintenance_work_mem=262144kB", 262144},
                {"hnsw", "maintenance_work_mem=2147483647kB", VCDC_INDEX_HNSW,
                 16, 64, 0,
                 "m=16,ef_construction=64,maintenance_work_mem="
                 "2147483647kB",
                 2147483647LL},
        };
        vcdc_index_spec_t spec;
        char errstr[256], buf[64];
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                assert_int_equal(vcdc_index_spec_parse(cases[i].kind,
                                                       cases[i].params, &spec,
                                                       errstr, sizeof(errstr)),
                                 0);
                assert_int_equal(spec.kind, cases[i].want);
                assert_int_equal(spec.m, cases[i].m);
                assert_int_equal(spec.ef_construction, cases[i].ef);
                assert_int_equal(spec.lists, cases[i].lists);
                assert_int_equal(spec.maintenance_work_mem_kb, cases[i].mem_kb);
                vcdc_index_spec_format(&spec, buf, sizeof(buf));
                assert_string_equal(buf, cases[i].formatted);
        }
}

static void test_parse_invalid(void **state) {
        static const struct {
                const char *kind, *params, *error;
        } cases[] = {
                {"btree", NULL,
                 "--index btree: expected hnsw, ivfflat or "
                 "none"},
                {"HNSW", NULL, "expected hnsw, ivfflat or none"},
                {"", NULL, "expected hnsw, ivfflat or none"},
                {"none", "m=8",
                 "--index-param needs --index hnsw or "
                 "ivfflat"},
                {NULL, "lists=4", "needs --index hnsw or ivfflat"},
                {"hnsw", "lists=10",
                 "--index-param lists: not a parameter "
                 "of a hnsw index (m, ef_construction, "
                 "maintenance_work_mem)"},
                {"ivfflat", "m=8",
                 "not a parameter of a ivfflat index "
                 "(lists, maintenance_work_mem)"},
                {"hnsw", "maintenance_work_mem=512kB",
                 "expected a size "
                 "from 1MB"},
                {"hnsw", "maintenance_work_mem=2TB", "expected a size"},
                {"hnsw", "maintenance_work_mem=1gb", "expected a size"},
                {"hnsw", "maintenance_work_mem=-1GB", "expected a size"},
                {"hnsw", "maintenance_work_mem=GB", "expected a size"},
                {"hnsw", "maintenance_work_mem=1 GB", "expected a size"},
                {"hnsw", "maintenance_work_mem=1GB,maintenance_work_mem=2GB",
                 "given twice"},
                {"hnsw", "m", "--index-param \"m\": expected key=value"},
                {"hnsw", "m=", "expected key=value"},
                {"hnsw", "=8", "expected key=value"},
                {"hnsw", ",m=8", "expected key=value"},
                {"hnsw", "m=8,", "a trailing comma"},
                {"hnsw", "m=8,,ef_construction=64", "expected key=value"},
                {"hnsw", "m=1",
                 "--index-param m=1: expected an integer in "
                 "2..100"},
                {"hnsw", "m=101", "expected an integer in 2..100"},
                {"hnsw", "m=8x", "expected an integer in 2..100"},
                {"hnsw", "m=99999999999999999999", "expected an integer"},
                {"hnsw", "ef_construction=3", "in 4..1000"},
                {"hnsw", "m=8,m=9", "--index-param m: given twice"},
                {"hnsw", "m=40",
                 "ef_construction (64) must be at least "
                 "twice m (40)"},
                {"ivfflat", "lists=0", "in 1..32768"},
                {"ivfflat", "lists=32769", "in 1..32768"},
                {"ivfflat", "lists=-5", "in 1..32768"},
                {"ivfflat", "a_key_much_longer_than_the_buffer_holds=1",
                 "expected key=value"},
        };
        vcdc_index_spec_t spec;
        char errstr[256];
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                errstr[0] = '\0';
                assert_int_equal(vcdc_index_spec_parse(cases[i].kind,
                                                       cases[i].params, &spec,
                                                       errstr, sizeof(errstr)),
                                 -1);
                if (!strstr(errstr, cases[i].error))
                        fail_msg("case %zu: \"%s\" lacks \"%s\"", i, errstr,
                                 cases[i].error);
        }
}

static void test_info_format(void **state) {
        vcdc_index_info_t info = {.percent = -1};
        char buf[256];

        (void)state;
        vcdc_index_info_format(&info, buf, sizeof(buf));
        assert_string_equal(buf, "none");
        info.state = VCDC_INDEX_VALID;
        info.kind = VCDC_INDEX_HNSW;
        snprintf(info.name, sizeof(info.name), "%s", "docs_vcdc_hnsw_idx");
        snprintf(info.opclass, sizeof(info.opclass), "%s", "vector_cosine_ops");
        vcdc_index_info_format(&info, buf, sizeof(buf));
        assert_string_equal(
                buf, "docs_vcdc_hnsw_idx hnsw valid (vector_cosine_ops)");
        info.state = VCDC_INDEX_BUILDING;
        snprintf(info.phase, sizeof(info.phase), "%s",
                 "building index: loading tuples");
        info.percent = 45.4;
        vcdc_index_info_format(&info, buf, sizeof(buf));
        assert_string_equal(buf, "docs_vcdc_hnsw_idx hnsw building "
                                 "(building index: loading tuples, 45%)");
        info.percent = -1;
        info.phase[0] = '\0';
        vcdc_index_info_format(&info, buf, sizeof(buf));
        assert_string_equal(buf, "docs_vcdc_hnsw_idx hnsw building "
                                 "(starting)");
        info.state = VCDC_INDEX_INVALID;
        info.kind = VCDC_INDEX_NONE;
        info.opclass[0] = '\0';
        vcdc_index_info_format(&info, buf, sizeof(buf));
        assert_string_equal(buf, "docs_vcdc_hnsw_idx none invalid");
        assert_string_equal(vcdc_index_state_name(VCDC_INDEX_ABSENT), "none");
        assert_string_equal(vcdc_index_kind_name(VCDC_INDEX_IVFFLAT),
                            "ivfflat");
}

static void test_pg_name(void **state) {
        char name[64], table[64];

        (void)state;
        assert_int_equal(vcdc_pgvector_index_name("docs", VCDC_INDEX_HNSW, name,
                                                  sizeof(name)),
                         0);
        assert_string_equal(name, "docs_vcdc_hnsw_idx");
        assert_int_equal(vcdc_pgvector_index_name("Docs", VCDC_INDEX_IVFFLAT,
                                                  name, sizeof(name)),
                         0);
        assert_string_equal(name, "Docs_vcdc_ivfflat_idx");
        assert_int_equal(vcdc_pgvector_index_name("docs", VCDC_INDEX_NONE, name,
                                                  sizeof(name)),
                         -1);
        assert_int_equal(
                vcdc_pgvector_index_name("docs", VCDC_INDEX_HNSW, name, 8), -1);
        /* A 63-byte table: the table's part is cut so the name fits 63
         * bytes, the same way each time. */
        memset(table, 't', 63);
        table[63] = '\0';
        assert_int_equal(vcdc_pgvector_index_name(table, VCDC_INDEX_IVFFLAT,
                                                  name, sizeof(name)),
                         0);
        assert_int_equal(strlen(name), 63);
        assert_string_equal(name + 63 - strlen("_vcdc_ivfflat_idx"),
                            "_vcdc_ivfflat_idx");
}

static void test_pg_sql(void **state) {
        vcdc_index_spec_t spec;
        char errstr[128], *sql;

        (void)state;
        assert_string_equal(vcdc_pgvector_index_opclass(VCDC_METRIC_COSINE),
                            "vector_cosine_ops");
        assert_string_equal(vcdc_pgvector_index_opclass(VCDC_METRIC_L2),
                            "vector_l2_ops");
        assert_string_equal(vcdc_pgvector_index_opclass(VCDC_METRIC_IP),
                            "vector_ip_ops");
        assert_string_equal(vcdc_pgvector_index_opclass(VCDC_METRIC_UNSET),
                            "vector_cosine_ops");

        assert_int_equal(vcdc_index_spec_parse("hnsw", "m=8", &spec, errstr,
                                               sizeof(errstr)),
                         0);
        sql = vcdc_pgvector_index_create_sql("docs", &spec, VCDC_METRIC_L2);
        assert_string_equal(sql, "CREATE INDEX CONCURRENTLY IF NOT EXISTS "
                                 "\"docs_vcdc_hnsw_idx\" ON \"docs\" USING "
                                 "hnsw (embedding vector_l2_ops) WITH (m = "
                                 "8, ef_construction = 64)");
        free(sql);
        assert_int_equal(vcdc_index_spec_parse("ivfflat", NULL, &spec, errstr,
                                               sizeof(errstr)),
                         0);
        sql = vcdc_pgvector_index_create_sql("My_Table", &spec, VCDC_METRIC_IP);
        assert_string_equal(sql, "CREATE INDEX CONCURRENTLY IF NOT EXISTS "
                                 "\"My_Table_vcdc_ivfflat_idx\" ON "
                                 "\"My_Table\" USING ivfflat (embedding "
                                 "vector_ip_ops) WITH (lists = 100)");
        free(sql);
        spec.kind = VCDC_INDEX_NONE;
        assert_null(
                vcdc_pgvector_index_create_sql("docs", &spec, VCDC_METRIC_L2));
        sql = vcdc_pgvector_index_drop_sql("docs_vcdc_hnsw_idx");
        assert_string_equal(sql, "DROP INDEX CONCURRENTLY IF EXISTS "
                                 "\"docs_vcdc_hnsw_idx\"");
        free(sql);
        assert_non_null(
                strstr(vcdc_pgvector_index_catalog_sql(), "indisvalid"));
        assert_non_null(strstr(vcdc_pgvector_index_progress_sql(),
                               "pg_stat_progress_create_index"));
}

static void test_pg_percent(void **state) {
        (void)state;
        assert_true(vcdc_pgvector_index_percent(0, 0, 0, 0) == -1);
        assert_true(vcdc_pgvector_index_percent(25, 100, 7, 0) == 25);
        assert_true(vcdc_pgvector_index_percent(0, 0, 300, 1200) == 25);
        assert_true(vcdc_pgvector_index_percent(150, 100, 0, 0) == 100);
        assert_true(vcdc_pgvector_index_percent(-3, 100, 0, 0) == 0);
        assert_int_equal(vcdc_pgvector_index_kind_of("hnsw"), VCDC_INDEX_HNSW);
        assert_int_equal(vcdc_pgvector_index_kind_of("ivfflat"),
                         VCDC_INDEX_IVFFLAT);
        assert_int_equal(vcdc_pgvector_index_kind_of("btree"), VCDC_INDEX_NONE);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_valid),
                cmocka_unit_test(test_parse_invalid),
                cmocka_unit_test(test_info_format),
                cmocka_unit_test(test_pg_name),
                cmocka_unit_test(test_pg_sql),
                cmocka_unit_test(test_pg_percent),
        };
        return cmocka_run_group_tests_name("sinkindex", tests, NULL, NULL);
}
