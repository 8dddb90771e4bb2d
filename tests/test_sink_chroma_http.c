/*
 * vcdc - unit tests: the Chroma sink over HTTP, without Chroma.
 *
 * The HTTP client (http.c) against a canned local responder that answers
 * each request with the next of its answers: keep-alive, the answer cap,
 * transport failures, the HTTP status map; opening the sink against
 * canned answers (the calls it makes, the token on each, the batch limit
 * it takes) and what it refuses before talking to a server.
 * test_sink_chroma_faults.c holds the sink against a fake Chroma that
 * fails the requests a test names (401 and 403, retry_smaller).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http.h"
#include "net/netkit.h"
#include "sink.h"
#include "sink_chroma_int.h"

#define ARRAY_CNT(a) (sizeof(a) / sizeof(*(a)))

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
        rs->answers = answers;
        rs->fd = listen_loopback(&rs->port);
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
        };

        signal(SIGPIPE, SIG_IGN);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
