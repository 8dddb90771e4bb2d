/*
 * vcdc - the change record.
 * Checks shape and limits only; what a target can hold is the sinks' check().
 */
#include "record.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

void vcdc_record_init(vcdc_record_t *rec) {
        memset(rec, 0, sizeof(*rec));
        rec->source_ts_ms = -1;
}

void vcdc_record_clear(vcdc_record_t *rec) {
        if (!rec)
                return;
        free(rec->collection);
        free(rec->id);
        free(rec->vector);
        free(rec->sparse_indices);
        free(rec->sparse_values);
        free(rec->metadata);
        free(rec->document);
        vcdc_record_init(rec);
}

static int dup_str(char **dst, const char *src) {
        *dst = NULL;
        if (!src)
                return 0;
        return (*dst = strdup(src)) ? 0 : -1;
}

static int dup_mem(void **dst, const void *src, size_t size) {
        *dst = NULL;
        if (!src || !size)
                return 0;
        if (!(*dst = malloc(size)))
                return -1;
        memcpy(*dst, src, size);
        return 0;
}

int vcdc_record_copy(vcdc_record_t *dst, const vcdc_record_t *src) {
        vcdc_record_init(dst);
        dst->op = src->op;
        dst->dim = src->dim;
        dst->sparse_nnz = src->sparse_nnz;
        dst->has_sparse = src->has_sparse;
        dst->source_ts_ms = src->source_ts_ms;
        if (dup_str(&dst->collection, src->collection) ||
            dup_str(&dst->id, src->id) ||
            dup_mem((void **)&dst->vector, src->vector,
                    src->dim * sizeof(float)) ||
            dup_mem((void **)&dst->sparse_indices, src->sparse_indices,
                    src->sparse_nnz * sizeof(uint32_t)) ||
            dup_mem((void **)&dst->sparse_values, src->sparse_values,
                    src->sparse_nnz * sizeof(float)) ||
            dup_str(&dst->metadata, src->metadata) ||
            dup_str(&dst->document, src->document)) {
                vcdc_record_clear(dst);
                return -1;
        }
        return 0;
}

const char *vcdc_op_name(vcdc_op_t op) {
        return op == VCDC_OP_DELETE ? "DELETE" : "UPSERT";
}

/* "\"name\" is missing", "... is empty", "... is N bytes, more than M",
 * "... is not UTF-8". */
static int check_str(const char *what, const char *s, size_t max,
                     char *errstr, size_t errstr_size) {
        size_t len;

        if (!s) {
                snprintf(errstr, errstr_size, "\"%s\" is missing", what);
                return -1;
        }
        if (!(len = strlen(s))) {
                snprintf(errstr, errstr_size, "\"%s\" is empty", what);
                return -1;
        }
        if (len > max) {
                snprintf(errstr, errstr_size,
                         "\"%s\" is %zu bytes, more than the maximum %zu",
                         what, len, max);
                return -1;
        }
        if (!vcdc_utf8_valid(s, len)) {
                snprintf(errstr, errstr_size, "\"%s\" is not UTF-8", what);
                return -1;
        }
        return 0;
}

int vcdc_record_check_ids(const vcdc_record_t *rec, char *errstr,
                          size_t errstr_size) {
        if (check_str("collection", rec->collection,
                      VCDC_COLLECTION_MAX_BYTES, errstr, errstr_size) ||
            check_str("id", rec->id, VCDC_ID_MAX_BYTES, errstr, errstr_size))
                return -1;
        return 0;
}

int vcdc_record_check_limits(const vcdc_record_t *rec, char *errstr,
                             size_t errstr_size) {
        if (vcdc_record_check_ids(rec, errstr, errstr_size))
                return -1;
        if (rec->op == VCDC_OP_UPSERT &&
            (rec->dim == 0 || rec->dim > VCDC_DIM_MAX)) {
                snprintf(errstr, errstr_size,
                         "an upsert with %zu dimensions (1 to %d allowed)",
                         rec->dim, VCDC_DIM_MAX);
                return -1;
        }
        return 0;
}

int vcdc_vector_check(const float *v, size_t dim, char *errstr,
                      size_t errstr_size) {
        size_t i;

        if (!dim || !v) {
                snprintf(errstr, errstr_size, "no vector");
                return -1;
        }
        for (i = 0; i < dim; i++)
                if (!isfinite(v[i])) {
                        snprintf(errstr, errstr_size, "vector[%zu] is %s", i,
                                 isnan(v[i]) ? "NaN" : "infinite");
                        return -1;
                }
        return 0;
}
