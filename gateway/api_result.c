/*
 * vcdc - the gateway's answers (api_result.h), written straight into a
 * buffer.
 */
#include "api_result.h"

#include <jansson.h>
#include <string.h>

#include "api_json.h"
#include "buf.h"

static void put_include(vcdc_buf_t *b, const vcdc_api_include_t *inc) {
        size_t i;
        vcdc_buf_puts(b, "\"include\":[");
        const char *name;
        int first = 1;

        for (i = 0; i < inc->n; i++) {
                if (!(name = vcdc_api_include_name(inc->order[i])))
                        continue; /* not a flag: the caller's mistake */
                if (!first)
                        vcdc_buf_putc(b, ',');
                first = 0;
                vcdc_buf_printf(b, "\"%s\"", name);
        }
        vcdc_buf_puts(b, "]}");
}

enum field_e { F_IDS, F_EMBEDDINGS, F_DOCUMENTS, F_URIS, F_METADATAS };

/* One list of field f over recs[0..n). */
static void put_list(vcdc_buf_t *b, const vcdc_record_t *recs, size_t n,
                     enum field_e f) {
        size_t i;

        vcdc_buf_putc(b, '[');
        for (i = 0; i < n; i++) {
                const vcdc_record_t *r = &recs[i];
                if (i)
                        vcdc_buf_putc(b, ',');
                switch (f) {
                case F_IDS:
                        vcdc_api_put_string(b, r->id, strlen(r->id));
                        break;
                case F_EMBEDDINGS:
                        if (r->vector)
                                vcdc_api_put_vector(b, r->vector, r->dim);
                        else
                                vcdc_buf_puts(b, "null");
                        break;
                case F_DOCUMENTS:
                        vcdc_api_put_string(b, r->document,
                                            r->document ? strlen(r->document)
                                                        : 0);
                        break;
                case F_URIS:
                        vcdc_buf_puts(b, "null");
                        break;
                case F_METADATAS:
                        vcdc_api_put_metadata_text(b, r->metadata);
                        break;
                }
        }
        vcdc_buf_putc(b, ']');
}

static const struct {
        const char *name;
        enum field_e field;
        int flag; /* 0: always */
} fields[] = {
        {"ids", F_IDS, 0},
        {"embeddings", F_EMBEDDINGS, VCDC_API_INC_EMBEDDINGS},
        {"documents", F_DOCUMENTS, VCDC_API_INC_DOCUMENTS},
        {"uris", F_URIS, VCDC_API_INC_URIS},
        {"metadatas", F_METADATAS, VCDC_API_INC_METADATAS},
};

char *vcdc_api_get_result(const vcdc_record_t *recs, size_t n,
                          const vcdc_api_include_t *include, size_t *lenp) {
        vcdc_buf_t b = VCDC_BUF_INIT;
        size_t k;

        vcdc_buf_putc(&b, '{');
        for (k = 0; k < sizeof(fields) / sizeof(*fields); k++) {
                vcdc_buf_printf(&b, "\"%s\":", fields[k].name);
                if (fields[k].flag && !(include->flags & fields[k].flag))
                        vcdc_buf_puts(&b, "null");
                else
                        put_list(&b, recs, n, fields[k].field);
                vcdc_buf_putc(&b, ',');
        }
        put_include(&b, include);
        return vcdc_buf_detach(&b, lenp);
}

char *vcdc_api_query_result(const vcdc_api_hits_t *hits, size_t nqueries,
                            const vcdc_api_include_t *include, size_t *lenp) {
        vcdc_buf_t b = VCDC_BUF_INIT;
        size_t k, q, i;

        vcdc_buf_putc(&b, '{');
        for (k = 0; k < sizeof(fields) / sizeof(*fields); k++) {
                vcdc_buf_printf(&b, "\"%s\":", fields[k].name);
                if (fields[k].flag && !(include->flags & fields[k].flag)) {
                        vcdc_buf_puts(&b, "null,");
                        continue;
                }
                vcdc_buf_putc(&b, '[');
                for (q = 0; q < nqueries; q++) {
                        if (q)
                                vcdc_buf_putc(&b, ',');
                        put_list(&b, hits[q].recs, hits[q].n, fields[k].field);
                }
                vcdc_buf_puts(&b, "],");
        }
        vcdc_buf_puts(&b, "\"distances\":");
        if (!(include->flags & VCDC_API_INC_DISTANCES)) {
                vcdc_buf_puts(&b, "null");
        } else {
                vcdc_buf_putc(&b, '[');
                for (q = 0; q < nqueries; q++) {
                        if (q)
                                vcdc_buf_putc(&b, ',');
                        vcdc_buf_putc(&b, '[');
                        for (i = 0; i < hits[q].n; i++) {
                                if (i)
                                        vcdc_buf_putc(&b, ',');
                                vcdc_api_put_float(&b, hits[q].distances[i]);
                        }
                        vcdc_buf_putc(&b, ']');
                }
                vcdc_buf_putc(&b, ']');
        }
        vcdc_buf_putc(&b, ',');
        put_include(&b, include);
        return vcdc_buf_detach(&b, lenp);
}

