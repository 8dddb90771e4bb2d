/*
 * vcdc gateway - requests and responses (exchange.h): accessors, the
 * percent-decoder, and the response builders. No HTTP library here.
 */
#include "exchange.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "jsonstr.h"

void vcdc_gw_req_clear(vcdc_gw_req_t *req) {
        size_t i;

        for (i = 0; i < req->query_cnt; i++) {
                free(req->query[i].key);
                free(req->query[i].value);
        }
        free(req->query);
        req->query = NULL;
        req->query_cnt = 0;
        for (i = 0; i < req->param_cnt; i++)
                free(req->param_values[i]);
        req->param_cnt = 0;
        req->route = NULL;
        free(req->audit_collection);
        req->audit_collection = NULL;
        free(req->audit_offsets);
        req->audit_offsets = NULL;
        req->audit_ids = -1;
}

const char *vcdc_gw_req_param(const vcdc_gw_req_t *req, const char *name) {
        size_t i;

        for (i = 0; i < req->param_cnt; i++)
                if (!strcmp(req->param_names[i], name))
                        return req->param_values[i];
        return NULL;
}

const char *vcdc_gw_req_query(const vcdc_gw_req_t *req, const char *key) {
        size_t i = req->query_cnt;

        while (i-- > 0)
                if (!strcmp(req->query[i].key, key))
                        return req->query[i].value;
        return NULL;
}

static int hexval(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

long vcdc_gw_percent_decode(const char *s, size_t len, int plus, char *out) {
        size_t i, o = 0;

        for (i = 0; i < len; i++) {
                if (s[i] == '%') {
                        int hi, lo;
                        if (len - i < 3)
                                return -1;
                        hi = hexval(s[i + 1]);
                        lo = hexval(s[i + 2]);
                        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
                                return -1;
                        out[o++] = (char)(hi << 4 | lo);
                        i += 2;
                } else if (s[i] == '\0') {
                        return -1;
                } else {
                        out[o++] = plus && s[i] == '+' ? ' ' : s[i];
                }
        }
        out[o] = '\0';
        return (long)o;
}

static char *decode_dup(const char *s) {
        size_t len = strlen(s);
        char *out = malloc(len + 1);

        if (out && vcdc_gw_percent_decode(s, len, 1, out) < 0) {
                free(out);
                return NULL;
        }
        return out;
}

int vcdc_gw_req_add_query(vcdc_gw_req_t *req, const char *key,
                          const char *value) {
        vcdc_gw_query_t *q;
        char *k, *v;

        if (!(k = decode_dup(key)))
                return -1;
        if (!(v = decode_dup(value ? value : ""))) {
                free(k);
                return -1;
        }
        if (!(q = realloc(req->query, (req->query_cnt + 1) * sizeof(*q)))) {
                free(k);
                free(v);
                return -1;
        }
        req->query = q;
        q[req->query_cnt].key = k;
        q[req->query_cnt].value = v;
        req->query_cnt++;
        return 0;
}

int vcdc_gw_req_allow(vcdc_gw_req_t *req, vcdc_gw_resp_t *resp,
                      const char *collection) {
        char *dup = strdup(collection);

        if (dup) {
                free(req->audit_collection);
                req->audit_collection = dup;
        }
        if (vcdc_gw_access_may_see(req->access, req->token, collection))
                return 1;
        vcdc_gw_resp_error(resp, 403, NULL,
                           "this token may not touch collection %s",
                           collection);
        return 0;
}

int vcdc_gw_req_may_see(const vcdc_gw_req_t *req, const char *collection) {
        return vcdc_gw_access_may_see(req->access, req->token, collection);
}

int vcdc_gw_req_set_audit(vcdc_gw_req_t *req, long ids, const char *offsets) {
        char *dup = NULL;

        if (offsets && !(dup = strdup(offsets)))
                return -1;
        req->audit_ids = ids;
        free(req->audit_offsets);
        req->audit_offsets = dup;
        return 0;
}

void vcdc_gw_resp_clear(vcdc_gw_resp_t *resp) {
        free(resp->body);
        memset(resp, 0, sizeof(*resp));
}

void vcdc_gw_resp_json_take(vcdc_gw_resp_t *resp, int status, char *json,
                            size_t len) {
        free(resp->body);
        resp->body = json;
        resp->len = json ? len : 0;
        resp->status = json ? status : 500;
        resp->content_type = "application/json";
}

int vcdc_gw_resp_json(vcdc_gw_resp_t *resp, int status, const char *json,
                      size_t len) {
        char *copy = malloc(len + 1);

        if (copy) {
                memcpy(copy, json, len);
                copy[len] = '\0';
        }
        vcdc_gw_resp_json_take(resp, status, copy, len);
        return copy ? 0 : -1;
}

const char *vcdc_gw_error_name(int status) {
        switch (status) {
        case 400:
                return "InvalidArgumentError";
        case 401:
                return "AuthError";
        case 403:
                return "AuthorizationError";
        case 404:
                return "NotFoundError";
        case 500:
                return "InternalError";
        default:
                return "ChromaError";
        }
}

int vcdc_gw_resp_error(vcdc_gw_resp_t *resp, int status, const char *name,
                       const char *fmt, ...) {
        vcdc_buf_t b = VCDC_BUF_INIT;
        char msg[1024];
        va_list ap;
        size_t len;
        char *body;
        int n;

        va_start(ap, fmt);
        n = vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (n < 0)
                msg[0] = '\0';
        vcdc_buf_puts(&b, "{\"error\":");
        vcdc_gw_json_cstr(&b, name ? name : vcdc_gw_error_name(status));
        vcdc_buf_puts(&b, ",\"message\":");
        vcdc_gw_json_cstr(&b, msg);
        vcdc_buf_putc(&b, '}');
        body = vcdc_buf_detach(&b, &len);
        vcdc_gw_resp_json_take(resp, status, body, len);
        resp->retry_after = 0;
        return -1;
}
