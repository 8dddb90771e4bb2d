/*
 * vcdc gateway - the data layer's context and the collection routes
 * (create, get-or-create, list, count, get, modify, delete). The record
 * writes are in gwwrite.c, the reads in gwread.c.
 */
#include "gwdata_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "api_result.h"
#include "audit.h"
#include "gwshadow.h"
#include "clock.h"
#include "log.h"
#include "url.h"

#define FOLLOW_POLL_MS 100

void gw_conn_close(gw_conn_t *c) {
        vcdc_http_destroy(c->http);
        c->http = NULL;
        if (c->pg)
                PQfinish(c->pg);
        c->pg = NULL;
}

void gw_side_close(gw_side_t *s) {
        int i;

        for (i = 0; i < s->nconn; i++)
                gw_conn_close(&s->conn[i]);
        if (s->nconn) {
                pthread_mutex_destroy(&s->pool_lock);
                pthread_cond_destroy(&s->pool_cond);
        }
}

gw_conn_t *gw_conn_take(gw_side_t *s) {
        gw_conn_t *c = NULL;
        int i;

        pthread_mutex_lock(&s->pool_lock);
        while (!c) {
                for (i = 0; !c && i < s->nconn; i++)
                        if (!s->conn[i].busy)
                                c = &s->conn[i];
                if (!c)
                        pthread_cond_wait(&s->pool_cond, &s->pool_lock);
        }
        c->busy = 1;
        pthread_mutex_unlock(&s->pool_lock);
        return c;
}

void gw_conn_give(gw_conn_t *c) {
        gw_side_t *s = c->side;

        pthread_mutex_lock(&s->pool_lock);
        c->busy = 0;
        pthread_cond_signal(&s->pool_cond);
        pthread_mutex_unlock(&s->pool_lock);
}

