/*
 * vcdc - the Chroma sink's answers: reading what Chroma sends back (a
 * collection model, a get by ids or by page, the state stored before an
 * upsert, a query, the offsets records) into vcdc's types, refusing a
 * malformed answer whole. Reads parsed JSON only: no request, no I/O.
 */
#include "sink_chroma_int.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "idindex.h"

int vcdc_chroma_parse_collection(const json_t *resp, char *id, size_t id_size,
                                 size_t *dimp, vcdc_metric_t *metricp,
                                 char *errstr, size_t errstr_size) {
        const json_t *cfg, *dim;
        const char *s, *space = NULL;
        static const char *const indexes[] = {"hnsw", "spann"};
        size_t i;

        if (!json_is_object(resp) ||
            !(s = json_string_value(json_object_get(resp, "id"))) || !*s ||
            strlen(s) >= id_size) {
                snprintf(errstr, errstr_size,
                         "collection answer without a valid \"id\"");
                return -1;
        }
        snprintf(id, id_size, "%s", s);
        dim = json_object_get(resp, "dimension");
        if (!dim || json_is_null(dim)) {
                *dimp = 0;
        } else if (json_is_integer(dim) && json_integer_value(dim) >= 0) {
                *dimp = (size_t)json_integer_value(dim);
        } else {
                snprintf(errstr, errstr_size,
                         "collection answer: \"dimension\" is not a count");
                return -1;
        }
        if (!(cfg = json_object_get(resp, "configuration_json")))
                cfg = json_object_get(resp, "configuration");
        for (i = 0; !space && i < sizeof(indexes) / sizeof(*indexes); i++)
                space = json_string_value(json_object_get(
                        json_object_get(cfg, indexes[i]), "space"));
        if (!space)
                space = json_string_value(json_object_get(
                        json_object_get(resp, "metadata"), "hnsw:space"));
        if (!space)
                space = "l2"; /* Chroma's default */
        if ((*metricp = vcdc_metric_parse(space)) == VCDC_METRIC_UNSET) {
                snprintf(errstr, errstr_size,
                         "collection has an unknown distance space \"%.64s\"",
                         space);
                return -1;
        }
        return 0;
}

/* The i-th element of an optional parallel array (absent or null: NULL). */
static const json_t *column_at(const json_t *col, size_t i) {
        return json_is_array(col) ? json_array_get(col, i) : NULL;
}

/* Checks that an optional column of the answer is null or an array of n. */
static int column_check(const json_t *resp, const char *name, size_t n,
                        char *errstr, size_t errstr_size) {
        const json_t *col = json_object_get(resp, name);

        if (!col || json_is_null(col) ||
            (json_is_array(col) && json_array_size(col) == n))
                return 0;
        snprintf(errstr, errstr_size,
                 "get answer: \"%s\" is not an array of %zu entries", name, n);
        return -1;
}

static int fill_record(vcdc_record_t *rec, const json_t *id, const json_t *emb,
                       const json_t *meta, const json_t *doc, char *errstr,
                       size_t errstr_size) {
        size_t i;

        vcdc_record_init(rec);
        rec->op = VCDC_OP_UPSERT;
        if (!(rec->id = strdup(json_string_value(id))))
                goto oom;
        if (emb && !json_is_null(emb)) {
                if (!json_is_array(emb) || !json_array_size(emb)) {
                        snprintf(errstr, errstr_size,
                                 "get answer: embedding of \"%.100s\" is not "
                                 "an array of numbers",
                                 rec->id);
                        goto err;
                }
                rec->dim = json_array_size(emb);
                if (!(rec->vector = malloc(rec->dim * sizeof(float))))
                        goto oom;
                for (i = 0; i < rec->dim; i++) {
                        const json_t *x = json_array_get(emb, i);
                        float f = (float)json_number_value(x);
                        if (!json_is_number(x) || !isfinite(f)) {
                                snprintf(errstr, errstr_size,
                                         "get answer: embedding of \"%.100s\" "
                                         "[%zu] is %s, not a float32",
                                         rec->id, i,
                                         json_is_null(x)
                                                 ? "null (NaN in Chroma)"
                                                 : "out of range");
                                goto err;
                        }
                        rec->vector[i] = f;
                }
        }
        if (meta && !json_is_null(meta)) {
                if (!json_is_object(meta)) {
                        snprintf(errstr, errstr_size,
                                 "get answer: metadata of \"%.100s\" is not "
                                 "an object",
                                 rec->id);
                        goto err;
                }
                if (json_object_size(meta) &&
                    !(rec->metadata = vcdc_chroma_metadata_dump(meta)))
                        goto oom;
        }
        if (doc && !json_is_null(doc)) {
                if (!json_is_string(doc)) {
                        snprintf(errstr, errstr_size,
                                 "get answer: document of \"%.100s\" is not "
                                 "a string",
                                 rec->id);
                        goto err;
                }
                if (!(rec->document = strdup(json_string_value(doc))))
                        goto oom;
        }
        return 0;

oom:
        snprintf(errstr, errstr_size, "out of memory");
err:
        vcdc_record_clear(rec);
        return -1;
}

