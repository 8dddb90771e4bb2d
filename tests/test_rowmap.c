/*
 * vcdc - unit tests: a captured row as a change record
 * (capture/rowmap.h), and COPY BINARY rows as the snapshot reads them
 * (vcdc_snapshot_parse_copy). Valid and invalid rows side by side, each
 * refusal with its reason.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rowmap.h"
#include "snapshot.h"

static vcdc_rowmap_value_t text(const char *s) {
        vcdc_rowmap_value_t v = {0};

        if (s) {
                v.present = 1;
                v.data = s;
                v.len = strlen(s);
        }
        return v;
}

static void test_upsert_valid(void **state) {
        static const struct {
                const char *id, *vec, *md, *doc;
                size_t dim;
        } cases[] = {
                {"a1", "[1,2,3]", "{\"k\": 1}", "doc", 3},
                {"42", "[0.5]", NULL, NULL, 1},
                {"9f1c8e4a-6b1d-4a5e-8f00-2b1d3c4e5f60", "[1e-07,-2]", " {}",
                 "", 2},
                {"ünï ℂødé/%", "[1]", "{\"a\": [1, {\"b\": null}]}", "x", 1},
        };
        vcdc_rowmap_t *rm = vcdc_rowmap_new("docs", VCDC_PGVEC_VECTOR);
        const vcdc_record_t *rec;
        vcdc_rowmap_row_t row;
        char errstr[256];
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                row.id = text(cases[i].id);
                row.vector = text(cases[i].vec);
                row.metadata = text(cases[i].md);
                row.document = text(cases[i].doc);
                if (vcdc_rowmap_upsert(rm, &row, 17, &rec, errstr,
                                       sizeof(errstr)) != VCDC_ROWMAP_OK)
                        fail_msg("case %zu refused: %s", i, errstr);
                assert_int_equal(rec->op, VCDC_OP_UPSERT);
                assert_string_equal(rec->collection, "docs");
                assert_string_equal(rec->id, cases[i].id);
                assert_int_equal(rec->dim, cases[i].dim);
                assert_true(rec->source_ts_ms == 17);
                if (cases[i].md)
                        assert_string_equal(rec->metadata, cases[i].md);
                else
                        assert_null(rec->metadata);
                if (cases[i].doc)
                        assert_string_equal(rec->document, cases[i].doc);
                else
                        assert_null(rec->document);
        }
        vcdc_rowmap_destroy(rm);
}

static void test_upsert_invalid(void **state) {
        static const struct {
                const char *id, *vec, *md;
                const char *expect;
        } cases[] = {
                {NULL, "[1]", NULL, "the id is NULL"},
                {"", "[1]", NULL, "id"},
                {"a", NULL, NULL, "the vector is NULL"},
                {"a", "[]", NULL, "the vector: vector is empty"},
                {"a", "[1,NaN]", NULL, "element 2"},
                {"a", "{1:1}/2", NULL, "does not start with '['"},
                {"a", "[1]", "[1,2]", "metadata is not a JSON object"},
                {"a", "[1]", "\"s\"", "metadata is not a JSON object"},
                {"a", "[1]", "null", "(\"null\")"},
                {"a", "[1]", "", "metadata is not a JSON object"},
                {"\xff\xfe", "[1]", NULL, "UTF-8"},
        };
        vcdc_rowmap_t *rm = vcdc_rowmap_new("docs", VCDC_PGVEC_VECTOR);
        const vcdc_record_t *rec = NULL;
        vcdc_rowmap_row_t row;
        char errstr[256], long_id[600];
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                row.id = text(cases[i].id);
                row.vector = text(cases[i].vec);
                row.metadata = text(cases[i].md);
                row.document = text(NULL);
                if (vcdc_rowmap_upsert(rm, &row, -1, &rec, errstr,
                                       sizeof(errstr)) != VCDC_ROWMAP_BAD)
                        fail_msg("case %zu accepted", i);
                if (!strstr(errstr, cases[i].expect))
                        fail_msg("case %zu: \"%s\" lacks \"%s\"", i, errstr,
                                 cases[i].expect);
                /* No record handed out on failure. */
                assert_null(rec);
        }
        /* Ids beyond VCDC_ID_MAX_BYTES and ids holding NUL. */
        memset(long_id, 'x', sizeof(long_id) - 1);
        long_id[sizeof(long_id) - 1] = '\0';
        row.id = text(long_id);
        row.vector = text("[1]");
        row.metadata = row.document = text(NULL);
        assert_int_equal(
                vcdc_rowmap_upsert(rm, &row, -1, &rec, errstr, sizeof(errstr)),
                VCDC_ROWMAP_BAD);
        row.id.data = "a\0b";
        row.id.len = 3;
        assert_int_equal(
                vcdc_rowmap_upsert(rm, &row, -1, &rec, errstr, sizeof(errstr)),
                VCDC_ROWMAP_BAD);
        assert_non_null(strstr(errstr, "NUL"));
        assert_null(rec);
        vcdc_rowmap_destroy(rm);
}

