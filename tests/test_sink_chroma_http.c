/*
 * vcdc - unit tests: the Chroma sink over HTTP, without Chroma.
 *
 * The HTTP client (http.c) against a canned local responder that answers
 * each request with the next of its answers: keep-alive, the answer cap,
 * transport failures, the HTTP status map; opening the sink against
 * canned answers (the calls it makes, the token on each, the batch limit
 * it takes) and what it refuses before talking to a server.
 *
 * Then a small fake Chroma on 127.0.0.1 that serves the routes the sink
 * uses and fails the ones a test names (issue 14, scenario 10):
 *   - HTTP 401 and 403 are FATAL in every call path (open, apply,
 *     record_offsets, read_offsets, count, get, scan, query) with a
 *     message that says to set VCDC_CHROMA_TOKEN, never the token;
 *   - vcdc_sink_retry_smaller() after a RETRIABLE answer: 1 for a 5xx or
 *     a timeout, 0 for a refused or reset connection and for 429.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http.h"
#include "sink.h"
#include "sink_chroma_int.h"

#define ARRAY_CNT(a) (sizeof(a) / sizeof(*(a)))
#define BASE         "/api/v2/tenants/default_tenant/databases/default_database"
#define TOKEN        "tok-s3cret-value"

/*
 * The fake Chroma. One thread polls the listening socket and every
 * connection; a request is answered whole once its body has arrived.
 */
#define FAKE_CONNS 8

typedef struct fake_s {
        int fd, port;
        int wake[2];
        pthread_t thread;
        /* Requests whose "METHOD path" contains fail_on are failed:
         * fail_status, or fail_mode 'h' (no answer) or 'r' (closed). */
        char fail_on[160];
        int fail_status;
        char fail_mode;
        int failed;                  /* requests failed so far */
        int made_docs, made_offsets; /* collections created */
        struct {
                int fd;
                int hung;
                char buf[65536];
                size_t len;
        } conn[FAKE_CONNS];
} fake_t;

static void answer(int fd, int status, const char *body) {
        char head[256];
        int n = snprintf(head, sizeof(head),
                         "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
                         "Content-Length: %zu\r\n\r\n",
                         status, strlen(body));

        if (send(fd, head, (size_t)n, MSG_NOSIGNAL) != n ||
            send(fd, body, strlen(body), MSG_NOSIGNAL) < 0)
                return;
}

static const char *collection_json(char *buf, size_t size, const char *name) {
        snprintf(buf, size,
                 "{\"id\":\"id-%s\",\"name\":\"%s\",\"configuration_json\":"
                 "{\"hnsw\":{\"space\":\"l2\"}},\"dimension\":null}",
                 name, name);
        return buf;
}

/* Routes one request (its head line is line, its body body). Returns 0,
 * or -1 to close the connection without an answer. */
static int route(fake_t *fk, int c, const char *line, const char *body) {
        char buf[512];
        int fd = fk->conn[c].fd;

        if (fk->fail_on[0] && strstr(line, fk->fail_on)) {
                fk->failed++;
                if (fk->fail_mode == 'r')
                        return -1;
                if (fk->fail_mode == 'h') {
                        fk->conn[c].hung = 1;
                        return 0;
                }
                answer(fd, fk->fail_status,
                       "{\"error\":\"AuthError\",\"message\":\"refused\"}");
                return 0;
        }
        if (strstr(line, "GET /api/v2/pre-flight-checks "))
                answer(fd, 200,
                       "{\"max_batch_size\":100,"
                       "\"supports_base64_encoding\":true}");
        else if (strstr(line, "GET " BASE " "))
                answer(fd, 200,
                       "{\"id\":\"0\",\"name\":\"default_database\","
                       "\"tenant\":\"default_tenant\"}");
        else if (strstr(line, "GET " BASE "/collections/docs "))
                answer(fd, fk->made_docs ? 200 : 404,
                       fk->made_docs ? collection_json(buf, sizeof(buf), "docs")
                                     : "{\"error\":\"NotFound\"}");
        else if (strstr(line, "GET " BASE "/collections/docs_vcdc_offsets "))
                answer(fd, fk->made_offsets ? 200 : 404,
                       fk->made_offsets ? collection_json(buf, sizeof(buf),
                                                          "docs_vcdc_offsets")
                                        : "{\"error\":\"NotFound\"}");
        else if (strstr(line, "POST " BASE "/collections ")) {
                int offsets = strstr(body, "\"docs_vcdc_offsets\"") != NULL;
                if (offsets)
                        fk->made_offsets = 1;
                else
                        fk->made_docs = 1;
                answer(fd, 200,
                       collection_json(buf, sizeof(buf),
                                       offsets ? "docs_vcdc_offsets" : "docs"));
        } else if (strstr(line, "/get "))
                answer(fd, 200,
                       "{\"ids\":[],\"embeddings\":null,"
                       "\"metadatas\":[],\"documents\":[]}");
        else if (strstr(line, "/count "))
                answer(fd, 200, "0");
        else if (strstr(line, "/query "))
                answer(fd, 200, "{\"ids\":[[]],\"distances\":[[]]}");
        else if (strstr(line, "/upsert ") || strstr(line, "/delete "))
                answer(fd, 200, "{}");
        else
                answer(fd, 404, "{\"error\":\"NotFound\"}");
        return 0;
}

