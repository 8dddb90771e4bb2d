/*
 * vcdc - rows as change records (rowmap.h).
 */
#include "rowmap.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct vcdc_rowmap_s {
        char *collection;
        vcdc_pgvec_kind_t kind;
        char *text; /* id, metadata and document, each NUL-terminated */
        size_t text_cap;
        float *vec;
        size_t vec_cap;
        vcdc_record_t rec; /* points into the above */
};

vcdc_rowmap_t *vcdc_rowmap_new(const char *collection, vcdc_pgvec_kind_t kind) {
        vcdc_rowmap_t *rm = calloc(1, sizeof(*rm));

        if (!rm || !(rm->collection = strdup(collection))) {
                free(rm);
                return NULL;
        }
        rm->kind = kind;
        return rm;
}

void vcdc_rowmap_destroy(vcdc_rowmap_t *rm) {
        if (!rm)
                return;
        free(rm->collection);
        free(rm->text);
        free(rm->vec);
        free(rm);
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

/* Copies the present values among vals[0..n) into the text buffer, each
 * NUL-terminated; *outs[k] points at each copy (NULL when absent). */
static int copy_texts(vcdc_rowmap_t *rm, const vcdc_rowmap_value_t *const *vals,
                      char **const *outs, size_t n) {
        size_t need = 0, off = 0, k;
        char *t;

        for (k = 0; k < n; k++)
                if (vals[k]->present)
                        need += vals[k]->len + 1;
        if (need > rm->text_cap) {
                if (!(t = realloc(rm->text, need)))
                        return -1;
                rm->text = t;
                rm->text_cap = need;
        }
        for (k = 0; k < n; k++) {
                *outs[k] = NULL;
                if (!vals[k]->present)
                        continue;
                memcpy(rm->text + off, vals[k]->data, vals[k]->len);
                rm->text[off + vals[k]->len] = '\0';
                *outs[k] = rm->text + off;
                off += vals[k]->len + 1;
        }
        return 0;
}

/* The record's id checked as the codec wants it. */
static int check_id(const vcdc_rowmap_value_t *id, const vcdc_record_t *rec,
                    char *errstr, size_t errstr_size) {
        char why[256];

        if (!id->present) {
                snprintf(errstr, errstr_size, "the id is NULL");
                return VCDC_ROWMAP_BAD;
        }
        if (memchr(id->data, '\0', id->len)) {
                snprintf(errstr, errstr_size, "the id holds a NUL byte");
                return VCDC_ROWMAP_BAD;
        }
        if (vcdc_record_check_ids(rec, why, sizeof(why)) == -1) {
                snprintf(errstr, errstr_size, "%s", why);
                return VCDC_ROWMAP_BAD;
        }
        return VCDC_ROWMAP_OK;
}

int vcdc_rowmap_delete(vcdc_rowmap_t *rm, const vcdc_rowmap_value_t *id,
                       int64_t ts_ms, const vcdc_record_t **recp, char *errstr,
                       size_t errstr_size) {
        const vcdc_rowmap_value_t *vals[1] = {id};
        char **outs[1] = {&rm->rec.id};
        int r;

        vcdc_record_init(&rm->rec);
        rm->rec.op = VCDC_OP_DELETE;
        rm->rec.source_ts_ms = ts_ms;
        rm->rec.collection = rm->collection;
        if (copy_texts(rm, vals, outs, 1) == -1)
                return VCDC_ROWMAP_NOMEM;
        if ((r = check_id(id, &rm->rec, errstr, errstr_size)))
                return r;
        *recp = &rm->rec;
        return VCDC_ROWMAP_OK;
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

int vcdc_rowmap_upsert(vcdc_rowmap_t *rm, const vcdc_rowmap_row_t *row,
                       int64_t ts_ms, const vcdc_record_t **recp, char *errstr,
                       size_t errstr_size) {
        const vcdc_rowmap_value_t *v = &row->vector, *md = &row->metadata;
        const vcdc_rowmap_value_t *vals[3] = {&row->id, md, &row->document};
        vcdc_record_t *rec = &rm->rec;
        char **outs[3] = {&rec->id, &rec->metadata, &rec->document};
        char why[256];
        int r;

        vcdc_record_init(rec);
        rec->op = VCDC_OP_UPSERT;
        rec->source_ts_ms = ts_ms;
        rec->collection = rm->collection;
        if (copy_texts(rm, vals, outs, 3) == -1)
                return VCDC_ROWMAP_NOMEM;
        if ((r = check_id(&row->id, rec, errstr, errstr_size)))
                return r;
        if (!v->present) {
                snprintf(errstr, errstr_size, "the vector is NULL");
                return VCDC_ROWMAP_BAD;
        }
        if ((v->binary ? vcdc_pgvec_parse_binary(rm->kind,
                                                 (const unsigned char *)v->data,
                                                 v->len, &rm->vec, &rm->vec_cap,
                                                 &rec->dim, why, sizeof(why))
                       : vcdc_pgvec_parse_text(v->data, v->len, &rm->vec,
                                               &rm->vec_cap, &rec->dim, why,
                                               sizeof(why))) == -1) {
                snprintf(errstr, errstr_size, "the vector: %s", why);
                return VCDC_ROWMAP_BAD;
        }
        rec->vector = rm->vec;
        if (md->present && !is_object(md->data, md->len)) {
                snprintf(errstr, errstr_size,
                         "the metadata is not a JSON object (\"%.*s%s\")",
                         (int)(md->len > 40 ? 40 : md->len), md->data,
                         md->len > 40 ? "..." : "");
                return VCDC_ROWMAP_BAD;
        }
        if (row->document.present &&
            memchr(row->document.data, '\0', row->document.len)) {
                snprintf(errstr, errstr_size, "the document holds a NUL byte");
                return VCDC_ROWMAP_BAD;
        }
        *recp = rec;
        return VCDC_ROWMAP_OK;
}

size_t vcdc_rowmap_int_text(const char *data, size_t len, char *out) {
        const unsigned char *p = (const unsigned char *)data;
        uint64_t u = 0;
        int64_t v;
        size_t i;

        if (len != 2 && len != 4 && len != 8)
                return 0;
        for (i = 0; i < len; i++)
                u = u << 8 | p[i];
        /* Sign-extend from len bytes. */
        if (len < 8 && (p[0] & 0x80))
                u |= ~UINT64_C(0) << (8 * len);
        memcpy(&v, &u, sizeof(v));
        return (size_t)snprintf(out, VCDC_ROWMAP_ID_TEXT_MAX, "%" PRId64, v);
}

size_t vcdc_rowmap_uuid_text(const char *data, size_t len, char *out) {
        static const char hex[] = "0123456789abcdef";
        const unsigned char *p = (const unsigned char *)data;
        size_t i, o = 0;

        if (len != 16)
                return 0;
        for (i = 0; i < 16; i++) {
                if (i == 4 || i == 6 || i == 8 || i == 10)
                        out[o++] = '-';
                out[o++] = hex[p[i] >> 4];
                out[o++] = hex[p[i] & 0xf];
        }
        out[o] = '\0';
        return o;
}
