/*
 * vcdc - what the Chroma integration tests share (it_sink_chroma.c,
 * it_sink_chroma_check.c, it_sink_chroma_offsets.c): the server named by
 * the environment (VCDC_CHROMA_HOST, VCDC_CHROMA_PORT; a program skips,
 * saying so, without them), the start of main(), collection names of the
 * run (deleted at the end with their offsets collections), sinks on them,
 * and requests around the sink. Tests only; header-only (static inline).
 * Include after cmocka.h.
 */
#ifndef VCDC_IT_CHROMA_H
#define VCDC_IT_CHROMA_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "http.h"
#include "sink.h"
#include "sink_chroma_int.h"

#define ITC_COLLS 32
#define ITC_BASE  "/api/v2/tenants/default_tenant/databases/default_database"

static struct {
        const char *host;
        int port;
        char prefix[64];
        char created[ITC_COLLS][128]; /* deleted at the end */
        int created_cnt;
} itc;

/* The start of main(): 0 to run, or -1 (say so, exit 0) when the
 * environment names no server. Collections get the prefix
 * vcdc_<what>_<pid>_<time>. */
static inline int itc_start(const char *prog, const char *what) {
        const char *p = getenv("VCDC_CHROMA_PORT");
        char *end = NULL;
        long v = p && *p ? strtol(p, &end, 10) : 0;

        itc.host = getenv("VCDC_CHROMA_HOST");
        if (!itc.host || !*itc.host || !end || *end || v < 1 || v > 65535) {
                fprintf(stderr,
                        "%s: skipped: VCDC_CHROMA_HOST and "
                        "VCDC_CHROMA_PORT are unset\n",
                        prog);
                return -1;
        }
        itc.port = (int)v;
        snprintf(itc.prefix, sizeof(itc.prefix), "vcdc_%s_%ld_%ld", what,
                 (long)getpid(), (long)time(NULL));
        return 0;
}

/* A collection name of this run, deleted at the end. */
static inline const char *itc_coll(char *buf, size_t size, const char *what) {
        snprintf(buf, size, "%s_%s", itc.prefix, what);
        if (itc.created_cnt < ITC_COLLS)
                snprintf(itc.created[itc.created_cnt++], sizeof(*itc.created),
                         "%s", buf);
        return buf;
}

/* METHOD ITC_BASE/collections<path> with body (NUL-terminated, or NULL),
 * around the sink; the answer in *respp (may be NULL: not read), the
 * HTTP status in *codep. */
static inline vcdc_sink_status_t itc_raw(const char *method, const char *path,
                                         const char *body, json_t **respp,
                                         long *codep) {
        char base[300], full[1024], errstr[512];
        size_t len = body ? strlen(body) : 0;
        vcdc_sink_status_t status;
        vcdc_http_t *http;

        snprintf(base, sizeof(base), "http://%s:%d", itc.host, itc.port);
        snprintf(full, sizeof(full), ITC_BASE "/collections%s", path);
        http = vcdc_http_new(base, 60000, 0, errstr, sizeof(errstr));
        assert_non_null(http);
        if (respp)
                status = vcdc_http_json(http, method, full, body, len, respp,
                                        codep, errstr, sizeof(errstr));
        else
                status = vcdc_http_request(http, method, full, body, len, codep,
                                           errstr, sizeof(errstr));
        vcdc_http_destroy(http);
        return status;
}

/* The id of collection name, "" when it does not exist. */
static inline void itc_coll_id(const char *name, char *id, size_t size) {
        char path[256];
        json_t *resp = NULL;
        long code;

        snprintf(path, sizeof(path), "/%s", name);
        id[0] = '\0';
        if (itc_raw("GET", path, NULL, &resp, &code) == VCDC_SINK_OK)
                snprintf(id, size, "%s",
                         json_string_value(json_object_get(resp, "id")));
        json_decref(resp);
}

/* A sink on coll at host:port, URL parameters params (may be NULL). */
static inline vcdc_sink_t *itc_open_at(const char *host, int port,
                                       const char *coll, const char *params,
                                       vcdc_metric_t metric, size_t dim,
                                       int timeout_ms, char *errstr,
                                       size_t errstr_size) {
        vcdc_sink_conf_t conf = {
                .metric = metric, .dim = dim, .timeout_ms = timeout_ms};
        char url[512];

        snprintf(url, sizeof(url), "chroma://%s:%d/%s%s%s", host, port, coll,
                 params ? "?" : "", params ? params : "");
        return vcdc_sink_new(url, &conf, errstr, errstr_size);
}

/* The same on the server of the environment. */
static inline vcdc_sink_t *itc_open(const char *coll, const char *params,
                                    vcdc_metric_t metric, size_t dim,
                                    int timeout_ms, char *errstr,
                                    size_t errstr_size) {
        return itc_open_at(itc.host, itc.port, coll, params, metric, dim,
                           timeout_ms, errstr, errstr_size);
}

/* A sink on coll with metric, or the test fails. */
static inline vcdc_sink_t *itc_must_open(const char *coll,
                                         vcdc_metric_t metric) {
        char errstr[1024];
        vcdc_sink_t *sink =
                itc_open(coll, NULL, metric, 0, 60000, errstr, sizeof(errstr));

        if (!sink)
                fail_msg("open %s: %s", coll, errstr);
        return sink;
}

/* The group's teardown: deletes the run's collections and their offsets
 * collections. */
static inline int itc_teardown(void **state) {
        char path[256];
        long code;
        int i;

        (void)state;
        for (i = 0; i < itc.created_cnt; i++) {
                snprintf(path, sizeof(path), "/%.200s", itc.created[i]);
                itc_raw("DELETE", path, NULL, NULL, &code);
                snprintf(path, sizeof(path), "/%.200s%s", itc.created[i],
                         VCDC_CHROMA_OFFSETS_SUFFIX);
                itc_raw("DELETE", path, NULL, NULL, &code);
        }
        return 0;
}

#endif
