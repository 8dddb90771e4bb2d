/*
 * vcdc - the Chroma sink's transport: one request through the HTTP client
 * (http.h) with its failure mapped to the sink's status and the sink's
 * name, a refused token said plainly in every path, the paths of the
 * API, and the token header. Knows no request body nor answer's meaning.
 */
#include "secret.h"
#include "sink_chroma_state.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "http.h"

vcdc_sink_status_t vcdc_chroma_fail(vcdc_sink_t *sink,
                                    vcdc_sink_status_t status, char *errstr,
                                    size_t errstr_size, const char *fmt, ...) {
        char msg[1024];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        snprintf(errstr, errstr_size, "%s: %s", sink->name, msg);
        sink->open_status = status; /* read when open fails */
        return status;
}

/*
 * One request; respp and root NULL: the answer is not read; root: it is
 * checked by the sink's scanner (st->js, made on first use). *codep (may be NULL):
 * HTTP status. A refused token (401, 403) is FATAL with a message that
 * says what to set, in every path. A RETRIABLE failure sets
 * retry_smaller: a server error (5xx) or a timeout may pass with less,
 * a refused or reset connection says nothing about the batch.
 */
static vcdc_sink_status_t call(vcdc_sink_t *sink, const char *method,
                               const char *path, const char *body,
                               json_t **respp, vcdc_json_span_t *root,
                               long *codep, char *errstr, size_t errstr_size) {
        chroma_t *st = sink->state;
        vcdc_sink_status_t status;
        size_t len = body ? strlen(body) : 0;
        char err[768];
        long code = 0;

        if (root && !st->js && !(st->js = vcdc_jsonscan_new()))
                return vcdc_chroma_fail(sink, VCDC_SINK_RETRIABLE, errstr,
                                        errstr_size, "out of memory");
        if (respp)
                status = vcdc_http_json(st->http, method, path, body, len,
                                        respp, &code, err, sizeof(err));
        else if (root)
                status = vcdc_http_scan(st->http, method, path, body, len,
                                        st->js, root, &code, err, sizeof(err));
        else
                status = vcdc_http_request(st->http, method, path, body, len,
                                           &code, err, sizeof(err));
        if (codep)
                *codep = code;
        if (status == VCDC_SINK_OK)
                return VCDC_SINK_OK;
        sink->retry_smaller = status == VCDC_SINK_RETRIABLE &&
                              (code >= 500 || vcdc_http_timed_out(st->http));
        /* The answer's body is left out: the token must never show, and
         * a proxy on the way might echo it. */
        if (code == 401 || code == 403)
                return vcdc_chroma_fail(
                        sink, VCDC_SINK_FATAL, errstr, errstr_size,
                        "%s %.200s: HTTP %ld: authentication refused: %s",
                        method, path, code,
                        st->token ? "the server does not accept the "
                                    "token in VCDC_CHROMA_TOKEN (or "
                                    "VCDC_CHROMA_TOKEN_FILE) for this "
                                    "tenant and database"
                                  : "no token was sent: set "
                                    "VCDC_CHROMA_TOKEN (or "
                                    "VCDC_CHROMA_TOKEN_FILE)");
        return vcdc_chroma_fail(sink, status, errstr, errstr_size, "%s", err);
}

vcdc_sink_status_t vcdc_chroma_call(vcdc_sink_t *sink, const char *method,
                                    const char *path, const char *body,
                                    json_t **respp, long *codep, char *errstr,
                                    size_t errstr_size) {
        return call(sink, method, path, body, respp, NULL, codep, errstr,
                    errstr_size);
}

/* base/collections[/id][/verb] into path. */
static int coll_path(const chroma_t *st, const char *id, const char *verb,
                     char *path, size_t size) {
        int n = snprintf(path, size, "%s/collections%s%s%s%s", st->base,
                         id ? "/" : "", id ? id : "", verb ? "/" : "",
                         verb ? verb : "");

        return n < 0 || (size_t)n >= size ? -1 : 0;
}

static vcdc_sink_status_t coll_call(vcdc_sink_t *sink, const char *method,
                                    const char *id, const char *verb,
                                    const char *body, json_t **respp,
                                    vcdc_json_span_t *rootp, long *codep,
                                    char *errstr, size_t errstr_size) {
        char path[CHROMA_PATH_SIZE];

        if (codep)
                *codep = 0;
        if (!body && strcmp(method, "GET"))
                return vcdc_chroma_fail(sink, VCDC_SINK_RETRIABLE, errstr,
                                        errstr_size, "out of memory");
        if (coll_path(sink->state, id, verb, path, sizeof(path)) == -1)
                return vcdc_chroma_fail(sink, VCDC_SINK_FATAL, errstr,
                                        errstr_size,
                                        "collection path too long");
        return call(sink, method, path, body, respp, rootp, codep, errstr,
                    errstr_size);
}

vcdc_sink_status_t vcdc_chroma_coll_call(vcdc_sink_t *sink, const char *method,
                                         const char *id, const char *verb,
                                         const char *body, json_t **respp,
                                         long *codep, char *errstr,
                                         size_t errstr_size) {
        return coll_call(sink, method, id, verb, body, respp, NULL, codep,
                         errstr, errstr_size);
}

vcdc_sink_status_t vcdc_chroma_coll_scan(vcdc_sink_t *sink, const char *method,
                                         const char *id, const char *verb,
                                         const char *body,
                                         vcdc_json_span_t *rootp, long *codep,
                                         char *errstr, size_t errstr_size) {
        return coll_call(sink, method, id, verb, body, NULL, rootp, codep,
                         errstr, errstr_size);
}

/* Percent-encodes a path segment. */
void vcdc_chroma_put_segment(vcdc_buf_t *b, const char *s) {
        static const char hex[] = "0123456789ABCDEF";

        for (; *s; s++) {
                unsigned char c = (unsigned char)*s;
                if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9') || c == '-' || c == '.' ||
                    c == '_' || c == '~') {
                        vcdc_buf_putc(b, (char)c);
                } else {
                        char e[3] = {'%', hex[c >> 4], hex[c & 15]};
                        vcdc_buf_put(b, e, 3);
                }
        }
}

/* Sends the token header; the token never reaches a log or errstr. */
int vcdc_chroma_add_token(vcdc_sink_t *sink, chroma_t *st, char *errstr,
                          size_t errstr_size) {
        char err[512], *token;
        int failed, r = 0;
        vcdc_buf_t h = VCDC_BUF_INIT;

        token = vcdc_secret("VCDC_CHROMA_TOKEN", &failed, err,
                                 sizeof(err));
        if (failed) {
                vcdc_chroma_fail(sink, VCDC_SINK_FATAL, errstr, errstr_size,
                                 "%s", err);
                return -1;
        }
        if (!token)
                return 0;
        if (strpbrk(token, "\r\n")) {
                vcdc_chroma_fail(sink, VCDC_SINK_FATAL, errstr, errstr_size,
                                 "VCDC_CHROMA_TOKEN holds a line break");
                r = -1;
        } else {
                vcdc_buf_puts(&h, CHROMA_TOKEN_HEADER ": ");
                vcdc_buf_puts(&h, token);
                if (h.failed || vcdc_http_add_header(st->http, h.p) == -1) {
                        vcdc_chroma_fail(sink, VCDC_SINK_FATAL, errstr,
                                         errstr_size, "out of memory");
                        r = -1;
                }
                st->token = 1;
        }
        if (h.p)
                memset(h.p, 0, h.size);
        memset(token, 0, strlen(token));
        vcdc_buf_free(&h);
        free(token);
        return r;
}