static void test_binary_vector_and_delete(void **state) {
        /* halfvec_send of [1, -2]. */
        static const char half[] = {0, 2, 0, 0, 0x3c, 0, (char)0xc0, 0};
        vcdc_rowmap_t *rm = vcdc_rowmap_new("c", VCDC_PGVEC_HALFVEC);
        vcdc_rowmap_row_t row = {0};
        vcdc_rowmap_value_t a = text("x"), b = text("x"), c = text("y");
        const vcdc_record_t *rec;
        char errstr[256], excerpt[80];

        (void)state;
        row.id = text("h");
        row.vector.present = row.vector.binary = 1;
        row.vector.data = half;
        row.vector.len = sizeof(half);
        assert_int_equal(
                vcdc_rowmap_upsert(rm, &row, -1, &rec, errstr, sizeof(errstr)),
                VCDC_ROWMAP_OK);
        assert_int_equal(rec->dim, 2);
        assert_true(rec->vector[0] == 1.0f && rec->vector[1] == -2.0f);

        assert_int_equal(vcdc_rowmap_delete(rm, &row.id, 5, &rec, errstr,
                                            sizeof(errstr)),
                         VCDC_ROWMAP_OK);
        assert_int_equal(rec->op, VCDC_OP_DELETE);
        assert_string_equal(rec->id, "h");
        assert_null(rec->vector);
        assert_true(rec->source_ts_ms == 5);
        row.id = text(NULL);
        assert_int_equal(vcdc_rowmap_delete(rm, &row.id, 5, &rec, errstr,
                                            sizeof(errstr)),
                         VCDC_ROWMAP_BAD);
        vcdc_rowmap_destroy(rm);

        assert_true(vcdc_rowmap_id_equal(&a, &b));
        assert_false(vcdc_rowmap_id_equal(&a, &c));
        assert_false(vcdc_rowmap_id_equal(&a, &row.id));
        vcdc_rowmap_id_excerpt(&row.id, excerpt, sizeof(excerpt));
        assert_string_equal(excerpt, "NULL");
        a = text("a\tb");
        vcdc_rowmap_id_excerpt(&a, excerpt, sizeof(excerpt));
        assert_string_equal(excerpt, "a?b");
}

