/*
 * vcdc - unit tests: the gateway's route table (gateway/router.c) and
 * its built-in routes (gateway/builtin.c): patterns and parameters, the
 * router's own answers (400, 404, 405, 501), access on the way to a
 * handler, the built-in answers' JSON.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "builtin.h"
#include "exchange.h"
#include "router.h"

#define D "/api/v2/tenants/default_tenant/databases/default_database"

/* A handler that answers 200 with the route's pattern and parameters. */
static void echo(vcdc_gw_req_t *req, vcdc_gw_resp_t *resp, void *opaque) {
        char body[512];
        size_t i, off;

        off = (size_t)snprintf(body, sizeof(body), "%s:%s",
                               (const char *)opaque,
                               vcdc_gw_route_pattern(req->route));
        for (i = 0; i < req->param_cnt && off < sizeof(body); i++)
                off += (size_t)snprintf(body + off, sizeof(body) - off,
                                        " %s=%s", req->param_names[i],
                                        req->param_values[i]);
        vcdc_gw_resp_json(resp, 200, body, strlen(body));
}

/* A handler that sets nothing. */
static void mute(vcdc_gw_req_t *req, vcdc_gw_resp_t *resp, void *opaque) {
        (void)req;
        (void)resp;
        (void)opaque;
}

static vcdc_gw_router_t *chroma_router(void) {
        char errstr[256];
        vcdc_gw_router_t *r = vcdc_gw_router_new_chroma(errstr, sizeof(errstr));

        assert_non_null(r);
        return r;
}

/* Runs one request through the router; returns resp's status. */
static int run(const vcdc_gw_router_t *r, const vcdc_gw_access_t *access,
               const char *method, const char *path, const char *auth,
               vcdc_gw_resp_t *resp) {
        vcdc_gw_req_t req;

        memset(&req, 0, sizeof(req));
        memset(resp, 0, sizeof(*resp));
        req.audit_ids = -1;
        req.method = method;
        req.path = path;
        req.body = "";
        req.authorization = auth;
        vcdc_gw_router_handle(r, access, &req, resp);
        vcdc_gw_req_clear(&req);
        return resp->status;
}

static void test_match(void **state) {
        static const struct {
                const char *method, *path;
                int status;
                const char *body; /* for 200: the echo; else the error name
                                   */
        } cases[] = {
                {"POST", D "/collections/abc/add", 200,
                 "x:"
                 "/api/v2/tenants/{tenant}/databases/{database}"
                 "/collections/{collection_id}/add tenant=default_tenant "
                 "database=default_database collection_id=abc"},
                {"GET", D "/collections/my%20c%2Fx", 200,
                 "x:"
                 "/api/v2/tenants/{tenant}/databases/{database}"
                 "/collections/{collection_name} tenant=default_tenant "
                 "database=default_database collection_name=my c/x"},
                {"HEAD", D "/collections/abc/count", 200, NULL},
                {"GET", D "/collections_count", 501, "ChromaError"},
                {"POST", D "/collections/abc/fork", 501, "ChromaError"},
                {"POST", "/api/v2/reset", 501, "ChromaError"},
                {"GET", "/api/v2/nothing", 501, "ChromaError"},
                {"GET", "/api/v1/heartbeat", 501, "ChromaError"},
                {"GET", D "/collections/abc/add", 405, "ChromaError"},
                {"PATCH", D "/collections/abc", 405, "ChromaError"},
                {"GET", "/", 404, "NotFoundError"},
                {"GET", "/metrics", 404, "NotFoundError"},
                {"GET", "", 404, "NotFoundError"},
                {"GET", D "/collections/abc/", 501, "ChromaError"},
                {"GET", D "//collections", 501, "ChromaError"},
                {"GET", D "/collections/a%2", 400, "InvalidArgumentError"},
                {"GET", D "/collections/a%00b", 400, "InvalidArgumentError"},
                {"GET", D "/collections/a%zzb", 400, "InvalidArgumentError"},
                {"GET", "/api/v2/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r", 501,
                 "ChromaError"},
        };
        vcdc_gw_router_t *r = chroma_router();
        vcdc_gw_resp_t resp;
        char errstr[256], want[640];
        size_t i;

        (void)state;
        assert_int_equal(vcdc_gw_router_add(r, "POST",
                                            "/api/v2/tenants/{tenant}/"
                                            "databases/{database}/collections/"
                                            "{collection_id}/add",
                                            echo, "x", errstr, sizeof(errstr)),
                         0);
        assert_int_equal(vcdc_gw_router_add(r, "GET",
                                            "/api/v2/tenants/{tenant}/"
                                            "databases/{database}/collections/"
                                            "{collection_name}",
                                            echo, "x", errstr, sizeof(errstr)),
                         0);
        assert_int_equal(vcdc_gw_router_add(r, "GET",
                                            "/api/v2/tenants/{tenant}/"
                                            "databases/{database}/collections/"
                                            "{collection_id}/count",
                                            echo, "x", errstr, sizeof(errstr)),
                         0);
        for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                int status = run(r, NULL, cases[i].method, cases[i].path, NULL,
                                 &resp);
                if (status != cases[i].status)
                        fail_msg("%s %s: %d, expected %d: %.*s",
                                 cases[i].method, cases[i].path, status,
                                 cases[i].status, (int)resp.len,
                                 resp.body ? resp.body : "");
                assert_non_null(resp.body);
                if (status == 200 && cases[i].body) {
                        assert_string_equal(resp.body, cases[i].body);
                } else if (cases[i].body) {
                        snprintf(want, sizeof(want), "{\"error\":\"%s\",",
                                 cases[i].body);
                        assert_memory_equal(resp.body, want, strlen(want));
                        assert_non_null(strstr(resp.body, "\"message\":\""));
                }
                if (status == 405)
                        assert_true(strlen(resp.allow) > 0);
                else
                        assert_string_equal(resp.allow, "");
                vcdc_gw_resp_clear(&resp);
        }
        /* The Allow header lists every method of the path. */
        run(r, NULL, "POST", D "/collections/abc", NULL, &resp);
        assert_int_equal(resp.status, 405);
        assert_string_equal(resp.allow, "GET, HEAD, PUT, DELETE");
        vcdc_gw_resp_clear(&resp);
        vcdc_gw_router_destroy(r);
}

