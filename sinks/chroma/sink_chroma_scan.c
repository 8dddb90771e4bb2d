/*
 * vcdc - the Chroma sink's get answers on the fast path: a get by ids, a
 * page from a row on, a scan's anchors, read from a text the JSON scanner
 * (common/json/jsonscan.h) accepted, without a tree. The embeddings go
 * straight from their digits to float32 (strtof()'s value), converted once
 * by the scanner as it checks them (row_floats), else by
 * vcdc_json_floats(); ids and documents are unescaped in place; a metadata object is
 * the one value read through jansson, to be written again as
 * vcdc_chroma_metadata_dump() writes it. Checks and messages are those
 * the jansson reader had (tests/chromaref.c keeps it, to compare).
 *
 * Must not: scan JSON itself (the scanner did, once), do I/O, or keep a
 * pointer into the answer (records own their copies).
 */
#include "sink_chroma_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "idindex.h"
#include "jsonspan.h"

/* The columns of a get answer, as the scanner found them. */
typedef struct columns_s {
        const vcdc_json_span_t *ids, *emb, *meta, *doc; /* NULL: absent */
} columns_t;

/* Walks the columns row by row. */
typedef struct rows_s {
        vcdc_json_iter_t ids, emb, meta, doc;
        int has_emb, has_meta, has_doc;
        const float *floats;  /* the embeddings as the scanner converted */
        const size_t *counts; /* them, or NULL (jsonscan.h: row_floats) */
} rows_t;

/* An embedding: its span, and its numbers when the scanner kept them. */
typedef struct emb_s {
        vcdc_json_span_t span;
        const float *floats; /* NULL: read them from the span */
        size_t n;
} emb_t;

/* Buffers reused from row to row. */
typedef struct scratch_s {
        float *floats;
        size_t floats_cap;
        char *str;
        size_t str_cap;
} scratch_t;

static void scratch_free(scratch_t *sc) {
        free(sc->floats);
        free(sc->str);
}

/* Is the key span key (with quotes) the word w? */
static int key_is(const vcdc_json_member_t *m, const char *w) {
        size_t n = strlen(w);

        return m->key_len == n && !memcmp(m->key, w, n);
}

static void columns_find(const vcdc_jsonscan_t *js, columns_t *c) {
        const vcdc_json_member_t *m;
        size_t n = vcdc_jsonscan_members(js, &m), i;

        memset(c, 0, sizeof(*c));
        for (i = 0; i < n; i++) {
                if (key_is(&m[i], "ids"))
                        c->ids = &m[i].value;
                else if (key_is(&m[i], "embeddings"))
                        c->emb = &m[i].value;
                else if (key_is(&m[i], "metadatas"))
                        c->meta = &m[i].value;
                else if (key_is(&m[i], "documents"))
                        c->doc = &m[i].value;
        }
}

/* Checks that an optional column is null or an array of n. */
static int column_check(const vcdc_json_span_t *col, const char *name,
                        size_t n, char *errstr, size_t errstr_size) {
        if (!col || col->type == VCDC_JSON_NULL ||
            (col->type == VCDC_JSON_ARRAY && col->count == n))
                return 0;
        snprintf(errstr, errstr_size,
                 "get answer: \"%s\" is not an array of %zu entries", name, n);
        return -1;
}

/* The columns of a get answer: ids (an array of n), and the optional
 * embeddings, metadatas and documents (null or arrays of n). */
static int get_columns(const vcdc_jsonscan_t *js, columns_t *c, char *errstr,
                       size_t errstr_size) {
        size_t n;

        columns_find(js, c);
        if (!c->ids || c->ids->type != VCDC_JSON_ARRAY) {
                snprintf(errstr, errstr_size, "get answer without \"ids\"");
                return -1;
        }
        n = c->ids->count;
        if (column_check(c->emb, "embeddings", n, errstr, errstr_size) ||
            column_check(c->meta, "metadatas", n, errstr, errstr_size) ||
            column_check(c->doc, "documents", n, errstr, errstr_size))
                return -1;
        return 0;
}

static void iter_open(vcdc_json_iter_t *it, int *has,
                      const vcdc_json_span_t *col) {
        *has = col && col->type == VCDC_JSON_ARRAY;
        if (*has)
                vcdc_json_iter_init(it, col);
}

