/*
 * vcdc - the Chroma sink's reads: count, get by ids, scan in pages, query.
 * A collection that does not exist (yet, or any more) reads as empty.
 * Never writes.
 */
#include "sink_chroma_state.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

vcdc_sink_status_t vcdc_chroma_op_count(vcdc_sink_t *sink, uint64_t *countp,
                                        char *errstr, size_t errstr_size) {
        chroma_t *st = sink->state;
        char path[CHROMA_PATH_SIZE];
        vcdc_sink_status_t status;
        json_t *resp = NULL;
        long code = 0;

        *countp = 0;
        if ((status = vcdc_chroma_refresh(sink, errstr, errstr_size)) !=
            VCDC_SINK_OK)
                return status;
        if (!st->id[0])
                return VCDC_SINK_OK;
        if (vcdc_chroma_coll_path(st, st->id, "count", path, sizeof(path)) ==
            -1)
                return vcdc_chroma_fail(sink, VCDC_SINK_FATAL, errstr,
                                        errstr_size,
                                        "collection path too long");
        status = vcdc_chroma_call(sink, "GET", path, NULL, &resp, &code, errstr,
                                  errstr_size);
        if (status != VCDC_SINK_OK) {
                if (code != 404)
                        return status;
                st->id[0] = '\0';
                return VCDC_SINK_OK;
        }
        if (!json_is_integer(resp) || json_integer_value(resp) < 0) {
                json_decref(resp);
                return vcdc_chroma_fail(
                        sink, VCDC_SINK_RETRIABLE, errstr, errstr_size,
                        "GET %s: the answer is not a count", path);
        }
        *countp = (uint64_t)json_integer_value(resp);
        json_decref(resp);
        return VCDC_SINK_OK;
}

/* How many records with vectors one get may ask for, so the answer stays
 * well within the cap. */
static size_t get_limit(const chroma_t *st, int with_vectors) {
        size_t per = 4096 + (with_vectors ? st->dim * 16 : 0);
        size_t n = VCDC_CHROMA_MAX_RESPONSE_BYTES / 2 / per;

        if (n > st->max_batch)
                n = st->max_batch;
        return n ? n : 1;
}

/* One get request; 404 (the collection went away) counts as empty. */
static vcdc_sink_status_t get_call(vcdc_sink_t *sink, const char *body,
                                   json_t **respp, char *errstr,
                                   size_t errstr_size) {
        chroma_t *st = sink->state;
        char path[CHROMA_PATH_SIZE];
        vcdc_sink_status_t status;
        long code = 0;

        *respp = NULL;
        if (!body)
                return vcdc_chroma_fail(sink, VCDC_SINK_RETRIABLE, errstr,
                                        errstr_size, "out of memory");
        if (vcdc_chroma_coll_path(st, st->id, "get", path, sizeof(path)) == -1)
                return vcdc_chroma_fail(sink, VCDC_SINK_FATAL, errstr,
                                        errstr_size,
                                        "collection path too long");
        status = vcdc_chroma_call(sink, "POST", path, body, respp, &code,
                                  errstr, errstr_size);
        if (status != VCDC_SINK_OK && code == 404) {
                st->id[0] = '\0';
                return VCDC_SINK_OK;
        }
        return status;
}

vcdc_sink_status_t vcdc_chroma_op_get(vcdc_sink_t *sink, const char *const *ids,
                                      size_t cnt, vcdc_record_t *out,
                                      char *errstr, size_t errstr_size) {
        chroma_t *st = sink->state;
        vcdc_sink_status_t status;
        size_t i, n, found;
        char err[512];

        if ((status = vcdc_chroma_refresh(sink, errstr, errstr_size)) !=
            VCDC_SINK_OK)
                return status;
        for (i = 0; i < cnt && st->id[0]; i += n) {
                json_t *resp;
                char *body;
                n = get_limit(st, 1);
                if (n > cnt - i)
                        n = cnt - i;
                body = vcdc_chroma_get_body(ids + i, n, 0, 0,
                                            VCDC_CHROMA_INC_EMBEDDINGS |
                                                    VCDC_CHROMA_INC_METADATAS |
                                                    VCDC_CHROMA_INC_DOCUMENTS);
                status = get_call(sink, body, &resp, errstr, errstr_size);
                free(body);
                if (status != VCDC_SINK_OK)
                        return status;
                if (!resp)
                        break;
                if (vcdc_chroma_parse_get(resp, ids + i, n, out + i, &found,
                                          err, sizeof(err)) == -1) {
                        json_decref(resp);
                        return vcdc_chroma_fail(sink, VCDC_SINK_RETRIABLE,
                                                errstr, errstr_size, "%s", err);
                }
                json_decref(resp);
        }
        return VCDC_SINK_OK;
}

