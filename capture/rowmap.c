/*
 * vcdc - rows as change records (rowmap.h).
 */
#include "rowmap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A NUL-terminated copy of len bytes; NULL on allocation failure. */
static char *dup_len(const char *s, size_t len) {
        char *d = malloc(len + 1);

        if (d) {
                memcpy(d, s, len);
                d[len] = '\0';
        }
        return d;
}

void vcdc_rowmap_id_excerpt(const vcdc_rowmap_value_t *id, char *out,
                            size_t size) {
        size_t i, n;

        if (!size)
                return;
        if (!id->present) {
                snprintf(out, size, "NULL");
                return;
        }
        n = id->len < 64 ? id->len : 64;
        if (n > size - 1)
                n = size - 1;
        for (i = 0; i < n; i++) {
                unsigned char c = (unsigned char)id->data[i];
                out[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
        }
        out[n] = '\0';
}

int vcdc_rowmap_id_equal(const vcdc_rowmap_value_t *a,
                         const vcdc_rowmap_value_t *b) {
        return a->present && b->present && a->len == b->len &&
               !memcmp(a->data, b->data, a->len);
}

/* The id and the collection of rec. */
static int set_ids(const vcdc_rowmap_value_t *id, const char *collection,
                   vcdc_record_t *rec, char *errstr, size_t errstr_size) {
        char why[256];

        if (!id->present) {
                snprintf(errstr, errstr_size, "the id is NULL");
                return VCDC_ROWMAP_BAD;
        }
        if (memchr(id->data, '\0', id->len)) {
                snprintf(errstr, errstr_size, "the id holds a NUL byte");
                return VCDC_ROWMAP_BAD;
        }
        if (!(rec->id = dup_len(id->data, id->len)) ||
            !(rec->collection = strdup(collection)))
                return VCDC_ROWMAP_NOMEM;
        if (vcdc_record_check_ids(rec, why, sizeof(why)) == -1) {
                snprintf(errstr, errstr_size, "%s", why);
                return VCDC_ROWMAP_BAD;
        }
        return VCDC_ROWMAP_OK;
}

int vcdc_rowmap_delete(const vcdc_rowmap_value_t *id, const char *collection,
                       int64_t ts_ms, vcdc_record_t *rec, char *errstr,
                       size_t errstr_size) {
        int r;

        rec->op = VCDC_OP_DELETE;
        rec->source_ts_ms = ts_ms;
        if ((r = set_ids(id, collection, rec, errstr, errstr_size)))
                vcdc_record_clear(rec);
        return r;
}

/* jsonb prints valid JSON only, so its first character decides whether
 * it is an object. */
static int is_object(const char *s, size_t len) {
        size_t i = 0;

        while (i < len &&
               (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
                i++;
        return i < len && s[i] == '{';
}

int vcdc_rowmap_upsert(const vcdc_rowmap_row_t *row, vcdc_pgvec_kind_t kind,
                       const char *collection, int64_t ts_ms,
                       vcdc_record_t *rec, char *errstr, size_t errstr_size) {
        const vcdc_rowmap_value_t *v = &row->vector;
        char why[256];
        int r;

        rec->op = VCDC_OP_UPSERT;
        rec->source_ts_ms = ts_ms;
        if ((r = set_ids(&row->id, collection, rec, errstr, errstr_size)))
                goto err;
        r = VCDC_ROWMAP_BAD;
        if (!v->present) {
                snprintf(errstr, errstr_size, "the vector is NULL");
                goto err;
        }
        if ((v->binary ? vcdc_pgvec_parse_binary(
                                 kind, (const unsigned char *)v->data, v->len,
                                 &rec->vector, &rec->dim, why, sizeof(why))
                       : vcdc_pgvec_parse_text(v->data, v->len, &rec->vector,
                                               &rec->dim, why, sizeof(why))) ==
            -1) {
                snprintf(errstr, errstr_size, "the vector: %s", why);
                goto err;
        }
        if (row->metadata.present) {
                if (!is_object(row->metadata.data, row->metadata.len)) {
                        snprintf(errstr, errstr_size,
                                 "the metadata is not a JSON object "
                                 "(\"%.*s%s\")",
                                 (int)(row->metadata.len > 40
                                               ? 40
                                               : row->metadata.len),
                                 row->metadata.data,
                                 row->metadata.len > 40 ? "..." : "");
                        goto err;
                }
                if (!(rec->metadata =
                              dup_len(row->metadata.data, row->metadata.len))) {
                        r = VCDC_ROWMAP_NOMEM;
                        goto err;
                }
        }
        if (row->document.present) {
                if (memchr(row->document.data, '\0', row->document.len)) {
                        snprintf(errstr, errstr_size,
                                 "the document holds a NUL byte");
                        goto err;
                }
                if (!(rec->document =
                              dup_len(row->document.data, row->document.len))) {
                        r = VCDC_ROWMAP_NOMEM;
                        goto err;
                }
        }
        return VCDC_ROWMAP_OK;
err:
        vcdc_record_clear(rec);
        return r;
}
