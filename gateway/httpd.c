/*
 * vcdc gateway - the HTTP server on libmicrohttpd (httpd.h). This file is
 * the only one that knows the library: it turns a connection's request
 * into a vcdc_gw_req_t, the router's answer into a response, and keeps
 * the bounds (body size, requests in flight) and the counters.
 */
#include "httpd.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "buf.h"
#include "clock.h"
#include "errstr.h"
#include "log.h"

struct vcdc_gw_http_s {
        struct MHD_Daemon *daemon;
        int listen_fd; /* ours until quiesced, then closed by us */
        int port;
        vcdc_gw_http_opts_t opts;
        atomic_int draining;
        atomic_uint_fast64_t inflight;
        atomic_uint_fast64_t requests, s2xx, s4xx, s5xx, rej_inflight, rej_body;
};

/* One request's state, from its headers to its completion. */
typedef struct reqctx_s {
        int counted;  /* counted in flight: uncounted at completion */
        int answered; /* a response is queued already */
        int too_big;  /* the body passed the bound: discarded */
        int64_t t0_us;
        vcdc_buf_t body;
} reqctx_t;

static void mhd_log(void *cls, const char *fmt, va_list ap) {
        char line[512];
        size_t len;

        (void)cls;
        vsnprintf(line, sizeof(line), fmt, ap);
        len = strlen(line);
        while (len && line[len - 1] == '\n')
                line[--len] = '\0';
        VCDC_WARN("gateway", "libmicrohttpd: %s", line);
}

/* Paths and query strings are decoded by us, segment by segment, after
 * routing: a %2F inside a collection name must not split the path. */
static size_t no_unescape(void *cls, struct MHD_Connection *conn, char *s) {
        (void)cls;
        (void)conn;
        return strlen(s);
}

static void count_status(vcdc_gw_http_t *http, int status) {
        atomic_fetch_add(&http->requests, 1);
        if (status >= 200 && status < 300)
                atomic_fetch_add(&http->s2xx, 1);
        else if (status >= 400 && status < 500)
                atomic_fetch_add(&http->s4xx, 1);
        else if (status >= 500)
                atomic_fetch_add(&http->s5xx, 1);
}

/* Queues resp (its body taken over) on conn. */
static enum MHD_Result send_resp(vcdc_gw_http_t *http,
                                 struct MHD_Connection *conn,
                                 vcdc_gw_resp_t *resp) {
        struct MHD_Response *r;
        enum MHD_Result ret;
        char num[16];

        if (resp->body) {
                r = MHD_create_response_from_buffer(resp->len, resp->body,
                                                    MHD_RESPMEM_MUST_FREE);
                if (r)
                        resp->body = NULL; /* the library frees it */
        } else {
                /* Not even an error body could be built. */
                resp->status = 500;
                resp->content_type = "application/json";
                r = MHD_create_response_from_buffer(strlen(VCDC_GW_OOM_BODY),
                                                    (void *)VCDC_GW_OOM_BODY,
                                                    MHD_RESPMEM_PERSISTENT);
        }
        if (!r) {
                vcdc_gw_resp_clear(resp);
                return MHD_NO; /* the library closes the connection */
        }
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                                resp->content_type ? resp->content_type
                                                   : "application/json");
        if (resp->retry_after > 0) {
                snprintf(num, sizeof(num), "%d", resp->retry_after);
                MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, num);
        }
        if (resp->allow[0])
                MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, resp->allow);
        if (atomic_load(&http->draining))
                MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
        count_status(http, resp->status);
        ret = MHD_queue_response(conn, (unsigned)resp->status, r);
        MHD_destroy_response(r);
        vcdc_gw_resp_clear(resp);
        return ret;
}

static enum MHD_Result add_query(void *cls, enum MHD_ValueKind kind,
                                 const char *key, const char *value) {
        vcdc_gw_req_t *req = cls;

        (void)kind;
        /* A pair that does not decode is dropped; the flag says so. */
        if (vcdc_gw_req_add_query(req, key, value) == -1)
                req->audit_ids = -2;
        return MHD_YES;
}

static void audit(vcdc_gw_http_t *http, const vcdc_gw_req_t *req, int status) {
        vcdc_gw_audit_entry_t e = {
                .ts_ms = vcdc_wall_ms(),
                .who = vcdc_gw_token_fingerprint(req->token),
                .method = req->method,
                .path = req->path,
                .collection = req->audit_collection,
                .ids = req->audit_ids,
                .offsets = req->audit_offsets,
                .status = status,
        };

        vcdc_gw_audit_write(http->opts.audit, &e);
}

