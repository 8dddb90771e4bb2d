/*
 * vcdc - integration test: how the pgvector sink answers a real
 * PostgreSQL that refuses it (issue 14, scenario 10) or is slow:
 *   - a connection refused for authentication (role missing or not
 *     allowed to log in, wrong or missing password, a rejecting
 *     pg_hba.conf line) is FATAL with a message that says so, at open and
 *     on a reconnect at run time;
 *   - refused because nothing listens, or because the role has too many
 *     connections: RETRIABLE, and vcdc_sink_retry_smaller() is 0;
 *   - a statement stopped by statement_timeout (57014): RETRIABLE, and a
 *     smaller batch may do (retry_smaller 1).
 *
 * Environment: see tests/it_pg.h; the server's superuser. The password
 * cases also need VCDC_PG_DATA (set by scripts/stack.sh): the test adds
 * lines for its own roles at the top of that server's pg_hba.conf and
 * puts the file back at the end; without it they are skipped, saying so.
 * Roles are named it_auth_<pid>_*, tables it_auth_<pid>_*.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>

#include "it_pg.h"
#include "log.h"
#include "sink.h"

static char role_a[64], role_pw[64], role_rej[64], table_a[64], table_pw[64],
        table_t[64];
static char hba_path[1024];
static char *hba_saved; /* pg_hba.conf as it was, while ours is in place */

static vcdc_sink_t *open_as(const char *user, const char *table, int port,
                            int timeout_ms, char *errstr, size_t errstr_size) {
        vcdc_sink_conf_t conf = {.metric = VCDC_METRIC_COSINE,
                                 .timeout_ms = timeout_ms};
        char url[1024];

        itpg_url(url, sizeof(url), table, user, port);
        errstr[0] = '\0';
        return vcdc_sink_new(url, &conf, errstr, errstr_size);
}

/* Ends the role's sessions (the sink then reconnects). */
static void kick(const char *role) {
        int tries;

        PQclear(itpg_sql(itpg.conn,
                         "SELECT pg_terminate_backend(pid) FROM "
                         "pg_stat_activity WHERE usename = '%s'",
                         role));
        for (tries = 0; tries < 50; tries++) {
                if (itpg_int(itpg.conn,
                             "SELECT count(*) FROM pg_stat_activity "
                             "WHERE usename = '%s'",
                             role) == 0)
                        return;
                itpg_sleep_ms(100);
        }
        fail_msg("the sessions of %s do not end", role);
}

/* Applies until the answer is not a lost connection's RETRIABLE (the
 * first call after kick() finds its connection gone). */
static vcdc_sink_status_t apply_after_kick(vcdc_sink_t *sink, int n,
                                           int64_t offset, char *errstr,
                                           size_t errstr_size) {
        vcdc_sink_status_t st;
        int tries;

        for (tries = 0; tries < 3; tries++) {
                st = itpg_apply_one(sink, n, 1, offset, errstr, errstr_size);
                if (st != VCDC_SINK_RETRIABLE ||
                    !strstr(errstr, "connection lost"))
                        break;
        }
        return st;
}

static void create_role(const char *role, const char *extra) {
        PQclear(itpg_sql(itpg.conn, "CREATE ROLE \"%s\" LOGIN %s", role,
                         extra));
        PQclear(itpg_sql(itpg.conn, "GRANT CREATE ON SCHEMA public TO \"%s\"",
                         role));
        PQclear(itpg_sql(itpg.conn,
                         "GRANT SELECT, INSERT, UPDATE ON vcdc_targets, "
                         "vcdc_offsets TO \"%s\"",
                         role));
}

static void drop_role(const char *role) {
        PGresult *res;

        res = PQexecParams(itpg.conn,
                           "SELECT 1 FROM pg_roles WHERE rolname = $1", 1, NULL,
                           &role, NULL, NULL, 0);
        if (PQntuples(res) == 1) {
                PQclear(itpg_sql(itpg.conn, "DROP OWNED BY \"%s\"", role));
                PQclear(itpg_sql(itpg.conn, "DROP ROLE \"%s\"", role));
        }
        PQclear(res);
}

