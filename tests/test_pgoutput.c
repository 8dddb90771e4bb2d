/*
 * vcdc - unit tests: the pgoutput protocol v1 decoder (capture/pgoutput.h).
 * Messages are built here byte by byte from the documented formats; valid
 * ones are checked field by field, invalid ones side by side with the
 * reason expected, and every valid message cut short or given a trailing
 * byte must be refused (a malformed-input sweep).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgoutput.h"

typedef struct msgbuf_s {
        unsigned char b[8192];
        size_t n;
} msgbuf_t;

static void put8(msgbuf_t *m, unsigned v) {
        m->b[m->n++] = (unsigned char)v;
}

static void put16(msgbuf_t *m, unsigned v) {
        put8(m, v >> 8 & 0xff);
        put8(m, v & 0xff);
}

static void put32(msgbuf_t *m, uint32_t v) {
        put16(m, v >> 16);
        put16(m, v & 0xffff);
}

static void put64(msgbuf_t *m, uint64_t v) {
        put32(m, (uint32_t)(v >> 32));
        put32(m, (uint32_t)v);
}

static void putstr(msgbuf_t *m, const char *s) {
        size_t len = strlen(s) + 1;

        memcpy(m->b + m->n, s, len);
        m->n += len;
}

static void putval(msgbuf_t *m, char kind, const char *s) {
        put8(m, (unsigned char)kind);
        if (kind == 't' || kind == 'b') {
                put32(m, (uint32_t)strlen(s));
                memcpy(m->b + m->n, s, strlen(s));
                m->n += strlen(s);
        }
}

/* The message kinds the sweep and the valid tests share. */
enum {
        M_BEGIN,
        M_COMMIT,
        M_ORIGIN,
        M_RELATION,
        M_TYPE,
        M_INSERT,
        M_UPDATE,
        M_UPDATE_K,
        M_UPDATE_O,
        M_DELETE_K,
        M_DELETE_O,
        M_TRUNCATE,
        M_MESSAGE,
        M_COUNT
};

static void build(int which, msgbuf_t *m) {
        m->n = 0;
        switch (which) {
        case M_BEGIN:
                put8(m, 'B');
                put64(m, 0x16B3748ULL);
                put64(m, 760000000000000ULL);
                put32(m, 734);
                break;
        case M_COMMIT:
                put8(m, 'C');
                put8(m, 0);
                put64(m, 0x16B3748ULL);
                put64(m, 0x16B3778ULL);
                put64(m, 760000000000001ULL);
                break;
        case M_ORIGIN:
                put8(m, 'O');
                put64(m, 0x1000);
                putstr(m, "node_a");
                break;
        case M_RELATION:
                put8(m, 'R');
                put32(m, 16712);
                putstr(m, "public");
                putstr(m, "docs");
                put8(m, 'd');
                put16(m, 4);
                put8(m, 1);
                putstr(m, "id");
                put32(m, 25);
                put32(m, 0xffffffffu);
                put8(m, 0);
                putstr(m, "embedding");
                put32(m, 16385);
                put32(m, 3);
                put8(m, 0);
                putstr(m, "metadata");
                put32(m, 3802);
                put32(m, 0xffffffffu);
                put8(m, 0);
                putstr(m, "document");
                put32(m, 25);
                put32(m, 0xffffffffu);
                break;
        case M_TYPE:
                put8(m, 'Y');
                put32(m, 16385);
                putstr(m, "public");
                putstr(m, "vector");
                break;
        case M_INSERT:
                put8(m, 'I');
                put32(m, 16712);
                put8(m, 'N');
                put16(m, 4);
                putval(m, 't', "a1");
                putval(m, 't', "[1,2,3]");
                putval(m, 'n', NULL);
                putval(m, 'b', "doc");
                break;
        case M_UPDATE:
                put8(m, 'U');
                put32(m, 16712);
                put8(m, 'N');
                put16(m, 4);
                putval(m, 't', "a1");
                putval(m, 'u', NULL);
                putval(m, 't', "{\"k\": 1}");
                putval(m, 'n', NULL);
                break;
        case M_UPDATE_K:
        case M_UPDATE_O:
                put8(m, 'U');
                put32(m, 16712);
                put8(m, which == M_UPDATE_K ? 'K' : 'O');
                put16(m, 4);
                putval(m, 't', "old");
                if (which == M_UPDATE_K) {
                        putval(m, 'n', NULL);
                        putval(m, 'n', NULL);
                } else {
                        putval(m, 't', "[4,5,6]");
                        putval(m, 't', "{}");
                }
                putval(m, 'n', NULL);
                put8(m, 'N');
                put16(m, 4);
                putval(m, 't', "new");
                putval(m, 'u', NULL);
                putval(m, 't', "{}");
                putval(m, 'n', NULL);
                break;
        case M_DELETE_K:
        case M_DELETE_O:
                put8(m, 'D');
                put32(m, 16712);
                put8(m, which == M_DELETE_K ? 'K' : 'O');
                put16(m, 2);
                putval(m, 't', "gone");
                putval(m, which == M_DELETE_K ? 'n' : 't', "[1]");
                break;
        case M_TRUNCATE:
                put8(m, 'T');
                put32(m, 2);
                put8(m, 1);
                put32(m, 16712);
                put32(m, 16800);
                break;
        case M_MESSAGE:
                put8(m, 'M');
                put8(m, 1);
                put64(m, 0x2000);
                putstr(m, "vcdc");
                put32(m, 5);
                memcpy(m->b + m->n, "hello", 5);
                m->n += 5;
                break;
        }
}

