/*
 * vcdc - model test: reading the test database back as vcdc snapshot
 * reads OLD (get by ids, scans in pages), over a copy of one target.
 *
 * The database keeps a hash and a tag per row, not the record: a row can
 * be read back only when it was written as memdb_record_make() makes
 * records, which derives everything from the collection, the id and the
 * tag (the document). A row whose hash says otherwise is refused, never
 * guessed.
 *
 * Two scans, as the two real sinks page:
 *   insertion order (Chroma): rows keep their place when upserted, a new
 *     one goes to the end, a delete moves every later row down one (the
 *     database keeps that order). The cursor is an offset and the ids of
 *     the last page (anchors); a page starts right after the latest anchor
 *     still before the offset, and when every anchor is gone the scan has
 *     lost its place: it steps back by the caller's shift (or by the
 *     number of anchors when that is more) and says so (sink.h,
 *     vcdc_sink_scan_shifted). An anchor the caller says was deleted
 *     since is no guide (written again, it moved to the end). A faithful simplification of
 *     sinks/chroma/sink_chroma_read.c: it looks for its anchors over the
 *     whole prefix at once, where Chroma walks back in windows.
 *   keyset (pgvector): ids in byte order after the last id returned.
 */
#include "memdb.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ANCHORS_MAX 16
#define SEP '\x1f' /* between the cursor's fields: no test id holds it */

static uint64_t fnv_s(uint64_t h, const char *s) {
        for (; *s; s++) {
                h ^= (unsigned char)*s;
                h *= 1099511628211ULL;
        }
        return h * 1099511628211ULL; /* the end of the string */
}

int memdb_record_make(vcdc_record_t *rec, const char *collection,
                      const char *id, const char *tag, size_t dim) {
        uint64_t h = fnv_s(fnv_s(1469598103934665603ULL, id), tag);
        char meta[96];
        size_t i;

        vcdc_record_clear(rec);
        rec->op = VCDC_OP_UPSERT;
        rec->dim = dim;
        snprintf(meta, sizeof(meta), "{\"tag\":\"%s\",\"n\":%" PRIu64 "}",
                 tag, h % 1000);
        if (!(rec->collection = strdup(collection)) ||
            !(rec->id = strdup(id)) || !(rec->document = strdup(tag)) ||
            !(rec->metadata = strdup(meta)) ||
            !(rec->vector = malloc((dim ? dim : 1) * sizeof(float)))) {
                vcdc_record_clear(rec);
                return -1;
        }
        for (i = 0; i < dim; i++) {
                h = h * 6364136223846793005ULL + 1442695040888963407ULL;
                rec->vector[i] = (float)(h >> 40 & 0xffff) / 256.0f - 128.0f;
        }
        return 0;
}

