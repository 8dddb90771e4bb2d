/*
 * vcdc - unit tests: the pgvector sink's pure parts (no server): vector
 * text, binary COPY rows, SQL building, identifiers, SQLSTATE mapping, record checks, and
 * the URL refusals that happen before connecting.
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

#include "record.h"
#include "sink_int.h"
#include "sink_pgvector_int.h"

static void test_ident(void **state) {
        static const struct {
                const char *name;
                int valid;
        } cases[] = {
                {"vectors", 1},
                {"Docs", 1},
                {"_x", 1},
                {"a1", 1},
                {"t_2024_v2", 1},
                {"abcdefghijklmnopqrstuvwxyz_abcdefghijklmnopqrstuvwxyz_"
                 "abcdefghi",
                 1}, /* 63 bytes */
                {"abcdefghijklmnopqrstuvwxyz_abcdefghijklmnopqrstuvwxyz_"
                 "abcdefghij",
                 0}, /* 64 bytes: PostgreSQL would truncate it */
                {"", 0},
                {"1abc", 0},
                {"a-b", 0},
                {"a b", 0},
                {"a.b", 0},
                {"a\"b", 0},
                {"x;DROP TABLE y", 0},
                {"caf\xc3\xa9", 0},
                {"vcdc_targets", 0},
                {"vcdc_offsets", 0},
                {"vcdc_offsets2", 1},
        };
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                if (vcdc_pgvector_ident_valid(cases[i].name) != cases[i].valid)
                        fail_msg("\"%s\": expected %s", cases[i].name,
                                 cases[i].valid ? "valid" : "invalid");
        }
        assert_false(vcdc_pgvector_ident_valid(NULL));
}

static void test_quote_ident(void **state) {
        char *q;

        (void)state;
        q = vcdc_pgvector_quote_ident("Docs");
        assert_string_equal(q, "\"Docs\"");
        free(q);
        q = vcdc_pgvector_quote_ident("a\"b");
        assert_string_equal(q, "\"a\"\"b\"");
        free(q);
}

static void test_vector_format(void **state) {
        static const struct {
                float v[3];
                size_t dim;
                const char *text;
        } cases[] = {
                {{1, -0.5f, 0.25f}, 3, "[1,-0.5,0.25]"},
                {{0.1f}, 1, "[0.100000001]"},
                {{-0.0f, 1e-45f}, 2, "[-0,1.40129846e-45]"},
                {{3.40282347e38f, -1.17549435e-38f}, 2,
                 "[3.40282347e+38,-1.17549435e-38]"},
                {{0}, 0, "[]"},
        };
        char buf[128];
        size_t i, len;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                len = vcdc_pgvector_vector_format(cases[i].v, cases[i].dim, buf,
                                                  sizeof(buf));
                assert_string_equal(buf, cases[i].text);
                assert_int_equal(len, strlen(cases[i].text));
        }
}

static void test_vector_format_invalid(void **state) {
        const float nan_v[2] = {1, NAN}, inf_v[1] = {-INFINITY};
        const float worst[2] = {-3.40282347e38f, -1.17549435e-38f};
        char buf[64];

        (void)state;
        assert_int_equal(vcdc_pgvector_vector_format(nan_v, 2, buf,
                                                     sizeof(buf)),
                         0);
        assert_int_equal(vcdc_pgvector_vector_format(inf_v, 1, buf,
                                                     sizeof(buf)),
                         0);
        /* The bound holds for the longest texts, and nothing less does. */
        assert_int_not_equal(vcdc_pgvector_vector_format(
                                     worst, 2, buf,
                                     vcdc_pgvector_vector_text_max(2)),
                             0);
        assert_int_equal(vcdc_pgvector_vector_format(worst, 2, buf, 20), 0);
        assert_int_equal(vcdc_pgvector_vector_format(worst, 0, buf, 2), 0);
}

/* Every float32 written as text reads back bit for bit. */
static void test_vector_roundtrip(void **state) {
        enum { DIM = 256, ROUNDS = 400 };
        float v[DIM], *back;
        char *text;
        size_t size = vcdc_pgvector_vector_text_max(DIM), i, dim;
        uint32_t x = 2463534242u;
        int round;

        (void)state;
        assert_non_null(text = malloc(size));
        for (round = 0; round < ROUNDS; round++) {
                for (i = 0; i < DIM; i++) {
                        uint32_t bits;
                        do { /* xorshift32 over all bit patterns */
                                x ^= x << 13;
                                x ^= x >> 17;
                                x ^= x << 5;
                                bits = x;
                                if (round % 4 == 1) /* denormals */
                                        bits &= 0x807fffffu;
                                else if (round % 4 == 2) /* near 1 */
                                        bits = (bits & 0x807fffffu) |
                                               0x3f000000u;
                                memcpy(&v[i], &bits, sizeof(float));
                        } while (!isfinite(v[i]));
                }
                assert_int_not_equal(vcdc_pgvector_vector_format(v, DIM, text,
                                                                 size),
                                     0);
                assert_int_equal(vcdc_pgvector_vector_parse(text, &back, &dim),
                                 0);
                assert_int_equal(dim, DIM);
                if (memcmp(back, v, sizeof(v)))
                        fail_msg("round %d: %s did not round-trip", round,
                                 text);
                free(back);
        }
        free(text);
}