static void decode_ok(vcdc_pgoutput_t *dec, const msgbuf_t *m,
                      vcdc_pgoutput_msg_t *msg) {
        char errstr[256];

        if (vcdc_pgoutput_decode(dec, (const char *)m->b, m->n, msg, errstr,
                                 sizeof(errstr)) == -1)
                fail_msg("valid message refused: %s", errstr);
}

static void check_value(const vcdc_pgoutput_value_t *v, char kind,
                        const char *text) {
        assert_int_equal(v->kind, kind);
        if (text) {
                assert_int_equal(v->len, strlen(text));
                assert_memory_equal(v->data, text, v->len);
        }
}

static void test_transaction_messages(void **state) {
        vcdc_pgoutput_t *dec = vcdc_pgoutput_new();
        vcdc_pgoutput_msg_t msg;
        msgbuf_t m;

        (void)state;
        build(M_BEGIN, &m);
        decode_ok(dec, &m, &msg);
        assert_int_equal(msg.type, VCDC_PGO_BEGIN);
        assert_true(msg.lsn == 0x16B3748ULL);
        assert_true(msg.ts_us == 760000000000000LL);
        assert_int_equal(msg.xid, 734);

        build(M_COMMIT, &m);
        decode_ok(dec, &m, &msg);
        assert_int_equal(msg.type, VCDC_PGO_COMMIT);
        assert_true(msg.lsn == 0x16B3748ULL && msg.end_lsn == 0x16B3778ULL);
        assert_true(msg.ts_us == 760000000000001LL);

        build(M_ORIGIN, &m);
        decode_ok(dec, &m, &msg);
        assert_true(msg.lsn == 0x1000);
        assert_string_equal(msg.name, "node_a");

        build(M_MESSAGE, &m);
        decode_ok(dec, &m, &msg);
        assert_int_equal(msg.flags, 1);
        assert_string_equal(msg.name, "vcdc");
        assert_int_equal(msg.content_len, 5);
        assert_memory_equal(msg.content, "hello", 5);

        build(M_TYPE, &m);
        decode_ok(dec, &m, &msg);
        assert_int_equal(msg.oid, 16385);
        assert_string_equal(msg.nspname, "public");
        assert_string_equal(msg.name, "vector");
        vcdc_pgoutput_destroy(dec);
}

static void test_relation(void **state) {
        vcdc_pgoutput_t *dec = vcdc_pgoutput_new();
        vcdc_pgoutput_msg_t msg;
        msgbuf_t m;

        (void)state;
        build(M_RELATION, &m);
        decode_ok(dec, &m, &msg);
        assert_int_equal(msg.type, VCDC_PGO_RELATION);
        assert_int_equal(msg.oid, 16712);
        assert_string_equal(msg.nspname, "public");
        assert_string_equal(msg.name, "docs");
        assert_int_equal(msg.replident, 'd');
        assert_int_equal(msg.ncols, 4);
        assert_true(msg.cols[0].key);
        assert_string_equal(msg.cols[0].name, "id");
        assert_int_equal(msg.cols[0].type_oid, 25);
        assert_int_equal(msg.cols[0].typmod, -1);
        assert_false(msg.cols[1].key);
        assert_string_equal(msg.cols[1].name, "embedding");
        assert_int_equal(msg.cols[1].typmod, 3);
        assert_string_equal(msg.cols[3].name, "document");

        /* A table of no columns is a valid relation. */
        m.n = 0;
        put8(&m, 'R');
        put32(&m, 1);
        putstr(&m, "");
        putstr(&m, "empty");
        put8(&m, 'n');
        put16(&m, 0);
        decode_ok(dec, &m, &msg);
        assert_int_equal(msg.ncols, 0);
        assert_string_equal(msg.nspname, "");
        vcdc_pgoutput_destroy(dec);
}

