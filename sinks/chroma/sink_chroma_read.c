/*
 * vcdc - the Chroma sink's reads: count, get by ids, scan in pages, query.
 * A collection that does not exist (yet, or any more) reads as empty.
 * Never writes.
 */
#include "sink_chroma_state.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* How many ids one look back for a lost place asks for, and how many
 * times a page looks for its place before it gives up. */
#define SCAN_PROBE_IDS 10000
#define SCAN_ATTEMPTS  4

vcdc_sink_status_t vcdc_chroma_op_count(vcdc_sink_t *sink, uint64_t *countp,
                                        char *errstr, size_t errstr_size) {
        chroma_t *st = sink->state;
        vcdc_sink_status_t status;
        json_t *resp = NULL;
        long code;

        *countp = 0;
        if ((status = vcdc_chroma_refresh(sink, errstr, errstr_size)) !=
            VCDC_SINK_OK)
                return status;
        if (!st->id[0])
                return VCDC_SINK_OK;
        status = vcdc_chroma_coll_call(sink, "GET", st->id, "count", NULL,
                                       &resp, &code, errstr, errstr_size);
        if (status != VCDC_SINK_OK) {
                if (code != 404)
                        return status;
                st->id[0] = '\0';
                return VCDC_SINK_OK;
        }
        if (!json_is_integer(resp) || json_integer_value(resp) < 0) {
                json_decref(resp);
                return vcdc_chroma_fail(sink, VCDC_SINK_RETRIABLE, errstr,
                                        errstr_size,
                                        "counting: the answer is not a count");
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

/* One get request, its answer checked by st->js (*gotp 1) for the
 * sink_chroma_scan.c readers; 404 (the collection went away) counts as
 * empty (*gotp 0). */
static vcdc_sink_status_t get_call(vcdc_sink_t *sink, const char *body,
                                   int *gotp, char *errstr,
                                   size_t errstr_size) {
        chroma_t *st = sink->state;
        vcdc_sink_status_t status;
        vcdc_json_span_t root;
        long code;

        *gotp = 0;
        status = vcdc_chroma_coll_scan(sink, "POST", st->id, "get", body,
                                       &root, &code, errstr, errstr_size);
        if (status != VCDC_SINK_OK && code == 404) {
                st->id[0] = '\0';
                return VCDC_SINK_OK;
        }
        *gotp = status == VCDC_SINK_OK;
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
                int got;
                char *body;
                n = get_limit(st, 1);
                if (n > cnt - i)
                        n = cnt - i;
                body = vcdc_chroma_get_body(ids + i, n, 0, 0,
                                            VCDC_CHROMA_INC_EMBEDDINGS |
                                                    VCDC_CHROMA_INC_METADATAS |
                                                    VCDC_CHROMA_INC_DOCUMENTS);
                status = get_call(sink, body, &got, errstr, errstr_size);
                free(body);
                if (status != VCDC_SINK_OK)
                        return status;
                if (!got)
                        break;
                if (vcdc_chroma_scan_get(st->js, ids + i, n, out + i, &found,
                                         err, sizeof(err)) == -1)
                        return vcdc_chroma_fail(sink, VCDC_SINK_RETRIABLE,
                                                errstr, errstr_size, "%s", err);
        }
        return VCDC_SINK_OK;
}

/*
 * Finds cur's place again by ids alone, in windows walking back from its
 * offset: sets cur->offset just after the latest anchor still there
 * (dropping the later ones) and returns OK with *foundp 1, or *foundp 0
 * when none of them is left before the offset.
 */
static vcdc_sink_status_t relocate(vcdc_sink_t *sink, vcdc_chroma_cursor_t *cur,
                                   int *foundp, char *errstr,
                                   size_t errstr_size) {
        uint64_t end = cur->offset, start;
        chroma_t *st = sink->state;
        vcdc_sink_status_t status;
        size_t k;
        long j;
        int got;
        char *body;

        *foundp = 0;
        while (end > 0) {
                start = end > SCAN_PROBE_IDS ? end - SCAN_PROBE_IDS : 0;
                body = vcdc_chroma_get_body(NULL, 0, (size_t)(end - start),
                                            (size_t)start, 0 /*ids only*/);
                status = get_call(sink, body, &got, errstr, errstr_size);
                free(body);
                if (status != VCDC_SINK_OK || !got)
                        return status;
                j = vcdc_chroma_scan_anchor(st->js, (size_t)start,
                                            (size_t)cur->offset, cur, &k);
                if (j >= 0) {
                        cur->offset = start + (uint64_t)j + 1;
                        vcdc_chroma_cursor_keep(cur, k + 1);
                        *foundp = 1;
                        return VCDC_SINK_OK;
                }
                end = start;
        }
        return VCDC_SINK_OK;
}

vcdc_sink_status_t vcdc_chroma_op_exists(vcdc_sink_t *sink, int *existsp,
                                         char *errstr, size_t errstr_size) {
        chroma_t *st = sink->state;
        vcdc_sink_status_t status;

        *existsp = 0;
        if ((status = vcdc_chroma_refresh(sink, errstr, errstr_size)) !=
            VCDC_SINK_OK)
                return status;
        *existsp = st->id[0] != '\0';
        return VCDC_SINK_OK;
}

/* Drops the anchors sh says were deleted since. Returns how many. */
static size_t drop_deleted(vcdc_chroma_cursor_t *cur,
                           const vcdc_sink_shift_t *sh) {
        size_t i, kept = 0, cnt = cur->anchor_cnt;

        if (!sh || !sh->deleted)
                return 0;
        for (i = 0; i < cnt; i++) {
                if (sh->deleted(cur->anchors[i], sh->opaque))
                        free(cur->anchors[i]);
                else
                        cur->anchors[kept++] = cur->anchors[i];
        }
        cur->anchor_cnt = kept;
        return cnt - kept;
}

/* None of the had anchors the cursor held is a guide: steps back. */
static void lose_place(vcdc_sink_t *sink, vcdc_chroma_cursor_t *cur,
                       size_t had, vcdc_sink_shift_t *sh) {
        uint64_t shift = sh ? sh->deletes : 0, back;

        back = had > shift ? had : shift;
        if (shift)
                VCDC_INFO("chroma",
                          "%s: scan: the %zu records returned last were all "
                          "deleted since; going back %" PRIu64
                          ", the deletes since",
                          sink->name, had, back);
        else
                VCDC_NOTICE("chroma",
                            "%s: scan: the %zu records returned last were all "
                            "deleted since; going back as many (a record "
                            "may be missed or seen twice)",
                            sink->name, had);
        cur->offset = cur->offset > back ? cur->offset - back : 0;
        vcdc_chroma_cursor_keep(cur, 0);
        if (sh)
                sh->lost = 1;
}

/*
 * A page of a scan. Chroma pages by offset in insertion order: an upsert
 * of an existing record keeps its place, a new one goes to the end, and a
 * delete moves every later record back by one, so an offset alone would
 * skip a record for each delete before it. The cursor also keeps the last
 * ids returned (sink_chroma_cursor.c): each page is read from a little
 * before the offset and starts right after the latest of them still
 * there; when more records went than the lookback covers, relocate()
 * finds it by ids. An anchor the caller says was deleted since is no
 * guide: written again, it moved to the end, past records not read yet.
 * With no anchor left the scan has lost its place: it goes back by the
 * caller's bound on the deletes since (sh->deletes), or by the anchors'
 * number when that is more or no bound was given, and says so.
 */
vcdc_sink_status_t vcdc_chroma_op_scan(vcdc_sink_t *sink, char **cursorp,
                                       size_t max, int with_vectors,
                                       vcdc_sink_shift_t *sh,
                                       vcdc_record_t *out, size_t *cntp,
                                       char *errstr, size_t errstr_size) {
        chroma_t *st = sink->state;
        vcdc_chroma_cursor_t cur = {0};
        vcdc_sink_status_t status = VCDC_SINK_OK;
        size_t limit, back, skip, k, n = 0, i, had;
        uint64_t start;
        char err[512], *body, *next;
        int attempt, found, got;
        long j;

        *cntp = 0;
        if (*cursorp && vcdc_chroma_cursor_parse(*cursorp, &cur) == -1)
                return vcdc_chroma_fail(sink, VCDC_SINK_INVALID, errstr,
                                        errstr_size,
                                        "bad scan cursor \"%.32s\"", *cursorp);
        if ((status = vcdc_chroma_refresh(sink, errstr, errstr_size)) !=
            VCDC_SINK_OK)
                goto out;
        if (!st->id[0] || !max)
                goto done;
        limit = get_limit(st, with_vectors);
        if (limit > max)
                limit = max;
        had = cur.anchor_cnt;
        if (drop_deleted(&cur, sh) && !cur.anchor_cnt)
                lose_place(sink, &cur, had, sh);
        for (attempt = 0;; attempt++) {
                back = cur.anchor_cnt
                               ? cur.anchor_cnt + VCDC_CHROMA_SCAN_LOOKBACK
                               : 0;
                if (back > cur.offset)
                        back = (size_t)cur.offset;
                start = cur.offset - back;
                body = vcdc_chroma_get_body(
                        NULL, 0, back + limit, (size_t)start,
                        (with_vectors ? VCDC_CHROMA_INC_EMBEDDINGS : 0) |
                                VCDC_CHROMA_INC_METADATAS |
                                VCDC_CHROMA_INC_DOCUMENTS);
                status = get_call(sink, body, &got, errstr, errstr_size);
                free(body);
                if (status != VCDC_SINK_OK)
                        goto out;
                if (!got)
                        goto done; /* the collection went away */
                skip = 0;
                if (!cur.anchor_cnt)
                        break;
                j = vcdc_chroma_scan_anchor(st->js, (size_t)start,
                                            (size_t)cur.offset, &cur, &k);
                if (j >= 0) {
                        skip = (size_t)j + 1;
                        vcdc_chroma_cursor_keep(&cur, k + 1);
                        if (sh && !(sh->anchor = strdup(cur.anchors[k]))) {
                                status = vcdc_chroma_fail(
                                        sink, VCDC_SINK_RETRIABLE, errstr,
                                        errstr_size, "out of memory");
                                goto out;
                        }
                        break;
                }
                found = 0;
                had = cur.anchor_cnt;
                if (attempt < SCAN_ATTEMPTS &&
                    (status = relocate(sink, &cur, &found, errstr,
                                       errstr_size)) != VCDC_SINK_OK)
                        goto out;
                if (!st->id[0])
                        goto done; /* the collection went away */
                if (!found)
                        lose_place(sink, &cur, had, sh);
        }
        if (vcdc_chroma_scan_rows(st->js, skip, limit, out, &n, err,
                                  sizeof(err)) == -1) {
                status = vcdc_chroma_fail(sink, VCDC_SINK_RETRIABLE, errstr,
                                          errstr_size, "%s", err);
                goto out;
        }
        if (n < limit)
                goto done; /* the last page */
        cur.offset = start + skip + n;
        for (i = 0; i < n; i++)
                if (vcdc_chroma_cursor_push(&cur, out[i].id) == -1)
                        break;
        if (i < n || !(next = vcdc_chroma_cursor_format(&cur))) {
                while (n-- > 0)
                        vcdc_record_clear(&out[n]);
                n = 0;
                status = vcdc_chroma_fail(sink, VCDC_SINK_RETRIABLE, errstr,
                                          errstr_size, "out of memory");
                goto out;
        }
        free(*cursorp);
        *cursorp = next;
        *cntp = n;
        goto out;

done:
        free(*cursorp);
        *cursorp = NULL;
        *cntp = n;
out:
        vcdc_chroma_cursor_clear(&cur);
        return status;
}

vcdc_sink_status_t vcdc_chroma_op_query(vcdc_sink_t *sink, const float *vector,
                                        size_t dim, size_t k, vcdc_hit_t *hits,
                                        size_t *cntp, char *errstr,
                                        size_t errstr_size) {
        chroma_t *st = sink->state;
        char err[512], *body;
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
        body = vcdc_chroma_query_body(vector, dim, k);
        status = vcdc_chroma_coll_call(sink, "POST", st->id, "query", body,
                                       &resp, &code, errstr, errstr_size);
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
                                        errstr_size, "query: %s", err);
        }
        json_decref(resp);
        return VCDC_SINK_OK;
}
