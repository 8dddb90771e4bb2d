/*
 * vcdc - the Chroma sink's answers: reading what Chroma sends back (a
 * collection model, the state stored before an upsert, a query, the
 * offsets records) into vcdc's types, refusing a malformed answer whole.
 * Reads parsed JSON only: no request, no I/O. The get answers, which
 * carry the embeddings, are read without a tree (sink_chroma_scan.c).
 */
#include "sink_chroma_int.h"

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