static void rows_open(rows_t *r, const columns_t *c) {
        int has_ids;

        iter_open(&r->ids, &has_ids, c->ids);
        iter_open(&r->emb, &r->has_emb, c->emb);
        iter_open(&r->meta, &r->has_meta, c->meta);
        iter_open(&r->doc, &r->has_doc, c->doc);
        r->floats = r->has_emb ? c->emb->row_floats : NULL;
        r->counts = r->has_emb ? c->emb->row_counts : NULL;
}

/* The next row: its id, and each column's value (type NULL when the
 * column is absent or null). Returns 0 past the last row. */
static int rows_next(rows_t *r, vcdc_json_span_t *id, emb_t *emb,
                     vcdc_json_span_t *meta, vcdc_json_span_t *doc) {
        if (!vcdc_json_iter_next(&r->ids, NULL, id))
                return 0;
        emb->span.type = meta->type = doc->type = VCDC_JSON_NULL;
        emb->floats = NULL;
        if (r->has_emb)
                vcdc_json_iter_next(&r->emb, NULL, &emb->span);
        if (r->counts) {
                emb->floats = r->floats;
                emb->n = *r->counts;
                r->floats += *r->counts++;
        }
        if (r->has_meta)
                vcdc_json_iter_next(&r->meta, NULL, meta);
        if (r->has_doc)
                vcdc_json_iter_next(&r->doc, NULL, doc);
        return 1;
}

/* A string span as a new NUL-terminated string, or NULL (out of memory). */
static char *string_dup(const vcdc_json_span_t *s) {
        char *out = malloc(s->len - 1);

        if (out)
                out[vcdc_json_unescape(s, out)] = '\0';
        return out;
}

/* A string span in sc->str (valid until the next call), or NULL. */
static const char *string_tmp(scratch_t *sc, const vcdc_json_span_t *s) {
        if (s->len - 1 > sc->str_cap) {
                char *p = realloc(sc->str, s->len - 1);

                if (!p)
                        return NULL;
                sc->str = p;
                sc->str_cap = s->len - 1;
        }
        sc->str[vcdc_json_unescape(s, sc->str)] = '\0';
        return sc->str;
}

/* The type of element i of an array (i within it). */
static vcdc_json_type_t element_type(const vcdc_json_span_t *array, size_t i) {
        vcdc_json_iter_t it;
        vcdc_json_span_t v = {0};

        vcdc_json_iter_init(&it, array);
        while (vcdc_json_iter_next(&it, NULL, &v) && i--)
                ;
        return v.type;
}

/* The scanner's floats of a row, when none is beyond float32's range
 * (+-inf there; refused with the slow path's message). */
static int fill_kept(vcdc_record_t *rec, const emb_t *e) {
        size_t k;

        for (k = 0; k < e->n; k++)
                if (isinf(e->floats[k]))
                        return 1;
        if (!(rec->vector = malloc(e->n * sizeof(float))))
                return -1;
        memcpy(rec->vector, e->floats, e->n * sizeof(float));
        rec->dim = e->n;
        return 0;
}

static int fill_vector(vcdc_record_t *rec, const emb_t *e, scratch_t *sc,
                       char *errstr, size_t errstr_size) {
        const vcdc_json_span_t *emb = &e->span;
        /* Each number takes a byte and a comma: a bound on the count. */
        size_t cap = emb->len / 2 + 1, n;
        int r;

        if (e->floats && (r = fill_kept(rec, e)) != 1) {
                if (r == 0)
                        return 0;
                goto oom;
        }
        if (cap > sc->floats_cap) {
                float *f = realloc(sc->floats, cap * sizeof(float));

                if (!f)
                        goto oom;
                sc->floats = f;
                sc->floats_cap = cap;
        }
        if (emb->type != VCDC_JSON_ARRAY ||
            ((r = vcdc_json_floats(emb, sc->floats, cap, &n)) == 0 && !n)) {
                snprintf(errstr, errstr_size,
                         "get answer: embedding of \"%.100s\" is not "
                         "an array of numbers",
                         rec->id);
                return -1;
        }
        if (r != 0) {
                snprintf(errstr, errstr_size,
                         "get answer: embedding of \"%.100s\" "
                         "[%zu] is %s, not a float32",
                         rec->id, n,
                         element_type(emb, n) == VCDC_JSON_NULL
                                 ? "null (NaN in Chroma)"
                                 : "out of range");
                return -1;
        }
        if (!(rec->vector = malloc(n * sizeof(float))))
                goto oom;
        memcpy(rec->vector, sc->floats, n * sizeof(float));
        rec->dim = n;
        return 0;

oom:
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
}

/* Metadata as vcdc_chroma_metadata_dump() writes it; an empty object is
 * none. The span is valid JSON: jansson reads it without complaint. */