static char *read_file(const char *path) {
        FILE *f = fopen(path, "r");
        char *buf;
        long n;

        if (!f)
                return NULL;
        fseek(f, 0, SEEK_END);
        n = ftell(f);
        rewind(f);
        buf = calloc(1, (size_t)n + 1);
        if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
                free(buf);
                buf = NULL;
        }
        fclose(f);
        return buf;
}

static int write_file(const char *path, const char *head, const char *body) {
        FILE *f = fopen(path, "w");
        int ok;

        if (!f)
                return -1;
        ok = fputs(head, f) >= 0 && fputs(body, f) >= 0;
        return fclose(f) == 0 && ok ? 0 : -1;
}

/* pg_hba.conf edits take effect at the next reload. */
static void reload(void) {
        PQclear(itpg_sql(itpg.conn, "SELECT pg_reload_conf()"));
        itpg_sleep_ms(500);
}

/* Puts our roles' lines first in pg_hba.conf. Returns 0, or -1 (with the
 * reason on stderr) when the file cannot be changed from here. */
static int hba_install(void) {
        const char *data = getenv("VCDC_PG_DATA");
        char lines[512];

        if (!data || !*data) {
                fprintf(stderr, "  VCDC_PG_DATA is unset\n");
                return -1;
        }
        snprintf(hba_path, sizeof(hba_path), "%s/pg_hba.conf", data);
        if (!(hba_saved = read_file(hba_path))) {
                fprintf(stderr, "  cannot read %s\n", hba_path);
                return -1;
        }
        snprintf(lines, sizeof(lines),
                 "# it_sink_pg_auth %d: removed at its end\n"
                 "host all %s 127.0.0.1/32 scram-sha-256\n"
                 "host all %s 127.0.0.1/32 reject\n",
                 (int)getpid(), role_pw, role_rej);
        if (write_file(hba_path, lines, hba_saved) == -1) {
                fprintf(stderr, "  cannot write %s\n", hba_path);
                free(hba_saved);
                hba_saved = NULL;
                return -1;
        }
        reload();
        return 0;
}

static void hba_restore(void) {
        if (!hba_saved)
                return;
        if (write_file(hba_path, "", hba_saved) == -1)
                fprintf(stderr, "it_sink_pg_auth: cannot restore %s\n",
                        hba_path);
        free(hba_saved);
        hba_saved = NULL;
        reload();
}

static int setup(void **state) {
        vcdc_sink_t *sink;

        (void)state;
        signal(SIGPIPE, SIG_IGN);
        snprintf(role_a, sizeof(role_a), "it_auth_%d_a", (int)getpid());
        snprintf(role_pw, sizeof(role_pw), "it_auth_%d_pw", (int)getpid());
        snprintf(role_rej, sizeof(role_rej), "it_auth_%d_rej", (int)getpid());
        itpg_table(table_a, sizeof(table_a), "auth", "a");
        itpg_table(table_pw, sizeof(table_pw), "auth", "pw");
        itpg_table(table_t, sizeof(table_t), "auth", "t");
        if (!(itpg.conn = itpg_connect()))
                return -1;
        sink = itpg_open(table_t); /* the bookkeeping tables exist */
        vcdc_sink_destroy(sink);
        itpg_drop(table_t);
        create_role(role_a, "");
        create_role(role_pw, "PASSWORD 'right'");
        create_role(role_rej, "");
        return 0;
}

static int teardown(void **state) {
        (void)state;
        hba_restore();
        if (itpg.conn && PQstatus(itpg.conn) == CONNECTION_OK) {
                itpg_drop(table_a);
                itpg_drop(table_pw);
                itpg_drop(table_t);
                drop_role(role_a);
                drop_role(role_pw);
                drop_role(role_rej);
        }
        PQfinish(itpg.conn);
        return 0;
}

/* A role the server does not know: refused at open, saying why. */
static void test_role_missing(void **state) {
        char errstr[1024], nobody[64];
        vcdc_sink_t *sink;

        (void)state;
        snprintf(nobody, sizeof(nobody), "it_auth_%d_nobody", (int)getpid());
        sink = open_as(nobody, table_a, 0, 5000, errstr, sizeof(errstr));
        assert_null(sink);
        fprintf(stderr, "  %s\n", errstr);
        assert_non_null(strstr(errstr, "authentication refused"));
        assert_non_null(strstr(errstr, "28000"));
}