static void test_declare_errors(void **state) {
        static const struct {
                const char *method, *pattern, *error;
        } cases[] = {
                {"GET", "api/x", "must start with /"},
                {"GET", "/api//x", "an empty segment"},
                {"GET", "/api/x/", "an empty segment"},
                {"GET", "/api/{X}", "a parameter is {name}"},
                {"GET", "/api/{}", "a parameter is {name}"},
                {"GET", "/api/{a", "a parameter is {name}"},
                {"GET", "/api/a{b}", "a brace inside a segment"},
                {"GET", "/api/{a}/{a}", "parameter a twice"},
                {"GET", "/{a}/{b}/{c}/{d}/{e}", "more than 4 parameters"},
                {"GET", "/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q",
                 "more than 16 segments"},
                {"FETCH", "/api/x", "method FETCH is not one of"},
                {"GET", "/api/v2/heartbeat", "declared twice"},
        };
        vcdc_gw_router_t *r = chroma_router();
        char errstr[256];
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                errstr[0] = '\0';
                assert_int_equal(vcdc_gw_router_declare(r, cases[i].method,
                                                        cases[i].pattern,
                                                        VCDC_GW_ROLE_READ, 0,
                                                        errstr, sizeof(errstr)),
                                 -1);
                if (!strstr(errstr, cases[i].error))
                        fail_msg("%s: \"%s\" lacks \"%s\"", cases[i].pattern,
                                 errstr, cases[i].error);
        }
        assert_int_equal(vcdc_gw_router_add(r, "GET", "/api/v2/nothing", echo,
                                            NULL, errstr, sizeof(errstr)),
                         -1);
        assert_non_null(strstr(errstr, "no route GET /api/v2/nothing"));
        /* A route of one's own, then served. */
        assert_int_equal(vcdc_gw_router_declare(r, "GET", "/x/{a}/y",
                                                VCDC_GW_ROLE_PUBLIC, 0, errstr,
                                                sizeof(errstr)),
                         0);
        assert_int_equal(vcdc_gw_router_add(r, "GET", "/x/{a}/y", echo, "o",
                                            errstr, sizeof(errstr)),
                         0);
        vcdc_gw_router_destroy(r);
}

static void test_no_answer(void **state) {
        vcdc_gw_router_t *r = chroma_router();
        vcdc_gw_resp_t resp;
        char errstr[256];

        (void)state;
        assert_int_equal(vcdc_gw_router_add(r, "GET", "/api/v2/version", mute,
                                            NULL, errstr, sizeof(errstr)),
                         0);
        assert_int_equal(run(r, NULL, "GET", "/api/v2/version", NULL, &resp),
                         500);
        assert_non_null(strstr(resp.body, "InternalError"));
        vcdc_gw_resp_clear(&resp);
        vcdc_gw_router_destroy(r);
}

static const char tokens[] = "reader-token-1 read *\n"
                             "writer-token-1 write docs,notes\n"
                             "admin-token-01 admin *\n";