static int fill_metadata(vcdc_record_t *rec, const vcdc_json_span_t *meta,
                         char *errstr, size_t errstr_size) {
        vcdc_json_iter_t it;
        vcdc_json_span_t v;
        json_t *obj;

        if (meta->type != VCDC_JSON_OBJECT) {
                snprintf(errstr, errstr_size,
                         "get answer: metadata of \"%.100s\" is not "
                         "an object",
                         rec->id);
                return -1;
        }
        vcdc_json_iter_init(&it, meta);
        if (!vcdc_json_iter_next(&it, NULL, &v))
                return 0;
        if (!(obj = json_loadb(meta->p, meta->len, 0, NULL)) ||
            !(rec->metadata = vcdc_chroma_metadata_dump(obj))) {
                json_decref(obj);
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        json_decref(obj);
        return 0;
}

static int fill_record(vcdc_record_t *rec, const vcdc_json_span_t *id,
                       const emb_t *emb, const vcdc_json_span_t *meta,
                       const vcdc_json_span_t *doc, scratch_t *sc,
                       char *errstr, size_t errstr_size) {
        vcdc_record_init(rec);
        rec->op = VCDC_OP_UPSERT;
        if (!(rec->id = string_dup(id)))
                goto oom;
        if (emb->span.type != VCDC_JSON_NULL &&
            fill_vector(rec, emb, sc, errstr, errstr_size) == -1)
                goto err;
        if (meta->type != VCDC_JSON_NULL &&
            fill_metadata(rec, meta, errstr, errstr_size) == -1)
                goto err;
        if (doc->type != VCDC_JSON_NULL) {
                if (doc->type != VCDC_JSON_STRING) {
                        snprintf(errstr, errstr_size,
                                 "get answer: document of \"%.100s\" is not "
                                 "a string",
                                 rec->id);
                        goto err;
                }
                if (!(rec->document = string_dup(doc)))
                        goto oom;
        }
        return 0;

oom:
        snprintf(errstr, errstr_size, "out of memory");
err:
        vcdc_record_clear(rec);
        return -1;
}

static int id_check(const vcdc_json_span_t *id, size_t j, char *errstr,
                    size_t errstr_size) {
        if (id->type == VCDC_JSON_STRING)
                return 0;
        snprintf(errstr, errstr_size, "get answer: ids[%zu] is not a string",
                 j);
        return -1;
}

/* Rows [first, first + cnt) of checked columns into out[0..*cntp). */
static int rows_read(const columns_t *c, size_t first, size_t cnt,
                     vcdc_record_t *out, size_t *cntp, char *errstr,
                     size_t errstr_size) {
        vcdc_json_span_t id, meta, doc;
        emb_t emb;
        scratch_t sc = {NULL, 0, NULL, 0};
        size_t j, found = 0;
        rows_t r;

        *cntp = 0;
        rows_open(&r, c);
        for (j = 0; found < cnt && rows_next(&r, &id, &emb, &meta, &doc);
             j++) {
                if (j < first)
                        continue;
                if (id_check(&id, j, errstr, errstr_size) == -1 ||
                    fill_record(&out[found], &id, &emb, &meta, &doc, &sc,
                                errstr, errstr_size) == -1)
                        goto err;
                found++;
        }
        scratch_free(&sc);
        *cntp = found;
        return 0;

err:
        scratch_free(&sc);
        while (found-- > 0)
                vcdc_record_clear(&out[found]);
        return -1;
}

int vcdc_chroma_scan_rows(const vcdc_jsonscan_t *js, size_t first, size_t cnt,
                          vcdc_record_t *out, size_t *cntp, char *errstr,
                          size_t errstr_size) {
        columns_t c;

        *cntp = 0;
        if (get_columns(js, &c, errstr, errstr_size) == -1)
                return -1;
        return rows_read(&c, first, cnt, out, cntp, errstr, errstr_size);
}

/* Places rec (owned) in every slot of ids that asks for its id, from
 * index position pos on. Returns 0, or -1 out of memory (rec freed). */
static int place(const vcdc_idindex_t *ix, size_t pos, vcdc_record_t *rec,
                 vcdc_record_t *out, char *filled, size_t *foundp) {
        size_t idx;

        /* The same id asked for twice: each slot gets a copy. */
        for (; vcdc_idindex_match(ix, pos, rec->id, &idx); pos++) {
                filled[idx] = 1;
                (*foundp)++;
                if (!vcdc_idindex_match(ix, pos + 1, rec->id, NULL)) {
                        out[idx] = *rec; /* the last takes it */
                        return 0;
                }
                if (vcdc_record_copy(&out[idx], rec) == -1) {
                        vcdc_record_clear(rec);
                        filled[idx] = 0;
                        return -1;
                }
        }
        return 0;
}

int vcdc_chroma_scan_get(const vcdc_jsonscan_t *js, const char *const *ids,
                         size_t cnt, vcdc_record_t *out, size_t *cntp,
                         char *errstr, size_t errstr_size) {
        vcdc_json_span_t id, meta, doc;
        emb_t emb;
        scratch_t sc = {NULL, 0, NULL, 0};
        vcdc_idindex_t ix = {NULL, 0};
        char *filled = NULL;
        const char *s;
        size_t j, pos, idx, found = 0;
        vcdc_record_t rec;
        columns_t c;
        rows_t r;

        *cntp = 0;
        if (get_columns(js, &c, errstr, errstr_size) == -1)
                return -1;
        if (!ids) {
                if (c.ids->count > cnt) {
                        snprintf(errstr, errstr_size,
                                 "get answer: more than the %zu records "
                                 "asked for",
                                 cnt);
                        return -1;
                }
                return rows_read(&c, 0, cnt, out, cntp, errstr, errstr_size);
        }
        if (vcdc_idindex_init(&ix, ids, cnt) == -1 ||
            !(filled = calloc(cnt ? cnt : 1, 1)))
                goto oom;
        rows_open(&r, &c);
        for (j = 0; rows_next(&r, &id, &emb, &meta, &doc); j++) {
                if (id_check(&id, j, errstr, errstr_size) == -1)
                        goto err;
                if (!(s = string_tmp(&sc, &id)))
                        goto oom;
                pos = vcdc_idindex_find(&ix, s);
                if (!vcdc_idindex_match(&ix, pos, s, &idx)) {
                        snprintf(errstr, errstr_size,
                                 "get answer: id \"%.100s\" was not asked for",
                                 s);
                        goto err;
                }
                if (filled[idx]) {
                        snprintf(errstr, errstr_size,
                                 "get answer: id \"%.100s\" appears twice", s);
                        goto err;
                }
                if (fill_record(&rec, &id, &emb, &meta, &doc, &sc, errstr,
                                errstr_size) == -1)
                        goto err;
                if (place(&ix, pos, &rec, out, filled, &found) == -1)
                        goto oom;
        }
        vcdc_idindex_free(&ix);
        scratch_free(&sc);
        free(filled);
        *cntp = found;
        return 0;

oom:
        snprintf(errstr, errstr_size, "out of memory");
err:
        for (j = 0; j < cnt; j++)
                if (filled && filled[j])
                        vcdc_record_clear(&out[j]);
        vcdc_idindex_free(&ix);
        scratch_free(&sc);
        free(filled);
        return -1;
}

/* Is the string span s the text of anchor a? */
static int id_equals(const vcdc_json_span_t *s, const char *a,
                     scratch_t *sc) {
        const char *t;

        if (!s->escaped)
                return strlen(a) == s->len - 2 &&
                       !memcmp(s->p + 1, a, s->len - 2);
        return (t = string_tmp(sc, s)) && !strcmp(t, a);
}

long vcdc_chroma_scan_anchor(const vcdc_jsonscan_t *js, size_t start,
                             size_t end, const vcdc_chroma_cursor_t *cur,
                             size_t *kp) {
        scratch_t sc = {NULL, 0, NULL, 0};
        vcdc_json_iter_t it;
        vcdc_json_span_t id;
        long row = -1;
        size_t j, k, best = 0;
        columns_t c;

        columns_find(js, &c);
        if (!c.ids || c.ids->type != VCDC_JSON_ARRAY)
                return -1;
        /* The latest anchor wins, at its first row; rows at or past end
         * are records that moved there (deleted and written again), not
         * our place. One pass: a row counts only for a later anchor than
         * the best so far. */
        vcdc_json_iter_init(&it, c.ids);
        for (j = 0; start + j < end && vcdc_json_iter_next(&it, NULL, &id);
             j++) {
                if (id.type != VCDC_JSON_STRING)
                        continue;
                for (k = cur->anchor_cnt; k-- > (row < 0 ? 0 : best + 1);) {
                        if (id_equals(&id, cur->anchors[k], &sc)) {
                                best = k;
                                row = (long)j;
                                break;
                        }
                }
        }
        scratch_free(&sc);
        if (row >= 0)
                *kp = best;
        return row;
}
