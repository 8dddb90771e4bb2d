/*
 * vcdc - reading OLD for vcdc snapshot (DESIGN.md, The snapshot of a live
 * OLD, steps 1 to 3): OLD's position (the low watermark), a page of the
 * scan and the log end after it (the high watermark), in a thread of its
 * own so that the next page is read while the current chunk is written
 * and repaired; and the ids of an interrupted chunk, read again. Nothing
 * here reads the log back or writes anything.
 *
 * While a page is being read, its thread alone uses OLD's sink and the
 * cached position; the run's thread uses only the log (its own consumer)
 * and the producers. librdkafka's handles may be used from both.
 */
#include "snap_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"

/* OLD's position, read again when older than OLD_POS_MS or fresh is set
 * (a request to OLD costs as much as a tenth of a page): a position read
 * a moment ago is still one OLD has passed. */
#define OLD_POS_MS 500

int snap_old_position(snap_t *s, int64_t *lw, int fresh, char *errstr,
                      size_t errstr_size) {
        vcdc_sink_offset_t *rec;
        size_t cnt, i;
        int p;

        if (fresh || vcdc_clock_ms() - s->old_pos_ms >= OLD_POS_MS) {
                if (vcdc_sink_read_offsets(s->old, s->o->topic, &rec, &cnt,
                                           errstr, errstr_size) != VCDC_SINK_OK)
                        return -1;
                for (p = 0; p < s->parts; p++)
                        s->old_pos[p] = 0;
                for (i = 0; i < cnt; i++)
                        if (rec[i].partition >= 0 &&
                            rec[i].partition < s->parts)
                                s->old_pos[rec[i].partition] =
                                        rec[i].offset + 1;
                free(rec);
                s->old_pos_ms = vcdc_clock_ms();
        }
        memcpy(lw, s->old_pos, (size_t)s->parts * sizeof(*lw));
        return 0;
}

/* Every row names the collection the snapshot writes. */
static int name_rows(snap_t *s, chunk_t *c, char *errstr,
                     size_t errstr_size) {
        size_t i;

        for (i = 0; i < c->cnt; i++) {
                free(c->rows[i].collection);
                if (!(c->rows[i].collection = strdup(s->collection))) {
                        snprintf(errstr, errstr_size, "out of memory");
                        return -1;
                }
        }
        return 0;
}

int snap_read_ids(snap_t *s, chunk_t *c, char **ids, size_t cnt,
                  char *errstr, size_t errstr_size) {
        size_t i;

        if (!(c->rows = calloc(cnt ? cnt : 1, sizeof(*c->rows)))) {
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        for (i = 0; i < cnt; i++)
                vcdc_record_init(&c->rows[i]);
        c->cnt = cnt;
        if (vcdc_sink_get(s->old, (const char *const *)ids, cnt, c->rows,
                          errstr, errstr_size) != VCDC_SINK_OK)
                return -1;
        for (i = 0; i < cnt; i++)
                if (!c->rows[i].id) {
                        c->rows[i].op = VCDC_OP_DELETE;
                        c->rows[i].id = ids[i];
                        ids[i] = NULL;
                }
        return name_rows(s, c, errstr, errstr_size);
}

/* The most a page may grow by for the deletes before its cursor. */
#define SHIFT_ROOM_MAX 100000

static int page_deleted(const char *id, void *opaque) {
        page_t *pg = opaque;

        return snap_deleted_since(pg->s, id, pg->from);
}

/*
 * The page's thread: steps 1 to 3. The page has room for the chunk plus
 * the bound on deletes it is read with: a Chroma scan that lost its place
 * steps back by that bound, and with the room it still returns a chunk's
 * worth of records past its old place, so a run goes forward however
 * many records are deleted between two pages (up to what one Chroma
 * request returns).
 */
static void *page_main(void *opaque) {
        page_t *pg = opaque;
        snap_t *s = pg->s;
        size_t max = s->o->chunk ? s->o->chunk : SNAP_CHUNK_DEFAULT, i;

        max += pg->sh.deletes < SHIFT_ROOM_MAX ? (size_t)pg->sh.deletes
                                               : SHIFT_ROOM_MAX;
        pg->rc = -1;
        if (!(pg->c.rows = calloc(max, sizeof(*pg->c.rows)))) {
                snprintf(pg->err, sizeof(pg->err), "out of memory");
                return NULL;
        }
        for (i = 0; i < max; i++)
                vcdc_record_init(&pg->c.rows[i]);
        if (snap_old_position(s, pg->lw, 0, pg->err, sizeof(pg->err)) == -1 ||
            vcdc_sink_scan_shifted(s->old, &pg->cursor, max, 1, &pg->sh,
                                   pg->c.rows, &pg->c.cnt, pg->err,
                                   sizeof(pg->err)) != VCDC_SINK_OK ||
            vcdc_logread_ends(s->lr, pg->hw, pg->err, sizeof(pg->err)) == -1 ||
            name_rows(s, &pg->c, pg->err, sizeof(pg->err)) == -1)
                return NULL;
        pg->rc = 0;
        return NULL;
}

int snap_page_start(snap_t *s, page_t *pg, const char *cursor,
                    const int64_t *from, char *errstr, size_t errstr_size) {
        size_t psize = (size_t)s->parts * sizeof(int64_t);

        memset(pg, 0, sizeof(*pg));
        pg->s = s;
        if ((cursor && (!(pg->before = strdup(cursor)) ||
                        !(pg->cursor = strdup(cursor)))) ||
            !(pg->from = malloc(psize)) || !(pg->lw = calloc(1, psize)) ||
            !(pg->hw = calloc(1, psize))) {
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        memcpy(pg->from, from, psize);
        pg->sh.deletes = snap_dels(s, from, s->pos);
        pg->sh.deleted = page_deleted;
        pg->sh.opaque = pg;
        if (pthread_create(&pg->thr, NULL, page_main, pg)) {
                snprintf(errstr, errstr_size, "cannot start a reader thread");
                return -1;
        }
        pg->running = 1;
        return 0;
}

int snap_page_misplaced(snap_t *s, const page_t *pg) {
        return (pg->sh.lost &&
                snap_dels(s, pg->from, pg->hw) > pg->sh.deletes) ||
               (pg->sh.anchor && snap_deleted_since(s, pg->sh.anchor, pg->from));
}

int snap_page_wait(page_t *pg, char *errstr, size_t errstr_size) {
        if (pg->running) {
                pthread_join(pg->thr, NULL);
                pg->running = 0;
        }
        if (pg->rc == -1)
                snprintf(errstr, errstr_size, "%s", pg->err);
        return pg->rc;
}

void snap_page_clear(page_t *pg) {
        if (pg->running)
                pthread_join(pg->thr, NULL);
        snap_chunk_clear(&pg->c);
        free(pg->before);
        free(pg->cursor);
        free(pg->sh.anchor);
        free(pg->from);
        free(pg->lw);
        free(pg->hw);
        memset(pg, 0, sizeof(*pg));
}
