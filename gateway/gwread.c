/*
 * vcdc gateway - reads from the side the route names: against Chroma the
 * request goes on to the Chroma collection of the same name (its own
 * answer comes back, so it is Chroma's to the byte); against pgvector it
 * becomes SQL on the collection's table (filters through filter_sql.c,
 * distances in Chroma's convention for the collection's space) and the
 * API layer writes the answer.
 */
#include "gwdata_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api_json.h"
#include "api_result.h"
#include "buf.h"
#include "filter.h"
#include "log.h"
#include "sink_pgvector_int.h"
#include "url.h"

/*
 * Chroma.
 */

/* Opens conn's HTTP client when needed. Returns 0 or -1 with errstr. */
static int http_conn(const gw_side_t *s, gw_conn_t *conn, char *errstr,
                     size_t errstr_size) {
        if (!conn->http && !(conn->http = vcdc_http_new(s->base, 30000, 0,
                                                        errstr, errstr_size)))
                return -1;
        return 0;
}

/* The Chroma id of cs on side into id (cached in cs): 1, 0 when Chroma
 * has no such collection yet, -1 with errstr. conn is the caller's. */
static int chroma_id(vcdc_gw_data_t *d, gw_cstate_t *cs, vcdc_route_side_t side,
                     gw_conn_t *conn, char id[64], char *errstr,
                     size_t errstr_size) {
        gw_side_t *s = &d->side[side];
        char path[1024];
        json_t *ans = NULL;
        long status = 0;
        vcdc_sink_status_t st;
        const char *got;

        if (http_conn(s, conn, errstr, errstr_size) == -1)
                return -1;
        pthread_mutex_lock(&cs->lock);
        memcpy(id, cs->chroma_id[side], 64);
        pthread_mutex_unlock(&cs->lock);
        if (id[0])
                return 1;
        snprintf(path, sizeof(path), "%s/collections/%s", s->prefix, cs->name);
        st = vcdc_http_json(conn->http, "GET", path, NULL, 0, &ans, &status,
                            errstr, errstr_size);
        if (st != VCDC_SINK_OK)
                return status == 404 ? 0 : -1;
        got = json_string_value(json_object_get(ans, "id"));
        if (got && strlen(got) < 64)
                snprintf(id, 64, "%s", got);
        json_decref(ans);
        if (!id[0]) {
                snprintf(errstr, errstr_size,
                         "collection %.200s: no id in Chroma's answer",
                         cs->name);
                return -1;
        }
        pthread_mutex_lock(&cs->lock);
        memcpy(cs->chroma_id[side], id, 64);
        pthread_mutex_unlock(&cs->lock);
        return 1;
}

/* Forwards method path-suffix body to c's Chroma collection; copies
 * Chroma's answer (status and body) into resp. Returns 1 answered, 0
 * when Chroma has no such collection (resp untouched), -1 with resp a
 * 503. */
static int chroma_forward(vcdc_gw_data_t *d, gw_cstate_t *cs,
                          vcdc_route_side_t side, const char *method,
                          const char *suffix, const char *body, size_t len,
                          vcdc_gw_resp_t *resp) {
        gw_side_t *s = &d->side[side];
        gw_conn_t *conn = gw_conn_take(s);
        char path[1024], errstr[512], id[64];
        long status = 0;
        size_t blen;
        const char *ans;
        int r = 0, tries;

        for (tries = 0; tries < 2; tries++) {
                if ((r = chroma_id(d, cs, side, conn, id, errstr,
                                   sizeof(errstr))) < 1)
                        break;
                snprintf(path, sizeof(path), "%s/collections/%s/%s", s->prefix,
                         id, suffix);
                vcdc_http_request(conn->http, method, path, body,
                                  body ? len : 0, &status, errstr,
                                  sizeof(errstr));
                if (status == 404) {
                        /* Dropped and made again: look the id up anew. */
                        pthread_mutex_lock(&cs->lock);
                        cs->chroma_id[side][0] = '\0';
                        pthread_mutex_unlock(&cs->lock);
                        r = 0;
                        continue;
                }
                if (status == 0) {
                        r = -1;
                        break;
                }
                ans = vcdc_http_body(conn->http, &blen);
                vcdc_gw_resp_json(resp, (int)status, ans, blen);
                r = 1;
                break;
        }
        gw_conn_give(conn);
        if (r == -1) {
                vcdc_gw_resp_error(resp, 503, NULL, "%s unreachable: %s",
                                   vcdc_route_side_name(side), errstr);
                resp->retry_after = 1;
        }
        return r;
}

