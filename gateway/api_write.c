/*
 * vcdc - the bodies of add, upsert and update (api_body.h): ids,
 * embeddings (JSON numbers straight to float32, or base64 of float32),
 * metadatas, documents and uris, checked in the order and words of the
 * Chroma 1.0 server, into change records.
 */
#include "api_body_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_json.h"
#include "jsonspan.h"

static int oom(vcdc_api_error_t *err) {
        return vcdc_api_error_set(err, 500, VCDC_API_INTERNAL,
                                  "out of memory reading the request");
}

static int b64_value(unsigned char c) {
        if (c >= 'A' && c <= 'Z')
                return c - 'A';
        if (c >= 'a' && c <= 'z')
                return c - 'a' + 26;
        if (c >= '0' && c <= '9')
                return c - '0' + 52;
        if (c == '+')
                return 62;
        if (c == '/')
                return 63;
        return -1;
}

/* The checks of Rust's base64 crate (standard alphabet, padding
 * required, canonical trailing bits), in its words and order: Chroma 1.0
 * decodes with it. Returns the padding (0-2), or -1 with err. */
static int b64_check(const char *s, size_t len, vcdc_api_error_t *err) {
        size_t i, p = len, q = len, run = 0;

        for (i = 0; i < len && (p == len || q == len); i++) {
                if (s[i] == '=' && p == len)
                        p = i;
                else if (s[i] != '=' && b64_value((unsigned char)s[i]) < 0 &&
                         q == len)
                        q = i;
        }
        if (p < q) {
                while (p + run < len && s[p + run] == '=')
                        run++;
                if (p % 4 < 2 || p % 4 + run > 4 || p + run != len)
                        return vcdc_api_error_set(
                                err, 400, VCDC_API_INVALID_ARGUMENT,
                                "Base64 decoding error: Invalid base64 string: "
                                "Invalid symbol 61, offset %zu.",
                                p);
        } else if (q < len) {
                return vcdc_api_error_set(
                        err, 400, VCDC_API_INVALID_ARGUMENT,
                        "Base64 decoding error: Invalid base64 string: "
                        "Invalid symbol %u, offset %zu.",
                        (unsigned char)s[q], q);
        }
        if (len % 4 == 1)
                return vcdc_api_error_set(err, 400, VCDC_API_INVALID_ARGUMENT,
                                          "Base64 decoding error: Invalid "
                                          "base64 string: Invalid input "
                                          "length: %zu",
                                          len);
        if (len % 4)
                return vcdc_api_error_set(err, 400, VCDC_API_INVALID_ARGUMENT,
                                          "Base64 decoding error: Invalid "
                                          "base64 string: Invalid padding");
        /* the bits the last symbol carries past the bytes must be zero */
        if (run &&
            b64_value((unsigned char)s[len - run - 1]) & (run == 1 ? 3 : 15))
                return vcdc_api_error_set(
                        err, 400, VCDC_API_INVALID_ARGUMENT,
                        "Base64 decoding error: Invalid base64 string: "
                        "Invalid last symbol %u, offset %zu.",
                        (unsigned char)s[len - run - 1], len - run - 1);
        return (int)run;
}

int vcdc_api_base64_floats(const char *s, size_t len, float **vp, size_t *dimp,
                           vcdc_api_error_t *err) {
        unsigned char *bytes;
        size_t i, n = 0, pad;
        uint32_t acc = 0;
        int r;

        *vp = NULL;
        *dimp = 0;
        if ((r = b64_check(s, len, err)) < 0)
                return -1;
        pad = (size_t)r;
        if (!(bytes = malloc(len / 4 * 3 + 1)))
                return oom(err);
        for (i = 0; i + pad < len; i++) {
                acc = acc << 6 | (uint32_t)b64_value((unsigned char)s[i]);
                if (i % 4 == 3) {
                        bytes[n++] = (unsigned char)(acc >> 16);
                        bytes[n++] = (unsigned char)(acc >> 8);
                        bytes[n++] = (unsigned char)acc;
                        acc = 0;
                }
        }
        if (pad == 1) { /* 3 symbols: 18 bits, 2 bytes */
                bytes[n++] = (unsigned char)(acc >> 10);
                bytes[n++] = (unsigned char)(acc >> 2);
        } else if (pad == 2) { /* 2 symbols: 12 bits, 1 byte */
                bytes[n++] = (unsigned char)(acc >> 4);
        }
        if (n % 4) {
                free(bytes);
                return vcdc_api_error_set(
                        err, 400, VCDC_API_INVALID_ARGUMENT,
                        "Base64 decoding error: Invalid byte length: %zu bytes "
                        "cannot be converted to f32 values (must be divisible "
                        "by 4)",
                        n);
        }
        if (n && !(*vp = malloc(n))) {
                free(bytes);
                return oom(err);
        }
        for (i = 0; i < n / 4; i++) { /* little-endian, whatever the host */
                uint32_t u = (uint32_t)bytes[4 * i] |
                             (uint32_t)bytes[4 * i + 1] << 8 |
                             (uint32_t)bytes[4 * i + 2] << 16 |
                             (uint32_t)bytes[4 * i + 3] << 24;
                memcpy(&(*vp)[i], &u, sizeof(u));
        }
        *dimp = n / 4;
        free(bytes);
        return 0;
}