/* Serves what conn c holds; returns -1 to close it. */
static int serve(fake_t *fk, int c) {
        for (;;) {
                char *b = fk->conn[c].buf, *end, *cl, line[256];
                size_t head, need;
                long body_len;
                int r;

                b[fk->conn[c].len] = '\0';
                if (!(end = strstr(b, "\r\n\r\n")))
                        return 0;
                head = (size_t)(end + 4 - b);
                cl = strstr(b, "Content-Length: ");
                body_len = cl && cl < end ? strtol(cl + 16, NULL, 10) : 0;
                need = head + (size_t)body_len;
                if (fk->conn[c].len < need)
                        return 0;
                snprintf(line, sizeof(line), "%.*s", (int)strcspn(b, "\r\n"),
                         b);
                {
                        char saved = b[need];
                        b[need] = '\0';
                        r = fk->conn[c].hung ? 0 : route(fk, c, line, b + head);
                        b[need] = saved;
                }
                memmove(b, b + need, fk->conn[c].len - need);
                fk->conn[c].len -= need;
                if (r == -1)
                        return -1;
        }
}

static void *fake_run(void *arg) {
        fake_t *fk = arg;

        for (;;) {
                struct pollfd pfd[2 + FAKE_CONNS];
                int who[2 + FAKE_CONNS], n = 0, i;

                pfd[n].fd = fk->wake[0];
                pfd[n].events = POLLIN;
                who[n++] = -1;
                pfd[n].fd = fk->fd;
                pfd[n].events = POLLIN;
                who[n++] = -2;
                for (i = 0; i < FAKE_CONNS; i++)
                        if (fk->conn[i].fd >= 0) {
                                pfd[n].fd = fk->conn[i].fd;
                                pfd[n].events = POLLIN;
                                who[n++] = i;
                        }
                if (poll(pfd, (nfds_t)n, -1) < 0)
                        continue;
                if (pfd[0].revents)
                        break;
                for (i = 1; i < n; i++) {
                        int c = who[i];
                        ssize_t r;
                        if (!pfd[i].revents)
                                continue;
                        if (c == -2) {
                                int fd = accept(fk->fd, NULL, NULL), j;
                                for (j = 0; j < FAKE_CONNS; j++)
                                        if (fk->conn[j].fd < 0)
                                                break;
                                if (fd >= 0 && j == FAKE_CONNS)
                                        close(fd);
                                else if (fd >= 0) {
                                        fk->conn[j].fd = fd;
                                        fk->conn[j].hung = 0;
                                        fk->conn[j].len = 0;
                                }
                                continue;
                        }
                        r = read(fk->conn[c].fd,
                                 fk->conn[c].buf + fk->conn[c].len,
                                 sizeof(fk->conn[c].buf) - 1 - fk->conn[c].len);
                        if (r > 0) {
                                fk->conn[c].len += (size_t)r;
                                if (serve(fk, c) == 0)
                                        continue;
                        }
                        close(fk->conn[c].fd);
                        fk->conn[c].fd = -1;
                }
        }
        return NULL;
}

