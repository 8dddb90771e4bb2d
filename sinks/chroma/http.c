/*
 * vcdc - a small HTTP/JSON client for sinks that talk HTTP (http.h): one
 * keep-alive connection, a bounded answer, failures mapped to the sink's
 * statuses. Knows no database: no paths, no bodies, no tokens of its own.
 */
#include "http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "buf.h"
#include "jsonscan.h"

struct vcdc_http_s {
        CURL *curl;
        struct curl_slist *headers;
        char *base_url;
        char *url; /* base_url + path of the current request */
        size_t url_size;
        vcdc_buf_t body; /* the last answer, at most body.max bytes */
        int too_big;     /* the answer crossed body.max */
        int timed_out;   /* the last request ran out of time */
        char curl_err[CURL_ERROR_SIZE];
};

/* Above this, the answer buffer is freed after use rather than kept. */
#define KEEP_BODY_BYTES ((size_t)4 * 1024 * 1024)

static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *opaque) {
        vcdc_http_t *http = opaque;
        size_t n = size * nmemb;

        /* Returning less than n aborts the transfer (CURLE_WRITE_ERROR). */
        if (n > http->body.max - http->body.len) {
                http->too_big = 1;
                return 0;
        }
        vcdc_buf_put(&http->body, ptr, n);
        return http->body.failed ? 0 /* out of memory */ : n;
}

