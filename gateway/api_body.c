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

char *vcdc_api_dup(const char *s, size_t n) {
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

int vcdc_api_shape_type(vcdc_api_error_t *err, const char *path,
                        const json_t *got, const char *expected) {
        char what[128];

        describe(got, what, sizeof(what));
        return vcdc_api_error_shape(err, path, "invalid type: %s, expected %s",
                                    what, expected);
}

int vcdc_api_body_load(vcdc_api_body_t *b, const char *text, size_t len,
                       const char *payload, vcdc_api_error_t *err) {
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
                return vcdc_api_shape_type(err, "", b->root, payload);
        return 0;
}

void vcdc_api_body_free(vcdc_api_body_t *b) {
        vcdc_jsonscan_destroy(b->js);
        json_decref(b->root);
        memset(b, 0, sizeof(*b));
}

const vcdc_json_span_t *vcdc_api_body_span(const vcdc_api_body_t *b,
                                           const char *key) {
        const vcdc_json_member_t *m;
        size_t i, n = vcdc_jsonscan_members(b->js, &m), kl = strlen(key);
        const vcdc_json_span_t *found = NULL;

        for (i = 0; i < n; i++) /* the last wins, as in jansson's tree */
                if (m[i].key_len == kl && !memcmp(m[i].key, key, kl))
                        found = &m[i].value;
        return found;
}

json_t *vcdc_api_body_get(const vcdc_api_body_t *b, const char *key) {
        json_t *v = json_object_get(b->root, key);

        return json_is_null(v) ? NULL : v;
}

int vcdc_api_body_missing(const vcdc_api_body_t *b, const char *key,
                          vcdc_api_error_t *err) {
        (void)b;
        return vcdc_api_error_shape(err, "", "missing field `%s`", key);
}

void vcdc_api_free_ids(char **ids, size_t n) {
        size_t i;

        for (i = 0; ids && i < n; i++)
                free(ids[i]);
        free(ids);
}

int vcdc_api_body_ids(const vcdc_api_body_t *b, const char *key, char ***idsp,
                      size_t *np, vcdc_api_error_t *err) {
        json_t *arr = vcdc_api_body_get(b, key), *v;
        char path[64], **ids;
        size_t i;

        *idsp = NULL;
        *np = 0;
        if (!arr)
                return 0;
        if (!json_is_array(arr))
                return vcdc_api_shape_type(err, key, arr, "a sequence");
        if (!(ids = calloc(json_array_size(arr) + 1, sizeof(char *))))
                return oom(err);
        json_array_foreach(arr, i, v) {
                if (!json_is_string(v)) {
                        snprintf(path, sizeof(path), "%s[%zu]", key, i);
                        vcdc_api_free_ids(ids, i);
                        return vcdc_api_shape_type(err, path, v, "a string");
                }
                if (!(ids[i] = vcdc_api_dup(json_string_value(v),
                                            json_string_length(v)))) {
                        vcdc_api_free_ids(ids, i);
                        return oom(err);
                }
        }
        *idsp = ids;
        *np = json_array_size(arr);
        return 1;
}

int vcdc_api_check_metadata(const json_t *m, const char *path, int nulls,
                            const char *enum_name, vcdc_api_error_t *err) {
        const char *key;
        char where[160];
        json_t *v;

        if (!json_is_object(m))
                return vcdc_api_shape_type(err, path, m, "a map");
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

static int parse_include(const vcdc_api_body_t *b, int defaults,
                         vcdc_api_include_t *inc, vcdc_api_error_t *err) {
        json_t *arr = vcdc_api_body_get(b, "include"), *v;
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
                return vcdc_api_shape_type(err, "include", arr, "a sequence");
        json_array_foreach(arr, i, v) {
                snprintf(path, sizeof(path), "include[%zu]", i);
                if (!json_is_string(v)) /* the server's words: a parse error */
                        return vcdc_api_error_set(
                                err, 400, VCDC_API_INVALID_ARGUMENT,
                                "Failed to parse the request body as JSON: "
                                "%s: expected value",
                                path);
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
static int parse_u32(const vcdc_api_body_t *b, const char *key, long long *out,
                     vcdc_api_error_t *err) {
        json_t *v = vcdc_api_body_get(b, key);

        *out = -1;
        if (!v)
                return 0;
        if (!json_is_integer(v))
                return vcdc_api_shape_type(err, key, v, "u32");
        if (json_integer_value(v) < 0 || json_integer_value(v) > 4294967295LL)
                return vcdc_api_error_shape(
                        err, key, "invalid value: integer `%lld`, expected u32",
                        (long long)json_integer_value(v));
        *out = json_integer_value(v);
        return 0;
}

/* ids: part of the body's shape (422), checked with it. */
static int parse_ids(const vcdc_api_body_t *b, vcdc_api_read_t *r,
                     vcdc_api_error_t *err) {
        int has = vcdc_api_body_ids(b, "ids", &r->ids, &r->nids, err);

        if (has < 0)
                return -1;
        r->has_ids = has;
        return 0;
}

/* where and where_document: validated (400) once the shape is right, as
 * the server does. */
static int parse_filter(const vcdc_api_body_t *b, vcdc_api_read_t *r,
                        vcdc_api_error_t *err) {
        json_t *w = vcdc_api_body_get(b, "where"),
               *wd = vcdc_api_body_get(b, "where_document");

        r->has_filter = w || wd;
        if (!(r->filter = vcdc_filter_parse(w, wd, err)))
                return -1;
        return 0;
}

static int query_shape(const vcdc_api_body_t *b, vcdc_api_error_t *err);

/* serde reads a body's members in their order and stops at the first
 * that is of the wrong shape; fields missing are found at the end. So
 * are the members checked here: fields[i] is read by its parser when its
 * member comes, and once the members are done, the absent ones are. */
#define F_IDS     1
#define F_LIMIT   2
#define F_OFFSET  4
#define F_NRESULT 8
#define F_INCLUDE 16
#define F_QUERIES 32

static int read_field(const vcdc_api_body_t *b, int f, int inc_default,
                      vcdc_api_read_t *r, vcdc_api_error_t *err) {
        switch (f) {
        case F_IDS:
                return parse_ids(b, r, err);
        case F_LIMIT:
                return parse_u32(b, "limit", &r->limit, err);
        case F_OFFSET:
                return parse_u32(b, "offset", &r->offset, err);
        case F_NRESULT:
                return parse_u32(b, "n_results", &r->n_results, err);
        case F_INCLUDE:
                return parse_include(b, inc_default, &r->include, err);
        default:
                return query_shape(b, err);
        }
}

static int read_fields(const vcdc_api_body_t *b, int fields, int inc_default,
                       vcdc_api_read_t *r, vcdc_api_error_t *err) {
        static const struct {
                const char *key;
                int flag;
        } names[] = {
                {"ids", F_IDS},         {"limit", F_LIMIT},
                {"offset", F_OFFSET},   {"n_results", F_NRESULT},
                {"include", F_INCLUDE}, {"query_embeddings", F_QUERIES},
        };
        const vcdc_json_member_t *m;
        size_t i, k, n = vcdc_jsonscan_members(b->js, &m);
        int done = 0;

        r->limit = r->offset = r->n_results = -1;
        for (i = 0; i < n; i++)
                for (k = 0; k < sizeof(names) / sizeof(*names); k++)
                        if ((fields & names[k].flag) &&
                            !(done & names[k].flag) &&
                            m[i].key_len == strlen(names[k].key) &&
                            !memcmp(m[i].key, names[k].key, m[i].key_len)) {
                                if (read_field(b, names[k].flag, inc_default, r,
                                               err))
                                        return -1;
                                done |= names[k].flag;
                        }
        for (k = 0; k < sizeof(names) / sizeof(*names); k++)
                if ((fields & names[k].flag) && !(done & names[k].flag) &&
                    read_field(b, names[k].flag, inc_default, r, err))
                        return -1;
        return 0;
}

int vcdc_api_parse_delete(const char *body, size_t len, vcdc_api_read_t *out,
                          vcdc_api_error_t *err) {
        vcdc_api_body_t b;
        int rc = -1;

        memset(out, 0, sizeof(*out));
        if (vcdc_api_body_load(&b, body, len,
                               "struct DeleteCollectionRecordsPayload", err) ||
            read_fields(&b, F_IDS, 0, out, err) || parse_filter(&b, out, err))
                goto done;
        if (out->has_ids && !out->nids && !out->has_filter) {
                vcdc_api_error_set(err, 400, VCDC_API_INVALID_ARGUMENT,
                                   "Validation error: ids, where: Either ids "
                                   "or where must be specified");
                goto done;
        }
        rc = 0;
done:
        vcdc_api_body_free(&b);
        if (rc)
                vcdc_api_read_clear(out);
        return rc;
}

int vcdc_api_parse_get(const char *body, size_t len, vcdc_api_read_t *out,
                       vcdc_api_error_t *err) {
        vcdc_api_body_t b;
        int rc = -1;

        memset(out, 0, sizeof(*out));
        if (vcdc_api_body_load(&b, body, len, "struct GetRequestPayload",
                               err) ||
            read_fields(&b, F_IDS | F_LIMIT | F_OFFSET | F_INCLUDE,
                        VCDC_API_INC_DOCUMENTS | VCDC_API_INC_METADATAS, out,
                        err) ||
            parse_filter(&b, out, err))
                goto done;
        if (out->offset < 0)
                out->offset = 0;
        rc = 0;
done:
        vcdc_api_body_free(&b);
        if (rc)
                vcdc_api_read_clear(out);
        return rc;
}

/* The shape of query_embeddings (422): a sequence of sequences of
 * numbers. */
static int query_shape(const vcdc_api_body_t *b, vcdc_api_error_t *err) {
        json_t *arr = json_object_get(b->root, "query_embeddings"), *row, *v;
        char path[64];
        size_t i, k;

        if (!arr)
                return vcdc_api_body_missing(b, "query_embeddings", err);
        if (!json_is_array(arr))
                return vcdc_api_shape_type(err, "query_embeddings", arr,
                                           "a sequence");
        json_array_foreach(arr, i, row) {
                snprintf(path, sizeof(path), "query_embeddings[%zu]", i);
                if (!json_is_array(row))
                        return vcdc_api_shape_type(err, path, row,
                                                   "a sequence");
                json_array_foreach(row, k, v) {
                        snprintf(path, sizeof(path),
                                 "query_embeddings[%zu][%zu]", i, k);
                        if (!json_is_number(v))
                                return vcdc_api_shape_type(err, path, v, "f32");
                }
        }
        return 0;
}

/* query_embeddings, once shaped: rows of one dimension (the server's
 * words when not), of the collection's when it has one, each straight to
 * float32 from the text. No row must be non-empty: the server checks
 * only the dimension. */
static int parse_queries(const vcdc_api_body_t *b, size_t dim,
                         vcdc_api_read_t *r, vcdc_api_error_t *err) {
        const vcdc_json_span_t *span =
                vcdc_api_body_span(b, "query_embeddings");
        json_t *arr = json_object_get(b->root, "query_embeddings"), *row;
        vcdc_json_span_t key, elem;
        vcdc_json_iter_t it;
        char path[64];
        size_t i, n, cnt = json_array_size(arr), rowdim = 0;

        json_array_foreach(arr, i, row) {
                if (i && json_array_size(row) != rowdim)
                        return vcdc_api_error_set(
                                err, 400, VCDC_API_INVALID_ARGUMENT,
                                "Inconsistent dimensions in provided "
                                "embeddings");
                rowdim = json_array_size(row);
        }
        if (cnt && dim && rowdim != dim)
                return vcdc_api_error_set(err, 400, VCDC_API_INVALID_ARGUMENT,
                                          "Collection expecting embedding "
                                          "with dimension of %zu, got %zu",
                                          dim, rowdim);
        r->dim = rowdim;
        r->nqueries = cnt;
        if (!cnt || !rowdim)
                return 0;
        if (!(r->queries = malloc(cnt * rowdim * sizeof(float))))
                return oom(err);
        vcdc_json_iter_init(&it, span);
        for (i = 0; vcdc_json_iter_next(&it, &key, &elem); i++) {
                if (vcdc_json_floats(&elem, r->queries + i * rowdim, rowdim,
                                     &n)) {
                        json_t *v = json_array_get(json_array_get(arr, i), n);
                        snprintf(path, sizeof(path),
                                 "query_embeddings[%zu][%zu]", i, n);
                        return vcdc_api_error_set(
                                err, 400, VCDC_API_INVALID_ARGUMENT,
                                "%s: %g is beyond float32's range", path,
                                json_number_value(v));
                }
        }
        return 0;
}

int vcdc_api_parse_query(const char *body, size_t len, size_t dim,
                         vcdc_api_read_t *out, vcdc_api_error_t *err) {
        vcdc_api_body_t b;
        int rc = -1;

        memset(out, 0, sizeof(*out));
        if (vcdc_api_body_load(&b, body, len, "struct QueryRequestPayload",
                               err) ||
            read_fields(&b, F_IDS | F_NRESULT | F_INCLUDE | F_QUERIES,
                        VCDC_API_INC_DOCUMENTS | VCDC_API_INC_METADATAS |
                                VCDC_API_INC_DISTANCES,
                        out, err) ||
            parse_filter(&b, out, err) || parse_queries(&b, dim, out, err))
                goto done;
        if (out->n_results < 0)
                out->n_results = 10;
        out->limit = -1;
        rc = 0;
done:
        vcdc_api_body_free(&b);
        if (rc)
                vcdc_api_read_clear(out);
        return rc;
}

void vcdc_api_read_clear(vcdc_api_read_t *r) {
        if (!r)
                return;
        vcdc_api_free_ids(r->ids, r->nids);
        vcdc_filter_destroy(r->filter);
        free(r->queries);
        memset(r, 0, sizeof(*r));
}

/* -------------------------------------------------------- collections */

/* What is wrong with a collection name, in Chroma's words after "FIELD: ",
 * into out; 0 when nothing. */
static int name_problem(const char *name, const char *field, char *out,
                        size_t size) {
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
                snprintf(out, size,
                         "%s: Expected a name containing 3-512 characters "
                         "from [a-zA-Z0-9._-], starting and ending with a "
                         "character in [a-zA-Z0-9]. Got: %.600s",
                         field, name);
        else if (strstr(name, ".."))
                snprintf(out, size,
                         "%s: Expected a name that does not contains two "
                         "consecutive periods (..). Got %.600s",
                         field, name);
        else if (inet_pton(AF_INET, name, addr) == 1)
                snprintf(out, size,
                         "%s: Expected a name that is not a valid ip "
                         "address. Got %.600s",
                         field, name);
        else
                return 0;
        return 1;
}

int vcdc_api_check_collection_name(const char *name, const char *field,
                                   vcdc_api_error_t *err) {
        char why[900];

        if (!name_problem(name, field, why, sizeof(why)))
                return 0;
        return vcdc_api_error_set(err, 400, VCDC_API_INVALID_ARGUMENT,
                                  "Validation error: %s", why);
}

/* Chroma's validation of a create or modify, after its shape: every
 * problem, one a line, the name's first. */
static int validate_collection(const char *name, const char *name_field,
                               const json_t *metadata,
                               const char *metadata_field,
                               vcdc_api_error_t *err) {
        char why[900], all[VCDC_API_ERROR_MESSAGE_MAX];
        size_t n = 0;

        all[0] = '\0';
        if (name && name_problem(name, name_field, why, sizeof(why)))
                n += (size_t)snprintf(all + n, sizeof(all) - n, "%s", why);
        if (metadata && !json_object_size(metadata) && n < sizeof(all))
                n += (size_t)snprintf(all + n, sizeof(all) - n,
                                      "%s%s: Metadata cannot be empty",
                                      n ? "\n" : "", metadata_field);
        if (!n)
                return 0;
        return vcdc_api_error_set(err, 400, VCDC_API_INVALID_ARGUMENT,
                                  "Validation error: %s", all);
}

/* metadata of a collection: scalars (nulls when modifying); emptiness is
 * validate_collection()'s. */
static int collection_metadata(const vcdc_api_body_t *b, const char *key,
                               int nulls, char **out, vcdc_api_error_t *err) {
        json_t *m = vcdc_api_body_get(b, key);

        *out = NULL;
        if (!m)
                return 0;
        if (vcdc_api_check_metadata(
                    m, key, nulls,
                    nulls ? "UpdateMetadataValue" : "MetadataValue", err))
                return -1;
        if (!(*out = vcdc_api_json_text(m)))
                return oom(err);
        return 0;
}

/* A configuration as given: an object whose hnsw.space, when given, is
 * one of Chroma's. */
static int configuration(const vcdc_api_body_t *b, const char *key, char **out,
                         vcdc_api_error_t *err) {
        json_t *c = vcdc_api_body_get(b, key), *hnsw, *space;
        char path[64];

        *out = NULL;
        if (!c)
                return 0;
        if (!json_is_object(c))
                return vcdc_api_shape_type(err, key, c,
                                           "struct CollectionConfiguration");
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
                               : vcdc_api_shape_type(err, path, space,
                                                     "enum HnswSpace");
        if (!(*out = vcdc_api_json_text(c)))
                return oom(err);
        return 0;
}

int vcdc_api_parse_create_collection(const char *body, size_t len,
                                     vcdc_api_collection_req_t *out,
                                     vcdc_api_error_t *err) {
        json_t *name, *goc;
        vcdc_api_body_t b;
        int rc = -1;

        memset(out, 0, sizeof(*out));
        if (vcdc_api_body_load(&b, body, len, "struct CreateCollectionPayload",
                               err))
                goto done;
        if (!(name = json_object_get(b.root, "name"))) {
                vcdc_api_body_missing(&b, "name", err);
                goto done;
        }
        if (!json_is_string(name)) {
                vcdc_api_shape_type(err, "name", name, "a string");
                goto done;
        }
        goc = json_object_get(b.root, "get_or_create");
        if (goc && !json_is_boolean(goc)) {
                vcdc_api_shape_type(err, "get_or_create", goc, "a boolean");
                goto done;
        }
        out->get_or_create = json_is_true(goc);
        if (collection_metadata(&b, "metadata", 0, &out->metadata, err) ||
            configuration(&b, "configuration", &out->configuration, err))
                goto done;
        if (validate_collection(json_string_value(name), "name",
                                vcdc_api_body_get(&b, "metadata"), "metadata",
                                err))
                goto done;
        if (!(out->name = vcdc_api_dup(json_string_value(name),
                                       json_string_length(name)))) {
                oom(err);
                goto done;
        }
        rc = 0;
done:
        vcdc_api_body_free(&b);
        if (rc)
                vcdc_api_collection_req_clear(out);
        return rc;
}

int vcdc_api_parse_modify_collection(const char *body, size_t len,
                                     vcdc_api_collection_req_t *out,
                                     vcdc_api_error_t *err) {
        json_t *name;
        vcdc_api_body_t b;
        int rc = -1;

        memset(out, 0, sizeof(*out));
        if (vcdc_api_body_load(&b, body, len, "struct UpdateCollectionPayload",
                               err))
                goto done;
        name = vcdc_api_body_get(&b, "new_name");
        if (name && !json_is_string(name)) {
                vcdc_api_shape_type(err, "new_name", name, "a string");
                goto done;
        }
        if (collection_metadata(&b, "new_metadata", 1, &out->metadata, err) ||
            configuration(&b, "new_configuration", &out->configuration, err))
                goto done;
        if (validate_collection(
                    name ? json_string_value(name) : NULL, "new_name",
                    vcdc_api_body_get(&b, "new_metadata"), "new_metadata", err))
                goto done;
        if (name && !(out->name = vcdc_api_dup(json_string_value(name),
                                               json_string_length(name)))) {
                oom(err);
                goto done;
        }
        rc = 0;
done:
        vcdc_api_body_free(&b);
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