/* Ids pgoutput sends in binary: the text id::text would give. */
static void test_binary_ids(void **state) {
        static const struct {
                const char *bytes;
                size_t len;
                const char *text;
        } ints[] = {
                {"\x00\x2a", 2, "42"},
                {"\xff\xff", 2, "-1"},
                {"\x80\x00", 2, "-32768"},
                {"\x7f\xff\xff\xff", 4, "2147483647"},
                {"\x80\x00\x00\x00", 4, "-2147483648"},
                {"\x00\x00\x00\x00\x00\x00\x00\x00", 8, "0"},
                {"\x80\x00\x00\x00\x00\x00\x00\x00", 8, "-9223372036854775808"},
                {"\x7f\xff\xff\xff\xff\xff\xff\xff", 8, "9223372036854775807"},
        };
        static const char uuid[16] = {0x9f, 0x1c, 0x8e, 0x4a, 0x6b, 0x1d,
                                      0x4a, 0x5e, 0x8f, 0x00, 0x2b, 0x1d,
                                      0x3c, 0x4e, 0x5f, 0x60};
        char out[VCDC_ROWMAP_ID_TEXT_MAX];
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(ints) / sizeof(*ints); i++) {
                assert_int_equal(
                        vcdc_rowmap_int_text(ints[i].bytes, ints[i].len, out),
                        strlen(ints[i].text));
                assert_string_equal(out, ints[i].text);
        }
        assert_int_equal(vcdc_rowmap_int_text("\x01\x02\x03", 3, out), 0);
        assert_int_equal(vcdc_rowmap_int_text("", 0, out), 0);
        assert_int_equal(vcdc_rowmap_uuid_text(uuid, 16, out), 36);
        assert_string_equal(out, "9f1c8e4a-6b1d-4a5e-8f00-2b1d3c4e5f60");
        assert_int_equal(vcdc_rowmap_uuid_text(uuid, 15, out), 0);
}

/* COPY BINARY: builds messages and counts the rows the parser hands on. */
typedef struct copybuf_s {
        char b[512];
        size_t n;
} copybuf_t;

static void put(copybuf_t *c, const void *p, size_t len) {
        memcpy(c->b + c->n, p, len);
        c->n += len;
}

static void put32(copybuf_t *c, uint32_t v) {
        unsigned char b[4] = {v >> 24, v >> 16 & 0xff, v >> 8 & 0xff, v & 0xff};
        put(c, b, 4);
}

static void put16(copybuf_t *c, int v) {
        unsigned char b[2] = {(unsigned)v >> 8 & 0xff, (unsigned)v & 0xff};
        put(c, b, 2);
}

static void put_header(copybuf_t *c) {
        put(c, "PGCOPY\n\377\r\n", 11);
        put32(c, 0);
        put32(c, 0);
}

static void put_row(copybuf_t *c, const char *id) {
        static const char vec[] = {0, 1, 0, 0, 0x3f, (char)0x80, 0, 0};

        put16(c, 4);
        put32(c, (uint32_t)strlen(id));
        put(c, id, strlen(id));
        put32(c, sizeof(vec));
        put(c, vec, sizeof(vec));
        put32(c, 0xffffffffu);
        put32(c, 3);
        put(c, "doc", 3);
}

typedef struct seen_s {
        int rows;
        char last[32];
} seen_t;

static int on_row(void *opaque, const vcdc_rowmap_row_t *row) {
        seen_t *seen = opaque;

        assert_true(row->vector.binary);
        assert_false(row->metadata.present);
        assert_int_equal(row->document.len, 3);
        snprintf(seen->last, sizeof(seen->last), "%.*s", (int)row->id.len,
                 row->id.data);
        return ++seen->rows == 99 ? 7 : 0;
}

