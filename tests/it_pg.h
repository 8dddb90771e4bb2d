/*
 * vcdc - what the pgvector integration tests share (it_sink_pgvector.c,
 * it_sink_pg_outage.c, it_sink_fence.c, it_sink_pg_auth.c,
 * it_sink_pg_check.c): the server named by the environment, the start of
 * main() and the group's setup and teardown, the tables of the run
 * (dropped at both ends), direct libpq connections for independent
 * checks and for holding locks, records and batches; it_proxy.h's TCP
 * proxy comes with it. Tests only.
 *
 * Environment:
 *   VCDC_PG_CONNINFO   libpq conninfo, or
 *   VCDC_PGVECTOR_URL  pgvector://USER@HOST:PORT/DB?sslmode=disable
 *   VCDC_PG_PASSWORD   when the server wants one
 *   VCDC_IT_PG_COPY    the sinks' ?copy= (auto, always, never): which
 *                      apply path the tests take; the sink's default
 *                      when unset
 * A test program skips (exit 0, saying so) when neither of the first two
 * is set.
 *
 * Everything here is static inline: each program uses a part of it.
 * Include after cmocka.h.
 */
#ifndef VCDC_IT_PG_H
#define VCDC_IT_PG_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <signal.h>

#include <libpq-fe.h>

#include "it_proxy.h"
#include "it_sink.h"
#include "log.h"
#include "sink.h"
#include "url.h"

#define ITPG_TOPIC  "it.topic"
#define ITPG_TABLES 32

static struct {
        char host[256], user[128], db[128], sslmode[32];
        int port;
        PGconn *conn;                 /* direct, for independent checks */
        char tables[ITPG_TABLES][64]; /* itpg_table()'s, dropped */
        int table_cnt;
        int apply_apart; /* itpg_apply() sends, then waits */
        char copy[16];   /* ?copy= of every sink URL, "" for none */
} itpg;

static inline void itpg_copy(char *dst, size_t size, const char *v) {
        if (v)
                snprintf(dst, size, "%s", v);
}

/* Fills itpg from the environment. Returns -1 when neither variable is
 * set. */
static inline int itpg_env(void) {
        const char *conninfo = getenv("VCDC_PG_CONNINFO");
        const char *url = getenv("VCDC_PGVECTOR_URL");
        char errstr[256];

        snprintf(itpg.user, sizeof(itpg.user), "postgres");
        snprintf(itpg.db, sizeof(itpg.db), "postgres");
        itpg_copy(itpg.copy, sizeof(itpg.copy), getenv("VCDC_IT_PG_COPY"));
        if (conninfo && *conninfo) {
                PQconninfoOption *opts = PQconninfoParse(conninfo, NULL), *o;
                if (!opts) {
                        fprintf(stderr, "VCDC_PG_CONNINFO: cannot parse\n");
                        exit(1);
                }
                for (o = opts; o->keyword; o++) {
                        if (!o->val)
                                continue;
                        if (!strcmp(o->keyword, "host") ||
                            !strcmp(o->keyword, "hostaddr"))
                                itpg_copy(itpg.host, sizeof(itpg.host), o->val);
                        else if (!strcmp(o->keyword, "port"))
                                itpg.port = (int)strtol(o->val, NULL, 10);
                        else if (!strcmp(o->keyword, "user"))
                                itpg_copy(itpg.user, sizeof(itpg.user), o->val);
                        else if (!strcmp(o->keyword, "dbname"))
                                itpg_copy(itpg.db, sizeof(itpg.db), o->val);
                        else if (!strcmp(o->keyword, "sslmode"))
                                itpg_copy(itpg.sslmode, sizeof(itpg.sslmode),
                                          o->val);
                        else if (!strcmp(o->keyword, "password"))
                                setenv("VCDC_PG_PASSWORD", o->val, 1);
                }
                PQconninfoFree(opts);
        } else if (url && *url) {
                vcdc_url_t *u = vcdc_url_parse(url, errstr, sizeof(errstr));
                if (!u) {
                        fprintf(stderr, "VCDC_PGVECTOR_URL: %s\n", errstr);
                        exit(1);
                }
                itpg_copy(itpg.host, sizeof(itpg.host), u->host);
                itpg.port = u->port;
                itpg_copy(itpg.user, sizeof(itpg.user), u->user);
                if (*u->path)
                        itpg_copy(itpg.db, sizeof(itpg.db), u->path);
                itpg_copy(itpg.sslmode, sizeof(itpg.sslmode),
                          vcdc_url_param(u, "sslmode"));
                vcdc_url_destroy(u);
        } else {
                return -1;
        }
        if (!itpg.host[0])
                snprintf(itpg.host, sizeof(itpg.host), "127.0.0.1");
        if (!itpg.port)
                itpg.port = 5432;
        return 0;
}

