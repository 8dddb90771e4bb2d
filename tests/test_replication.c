/*
 * vcdc - unit tests: the replication stream's frames and standby status
 * updates (capture/replication.h), LSN text and the retry decision by
 * SQLSTATE (capture/pgconn.h), slot and identifier names
 * (capture/source.h). Valid and invalid side by side.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgconn.h"
#include "replication.h"
#include "source.h"

static void test_frames(void **state) {
        /* XLogData: start 0x10, end 0x20, time 7, payload "Bx". */
        static const char w[] = "w\0\0\0\0\0\0\0\x10\0\0\0\0\0\0\0\x20"
                                "\0\0\0\0\0\0\0\x07"
                                "Bx";
        /* Primary keepalive: end 0x1_0000_0002, time 9, reply asked. */
        static const char k[] = "k\0\0\0\x01\0\0\0\x02\0\0\0\0\0\0\0\x09\x01";
        vcdc_repl_frame_t f;
        char errstr[256];

        (void)state;
        assert_int_equal(vcdc_replication_parse_frame(w, sizeof(w) - 1, &f,
                                                      errstr, sizeof(errstr)),
                         0);
        assert_int_equal(f.type, 'w');
        assert_true(f.wal_start == 0x10 && f.wal_end == 0x20);
        assert_true(f.send_time_us == 7);
        assert_int_equal(f.len, 2);
        assert_memory_equal(f.data, "Bx", 2);

        /* An XLogData with no payload is still a frame. */
        assert_int_equal(
                vcdc_replication_parse_frame(w, 25, &f, errstr, sizeof(errstr)),
                0);
        assert_int_equal(f.len, 0);

        assert_int_equal(vcdc_replication_parse_frame(k, sizeof(k) - 1, &f,
                                                      errstr, sizeof(errstr)),
                         0);
        assert_int_equal(f.type, 'k');
        assert_true(f.wal_end == 0x100000002ULL && f.send_time_us == 9);
        assert_true(f.reply_requested);
}

static void test_frames_invalid(void **state) {
        static const struct {
                const char *bytes;
                size_t len;
                const char *expect;
        } cases[] = {
                {"", 0, "empty message"},
                {"w\0\0", 3, "XLogData of 3 bytes"},
                {"k\0\0\0\0\0\0\0\0", 9, "primary keepalive of 9 bytes"},
                {"k\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 19,
                 "primary keepalive of 19 bytes"},
                {"r", 1, "unknown type 0x72"},
                {"\xff", 1, "unknown type 0xff"},
        };
        vcdc_repl_frame_t f;
        char errstr[256];
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                if (vcdc_replication_parse_frame(cases[i].bytes, cases[i].len,
                                                 &f, errstr,
                                                 sizeof(errstr)) != -1)
                        fail_msg("case %zu accepted", i);
                if (!strstr(errstr, cases[i].expect))
                        fail_msg("case %zu: \"%s\" lacks \"%s\"", i, errstr,
                                 cases[i].expect);
        }
}

static void test_status(void **state) {
        unsigned char out[VCDC_REPL_STATUS_LEN];
        static const unsigned char want[VCDC_REPL_STATUS_LEN] = {
                'r',                            /* status update */
                0,   0, 0, 1, 0, 0, 0,    2,    /* write */
                0,   0, 0, 1, 0, 0, 0,    1,    /* flush */
                0,   0, 0, 0, 0, 0, 0,    0xff, /* apply */
                0,   0, 0, 0, 0, 0, 0x30, 0x39, /* time 12345 */
                1,                              /* reply */
        };

        (void)state;
        assert_int_equal(vcdc_replication_build_status(out, 0x100000002ULL,
                                                       0x100000001ULL, 0xff,
                                                       12345, 1),
                         VCDC_REPL_STATUS_LEN);
        assert_memory_equal(out, want, sizeof(want));
        /* Microseconds since 2000: positive, and near now. */
        assert_true(vcdc_replication_now_us() > 7.8e14);
}

static void test_lsn(void **state) {
        static const struct {
                const char *text;
                uint64_t lsn;
        } valid[] = {
                {"0/0", 0},
                {"0/16B3748", 0x16B3748},
                {"16/B374D848", 0x16B374D848ULL},
                {"FFFFFFFF/FFFFFFFF", UINT64_MAX},
                {"a/b", 0xA0000000BULL},
        };
        static const char *const invalid[] = {
                "",    "/",   "0/",          "/0",          "0",    "0/0/0",
                "x/1", "1/x", "123456789/0", "0/123456789", " 0/1", "0/1 ",
        };
        char buf[VCDC_LSN_TEXT_MAX];
        uint64_t lsn;
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(valid) / sizeof(*valid); i++) {
                assert_int_equal(vcdc_pgconn_lsn_parse(valid[i].text, &lsn), 0);
                assert_true(lsn == valid[i].lsn);
                vcdc_pgconn_lsn_format(lsn, buf, sizeof(buf));
                assert_int_equal(vcdc_pgconn_lsn_parse(buf, &lsn), 0);
                assert_true(lsn == valid[i].lsn);
        }
        vcdc_pgconn_lsn_format(0x16B374D848ULL, buf, sizeof(buf));
        assert_string_equal(buf, "16/B374D848");
        for (i = 0; i < sizeof(invalid) / sizeof(*invalid); i++)
                if (vcdc_pgconn_lsn_parse(invalid[i], &lsn) != -1)
                        fail_msg("\"%s\" parsed", invalid[i]);
        assert_int_equal(vcdc_pgconn_lsn_parse(NULL, &lsn), -1);
}

