/*
 * vcdc - connections to the source PostgreSQL (pgconn.h).
 */
#include "pgconn.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "secret.h"

#define LOG_COMP "capture"
#define KEYS_MAX 16

struct vcdc_pgconn_s {
        char *password; /* or NULL; never logged */
        char *host, *user, *dbname, *sslmode;
        char port[8];
        char connect_timeout[16];
        char name[512];
};

int vcdc_pgconn_msg_len(const char *msg) {
        size_t len = strcspn(msg, "\r\n");

        return len > INT_MAX ? INT_MAX : (int)len;
}

static int dup_opt(char **dst, const char *src) {
        *dst = NULL;
        if (!src || !*src)
                return 0;
        return (*dst = strdup(src)) ? 0 : -1;
}

vcdc_pgconn_t *vcdc_pgconn_new(const vcdc_url_t *url, int connect_timeout_s,
                               char *errstr, size_t errstr_size) {
        vcdc_pgconn_t *pc = calloc(1, sizeof(*pc));
        int failed;

        if (!pc || dup_opt(&pc->host, url->host) ||
            dup_opt(&pc->user, url->user) || dup_opt(&pc->dbname, url->path) ||
            dup_opt(&pc->sslmode, vcdc_url_param(url, "sslmode"))) {
                snprintf(errstr, errstr_size, "out of memory");
                goto err;
        }
        if (url->port)
                snprintf(pc->port, sizeof(pc->port), "%d", url->port);
        snprintf(pc->connect_timeout, sizeof(pc->connect_timeout), "%d",
                 connect_timeout_s < 2 ? 2 : connect_timeout_s);
        snprintf(pc->name, sizeof(pc->name), "%s:%d/%s", url->host,
                 url->port ? url->port : 5432, url->path);
        pc->password = vcdc_secret("VCDC_PG_PASSWORD", &failed, errstr,
                                          errstr_size);
        if (failed)
                goto err;
        return pc;
err:
        vcdc_pgconn_destroy(pc);
        return NULL;
}

void vcdc_pgconn_destroy(vcdc_pgconn_t *pc) {
        if (!pc)
                return;
        if (pc->password) {
                explicit_bzero(pc->password, strlen(pc->password));
                free(pc->password);
        }
        free(pc->host);
        free(pc->user);
        free(pc->dbname);
        free(pc->sslmode);
        free(pc);
}

const char *vcdc_pgconn_name(const vcdc_pgconn_t *pc) {
        return pc->name;
}

static void add_key(const char **keys, const char **values, size_t *np,
                    const char *key, const char *value) {
        if (!value || !*value)
                return; /* libpq's default, or its PG* environment */
        keys[*np] = key;
        values[*np] = value;
        (*np)++;
}

PGconn *vcdc_pgconn_connect(const vcdc_pgconn_t *pc, int replication,
                            int *statusp, char *errstr, size_t errstr_size) {
        const char *keys[KEYS_MAX + 1], *values[KEYS_MAX + 1];
        size_t n = 0;
        PGconn *conn;
        const char *msg;

        add_key(keys, values, &n, "host", pc->host);
        add_key(keys, values, &n, "port", pc->port);
        add_key(keys, values, &n, "user", pc->user);
        add_key(keys, values, &n, "dbname", pc->dbname);
        add_key(keys, values, &n, "sslmode", pc->sslmode);
        add_key(keys, values, &n, "password", pc->password);
        add_key(keys, values, &n, "connect_timeout", pc->connect_timeout);
        /* A server that vanishes without closing the connection is noticed
         * within about 25 s, also while we only wait for its data. */
        add_key(keys, values, &n, "keepalives_idle", "10");
        add_key(keys, values, &n, "keepalives_interval", "5");
        add_key(keys, values, &n, "keepalives_count", "3");
        add_key(keys, values, &n, "application_name", "vcdc-capture");
        add_key(keys, values, &n, "client_encoding", "UTF8");
        if (replication)
                add_key(keys, values, &n, "replication", "database");
        keys[n] = NULL;
        values[n] = NULL;

        *statusp = VCDC_PG_OK;
        conn = PQconnectdbParams(keys, values, 0 /*no expand_dbname*/);
        if (!conn) {
                snprintf(errstr, errstr_size, "%s: out of memory", pc->name);
                *statusp = VCDC_PG_FATAL;
                return NULL;
        }
        if (PQstatus(conn) == CONNECTION_OK)
                return conn;
        msg = PQerrorMessage(conn);
        snprintf(errstr, errstr_size, "%s: cannot connect%s: %.*s", pc->name,
                 replication ? " for replication" : "",
                 vcdc_pgconn_msg_len(msg), msg);
        PQfinish(conn);
        /* The server accepts connections, yet not ours: credentials, role,
         * database or privilege, which no retry fixes. Anything else
         * (nothing listening, starting up, shutting down) may pass. */
        *statusp = PQpingParams(keys, values, 0) == PQPING_OK
                           ? VCDC_PG_FATAL
                           : VCDC_PG_TRANSIENT;
        return NULL;
}

