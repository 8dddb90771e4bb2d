/*
 * vcdc - the gateway's request bodies (api_body.h): loading a body,
 * serde's words for a value of the wrong shape, ids, include lists, the
 * reads (delete, get, query) and the collection calls. The writes (add,
 * upsert, update) are api_write.c.
 */
#include "api_body_int.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_json.h"
#include "jsonspan.h"

char *dup_n(const char *s, size_t n) {
        char *d = malloc(n + 1);

        if (d) {
                memcpy(d, s, n);
                d[n] = '\0';
        }
        return d;
}

static int oom(vcdc_api_error_t *err) {
        return vcdc_api_error_set(err, 500, VCDC_API_INTERNAL,
                                  "out of memory reading the request");
}

/* serde's description of an unexpected value. */
static void describe(const json_t *j, char *out, size_t n) {
        switch (json_typeof(j)) {
        case JSON_STRING:
                snprintf(out, n, "string \"%.80s\"", json_string_value(j));
                break;
        case JSON_INTEGER:
                snprintf(out, n, "integer `%lld`",
                         (long long)json_integer_value(j));
                break;
        case JSON_REAL:
                snprintf(out, n, "floating point `%.17g`", json_real_value(j));
                break;
        case JSON_TRUE:
        case JSON_FALSE:
                snprintf(out, n, "boolean `%s`",
                         json_is_true(j) ? "true" : "false");
                break;
        case JSON_ARRAY:
                snprintf(out, n, "sequence");
                break;
        case JSON_OBJECT:
                snprintf(out, n, "map");
                break;
        default:
                snprintf(out, n, "null");
        }
}

int shape_type(vcdc_api_error_t *err, const char *path, const json_t *got,
               const char *expected) {
        char what[128];

        describe(got, what, sizeof(what));
        return vcdc_api_error_shape(err, path, "invalid type: %s, expected %s",
                                    what, expected);
}

int body_load(body_t *b, const char *text, size_t len, const char *payload,
              vcdc_api_error_t *err) {
        vcdc_json_error_t jerr;
        vcdc_json_span_t root;
        json_error_t jj;
        size_t i, line = 1;

        memset(b, 0, sizeof(*b));
        b->text = text;
        b->len = len;
        if (!(b->js = vcdc_jsonscan_new()))
                return oom(err);
        if (vcdc_jsonscan_run(b->js, text, len, &root, &jerr)) {
                if (jerr.code == VCDC_JSON_ERR_OUT_OF_MEMORY)
                        return oom(err);
                for (i = 0; i < jerr.position && i < len; i++)
                        line += text[i] == '\n';
                return vcdc_api_error_json(err, jerr.text, line, jerr.column);
        }
        if (!(b->root = json_loadb(text, len, JSON_DECODE_ANY, &jj)))
                return oom(err); /* the scanner accepted it: only memory */
        if (!json_is_object(b->root))
                return shape_type(err, "", b->root, payload);
        return 0;
}

void body_free(body_t *b) {
        vcdc_jsonscan_destroy(b->js);
        json_decref(b->root);
        memset(b, 0, sizeof(*b));
}

const vcdc_json_span_t *body_span(const body_t *b, const char *key) {
        const vcdc_json_member_t *m;
        size_t i, n = vcdc_jsonscan_members(b->js, &m), kl = strlen(key);
        const vcdc_json_span_t *found = NULL;

        for (i = 0; i < n; i++) /* the last wins, as in jansson's tree */
                if (m[i].key_len == kl && !memcmp(m[i].key, key, kl))
                        found = &m[i].value;
        return found;
}

json_t *body_get(const body_t *b, const char *key) {
        json_t *v = json_object_get(b->root, key);

        return json_is_null(v) ? NULL : v;
}

int body_missing(const body_t *b, const char *key, vcdc_api_error_t *err) {
        (void)b;
        return vcdc_api_error_shape(err, "", "missing field `%s`", key);
}

void free_ids(char **ids, size_t n) {
        size_t i;

        for (i = 0; ids && i < n; i++)
                free(ids[i]);
        free(ids);
}

