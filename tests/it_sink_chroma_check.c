/*
 * vcdc - integration test: the Chroma sink's check() against what a real
 * Chroma refuses in an upsert, or stores other than it was sent (issue
 * 14). The consumer dead-letters what check() refuses before batching, so
 * each case is tried twice: sent to Chroma by a plain HTTP upsert, then
 * read back (the server's verdict: taken as sent, or refused or altered),
 * and given to vcdc_sink_check(); the two must agree.
 *
 * Needs VCDC_CHROMA_HOST and VCDC_CHROMA_PORT (skipped, saying so, when
 * unset). Collections are named vcdc_itc_<pid>_<time>_* and deleted at the
 * end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "http.h"
#include "sink.h"
#include "sink_chroma_int.h"

#define DIM 4
#define MIB ((size_t)1024 * 1024)

static const char *host;
static int port;
static char prefix[64];
static char l2[128], cosine[128];

static vcdc_http_t *client(void) {
        char base[300], errstr[512];
        vcdc_http_t *http;

        snprintf(base, sizeof(base), "http://%s:%d", host, port);
        http = vcdc_http_new(base, 60000, 0, errstr, sizeof(errstr));
        assert_non_null(http);
        return http;
}

/* METHOD .../collections<path> with body; the answer in *respp (may be
 * NULL), the HTTP status in *codep. */
static vcdc_sink_status_t raw(const char *method, const char *path,
                              const char *body, size_t body_len, json_t **respp,
                              long *codep) {
        char full[1024], errstr[512];
        vcdc_http_t *http = client();
        vcdc_sink_status_t status;

        snprintf(full, sizeof(full),
                 "/api/v2/tenants/default_tenant/databases/default_database/"
                 "collections%s",
                 path);
        if (respp)
                status = vcdc_http_json(http, method, full, body, body_len,
                                        respp, codep, errstr, sizeof(errstr));
        else
                status = vcdc_http_request(http, method, full, body, body_len,
                                           codep, errstr, sizeof(errstr));
        vcdc_http_destroy(http);
        return status;
}

static void coll_id(const char *name, char *id, size_t size) {
        char path[256];
        json_t *resp = NULL;
        long code;

        snprintf(path, sizeof(path), "/%s", name);
        assert_int_equal(raw("GET", path, NULL, 0, &resp, &code), VCDC_SINK_OK);
        snprintf(id, size, "%s",
                 json_string_value(json_object_get(resp, "id")));
        json_decref(resp);
}

static vcdc_sink_t *open_sink(const char *coll, vcdc_metric_t metric) {
        vcdc_sink_conf_t conf = {.metric = metric, .timeout_ms = 60000};
        char url[512], errstr[1024];
        vcdc_sink_t *sink;

        snprintf(url, sizeof(url), "chroma://%s:%d/%s", host, port, coll);
        if (!(sink = vcdc_sink_new(url, &conf, errstr, sizeof(errstr))))
                fail_msg("open %s: %s", coll, errstr);
        return sink;
}

/* Appends s as a JSON string, bytes as they are (invalid UTF-8 stays
 * invalid: the server is to judge it). */
static void put_string(char **pp, const char *s) {
        char *p = *pp;

        *p++ = '"';
        for (; *s; s++) {
                unsigned char c = (unsigned char)*s;
                if (c == '"' || c == '\\') {
                        *p++ = '\\';
                        *p++ = (char)c;
                } else if (c < 0x20) {
                        p += sprintf(p, "\\u%04x", c);
                } else {
                        *p++ = (char)c;
                }
        }
        *p++ = '"';
        *pp = p;
}

/* Bytes put_string() writes for s. */
static size_t string_len(const char *s) {
        size_t n = 2;

        for (; *s; s++)
                n += *s == '"' || *s == '\\'    ? 2
                     : (unsigned char)*s < 0x20 ? 6
                                                : 1;
        return n;
}

