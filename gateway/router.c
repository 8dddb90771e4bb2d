/*
 * vcdc gateway - the route table (router.h): declaring, matching,
 * deciding access, calling the handler. Knows nothing of HTTP libraries;
 * the handlers of the data routes live elsewhere (the API part).
 */
#include "router.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errstr.h"

#define MAX_SEGS        16
#define COLL_NAME_PARAM "collection_name"

struct vcdc_gw_route_s {
        char method[8];
        char *pattern;
        char *segs[MAX_SEGS]; /* literal text, or the parameter's name */
        int is_param[MAX_SEGS];
        size_t nseg;
        vcdc_gw_role_t role;
        int flags;
        vcdc_gw_handler_t *handler;
        void *opaque;
};

struct vcdc_gw_router_s {
        vcdc_gw_route_t *routes;
        size_t cnt, cap;
};

vcdc_gw_router_t *vcdc_gw_router_new(void) {
        return calloc(1, sizeof(vcdc_gw_router_t));
}

static void route_free(vcdc_gw_route_t *route) {
        size_t i;

        for (i = 0; i < route->nseg; i++)
                free(route->segs[i]);
        free(route->pattern);
}

void vcdc_gw_router_destroy(vcdc_gw_router_t *router) {
        size_t i;

        if (!router)
                return;
        for (i = 0; i < router->cnt; i++)
                route_free(&router->routes[i]);
        free(router->routes);
        free(router);
}

static int param_name_ok(const char *s, size_t len) {
        size_t i;

        if (!len)
                return 0;
        for (i = 0; i < len; i++)
                if (!((s[i] >= 'a' && s[i] <= 'z') || s[i] == '_'))
                        return 0;
        return 1;
}

/* Splits pattern into route's segments. Returns 0 or -1 with errstr. */
static int parse_pattern(vcdc_gw_route_t *route, const char *pattern,
                         char *errstr, size_t errstr_size) {
        const char *p = pattern;
        size_t nparam = 0, i;

        if (*p != '/')
                return vcdc_fail(errstr, errstr_size,
                                 "route %s: must start with /", pattern);
        while (*p == '/') {
                const char *s = ++p;
                size_t len;

                while (*p && *p != '/')
                        p++;
                len = (size_t)(p - s);
                if (!len)
                        return vcdc_fail(errstr, errstr_size,
                                         "route %s: an empty segment", pattern);
                if (route->nseg == MAX_SEGS)
                        return vcdc_fail(errstr, errstr_size,
                                         "route %s: more than %d segments",
                                         pattern, MAX_SEGS);
                if (s[0] == '{') {
                        if (len < 3 || s[len - 1] != '}' ||
                            !param_name_ok(s + 1, len - 2))
                                return vcdc_fail(errstr, errstr_size,
                                                 "route %s: a parameter is "
                                                 "{name}, name in [a-z_]",
                                                 pattern);
                        for (i = 0; i < route->nseg; i++)
                                if (route->is_param[i] &&
                                    strlen(route->segs[i]) == len - 2 &&
                                    !strncmp(route->segs[i], s + 1, len - 2))
                                        return vcdc_fail(
                                                errstr, errstr_size,
                                                "route %s: parameter %.*s "
                                                "twice",
                                                pattern, (int)(len - 2), s + 1);
                        if (++nparam > VCDC_GW_MAX_PARAMS)
                                return vcdc_fail(errstr, errstr_size,
                                                 "route %s: more than %d "
                                                 "parameters",
                                                 pattern, VCDC_GW_MAX_PARAMS);
                        route->is_param[route->nseg] = 1;
                        s++;
                        len -= 2;
                } else if (memchr(s, '{', len) || memchr(s, '}', len)) {
                        return vcdc_fail(errstr, errstr_size,
                                         "route %s: a brace inside a "
                                         "segment",
                                         pattern);
                }
                if (!(route->segs[route->nseg] = strndup(s, len)))
                        return vcdc_fail(errstr, errstr_size, "out of memory");
                route->nseg++;
        }
        if (*p)
                return vcdc_fail(errstr, errstr_size, "route %s: bad syntax",
                                 pattern);
        if (!route->nseg)
                return vcdc_fail(errstr, errstr_size, "route %s: no segments",
                                 pattern);
        return 0;
}