#define DEFAULT_CONFIGURATION                                                  \
        "{\"hnsw\":{\"space\":\"l2\",\"ef_construction\":100,"                 \
        "\"ef_search\":100,\"max_neighbors\":16,\"resize_factor\":1.2,"        \
        "\"sync_threshold\":1000},\"spann\":null,\"embedding_function\":null}"

static void put_object_text(vcdc_buf_t *b, const char *text, const char *dflt) {
        json_t *j = text ? json_loads(text, 0, NULL) : NULL;

        if (json_is_object(j))
                vcdc_api_put_json(b, j);
        else
                vcdc_buf_puts(b, dflt);
        json_decref(j);
}

static void put_collection(vcdc_buf_t *b, const vcdc_api_collection_t *c) {
        const char *tenant = c->tenant ? c->tenant : "default_tenant";
        const char *db = c->database ? c->database : "default_database";

        vcdc_buf_puts(b, "{\"id\":");
        vcdc_api_put_string(b, c->id, strlen(c->id));
        vcdc_buf_puts(b, ",\"name\":");
        vcdc_api_put_string(b, c->name, strlen(c->name));
        vcdc_buf_puts(b, ",\"configuration_json\":");
        put_object_text(b, c->configuration_json, DEFAULT_CONFIGURATION);
        vcdc_buf_puts(b, ",\"metadata\":");
        put_object_text(b, c->metadata, "null");
        vcdc_buf_puts(b, ",\"dimension\":");
        if (c->dimension)
                vcdc_buf_printf(b, "%zu", c->dimension);
        else
                vcdc_buf_puts(b, "null");
        vcdc_buf_puts(b, ",\"tenant\":");
        vcdc_api_put_string(b, tenant, strlen(tenant));
        vcdc_buf_puts(b, ",\"database\":");
        vcdc_api_put_string(b, db, strlen(db));
        vcdc_buf_printf(b, ",\"log_position\":%lld,\"version\":%lld}",
                        c->log_position, c->version);
}

char *vcdc_api_collection_result(const vcdc_api_collection_t *c, size_t *lenp) {
        vcdc_buf_t b = VCDC_BUF_INIT;

        put_collection(&b, c);
        return vcdc_buf_detach(&b, lenp);
}

char *vcdc_api_collections_result(const vcdc_api_collection_t *cs, size_t n,
                                  size_t *lenp) {
        vcdc_buf_t b = VCDC_BUF_INIT;
        size_t i;

        vcdc_buf_putc(&b, '[');
        for (i = 0; i < n; i++) {
                if (i)
                        vcdc_buf_putc(&b, ',');
                put_collection(&b, &cs[i]);
        }
        vcdc_buf_putc(&b, ']');
        return vcdc_buf_detach(&b, lenp);
}

char *vcdc_api_configuration_json(const char *requested) {
        json_t *conf = json_loads(DEFAULT_CONFIGURATION, 0, NULL);
        json_t *req = requested ? json_loads(requested, 0, NULL) : NULL;
        json_t *hnsw, *rh, *v;
        const char *key;
        char *out = NULL;

        if (!conf)
                goto done;
        hnsw = json_object_get(conf, "hnsw");
        rh = json_object_get(req, "hnsw");
        if (json_is_object(rh))
                json_object_foreach(rh, key, v) if (!json_is_null(v))
                        json_object_set(hnsw, key, v);
        if ((v = json_object_get(req, "embedding_function")))
                json_object_set(conf, "embedding_function", v);
        out = vcdc_api_json_text(conf);
done:
        json_decref(conf);
        json_decref(req);
        return out;
}

const char *vcdc_api_configuration_space(const char *configuration_json) {
        static const char *const spaces[] = {"l2", "cosine", "ip"};
        json_t *c = configuration_json ? json_loads(configuration_json, 0, NULL)
                                       : NULL;
        const char *s = json_string_value(
                json_object_get(json_object_get(c, "hnsw"), "space"));
        const char *found = "l2";
        size_t i;

        for (i = 0; s && i < 3; i++)
                if (!strcmp(s, spaces[i]))
                        found = spaces[i];
        json_decref(c);
        return found;
}
