/*
 * vcdc - unit tests: the gateway's tokens file and access decisions
 * (gateway/access.c): every parse error with its file:line, the file's
 * mode and owner checks, the token headers, the decision table, and that
 * no message or fingerprint holds a token.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "access.h"

static vcdc_gw_access_t *parse(const char *text, char *errstr, size_t size) {
        return vcdc_gw_access_parse(text, strlen(text), "tok.txt", errstr,
                                    size);
}

static void test_valid(void **state) {
        static const char text[] =
                "# gateway tokens\n"
                "\n"
                "   # indented comment\n"
                "reader-aaaaaaaa read *\r\n"
                "\twriter-bbbbbbbb  write\tdocs,notes.v2,a_b-c\n"
                "admin-cccccccc admin *"; /* no final newline */
        vcdc_gw_access_t *a;
        const vcdc_gw_token_t *t;
        char errstr[256];

        (void)state;
        a = parse(text, errstr, sizeof(errstr));
        assert_non_null(a);
        assert_int_equal(vcdc_gw_access_count(a), 3);
        t = vcdc_gw_access_authenticate(a, "Bearer writer-bbbbbbbb", NULL);
        assert_non_null(t);
        assert_int_equal(vcdc_gw_token_role(t), VCDC_GW_ROLE_WRITE);
        assert_true(vcdc_gw_access_may_see(a, t, "notes.v2"));
        assert_true(vcdc_gw_access_may_see(a, t, "a_b-c"));
        assert_false(vcdc_gw_access_may_see(a, t, "notes"));
        assert_false(vcdc_gw_access_may_see(a, t, NULL));
        t = vcdc_gw_access_authenticate(a, NULL, "admin-cccccccc");
        assert_non_null(t);
        assert_int_equal(vcdc_gw_token_role(t), VCDC_GW_ROLE_ADMIN);
        assert_true(vcdc_gw_access_may_see(a, t, "anything"));
        vcdc_gw_access_destroy(a);
}

static void test_invalid(void **state) {
        static const struct {
                const char *text, *error;
        } cases[] = {
                {"", "tok.txt: no tokens"},
                {"# only\n\n", "tok.txt: no tokens"},
                {"secret-token-1\n",
                 "tok.txt:1: expected TOKEN ROLE COLLECTIONS, found 1 field"},
                {"#\nsecret-token-1 read\n",
                 "tok.txt:2: expected TOKEN ROLE COLLECTIONS, found 2 "
                 "fields"},
                {"secret-token-1 read * extra\n",
                 "tok.txt:1: expected TOKEN ROLE COLLECTIONS, found 4 "
                 "fields"},
                {"secret-token-1 reader *\n",
                 "tok.txt:1: the role (second field) must be read, write or "
                 "admin"},
                {"readable secret-token-1 *\n",
                 "tok.txt:1: the role (second field) must be read, write or "
                 "admin"},
                {"secret-token-1 READ *\n",
                 "tok.txt:1: the role (second field) must be read"},
                {"short read *\n",
                 "tok.txt:1: the token must have 8 to 4096 characters"},
                {"secret-t\x7fken-1 read *\n",
                 "tok.txt:1: the token holds a byte that is not printable "
                 "ASCII"},
                {"secret-t\xc3\xa9ken-1 read *\n",
                 "tok.txt:1: the token holds a byte that is not printable "
                 "ASCII"},
                {"secret-token-1 read docs,\n",
                 "tok.txt:1: collection 2 of the list is empty"},
                {"secret-token-1 read ,docs\n",
                 "tok.txt:1: collection 1 of the list is empty"},
                {"secret-token-1 read a,,b\n",
                 "tok.txt:1: collection 2 of the list is empty"},
                {"secret-token-1 read docs,*\n",
                 "tok.txt:1: * stands for all collections and must stand "
                 "alone"},
                {"secret-token-1 read **\n",
                 "tok.txt:1: collection 1 of the list holds a character "
                 "outside [A-Za-z0-9._-]"},
                {"secret-token-1 read do/cs\n",
                 "tok.txt:1: collection 1 of the list holds a character "
                 "outside"},
                {"secret-token-1 read *\nother-token-2 write *\n"
                 "secret-token-1 admin *\n",
                 "tok.txt:3: the same token as line 1"},
                {"ok-token-0001 read *\nsecret-token-1 writ *\n",
                 "tok.txt:2: the role"},
        };
        char errstr[256];
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                errstr[0] = '\0';
                assert_null(parse(cases[i].text, errstr, sizeof(errstr)));
                if (strncmp(errstr, cases[i].error, strlen(cases[i].error)))
                        fail_msg("case %zu: \"%s\", expected \"%s\"", i, errstr,
                                 cases[i].error);
                /* Never the token, whatever column it is in. */
                assert_null(strstr(errstr, "secret-t"));
        }
        /* A NUL inside the text, and a name longer than 512. */
        {
                static const char nul[] = "secret-token-1 read *\n"
                                          "x\0y read *\n";
                char text[700];
                assert_null(vcdc_gw_access_parse(nul, sizeof(nul) - 1, "f",
                                                 errstr, sizeof(errstr)));
                assert_string_equal(errstr, "f:2: a NUL byte");
                memset(text, 'c', sizeof(text));
                memcpy(text, "secret-token-1 read ", 20);
                text[sizeof(text) - 1] = '\0';
                assert_null(parse(text, errstr, sizeof(errstr)));
                assert_string_equal(errstr,
                                    "tok.txt:1: collection 1 of the list is "
                                    "longer than 512 characters");
        }
}

