/*
 * vcdc - one chunk of a snapshot (DESIGN.md, The snapshot of a live OLD,
 * steps 5 to 7): its window (ids changed between the low and the high
 * watermark are dropped), its append, and the repair passes that put back
 * a live change a snapshot record landed after. Every decision is taken
 * from the log alone, so a rerun takes the same ones.
 *
 * A record is "live" when it carries no vcdc.snapshot header: a change
 * written by the applications through the log. Tagged records are the
 * snapshot's own (snapshot records and repairs, of any run).
 */
#define _GNU_SOURCE /* tdestroy */
#include "snap_int.h"

#include <inttypes.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define FLUSH_TIMEOUT_MS 120000

int snap_chunk_index(chunk_t *c, char *errstr, size_t errstr_size) {
        size_t i;

        if (!(c->ids = calloc(c->cnt ? c->cnt : 1, sizeof(*c->ids))) ||
            !(c->slots = calloc(c->cnt ? c->cnt : 1, sizeof(*c->slots))))
                goto oom;
        for (i = 0; i < c->cnt; i++) {
                c->ids[i] = c->rows[i].id;
                vcdc_record_init(&c->slots[i].live);
        }
        if (vcdc_idindex_init(&c->ix, c->ids, c->cnt) == -1)
                goto oom;
        return 0;
oom:
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
}

void snap_chunk_clear(chunk_t *c) {
        size_t i;

        for (i = 0; i < c->cnt; i++) {
                vcdc_record_clear(&c->rows[i]);
                if (c->slots)
                        vcdc_record_clear(&c->slots[i].live);
        }
        vcdc_idindex_free(&c->ix);
        free(c->rows);
        free(c->ids);
        free(c->slots);
        c->rows = NULL;
        c->ids = NULL;
        c->slots = NULL;
        c->cnt = 0;
}

enum { READ_COUNT, READ_WINDOW, READ_REPAIR };

typedef struct readctx_s {
        snap_t *s;
        chunk_t *c;
        int mode;
        const int64_t *lw;   /* the window or the repairs start here;
                              * NULL: at s->pos */
        const int64_t *seen; /* read before up to here: counted already */
} readctx_t;

/* A deleted id's latest delete. */
typedef struct deleted_s {
        int32_t partition;
        int64_t offset;
        char id[];
} deleted_t;

static int cmp_deleted(const void *a, const void *b) {
        return strcmp(((const deleted_t *)a)->id, ((const deleted_t *)b)->id);
}

static int note_deleted_id(snap_t *s, const char *id, int32_t p,
                           int64_t offset) {
        size_t len = strlen(id);
        deleted_t *d = malloc(sizeof(*d) + len + 1), **found;

        if (!d)
                return -1;
        memcpy(d->id, id, len + 1);
        d->partition = p;
        d->offset = offset;
        pthread_mutex_lock(&s->dels_lock);
        if ((found = tsearch(d, &s->deleted, cmp_deleted)) && *found != d) {
                (*found)->partition = p;
                (*found)->offset = offset;
        }
        pthread_mutex_unlock(&s->dels_lock);
        if (!found || *found != d)
                free(d);
        return found ? 0 : -1;
}

static int note_delete(snap_t *s, const char *id, int32_t p, int64_t offset) {
        struct offs_s *d = &s->dels[p];
        int64_t *v;

        if (d->cnt == d->cap) {
                d->cap = d->cap ? 2 * d->cap : 256;
                if (!(v = realloc(d->v, d->cap * sizeof(*v))))
                        return -1;
                d->v = v;
        }
        d->v[d->cnt++] = offset;
        return note_deleted_id(s, id, p, offset);
}

int snap_deleted_since(snap_t *s, const char *id, const int64_t *from) {
        size_t len = strlen(id);
        deleted_t *key = malloc(sizeof(*key) + len + 1), **found;
        int r;

        if (!key)
                return 1; /* as if it were: the page is read again */
        memcpy(key->id, id, len + 1);
        pthread_mutex_lock(&s->dels_lock);
        found = tfind(key, &s->deleted, cmp_deleted);
        r = found && (*found)->partition >= 0 &&
            (*found)->partition < s->parts &&
            (*found)->offset >= from[(*found)->partition];
        pthread_mutex_unlock(&s->dels_lock);
        free(key);
        return r;
}

void snap_dels_free(snap_t *s) {
        int p;

        for (p = 0; s->dels && p < s->parts; p++)
                free(s->dels[p].v);
        free(s->dels);
        s->dels = NULL;
        tdestroy(s->deleted, free);
        s->deleted = NULL;
}