/* The columns of a get answer: ids (an array of n), and the optional
 * embeddings, metadatas and documents (null or arrays of n). */
static int get_columns(const json_t *resp, const json_t **jidsp,
                       const json_t **embp, const json_t **metap,
                       const json_t **docp, char *errstr, size_t errstr_size) {
        size_t n;

        if (!json_is_object(resp) ||
            !json_is_array(*jidsp = json_object_get(resp, "ids"))) {
                snprintf(errstr, errstr_size, "get answer without \"ids\"");
                return -1;
        }
        n = json_array_size(*jidsp);
        if (column_check(resp, "embeddings", n, errstr, errstr_size) ||
            column_check(resp, "metadatas", n, errstr, errstr_size) ||
            column_check(resp, "documents", n, errstr, errstr_size))
                return -1;
        *embp = json_object_get(resp, "embeddings");
        *metap = json_object_get(resp, "metadatas");
        *docp = json_object_get(resp, "documents");
        return 0;
}

int vcdc_chroma_parse_rows(const json_t *resp, size_t first, size_t cnt,
                           vcdc_record_t *out, size_t *cntp, char *errstr,
                           size_t errstr_size) {
        const json_t *jids, *emb, *meta, *doc;
        size_t n, j, found = 0;

        *cntp = 0;
        if (get_columns(resp, &jids, &emb, &meta, &doc, errstr, errstr_size) ==
            -1)
                return -1;
        n = json_array_size(jids);
        for (j = first; j < n && found < cnt; j++) {
                const json_t *id = json_array_get(jids, j);

                if (!json_is_string(id)) {
                        snprintf(errstr, errstr_size,
                                 "get answer: ids[%zu] is not a string", j);
                        goto err;
                }
                if (fill_record(&out[found], id, column_at(emb, j),
                                column_at(meta, j), column_at(doc, j), errstr,
                                errstr_size) == -1)
                        goto err;
                found++;
        }
        *cntp = found;
        return 0;

err:
        while (found-- > 0)
                vcdc_record_clear(&out[found]);
        return -1;
}

long vcdc_chroma_find_anchor(const json_t *resp, size_t start, size_t end,
                             const vcdc_chroma_cursor_t *cur, size_t *kp) {
        const json_t *jids = json_object_get(resp, "ids");
        size_t n = json_array_size(jids), k, j;

        /* The latest anchor first; rows at or past end are records that
         * moved there (deleted and written again), not our place. */
        for (k = cur->anchor_cnt; k-- > 0;) {
                for (j = 0; j < n && start + j < end; j++) {
                        const char *id =
                                json_string_value(json_array_get(jids, j));
                        if (id && !strcmp(id, cur->anchors[k])) {
                                *kp = k;
                                return (long)j;
                        }
                }
        }
        return -1;
}