vcdc_sink_status_t vcdc_chroma_op_scan(vcdc_sink_t *sink, char **cursorp,
                                       size_t max, int with_vectors,
                                       vcdc_record_t *out, size_t *cntp,
                                       char *errstr, size_t errstr_size) {
        chroma_t *st = sink->state;
        unsigned long long offset = 0;
        vcdc_sink_status_t status;
        json_t *resp = NULL;
        size_t limit, n = 0;
        char err[512], *body;

        *cntp = 0;
        if (*cursorp) {
                char *end;
                errno = 0;
                offset = strtoull(*cursorp, &end, 10);
                if (errno || end == *cursorp || *end || **cursorp == '-')
                        return vcdc_chroma_fail(
                                sink, VCDC_SINK_INVALID, errstr, errstr_size,
                                "bad scan cursor \"%.32s\"", *cursorp);
        }
        if ((status = vcdc_chroma_refresh(sink, errstr, errstr_size)) !=
            VCDC_SINK_OK)
                return status;
        if (!st->id[0] || !max)
                goto done;
        limit = get_limit(st, with_vectors);
        if (limit > max)
                limit = max;
        body = vcdc_chroma_get_body(
                NULL, 0, limit, (size_t)offset,
                (with_vectors ? VCDC_CHROMA_INC_EMBEDDINGS : 0) |
                        VCDC_CHROMA_INC_METADATAS | VCDC_CHROMA_INC_DOCUMENTS);
        status = get_call(sink, body, &resp, errstr, errstr_size);
        free(body);
        if (status != VCDC_SINK_OK)
                return status;
        if (resp && vcdc_chroma_parse_get(resp, NULL, limit, out, &n, err,
                                          sizeof(err)) == -1) {
                json_decref(resp);
                return vcdc_chroma_fail(sink, VCDC_SINK_RETRIABLE, errstr,
                                        errstr_size, "%s", err);
        }
        json_decref(resp);
        *cntp = n;
        if (n == limit) {
                char next[32];
                snprintf(next, sizeof(next), "%llu", offset + n);
                free(*cursorp);
                if (!(*cursorp = strdup(next))) {
                        while (n-- > 0)
                                vcdc_record_clear(&out[n]);
                        *cntp = 0;
                        return vcdc_chroma_fail(sink, VCDC_SINK_RETRIABLE,
                                                errstr, errstr_size,
                                                "out of memory");
                }
                return VCDC_SINK_OK;
        }
done:
        free(*cursorp);
        *cursorp = NULL;
        return VCDC_SINK_OK;
}

vcdc_sink_status_t vcdc_chroma_op_query(vcdc_sink_t *sink, const float *vector,
                                        size_t dim, size_t k, vcdc_hit_t *hits,
                                        size_t *cntp, char *errstr,
                                        size_t errstr_size) {
        chroma_t *st = sink->state;
        char path[CHROMA_PATH_SIZE], err[512], *body;
        vcdc_sink_status_t status;
        json_t *resp = NULL;
        long code = 0;

        *cntp = 0;
        if (vcdc_vector_check(vector, dim, err, sizeof(err)) == -1)
                return vcdc_chroma_fail(sink, VCDC_SINK_INVALID, errstr,
                                        errstr_size, "query: %s", err);
        if ((status = vcdc_chroma_refresh(sink, errstr, errstr_size)) !=
            VCDC_SINK_OK)
                return status;
        if (!st->id[0] || !k)
                return VCDC_SINK_OK;
        if (st->dim && dim != st->dim)
                return vcdc_chroma_fail(
                        sink, VCDC_SINK_INVALID, errstr, errstr_size,
                        "query vector of dimension %zu, the collection "
                        "has %zu",
                        dim, st->dim);
        if (vcdc_chroma_coll_path(st, st->id, "query", path, sizeof(path)) ==
                    -1 ||
            !(body = vcdc_chroma_query_body(vector, dim, k)))
                return vcdc_chroma_fail(sink, VCDC_SINK_RETRIABLE, errstr,
                                        errstr_size,
                                        "out of memory or path too long");
        status = vcdc_chroma_call(sink, "POST", path, body, &resp, &code,
                                  errstr, errstr_size);
        free(body);
        if (status != VCDC_SINK_OK) {
                if (code != 404)
                        return status;
                st->id[0] = '\0';
                return VCDC_SINK_OK;
        }
        if (vcdc_chroma_parse_query(resp, hits, k, cntp, err, sizeof(err)) ==
            -1) {
                json_decref(resp);
                return vcdc_chroma_fail(sink, VCDC_SINK_RETRIABLE, errstr,
                                        errstr_size, "POST %s: %s", path, err);
        }
        json_decref(resp);
        return VCDC_SINK_OK;
}