static vcdc_gw_route_t *find(const vcdc_gw_router_t *router, const char *method,
                             const char *pattern) {
        size_t i;

        for (i = 0; i < router->cnt; i++)
                if (!strcmp(router->routes[i].method, method) &&
                    !strcmp(router->routes[i].pattern, pattern))
                        return &router->routes[i];
        return NULL;
}

static int method_ok(const char *m) {
        static const char *const known[] = {"GET", "POST", "PUT", "PATCH",
                                            "DELETE"};
        size_t i;

        for (i = 0; i < sizeof(known) / sizeof(*known); i++)
                if (!strcmp(m, known[i]))
                        return 1;
        return 0;
}

int vcdc_gw_router_declare(vcdc_gw_router_t *router, const char *method,
                           const char *pattern, vcdc_gw_role_t role, int flags,
                           char *errstr, size_t errstr_size) {
        vcdc_gw_route_t route, *routes;

        if (!method_ok(method))
                return vcdc_fail(errstr, errstr_size,
                                 "route %s: method %s is not one of GET, "
                                 "POST, PUT, PATCH, DELETE",
                                 pattern, method);
        if (find(router, method, pattern))
                return vcdc_fail(errstr, errstr_size,
                                 "route %s %s declared twice", method, pattern);
        memset(&route, 0, sizeof(route));
        snprintf(route.method, sizeof(route.method), "%s", method);
        route.role = role;
        route.flags = flags;
        if (parse_pattern(&route, pattern, errstr, errstr_size) == -1) {
                route_free(&route);
                return -1;
        }
        if (!(route.pattern = strdup(pattern))) {
                route_free(&route);
                return vcdc_fail(errstr, errstr_size, "out of memory");
        }
        if (router->cnt == router->cap) {
                size_t ncap = router->cap ? 2 * router->cap : 32;
                if (!(routes = realloc(router->routes,
                                       ncap * sizeof(*routes)))) {
                        route_free(&route);
                        return vcdc_fail(errstr, errstr_size, "out of memory");
                }
                router->routes = routes;
                router->cap = ncap;
        }
        router->routes[router->cnt++] = route;
        return 0;
}

int vcdc_gw_router_add(vcdc_gw_router_t *router, const char *method,
                       const char *pattern, vcdc_gw_handler_t *handler,
                       void *opaque, char *errstr, size_t errstr_size) {
        vcdc_gw_route_t *route = find(router, method, pattern);

        if (!route)
                return vcdc_fail(errstr, errstr_size,
                                 "no route %s %s is declared", method, pattern);
        route->handler = handler;
        route->opaque = opaque;
        return 0;
}

/* The Chroma 1.0 server's routes (its /openapi.json), with the role each
 * needs. Creating a collection (and get-or-create, which applications
 * call at start) needs write; changing or dropping one, admin. */