static int side_init(gw_side_t *s, const char *url, const char *tenant,
                     const char *database, int nconn, char *errstr,
                     size_t errstr_size) {
        vcdc_url_t *u = vcdc_url_parse(url, errstr, errstr_size);
        char buf[512];
        int i;

        if (!u)
                return -1;
        pthread_mutex_init(&s->pool_lock, NULL);
        pthread_cond_init(&s->pool_cond, NULL);
        s->nconn = nconn;
        for (i = 0; i < nconn; i++)
                s->conn[i].side = s;
        s->is_pg = !strcmp(u->scheme, "pgvector");
        s->url = strdup(url);
        if (s->is_pg)
                s->base = strdup(url);
        else {
                snprintf(buf, sizeof(buf), "http://%s:%d", u->host,
                         u->port ? u->port : 8000);
                s->base = strdup(buf);
        }
        snprintf(buf, sizeof(buf), "/api/v2/tenants/%s/databases/%s", tenant,
                 database);
        s->prefix = strdup(buf);
        vcdc_url_destroy(u);
        if (!s->url || !s->base || !s->prefix) {
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        return 0;
}

vcdc_gw_data_t *vcdc_gw_data_new(const vcdc_gw_data_opts_t *opts, char *errstr,
                                 size_t errstr_size) {
        vcdc_gw_data_t *d = calloc(1, sizeof(*d));
        int i, parts = 0, nconn;

        if (!d) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        d->conf = opts->conf;
        d->ack_applied = opts->ack_applied;
        d->audit = opts->audit;
        d->applied_timeout_ms = (int)vcdc_conf_int(
                opts->conf, "vcdc.gateway.applied.timeout.ms");
        d->log_timeout_ms = 15000;
        {
                rd_kafka_conf_t *rkc = vcdc_conf_kafka_dup(opts->conf);
                char v[32];
                size_t vsize = sizeof(v);
                int64_t ms;

                if (rkc &&
                    rd_kafka_conf_get(rkc, "message.timeout.ms", v, &vsize) ==
                            RD_KAFKA_CONF_OK &&
                    vcdc_conf_parse_int(v, 1, 3600000, &ms) == 0)
                        d->log_timeout_ms = (int)ms + 5000;
                if (rkc)
                        rd_kafka_conf_destroy(rkc);
        }
        if (!(d->pending = vcdc_gw_pending_new(
                      (size_t)vcdc_conf_int(opts->conf,
                                            "vcdc.gateway.pending.max.bytes"),
                      errstr, errstr_size))) {
                free(d);
                return NULL;
        }
        pthread_mutex_init(&d->plock, NULL);
        pthread_mutex_init(&d->clock, NULL);
        for (i = 0; i < GW_ID_STRIPES; i++)
                pthread_mutex_init(&d->idlock[i], NULL);
        if (!(d->topic = strdup(opts->topic)) ||
            !(d->control_topic = strdup(vcdc_conf_str(
                      opts->conf, "vcdc.gateway.control.topic"))) ||
            !(d->tenant = strdup(
                      vcdc_conf_str(opts->conf, "vcdc.gateway.tenant"))) ||
            !(d->database = strdup(
                      vcdc_conf_str(opts->conf, "vcdc.gateway.database")))) {
                snprintf(errstr, errstr_size, "out of memory");
                goto err;
        }
        nconn = (int)vcdc_conf_int(opts->conf, "vcdc.gateway.connections");
        if (side_init(&d->side[VCDC_ROUTE_OLD], opts->old_url, d->tenant,
                      d->database, nconn, errstr, errstr_size) ||
            side_init(&d->side[VCDC_ROUTE_NEW], opts->new_url, d->tenant,
                      d->database, nconn, errstr, errstr_size))
                goto err;
        if (!(d->producer = vcdc_producer_new(opts->conf, opts->topic, errstr,
                                              errstr_size)))
                goto err;
        vcdc_producer_set_dr_hook(d->producer, gw_on_delivery, d);
        if (vcdc_producer_ensure_topic(d->producer, 0 /*refuse missing*/, 0,
                                       errstr, errstr_size) == -1)
                goto err;
        if (vcdc_admin_partition_count(vcdc_producer_handle(d->producer),
                                       d->topic, &parts, 10000, errstr,
                                       errstr_size) == -1)
                goto err;
        if (parts > GW_MAX_PARTITIONS) {
                snprintf(errstr, errstr_size,
                         "topic %s has %d partitions: the gateway tracks at "
                         "most %d",
                         d->topic, parts, GW_MAX_PARTITIONS);
                goto err;
        }
        if (!(d->shadow = gw_shadow_new(
                      d, opts->shadow_rate,
                      (size_t)vcdc_conf_int(opts->conf,
                                            "vcdc.gateway.shadow.queue"),
                      (size_t)vcdc_conf_int(opts->conf,
                                            "vcdc.gateway.shadow.queue.bytes"),
                      (unsigned)vcdc_conf_int(opts->conf,
                                              "vcdc.gateway.shadow.threads"),
                      errstr, errstr_size)))
                goto err;
        if (!(d->colls = vcdc_gw_colls_new(opts->conf,
                                           vcdc_producer_handle(d->producer),
                                           d->control_topic, d->tenant,
                                           d->database, errstr, errstr_size)))
                goto err;
        return d;
err:
        vcdc_gw_data_destroy(d);
        return NULL;
}

void vcdc_gw_data_flush(void *opaque) {
        vcdc_gw_data_t *d = opaque;
        char errstr[512];

        if (!d)
                return;
        pthread_mutex_lock(&d->plock);
        if (vcdc_producer_flush(d->producer, 30000, errstr, sizeof(errstr)))
                VCDC_ERR("gateway", "flushing the producer: %s", errstr);
        pthread_mutex_unlock(&d->plock);
}

size_t vcdc_gw_data_render_metrics(vcdc_gw_data_t *d, char *buf, size_t size) {
        return gw_shadow_render(d ? d->shadow : NULL, buf, size);
}

void vcdc_gw_data_destroy(vcdc_gw_data_t *d) {
        gw_cstate_t *cs, *next;
        int i;

        if (!d)
                return;
        gw_shadow_destroy(d->shadow); /* its workers read through d */
        for (cs = d->cstates; cs; cs = next) {
                next = cs->next;
                vcdc_route_follower_destroy(cs->follower);
                vcdc_sink_destroy(cs->sink[0]);
                vcdc_sink_destroy(cs->sink[1]);
                pthread_mutex_destroy(&cs->lock);
                pthread_mutex_destroy(&cs->wlock);
                free(cs->name);
                free(cs);
        }
        vcdc_gw_colls_destroy(d->colls);
        vcdc_producer_destroy(d->producer);
        vcdc_gw_pending_destroy(d->pending);
        for (i = 0; i < 2; i++) {
                gw_side_close(&d->side[i]);
                free(d->side[i].url);
                free(d->side[i].base);
                free(d->side[i].prefix);
        }
        free(d->topic);
        free(d->control_topic);
        free(d->tenant);
        free(d->database);
        free(d);
}

gw_cstate_t *gw_cstate(vcdc_gw_data_t *d, const char *name,
                       vcdc_gw_resp_t *resp) {
        gw_cstate_t *cs;
        char errstr[512];

        pthread_mutex_lock(&d->clock);
        for (cs = d->cstates; cs; cs = cs->next)
                if (!strcmp(cs->name, name))
                        break;
        if (!cs) {
                if (!(cs = calloc(1, sizeof(*cs))) ||
                    !(cs->name = strdup(name))) {
                        free(cs);
                        pthread_mutex_unlock(&d->clock);
                        vcdc_gw_resp_error(resp, 500, NULL, "out of memory");
                        return NULL;
                }
                pthread_mutex_init(&cs->lock, NULL);
                pthread_mutex_init(&cs->wlock, NULL);
                cs->next = d->cstates;
                d->cstates = cs;
        }
        pthread_mutex_unlock(&d->clock);
        pthread_mutex_lock(&cs->lock);
        if (!cs->follower) {
                cs->follower =
                        vcdc_route_follower_new(d->conf, d->control_topic, name,
                                                errstr, sizeof(errstr));
                if (!cs->follower) {
                        pthread_mutex_unlock(&cs->lock);
                        vcdc_gw_resp_error(resp, 503, NULL,
                                           "the route of %s is not known: %s",
                                           name, errstr);
                        return NULL;
                }
                cs->side = vcdc_route_follower_side(cs->follower);
                cs->polled_ms = vcdc_clock_ms();
        }
        pthread_mutex_unlock(&cs->lock);
        return cs;
}

/* A switch of cs's route seen: logged, and a line in the audit
 * (method "ROUTE", path "ACTION old->new"). Call with cs->lock held. */
static void switched(vcdc_gw_data_t *d, gw_cstate_t *cs) {
        const vcdc_route_record_t *rec =
                vcdc_route_follower_record(cs->follower);
        vcdc_route_side_t now = vcdc_route_follower_side(cs->follower);
        vcdc_gw_audit_entry_t e;
        char what[64];

        snprintf(what, sizeof(what), "%s %s->%s",
                 rec && rec->action ? rec->action : "switch",
                 vcdc_route_side_name(cs->side), vcdc_route_side_name(now));
        VCDC_NOTICE("gateway", "route of %s switched (%s): reads go to %s",
                    cs->name, what, vcdc_route_side_name(now));
        if (!d->audit)
                return;
        memset(&e, 0, sizeof(e));
        e.ts_ms = vcdc_wall_ms();
        e.who = rec && rec->user ? rec->user : "-";
        e.method = "ROUTE";
        e.path = what;
        e.collection = cs->name;
        e.ids = -1;
        e.status = 200;
        vcdc_gw_audit_write(d->audit, &e);
}

vcdc_route_side_t gw_serving_side(vcdc_gw_data_t *d, gw_cstate_t *cs) {
        vcdc_route_side_t side;
        int64_t now = vcdc_clock_ms();

        pthread_mutex_lock(&cs->lock);
        if (now - cs->polled_ms >= FOLLOW_POLL_MS) {
                if (vcdc_route_follower_poll(cs->follower, 0) == 1)
                        switched(d, cs);
                cs->side = vcdc_route_follower_side(cs->follower);
                cs->polled_ms = now;
        }
        side = cs->side;
        pthread_mutex_unlock(&cs->lock);
        return side;
}

vcdc_sink_t *gw_sink(vcdc_gw_data_t *d, gw_cstate_t *cs, vcdc_route_side_t side,
                     char *errstr, size_t errstr_size) {
        char url[1024];
        const gw_side_t *s = &d->side[side];

        if (cs->sink[side])
                return cs->sink[side];
        if (s->is_pg)
                snprintf(url, sizeof(url), "%s%ctable=%s", s->url,
                         strchr(s->url, '?') ? '&' : '?', cs->name);
        else
                snprintf(url, sizeof(url), "%s/%s", s->url, cs->name);
        cs->sink[side] = vcdc_sink_new(url, NULL, errstr, errstr_size);
        return cs->sink[side];
}

size_t gw_dim(vcdc_gw_data_t *d, gw_cstate_t *cs, vcdc_route_side_t side) {
        char errstr[512];
        int64_t now = vcdc_clock_ms();
        vcdc_sink_t *sink = gw_sink(d, cs, side, errstr, sizeof(errstr));
        size_t dim = sink ? vcdc_sink_dim(sink) : 0, written;

        pthread_mutex_lock(&cs->lock);
        written = cs->written_dim;
        pthread_mutex_unlock(&cs->lock);
        if (dim == 0 && written)
                return written;
        if (sink && dim == 0 && now - cs->dim_probed_ms[side] >= 1000) {
                cs->dim_probed_ms[side] = now;
                vcdc_sink_destroy(cs->sink[side]);
                cs->sink[side] = NULL;
                if ((sink = gw_sink(d, cs, side, errstr, sizeof(errstr))))
                        dim = vcdc_sink_dim(sink);
        }
        pthread_mutex_lock(&cs->lock);
        cs->dim[side] = dim;
        pthread_mutex_unlock(&cs->lock);
        return dim;
}

size_t gw_read_dim(vcdc_gw_data_t *d, gw_cstate_t *cs,
                   vcdc_route_side_t side) {
        size_t dim;

        if (pthread_mutex_trylock(&cs->wlock) == 0) {
                dim = gw_dim(d, cs, side);
                pthread_mutex_unlock(&cs->wlock);
                return dim;
        }
        pthread_mutex_lock(&cs->lock);
        dim = cs->dim[side] ? cs->dim[side] : cs->written_dim;
        pthread_mutex_unlock(&cs->lock);
        if (dim)
                return dim;
        pthread_mutex_lock(&cs->wlock);
        dim = gw_dim(d, cs, side);
        pthread_mutex_unlock(&cs->wlock);
        return dim;
}

/*
 * The collection routes.
 */

static const char *param(const vcdc_gw_req_t *req, const char *name) {
        const char *v = vcdc_gw_req_param(req, name);

        return v ? v : "";
}

/* 1 when the path's tenant and database are the ones served, else 0
 * with resp the 404 Chroma words. */
static int scope_ok(const vcdc_gw_data_t *d, const vcdc_gw_req_t *req,
                    vcdc_gw_resp_t *resp) {
        const char *t = param(req, "tenant"), *db = param(req, "database");

        if (strcmp(t, d->tenant)) {
                vcdc_gw_resp_error(resp, 404, NULL, "Tenant [%s] not found", t);
                return 0;
        }
        if (strcmp(db, d->database)) {
                vcdc_gw_resp_error(resp, 404, NULL,
                                   "Database [%s] not found. Are you sure "
                                   "it exists?",
                                   db);
                return 0;
        }
        return 1;
}

/* The collection object of c; dimension from the serving side when its
 * sink is open. */
static void answer_coll(vcdc_gw_data_t *d, const vcdc_gw_coll_t *c,
                        vcdc_gw_resp_t *resp, int status) {
        vcdc_api_collection_t ac;
        size_t len;
        char *text;

        memset(&ac, 0, sizeof(ac));
        ac.id = c->id;
        ac.name = c->name;
        ac.configuration_json = c->configuration_json;
        ac.metadata = c->metadata;
        ac.tenant = d->tenant;
        ac.database = d->database;
        if (!(text = vcdc_api_collection_result(&ac, &len))) {
                vcdc_gw_resp_error(resp, 500, NULL, "out of memory");
                return;
        }
        vcdc_gw_resp_json_take(resp, status, text, len);
}

static void api_error(vcdc_gw_resp_t *resp, const vcdc_api_error_t *err) {
        vcdc_gw_resp_error(resp, err->status, err->name, "%s", err->message);
}

static void create_coll(vcdc_gw_req_t *req, vcdc_gw_resp_t *resp,
                        void *opaque) {
        vcdc_gw_data_t *d = opaque;
        vcdc_api_collection_req_t creq;
        vcdc_api_error_t err;
        vcdc_gw_coll_t c;
        char errstr[512];
        int found, i;

        memset(&creq, 0, sizeof(creq));
        memset(&c, 0, sizeof(c));
        vcdc_api_error_clear(&err);
        if (!scope_ok(d, req, resp))
                return;
        if (vcdc_api_parse_create_collection(req->body, req->body_len, &creq,
                                             &err) == -1) {
                api_error(resp, &err);
                goto done;
        }
        if (!vcdc_gw_req_allow(req, resp, creq.name))
                goto done;
        if ((found = vcdc_gw_colls_find(d->colls, creq.name, 0, &c)) == -1) {
                vcdc_gw_resp_error(resp, 500, NULL, "out of memory");
                goto done;
        }
        if (found) {
                if (creq.get_or_create)
                        answer_coll(d, &c, resp, 200);
                else
                        vcdc_gw_resp_error(resp, 409, "UniqueConstraintError",
                                           "Collection [%s] already exists",
                                           creq.name);
                goto done;
        }
        c.name = creq.name;
        creq.name = NULL;
        c.metadata = creq.metadata;
        creq.metadata = NULL;
        if (!(c.configuration_json =
                      vcdc_api_configuration_json(creq.configuration))) {
                vcdc_gw_resp_error(resp, 500, NULL, "out of memory");
                goto done;
        }
        pthread_mutex_lock(&d->plock);
        i = vcdc_gw_colls_put(d->colls, &c, errstr, sizeof(errstr));
        pthread_mutex_unlock(&d->plock);
        if (i == -1) {
                vcdc_gw_resp_error(resp, 503, NULL, "%s", errstr);
                goto done;
        }
        /* The consumers create a Chroma collection on their first write,
         * with the metric they are configured with: make it now with the
         * collection's space, so they find it right. */
        for (i = 0; i < 2; i++)
                if (!d->side[i].is_pg &&
                    gw_chroma_create(d, (vcdc_route_side_t)i, &c, errstr,
                                     sizeof(errstr)) == -1)
                        VCDC_WARN("gateway",
                                  "collection %s: not created on %s yet "
                                  "(the consumer will): %s",
                                  c.name, vcdc_route_side_name(i), errstr);
        VCDC_INFO("gateway", "collection %s created (id %s, space %s)", c.name,
                  c.id, c.metric);
        answer_coll(d, &c, resp, 200);
done:
        vcdc_gw_coll_clear(&c);
        vcdc_api_collection_req_clear(&creq);
}

static void list_colls(vcdc_gw_req_t *req, vcdc_gw_resp_t *resp, void *opaque) {
        vcdc_gw_data_t *d = opaque;
        vcdc_gw_coll_t *cs = NULL;
        vcdc_api_collection_t *acs = NULL;
        const char *lim = vcdc_gw_req_query(req, "limit");
        const char *off = vcdc_gw_req_query(req, "offset");
        long n, i, k = 0, skip = off ? strtol(off, NULL, 10) : 0;
        long max = lim ? strtol(lim, NULL, 10) : -1;
        size_t len;
        char *text;

        if (!scope_ok(d, req, resp))
                return;
        if ((n = vcdc_gw_colls_list(d->colls, &cs)) < 0 ||
            !(acs = calloc((size_t)n + 1, sizeof(*acs)))) {
                vcdc_gw_resp_error(resp, 500, NULL, "out of memory");
                goto done;
        }
        for (i = 0; i < n; i++) {
                if (!vcdc_gw_req_may_see(req, cs[i].name))
                        continue;
                if (skip > 0) {
                        skip--;
                        continue;
                }
                if (max >= 0 && k >= max)
                        break;
                acs[k].id = cs[i].id;
                acs[k].name = cs[i].name;
                acs[k].configuration_json = cs[i].configuration_json;
                acs[k].metadata = cs[i].metadata;
                acs[k].tenant = d->tenant;
                acs[k].database = d->database;
                k++;
        }
        if (!(text = vcdc_api_collections_result(acs, (size_t)k, &len)))
                vcdc_gw_resp_error(resp, 500, NULL, "out of memory");
        else
                vcdc_gw_resp_json_take(resp, 200, text, len);
done:
        for (i = 0; i < n; i++)
                vcdc_gw_coll_clear(&cs[i]);
        free(cs);
        free(acs);
}

static void count_colls(vcdc_gw_req_t *req, vcdc_gw_resp_t *resp,
                        void *opaque) {
        vcdc_gw_data_t *d = opaque;
        vcdc_gw_coll_t *cs = NULL;
        long n, i, k = 0;
        char text[32];

        if (!scope_ok(d, req, resp))
                return;
        if ((n = vcdc_gw_colls_list(d->colls, &cs)) < 0) {
                vcdc_gw_resp_error(resp, 500, NULL, "out of memory");
                return;
        }
        for (i = 0; i < n; i++) {
                k += vcdc_gw_req_may_see(req, cs[i].name);
                vcdc_gw_coll_clear(&cs[i]);
        }
        free(cs);
        snprintf(text, sizeof(text), "%ld", k);
        vcdc_gw_resp_json(resp, 200, text, strlen(text));
}

static void get_coll(vcdc_gw_req_t *req, vcdc_gw_resp_t *resp, void *opaque) {
        vcdc_gw_data_t *d = opaque;
        const char *name = param(req, "collection_name");
        vcdc_gw_coll_t c;
        int found;

        memset(&c, 0, sizeof(c));
        if (!scope_ok(d, req, resp))
                return;
        if ((found = vcdc_gw_colls_find(d->colls, name, 0, &c)) == 1)
                answer_coll(d, &c, resp, 200);
        else if (found == 0)
                vcdc_gw_resp_error(resp, 404, NULL,
                                   "Collection [%s] does not exists", name);
        else
                vcdc_gw_resp_error(resp, 500, NULL, "out of memory");
        vcdc_gw_coll_clear(&c);
}

/* The collection of the path's {collection_id}: 1 with *c filled, or 0
 * with resp filled (404, 403). */
int gw_coll_by_id(vcdc_gw_data_t *d, vcdc_gw_req_t *req, vcdc_gw_resp_t *resp,
                  vcdc_gw_coll_t *c) {
        const char *id = param(req, "collection_id");
        int found;

        if (!scope_ok(d, req, resp))
                return 0;
        if ((found = vcdc_gw_colls_find(d->colls, id, 1, c)) == -1) {
                vcdc_gw_resp_error(resp, 500, NULL, "out of memory");
                return 0;
        }
        if (!found) {
                vcdc_gw_resp_error(resp, 404, NULL,
                                   "Collection [%s] does not exists", id);
                return 0;
        }
        if (!vcdc_gw_req_allow(req, resp, c->name)) {
                vcdc_gw_coll_clear(c);
                return 0;
        }
        return 1;
}

static void modify_coll(vcdc_gw_req_t *req, vcdc_gw_resp_t *resp,
                        void *opaque) {
        vcdc_gw_data_t *d = opaque;
        vcdc_api_collection_req_t mreq;
        vcdc_api_error_t err;
        vcdc_gw_coll_t c;
        char errstr[512];
        int r;

        memset(&mreq, 0, sizeof(mreq));
        memset(&c, 0, sizeof(c));
        vcdc_api_error_clear(&err);
        if (!gw_coll_by_id(d, req, resp, &c))
                return;
        if (vcdc_api_parse_modify_collection(req->body, req->body_len, &mreq,
                                             &err) == -1) {
                api_error(resp, &err);
                goto done;
        }
        if (mreq.name && strcmp(mreq.name, c.name)) {
                /* The name is the change records' collection and the
                 * route's key: renaming would split a collection's
                 * history in two. */
                vcdc_gw_resp_error(resp, 400, NULL,
                                   "vcdc-gateway does not rename "
                                   "collections: the name %s is the key of "
                                   "its records in the log",
                                   c.name);
                goto done;
        }
        if (mreq.configuration) {
                vcdc_gw_resp_error(resp, 400, NULL,
                                   "vcdc-gateway does not change a "
                                   "collection's configuration");
                goto done;
        }
        if (mreq.metadata) {
                free(c.metadata);
                c.metadata = mreq.metadata;
                mreq.metadata = NULL;
                pthread_mutex_lock(&d->plock);
                r = vcdc_gw_colls_put(d->colls, &c, errstr, sizeof(errstr));
                pthread_mutex_unlock(&d->plock);
                if (r == -1) {
                        vcdc_gw_resp_error(resp, 503, NULL, "%s", errstr);
                        goto done;
                }
        }
        vcdc_gw_resp_json(resp, 200, "{}", 2);
done:
        vcdc_gw_coll_clear(&c);
        vcdc_api_collection_req_clear(&mreq);
}

static void delete_coll(vcdc_gw_req_t *req, vcdc_gw_resp_t *resp,
                        void *opaque) {
        (void)opaque;
        /* Decided: refused. The log is the source of truth and keeps a
         * collection's records; dropping it in one database would make
         * the sides differ, and a delete of every id is an application's
         * own choice (collection.delete(where=...)). */
        vcdc_gw_resp_error(resp, 409, NULL,
                           "vcdc-gateway does not delete collections "
                           "(%s): delete its records "
                           "(collection.delete) or retire it with vcdc",
                           param(req, "collection_name"));
}

int gw_add_routes(vcdc_gw_data_t *d, vcdc_gw_router_t *router,
                  const gw_route_t *routes, size_t cnt, char *errstr,
                  size_t errstr_size) {
        size_t i;

        for (i = 0; i < cnt; i++)
                if (vcdc_gw_router_add(router, routes[i].method,
                                       routes[i].pattern, routes[i].handler, d,
                                       errstr, errstr_size) == -1)
                        return -1;
        return 0;
}

int vcdc_gw_data_add_routes(vcdc_gw_data_t *d, vcdc_gw_router_t *router,
                            char *errstr, size_t errstr_size) {
#define D "/api/v2/tenants/{tenant}/databases/{database}"
        static const gw_route_t routes[] = {
                {"POST", D "/collections", create_coll},
                {"GET", D "/collections", list_colls},
                {"GET", D "/collections_count", count_colls},
                {"GET", D "/collections/{collection_name}", get_coll},
                {"PUT", D "/collections/{collection_id}", modify_coll},
                {"DELETE", D "/collections/{collection_name}", delete_coll},
        };
#undef D

        if (gw_add_routes(d, router, routes, sizeof(routes) / sizeof(*routes),
                          errstr, errstr_size) == -1)
                return -1;
        return gw_write_add_routes(d, router, errstr, errstr_size);
}
