/*
 * vcdc gateway - the route table: Chroma's HTTP API v2 paths with path
 * parameters ("/api/v2/tenants/{tenant}"), each with the role it needs,
 * whether it is audited, and the handler that serves it.
 *
 * Routes are declared first (vcdc_gw_router_new_chroma declares every
 * route of the Chroma 1.0 server's API) and served once a handler is
 * added; a declared route without a handler answers 501. Answers that
 * are the router's own, in Chroma's error shape: a path under /api/
 * that no route has, 501; elsewhere, 404; a path whose routes take other
 * methods, 405 with Allow; a parameter with a bad percent-escape, 400;
 * no token or an unknown one, 401; a role or collection not allowed,
 * 403. A parameter named {collection_name} holds a collection's name,
 * which the router checks against the caller's token; handlers check
 * collections they learn otherwise (by id, from the body) with
 * vcdc_gw_req_allow().
 */
#ifndef VCDC_GW_ROUTER_H
#define VCDC_GW_ROUTER_H

#include <stddef.h>

#include "access.h"
#include "exchange.h"

typedef struct vcdc_gw_router_s vcdc_gw_router_t;
typedef struct vcdc_gw_route_s vcdc_gw_route_t;

/**
 * Serves one request: fills resp (a status and a body). Called on one of
 * the server's threads, possibly on several at once: what opaque points
 * to must be safe for that.
 */
typedef void(vcdc_gw_handler_t)(vcdc_gw_req_t *req, vcdc_gw_resp_t *resp,
                                void *opaque);

/* Route flags. */
#define VCDC_GW_ROUTE_AUDIT                                                    \
        1 /* a write or administrative operation: one                          \
           * audit line per request */

/** An empty router; NULL on allocation failure. */
vcdc_gw_router_t *vcdc_gw_router_new(void);

/** A router with every route of Chroma's v2 API declared (no handler).
 *  NULL with errstr. */
vcdc_gw_router_t *vcdc_gw_router_new_chroma(char *errstr, size_t errstr_size);

void vcdc_gw_router_destroy(vcdc_gw_router_t *router);

/**
 * Declares a route: method ("GET", ...), pattern (absolute path, literal
 * segments and {name} parameters, at most VCDC_GW_MAX_PARAMS), the role
 * it needs and flags. Returns 0, or -1 with errstr (a bad pattern, a
 * route declared twice).
 */
int vcdc_gw_router_declare(vcdc_gw_router_t *router, const char *method,
                           const char *pattern, vcdc_gw_role_t role, int flags,
                           char *errstr, size_t errstr_size);

/**
 * Serves the declared route method pattern (the same text it was declared
 * with) with handler, called with opaque. Returns 0, or -1 with errstr
 * when no such route is declared.
 */
int vcdc_gw_router_add(vcdc_gw_router_t *router, const char *method,
                       const char *pattern, vcdc_gw_handler_t *handler,
                       void *opaque, char *errstr, size_t errstr_size);

/**
 * Finds the route of req->method and req->path: returns 0 with
 * req->route and its parameters set, or -1 with resp holding the answer
 * (400, 404, 405, 501). HEAD finds GET's routes.
 */
int vcdc_gw_router_match(const vcdc_gw_router_t *router, vcdc_gw_req_t *req,
                         vcdc_gw_resp_t *resp);

/**
 * The whole way through: match, authenticate (access NULL: no tokens
 * file), decide, then the route's handler, or 501 when it has none.
 * resp always ends up with an answer.
 */
void vcdc_gw_router_handle(const vcdc_gw_router_t *router,
                           const vcdc_gw_access_t *access, vcdc_gw_req_t *req,
                           vcdc_gw_resp_t *resp);

/* A matched route's properties. */
vcdc_gw_role_t vcdc_gw_route_role(const vcdc_gw_route_t *route);
int vcdc_gw_route_flags(const vcdc_gw_route_t *route);
const char *vcdc_gw_route_pattern(const vcdc_gw_route_t *route);
const char *vcdc_gw_route_method(const vcdc_gw_route_t *route);

#endif
