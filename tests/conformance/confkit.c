/*
 * vcdc - test kit of the sink conformance suite: what every sink must do,
 * run against real databases through the sink interface (sink.h) alone.
 * A new sink (Weaviate, Milvus, ...) is done when it passes the suite's
 * programs unchanged:
 *   it_sink_conformance_write    create, refuse, write, content, ids
 *   it_sink_conformance_read     reads, scan_churn
 *   it_sink_conformance_status   offsets (and their fence), errors
 * (each program's opening comment says what its cases check). This file
 * holds what they share: the sink under test and its targets, records
 * written and compared, scans, the clean-up and the main loop.
 *
 * Each sink is named by a URL template holding "{target}" where the name
 * of a collection or table goes; every case makes targets of its own
 * (vcdc_cf_<pid>_<n>, letters, digits and '_', which every sink takes).
 *   VCDC_CONFORMANCE_URLS  templates separated by blanks, e.g.
 *       "chroma://127.0.0.1:8000/{target}
 *        pgvector://postgres@127.0.0.1:5432/postgres?table={target}"
 *   otherwise the stack's Chroma (VCDC_CHROMA_HOST, VCDC_CHROMA_PORT) and
 *   pgvector (VCDC_PGVECTOR_URL, twice: ?copy=never and ?copy=always, its
 *   two apply paths), those that are set; with none, the
 *   suite skips, saying so. Secrets come as the sinks read them
 *   (VCDC_CHROMA_TOKEN, VCDC_PG_PASSWORD).
 * Targets of the sinks it knows (chroma, pgvector) are dropped at the
 * end; another sink's are left, and listed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "conformance/confkit.h"
#include "http.h"
#include "it_sink.h"
#include "sink.h"
#include "url.h"

#define TARGETS 64

/* The program, the sink under test: its template, and the targets made
 * for it. */
static struct {
        const char *prog;
        char tmpl[1024];
        char scheme[32];
        char targets[TARGETS][64];
        int target_cnt;
        int seq;
} sut;

const char *sut_tmpl(void) {
        return sut.tmpl;
}

const char *sut_scheme(void) {
        return sut.scheme;
}

/* ------------------------------------------------------------- targets */

const char *target_new(char *name, size_t size) {
        snprintf(name, size, "vcdc_cf_%d_%d", (int)getpid(), ++sut.seq);
        if (sut.target_cnt < TARGETS)
                snprintf(sut.targets[sut.target_cnt++], sizeof(*sut.targets),
                         "%s", name);
        return name;
}

void url_of(char *out, size_t size, const char *tmpl, const char *target,
            const char *extra) {
        const char *mark = strstr(tmpl, "{target}");
        int n;

        assert_non_null(mark);
        n = snprintf(out, size, "%.*s%s%s", (int)(mark - tmpl), tmpl, target,
                     mark + strlen("{target}"));
        assert_true(n > 0 && (size_t)n < size);
        if (extra) {
                size_t len = strlen(out);
                snprintf(out + len, size - len, "%c%s",
                         strchr(out, '?') ? '&' : '?', extra);
        }
}

vcdc_sink_t *sink_open_as(const char *tmpl, const char *target,
                          const char *extra, vcdc_metric_t metric, size_t dim,
                          int timeout_ms, vcdc_sink_status_t *statusp,
                          char *errstr) {
        vcdc_sink_conf_t conf = {
                .metric = metric, .dim = dim, .timeout_ms = timeout_ms};
        char url[1200];

        url_of(url, sizeof(url), tmpl, target, extra);
        return vcdc_sink_open(url, &conf, statusp, errstr, ERR);
}

vcdc_sink_t *must_open(const char *target, vcdc_metric_t metric, size_t dim) {
        vcdc_sink_status_t status;
        char errstr[ERR];
        vcdc_sink_t *sink = sink_open_as(sut.tmpl, target, NULL, metric, dim,
                                         30000, &status, errstr);

        if (!sink)
                fail_msg("open %s: %s: %s", target,
                         vcdc_sink_status_name(status), errstr);
        return sink;
}

/* ------------------------------------------------------------- records */

void rec_set(vcdc_record_t *rec, const char *id, const float *vec, size_t dim,
             const char *metadata, const char *document) {
        vcdc_record_init(rec);
        rec->op = VCDC_OP_UPSERT;
        rec->id = strdup(id);
        rec->dim = dim;
        if (dim) {
                rec->vector = malloc(dim * sizeof(float));
                memcpy(rec->vector, vec, dim * sizeof(float));
        }
        rec->metadata = metadata ? strdup(metadata) : NULL;
        rec->document = document ? strdup(document) : NULL;
}

