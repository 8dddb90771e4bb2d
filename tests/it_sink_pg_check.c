/*
 * vcdc - integration test: the pgvector sink's check() against what a real
 * PostgreSQL 16 with pgvector refuses in vcdc's table (issue 14). The
 * consumer dead-letters what check() refuses before batching, so each
 * case is tried twice: written into the sink's table by plain libpq (the
 * server's verdict) and given to vcdc_sink_check(); the two must agree.
 * Also: vcdc_sink_target() names the table.
 *
 * Environment: see tests/it_pg.h. The table is it_check_<pid>_t, dropped
 * at the end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>

#include "it_pg.h"
#include "log.h"
#include "sink.h"
#include "sink_pgvector_int.h"

#define DIM 4

static char table[64];

static int setup(void **state) {
        (void)state;
        itpg_table(table, sizeof(table), "check", "t");
        if (!(itpg.conn = itpg_connect()))
                return -1;
        itpg_drop(table);
        return 0;
}

static int teardown(void **state) {
        (void)state;
        if (itpg.conn && PQstatus(itpg.conn) == CONNECTION_OK)
                itpg_drop(table);
        PQfinish(itpg.conn);
        return 0;
}

/* pgvector's text for v[0..dim): non-finite values as strtof() reads them
 * ("nan", "inf"), which pgvector then refuses itself. */
static char *vector_text(const float *v, size_t dim) {
        size_t size = dim * 20 + 3, n = 0, i;
        char *s = malloc(size);

        s[n++] = '[';
        for (i = 0; i < dim; i++)
                n += (size_t)snprintf(s + n, size - n, "%s%.9g", i ? "," : "",
                                      (double)v[i]);
        snprintf(s + n, size - n, "]");
        return s;
}

/* The server's verdict on rec, written into the table by plain libpq in a
 * transaction rolled back: 1 taken, 0 refused (*sqlstate set). */
static int server_takes(const vcdc_record_t *rec, char *sqlstate) {
        const char *params[4];
        char q[256], *vec = vector_text(rec->vector, rec->dim);
        PGresult *res;
        int ok;

        params[0] = rec->id;
        params[1] = vec;
        params[2] = rec->metadata;
        params[3] = rec->document;
        PQclear(itpg_sql(itpg.conn, "BEGIN"));
        snprintf(q, sizeof(q),
                 "INSERT INTO \"%s\" (id, embedding, metadata, document) "
                 "VALUES ($1, $2::vector, $3::jsonb, $4)",
                 table);
        res = PQexecParams(itpg.conn, q, 4, NULL, params, NULL, NULL, 0);
        ok = PQresultStatus(res) == PGRES_COMMAND_OK;
        snprintf(sqlstate, 6, "%s",
                 ok ? "" : PQresultErrorField(res, PG_DIAG_SQLSTATE));
        PQclear(res);
        PQclear(itpg_sql(itpg.conn, "ROLLBACK"));
        free(vec);
        return ok;
}

/* head, then unit times times, then tail. */
static char *repeat(const char *unit, size_t times, const char *head,
                    const char *tail) {
        size_t ul = strlen(unit), hl = strlen(head), tl = strlen(tail);
        char *s = malloc(hl + ul * times + tl + 1), *p = s;
        size_t i;

        memcpy(p, head, hl);
        p += hl;
        for (i = 0; i < times; i++, p += ul)
                memcpy(p, unit, ul);
        memcpy(p, tail, tl + 1);
        return s;
}

/* An id of n hex digits no compressor shortens. */
static char *random_id(size_t n) {
        char *s = malloc(n + 1);
        uint32_t x = 2463534242u;
        size_t i;

        for (i = 0; i < n; i++) {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                s[i] = "0123456789abcdef"[x & 15];
        }
        s[n] = '\0';
        return s;
}

typedef struct check_case_s {
        const char *name;
        int takes; /* what the server does, and check() must predict */
        const char *metadata, *document;
        char *owned; /* metadata built at run time */
} check_case_t;

static void run_case(vcdc_sink_t *sink, vcdc_record_t *rec, const char *name,
                     int takes, int *failures) {
        char sqlstate[6], errstr[512];
        vcdc_sink_status_t st;
        int server;

        server = server_takes(rec, sqlstate);
        st = vcdc_sink_check(sink, rec, errstr, sizeof(errstr));
        fprintf(stderr, "  %-34s server %s%s%s, check %s%s%.120s\n", name,
                server ? "takes it" : "refuses it", server ? "" : " SQLSTATE ",
                sqlstate, vcdc_sink_status_name(st), st ? ": " : "",
                st ? errstr : "");
        if (server != takes) {
                fprintf(stderr, "    the server was expected to %s it\n",
                        takes ? "take" : "refuse");
                (*failures)++;
        }
        if ((st == VCDC_SINK_OK) != server) {
                fprintf(stderr, "    check() disagrees with the server\n");
                (*failures)++;
        }
}

