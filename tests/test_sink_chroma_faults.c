/*
 * vcdc - unit tests: the Chroma sink against a failing Chroma.
 *
 * A small fake Chroma on 127.0.0.1 that serves the routes the sink uses
 * and fails the ones a test names (issue 14, scenario 10):
 *   - HTTP 401 and 403 are FATAL in every call path (open, apply,
 *     record_offsets, read_offsets, count, get, scan, query) with a
 *     message that says to set VCDC_CHROMA_TOKEN, never the token;
 *   - vcdc_sink_retry_smaller() after a RETRIABLE answer: 1 for a 5xx or
 *     a timeout, 0 for a refused or reset connection and for 429;
 *   - vcdc_sink_target(): the collection in the URL.
 * test_sink_chroma_http.c holds the HTTP client and opening the sink
 * against canned answers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/netkit.h"
#include "sink.h"

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
        int i;

        memset(fk, 0, sizeof(*fk));
        for (i = 0; i < FAKE_CONNS; i++)
                fk->conn[i].fd = -1;
        assert_int_equal(pipe(fk->wake), 0);
        fk->fd = listen_loopback(&fk->port);
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

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_auth_every_path),
                cmocka_unit_test(test_retry_smaller),
                cmocka_unit_test(test_target),
        };

        signal(SIGPIPE, SIG_IGN);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
