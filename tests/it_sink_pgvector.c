/*
 * vcdc - integration test: the pgvector sink against a real server
 * (PostgreSQL with pgvector).
 *
 * Environment:
 *   VCDC_PG_CONNINFO   libpq conninfo ("host=127.0.0.1 port=15432
 *                      user=postgres dbname=postgres sslmode=disable"), or
 *   VCDC_PGVECTOR_URL  pgvector://USER@HOST:PORT/DB?sslmode=disable
 *   VCDC_PG_PASSWORD   when the server wants one
 *   VCDC_PG_STOP_CMD, VCDC_PG_START_CMD  shell commands that stop and
 *                      start the server (START returns once it answers), or
 *   VCDC_STACK_SH      scripts/stack.sh (set by scripts/with-stack.sh): its
 *                      stop-one / start-one pgvector.
 *                      With either, the outage test stops the real server;
 *                      without, it cuts connections in a TCP proxy of its
 *                      own. The mid-batch cuts always go through the proxy.
 *   VCDC_IT_PG_VECTORS number of vectors for the bulk test (2500).
 * Skips (exit 0, with a message) when neither of the first two is set.
 *
 * Checks the database's end state: through the sink and, independently,
 * through plain libpq queries. Tables are named it_pgv_<pid>_* and dropped
 * at the end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "log.h"
#include "sink.h"
#include "sink_pgvector_int.h"
#include "url.h"

#define DIM 128
#define BATCH 500

/*
 * A TCP proxy in a thread, to cut and restore the path to the server.
 */
#define PROXY_MAX_PAIRS 16

typedef struct proxy_s {
        struct sockaddr_in target;
        int port;
        int reserve_fd; /* holds the port, never listens */
        int listen_fd;  /* -1 while down */
        int ctl[2];    /* commands: 'd' down, 'u' up, 'q' quit */
        int ack[2];
        int pairs[PROXY_MAX_PAIRS][2]; /* client, server; -1 when unused */
        pthread_t thread;
} proxy_t;

/* A socket bound to the proxy's port (0: any). SO_REUSEPORT lets the
 * listener and a never-listening reserve hold the port together: while the
 * proxy is down the reserve keeps it, so connections are refused and no
 * outgoing connection gets it as its local port. */