/* Access on the way: 401 and 403 before the handler, in Chroma's shape. */
static void test_access(void **state) {
        static const struct {
                const char *method, *path, *auth;
                int status;
                const char *name;
        } cases[] = {
                {"GET", "/api/v2/heartbeat", NULL, 200, NULL},
                {"GET", "/api/v2/version", "Bearer nope-nope-nope", 200, NULL},
                {"GET", "/api/v2/pre-flight-checks", NULL, 401, "AuthError"},
                {"GET", "/api/v2/auth/identity", "Bearer wrong-token-1", 401,
                 "AuthError"},
                {"GET", "/api/v2/auth/identity", "Bearer reader-token-1", 200,
                 NULL},
                {"POST", D "/collections/id1/add", "Bearer reader-token-1", 403,
                 "AuthorizationError"},
                {"POST", D "/collections/id1/add", "Bearer writer-token-1", 200,
                 NULL},
                {"GET", D "/collections/docs", "Bearer writer-token-1", 200,
                 NULL},
                {"GET", D "/collections/other", "Bearer writer-token-1", 403,
                 "AuthorizationError"},
                {"DELETE", D "/collections/docs", "Bearer writer-token-1", 403,
                 "AuthorizationError"},
                {"DELETE", D "/collections/docs", "Bearer admin-token-01", 200,
                 NULL},
                {"GET", "/api/v2/nothing", NULL, 501, "ChromaError"},
        };
        vcdc_gw_router_t *r = chroma_router();
        vcdc_gw_access_t *a;
        vcdc_gw_info_t info = {"default_tenant", "default_database", 5461, 0};
        vcdc_gw_resp_t resp;
        char errstr[256];
        size_t i;

        (void)state;
        a = vcdc_gw_access_parse(tokens, sizeof(tokens) - 1, "t", errstr,
                                 sizeof(errstr));
        assert_non_null(a);
        assert_int_equal(vcdc_gw_builtin_add(r, &info, errstr, sizeof(errstr)),
                         0);
        assert_int_equal(vcdc_gw_router_add(r, "POST",
                                            "/api/v2/tenants/{tenant}/"
                                            "databases/{database}/collections/"
                                            "{collection_id}/add",
                                            echo, "x", errstr, sizeof(errstr)),
                         0);
        assert_int_equal(vcdc_gw_router_add(r, "GET",
                                            "/api/v2/tenants/{tenant}/"
                                            "databases/{database}/collections/"
                                            "{collection_name}",
                                            echo, "x", errstr, sizeof(errstr)),
                         0);
        assert_int_equal(vcdc_gw_router_add(r, "DELETE",
                                            "/api/v2/tenants/{tenant}/"
                                            "databases/{database}/collections/"
                                            "{collection_name}",
                                            echo, "x", errstr, sizeof(errstr)),
                         0);
        for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                int status = run(r, a, cases[i].method, cases[i].path,
                                 cases[i].auth, &resp);
                if (status != cases[i].status)
                        fail_msg("%s %s (%s): %d, expected %d", cases[i].method,
                                 cases[i].path,
                                 cases[i].auth ? cases[i].auth : "-", status,
                                 cases[i].status);
                if (cases[i].name)
                        assert_non_null(strstr(resp.body, cases[i].name));
                /* No answer ever quotes a token. */
                assert_null(strstr(resp.body, "token-"));
                vcdc_gw_resp_clear(&resp);
        }
        vcdc_gw_access_destroy(a);
        vcdc_gw_router_destroy(r);
}