static void fake_start(fake_t *fk) {
        struct sockaddr_in sa;
        socklen_t salen = sizeof(sa);
        int i, one = 1;

        memset(fk, 0, sizeof(*fk));
        for (i = 0; i < FAKE_CONNS; i++)
                fk->conn[i].fd = -1;
        assert_int_equal(pipe(fk->wake), 0);
        fk->fd = socket(AF_INET, SOCK_STREAM, 0);
        setsockopt(fk->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        memset(&sa, 0, sizeof(sa));
        sa.sin_family = AF_INET;
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        assert_int_equal(bind(fk->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        assert_int_equal(listen(fk->fd, 8), 0);
        getsockname(fk->fd, (struct sockaddr *)&sa, &salen);
        fk->port = ntohs(sa.sin_port);
        assert_int_equal(pthread_create(&fk->thread, NULL, fake_run, fk), 0);
}

static void fake_stop(fake_t *fk) {
        int i;

        assert_int_equal(write(fk->wake[1], "x", 1), 1);
        pthread_join(fk->thread, NULL);
        for (i = 0; i < FAKE_CONNS; i++)
                if (fk->conn[i].fd >= 0)
                        close(fk->conn[i].fd);
        close(fk->fd);
        close(fk->wake[0]);
        close(fk->wake[1]);
}

static vcdc_sink_t *open_fake(const fake_t *fk, int timeout_ms, char *errstr,
                              size_t errstr_size) {
        vcdc_sink_conf_t conf = {.metric = VCDC_METRIC_L2,
                                 .timeout_ms = timeout_ms};
        char url[128];

        snprintf(url, sizeof(url), "chroma://127.0.0.1:%d/docs", fk->port);
        return vcdc_sink_new(url, &conf, errstr, errstr_size);
}

static vcdc_sink_status_t apply_one(vcdc_sink_t *sink, int with_delete,
                                    char *errstr, size_t errstr_size) {
        float v[2] = {0.5f, 0.25f};
        vcdc_record_t rec = {
                .id = "a", .op = VCDC_OP_UPSERT, .vector = v, .dim = 2};
        const vcdc_record_t *ptr = &rec;
        const char *del = "b";
        vcdc_sink_batch_t batch = {.upserts = &ptr,
                                   .upsert_cnt = 1,
                                   .delete_ids = &del,
                                   .delete_cnt = with_delete ? 1 : 0};

        return vcdc_sink_apply(sink, &batch, errstr, errstr_size);
}

/* Runs call number what on sink; returns its status. */
static vcdc_sink_status_t run_call(vcdc_sink_t *sink, int what, char *errstr,
                                   size_t errstr_size) {
        vcdc_sink_offset_t off = {0, 7}, *offs = NULL;
        vcdc_record_t out = {0};
        vcdc_hit_t hit;
        vcdc_sink_status_t st;
        const char *id = "a";
        char *cursor = NULL;
        float q[2] = {1, 0};
        uint64_t count;
        size_t cnt;

        switch (what) {
        case 0:
                return apply_one(sink, 1, errstr, errstr_size);
        case 1:
                return vcdc_sink_record_offsets(sink, "t", &off, 1, errstr,
                                                errstr_size);
        case 2:
                st = vcdc_sink_read_offsets(sink, "t", &offs, &cnt, errstr,
                                            errstr_size);
                free(offs);
                return st;
        case 3:
                return vcdc_sink_count(sink, &count, errstr, errstr_size);
        case 4:
                st = vcdc_sink_get(sink, &id, 1, &out, errstr, errstr_size);
                vcdc_record_clear(&out);
                return st;
        case 5:
                st = vcdc_sink_scan(sink, &cursor, 10, 1, &out, &cnt, errstr,
                                    errstr_size);
                free(cursor);
                return st;
        default:
                return vcdc_sink_query(sink, q, 2, 1, &hit, &cnt, errstr,
                                       errstr_size);
        }
}

/* The message a refused token must give. */
static void assert_auth_message(const char *errstr, int status) {
        char code[16];

        snprintf(code, sizeof(code), "HTTP %d", status);
        if (!strstr(errstr, "authentication refused") ||
            !strstr(errstr, "VCDC_CHROMA_TOKEN") || !strstr(errstr, code))
                fail_msg("not an authentication message: %s", errstr);
        if (strstr(errstr, TOKEN) || strstr(errstr, "s3cret"))
                fail_msg("the token shows: %s", errstr);
}

/*
 * Scenario 10: 401 and 403 on every request the sink makes are FATAL,
 * with a message that names VCDC_CHROMA_TOKEN and never the token.
 */
static void test_auth_every_path(void **state) {
        static const struct {
                const char *fail_on;
                int call;        /* -1: at open, else run_call()'s number */
                int collections; /* created before the failure */
        } cases[] = {
                {"GET /api/v2/pre-flight-checks ", -1, 0},
                {"GET " BASE " ", -1, 0},
                {"GET " BASE "/collections/docs ", -1, 0},
                {"GET " BASE "/collections/docs_vcdc_offsets ", -1, 0},
                {"POST " BASE "/collections ", 0, 0},
                {"/collections/id-docs/get ", 0, 1},
                {"/collections/id-docs/delete ", 0, 1},
                {"/collections/id-docs/upsert ", 0, 1},
                {"POST " BASE "/collections ", 1, 0},
                {"/collections/id-docs_vcdc_offsets/upsert ", 1, 2},
                {"GET " BASE "/collections/docs ", 1, 0},
                {"GET " BASE "/collections/docs_vcdc_offsets ", 2, 0},
                {"/collections/id-docs_vcdc_offsets/get ", 2, 2},
                {"GET " BASE "/collections/docs ", 2, 0},
                {"/collections/id-docs/count ", 3, 1},
                {"GET " BASE "/collections/docs ", 3, 0},
                {"/collections/id-docs/get ", 4, 1},
                {"/collections/id-docs/get ", 5, 1},
                {"/collections/id-docs/query ", 6, 1},
        };
        char errstr[1024];
        size_t i;

        (void)state;
        setenv("VCDC_CHROMA_TOKEN", TOKEN, 1);
        for (i = 0; i < ARRAY_CNT(cases); i++) {
                int status = i % 2 ? 403 : 401;
                vcdc_sink_status_t st;
                vcdc_sink_t *sink;
                fake_t fk;

                fake_start(&fk);
                fk.made_docs = cases[i].collections >= 1;
                fk.made_offsets = cases[i].collections >= 2;
                if (cases[i].call == -1) {
                        snprintf(fk.fail_on, sizeof(fk.fail_on), "%s",
                                 cases[i].fail_on);
                        fk.fail_status = status;
                        sink = open_fake(&fk, 5000, errstr, sizeof(errstr));
                        if (sink)
                                fail_msg("case %zu: opened", i);
                } else {
                        sink = open_fake(&fk, 5000, errstr, sizeof(errstr));
                        if (!sink)
                                fail_msg("case %zu: %s", i, errstr);
                        snprintf(fk.fail_on, sizeof(fk.fail_on), "%s",
                                 cases[i].fail_on);
                        fk.fail_status = status;
                        st = run_call(sink, cases[i].call, errstr,
                                      sizeof(errstr));
                        if (st != VCDC_SINK_FATAL)
                                fail_msg("case %zu (%s): %s: %s", i,
                                         cases[i].fail_on,
                                         vcdc_sink_status_name(st), errstr);
                        vcdc_sink_destroy(sink);
                }
                if (!fk.failed)
                        fail_msg("case %zu: %s was never asked for", i,
                                 cases[i].fail_on);
                assert_auth_message(errstr, status);
                fake_stop(&fk);
        }
        /* Without a token, the message says none was sent. */
        unsetenv("VCDC_CHROMA_TOKEN");
        {
                fake_t fk;
                fake_start(&fk);
                snprintf(fk.fail_on, sizeof(fk.fail_on), "GET /api/v2/");
                fk.fail_status = 401;
                assert_null(open_fake(&fk, 5000, errstr, sizeof(errstr)));
                assert_auth_message(errstr, 401);
                assert_non_null(strstr(errstr, "no token was sent"));
                fake_stop(&fk);
        }
}

/*
 * retry_smaller after a RETRIABLE answer of the upsert: a server error
 * or a timeout may pass with less; a refused or reset connection, or a
 * 429, says nothing about the batch's size.
 */
static void test_retry_smaller(void **state) {
        static const struct {
                int status;
                char mode;
                vcdc_sink_status_t want;
                int smaller;
        } cases[] = {
                {503, 0, VCDC_SINK_RETRIABLE, 1},
                {500, 0, VCDC_SINK_RETRIABLE, 1},
                {504, 0, VCDC_SINK_RETRIABLE, 1},
                {0, 'h', VCDC_SINK_RETRIABLE, 1},
                {0, 'r', VCDC_SINK_RETRIABLE, 0},
                {429, 0, VCDC_SINK_RETRIABLE, 0},
                {400, 0, VCDC_SINK_INVALID, 0},
        };
        char errstr[1024];
        vcdc_sink_status_t st;
        vcdc_sink_t *sink;
        size_t i;
        fake_t fk;

        (void)state;
        unsetenv("VCDC_CHROMA_TOKEN");
        for (i = 0; i < ARRAY_CNT(cases); i++) {
                fake_start(&fk);
                fk.made_docs = 1;
                sink = open_fake(&fk, 400 /*timeout_ms*/, errstr,
                                 sizeof(errstr));
                assert_non_null(sink);
                snprintf(fk.fail_on, sizeof(fk.fail_on), "/upsert ");
                fk.fail_status = cases[i].status;
                fk.fail_mode = cases[i].mode;
                st = apply_one(sink, 0, errstr, sizeof(errstr));
                if (st != cases[i].want ||
                    vcdc_sink_retry_smaller(sink) != cases[i].smaller)
                        fail_msg("case %zu: %s, retry_smaller %d: %s", i,
                                 vcdc_sink_status_name(st),
                                 vcdc_sink_retry_smaller(sink), errstr);
                vcdc_sink_destroy(sink);
                fake_stop(&fk);
        }
        /* Nobody listens: connection refused. */
        fake_start(&fk);
        fk.made_docs = 1;
        sink = open_fake(&fk, 400, errstr, sizeof(errstr));
        assert_non_null(sink);
        fake_stop(&fk);
        st = apply_one(sink, 0, errstr, sizeof(errstr));
        assert_int_equal(st, VCDC_SINK_RETRIABLE);
        assert_int_equal(vcdc_sink_retry_smaller(sink), 0);
        vcdc_sink_destroy(sink);
}

/* vcdc_sink_target(): the collection in the URL. */
static void test_target(void **state) {
        char errstr[512];
        vcdc_sink_t *sink;
        fake_t fk;

        (void)state;
        unsetenv("VCDC_CHROMA_TOKEN");
        fake_start(&fk);
        sink = open_fake(&fk, 5000, errstr, sizeof(errstr));
        assert_non_null(sink);
        assert_string_equal(vcdc_sink_target(sink), "docs");
        vcdc_sink_destroy(sink);
        fake_stop(&fk);
}

static void test_status_map(void **state) {
        static const struct {
                long code;
                vcdc_sink_status_t status;
        } cases[] = {
                {200, VCDC_SINK_OK},        {201, VCDC_SINK_OK},
                {204, VCDC_SINK_OK},        {400, VCDC_SINK_INVALID},
                {401, VCDC_SINK_FATAL},     {403, VCDC_SINK_FATAL},
                {404, VCDC_SINK_INVALID},   {408, VCDC_SINK_RETRIABLE},
                {409, VCDC_SINK_INVALID},   {413, VCDC_SINK_INVALID},
                {422, VCDC_SINK_INVALID},   {425, VCDC_SINK_RETRIABLE},
                {429, VCDC_SINK_RETRIABLE}, {500, VCDC_SINK_RETRIABLE},
                {502, VCDC_SINK_RETRIABLE}, {503, VCDC_SINK_RETRIABLE},
                {504, VCDC_SINK_RETRIABLE}, {301, VCDC_SINK_FATAL},
                {407, VCDC_SINK_FATAL},     {501, VCDC_SINK_FATAL},
                {505, VCDC_SINK_FATAL},     {599, VCDC_SINK_RETRIABLE},
                {100, VCDC_SINK_FATAL},     {0, VCDC_SINK_FATAL},
        };
        size_t i;

        (void)state;
        for (i = 0; i < ARRAY_CNT(cases); i++)
                if (vcdc_http_status_map(cases[i].code) != cases[i].status)
                        fail_msg("HTTP %ld: %s, expected %s", cases[i].code,
                                 vcdc_sink_status_name(
                                         vcdc_http_status_map(cases[i].code)),
                                 vcdc_sink_status_name(cases[i].status));
}

/*
 * A canned HTTP responder on 127.0.0.1 for the HTTP helper: it answers
 * each request with the next of its answers, keeping the connection open
 * unless told otherwise, and counts connections.
 */
typedef struct responder_s {
        int fd;
        int port;
        const char *const *answers; /* NULL-terminated; "" = hang up */
        int connections;
        int requests;
        int stall_ms;     /* sleep before answering (timeouts) */
        char seen[16384]; /* the requests' head lines, as received */
        size_t seen_len;
        pthread_t thread;
} responder_t;

/* Reads one request (headers and Content-Length body) and keeps its
 * headers in rs->seen. 0 at EOF. */
static int read_request(responder_t *rs, int fd) {
        char buf[65536];
        size_t len = 0;
        long body = -1;

        for (;;) {
                char *end;
                ssize_t r;
                buf[len] = '\0';
                if ((end = strstr(buf, "\r\n\r\n"))) {
                        char *cl = strstr(buf, "Content-Length: ");
                        size_t head = (size_t)(end + 4 - buf);
                        if (body < 0)
                                body = cl ? strtol(cl + 16, NULL, 10) : 0;
                        if (len >= head + (size_t)body) {
                                if (head < sizeof(rs->seen) - rs->seen_len) {
                                        memcpy(rs->seen + rs->seen_len, buf,
                                               head);
                                        rs->seen_len += head;
                                        rs->seen[rs->seen_len] = '\0';
                                }
                                return 1;
                        }
                }
                if (len + 1 >= sizeof(buf))
                        return 1;
                if ((r = read(fd, buf + len, sizeof(buf) - 1 - len)) <= 0)
                        return 0;
                len += (size_t)r;
        }
}

static void *responder_run(void *opaque) {
        responder_t *rs = opaque;
        const char *const *a = rs->answers;

        while (*a) {
                int fd = accept(rs->fd, NULL, NULL);
                if (fd < 0)
                        break;
                rs->connections++;
                while (*a && read_request(rs, fd)) {
                        size_t len = strlen(*a), off = 0;
                        rs->requests++;
                        if (rs->stall_ms)
                                usleep((useconds_t)rs->stall_ms * 1000);
                        if (!len) {
                                a++;
                                break; /* hang up without answering */
                        }
                        while (off < len) {
                                ssize_t w = send(fd, *a + off, len - off,
                                                 MSG_NOSIGNAL);
                                if (w <= 0)
                                        break;
                                off += (size_t)w;
                        }
                        a++;
                }
                close(fd);
        }
        return NULL;
}

static void responder_start(responder_t *rs, const char *const *answers) {
        struct sockaddr_in sa;
        socklen_t salen = sizeof(sa);
        int one = 1;

        rs->answers = answers;
        rs->fd = socket(AF_INET, SOCK_STREAM, 0);
        assert_true(rs->fd >= 0);
        setsockopt(rs->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        memset(&sa, 0, sizeof(sa));
        sa.sin_family = AF_INET;
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        assert_int_equal(bind(rs->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        assert_int_equal(listen(rs->fd, 8), 0);
        getsockname(rs->fd, (struct sockaddr *)&sa, &salen);
        rs->port = ntohs(sa.sin_port);
        assert_int_equal(pthread_create(&rs->thread, NULL, responder_run, rs),
                         0);
}

static void responder_stop(responder_t *rs) {
        shutdown(rs->fd, SHUT_RDWR);
        pthread_join(rs->thread, NULL);
        close(rs->fd);
}

#define OK_JSON(body)                                                          \
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"                \
        "Content-Length: " #body "\r\n\r\n"

static void test_http_answers(void **state) {
        static const char *const answers[] = {
                "HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n{\"a\":1}",
                "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n42",
                "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 31\r\n\r\n"
                "{\"error\":\"busy\",\"message\":\"x\n\"}",
                "HTTP/1.1 401 Unauthorized\r\nContent-Length: 2\r\n\r\n{}",
                "HTTP/1.1 422 Unprocessable\r\nContent-Length: 5\r\n\r\nbad!!",
                "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n{\"a\":",
                NULL,
        };
        responder_t rs = {0};
        char base[64], errstr[512];
        vcdc_http_t *http;
        json_t *resp;
        long code;

        (void)state;
        responder_start(&rs, answers);
        snprintf(base, sizeof(base), "http://127.0.0.1:%d", rs.port);
        http = vcdc_http_new(base, 5000, 0, errstr, sizeof(errstr));
        assert_non_null(http);
        assert_int_equal(vcdc_http_add_header(http, "x-chroma-token: s3cret"),
                         0);

        assert_int_equal(vcdc_http_json(http, "POST", "/p", "{}", 2, &resp,
                                        &code, errstr, sizeof(errstr)),
                         VCDC_SINK_OK);
        assert_int_equal(code, 200);
        assert_int_equal(json_integer_value(json_object_get(resp, "a")), 1);
        json_decref(resp);

        assert_int_equal(vcdc_http_json(http, "GET", "/count", NULL, 0, &resp,
                                        &code, errstr, sizeof(errstr)),
                         VCDC_SINK_OK);
        assert_int_equal(json_integer_value(resp), 42);
        json_decref(resp);

        assert_int_equal(vcdc_http_json(http, "GET", "/x", NULL, 0, &resp,
                                        &code, errstr, sizeof(errstr)),
                         VCDC_SINK_RETRIABLE);
        assert_null(resp);
        assert_int_equal(code, 503);
        assert_string_equal(errstr, "GET /x: HTTP 503: {\"error\":\"busy\","
                                    "\"message\":\"x \"}");

        assert_int_equal(vcdc_http_request(http, "DELETE", "/y", NULL, 0, &code,
                                           errstr, sizeof(errstr)),
                         VCDC_SINK_FATAL);
        assert_int_equal(code, 401);
        assert_null(strstr(errstr, "s3cret"));

        assert_int_equal(vcdc_http_request(http, "POST", "/z", "[1]", 3, &code,
                                           errstr, sizeof(errstr)),
                         VCDC_SINK_INVALID);
        assert_non_null(strstr(errstr, "HTTP 422: bad!!"));

        /* A 200 that is not (complete) JSON. */
        assert_int_equal(vcdc_http_json(http, "GET", "/t", NULL, 0, &resp,
                                        &code, errstr, sizeof(errstr)),
                         VCDC_SINK_RETRIABLE);
        assert_non_null(strstr(errstr, "not JSON"));

        vcdc_http_destroy(http);
        responder_stop(&rs);
        /* Keep-alive: six requests, one connection. */
        assert_int_equal(rs.requests, 6);
        assert_int_equal(rs.connections, 1);
}

static void test_http_cap_and_failures(void **state) {
        static char big[3000], bigclose[3000];
        const char *answers[] = {big, bigclose, "", NULL};
        responder_t rs = {0}, slow = {0};
        static const char *const slow_answers[] = {OK_JSON(2) "{}", NULL};
        char base[64], errstr[512];
        vcdc_http_t *http;
        json_t *resp;
        long code;
        int n;

        (void)state;
        n = snprintf(big, sizeof(big),
                     "HTTP/1.1 200 OK\r\nContent-Length: 2000\r\n\r\n");
        memset(big + n, 'x', sizeof(big) - 1 - (size_t)n);
        n = snprintf(bigclose, sizeof(bigclose),
                     "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
        memset(bigclose + n, 'y', sizeof(bigclose) - 1 - (size_t)n);
        responder_start(&rs, answers);
        snprintf(base, sizeof(base), "http://127.0.0.1:%d", rs.port);
        http = vcdc_http_new(base, 5000, 1000 /*max body*/, errstr,
                             sizeof(errstr));
        assert_non_null(http);
        /* An answer over the cap is refused, not buffered. */
        assert_int_equal(vcdc_http_json(http, "GET", "/big", NULL, 0, &resp,
                                        &code, errstr, sizeof(errstr)),
                         VCDC_SINK_INVALID);
        assert_non_null(strstr(errstr, "exceeds 1000 bytes"));
        /* The same without a Content-Length: cut while reading. */
        assert_int_equal(vcdc_http_json(http, "GET", "/big2", NULL, 0, &resp,
                                        &code, errstr, sizeof(errstr)),
                         VCDC_SINK_INVALID);
        assert_non_null(strstr(errstr, "exceeds 1000 bytes"));
        /* The server hangs up without an answer. */
        assert_int_equal(vcdc_http_request(http, "GET", "/gone", NULL, 0, &code,
                                           errstr, sizeof(errstr)),
                         VCDC_SINK_RETRIABLE);
        assert_int_equal(code, 0);
        responder_stop(&rs);
        /* Nobody listens any more: connection refused. */
        assert_int_equal(vcdc_http_request(http, "GET", "/", NULL, 0, &code,
                                           errstr, sizeof(errstr)),
                         VCDC_SINK_RETRIABLE);
        vcdc_http_destroy(http);

        /* A server slower than the timeout. */
        slow.stall_ms = 1500;
        responder_start(&slow, slow_answers);
        snprintf(base, sizeof(base), "http://127.0.0.1:%d", slow.port);
        http = vcdc_http_new(base, 300, 0, errstr, sizeof(errstr));
        assert_int_equal(vcdc_http_request(http, "GET", "/slow", NULL, 0, &code,
                                           errstr, sizeof(errstr)),
                         VCDC_SINK_RETRIABLE);
        assert_non_null(strstr(errstr, "imed out"));
        vcdc_http_destroy(http);
        responder_stop(&slow);
}

/* Opening against canned Chroma answers: the calls it makes, the token
 * on each, the batch limit it takes, and a refused token. */
static void test_open_canned(void **state) {
        static const char *const answers[] = {
                OK_JSON(55) "{\"max_batch_size\":5461,"
                            "\"supports_base64_encoding\":true}",
                OK_JSON(49) "{\"id\":\"0\",\"name\":\"default_database\","
                            "\"tenant\":\"t\"}",
                "HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\n{}",
                "HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\n{}",
                /* then a sink whose token is refused */
                OK_JSON(56) "{\"max_batch_size\":1000,"
                            "\"supports_base64_encoding\":false}",
                "HTTP/1.1 403 Forbidden\r\nContent-Length: 14\r\n\r\n"
                "{\"error\":\"no\"}",
                NULL,
        };
        responder_t rs = {0};
        char url[128], errstr[512];
        vcdc_sink_t *sink;
        const char *p;
        int tokens = 0;

        (void)state;
        responder_start(&rs, answers);
        setenv("VCDC_CHROMA_TOKEN", "tok-s3cret", 1);
        snprintf(url, sizeof(url),
                 "chroma://127.0.0.1:%d/docs?tenant=t%%2F1&database=d",
                 rs.port);
        sink = vcdc_sink_new(url, NULL, errstr, sizeof(errstr));
        if (!sink)
                fail_msg("%s", errstr);
        assert_int_equal(vcdc_sink_max_batch(sink), 5461);
        assert_int_equal(vcdc_sink_dim(sink), 0);
        vcdc_sink_destroy(sink);
        sink = vcdc_sink_new(url, NULL, errstr, sizeof(errstr));
        assert_null(sink);
        if (!strstr(errstr, "HTTP 403"))
                fail_msg("%s", errstr);
        assert_null(strstr(errstr, "s3cret"));
        unsetenv("VCDC_CHROMA_TOKEN");
        responder_stop(&rs);

        assert_non_null(strstr(rs.seen, "GET /api/v2/pre-flight-checks "));
        assert_non_null(strstr(rs.seen, "GET /api/v2/tenants/t%2F1/"
                                        "databases/d HTTP/1.1"));
        assert_non_null(strstr(rs.seen, "GET /api/v2/tenants/t%2F1/"
                                        "databases/d/collections/docs "));
        assert_non_null(strstr(rs.seen, "GET /api/v2/tenants/t%2F1/"
                                        "databases/d/collections/"
                                        "docs_vcdc_offsets "));
        for (p = rs.seen; (p = strstr(p, "x-chroma-token: tok-s3cret\r\n"));
             p++)
                tokens++;
        assert_int_equal(tokens, 6);
}

/* What vcdc_sink_new refuses before (or instead of) talking to Chroma. */
static void test_open_refusals(void **state) {
        static const struct {
                const char *url, *expect;
        } cases[] = {
                {"chroma://127.0.0.1:1/docs?tenant=t&colour=red",
                 "unknown chroma:// parameter \"colour\""},
                {"chroma://127.0.0.1:1/", "no collection"},
                {"chroma://127.0.0.1:1/ab", "takes 3 to 512"},
                {"chroma://127.0.0.1:1/a..b", "\"..\""},
                {"chroma://me@127.0.0.1:1/docs", "takes no user name"},
                {"chroma://127.0.0.1:1/docs?metric=hamming",
                 "is not cosine, l2 or ip"},
                /* Port 1: nobody listens; the error names the request. */
                {"chroma://127.0.0.1:1/docs",
                 "GET /api/v2/pre-flight-checks: "},
        };
        char errstr[512];
        size_t i;

        (void)state;
        unsetenv("VCDC_CHROMA_TOKEN");
        unsetenv("VCDC_CHROMA_TOKEN_FILE");
        for (i = 0; i < ARRAY_CNT(cases); i++) {
                vcdc_sink_t *sink;
                errstr[0] = '\0';
                sink = vcdc_sink_new(cases[i].url, NULL, errstr,
                                     sizeof(errstr));
                if (sink)
                        fail_msg("%s opened", cases[i].url);
                if (!strstr(errstr, cases[i].expect))
                        fail_msg("%s: \"%s\" lacks \"%s\"", cases[i].url,
                                 errstr, cases[i].expect);
        }
        /* A token file that cannot be read. */
        setenv("VCDC_CHROMA_TOKEN_FILE", "/nonexistent/token", 1);
        assert_null(vcdc_sink_new("chroma://127.0.0.1:1/docs", NULL, errstr,
                                  sizeof(errstr)));
        assert_non_null(strstr(errstr, "VCDC_CHROMA_TOKEN_FILE"));
        unsetenv("VCDC_CHROMA_TOKEN_FILE");
        /* A token never shows in errors. */
        setenv("VCDC_CHROMA_TOKEN", "tok-s3cret", 1);
        assert_null(vcdc_sink_new("chroma://127.0.0.1:1/docs", NULL, errstr,
                                  sizeof(errstr)));
        assert_null(strstr(errstr, "s3cret"));
        setenv("VCDC_CHROMA_TOKEN", "a\r\nX-Evil: 1", 1);
        assert_null(vcdc_sink_new("chroma://127.0.0.1:1/docs", NULL, errstr,
                                  sizeof(errstr)));
        assert_non_null(strstr(errstr, "line break"));
        unsetenv("VCDC_CHROMA_TOKEN");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_status_map),
                cmocka_unit_test(test_http_answers),
                cmocka_unit_test(test_http_cap_and_failures),
                cmocka_unit_test(test_open_canned),
                cmocka_unit_test(test_open_refusals),
                cmocka_unit_test(test_auth_every_path),
                cmocka_unit_test(test_retry_smaller),
                cmocka_unit_test(test_target),
        };

        signal(SIGPIPE, SIG_IGN);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
