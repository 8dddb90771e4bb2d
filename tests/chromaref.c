/*
 * vcdc - the reference the Chroma get answers' fast path
 * (sinks/chroma/sink_chroma_scan.c) is checked against: the jansson reader
 * the sink had before issue 20, moved here unchanged but for its names. A
 * tree of the whole answer, a node per number, each embedding number a
 * double rounded to float32.
 *
 * For the tests, the fuzzer (fuzz_chroma) and the parse benchmark only;
 * must not be linked into the programs.
 */
#include "chromaref.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "idindex.h"

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

int vcdc_chromaref_rows(const json_t *resp, size_t first, size_t cnt,
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

long vcdc_chromaref_anchor(const json_t *resp, size_t start, size_t end,
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

int vcdc_chromaref_get(const json_t *resp, const char *const *ids, size_t cnt,
                       vcdc_record_t *out, size_t *cntp, char *errstr,
                       size_t errstr_size) {
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
                return vcdc_chromaref_rows(resp, 0, cnt, out, cntp, errstr,
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


/*
 * The comparison of the two readers
 */

/* Is fast, where jansson read the number as d, what strtof() gives? Only
 * asked when fast differs from ref = (float)d. */
static int float_ok(float fast, float ref, double d) {
        double lo = fast < ref ? fast : ref, hi = fast < ref ? ref : fast;

        if (fast == 0 && ref == 0)
                return 1; /* "-0": jansson's integer 0 */
        /* d halfway between two neighbours: strtof() of the text may take
         * either, depending on digits the double lost. */
        return nextafterf(fast, ref) == ref && d == lo + (hi - lo) / 2;
}

/* Row j's embedding element k as jansson read it. */
static double number_at(const json_t *resp, size_t j, size_t k) {
        return json_number_value(json_array_get(
                json_array_get(json_object_get(resp, "embeddings"), j), k));
}

static int str_same(const char *a, const char *b) {
        return a == b || (a && b && !strcmp(a, b));
}

/* Compares record a (fast) with b (reference), read from row j. */
static int record_same(const json_t *resp, size_t j, const vcdc_record_t *a,
                       const vcdc_record_t *b, char *why, size_t why_size) {
        size_t k;

        if (!str_same(a->id, b->id) || a->dim != b->dim ||
            !str_same(a->metadata, b->metadata) ||
            !str_same(a->document, b->document) || a->op != b->op ||
            !a->vector != !b->vector) {
                snprintf(why, why_size,
                         "row %zu: record differs: id %s/%s dim %zu/%zu "
                         "metadata %s/%s",
                         j, a->id ? a->id : "-", b->id ? b->id : "-", a->dim,
                         b->dim, a->metadata ? a->metadata : "-",
                         b->metadata ? b->metadata : "-");
                return 0;
        }
        for (k = 0; k < a->dim; k++) {
                if (!memcmp(&a->vector[k], &b->vector[k], sizeof(float)) ||
                    float_ok(a->vector[k], b->vector[k],
                             number_at(resp, j, k)))
                        continue;
                snprintf(why, why_size,
                         "row %zu [%zu]: %.9g (fast) vs %.9g (jansson)", j, k,
                         (double)a->vector[k], (double)b->vector[k]);
                return 0;
        }
        return 1;
}

/* The row of the answer that holds id (the first). */
static size_t row_of(const json_t *resp, const char *id) {
        const json_t *jids = json_object_get(resp, "ids");
        size_t j;

        for (j = 0; j < json_array_size(jids); j++)
                if (!strcmp(json_string_value(json_array_get(jids, j)), id))
                        break;
        return j;
}

/* One read (mode 0: get of ids, 1: get without, 2: rows from 1) both
 * ways. Returns 1 when they agree. */
static int read_same(vcdc_jsonscan_t *js, const json_t *resp, int mode,
                     const char *const *ids, size_t cnt, char *why,
                     size_t why_size) {
        vcdc_record_t *fa = calloc(cnt + 1, sizeof(*fa));
        vcdc_record_t *fb = calloc(cnt + 1, sizeof(*fb));
        char ea[512] = "", eb[512] = "";
        size_t na = 0, nb = 0, i, j;
        int ra, rb, same = 0;

        if (!fa || !fb) {
                snprintf(why, why_size, "out of memory");
                goto done;
        }
        for (i = 0; i < cnt; i++) {
                vcdc_record_init(&fa[i]);
                vcdc_record_init(&fb[i]);
        }
        if (mode == 0) {
                ra = vcdc_chroma_scan_get(js, ids, cnt, fa, &na, ea,
                                          sizeof(ea));
                rb = vcdc_chromaref_get(resp, ids, cnt, fb, &nb, eb,
                                        sizeof(eb));
        } else if (mode == 1) {
                ra = vcdc_chroma_scan_get(js, NULL, cnt, fa, &na, ea,
                                          sizeof(ea));
                rb = vcdc_chromaref_get(resp, NULL, cnt, fb, &nb, eb,
                                        sizeof(eb));
        } else {
                ra = vcdc_chroma_scan_rows(js, 1, cnt, fa, &na, ea,
                                           sizeof(ea));
                rb = vcdc_chromaref_rows(resp, 1, cnt, fb, &nb, eb,
                                         sizeof(eb));
        }
        if (ra != rb || na != nb || strcmp(ea, eb)) {
                snprintf(why, why_size,
                         "read %d: %d/%d, %zu/%zu records, \"%s\" (fast) vs "
                         "\"%s\" (jansson)",
                         mode, ra, rb, na, nb, ea, eb);
                goto done;
        }
        same = 1;
        for (i = 0; same && i < cnt; i++) {
                if (mode == 0 && !fa[i].id && !fb[i].id)
                        continue;
                j = mode == 0 ? row_of(resp, ids[i]) : i + (mode == 2);
                same = record_same(resp, j, &fa[i], &fb[i], why, why_size);
        }
done:
        for (i = 0; fa && fb && i < cnt; i++) {
                vcdc_record_clear(&fa[i]);
                vcdc_record_clear(&fb[i]);
        }
        free(fa);
        free(fb);
        return same;
}

int vcdc_chromaref_compare(vcdc_jsonscan_t *js, const char *text, size_t len,
                           const char *const *ids, size_t cnt, char *why,
                           size_t why_size) {
        vcdc_chroma_cursor_t cur = {0};
        vcdc_json_error_t serr;
        vcdc_json_span_t root;
        json_error_t jerr;
        json_t *resp;
        size_t ka = 0, kb = 0;
        long ja, jb;
        int sr, r = -1, mode;

        resp = json_loadb(text, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES,
                          &jerr);
        sr = vcdc_jsonscan_run(js, text, len, &root, &serr);
        if (!resp || sr == -1) {
                /* jansson drops a NUL byte it reads ahead ("16\0" is
                 * 16 to it), the scanner refuses it: texts holding one
                 * are not compared as JSON (as in fuzz_jsonfast). */
                if (memchr(text, '\0', len) ||
                    (!resp && sr == -1 && !strcmp(jerr.text, serr.text) &&
                     (size_t)jerr.position == serr.position)) {
                        json_decref(resp);
                        return 1;
                }
                snprintf(why, why_size,
                         "as JSON: %s (fast) vs %s (jansson)",
                         sr == -1 ? serr.text : "accepted",
                         resp ? "accepted" : jerr.text);
                json_decref(resp);
                return -1;
        }
        for (mode = 0; mode < 3; mode++)
                if (!read_same(js, resp, mode, ids, cnt, why, why_size))
                        goto done;
        if (vcdc_chroma_cursor_parse("9,1:a,1:b", &cur) == -1) {
                snprintf(why, why_size, "out of memory");
                goto done;
        }
        ja = vcdc_chroma_scan_anchor(js, 2, 9, &cur, &ka);
        jb = vcdc_chromaref_anchor(resp, 2, 9, &cur, &kb);
        if (ja != jb || (ja >= 0 && ka != kb)) {
                snprintf(why, why_size, "anchor: row %ld/%ld, %zu/%zu", ja,
                         jb, ka, kb);
                goto done;
        }
        r = 0;
done:
        vcdc_chroma_cursor_clear(&cur);
        json_decref(resp);
        return r;
}