/*
 * At run time: the role loses its right to log in; the reconnect is
 * FATAL. A role at its connection limit, and a server not listening, are
 * RETRIABLE, with nothing to gain from a smaller batch.
 */
static void test_refused_at_run_time(void **state) {
        char errstr[1024];
        vcdc_sink_status_t st;
        vcdc_sink_t *sink;
        itpg_proxy_t px;

        (void)state;
        sink = open_as(role_a, table_a, 0, 5000, errstr, sizeof(errstr));
        if (!sink)
                fail_msg("open as %s: %s", role_a, errstr);
        st = itpg_apply_one(sink, 1, 1, 1, errstr, sizeof(errstr));
        itpg_want(st, VCDC_SINK_OK, "offset 1", errstr);

        PQclear(itpg_sql(itpg.conn, "ALTER ROLE \"%s\" NOLOGIN", role_a));
        kick(role_a);
        st = apply_after_kick(sink, 2, 2, errstr, sizeof(errstr));
        itpg_want(st, VCDC_SINK_FATAL, "NOLOGIN", errstr);
        fprintf(stderr, "  %s\n", errstr);
        assert_non_null(strstr(errstr, "authentication refused"));
        assert_non_null(strstr(errstr, "28000"));

        PQclear(itpg_sql(itpg.conn,
                         "ALTER ROLE \"%s\" LOGIN CONNECTION "
                         "LIMIT 0",
                         role_a));
        st = itpg_apply_one(sink, 2, 1, 2, errstr, sizeof(errstr));
        itpg_want(st, VCDC_SINK_RETRIABLE, "CONNECTION LIMIT 0", errstr);
        fprintf(stderr, "  %s\n", errstr);
        assert_non_null(strstr(errstr, "53300"));
        assert_int_equal(vcdc_sink_retry_smaller(sink), 0);

        PQclear(itpg_sql(itpg.conn, "ALTER ROLE \"%s\" CONNECTION LIMIT -1",
                         role_a));
        st = itpg_apply_one(sink, 2, 1, 2, errstr, sizeof(errstr));
        itpg_want(st, VCDC_SINK_OK, "allowed again", errstr);
        vcdc_sink_destroy(sink);

        /* Nothing listens. */
        assert_int_equal(itpg_proxy_start(&px), 0);
        sink = open_as(NULL, table_a, px.port, 5000, errstr, sizeof(errstr));
        if (!sink)
                fail_msg("open through the proxy: %s", errstr);
        itpg_proxy_cmd(&px, 'd');
        st = apply_after_kick(sink, 3, 3, errstr, sizeof(errstr));
        itpg_want(st, VCDC_SINK_RETRIABLE, "server down", errstr);
        fprintf(stderr, "  %s\n", errstr);
        assert_int_equal(vcdc_sink_retry_smaller(sink), 0);
        itpg_proxy_cmd(&px, 'u');
        st = itpg_apply_one(sink, 3, 1, 3, errstr, sizeof(errstr));
        itpg_want(st, VCDC_SINK_OK, "server back", errstr);
        vcdc_sink_destroy(sink);
        itpg_proxy_stop(&px);
}

/*
 * Passwords (scram-sha-256 for one role, reject for another, through
 * lines added to pg_hba.conf): a wrong or missing password and a
 * rejecting line are FATAL, at open and on a reconnect; the password
 * never shows in the message.
 */