int body_ids(const body_t *b, const char *key, char ***idsp, size_t *np,
             vcdc_api_error_t *err) {
        json_t *arr = body_get(b, key), *v;
        char path[64], **ids;
        size_t i;

        *idsp = NULL;
        *np = 0;
        if (!arr)
                return 0;
        if (!json_is_array(arr))
                return shape_type(err, key, arr, "a sequence");
        if (!(ids = calloc(json_array_size(arr) + 1, sizeof(char *))))
                return oom(err);
        json_array_foreach(arr, i, v) {
                if (!json_is_string(v)) {
                        snprintf(path, sizeof(path), "%s[%zu]", key, i);
                        free_ids(ids, i);
                        return shape_type(err, path, v, "a string");
                }
                if (!(ids[i] = dup_n(json_string_value(v),
                                     json_string_length(v)))) {
                        free_ids(ids, i);
                        return oom(err);
                }
        }
        *idsp = ids;
        *np = json_array_size(arr);
        return 1;
}

int check_metadata(const json_t *m, const char *path, int nulls,
                   const char *enum_name, vcdc_api_error_t *err) {
        const char *key;
        char where[160];
        json_t *v;

        if (!json_is_object(m))
                return shape_type(err, path, m, "a map");
        json_object_foreach((json_t *)m, key, v) {
                snprintf(where, sizeof(where), "%s.%.80s", path, key);
                if (json_is_object(v) || json_is_array(v) ||
                    (json_is_null(v) && !nulls))
                        return vcdc_api_error_shape(
                                err, where,
                                "data did not match any variant of untagged "
                                "enum %s",
                                enum_name);
                if (!strncmp(key, "chroma:", 7))
                        return vcdc_api_error_set(
                                err, 400, VCDC_API_INVALID_ARGUMENT,
                                "%s: metadata key \"%.80s\" starts with "
                                "\"chroma:\", which Chroma reserves for its "
                                "own keys",
                                path, key);
        }
        return 0;
}

/* ------------------------------------------------------------ include */

static const char *const include_names[] = {
        "distances", "documents", "embeddings", "metadatas", "uris",
};

const char *vcdc_api_include_name(int flag) {
        size_t i;

        for (i = 0; i < 5; i++)
                if (flag == 1 << i)
                        return include_names[i];
        return NULL;
}

static int parse_include(const body_t *b, int defaults,
                         vcdc_api_include_t *inc, vcdc_api_error_t *err) {
        json_t *arr = body_get(b, "include"), *v;
        char path[40];
        size_t i, k;

        memset(inc, 0, sizeof(*inc));
        if (!arr) {
                for (k = 0; k < 5; k++)
                        if (defaults & (1 << k)) {
                                inc->flags |= 1 << k;
                                inc->order[inc->n++] = 1 << k;
                        }
                return 0;
        }
        if (!json_is_array(arr))
                return shape_type(err, "include", arr, "a sequence");
        json_array_foreach(arr, i, v) {
                snprintf(path, sizeof(path), "include[%zu]", i);
                if (!json_is_string(v))
                        return shape_type(err, path, v, "string or map");
                for (k = 0; k < 5; k++)
                        if (!strcmp(json_string_value(v), include_names[k]))
                                break;
                if (k == 5)
                        return vcdc_api_error_shape(
                                err, path,
                                "unknown variant `%.60s`, expected one of "
                                "`distances`, `documents`, `embeddings`, "
                                "`metadatas`, `uris`",
                                json_string_value(v));
                inc->flags |= 1 << k;
                if (inc->n < VCDC_API_INCLUDE_MAX)
                        inc->order[inc->n++] = 1 << k;
        }
        return 0;
}

/* -------------------------------------------------------------- reads */