/* Optional per-record arrays: metadatas, documents, uris. The length of
 * each present one, for the count check. */
static int optional_array(const vcdc_api_body_t *b, const char *key,
                          json_t **arrp, vcdc_api_error_t *err) {
        *arrp = vcdc_api_body_get(b, key);
        if (*arrp && !json_is_array(*arrp))
                return vcdc_api_shape_type(err, key, *arrp, "a sequence");
        return 0;
}

/* The shape of the embeddings member (serde's untagged enum): every
 * element an array of numbers, or every one a base64 string; for update
 * nulls too, and the member itself may be null. */
static int embeddings_shape(const json_t *arr, vcdc_api_write_op_t op,
                            vcdc_api_error_t *err) {
        int arrays = 0, strings = 0;
        size_t i, k;
        json_t *e, *x;

        if (json_is_null(arr) && op == VCDC_API_UPDATE)
                return 0;
        if (!json_is_array(arr))
                goto untagged;
        json_array_foreach(arr, i, e) {
                if (json_is_array(e)) {
                        json_array_foreach(
                                e, k, x) if (!json_is_number(x)) goto untagged;
                        arrays = 1;
                } else if (json_is_string(e)) {
                        strings = 1;
                } else if (!json_is_null(e) || op != VCDC_API_UPDATE) {
                        goto untagged;
                }
        }
        if (!(arrays && strings))
                return 0;
untagged:
        return vcdc_api_error_shape(
                err, "embeddings",
                "data did not match any variant of untagged enum %s",
                op == VCDC_API_UPDATE ? "UpdateEmbeddingsPayload"
                                      : "EmbeddingsPayload");
}

/* The embeddings, once shaped, into recs[i].vector/dim and has[i]. */
static int embeddings(const vcdc_api_body_t *b, vcdc_api_write_t *w, size_t dim,
                      vcdc_api_error_t *err) {
        json_t *arr = json_object_get(b->root, "embeddings"), *e;
        const vcdc_json_span_t *span;
        vcdc_json_span_t key, elem;
        vcdc_json_iter_t it;
        size_t i, n, given, nemb = json_array_size(arr);

        /* w->recs has room for nemb: the counts are checked after these
         * checks, as the server does */
        if (!json_is_array(arr))
                return 0; /* absent or null: an update's */
        /* decoded first (base64's errors), then checked as the server
         * does: each non-empty, all of one dimension, the collection's */
        span = vcdc_api_body_span(b, "embeddings");
        vcdc_json_iter_init(&it, span);
        for (i = 0; vcdc_json_iter_next(&it, &key, &elem); i++) {
                vcdc_record_t *r = &w->recs[i];
                e = json_array_get(arr, i);
                if (json_is_null(e))
                        continue;
                w->has[i] |= VCDC_API_HAS_EMBEDDING;
                if (json_is_string(e)) {
                        if (vcdc_api_base64_floats(json_string_value(e),
                                                   json_string_length(e),
                                                   &r->vector, &r->dim, err))
                                return -1;
                } else if (json_array_size(e)) {
                        r->dim = json_array_size(e);
                        if (!(r->vector = malloc(r->dim * sizeof(float))))
                                return oom(err);
                        if (vcdc_json_floats(&elem, r->vector, r->dim, &n))
                                return vcdc_api_error_set(
                                        err, 400, VCDC_API_INVALID_ARGUMENT,
                                        "embeddings[%zu][%zu]: %g is beyond "
                                        "float32's range: vcdc takes finite "
                                        "vectors only",
                                        i, n,
                                        json_number_value(
                                                json_array_get(e, n)));
                }
                for (n = 0; n < r->dim; n++)
                        if (!isfinite(r->vector[n]))
                                return vcdc_api_error_set(
                                        err, 400, VCDC_API_INVALID_ARGUMENT,
                                        "embeddings[%zu][%zu] is not finite: "
                                        "vcdc takes finite vectors only",
                                        i, n);
        }
        for (i = 0; w->op != VCDC_API_UPDATE && i < nemb; i++)
                if ((w->has[i] & VCDC_API_HAS_EMBEDDING) && !w->recs[i].dim)
                        return vcdc_api_error_set(
                                err, 400, VCDC_API_INVALID_ARGUMENT,
                                "Validation error: embeddings: Each embedding "
                                "must have at least 1 dimension");
        for (i = 0, n = 0, given = 0; i < nemb; i++) {
                if (!(w->has[i] & VCDC_API_HAS_EMBEDDING))
                        continue;
                if (given++ && w->recs[i].dim != n)
                        return vcdc_api_error_set(
                                err, 400, VCDC_API_INVALID_ARGUMENT,
                                "Inconsistent dimensions in provided "
                                "embeddings");
                n = w->recs[i].dim;
        }
        if (given && dim && n != dim)
                return vcdc_api_error_set(err, 400, VCDC_API_INVALID_ARGUMENT,
                                          "Collection expecting embedding "
                                          "with dimension of %zu, got %zu",
                                          dim, n);
        if (given && !n) /* an update's empty base64, no dimension known */
                return vcdc_api_error_set(
                        err, 400, VCDC_API_INVALID_ARGUMENT,
                        "Validation error: embeddings: Each embedding must "
                        "have at least 1 dimension");
        if (n)
                dim = n;
        w->dim = dim;
        return 0;
}