/*
 * Each case: the server's verdict, and check() agreeing with it. The
 * record is a 4-d upsert; the case sets its metadata, document, id or
 * vector.
 */
static void test_check_complete(void **state) {
        check_case_t cases[] = {
                {"plain", 1, "{\"a\":1}", "doc", NULL},
                {"\\u0000 in a value", 0, "{\"a\":\"x\\u0000y\"}", NULL, NULL},
                {"\\u0000 in a key", 0, "{\"\\u0000\":1}", NULL, NULL},
                {"lone high surrogate", 0, "{\"a\":\"\\ud800\"}", NULL, NULL},
                {"lone low surrogate", 0, "{\"a\":\"\\udc00\"}", NULL, NULL},
                {"surrogate pair", 1, "{\"a\":\"\\ud83d\\ude00\"}", NULL, NULL},
                {"noncharacter \\uffff", 1, "{\"a\":\"\\uffff\"}", NULL, NULL},
                {"invalid UTF-8 in metadata", 0, "{\"a\":\"\xc3\x28\"}", NULL,
                 NULL},
                {"raw control character", 0, "{\"a\":\"x\ty\"}", NULL, NULL},
                {"integer beyond 64 bits", 1,
                 "{\"a\":123456789012345678901234567890}", NULL, NULL},
                {"1e1000", 1, "{\"a\":1e1000}", NULL, NULL},
                {"1e131071", 1, "{\"a\":1e131071}", NULL, NULL},
                {"1e131072", 0, "{\"a\":1e131072}", NULL, NULL},
                {"1e-16383", 1, "{\"a\":1e-16383}", NULL, NULL},
                {"1e-16384", 0, "{\"a\":1e-16384}", NULL, NULL},
                {"10e-16384", 0, "{\"a\":10e-16384}", NULL, NULL},
                {"0.5e-16383", 0, "{\"a\":0.5e-16383}", NULL, NULL},
                {"0e-99999", 0, "{\"a\":0e-99999}", NULL, NULL},
                {"0e99999", 1, "{\"a\":0e99999}", NULL, NULL},
                {"0e9999999999", 0, "{\"a\":0e9999999999}", NULL, NULL},
                {"-0.0E-0", 1, "{\"a\":-0.0E-0}", NULL, NULL},
                {"leading zero", 0, "{\"a\":01}", NULL, NULL},
                {"trailing comma", 0, "{\"a\":1,}", NULL, NULL},
                {"nested 2048 deep", 1, NULL, NULL, NULL},
                {"invalid UTF-8 in the document", 0, NULL, "caf\xc3", NULL},
        };
        vcdc_record_t rec;
        vcdc_sink_t *sink;
        char errstr[512];
        int failures = 0;
        size_t i;

        (void)state;
        sink = itpg_open(table);
        itpg_rec(&rec, 0, DIM, 0);
        {
                vcdc_sink_offset_t off = {0, 1};
                assert_int_equal(itpg_apply(sink, &rec, 1, NULL, 0, &off, 1, 0,
                                            errstr, sizeof(errstr)),
                                 VCDC_SINK_OK);
        }
        vcdc_record_clear(&rec);
        for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                char *open;
                if (strcmp(cases[i].name, "nested 2048 deep"))
                        continue;
                open = repeat("{\"a\":", VCDC_PGVECTOR_JSON_DEPTH_MAX, "", "1");
                cases[i].owned =
                        repeat("}", VCDC_PGVECTOR_JSON_DEPTH_MAX, open, "");
                free(open);
        }
        for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                itpg_rec(&rec, 1, DIM, 0);
                free(rec.metadata);
                rec.metadata = NULL;
                if (cases[i].owned || cases[i].metadata)
                        rec.metadata =
                                strdup(cases[i].owned ? cases[i].owned
                                                      : cases[i].metadata);
                if (cases[i].document)
                        rec.document = strdup(cases[i].document);
                run_case(sink, &rec, cases[i].name, cases[i].takes, &failures);
                vcdc_record_clear(&rec);
                free(cases[i].owned);
        }

        /* Ids: the primary key's btree holds 2,704 bytes an entry. */
        itpg_rec(&rec, 1, DIM, 0);
        free(rec.id);
        rec.id = random_id(VCDC_PGVECTOR_ID_BYTES_MAX);
        run_case(sink, &rec, "id of 2692 random bytes", 1, &failures);
        free(rec.id);
        rec.id = random_id(VCDC_PGVECTOR_ID_BYTES_MAX + 1);
        run_case(sink, &rec, "id of 2693 random bytes", 0, &failures);
        free(rec.id);
        rec.id = strdup("caf\xc3");
        run_case(sink, &rec, "invalid UTF-8 in the id", 0, &failures);
        vcdc_record_clear(&rec);

        /* Vectors: the table's dimension, finite floats. */
        itpg_rec(&rec, 1, 2 * DIM, 0);
        run_case(sink, &rec, "dimension 8 into vector(4)", 0, &failures);
        vcdc_record_clear(&rec);
        itpg_rec(&rec, 1, DIM, 0);
        rec.vector[1] = NAN;
        run_case(sink, &rec, "NaN", 0, &failures);
        rec.vector[1] = INFINITY;
        run_case(sink, &rec, "infinity", 0, &failures);
        vcdc_record_clear(&rec);

        /* A delete's id goes into a text[]. */
        {
                static const char *const ids[] = {"id-1", "caf\xc3"};
                for (i = 0; i < 2; i++) {
                        char literal[64], sqlstate[6] = "";
                        const char *params[1] = {literal};
                        PGresult *res;
                        int server;

                        snprintf(literal, sizeof(literal), "{\"%s\"}", ids[i]);
                        snprintf(errstr, sizeof(errstr),
                                 "DELETE FROM \"%s\" WHERE id = "
                                 "ANY($1::text[])",
                                 table);
                        res = PQexecParams(itpg.conn, errstr, 1, NULL, params,
                                           NULL, NULL, 0);
                        server = PQresultStatus(res) == PGRES_COMMAND_OK;
                        if (!server)
                                snprintf(sqlstate, sizeof(sqlstate), "%s",
                                         PQresultErrorField(res,
                                                            PG_DIAG_SQLSTATE));
                        PQclear(res);
                        vcdc_record_init(&rec);
                        rec.op = VCDC_OP_DELETE;
                        rec.id = strdup(ids[i]);
                        fprintf(stderr, "  delete of %-24s server %s %s\n",
                                i ? "an invalid UTF-8 id" : "a plain id",
                                server ? "takes it" : "refuses it", sqlstate);
                        if (server != (i == 0) ||
                            (vcdc_sink_check(sink, &rec, errstr,
                                             sizeof(errstr)) == VCDC_SINK_OK) !=
                                    server)
                                failures++;
                        vcdc_record_clear(&rec);
                }
        }

        vcdc_sink_destroy(sink);
        assert_int_equal(failures, 0);
}