/* A u32 member (limit, offset, n_results): -1 when absent or null. */
static int parse_u32(const body_t *b, const char *key, long long *out,
                     vcdc_api_error_t *err) {
        json_t *v = body_get(b, key);

        *out = -1;
        if (!v)
                return 0;
        if (!json_is_integer(v))
                return shape_type(err, key, v, "u32");
        if (json_integer_value(v) < 0 || json_integer_value(v) > 4294967295LL)
                return vcdc_api_error_shape(
                        err, key, "invalid value: integer `%lld`, expected u32",
                        (long long)json_integer_value(v));
        *out = json_integer_value(v);
        return 0;
}

static int parse_common(const body_t *b, vcdc_api_read_t *r,
                        vcdc_api_error_t *err) {
        int has = body_ids(b, "ids", &r->ids, &r->nids, err);
        json_t *w = body_get(b, "where"), *wd = body_get(b, "where_document");

        if (has < 0)
                return -1;
        r->has_ids = has;
        r->has_filter = w || wd;
        if (!(r->filter = vcdc_filter_parse(w, wd, err)))
                return -1;
        return 0;
}

int vcdc_api_parse_delete(const char *body, size_t len, vcdc_api_read_t *out,
                          vcdc_api_error_t *err) {
        body_t b;
        int rc = -1;

        memset(out, 0, sizeof(*out));
        if (body_load(&b, body, len, "struct DeleteCollectionRecordsPayload",
                      err) ||
            parse_common(&b, out, err))
                goto done;
        if (out->has_ids && !out->nids && !out->has_filter) {
                vcdc_api_error_set(err, 400, VCDC_API_INVALID_ARGUMENT,
                                   "Validation error: ids, where: Either ids "
                                   "or where must be specified");
                goto done;
        }
        rc = 0;
done:
        body_free(&b);
        if (rc)
                vcdc_api_read_clear(out);
        return rc;
}

int vcdc_api_parse_get(const char *body, size_t len, vcdc_api_read_t *out,
                       vcdc_api_error_t *err) {
        body_t b;
        int rc = -1;

        memset(out, 0, sizeof(*out));
        if (body_load(&b, body, len, "struct GetRequestPayload", err) ||
            parse_common(&b, out, err) ||
            parse_u32(&b, "limit", &out->limit, err) ||
            parse_u32(&b, "offset", &out->offset, err) ||
            parse_include(&b, VCDC_API_INC_DOCUMENTS | VCDC_API_INC_METADATAS,
                          &out->include, err))
                goto done;
        if (out->offset < 0)
                out->offset = 0;
        rc = 0;
done:
        body_free(&b);
        if (rc)
                vcdc_api_read_clear(out);
        return rc;
}

/* query_embeddings: a sequence of sequences of numbers, straight to
 * float32 from the text. */
static int parse_queries(const body_t *b, size_t dim, vcdc_api_read_t *r,
                         vcdc_api_error_t *err) {
        const vcdc_json_span_t *span = body_span(b, "query_embeddings");
        json_t *arr = json_object_get(b->root, "query_embeddings"), *row;
        vcdc_json_span_t key, elem;
        vcdc_json_iter_t it;
        char path[64];
        size_t i = 0, n, cnt;

        if (!arr)
                return body_missing(b, "query_embeddings", err);
        if (!json_is_array(arr))
                return shape_type(err, "query_embeddings", arr, "a sequence");
        cnt = json_array_size(arr);
        json_array_foreach(arr, i, row) {
                snprintf(path, sizeof(path), "query_embeddings[%zu]", i);
                if (!json_is_array(row))
                        return shape_type(err, path, row, "a sequence");
                if (!json_array_size(row))
                        return vcdc_api_error_set(
                                err, 400, VCDC_API_INVALID_ARGUMENT,
                                "Validation error: query_embeddings: Each "
                                "embedding must have at least 1 dimension");
                if (!dim)
                        dim = json_array_size(row);
                if (json_array_size(row) != dim)
                        return vcdc_api_error_set(
                                err, 400, VCDC_API_INVALID_ARGUMENT,
                                "Collection expecting embedding with "
                                "dimension of %zu, got %zu",
                                dim, json_array_size(row));
        }
        r->dim = dim;
        if (!cnt)
                return 0;
        if (!(r->queries = malloc(cnt * dim * sizeof(float))))
                return oom(err);
        vcdc_json_iter_init(&it, span);
        for (i = 0; vcdc_json_iter_next(&it, &key, &elem); i++) {
                if (vcdc_json_floats(&elem, r->queries + i * dim, dim, &n)) {
                        json_t *v = json_array_get(json_array_get(arr, i), n);
                        snprintf(path, sizeof(path), "query_embeddings[%zu][%zu]",
                                 i, n);
                        if (!json_is_number(v))
                                return shape_type(err, path, v, "f32");
                        return vcdc_api_error_set(
                                err, 400, VCDC_API_INVALID_ARGUMENT,
                                "%s: %g is beyond float32's range", path,
                                json_number_value(v));
                }
        }
        r->nqueries = cnt;
        return 0;
}