static inline void itpg_quiet(void *arg, const char *message) {
        (void)arg;
        (void)message;
}

/* A new direct connection as user (NULL: the environment's), or NULL. */
static inline PGconn *itpg_connect_as(const char *user, const char *password) {
        const char *keys[8], *values[8];
        char port[16];
        PGconn *conn;
        int n = 0;

        snprintf(port, sizeof(port), "%d", itpg.port);
        keys[n] = "host", values[n++] = itpg.host;
        keys[n] = "port", values[n++] = port;
        keys[n] = "user", values[n++] = user ? user : itpg.user;
        keys[n] = "dbname", values[n++] = itpg.db;
        if (itpg.sslmode[0])
                keys[n] = "sslmode", values[n++] = itpg.sslmode;
        if (password || (!user && (password = getenv("VCDC_PG_PASSWORD"))))
                keys[n] = "password", values[n++] = password;
        keys[n] = NULL, values[n] = NULL;
        conn = PQconnectdbParams(keys, values, 0);
        if (PQstatus(conn) != CONNECTION_OK) {
                fprintf(stderr, "cannot connect: %s", PQerrorMessage(conn));
                PQfinish(conn);
                return NULL;
        }
        PQsetNoticeProcessor(conn, itpg_quiet, NULL);
        return conn;
}

static inline PGconn *itpg_connect(void) {
        return itpg_connect_as(NULL, NULL);
}