#define T "/api/v2/tenants/{tenant}"
#define D T "/databases/{database}"
#define C D "/collections/{collection_id}"
static const struct {
        const char *method, *pattern;
        vcdc_gw_role_t role;
        int flags;
} chroma_routes[] = {
        {"GET", "/api/v2/heartbeat", VCDC_GW_ROLE_PUBLIC, 0},
        {"GET", "/api/v2/version", VCDC_GW_ROLE_PUBLIC, 0},
        {"GET", "/api/v2/healthcheck", VCDC_GW_ROLE_PUBLIC, 0},
        {"GET", "/api/v2/pre-flight-checks", VCDC_GW_ROLE_READ, 0},
        {"GET", "/api/v2/auth/identity", VCDC_GW_ROLE_READ, 0},
        {"POST", "/api/v2/reset", VCDC_GW_ROLE_ADMIN, VCDC_GW_ROUTE_AUDIT},
        {"POST", "/api/v2/tenants", VCDC_GW_ROLE_ADMIN, VCDC_GW_ROUTE_AUDIT},
        {"GET", T, VCDC_GW_ROLE_READ, 0},
        {"PATCH", T, VCDC_GW_ROLE_ADMIN, VCDC_GW_ROUTE_AUDIT},
        {"GET", T "/databases", VCDC_GW_ROLE_READ, 0},
        {"POST", T "/databases", VCDC_GW_ROLE_ADMIN, VCDC_GW_ROUTE_AUDIT},
        {"GET", D, VCDC_GW_ROLE_READ, 0},
        {"DELETE", D, VCDC_GW_ROLE_ADMIN, VCDC_GW_ROUTE_AUDIT},
        {"GET", D "/collections", VCDC_GW_ROLE_READ, 0},
        {"POST", D "/collections", VCDC_GW_ROLE_WRITE, VCDC_GW_ROUTE_AUDIT},
        {"GET", D "/collections_count", VCDC_GW_ROLE_READ, 0},
        {"GET", D "/collections/{collection_name}", VCDC_GW_ROLE_READ, 0},
        {"PUT", C, VCDC_GW_ROLE_ADMIN, VCDC_GW_ROUTE_AUDIT},
        {"DELETE", D "/collections/{collection_name}", VCDC_GW_ROLE_ADMIN,
         VCDC_GW_ROUTE_AUDIT},
        {"POST", C "/add", VCDC_GW_ROLE_WRITE, VCDC_GW_ROUTE_AUDIT},
        {"POST", C "/upsert", VCDC_GW_ROLE_WRITE, VCDC_GW_ROUTE_AUDIT},
        {"POST", C "/update", VCDC_GW_ROLE_WRITE, VCDC_GW_ROUTE_AUDIT},
        {"POST", C "/delete", VCDC_GW_ROLE_WRITE, VCDC_GW_ROUTE_AUDIT},
        {"POST", C "/get", VCDC_GW_ROLE_READ, 0},
        {"POST", C "/query", VCDC_GW_ROLE_READ, 0},
        {"GET", C "/count", VCDC_GW_ROLE_READ, 0},
        {"POST", C "/fork", VCDC_GW_ROLE_ADMIN, VCDC_GW_ROUTE_AUDIT},
};
#undef T
#undef D
#undef C

vcdc_gw_router_t *vcdc_gw_router_new_chroma(char *errstr, size_t errstr_size) {
        vcdc_gw_router_t *router = vcdc_gw_router_new();
        size_t i;

        if (!router) {
                vcdc_fail(errstr, errstr_size, "out of memory");
                return NULL;
        }
        for (i = 0; i < sizeof(chroma_routes) / sizeof(*chroma_routes); i++)
                if (vcdc_gw_router_declare(router, chroma_routes[i].method,
                                           chroma_routes[i].pattern,
                                           chroma_routes[i].role,
                                           chroma_routes[i].flags, errstr,
                                           errstr_size) == -1) {
                        vcdc_gw_router_destroy(router);
                        return NULL;
                }
        return router;
}

/* Does route's shape take the path's segments? */
static int path_fits(const vcdc_gw_route_t *route, const char *const *segs,
                     const size_t *lens, size_t nseg) {
        size_t i;

        if (route->nseg != nseg)
                return 0;
        for (i = 0; i < nseg; i++)
                if (!route->is_param[i] &&
                    (strlen(route->segs[i]) != lens[i] ||
                     memcmp(route->segs[i], segs[i], lens[i])))
                        return 0;
        return 1;
}

static void allow_add(char *allow, size_t size, const char *method) {
        size_t len = strlen(allow), mlen = strlen(method);
        const char *p = allow;

        while ((p = strstr(p, method))) {
                if ((p == allow || p[-1] == ' ') &&
                    (p[mlen] == ',' || p[mlen] == '\0'))
                        return;
                p += mlen;
        }
        snprintf(allow + len, size - len, "%s%s", len ? ", " : "", method);
}