/* The upsert of rec, its metadata text sent as it is. */
static char *upsert_body(const vcdc_record_t *rec, size_t *lenp) {
        size_t size = 256 + rec->dim * 20 + string_len(rec->id) +
                      (rec->document ? string_len(rec->document) : 0) +
                      (rec->metadata ? strlen(rec->metadata) : 0);
        char *body = malloc(size), *p = body;
        size_t i;

        p += sprintf(p, "{\"ids\":[");
        put_string(&p, rec->id);
        p += sprintf(p, "],\"embeddings\":[[");
        for (i = 0; i < rec->dim; i++)
                p += sprintf(p, "%s%.9g", i ? "," : "", (double)rec->vector[i]);
        p += sprintf(p, "]],\"metadatas\":[%s],\"documents\":[",
                     rec->metadata ? rec->metadata : "null");
        if (rec->document)
                put_string(&p, rec->document);
        else
                p += sprintf(p, "null");
        p += sprintf(p, "]}");
        *lenp = (size_t)(p - body);
        return body;
}

/* Metadata as sent and as stored are the same: equal JSON, with {} and
 * none alike (Chroma keeps an empty object as none). */
static int same_metadata(const char *sent, const json_t *stored) {
        json_t *s = sent ? json_loads(sent, JSON_DECODE_ANY, NULL) : NULL;
        int same;

        if (s && json_is_object(s) && !json_object_size(s)) {
                json_decref(s);
                s = NULL;
        }
        if (json_is_null(stored))
                stored = NULL;
        same = (!s && !stored) || (s && stored && json_equal(s, stored));
        json_decref(s);
        return same;
}

/* The server's verdict on rec in collection coll: 1 when it takes it and
 * reads back what was sent, 0 when it refuses or alters it (*why says
 * which). The record is deleted again after. */
static int server_takes(const char *coll, const vcdc_record_t *rec, char *why,
                        size_t why_size) {
        char id[128], path[256], *body, *get;
        json_t *resp = NULL;
        const json_t *emb, *doc;
        size_t len, i;
        long code = 0;
        int ok;

        coll_id(coll, id, sizeof(id));
        snprintf(path, sizeof(path), "/%s/upsert", id);
        body = upsert_body(rec, &len);
        raw("POST", path, body, len, NULL, &code);
        free(body);
        if (code != 200) {
                snprintf(why, why_size, "refused: HTTP %ld", code);
                return 0;
        }
        body = malloc(string_len(rec->id) + 96);
        {
                char *p = body;
                p += sprintf(p, "{\"ids\":[");
                put_string(&p, rec->id);
                sprintf(p, "],\"include\":[\"embeddings\",\"metadatas\","
                           "\"documents\"]}");
        }
        get = body;
        snprintf(path, sizeof(path), "/%s/get", id);
        /* vcdc reads what it wrote before each upsert of the id: what its
         * JSON client cannot read back counts as refused. */
        ok = raw("POST", path, get, strlen(get), &resp, &code) == VCDC_SINK_OK;
        free(get);
        if (!ok) {
                snprintf(why, why_size, "stored, unreadable by jansson");
                return 0;
        }
        emb = json_array_get(json_object_get(resp, "embeddings"), 0);
        doc = json_array_get(json_object_get(resp, "documents"), 0);
        ok = 1;
        for (i = 0; i < rec->dim && ok; i++) {
                double got = json_number_value(json_array_get(emb, i)),
                       want = rec->vector[i];
                if (!json_is_number(json_array_get(emb, i)) ||
                    fabs(got - want) > 2.5e-7 * fabs(want)) {
                        snprintf(why, why_size,
                                 "altered: vector[%zu] %g read back as %g", i,
                                 want, got);
                        ok = 0;
                }
        }
        if (ok &&
            !same_metadata(
                    rec->metadata,
                    json_array_get(json_object_get(resp, "metadatas"), 0))) {
                snprintf(why, why_size, "altered: metadata");
                ok = 0;
        }
        if (ok && (rec->document ? !json_is_string(doc) ||
                                           strcmp(json_string_value(doc),
                                                  rec->document)
                                 : !json_is_null(doc))) {
                snprintf(why, why_size, "altered: document");
                ok = 0;
        }
        json_decref(resp);
        if (ok)
                snprintf(why, why_size, "taken as sent");
        body = malloc(string_len(rec->id) + 32);
        {
                char *p = body;
                p += sprintf(p, "{\"ids\":[");
                put_string(&p, rec->id);
                sprintf(p, "]}");
        }
        snprintf(path, sizeof(path), "/%s/delete", id);
        raw("POST", path, body, strlen(body), NULL, &code);
        free(body);
        return ok;
}