/* Runs the SQL (printf-style) on conn; fails the test on an error. */
static inline PGresult *itpg_sql(PGconn *conn, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

static inline PGresult *itpg_sql(PGconn *conn, const char *fmt, ...) {
        char q[4096];
        ExecStatusType st;
        PGresult *res;
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(q, sizeof(q), fmt, ap);
        va_end(ap);
        res = PQexec(conn, q);
        st = PQresultStatus(res);
        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
                fail_msg("%s: %s", q, PQresultErrorMessage(res));
        return res;
}

/* The first value of the first row as an integer, -1 for no row or NULL. */
static inline long long itpg_int(PGconn *conn, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

static inline long long itpg_int(PGconn *conn, const char *fmt, ...) {
        char q[4096];
        PGresult *res;
        long long v = -1;
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(q, sizeof(q), fmt, ap);
        va_end(ap);
        res = itpg_sql(conn, "%s", q);
        if (PQntuples(res) > 0 && !PQgetisnull(res, 0, 0))
                v = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        PQclear(res);
        return v;
}

/* it_<what>_<pid>_<suffix>: a table name of this run, dropped by
 * itpg_setup() and itpg_teardown(). */
static inline void itpg_table(char *buf, size_t size, const char *what,
                              const char *suffix) {
        snprintf(buf, size, "it_%s_%d_%s", what, (int)getpid(), suffix);
        if (itpg.table_cnt < ITPG_TABLES)
                snprintf(itpg.tables[itpg.table_cnt++], sizeof(*itpg.tables),
                         "%s", buf);
}

/* Drops table and what vcdc keeps about it. */
static inline void itpg_drop(const char *table) {
        PQclear(itpg_sql(itpg.conn, "DROP TABLE IF EXISTS \"%s\"", table));
        PQclear(itpg_sql(itpg.conn,
                         "DELETE FROM vcdc_targets WHERE table_name = '%s'",
                         table));
        PQclear(itpg_sql(itpg.conn,
                         "DELETE FROM vcdc_offsets WHERE table_name = '%s'",
                         table));
}

/* The start of main(): 0 to run, or -1 (say so, exit 0) when the
 * environment names no server. Takes VCDC_LOG_LEVEL; a proxy writes to
 * clients that left, so SIGPIPE is ignored. */
static inline int itpg_start(const char *prog) {
        const char *level = getenv("VCDC_LOG_LEVEL");

        if (itpg_env() == -1) {
                fprintf(stderr,
                        "%s: skipped: set VCDC_PG_CONNINFO or "
                        "VCDC_PGVECTOR_URL to a PostgreSQL server "
                        "with pgvector\n",
                        prog);
                return -1;
        }
        if (level)
                vcdc_log_level = vcdc_log_level_parse(level);
        signal(SIGPIPE, SIG_IGN);
        return 0;
}

/* The single value a query returns, as a new string. */
static inline char *itpg_value(const char *fmt, ...)
        __attribute__((format(printf, 1, 2)));

static inline char *itpg_value(const char *fmt, ...) {
        PGresult *res;
        char q[4096], *v;
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(q, sizeof(q), fmt, ap);
        va_end(ap);
        res = itpg_sql(itpg.conn, "%s", q);
        assert_int_equal(PQntuples(res), 1);
        v = strdup(PQgetvalue(res, 0, 0));
        PQclear(res);
        return v;
}

static inline int itpg_exists(const char *table) {
        return itpg_int(itpg.conn,
                        "SELECT (to_regclass('\"%s\"') IS NOT NULL)::int",
                        table) == 1;
}

/* The sink URL of table on host:port (port 0: the server's) as user
 * (NULL: the environment's). */
static inline void itpg_url(char *buf, size_t size, const char *table,
                            const char *user, int port) {
        snprintf(buf, size, "pgvector://%s@%s:%d/%s?table=%s%s%s%s%s",
                 user ? user : itpg.user, port ? "127.0.0.1" : itpg.host,
                 port ? port : itpg.port, itpg.db, table,
                 itpg.sslmode[0] ? "&sslmode=" : "", itpg.sslmode,
                 itpg.copy[0] ? "&copy=" : "", itpg.copy);
}

/* A sink on table through port (0: the server's own), or the test
 * fails. */
static inline vcdc_sink_t *itpg_open_conf(const char *table, int port,
                                          vcdc_metric_t metric, size_t dim,
                                          int timeout_ms) {
        vcdc_sink_conf_t conf = {
                .metric = metric, .dim = dim, .timeout_ms = timeout_ms};
        char url[1024], errstr[512];
        vcdc_sink_t *sink;

        itpg_url(url, sizeof(url), table, NULL, port);
        if (!(sink = vcdc_sink_new(url, &conf, errstr, sizeof(errstr))))
                fail_msg("%s: %s", url, errstr);
        return sink;
}

static inline vcdc_sink_t *itpg_open_at(const char *table, int port,
                                        int timeout_ms) {
        return itpg_open_conf(table, port, VCDC_METRIC_COSINE, 0, timeout_ms);
}

static inline vcdc_sink_t *itpg_open(const char *table) {
        return itpg_open_at(table, 0, 30000);
}

/* The group's setup: the checking connection, vcdc's bookkeeping tables
 * (a sink opened once makes them) and none of the run's tables left from
 * before. Call after naming the tables. Returns 0 or -1. */
static inline int itpg_setup(void) {
        int i;

        if (!(itpg.conn = itpg_connect()))
                return -1;
        if (itpg.table_cnt)
                vcdc_sink_destroy(itpg_open(itpg.tables[0]));
        for (i = 0; i < itpg.table_cnt; i++)
                itpg_drop(itpg.tables[i]);
        return 0;
}

/* Drops the run's tables, while the checking connection is up. */
static inline void itpg_drop_all(void) {
        int i;

        if (itpg.conn && PQstatus(itpg.conn) == CONNECTION_OK)
                for (i = 0; i < itpg.table_cnt; i++)
                        itpg_drop(itpg.tables[i]);
}

/* The group's teardown: drops the run's tables, closes the checking
 * connection. */
static inline void itpg_teardown(void) {
        itpg_drop_all();
        PQfinish(itpg.conn);
        itpg.conn = NULL;
}

/* Upsert of id "id-N" with dim floats; metadata {"v": variant}. */
static inline void itpg_rec(vcdc_record_t *rec, int n, size_t dim,
                            int variant) {
        char buf[64];
        size_t d;

        vcdc_record_init(rec);
        snprintf(buf, sizeof(buf), "id-%d", n);
        rec->id = strdup(buf);
        rec->op = VCDC_OP_UPSERT;
        rec->dim = dim;
        rec->vector = malloc(dim * sizeof(float));
        for (d = 0; d < dim; d++)
                rec->vector[d] =
                        (float)((n * 31 + (int)d * 7 + variant) % 101) /
                                100.0f +
                        0.01f;
        snprintf(buf, sizeof(buf), "{\"v\":%d}", variant);
        rec->metadata = strdup(buf);
}

static inline void itpg_recs(vcdc_record_t *recs, int from, size_t cnt,
                             size_t dim, int variant) {
        size_t i;

        for (i = 0; i < cnt; i++)
                itpg_rec(&recs[i], from + (int)i, dim, variant);
}

static inline void itpg_clear(vcdc_record_t *recs, size_t cnt) {
        size_t i;

        for (i = 0; i < cnt; i++)
                vcdc_record_clear(&recs[i]);
}

/* The batch of recs[0..cnt) and dels[0..del_cnt) with offs[0..off_cnt)
 * of ITPG_TOPIC; ptrs must hold cnt pointers. */
static inline vcdc_sink_batch_t
itpg_batch(const vcdc_record_t **ptrs, vcdc_record_t *recs, size_t cnt,
           const char *const *dels, size_t del_cnt,
           const vcdc_sink_offset_t *offs, size_t off_cnt, int fence_only) {
        vcdc_sink_batch_t batch = {0};
        size_t i;

        for (i = 0; i < cnt; i++)
                ptrs[i] = &recs[i];
        batch.upserts = ptrs;
        batch.upsert_cnt = cnt;
        batch.delete_ids = dels;
        batch.delete_cnt = del_cnt;
        batch.topic = ITPG_TOPIC;
        batch.offsets = offs;
        batch.offset_cnt = off_cnt;
        batch.fence_only = fence_only;
        return batch;
}

/* vcdc_sink_apply() of such a batch; with itpg.apply_apart,
 * vcdc_sink_apply_send() then vcdc_sink_apply_wait(). */
static inline vcdc_sink_status_t
itpg_apply(vcdc_sink_t *sink, vcdc_record_t *recs, size_t cnt,
           const char *const *dels, size_t del_cnt,
           const vcdc_sink_offset_t *offs, size_t off_cnt, int fence_only,
           char *errstr, size_t errstr_size) {
        const vcdc_record_t **ptrs = calloc(cnt ? cnt : 1, sizeof(*ptrs));
        vcdc_sink_batch_t batch = itpg_batch(ptrs, recs, cnt, dels, del_cnt,
                                             offs, off_cnt, fence_only);
        vcdc_sink_status_t st;

        errstr[0] = '\0';
        if (!itpg.apply_apart) {
                st = vcdc_sink_apply(sink, &batch, errstr, errstr_size);
        } else if ((st = vcdc_sink_apply_send(sink, &batch, errstr,
                                              errstr_size)) == VCDC_SINK_OK) {
                /* Sent: the batch's memory is the caller's again. */
                memset(ptrs, 0, (cnt ? cnt : 1) * sizeof(*ptrs));
                st = vcdc_sink_apply_wait(sink, errstr, errstr_size);
        }
        free(ptrs);
        return st;
}

/* itpg_apply() of recs[0..cnt) and dels[0..del_cnt) with offset for
 * partition 0, none when it is negative. */
static inline vcdc_sink_status_t
itpg_apply_at(vcdc_sink_t *sink, vcdc_record_t *recs, size_t cnt,
              const char *const *dels, size_t del_cnt, int64_t offset,
              char *errstr, size_t errstr_size) {
        vcdc_sink_offset_t off = {0, offset};

        return itpg_apply(sink, recs, cnt, dels, del_cnt, &off,
                          offset >= 0 ? 1 : 0, 0, errstr, errstr_size);
}

/* One upsert of id-n (variant) with one offset of partition 0. */
static inline vcdc_sink_status_t itpg_apply_one(vcdc_sink_t *sink, int n,
                                                int variant, int64_t offset,
                                                char *errstr,
                                                size_t errstr_size) {
        vcdc_sink_offset_t off = {0, offset};
        vcdc_record_t rec;
        vcdc_sink_status_t st;

        itpg_rec(&rec, n, 4, variant);
        st = itpg_apply(sink, &rec, 1, NULL, 0, &off, 1, 0, errstr,
                        errstr_size);
        vcdc_record_clear(&rec);
        return st;
}

/* The variant stored for id-n in table (metadata "v"), -1 when absent. */
static inline long long itpg_variant(const char *table, int n) {
        return itpg_int(itpg.conn,
                        "SELECT (metadata->>'v')::int FROM \"%s\" "
                        "WHERE id = 'id-%d'",
                        table, n);
}

#endif