static void write_file(const char *path, const char *text, mode_t mode) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
        close(fd);
        assert_int_equal(chmod(path, mode), 0);
}

static void test_file(void **state) {
        char dir[] = "/tmp/vcdc-test-access-XXXXXX", path[128], errstr[512];
        vcdc_gw_access_t *a;

        (void)state;
        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/tokens", dir);

        assert_null(vcdc_gw_access_load(path, errstr, sizeof(errstr)));
        assert_non_null(strstr(errstr, "No such file"));

        write_file(path, "secret-token-1 read *\n", 0600);
        a = vcdc_gw_access_load(path, errstr, sizeof(errstr));
        assert_non_null(a);
        vcdc_gw_access_destroy(a);
        assert_int_equal(chmod(path, 0400), 0);
        a = vcdc_gw_access_load(path, errstr, sizeof(errstr));
        assert_non_null(a);
        vcdc_gw_access_destroy(a);

        assert_int_equal(chmod(path, 0640), 0);
        assert_null(vcdc_gw_access_load(path, errstr, sizeof(errstr)));
        assert_non_null(strstr(errstr, "mode 0640"));
        assert_non_null(strstr(errstr, "must be 0600 or stricter"));
        assert_int_equal(chmod(path, 0604), 0);
        assert_null(vcdc_gw_access_load(path, errstr, sizeof(errstr)));
        assert_non_null(strstr(errstr, "mode 0604"));

        write_file(path, "ok-token-0001 read *\nsecret-token-1 bogus *\n",
                   0600);
        assert_null(vcdc_gw_access_load(path, errstr, sizeof(errstr)));
        assert_non_null(strstr(errstr, "/tokens:2: the role"));
        assert_null(strstr(errstr, "secret-t"));

        assert_null(vcdc_gw_access_load(dir, errstr, sizeof(errstr)));
        assert_non_null(strstr(errstr, "not a regular file"));

        /* Owned by another user: only checkable as root (chown). */
        if (geteuid() == 0) {
                write_file(path, "secret-token-1 read *\n", 0600);
                assert_int_equal(chown(path, 65534, 65534), 0);
                assert_null(vcdc_gw_access_load(path, errstr, sizeof(errstr)));
                assert_non_null(strstr(errstr, "owned by uid 65534"));
        }
        unlink(path);
        rmdir(dir);
}

static void test_headers(void **state) {
        static const char text[] = "secret-token-1 read *\n"
                                   "secret-token-2 write *\n";
        static const struct {
                const char *authorization, *x_chroma_token;
                int which; /* 0 none, 1 or 2 */
        } cases[] = {
                {"Bearer secret-token-1", NULL, 1},
                {"bearer secret-token-2", NULL, 2},
                {"  Bearer   secret-token-1  ", NULL, 1},
                {"Bearer\tsecret-token-1", NULL, 1},
                {NULL, "secret-token-2", 2},
                {NULL, " secret-token-2 ", 2},
                {"Basic c2VjcmV0", "secret-token-2", 2},
                {"Bearer secret-token-1", "secret-token-2", 1},
                {"Bearer", NULL, 0},
                {"Bearer ", NULL, 0},
                {"Bearersecret-token-1", NULL, 0},
                {"secret-token-1", NULL, 0},
                {"Bearer secret-token-", NULL, 0},
                {"Bearer secret-token-12", NULL, 0},
                {NULL, "Bearer secret-token-1", 0},
                {NULL, "", 0},
                {NULL, NULL, 0},
        };
        vcdc_gw_access_t *a;
        const vcdc_gw_token_t *t1, *t2, *t;
        char errstr[256];
        size_t i;

        (void)state;
        a = parse(text, errstr, sizeof(errstr));
        assert_non_null(a);
        t1 = vcdc_gw_access_authenticate(a, "Bearer secret-token-1", NULL);
        t2 = vcdc_gw_access_authenticate(a, "Bearer secret-token-2", NULL);
        assert_non_null(t1);
        assert_non_null(t2);
        assert_ptr_not_equal(t1, t2);
        for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                t = vcdc_gw_access_authenticate(a, cases[i].authorization,
                                                cases[i].x_chroma_token);
                if (t != (cases[i].which == 1   ? t1
                          : cases[i].which == 2 ? t2
                                                : NULL))
                        fail_msg("case %zu: wrong token", i);
        }
        /* The fingerprint: stable, short, and not the token. */
        assert_int_equal(strlen(vcdc_gw_token_fingerprint(t1)), 19);
        assert_memory_equal(vcdc_gw_token_fingerprint(t1), "sha256:", 7);
        assert_string_not_equal(vcdc_gw_token_fingerprint(t1),
                                vcdc_gw_token_fingerprint(t2));
        assert_null(strstr(vcdc_gw_token_fingerprint(t1), "secret"));
        assert_string_equal(vcdc_gw_token_fingerprint(NULL), "-");
        /* Without a tokens file nobody is authenticated. */
        assert_null(vcdc_gw_access_authenticate(NULL, "Bearer secret-token-1",
                                                NULL));
        vcdc_gw_access_destroy(a);
}

