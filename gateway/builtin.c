/*
 * vcdc gateway - the built-in routes (builtin.h): answers computed from
 * the gateway's own configuration, never from a database.
 */
#include "builtin.h"

#include <string.h>
#include <time.h>

#include "buf.h"
#include "jsonstr.h"

static void answer(vcdc_gw_resp_t *resp, vcdc_buf_t *b) {
        size_t len;
        char *body = vcdc_buf_detach(b, &len);

        vcdc_gw_resp_json_take(resp, 200, body, len);
}

static void heartbeat(vcdc_gw_req_t *req, vcdc_gw_resp_t *resp, void *opaque) {
        vcdc_buf_t b = VCDC_BUF_INIT;
        struct timespec ts;

        (void)req;
        (void)opaque;
        clock_gettime(CLOCK_REALTIME, &ts);
        vcdc_buf_printf(&b, "{\"nanosecond heartbeat\":%llu}",
                        (unsigned long long)ts.tv_sec * 1000000000ULL +
                                (unsigned long long)ts.tv_nsec);
        answer(resp, &b);
}

static void version(vcdc_gw_req_t *req, vcdc_gw_resp_t *resp, void *opaque) {
        static const char v[] = "\"" VCDC_GW_CHROMA_VERSION "\"";

        (void)req;
        (void)opaque;
        vcdc_gw_resp_json(resp, 200, v, sizeof(v) - 1);
}

static void healthcheck(vcdc_gw_req_t *req, vcdc_gw_resp_t *resp,
                        void *opaque) {
        static const char v[] =
                "{\"is_executor_ready\":true,\"is_log_client_ready\":true}";

        (void)req;
        (void)opaque;
        vcdc_gw_resp_json(resp, 200, v, sizeof(v) - 1);
}

static void pre_flight(vcdc_gw_req_t *req, vcdc_gw_resp_t *resp, void *opaque) {
        const vcdc_gw_info_t *info = opaque;
        vcdc_buf_t b = VCDC_BUF_INIT;

        (void)req;
        vcdc_buf_printf(&b,
                        "{\"max_batch_size\":%ld,"
                        "\"supports_base64_encoding\":%s}",
                        info->max_batch_size, info->base64 ? "true" : "false");
        answer(resp, &b);
}

static void identity(vcdc_gw_req_t *req, vcdc_gw_resp_t *resp, void *opaque) {
        const vcdc_gw_info_t *info = opaque;
        vcdc_buf_t b = VCDC_BUF_INIT;

        /* Chroma without authentication says "" for the user. */
        vcdc_buf_puts(&b, "{\"user_id\":");
        vcdc_gw_json_cstr(&b, req->token ? vcdc_gw_token_fingerprint(req->token)
                                         : "");
        vcdc_buf_puts(&b, ",\"tenant\":");
        vcdc_gw_json_cstr(&b, info->tenant);
        vcdc_buf_puts(&b, ",\"databases\":[");
        vcdc_gw_json_cstr(&b, info->database);
        vcdc_buf_puts(&b, "]}");
        answer(resp, &b);
}

/* 1 when the request's {tenant} is the one served, else 0 with a 404 as
 * Chroma words it. */
static int tenant_ok(const vcdc_gw_req_t *req, vcdc_gw_resp_t *resp,
                     const vcdc_gw_info_t *info) {
        const char *tenant = vcdc_gw_req_param(req, "tenant");

        if (tenant && !strcmp(tenant, info->tenant))
                return 1;
        vcdc_gw_resp_error(resp, 404, NULL, "Tenant [%s] not found",
                           tenant ? tenant : "");
        return 0;
}

static void tenant(vcdc_gw_req_t *req, vcdc_gw_resp_t *resp, void *opaque) {
        const vcdc_gw_info_t *info = opaque;
        vcdc_buf_t b = VCDC_BUF_INIT;

        if (!tenant_ok(req, resp, info))
                return;
        vcdc_buf_puts(&b, "{\"name\":");
        vcdc_gw_json_cstr(&b, info->tenant);
        vcdc_buf_puts(&b, ",\"resource_name\":null}");
        answer(resp, &b);
}

static void database_json(vcdc_buf_t *b, const vcdc_gw_info_t *info) {
        vcdc_buf_puts(b, "{\"id\":\"" VCDC_GW_DATABASE_ID "\",\"name\":");
        vcdc_gw_json_cstr(b, info->database);
        vcdc_buf_puts(b, ",\"tenant\":");
        vcdc_gw_json_cstr(b, info->tenant);
        vcdc_buf_putc(b, '}');
}

static void database(vcdc_gw_req_t *req, vcdc_gw_resp_t *resp, void *opaque) {
        const vcdc_gw_info_t *info = opaque;
        const char *db = vcdc_gw_req_param(req, "database");
        vcdc_buf_t b = VCDC_BUF_INIT;

        if (!tenant_ok(req, resp, info))
                return;
        if (!db || strcmp(db, info->database)) {
                vcdc_gw_resp_error(resp, 404, NULL,
                                   "Database [%s] not found. Are you sure "
                                   "it exists?",
                                   db ? db : "");
                return;
        }
        database_json(&b, info);
        answer(resp, &b);
}

static void databases(vcdc_gw_req_t *req, vcdc_gw_resp_t *resp, void *opaque) {
        const vcdc_gw_info_t *info = opaque;
        vcdc_buf_t b = VCDC_BUF_INIT;

        if (!tenant_ok(req, resp, info))
                return;
        vcdc_buf_putc(&b, '[');
        database_json(&b, info);
        vcdc_buf_putc(&b, ']');
        answer(resp, &b);
}

int vcdc_gw_builtin_add(vcdc_gw_router_t *router, const vcdc_gw_info_t *info,
                        char *errstr, size_t errstr_size) {
        static const struct {
                const char *pattern;
                vcdc_gw_handler_t *handler;
        } routes[] = {
                {"/api/v2/heartbeat", heartbeat},
                {"/api/v2/version", version},
                {"/api/v2/healthcheck", healthcheck},
                {"/api/v2/pre-flight-checks", pre_flight},
                {"/api/v2/auth/identity", identity},
                {"/api/v2/tenants/{tenant}", tenant},
                {"/api/v2/tenants/{tenant}/databases", databases},
                {"/api/v2/tenants/{tenant}/databases/{database}", database},
        };
        size_t i;

        for (i = 0; i < sizeof(routes) / sizeof(*routes); i++)
                if (vcdc_gw_router_add(router, "GET", routes[i].pattern,
                                       routes[i].handler, (void *)info, errstr,
                                       errstr_size) == -1)
                        return -1;
        return 0;
}