/* The shape of one optional column (metadatas, documents, uris): null,
 * or an array of nulls and values of the kind. */
static int column_shape(const char *key, const json_t *arr,
                        vcdc_api_write_op_t op, vcdc_api_error_t *err) {
        char path[64];
        json_t *v;
        size_t i;

        if (json_is_null(arr))
                return 0;
        if (!json_is_array(arr))
                return vcdc_api_shape_type(err, key, arr, "a sequence");
        json_array_foreach(arr, i, v) {
                snprintf(path, sizeof(path), "%s[%zu]", key, i);
                if (json_is_null(v))
                        continue;
                if (!strcmp(key, "metadatas")) {
                        if (vcdc_api_check_metadata(
                                    v, path, op != VCDC_API_ADD,
                                    op != VCDC_API_ADD ? "UpdateMetadataValue"
                                                       : "MetadataValue",
                                    err))
                                return -1;
                } else if (!json_is_string(v)) {
                        return vcdc_api_shape_type(err, path, v, "a string");
                }
        }
        return 0;
}

/* The body's shape, member by member in its order (as serde reads it),
 * then the fields missing. */
static int write_shape(const vcdc_api_body_t *b, vcdc_api_write_op_t op,
                       vcdc_api_error_t *err) {
        const vcdc_json_member_t *m;
        size_t i, k, n = vcdc_jsonscan_members(b->js, &m);
        char key[24], path[64];
        json_t *v, *x;

        for (i = 0; i < n; i++) {
                if (m[i].key_len >= sizeof(key))
                        continue;
                memcpy(key, m[i].key, m[i].key_len);
                key[m[i].key_len] = '\0';
                v = json_object_get(b->root, key);
                if (!strcmp(key, "ids")) {
                        if (!json_is_array(v))
                                return vcdc_api_shape_type(err, "ids", v,
                                                           "a sequence");
                        json_array_foreach(v, k, x) if (!json_is_string(x)) {
                                snprintf(path, sizeof(path), "ids[%zu]", k);
                                return vcdc_api_shape_type(err, path, x,
                                                           "a string");
                        }
                } else if (!strcmp(key, "embeddings")) {
                        if (embeddings_shape(v, op, err))
                                return -1;
                } else if (!strcmp(key, "metadatas") ||
                           !strcmp(key, "documents") || !strcmp(key, "uris")) {
                        if (column_shape(key, v, op, err))
                                return -1;
                }
        }
        if (!json_object_get(b->root, "ids"))
                return vcdc_api_body_missing(b, "ids", err);
        if (op != VCDC_API_UPDATE && !json_object_get(b->root, "embeddings"))
                return vcdc_api_body_missing(b, "embeddings", err);
        return 0;
}

/* Shape checks of metadatas, documents, uris before the counts. */
static int check_columns(const json_t *metas, const json_t *docs,
                         const json_t *uris, int nulls, vcdc_api_error_t *err) {
        char path[64];
        json_t *v;
        size_t i;

        json_array_foreach(metas, i, v) {
                snprintf(path, sizeof(path), "metadatas[%zu]", i);
                if (!json_is_null(v) &&
                    vcdc_api_check_metadata(v, path, nulls,
                                            nulls ? "UpdateMetadataValue"
                                                  : "MetadataValue",
                                            err))
                        return -1;
        }
        json_array_foreach(docs, i, v) {
                snprintf(path, sizeof(path), "documents[%zu]", i);
                if (!json_is_null(v) && !json_is_string(v))
                        return vcdc_api_shape_type(err, path, v, "a string");
        }
        json_array_foreach(uris, i, v) {
                snprintf(path, sizeof(path), "uris[%zu]", i);
                if (!json_is_null(v) && !json_is_string(v))
                        return vcdc_api_shape_type(err, path, v, "a string");
        }
        return 0;
}