typedef struct check_case_s {
        const char *name;
        int cosine; /* into the cosine collection */
        int takes;  /* the server takes it as sent */
        const char *id, *metadata, *document;
        float v0;         /* the vector: {v0, v0, v0, v0}, 0: 0.5 */
        size_t doc_bytes; /* a document of that many 'd' */
} check_case_t;

static void run_cases(const check_case_t *cases, size_t cnt,
                      vcdc_sink_t *sink_l2, vcdc_sink_t *sink_cos,
                      int *failures) {
        size_t i, d;

        for (i = 0; i < cnt; i++) {
                const check_case_t *c = &cases[i];
                char why[256], errstr[1024], idbuf[64];
                vcdc_record_t rec;
                vcdc_sink_status_t st;
                int server;

                vcdc_record_init(&rec);
                snprintf(idbuf, sizeof(idbuf), "case-%zu", i);
                rec.id = strdup(c->id ? c->id : idbuf);
                rec.op = VCDC_OP_UPSERT;
                rec.dim = DIM;
                rec.vector = malloc(DIM * sizeof(float));
                for (d = 0; d < DIM; d++)
                        rec.vector[d] = c->v0 ? c->v0 : 0.5f + (float)d;
                if (c->metadata)
                        rec.metadata = strdup(c->metadata);
                if (c->doc_bytes) {
                        rec.document = malloc(c->doc_bytes + 1);
                        memset(rec.document, 'd', c->doc_bytes);
                        rec.document[c->doc_bytes] = '\0';
                } else if (c->document) {
                        rec.document = strdup(c->document);
                }
                server = server_takes(c->cosine ? cosine : l2, &rec, why,
                                      sizeof(why));
                st = vcdc_sink_check(c->cosine ? sink_cos : sink_l2, &rec,
                                     errstr, sizeof(errstr));
                fprintf(stderr, "  %-30s server: %-40.40s check: %s%s%.100s\n",
                        c->name, why, vcdc_sink_status_name(st), st ? ": " : "",
                        st ? errstr : "");
                if (server != c->takes) {
                        fprintf(stderr, "    the server was expected to %s\n",
                                c->takes ? "take it as sent"
                                         : "refuse or alter it");
                        (*failures)++;
                }
                if ((st == VCDC_SINK_OK) != server) {
                        fprintf(stderr, "    check() disagrees with the "
                                        "server\n");
                        (*failures)++;
                }
                vcdc_record_clear(&rec);
        }
}