int vcdc_api_parse_query(const char *body, size_t len, size_t dim,
                         vcdc_api_read_t *out, vcdc_api_error_t *err) {
        body_t b;
        int rc = -1;

        memset(out, 0, sizeof(*out));
        if (body_load(&b, body, len, "struct QueryRequestPayload", err) ||
            parse_common(&b, out, err) ||
            parse_u32(&b, "n_results", &out->n_results, err) ||
            parse_include(&b,
                          VCDC_API_INC_DOCUMENTS | VCDC_API_INC_METADATAS |
                                  VCDC_API_INC_DISTANCES,
                          &out->include, err) ||
            parse_queries(&b, dim, out, err))
                goto done;
        if (out->n_results < 0)
                out->n_results = 10;
        out->limit = -1;
        rc = 0;
done:
        body_free(&b);
        if (rc)
                vcdc_api_read_clear(out);
        return rc;
}

void vcdc_api_read_clear(vcdc_api_read_t *r) {
        if (!r)
                return;
        free_ids(r->ids, r->nids);
        vcdc_filter_destroy(r->filter);
        free(r->queries);
        memset(r, 0, sizeof(*r));
}

/* -------------------------------------------------------- collections */

int vcdc_api_check_collection_name(const char *name, const char *field,
                                   vcdc_api_error_t *err) {
        size_t i, n = strlen(name);
        unsigned char addr[4];
        int ok = n >= 3 && n <= 512;

        for (i = 0; ok && i < n; i++) {
                char c = name[i];
                int alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                            (c >= '0' && c <= '9');
                if (!alnum && ((i == 0 || i == n - 1) ||
                               (c != '.' && c != '_' && c != '-')))
                        ok = 0;
        }
        if (!ok)
                return vcdc_api_error_set(
                        err, 400, VCDC_API_INVALID_ARGUMENT,
                        "Validation error: %s: Expected a name containing "
                        "3-512 characters from [a-zA-Z0-9._-], starting and "
                        "ending with a character in [a-zA-Z0-9]. Got: %.300s",
                        field, name);
        if (strstr(name, ".."))
                return vcdc_api_error_set(
                        err, 400, VCDC_API_INVALID_ARGUMENT,
                        "Validation error: %s: Expected a name that does not "
                        "contains two consecutive periods (..). Got %.300s",
                        field, name);
        if (inet_pton(AF_INET, name, addr) == 1)
                return vcdc_api_error_set(
                        err, 400, VCDC_API_INVALID_ARGUMENT,
                        "Validation error: %s: Expected a name that is not a "
                        "valid ip address. Got %.300s",
                        field, name);
        return 0;
}

/* metadata of a collection: non-empty, scalars (nulls when modifying). */
static int collection_metadata(const body_t *b, const char *key, int nulls,
                               char **out, vcdc_api_error_t *err) {
        json_t *m = body_get(b, key);

        *out = NULL;
        if (!m)
                return 0;
        if (check_metadata(m, key, nulls,
                           nulls ? "UpdateMetadataValue" : "MetadataValue",
                           err))
                return -1;
        if (!json_object_size(m))
                return vcdc_api_error_set(err, 400, VCDC_API_INVALID_ARGUMENT,
                                          "Validation error: %s: Metadata "
                                          "cannot be empty",
                                          key);
        if (!(*out = vcdc_api_json_text(m)))
                return oom(err);
        return 0;
}