static void test_vector_binary(void **state) {
        /* vector_recv's input: int16 dim, int16 unused, float4s, all
         * big-endian. */
        static const float v[] = {1.0f, -2.5f, 0.0f};
        static const unsigned char want[] = {
                0x00, 0x03, 0x00, 0x00, 0x3f, 0x80, 0x00, 0x00,
                0xc0, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
        char out[sizeof(want)];

        (void)state;
        assert_int_equal(vcdc_pgvector_vector_binary_size(3), sizeof(want));
        assert_int_equal(vcdc_pgvector_vector_binary(v, 3, out),
                         sizeof(want));
        assert_memory_equal(out, want, sizeof(want));
}

static void test_vector_parse(void **state) {
        static const struct {
                const char *text;
                size_t dim;
                float v[3];
        } valid[] = {
                {"[1,2,3]", 3, {1, 2, 3}},
                {" [ 1 , 2.5 ,-3 ] ", 3, {1, 2.5f, -3}},
                {"[1e-45]", 1, {1e-45f}},
                {"[3.4028235e+38]", 1, {3.4028235e38f}},
                {"[-0]", 1, {-0.0f}},
        };
        static const char *const invalid[] = {
                "", "[", "[]", "[ ]", "[1,]", "[,1]", "1,2", "[1 2]",
                "[1,2]x", "[1,,2]", "[1]]", "[abc]", "[nan]", "[1,inf]",
                "[1e39]", "(1,2)", "[1;2]",
        };
        float *vec;
        size_t i, dim;

        (void)state;
        for (i = 0; i < sizeof(valid) / sizeof(*valid); i++) {
                if (vcdc_pgvector_vector_parse(valid[i].text, &vec, &dim))
                        fail_msg("\"%s\" refused", valid[i].text);
                assert_int_equal(dim, valid[i].dim);
                assert_memory_equal(vec, valid[i].v, dim * sizeof(float));
                free(vec);
        }
        for (i = 0; i < sizeof(invalid) / sizeof(*invalid); i++) {
                if (!vcdc_pgvector_vector_parse(invalid[i], &vec, &dim))
                        fail_msg("\"%s\" accepted", invalid[i]);
                assert_null(vec);
                assert_int_equal(dim, 0);
        }
}

static void test_text_array(void **state) {
        const char *items[] = {"a", "b\"c", "d\\e", "", "{x,y}"};
        char *s;

        (void)state;
        s = vcdc_pgvector_text_array(items, 5);
        assert_string_equal(s, "{\"a\",\"b\\\"c\",\"d\\\\e\",\"\",\"{x,y}\"}");
        free(s);
        s = vcdc_pgvector_text_array(items, 0);
        assert_string_equal(s, "{}");
        free(s);
}

/* The number of distinct $n in sql, checking they are exactly 1..n. */
static size_t count_params(const char *sql) {
        char seen[70000] = {0};
        size_t n = 0, i;
        const char *p;

        for (p = sql; (p = strchr(p, '$')); p++) {
                long v = strtol(p + 1, NULL, 10);
                assert_true(v >= 1 && v < (long)sizeof(seen));
                if (!seen[v])
                        n++;
                seen[v] = 1;
        }
        for (i = 1; i <= n; i++)
                assert_true(seen[i]);
        return n;
}

static void test_upsert_sql(void **state) {
        char *sql;

        (void)state;
        sql = vcdc_pgvector_upsert_sql("\"t\"", 1);
        assert_string_equal(
                sql,
                "INSERT INTO \"t\" (id, embedding, metadata, document) VALUES "
                "($1::text,$2::vector,$3::jsonb,$4::text) ON CONFLICT (id) DO "
                "UPDATE SET embedding = EXCLUDED.embedding, metadata = "
                "EXCLUDED.metadata, document = EXCLUDED.document");
        free(sql);

        sql = vcdc_pgvector_upsert_sql("\"t\"", VCDC_PGVECTOR_CHUNK_ROWS);
        assert_int_equal(count_params(sql),
                         VCDC_PGVECTOR_CHUNK_ROWS *
                                 VCDC_PGVECTOR_UPSERT_PARAMS);
        /* PostgreSQL's limit on parameters per statement. */
        assert_true(VCDC_PGVECTOR_CHUNK_ROWS * VCDC_PGVECTOR_UPSERT_PARAMS <=
                    65535);
        assert_non_null(strstr(sql, ",($1997::text,$1998::vector,"
                                    "$1999::jsonb,$2000::text) ON CONFLICT"));
        free(sql);

        assert_null(vcdc_pgvector_upsert_sql("\"t\"", 0));
}

/* The binary COPY stream's header and trailer, byte for byte. */
static void test_copy_frame(void **state) {
        static const unsigned char header[] = {
                'P', 'G', 'C', 'O', 'P', 'Y', '\n', 0xff, '\r', '\n', 0x00,
                0x00, 0x00, 0x00, 0x00, /* flags */
                0x00, 0x00, 0x00, 0x00, /* header extension length */
        };
        static const unsigned char trailer[] = {0xff, 0xff};
        char out[32];

        (void)state;
        assert_int_equal(sizeof(header), VCDC_PGVECTOR_COPY_HEADER_SIZE);
        assert_int_equal(vcdc_pgvector_copy_header(out), sizeof(header));
        assert_memory_equal(out, header, sizeof(header));
        assert_int_equal(sizeof(trailer), VCDC_PGVECTOR_COPY_TRAILER_SIZE);
        assert_int_equal(vcdc_pgvector_copy_trailer(out), sizeof(trailer));
        assert_memory_equal(out, trailer, sizeof(trailer));
}

/* One row of binary COPY per record: the field count, then each field's
 * big-endian length (-1: NULL) and bytes: id as text, the vector as
 * vector_recv reads it, metadata as jsonb_recv (version 1, then the
 * text), the document as text. */
static void test_copy_row(void **state) {
        static const float v2[] = {1.0f, -2.5f};
        static const float v1[] = {-0.0f};
        static const unsigned char full[] = {
                0x00, 0x04,                                     /* 4 fields */
                0x00, 0x00, 0x00, 0x02, 'a', 'b',               /* id */
                0x00, 0x00, 0x00, 0x0c,                         /* 12 bytes */
                0x00, 0x02, 0x00, 0x00,                         /* dim, 0 */
                0x3f, 0x80, 0x00, 0x00, 0xc0, 0x20, 0x00, 0x00, /* 1, -2.5 */
                0x00, 0x00, 0x00, 0x08, 0x01,                   /* jsonb v1 */
                '{', '"', 'k', '"', ':', '1', '}',
                0x00, 0x00, 0x00, 0x03, 'd', 'o', 'c',          /* document */
        };
        static const unsigned char nulls[] = {
                0x00, 0x04,
                0x00, 0x00, 0x00, 0x03, 0xc3, 0xa9, '/',        /* "é/" */
                0x00, 0x00, 0x00, 0x08,
                0x00, 0x01, 0x00, 0x00, 0x80, 0x00, 0x00, 0x00, /* -0 */
                0xff, 0xff, 0xff, 0xff,                         /* NULL */
                0xff, 0xff, 0xff, 0xff,                         /* NULL */
        };
        static const unsigned char empty[] = {
                0x00, 0x04,
                0x00, 0x00, 0x00, 0x01, 'x',
                0x00, 0x00, 0x00, 0x08,
                0x00, 0x01, 0x00, 0x00, 0x80, 0x00, 0x00, 0x00,
                0x00, 0x00, 0x00, 0x03, 0x01, '{', '}',         /* {} */
                0x00, 0x00, 0x00, 0x00,                         /* "" */
        };
        const struct {
                const char *id;
                const float *vector;
                size_t dim;
                const char *metadata, *document;
                const unsigned char *want;
                size_t want_len;
        } cases[] = {
                {"ab", v2, 2, "{\"k\":1}", "doc", full, sizeof(full)},
                {"\xc3\xa9/", v1, 1, NULL, NULL, nulls, sizeof(nulls)},
                {"x", v1, 1, "{}", "", empty, sizeof(empty)},
        };
        char out[128];
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                vcdc_record_t rec;

                vcdc_record_init(&rec);
                rec.id = (char *)cases[i].id;
                rec.vector = (float *)cases[i].vector;
                rec.dim = cases[i].dim;
                rec.metadata = (char *)cases[i].metadata;
                rec.document = (char *)cases[i].document;
                assert_int_equal(vcdc_pgvector_copy_row_size(&rec),
                                 cases[i].want_len);
                memset(out, 0x55, sizeof(out));
                assert_int_equal(vcdc_pgvector_copy_row(&rec, out),
                                 cases[i].want_len);
                assert_memory_equal(out, cases[i].want, cases[i].want_len);
                /* Nothing written past the row. */
                assert_int_equal((unsigned char)out[cases[i].want_len], 0x55);
        }
}

