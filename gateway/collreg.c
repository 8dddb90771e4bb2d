/*
 * vcdc gateway - the collection registry: in memory, persisted on the
 * control topic as "kind": "collection" records (collreg.h).
 */
#include "collreg.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "api_result.h"
#include "clock.h"
#include "ctltopic.h"
#include "log.h"
#include "record.h"
#include "route.h"

#define KEY_PREFIX     "vcdc.collection/"
#define PUT_TIMEOUT_MS 15000

struct vcdc_gw_colls_s {
        pthread_mutex_t lock;
        const vcdc_conf_t *conf;
        rd_kafka_t *rk; /* the caller's producer */
        char *topic, *tenant, *database;
        vcdc_gw_coll_t *v;
        size_t n, cap;
};

void vcdc_gw_coll_clear(vcdc_gw_coll_t *c) {
        if (!c)
                return;
        free(c->name);
        free(c->metadata);
        free(c->configuration_json);
        memset(c, 0, sizeof(*c));
}

static int coll_copy(vcdc_gw_coll_t *dst, const vcdc_gw_coll_t *src) {
        memset(dst, 0, sizeof(*dst));
        memcpy(dst->id, src->id, sizeof(dst->id));
        dst->metric = src->metric;
        if (!(dst->name = strdup(src->name)) ||
            (src->metadata && !(dst->metadata = strdup(src->metadata))) ||
            !(dst->configuration_json = strdup(src->configuration_json))) {
                vcdc_gw_coll_clear(dst);
                return -1;
        }
        return 0;
}

void vcdc_gw_coll_id(const char *tenant, const char *database, const char *name,
                     char id[37]) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int mdlen = 0;
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        static const char hex[] = "0123456789abcdef";
        size_t i, o = 0;

        memset(md, 0, sizeof(md));
        if (ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
                EVP_DigestUpdate(ctx, "vcdc-collection\0", 16);
                EVP_DigestUpdate(ctx, tenant, strlen(tenant) + 1);
                EVP_DigestUpdate(ctx, database, strlen(database) + 1);
                EVP_DigestUpdate(ctx, name, strlen(name));
                EVP_DigestFinal_ex(ctx, md, &mdlen);
        }
        EVP_MD_CTX_free(ctx);
        md[6] = (unsigned char)((md[6] & 0x0f) | 0x80); /* version 8 */
        md[8] = (unsigned char)((md[8] & 0x3f) | 0x80); /* RFC 4122 variant */
        for (i = 0; i < 16; i++) {
                if (i == 4 || i == 6 || i == 8 || i == 10)
                        id[o++] = '-';
                id[o++] = hex[md[i] >> 4];
                id[o++] = hex[md[i] & 15];
        }
        id[o] = '\0';
}

static const char *metric_of(const char *configuration_json) {
        const char *space = vcdc_api_configuration_space(configuration_json);

        if (!strcmp(space, "cosine"))
                return "cosine";
        if (!strcmp(space, "ip"))
                return "ip";
        return "l2";
}

/* Keeps c (taking what it owns) in place of the one of its name. */
static int keep(vcdc_gw_colls_t *colls, vcdc_gw_coll_t *c) {
        size_t i;

        for (i = 0; i < colls->n; i++)
                if (!strcmp(colls->v[i].name, c->name)) {
                        vcdc_gw_coll_clear(&colls->v[i]);
                        colls->v[i] = *c;
                        memset(c, 0, sizeof(*c));
                        return 0;
                }
        if (colls->n == colls->cap) {
                size_t cap = colls->cap ? colls->cap * 2 : 16;
                vcdc_gw_coll_t *v = realloc(colls->v, cap * sizeof(*v));

                if (!v)
                        return -1;
                colls->v = v;
                colls->cap = cap;
        }
        colls->v[colls->n++] = *c;
        memset(c, 0, sizeof(*c));
        return 0;
}