/* A configuration as given: an object whose hnsw.space, when given, is
 * one of Chroma's. */
static int configuration(const body_t *b, const char *key, char **out,
                         vcdc_api_error_t *err) {
        json_t *c = body_get(b, key), *hnsw, *space;
        char path[64];

        *out = NULL;
        if (!c)
                return 0;
        if (!json_is_object(c))
                return shape_type(err, key, c, "struct CollectionConfiguration");
        hnsw = json_object_get(c, "hnsw");
        space = json_is_object(hnsw) ? json_object_get(hnsw, "space") : NULL;
        snprintf(path, sizeof(path), "%s.hnsw.space", key);
        if (space && !json_is_null(space) &&
            (!json_is_string(space) ||
             (strcmp(json_string_value(space), "l2") &&
              strcmp(json_string_value(space), "cosine") &&
              strcmp(json_string_value(space), "ip"))))
                return json_is_string(space)
                               ? vcdc_api_error_shape(
                                         err, path,
                                         "unknown variant `%.60s`, expected "
                                         "one of `l2`, `cosine`, `ip`",
                                         json_string_value(space))
                               : shape_type(err, path, space, "enum HnswSpace");
        if (!(*out = vcdc_api_json_text(c)))
                return oom(err);
        return 0;
}

int vcdc_api_parse_create_collection(const char *body, size_t len,
                                     vcdc_api_collection_req_t *out,
                                     vcdc_api_error_t *err) {
        json_t *name, *goc;
        body_t b;
        int rc = -1;

        memset(out, 0, sizeof(*out));
        if (body_load(&b, body, len, "struct CreateCollectionPayload", err))
                goto done;
        if (!(name = json_object_get(b.root, "name"))) {
                body_missing(&b, "name", err);
                goto done;
        }
        if (!json_is_string(name)) {
                shape_type(err, "name", name, "a string");
                goto done;
        }
        goc = json_object_get(b.root, "get_or_create");
        if (goc && !json_is_boolean(goc)) {
                shape_type(err, "get_or_create", goc, "a boolean");
                goto done;
        }
        out->get_or_create = json_is_true(goc);
        if (collection_metadata(&b, "metadata", 0, &out->metadata, err) ||
            configuration(&b, "configuration", &out->configuration, err))
                goto done;
        if (vcdc_api_check_collection_name(json_string_value(name), "name",
                                           err))
                goto done;
        if (!(out->name = dup_n(json_string_value(name),
                                json_string_length(name)))) {
                oom(err);
                goto done;
        }
        rc = 0;
done:
        body_free(&b);
        if (rc)
                vcdc_api_collection_req_clear(out);
        return rc;
}

int vcdc_api_parse_modify_collection(const char *body, size_t len,
                                     vcdc_api_collection_req_t *out,
                                     vcdc_api_error_t *err) {
        json_t *name;
        body_t b;
        int rc = -1;

        memset(out, 0, sizeof(*out));
        if (body_load(&b, body, len, "struct UpdateCollectionPayload", err))
                goto done;
        name = body_get(&b, "new_name");
        if (name && !json_is_string(name)) {
                shape_type(err, "new_name", name, "a string");
                goto done;
        }
        if (collection_metadata(&b, "new_metadata", 1, &out->metadata, err) ||
            configuration(&b, "new_configuration", &out->configuration, err))
                goto done;
        if (name && vcdc_api_check_collection_name(json_string_value(name),
                                                   "new_name", err))
                goto done;
        if (name && !(out->name = dup_n(json_string_value(name),
                                        json_string_length(name)))) {
                oom(err);
                goto done;
        }
        rc = 0;
done:
        body_free(&b);
        if (rc)
                vcdc_api_collection_req_clear(out);
        return rc;
}

void vcdc_api_collection_req_clear(vcdc_api_collection_req_t *c) {
        if (!c)
                return;
        free(c->name);
        free(c->metadata);
        free(c->configuration);
        memset(c, 0, sizeof(*c));
}