static void test_password(void **state) {
        const char *saved_env = getenv("VCDC_PG_PASSWORD");
        char errstr[1024], *saved = saved_env ? strdup(saved_env) : NULL;
        vcdc_sink_status_t st;
        vcdc_sink_t *sink;

        (void)state;
        if (hba_install() == -1) {
                fprintf(stderr, "it_sink_pg_auth: password cases skipped\n");
                free(saved);
                skip();
        }
        unsetenv("PGPASSWORD");
        setenv("VCDC_PG_PASSWORD", "wrong-secret", 1);
        sink = open_as(role_pw, table_pw, 0, 5000, errstr, sizeof(errstr));
        assert_null(sink);
        fprintf(stderr, "  %s\n", errstr);
        assert_non_null(strstr(errstr, "authentication refused"));
        assert_non_null(strstr(errstr, "28P01"));
        assert_null(strstr(errstr, "wrong-secret"));

        unsetenv("VCDC_PG_PASSWORD");
        sink = open_as(role_pw, table_pw, 0, 5000, errstr, sizeof(errstr));
        assert_null(sink);
        fprintf(stderr, "  %s\n", errstr);
        assert_non_null(strstr(errstr, "authentication refused"));

        sink = open_as(role_rej, table_pw, 0, 5000, errstr, sizeof(errstr));
        assert_null(sink);
        fprintf(stderr, "  %s\n", errstr);
        assert_non_null(strstr(errstr, "authentication refused"));
        assert_non_null(strstr(errstr, "28000"));

        /* Right at open, changed since: the reconnect is FATAL. */
        setenv("VCDC_PG_PASSWORD", "right", 1);
        sink = open_as(role_pw, table_pw, 0, 5000, errstr, sizeof(errstr));
        if (!sink)
                fail_msg("open with the password: %s", errstr);
        st = itpg_apply_one(sink, 1, 1, 1, errstr, sizeof(errstr));
        itpg_want(st, VCDC_SINK_OK, "offset 1", errstr);
        PQclear(itpg_sql(itpg.conn, "ALTER ROLE \"%s\" PASSWORD 'changed'",
                         role_pw));
        kick(role_pw);
        st = apply_after_kick(sink, 2, 2, errstr, sizeof(errstr));
        itpg_want(st, VCDC_SINK_FATAL, "password changed", errstr);
        assert_non_null(strstr(errstr, "28P01"));
        assert_null(strstr(errstr, "right"));
        vcdc_sink_destroy(sink);

        if (saved)
                setenv("VCDC_PG_PASSWORD", saved, 1);
        else
                unsetenv("VCDC_PG_PASSWORD");
        free(saved);
        hba_restore();
}

/* statement_timeout (57014): RETRIABLE, and a smaller batch may do. */
static void test_statement_timeout(void **state) {
        char errstr[1024];
        vcdc_sink_status_t st;
        vcdc_sink_t *sink;
        PGconn *blocker;

        (void)state;
        sink = itpg_open(table_t);
        st = itpg_apply_one(sink, 1, 1, 1, errstr, sizeof(errstr));
        itpg_want(st, VCDC_SINK_OK, "offset 1", errstr);
        vcdc_sink_destroy(sink);

        setenv("PGOPTIONS", "-c statement_timeout=300", 1);
        sink = itpg_open(table_t);
        unsetenv("PGOPTIONS");
        blocker = itpg_connect();
        PQclear(itpg_sql(blocker, "BEGIN"));
        PQclear(itpg_sql(blocker, "LOCK TABLE \"%s\" IN ACCESS EXCLUSIVE MODE",
                         table_t));
        st = itpg_apply_one(sink, 2, 1, 2, errstr, sizeof(errstr));
        itpg_want(st, VCDC_SINK_RETRIABLE, "statement_timeout", errstr);
        fprintf(stderr, "  %s\n", errstr);
        assert_non_null(strstr(errstr, "57014"));
        assert_int_equal(vcdc_sink_retry_smaller(sink), 1);
        PQclear(itpg_sql(blocker, "COMMIT"));
        PQfinish(blocker);
        vcdc_sink_destroy(sink);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_role_missing),
                cmocka_unit_test(test_refused_at_run_time),
                cmocka_unit_test(test_password),
                cmocka_unit_test(test_statement_timeout),
        };
        const char *level = getenv("VCDC_LOG_LEVEL");

        if (itpg_env() == -1) {
                fprintf(stderr, "it_sink_pg_auth: skipped: set "
                                "VCDC_PG_CONNINFO or VCDC_PGVECTOR_URL to a "
                                "PostgreSQL server with pgvector\n");
                return 0;
        }
        if (level)
                vcdc_log_level = vcdc_log_level_parse(level);
        return cmocka_run_group_tests(tests, setup, teardown);
}