static void test_changes(void **state) {
        vcdc_pgoutput_t *dec = vcdc_pgoutput_new();
        vcdc_pgoutput_msg_t msg;
        msgbuf_t m;

        (void)state;
        build(M_INSERT, &m);
        decode_ok(dec, &m, &msg);
        assert_int_equal(msg.type, VCDC_PGO_INSERT);
        assert_int_equal(msg.oid, 16712);
        assert_int_equal(msg.old_kind, 0);
        assert_int_equal(msg.new_tuple.ncols, 4);
        check_value(&msg.new_tuple.cols[0], 't', "a1");
        check_value(&msg.new_tuple.cols[1], 't', "[1,2,3]");
        check_value(&msg.new_tuple.cols[2], 'n', NULL);
        check_value(&msg.new_tuple.cols[3], 'b', "doc");

        build(M_UPDATE, &m);
        decode_ok(dec, &m, &msg);
        assert_int_equal(msg.type, VCDC_PGO_UPDATE);
        assert_int_equal(msg.old_kind, 0);
        check_value(&msg.new_tuple.cols[1], 'u', NULL);
        check_value(&msg.new_tuple.cols[2], 't', "{\"k\": 1}");

        build(M_UPDATE_K, &m);
        decode_ok(dec, &m, &msg);
        assert_int_equal(msg.old_kind, 'K');
        check_value(&msg.old_tuple.cols[0], 't', "old");
        check_value(&msg.old_tuple.cols[1], 'n', NULL);
        check_value(&msg.new_tuple.cols[0], 't', "new");

        /* Old and new tuples live apart: both readable at once. */
        build(M_UPDATE_O, &m);
        decode_ok(dec, &m, &msg);
        assert_int_equal(msg.old_kind, 'O');
        check_value(&msg.old_tuple.cols[1], 't', "[4,5,6]");
        check_value(&msg.new_tuple.cols[1], 'u', NULL);

        build(M_DELETE_K, &m);
        decode_ok(dec, &m, &msg);
        assert_int_equal(msg.type, VCDC_PGO_DELETE);
        assert_int_equal(msg.old_kind, 'K');
        assert_int_equal(msg.old_tuple.ncols, 2);
        check_value(&msg.old_tuple.cols[0], 't', "gone");

        build(M_DELETE_O, &m);
        decode_ok(dec, &m, &msg);
        assert_int_equal(msg.old_kind, 'O');
        check_value(&msg.old_tuple.cols[1], 't', "[1]");

        build(M_TRUNCATE, &m);
        decode_ok(dec, &m, &msg);
        assert_int_equal(msg.type, VCDC_PGO_TRUNCATE);
        assert_int_equal(msg.flags, 1);
        assert_int_equal(msg.nrelids, 2);
        assert_int_equal(msg.relids[0], 16712);
        assert_int_equal(msg.relids[1], 16800);
        vcdc_pgoutput_destroy(dec);
}

