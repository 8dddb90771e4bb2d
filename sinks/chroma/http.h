/*
 * vcdc - a small HTTP/JSON client for sinks that talk HTTP (Chroma, and
 * later Weaviate or Milvus). It knows no database: no paths, bodies or
 * tokens of its own.
 *
 * One handle keeps one libcurl easy handle, so consecutive requests reuse
 * the connection (keep-alive). Answers are read into a buffer capped at a
 * maximum size (like curl's dynbuf): a database's answer never grows memory
 * without limit. Failures come back as a vcdc_sink_status_t, so the retry
 * decision is made here once for every HTTP sink, with errstr holding the
 * method, path, HTTP status and an excerpt of the answer.
 *
 * A handle is not thread-safe: one thread uses it at a time.
 */
#ifndef VCDC_HTTP_H
#define VCDC_HTTP_H

#include <stddef.h>

#include <jansson.h>

#include "jsonscan.h"
#include "sink.h"

typedef struct vcdc_http_s vcdc_http_t;

/* The default cap on the body of one answer. */
#define VCDC_HTTP_MAX_BODY_DEFAULT ((size_t)64 * 1024 * 1024)

/* How much of an error answer's body goes into errstr. */
#define VCDC_HTTP_EXCERPT_BYTES 200

/**
 * Creates a client for base_url ("http://127.0.0.1:8000", no trailing '/').
 * timeout_ms bounds each request, connection included (<= 0: 30000).
 * max_body caps the body of an answer (0: VCDC_HTTP_MAX_BODY_DEFAULT).
 * Returns NULL with errstr filled on failure.
 */
vcdc_http_t *vcdc_http_new(const char *base_url, int timeout_ms,
                           size_t max_body, char *errstr, size_t errstr_size);

/** Closes the connection and frees. Accepts NULL. */
void vcdc_http_destroy(vcdc_http_t *http);

/**
 * Adds a header sent with every request, "Name: value". The value may be a
 * secret (a token): it is copied, never logged nor put in errstr.
 * Returns 0, or -1 on allocation failure.
 */
int vcdc_http_add_header(vcdc_http_t *http, const char *header);

/**
 * Sends "method base_url path" with body[0..body_len) as JSON (body NULL:
 * no body) and reads the answer.
 * Returns OK for a 2xx answer. Otherwise returns the failure's status
 * (vcdc_http_status_map() for an HTTP error; RETRIABLE when the server
 * cannot be reached, the connection breaks or the request times out;
 * INVALID when the answer exceeds the cap) with errstr saying
 * "METHOD path: HTTP 400: <body excerpt>" or the transport error.
 * *statusp (may be NULL) is set to the HTTP status, 0 when none arrived.
 * The answer stays readable through vcdc_http_body() until the next call.
 */
vcdc_sink_status_t vcdc_http_request(vcdc_http_t *http, const char *method,
                                     const char *path, const char *body,
                                     size_t body_len, long *statusp,
                                     char *errstr, size_t errstr_size);

/**
 * Like vcdc_http_request(), then parses a 2xx answer as JSON (any JSON
 * value, not only objects) into *respp, a new reference the caller
 * json_decref()s. An answer that is not JSON is RETRIABLE (a truncated or
 * foreign answer), with errstr saying where it broke.
 */
vcdc_sink_status_t vcdc_http_json(vcdc_http_t *http, const char *method,
                                  const char *path, const char *body,
                                  size_t body_len, json_t **respp,
                                  long *statusp, char *errstr,
                                  size_t errstr_size);

/**
 * Like vcdc_http_json(), with the answer checked by the scanner js (the
 * same rules and messages, but duplicate keys are refused) rather than
 * read into a tree: *root and the scanner's members point into the
 * answer, valid until the next call.
 */
vcdc_sink_status_t vcdc_http_scan(vcdc_http_t *http, const char *method,
                                  const char *path, const char *body,
                                  size_t body_len, vcdc_jsonscan_t *js,
                                  vcdc_json_span_t *root, long *statusp,
                                  char *errstr, size_t errstr_size);

/** The last answer's body (NUL-terminated) and its length. */
const char *vcdc_http_body(const vcdc_http_t *http, size_t *lenp);

/** 1 when the last request ended because it ran out of time (connecting
 *  or waiting for the answer), 0 otherwise. */
int vcdc_http_timed_out(const vcdc_http_t *http);

/**
 * Maps an HTTP status to the sink's retry decision: 2xx OK; 401, 403, 407
 * FATAL (authentication refused, by the server or a proxy); 501 and 505
 * FATAL (the server lacks the route or the protocol: every retry meets
 * the same); 408, 425, 429 and the other 5xx RETRIABLE; other 4xx INVALID
 * (the request's data was refused and will be again); anything else
 * (1xx, 3xx) FATAL, since this client neither expects nor follows it.
 */
vcdc_sink_status_t vcdc_http_status_map(long status);

#endif