/* More than 16,000 dimensions: pgvector's vector type refuses them, and
 * so does check() (tried on the type, as no table has such a column). */
static void test_dimension_max(void **state) {
        float *v = calloc(VCDC_PGVECTOR_DIM_MAX + 1, sizeof(float));
        char *text, errstr[512], other[64];
        const char *params[1];
        vcdc_sink_t *sink;
        vcdc_record_t rec;
        PGresult *res;

        (void)state;
        text = vector_text(v, VCDC_PGVECTOR_DIM_MAX + 1);
        params[0] = text;
        res = PQexecParams(itpg.conn, "SELECT $1::vector", 1, NULL, params,
                           NULL, NULL, 0);
        assert_int_not_equal(PQresultStatus(res), PGRES_TUPLES_OK);
        fprintf(stderr, "  16001 dimensions: %s", PQresultErrorMessage(res));
        PQclear(res);
        free(text);

        itpg_table(other, sizeof(other), "check", "none"); /* never made */
        sink = itpg_open(other);
        vcdc_record_init(&rec);
        rec.id = strdup("x");
        rec.dim = VCDC_PGVECTOR_DIM_MAX + 1;
        rec.vector = v;
        assert_int_equal(vcdc_sink_check(sink, &rec, errstr, sizeof(errstr)),
                         VCDC_SINK_INVALID);
        rec.dim = VCDC_PGVECTOR_DIM_MAX;
        assert_int_equal(vcdc_sink_check(sink, &rec, errstr, sizeof(errstr)),
                         VCDC_SINK_OK);
        vcdc_record_clear(&rec);
        vcdc_sink_destroy(sink);
}

/* vcdc_sink_target(): the table the sink writes, as given in the URL. */
static void test_target(void **state) {
        vcdc_sink_t *sink;

        (void)state;
        sink = itpg_open(table);
        assert_string_equal(vcdc_sink_target(sink), table);
        vcdc_sink_destroy(sink);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_check_complete),
                cmocka_unit_test(test_dimension_max),
                cmocka_unit_test(test_target),
        };
        const char *level = getenv("VCDC_LOG_LEVEL");

        if (itpg_env() == -1) {
                fprintf(stderr, "it_sink_pg_check: skipped: set "
                                "VCDC_PG_CONNINFO or VCDC_PGVECTOR_URL to a "
                                "PostgreSQL server with pgvector\n");
                return 0;
        }
        if (level)
                vcdc_log_level = vcdc_log_level_parse(level);
        return cmocka_run_group_tests(tests, setup, teardown);
}