int vcdc_gw_router_match(const vcdc_gw_router_t *router, vcdc_gw_req_t *req,
                         vcdc_gw_resp_t *resp) {
        const char *segs[MAX_SEGS + 1], *p = req->path, *method = req->method;
        size_t lens[MAX_SEGS + 1], nseg = 0, i, k, path_hits = 0;
        const vcdc_gw_route_t *found = NULL;

        if (!strcmp(method, "HEAD"))
                method = "GET";
        resp->allow[0] = '\0';
        if (*p == '/') {
                while (*p == '/' && nseg <= MAX_SEGS) {
                        segs[nseg] = ++p;
                        while (*p && *p != '/')
                                p++;
                        lens[nseg] = (size_t)(p - segs[nseg]);
                        if (!lens[nseg]) {
                                nseg = 0; /* an empty segment: no route */
                                break;
                        }
                        nseg++;
                }
                if (*p)
                        nseg = 0; /* too many segments */
        }
        for (i = 0; nseg && i < router->cnt; i++) {
                const vcdc_gw_route_t *route = &router->routes[i];
                if (!path_fits(route, segs, lens, nseg))
                        continue;
                path_hits++;
                allow_add(resp->allow, sizeof(resp->allow), route->method);
                if (!strcmp(route->method, "GET"))
                        allow_add(resp->allow, sizeof(resp->allow), "HEAD");
                if (!found && !strcmp(route->method, method))
                        found = route;
        }
        if (!found) {
                if (path_hits)
                        return vcdc_gw_resp_error(
                                resp, 405, NULL,
                                "method %s is not allowed here (allowed: %s)",
                                req->method, resp->allow);
                resp->allow[0] = '\0';
                if (!strncmp(req->path, "/api/", 5))
                        return vcdc_gw_resp_error(
                                resp, 501, NULL,
                                "vcdc-gateway does not serve %s %s",
                                req->method, req->path);
                return vcdc_gw_resp_error(resp, 404, NULL, "no route %s",
                                          req->path);
        }
        resp->allow[0] = '\0';
        req->route = found;
        for (i = 0, k = 0; i < nseg; i++) {
                char *v;
                if (!found->is_param[i])
                        continue;
                if (!(v = malloc(lens[i] + 1)))
                        return vcdc_gw_resp_error(resp, 500, NULL,
                                                  "out of memory");
                if (vcdc_gw_percent_decode(segs[i], lens[i], 0, v) < 0) {
                        free(v);
                        return vcdc_gw_resp_error(
                                resp, 400, NULL,
                                "path parameter %s: a bad percent-escape",
                                found->segs[i]);
                }
                req->param_names[k] = found->segs[i];
                req->param_values[k] = v;
                req->param_cnt = ++k;
        }
        return 0;
}

void vcdc_gw_router_handle(const vcdc_gw_router_t *router,
                           const vcdc_gw_access_t *access, vcdc_gw_req_t *req,
                           vcdc_gw_resp_t *resp) {
        const vcdc_gw_route_t *route;
        const char *coll;

        if (vcdc_gw_router_match(router, req, resp) == -1)
                return;
        route = req->route;
        req->access = access;
        req->token = vcdc_gw_access_authenticate(access, req->authorization,
                                                 req->x_chroma_token);
        if ((coll = vcdc_gw_req_param(req, COLL_NAME_PARAM)) &&
            !(req->audit_collection = strdup(coll))) {
                vcdc_gw_resp_error(resp, 500, NULL, "out of memory");
                return;
        }
        switch (vcdc_gw_access_decide(access, req->token, route->role, coll)) {
        case VCDC_GW_ALLOW:
                break;
        case VCDC_GW_DENY_UNAUTHENTICATED:
                vcdc_gw_resp_error(resp, 401, NULL,
                                   "no token, or an unknown one: send "
                                   "Authorization: Bearer TOKEN or "
                                   "X-Chroma-Token: TOKEN");
                return;
        case VCDC_GW_DENY_FORBIDDEN:
                if (vcdc_gw_token_role(req->token) < route->role)
                        vcdc_gw_resp_error(
                                resp, 403, NULL,
                                "this token's role is %s; %s %s needs %s",
                                vcdc_gw_role_name(
                                        vcdc_gw_token_role(req->token)),
                                route->method, route->pattern,
                                vcdc_gw_role_name(route->role));
                else
                        vcdc_gw_resp_error(resp, 403, NULL,
                                           "this token may not touch "
                                           "collection %s",
                                           coll);
                return;
        }
        if (!route->handler) {
                vcdc_gw_resp_error(resp, 501, NULL,
                                   "vcdc-gateway does not serve %s %s yet",
                                   route->method, route->pattern);
                return;
        }
        route->handler(req, resp, route->opaque);
        if (!resp->status)
                vcdc_gw_resp_error(resp, 500, NULL,
                                   "the handler of %s %s gave no answer",
                                   route->method, route->pattern);
}

vcdc_gw_role_t vcdc_gw_route_role(const vcdc_gw_route_t *route) {
        return route->role;
}

int vcdc_gw_route_flags(const vcdc_gw_route_t *route) {
        return route->flags;
}

const char *vcdc_gw_route_pattern(const vcdc_gw_route_t *route) {
        return route->pattern;
}

const char *vcdc_gw_route_method(const vcdc_gw_route_t *route) {
        return route->method;
}