static void test_builtin(void **state) {
        static const struct {
                const char *path;
                int status;
                const char *body; /* exact, or a prefix ending in '*' */
        } cases[] = {
                {"/api/v2/version", 200, "\"1.0.0\""},
                {"/api/v2/heartbeat", 200, "{\"nanosecond heartbeat\":*"},
                {"/api/v2/pre-flight-checks", 200,
                 "{\"max_batch_size\":77,\"supports_base64_encoding\":false}"},
                {"/api/v2/auth/identity", 200,
                 "{\"user_id\":\"\",\"tenant\":\"t1\",\"databases\":["
                 "\"d\\\"1\"]"
                 "}"},
                {"/api/v2/tenants/t1", 200,
                 "{\"name\":\"t1\",\"resource_name\":null}"},
                {"/api/v2/tenants/t2", 404,
                 "{\"error\":\"NotFoundError\",\"message\":\"Tenant [t2] not "
                 "found\"}"},
                {"/api/v2/tenants/t1/databases/d%221", 200,
                 "{\"id\":\"00000000-0000-0000-0000-000000000000\",\"name\":"
                 "\"d\\\"1\",\"tenant\":\"t1\"}"},
                {"/api/v2/tenants/t1/databases", 200,
                 "[{\"id\":\"00000000-0000-0000-0000-000000000000\",\"name\":"
                 "\"d\\\"1\",\"tenant\":\"t1\"}]"},
                {"/api/v2/tenants/t1/databases/d2", 404,
                 "{\"error\":\"NotFoundError\",\"message\":\"Database [d2] not "
                 "found. Are you sure it exists?\"}"},
                {"/api/v2/tenants/t2/databases/d%221", 404,
                 "{\"error\":\"NotFoundError\",\"message\":\"Tenant [t2] not "
                 "found\"}"},
                {"/api/v2/healthcheck", 200,
                 "{\"is_executor_ready\":true,\"is_log_client_ready\":true}"},
        };
        vcdc_gw_router_t *r = chroma_router();
        vcdc_gw_info_t info = {"t1", "d\"1", 77, 0};
        vcdc_gw_resp_t resp;
        char errstr[256];
        size_t i, n;

        (void)state;
        assert_int_equal(vcdc_gw_builtin_add(r, &info, errstr, sizeof(errstr)),
                         0);
        for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                assert_int_equal(
                        run(r, NULL, "GET", cases[i].path, NULL, &resp),
                        cases[i].status);
                n = strlen(cases[i].body);
                if (cases[i].body[n - 1] == '*') {
                        assert_memory_equal(resp.body, cases[i].body, n - 1);
                        assert_true(resp.len > n + 10);
                } else {
                        assert_string_equal(resp.body, cases[i].body);
                        assert_int_equal(resp.len, n);
                }
                assert_string_equal(resp.content_type, "application/json");
                vcdc_gw_resp_clear(&resp);
        }
        vcdc_gw_router_destroy(r);
}

/* Error bodies are valid JSON whatever the message holds. */
static void test_error_shape(void **state) {
        vcdc_gw_resp_t resp;

        (void)state;
        memset(&resp, 0, sizeof(resp));
        vcdc_gw_resp_error(&resp, 409, NULL, "a \"q\" \\ \n\x01 \xff\xc3\xa9");
        assert_int_equal(resp.status, 409);
        assert_string_equal(resp.body,
                            "{\"error\":\"ChromaError\",\"message\":\"a "
                            "\\\"q\\\" \\\\ \\n\\u0001 \\ufffd\xc3\xa9\"}");
        vcdc_gw_resp_clear(&resp);
        vcdc_gw_resp_error(&resp, 400, "InvalidDimension", "x");
        assert_string_equal(resp.body, "{\"error\":\"InvalidDimension\","
                                       "\"message\":\"x\"}");
        vcdc_gw_resp_clear(&resp);
        assert_string_equal(vcdc_gw_error_name(401), "AuthError");
        assert_string_equal(vcdc_gw_error_name(403), "AuthorizationError");
        assert_string_equal(vcdc_gw_error_name(500), "InternalError");
        assert_string_equal(vcdc_gw_error_name(503), "ChromaError");
}

static void test_query_and_decode(void **state) {
        vcdc_gw_req_t req;
        char out[32];

        (void)state;
        memset(&req, 0, sizeof(req));
        assert_int_equal(vcdc_gw_req_add_query(&req, "limit", "10"), 0);
        assert_int_equal(vcdc_gw_req_add_query(&req, "a%20b", "x+y%2B"), 0);
        assert_int_equal(vcdc_gw_req_add_query(&req, "flag", NULL), 0);
        assert_int_equal(vcdc_gw_req_add_query(&req, "limit", "20"), 0);
        assert_int_equal(vcdc_gw_req_add_query(&req, "bad", "%g0"), -1);
        assert_string_equal(vcdc_gw_req_query(&req, "limit"), "20");
        assert_string_equal(vcdc_gw_req_query(&req, "a b"), "x y+");
        assert_string_equal(vcdc_gw_req_query(&req, "flag"), "");
        assert_null(vcdc_gw_req_query(&req, "bad"));
        assert_int_equal(vcdc_gw_req_set_audit(&req, 3, "{\"0\":[1,2]}"), 0);
        assert_int_equal(req.audit_ids, 3);
        vcdc_gw_req_clear(&req);
        assert_int_equal(vcdc_gw_percent_decode("a+b%41", 6, 0, out), 4);
        assert_string_equal(out, "a+bA");
        assert_int_equal(vcdc_gw_percent_decode("%4", 2, 0, out), -1);
        assert_int_equal(vcdc_gw_percent_decode("%", 1, 0, out), -1);
        assert_int_equal(vcdc_gw_percent_decode("", 0, 0, out), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_match),
                cmocka_unit_test(test_declare_errors),
                cmocka_unit_test(test_no_answer),
                cmocka_unit_test(test_access),
                cmocka_unit_test(test_builtin),
                cmocka_unit_test(test_error_shape),
                cmocka_unit_test(test_query_and_decode),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