/* A dimension pgvector cannot hold has no row. */
static void test_copy_row_limits(void **state) {
        vcdc_record_t rec;
        float f = 1.0f;

        (void)state;
        vcdc_record_init(&rec);
        rec.id = "x";
        rec.vector = &f;
        rec.dim = VCDC_PGVECTOR_DIM_MAX;
        assert_int_equal(vcdc_pgvector_copy_row_size(&rec),
                         2 + 4 * 4 + 1 + 4 + 4 * VCDC_PGVECTOR_DIM_MAX);
        rec.dim = VCDC_PGVECTOR_DIM_MAX + 1;
        assert_int_equal(vcdc_pgvector_copy_row_size(&rec), 0);
}

/* The staging table and the statements around it. */
static void test_copy_sql(void **state) {
        char *sql;

        (void)state;
        assert_string_equal(vcdc_pgvector_stage_sql(),
                            "CREATE TEMP TABLE IF NOT EXISTS vcdc_stage (id "
                            "text, embedding vector, metadata jsonb, document "
                            "text) WITH (toast_tuple_target = 8160) ON COMMIT "
                            "DELETE ROWS");
        assert_string_equal(vcdc_pgvector_copy_sql(),
                            "COPY pg_temp.vcdc_stage (id, embedding, "
                            "metadata, document) FROM STDIN (FORMAT binary)");
        sql = vcdc_pgvector_merge_sql("\"T\"\"x\"");
        assert_string_equal(
                sql,
                "INSERT INTO \"T\"\"x\" (id, embedding, metadata, document) "
                "SELECT id, embedding, metadata, document FROM "
                "pg_temp.vcdc_stage ON CONFLICT (id) DO UPDATE SET "
                "embedding = EXCLUDED.embedding, metadata = "
                "EXCLUDED.metadata, document = EXCLUDED.document");
        free(sql);
}