int vcdc_api_parse_write(vcdc_api_write_op_t op, const char *collection,
                         const char *body, size_t len, size_t dim,
                         vcdc_api_write_t *out, vcdc_api_error_t *err) {
        static const char *const payloads[] = {
                "struct AddCollectionRecordsPayload",
                "struct UpsertCollectionRecordsPayload",
                "struct UpdateCollectionRecordsPayload",
        };
        json_t *metas, *docs, *uris, *emb, *v;
        char **ids = NULL;
        size_t i, nids = 0;
        int rc = -1;
        vcdc_api_body_t b;

        memset(out, 0, sizeof(*out));
        out->op = op;
        if (vcdc_api_body_load(&b, body, len, payloads[op], err) ||
            write_shape(&b, op, err))
                goto done;
        if (!(v = json_object_get(b.root, "ids"))) {
                vcdc_api_body_missing(&b, "ids", err);
                goto done;
        }
        if (!json_is_array(v)) {
                vcdc_api_shape_type(err, "ids", v, "a sequence");
                goto done;
        }
        if (vcdc_api_body_ids(&b, "ids", &ids, &nids, err) < 0 ||
            optional_array(&b, "metadatas", &metas, err) ||
            optional_array(&b, "documents", &docs, err) ||
            optional_array(&b, "uris", &uris, err) ||
            check_columns(metas, docs, uris, op != VCDC_API_ADD, err))
                goto done;
        emb = vcdc_api_body_get(&b, "embeddings");
        /* room for every embedding too: they are checked before the
         * counts (vcdc_api_write_clear() frees all n) */
        out->n = json_array_size(emb) > nids ? json_array_size(emb) : nids;
        if (!(out->recs = calloc(out->n + 1, sizeof(vcdc_record_t))) ||
            !(out->has = calloc(out->n + 1, 1))) {
                oom(err);
                goto done;
        }
        if (embeddings(&b, out, dim, err))
                goto done;
        if ((metas && json_array_size(metas) != nids) ||
            (docs && json_array_size(docs) != nids) ||
            (uris && json_array_size(uris) != nids) ||
            (emb && json_array_size(emb) != nids)) {
                vcdc_api_error_set(err, 400, VCDC_API_INVALID_ARGUMENT,
                                   "Inconsistent number of IDs, embeddings, "
                                   "documents, URIs and metadatas");
                goto done;
        }
        out->n = nids; /* the counts agree */
        for (i = 0; i < nids; i++) {
                vcdc_record_t *rec = &out->recs[i];
                if (!*ids[i]) {
                        vcdc_api_error_set(err, 400, VCDC_API_INVALID_ARGUMENT,
                                           "Empty ID, ID must have at least "
                                           "one character");
                        goto done;
                }
                if (strlen(ids[i]) > VCDC_ID_MAX_BYTES) {
                        vcdc_api_error_set(err, 400, VCDC_API_INVALID_ARGUMENT,
                                           "ids[%zu] is %zu bytes long: vcdc "
                                           "takes ids up to %d bytes",
                                           i, strlen(ids[i]),
                                           VCDC_ID_MAX_BYTES);
                        goto done;
                }
                if (uris && !json_is_null(json_array_get(uris, i))) {
                        vcdc_api_error_set(err, 400, VCDC_API_INVALID_ARGUMENT,
                                           "uris[%zu]: vcdc-gateway does not "
                                           "store uris (the change record has "
                                           "no field for them)",
                                           i);
                        goto done;
                }
                rec->op = VCDC_OP_UPSERT;
                rec->id = ids[i];
                ids[i] = NULL;
                if (!(rec->collection =
                              vcdc_api_dup(collection, strlen(collection)))) {
                        oom(err);
                        goto done;
                }
                if ((v = json_array_get(metas, i)) && !json_is_null(v)) {
                        if (!(rec->metadata = vcdc_api_json_text(v))) {
                                oom(err);
                                goto done;
                        }
                        out->has[i] |= VCDC_API_HAS_METADATA;
                }
                if ((v = json_array_get(docs, i)) && !json_is_null(v)) {
                        if (!(rec->document =
                                      vcdc_api_dup(json_string_value(v),
                                                   json_string_length(v)))) {
                                oom(err);
                                goto done;
                        }
                        out->has[i] |= VCDC_API_HAS_DOCUMENT;
                }
        }
        rc = 0;
done:
        vcdc_api_free_ids(ids, nids);
        vcdc_api_body_free(&b);
        if (rc)
                vcdc_api_write_clear(out);
        return rc;
}

void vcdc_api_write_clear(vcdc_api_write_t *w) {
        size_t i;

        if (!w)
                return;
        for (i = 0; w->recs && i < w->n; i++)
                vcdc_record_clear(&w->recs[i]);
        free(w->recs);
        free(w->has);
        memset(w, 0, sizeof(*w));
}