int vcdc_chroma_parse_get(const json_t *resp, const char *const *ids,
                          size_t cnt, vcdc_record_t *out, size_t *cntp,
                          char *errstr, size_t errstr_size) {
        const json_t *jids, *emb, *meta, *doc;
        vcdc_idindex_t ix = {NULL, 0};
        char *filled = NULL;
        size_t n, j, found = 0;

        *cntp = 0;
        if (get_columns(resp, &jids, &emb, &meta, &doc, errstr, errstr_size) ==
            -1)
                return -1;
        n = json_array_size(jids);
        if (!ids) {
                if (n > cnt) {
                        snprintf(errstr, errstr_size,
                                 "get answer: more than the %zu records "
                                 "asked for",
                                 cnt);
                        return -1;
                }
                return vcdc_chroma_parse_rows(resp, 0, cnt, out, cntp, errstr,
                                              errstr_size);
        }
        if (vcdc_idindex_init(&ix, ids, cnt) == -1 ||
            !(filled = calloc(cnt ? cnt : 1, 1))) {
                snprintf(errstr, errstr_size, "out of memory");
                goto err;
        }
        for (j = 0; j < n; j++) {
                const json_t *id = json_array_get(jids, j);
                vcdc_record_t rec;
                size_t pos, idx;

                if (!json_is_string(id)) {
                        snprintf(errstr, errstr_size,
                                 "get answer: ids[%zu] is not a string", j);
                        goto err;
                }
                pos = vcdc_idindex_find(&ix, json_string_value(id));
                if (!vcdc_idindex_match(&ix, pos, json_string_value(id),
                                        &idx)) {
                        snprintf(errstr, errstr_size,
                                 "get answer: id \"%.100s\" was not asked for",
                                 json_string_value(id));
                        goto err;
                }
                if (filled[idx]) {
                        snprintf(errstr, errstr_size,
                                 "get answer: id \"%.100s\" appears twice",
                                 json_string_value(id));
                        goto err;
                }
                if (fill_record(&rec, id, column_at(emb, j), column_at(meta, j),
                                column_at(doc, j), errstr, errstr_size) == -1)
                        goto err;
                /* The same id asked for twice: each slot gets a copy. */
                for (; vcdc_idindex_match(&ix, pos, rec.id, &idx); pos++) {
                        filled[idx] = 1;
                        found++;
                        if (!vcdc_idindex_match(&ix, pos + 1, rec.id, NULL)) {
                                out[idx] = rec; /* the last takes it */
                                break;
                        }
                        if (vcdc_record_copy(&out[idx], &rec) == -1) {
                                vcdc_record_clear(&rec);
                                filled[idx] = 0;
                                snprintf(errstr, errstr_size, "out of memory");
                                goto err;
                        }
                }
        }
        vcdc_idindex_free(&ix);
        free(filled);
        *cntp = found;
        return 0;

err:
        for (j = 0; j < cnt; j++)
                if (filled && filled[j])
                        vcdc_record_clear(&out[j]);
        vcdc_idindex_free(&ix);
        free(filled);
        return -1;
}

