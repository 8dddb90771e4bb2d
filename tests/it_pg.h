/*
 * vcdc - what the pgvector integration tests of issue 14 share
 * (it_sink_fence.c, it_sink_pg_auth.c, it_sink_pg_check.c): the server
 * named by the environment, direct libpq connections for independent
 * checks and for holding locks, records and batches, and a TCP proxy that
 * can hold a client's bytes, refuse connections, or forward.
 *
 * Environment (as tests/it_sink_pgvector.c):
 *   VCDC_PG_CONNINFO   libpq conninfo, or
 *   VCDC_PGVECTOR_URL  pgvector://USER@HOST:PORT/DB?sslmode=disable
 *   VCDC_PG_PASSWORD   when the server wants one
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

#include <libpq-fe.h>

#include "sink.h"
#include "url.h"

#define ITPG_TOPIC "it.topic"

static struct {
        char host[256], user[128], db[128], sslmode[32];
        int port;
        PGconn *conn; /* direct, for independent checks */
} itpg;

static inline double itpg_now(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline void itpg_sleep_ms(int ms) {
        struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

        nanosleep(&ts, NULL);
}

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

/* it_<what>_<pid>_<suffix>: a table name of this run. */
static inline void itpg_table(char *buf, size_t size, const char *what,
                              const char *suffix) {
        snprintf(buf, size, "it_%s_%d_%s", what, (int)getpid(), suffix);
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

/* The sink URL of table on host:port (port 0: the server's) as user
 * (NULL: the environment's). */
static inline void itpg_url(char *buf, size_t size, const char *table,
                            const char *user, int port) {
        snprintf(buf, size, "pgvector://%s@%s:%d/%s?table=%s%s%s",
                 user ? user : itpg.user, port ? "127.0.0.1" : itpg.host,
                 port ? port : itpg.port, itpg.db, table,
                 itpg.sslmode[0] ? "&sslmode=" : "", itpg.sslmode);
}

static inline vcdc_sink_t *itpg_open_at(const char *table, int port,
                                        int timeout_ms) {
        vcdc_sink_conf_t conf = {.metric = VCDC_METRIC_COSINE,
                                 .timeout_ms = timeout_ms};
        char url[1024], errstr[512];
        vcdc_sink_t *sink;

        itpg_url(url, sizeof(url), table, NULL, port);
        if (!(sink = vcdc_sink_new(url, &conf, errstr, sizeof(errstr))))
                fail_msg("%s: %s", url, errstr);
        return sink;
}

static inline vcdc_sink_t *itpg_open(const char *table) {
        return itpg_open_at(table, 0, 30000);
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

/* vcdc_sink_apply() of such a batch. */
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
        st = vcdc_sink_apply(sink, &batch, errstr, errstr_size);
        free(ptrs);
        return st;
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

/* Asserts st == want, with errstr in the message. */
static inline void itpg_want(vcdc_sink_status_t st, vcdc_sink_status_t want,
                             const char *what, const char *errstr) {
        if (st != want)
                fail_msg("%s: %s, want %s: %s", what, vcdc_sink_status_name(st),
                         vcdc_sink_status_name(want), errstr);
}

/* The offset the sink reads back for partition of ITPG_TOPIC, -1 for
 * none. */
static inline int64_t itpg_offset(vcdc_sink_t *sink, int32_t partition) {
        vcdc_sink_offset_t *offs;
        char errstr[512];
        size_t cnt, i;
        int64_t v = -1;

        if (vcdc_sink_read_offsets(sink, ITPG_TOPIC, &offs, &cnt, errstr,
                                   sizeof(errstr)) != VCDC_SINK_OK)
                fail_msg("read_offsets: %s", errstr);
        for (i = 0; i < cnt; i++)
                if (offs[i].partition == partition)
                        v = offs[i].offset;
        free(offs);
        return v;
}

/* The variant stored for id-n in table (metadata "v"), -1 when absent. */
static inline long long itpg_variant(const char *table, int n) {
        return itpg_int(itpg.conn,
                        "SELECT (metadata->>'v')::int FROM \"%s\" "
                        "WHERE id = 'id-%d'",
                        table, n);
}

/*
 * A TCP proxy to the server in a thread. Commands: 'h' holds the clients
 * connected now (their bytes stay unread; later connections, such as a
 * cancel request, pass), 'r' releases them: what they sent goes on to the
 * server, then their end of file, and the server's answers are dropped
 * once the client is gone. 'd' closes everything and refuses connections
 * (the port stays reserved), 'u' listens again, 'q' quits.
 */
#define ITPG_PROXY_PAIRS 16

typedef struct itpg_pair_s {
        int fd[2]; /* client, server; -1 when unused */
        int held;
        int client_eof;
} itpg_pair_t;

typedef struct itpg_proxy_s {
        struct sockaddr_in target;
        int port, reserve_fd, listen_fd;
        int ctl[2], ack[2];
        itpg_pair_t pairs[ITPG_PROXY_PAIRS];
        pthread_t thread;
} itpg_proxy_t;

static inline int itpg_proxy_bind(itpg_proxy_t *px) {
        struct sockaddr_in addr;
        socklen_t len = sizeof(addr);
        int fd, one = 1;

        if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
                return -1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
        memset(&addr, 0, sizeof(addr));
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        addr.sin_port = htons((uint16_t)px->port);
        if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) == -1 ||
            getsockname(fd, (struct sockaddr *)&addr, &len) == -1) {
                close(fd);
                return -1;
        }
        px->port = ntohs(addr.sin_port);
        return fd;
}

static inline int itpg_proxy_listen(itpg_proxy_t *px) {
        int fd = itpg_proxy_bind(px);

        if (fd == -1 || listen(fd, 16) == -1) {
                if (fd != -1)
                        close(fd);
                return -1;
        }
        px->listen_fd = fd;
        return 0;
}

static inline void itpg_pair_close(itpg_pair_t *p) {
        if (p->fd[0] != -1)
                close(p->fd[0]);
        if (p->fd[1] != -1)
                close(p->fd[1]);
        memset(p, 0, sizeof(*p));
        p->fd[0] = p->fd[1] = -1;
}

static inline void itpg_proxy_accept(itpg_proxy_t *px) {
        int c = accept(px->listen_fd, NULL, NULL), s, j;

        if (c == -1)
                return;
        for (j = 0; j < ITPG_PROXY_PAIRS; j++)
                if (px->pairs[j].fd[0] == -1 && px->pairs[j].fd[1] == -1)
                        break;
        s = socket(AF_INET, SOCK_STREAM, 0);
        if (j == ITPG_PROXY_PAIRS || s == -1 ||
            connect(s, (struct sockaddr *)&px->target, sizeof(px->target)) ==
                    -1) {
                close(c);
                if (s != -1)
                        close(s);
                return;
        }
        px->pairs[j].fd[0] = c;
        px->pairs[j].fd[1] = s;
}

/* Moves what side of pair p has to the other side. */
static inline void itpg_pair_forward(itpg_pair_t *p, int side) {
        char buf[65536];
        ssize_t n = read(p->fd[side], buf, sizeof(buf)), off = 0, w;

        if (n <= 0) {
                if (side == 0 && n == 0) {
                        /* The client is gone: the server gets the end of
                         * what it sent and may still answer. */
                        shutdown(p->fd[1], SHUT_WR);
                        p->client_eof = 1;
                        return;
                }
                itpg_pair_close(p);
                return;
        }
        if (side == 1 && p->client_eof)
                return; /* answers for a client that left */
        while (off < n) {
                if ((w = write(p->fd[!side], buf + off, (size_t)(n - off))) <=
                    0) {
                        if (side == 1) {
                                p->client_eof = 1;
                                return;
                        }
                        itpg_pair_close(p);
                        return;
                }
                off += w;
        }
}

static inline void *itpg_proxy_main(void *arg) {
        itpg_proxy_t *px = arg;

        for (;;) {
                struct pollfd pfd[2 + 2 * ITPG_PROXY_PAIRS];
                int who[2 + 2 * ITPG_PROXY_PAIRS];
                int n = 0, i, j;
                char cmd;

                pfd[n].fd = px->ctl[0];
                pfd[n].events = POLLIN;
                who[n++] = -1;
                if (px->listen_fd != -1) {
                        pfd[n].fd = px->listen_fd;
                        pfd[n].events = POLLIN;
                        who[n++] = -2;
                }
                for (i = 0; i < ITPG_PROXY_PAIRS; i++) {
                        itpg_pair_t *p = &px->pairs[i];
                        if (p->fd[1] == -1)
                                continue;
                        for (j = 0; j < 2; j++) {
                                if (j == 0 && (p->held || p->client_eof))
                                        continue;
                                pfd[n].fd = p->fd[j];
                                pfd[n].events = POLLIN;
                                who[n++] = i * 2 + j;
                        }
                }
                if (poll(pfd, (nfds_t)n, -1) == -1) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                if (pfd[0].revents) {
                        if (read(px->ctl[0], &cmd, 1) != 1 || cmd == 'q')
                                break;
                        for (i = 0; i < ITPG_PROXY_PAIRS; i++) {
                                itpg_pair_t *p = &px->pairs[i];
                                if (p->fd[1] == -1)
                                        continue;
                                if (cmd == 'h')
                                        p->held = 1;
                                else if (cmd == 'r')
                                        p->held = 0;
                                else if (cmd == 'd')
                                        itpg_pair_close(p);
                        }
                        if (cmd == 'd' && px->listen_fd != -1) {
                                close(px->listen_fd);
                                px->listen_fd = -1;
                        } else if (cmd == 'u' && px->listen_fd == -1) {
                                itpg_proxy_listen(px);
                        } else if (cmd == 'c') {
                                /* how many pairs are open */
                                for (i = 0, j = 0; i < ITPG_PROXY_PAIRS; i++)
                                        j += px->pairs[i].fd[1] != -1;
                                cmd = (char)j;
                        }
                        if (write(px->ack[1], &cmd, 1) != 1)
                                break;
                        continue;
                }
                for (i = 1; i < n; i++) {
                        if (!pfd[i].revents)
                                continue;
                        if (who[i] == -2)
                                itpg_proxy_accept(px);
                        else if (px->pairs[who[i] / 2].fd[who[i] % 2] ==
                                 pfd[i].fd)
                                itpg_pair_forward(&px->pairs[who[i] / 2],
                                                  who[i] % 2);
                }
        }
        return NULL;
}

/* Sends cmd and returns the proxy's answer (for 'c', the open pairs). */
static inline int itpg_proxy_cmd(itpg_proxy_t *px, char cmd) {
        char a = 0;

        assert_int_equal(write(px->ctl[1], &cmd, 1), 1);
        if (cmd != 'q')
                assert_int_equal(read(px->ack[0], &a, 1), 1);
        return a;
}

/* Waits until no pair is open (every server connection closed). */
static inline int itpg_proxy_drained(itpg_proxy_t *px, double timeout_s) {
        double t0 = itpg_now();

        while (itpg_proxy_cmd(px, 'c') > 0) {
                if (itpg_now() - t0 > timeout_s)
                        return 0;
                itpg_sleep_ms(50);
        }
        return 1;
}

static inline int itpg_proxy_start(itpg_proxy_t *px) {
        int i;

        memset(px, 0, sizeof(*px));
        px->listen_fd = -1;
        for (i = 0; i < ITPG_PROXY_PAIRS; i++)
                px->pairs[i].fd[0] = px->pairs[i].fd[1] = -1;
        px->target.sin_family = AF_INET;
        px->target.sin_port = htons((uint16_t)itpg.port);
        if (inet_pton(AF_INET, itpg.host, &px->target.sin_addr) != 1)
                return -1; /* IPv4 literals only */
        if (pipe(px->ctl) == -1 || pipe(px->ack) == -1 ||
            (px->reserve_fd = itpg_proxy_bind(px)) == -1 ||
            itpg_proxy_listen(px) == -1)
                return -1;
        return pthread_create(&px->thread, NULL, itpg_proxy_main, px) ? -1 : 0;
}

static inline void itpg_proxy_stop(itpg_proxy_t *px) {
        int i;

        itpg_proxy_cmd(px, 'q');
        pthread_join(px->thread, NULL);
        if (px->listen_fd != -1)
                close(px->listen_fd);
        close(px->reserve_fd);
        for (i = 0; i < ITPG_PROXY_PAIRS; i++)
                itpg_pair_close(&px->pairs[i]);
        close(px->ctl[0]);
        close(px->ctl[1]);
        close(px->ack[0]);
        close(px->ack[1]);
}

#endif