int vcdc_gw_coll_parse(const void *key, size_t key_len, const void *value,
                       size_t len, const char *tenant, const char *database,
                       vcdc_gw_coll_t *out, char *errstr, size_t errstr_size) {
        size_t plen = strlen(KEY_PREFIX);
        json_t *obj = NULL, *v, *name;
        json_error_t jerr;
        const char *s;
        int r = -1;

        memset(out, 0, sizeof(*out));
        if (!key || key_len < plen || memcmp(key, KEY_PREFIX, plen))
                return 0;
        if (!value || !(obj = json_loadb(value, len, 0, &jerr))) {
                snprintf(errstr, errstr_size, "not JSON: %s",
                         value ? jerr.text : "no value");
                goto done;
        }
        name = json_object_get(obj, "collection");
        if (!json_is_object(obj) || !json_is_string(name)) {
                snprintf(errstr, errstr_size,
                         "not an object with a string \"collection\"");
                goto done;
        }
        /* The name keys the record: the key's, whole, within the limit
         * (a NUL inside would cut it short). */
        if (json_string_length(name) == 0 ||
            json_string_length(name) > VCDC_COLLECTION_MAX_BYTES ||
            json_string_length(name) != strlen(json_string_value(name)) ||
            json_string_length(name) != key_len - plen ||
            memcmp(json_string_value(name), (const char *)key + plen,
                   key_len - plen)) {
                snprintf(errstr, errstr_size,
                         "\"collection\" is not the name its key holds "
                         "(at most %d bytes, no NUL)",
                         VCDC_COLLECTION_MAX_BYTES);
                goto done;
        }
        if (!json_is_object(json_object_get(obj, "configuration_json"))) {
                snprintf(errstr, errstr_size,
                         "\"configuration_json\" is not an object");
                goto done;
        }
        if (((s = json_string_value(json_object_get(obj, "tenant"))) &&
             strcmp(s, tenant)) ||
            ((s = json_string_value(json_object_get(obj, "database"))) &&
             strcmp(s, database))) {
                r = 0; /* another tenant's or database's */
                goto done;
        }
        if (!(out->name = strdup(json_string_value(name))))
                goto oom;
        v = json_object_get(obj, "metadata");
        if (json_is_object(v) &&
            !(out->metadata =
                      json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER)))
                goto oom;
        if (!(out->configuration_json =
                      json_dumps(json_object_get(obj, "configuration_json"),
                                 JSON_COMPACT | JSON_PRESERVE_ORDER)))
                goto oom;
        out->metric = metric_of(out->configuration_json);
        vcdc_gw_coll_id(tenant, database, out->name, out->id);
        r = 1;
        goto done;
oom:
        snprintf(errstr, errstr_size, "out of memory");
        vcdc_gw_coll_clear(out);
done:
        json_decref(obj);
        return r;
}

/* One control record: kept when it is a collection of our tenant and
 * database. */
static void handle(vcdc_gw_colls_t *colls, const rd_kafka_message_t *rkm) {
        vcdc_gw_coll_t c;
        char errstr[256];
        int r;

        if (!rkm->payload)
                return; /* a tombstone */
        r = vcdc_gw_coll_parse(rkm->key, rkm->key_len, rkm->payload, rkm->len,
                               colls->tenant, colls->database, &c, errstr,
                               sizeof(errstr));
        if (r == 1 && keep(colls, &c) == -1)
                VCDC_ERR("gateway", "out of memory reading the collections");
        else if (r == -1)
                VCDC_WARN("gateway",
                          "%s offset %" PRId64 ": a collection record that "
                          "is not valid (%s): skipped",
                          colls->topic, rkm->offset, errstr);
        vcdc_gw_coll_clear(&c);
}

static void on_control(const rd_kafka_message_t *rkm, void *opaque) {
        vcdc_gw_colls_t *colls = opaque;

        if (rkm->err)
                return;
        pthread_mutex_lock(&colls->lock);
        handle(colls, rkm);
        pthread_mutex_unlock(&colls->lock);
}

int vcdc_gw_colls_reload(vcdc_gw_colls_t *colls, char *errstr,
                         size_t errstr_size) {
        vcdc_ctlreader_t *r;

        if (!(r = vcdc_ctlreader_new(colls->conf, colls->topic, 1, on_control,
                                     colls, NULL, errstr, errstr_size)))
                return -1;
        vcdc_ctlreader_destroy(r);
        return 0;
}

vcdc_gw_colls_t *vcdc_gw_colls_new(const vcdc_conf_t *conf, rd_kafka_t *rk,
                                   const char *control_topic,
                                   const char *tenant, const char *database,
                                   char *errstr, size_t errstr_size) {
        vcdc_gw_colls_t *colls = calloc(1, sizeof(*colls));

        if (!colls || !(colls->topic = strdup(control_topic)) ||
            !(colls->tenant = strdup(tenant)) ||
            !(colls->database = strdup(database))) {
                snprintf(errstr, errstr_size, "out of memory");
                vcdc_gw_colls_destroy(colls);
                return NULL;
        }
        pthread_mutex_init(&colls->lock, NULL);
        colls->conf = conf;
        colls->rk = rk;
        if (vcdc_gw_colls_reload(colls, errstr, errstr_size) == -1) {
                vcdc_gw_colls_destroy(colls);
                return NULL;
        }
        VCDC_INFO("gateway", "%zu collection(s) known from %s", colls->n,
                  control_topic);
        return colls;
}

void vcdc_gw_colls_destroy(vcdc_gw_colls_t *colls) {
        size_t i;

        if (!colls)
                return;
        for (i = 0; i < colls->n; i++)
                vcdc_gw_coll_clear(&colls->v[i]);
        free(colls->v);
        free(colls->topic);
        free(colls->tenant);
        free(colls->database);
        pthread_mutex_destroy(&colls->lock);
        free(colls);
}

static int find_locked(vcdc_gw_colls_t *colls, const char *name, int byid,
                       vcdc_gw_coll_t *out) {
        size_t i;

        for (i = 0; i < colls->n; i++)
                if (!strcmp(byid ? colls->v[i].id : colls->v[i].name, name))
                        return coll_copy(out, &colls->v[i]) ? -1 : 1;
        return 0;
}