int vcdc_chroma_parse_stored(const json_t *resp, const char *const *ids,
                             size_t cnt, const json_t **olds, char *has_doc,
                             char *errstr, size_t errstr_size) {
        const json_t *jids, *metas, *docs;
        vcdc_idindex_t ix = {NULL, 0};
        size_t i, pos, idx;

        memset(olds, 0, cnt * sizeof(*olds));
        memset(has_doc, 0, cnt);
        jids = json_object_get(resp, "ids");
        metas = json_object_get(resp, "metadatas");
        docs = json_object_get(resp, "documents");
        if (!json_is_array(jids) || !json_is_array(metas) ||
            !json_is_array(docs) ||
            json_array_size(metas) != json_array_size(jids) ||
            json_array_size(docs) != json_array_size(jids)) {
                snprintf(errstr, errstr_size,
                         "the get answer lacks ids, metadatas or documents");
                return -1;
        }
        if (vcdc_idindex_init(&ix, ids, cnt) == -1) {
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        for (i = 0; i < json_array_size(jids); i++) {
                const char *id = json_string_value(json_array_get(jids, i));
                const json_t *meta = column_at(metas, i);
                const json_t *doc = column_at(docs, i);

                /* An id not asked for: nothing to clean up for it. */
                for (pos = id ? vcdc_idindex_find(&ix, id) : ix.cnt;
                     vcdc_idindex_match(&ix, pos, id, &idx); pos++) {
                        olds[idx] = json_is_object(meta) ? meta : NULL;
                        has_doc[idx] = json_is_string(doc);
                }
        }
        vcdc_idindex_free(&ix);
        return 0;
}

int vcdc_chroma_parse_query(const json_t *resp, vcdc_hit_t *hits, size_t k,
                            size_t *cntp, char *errstr, size_t errstr_size) {
        const json_t *ids, *dists;
        size_t n, j;

        *cntp = 0;
        ids = json_array_get(json_object_get(resp, "ids"), 0);
        dists = json_array_get(json_object_get(resp, "distances"), 0);
        if (!json_is_array(ids) || !json_is_array(dists) ||
            json_array_size(ids) != json_array_size(dists)) {
                snprintf(errstr, errstr_size,
                         "query answer without \"ids\" and \"distances\" of "
                         "one query");
                return -1;
        }
        n = json_array_size(ids);
        if (n > k)
                n = k;
        for (j = 0; j < n; j++) {
                const json_t *id = json_array_get(ids, j);
                const json_t *d = json_array_get(dists, j);
                if (!json_is_string(id) || !json_is_number(d)) {
                        snprintf(errstr, errstr_size,
                                 "query answer: hit %zu is not an id and a "
                                 "distance",
                                 j);
                        goto err;
                }
                if (!(hits[j].id = strdup(json_string_value(id)))) {
                        snprintf(errstr, errstr_size, "out of memory");
                        goto err;
                }
                hits[j].distance = json_number_value(d);
        }
        *cntp = n;
        return 0;

err:
        while (j-- > 0) {
                free(hits[j].id);
                hits[j].id = NULL;
        }
        return -1;
}

static int offset_cmp(const void *a, const void *b) {
        const vcdc_sink_offset_t *x = a, *y = b;

        return (x->partition > y->partition) - (x->partition < y->partition);
}

int vcdc_chroma_parse_offsets(const json_t *resp, const char *topic,
                              const char *collection_id,
                              vcdc_sink_offset_t **offsetsp, size_t *cntp,
                              char *errstr, size_t errstr_size) {
        const json_t *metas;
        vcdc_sink_offset_t *offs;
        size_t n, j, cnt = 0;

        *offsetsp = NULL;
        *cntp = 0;
        metas = json_object_get(resp, "metadatas");
        if (!json_is_object(resp) || !json_is_array(metas)) {
                snprintf(errstr, errstr_size,
                         "offsets answer without \"metadatas\"");
                return -1;
        }
        n = json_array_size(metas);
        if (!(offs = calloc(n ? n : 1, sizeof(*offs)))) {
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        for (j = 0; j < n; j++) {
                const json_t *m = json_array_get(metas, j);
                const json_t *p = json_object_get(m, "partition");
                const json_t *o = json_object_get(m, "offset");
                const char *t = json_string_value(json_object_get(m, "topic"));
                const char *c =
                        json_string_value(json_object_get(m, "collection_id"));

                if (!t || !json_is_integer(p) || !json_is_integer(o) ||
                    json_integer_value(p) < 0 ||
                    json_integer_value(p) > INT32_MAX) {
                        snprintf(errstr, errstr_size,
                                 "offsets answer: entry %zu is not {topic, "
                                 "partition, offset}",
                                 j);
                        free(offs);
                        return -1;
                }
                /* Of another topic, of another collection than the one
                 * that exists now, or from before records were stamped. */
                if (strcmp(t, topic) || !c || strcmp(c, collection_id))
                        continue;
                offs[cnt].partition = (int32_t)json_integer_value(p);
                offs[cnt].offset = (int64_t)json_integer_value(o);
                cnt++;
        }
        qsort(offs, cnt, sizeof(*offs), offset_cmp);
        *offsetsp = offs;
        *cntp = cnt;
        return 0;
}