static void test_sqlstate(void **state) {
        static const struct {
                const char *sqlstate;
                int status;
        } cases[] = {
                {"08006", VCDC_PG_TRANSIENT}, /* connection failure */
                {"57P01", VCDC_PG_TRANSIENT}, /* admin shutdown */
                {"57P03", VCDC_PG_TRANSIENT}, /* cannot connect now */
                {"53300", VCDC_PG_TRANSIENT}, /* too many connections */
                {"40001", VCDC_PG_TRANSIENT}, /* serialization failure */
                {"55006", VCDC_PG_TRANSIENT}, /* slot active elsewhere */
                {"58030", VCDC_PG_TRANSIENT}, /* io error */
                {"42501", VCDC_PG_FATAL},     /* insufficient privilege */
                {"42704", VCDC_PG_FATAL},     /* undefined object */
                {"42710", VCDC_PG_FATAL},     /* duplicate object */
                {"55000", VCDC_PG_FATAL},     /* object not in state */
                {"28P01", VCDC_PG_FATAL},     /* invalid password */
                {"", VCDC_PG_FATAL},          {"0800", VCDC_PG_FATAL},
        };
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(*cases); i++)
                if (vcdc_pgconn_sqlstate_status(cases[i].sqlstate) !=
                    cases[i].status)
                        fail_msg("SQLSTATE \"%s\" misjudged",
                                 cases[i].sqlstate);
        assert_int_equal(vcdc_pgconn_sqlstate_status(NULL), VCDC_PG_FATAL);
}

static void test_xid_visible(void **state) {
        static const struct {
                const char *snap;
                uint32_t xid;
                int visible;
        } cases[] = {
                {"100:105:", 99, 1},         /* before xmin */
                {"100:105:", 100, 1},        /* at xmin, not running */
                {"100:105:100,103", 100, 0}, /* running */
                {"100:105:100,103", 103, 0},
                {"100:105:100,103", 101, 1},
                {"100:105:100,103", 104, 1},
                {"100:105:", 105, 0},         /* not yet started */
                {"100:105:", 4000000000u, 0}, /* no epoch before the first */
                /* Epoch 1: 64-bit ids 2^32 + n. */
                {"4294967396:4294967401:4294967398", 102, 0},
                {"4294967396:4294967401:4294967398", 101, 1},
                {"4294967396:4294967401:", 4294967295u, 1}, /* epoch 0 */
                {"", 1, 0},
                {"1", 1, 0},
                {"5:3:", 1, 0},
                {"1:5:x", 2, 0},
        };
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(*cases); i++)
                if (vcdc_pgconn_xid_visible(cases[i].snap, cases[i].xid) !=
                    cases[i].visible)
                        fail_msg("xid %u in \"%s\": expected %d", cases[i].xid,
                                 cases[i].snap, cases[i].visible);
}

static void test_names(void **state) {
        static const char *const slots_ok[] = {"vcdc_docs", "a", "s1_2", "123"};
        static const char *const slots_bad[] = {
                "",
                "Docs",
                "with-dash",
                "sp ace",
                "quote'",
                "a234567890123456789012345678901234567890123456789012345678901"
                "234",
        };
        static const char *const idents_ok[] = {"docs", "Docs", "_x",
                                                "embedding_768"};
        static const char *const idents_bad[] = {"",     "1docs", "a-b",
                                                 "a\"b", "ünï",   "a b"};
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(slots_ok) / sizeof(*slots_ok); i++)
                assert_true(vcdc_source_slot_name_valid(slots_ok[i]));
        for (i = 0; i < sizeof(slots_bad) / sizeof(*slots_bad); i++)
                if (vcdc_source_slot_name_valid(slots_bad[i]))
                        fail_msg("slot name \"%s\" accepted", slots_bad[i]);
        for (i = 0; i < sizeof(idents_ok) / sizeof(*idents_ok); i++)
                assert_true(vcdc_source_ident_valid(idents_ok[i]));
        for (i = 0; i < sizeof(idents_bad) / sizeof(*idents_bad); i++)
                if (vcdc_source_ident_valid(idents_bad[i]))
                        fail_msg("name \"%s\" accepted", idents_bad[i]);
        assert_false(vcdc_source_slot_name_valid(NULL));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_frames),
                cmocka_unit_test(test_frames_invalid),
                cmocka_unit_test(test_status),
                cmocka_unit_test(test_lsn),
                cmocka_unit_test(test_sqlstate),
                cmocka_unit_test(test_xid_visible),
                cmocka_unit_test(test_names),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