int memdb_row_read(const memdb_row_t *row, int with_vectors,
                   vcdc_record_t *out, char *errstr, size_t errstr_size) {
        if (memdb_record_make(out, row->collection, row->id, row->tag,
                              row->dim) == -1) {
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        if (memdb_record_hash(out) != row->hash) {
                snprintf(errstr, errstr_size,
                         "row %s was not written by memdb_record_make(): "
                         "it cannot be read back",
                         row->id);
                vcdc_record_clear(out);
                return -1;
        }
        if (!with_vectors) {
                free(out->vector);
                out->vector = NULL;
        }
        return 0;
}

int memdb_get_rows(const memdb_target_t *t, const char *const *ids,
                   size_t cnt, vcdc_record_t *out, char *errstr,
                   size_t errstr_size) {
        const memdb_row_t *row;
        size_t i;

        for (i = 0; i < cnt; i++) {
                if (!(row = memdb_row(t, ids[i])))
                        continue;
                if (memdb_row_read(row, 1, &out[i], errstr, errstr_size) ==
                    -1)
                        goto err;
        }
        return 0;
err:
        while (i-- > 0)
                vcdc_record_clear(&out[i]);
        return -1;
}

/* Reads rows[0..n) into out. */
static int read_rows(const memdb_row_t *const *rows, size_t n,
                     int with_vectors, vcdc_record_t *out, char *errstr,
                     size_t errstr_size) {
        size_t i;

        for (i = 0; i < n; i++)
                if (memdb_row_read(rows[i], with_vectors, &out[i],
                                   errstr, errstr_size) == -1) {
                        while (i-- > 0)
                                vcdc_record_clear(&out[i]);
                        return -1;
                }
        return 0;
}

/* "OFFSET<SEP>ID<SEP>ID..." */
static int cursor_parse(char *cur, uint64_t *offp, char **anchors,
                        size_t *cntp) {
        char *p = strchr(cur, SEP), *end;

        *cntp = 0;
        if (p)
                *p++ = '\0';
        *offp = strtoull(cur, &end, 10);
        if (end == cur || *end)
                return -1;
        while (p && *p && *cntp < ANCHORS_MAX) {
                anchors[(*cntp)++] = p;
                if ((p = strchr(p, SEP)))
                        *p++ = '\0';
        }
        return 0;
}

static char *cursor_format(uint64_t off, const vcdc_record_t *page,
                           size_t n) {
        size_t len = 32, i, from = n > ANCHORS_MAX ? n - ANCHORS_MAX : 0;
        char *buf;
        int w;

        for (i = from; i < n; i++)
                len += strlen(page[i].id) + 1;
        if (!(buf = malloc(len)))
                return NULL;
        w = snprintf(buf, len, "%" PRIu64, off);
        for (i = from; i < n; i++)
                w += snprintf(buf + w, len - (size_t)w, "%c%s", SEP,
                              page[i].id);
        return buf;
}

int memdb_scan_insert(const memdb_target_t *t, char **cursorp, size_t max,
                      int with_vectors, vcdc_sink_shift_t *sh,
                      vcdc_record_t *out, size_t *cntp, char *errstr,
                      size_t errstr_size) {
        char *anchors[ANCHORS_MAX], *cur = NULL, *next = NULL;
        const memdb_row_t **rows = NULL;
        uint64_t off = 0, start = 0, back, shift = sh ? sh->deletes : 0;
        size_t acnt = 0, had, best = 0, n = 0, k, i;
        long row = -1;
        int r = -1;

        *cntp = 0;
        if (*cursorp) {
                if (!(cur = strdup(*cursorp))) {
                        snprintf(errstr, errstr_size, "out of memory");
                        return -1;
                }
                if (cursor_parse(cur, &off, anchors, &acnt) == -1) {
                        snprintf(errstr, errstr_size,
                                 "bad scan cursor \"%.32s\"", *cursorp);
                        goto out;
                }
        }
        start = off;
        had = acnt;
        for (i = k = 0; sh && sh->deleted && i < had; i++)
                if (!sh->deleted(anchors[i], sh->opaque))
                        anchors[k++] = anchors[i];
        if (sh && sh->deleted)
                acnt = k;
        if (had) {
                /* The latest anchor before the offset wins, at its first
                 * row; a row at or past the offset moved there. */
                for (i = 0; i < t->row_cnt && i < off; i++)
                        for (k = acnt; k-- > (row < 0 ? 0 : best + 1);)
                                if (!strcmp(t->rows[i].id, anchors[k])) {
                                        best = k;
                                        row = (long)i;
                                        break;
                                }
                if (row >= 0) {
                        start = (uint64_t)row + 1;
                        if (sh && !(sh->anchor = strdup(anchors[best]))) {
                                snprintf(errstr, errstr_size,
                                         "out of memory");
                                goto out;
                        }
                } else {
                        back = had > shift ? had : shift;
                        start = off > back ? off - back : 0;
                        if (sh)
                                sh->lost = 1;
                }
        }
        if (max && start < t->row_cnt) {
                n = t->row_cnt - start < max ? t->row_cnt - (size_t)start
                                             : max;
                if (!(rows = calloc(n, sizeof(*rows)))) {
                        snprintf(errstr, errstr_size, "out of memory");
                        goto out;
                }
                for (i = 0; i < n; i++)
                        rows[i] = &t->rows[start + i];
                if (read_rows(rows, n, with_vectors, out, errstr,
                              errstr_size) == -1)
                        goto out;
        }
        if (n == max && n &&
            !(next = cursor_format(start + n, out, n))) {
                for (i = 0; i < n; i++)
                        vcdc_record_clear(&out[i]);
                snprintf(errstr, errstr_size, "out of memory");
                goto out;
        }
        free(*cursorp);
        *cursorp = next; /* NULL: the last page */
        *cntp = n;
        r = 0;
out:
        free(rows);
        free(cur);
        return r;
}

static int cmp_row_id(const void *a, const void *b) {
        return strcmp((*(const memdb_row_t *const *)a)->id,
                      (*(const memdb_row_t *const *)b)->id);
}

int memdb_scan_key(const memdb_target_t *t, char **cursorp, size_t max,
                   int with_vectors, vcdc_record_t *out, size_t *cntp,
                   char *errstr, size_t errstr_size) {
        const memdb_row_t **rows =
                malloc((t->row_cnt ? t->row_cnt : 1) * sizeof(*rows));
        size_t n = 0, i;
        char *next = NULL;

        *cntp = 0;
        if (!rows) {
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        for (i = 0; i < t->row_cnt; i++)
                if (!*cursorp || strcmp(t->rows[i].id, *cursorp) > 0)
                        rows[n++] = &t->rows[i];
        qsort(rows, n, sizeof(*rows), cmp_row_id);
        if (n > max)
                n = max;
        if (read_rows(rows, n, with_vectors, out, errstr, errstr_size) ==
            -1) {
                free(rows);
                return -1;
        }
        free(rows);
        if (n == max && n && !(next = strdup(out[n - 1].id))) {
                for (i = 0; i < n; i++)
                        vcdc_record_clear(&out[i]);
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        free(*cursorp);
        *cursorp = next;
        *cntp = n;
        return 0;
}