/* The whole request is here: route it and answer. */
static enum MHD_Result serve(vcdc_gw_http_t *http, struct MHD_Connection *conn,
                             const char *url, const char *method,
                             reqctx_t *ctx) {
        vcdc_gw_req_t req;
        vcdc_gw_resp_t resp;
        enum MHD_Result ret;
        int status;

        memset(&req, 0, sizeof(req));
        memset(&resp, 0, sizeof(resp));
        req.audit_ids = -1;
        req.method = method;
        req.path = url;
        req.body = ctx->body.p ? ctx->body.p : "";
        req.body_len = ctx->body.len;
        req.authorization = MHD_lookup_connection_value(
                conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
        req.x_chroma_token = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                         "X-Chroma-Token");
        req.content_type = MHD_lookup_connection_value(
                conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
        MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, add_query, &req);
        if (req.audit_ids == -2) {
                req.audit_ids = -1;
                vcdc_gw_resp_error(&resp, 400, NULL,
                                   "the query string holds a bad "
                                   "percent-escape");
        } else {
                vcdc_gw_router_handle(http->opts.router, http->opts.access,
                                      &req, &resp);
        }
        status = resp.status;
        if (http->opts.audit && req.route &&
            (vcdc_gw_route_flags(req.route) & VCDC_GW_ROUTE_AUDIT))
                audit(http, &req, status);
        /* Never the headers: they carry the token. */
        VCDC_DEBUG("gateway", "%s %s %d %.1fms who=%s", method, url, status,
                   (double)(vcdc_clock_us() - ctx->t0_us) / 1000.0,
                   vcdc_gw_token_fingerprint(req.token));
        ret = send_resp(http, conn, &resp);
        vcdc_gw_req_clear(&req);
        return ret;
}

/* A write or administrative request refused before routing (413, 503)
 * is audited all the same: who tried what, and that it was refused. */
static void audit_rejected(vcdc_gw_http_t *http, struct MHD_Connection *conn,
                           const char *url, const char *method, int status) {
        vcdc_gw_req_t req;
        vcdc_gw_resp_t resp;
        const char *coll;

        if (!http->opts.audit)
                return;
        memset(&req, 0, sizeof(req));
        memset(&resp, 0, sizeof(resp));
        req.audit_ids = -1;
        req.method = method;
        req.path = url;
        if (vcdc_gw_router_match(http->opts.router, &req, &resp) == 0 &&
            (vcdc_gw_route_flags(req.route) & VCDC_GW_ROUTE_AUDIT)) {
                req.token = vcdc_gw_access_authenticate(
                        http->opts.access,
                        MHD_lookup_connection_value(
                                conn, MHD_HEADER_KIND,
                                MHD_HTTP_HEADER_AUTHORIZATION),
                        MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                    "X-Chroma-Token"));
                if ((coll = vcdc_gw_req_param(&req, "collection_name")))
                        req.audit_collection = strdup(coll);
                audit(http, &req, status);
        }
        vcdc_gw_resp_clear(&resp);
        vcdc_gw_req_clear(&req);
}