static void test_check_complete(void **state) {
        static const check_case_t cases[] = {
                {"plain", 0, 1, NULL,
                 "{\"a\":1,\"b\":\"x\",\"c\":true,\"d\":1.5}", "doc", 0, 0},
                {"empty string value", 0, 1, NULL, "{\"a\":\"\"}", "", 0, 0},
                {"empty key", 0, 1, NULL, "{\"\":1}", NULL, 0, 0},
                {"#document key", 0, 1, NULL, "{\"#document\":\"x\"}", NULL, 0,
                 0},
                {"$and key", 0, 1, NULL, "{\"$and\":1}", NULL, 0, 0},
                {"empty metadata", 0, 1, NULL, "{}", NULL, 0, 0},
                {"int64 max and min", 0, 1, NULL,
                 "{\"a\":9223372036854775807,\"b\":-9223372036854775808}", NULL,
                 0, 0},
                {"1e308 and 5e-324", 0, 1, NULL, "{\"a\":1e308,\"b\":5e-324}",
                 NULL, 0, 0},
                {"surrogate pair, \\uffff", 0, 1, NULL,
                 "{\"a\":\"\\ud83d\\ude00\\uffff\"}", NULL, 0, 0},
                {"id of 10,000 bytes", 0, 1, NULL, NULL, NULL, 0, 0},
                {"document of 1 MiB", 0, 1, NULL, NULL, NULL, 0, MIB},
                {"nested object", 0, 0, NULL, "{\"a\":{\"b\":1}}", NULL, 0, 0},
                {"array", 0, 0, NULL, "{\"a\":[1,2]}", NULL, 0, 0},
                {"empty array", 0, 0, NULL, "{\"a\":[]}", NULL, 0, 0},
                {"null value", 0, 0, NULL, "{\"a\":1,\"b\":null}", NULL, 0, 0},
                {"chroma:document key", 0, 0, NULL,
                 "{\"chroma:document\":\"x\"}", "doc", 0, 0},
                {"chroma:x key", 0, 0, NULL, "{\"chroma:x\":1}", NULL, 0, 0},
                {"integer beyond int64", 0, 0, NULL,
                 "{\"a\":9223372036854775808}", NULL, 0, 0},
                {"1e309", 0, 0, NULL, "{\"a\":1e309}", NULL, 0, 0},
                {"empty id", 0, 0, "", NULL, NULL, 0, 0},
                {"invalid UTF-8 document", 0, 0, NULL, NULL, "caf\xc3", 0, 0},
                {"invalid UTF-8 id", 0, 0, "caf\xc3", NULL, NULL, 0, 0},
                {"a body over 40 MiB", 0, 0, NULL, NULL, NULL, 0, 40 * MIB},
                /* Stored, but vcdc's JSON client (jansson) cannot read
                 * it back: the pre-read before each upsert would fail. */
                {"\\u0000 in a value", 0, 0, NULL, "{\"a\":\"x\\u0000y\"}",
                 NULL, 0, 0},
                {"cosine: plain", 1, 1, NULL, NULL, NULL, 0, 0},
                {"cosine: tiny, squares > 0", 1, 1, NULL, NULL, NULL, 1e-20f,
                 0},
                {"cosine: every square 0", 1, 0, NULL, NULL, NULL, 1e-23f, 0},
                {"cosine: norm^2 over FLT_MAX", 1, 0, NULL, NULL, NULL, 1e38f,
                 0},
        };
        vcdc_sink_t *sink_l2, *sink_cos;
        vcdc_record_t first;
        char errstr[1024];
        int failures = 0;
        size_t i;
        check_case_t *c = malloc(sizeof(cases));
        char *long_id = malloc(10001);

        (void)state;
        snprintf(l2, sizeof(l2), "%s_l2", prefix);
        snprintf(cosine, sizeof(cosine), "%s_cos", prefix);
        sink_l2 = open_sink(l2, VCDC_METRIC_L2);
        sink_cos = open_sink(cosine, VCDC_METRIC_COSINE);
        /* Each collection exists, with dimension DIM. */
        {
                float v[DIM] = {1, 2, 3, 4};
                const vcdc_record_t *ptr = &first;
                vcdc_sink_batch_t batch = {.upserts = &ptr, .upsert_cnt = 1};
                vcdc_record_init(&first);
                first.id = "first";
                first.vector = v;
                first.dim = DIM;
                assert_int_equal(vcdc_sink_apply(sink_l2, &batch, errstr,
                                                 sizeof(errstr)),
                                 VCDC_SINK_OK);
                assert_int_equal(vcdc_sink_apply(sink_cos, &batch, errstr,
                                                 sizeof(errstr)),
                                 VCDC_SINK_OK);
        }
        memcpy(c, cases, sizeof(cases));
        memset(long_id, 'i', 10000);
        long_id[10000] = '\0';
        for (i = 0; i < sizeof(cases) / sizeof(*cases); i++)
                if (!strcmp(c[i].name, "id of 10,000 bytes"))
                        c[i].id = long_id;
        run_cases(c, sizeof(cases) / sizeof(*cases), sink_l2, sink_cos,
                  &failures);
        vcdc_sink_destroy(sink_l2);
        vcdc_sink_destroy(sink_cos);
        free(long_id);
        free(c);
        assert_int_equal(failures, 0);
}