/* The fenced offsets statement (issue 14, scenario 8): the batch's rows in
 * partition order, the conditional write or the lock, and a refusal the
 * planner cannot fold (a cast of text built from the query's rows). */
static void test_fence_sql(void **state) {
        char *sql;

        (void)state;
        sql = vcdc_pgvector_fence_sql(3, 1);
        assert_int_equal(count_params(sql), 2 + 2 * 3);
        assert_non_null(strstr(sql, "VALUES ($3::int,$4::bigint),"
                                    "($5::int,$6::bigint),"
                                    "($7::int,$8::bigint))"));
        assert_non_null(strstr(sql, "ORDER BY b.partition ON CONFLICT "
                                    "(table_name, topic, partition) DO "
                                    "UPDATE"));
        assert_non_null(strstr(sql, "WHERE o.\"offset\" < "
                                    "EXCLUDED.\"offset\""));
        assert_non_null(strstr(sql, "pg_relation_filenode("));
        assert_non_null(strstr(sql, "count(*) = 3 THEN 0 ELSE"));
        assert_non_null(strstr(sql, "'vcdc_stale: partition ' || (SELECT"));
        assert_non_null(strstr(sql, ")::int END"));
        free(sql);

        sql = vcdc_pgvector_fence_sql(1, 0);
        assert_int_equal(count_params(sql), 4);
        assert_non_null(strstr(sql, "b.partition, -1, t.instance"));
        assert_non_null(strstr(sql, "DO UPDATE SET \"offset\" = "
                                    "o.\"offset\" RETURNING"));
        assert_null(strstr(sql, "EXCLUDED.\"offset\""));
        free(sql);
        assert_null(vcdc_pgvector_fence_sql(0, 1));
}

/* The fence's refusal is known by SQLSTATE 22P02 and its text; other
 * 22P02 errors (bad JSON, bad vector text) are not it. */
static void test_fence_refused(void **state) {
        char why[128];

        (void)state;
        assert_true(vcdc_pgvector_fence_refused(
                "22P02",
                "invalid input syntax for type integer: \"vcdc_stale: "
                "partition 0,3 records an offset at or past the batch's\"",
                why, sizeof(why)));
        assert_string_equal(why, "partition 0,3 records an offset at or "
                                 "past the batch's");
        /* Translated messages keep the quoted text. */
        assert_true(vcdc_pgvector_fence_refused(
                "22P02", "ungueltige Eingabe: \"vcdc_stale: partition 1\"",
                NULL, 0));
        assert_false(vcdc_pgvector_fence_refused(
                "22P02", "invalid input syntax for type json", why,
                sizeof(why)));
        assert_false(vcdc_pgvector_fence_refused(
                "22003", "\"vcdc_stale: partition 1\"", why, sizeof(why)));
        assert_false(vcdc_pgvector_fence_refused(NULL, NULL, why,
                                                 sizeof(why)));
}

/* Scenario 7 of issue 14: the largest batch max_batch() allows, with a
 * delete, its offsets and the PREPARE of a fresh connection, fits one
 * pipeline; one record more does not (and goes statement by statement). */
static void test_statement_cnt(void **state) {
        (void)state;
        assert_int_equal(vcdc_pgvector_statement_cnt(0, 0, 1, 1), 3);
        assert_int_equal(vcdc_pgvector_statement_cnt(1, 0, 0, 1), 3);
        assert_int_equal(vcdc_pgvector_statement_cnt(499, 1, 1, 1), 5);
        assert_int_equal(vcdc_pgvector_statement_cnt(500, 1, 1, 1), 6);
        assert_int_equal(vcdc_pgvector_statement_cnt(500, 1, 1, 0), 5);
        assert_int_equal(vcdc_pgvector_statement_cnt(
                                 VCDC_PGVECTOR_MAX_BATCH, 1, 1, 1),
                         15);
        assert_true(vcdc_pgvector_statement_cnt(VCDC_PGVECTOR_MAX_BATCH, 1, 1,
                                                1) <=
                    VCDC_PGVECTOR_PIPELINE_MAX);
        assert_true(vcdc_pgvector_statement_cnt(VCDC_PGVECTOR_MAX_BATCH + 1,
                                                1, 1, 1) >
                    VCDC_PGVECTOR_PIPELINE_MAX);
}