static enum MHD_Result reject(vcdc_gw_http_t *http, struct MHD_Connection *conn,
                              const char *url, const char *method,
                              reqctx_t *ctx, int status) {
        vcdc_gw_resp_t resp;

        audit_rejected(http, conn, url, method, status);
        memset(&resp, 0, sizeof(resp));
        if (status == 503) {
                atomic_fetch_add(&http->rej_inflight, 1);
                vcdc_gw_resp_error(&resp, 503, NULL,
                                   "too many requests in flight (at most "
                                   "%u): retry later",
                                   http->opts.max_inflight);
                resp.retry_after = 1;
        } else {
                atomic_fetch_add(&http->rej_body, 1);
                vcdc_gw_resp_error(&resp, 413, NULL,
                                   "the request body is larger than %zu "
                                   "bytes (--max-body)",
                                   http->opts.max_body);
        }
        ctx->answered = 1;
        return send_resp(http, conn, &resp);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
                                  const char *url, const char *method,
                                  const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls) {
        vcdc_gw_http_t *http = cls;
        reqctx_t *ctx = *con_cls;

        (void)version;
        if (!ctx) {
                const char *cl;
                uint64_t n;

                if (!(ctx = calloc(1, sizeof(*ctx))))
                        return MHD_NO;
                *con_cls = ctx;
                ctx->t0_us = vcdc_clock_us();
                vcdc_buf_init(&ctx->body, 0);
                n = atomic_fetch_add(&http->inflight, 1) + 1;
                ctx->counted = 1;
                if (n > http->opts.max_inflight) {
                        atomic_fetch_sub(&http->inflight, 1);
                        ctx->counted = 0;
                        return reject(http, conn, url, method, ctx, 503);
                }
                cl = MHD_lookup_connection_value(
                        conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
                if (cl) {
                        char *end;
                        unsigned long long v;
                        errno = 0;
                        v = strtoull(cl, &end, 10);
                        /* The library refuses a malformed length itself. */
                        if (end != cl &&
                            (errno == ERANGE || v > http->opts.max_body))
                                return reject(http, conn, url, method, ctx,
                                              413);
                }
                return MHD_YES;
        }
        if (*upload_data_size) {
                size_t n = *upload_data_size;
                *upload_data_size = 0;
                if (ctx->answered || ctx->too_big)
                        return MHD_YES;
                if (n > http->opts.max_body - ctx->body.len) {
                        /* Chunked, no length given: the rest is read and
                         * dropped, then 413. */
                        ctx->too_big = 1;
                        vcdc_buf_free(&ctx->body);
                        return MHD_YES;
                }
                vcdc_buf_put(&ctx->body, upload_data, n);
                if (ctx->body.failed)
                        return MHD_NO; /* out of memory: close */
                return MHD_YES;
        }
        if (ctx->answered)
                return MHD_YES;
        if (ctx->too_big)
                return reject(http, conn, url, method, ctx, 413);
        ctx->answered = 1;
        return serve(http, conn, url, method, ctx);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
        vcdc_gw_http_t *http = cls;
        reqctx_t *ctx = *con_cls;

        (void)conn;
        (void)toe;
        if (!ctx)
                return;
        if (ctx->counted)
                atomic_fetch_sub(&http->inflight, 1);
        vcdc_buf_free(&ctx->body);
        free(ctx);
        *con_cls = NULL;
}

/* A listening socket on host:port, non-blocking (the pool's threads all
 * accept on it). Returns the fd, or -1 with errstr. */
static int listen_on(const char *host, int port, int *portp, char *errstr,
                     size_t errstr_size) {
        struct addrinfo hints, *res = NULL, *ai;
        struct sockaddr_storage ss;
        socklen_t sslen = sizeof(ss);
        char portstr[16];
        int fd = -1, one = 1, rc, err = 0;

        memset(&hints, 0, sizeof(hints));
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
        snprintf(portstr, sizeof(portstr), "%d", port);
        if ((rc = getaddrinfo(host, portstr, &hints, &res))) {
                vcdc_fail(errstr, errstr_size, "--listen %s:%d: %s", host, port,
                          gai_strerror(rc));
                return -1;
        }
        for (ai = res; ai; ai = ai->ai_next) {
                fd = socket(ai->ai_family,
                            ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                            ai->ai_protocol);
                if (fd == -1) {
                        err = errno;
                        continue;
                }
                setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
                if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
                    listen(fd, 1024) == 0)
                        break;
                err = errno;
                close(fd);
                fd = -1;
        }
        freeaddrinfo(res);
        if (fd == -1) {
                vcdc_fail(errstr, errstr_size, "--listen %s:%d: %s", host, port,
                          strerror(err));
                return -1;
        }
        if (getsockname(fd, (struct sockaddr *)&ss, &sslen) == 0)
                *portp = ntohs(ss.ss_family == AF_INET6
                                       ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                       : ((struct sockaddr_in *)&ss)->sin_port);
        return fd;
}

vcdc_gw_http_t *vcdc_gw_http_start(const vcdc_gw_http_opts_t *opts,
                                   char *errstr, size_t errstr_size) {
        vcdc_gw_http_t *http = calloc(1, sizeof(*http));
        unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
                         MHD_USE_ITC | MHD_USE_ERROR_LOG;

        if (!http) {
                vcdc_fail(errstr, errstr_size, "out of memory");
                return NULL;
        }
        http->opts = *opts;
        if (!http->opts.threads)
                http->opts.threads = VCDC_GW_THREADS_DEFAULT;
        if (!http->opts.max_body)
                http->opts.max_body = VCDC_GW_MAX_BODY_DEFAULT;
        if (!http->opts.max_inflight)
                http->opts.max_inflight = VCDC_GW_MAX_INFLIGHT_DEFAULT;
        if (!http->opts.idle_timeout_s)
                http->opts.idle_timeout_s = 60;
        if (!opts->router) {
                vcdc_fail(errstr, errstr_size, "no router");
                goto err;
        }
        http->listen_fd = listen_on(opts->host, opts->port, &http->port, errstr,
                                    errstr_size);
        if (http->listen_fd == -1)
                goto err;
        http->daemon = MHD_start_daemon(
                flags, 0 /* port: the socket below */, NULL, NULL, on_request,
                http,
                /* First, so the library's own messages come through it. */
                MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
                MHD_OPTION_LISTEN_SOCKET, http->listen_fd,
                MHD_OPTION_THREAD_POOL_SIZE,
                (unsigned int)(http->opts.threads > 1 ? http->opts.threads : 0),
                MHD_OPTION_CONNECTION_TIMEOUT,
                (unsigned int)http->opts.idle_timeout_s,
                MHD_OPTION_NOTIFY_COMPLETED, on_completed, http,
                MHD_OPTION_UNESCAPE_CALLBACK, no_unescape, NULL,
                MHD_OPTION_END);
        if (!http->daemon) {
                vcdc_fail(errstr, errstr_size,
                          "libmicrohttpd did not start on %s:%d (see its "
                          "message above)",
                          opts->host, http->port);
                close(http->listen_fd);
                goto err;
        }
        return http;
err:
        free(http);
        return NULL;
}

