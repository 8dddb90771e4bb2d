/*
 * vcdc - libFuzzer target: the gateway's request routing and its tokens
 * file parser. The input is parsed as a tokens file, then read as a
 * request, one field a line: method, path, Authorization, X-Chroma-Token,
 * then query pairs "key=value"; it goes through the Chroma route table
 * (built-in routes served, a test handler on the record routes) with a
 * fixed tokens table. Every answer must have a status and a body that is
 * valid UTF-8 and never holds a token.
 */
#define _GNU_SOURCE /* memmem */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "builtin.h"
#include "exchange.h"
#include "router.h"
#include "utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char tokens[] = "fuzz-reader-token read *\n"
                             "fuzz-writer-token write docs\n"
                             "fuzz-admin-token admin *\n";

static void echo(vcdc_gw_req_t *req, vcdc_gw_resp_t *resp, void *opaque) {
        const char *id = vcdc_gw_req_param(req, "collection_id");

        (void)opaque;
        if (id && !vcdc_gw_req_allow(req, resp, id))
                return;
        vcdc_gw_req_set_audit(req, 1, "{}");
        vcdc_gw_resp_error(resp, 200, "Echo", "%s %s", id ? id : "-",
                           vcdc_gw_req_query(req, "limit")
                                   ? vcdc_gw_req_query(req, "limit")
                                   : "-");
}

static vcdc_gw_router_t *router;
static vcdc_gw_access_t *access_table;
static const vcdc_gw_info_t info = {"default_tenant", "default_database", 5461,
                                    0};

static void setup(void) {
        static const char *const posts[] = {"add",    "upsert", "update",
                                            "delete", "get",    "query"};
        char errstr[256], pattern[160];
        size_t i;

        router = vcdc_gw_router_new_chroma(errstr, sizeof(errstr));
        if (!router ||
            vcdc_gw_builtin_add(router, &info, errstr, sizeof(errstr)))
                abort();
        for (i = 0; i < sizeof(posts) / sizeof(*posts); i++) {
                snprintf(pattern, sizeof(pattern),
                         "/api/v2/tenants/{tenant}/databases/{database}/"
                         "collections/{collection_id}/%s",
                         posts[i]);
                if (vcdc_gw_router_add(router, "POST", pattern, echo, NULL,
                                       errstr, sizeof(errstr)))
                        abort();
        }
        access_table = vcdc_gw_access_parse(tokens, sizeof(tokens) - 1, "t",
                                            errstr, sizeof(errstr));
        if (!access_table)
                abort();
}

/* The next line of s (NUL-terminated copy into out), advancing *posp. */
static const char *next_line(const char *s, size_t size, size_t *posp,
                             char **owned) {
        const char *nl;
        size_t n;

        if (*posp >= size)
                return NULL;
        nl = memchr(s + *posp, '\n', size - *posp);
        n = nl ? (size_t)(nl - (s + *posp)) : size - *posp;
        *owned = malloc(n + 1);
        if (!*owned)
                return NULL;
        memcpy(*owned, s + *posp, n);
        (*owned)[n] = '\0';
        *posp += n + 1;
        return *owned;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const char *s = (const char *)data;
        char errstr[256], tiny[8], *f[4] = {NULL, NULL, NULL, NULL}, *q;
        vcdc_gw_access_t *a;
        vcdc_gw_req_t req;
        vcdc_gw_resp_t resp;
        size_t pos = 0, pos0, i;

        if (!router)
                setup();
        vcdc_gw_access_destroy(
                vcdc_gw_access_parse(s, size, "f", errstr, sizeof(errstr)));
        a = vcdc_gw_access_parse(s, size, "f", tiny, sizeof(tiny));

        memset(&req, 0, sizeof(req));
        memset(&resp, 0, sizeof(resp));
        req.audit_ids = -1;
        for (i = 0; i < 4; i++)
                if (!next_line(s, size, &pos, &f[i]))
                        break;
        if (a) {
                /* A table that parsed knows the token of its first line. */
                const char *t = f[0] ? f[0] + strspn(f[0], " \t") : "";
                char tok[64];
                size_t n = strcspn(t, " \t\r");
                if (*t != '#' && n >= 8 && n < sizeof(tok)) {
                        memcpy(tok, t, n);
                        tok[n] = '\0';
                        if (!vcdc_gw_access_authenticate(a, NULL, tok))
                                abort();
                }
                vcdc_gw_access_destroy(a);
        }
        pos0 = pos < size ? pos : size;
        req.method = f[0] ? f[0] : "GET";
        req.path = f[1] ? f[1] : "/";
        req.authorization = f[2];
        req.x_chroma_token = f[3];
        req.body = "";
        while (next_line(s, size, &pos, &q)) {
                char *eq = strchr(q, '=');
                if (eq)
                        *eq = '\0';
                (void)vcdc_gw_req_add_query(&req, q, eq ? eq + 1 : NULL);
                free(q);
        }
        vcdc_gw_router_handle(router, access_table, &req, &resp);
        if (!resp.status || !resp.body ||
            !vcdc_utf8_valid(resp.body, resp.len) ||
            strlen(resp.body) != resp.len)
                abort();
        /* The table's tokens (the only ones that authenticate) are never
         * quoted back, unless the method, path or query carried them.
         * "uzz", not "fuzz": a path quoted back in an error has its
         * control characters escaped, and "\u000f" before "uzz-..."
         * reads as a token the request did carry. */
        if (!strstr(req.method, "uzz") && !strstr(req.path, "uzz") &&
            !strchr(req.path, '%') &&
            !memmem(s + pos0, size - pos0, "uzz", 3) &&
            strstr(resp.body, "fuzz-"))
                abort();
        vcdc_gw_resp_clear(&resp);
        vcdc_gw_req_clear(&req);
        for (i = 0; i < 4; i++)
                free(f[i]);
        return 0;
}