static void test_sqlstate(void **state) {
        static const struct {
                const char *sqlstate;
                vcdc_sink_status_t status;
        } cases[] = {
                {"08000", VCDC_SINK_RETRIABLE}, /* connection exception */
                {"08006", VCDC_SINK_RETRIABLE}, /* connection failure */
                {"08001", VCDC_SINK_RETRIABLE}, /* cannot establish */
                {"40001", VCDC_SINK_RETRIABLE}, /* serialization failure */
                {"40P01", VCDC_SINK_RETRIABLE}, /* deadlock */
                {"57P01", VCDC_SINK_RETRIABLE}, /* admin shutdown */
                {"57P03", VCDC_SINK_RETRIABLE}, /* cannot connect now */
                {"57014", VCDC_SINK_RETRIABLE}, /* statement timeout */
                {"53300", VCDC_SINK_RETRIABLE}, /* too many connections */
                {"53100", VCDC_SINK_RETRIABLE}, /* disk full */
                {"55P03", VCDC_SINK_RETRIABLE}, /* lock not available */
                {"25006", VCDC_SINK_RETRIABLE}, /* read-only (standby) */
                {"58030", VCDC_SINK_RETRIABLE}, /* I/O error */
                {NULL, VCDC_SINK_RETRIABLE},    /* libpq's own error */
                {"", VCDC_SINK_RETRIABLE},
                {"22P02", VCDC_SINK_INVALID}, /* invalid text (bad JSON) */
                {"22000", VCDC_SINK_INVALID}, /* "expected 3 dimensions" */
                {"22003", VCDC_SINK_INVALID}, /* out of range for vector */
                {"22021", VCDC_SINK_INVALID}, /* bad UTF-8 */
                {"23505", VCDC_SINK_INVALID}, /* unique violation */
                {"23502", VCDC_SINK_INVALID}, /* not null violation */
                {"21000", VCDC_SINK_INVALID}, /* row updated twice */
                {"54000", VCDC_SINK_INVALID}, /* more than 16000 dims */
                {"26000", VCDC_SINK_RETRIABLE}, /* statement lost */
                {"40002", VCDC_SINK_INVALID}, /* integrity at commit */
                {"28P01", VCDC_SINK_FATAL},   /* bad password */
                {"28000", VCDC_SINK_FATAL},   /* authorization */
                {"42P01", VCDC_SINK_FATAL},   /* undefined table */
                {"42501", VCDC_SINK_FATAL},   /* insufficient privilege */
                {"42601", VCDC_SINK_FATAL},   /* syntax error */
                {"3D000", VCDC_SINK_FATAL},   /* no such database */
                {"0A000", VCDC_SINK_FATAL},   /* feature not supported */
                {"57P04", VCDC_SINK_FATAL},   /* database dropped */
                {"53400", VCDC_SINK_FATAL},   /* configuration limit */
                {"XX000", VCDC_SINK_FATAL},   /* internal error */
        };
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                vcdc_sink_status_t got =
                        vcdc_pgvector_sqlstate_status(cases[i].sqlstate);
                if (got != cases[i].status)
                        fail_msg("SQLSTATE %s: %s, expected %s",
                                 cases[i].sqlstate ? cases[i].sqlstate
                                                   : "NULL",
                                 vcdc_sink_status_name(got),
                                 vcdc_sink_status_name(cases[i].status));
        }
}

/* Issue 14, scenario 10: a connection refusal read from libpq's verbose
 * message (texts as libpq 15 and PostgreSQL 16 write them). */