void rec_nth(vcdc_record_t *rec, const char *id, int i, int v) {
        char meta[64], doc[64];
        float vec[DIM];
        int j;

        vec[0] = (float)i / 4.0f;
        for (j = 1; j < DIM; j++)
                vec[j] = (float)((i * 7 + j * 3 + v) % 64) / 8.0f - 3.0f;
        snprintf(meta, sizeof(meta), "{\"i\":%d,\"v\":%d}", i, v);
        snprintf(doc, sizeof(doc), "doc %d/%d", i, v);
        rec_set(rec, id, vec, DIM, meta, doc);
}

void recs_clear(vcdc_record_t *recs, size_t cnt) {
        size_t i;

        for (i = 0; i < cnt; i++)
                vcdc_record_clear(&recs[i]);
}

vcdc_sink_status_t apply_full(vcdc_sink_t *sink, const vcdc_record_t *recs,
                              size_t cnt, const char *const *dels,
                              size_t del_cnt, const vcdc_sink_offset_t *offs,
                              size_t off_cnt, int fence_only, char *errstr) {
        const vcdc_record_t **ptrs = calloc(cnt ? cnt : 1, sizeof(*ptrs));
        vcdc_sink_batch_t batch = {.upserts = ptrs,
                                   .upsert_cnt = cnt,
                                   .delete_ids = dels,
                                   .delete_cnt = del_cnt,
                                   .topic = TOPIC,
                                   .offsets = offs,
                                   .offset_cnt = off_cnt,
                                   .fence_only = fence_only};
        vcdc_sink_status_t status;
        size_t i;

        for (i = 0; i < cnt; i++)
                ptrs[i] = &recs[i];
        errstr[0] = '\0';
        status = vcdc_sink_apply(sink, &batch, errstr, ERR);
        free(ptrs);
        return status;
}

void apply_ok(vcdc_sink_t *sink, const vcdc_record_t *recs, size_t cnt,
              const char *const *dels, size_t del_cnt) {
        char errstr[ERR];

        its_want(apply_full(sink, recs, cnt, dels, del_cnt, NULL, 0, 0, errstr),
                 VCDC_SINK_OK, "apply", errstr);
}

void get_ids(vcdc_sink_t *sink, const char *const *ids, size_t cnt,
             vcdc_record_t *out) {
        char errstr[ERR];
        size_t i;

        for (i = 0; i < cnt; i++)
                vcdc_record_init(&out[i]);
        its_want(vcdc_sink_get(sink, ids, cnt, out, errstr, ERR), VCDC_SINK_OK,
                 "get", errstr);
}

/* Metadata equal as JSON values; NULL and {} are the same (a sink may
 * store an empty object as none). */
static int meta_equal(const char *got, const char *wanted) {
        json_t *g = got ? json_loads(got, 0, NULL) : json_object();
        json_t *w = wanted ? json_loads(wanted, 0, NULL) : json_object();
        int eq = g && w && json_equal(g, w);

        json_decref(g);
        json_decref(w);
        return eq;
}

void assert_same(const vcdc_record_t *got, const vcdc_record_t *wanted) {
        if (!got->id)
                fail_msg("\"%s\": missing", wanted->id);
        assert_string_equal(got->id, wanted->id);
        if (got->dim != wanted->dim ||
            memcmp(got->vector, wanted->vector, wanted->dim * sizeof(float)))
                fail_msg("\"%.60s\": vector differs (dimension %zu, wrote "
                         "%zu)",
                         wanted->id, got->dim, wanted->dim);
        if (!meta_equal(got->metadata, wanted->metadata))
                fail_msg("\"%.60s\": metadata %.200s, wrote %.200s", wanted->id,
                         got->metadata ? got->metadata : "(none)",
                         wanted->metadata ? wanted->metadata : "(none)");
        if ((got->document == NULL) != (wanted->document == NULL) ||
            (got->document && strcmp(got->document, wanted->document)))
                fail_msg("\"%.60s\": document %.80s, wrote %.80s", wanted->id,
                         got->document ? got->document : "(none)",
                         wanted->document ? wanted->document : "(none)");
}