int gw_chroma_create(vcdc_gw_data_t *d, vcdc_route_side_t side,
                     const vcdc_gw_coll_t *c, char *errstr,
                     size_t errstr_size) {
        gw_side_t *s = &d->side[side];
        gw_conn_t *conn;
        json_t *body, *meta = NULL;
        char *text, path[512];
        vcdc_sink_status_t st;
        int r = -1;

        if (c->metadata)
                meta = json_loads(c->metadata, 0, NULL);
        body = json_pack("{s:s, s:{s:{s:s}}, s:b, s:o}", "name", c->name,
                         "configuration", "hnsw", "space", c->metric,
                         "get_or_create", 1, "metadata",
                         meta ? meta : json_null());
        if (!body || !(text = json_dumps(body, JSON_COMPACT))) {
                json_decref(body);
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        snprintf(path, sizeof(path), "%s/collections", s->prefix);
        conn = gw_conn_take(s);
        if (http_conn(s, conn, errstr, errstr_size) == 0) {
                st = vcdc_http_request(conn->http, "POST", path, text,
                                       strlen(text), NULL, errstr, errstr_size);
                r = st == VCDC_SINK_OK ? 0 : -1;
        }
        gw_conn_give(conn);
        free(text);
        json_decref(body);
        return r;
}

/*
 * pgvector.
 */

/* Opens conn->pg when needed. */
static int pg_conn(const gw_side_t *s, gw_conn_t *conn, char *errstr,
                   size_t errstr_size) {
        vcdc_url_t *u;
        char info[1024];
        const char *pw = getenv("VCDC_PG_PASSWORD");

        if (conn->pg && PQstatus(conn->pg) == CONNECTION_OK)
                return 0;
        if (conn->pg)
                PQfinish(conn->pg);
        conn->pg = NULL;
        if (!(u = vcdc_url_parse(s->url, errstr, errstr_size)))
                return -1;
        snprintf(info, sizeof(info),
                 "host=%s port=%d user=%s dbname=%s%s%s connect_timeout=10",
                 u->host, u->port ? u->port : 5432,
                 u->user ? u->user : "postgres",
                 u->path && *u->path ? u->path : "postgres",
                 pw ? " password=" : "", pw ? pw : "");
        vcdc_url_destroy(u);
        conn->pg = PQconnectdb(info);
        if (PQstatus(conn->pg) != CONNECTION_OK) {
                snprintf(errstr, errstr_size, "pgvector: %s",
                         PQerrorMessage(conn->pg));
                PQfinish(conn->pg);
                conn->pg = NULL;
                return -1;
        }
        return 0;
}

/* "[1,2,3]" into a new array. */
static float *parse_vec(const char *text, size_t *dimp) {
        size_t n = 1, i = 0;
        const char *p;
        float *v;
        char *end;

        for (p = text; *p; p++)
                n += *p == ',';
        if (!(v = malloc(n * sizeof(*v))))
                return NULL;
        p = text + (*text == '[');
        while (*p && *p != ']' && i < n) {
                v[i++] = strtof(p, &end);
                if (end == p)
                        break;
                p = end + (*end == ',');
        }
        *dimp = i;
        return v;
}

static void rec_from_row(PGresult *res, int row, vcdc_record_t *rec) {
        vcdc_record_init(rec);
        rec->id = strdup(PQgetvalue(res, row, 0));
        if (!PQgetisnull(res, row, 1))
                rec->vector = parse_vec(PQgetvalue(res, row, 1), &rec->dim);
        if (!PQgetisnull(res, row, 2))
                rec->metadata = strdup(PQgetvalue(res, row, 2));
        if (!PQgetisnull(res, row, 3))
                rec->document = strdup(PQgetvalue(res, row, 3));
}

/* The ids array literal {"a","b"} for = ANY($n::text[]). */
static char *ids_literal(char *const *ids, size_t n) {
        vcdc_buf_t b = VCDC_BUF_INIT;
        size_t i;
        const char *p;

        vcdc_buf_putc(&b, '{');
        for (i = 0; i < n; i++) {
                if (i)
                        vcdc_buf_putc(&b, ',');
                vcdc_buf_putc(&b, '"');
                for (p = ids[i]; *p; p++) {
                        if (*p == '"' || *p == '\\')
                                vcdc_buf_putc(&b, '\\');
                        vcdc_buf_putc(&b, *p);
                }
                vcdc_buf_putc(&b, '"');
        }
        vcdc_buf_putc(&b, '}');
        return vcdc_buf_detach(&b, NULL);
}

/*
 * Runs the get or query of r on the table of cs. qi: the query vector's
 * index, or -1 for a get. Fills *recsp (n records) and, for a query,
 * *distp. Returns 0 (a table that does not exist yet has no rows), or -1
 * with resp a 503.
 */
static int pg_select(vcdc_gw_data_t *d, gw_cstate_t *cs,
                     const vcdc_gw_coll_t *c, vcdc_route_side_t side,
                     const vcdc_api_read_t *r, long qi, int ids_only,
                     vcdc_record_t **recsp, float **distp, size_t *np,
                     vcdc_gw_resp_t *resp) {
        gw_side_t *s = &d->side[side];
        gw_conn_t *conn;
        vcdc_filter_sql_t fs;
        vcdc_buf_t sql = VCDC_BUF_INIT;
        const char **params = NULL;
        int *plens = NULL, *pfmts = NULL;
        char *vbin = NULL;
        size_t vlen = 0;
        char *idlit = NULL, *text = NULL, errstr[512], *qt = NULL;
        const char *op = "<=>";
        PGresult *res = NULL;
        int np_ = 0, first = 1, rc = -1, i, rows;
        size_t k;

        memset(&fs, 0, sizeof(fs));
        *recsp = NULL;
        *np = 0;
        if (distp)
                *distp = NULL;
        if (!strcmp(c->metric, "l2"))
                op = "<->";
        else if (!strcmp(c->metric, "ip"))
                op = "<#>";
        if (r->has_ids) {
                idlit = ids_literal(r->ids, r->nids);
                first++;
        }
        if (qi >= 0)
                first++;
        if (vcdc_filter_sql(r->filter, "", first, &fs) == -1 ||
            !(params = calloc(fs.nparams + 3, sizeof(*params))) ||
            !(plens = calloc(fs.nparams + 3, sizeof(*plens))) ||
            !(pfmts = calloc(fs.nparams + 3, sizeof(*pfmts))))
                goto oom;
        /* The name: a Chroma collection name, double-quoted (pg_select()
         * is only reached for names the sink took as a table name, letters,
         * digits and '_'; a quote is doubled all the same). */
        {
                vcdc_buf_t q = VCDC_BUF_INIT;
                const char *c8;

                vcdc_buf_putc(&q, '"');
                for (c8 = cs->name; *c8; c8++) {
                        if (*c8 == '"')
                                vcdc_buf_putc(&q, '"');
                        vcdc_buf_putc(&q, *c8);
                }
                vcdc_buf_putc(&q, '"');
                if (!(qt = vcdc_buf_detach(&q, NULL)))
                        goto oom;
        }
        /* The embeddings only when the answer includes them: their text
         * is most of a row, and parsing it most of a query's time. */
        vcdc_buf_printf(&sql, "SELECT id, %s, metadata::text, document",
                        ids_only || !(r->include.flags &
                                      VCDC_API_INC_EMBEDDINGS)
                                ? "NULL::text"
                                : "embedding::text");
        if (qi >= 0) {
                const float *q = r->queries + (size_t)qi * r->dim;

                vcdc_buf_printf(&sql, ", (embedding %s $%d::vector)::float8",
                                op, r->has_ids ? 2 : 1);
                /* pgvector's binary input: as text, printing the floats
                 * was a fifth of a query's time in the gateway. */
                vlen = vcdc_pgvector_vector_binary_size(r->dim);
                if (!(vbin = malloc(vlen)))
                        goto oom;
                vcdc_pgvector_vector_binary(q, r->dim, vbin);
        }
        vcdc_buf_printf(&sql, " FROM %s WHERE (%s)", qt, fs.sql);
        if (r->has_ids) {
                vcdc_buf_puts(&sql, " AND id = ANY($1::text[])");
                params[np_++] = idlit;
        }
        if (qi >= 0) {
                plens[np_] = (int)vlen;
                pfmts[np_] = 1 /*binary*/;
                params[np_++] = vbin;
                vcdc_buf_puts(&sql, " ORDER BY 5");
                vcdc_buf_printf(&sql, " LIMIT %lld", r->n_results);
        } else {
                vcdc_buf_puts(&sql, " ORDER BY id");
                if (r->limit >= 0)
                        vcdc_buf_printf(&sql, " LIMIT %lld", r->limit);
                if (r->offset > 0)
                        vcdc_buf_printf(&sql, " OFFSET %lld", r->offset);
        }
        for (k = 0; k < fs.nparams; k++)
                params[np_++] = fs.params[k];
        if (!(text = vcdc_buf_detach(&sql, NULL)))
                goto oom;
        conn = gw_conn_take(s);
        if (pg_conn(s, conn, errstr, sizeof(errstr)) == 0) {
                res = PQexecParams(conn->pg, text, np_, NULL, params, plens,
                                   pfmts, 0);
                if (PQresultStatus(res) != PGRES_TUPLES_OK) {
                        const char *state =
                                PQresultErrorField(res, PG_DIAG_SQLSTATE);

                        if (state && !strcmp(state, "42P01"))
                                rc = 0; /* no table yet: no rows */
                        else
                                snprintf(errstr, sizeof(errstr), "pgvector: %s",
                                         PQresultErrorMessage(res));
                        if (PQstatus(conn->pg) != CONNECTION_OK)
                                gw_conn_close(conn);
                } else {
                        rows = PQntuples(res);
                        *recsp = calloc((size_t)rows + 1, sizeof(**recsp));
                        if (distp)
                                *distp = calloc((size_t)rows + 1,
                                                sizeof(**distp));
                        if (*recsp && (!distp || *distp)) {
                                for (i = 0; i < rows; i++) {
                                        rec_from_row(res, i, &(*recsp)[i]);
                                        if (distp) {
                                                double v = strtod(
                                                        PQgetvalue(res, i, 4),
                                                        NULL);
                                                if (!strcmp(c->metric, "l2"))
                                                        v = v * v;
                                                else if (!strcmp(c->metric,
                                                                 "ip"))
                                                        v = 1.0 + v;
                                                (*distp)[i] = (float)v;
                                        }
                                }
                                *np = (size_t)rows;
                                rc = 0;
                        } else
                                snprintf(errstr, sizeof(errstr),
                                         "out of memory");
                }
                PQclear(res);
        }
        gw_conn_give(conn);
        if (rc == -1) {
                vcdc_gw_resp_error(resp, 503, NULL, "%s: %s",
                                   vcdc_route_side_name(side), errstr);
                resp->retry_after = 1;
        }
        goto done;
oom:
        vcdc_gw_resp_error(resp, 500, NULL, "out of memory");
done:
        free(qt);
        free(text);
        free(idlit);
        free(params);
        free(plens);
        free(pfmts);
        free(vbin);
        vcdc_buf_free(&sql);
        vcdc_filter_sql_clear(&fs);
        return rc;
}

static void free_recs(vcdc_record_t *recs, size_t n) {
        size_t i;

        for (i = 0; recs && i < n; i++)
                vcdc_record_clear(&recs[i]);
        free(recs);
}

void gw_read_get(vcdc_gw_data_t *d, gw_cstate_t *cs, const vcdc_gw_coll_t *c,
                 vcdc_route_side_t side, const char *body, size_t len,
                 vcdc_gw_resp_t *resp) {
        vcdc_api_read_t r;
        vcdc_api_error_t err;
        vcdc_record_t *recs = NULL;
        size_t n = 0, alen;
        char *ans;

        memset(&r, 0, sizeof(r));
        vcdc_api_error_clear(&err);
        if (vcdc_api_parse_get(body, len, &r, &err) == -1) {
                vcdc_gw_resp_error(resp, err.status, err.name, "%s",
                                   err.message);
                return;
        }
        if (!d->side[side].is_pg) {
                if (chroma_forward(d, cs, side, "POST", "get", body, len,
                                   resp) != 0)
                        goto done;
        } else if (pg_select(d, cs, c, side, &r, -1, 0, &recs, NULL, &n,
                             resp) == -1)
                goto done;
        if (!(ans = vcdc_api_get_result(recs, n, &r.include, &alen)))
                vcdc_gw_resp_error(resp, 500, NULL, "out of memory");
        else
                vcdc_gw_resp_json_take(resp, 200, ans, alen);
done:
        free_recs(recs, n);
        vcdc_api_read_clear(&r);
}

void gw_read_query(vcdc_gw_data_t *d, gw_cstate_t *cs, const vcdc_gw_coll_t *c,
                   vcdc_route_side_t side, const char *body, size_t len,
                   vcdc_gw_resp_t *resp) {
        gw_read_query_dim(d, cs, c, side, gw_read_dim(d, cs, side), body,
                          len, resp);
}

void gw_read_query_dim(vcdc_gw_data_t *d, gw_cstate_t *cs,
                       const vcdc_gw_coll_t *c, vcdc_route_side_t side,
                       size_t dim, const char *body, size_t len,
                       vcdc_gw_resp_t *resp) {
        vcdc_api_read_t r;
        vcdc_api_error_t err;
        vcdc_api_hits_t *hits = NULL;
        vcdc_record_t **recs = NULL;
        float **dists = NULL;
        size_t q, alen;
        char *ans;

        memset(&r, 0, sizeof(r));
        vcdc_api_error_clear(&err);
        if (vcdc_api_parse_query(body, len, dim, &r, &err) == -1) {
                vcdc_gw_resp_error(resp, err.status, err.name, "%s",
                                   err.message);
                return;
        }
        if (!d->side[side].is_pg) {
                if (chroma_forward(d, cs, side, "POST", "query", body, len,
                                   resp) != 0)
                        goto done;
        }
        if (!(hits = calloc(r.nqueries + 1, sizeof(*hits))) ||
            !(recs = calloc(r.nqueries + 1, sizeof(*recs))) ||
            !(dists = calloc(r.nqueries + 1, sizeof(*dists)))) {
                vcdc_gw_resp_error(resp, 500, NULL, "out of memory");
                goto done;
        }
        for (q = 0; d->side[side].is_pg && q < r.nqueries; q++) {
                if (pg_select(d, cs, c, side, &r, (long)q, 0, &recs[q],
                              &dists[q], &hits[q].n, resp) == -1)
                        goto done;
                hits[q].recs = recs[q];
                hits[q].distances = dists[q];
        }
        if (!(ans = vcdc_api_query_result(hits, r.nqueries, &r.include, &alen)))
                vcdc_gw_resp_error(resp, 500, NULL, "out of memory");
        else
                vcdc_gw_resp_json_take(resp, 200, ans, alen);
done:
        for (q = 0; hits && q < r.nqueries; q++) {
                free_recs(recs[q], hits[q].n);
                free(dists[q]);
        }
        free(hits);
        free(recs);
        free(dists);
        vcdc_api_read_clear(&r);
}

void gw_read_count(vcdc_gw_data_t *d, gw_cstate_t *cs, const vcdc_gw_coll_t *c,
                   vcdc_route_side_t side, vcdc_gw_resp_t *resp) {
        uint64_t n = 0;
        vcdc_sink_t *sink;
        vcdc_sink_status_t st = VCDC_SINK_FATAL;
        char errstr[512], text[32];

        (void)c;
        if (!d->side[side].is_pg &&
            chroma_forward(d, cs, side, "GET", "count", NULL, 0, resp) != 0)
                return;
        pthread_mutex_lock(&cs->wlock);
        if ((sink = gw_sink(d, cs, side, errstr, sizeof(errstr))))
                st = vcdc_sink_count(sink, &n, errstr, sizeof(errstr));
        pthread_mutex_unlock(&cs->wlock);
        if (st != VCDC_SINK_OK) {
                vcdc_gw_resp_error(resp, 503, NULL, "%s: %s",
                                   vcdc_route_side_name(side), errstr);
                return;
        }
        snprintf(text, sizeof(text), "%llu", (unsigned long long)n);
        vcdc_gw_resp_json(resp, 200, text, strlen(text));
}

int gw_read_ids(vcdc_gw_data_t *d, gw_cstate_t *cs, const vcdc_gw_coll_t *c,
                vcdc_route_side_t side, const vcdc_api_read_t *r,
                const char *body, size_t len, char ***idsp, size_t *nidsp,
                vcdc_gw_resp_t *resp) {
        vcdc_record_t *recs = NULL;
        vcdc_gw_resp_t sub;
        json_t *obj = NULL, *ids;
        size_t n = 0, i;
        char *text = NULL;
        int rc = -1;

        *idsp = NULL;
        *nidsp = 0;
        memset(&sub, 0, sizeof(sub));
        if (d->side[side].is_pg) {
                if (pg_select(d, cs, c, side, r, -1, 1, &recs, NULL, &n,
                              resp) == -1)
                        return -1;
                if (!(*idsp = calloc(n + 1, sizeof(**idsp))))
                        goto oom;
                for (i = 0; i < n; i++) {
                        (*idsp)[i] = recs[i].id;
                        recs[i].id = NULL;
                }
                *nidsp = n;
                free_recs(recs, n);
                return 0;
        }
        /* Chroma: a get of the same ids and filters, no fields. */
        if (!(obj = json_loadb(body, len, 0, NULL)) || !json_is_object(obj))
                goto oom;
        json_object_set_new(obj, "include", json_array());
        if (!(text = json_dumps(obj, JSON_COMPACT)))
                goto oom;
        i = (size_t)chroma_forward(d, cs, side, "POST", "get", text,
                                   strlen(text), &sub);
        json_decref(obj);
        obj = NULL;
        if ((int)i == 0) { /* no collection yet: nothing to delete */
                rc = 0;
                goto done;
        }
        if (sub.status != 200) {
                *resp = sub;
                memset(&sub, 0, sizeof(sub));
                goto done;
        }
        if (!(obj = json_loadb(sub.body, sub.len, 0, NULL)) ||
            !json_is_array(ids = json_object_get(obj, "ids")))
                goto oom;
        if (!(*idsp = calloc(json_array_size(ids) + 1, sizeof(**idsp))))
                goto oom;
        for (i = 0; i < json_array_size(ids); i++)
                if (json_is_string(json_array_get(ids, i)) &&
                    ((*idsp)[(*nidsp)] =
                             strdup(json_string_value(json_array_get(ids, i)))))
                        (*nidsp)++;
        rc = 0;
        goto done;
oom:
        vcdc_gw_resp_error(resp, 500, NULL, "out of memory");
done:
        free(text);
        json_decref(obj);
        vcdc_gw_resp_clear(&sub);
        return rc;
}