static void test_connect_status(void **state) {
        static const struct {
                const char *msg;
                int needs_password;
                vcdc_sink_status_t status;
                const char *code, *text;
        } cases[] = {
                {"connection to server at \"127.0.0.1\", port 5432 failed: "
                 "FATAL:  28P01: password authentication failed for user "
                 "\"u\"\nLOCATION:  auth_failed, auth.c:323\n",
                 0, VCDC_SINK_FATAL, "28P01", "password authentication"},
                {"connection to server at \"127.0.0.1\", port 5432 failed: "
                 "FATAL:  28000: no pg_hba.conf entry for host "
                 "\"127.0.0.1\", user \"u\", database \"d\", no "
                 "encryption\n",
                 0, VCDC_SINK_FATAL, "28000", "no pg_hba.conf entry"},
                {"...failed: FATAL:  28000: role \"u\" does not exist\n", 0,
                 VCDC_SINK_FATAL, "28000", "role \"u\""},
                {"...failed: FATAL:  42501: permission denied for database "
                 "\"d\"\n",
                 0, VCDC_SINK_FATAL, "42501", "permission denied"},
                {"...failed: FATAL:  3D000: database \"d\" does not exist\n",
                 0, VCDC_SINK_FATAL, "3D000", "database"},
                /* The server's language does not matter. */
                {"...failed: FATAL:  28P01: Passwort-Authentifizierung f\xc3"
                 "\xbcr Benutzer \xc2\xbbu\xc2\xab fehlgeschlagen\n",
                 0, VCDC_SINK_FATAL, "28P01", "Passwort"},
                {"...failed: FATAL:  57P03: the database system is starting "
                 "up\n",
                 0, VCDC_SINK_RETRIABLE, "57P03", "the database system"},
                {"...failed: FATAL:  53300: sorry, too many clients "
                 "already\n",
                 0, VCDC_SINK_RETRIABLE, "53300", "sorry"},
                {"connection to server at \"127.0.0.1\", port 1 failed: "
                 "Connection refused\n\tIs the server running on that host "
                 "and accepting TCP/IP connections?\n",
                 0, VCDC_SINK_RETRIABLE, "", NULL},
                {"connection to server at \"127.0.0.1\", port 5432 failed: "
                 "fe_sendauth: no password supplied\n",
                 1, VCDC_SINK_FATAL, "", NULL},
                /* Several addresses: one refusing authentication wins. */
                {"connection to server at \"localhost\" (::1), port 5432 "
                 "failed: FATAL:  57P03: the database system is starting "
                 "up\nconnection to server at \"localhost\" (127.0.0.1), "
                 "port 5432 failed: FATAL:  28P01: password authentication "
                 "failed for user \"u\"\n",
                 0, VCDC_SINK_FATAL, "28P01", "password"},
                /* Not codes: a DETAIL line, a LOCATION. */
                {"...failed: server closed the connection unexpectedly\n"
                 "DETAIL:  ABCDE: x\nLOCATION:  PROC1: y\n",
                 0, VCDC_SINK_RETRIABLE, "", NULL},
        };
        const char *text;
        char code[6];
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                vcdc_sink_status_t st = vcdc_pgvector_connect_status(
                        cases[i].msg, cases[i].needs_password, code, &text);
                if (st != cases[i].status || strcmp(code, cases[i].code) ||
                    (cases[i].text ? !text ||
                                             strncmp(text, cases[i].text,
                                                     strlen(cases[i].text))
                                   : text != NULL))
                        fail_msg("case %zu: %s, code \"%s\", text \"%.30s\"",
                                 i, vcdc_sink_status_name(st), code,
                                 text ? text : "(none)");
        }
        assert_int_equal(vcdc_pgvector_connect_status(NULL, 0, NULL, NULL),
                         VCDC_SINK_RETRIABLE);
}

/* retry_smaller: a statement the server stopped for time or resources. */
static void test_sqlstate_smaller(void **state) {
        (void)state;
        assert_true(vcdc_pgvector_sqlstate_smaller("57014"));
        assert_true(vcdc_pgvector_sqlstate_smaller("53200"));
        assert_true(vcdc_pgvector_sqlstate_smaller("53100"));
        assert_false(vcdc_pgvector_sqlstate_smaller("53300"));
        assert_false(vcdc_pgvector_sqlstate_smaller("40001"));
        assert_false(vcdc_pgvector_sqlstate_smaller("08006"));
        assert_false(vcdc_pgvector_sqlstate_smaller(NULL));
}

static void test_json_compact(void **state) {
        static const struct {
                const char *in, *out;
        } cases[] = {
                {"{\"a\": 1, \"b\": [1, 2]}", "{\"a\":1,\"b\":[1,2]}"},
                {"{\"k y\": \"v \\\" x\", \"z\": \"\\\\\"}",
                 "{\"k y\":\"v \\\" x\",\"z\":\"\\\\\"}"},
                {"{\"n\": {\"m\": null, \"t\": true}}",
                 "{\"n\":{\"m\":null,\"t\":true}}"},
                {"{}", "{}"},
        };
        size_t i;
        char *s;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                s = vcdc_pgvector_json_compact(cases[i].in);
                assert_string_equal(s, cases[i].out);
                free(s);
        }
}

/* check() needs no connection: call it on a handle that has none. */
/* jsonb's input, as PostgreSQL 16 takes it (each case tried against the
 * server: tests/it_sink_pg_check.c). */