int vcdc_gw_colls_find(vcdc_gw_colls_t *colls, const char *name, int byid,
                       vcdc_gw_coll_t *out) {
        char errstr[256];
        int r;

        pthread_mutex_lock(&colls->lock);
        r = find_locked(colls, name, byid, out);
        pthread_mutex_unlock(&colls->lock);
        if (r)
                return r;
        /* Another instance may have created it since. */
        if (vcdc_gw_colls_reload(colls, errstr, sizeof(errstr)) == -1)
                VCDC_WARN("gateway", "reading the collections: %s", errstr);
        pthread_mutex_lock(&colls->lock);
        r = find_locked(colls, name, byid, out);
        pthread_mutex_unlock(&colls->lock);
        return r;
}

static int by_name(const void *a, const void *b) {
        return strcmp(((const vcdc_gw_coll_t *)a)->name,
                      ((const vcdc_gw_coll_t *)b)->name);
}

long vcdc_gw_colls_list(vcdc_gw_colls_t *colls, vcdc_gw_coll_t **outp) {
        char errstr[256];
        vcdc_gw_coll_t *out;
        size_t i;
        long n;

        if (vcdc_gw_colls_reload(colls, errstr, sizeof(errstr)) == -1)
                VCDC_WARN("gateway", "reading the collections: %s", errstr);
        pthread_mutex_lock(&colls->lock);
        n = (long)colls->n;
        if (!(out = calloc(colls->n + 1, sizeof(*out)))) {
                pthread_mutex_unlock(&colls->lock);
                return -1;
        }
        for (i = 0; i < colls->n; i++)
                if (coll_copy(&out[i], &colls->v[i]) == -1) {
                        while (i-- > 0)
                                vcdc_gw_coll_clear(&out[i]);
                        free(out);
                        pthread_mutex_unlock(&colls->lock);
                        return -1;
                }
        pthread_mutex_unlock(&colls->lock);
        qsort(out, (size_t)n, sizeof(*out), by_name);
        *outp = out;
        return n;
}

char *vcdc_gw_coll_encode(const vcdc_gw_coll_t *c, const char *tenant,
                          const char *database, int64_t ts_ms, char *errstr,
                          size_t errstr_size) {
        json_t *obj = NULL, *meta = NULL, *cfg = NULL;
        char *text = NULL;

        if ((c->metadata && !(meta = json_loads(c->metadata, 0, NULL))) ||
            !(cfg = json_loads(c->configuration_json, 0, NULL))) {
                snprintf(errstr, errstr_size,
                         "collection %s: metadata or configuration is not "
                         "JSON",
                         c->name);
                json_decref(meta);
                json_decref(cfg);
                return NULL;
        }
        obj = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:s, s:I}", "kind",
                        "collection", "collection", c->name, "id", c->id,
                        "tenant", tenant, "database", database, "metadata",
                        meta ? meta : json_null(), "configuration_json", cfg,
                        "metric", c->metric, "ts_ms", (json_int_t)ts_ms);
        if (!obj || !(text = json_dumps(obj, JSON_COMPACT)))
                snprintf(errstr, errstr_size, "out of memory");
        json_decref(obj);
        return text;
}

int vcdc_gw_colls_put(vcdc_gw_colls_t *colls, vcdc_gw_coll_t *c, char *errstr,
                      size_t errstr_size) {
        char *text = NULL, key[600];
        vcdc_gw_coll_t copy;
        rd_kafka_resp_err_t err;
        int r = -1;

        vcdc_gw_coll_id(colls->tenant, colls->database, c->name, c->id);
        c->metric = metric_of(c->configuration_json);
        if (!(text = vcdc_gw_coll_encode(c, colls->tenant, colls->database,
                                         vcdc_wall_ms(), errstr, errstr_size)))
                return -1;
        snprintf(key, sizeof(key), KEY_PREFIX "%s", c->name);
        /* The producer's delivery callback ignores messages without a
         * vcdc opaque; flush() proves delivery (or says it failed). */
        err = rd_kafka_producev(
                colls->rk, RD_KAFKA_V_TOPIC(colls->topic),
                RD_KAFKA_V_PARTITION(0), RD_KAFKA_V_KEY(key, strlen(key)),
                RD_KAFKA_V_VALUE(text, strlen(text)),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (err || rd_kafka_flush(colls->rk, PUT_TIMEOUT_MS) ||
            rd_kafka_outq_len(colls->rk) > 0) {
                snprintf(errstr, errstr_size, "writing collection %s to %s: %s",
                         c->name, colls->topic,
                         err ? rd_kafka_err2str(err) : "not delivered in time");
                goto done;
        }
        if (coll_copy(&copy, c) == -1) {
                snprintf(errstr, errstr_size, "out of memory");
                goto done;
        }
        pthread_mutex_lock(&colls->lock);
        if (keep(colls, &copy) == -1) {
                pthread_mutex_unlock(&colls->lock);
                vcdc_gw_coll_clear(&copy);
                snprintf(errstr, errstr_size, "out of memory");
                goto done;
        }
        pthread_mutex_unlock(&colls->lock);
        r = 0;
done:
        free(text);
        return r;
}