int vcdc_gw_http_port(const vcdc_gw_http_t *http) {
        return http->port;
}

void vcdc_gw_http_stats(const vcdc_gw_http_t *http, vcdc_gw_http_stats_t *s) {
        vcdc_gw_http_t *h = (vcdc_gw_http_t *)http; /* atomics: reads only */

        s->requests = atomic_load(&h->requests);
        s->status_2xx = atomic_load(&h->s2xx);
        s->status_4xx = atomic_load(&h->s4xx);
        s->status_5xx = atomic_load(&h->s5xx);
        s->rejected_inflight = atomic_load(&h->rej_inflight);
        s->rejected_body = atomic_load(&h->rej_body);
        s->inflight = atomic_load(&h->inflight);
}

size_t vcdc_gw_http_render_metrics(const vcdc_gw_http_t *http, char *buf,
                                   size_t size) {
        vcdc_gw_http_stats_t s;
        int n;

        vcdc_gw_http_stats(http, &s);
        n = snprintf(buf, size,
                     "# TYPE vcdc_gateway_requests_total counter\n"
                     "vcdc_gateway_requests_total{class=\"2xx\"} %llu\n"
                     "vcdc_gateway_requests_total{class=\"4xx\"} %llu\n"
                     "vcdc_gateway_requests_total{class=\"5xx\"} %llu\n"
                     "# TYPE vcdc_gateway_rejected_total counter\n"
                     "vcdc_gateway_rejected_total{reason=\"inflight\"} %llu\n"
                     "vcdc_gateway_rejected_total{reason=\"body\"} %llu\n"
                     "# TYPE vcdc_gateway_inflight gauge\n"
                     "vcdc_gateway_inflight %llu\n",
                     (unsigned long long)s.status_2xx,
                     (unsigned long long)s.status_4xx,
                     (unsigned long long)s.status_5xx,
                     (unsigned long long)s.rejected_inflight,
                     (unsigned long long)s.rejected_body,
                     (unsigned long long)s.inflight);
        if (n < 0)
                return 0;
        return (size_t)n < size ? (size_t)n : size ? size - 1 : 0;
}

uint64_t vcdc_gw_http_serve(vcdc_gw_http_t *http, volatile sig_atomic_t *run,
                            int drain_ms, void (*flush)(void *opaque),
                            void *opaque) {
        struct timespec tick = {0, 50 * 1000 * 1000};
        int64_t deadline;
        uint64_t left;
        int fd;

        while (*run)
                nanosleep(&tick, NULL);
        atomic_store(&http->draining, 1);
        /* The pool stops accepting; the socket is ours again: closing it
         * refuses new connections at once. */
        if ((fd = (int)MHD_quiesce_daemon(http->daemon)) != -1)
                close(fd);
        http->listen_fd = -1;
        VCDC_NOTICE("gateway",
                    "stopping: no new connections; %llu "
                    "request(s) in flight",
                    (unsigned long long)atomic_load(&http->inflight));
        tick.tv_nsec = 10 * 1000 * 1000;
        deadline = vcdc_clock_ms() + drain_ms;
        while ((left = atomic_load(&http->inflight)) &&
               vcdc_clock_ms() < deadline)
                nanosleep(&tick, NULL);
        if (left)
                VCDC_WARN("gateway",
                          "%llu request(s) still in flight after %d ms: "
                          "closing them",
                          (unsigned long long)left, drain_ms);
        if (flush)
                flush(opaque);
        MHD_stop_daemon(http->daemon);
        http->daemon = NULL;
        return left;
}

void vcdc_gw_http_destroy(vcdc_gw_http_t *http) {
        if (!http)
                return;
        /* Stopping closes the listening socket too, unless serve() took
         * it back (quiesced) and closed it. */
        if (http->daemon)
                MHD_stop_daemon(http->daemon);
        free(http);
}