static void test_jsonb_check(void **state) {
        static const struct {
                const char *json;
                int ok;
        } cases[] = {
                {"{}", 1},
                {" {\"a\" : [1, 2.5, -0, true, false, null, \"x\"]} \n", 1},
                {"{\"\":1,\"a\":1,\"a\":2}", 1},
                {"{\"a\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\"}", 1},
                {"{\"a\":\"\\ud83d\\ude00 \\uffff caf\xc3\xa9\"}", 1},
                {"{\"a\":\"\\u0000\"}", 0},
                {"{\"\\u0000\":1}", 0},
                {"{\"a\":\"\\ud800\"}", 0},
                {"{\"a\":\"\\udc00\"}", 0},
                {"{\"a\":\"\\ud83dx\"}", 0},
                {"{\"a\":\"\\ude00\\ud83d\"}", 0},
                {"{\"a\":\"\\u12G4\"}", 0},
                {"{\"a\":\"\\x\"}", 0},
                {"{\"a\":\"\xc3\x28\"}", 0},
                {"{\"a\":\"\xed\xa0\x80\"}", 0},
                {"{\"a\":\"x\ty\"}", 0},
                {"{\"a\":\"x", 0},
                {"{\"a\":123456789012345678901234567890}", 1},
                {"{\"a\":1e1000}", 1},
                {"{\"a\":1E+131071}", 1},
                {"{\"a\":1e131072}", 0},
                {"{\"a\":99999e131067}", 1},
                {"{\"a\":10000e131068}", 0},
                {"{\"a\":1e-16383}", 1},
                {"{\"a\":1e-16384}", 0},
                {"{\"a\":10e-16384}", 0},
                {"{\"a\":1.0e-16383}", 0},
                {"{\"a\":0.5e-16383}", 0},
                {"{\"a\":0.00001e-16378}", 1},
                {"{\"a\":0e-99999}", 0},
                {"{\"a\":0e99999}", 1},
                {"{\"a\":0e1073741823}", 1},
                {"{\"a\":0e1073741824}", 0},
                {"{\"a\":0e-1073741824}", 0},
                {"{\"a\":-0.0E-0}", 1},
                {"{\"a\":01}", 0},
                {"{\"a\":-01}", 0},
                {"{\"a\":1.}", 0},
                {"{\"a\":.5}", 0},
                {"{\"a\":1e}", 0},
                {"{\"a\":1e+}", 0},
                {"{\"a\":+1}", 0},
                {"{\"a\":-}", 0},
                {"{\"a\":NaN}", 0},
                {"{\"a\":Infinity}", 0},
                {"{\"a\":nul}", 0},
                {"{\"a\":1,}", 0},
                {"{\"a\":[1,]}", 0},
                {"{\"a\":1} x", 0},
                {"{a:1}", 0},
                {"\f{}", 0},
                {"[1]", 0}, /* not an object */
                {"", 0},
        };
        char err[256];
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                int ok = vcdc_pgvector_jsonb_check(cases[i].json, 1, err,
                                                   sizeof(err)) == 0;
                if (ok != cases[i].ok)
                        fail_msg("case %zu (%s): %s", i, cases[i].json,
                                 ok ? "taken" : err);
        }
        assert_int_equal(vcdc_pgvector_jsonb_check("[1]", 0, err,
                                                   sizeof(err)),
                         0);
}

/* Nesting: 2,048 levels pass, one more is refused (PostgreSQL's own limit
 * is its stack, about 15,000 at the default max_stack_depth). */
static void test_jsonb_depth(void **state) {
        enum { MAX = VCDC_PGVECTOR_JSON_DEPTH_MAX };
        char *s = malloc(2 * (MAX + 1) + 2), err[256];
        size_t i, n;

        (void)state;
        for (n = MAX; n <= MAX + 1; n++) {
                for (i = 0; i < n; i++) {
                        s[i] = '[';
                        s[n + i] = ']';
                }
                s[2 * n] = '\0';
                assert_int_equal(vcdc_pgvector_jsonb_check(s, 0, err,
                                                           sizeof(err)),
                                 n == MAX ? 0 : -1);
        }
        free(s);
}

