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

int vcdc_api_base64_floats(const char *s, size_t len, float **vp,
                           size_t *dimp, vcdc_api_error_t *err) {
        unsigned char *bytes;
        size_t i, n = 0, pad = 0;
        uint32_t acc = 0;
        int v;

        *vp = NULL;
        *dimp = 0;
        for (i = 0; i < len; i++) {
                unsigned char c = (unsigned char)s[i];
                if (c == '=' && i + 2 >= len &&
                    (i == len - 1 || s[len - 1] == '=')) {
                        pad++;
                        continue;
                }
                if ((v = b64_value(c)) < 0 || pad)
                        return vcdc_api_error_set(
                                err, 400, VCDC_API_INVALID_ARGUMENT,
                                "Base64 decoding error: Invalid base64 string: "
                                "Invalid symbol %u, offset %zu.",
                                c, i);
        }
        if (len % 4)
                return vcdc_api_error_set(err, 400, VCDC_API_INVALID_ARGUMENT,
                                          "Base64 decoding error: Invalid "
                                          "base64 string: Invalid padding");
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
static int optional_array(const body_t *b, const char *key, json_t **arrp,
                          vcdc_api_error_t *err) {
        *arrp = body_get(b, key);
        if (*arrp && !json_is_array(*arrp))
                return shape_type(err, key, *arrp, "a sequence");
        return 0;
}

/* The embeddings member: every element an array of numbers, or every one
 * a base64 string (update: nulls too). Fills recs[i].vector/dim and
 * has[i]. */
static int embeddings(const body_t *b, vcdc_api_write_t *w, size_t dim,
                      vcdc_api_error_t *err) {
        json_t *arr = json_object_get(b->root, "embeddings"), *e;
        const char *payload = w->op == VCDC_API_UPDATE
                                      ? "UpdateEmbeddingsPayload"
                                      : "EmbeddingsPayload";
        const vcdc_json_span_t *span;
        vcdc_json_span_t key, elem;
        vcdc_json_iter_t it;
        int arrays = 0, strings = 0;
        char path[64];
        size_t i, n;

        if (!arr && w->op != VCDC_API_UPDATE)
                return body_missing(b, "embeddings", err);
        if (!arr || (json_is_null(arr) && w->op == VCDC_API_UPDATE))
                return 0;
        if (!json_is_array(arr))
                goto untagged;
        json_array_foreach(arr, i, e) {
                if (json_is_array(e)) {
                        size_t k;
                        json_t *x;
                        json_array_foreach(e, k, x) if (!json_is_number(x))
                                goto untagged;
                        arrays = 1;
                } else if (json_is_string(e)) {
                        strings = 1;
                } else if (!json_is_null(e) || w->op != VCDC_API_UPDATE) {
                        goto untagged;
                }
        }
        if (arrays && strings)
                goto untagged;
        if (json_array_size(arr) != w->n)
                return 1; /* the caller's count check words it */
        span = body_span(b, "embeddings");
        vcdc_json_iter_init(&it, span);
        for (i = 0; vcdc_json_iter_next(&it, &key, &elem); i++) {
                vcdc_record_t *r = &w->recs[i];
                e = json_array_get(arr, i);
                if (json_is_null(e))
                        continue;
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
                if (!r->dim)
                        return vcdc_api_error_set(
                                err, 400, VCDC_API_INVALID_ARGUMENT,
                                "Validation error: embeddings: Each embedding "
                                "must have at least 1 dimension");
                for (n = 0; n < r->dim; n++)
                        if (!isfinite(r->vector[n]))
                                return vcdc_api_error_set(
                                        err, 400, VCDC_API_INVALID_ARGUMENT,
                                        "embeddings[%zu][%zu] is not finite: "
                                        "vcdc takes finite vectors only",
                                        i, n);
                w->has[i] |= VCDC_API_HAS_EMBEDDING;
        }
        for (i = 0; i < w->n; i++) {
                if (!(w->has[i] & VCDC_API_HAS_EMBEDDING))
                        continue;
                if (!dim)
                        dim = w->recs[i].dim;
                if (w->recs[i].dim != dim)
                        return vcdc_api_error_set(
                                err, 400, VCDC_API_INVALID_ARGUMENT,
                                "Collection expecting embedding with "
                                "dimension of %zu, got %zu",
                                dim, w->recs[i].dim);
        }
        w->dim = dim;
        return 0;
untagged:
        snprintf(path, sizeof(path), "embeddings");
        return vcdc_api_error_shape(
                err, path, "data did not match any variant of untagged enum %s",
                payload);
}

/* Shape checks of metadatas, documents, uris before the counts. */
static int check_columns(const json_t *metas, const json_t *docs,
                         const json_t *uris, int nulls,
                         vcdc_api_error_t *err) {
        char path[64];
        json_t *v;
        size_t i;

        json_array_foreach(metas, i, v) {
                snprintf(path, sizeof(path), "metadatas[%zu]", i);
                if (!json_is_null(v) &&
                    check_metadata(v, path, nulls,
                                   nulls ? "UpdateMetadataValue"
                                         : "MetadataValue",
                                   err))
                        return -1;
        }
        json_array_foreach(docs, i, v) {
                snprintf(path, sizeof(path), "documents[%zu]", i);
                if (!json_is_null(v) && !json_is_string(v))
                        return shape_type(err, path, v, "a string");
        }
        json_array_foreach(uris, i, v) {
                snprintf(path, sizeof(path), "uris[%zu]", i);
                if (!json_is_null(v) && !json_is_string(v))
                        return shape_type(err, path, v, "a string");
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
        int rc = -1, r;
        body_t b;

        memset(out, 0, sizeof(*out));
        out->op = op;
        if (body_load(&b, body, len, payloads[op], err))
                goto done;
        if (!json_object_get(b.root, "ids")) {
                body_missing(&b, "ids", err);
                goto done;
        }
        if (body_ids(&b, "ids", &ids, &nids, err) < 0 ||
            optional_array(&b, "metadatas", &metas, err) ||
            optional_array(&b, "documents", &docs, err) ||
            optional_array(&b, "uris", &uris, err) ||
            check_columns(metas, docs, uris, op != VCDC_API_ADD, err))
                goto done;
        out->n = nids;
        if (!(out->recs = calloc(nids + 1, sizeof(vcdc_record_t))) ||
            !(out->has = calloc(nids + 1, 1))) {
                oom(err);
                goto done;
        }
        if ((r = embeddings(&b, out, dim, err)) < 0)
                goto done;
        emb = body_get(&b, "embeddings");
        if (r == 1 || (metas && json_array_size(metas) != nids) ||
            (docs && json_array_size(docs) != nids) ||
            (uris && json_array_size(uris) != nids) ||
            (emb && json_array_size(emb) != nids)) {
                vcdc_api_error_set(err, 400, VCDC_API_INVALID_ARGUMENT,
                                   "Inconsistent number of IDs, embeddings, "
                                   "documents, URIs and metadatas");
                goto done;
        }
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
                if (!(rec->collection = dup_n(collection, strlen(collection)))) {
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
                        if (!(rec->document = dup_n(json_string_value(v),
                                                    json_string_length(v)))) {
                                oom(err);
                                goto done;
                        }
                        out->has[i] |= VCDC_API_HAS_DOCUMENT;
                }
        }
        rc = 0;
done:
        free_ids(ids, nids);
        body_free(&b);
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
