/*
 * vcdc gateway - one request and its response, as the router and the
 * handlers see them: plain structs with no HTTP library in them (http.c
 * fills a request from libmicrohttpd and sends the response), so the
 * router and the handlers are tested without a server.
 *
 * Every error response has Chroma's shape {"error": NAME, "message":
 * TEXT}: the official clients turn NAME (Python) or the status
 * (JavaScript) into their exception classes.
 */
#ifndef VCDC_GW_EXCHANGE_H
#define VCDC_GW_EXCHANGE_H

#include <stddef.h>

#include "access.h"

#define VCDC_GW_MAX_PARAMS 4

struct vcdc_gw_route_s;

typedef struct vcdc_gw_query_s {
        char *key;   /* percent-decoded */
        char *value; /* percent-decoded; "" for a key without '=' */
} vcdc_gw_query_t;

typedef struct vcdc_gw_req_s {
        /* Filled by the server; valid while the handler runs. */
        const char *method; /* "GET", "POST", ... */
        const char *path;   /* as sent, not percent-decoded */
        const char *body;   /* NUL-terminated; "" when none */
        size_t body_len;
        const char *authorization; /* header values, or NULL */
        const char *x_chroma_token;
        const char *content_type;
        vcdc_gw_query_t *query; /* owned (vcdc_gw_req_clear) */
        size_t query_cnt;

        /* Filled by the router. */
        const struct vcdc_gw_route_s *route;
        const char *param_names[VCDC_GW_MAX_PARAMS];
        char *param_values[VCDC_GW_MAX_PARAMS]; /* decoded, owned */
        size_t param_cnt;
        const vcdc_gw_access_t *access; /* NULL: no tokens file */
        const vcdc_gw_token_t *token;   /* the caller's, or NULL */

        /* What the audit line says, filled by the handlers. */
        char *audit_collection; /* owned */
        long audit_ids;         /* ids the request names, -1 unknown */
        char *audit_offsets;    /* JSON text of the offsets written, owned */
} vcdc_gw_req_t;

typedef struct vcdc_gw_resp_s {
        int status; /* 0 until a response is set */
        char *body; /* owned */
        size_t len;
        const char *content_type; /* a static string */
        int retry_after;          /* seconds for Retry-After, 0: none */
        char allow[48];           /* for 405: the Allow header's value */
} vcdc_gw_resp_t;

/** Empties a request (frees what it owns) for reuse or disposal; the
 *  server's fields are left alone. */
void vcdc_gw_req_clear(vcdc_gw_req_t *req);

/** Path parameter name (decoded), or NULL. */
const char *vcdc_gw_req_param(const vcdc_gw_req_t *req, const char *name);

/** Query parameter key (decoded; the last one given wins), or NULL. */
const char *vcdc_gw_req_query(const vcdc_gw_req_t *req, const char *key);

/** Adds a query parameter: raw key and value percent-decoded ('+' is a
 *  blank). Returns 0, or -1 on a bad escape or out of memory. */
int vcdc_gw_req_add_query(vcdc_gw_req_t *req, const char *key,
                          const char *value);

/**
 * For handlers that learn the collection a request touches (by id, or
 * from the body): may the caller touch collection? Returns 1, or 0 after
 * filling resp with 403. Either way the audit line names collection.
 */
int vcdc_gw_req_allow(vcdc_gw_req_t *req, vcdc_gw_resp_t *resp,
                      const char *collection);

/** May the caller see collection (to filter a listing)? 1 or 0. */
int vcdc_gw_req_may_see(const vcdc_gw_req_t *req, const char *collection);

/** Sets what the audit line says: ids named (-1: unknown), offsets
 *  written (JSON text, copied; NULL: none). Returns 0 or -1 (memory). */
int vcdc_gw_req_set_audit(vcdc_gw_req_t *req, long ids, const char *offsets);

/**
 * Decodes s[0..len) percent-escapes into out (room for len + 1 bytes),
 * NUL-terminated; plus: '+' is a blank. Returns the decoded length, or
 * -1 on a bad escape or an escaped NUL.
 */
long vcdc_gw_percent_decode(const char *s, size_t len, int plus, char *out);

/** Frees the body and empties resp. */
void vcdc_gw_resp_clear(vcdc_gw_resp_t *resp);

/** A JSON answer: copies json[0..len). Returns 0, or -1 (then resp is a
 *  500 the server sends with a fixed body). */
int vcdc_gw_resp_json(vcdc_gw_resp_t *resp, int status, const char *json,
                      size_t len);

/** The same, taking ownership of json (malloc'd, NUL-terminated). */
void vcdc_gw_resp_json_take(vcdc_gw_resp_t *resp, int status, char *json,
                            size_t len);

/**
 * Chroma's error shape: {"error": name, "message": formatted}; name NULL
 * takes the usual name for status (vcdc_gw_error_name). Returns -1 so
 * a handler may `return vcdc_gw_resp_error(...)`.
 */
int vcdc_gw_resp_error(vcdc_gw_resp_t *resp, int status, const char *name,
                       const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

/** The error name the clients know for status: 400 InvalidArgumentError,
 *  401 AuthError, 403 AuthorizationError, 404 NotFoundError, 500
 *  InternalError, any other ChromaError. */
const char *vcdc_gw_error_name(int status);

/* The body sent when even an error response could not be built. */
#define VCDC_GW_OOM_BODY                                                       \
        "{\"error\":\"InternalError\",\"message\":\"out of memory\"}"

#endif