vcdc_http_t *vcdc_http_new(const char *base_url, int timeout_ms,
                           size_t max_body, char *errstr, size_t errstr_size) {
        vcdc_http_t *http;
        CURLcode res;

        if ((res = curl_global_init(CURL_GLOBAL_DEFAULT)) != CURLE_OK) {
                snprintf(errstr, errstr_size, "curl_global_init: %s",
                         curl_easy_strerror(res));
                return NULL;
        }
        if (!(http = calloc(1, sizeof(*http)))) {
                curl_global_cleanup();
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        vcdc_buf_init(&http->body,
                      max_body ? max_body : VCDC_HTTP_MAX_BODY_DEFAULT);
        if (timeout_ms <= 0)
                timeout_ms = 30000;
        if (!(http->base_url = strdup(base_url)) ||
            !(http->curl = curl_easy_init()) ||
            !(http->headers = curl_slist_append(
                      NULL, "Content-Type: application/json")) ||
            vcdc_http_add_header(http, "Accept: application/json") == -1 ||
            /* no "Expect: 100-continue" round trip before large bodies */
            vcdc_http_add_header(http, "Expect:") == -1) {
                snprintf(errstr, errstr_size, "out of memory");
                vcdc_http_destroy(http);
                return NULL;
        }
        curl_easy_setopt(http->curl, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(http->curl, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
        curl_easy_setopt(http->curl, CURLOPT_CONNECTTIMEOUT_MS,
                         (long)timeout_ms);
        curl_easy_setopt(http->curl, CURLOPT_TCP_KEEPALIVE, 1L);
        curl_easy_setopt(http->curl, CURLOPT_TCP_NODELAY, 1L);
        curl_easy_setopt(http->curl, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(http->curl, CURLOPT_FOLLOWLOCATION, 0L);
        curl_easy_setopt(http->curl, CURLOPT_MAXFILESIZE_LARGE,
                         (curl_off_t)http->body.max);
        curl_easy_setopt(http->curl, CURLOPT_WRITEFUNCTION, write_cb);
        curl_easy_setopt(http->curl, CURLOPT_WRITEDATA, http);
        curl_easy_setopt(http->curl, CURLOPT_ERRORBUFFER, http->curl_err);
        curl_easy_setopt(http->curl, CURLOPT_USERAGENT, "vcdc");
        return http;
}

void vcdc_http_destroy(vcdc_http_t *http) {
        if (!http)
                return;
        if (http->curl)
                curl_easy_cleanup(http->curl);
        curl_slist_free_all(http->headers);
        free(http->base_url);
        free(http->url);
        vcdc_buf_free(&http->body);
        free(http);
        curl_global_cleanup();
}

int vcdc_http_add_header(vcdc_http_t *http, const char *header) {
        struct curl_slist *l = curl_slist_append(http->headers, header);

        if (!l)
                return -1;
        http->headers = l;
        return 0;
}

const char *vcdc_http_body(const vcdc_http_t *http, size_t *lenp) {
        if (lenp)
                *lenp = http->body.len;
        return http->body.p ? http->body.p : "";
}

int vcdc_http_timed_out(const vcdc_http_t *http) {
        return http->timed_out;
}

vcdc_sink_status_t vcdc_http_status_map(long status) {
        if (status >= 200 && status <= 299)
                return VCDC_SINK_OK;
        /* Credentials refused (407: by a proxy on the way), or a server
         * that lacks the route or the protocol: every retry would meet
         * the same. */
        if (status == 401 || status == 403 || status == 407 || status == 501 ||
            status == 505)
                return VCDC_SINK_FATAL;
        if (status == 408 || status == 425 || status == 429 ||
            (status >= 500 && status <= 599))
                return VCDC_SINK_RETRIABLE;
        if (status >= 400 && status <= 499)
                return VCDC_SINK_INVALID;
        return VCDC_SINK_FATAL;
}

/* The retry decision for a request that got no HTTP answer. */
static vcdc_sink_status_t transport_status(CURLcode res) {
        switch (res) {
        case CURLE_UNSUPPORTED_PROTOCOL:
        case CURLE_URL_MALFORMAT:
        case CURLE_NOT_BUILT_IN:
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_LOGIN_DENIED:
                return VCDC_SINK_FATAL;
        default:
                /* refused, reset, timed out, name not resolved (yet) */
                return VCDC_SINK_RETRIABLE;
        }
}

/* Appends to errstr, after what is there, an excerpt of the answer with
 * control characters flattened, so the message stays one line. */
static void append_excerpt(const vcdc_http_t *http, char *errstr,
                           size_t errstr_size) {
        size_t n = strlen(errstr), i, len = http->body.len;

        if (len > VCDC_HTTP_EXCERPT_BYTES)
                len = VCDC_HTTP_EXCERPT_BYTES;
        for (i = 0; i < len && n + 1 < errstr_size; i++) {
                unsigned char c = (unsigned char)http->body.p[i];
                errstr[n++] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
        }
        if (len < http->body.len && n + 4 < errstr_size) {
                memcpy(errstr + n, "...", 3);
                n += 3;
        }
        if (n < errstr_size)
                errstr[n] = '\0';
}

vcdc_sink_status_t vcdc_http_request(vcdc_http_t *http, const char *method,
                                     const char *path, const char *body,
                                     size_t body_len, long *statusp,
                                     char *errstr, size_t errstr_size) {
        size_t need = strlen(http->base_url) + strlen(path) + 1;
        vcdc_sink_status_t status;
        long code = 0;
        CURLcode res;

        if (statusp)
                *statusp = 0;
        if (need > http->url_size) {
                char *p = realloc(http->url, need);
                if (!p) {
                        snprintf(errstr, errstr_size, "out of memory");
                        return VCDC_SINK_RETRIABLE;
                }
                http->url = p;
                http->url_size = need;
        }
        snprintf(http->url, http->url_size, "%s%s", http->base_url, path);
        /* A large buffer goes (and a failed one starts again). */
        if (http->body.size > KEEP_BODY_BYTES || http->body.failed)
                vcdc_buf_free(&http->body);
        vcdc_buf_truncate(&http->body, 0);
        http->too_big = 0;
        http->timed_out = 0;
        http->curl_err[0] = '\0';

        curl_easy_setopt(http->curl, CURLOPT_URL, http->url);
        curl_easy_setopt(http->curl, CURLOPT_HTTPHEADER, http->headers);
        if (body) {
                curl_easy_setopt(http->curl, CURLOPT_POST, 1L);
                curl_easy_setopt(http->curl, CURLOPT_POSTFIELDS, body);
                curl_easy_setopt(http->curl, CURLOPT_POSTFIELDSIZE_LARGE,
                                 (curl_off_t)body_len);
        } else {
                curl_easy_setopt(http->curl, CURLOPT_HTTPGET, 1L);
        }
        curl_easy_setopt(http->curl, CURLOPT_CUSTOMREQUEST,
                         strcmp(method, body ? "POST" : "GET") ? method : NULL);

        res = curl_easy_perform(http->curl);
        curl_easy_getinfo(http->curl, CURLINFO_RESPONSE_CODE, &code);
        if (statusp)
                *statusp = code;
        if (res != CURLE_OK) {
                if (http->too_big || res == CURLE_FILESIZE_EXCEEDED) {
                        snprintf(errstr, errstr_size,
                                 "%s %s: the answer exceeds %zu bytes", method,
                                 path, http->body.max);
                        return VCDC_SINK_INVALID;
                }
                http->timed_out = res == CURLE_OPERATION_TIMEDOUT;
                status = transport_status(res);
                snprintf(errstr, errstr_size, "%s %s: %s", method, path,
                         http->curl_err[0] ? http->curl_err
                                           : curl_easy_strerror(res));
                return status;
        }
        if ((status = vcdc_http_status_map(code)) != VCDC_SINK_OK) {
                snprintf(errstr, errstr_size, "%s %s: HTTP %ld: ", method, path,
                         code);
                append_excerpt(http, errstr, errstr_size);
        }
        return status;
}

vcdc_sink_status_t vcdc_http_json(vcdc_http_t *http, const char *method,
                                  const char *path, const char *body,
                                  size_t body_len, json_t **respp,
                                  long *statusp, char *errstr,
                                  size_t errstr_size) {
        vcdc_sink_status_t status;
        json_error_t jerr;

        *respp = NULL;
        status = vcdc_http_request(http, method, path, body, body_len, statusp,
                                   errstr, errstr_size);
        if (status != VCDC_SINK_OK)
                return status;
        if (!(*respp = json_loadb(vcdc_http_body(http, NULL), http->body.len,
                                  JSON_DECODE_ANY, &jerr))) {
                snprintf(errstr, errstr_size,
                         "%s %s: the answer is not JSON (%s at byte %d): ",
                         method, path, jerr.text, jerr.position);
                append_excerpt(http, errstr, errstr_size);
                return VCDC_SINK_RETRIABLE;
        }
        return VCDC_SINK_OK;
}

vcdc_sink_status_t vcdc_http_scan(vcdc_http_t *http, const char *method,
                                  const char *path, const char *body,
                                  size_t body_len, vcdc_jsonscan_t *js,
                                  vcdc_json_span_t *root, long *statusp,
                                  char *errstr, size_t errstr_size) {
        vcdc_sink_status_t status;
        vcdc_json_error_t jerr;

        status = vcdc_http_request(http, method, path, body, body_len, statusp,
                                   errstr, errstr_size);
        if (status != VCDC_SINK_OK)
                return status;
        if (vcdc_jsonscan_run(js, http->body.p ? http->body.p : "",
                              http->body.len, root, &jerr) == -1) {
                snprintf(errstr, errstr_size,
                         "%s %s: the answer is not JSON (%s at byte %zu): ",
                         method, path, jerr.text, jerr.position);
                append_excerpt(http, errstr, errstr_size);
                return VCDC_SINK_RETRIABLE;
        }
        return VCDC_SINK_OK;
}