static void test_decide(void **state) {
        static const char text[] = "reader-token-1 read *\n"
                                   "reader-token-2 read docs\n"
                                   "writer-token-1 write *\n"
                                   "writer-token-2 write docs,notes\n"
                                   "admin-token-01 admin *\n"
                                   "admin-token-02 admin notes\n";
        static const char *const toks[] = {NULL,
                                           "reader-token-1",
                                           "reader-token-2",
                                           "writer-token-1",
                                           "writer-token-2",
                                           "admin-token-01",
                                           "admin-token-02",
                                           "unknown-token-1"};
        static const char *const colls[] = {NULL, "docs", "notes", "other"};
        /* want[token][role][collection]: 2 allow, 1 = 401, 3 = 403 */
        static const char want[8][4][4] = {
                /* role: public, read, write, admin; coll: -,docs,notes,other */
                {{2, 2, 2, 2}, {1, 1, 1, 1}, {1, 1, 1, 1}, {1, 1, 1, 1}},
                {{2, 2, 2, 2}, {2, 2, 2, 2}, {3, 3, 3, 3}, {3, 3, 3, 3}},
                {{2, 2, 2, 2}, {2, 2, 3, 3}, {3, 3, 3, 3}, {3, 3, 3, 3}},
                {{2, 2, 2, 2}, {2, 2, 2, 2}, {2, 2, 2, 2}, {3, 3, 3, 3}},
                {{2, 2, 2, 2}, {2, 2, 2, 3}, {2, 2, 2, 3}, {3, 3, 3, 3}},
                {{2, 2, 2, 2}, {2, 2, 2, 2}, {2, 2, 2, 2}, {2, 2, 2, 2}},
                {{2, 2, 2, 2}, {2, 3, 2, 3}, {2, 3, 2, 3}, {2, 3, 2, 3}},
                {{2, 2, 2, 2}, {1, 1, 1, 1}, {1, 1, 1, 1}, {1, 1, 1, 1}},
        };
        static const vcdc_gw_verdict_t verdicts[] = {
                0, VCDC_GW_DENY_UNAUTHENTICATED, VCDC_GW_ALLOW,
                VCDC_GW_DENY_FORBIDDEN};
        vcdc_gw_access_t *a;
        char errstr[256];
        size_t t, r, c;

        (void)state;
        a = parse(text, errstr, sizeof(errstr));
        assert_non_null(a);
        for (t = 0; t < 8; t++)
                for (r = 0; r < 4; r++)
                        for (c = 0; c < 4; c++) {
                                const vcdc_gw_token_t *tok =
                                        vcdc_gw_access_authenticate(a, NULL,
                                                                    toks[t]);
                                vcdc_gw_verdict_t v = vcdc_gw_access_decide(
                                        a, tok, (vcdc_gw_role_t)r, colls[c]);
                                if (v != verdicts[(int)want[t][r][c]])
                                        fail_msg("%s %s %s: %d",
                                                 toks[t] ? toks[t] : "-",
                                                 vcdc_gw_role_name(
                                                         (vcdc_gw_role_t)r),
                                                 colls[c] ? colls[c] : "-",
                                                 (int)v);
                                /* Without a tokens file: all allowed. */
                                assert_int_equal(
                                        vcdc_gw_access_decide(NULL, NULL,
                                                              (vcdc_gw_role_t)r,
                                                              colls[c]),
                                        VCDC_GW_ALLOW);
                        }
        vcdc_gw_access_destroy(a);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_valid),  cmocka_unit_test(test_invalid),
                cmocka_unit_test(test_file),   cmocka_unit_test(test_headers),
                cmocka_unit_test(test_decide),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