int vcdc_pgconn_sqlstate_status(const char *sqlstate) {
        static const char *const transient_classes[] = {"08", "40", "53", "57",
                                                        "58"};
        size_t i;

        if (!sqlstate || strlen(sqlstate) != 5)
                return VCDC_PG_FATAL;
        if (!strcmp(sqlstate, "55006"))
                return VCDC_PG_TRANSIENT;
        for (i = 0; i < sizeof(transient_classes) / sizeof(*transient_classes);
             i++)
                if (!strncmp(sqlstate, transient_classes[i], 2))
                        return VCDC_PG_TRANSIENT;
        return VCDC_PG_FATAL;
}

int vcdc_pgconn_status_of(PGconn *conn, const PGresult *res) {
        const char *sqlstate =
                res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

        if (PQstatus(conn) != CONNECTION_OK)
                return VCDC_PG_TRANSIENT;
        /* No SQLSTATE: an error libpq made up itself (a lost connection,
         * out of memory). */
        if (!sqlstate)
                return VCDC_PG_TRANSIENT;
        return vcdc_pgconn_sqlstate_status(sqlstate);
}

PGresult *vcdc_pgconn_exec(PGconn *conn, const char *sql, int nparams,
                           const char *const *params, int *statusp,
                           char *errstr, size_t errstr_size) {
        PGresult *res;
        const char *msg, *sqlstate;
        ExecStatusType st;

        *statusp = VCDC_PG_OK;
        res = nparams ? PQexecParams(conn, sql, nparams, NULL, params, NULL,
                                     NULL, 0 /*text*/)
                      : PQexec(conn, sql);
        st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
        if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ||
            st == PGRES_COPY_OUT || st == PGRES_COPY_BOTH)
                return res;
        msg = res ? PQresultErrorMessage(res) : "";
        if (!*msg)
                msg = PQerrorMessage(conn);
        sqlstate = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
        snprintf(errstr, errstr_size, "%.*s%s%s%s", vcdc_pgconn_msg_len(msg),
                 msg, sqlstate ? " (SQLSTATE " : "", sqlstate ? sqlstate : "",
                 sqlstate ? ")" : "");
        *statusp = vcdc_pgconn_status_of(conn, res);
        PQclear(res);
        return NULL;
}

static int parse_hex32(const char *s, size_t len, uint32_t *v) {
        uint32_t x = 0;
        size_t i;

        if (len == 0 || len > 8)
                return -1;
        for (i = 0; i < len; i++) {
                char c = s[i];
                int d;
                if (c >= '0' && c <= '9')
                        d = c - '0';
                else if (c >= 'a' && c <= 'f')
                        d = c - 'a' + 10;
                else if (c >= 'A' && c <= 'F')
                        d = c - 'A' + 10;
                else
                        return -1;
                x = x << 4 | (uint32_t)d;
        }
        *v = x;
        return 0;
}

int vcdc_pgconn_lsn_parse(const char *s, uint64_t *lsnp) {
        const char *slash;
        uint32_t hi, lo;

        if (!s || !(slash = strchr(s, '/')) ||
            parse_hex32(s, (size_t)(slash - s), &hi) ||
            parse_hex32(slash + 1, strlen(slash + 1), &lo))
                return -1;
        *lsnp = (uint64_t)hi << 32 | lo;
        return 0;
}

void vcdc_pgconn_lsn_format(uint64_t lsn, char *buf, size_t size) {
        snprintf(buf, size, "%" PRIX32 "/%" PRIX32, (uint32_t)(lsn >> 32),
                 (uint32_t)lsn);
}

int vcdc_pgconn_xid_visible(const char *snap, uint32_t xid) {
        unsigned long long xmin, xmax, x, ip;
        const char *p = snap;
        char *end;

        xmin = strtoull(p, &end, 10);
        if (end == p || *end != ':')
                return 0;
        p = end + 1;
        xmax = strtoull(p, &end, 10);
        if (end == p || *end != ':' || xmax < xmin)
                return 0;
        /* The 64-bit id: xid in the epoch of xmax, or the one before. */
        x = (xmax & ~0xffffffffULL) | xid;
        if (x >= xmax) {
                if (x < 0x100000000ULL)
                        return 0;
                x -= 0x100000000ULL;
        }
        if (x < xmin)
                return 1;
        for (p = end + 1; *p;) {
                ip = strtoull(p, &end, 10);
                if (end == p)
                        return 0;
                if (ip == x)
                        return 0;
                p = *end == ',' ? end + 1 : end;
        }
        return 1;
}