void assert_stored(vcdc_sink_t *sink, const vcdc_record_t *recs, size_t cnt) {
        const char **ids = calloc(cnt, sizeof(*ids));
        vcdc_record_t *out = calloc(cnt, sizeof(*out));
        size_t i;

        for (i = 0; i < cnt; i++)
                ids[i] = recs[i].id;
        get_ids(sink, ids, cnt, out);
        for (i = 0; i < cnt; i++)
                assert_same(&out[i], &recs[i]);
        recs_clear(out, cnt);
        free(out);
        free(ids);
}

/* ------------------------------------------------------------ scanning */

void idlist_add(idlist_t *l, const char *id) {
        if (l->cnt == l->size) {
                l->size = l->size ? 2 * l->size : 64;
                l->ids = realloc(l->ids, l->size * sizeof(*l->ids));
        }
        l->ids[l->cnt++] = strdup(id);
}

void idlist_free(idlist_t *l) {
        size_t i;

        for (i = 0; i < l->cnt; i++)
                free(l->ids[i]);
        free(l->ids);
        memset(l, 0, sizeof(*l));
}

static int str_cmp(const void *a, const void *b) {
        return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void idlist_sort(idlist_t *l) {
        qsort(l->ids, l->cnt, sizeof(*l->ids), str_cmp);
}

size_t idlist_count(const idlist_t *l, const char *id) {
        size_t n = 0, i;

        for (i = 0; i < l->cnt; i++)
                n += !strcmp(l->ids[i], id);
        return n;
}

void assert_no_doubles(const idlist_t *l) {
        size_t i;

        for (i = 1; i < l->cnt; i++)
                if (!strcmp(l->ids[i - 1], l->ids[i]))
                        fail_msg("scan returned \"%s\" twice", l->ids[i]);
}

size_t scan_page(vcdc_sink_t *sink, char **cursorp, size_t page,
                 int with_vectors, idlist_t *l) {
        vcdc_record_t *out = calloc(page, sizeof(*out));
        char errstr[ERR];
        size_t n = 0, i;

        for (i = 0; i < page; i++)
                vcdc_record_init(&out[i]);
        its_want(vcdc_sink_scan(sink, cursorp, page, with_vectors, out, &n,
                                errstr, ERR),
                 VCDC_SINK_OK, "scan", errstr);
        assert_true(n <= page);
        for (i = 0; i < n; i++) {
                assert_non_null(out[i].id);
                if (with_vectors)
                        assert_int_equal(out[i].dim, DIM);
                idlist_add(l, out[i].id);
        }
        recs_clear(out, page);
        free(out);
        return n;
}

void scan_all(vcdc_sink_t *sink, size_t page, int with_vectors, idlist_t *l) {
        char *cursor = NULL;
        int pages = 0;

        do {
                scan_page(sink, &cursor, page, with_vectors, l);
                assert_true(++pages < 100000);
        } while (cursor);
        idlist_sort(l);
}

/* ------------------------------------------------------------- clean-up */

static void drop_chroma(const vcdc_url_t *u, const char *target) {
        const char *tenant = vcdc_url_param(u, "tenant");
        const char *db = vcdc_url_param(u, "database");
        const char *token = getenv("VCDC_CHROMA_TOKEN");
        char base[300], path[1024], errstr[ERR];
        vcdc_http_t *http;
        int i;

        snprintf(base, sizeof(base), "http://%s:%d", u->host,
                 u->port ? u->port : 8000);
        if (!(http = vcdc_http_new(base, 10000, 0, errstr, sizeof(errstr))))
                return;
        if (token && *token) {
                char h[512];
                snprintf(h, sizeof(h), "x-chroma-token: %s", token);
                vcdc_http_add_header(http, h);
        }
        for (i = 0; i < 2; i++) {
                snprintf(path, sizeof(path),
                         "/api/v2/tenants/%s/databases/%s/collections/%s%s",
                         tenant ? tenant : "default_tenant",
                         db ? db : "default_database", target,
                         i ? "_vcdc_offsets" : "");
                vcdc_http_request(http, "DELETE", path, NULL, 0, NULL, errstr,
                                  sizeof(errstr));
        }
        vcdc_http_destroy(http);
}

static void drop_pgvector(const vcdc_url_t *u, const char *target) {
        const char *keys[8], *values[8], *sslmode;
        char port[16], q[512];
        PGconn *conn;
        int n = 0;

        snprintf(port, sizeof(port), "%d", u->port ? u->port : 5432);
        keys[n] = "host", values[n++] = u->host;
        keys[n] = "port", values[n++] = port;
        if (u->user)
                keys[n] = "user", values[n++] = u->user;
        keys[n] = "dbname", values[n++] = u->path;
        if ((sslmode = vcdc_url_param(u, "sslmode")))
                keys[n] = "sslmode", values[n++] = sslmode;
        if (getenv("VCDC_PG_PASSWORD"))
                keys[n] = "password", values[n++] = getenv("VCDC_PG_PASSWORD");
        keys[n] = values[n] = NULL;
        conn = PQconnectdbParams(keys, values, 0);
        if (PQstatus(conn) == CONNECTION_OK) {
                snprintf(q, sizeof(q),
                         "DROP TABLE IF EXISTS \"%s\"; "
                         "DELETE FROM vcdc_targets WHERE table_name = '%s'; "
                         "DELETE FROM vcdc_offsets WHERE table_name = '%s'",
                         target, target, target);
                PQclear(PQexec(conn, q));
        }
        PQfinish(conn);
}

static int group_setup(void **state) {
        (void)state;
        sut.target_cnt = 0;
        return 0;
}

static int group_teardown(void **state) {
        char url[1200], errstr[ERR];
        vcdc_url_t *u;
        int i;

        (void)state;
        for (i = 0; i < sut.target_cnt; i++) {
                url_of(url, sizeof(url), sut.tmpl, sut.targets[i], NULL);
                if (!(u = vcdc_url_parse(url, errstr, sizeof(errstr))))
                        continue;
                if (!strcmp(u->scheme, "chroma"))
                        drop_chroma(u, sut.targets[i]);
                else if (!strcmp(u->scheme, "pgvector"))
                        drop_pgvector(u, sut.targets[i]);
                else
                        fprintf(stderr, "%s: left %s\n", sut.prog, url);
                vcdc_url_destroy(u);
        }
        return 0;
}

/* ------------------------------------------------------------------ main */

/* The templates to run: VCDC_CONFORMANCE_URLS, else the stack's. */
static size_t templates(char (*out)[1024], size_t max) {
        const char *list = getenv("VCDC_CONFORMANCE_URLS");
        const char *host = getenv("VCDC_CHROMA_HOST");
        const char *port = getenv("VCDC_CHROMA_PORT");
        const char *pg = getenv("VCDC_PGVECTOR_URL");
        size_t n = 0;

        if (list && *list) {
                while (*list && n < max) {
                        size_t len;
                        list += strspn(list, " \t\n");
                        if (!(len = strcspn(list, " \t\n")))
                                break;
                        snprintf(out[n++], sizeof(*out), "%.*s", (int)len,
                                 list);
                        list += len;
                }
                return n;
        }
        if (host && *host && port && *port)
                snprintf(out[n++], sizeof(*out), "chroma://%s:%s/{target}",
                         host, port);
        /* pgvector's two apply paths: multi-row INSERT and COPY. */
        if (pg && *pg && n + 1 < max) {
                snprintf(out[n++], sizeof(*out),
                         "%s%ccopy=never&table={target}", pg,
                         strchr(pg, '?') ? '&' : '?');
                snprintf(out[n++], sizeof(*out),
                         "%s%ccopy=always&table={target}", pg,
                         strchr(pg, '?') ? '&' : '?');
        }
        return n;
}

int conformance_run(const char *prog, const struct CMUnitTest *tests,
                    size_t cnt) {
        char tmpls[8][1024];
        size_t n = templates(tmpls, 8), i;
        int rc = 0;

        sut.prog = prog;
        if (!n) {
                fprintf(stderr,
                        "%s: skipped: no sink (set "
                        "VCDC_CONFORMANCE_URLS, or run under "
                        "scripts/with-stack.sh)\n",
                        prog);
                return 0;
        }
        for (i = 0; i < n; i++) {
                const char *colon = strstr(tmpls[i], "://");
                if (!strstr(tmpls[i], "{target}") || !colon) {
                        fprintf(stderr,
                                "%s: %s: a URL template "
                                "needs a scheme and {target}\n",
                                prog, tmpls[i]);
                        rc = 1;
                        continue;
                }
                snprintf(sut.tmpl, sizeof(sut.tmpl), "%.1000s", tmpls[i]);
                snprintf(sut.scheme, sizeof(sut.scheme), "%.*s",
                         (int)(colon - tmpls[i]), tmpls[i]);
                fprintf(stderr, "==== conformance of %s\n", sut.tmpl);
                /* cmocka_run_group_tests_name() wants an array. */
                rc |= _cmocka_run_group_tests(sut.scheme, tests, cnt,
                                              group_setup, group_teardown);
        }
        return rc ? 1 : 0;
}