static int proxy_bind(proxy_t *px) {
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

static int proxy_listen(proxy_t *px) {
        int fd = proxy_bind(px);

        if (fd == -1 || listen(fd, 16) == -1) {
                if (fd != -1)
                        close(fd);
                return -1;
        }
        px->listen_fd = fd;
        return 0;
}

static void proxy_close_pair(proxy_t *px, int i) {
        close(px->pairs[i][0]);
        close(px->pairs[i][1]);
        px->pairs[i][0] = px->pairs[i][1] = -1;
}

/* Copies what fd has to the other side of its pair; -1 when either closed. */
static int proxy_forward(int from, int to) {
        char buf[65536];
        ssize_t n = read(from, buf, sizeof(buf)), off = 0, w;

        if (n <= 0)
                return -1;
        while (off < n) {
                if ((w = write(to, buf + off, (size_t)(n - off))) <= 0)
                        return -1;
                off += w;
        }
        return 0;
}

static void *proxy_main(void *arg) {
        proxy_t *px = arg;

        for (;;) {
                struct pollfd pfd[2 + 2 * PROXY_MAX_PAIRS];
                int idx[2 + 2 * PROXY_MAX_PAIRS];
                int n = 0, i, j;
                char cmd;

                pfd[n].fd = px->ctl[0];
                pfd[n++].events = POLLIN;
                if (px->listen_fd != -1) {
                        pfd[n].fd = px->listen_fd;
                        pfd[n++].events = POLLIN;
                }
                for (i = 0; i < PROXY_MAX_PAIRS; i++)
                        for (j = 0; j < 2 && px->pairs[i][0] != -1; j++) {
                                idx[n] = i * 2 + j;
                                pfd[n].fd = px->pairs[i][j];
                                pfd[n++].events = POLLIN;
                        }
                if (poll(pfd, (nfds_t)n, -1) == -1) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                if (pfd[0].revents) {
                        if (read(px->ctl[0], &cmd, 1) != 1 || cmd == 'q')
                                break;
                        if (cmd == 'd') {
                                if (px->listen_fd != -1)
                                        close(px->listen_fd);
                                px->listen_fd = -1;
                                for (i = 0; i < PROXY_MAX_PAIRS; i++)
                                        if (px->pairs[i][0] != -1)
                                                proxy_close_pair(px, i);
                        } else if (cmd == 'u' && px->listen_fd == -1) {
                                if (proxy_listen(px) == -1)
                                        perror("proxy: listen");
                        }
                        if (write(px->ack[1], &cmd, 1) != 1)
                                break;
                        continue; /* the fds changed */
                }
                for (i = 1; i < n; i++) {
                        if (!pfd[i].revents)
                                continue;
                        if (pfd[i].fd == px->listen_fd) {
                                int c = accept(px->listen_fd, NULL, NULL), s;
                                for (j = 0; j < PROXY_MAX_PAIRS; j++)
                                        if (px->pairs[j][0] == -1)
                                                break;
                                if (c == -1)
                                        continue;
                                s = socket(AF_INET, SOCK_STREAM, 0);
                                if (j == PROXY_MAX_PAIRS || s == -1 ||
                                    connect(s, (struct sockaddr *)&px->target,
                                            sizeof(px->target)) == -1) {
                                        close(c);
                                        if (s != -1)
                                                close(s);
                                        continue;
                                }
                                px->pairs[j][0] = c;
                                px->pairs[j][1] = s;
                        } else {
                                int pair = idx[i] / 2, side = idx[i] % 2;
                                if (px->pairs[pair][0] == -1)
                                        continue; /* closed this round */
                                if (proxy_forward(px->pairs[pair][side],
                                                  px->pairs[pair][!side]))
                                        proxy_close_pair(px, pair);
                        }
                }
        }
        return NULL;
}

static void proxy_cmd(proxy_t *px, char cmd) {
        char a;

        assert_int_equal(write(px->ctl[1], &cmd, 1), 1);
        if (cmd != 'q')
                assert_int_equal(read(px->ack[0], &a, 1), 1);
}

static int proxy_start(proxy_t *px, const char *host, int port) {
        int i;

        memset(px, 0, sizeof(*px));
        px->listen_fd = -1;
        for (i = 0; i < PROXY_MAX_PAIRS; i++)
                px->pairs[i][0] = px->pairs[i][1] = -1;
        px->target.sin_family = AF_INET;
        px->target.sin_port = htons((uint16_t)port);
        if (inet_pton(AF_INET, host, &px->target.sin_addr) != 1)
                return -1; /* the proxy speaks IPv4 literals only */
        if (pipe(px->ctl) == -1 || pipe(px->ack) == -1 ||
            (px->reserve_fd = proxy_bind(px)) == -1 || proxy_listen(px) == -1)
                return -1;
        return pthread_create(&px->thread, NULL, proxy_main, px) ? -1 : 0;
}

static void proxy_stop(proxy_t *px) {
        int i;

        proxy_cmd(px, 'q');
        pthread_join(px->thread, NULL);
        if (px->listen_fd != -1)
                close(px->listen_fd);
        close(px->reserve_fd);
        for (i = 0; i < PROXY_MAX_PAIRS; i++)
                if (px->pairs[i][0] != -1)
                        proxy_close_pair(px, i);
        close(px->ctl[0]);
        close(px->ctl[1]);
        close(px->ack[0]);
        close(px->ack[1]);
}

/*
 * Fixture
 */
static struct {
        char host[256], user[128], db[128], sslmode[32];
        int port;
        PGconn *conn;      /* direct, for independent checks */
        proxy_t proxy;
        int have_proxy;
        const char *stop_cmd, *start_cmd;
        char stop_buf[1100], start_buf[1100];
        size_t n;          /* vectors in the bulk test */
        int *variant;      /* per id: the version stored, -1 deleted */
        double apply_rate; /* vectors/s */
} it;

/* a bulk, b atomicity, c outage, d never created, e refusals, f and g
 * made by hand, h applied in two halves, i prepared upserts. */
static char table_a[64], table_b[64], table_c[64], table_d[64], table_e[64],
        table_f[64], table_g[64], table_h[64], table_i[64];

static void table_name(char *buf, size_t size, const char *suffix) {
        snprintf(buf, size, "it_pgv_%d_%s", (int)getpid(), suffix);
}

/* The sink URL for table, directly or through the proxy. */
static void sink_url(char *buf, size_t size, const char *table,
                     int via_proxy, const char *extra) {
        snprintf(buf, size, "pgvector://%s@%s:%d/%s?table=%s%s%s%s",
                 it.user, via_proxy ? "127.0.0.1" : it.host,
                 via_proxy ? it.proxy.port : it.port, it.db, table,
                 it.sslmode[0] ? "&sslmode=" : "", it.sslmode,
                 extra ? extra : "");
}

static vcdc_sink_t *open_sink(const char *table, int via_proxy,
                              vcdc_metric_t metric, size_t dim,
                              int timeout_ms) {
        vcdc_sink_conf_t conf = {.metric = metric,
                                 .dim = dim,
                                 .timeout_ms = timeout_ms};
        char url[1024], errstr[512];
        vcdc_sink_t *sink;

        sink_url(url, sizeof(url), table, via_proxy, NULL);
        if (!(sink = vcdc_sink_new(url, &conf, errstr, sizeof(errstr))))
                fail_msg("%s: %s", url, errstr);
        return sink;
}

static PGresult *sql(const char *query) {
        PGresult *res = PQexec(it.conn, query);
        ExecStatusType st = PQresultStatus(res);

        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
                fail_msg("%s: %s", query, PQresultErrorMessage(res));
        return res;
}

/* The single value a query returns, as a new string. */
static char *sql_value(const char *query) {
        PGresult *res = sql(query);
        char *v;

        assert_int_equal(PQntuples(res), 1);
        v = strdup(PQgetvalue(res, 0, 0));
        PQclear(res);
        return v;
}

static void drop_tables(void) {
        const char *tables[] = {table_a, table_b, table_c, table_d,
                                table_e, table_f, table_g, table_h,
                                table_i};
        char q[256];
        size_t i;

        for (i = 0; i < sizeof(tables) / sizeof(*tables); i++) {
                snprintf(q, sizeof(q), "DROP TABLE IF EXISTS \"%s\"",
                         tables[i]);
                PQclear(sql(q));
                snprintf(q, sizeof(q),
                         "DELETE FROM vcdc_targets WHERE table_name = '%s'",
                         tables[i]);
                PQclear(PQexec(it.conn, q)); /* may not exist yet */
                snprintf(q, sizeof(q),
                         "DELETE FROM vcdc_offsets WHERE table_name = '%s'",
                         tables[i]);
                PQclear(PQexec(it.conn, q));
        }
}

static int copy_opt(char *dst, size_t size, const char *v) {
        if (v)
                snprintf(dst, size, "%s", v);
        return 0;
}

/* Fills it.host, port, user, db, sslmode from the environment. Returns -1
 * when neither variable is set. */
static int read_env(void) {
        const char *conninfo = getenv("VCDC_PG_CONNINFO");
        const char *url = getenv("VCDC_PGVECTOR_URL");
        char errstr[256];

        snprintf(it.user, sizeof(it.user), "postgres");
        snprintf(it.db, sizeof(it.db), "postgres");
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
                                copy_opt(it.host, sizeof(it.host), o->val);
                        else if (!strcmp(o->keyword, "port"))
                                it.port = (int)strtol(o->val, NULL, 10);
                        else if (!strcmp(o->keyword, "user"))
                                copy_opt(it.user, sizeof(it.user), o->val);
                        else if (!strcmp(o->keyword, "dbname"))
                                copy_opt(it.db, sizeof(it.db), o->val);
                        else if (!strcmp(o->keyword, "sslmode"))
                                copy_opt(it.sslmode, sizeof(it.sslmode),
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
                copy_opt(it.host, sizeof(it.host), u->host);
                it.port = u->port;
                copy_opt(it.user, sizeof(it.user), u->user);
                if (*u->path)
                        copy_opt(it.db, sizeof(it.db), u->path);
                copy_opt(it.sslmode, sizeof(it.sslmode),
                         vcdc_url_param(u, "sslmode"));
                vcdc_url_destroy(u);
        } else {
                return -1;
        }
        if (!it.host[0])
                snprintf(it.host, sizeof(it.host), "127.0.0.1");
        if (!it.port)
                it.port = 5432;
        return 0;
}

/* "table ... does not exist, skipping" and the like. */
static void quiet_notice(void *arg, const char *message) {
        (void)arg;
        (void)message;
}

static int setup(void **state) {
        char port[16];
        const char *keys[] = {"host", "port", "user", "dbname", "sslmode",
                              "password", NULL};
        const char *values[7];
        const char *n = getenv("VCDC_IT_PG_VECTORS"), *sh;

        (void)state;
        table_name(table_a, sizeof(table_a), "a");
        table_name(table_b, sizeof(table_b), "b");
        table_name(table_c, sizeof(table_c), "c");
        table_name(table_d, sizeof(table_d), "d");
        table_name(table_e, sizeof(table_e), "e");
        table_name(table_f, sizeof(table_f), "f");
        table_name(table_g, sizeof(table_g), "g");
        table_name(table_h, sizeof(table_h), "h");
        table_name(table_i, sizeof(table_i), "i");
        snprintf(port, sizeof(port), "%d", it.port);
        values[0] = it.host;
        values[1] = port;
        values[2] = it.user;
        values[3] = it.db;
        values[4] = it.sslmode[0] ? it.sslmode : NULL;
        values[5] = getenv("VCDC_PG_PASSWORD");
        values[6] = NULL;
        if (!values[4]) {
                keys[4] = "password";
                values[4] = values[5];
                keys[5] = NULL;
        }
        it.conn = PQconnectdbParams(keys, values, 0);
        if (PQstatus(it.conn) != CONNECTION_OK) {
                fprintf(stderr, "cannot connect: %s", PQerrorMessage(it.conn));
                return -1;
        }
        PQsetNoticeProcessor(it.conn, quiet_notice, NULL);
        it.n = n ? (size_t)strtoul(n, NULL, 10) : 2500;
        if (it.n < 1100)
                it.n = 1100;
        it.variant = calloc(it.n, sizeof(*it.variant));
        it.stop_cmd = getenv("VCDC_PG_STOP_CMD");
        it.start_cmd = getenv("VCDC_PG_START_CMD");
        if ((!it.stop_cmd || !it.start_cmd) && (sh = getenv("VCDC_STACK_SH")) &&
            *sh) {
                snprintf(it.stop_buf, sizeof(it.stop_buf),
                         "'%s' stop-one pgvector", sh);
                snprintf(it.start_buf, sizeof(it.start_buf),
                         "'%s' start-one pgvector", sh);
                it.stop_cmd = it.stop_buf;
                it.start_cmd = it.start_buf;
        }
        if (proxy_start(&it.proxy, it.host, it.port) == -1) {
                fprintf(stderr, "cannot start the proxy to %s:%d\n", it.host,
                        it.port);
                return -1;
        }
        it.have_proxy = 1;
        drop_tables();
        return 0;
}

static int teardown(void **state) {
        (void)state;
        if (it.conn && PQstatus(it.conn) == CONNECTION_OK)
                drop_tables();
        PQfinish(it.conn);
        if (it.have_proxy)
                proxy_stop(&it.proxy);
        free(it.variant);
        if (it.apply_rate > 0)
                printf("pgvector apply rate: %.0f vectors/s (%zu-d, batches "
                       "of %d)\n",
                       it.apply_rate, (size_t)DIM, BATCH);
        return 0;
}

/*
 * Records
 */

static uint32_t mix(uint32_t x) {
        x ^= x >> 16;
        x *= 0x7feb352du;
        x ^= x >> 15;
        x *= 0x846ca68bu;
        x ^= x >> 16;
        return x;
}

/* The record for id number i in version variant. Every 97th holds extreme
 * floats; some have no metadata or no document. */
static void make_record(vcdc_record_t *rec, size_t i, int variant) {
        static const float extremes[] = {1.40129846e-45f, -0.0f,
                                         3.40282347e38f, -1.17549435e-38f,
                                         0.1f, 1e-10f};
        char buf[256];
        size_t d;

        vcdc_record_init(rec);
        snprintf(buf, sizeof(buf), "id-%06zu", i);
        rec->id = strdup(buf);
        rec->op = VCDC_OP_UPSERT;
        rec->dim = DIM;
        rec->vector = malloc(DIM * sizeof(float));
        for (d = 0; d < DIM; d++) {
                uint32_t r = mix((uint32_t)(i * 7919 + d * 31 +
                                            (size_t)variant * 1000003));
                rec->vector[d] = (float)((double)r / 4294967296.0 * 2 - 1);
        }
        if (i % 97 == 0)
                for (d = 0; d < sizeof(extremes) / sizeof(*extremes); d++)
                        rec->vector[d] = extremes[d];
        if ((i + (size_t)variant) % 7) {
                snprintf(buf, sizeof(buf),
                         "{\"variant\": %d, \"i\": %zu, \"tags\": [\"a\", "
                         "\"b\"], \"score\": %zu.5, \"nested\": {\"z\": "
                         "null, \"a\": true}, \"text\": \"x \\\"q\\\" "
                         "\\u00e9\"}",
                         variant, i, i % 10);
                rec->metadata = strdup(buf);
        }
        if ((i + (size_t)variant) % 5) {
                snprintf(buf, sizeof(buf),
                         "document %zu, version %d: caf\xc3\xa9", i, variant);
                rec->document = strdup(buf);
        }
}

static void json_same(const char *got, const char *want, const char *id) {
        json_t *g, *w;

        if (!got || !want) {
                if (got || want)
                        fail_msg("%s: metadata %s, expected %s", id,
                                 got ? got : "NULL", want ? want : "NULL");
                return;
        }
        g = json_loads(got, 0, NULL);
        w = json_loads(want, 0, NULL);
        if (!g || !w || !json_equal(g, w))
                fail_msg("%s: metadata %s, expected %s", id, got, want);
        json_decref(g);
        json_decref(w);
}

static void record_same(const vcdc_record_t *got, const vcdc_record_t *want) {
        assert_non_null(got->id);
        assert_string_equal(got->id, want->id);
        assert_int_equal(got->dim, want->dim);
        if (memcmp(got->vector, want->vector, want->dim * sizeof(float)))
                fail_msg("%s: vector differs", want->id);
        json_same(got->metadata, want->metadata, want->id);
        if (want->document)
                assert_string_equal(got->document, want->document);
        else
                assert_null(got->document);
}

/* Applies upserts of ids [from, to) in version variant plus deletes of
 * del[0..del_cnt), in batches of BATCH, recording offsets for
 * partitions 0 and 1 as (*offset)++ per record. */
static void apply_range(vcdc_sink_t *sink, size_t from, size_t to,
                        int variant, int64_t *offset) {
        vcdc_record_t *recs = calloc(BATCH, sizeof(*recs));
        const vcdc_record_t **ptrs = calloc(BATCH, sizeof(*ptrs));
        char errstr[512];
        size_t i, cnt;

        for (i = from; i < to; i += cnt) {
                vcdc_sink_offset_t offs[2];
                vcdc_sink_batch_t batch = {0};
                vcdc_sink_status_t st;
                size_t j;

                cnt = to - i < BATCH ? to - i : BATCH;
                for (j = 0; j < cnt; j++) {
                        make_record(&recs[j], i + j, variant);
                        ptrs[j] = &recs[j];
                        it.variant[i + j] = variant;
                }
                *offset += (int64_t)cnt;
                offs[0].partition = 0;
                offs[0].offset = *offset;
                offs[1].partition = 1;
                offs[1].offset = *offset / 2;
                batch.upserts = ptrs;
                batch.upsert_cnt = cnt;
                batch.topic = "it.topic";
                batch.offsets = offs;
                batch.offset_cnt = 2;
                st = vcdc_sink_apply(sink, &batch, errstr, sizeof(errstr));
                if (st != VCDC_SINK_OK)
                        fail_msg("apply: %s: %s", vcdc_sink_status_name(st),
                                 errstr);
                for (j = 0; j < cnt; j++)
                        vcdc_record_clear(&recs[j]);
        }
        free(ptrs);
        free(recs);
}

static void apply_deletes(vcdc_sink_t *sink, size_t from, size_t to,
                          int64_t *offset) {
        char **ids = calloc(to - from, sizeof(*ids)), buf[32], errstr[512];
        vcdc_sink_offset_t offs = {.partition = 0};
        vcdc_sink_batch_t batch = {0};
        vcdc_sink_status_t st;
        size_t i;

        for (i = from; i < to; i++) {
                snprintf(buf, sizeof(buf), "id-%06zu", i);
                ids[i - from] = strdup(buf);
                it.variant[i] = -1;
        }
        *offset += (int64_t)(to - from);
        offs.offset = *offset;
        batch.delete_ids = (const char *const *)ids;
        batch.delete_cnt = to - from;
        batch.topic = "it.topic";
        batch.offsets = &offs;
        batch.offset_cnt = 1;
        st = vcdc_sink_apply(sink, &batch, errstr, sizeof(errstr));
        if (st != VCDC_SINK_OK)
                fail_msg("delete: %s: %s", vcdc_sink_status_name(st), errstr);
        for (i = 0; i < to - from; i++)
                free(ids[i]);
        free(ids);
}

/* Every id 0..n through get(): present ones equal their version, deleted
 * ones missing. Returns how many are present. */
static size_t verify_all(vcdc_sink_t *sink) {
        enum { CHUNK = 300 };
        vcdc_record_t out[CHUNK], want;
        char *ids[CHUNK], buf[32], errstr[512];
        size_t i, j, cnt, present = 0;
        vcdc_sink_status_t st;

        for (i = 0; i < it.n; i += cnt) {
                cnt = it.n - i < CHUNK ? it.n - i : CHUNK;
                for (j = 0; j < cnt; j++) {
                        snprintf(buf, sizeof(buf), "id-%06zu", i + j);
                        ids[j] = strdup(buf);
                        vcdc_record_init(&out[j]);
                }
                st = vcdc_sink_get(sink, (const char *const *)ids, cnt, out,
                                   errstr, sizeof(errstr));
                if (st != VCDC_SINK_OK)
                        fail_msg("get: %s", errstr);
                for (j = 0; j < cnt; j++) {
                        if (it.variant[i + j] < 0) {
                                if (out[j].id)
                                        fail_msg("%s: deleted, yet found",
                                                 ids[j]);
                        } else {
                                make_record(&want, i + j, it.variant[i + j]);
                                record_same(&out[j], &want);
                                vcdc_record_clear(&want);
                                present++;
                        }
                        vcdc_record_clear(&out[j]);
                        free(ids[j]);
                }
        }
        return present;
}

static uint64_t count(vcdc_sink_t *sink) {
        char errstr[512];
        uint64_t n = 0;
        vcdc_sink_status_t st = vcdc_sink_count(sink, &n, errstr,
                                                sizeof(errstr));

        if (st != VCDC_SINK_OK)
                fail_msg("count: %s", errstr);
        return n;
}

static int64_t recorded_offset(vcdc_sink_t *sink, int32_t partition) {
        vcdc_sink_offset_t *offs;
        char errstr[512];
        size_t cnt, i;
        int64_t v = -1;

        if (vcdc_sink_read_offsets(sink, "it.topic", &offs, &cnt, errstr,
                                   sizeof(errstr)) != VCDC_SINK_OK)
                fail_msg("read_offsets: %s", errstr);
        for (i = 0; i < cnt; i++)
                if (offs[i].partition == partition)
                        v = offs[i].offset;
        free(offs);
        return v;
}

static double now_s(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Tests
 */

/* Bulk upserts, deletes, re-upserts; count, get, scan, query, offsets. */
static void test_bulk(void **state) {
        vcdc_sink_t *sink;
        int64_t offset = 0;
        uint64_t expect;
        char q[256], *v;
        double t0;
        size_t i;

        (void)state;
        sink = open_sink(table_a, 0, VCDC_METRIC_COSINE, 0, 30000);
        assert_int_equal(vcdc_sink_dim(sink), 0); /* no table yet */
        assert_int_equal(count(sink), 0);
        assert_int_equal(vcdc_sink_max_batch(sink) >= BATCH, 1);

        t0 = now_s();
        apply_range(sink, 0, it.n, 0, &offset);
        it.apply_rate = (double)it.n / (now_s() - t0);
        assert_int_equal(vcdc_sink_dim(sink), DIM);
        assert_int_equal(count(sink), it.n);
        assert_int_equal(recorded_offset(sink, 0), offset);
        assert_int_equal(recorded_offset(sink, 1), offset / 2);
        assert_int_equal(verify_all(sink), it.n);

        /* Delete the first 500, re-upsert 0..99 and change 1000..1099. */
        apply_deletes(sink, 0, 500, &offset);
        assert_int_equal(count(sink), it.n - 500);
        assert_int_equal(recorded_offset(sink, 0), offset);
        apply_range(sink, 0, 100, 1, &offset);
        apply_range(sink, 1000, 1100, 2, &offset);
        expect = it.n - 400;
        assert_int_equal(count(sink), expect);
        assert_int_equal(verify_all(sink), expect);
        assert_int_equal(recorded_offset(sink, 0), offset);

        /* The same, seen without the sink. */
        snprintf(q, sizeof(q), "SELECT count(*) FROM \"%s\"", table_a);
        v = sql_value(q);
        assert_int_equal(strtoull(v, NULL, 10), expect);
        free(v);
        snprintf(q, sizeof(q),
                 "SELECT dim || ' ' || metric FROM vcdc_targets "
                 "WHERE table_name = '%s'",
                 table_a);
        v = sql_value(q);
        assert_string_equal(v, "128 cosine");
        free(v);
        snprintf(q, sizeof(q),
                 "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
                 "WHERE attrelid = '\"%s\"'::regclass AND attname = "
                 "'embedding'",
                 table_a);
        v = sql_value(q);
        assert_string_equal(v, "vector(128)");
        free(v);
        snprintf(q, sizeof(q),
                 "SELECT \"offset\" FROM vcdc_offsets WHERE table_name = '%s' "
                 "AND topic = 'it.topic' AND partition = 0",
                 table_a);
        v = sql_value(q);
        assert_int_equal(strtoll(v, NULL, 10), offset);
        free(v);
        /* The floats as the server holds them, read as real[] and parsed
         * here: extreme values (denormal, -0, FLT_MAX) kept bit for bit. */
        snprintf(q, sizeof(q),
                 "SELECT embedding::real[]::text FROM \"%s\" "
                 "WHERE id = 'id-000097'",
                 table_a);
        v = sql_value(q);
        {
                vcdc_record_t want;
                const char *p = v + 1;
                char *end;
                size_t d = 0;

                make_record(&want, 97, it.variant[97]);
                assert_int_equal(v[0], '{');
                for (d = 0; d < DIM; d++) {
                        float f = strtof(p, &end);
                        assert_true(end != p);
                        if (memcmp(&f, &want.vector[d], sizeof(f)))
                                fail_msg("component %zu: server has %.9g, "
                                         "sent %.9g", d, (double)f,
                                         (double)want.vector[d]);
                        p = end + 1;
                }
                assert_string_equal(end, "}");
                vcdc_record_clear(&want);
        }
        free(v);

        /* A full scan in pages, in id order, with and without vectors. */
        {
                vcdc_record_t out[333], want;
                char *cursor = NULL, last[32] = "", errstr[512];
                size_t cnt, seen = 0, pages = 0;
                int with_vectors;

                for (with_vectors = 1; with_vectors >= 0; with_vectors--) {
                        seen = pages = 0;
                        last[0] = '\0';
                        do {
                                for (i = 0; i < 333; i++)
                                        vcdc_record_init(&out[i]);
                                if (vcdc_sink_scan(sink, &cursor, 333,
                                                   with_vectors, out, &cnt,
                                                   errstr, sizeof(errstr)))
                                        fail_msg("scan: %s", errstr);
                                pages++;
                                for (i = 0; i < cnt; i++) {
                                        size_t n = strtoul(out[i].id + 3,
                                                           NULL, 10);
                                        assert_true(strcmp(out[i].id, last) >
                                                    0);
                                        snprintf(last, sizeof(last), "%s",
                                                 out[i].id);
                                        assert_true(it.variant[n] >= 0);
                                        make_record(&want, n, it.variant[n]);
                                        if (with_vectors) {
                                                record_same(&out[i], &want);
                                        } else {
                                                assert_null(out[i].vector);
                                                json_same(out[i].metadata,
                                                          want.metadata,
                                                          want.id);
                                        }
                                        vcdc_record_clear(&want);
                                        vcdc_record_clear(&out[i]);
                                }
                                seen += cnt;
                        } while (cursor);
                        assert_int_equal(seen, expect);
                        assert_true(pages >= expect / 333);
                }
        }

        /* Each vector is its own nearest neighbour. */
        for (i = 501; i < it.n; i += 211) {
                vcdc_record_t want;
                vcdc_hit_t hits[5];
                char errstr[512];
                size_t cnt, h;

                if (i % 97 == 0)
                        continue; /* extreme floats overflow the distance */
                make_record(&want, i, it.variant[i]);
                if (vcdc_sink_query(sink, want.vector, DIM, 5, hits, &cnt,
                                    errstr, sizeof(errstr)))
                        fail_msg("query: %s", errstr);
                assert_int_equal(cnt, 5);
                assert_string_equal(hits[0].id, want.id);
                assert_true(fabs(hits[0].distance) < 1e-6);
                for (h = 0; h < cnt; h++) {
                        if (h > 0)
                                assert_true(hits[h].distance >=
                                            hits[h - 1].distance);
                        free(hits[h].id);
                }
                vcdc_record_clear(&want);
        }
        vcdc_sink_destroy(sink);
}


/* One apply of cnt records from ids[from..) (version variant), plus
 * optional deletes and an offset for partition 0. Returns the status. */
/* apply_some() sends the batch and then waits for it (apply_send/_wait)
 * when this is set. */
static int apply_apart;

static vcdc_sink_status_t apply_some(vcdc_sink_t *sink, vcdc_record_t *recs,
                                     size_t cnt, const char *const *dels,
                                     size_t del_cnt, int64_t offset,
                                     char *errstr, size_t errstr_size) {
        const vcdc_record_t **ptrs = calloc(cnt ? cnt : 1, sizeof(*ptrs));
        vcdc_sink_offset_t offs = {.partition = 0, .offset = offset};
        vcdc_sink_batch_t batch = {0};
        vcdc_sink_status_t st;
        size_t i;

        for (i = 0; i < cnt; i++)
                ptrs[i] = &recs[i];
        batch.upserts = ptrs;
        batch.upsert_cnt = cnt;
        batch.delete_ids = dels;
        batch.delete_cnt = del_cnt;
        batch.topic = "it.topic";
        batch.offsets = &offs;
        batch.offset_cnt = offset >= 0 ? 1 : 0;
        if (!apply_apart) {
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

static void make_records(vcdc_record_t *recs, size_t from, size_t cnt,
                         int variant) {
        size_t i;

        for (i = 0; i < cnt; i++)
                make_record(&recs[i], from + i, variant);
}

static void clear_records(vcdc_record_t *recs, size_t cnt) {
        size_t i;

        for (i = 0; i < cnt; i++)
                vcdc_record_clear(&recs[i]);
}

static int table_exists(const char *table) {
        char q[256], *v;
        int exists;

        snprintf(q, sizeof(q), "SELECT to_regclass('\"%s\"') IS NOT NULL",
                 table);
        v = sql_value(q);
        exists = !strcmp(v, "t");
        free(v);
        return exists;
}

/* A failed batch applies nothing, offsets included: one transaction. */
/* Applies records 0-9 with offset 10, then has records 10-29 with dels
 * refused by the database for one record's JSON: none of them, the
 * deletes or the offset 999 land. Leaves recs[0..20) made. */
static void ten_then_refused(vcdc_sink_t *sink, vcdc_record_t *recs,
                             const char *const *dels, size_t del_cnt) {
        char errstr[512];
        vcdc_sink_status_t st;

        make_records(recs, 0, 10, 0);
        st = apply_some(sink, recs, 10, NULL, 0, 10, errstr, sizeof(errstr));
        assert_int_equal(st, VCDC_SINK_OK);
        clear_records(recs, 10);

        make_records(recs, 10, 20, 0);
        free(recs[13].metadata);
        recs[13].metadata = strdup("{bad json");
        st = apply_some(sink, recs, 20, dels, del_cnt, 999, errstr,
                        sizeof(errstr));
        assert_int_equal(st, VCDC_SINK_INVALID);
        assert_non_null(strstr(errstr, "SQLSTATE 22P02"));
        assert_int_equal(count(sink), 10);
        assert_int_equal(recorded_offset(sink, 0), 10);
}

static void test_atomic(void **state) {
        vcdc_record_t recs[20];
        const char *dels[] = {"id-000001", "id-000002"};
        char errstr[512];
        vcdc_sink_t *sink;
        vcdc_hit_t hits[3];
        size_t cnt;
        vcdc_sink_status_t st;

        (void)state;
        sink = open_sink(table_b, 0, VCDC_METRIC_L2, 0, 30000);
        /* The database refuses one record's JSON: 20 upserts, 2 deletes and
         * the offset all stay out. */
        ten_then_refused(sink, recs, dels, 2);

        /* Wrong dimension and NaN are refused before the database. */
        recs[13].dim = 64;
        st = apply_some(sink, recs, 20, NULL, 0, 999, errstr, sizeof(errstr));
        assert_int_equal(st, VCDC_SINK_INVALID);
        assert_non_null(strstr(errstr, "dimension 64"));
        assert_int_equal(vcdc_sink_check(sink, &recs[13], errstr,
                                          sizeof(errstr)),
                         VCDC_SINK_INVALID);
        recs[13].dim = DIM;
        recs[13].vector[5] = NAN;
        st = apply_some(sink, recs, 20, NULL, 0, 999, errstr, sizeof(errstr));
        assert_int_equal(st, VCDC_SINK_INVALID);
        assert_non_null(strstr(errstr, "NaN"));
        assert_int_equal(vcdc_sink_check(sink, &recs[13], errstr,
                                          sizeof(errstr)),
                         VCDC_SINK_INVALID);

        /* jsonb takes an array; check() refuses it as metadata. */
        recs[13].vector[5] = 0.5f;
        free(recs[13].metadata);
        recs[13].metadata = strdup("[1,2]");
        assert_int_equal(vcdc_sink_check(sink, &recs[13], errstr,
                                          sizeof(errstr)),
                         VCDC_SINK_INVALID);
        assert_int_equal(vcdc_sink_check(sink, &recs[12], errstr,
                                          sizeof(errstr)),
                         VCDC_SINK_OK);
        st = apply_some(sink, recs, 20, dels, 2, 30, errstr, sizeof(errstr));
        assert_int_equal(st, VCDC_SINK_OK);
        assert_int_equal(count(sink), 28);
        assert_int_equal(recorded_offset(sink, 0), 30);

        /* l2: the nearest is the vector itself at distance 0. */
        st = vcdc_sink_query(sink, recs[5].vector, DIM, 3, hits, &cnt, errstr,
                             sizeof(errstr));
        assert_int_equal(st, VCDC_SINK_OK);
        assert_int_equal(cnt, 3);
        assert_string_equal(hits[0].id, recs[5].id);
        assert_true(hits[0].distance == 0);
        while (cnt-- > 0)
                free(hits[cnt].id);
        st = vcdc_sink_query(sink, recs[5].vector, 64, 3, hits, &cnt, errstr,
                             sizeof(errstr));
        assert_int_equal(st, VCDC_SINK_INVALID);
        clear_records(recs, 20);
        vcdc_sink_destroy(sink);

        /* Deletes and offsets on a table that does not exist yet: no table
         * is created, and the offsets, which belong to a table instance,
         * read back as none while there is none. */
        sink = open_sink(table_d, 0, VCDC_METRIC_COSINE, 0, 30000);
        st = apply_some(sink, NULL, 0, dels, 2, 5, errstr, sizeof(errstr));
        assert_int_equal(st, VCDC_SINK_OK);
        assert_int_equal(recorded_offset(sink, 0), -1);
        assert_int_equal(count(sink), 0);
        assert_false(table_exists(table_d));
        vcdc_sink_destroy(sink);

        /* A missing table is created with the batch's dimension: a batch of
         * mixed dimensions is refused, and creates nothing. */
        sink = open_sink(table_d, 0, VCDC_METRIC_COSINE, 0, 30000);
        make_records(recs, 0, 2, 0);
        recs[1].dim = 64;
        st = apply_some(sink, recs, 2, NULL, 0, -1, errstr, sizeof(errstr));
        assert_int_equal(st, VCDC_SINK_INVALID);
        assert_false(table_exists(table_d));
        clear_records(recs, 2);
        vcdc_sink_destroy(sink);
}

/*
 * A batch in two halves: apply_send() returns before the answer, which
 * apply_wait() reads; the database's refusal comes from the wait and rolls
 * the batch back; the batch that creates the table is applied by the send.
 */
static void test_apart(void **state) {
        vcdc_record_t recs[20];
        const char *dels[] = {"id-000001"};
        char errstr[512];
        vcdc_sink_t *sink;
        vcdc_sink_status_t st;

        (void)state;
        apply_apart = 1;
        sink = open_sink(table_h, 0, VCDC_METRIC_COSINE, 0, 30000);
        assert_true(vcdc_sink_can_send(sink));
        ten_then_refused(sink, recs, dels, 1);
        assert_true(table_exists(table_h));

        free(recs[13].metadata);
        recs[13].metadata = strdup("{\"ok\":true}");
        st = apply_some(sink, recs, 20, dels, 1, 30, errstr, sizeof(errstr));
        assert_int_equal(st, VCDC_SINK_OK);
        assert_int_equal(count(sink), 29);
        assert_int_equal(recorded_offset(sink, 0), 30);
        clear_records(recs, 20);
        vcdc_sink_destroy(sink);
        apply_apart = 0;
}

/* Applies recs[0..cnt) with offset; asserts the status wanted. */
static void apply_want(vcdc_sink_t *sink, vcdc_record_t *recs, size_t cnt,
                       int64_t offset, vcdc_sink_status_t want) {
        char errstr[512];
        vcdc_sink_status_t st;

        st = apply_some(sink, recs, cnt, NULL, 0, offset, errstr,
                        sizeof(errstr));
        if (st != want)
                fail_msg("apply: %s, want %s: %s", vcdc_sink_status_name(st),
                         vcdc_sink_status_name(want), errstr);
}

/*
 * A full chunk goes as a statement prepared once per connection, kept
 * through a rolled-back batch. The statement lives in the sink's own
 * session, which no other connection can look into (pg_prepared_statements
 * shows a session its own), so the sink's answers are the evidence: had
 * the rollback lost the statement, the fixed batch would fail as
 * retriable (SQLSTATE 26000) instead of applying.
 */
static void test_prepared(void **state) {
        enum { N = VCDC_PGVECTOR_CHUNK_ROWS };
        vcdc_record_t *recs = calloc(N, sizeof(*recs));
        vcdc_sink_t *sink;

        (void)state;
        apply_apart = 1;
        sink = open_sink(table_i, 0, VCDC_METRIC_COSINE, 0, 30000);
        /* The batch that creates the table, statement by statement, then
         * one pipelined: the same statement serves both. */
        make_records(recs, 0, N, 0);
        apply_want(sink, recs, N, N, VCDC_SINK_OK);
        clear_records(recs, N);
        make_records(recs, N, N, 0);
        apply_want(sink, recs, N, 2 * N, VCDC_SINK_OK);
        clear_records(recs, N);

        /* The database refuses one record of a full chunk: the batch rolls
         * back, the statement stays and serves the batch fixed. */
        make_records(recs, 2 * N, N, 0);
        free(recs[7].metadata);
        recs[7].metadata = strdup("{bad json");
        apply_want(sink, recs, N, 3 * N, VCDC_SINK_INVALID);
        assert_int_equal(count(sink), 2 * N);
        free(recs[7].metadata);
        recs[7].metadata = strdup("{\"fixed\":1}");
        apply_want(sink, recs, N, 3 * N, VCDC_SINK_OK);
        assert_int_equal(count(sink), 3 * N);
        clear_records(recs, N);
        make_records(recs, 3 * N, N, 1);
        apply_want(sink, recs, N, 4 * N, VCDC_SINK_OK);
        assert_int_equal(count(sink), 4 * N);
        assert_int_equal(recorded_offset(sink, 0), 4 * N);
        clear_records(recs, N);
        vcdc_sink_destroy(sink);

        /* A new connection prepares its own. */
        sink = open_sink(table_i, 0, VCDC_METRIC_COSINE, 0, 30000);
        make_records(recs, 0, N, 2);
        apply_want(sink, recs, N, 5 * N, VCDC_SINK_OK);
        clear_records(recs, N);
        assert_int_equal(count(sink), 4 * N);
        assert_int_equal(recorded_offset(sink, 0), 5 * N);
        vcdc_sink_destroy(sink);
        free(recs);
        apply_apart = 0;
}

/* An existing table with another metric or dimension is refused. */
static void test_refuse(void **state) {
        vcdc_sink_conf_t conf = {.metric = VCDC_METRIC_COSINE};
        char url[1024], errstr[512], q[256];
        vcdc_sink_t *sink, *other, *wrong;
        vcdc_record_t rec;

        (void)state;
        /* Two more sinks open before the table exists; the first apply
         * creates it (ip, 128). */
        other = open_sink(table_e, 0, VCDC_METRIC_IP, 0, 30000);
        wrong = open_sink(table_e, 0, VCDC_METRIC_COSINE, 0, 30000);
        sink = open_sink(table_e, 0, VCDC_METRIC_IP, 0, 30000);
        make_record(&rec, 1, 0);
        assert_int_equal(apply_some(sink, &rec, 1, NULL, 0, -1, errstr,
                                    sizeof(errstr)),
                         VCDC_SINK_OK);
        vcdc_record_clear(&rec);
        vcdc_sink_destroy(sink);
        /* They find it at their next call: the same metric goes on, the
         * other one is refused. */
        make_record(&rec, 2, 0);
        assert_int_equal(apply_some(other, &rec, 1, NULL, 0, -1, errstr,
                                    sizeof(errstr)),
                         VCDC_SINK_OK);
        assert_int_equal(vcdc_sink_dim(other), DIM);
        assert_int_equal(count(other), 2);
        assert_int_equal(apply_some(wrong, &rec, 1, NULL, 0, -1, errstr,
                                    sizeof(errstr)),
                         VCDC_SINK_FATAL);
        assert_non_null(strstr(errstr, "was created for metric ip"));
        vcdc_record_clear(&rec);
        vcdc_sink_destroy(other);
        vcdc_sink_destroy(wrong);

        sink_url(url, sizeof(url), table_e, 0, NULL);
        assert_null(vcdc_sink_new(url, &conf, errstr, sizeof(errstr)));
        assert_non_null(strstr(errstr, "was created for metric ip"));
        assert_non_null(strstr(errstr, "configured for cosine"));
        conf.metric = VCDC_METRIC_IP;
        conf.dim = 64;
        assert_null(vcdc_sink_new(url, &conf, errstr, sizeof(errstr)));
        assert_non_null(strstr(errstr, "has dimension 128"));
        conf.dim = 128;
        sink = vcdc_sink_new(url, &conf, errstr, sizeof(errstr));
        assert_non_null(sink);
        assert_int_equal(vcdc_sink_dim(sink), 128);
        vcdc_sink_destroy(sink);
        /* The metric from the URL alone. */
        sink_url(url, sizeof(url), table_e, 0, "&metric=ip");
        sink = vcdc_sink_new(url, NULL, errstr, sizeof(errstr));
        assert_non_null(sink);
        vcdc_sink_destroy(sink);
        sink_url(url, sizeof(url), table_e, 0, "&metric=l2");
        assert_null(vcdc_sink_new(url, NULL, errstr, sizeof(errstr)));
        assert_non_null(strstr(errstr, "metric ip"));

        /* A table vcdc cannot write. */
        snprintf(q, sizeof(q),
                 "CREATE TABLE \"%s\" (id int PRIMARY KEY, "
                 "embedding vector(3))",
                 table_f);
        PQclear(sql(q));
        sink_url(url, sizeof(url), table_f, 0, NULL);
        assert_null(vcdc_sink_new(url, NULL, errstr, sizeof(errstr)));
        assert_non_null(strstr(errstr, "column id is of type int4"));

        /* A table made by hand with the right columns: its dimension comes
         * from the column type, the metric is taken as configured. */
        snprintf(q, sizeof(q),
                 "CREATE TABLE \"%s\" (id text PRIMARY KEY, embedding "
                 "vector(16) NOT NULL, metadata jsonb, document text)",
                 table_g);
        PQclear(sql(q));
        sink_url(url, sizeof(url), table_g, 0, NULL);
        conf.metric = VCDC_METRIC_L2;
        conf.dim = 8;
        assert_null(vcdc_sink_new(url, &conf, errstr, sizeof(errstr)));
        assert_non_null(strstr(errstr, "has dimension 16"));
        conf.dim = 0;
        sink = vcdc_sink_new(url, &conf, errstr, sizeof(errstr));
        assert_non_null(sink);
        assert_int_equal(vcdc_sink_dim(sink), 16);
        make_record(&rec, 1, 0);
        rec.dim = 16;
        assert_int_equal(apply_some(sink, &rec, 1, NULL, 0, -1, errstr,
                                    sizeof(errstr)),
                         VCDC_SINK_OK);
        rec.dim = 8;
        assert_int_equal(vcdc_sink_check(sink, &rec, errstr, sizeof(errstr)),
                         VCDC_SINK_INVALID);
        assert_int_equal(apply_some(sink, &rec, 1, NULL, 0, -1, errstr,
                                    sizeof(errstr)),
                         VCDC_SINK_INVALID);
        vcdc_record_clear(&rec);
        assert_int_equal(count(sink), 1);
        vcdc_sink_destroy(sink);
}

/* Retries apply until it succeeds or max_s pass; returns the status. */
static vcdc_sink_status_t apply_until_ok(vcdc_sink_t *sink,
                                         vcdc_record_t *recs, size_t cnt,
                                         int64_t offset, int max_s,
                                         int *triesp) {
        char errstr[512];
        vcdc_sink_status_t st = VCDC_SINK_RETRIABLE;
        double t0 = now_s();

        *triesp = 0;
        while (now_s() - t0 < max_s) {
                (*triesp)++;
                st = apply_some(sink, recs, cnt, NULL, 0, offset, errstr,
                                sizeof(errstr));
                if (st != VCDC_SINK_RETRIABLE)
                        break;
                usleep(500 * 1000);
        }
        if (st != VCDC_SINK_OK)
                fprintf(stderr, "apply: %s\n", errstr);
        return st;
}

static void server_stop(int real) {
        if (real) {
                if (system(it.stop_cmd) != 0)
                        fail_msg("VCDC_PG_STOP_CMD failed");
        } else {
                proxy_cmd(&it.proxy, 'd');
        }
}

static void server_start(int real) {
        if (real) {
                if (system(it.start_cmd) != 0)
                        fail_msg("VCDC_PG_START_CMD failed");
        } else {
                proxy_cmd(&it.proxy, 'u');
        }
}

/* A stopped server gives RETRIABLE; the sink reconnects once it is back. */
static void test_outage(void **state) {
        int real = it.stop_cmd && *it.stop_cmd && it.start_cmd &&
                   *it.start_cmd;
        vcdc_record_t recs[BATCH];
        vcdc_sink_status_t st;
        vcdc_sink_t *sink;
        char errstr[512];
        uint64_t n;
        int tries;

        (void)state;
        fprintf(stderr, "outage: %s\n",
                real ? it.stop_cmd : "cutting connections in a proxy");
        sink = open_sink(table_c, !real, VCDC_METRIC_COSINE, DIM, 5000);
        make_records(recs, 0, BATCH, 0);
        assert_int_equal(apply_some(sink, recs, BATCH, NULL, 0, 1, errstr,
                                    sizeof(errstr)),
                         VCDC_SINK_OK);
        clear_records(recs, BATCH);

        server_stop(real);
        make_records(recs, BATCH, BATCH, 0);
        st = apply_some(sink, recs, BATCH, NULL, 0, 2, errstr,
                        sizeof(errstr));
        fprintf(stderr, "  while down: %s: %s\n", vcdc_sink_status_name(st),
                errstr);
        assert_int_equal(st, VCDC_SINK_RETRIABLE);
        /* The next call reconnects, and is refused the same way. */
        st = vcdc_sink_count(sink, &n, errstr, sizeof(errstr));
        fprintf(stderr, "  while down: %s: %s\n", vcdc_sink_status_name(st),
                errstr);
        assert_int_equal(st, VCDC_SINK_RETRIABLE);

        server_start(real);
        st = apply_until_ok(sink, recs, BATCH, 2, 120, &tries);
        assert_int_equal(st, VCDC_SINK_OK);
        fprintf(stderr, "  back after %d tries\n", tries);
        clear_records(recs, BATCH);
        assert_int_equal(count(sink), 2 * BATCH);
        assert_int_equal(recorded_offset(sink, 0), 2);
        vcdc_sink_destroy(sink);
        if (real) {
                /* Our checking connection went down with the server. */
                PQreset(it.conn);
                assert_int_equal(PQstatus(it.conn), CONNECTION_OK);
        }
}

struct bg_apply {
        vcdc_sink_t *sink;
        vcdc_record_t *recs;
        size_t cnt;
        int64_t offset;
        vcdc_sink_status_t st;
        char errstr[512];
};

static void *bg_apply_main(void *arg) {
        struct bg_apply *bg = arg;

        bg->st = apply_some(bg->sink, bg->recs, bg->cnt, NULL, 0, bg->offset,
                            bg->errstr, sizeof(bg->errstr));
        return NULL;
}

/* Connections cut while a large batch is in flight: the batch is applied
 * whole or not at all, its offset with it. */
static void test_cut_mid_batch(void **state) {
        enum { BIG = 5000 };
        static const int delays_ms[] = {30, 120, 250, 400};
        vcdc_record_t *recs = calloc(BIG, sizeof(*recs));
        vcdc_sink_t *sink;
        uint64_t before, after;
        vcdc_sink_status_t st;
        size_t round;
        int cut_mid = 0, cut_after_commit = 0, tries;
        double t0;

        (void)state;
        sink = open_sink(table_c, 1, VCDC_METRIC_COSINE, DIM, 10000);
        for (round = 0; round < sizeof(delays_ms) / sizeof(*delays_ms);
             round++) {
                struct bg_apply bg = {.sink = sink,
                                      .recs = recs,
                                      .cnt = BIG,
                                      .offset = 100 + (int64_t)round};
                pthread_t thread;
                int64_t off_before, off_after;

                before = count(sink);
                off_before = recorded_offset(sink, 0);
                make_records(recs, 10000 + round * BIG, BIG, 0);
                assert_int_equal(pthread_create(&thread, NULL, bg_apply_main,
                                                &bg),
                                 0);
                usleep((useconds_t)delays_ms[round] * 1000);
                proxy_cmd(&it.proxy, 'd');
                pthread_join(thread, NULL);
                proxy_cmd(&it.proxy, 'u');
                fprintf(stderr, "  cut after %d ms: %s %s\n",
                        delays_ms[round], vcdc_sink_status_name(bg.st),
                        bg.st ? bg.errstr : "");
                assert_true(bg.st == VCDC_SINK_OK ||
                            bg.st == VCDC_SINK_RETRIABLE);
                /* The server may take a moment to see the cut. */
                t0 = now_s();
                after = before;
                for (tries = 0; tries < 20; tries++) {
                        char errstr[512];
                        if (vcdc_sink_count(sink, &after, errstr,
                                            sizeof(errstr)) == VCDC_SINK_OK)
                                break;
                        fprintf(stderr, "    %.1f s: %s\n", now_s() - t0,
                                errstr);
                        usleep(250 * 1000);
                }
                fprintf(stderr, "    served again after %.1f s\n",
                        now_s() - t0);
                off_after = recorded_offset(sink, 0);
                if (bg.st == VCDC_SINK_OK) {
                        assert_int_equal(after, before + BIG);
                        assert_int_equal(off_after, bg.offset);
                } else {
                        /* All or nothing. All: the cut came after the
                         * server committed, before its answer arrived; the
                         * client cannot tell, and applying again is
                         * harmless. */
                        if (after == before) {
                                cut_mid++;
                                assert_int_equal(off_after, off_before);
                        } else {
                                cut_after_commit++;
                                assert_int_equal(after, before + BIG);
                                assert_int_equal(off_after, bg.offset);
                        }
                        /* And the retry applies it, or finds it applied
                         * (its offset recorded: the fence answers STALE
                         * and applies nothing again). Even a batch cut
                         * mid-transaction may be found applied: the server
                         * had all of it and committed after our count. */
                        st = apply_until_ok(sink, recs, BIG, bg.offset, 60,
                                            &tries);
                        assert_true(st == VCDC_SINK_OK ||
                                    st == VCDC_SINK_STALE);
                        if (after != before)
                                assert_int_equal(st, VCDC_SINK_STALE);
                        assert_int_equal(count(sink), before + BIG);
                }
                clear_records(recs, BIG);
        }
        fprintf(stderr,
                "  %d of %zu cuts landed inside the transaction, %d after "
                "its commit\n",
                cut_mid, sizeof(delays_ms) / sizeof(*delays_ms),
                cut_after_commit);
        free(recs);
        vcdc_sink_destroy(sink);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_bulk),
                cmocka_unit_test(test_atomic),
                cmocka_unit_test(test_apart),
                cmocka_unit_test(test_prepared),
                cmocka_unit_test(test_refuse),
                cmocka_unit_test(test_outage),
                cmocka_unit_test(test_cut_mid_batch),
        };
        const char *level = getenv("VCDC_LOG_LEVEL");

        if (read_env() == -1) {
                fprintf(stderr, "it_sink_pgvector: skipped: set "
                                "VCDC_PG_CONNINFO or VCDC_PGVECTOR_URL to a "
                                "PostgreSQL server with pgvector\n");
                return 0;
        }
        if (level)
                vcdc_log_level = vcdc_log_level_parse(level);
        return cmocka_run_group_tests(tests, setup, teardown);
}