/* Invalid messages, each with the reason the error must give. */
static void test_invalid(void **state) {
        static const struct {
                const char *bytes;
                size_t len;
                const char *expect;
        } cases[] = {
                {"", 0, "empty message"},
                {"S\0\0\0\1", 5, "unknown type 0x53 ('S')"},
                {"A", 1, "unknown type"},
                {"\xff", 1, "unknown type 0xff ('?')"},
                {"B\0\0\0", 4, "Begin message of 4 bytes: truncated Begin"},
                /* Insert: a column kind that does not exist. */
                {"I\0\0\0\1N\0\1x", 9, "unknown column kind at byte 8"},
                /* Insert: a text value longer than what is left. */
                {"I\0\0\0\1N\0\1t\0\0\0\5ab", 15,
                 "column value longer than the message"},
                {"I\0\0\0\1X\0\0", 8, "expected 'N' at byte 5"},
                {"I\0\0\0\1", 5, "missing tuple tag"},
                {"U\0\0\0\1K\0\0X\0\0", 11, "expected 'N' at byte 8"},
                {"U\0\0\0\1K\0\0", 8, "missing new tuple tag"},
                {"D\0\0\0\1N\0\0", 8, "expected 'K' or 'O' at byte 5"},
                /* More columns than any table has. */
                {"I\0\0\0\1N\x06\x81", 8, "too many columns"},
                {"R\0\0\0\1p\0t\0d\x06\x81", 12, "too many columns"},
                /* A string without its NUL. */
                {"R\0\0\0\1public", 11, "truncated relation"},
                {"Y\0\0\0\1pg", 7, "truncated Type"},
                {"T\xff\xff\xff\xff\0", 6, "relation count beyond the message"},
                {"T\0\0\0\2\0\0\0\0\1", 10,
                 "relation count beyond the message"},
                {"M\1\0\0\0\0\0\0\0\1p\0\0\0\0\7abc", 19,
                 "content longer than the message"},
                {"C\0\0\0\0\0\0\0\0\1\0\0\0\0\0\0\0\2\0\0\0\0\0\0\0\3x", 27,
                 "trailing bytes at byte 26"},
        };
        vcdc_pgoutput_t *dec = vcdc_pgoutput_new();
        vcdc_pgoutput_msg_t msg;
        char errstr[256];
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                if (vcdc_pgoutput_decode(dec, cases[i].bytes, cases[i].len,
                                         &msg, errstr, sizeof(errstr)) != -1)
                        fail_msg("case %zu accepted", i);
                if (!strstr(errstr, cases[i].expect))
                        fail_msg("case %zu: \"%s\" lacks \"%s\"", i, errstr,
                                 cases[i].expect);
        }
        vcdc_pgoutput_destroy(dec);
}

/* Every valid message cut at every byte, or given one byte more, is
 * refused; the decoder reads nothing past the length it is given (the
 * bytes are copied to a buffer of exactly that size, which ASan and
 * valgrind watch). */
static void test_truncation_sweep(void **state) {
        vcdc_pgoutput_t *dec = vcdc_pgoutput_new();
        vcdc_pgoutput_msg_t msg;
        char errstr[256];
        msgbuf_t m;
        int which;
        size_t cut;

        (void)state;
        for (which = 0; which < M_COUNT; which++) {
                build(which, &m);
                for (cut = 0; cut < m.n; cut++) {
                        char *copy = malloc(cut ? cut : 1);
                        assert_non_null(copy);
                        memcpy(copy, m.b, cut);
                        if (vcdc_pgoutput_decode(dec, copy, cut, &msg, errstr,
                                                 sizeof(errstr)) != -1)
                                fail_msg("message %d cut to %zu of %zu "
                                         "bytes accepted",
                                         which, cut, m.n);
                        free(copy);
                }
                m.b[m.n++] = 0;
                if (vcdc_pgoutput_decode(dec, (const char *)m.b, m.n, &msg,
                                         errstr, sizeof(errstr)) != -1)
                        fail_msg("message %d with a trailing byte accepted",
                                 which);
                assert_non_null(strstr(errstr, "trailing bytes"));
        }
        vcdc_pgoutput_destroy(dec);
}

/* A short error buffer truncates, never overflows. */
static void test_small_errstr(void **state) {
        vcdc_pgoutput_t *dec = vcdc_pgoutput_new();
        vcdc_pgoutput_msg_t msg;
        char tiny[8];

        (void)state;
        assert_int_equal(
                vcdc_pgoutput_decode(dec, "Bxx", 3, &msg, tiny, sizeof(tiny)),
                -1);
        assert_int_equal(strlen(tiny), sizeof(tiny) - 1);
        assert_string_equal(vcdc_pgoutput_type_name('T'), "Truncate");
        assert_string_equal(vcdc_pgoutput_type_name('z'), "?");
        vcdc_pgoutput_destroy(dec);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_transaction_messages),
                cmocka_unit_test(test_relation),
                cmocka_unit_test(test_changes),
                cmocka_unit_test(test_invalid),
                cmocka_unit_test(test_truncation_sweep),
                cmocka_unit_test(test_small_errstr),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