/* The first index of d holding an offset at or past o. */
static size_t lower_bound(const struct offs_s *d, int64_t o) {
        size_t lo = 0, hi = d->cnt, mid;

        while (lo < hi) {
                mid = lo + (hi - lo) / 2;
                if (d->v[mid] < o)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

uint64_t snap_dels(const snap_t *s, const int64_t *from, const int64_t *to) {
        uint64_t n = 0;
        size_t a, b;
        int p;

        for (p = 0; p < s->parts; p++) {
                a = lower_bound(&s->dels[p], from[p]);
                b = lower_bound(&s->dels[p], to[p]);
                n += b > a ? b - a : 0;
        }
        return n;
}

/* The slots of id in c (an id read twice by one chunk has two). */
#define FOR_SLOTS(c, id, idx, pos)                                            \
        for (pos = vcdc_idindex_find(&(c)->ix, id);                           \
             vcdc_idindex_match(&(c)->ix, pos, id, &idx); pos++)

static int on_msg(const vcdc_logmsg_t *m, void *opaque, char *errstr,
                  size_t errstr_size) {
        readctx_t *x = opaque;
        const vcdc_record_t *rec = m->rec;
        size_t pos, idx;
        slot_t *sl;

        if (!rec->collection || !rec->id ||
            strcmp(rec->collection, x->s->collection))
                return 0;
        if (!m->snapshot && m->decoded && m->offset >= x->seen[m->partition]) {
                if (m->offset > x->s->need[m->partition])
                        x->s->need[m->partition] = m->offset;
                if (!m->tombstone && rec->op == VCDC_OP_DELETE &&
                    note_delete(x->s, rec->id, m->partition,
                                m->offset) == -1) {
                        snprintf(errstr, errstr_size, "out of memory");
                        return -1;
                }
        }
        /* Before the window or the repairs' range: another chunk's. */
        if (x->mode == READ_COUNT ||
            (x->lw && m->offset < x->lw[m->partition]))
                return 0;
        FOR_SLOTS(x->c, rec->id, idx, pos) {
                sl = &x->c->slots[idx];
                if (x->mode == READ_WINDOW) {
                        /* Any change in the window: the log gives its state
                         * (DESIGN.md). A tagged record there is a copy of
                         * one, or correct by its own chunk's argument. */
                        sl->dropped = 1;
                        continue;
                }
                if (sl->dropped)
                        continue;
                if (m->snapshot) {
                        sl->last_ours = 1;
                        snprintf(sl->last_repair, sizeof(sl->last_repair),
                                 "%s", m->repair ? m->repair : "");
                } else if (m->decoded) {
                        /* A live change (a DELETE's tombstone is one too):
                         * the latest is what a repair must copy. */
                        vcdc_record_clear(&sl->live);
                        if (vcdc_record_copy(&sl->live, rec) == -1) {
                                snprintf(errstr, errstr_size, "out of memory");
                                return -1;
                        }
                        snprintf(sl->live_pos, sizeof(sl->live_pos),
                                 "%" PRId32 ":%" PRId64, m->partition,
                                 m->offset);
                        sl->has_live = 1;
                        sl->last_ours = 0;
                }
                /* An undecodable live record never applies: it changes
                 * nothing a replay ends with. */
        }
        return 0;
}

static int read_to(snap_t *s, const int64_t *lw, const int64_t *to,
                   chunk_t *c, int mode, char *errstr, size_t errstr_size) {
        int64_t *from = calloc((size_t)s->parts, sizeof(*from));
        int64_t *seen = calloc((size_t)s->parts, sizeof(*seen));
        readctx_t x = {s, c, mode, lw, seen};
        int p, r = -1;

        if (!from || !seen) {
                snprintf(errstr, errstr_size, "out of memory");
                goto out;
        }
        for (p = 0; p < s->parts; p++) {
                seen[p] = s->pos[p];
                from[p] = lw && lw[p] < s->pos[p] ? lw[p] : s->pos[p];
        }
        if (vcdc_logread_range(s->lr, from, to, on_msg, &x, errstr,
                               errstr_size) == -1)
                goto out;
        for (p = 0; p < s->parts; p++)
                if (to[p] > s->pos[p])
                        s->pos[p] = to[p];
        r = 0;
out:
        free(from);
        free(seen);
        return r;
}

int snap_read(snap_t *s, const int64_t *lw, const int64_t *to, chunk_t *c,
              char *errstr, size_t errstr_size) {
        return read_to(s, c ? lw : NULL, to, c, c ? READ_WINDOW : READ_COUNT,
                       errstr, errstr_size);
}

/* Sends rec tagged for chunk c; repair: the "P:O" it copies, or NULL. */
static int send_tagged(snap_t *s, const chunk_t *c, const vcdc_record_t *rec,
                       const char *repair, char *errstr, size_t errstr_size) {
        vcdc_tag_t tags[3] = {
                {VCDC_HDR_SNAPSHOT, c->tag},
                {VCDC_HDR_SNAPSHOT_GROUP, s->o->old_group},
                {VCDC_HDR_REPAIR, repair},
        };
        char err[512];

        if (vcdc_producer_send_tagged(s->prod, rec, tags, repair ? 3 : 2, err,
                                      sizeof(err)) == 0)
                return 0;
        snprintf(errstr, errstr_size, "%s %s \"%.200s\": %s",
                 repair ? "repair of" : "snapshot record of",
                 rec->op == VCDC_OP_DELETE ? "deleted id" : "id", rec->id,
                 err);
        return -1;
}

static int flush(snap_t *s, char *errstr, size_t errstr_size) {
        char err[512];

        if (vcdc_producer_flush(s->prod, FLUSH_TIMEOUT_MS, err, sizeof(err)) ==
            0)
                return 0;
        snprintf(errstr, errstr_size, "writing to %s: %s", s->o->topic, err);
        return -1;
}

int snap_append(snap_t *s, chunk_t *c, char *errstr, size_t errstr_size) {
        size_t i;

        for (i = 0; i < c->cnt; i++) {
                if (c->slots[i].dropped) {
                        s->res->superseded++;
                        continue;
                }
                if (send_tagged(s, c, &c->rows[i], NULL, errstr,
                                errstr_size) == -1)
                        return -1;
                s->res->records++;
        }
        return flush(s, errstr, errstr_size);
}

int snap_repair(snap_t *s, chunk_t *c, const int64_t *hw, char *errstr,
                size_t errstr_size) {
        int64_t *end = calloc((size_t)s->parts, sizeof(*end));
        size_t i, sent;
        int pass, r = -1;

        if (!end) {
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        for (pass = 1;; pass++) {
                /* The first pass from the chunk's HW: the log may have
                 * been read past it already (for the chunk before it,
                 * written while this one was read). */
                if (vcdc_logread_ends(s->lr, end, errstr, errstr_size) == -1 ||
                    read_to(s, pass == 1 ? hw : NULL, end, c, READ_REPAIR,
                            errstr, errstr_size) == -1)
                        goto out;
                for (i = sent = 0; i < c->cnt; i++) {
                        slot_t *sl = &c->slots[i];

                        /* The id's latest record is the snapshot's, after
                         * a live change that is not the one it copies. */
                        if (sl->dropped || !sl->last_ours || !sl->has_live ||
                            !strcmp(sl->last_repair, sl->live_pos))
                                continue;
                        if (send_tagged(s, c, &sl->live, sl->live_pos, errstr,
                                        errstr_size) == -1)
                                goto out;
                        /* Until the next pass reads it back. */
                        snprintf(sl->last_repair, sizeof(sl->last_repair),
                                 "%s", sl->live_pos);
                        sent++;
                }
                if (!sent)
                        break;
                s->res->repairs += sent;
                if (flush(s, errstr, errstr_size) == -1)
                        goto out;
                if (pass % 100 == 0)
                        VCDC_WARN("snapshot",
                                  "chunk %" PRId64 ": %d repair passes so "
                                  "far: some ids of it are written "
                                  "continuously",
                                  c->n, pass);
        }
        r = 0;
out:
        free(end);
        return r;
}

/* ---- The ids of an interrupted chunk ------------------------------------ */

typedef struct tagctx_s {
        const char *collection;
        const char *tag;
        char **ids;
        size_t cnt, cap;
} tagctx_t;

static int on_tagged(const vcdc_logmsg_t *m, void *opaque, char *errstr,
                     size_t errstr_size) {
        tagctx_t *x = opaque;
        char **ids;

        if (!m->snapshot || strcmp(m->snapshot, x->tag) || !m->rec->id ||
            !m->rec->collection || strcmp(m->rec->collection, x->collection))
                return 0;
        if (x->cnt == x->cap) {
                x->cap = x->cap ? 2 * x->cap : 64;
                if (!(ids = realloc(x->ids, x->cap * sizeof(*ids))))
                        goto oom;
                x->ids = ids;
        }
        if (!(x->ids[x->cnt] = strdup(m->rec->id)))
                goto oom;
        x->cnt++;
        return 0;
oom:
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *)a, *(char *const *)b);
}

int snap_tagged_ids(snap_t *s, const int64_t *from, const char *tag,
                    int64_t *end, char ***idsp, size_t *cntp, char *errstr,
                    size_t errstr_size) {
        tagctx_t x = {s->collection, tag, NULL, 0, 0};
        size_t i, j;
        int r = -1;

        if (vcdc_logread_ends(s->lr, end, errstr, errstr_size) == -1 ||
            vcdc_logread_range(s->lr, from, end, on_tagged, &x, errstr,
                               errstr_size) == -1)
                goto out;
        if (x.cnt)
                qsort(x.ids, x.cnt, sizeof(*x.ids), cmp_str);
        for (i = j = 0; i < x.cnt; i++) {
                if (j && !strcmp(x.ids[j - 1], x.ids[i]))
                        free(x.ids[i]);
                else
                        x.ids[j++] = x.ids[i];
        }
        x.cnt = j;
        r = 0;
out:
        if (r == -1) {
                for (i = 0; i < x.cnt; i++)
                        free(x.ids[i]);
                free(x.ids);
                x.ids = NULL;
                x.cnt = 0;
        }
        *idsp = x.ids;
        *cntp = x.cnt;
        return r;
}