static void test_copy_binary(void **state) {
        copybuf_t c = {0};
        seen_t seen = {0};
        uint64_t rows = 0;
        int header = 0, end = 0;
        char errstr[256];

        (void)state;
        /* The first message: header and a row; then a row; then the
         * trailer on its own. */
        put_header(&c);
        put_row(&c, "r1");
        assert_int_equal(vcdc_snapshot_parse_copy(c.b, c.n, &header, &end,
                                                  on_row, &seen, &rows, errstr,
                                                  sizeof(errstr)),
                         0);
        c.n = 0;
        put_row(&c, "r2");
        assert_int_equal(vcdc_snapshot_parse_copy(c.b, c.n, &header, &end,
                                                  on_row, &seen, &rows, errstr,
                                                  sizeof(errstr)),
                         0);
        assert_string_equal(seen.last, "r2");
        c.n = 0;
        put16(&c, -1);
        assert_int_equal(vcdc_snapshot_parse_copy(c.b, c.n, &header, &end,
                                                  on_row, &seen, &rows, errstr,
                                                  sizeof(errstr)),
                         0);
        assert_true(end);
        assert_true(rows == 2);

        /* An empty table: header and trailer in one message. */
        c.n = 0;
        header = end = 0;
        put_header(&c);
        put16(&c, -1);
        assert_int_equal(vcdc_snapshot_parse_copy(c.b, c.n, &header, &end,
                                                  on_row, &seen, &rows, errstr,
                                                  sizeof(errstr)),
                         0);
        assert_true(end);

        /* A callback's answer stops the parse and comes back. */
        seen.rows = 98;
        c.n = 0;
        put_row(&c, "r3");
        put_row(&c, "r4");
        header = 1;
        end = 0;
        assert_int_equal(vcdc_snapshot_parse_copy(c.b, c.n, &header, &end,
                                                  on_row, &seen, &rows, errstr,
                                                  sizeof(errstr)),
                         7);
        assert_string_equal(seen.last, "r3");
}

static void test_copy_binary_invalid(void **state) {
        copybuf_t c = {0};
        seen_t seen = {0};
        uint64_t rows = 0;
        int header, end;
        char errstr[256];
        size_t cut, full;

        (void)state;
        /* No header where one is due. */
        put_row(&c, "r1");
        header = end = 0;
        assert_int_equal(vcdc_snapshot_parse_copy(c.b, c.n, &header, &end,
                                                  on_row, &seen, &rows, errstr,
                                                  sizeof(errstr)),
                         -1);
        assert_non_null(strstr(errstr, "without its header"));
        /* Every cut of a row is refused, never read past. */
        full = c.n;
        for (cut = 1; cut < full; cut++) {
                char *copy = malloc(cut);
                memcpy(copy, c.b, cut);
                header = 1;
                end = 0;
                if (vcdc_snapshot_parse_copy(copy, cut, &header, &end, on_row,
                                             &seen, &rows, errstr,
                                             sizeof(errstr)) != -1)
                        fail_msg("row cut to %zu bytes accepted", cut);
                free(copy);
        }
        /* A row of 3 fields; data after the trailer. */
        c.n = 0;
        put16(&c, 3);
        header = 1;
        end = 0;
        assert_int_equal(vcdc_snapshot_parse_copy(c.b, c.n, &header, &end,
                                                  on_row, &seen, &rows, errstr,
                                                  sizeof(errstr)),
                         -1);
        assert_non_null(strstr(errstr, "row of 3 fields"));
        c.n = 0;
        put16(&c, -1);
        put_row(&c, "late");
        end = 0;
        assert_int_equal(vcdc_snapshot_parse_copy(c.b, c.n, &header, &end,
                                                  on_row, &seen, &rows, errstr,
                                                  sizeof(errstr)),
                         -1);
        assert_non_null(strstr(errstr, "after its trailer"));
        /* A header extension longer than the message. */
        c.n = 0;
        put(&c, "PGCOPY\n\377\r\n", 11);
        put32(&c, 0);
        put32(&c, 100);
        header = 0;
        assert_int_equal(vcdc_snapshot_parse_copy(c.b, c.n, &header, &end,
                                                  on_row, &seen, &rows, errstr,
                                                  sizeof(errstr)),
                         -1);
        assert_non_null(strstr(errstr, "extension"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_upsert_valid),
                cmocka_unit_test(test_upsert_invalid),
                cmocka_unit_test(test_binary_vector_and_delete),
                cmocka_unit_test(test_binary_ids),
                cmocka_unit_test(test_copy_binary),
                cmocka_unit_test(test_copy_binary_invalid),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