/* A delete's id: Chroma refuses one that is not UTF-8 (HTTP 400) and so
 * does check(); an empty one is a no-op (no record has it). */
static void test_check_delete(void **state) {
        static const char *const ids[] = {"x", "", "caf\xc3"};
        vcdc_record_t rec;
        vcdc_sink_t *sink;
        char errstr[1024], id[128], path[256], body[64];
        long code;
        size_t i;

        (void)state;
        sink = open_sink(l2, VCDC_METRIC_L2);
        coll_id(l2, id, sizeof(id));
        snprintf(path, sizeof(path), "/%s/delete", id);
        for (i = 0; i < sizeof(ids) / sizeof(*ids); i++) {
                vcdc_sink_status_t st;
                const char *del = ids[i];
                vcdc_sink_batch_t batch = {.delete_ids = &del, .delete_cnt = 1};
                snprintf(body, sizeof(body), "{\"ids\":[\"%s\"]}", ids[i]);
                raw("POST", path, body, strlen(body), NULL, &code);
                vcdc_record_init(&rec);
                rec.op = VCDC_OP_DELETE;
                rec.id = strdup(ids[i]);
                st = vcdc_sink_check(sink, &rec, errstr, sizeof(errstr));
                fprintf(stderr, "  delete of \"%s\": HTTP %ld, check %s\n",
                        i == 2 ? "caf\\xc3" : ids[i], code,
                        vcdc_sink_status_name(st));
                assert_int_equal(code == 200, st == VCDC_SINK_OK);
                /* apply() agrees. */
                assert_int_equal(
                        vcdc_sink_apply(sink, &batch, errstr, sizeof(errstr)),
                        st);
                vcdc_record_clear(&rec);
        }
        vcdc_sink_destroy(sink);
}

static int setup(void **state) {
        const char *p = getenv("VCDC_CHROMA_PORT");

        (void)state;
        host = getenv("VCDC_CHROMA_HOST");
        if (p && *p)
                port = (int)strtol(p, NULL, 10);
        snprintf(prefix, sizeof(prefix), "vcdc_itc_%ld_%ld", (long)getpid(),
                 (long)time(NULL));
        return 0;
}

static int teardown(void **state) {
        const char *names[] = {l2, cosine};
        char path[256];
        long code;
        size_t i;

        (void)state;
        for (i = 0; i < 2; i++) {
                if (!names[i][0])
                        continue;
                snprintf(path, sizeof(path), "/%.200s", names[i]);
                raw("DELETE", path, NULL, 0, NULL, &code);
                snprintf(path, sizeof(path), "/%.200s%s", names[i],
                         VCDC_CHROMA_OFFSETS_SUFFIX);
                raw("DELETE", path, NULL, 0, NULL, &code);
        }
        return 0;
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_check_complete),
                cmocka_unit_test(test_check_delete),
        };
        const char *h = getenv("VCDC_CHROMA_HOST"),
                   *p = getenv("VCDC_CHROMA_PORT");

        if (!h || !*h || !p || !*p) {
                fprintf(stderr, "it_sink_chroma_check: skipped: "
                                "VCDC_CHROMA_HOST and VCDC_CHROMA_PORT are "
                                "unset\n");
                return 0;
        }
        return cmocka_run_group_tests(tests, setup, teardown);
}