static void test_check(void **state) {
        static const struct {
                float v0;
                size_t dim;
                const char *metadata, *document;
                vcdc_sink_status_t status;
                const char *why;
        } cases[] = {
                {1, 3, NULL, NULL, VCDC_SINK_OK, NULL},
                {1, 3, "{\"a\":[1,{\"b\":null}]}", "any text", VCDC_SINK_OK,
                 NULL},
                {NAN, 3, NULL, NULL, VCDC_SINK_INVALID, "NaN"},
                {INFINITY, 3, NULL, NULL, VCDC_SINK_INVALID, "infinite"},
                {1, 0, NULL, NULL, VCDC_SINK_INVALID, "no vector"},
                {1, 16001, NULL, NULL, VCDC_SINK_INVALID, "at most 16000"},
                {1, 3, "[1,2]", NULL, VCDC_SINK_INVALID, "JSON object"},
                {1, 3, "\"s\"", NULL, VCDC_SINK_INVALID, "JSON object"},
                {1, 3, "{\"a\":", NULL, VCDC_SINK_INVALID,
                 "not JSON that jsonb holds"},
                {1, 3, "{\"a\":\"\\u0000\"}", NULL, VCDC_SINK_INVALID,
                 "\\u0000"},
                {1, 3, "{\"a\":1e-16384}", NULL, VCDC_SINK_INVALID,
                 "numeric"},
                {1, 3, "{\"a\":123456789012345678901234567890}", NULL,
                 VCDC_SINK_OK, NULL},
                {1, 3, NULL, "bad \xc3\x28 utf-8", VCDC_SINK_INVALID,
                 "document is not valid UTF-8"},
                {1, 3, NULL, "surrogate \xed\xa0\x80", VCDC_SINK_INVALID,
                 "UTF-8"},
                {1, 3, NULL, "caf\xc3\xa9 \xf0\x9f\x98\x80", VCDC_SINK_OK,
                 NULL},
        };
        vcdc_sink_t sink;
        vcdc_record_t rec;
        char errstr[512];
        size_t i;

        (void)state;
        memset(&sink, 0, sizeof(sink));
        sink.ops = &vcdc_sink_pgvector_ops;
        snprintf(sink.name, sizeof(sink.name), "pgvector://test");
        for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                vcdc_sink_status_t got;
                vcdc_record_init(&rec);
                rec.id = strdup("id1");
                rec.dim = cases[i].dim;
                if (rec.dim) {
                        rec.vector = calloc(rec.dim, sizeof(float));
                        rec.vector[0] = cases[i].v0;
                }
                rec.metadata = cases[i].metadata ? strdup(cases[i].metadata)
                                                 : NULL;
                rec.document = cases[i].document ? strdup(cases[i].document)
                                                 : NULL;
                errstr[0] = '\0';
                got = sink.ops->check(&sink, &rec, errstr, sizeof(errstr));
                if (got != cases[i].status)
                        fail_msg("case %zu: %s (%s), expected %s", i,
                                 vcdc_sink_status_name(got), errstr,
                                 vcdc_sink_status_name(cases[i].status));
                if (cases[i].why && !strstr(errstr, cases[i].why))
                        fail_msg("case %zu: \"%s\" does not say \"%s\"", i,
                                 errstr, cases[i].why);
                vcdc_record_clear(&rec);
        }
}

/* What vcdc_sink_new() refuses before connecting, and a refused
 * connection. */
static void test_open_refused(void **state) {
        static const struct {
                const char *url, *why;
        } cases[] = {
                {"pgvector://u@127.0.0.1:1/db?table=a-b", "not a valid table"},
                {"pgvector://u@127.0.0.1:1/db?table=vcdc_offsets",
                 "not a valid table"},
                {"pgvector://u@127.0.0.1:1/db?table=", "not a valid table"},
                {"pgvector://u@127.0.0.1:1/db?tabel=x", "unknown pgvector:// "
                                                        "parameter \"tabel\""},
                {"pgvector://u@127.0.0.1:1/db?metric=hamming",
                 "is not cosine, l2 or ip"},
                {"pgvector://u@127.0.0.1:1/db?copy=sometimes",
                 "?copy=sometimes: not auto, always or never"},
                /* Nothing listens on port 1. */
                {"pgvector://u@127.0.0.1:1/db?table=t&sslmode=disable",
                 "cannot connect"},
        };
        vcdc_sink_conf_t conf = {.metric = VCDC_METRIC_L2, .timeout_ms = 2000};
        char errstr[512];
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                errstr[0] = '\0';
                assert_null(vcdc_sink_new(cases[i].url, NULL, errstr,
                                          sizeof(errstr)));
                if (!strstr(errstr, cases[i].why))
                        fail_msg("%s: \"%s\" does not say \"%s\"",
                                 cases[i].url, errstr, cases[i].why);
        }
        /* ?metric= must agree with conf.metric. */
        assert_null(vcdc_sink_new("pgvector://u@127.0.0.1:1/db?metric=ip",
                                  &conf, errstr, sizeof(errstr)));
        assert_non_null(strstr(errstr, "disagrees"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_ident),
                cmocka_unit_test(test_quote_ident),
                cmocka_unit_test(test_vector_format),
                cmocka_unit_test(test_vector_format_invalid),
                cmocka_unit_test(test_vector_roundtrip),
                cmocka_unit_test(test_vector_binary),
                cmocka_unit_test(test_vector_parse),
                cmocka_unit_test(test_text_array),
                cmocka_unit_test(test_upsert_sql),
                cmocka_unit_test(test_copy_frame),
                cmocka_unit_test(test_copy_row),
                cmocka_unit_test(test_copy_row_limits),
                cmocka_unit_test(test_copy_sql),
                cmocka_unit_test(test_fence_sql),
                cmocka_unit_test(test_fence_refused),
                cmocka_unit_test(test_statement_cnt),
                cmocka_unit_test(test_sqlstate),
                cmocka_unit_test(test_connect_status),
                cmocka_unit_test(test_sqlstate_smaller),
                cmocka_unit_test(test_json_compact),
                cmocka_unit_test(test_jsonb_check),
                cmocka_unit_test(test_jsonb_depth),
                cmocka_unit_test(test_check),
                cmocka_unit_test(test_open_refused),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
