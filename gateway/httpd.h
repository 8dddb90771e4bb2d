/*
 * vcdc gateway - the HTTP server, on libmicrohttpd: a pool of threads,
 * each polling its connections with epoll, keep-alive. For each request
 * it collects the body (up to a bound: 413 beyond it, answered before the
 * rest is read when Content-Length says so), counts it in flight (past
 * the bound: 503 with Retry-After: 1), hands it to the router with the
 * access table, writes the audit line of audited routes, and sends the
 * answer. Stopping: stop accepting, let the requests in flight finish,
 * run the caller's flush, then close everything.
 */
#ifndef VCDC_GW_HTTPD_H
#define VCDC_GW_HTTPD_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "access.h"
#include "audit.h"
#include "router.h"

typedef struct vcdc_gw_http_s vcdc_gw_http_t;

#define VCDC_GW_MAX_BODY_DEFAULT     ((size_t)32 << 20)
#define VCDC_GW_MAX_INFLIGHT_DEFAULT 256
#define VCDC_GW_THREADS_DEFAULT      16

typedef struct vcdc_gw_http_opts_s {
        const char *host;        /* numeric address or name to listen on */
        int port;                /* 0: any free port (vcdc_gw_http_port) */
        unsigned threads;        /* 0: VCDC_GW_THREADS_DEFAULT */
        size_t max_body;         /* 0: VCDC_GW_MAX_BODY_DEFAULT */
        unsigned max_inflight;   /* 0: VCDC_GW_MAX_INFLIGHT_DEFAULT */
        unsigned idle_timeout_s; /* a keep-alive connection idle this
                                  * long is closed; 0: 60 */
        const vcdc_gw_router_t *router; /* not owned; outlives the server */
        const vcdc_gw_access_t *access; /* not owned; NULL: all allowed */
        vcdc_gw_audit_t *audit;         /* not owned; NULL: no audit */
} vcdc_gw_http_opts_t;

/* Counters since start (read at any time, from any thread). */
typedef struct vcdc_gw_http_stats_s {
        uint64_t requests; /* answered, all statuses */
        uint64_t status_2xx, status_4xx, status_5xx;
        uint64_t rejected_inflight; /* 503: too many in flight */
        uint64_t rejected_body;     /* 413: body too large */
        uint64_t inflight;          /* now */
} vcdc_gw_http_stats_t;

/** Listens and starts the threads. NULL with errstr (the address, the
 *  library's refusal). */
vcdc_gw_http_t *vcdc_gw_http_start(const vcdc_gw_http_opts_t *opts,
                                   char *errstr, size_t errstr_size);

/** The port listened on. */
int vcdc_gw_http_port(const vcdc_gw_http_t *http);

void vcdc_gw_http_stats(const vcdc_gw_http_t *http,
                        vcdc_gw_http_stats_t *stats);

/** Prometheus text of the counters into buf; returns its length. */
size_t vcdc_gw_http_render_metrics(const vcdc_gw_http_t *http, char *buf,
                                   size_t size);

/**
 * Serves until *run is 0 (a signal handler clears it), then stops
 * accepting, waits up to drain_ms for the requests in flight to be
 * answered, calls flush(opaque) if given (the caller's own: the write
 * path's producer flush), and returns the number of requests that were
 * still in flight at the deadline (0 on a clean stop). The server is
 * stopped but not freed.
 */
uint64_t vcdc_gw_http_serve(vcdc_gw_http_t *http, volatile sig_atomic_t *run,
                            int drain_ms, void (*flush)(void *opaque),
                            void *opaque);

/** Stops (closing any connection left) and frees. Accepts NULL. */
void vcdc_gw_http_destroy(vcdc_gw_http_t *http);

#endif
